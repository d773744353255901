"""Job counts by state and result, from job-list.job-stats."""

from typing import Any, Callable, Dict, List, Optional

from flux_ctypes.job._args import flux_handle_arg
from flux_ctypes.rpc import RPC
from flux_ctypes.util import listed

__all__ = ["JobStats"]

_STATES = ("depend", "priority", "sched", "run", "cleanup", "inactive", "total")
_STATS = ("successful", "failed", "timeout", "canceled", "inactive_purged")
_DERIVED = ("pending", "running", "active")


class JobStats:
    """Counts of the instance's jobs (or of some queues' jobs): one
    attribute per state (depend ... inactive, total), per result
    (successful, failed, timeout, canceled), inactive_purged, and pending,
    running, active.  Each is -1 until the first update."""

    states = _STATES
    stats = _STATS
    derived_stats = _DERIVED

    def __init__(self, handle: Any, queue: Any = None) -> None:
        flux_handle_arg(handle, "handle")  # a Flux, or TypeError/OSError now
        self.handle = handle
        self.queues = []  # type: List[str]
        if queue is not None:
            self.queues.extend([queue] if isinstance(queue, str) else listed(queue, "queue"))
        self.callback = None  # type: Optional[Callable[..., Any]]
        self.cb_kwargs = {}  # type: Dict[str, Any]
        for attr in _STATES + _STATS + _DERIVED:
            setattr(self, attr, -1)

    @staticmethod
    def _counts(entry: Dict[str, Any]) -> Dict[str, int]:
        counts = {state: int(entry["job_states"][state]) for state in _STATES}
        counts.update({stat: int(entry.get(stat, 0)) for stat in _STATS})
        return counts

    def _apply(self, resp: Dict[str, Any]) -> None:
        if self.queues:
            by_name = {q["name"]: q for q in resp.get("queues", [])}
            totals = dict.fromkeys(_STATES + _STATS, 0)
            for name in self.queues:
                if name not in by_name:
                    raise ValueError("no stats available for queue {}".format(name))
                for key, value in self._counts(by_name[name]).items():
                    totals[key] += value
        else:
            totals = self._counts(resp)
        for key, value in totals.items():
            setattr(self, key, value)
        self.pending = self.depend + self.priority + self.sched
        self.running = self.run + self.cleanup
        self.active = self.total - self.inactive
        # as flux-core reports it: "failed" counts timeouts and cancels too
        setattr(self, "failed", totals["failed"] + totals["timeout"] + totals["canceled"])

    def _query(self) -> RPC:
        return RPC(self.handle, "job-list.job-stats", {})

    def _update_cb(self, rpc: RPC) -> None:
        self._apply(rpc.get())
        if self.callback is not None:
            self.callback(self, **self.cb_kwargs)

    def update(self, callback: Optional[Callable[..., Any]] = None, **kwargs: Any) -> None:
        """Fetch the counts from the reactor; then call
        ``callback(self, **kwargs)`` if given."""
        self.callback = callback
        self.cb_kwargs = kwargs
        self._query().then(self._update_cb)

    def update_sync(self) -> "JobStats":
        """Fetch the counts now (blocks)."""
        self._apply(self._query().get())
        return self

    def __getattr__(self, name: str) -> Any:  # for mypy: counts set dynamically
        raise AttributeError(name)
