"""A job's standard output, error and shell log, from its RFC 24 output
eventlog (``guest.output``).

The functions here are synchronous: job_output() gathers everything,
output_event_watch(), output_watch() and output_watch_lines() are
generators following the output as the job writes it.
"""

import base64
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Set, Tuple

from flux_ctypes.job.event import EventLogEvent, JobException, event_wait, event_watch
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


def _wait_for_output(flux_handle: Any, jobid: JobID) -> None:
    # the output eventlog exists once the job shell has started; a job
    # that never got that far raises its fatal exception
    event_wait(flux_handle, jobid, "start")
    event_wait(flux_handle, jobid, "shell.init", eventlog="guest.exec.eventlog")


def output_event_watch(flux_handle: Any, jobid: Any, labelio: bool = False,
                       nowait: bool = False) -> Iterator[Any]:
    """The events of job ``jobid``'s output eventlog, as the job writes them
    (OutputEvent, LogEvent, ...).  Unless ``nowait``, waits for the job's
    shell to start; a job that fails before raises JobException."""
    jobid = JobID(jobid)
    if not nowait:
        _wait_for_output(flux_handle, jobid)
    for entry in event_watch(flux_handle, jobid, "guest.output"):
        yield _parse_entry(entry, labelio)


def output_watch(flux_handle: Any, jobid: Any, labelio: bool = False,
                 log_stderr_level: int = LOG_TRACE,
                 nowait: bool = False) -> Iterator[Tuple[str, str]]:
    """``(stream, text)`` pairs of job ``jobid``'s output as it is written;
    shell log messages at or below ``log_stderr_level`` count as stderr."""
    everything = Taskset("*")
    for event in output_event_watch(flux_handle, jobid, labelio, nowait):
        stream = _stream_of(event, everything, log_stderr_level)
        text = event.render()
        if stream is not None and text:
            yield stream, text


def output_watch_lines(flux_handle: Any, jobid: Any, labelio: bool = False,
                       log_stderr_level: int = LOG_TRACE, nowait: bool = False,
                       keepends: bool = False) -> Iterator[Tuple[str, str]]:
    """output_watch() split into ``(stream, line)`` pairs (a partial line
    written by the job comes out as a line)."""
    for stream, text in output_watch(flux_handle, jobid, labelio, log_stderr_level, nowait):
        for line in text.splitlines(keepends):
            yield stream, line


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
