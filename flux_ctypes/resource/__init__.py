"""Flux resources: resource sets (R, RFC 20) and the instance's view of
its resources, mirroring the official ``flux.resource`` package.

- :class:`ResourceSet` (over :class:`Rv1Set`): R decoded, queried,
  combined and encoded;
- :func:`resource_list` -> :class:`SchedResourceList`: the resources by
  scheduler state (all, up, down, free, allocated);
- :func:`resource_status` -> :class:`ResourceStatus`: ranks by node state
  (online, offline, drained, excluded...);
- :class:`ResourceCount`: a jobspec count (RFC 14/45) as allowed values.

The official package's scheduler-side pools (``ResourcePool``,
``Rv1Pool``) and ``ResourceJournalConsumer`` are not provided.
"""

from typing import Any

from flux_ctypes.resource.ResourceCount import ResourceCount
from flux_ctypes.resource.Rv1Set import Rv1Set
from flux_ctypes.resource.ResourceSet import ResourceSet
from flux_ctypes.resource.list import SchedResourceList, resource_list
from flux_ctypes.resource.status import ResourceStatus, resource_status

__all__ = [
    "Rv1Set",
    "ResourceSet",
    "ResourceCount",
    "SchedResourceList",
    "resource_list",
    "ResourceStatus",
    "resource_status",
]

_NOT_PROVIDED = ("ResourceJournalConsumer", "Rv1Pool", "ResourcePool",
                 "InsufficientResources", "InfeasibleRequest")


def __getattr__(name: str) -> Any:  # Python 3.7+; a plain AttributeError on 3.6
    if name in _NOT_PROVIDED:
        raise AttributeError(
            "flux_ctypes.resource does not provide {} (the official flux.resource "
            "does)".format(name))
    raise AttributeError("module 'flux_ctypes.resource' has no attribute {!r}".format(name))
