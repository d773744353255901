"""RFC 22 idsets: ``IDset("0-3,7")``, sets of non-negative integers.

:class:`IDset` keeps a ``struct idset`` of libflux-idset, the library
flux-core uses, so decoding and encoding agree with every Flux tool.  It
reads like the official ``flux.idset``::

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

import ctypes
import numbers
import re
from collections.abc import Iterable
from typing import Any, Iterator, List, Optional, Union

from flux_ctypes.lib import idset_error_t, idset_t, lib, own, take_string

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
#: ids are below this: an idset's universe is at most INT_MAX + 1 ids
IDSET_MAX_ID = 2 ** 31 - 1

_LONG_NUMBER = re.compile(r"[0-9]{10,}")

IDsetArg = Union[str, int, "IDset", "Iterable[int]"]


def _check_id(value: Any, what: str) -> int:
    """``value`` as an id C can hold, or TypeError/ValueError saying why
    not (ctypes would silently wrap a negative or huge int)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("{}: an id is an integer, not {}".format(what, type(value).__name__))
    number = int(value)
    if number < 0:
        raise ValueError("{}: negative id {}".format(what, number))
    if number > IDSET_MAX_ID:
        raise ValueError("{}: id {} is larger than an idset can hold ({})".format(
            what, number, IDSET_MAX_ID))
    return number


def _decode(text: str, what: str) -> Any:
    """A new struct idset of RFC 22 string ``text``."""
    if "\0" in text:
        raise ValueError("{}: {!r} contains a NUL character".format(what, text))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("{}: invalid idset {!r}".format(what, text)) from None
    if _LONG_NUMBER.search(text):
        # libidset reads ids with strtoul and wraps silently beyond 2**32
        # ("99999999999" would be 1215752191): refuse what it can't hold
        for number in _LONG_NUMBER.findall(text):
            if int(number) > IDSET_MAX_ID:
                raise ValueError("{}: invalid idset {!r}: id {} is larger than an "
                                 "idset can hold ({})".format(what, text, number, IDSET_MAX_ID))
    error = idset_error_t()
    if lib.has("idset_decode_ex"):
        try:
            # size -1: sized to the largest id up front, which makes the
            # decode ~3x faster and iteration ~5x faster than growing from
            # a default size (idset_decode's choice)
            return lib.idset_decode_ex(data, len(data), -1, IDSET_FLAG_AUTOGROW,
                                       ctypes.byref(error))
        except OSError as exc:
            reason = error.text.decode("utf-8", "replace") or exc.strerror
    else:  # flux-core before 0.57
        try:
            return lib.idset_decode(data)
        except OSError as exc:
            reason = exc.strerror
    raise ValueError("{}: invalid idset {!r}: {}".format(what, text, reason))


def _from_ids(ids: Iterable, what: str) -> Any:  # type: ignore[type-arg]
    handle = lib.idset_create(0, IDSET_FLAG_AUTOGROW)
    try:
        for value in ids:
            lib.idset_set(handle, _check_id(value, what))
    except BaseException:
        lib.idset_destroy(handle)
        raise
    return handle


class IDset:
    """A set of non-negative integers, read from and written as RFC 22
    idset strings.

    ``arg`` is an idset string (``"0-3,7"``, ``""`` for an empty set), a
    single id, another IDset (copied) or an iterable of ids.  ``flags``
    is how :meth:`encode` and ``str()`` write it by default
    (IDSET_FLAG_RANGE, optionally with IDSET_FLAG_BRACKETS).  ``handle``
    adopts a ``struct idset *`` (a :data:`flux_ctypes.lib.idset_t`),
    which the new object destroys.
    """

    __slots__ = ("handle", "default_flags", "__weakref__")

    def __init__(self, arg: IDsetArg = "", flags: int = IDSET_FLAG_RANGE,
                 handle: Any = None) -> None:
        if handle is None:
            handle = self._create(arg)
        elif not isinstance(handle, idset_t) or not handle:
            raise TypeError("IDset(handle=): expected a non-NULL struct idset pointer, "
                            "got {!r}".format(handle))
        self.handle = handle
        own(self, lib.idset_destroy, handle)
        self.default_flags = self._check_flags(flags, "IDset(flags)")

    @staticmethod
    def _create(arg: Any) -> Any:
        if isinstance(arg, str):
            return _decode(arg, "IDset(arg)")
        if isinstance(arg, IDset):
            return lib.idset_copy(arg.handle)
        if isinstance(arg, numbers.Integral) and not isinstance(arg, bool):
            return _from_ids((arg,), "IDset(arg)")
        if isinstance(arg, Iterable) and not isinstance(arg, (bytes, bytearray)):
            return _from_ids(arg, "IDset(arg)")
        raise TypeError("IDset(arg): expected an idset string, an id or an iterable "
                        "of ids, got {}".format(type(arg).__name__))

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
        return take_string(lib.idset_encode(self.handle, flags))

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return "IDset('{}')".format(self.encode(IDSET_FLAG_RANGE))

    # --- members ------------------------------------------------------------
    def __len__(self) -> int:
        return int(lib.idset_count(self.handle))

    def count(self) -> int:
        """The number of ids in the set."""
        return int(lib.idset_count(self.handle))

    def test(self, i: int) -> bool:
        """True when id ``i`` is in the set."""
        if isinstance(i, numbers.Integral) and not isinstance(i, bool) and i > IDSET_MAX_ID:
            return False  # beyond any idset, so in none
        return bool(lib.idset_test(self.handle, _check_id(i, "IDset.test(i)")))

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
        """The ids in increasing order, as they are now (a snapshot).

        One idset_encode() and Python's own range() over its runs: a C
        call per id (idset_next) is ten times slower on large sets."""
        for run in self.encode(IDSET_FLAG_RANGE).split(","):
            if not run:
                continue  # the empty set
            first, _, last = run.partition("-")
            yield from range(int(first), int(last or first) + 1)

    def expand(self) -> List[int]:
        """The ids in increasing order, as a list."""
        return list(self)

    def first(self) -> int:
        """The smallest id, or IDSET_INVALID_ID when the set is empty."""
        return int(lib.idset_first(self.handle))

    def last(self) -> int:
        """The largest id, or IDSET_INVALID_ID when the set is empty."""
        return int(lib.idset_last(self.handle))

    def next(self, i: int) -> int:
        """The smallest id greater than ``i``, or IDSET_INVALID_ID."""
        if isinstance(i, numbers.Integral) and not isinstance(i, bool) and i > IDSET_MAX_ID:
            return IDSET_INVALID_ID
        return int(lib.idset_next(self.handle, _check_id(i, "IDset.next(i)")))

    # --- changing it ----------------------------------------------------------
    def set(self, start: int, end: Optional[int] = None) -> "IDset":
        """Add id ``start``, or the ids ``start`` through ``end``; returns self."""
        return self._change(start, end, "set", lib.idset_set, lib.idset_range_set)

    def clear(self, start: int, end: Optional[int] = None) -> "IDset":
        """Remove id ``start``, or ids ``start`` through ``end``; returns self."""
        return self._change(start, end, "clear", lib.idset_clear, lib.idset_range_clear)

    def _change(self, start: Any, end: Any, name: str, one: Any, many: Any) -> "IDset":
        first = _check_id(start, "IDset.{}(start)".format(name))
        if end is None:
            one(self.handle, first)
            return self
        last = _check_id(end, "IDset.{}(end)".format(name))
        if last < first:
            raise ValueError("IDset.{}: end {} is before start {}".format(name, last, first))
        many(self.handle, first, last)
        return self

    def add(self, arg: IDsetArg) -> "IDset":
        """Add every id of ``arg`` (an IDset, idset string, id or iterable
        of ids) in place; returns self."""
        other = self._other(arg)  # a name keeps a temporary alive through the call
        lib.idset_add(self.handle, other.handle)
        return self

    def subtract(self, arg: IDsetArg) -> "IDset":
        """Remove every id of ``arg`` in place; returns self."""
        other = self._other(arg)
        lib.idset_subtract(self.handle, other.handle)
        return self

    def __iadd__(self, arg: IDsetArg) -> "IDset":
        return self.add(arg)

    def __isub__(self, arg: IDsetArg) -> "IDset":
        return self.subtract(arg)

    def copy(self) -> "IDset":
        """An independent copy (with the same default flags)."""
        return IDset(handle=lib.idset_copy(self.handle), flags=self.default_flags)

    # --- set algebra: new sets --------------------------------------------------
    def _combine(self, func: Any, args: Any, name: str) -> "IDset":
        result = self.copy()
        for arg in args:
            other = self._other(arg)
            result = IDset(handle=func(result.handle, other.handle), flags=self.default_flags)
        return result

    def union(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set or any of ``args``."""
        return self._combine(lib.idset_union, args, "union")

    def intersect(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set and all of ``args``."""
        return self._combine(lib.idset_intersect, args, "intersect")

    def difference(self, *args: IDsetArg) -> "IDset":
        """A new set of the ids in this set and in none of ``args``."""
        return self._combine(lib.idset_difference, args, "difference")

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
        return bool(lib.idset_equal(self.handle, other.handle))

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
