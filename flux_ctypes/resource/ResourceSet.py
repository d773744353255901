"""ResourceSet: a set of resources (R, RFC 20) with the official API.

A ResourceSet wraps the object that understands its version of R (only
:class:`~flux_ctypes.resource.Rv1Set.Rv1Set` so far) and adds the
conveniences: set operators, ``nodelist``/``ranks``/``ncores``
properties, a ``state`` label, host-to-rank translation::

    >>> rset = ResourceSet(R_text)
    >>> str(rset), rset.nnodes, rset.ncores
    ('rank[0-1]/core[0-3]', 2, 8)
    >>> str(rset - rset.copy_ranks(0))
    'rank1/core[0-3]'
"""

import json
from collections.abc import Mapping
from typing import Any, List, Optional

from flux_ctypes.hostlist import Hostlist
from flux_ctypes.idset import IDset
from flux_ctypes.resource.ResourceSetImplementation import ResourceSetImplementation
from flux_ctypes.resource.Rv1Set import Rv1Set

__all__ = ["ResourceSet"]


class ResourceSet:
    """A resource set.

    ``arg`` is R as JSON text or as a mapping, an implementation object
    (an Rv1Set), or None for an empty set of version ``version``.  Other
    keyword arguments go to the implementation (``keep_scheduling=True``).

    Raises TypeError for another kind of ``arg``, ValueError for bad JSON
    (``json.JSONDecodeError``), malformed R or an unsupported version, and
    KeyError for a mapping without ``version``.
    """

    def __init__(self, arg: Any = None, version: int = 1, **kwargs: Any) -> None:
        self._state = None  # type: Optional[str]
        if isinstance(arg, ResourceSetImplementation):
            self.impl = arg  # type: Any
            self.version = arg.version
            return
        if isinstance(arg, (str, bytes, bytearray)):
            arg = json.loads(arg)
            if not isinstance(arg, Mapping):
                raise ValueError("ResourceSet: R must be a JSON object, got {}".format(
                    type(arg).__name__))
        if isinstance(arg, Mapping):
            version = arg["version"]
        elif arg is not None:
            raise TypeError("ResourceSet cannot be made from {}".format(type(arg).__name__))
        if version != 1 or isinstance(version, bool):
            raise ValueError("R version {!r} not supported".format(version))
        self.version = 1
        self.impl = Rv1Set(arg, **kwargs)

    def _other(self, arg: Any) -> "ResourceSet":
        return arg if isinstance(arg, ResourceSet) else ResourceSet(arg, version=self.version)

    # --- text -----------------------------------------------------------------
    def dumps(self) -> str:
        """Short form: ``rank[0-3]/core[0-3],gpu0``."""
        return str(self.impl.dumps())

    def __str__(self) -> str:
        return self.dumps()

    def __repr__(self) -> str:
        return "<ResourceSet {}{}>".format(
            self.dumps() or "(empty)", "" if self._state is None else " " + self._state)

    @property
    def rlist(self) -> str:
        return self.dumps()

    def encode(self) -> str:
        """R as JSON text."""
        return str(self.impl.encode())

    def to_dict(self) -> Any:
        """R as a dict."""
        return self.impl.to_dict()

    # --- contents ---------------------------------------------------------------
    def count(self, name: str) -> int:
        """How many resources of type ``name`` ("core", "gpu"); 0 for others."""
        return int(self.impl.count(name))

    @property
    def nodelist(self) -> Hostlist:
        """Host names in rank order."""
        return self.impl.nodelist()  # type: ignore[no-any-return]

    @property
    def ranks(self) -> IDset:
        return self.impl.ranks()  # type: ignore[no-any-return]

    @property
    def nnodes(self) -> int:
        return int(self.impl.nnodes())

    @property
    def ncores(self) -> int:
        return int(self.impl.count("core"))

    @property
    def ngpus(self) -> int:
        return int(self.impl.count("gpu"))

    @property
    def state(self) -> Optional[str]:
        """A label for the set ("up", "free"...) or None."""
        return self._state

    @state.setter
    def state(self, value: Optional[str]) -> None:
        self._state = value

    def host_ranks(self, hosts: Any, ignore_nomatch: bool = False) -> List[int]:
        """The rank of each host of ``hosts`` (a hostlist), in its order;
        FileNotFoundError for hosts not in the set unless ``ignore_nomatch``."""
        ranks = list(self.ranks)
        positions = self.nodelist.index(hosts, ignore_nomatch=ignore_nomatch)
        return [ranks[i] for i in positions]

    # --- properties -------------------------------------------------------------
    def set_property(self, name: str, ranks: Any = None) -> "ResourceSet":
        """Give ``ranks`` (all when None) property ``name``; returns self."""
        self.impl.set_property(name, str(self.ranks) if ranks is None else ranks)
        return self

    def get_properties(self) -> str:
        """RFC 20 properties (name -> idset of ranks) as JSON text."""
        return str(self.impl.get_properties())

    @property
    def properties(self) -> str:
        """The property names, comma-separated."""
        return ",".join(json.loads(self.get_properties()))

    # --- times ------------------------------------------------------------------
    @property
    def expiration(self) -> float:
        return float(self.impl.get_expiration())

    @expiration.setter
    def expiration(self, value: float) -> None:
        self.impl.set_expiration(value)

    @property
    def starttime(self) -> float:
        return float(self.impl.get_starttime())

    @starttime.setter
    def starttime(self, value: float) -> None:
        self.impl.set_starttime(value)

    # --- changing it in place --------------------------------------------------
    def append(self, *args: Any) -> "ResourceSet":
        """Add each argument's resources (and properties); returns self."""
        for arg in args:
            other = self._other(arg)
            self.impl.append(other.impl)
        return self

    def add(self, *args: Any) -> "ResourceSet":
        """Add the resources of each argument this set lacks; returns self."""
        for arg in args:
            other = self._other(arg)
            self.impl.add(other.impl)
        return self

    def remove_ranks(self, ranks: Any) -> "ResourceSet":
        """Drop ``ranks`` (an IDset, idset string or rank); returns self."""
        self.impl.remove_ranks(ranks if isinstance(ranks, IDset) else IDset(ranks))
        return self

    # --- new sets -----------------------------------------------------------------
    def copy(self) -> "ResourceSet":
        """An independent copy, with the same state."""
        result = ResourceSet(self.impl.copy())
        result.state = self.state
        return result

    def copy_ranks(self, ranks: Any) -> "ResourceSet":
        """A copy of ``ranks`` only, with the same state."""
        result = ResourceSet(self.impl.copy_ranks(
            ranks if isinstance(ranks, IDset) else IDset(ranks)))
        result.state = self.state
        return result

    def copy_constraint(self, constraint: Any) -> "ResourceSet":
        """A copy of the ranks matching RFC 31 ``constraint`` (a mapping or
        its JSON text); ValueError for a malformed constraint."""
        return ResourceSet(self.impl.copy_constraint(constraint))

    def _fold(self, operation: str, args: Any) -> "ResourceSet":
        result = self.copy()
        for arg in args:
            other = self._other(arg)
            result = ResourceSet(getattr(result.impl, operation)(other.impl))
        result.state = self.state
        return result

    def union(self, *args: Any) -> "ResourceSet":
        """Resources in this set or any of ``args`` (``a | b``)."""
        return self._fold("union", args)

    def diff(self, *args: Any) -> "ResourceSet":
        """Resources in this set and in none of ``args`` (``a - b``)."""
        return self._fold("diff", args)

    def intersect(self, *args: Any) -> "ResourceSet":
        """Ranks in this set and all of ``args`` (``a & b``)."""
        return self._fold("intersect", args)

    def __or__(self, other: Any) -> "ResourceSet":
        return self.union(other)

    def __sub__(self, other: Any) -> "ResourceSet":
        return self.diff(other)

    def __and__(self, other: Any) -> "ResourceSet":
        return self.intersect(other)
