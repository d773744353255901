"""RFC 22 idsets: ``IDset("0-3,7")``, sets of non-negative integers.

An :class:`IDset` holds its ids as sorted runs ``[(0, 3), (7, 7)]`` in
Python.  This is faster than calling libflux-idset (whose encoder walks
every id and re-scans its output per run) by 10-100x, and still exact:
RFC 22 as libidset reads it is a small grammar, followed rule for rule
below (same accepted strings, same error messages), and the tests compare
both on fixed and random input, in-process and against the official
bindings.  It reads like the official ``flux.idset``::

    >>> ids = IDset("0-3,7")
    >>> len(ids), 7 in ids, list(ids)
    (5, True, [0, 1, 2, 3, 7])
    >>> ids.encode(IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS)
    '[0-3,7]'
    >>> str(ids - "1-2"), str(ids | [8, 9])
    ('0,3,7', '0-3,7-9')

Malformed idsets are a ``ValueError`` (with libidset's reason), a wrong
type a ``TypeError``, a negative or too large id a ``ValueError``.
"""

import numbers
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any, Iterator, List, Optional, Tuple, Union

from flux_ctypes.lib import idset_t, lib, take_string
from flux_ctypes.util import listed

__all__ = [
    "IDset",
    "decode",
    "IDSET_INVALID_ID",
    "IDSET_FLAG_AUTOGROW",
    "IDSET_FLAG_BRACKETS",
    "IDSET_FLAG_RANGE",
]

# from idset.h
IDSET_FLAG_AUTOGROW = 1
IDSET_FLAG_BRACKETS = 2
IDSET_FLAG_RANGE = 4
#: what first(), next() and last() return when there is no such id
IDSET_INVALID_ID = 2 ** 32 - 2  # UINT_MAX - 1
#: the largest id: libidset's universe holds at most INT_MAX + 1 ids
IDSET_MAX_ID = 2 ** 31 - 1

IDsetArg = Union[str, int, "IDset", "Iterable[int]"]
Run = Tuple[int, int]

# One element of an idset string, as libidset's parse_range() accepts it:
# decimal digits without a leading zero (RFC 22), optionally "-" and a
# larger such number; nothing else (no sign, no space).
_ELEMENT = re.compile(r"(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?\Z")
_AFTER_LAST = 2 ** 64  # sorts after every (id, id) run in bisect


def _invalid(what: str, text: str, reason: str) -> ValueError:
    return ValueError("{}: invalid idset {!r}: {}".format(what, text, reason))


def _parse(text: str, what: str) -> List[Run]:
    """The runs of RFC 22 string ``text``, by libidset's rules: brackets
    only around the whole, elements split at commas (empty ones skipped),
    each a number or a range "lo-hi" with lo < hi, all in increasing
    order; ids at most IDSET_MAX_ID."""
    body = text
    if len(body) >= 2 and body[0] == "[" and body[-1] == "]":
        body = body[1:-1]
    if "[" in body or "]" in body:
        raise _invalid(what, text, "mismatched or nested brackets")
    runs = []  # type: List[Run]
    maxid = -1
    for element in body.split(","):
        if not element:
            continue
        match = _ELEMENT.match(element)
        if match is None:
            raise _invalid(what, text, "error parsing range '{}'".format(element))
        lo = int(match.group(1))
        hi = lo if match.group(2) is None else int(match.group(2))
        if hi <= lo and match.group(2) is not None:
            raise _invalid(what, text, "error parsing range '{}'".format(element))
        if hi > IDSET_MAX_ID:
            # libidset: "set universe size would exceed maximum", except
            # beyond 2**32, where it wraps silently ("99999999999" reads
            # as 1215752191); refused here either way
            raise _invalid(what, text, "id {} is larger than an idset can hold ({})".format(
                hi, IDSET_MAX_ID))
        if lo <= maxid:
            raise _invalid(what, text, "range '{}' is out of order".format(element))
        if runs and runs[-1][1] + 1 == lo:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
        maxid = hi
    return runs


def _check_id(value: Any, what: str) -> int:
    """``value`` as an id, or TypeError/ValueError saying why not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("{}: an id is an integer, not {}".format(what, type(value).__name__))
    number = int(value)
    if number < 0:
        raise ValueError("{}: negative id {}".format(what, number))
    if number > IDSET_MAX_ID:
        raise ValueError("{}: id {} is larger than an idset can hold ({})".format(
            what, number, IDSET_MAX_ID))
    return number


def _runs_of(ids: Iterable, what: str) -> List[Run]:  # type: ignore[type-arg]
    """Runs of an iterable of ids (any order, repeats allowed)."""
    checked = sorted({_check_id(value, what) for value in listed(ids, what)})
    runs = []  # type: List[Run]
    for number in checked:
        if runs and runs[-1][1] + 1 == number:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _union(a: List[Run], b: List[Run]) -> List[Run]:
    out = []  # type: List[Run]
    for lo, hi in sorted(a + b):  # two sorted lists: timsort merges them
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _intersect(a: List[Run], b: List[Run]) -> List[Run]:
    out = []  # type: List[Run]
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _difference(a: List[Run], b: List[Run]) -> List[Run]:
    out = []  # type: List[Run]
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1  # b's runs wholly before this one are before the rest too
        start = lo
        k = j
        while k < len(b) and b[k][0] <= hi and start <= hi:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = max(start, b[k][1] + 1)
            k += 1
        if start <= hi:
            out.append((start, hi))
    return out


class IDset:
    """A set of non-negative integers, read from and written as RFC 22
    idset strings.

    ``arg`` is an idset string (``"0-3,7"``, ``""`` for an empty set), a
    single id, another IDset (copied) or an iterable of ids.  ``flags``
    is how :meth:`encode` and ``str()`` write it by default
    (IDSET_FLAG_RANGE, optionally with IDSET_FLAG_BRACKETS).  ``handle``
    takes the ids of a ``struct idset *`` (a :data:`flux_ctypes.lib.idset_t`
    from libflux-idset), which is then destroyed.
    """

    __slots__ = ("_runs", "default_flags", "__weakref__")

    def __init__(self, arg: IDsetArg = "", flags: int = IDSET_FLAG_RANGE,
                 handle: Any = None) -> None:
        self.default_flags = self._check_flags(flags, "IDset(flags)")
        if handle is not None:
            self._runs = self._adopt(handle)
        elif isinstance(arg, str):
            if "\0" in arg:
                raise ValueError("IDset(arg): {!r} contains a NUL character".format(arg))
            self._runs = _parse(arg, "IDset(arg)")
        elif isinstance(arg, IDset):
            self._runs = list(arg._runs)
        elif isinstance(arg, numbers.Integral) and not isinstance(arg, bool):
            number = _check_id(arg, "IDset(arg)")
            self._runs = [(number, number)]
        elif isinstance(arg, Iterable) and not isinstance(arg, (bytes, bytearray)):
            self._runs = _runs_of(arg, "IDset(arg)")
        else:
            raise TypeError("IDset(arg): expected an idset string, an id or an iterable "
                            "of ids, got {}".format(type(arg).__name__))

    @staticmethod
    def _adopt(handle: Any) -> List[Run]:
        if not isinstance(handle, idset_t) or not handle:
            raise TypeError("IDset(handle=): expected a non-NULL struct idset pointer, "
                            "got {!r}".format(handle))
        try:
            return _parse(take_string(lib.idset_encode(handle, IDSET_FLAG_RANGE)),
                          "IDset(handle=)")
        finally:
            lib.idset_destroy(handle)

    @staticmethod
    def _check_flags(flags: Any, what: str) -> int:
        if isinstance(flags, bool) or not isinstance(flags, numbers.Integral):
            raise TypeError("{}: flags are an int, not {}".format(what, type(flags).__name__))
        if int(flags) & ~(IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS):
            raise ValueError("{}: only IDSET_FLAG_RANGE and IDSET_FLAG_BRACKETS "
                             "affect encoding, got {}".format(what, flags))
        return int(flags)

    @staticmethod
    def _other(arg: Any) -> "IDset":
        return arg if isinstance(arg, IDset) else IDset(arg)

    @classmethod
    def _from_runs(cls, runs: List[Run], flags: int) -> "IDset":
        new = cls.__new__(cls)
        new._runs = runs
        new.default_flags = flags
        return new

    # --- text -------------------------------------------------------------
    def set_flags(self, flags: int) -> None:
        """How :meth:`encode` and ``str()`` write this set by default."""
        self.default_flags = self._check_flags(flags, "IDset.set_flags(flags)")

    def encode(self, flags: Optional[int] = None) -> str:
        """The RFC 22 string: ``"0-3,7"`` with IDSET_FLAG_RANGE, ``"0,1,2,3,7"``
        without, in brackets (``"[0-3,7]"``) with IDSET_FLAG_BRACKETS when
        there is more than one id."""
        if flags is None:
            flags = self.default_flags
        else:
            flags = self._check_flags(flags, "IDset.encode(flags)")
        runs = self._runs
        if flags & IDSET_FLAG_RANGE:
            text = ",".join(str(lo) if lo == hi else "{}-{}".format(lo, hi)
                            for lo, hi in runs)
        else:
            text = ",".join(str(i) for lo, hi in runs for i in range(lo, hi + 1))
        if flags & IDSET_FLAG_BRACKETS and runs and (len(runs) > 1 or runs[0][0] != runs[0][1]):
            return "[" + text + "]"
        return text

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return "IDset('{}')".format(self.encode(IDSET_FLAG_RANGE))

    # --- members ------------------------------------------------------------
    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self._runs)

    def count(self) -> int:
        """The number of ids in the set."""
        return len(self)

    def test(self, i: int) -> bool:
        """True when id ``i`` is in the set."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError("IDset.test(i): an id is an integer, not {}".format(
                type(i).__name__))
        if i < 0:
            raise ValueError("IDset.test(i): negative id {}".format(i))
        runs = self._runs
        at = bisect_right(runs, (i, _AFTER_LAST)) - 1
        return at >= 0 and runs[at][1] >= i

    __contains__ = test
    __getitem__ = test

    def __setitem__(self, i: int, value: Any) -> None:
        """``ids[i] = True`` (or 1) sets id ``i``, ``False`` (or 0) clears it."""
        if not isinstance(value, bool) and not (
                isinstance(value, int) and value in (0, 1)):
            raise TypeError("IDset[i] = value: value must be a bool (or 0, 1), "
                            "not {!r}".format(value))
        if value:
            self.set(i)
        else:
            self.clear(i)

    def __iter__(self) -> Iterator[int]:
        for lo, hi in list(self._runs):  # a snapshot, as of now
            yield from range(lo, hi + 1)

    def expand(self) -> List[int]:
        """The ids in increasing order, as a list."""
        return list(self)

    def first(self) -> int:
        """The smallest id, or IDSET_INVALID_ID when the set is empty."""
        return self._runs[0][0] if self._runs else IDSET_INVALID_ID

    def last(self) -> int:
        """The largest id, or IDSET_INVALID_ID when the set is empty."""
        return self._runs[-1][1] if self._runs else IDSET_INVALID_ID

    def next(self, i: int) -> int:
        """The smallest id greater than ``i``, or IDSET_INVALID_ID."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError("IDset.next(i): an id is an integer, not {}".format(
                type(i).__name__))
        if i < 0:
            raise ValueError("IDset.next(i): negative id {}".format(i))
        runs = self._runs
        at = bisect_right(runs, (i, _AFTER_LAST))
        if at > 0 and runs[at - 1][1] > i:
            return int(i) + 1
        return runs[at][0] if at < len(runs) else IDSET_INVALID_ID

    # --- changing it ----------------------------------------------------------
    def _span(self, start: Any, end: Any, name: str) -> Run:
        first = _check_id(start, "IDset.{}(start)".format(name))
        if end is None:
            return first, first
        last = _check_id(end, "IDset.{}(end)".format(name))
        if last < first:
            raise ValueError("IDset.{}: end {} is before start {}".format(name, last, first))
        return first, last

    def set(self, start: int, end: Optional[int] = None) -> "IDset":
        """Add id ``start``, or the ids ``start`` through ``end``; returns self."""
        lo, hi = self._span(start, end, "set")
        runs = self._runs
        i = bisect_left(runs, (lo,))
        if i > 0 and runs[i - 1][1] >= lo - 1:
            i -= 1
        j = i
        while j < len(runs) and runs[j][0] <= hi + 1:
            lo = min(lo, runs[j][0])
            hi = max(hi, runs[j][1])
            j += 1
        runs[i:j] = [(lo, hi)]
        return self

    def clear(self, start: int, end: Optional[int] = None) -> "IDset":
        """Remove id ``start``, or ids ``start`` through ``end``; returns self."""
        lo, hi = self._span(start, end, "clear")
        runs = self._runs
        i = bisect_left(runs, (lo,))
        if i > 0 and runs[i - 1][1] >= lo:
            i -= 1
        j = i
        pieces = []  # type: List[Run]
        while j < len(runs) and runs[j][0] <= hi:
            a, b = runs[j]
            if a < lo:
                pieces.append((a, lo - 1))
            if b > hi:
                pieces.append((hi + 1, b))
            j += 1
        runs[i:j] = pieces
        return self

    def add(self, arg: IDsetArg) -> "IDset":
        """Add every id of ``arg`` (an IDset, idset string, id or iterable
        of ids) in place; returns self."""
        self._runs = _union(self._runs, self._other(arg)._runs)
        return self

    def subtract(self, arg: IDsetArg) -> "IDset":
        """Remove every id of ``arg`` in place; returns self."""
        self._runs = _difference(self._runs, self._other(arg)._runs)
        return self

    def __iadd__(self, arg: IDsetArg) -> "IDset":
        return self.add(arg)

    def __isub__(self, arg: IDsetArg) -> "IDset":
        return self.subtract(arg)

    def copy(self) -> "IDset":
        """An independent copy (with the same default flags)."""
        return self._from_runs(list(self._runs), self.default_flags)

    # --- set algebra: new sets --------------------------------------------------
    def union(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set or any of ``args``."""
        runs = self._runs
        for arg in args:
            runs = _union(runs, self._other(arg)._runs)
        return self._from_runs(list(runs), self.default_flags)

    def intersect(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set and all of ``args``."""
        runs = self._runs
        for arg in args:
            runs = _intersect(runs, self._other(arg)._runs)
        return self._from_runs(list(runs), self.default_flags)

    def difference(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set and in none of ``args``."""
        runs = self._runs
        for arg in args:
            runs = _difference(runs, self._other(arg)._runs)
        return self._from_runs(list(runs), self.default_flags)

    def __or__(self, arg: IDsetArg) -> "IDset":
        return self.union(arg)

    __add__ = __or__

    def __and__(self, arg: IDsetArg) -> "IDset":
        return self.intersect(arg)

    def __sub__(self, arg: IDsetArg) -> "IDset":
        return self.difference(arg)

    def equal(self, other: "IDset") -> bool:
        """True when both sets hold the same ids; TypeError for a non-IDset."""
        if not isinstance(other, IDset):
            raise TypeError("IDset.equal(): expected an IDset, got {}".format(
                type(other).__name__))
        return self._runs == other._runs

    # The official class raises TypeError comparing with a non-IDset, and
    # so does this one (a str compared with an IDset is a mistake).
    __eq__ = equal  # type: ignore[assignment]

    def __ne__(self, other: "IDset") -> bool:  # type: ignore[override]
        return not self.equal(other)

    __hash__ = None  # type: ignore[assignment]  # mutable


def decode(text: str) -> IDset:
    """An IDset of RFC 22 string ``text``."""
    if not isinstance(text, str):
        raise TypeError("idset.decode(text): expected a str, got {}".format(
            type(text).__name__))
    return IDset(text)
