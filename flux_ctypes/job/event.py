"""Job eventlogs (RFC 21): watching them, waiting for an event, and the
exception a fatal job exception event becomes."""

import errno
import json
import threading
import weakref
from ctypes import byref, c_char_p
from typing import Any, Dict, Iterator, Optional

from flux_ctypes.future import Future
from flux_ctypes.lib import flux_t, lib
from flux_ctypes.job._args import flux_handle_arg, int_arg, job_error, text_arg
from flux_ctypes.job.JobID import jobid_arg

__all__ = [
    "EventLogEvent",
    "JobEventWatchFuture",
    "JobException",
    "MAIN_EVENTS",
    "event_watch_async",
    "event_watch",
    "event_wait",
]

#: Event names of the main job eventlog (RFC 21).
MAIN_EVENTS = frozenset((
    "submit", "validate", "invalidate", "set", "depend", "priority",
    "flux-restart", "urgency", "alloc", "prolog-start", "prolog-finish",
    "epilog-start", "epilog-finish", "free", "start", "release",
    "finish", "clean", "debug", "exception", "memo", "jobspec-update",
    "resource-update", "dependency-add", "dependency-remove",
))


class EventLogEvent(dict):  # type: ignore[type-arg]
    """One eventlog entry: a dict with ``timestamp``, ``name`` and
    ``context`` (always present, ``{}`` when the entry has none), made from
    the entry's JSON text or from a dict."""

    def __init__(self, event: Any) -> None:
        if isinstance(event, (str, bytes)):
            event = json.loads(event)
        super().__init__(event)
        self.setdefault("context", {})

    @property
    def name(self) -> str:
        return self["name"]  # type: ignore[no-any-return]

    @property
    def timestamp(self) -> float:
        return self["timestamp"]  # type: ignore[no-any-return]

    @property
    def context(self) -> Dict[str, Any]:
        return self["context"]  # type: ignore[no-any-return]

    @property
    def context_string(self) -> str:
        """The context as compact JSON with sorted keys ('' when empty)."""
        if not self.context:
            return ""
        return json.dumps(self.context, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True)

    def __str__(self) -> str:
        return "{:<0.5f}: {} {}".format(self.timestamp, self.name, self.context)


class JobException(Exception):
    """A job ``exception`` event, raised.  ``severity`` 0 is fatal."""

    def __init__(self, event: EventLogEvent) -> None:
        self.timestamp = event.timestamp
        self.type = event.context["type"]
        self.note = event.context.get("note", "")
        self.severity = event.context["severity"]
        super().__init__()

    def __str__(self) -> str:
        return "job.exception: type={}: {}".format(self.type, self.note)


class _WatchState:
    """What the collection-time cancel needs, kept apart from the future
    (a finalizer must not hold the object it finalizes)."""

    __slots__ = ("needs_cancel", "thread")

    def __init__(self) -> None:
        self.needs_cancel = True
        self.thread = threading.get_ident()


def _cancel_and_release(ptr: Any, state: _WatchState, flux_handle: Any) -> None:
    # A watch dropped while its stream still runs is cancelled, so the
    # job-info module stops sending; only from the thread that made it
    # (a flux_t is not thread-safe) and only while its handle is open.
    try:
        if (state.needs_cancel and state.thread == threading.get_ident()
                and isinstance(flux_handle.handle, flux_t)):
            lib.flux_job_event_watch_cancel(ptr)
    except Exception:  # pragma: no cover - nothing may escape a finalizer
        pass
    finally:
        lib.flux_future_decref(ptr)


class JobEventWatchFuture(Future):
    """The stream of a job eventlog's entries, from event_watch_async().

    ``get_event()`` gives the next entry as an EventLogEvent, or None once
    the stream has ended (the eventlog is complete, or cancel() was
    called)."""

    # fulfilled by responses on the handle: blocking waits may be sliced
    # so that Ctrl-C gets through
    _sliced = True
    jobid = None  # type: Any

    def __init__(self, future_handle: Any, flux_handle: Any = None, *,
                 fresh: bool = False) -> None:
        super().__init__(future_handle, keepalive=flux_handle, fresh=fresh)
        self.flux_handle = flux_handle
        self._state = _WatchState()
        if flux_handle is not None:
            lib.flux_future_incref(future_handle)
            weakref.finalize(self, _cancel_and_release, future_handle, self._state,
                             flux_handle)

    @property
    def needs_cancel(self) -> bool:
        return self._state.needs_cancel

    def get(self, autoreset: bool = True) -> Optional[EventLogEvent]:
        """The next event (None at the end of the stream); with
        ``autoreset`` the next call waits for the one after it."""
        self.wait_for()
        out = c_char_p()
        try:
            lib.flux_job_event_watch_get(self.handle, byref(out))
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                self._state.needs_cancel = False
                return None
            text = self.error_string() or exc.strerror
            raise job_error(OSError(exc.errno, text), self.jobid) from None
        event = EventLogEvent((out.value or b"").decode("utf-8", "surrogateescape"))
        if autoreset:
            self.reset()
        return event

    def get_event(self, autoreset: bool = True) -> Optional[EventLogEvent]:
        """Same as get(): the next event, or None at the end."""
        return self.get(autoreset=autoreset)

    def cancel(self, stop: bool = False) -> None:
        """End the stream: the service answers with ENODATA, so get_event()
        returns None after any events already sent.  With ``stop`` the
        then() callback is not called again."""
        lib.flux_job_event_watch_cancel(self.cptr)
        self._state.needs_cancel = False
        if stop:
            self.stop()


def event_watch_async(
    flux_handle: Any, jobid: Any, eventlog: str = "eventlog", flags: int = 0
) -> JobEventWatchFuture:
    """Watch the entries of ``eventlog`` (a path in the job's KVS directory,
    e.g. ``guest.exec.eventlog``) of job ``jobid``; returns at once."""
    hptr = flux_handle_arg(flux_handle)
    number = jobid_arg(jobid)
    ptr = lib.flux_job_event_watch(hptr, number, text_arg(eventlog, "eventlog"),
                                   int_arg(flags, "flags"))
    future = JobEventWatchFuture(ptr, flux_handle, fresh=True)
    future.jobid = number
    return future


def event_watch(
    flux_handle: Any, jobid: Any, eventlog: str = "eventlog"
) -> Iterator[EventLogEvent]:
    """Iterate over the entries of a job eventlog as they are written,
    ending when the eventlog is complete."""
    watch = event_watch_async(flux_handle, jobid, eventlog)
    try:
        while True:
            event = watch.get_event()
            if event is None:
                return
            yield event
    finally:
        if watch.needs_cancel:
            watch.cancel()


def event_wait(
    flux_handle: Any, jobid: Any, name: str, eventlog: str = "eventlog",
    raiseJobException: bool = True,
) -> EventLogEvent:
    """Block until event ``name`` is in the job's eventlog and return it.

    A fatal job exception before it is raised as JobException (unless
    ``raiseJobException`` is False); an eventlog that ends without it is
    OSError(ENODATA)."""
    for event in event_watch(flux_handle, jobid, eventlog):
        if event.name == name:
            return event
        if (raiseJobException and event.name == "exception"
                and event.context.get("severity") == 0):
            raise JobException(event)
    raise OSError(errno.ENODATA, "eventlog ended before event='{}'".format(name))
