"""The interface a version of R implements for :class:`ResourceSet`.

Only version 1 exists (:class:`~flux_ctypes.resource.Rv1Set.Rv1Set`); a
ResourceSet delegates every operation to its implementation object.
"""

from abc import ABC, abstractmethod
from typing import Any

from flux_ctypes.hostlist import Hostlist
from flux_ctypes.idset import IDset


class ResourceSetImplementation(ABC):
    """What a ResourceSet needs from the object holding its R."""

    version = 0

    @abstractmethod
    def dumps(self) -> str:
        """Short human-readable form, e.g. ``rank[0-3]/core[0-3]``."""

    @abstractmethod
    def encode(self) -> str:
        """R as a JSON string."""

    @abstractmethod
    def nodelist(self) -> Hostlist:
        """Host names, in rank order."""

    @abstractmethod
    def ranks(self) -> IDset:
        """The ranks present."""

    @abstractmethod
    def nnodes(self) -> int:
        """How many ranks are present."""

    @abstractmethod
    def count(self, name: str) -> int:
        """How many resources of type ``name`` ("core", "gpu")."""

    @abstractmethod
    def get_properties(self) -> str:
        """The RFC 20 properties object, as JSON text."""

    @abstractmethod
    def copy(self) -> "ResourceSetImplementation":
        """An independent copy."""

    @abstractmethod
    def copy_ranks(self, ranks: Any) -> "ResourceSetImplementation":
        """A copy holding only ``ranks``."""

    @abstractmethod
    def union(self, rset: Any) -> "ResourceSetImplementation":
        """Resources in either set."""

    @abstractmethod
    def intersect(self, rset: Any) -> "ResourceSetImplementation":
        """Resources in both sets."""

    @abstractmethod
    def diff(self, rset: Any) -> "ResourceSetImplementation":
        """Resources in this set and not in ``rset``."""

    @abstractmethod
    def append(self, rset: Any) -> None:
        """Add ``rset`` to this set in place."""

    @abstractmethod
    def add(self, rset: Any) -> None:
        """Add the resources of ``rset`` this set lacks, in place."""

    @abstractmethod
    def remove_ranks(self, ranks: Any) -> Any:
        """Drop ``ranks`` in place."""

    @abstractmethod
    def get_expiration(self) -> float:
        """Expiration, seconds since the epoch (0: none)."""

    @abstractmethod
    def set_expiration(self, expiration: float) -> None:
        """Set the expiration."""

    @abstractmethod
    def get_starttime(self) -> float:
        """Start time, seconds since the epoch (0: none)."""

    @abstractmethod
    def set_starttime(self, starttime: float) -> None:
        """Set the start time."""
