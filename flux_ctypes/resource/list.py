"""The scheduler's view of the instance's resources: :func:`resource_list`.

``resource_list(h).get()`` is a :class:`SchedResourceList` with the sets
``all``, ``down`` and ``allocated`` the instance reports, and ``up`` (all
but down) and ``free`` (up but not allocated) computed from them: what
``flux resource list`` prints.
"""

import errno
import os
from typing import Any, Dict, Optional

from flux_ctypes.future import Future, FutureExt
from flux_ctypes.handle import Flux
from flux_ctypes.idset import IDset
from flux_ctypes.resource.ResourceSet import ResourceSet

__all__ = ["SchedResourceList", "ResourceListRPC", "resource_list"]

#: the states a response carries; "up" and "free" are derived
REPORTED = ("all", "down", "allocated")


class SchedResourceList:
    """Resource sets by state: ``rl.all``, ``rl.up``, ``rl.down``,
    ``rl.free``, ``rl.allocated`` (also ``rl["free"]``).

    ``resp`` maps each of "all", "down", "allocated" to R (text, mapping,
    or ResourceSet); a missing one is an empty set.
    """

    def __init__(self, resp: Any) -> None:
        if not hasattr(resp, "get"):
            raise TypeError("SchedResourceList: expected a mapping of state to R, "
                            "got {}".format(type(resp).__name__))
        self._sets = {}  # type: Dict[str, ResourceSet]
        for state in REPORTED:
            rset = resp.get(state)
            if not isinstance(rset, ResourceSet):
                rset = ResourceSet(rset)
            rset.state = state
            self._sets[state] = rset

    def __getattr__(self, name: str) -> ResourceSet:
        if name.startswith("_"):
            raise AttributeError(name)
        sets = self.__dict__.get("_sets")  # type: Optional[Dict[str, ResourceSet]]
        if sets is None:
            raise AttributeError(name)
        if name not in sets:
            if name == "up":
                sets["up"] = self._derive(sets["all"], sets["down"], "up")
            elif name == "free":
                sets["free"] = self._derive(self["up"], sets["allocated"], "free")
            else:
                raise AttributeError("SchedResourceList has no state {!r} (states: "
                                     "all, up, down, free, allocated)".format(name))
        return sets[name]

    @staticmethod
    def _derive(whole: ResourceSet, minus: ResourceSet, state: str) -> ResourceSet:
        result = whole - minus
        result.state = state
        return result

    def __getitem__(self, state: str) -> ResourceSet:
        try:
            return self.__getattr__(state)
        except AttributeError as exc:
            raise KeyError(str(exc)) from None

    def filter(self, include: Any) -> None:
        """Keep only ``include``: ranks (an idset) or hosts (a hostlist)."""
        try:
            ranks = include if isinstance(include, IDset) else IDset(include)
        except (TypeError, ValueError):
            ranks = IDset(self._sets["all"].host_ranks(include, ignore_nomatch=True))
        self._sets = {state: self._sets[state].copy_ranks(ranks) for state in REPORTED}

    def copy_constraint(self, constraint: Any) -> "SchedResourceList":
        """The resources of each state matching RFC 31 ``constraint``."""
        return SchedResourceList({state: self._sets[state].copy_constraint(constraint)
                                  for state in REPORTED})


class ResourceListRPC(FutureExt):
    """The future :func:`resource_list` returns: asks ``topic`` on rank 0
    and, where that service does not exist (ENOSYS), the older
    ``sched.resource-status``."""

    FALLBACK = "sched.resource-status"

    def __init__(self, flux_handle: Flux, topic: str, nodeid: int = 0) -> None:
        if not isinstance(flux_handle, Flux):
            # else the request is never sent, and get() fails in the reactor
            raise TypeError("flux_handle must be a Flux handle, not {}".format(
                type(flux_handle).__name__))
        self.topic = topic
        self.nodeid = nodeid
        super().__init__(self._start, flux_handle=flux_handle)

    def _start(self, future: Future) -> None:
        handle = future.get_flux()
        assert handle is not None  # made with flux_handle=
        handle.rpc(self.topic, nodeid=self.nodeid).then(self._answered)

    def _answered(self, rpc: Any) -> None:
        try:
            self.fulfill(rpc.get())
        except OSError as exc:
            if exc.errno == errno.ENOSYS and self.topic != self.FALLBACK:
                handle = rpc.get_flux()
                handle.rpc(self.FALLBACK, nodeid=self.nodeid).then(self._answered)
            else:
                self.fulfill_error(exc.errno or errno.EPROTO, exc.strerror)
        except ValueError as exc:  # a response that is not JSON
            self.fulfill_error(errno.EPROTO, str(exc))

    def get(self) -> SchedResourceList:
        """The SchedResourceList; blocks until it has arrived."""
        return SchedResourceList(super().get())


def resource_list(flux_handle: Flux) -> ResourceListRPC:
    """Ask the instance for its resources by state; ``.get()`` gives a
    :class:`SchedResourceList`.  ``FLUX_RESOURCE_LIST_RPC`` in the
    environment names another topic to ask (default
    ``resource.sched-status``)."""
    topic = os.environ.get("FLUX_RESOURCE_LIST_RPC") or "resource.sched-status"
    return ResourceListRPC(flux_handle, topic, nodeid=0)
