"""Version 1 of R, the RFC 20 resource set, held in Python.

An Rv1Set keeps, per broker rank, the host name and the core and GPU ids
(``frozenset``s), plus the RFC 20 properties (name -> ranks), start time
and expiration.  Ids and ranks are read and written as RFC 22 idsets by
libflux-idset (:class:`~flux_ctypes.idset.IDset`) and host names as RFC
29 hostlists by libflux-hostlist, so the text agrees with flux-core's.

Malformed R is a ``ValueError`` saying where (``R_lite[0].children.core:
invalid idset 'x'``); R that is not a JSON object a ``TypeError``; a
missing ``version`` a ``KeyError``, as with the official bindings.
"""

import json
from collections.abc import Mapping
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Set

from flux_ctypes.hostlist import Hostlist
from flux_ctypes.idset import IDSET_FLAG_BRACKETS, IDSET_FLAG_RANGE, IDset
from flux_ctypes.resource.ResourceSetImplementation import ResourceSetImplementation

__all__ = ["Rv1Set"]

_EMPTY = frozenset()  # type: FrozenSet[int]


class _Node(NamedTuple):
    """One rank's resources (immutable, so copies share them)."""

    hostname: str
    cores: FrozenSet[int]
    gpus: FrozenSet[int]


def _idset_of(ids: Iterable[int]) -> IDset:
    """An IDset of ``ids``, set one run of consecutive ids per C call."""
    result = IDset()
    ordered = sorted(ids)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            if ordered[start] == ordered[i - 1]:
                result.set(ordered[start])
            else:
                result.set(ordered[start], ordered[i - 1])
            start = i
    return result


def _idset_text(ids: Iterable[int]) -> str:
    """RFC 22 form for R: ``"0-3,7"``."""
    return _idset_of(ids).encode(IDSET_FLAG_RANGE)


def _display(ids: Iterable[int]) -> str:
    """The form of dumps(): ``"3"``, ``"[0-2,5]"``."""
    return _idset_of(ids).encode(IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS)


def _ids(value: Any, where: str) -> FrozenSet[int]:
    if not isinstance(value, str):
        raise ValueError("R {}: expected an idset string, got {!r}".format(where, value))
    try:
        return frozenset(IDset(value))
    except ValueError as exc:
        raise ValueError("R {}: {}".format(where, exc)) from None


def _number(value: Any, where: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("R {}: expected a number, got {!r}".format(where, value))
    return float(value)


class Rv1Set(ResourceSetImplementation):
    """R version 1.

    ``arg`` is R as JSON text, as a decoded mapping, or None for an empty
    set.  ``keep_scheduling=True`` keeps R's opaque ``scheduling`` key
    (scheduler data, often large) so encode() writes it back.
    """

    version = 1

    def __init__(self, arg: Any = None, keep_scheduling: bool = False) -> None:
        self._nodes = {}  # type: Dict[int, _Node]
        self._properties = {}  # type: Dict[str, Set[int]]
        self._starttime = 0.0
        self._expiration = 0.0
        self._nslots = 0
        self._has_nodelist = False
        self._scheduling = None  # type: Any
        if arg is None:
            return
        if isinstance(arg, (str, bytes, bytearray)):
            arg = json.loads(arg)
        if not isinstance(arg, Mapping):
            raise TypeError("Rv1Set cannot be made from {}".format(type(arg).__name__))
        version = arg["version"]
        if version != 1 or isinstance(version, bool):
            raise ValueError("R version {!r} not supported".format(version))
        if keep_scheduling:
            self._scheduling = arg.get("scheduling")
        self._decode_execution(arg.get("execution", {}))

    def _decode_execution(self, execution: Any) -> None:
        if not isinstance(execution, Mapping):
            raise ValueError("R execution: expected an object, got {!r}".format(execution))
        self._starttime = _number(execution.get("starttime"), "execution.starttime")
        self._expiration = _number(execution.get("expiration"), "execution.expiration")
        nslots = execution.get("nslots") or 0
        if isinstance(nslots, bool) or not isinstance(nslots, int) or nslots < 0:
            raise ValueError("R execution.nslots: expected a count, got {!r}".format(nslots))
        self._nslots = nslots

        r_lite = execution.get("R_lite", [])
        if not isinstance(r_lite, list):
            raise ValueError("R execution.R_lite: expected an array, got {!r}".format(r_lite))
        found = {}  # type: Dict[int, List[FrozenSet[int]]]
        for i, entry in enumerate(r_lite):
            where = "R_lite[{}]".format(i)
            if not isinstance(entry, Mapping):
                raise ValueError("R {}: expected an object, got {!r}".format(where, entry))
            if "rank" not in entry:
                raise ValueError("R {}: no 'rank'".format(where))
            ranks = _ids(entry["rank"], where + ".rank")
            children = entry.get("children", {})
            if not isinstance(children, Mapping):
                raise ValueError("R {}.children: expected an object, got {!r}".format(
                    where, children))
            cores = _ids(children["core"], where + ".children.core") \
                if "core" in children else _EMPTY
            gpus = _ids(children["gpu"], where + ".children.gpu") \
                if "gpu" in children else _EMPTY
            for rank in ranks:
                have = found.setdefault(rank, [_EMPTY, _EMPTY])
                have[0] |= cores  # a rank listed twice: its resources merge
                have[1] |= gpus

        nodelist = execution.get("nodelist", [])
        if not isinstance(nodelist, list):
            raise ValueError("R execution.nodelist: expected an array, got {!r}".format(
                nodelist))
        hosts = []  # type: List[str]
        for i, entry in enumerate(nodelist):
            if not isinstance(entry, str):
                raise ValueError("R execution.nodelist[{}]: expected a hostlist string, "
                                 "got {!r}".format(i, entry))
            try:
                hosts.extend(Hostlist(entry))
            except ValueError as exc:
                raise ValueError("R execution.nodelist[{}]: {}".format(i, exc)) from None
        self._has_nodelist = bool(nodelist)
        # nodelist[i] names the i-th smallest rank; ranks without a name
        # (no nodelist in R) are called "rank<N>"
        for position, rank in enumerate(sorted(found)):
            name = hosts[position] if position < len(hosts) else "rank{}".format(rank)
            cores, gpus = found[rank]
            self._nodes[rank] = _Node(name, cores, gpus)

        properties = execution.get("properties", {})
        if not isinstance(properties, Mapping):
            raise ValueError("R execution.properties: expected an object, got {!r}".format(
                properties))
        for name, ranks in properties.items():
            self._properties[name] = set(_ids(ranks, "execution.properties." + name))

    def _derived(self, nodes: Dict[int, _Node], has_nodelist: Optional[bool] = None
                 ) -> "Rv1Set":
        """A new set with this set's times, ``nodes`` and this set's
        properties restricted to those nodes."""
        new = type(self)()
        new._starttime = self._starttime
        new._expiration = self._expiration
        new._has_nodelist = self._has_nodelist if has_nodelist is None else has_nodelist
        new._nodes = nodes
        for name, ranks in self._properties.items():
            kept = {rank for rank in ranks if rank in nodes}
            if kept:
                new._properties[name] = kept
        return new

    # --- what it holds ------------------------------------------------------
    def _groups(self) -> List[List[Any]]:
        """[ranks, cores, gpus] per distinct (cores, gpus), by lowest rank."""
        groups = {}  # type: Dict[Any, List[Any]]
        for rank in sorted(self._nodes):
            node = self._nodes[rank]
            key = (node.cores, node.gpus)
            if key in groups:
                groups[key][0].append(rank)
            else:
                groups[key] = [[rank], node.cores, node.gpus]
        return list(groups.values())

    def dumps(self) -> str:
        parts = []
        for ranks, cores, gpus in self._groups():
            text = "rank{}/core{}".format(_display(ranks), _display(cores))
            if gpus:
                text += ",gpu" + _display(gpus)
            parts.append(text)
        return " ".join(parts)

    def nodelist(self) -> Hostlist:
        return Hostlist([self._nodes[rank].hostname for rank in sorted(self._nodes)])

    def ranks(self) -> IDset:
        return _idset_of(self._nodes)

    def nnodes(self) -> int:
        return len(self._nodes)

    def count(self, name: str) -> int:
        if name == "core":
            return sum(len(node.cores) for node in self._nodes.values())
        if name == "gpu":
            return sum(len(node.gpus) for node in self._nodes.values())
        return 0

    # --- R --------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """R as a dict (what ``json.loads(encode())`` gives)."""
        r_lite = []
        for ranks, cores, gpus in self._groups():
            children = {"core": _idset_text(cores)}
            if gpus:
                children["gpu"] = _idset_text(gpus)
            r_lite.append({"rank": _idset_text(ranks), "children": children})
        execution = {
            "R_lite": r_lite,
            "starttime": self._starttime,
            "expiration": self._expiration,
        }  # type: Dict[str, Any]
        if self._nslots > 0:
            execution["nslots"] = self._nslots
        if self._has_nodelist:
            execution["nodelist"] = [self.nodelist().encode()]
        properties = {name: _idset_text(ranks)
                      for name, ranks in sorted(self._properties.items()) if ranks}
        if properties:
            execution["properties"] = properties
        result = {"version": 1, "execution": execution}  # type: Dict[str, Any]
        if self._scheduling:
            result["scheduling"] = self._scheduling
        return result

    def encode(self) -> str:
        return json.dumps(self.to_dict())

    @property
    def scheduling(self) -> Any:
        """R's opaque ``scheduling`` value, or None (see keep_scheduling)."""
        return self._scheduling

    @scheduling.setter
    def scheduling(self, value: Any) -> None:
        self._scheduling = value

    # --- properties -----------------------------------------------------------
    def set_property(self, name: str, ranks: Any = None) -> "Rv1Set":
        """Give ``ranks`` (default: all) property ``name``."""
        if not isinstance(name, str):
            raise TypeError("set_property(name): a str, not {}".format(type(name).__name__))
        if not name:
            raise ValueError("set_property(name): a property name can't be empty")
        if "^" in name:
            raise ValueError("set_property(name): {!r}: '^' is reserved for negation "
                             "in constraints".format(name))
        if ranks is None:
            target = set(self._nodes)
        else:
            try:
                target = set(ranks if isinstance(ranks, IDset) else IDset(str(ranks)))
            except ValueError as exc:
                raise ValueError("set_property(ranks): {}".format(exc)) from None
            absent = target.difference(self._nodes)
            if absent:
                raise ValueError("set_property(ranks): ranks {} are not in the set".format(
                    _idset_text(absent)))
        self._properties.setdefault(name, set()).update(target)
        return self

    def get_properties(self) -> str:
        return json.dumps({name: _idset_text(ranks)
                           for name, ranks in self._properties.items() if ranks})

    # --- times ---------------------------------------------------------------
    def get_expiration(self) -> float:
        return self._expiration

    def set_expiration(self, expiration: float) -> None:
        self._expiration = _number(expiration, "expiration")

    def get_starttime(self) -> float:
        return self._starttime

    def set_starttime(self, starttime: float) -> None:
        self._starttime = _number(starttime, "starttime")

    # --- copies and algebra ---------------------------------------------------
    def copy(self) -> "Rv1Set":
        return self._derived(dict(self._nodes))

    def copy_ranks(self, ranks: Any) -> "Rv1Set":
        keep = ranks if isinstance(ranks, IDset) else IDset(ranks)
        return self._derived({rank: node for rank, node in self._nodes.items()
                              if rank in keep})

    def remove_ranks(self, ranks: Any) -> "Rv1Set":
        drop = ranks if isinstance(ranks, IDset) else IDset(ranks)
        for rank in drop:
            self._nodes.pop(rank, None)
            for members in self._properties.values():
                members.discard(rank)
        return self

    @staticmethod
    def _check(other: Any) -> "Rv1Set":
        if not isinstance(other, Rv1Set):
            raise TypeError("expected an Rv1Set, got {}".format(type(other).__name__))
        return other

    def union(self, rset: Any) -> "Rv1Set":
        """Resources in either set: a rank in both gets both sets' ids."""
        other = self._check(rset)
        new = self.copy()
        new.append(other)
        return new

    def intersect(self, rset: Any) -> "Rv1Set":
        """The ranks in both sets (whole ranks, with this set's resources)."""
        other = self._check(rset)
        return self._derived({rank: node for rank, node in self._nodes.items()
                              if rank in other._nodes})

    def diff(self, rset: Any) -> "Rv1Set":
        """This set's resources not in ``rset``, id by id; a rank left with
        neither cores nor GPUs is dropped."""
        other = self._check(rset)
        nodes = {}
        for rank, node in self._nodes.items():
            theirs = other._nodes.get(rank)
            if theirs is None:
                nodes[rank] = node
                continue
            cores = node.cores - theirs.cores
            gpus = node.gpus - theirs.gpus
            if cores or gpus:
                nodes[rank] = _Node(node.hostname, cores, gpus)
        return self._derived(nodes)

    def _merge(self, other: "Rv1Set", all_properties: bool) -> None:
        added = set()
        for rank, node in other._nodes.items():
            mine = self._nodes.get(rank)
            if mine is None:
                self._nodes[rank] = node
                added.add(rank)
            else:
                self._nodes[rank] = _Node(
                    mine.hostname, mine.cores | node.cores, mine.gpus | node.gpus)
        self._has_nodelist = self._has_nodelist or other._has_nodelist
        for name, ranks in other._properties.items():
            gained = set(ranks) if all_properties else ranks & added
            if gained:
                self._properties.setdefault(name, set()).update(gained)

    def append(self, rset: Any) -> None:
        """Add ``rset`` in place (with all its properties)."""
        self._merge(self._check(rset), all_properties=True)

    def add(self, rset: Any) -> None:
        """Add ``rset``'s resources in place; properties come along for
        the ranks that are new here."""
        self._merge(self._check(rset), all_properties=False)

    # --- RFC 31 constraints ---------------------------------------------------
    def copy_constraint(self, constraint: Any) -> "Rv1Set":
        """A copy of the ranks that satisfy RFC 31 ``constraint`` (a
        mapping, or its JSON text)."""
        if isinstance(constraint, (str, bytes, bytearray)):
            constraint = json.loads(constraint)
        test = self._compile(constraint)
        return self._derived({rank: node for rank, node in self._nodes.items()
                              if test(rank, node)})

    _OPERATORS = ("properties", "hostlist", "ranks", "and", "or", "not")

    def _compile(self, constraint: Any) -> Callable[[int, _Node], bool]:
        """``constraint`` as a test of one rank; every error is raised
        here, before any rank is looked at."""
        if not isinstance(constraint, Mapping):
            raise ValueError("constraint: expected an object, got {!r}".format(constraint))
        operator = next((op for op in self._OPERATORS if op in constraint), None)
        if operator is None:
            raise ValueError("constraint: unknown operator(s) {}".format(
                ", ".join(repr(key) for key in constraint) or "(none)"))
        operand = constraint[operator]
        if operator == "properties":
            return self._compile_properties(operand)
        if operator == "hostlist":
            try:
                hosts = set(Hostlist(operand))
            except (TypeError, ValueError) as exc:
                raise ValueError("constraint hostlist: {}".format(exc)) from None
            return lambda rank, node: node.hostname in hosts
        if operator == "ranks":
            wanted = IDset()
            try:
                for item in [operand] if isinstance(operand, (str, int)) else operand:
                    wanted.add(item if isinstance(item, (str, int)) else str(item))
            except (TypeError, ValueError) as exc:
                raise ValueError("constraint ranks: {}".format(exc)) from None
            return lambda rank, node: rank in wanted
        if not isinstance(operand, list):
            raise ValueError("constraint {!r}: operand must be a list, got {!r}".format(
                operator, operand))
        tests = [self._compile(item) for item in operand]
        if operator == "and":
            return lambda rank, node: all(test(rank, node) for test in tests)
        if operator == "or":
            return lambda rank, node: any(test(rank, node) for test in tests)
        if not tests:
            raise ValueError("constraint 'not': operand must be a non-empty list")
        first = tests[0]
        return lambda rank, node: not first(rank, node)

    def _compile_properties(self, names: Any) -> Callable[[int, _Node], bool]:
        if not isinstance(names, list):
            raise ValueError("constraint properties: expected a list, got {!r}".format(names))
        required = []
        forbidden = []
        for name in names:
            if not isinstance(name, str):
                raise ValueError("constraint properties: a property is a string, "
                                 "got {!r}".format(name))
            if name.startswith("^"):
                forbidden.append(self._properties.get(name[1:], set()))
            else:
                required.append(self._properties.get(name, set()))

        def test(rank: int, node: _Node) -> bool:
            return all(rank in ranks for ranks in required) and not any(
                rank in ranks for ranks in forbidden)

        return test
