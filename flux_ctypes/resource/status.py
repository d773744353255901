"""Node states as the resource module sees them: :func:`resource_status`.

``resource_status(h).get()`` combines ``resource.status`` (online,
offline, excluded, torpid, drained ranks), the scheduler's allocated
ranks (:func:`~flux_ctypes.resource.list.resource_list`) and the ranks in
housekeeping (``job-manager.stats-get``) into one
:class:`ResourceStatus`: what ``flux resource status`` prints.
"""

from typing import Any, Dict, List, NamedTuple, Optional

from flux_ctypes.handle import Flux
from flux_ctypes.hostlist import Hostlist
from flux_ctypes.idset import IDset
from flux_ctypes.resource.list import resource_list
from flux_ctypes.resource.ResourceSet import ResourceSet
from flux_ctypes.rpc import RPC

__all__ = ["DrainInfo", "ResourceStatus", "ResourceStatusRPC", "resource_status"]


class DrainInfo(NamedTuple):
    """Ranks drained together: when, and why."""

    ranks: IDset
    timestamp: float
    reason: str


def _ranks(value: Any, what: str) -> IDset:
    try:
        return value if isinstance(value, IDset) else IDset(value or "")
    except (TypeError, ValueError) as exc:
        raise ValueError("resource status {}: {}".format(what, exc)) from None


class ResourceStatus:
    """Rank idsets by state: ``all``, ``online``, ``offline``, ``exclude``,
    ``torpid``, ``allocated``, ``housekeeping``, ``drained`` (drained and
    idle), ``draining`` (drained but allocated), ``avail`` (none of
    excluded, drained, draining, torpid); ``nodelist``; ``drain_info``, a
    list of DrainInfo.

    ``rstatus`` is the ``resource.status`` response (None: empty).
    """

    def __init__(self, rstatus: Optional[Dict[str, Any]] = None,
                 allocated_ranks: Optional[IDset] = None,
                 housekeeping_ranks: Optional[IDset] = None) -> None:
        if rstatus is None:
            rstatus = {"R": None, "offline": "", "online": "", "exclude": "",
                       "torpid": "", "housekeeping": "", "drain": {}}
        self.rstatus = rstatus
        self.rset = ResourceSet(rstatus.get("R"))
        self.nodelist = self.rset.nodelist  # type: Hostlist
        self.allocated_ranks = allocated_ranks if allocated_ranks is not None else IDset()
        self.housekeeping_ranks = (
            housekeeping_ranks if housekeeping_ranks is not None else IDset())
        self._recalculate()

    def filter(self, include: Any) -> None:
        """Report only ``include``: ranks (an idset) or hosts (a hostlist)."""
        try:
            ranks = include if isinstance(include, IDset) else IDset(include)
        except (TypeError, ValueError):
            ranks = IDset(self.nodelist.index(include, ignore_nomatch=True))
        self._recalculate(ranks)

    def _recalculate(self, include: Optional[IDset] = None) -> None:
        status = self.rstatus
        self.all = self.rset.ranks
        self.offline = _ranks(status.get("offline"), "offline")
        self.online = _ranks(status.get("online"), "online")
        self.exclude = _ranks(status.get("exclude"), "exclude")
        self.torpid = _ranks(status.get("torpid"), "torpid")  # absent before 0.40
        self.allocated = self.allocated_ranks
        self.housekeeping = self.housekeeping_ranks
        if include is not None:
            for name in ("all", "offline", "online", "exclude", "allocated", "torpid"):
                setattr(self, name, getattr(self, name).intersect(include))
        self.drained = IDset()
        self.drain_info = []  # type: List[DrainInfo]
        self._drain_lookup = {}  # type: Dict[int, DrainInfo]
        drain = status.get("drain") or {}
        for text, entry in drain.items():
            ranks = _ranks(text, "drain")
            if include is not None:
                ranks = ranks.intersect(include)
            self.drained.add(ranks)
            info = DrainInfo(ranks, entry["timestamp"], entry["reason"])
            self.drain_info.append(info)
            for rank in ranks:
                self._drain_lookup[rank] = info
        self.draining = self.drained & self.allocated
        self.drained = self.drained - self.draining
        self.avail = self.all - self.get_idset("exclude", "drained", "draining", "torpid")

    def __getitem__(self, state: str) -> IDset:
        value = getattr(self, state, None)
        if not isinstance(value, IDset):
            raise KeyError(state)
        return value

    def get_idset(self, *states: str) -> IDset:
        """The ranks in any of ``states``."""
        result = IDset()
        for state in states:
            result.add(self[state])
        return result

    def get_drain_info(self, rank: int) -> Optional[DrainInfo]:
        """Why and since when ``rank`` is drained (None if it is not)."""
        if rank not in self.all:
            raise ValueError("invalid rank {}".format(rank))
        return self._drain_lookup.get(rank)


class ResourceStatusRPC:
    """Three requests sent at once; :meth:`get` waits for them and
    combines the answers.  Without a scheduler (or job manager) the
    allocated (housekeeping) ranks are empty."""

    def __init__(self, flux_handle: Flux) -> None:
        self.rpcs = [
            RPC(flux_handle, "resource.status", nodeid=0, flags=0),
            resource_list(flux_handle),
            RPC(flux_handle, "job-manager.stats-get", nodeid=0, flags=0),
        ]  # type: List[Any]
        self.rstatus = None  # type: Optional[Dict[str, Any]]
        self.rlist = None  # type: Any
        self.allocated_ranks = None  # type: Optional[IDset]
        self.housekeeping_ranks = None  # type: Optional[IDset]

    def get_status(self) -> Dict[str, Any]:
        if self.rstatus is None:
            self.rstatus = self.rpcs[0].get()
        return self.rstatus

    def get_allocated_ranks(self) -> IDset:
        if self.allocated_ranks is None:
            try:
                self.rlist = self.rpcs[1].get()
                self.allocated_ranks = self.rlist.allocated.ranks
            except OSError:
                self.allocated_ranks = IDset()
        return self.allocated_ranks

    def get_housekeeping_ranks(self) -> IDset:
        if self.housekeeping_ranks is None:
            ranks = IDset()
            try:
                stats = self.rpcs[2].get()
                for info in stats["housekeeping"]["running"].values():
                    ranks.add(info["allocated"])
            except (OSError, KeyError, TypeError):
                pass  # no job manager, or one without housekeeping
            self.housekeeping_ranks = ranks
        return self.housekeeping_ranks

    def get(self) -> ResourceStatus:
        """The combined ResourceStatus; blocks until all answers are in."""
        return ResourceStatus(self.get_status(), self.get_allocated_ranks(),
                              self.get_housekeeping_ranks())


def resource_status(flux_handle: Flux) -> ResourceStatusRPC:
    """Ask for node states; ``.get()`` gives a :class:`ResourceStatus`."""
    return ResourceStatusRPC(flux_handle)
