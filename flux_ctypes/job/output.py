"""A job's standard output, error and shell log, from its RFC 24 output
eventlog (``guest.output``).

job_output() gathers everything; output_event_watch(), output_watch()
and output_watch_lines() are generators following the output as the job
writes it, and their ``_async`` forms are futures for the reactor,
fulfilled once per event, chunk or line.
"""

import base64
import errno
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from flux_ctypes.future import FutureExt
from flux_ctypes.job.event import EventLogEvent, event_wait, event_watch, event_watch_async
from flux_ctypes.job.JobID import JobID
from flux_ctypes.job.kvslookup import job_kvs_lookup

__all__ = [
    "Taskset",
    "OutputEvent",
    "LogEvent",
    "OutputHeaderEvent",
    "RedirectEvent",
    "JobExceptionEvent",
    "JobOutput",
    "job_output",
    "output_event_watch",
    "output_watch",
    "output_watch_lines",
    "JobOutputEventWatch",
    "JobOutputWatch",
    "JobOutputWatchLines",
    "output_event_watch_async",
    "output_watch_async",
    "output_watch_lines_async",
    "LOG_QUIET",
    "LOG_FATAL",
    "LOG_ERROR",
    "LOG_WARN",
    "LOG_NOTICE",
    "LOG_DEBUG",
    "LOG_TRACE",
]

# the job shell's log levels (shell.h), for log_stderr_level
LOG_QUIET = -1
LOG_FATAL = 0
LOG_ERROR = 3
LOG_WARN = 4
LOG_NOTICE = 5
LOG_DEBUG = 6
LOG_TRACE = 7


def _decode_idset(text: str) -> Set[int]:
    ids = set()  # type: Set[int]
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    if not body:
        return ids
    for part in body.split(","):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high) if dash else int(low)
        except ValueError:
            raise ValueError("{!r} is not an idset".format(text)) from None
        if last < first:
            raise ValueError("{!r} is not an idset".format(text))
        ids.update(range(first, last + 1))
    return ids


def _encode_idset(ids: Set[int]) -> str:
    runs = []  # type: List[List[int]]
    for value in sorted(ids):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return ",".join(str(a) if a == b else "{}-{}".format(a, b) for a, b in runs)


class Taskset:
    """A set of task ranks, or all tasks ("all" or "*")."""

    def __init__(self, tasks: Any) -> None:
        if isinstance(tasks, Taskset):
            self.all = tasks.all  # type: bool
            self.ids = set(tasks.ids)  # type: Set[int]
        elif tasks in ("all", "*"):
            self.all, self.ids = True, set()
        elif isinstance(tasks, int):
            self.all, self.ids = False, {tasks}
        else:
            self.all, self.ids = False, _decode_idset(str(tasks))

    def intersect(self, tasks: Any) -> "Taskset":
        other = tasks if isinstance(tasks, Taskset) else Taskset(tasks)
        if self.all:
            return Taskset(other)
        if other.all:
            return Taskset(self)
        result = Taskset(self)
        result.ids &= other.ids
        return result

    def __bool__(self) -> bool:
        return self.all or bool(self.ids)

    def __str__(self) -> str:
        return "all" if self.all else _encode_idset(self.ids)


class OutputEvent(EventLogEvent):
    """A ``data`` event: ``stream``, ``rank`` (a Taskset), ``data`` (text,
    None for a bare EOF) and ``eof``."""

    def __init__(self, entry: Any, labelio: bool = False) -> None:
        super().__init__(entry)
        if self.name != "data":
            raise ValueError("event {} is not a data event".format(self.name))
        context = self.context
        self.rank = Taskset(context["rank"])
        self.stream = context["stream"]  # type: str
        self.eof = bool(context.get("eof", False))
        self.data = None  # type: Optional[str]
        if "data" in context:
            data = context["data"]
            if context.get("encoding") == "base64":
                data = base64.b64decode(data).decode("utf-8", "surrogateescape")
            data *= context.get("repeat", 1)
            if labelio:
                data = "".join("{}: {}\n".format(self.rank, line)
                               for line in data.splitlines())
            self.data = data

    def render(self) -> Optional[str]:
        return self.data


class LogEvent(EventLogEvent):
    """A job shell ``log`` event."""

    log_level_string = ["FATAL", "FATAL", "FATAL", "ERROR", " WARN", "", "DEBUG", "TRACE"]

    def __init__(self, entry: Any) -> None:
        super().__init__(entry)
        if self.name != "log":
            raise ValueError("event {} is not a log event".format(self.name))
        context = self.context
        self.level = context["level"]  # type: int
        self.rank = Taskset(context["rank"])
        self.message = context["message"]  # type: str
        self.component = context.get("component")
        self.file = context.get("file")
        self.line = context.get("line", -1)

    @property
    def levelstr(self) -> str:
        return self.log_level_string[self.level]

    def render(self, include_file_and_line: bool = False) -> str:
        prefix = "flux-shell[{}]: ".format(self.rank)
        if self.levelstr:
            prefix += "{}: ".format(self.levelstr)
        if self.component:
            prefix += "{}: ".format(self.component)
        if include_file_and_line and self.file:
            prefix += "{}:{}: ".format(self.file, self.line)
        return prefix + self.message


class OutputHeaderEvent(EventLogEvent):
    """The ``header`` event opening an output eventlog."""

    def __init__(self, entry: Any) -> None:
        super().__init__(entry)
        if self.name != "header":
            raise ValueError("event {} is not a header event".format(self.name))
        context = self.context
        self.version = context["version"]
        self.stdout_count = context["count"]["stdout"]
        self.stderr_count = context["count"]["stderr"]
        self.stdout_encoding = context["encoding"]["stdout"]
        self.stderr_encoding = context["encoding"]["stderr"]

    def render(self) -> Optional[str]:
        return None


class RedirectEvent(EventLogEvent):
    """A ``redirect`` event: a stream of some ranks went to a file."""

    def __init__(self, entry: Any) -> None:
        super().__init__(entry)
        if self.name != "redirect":
            raise ValueError("event {} is not a redirect event".format(self.name))
        self.stream = self.context["stream"]
        self.rank = Taskset(self.context["rank"])
        self.path = self.context["path"]

    def render(self) -> str:
        return "{}: {} redirected to {}".format(self.rank, self.stream, self.path)


class JobExceptionEvent(EventLogEvent):
    """A job exception, shown on stderr with the output."""

    def __init__(self, entry: Any) -> None:
        super().__init__(entry)
        if self.name != "exception":
            raise ValueError("event {} is not an exception event".format(self.name))
        self.severity = self.context["severity"]
        self.exc_type = self.context["type"]
        self.note = self.context.get("note", "")

    def render(self) -> str:
        text = "job.exception: type={} severity={}".format(self.exc_type, self.severity)
        return text + (" " + self.note if self.note else "")


class JobOutput(NamedTuple):
    """A job's whole output: ``stdout``, ``stderr`` and ``log`` text."""

    stdout: str
    stderr: str
    log: str


_EVENT_TYPES = {
    "log": LogEvent,
    "header": OutputHeaderEvent,
    "redirect": RedirectEvent,
    "exception": JobExceptionEvent,
}


def _parse_entry(entry: Any, labelio: bool = False) -> Any:
    event = entry if isinstance(entry, EventLogEvent) else EventLogEvent(entry)
    if event.name == "data":
        return OutputEvent(event, labelio)
    kind = _EVENT_TYPES.get(event.name)
    if kind is None:
        raise ValueError("event {} is not a supported output event type".format(event.name))
    return kind(event)


def _stream_of(event: Any, tasks: Taskset, log_stderr_level: int) -> Optional[str]:
    if event.name == "data":
        return str(event.stream) if event.rank.intersect(tasks) else None
    if event.name == "log":
        return "stderr" if event.level <= log_stderr_level else "log"
    if event.name == "exception":
        return "stderr"
    return None


def _never_started(jobid: JobID) -> OSError:
    # EIO: not ENODATA (a normal end) nor ENOENT (no such job)
    return OSError(errno.EIO, "job {} never started".format(jobid))


def _events_until_start(flux_handle: Any, jobid: JobID) -> Iterator[Any]:
    """Exception events of the main eventlog before ``start`` (as
    JobExceptionEvents); OSError(EIO) if the job ends without starting."""
    for event in event_watch(flux_handle, jobid):
        if event.name == "exception":
            yield JobExceptionEvent(event)
        elif event.name == "start":
            return
    raise _never_started(jobid)


def _exceptions_while_running(flux_handle: Any, jobid: JobID) -> Iterator[Any]:
    # exceptions between 'start' and 'finish' (later ones are not shown)
    running = False
    for event in event_watch(flux_handle, jobid):
        if event.name == "start":
            running = True
        elif event.name == "finish":
            return
        elif running and event.name == "exception":
            yield JobExceptionEvent(event)


def output_event_watch(flux_handle: Any, jobid: Any, labelio: bool = False,
                       nowait: bool = False) -> Iterator[Any]:
    """The events of job ``jobid``'s output eventlog, as the job writes them
    (OutputEvent, LogEvent, RedirectEvent, OutputHeaderEvent), and its
    exceptions as JobExceptionEvents.  Unless ``nowait``, waits for the job
    to start (a job that never does: OSError EIO "job ... never started",
    after its exceptions) and reports exceptions raised while it ran after
    its output.  With ``nowait``, only the output eventlog is read."""
    jobid = JobID(jobid)
    if not nowait:
        for event in _events_until_start(flux_handle, jobid):
            yield event
        event_wait(flux_handle, jobid, "shell.init", eventlog="guest.exec.eventlog")
    for entry in event_watch(flux_handle, jobid, "guest.output"):
        yield _parse_entry(entry, labelio)
    if not nowait:
        for event in _exceptions_while_running(flux_handle, jobid):
            yield event


def _output_pair(event: Any, log_stderr_level: int) -> Optional[Tuple[str, str]]:
    """(stream, text) shown for an event, or None."""
    if event.name == "data":
        return (event.stream, event.data) if event.data is not None else None
    if event.name in ("log", "redirect", "exception"):
        stream = "stderr"
        if event.name == "log" and event.level > log_stderr_level:
            stream = "log"
        return stream, event.render() + "\n"
    return None


def output_watch(flux_handle: Any, jobid: Any, labelio: bool = False,
                 log_stderr_level: int = LOG_TRACE,
                 nowait: bool = False) -> Iterator[Tuple[str, str]]:
    """``(stream, text)`` pairs of job ``jobid``'s output as it is written
    (see output_event_watch()); shell log messages at or below
    ``log_stderr_level`` go to stderr, others to "log"; redirections and
    job exceptions are reported on stderr."""
    for event in output_event_watch(flux_handle, jobid, labelio, nowait):
        pair = _output_pair(event, log_stderr_level)
        if pair is not None:
            yield pair


def output_watch_lines(flux_handle: Any, jobid: Any, labelio: bool = False,
                       log_stderr_level: int = LOG_TRACE, nowait: bool = False,
                       keepends: bool = False) -> Iterator[Tuple[str, str]]:
    """output_watch() split into ``(stream, line)`` pairs (a partial line
    written by the job comes out as a line)."""
    for stream, text in output_watch(flux_handle, jobid, labelio, log_stderr_level, nowait):
        for line in text.splitlines(keepends):
            yield stream, line


# --- the same, from the reactor ---------------------------------------------------
class JobOutputEventWatch(FutureExt):
    """The future of output_event_watch_async(): fulfilled once per output
    event; ``get_event()`` gives the next one (None at the end)."""

    def __init__(self, flux_handle: Any, jobid: Any, labelio: bool = False,
                 nowait: bool = False) -> None:
        self.labelio = labelio
        self.nowait = nowait
        self.started = False   # 'start' is in the main eventlog
        self.finished = False  # 'finish' is
        self.output_closed = False  # the output eventlog ended
        # (not "closed", as the official class names it: Future.closed
        # says whether the C future is gone)
        super().__init__(self._watch_init, JobID(jobid), flux_handle=flux_handle)

    def get_event(self, autoreset: bool = True) -> Any:
        entry = self.get()
        if entry is None:
            return None
        if autoreset:
            self.reset()
        return _parse_entry(entry, self.labelio)

    def _watch_init(self, future: Any, jobid: JobID) -> None:
        handle = future.get_flux()
        if self.nowait:
            event_watch_async(handle, jobid, "guest.output").then(self._on_output)
        else:
            event_watch_async(handle, jobid).then(self._on_main_event, jobid)

    def _on_main_event(self, watch: Any, jobid: JobID) -> None:
        # Errors are passed on to this future, never raised: an exception
        # from a callback would stop the caller's reactor.
        try:
            event = watch.get_event()
        except OSError as exc:
            text = "job {} not found".format(jobid) if exc.errno == errno.ENOENT \
                else exc.strerror
            self.fulfill_error(exc.errno or errno.EIO, text)
            return
        if event is None:
            if not self.started:
                err = _never_started(jobid)
                self.fulfill_error(errno.EIO, err.strerror)
            return
        if event.name == "exception":
            self.fulfill(event)  # shown on stderr with the output
        elif event.name == "start":
            self.started = True
            event_watch_async(watch.get_flux(), jobid, "guest.exec.eventlog").then(
                self._on_exec_event, jobid)
        elif event.name == "finish":
            self.finished = True
            watch.cancel(stop=True)  # later exceptions are not reported
            if self.output_closed:
                self.fulfill(None)

    def _on_exec_event(self, watch: Any, jobid: JobID) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self.fulfill_error(exc.errno or errno.EIO, exc.strerror)
            return
        if event is not None and event.name == "shell.init":
            event_watch_async(watch.get_flux(), jobid, "guest.output").then(self._on_output)
            watch.cancel(stop=True)

    def _on_output(self, watch: Any) -> None:
        try:
            event = watch.get_event()
        except OSError as exc:
            self.fulfill_error(exc.errno or errno.EIO, exc.strerror)
            return
        if event is None:
            self.output_closed = True
            # the end, once 'finish' shows every exception is in
            if self.nowait or self.finished:
                self.fulfill(None)
            return
        self.fulfill(event)


def _next_pair(future: Any) -> Any:
    # The pair the future holds, then on to the next one -- except after
    # the end, (None, None): nothing follows it, and a reset would leave a
    # then() callback waiting for ever.
    pair = future.get()
    if pair is None or pair[1] is None:
        return (None, None)
    future.reset()
    return tuple(pair)


class JobOutputWatch(FutureExt):
    """The future of output_watch_async(); ``get_output()`` gives the next
    ``(stream, text)``, ``(None, None)`` at the end."""

    def __init__(self, flux_handle: Any, jobid: Any, labelio: bool = False,
                 log_stderr_level: int = LOG_TRACE, nowait: bool = False) -> None:
        self.labelio = labelio
        self.log_stderr_level = log_stderr_level
        self.nowait = nowait
        super().__init__(self._watch_init, JobID(jobid), flux_handle=flux_handle)

    def _watch_init(self, future: Any, jobid: JobID) -> None:
        JobOutputEventWatch(future.get_flux(), jobid, labelio=self.labelio,
                            nowait=self.nowait).then(self._on_event)

    def _on_event(self, events: Any) -> None:
        try:
            event = events.get_event()
        except OSError as exc:
            self.fulfill_error(exc.errno or errno.EIO, exc.strerror)
            return
        if event is None:
            self.fulfill((None, None))
            return
        pair = _output_pair(event, self.log_stderr_level)
        if pair is not None:
            self.fulfill(pair)

    def get_output(self) -> Any:
        return _next_pair(self)


class JobOutputWatchLines(FutureExt):
    """The future of output_watch_lines_async(); ``getline()`` gives the
    next ``(stream, line)``, ``(None, None)`` at the end."""

    def __init__(self, flux_handle: Any, jobid: Any, labelio: bool = False,
                 log_stderr_level: int = LOG_TRACE, nowait: bool = False,
                 keepends: bool = False) -> None:
        self.labelio = labelio
        self.log_stderr_level = log_stderr_level
        self.nowait = nowait
        self.keepends = keepends
        super().__init__(self._watch_init, JobID(jobid), flux_handle=flux_handle)

    def _watch_init(self, future: Any, jobid: JobID) -> None:
        JobOutputWatch(future.get_flux(), jobid, labelio=self.labelio,
                       log_stderr_level=self.log_stderr_level,
                       nowait=self.nowait).then(self._on_output)

    def _on_output(self, output: Any) -> None:
        try:
            stream, text = output.get_output()
        except OSError as exc:
            self.fulfill_error(exc.errno or errno.EIO, exc.strerror)
            return
        if text is None:
            self.fulfill((None, None))
            return
        for line in text.splitlines(self.keepends):
            self.fulfill((stream, line))

    def getline(self) -> Any:
        return _next_pair(self)


def output_event_watch_async(flux_handle: Any, jobid: Any, labelio: bool = False,
                             nowait: bool = False) -> JobOutputEventWatch:
    """output_event_watch() from the reactor: a future to give a then()
    callback, which calls ``get_event()`` (None at the end; an error, such
    as EIO for a job that never started, is raised there)."""
    return JobOutputEventWatch(flux_handle, jobid, labelio=labelio, nowait=nowait)


def output_watch_async(flux_handle: Any, jobid: Any, labelio: bool = False,
                       log_stderr_level: int = LOG_TRACE,
                       nowait: bool = False) -> JobOutputWatch:
    """output_watch() from the reactor (see output_event_watch_async())."""
    return JobOutputWatch(flux_handle, jobid, labelio=labelio,
                          log_stderr_level=log_stderr_level, nowait=nowait)


def output_watch_lines_async(flux_handle: Any, jobid: Any, labelio: bool = False,
                             log_stderr_level: int = LOG_TRACE, nowait: bool = False,
                             keepends: bool = False) -> JobOutputWatchLines:
    """output_watch_lines() from the reactor (see output_event_watch_async())."""
    return JobOutputWatchLines(flux_handle, jobid, labelio=labelio,
                               log_stderr_level=log_stderr_level, nowait=nowait,
                               keepends=keepends)


def _wait_for_output(flux_handle: Any, jobid: JobID) -> None:
    # the output eventlog exists once the job shell has started; a job
    # that fails before raises its fatal exception
    event_wait(flux_handle, jobid, "start")
    event_wait(flux_handle, jobid, "shell.init", eventlog="guest.exec.eventlog")


def _collect(entries: Any, tasks: Taskset, labelio: bool, level: int) -> JobOutput:
    parts = {"stdout": [], "stderr": [], "log": []}  # type: Dict[str, List[str]]
    for entry in entries:
        event = _parse_entry(entry, labelio)
        stream = _stream_of(event, tasks, level)
        text = event.render()
        if stream is None or not text:
            continue
        # data is the job's own bytes; shell messages get a line each
        if event.name != "data" and not text.endswith("\n"):
            text += "\n"
        parts[stream].append(text)
    return JobOutput(*("".join(parts[k]) for k in ("stdout", "stderr", "log")))


def job_output(flux_handle: Any, jobid: Any, tasks: Any = "*", labelio: bool = False,
               nowait: bool = False, log_stderr_level: int = LOG_TRACE) -> JobOutput:
    """Job ``jobid``'s output (of ``tasks``, an idset, default all) as a
    JobOutput, once the job has closed its output -- or, with ``nowait``,
    what it has written so far (FileNotFoundError when there is none yet).
    A job that fails before its shell starts raises JobException."""
    jobid = JobID(jobid)
    wanted = Taskset(tasks)
    if nowait:
        data = job_kvs_lookup(flux_handle, jobid, keys=["guest.output"])
        if data is None:
            raise FileNotFoundError(
                "job {} does not exist or output not ready".format(jobid))
        return _collect(data["guest.output"].splitlines(), wanted, labelio,
                        log_stderr_level)
    _wait_for_output(flux_handle, jobid)
    return _collect(event_watch(flux_handle, jobid, "guest.output"), wanted, labelio,
                    log_stderr_level)
