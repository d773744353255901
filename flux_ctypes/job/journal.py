"""The job manager's journal: every job's main eventlog events as one
stream (``job-manager.events-journal``), historical events first, in time
order."""

import errno
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Optional

from flux_ctypes.constants import FLUX_RPC_NORESPONSE, FLUX_RPC_STREAMING
from flux_ctypes.job._args import flux_handle_arg
from flux_ctypes.job.event import EventLogEvent
from flux_ctypes.job.JobID import JobID

__all__ = ["JournalEvent", "JournalConsumer", "SENTINEL_EVENT"]


class JournalEvent(EventLogEvent):
    """One journal event: an EventLogEvent with the ``jobid`` it is about,
    and for ``submit`` events the job's ``jobspec``, for ``alloc`` events
    its ``R`` (None otherwise).  The empty event (jobid -1) marks the end
    of the historical events."""

    def __init__(self, jobid: Any, event: Dict[str, Any], jobspec: Any = None,
                 R: Any = None) -> None:
        event = dict(event)
        event.setdefault("timestamp", time.time())
        super().__init__(event)
        self.jobid = JobID(jobid)
        self.jobspec = None  # type: Any
        self.R = None  # type: Any
        if self.is_empty():
            return
        if self.name == "submit":
            self.jobspec = jobspec
        elif self.name == "alloc":
            self.R = R

    def is_empty(self) -> bool:
        """True for the sentinel between historical and new events."""
        return int(self.jobid) == -1

    def __str__(self) -> str:
        if self.is_empty():
            return "-1: End of historical data stream"
        parts = [
            "{}:".format(self.jobid.f58),
            "{:<0.5f}".format(self.timestamp),
            self.name,
            self.context_string,
            "jobspec={}".format(self.jobspec) if self.jobspec else "",
            "R={}".format(self.R) if self.R else "",
        ]
        return " ".join(part for part in parts if part)


#: The empty event a consumer made with ``include_sentinel=True`` returns
#: between the historical events and the new ones.
SENTINEL_EVENT = JournalEvent(-1, {})


class JournalConsumer:
    """A consumer of the job manager's journal.

    ``start()`` sends the request; events then come from ``poll()`` (one
    per call, blocking) or from a callback given to ``set_callback()``
    (run by the handle's reactor).  With ``full`` (the default) the
    history comes first, sorted by time; only events after ``since`` are
    returned; ``include_sentinel`` adds SENTINEL_EVENT after the history.
    ``stop()`` ends the stream: poll() then gives None once the events
    already sent are consumed; a callback is simply not called again (as
    with the official bindings), so the reactor runs out of work."""

    SENTINEL_EVENT = SENTINEL_EVENT

    def __init__(self, flux_handle: Any, full: bool = True, since: float = 0.0,
                 include_sentinel: bool = False) -> None:
        flux_handle_arg(flux_handle)  # a Flux, or TypeError/OSError now
        self.handle = flux_handle
        self.topic = "job-manager.events-journal"
        self.cancel_topic = self.topic + "-cancel"
        self.full = full
        self.since = since
        self.include_sentinel = include_sentinel
        self.backlog = deque()  # type: Deque[Optional[JournalEvent]]
        self.rpc = None  # type: Any
        self.cb = None  # type: Optional[Callable[..., Any]]
        self.cb_args = ()  # type: Any
        self.cb_kwargs = {}  # type: Dict[str, Any]
        # history is collected until the empty response, then sorted
        self.processing_inactive = full
        self._then_set = False

    @property
    def request_payload(self) -> Dict[str, Any]:
        return {"full": self.full}

    def _history_done(self) -> None:
        self.processing_inactive = False
        self.backlog = deque(sorted(self.backlog, key=lambda e: e.timestamp))  # type: ignore[union-attr]
        if self.include_sentinel:
            self.backlog.append(self.SENTINEL_EVENT)

    def _enqueue(self, resp: Optional[Dict[str, Any]]) -> None:
        if resp is None:  # end of the stream
            self.backlog.append(None)
            return
        for entry in resp.get("events", []):
            event = JournalEvent(resp.get("id", -1), entry, jobspec=resp.get("jobspec"),
                                 R=resp.get("R"))
            if event.timestamp > self.since:
                self.backlog.append(event)

    def _take(self, resp: Dict[str, Any]) -> None:
        if self.processing_inactive and not resp.get("events"):
            self._history_done()
        else:
            self._enqueue(resp)

    def start(self) -> "JournalConsumer":
        """Send the journal request (again, if called twice)."""
        self.rpc = self.handle.rpc(self.topic, self.request_payload, 0, FLUX_RPC_STREAMING)
        self._then_set = False
        self._set_then()
        return self

    def stop(self) -> None:
        """Ask the job manager to end the stream."""
        if self.rpc is None:
            raise RuntimeError("stop() called before start()")
        self.handle.rpc(self.cancel_topic, {"matchtag": self.rpc.get_matchtag()}, 0,
                        FLUX_RPC_NORESPONSE)

    def poll(self, timeout: float = -1.0) -> Optional[JournalEvent]:
        """The next event, or None once the stream has ended; TimeoutError
        if none comes within ``timeout`` seconds (-1: no limit)."""
        if self.rpc is None:
            raise RuntimeError("poll() called before start()")
        while self.processing_inactive:
            self._take(self.rpc.wait_for(timeout).get())
            self.rpc.reset()
        while not self.backlog:
            try:
                resp = self.rpc.wait_for(timeout).get()
            except OSError as exc:
                if exc.errno != errno.ENODATA:
                    raise
                resp = None
            self._enqueue(resp)
            if resp is None:
                break
            self.rpc.reset()
        return self.backlog.popleft()

    def _on_response(self, future: Any) -> None:
        try:
            self._take(future.get())
        except OSError as exc:
            if exc.errno != errno.ENODATA:
                raise
            # The end of the stream.  As with the official bindings, the
            # callback is not called for it (flux-core's own tests rely on
            # that); the reactor simply runs out of work.
            self._enqueue(None)
            return
        future.reset()
        if not self.processing_inactive:
            while self.backlog and self.cb is not None:
                self.cb(self.backlog.popleft(), *self.cb_args, **self.cb_kwargs)

    def _set_then(self) -> None:
        if self.rpc is not None and self.cb is not None and not self._then_set:
            self.rpc.then(self._on_response)
            self._then_set = True

    def set_callback(self, event_cb: Callable[..., Any], *args: Any,
                     **kwargs: Any) -> "JournalConsumer":
        """Call ``event_cb(event, *args, **kwargs)`` for each event from the
        reactor; replaces any earlier callback."""
        self.cb = event_cb
        self.cb_args = args
        self.cb_kwargs = kwargs
        self._set_then()
        return self
