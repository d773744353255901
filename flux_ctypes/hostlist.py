"""RFC 29 hostlists: ``Hostlist("node[0-15],login1")``.

:class:`Hostlist` keeps a ``struct hostlist`` of libflux-hostlist, the
library flux-core itself uses, so parsing, encoding, sorting and
de-duplicating agree with every other Flux tool by construction.  It reads
like the official ``flux.hostlist``: a list of host names that can be
indexed, sliced, iterated and searched, and that prints in compressed
form::

    >>> hl = Hostlist("fluke[0-3],login1")
    >>> len(hl), hl[1], hl[-1]
    (5, 'fluke1', 'login1')
    >>> hl[1:3]
    Hostlist('fluke[1-2]')
    >>> hl.index("fluke[2-3]")
    [2, 3]

Malformed input is a ``ValueError``, a wrong type a ``TypeError``, and a
host that is not there a ``FileNotFoundError`` (``find``, ``index``).
"""

import numbers
import re
from collections.abc import Iterable
from typing import Any, Iterator, List, Union

from flux_ctypes.lib import (
    DEAD, NONE, CObject, bind_unchecked, closed_error, destructor, failed, hostlist_t,
    lib, own, set_errno, table, unchecked,
)

__all__ = ["Hostlist", "decode"]

HostsArg = Union[str, "Hostlist", "Iterable[str]"]


# A number libhostlist reads (a host's numeric suffix, a bound in brackets)
# that is too long for its strtoul: C then drops the host or clamps the
# number without an error, so such input is refused before C sees it.
_HUGE_NUMBER = re.compile(r"[0-9]{20,}(?=$|[,\s\]-])")
_ULONG_MAX = 2 ** 64 - 1
# Searching for it costs more than the rest of Hostlist(str) in Python (a
# regex search is ~4k instructions on a 35-character list).  A run of 20
# digits is cheaper to rule out: the UTF-8 text, with each ASCII digit made
# "0" and every other byte " " (no byte of a multi-byte UTF-8 character is
# a digit), has no run of twenty "0"s.
_DIGITS_AS_0 = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_TWENTY_DIGITS = "0" * 20


def _check_numbers(text: str, what: str) -> None:
    for match in _HUGE_NUMBER.finditer(text):
        if int(match.group()) > _ULONG_MAX:
            raise ValueError("{}: invalid hostlist {!r}: number {} is too large".format(
                what, text, match.group()))


def _c_text(value: Any, what: str) -> bytes:
    """``value`` (a str) as the bytes C receives; a NUL would silently cut
    the string short in C, so it is refused here."""
    if not isinstance(value, str):
        raise TypeError("{}: expected a str, got {}".format(what, type(value).__name__))
    if "\0" in value:
        raise ValueError("{}: {!r} contains a NUL character".format(what, value))
    if len(value) >= 20 and _HUGE_NUMBER.search(value):
        _check_numbers(value, what)
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("{}: {!r} is not encodable as UTF-8 ({})".format(
            what, value, exc.reason)) from None


# The C functions of parse+encode, bound by the first Hostlist (importing
# this module loads no library) and kept here: a module global is the
# cheapest lookup there is, where ``unchecked.x`` passes through its
# namespace's __getattr__ hook (~400 instructions a read, three a parse+encode).
_decode = None  # type: Any
_encode = None  # type: Any
_free = None  # type: Any
# lib.destructor("hostlist_destroy"), and the lib.hostlist_destroy it was
# chosen for (see Hostlist._own)
_destroy = None  # type: Any
_destroy_chosen_for = None  # type: Any


def _bind() -> None:
    """Bind (again) the globals above."""
    global _decode, _encode, _free, _destroy, _destroy_chosen_for
    chosen_for = lib.hostlist_destroy
    _destroy = destructor("hostlist_destroy")
    _destroy_chosen_for = chosen_for  # last: a thread seeing it sees _destroy
    # hostlist_decode's NULL is reported as a malformed list whatever errno
    # says: bound without use_errno, it leaves ctypes' errno copy alone, so
    # nothing needs clearing after it (see lib's error conventions)
    _decode = bind_unchecked(table()["hostlist_decode"]._replace(errors=NONE))
    _encode = unchecked.hostlist_encode
    _free = unchecked.free


class Hostlist(CObject):
    """An ordered list of host names, read from and written as RFC 29
    hostlist strings.

    ``arg`` is a hostlist string (``"foo[1-3],bar"``, or ``""`` for an
    empty list), another Hostlist (copied), or an iterable of hostlist
    strings, appended in order.  ``handle`` adopts a ``struct hostlist *``
    (a :data:`flux_ctypes.lib.hostlist_t`), which the new object destroys.

    Like every flux_ctypes wrapper of a C object (:class:`lib.CObject`),
    it gives its C list back exactly once: when collected, or at
    ``close()`` / the end of a ``with`` block; a closed Hostlist raises
    :class:`~flux_ctypes.lib.ClosedError`.  ``copy.copy()`` and pickling
    work through the text form.
    """

    _ctype = hostlist_t
    _c_destroy = "hostlist_destroy"
    _prefixes = ("hostlist_",)

    def __init__(self, arg: HostsArg = "", handle: Any = None) -> None:
        if handle is None:
            if isinstance(arg, str):
                # the commonest use, one unchecked C call: its argument is
                # bytes, checked as _c_text does (inline for the usual text,
                # _c_text's own checks where it may fail: it raises naming
                # the parameter); NULL is its only failure
                text = None
                if "\0" not in arg:
                    try:
                        text = arg.encode()  # UTF-8, strict
                    except UnicodeEncodeError:
                        pass
                    else:
                        if len(text) >= 20 and (
                                _TWENTY_DIGITS in text.translate(_DIGITS_AS_0).decode()):
                            text = None  # a number perhaps too large for C
                if text is None:
                    text = _c_text(arg, "Hostlist(arg)")
                if _decode is None:
                    _bind()
                try:
                    handle = _decode(text)
                except OSError:  # traced (FLUX_CTYPES_TRACE): the checked binding
                    handle = None
                if not handle:
                    raise ValueError("Hostlist(arg): invalid hostlist {!r}".format(arg))
            else:
                handle = self._create(arg)
        elif not isinstance(handle, hostlist_t) or not handle:
            raise TypeError("Hostlist(handle=): expected a non-NULL struct hostlist "
                            "pointer, got {!r}".format(handle))
        self._own(handle)

    def _own(self, ptr: Any, keepalive: Any = None) -> None:
        # CObject._own, with lib.destructor()'s choice (~2k instructions:
        # two reads through lib's and unchecked's hooks, an isinstance of
        # ctypes' function type) made once, not per Hostlist.  It is made
        # again whenever lib.hostlist_destroy is no longer the function it
        # was made for: a replacement set on lib (the tracer, a test's
        # counter) is still the one called.
        self._as_parameter_ = ptr
        if lib.hostlist_destroy is not _destroy_chosen_for:
            _bind()
        own(self, _destroy, ptr, keepalive, self._thread_bound)

    @staticmethod
    def _create(arg: Any) -> Any:
        if isinstance(arg, Hostlist):
            return lib.hostlist_copy(arg.cptr)
        if isinstance(arg, Iterable) and not isinstance(arg, (bytes, bytearray)):
            handle = lib.hostlist_create()
            try:
                for hosts in arg:
                    if isinstance(hosts, Hostlist):
                        lib.hostlist_append_list(handle, hosts.cptr)
                        continue
                    text = _c_text(hosts, "Hostlist(arg) element")
                    try:
                        lib.hostlist_append(handle, text)
                    except OSError:
                        raise ValueError(
                            "Hostlist(arg): invalid hostlist {!r}".format(hosts)) from None
            except BaseException:
                lib.hostlist_destroy(handle)
                raise
            return handle
        raise TypeError("Hostlist(arg): expected a hostlist string or an iterable "
                        "of them, got {}".format(type(arg).__name__))

    # --- the list of hosts ------------------------------------------------
    def __len__(self) -> int:
        return int(lib.hostlist_count(self.cptr))

    def count(self) -> int:
        """The number of hosts (duplicates included)."""
        return int(lib.hostlist_count(self.cptr))

    def _nth(self, index: int) -> str:
        name = lib.hostlist_nth(self.cptr, index)
        if name is None:  # only if the list changed under us
            raise IndexError("Hostlist index out of range")
        return str(name.decode("utf-8", "surrogateescape"))

    def __getitem__(self, index: Any) -> Any:
        """``hl[i]`` is a host name (negative ``i`` counts from the end);
        ``hl[i:j:k]`` and ``hl[[i, j, ...]]`` (any iterable of integers,
        an IDset for one) are new Hostlists."""
        if isinstance(index, numbers.Integral):
            count = len(self)
            position = int(index)
            if position < 0:
                position += count
            if not 0 <= position < count:
                raise IndexError("Hostlist index {} out of range (length {})".format(
                    int(index), count))
            return self._nth(position)
        if isinstance(index, slice):
            return self._select(range(len(self))[index])
        if isinstance(index, Iterable) and not isinstance(index, (str, bytes)):
            positions = list(index)
            for position in positions:
                if not isinstance(position, numbers.Integral):
                    raise TypeError("Hostlist indices must be integers, got {!r}".format(
                        position))
            return self._select(positions)
        raise TypeError("Hostlist indices must be integers, slices or iterables of "
                        "integers, not {}".format(type(index).__name__))

    def _select(self, positions: Iterable) -> "Hostlist":  # type: ignore[type-arg]
        result = Hostlist()
        for position in positions:
            lib.hostlist_append(result.cptr, _c_text(self[position], "host"))
        return result

    def __iter__(self) -> Iterator[str]:
        # hostlist_nth() is NULL past the end: one C call per host, and a
        # list changed while iterated ends where it now ends.  (Not
        # hostlist_first/next: their cursor is shared by nested loops.)
        nth = lib.hostlist_nth
        position = 0
        while True:
            # the pointer is read again each step: a list closed while
            # iterated is a ClosedError, not a read of freed memory
            name = nth(self.cptr, position)
            if name is None:
                return
            yield name.decode("utf-8", "surrogateescape")
            position += 1

    def expand(self) -> List[str]:
        """The host names, in order, as a list."""
        return list(self)

    def __contains__(self, host: Any) -> bool:
        """``"foo1" in hl``; a non-str is a TypeError."""
        try:
            self.find(host)
        except FileNotFoundError:
            return False
        return True

    def find(self, host: str) -> int:
        """The position of the first ``host`` in the list; FileNotFoundError
        when it is not there."""
        text = _c_text(host, "Hostlist.find(host)")
        try:
            return int(lib.hostlist_find(self.cptr, text))
        except FileNotFoundError:
            raise FileNotFoundError(
                2, "host {!r} not found in hostlist".format(host)) from None
        except OSError:
            # EINVAL: libhostlist can't read ``host`` as a name, yet its
            # decoder may have made such names ("foo[1-2]x[3]" holds
            # "foo1x[3]"): look for it the slow way, so find() and ``in``
            # agree with iteration
            for position, name in enumerate(self):
                if name == host:
                    return position
            raise FileNotFoundError(
                2, "host {!r} not found in hostlist".format(host)) from None

    def index(self, hosts: HostsArg, ignore_nomatch: bool = False) -> List[int]:
        """The position of each host of ``hosts`` (a hostlist string or a
        Hostlist), in the order of ``hosts``.  Hosts not in this list raise
        FileNotFoundError naming them, or are skipped with
        ``ignore_nomatch=True``."""
        if not isinstance(hosts, Hostlist):
            hosts = Hostlist(hosts)
        found = []
        missing = Hostlist()
        for host in hosts:
            try:
                found.append(self.find(host))
            except FileNotFoundError:
                lib.hostlist_append(missing.cptr, _c_text(host, "host"))
        if len(missing) and not ignore_nomatch:
            raise FileNotFoundError(2, "host{} '{}' not found".format(
                "s" if len(missing) > 1 else "", missing))
        return found

    # --- changing it ----------------------------------------------------------
    def append(self, *args: HostsArg) -> int:
        """Append each argument (a hostlist string, Hostlist or iterable of
        hostlist strings); return how many hosts were added."""
        added = 0
        for arg in args:
            if arg is self:
                # C walks the ranges of its second list while adding to
                # its first: the same list never ends (an endless loop)
                other = self.copy()
            else:
                other = arg if isinstance(arg, Hostlist) else Hostlist(arg)
            added += int(lib.hostlist_append_list(self.cptr, other.cptr))
        return added

    def delete(self, hosts: HostsArg) -> int:
        """Delete each host of ``hosts`` (a hostlist string, Hostlist or
        iterable of them) where it first occurs; return how many were
        deleted."""
        if isinstance(hosts, Hostlist):
            text = hosts.encode()
        elif isinstance(hosts, str):
            Hostlist(hosts)  # a malformed one is a ValueError, not a no-op
            text = hosts
        else:
            text = Hostlist(hosts).encode()
        return int(lib.hostlist_delete(self.cptr, _c_text(text, "Hostlist.delete(hosts)")))

    def sort(self) -> "Hostlist":
        """Sort in place (by prefix, then numerically); returns self."""
        lib.hostlist_sort(self.cptr)
        return self

    def uniq(self) -> "Hostlist":
        """Sort in place and drop duplicates; returns self."""
        lib.hostlist_uniq(self.cptr)
        return self

    def copy(self) -> "Hostlist":
        """An independent copy."""
        return Hostlist(handle=lib.hostlist_copy(self.cptr))

    # --- text ---------------------------------------------------------------
    def encode(self) -> str:
        """The RFC 29 string, ranges in brackets: ``"foo[0-3,7],bar"``."""
        ptr = self._as_parameter_  # self.cptr, without the property's frame
        if ptr is DEAD:
            raise closed_error(self)
        if _encode is None:
            _bind()
        # lib.take_string, inline: the malloc'd text copied, then freed
        text = _encode(ptr)
        err = set_errno(0)
        if not text:
            raise failed("hostlist_encode", err)
        try:
            return text.value.decode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
        finally:
            _free(text)

    __str__ = encode

    def __repr__(self) -> str:
        return "Hostlist('{}')".format(self.encode())

    def __eq__(self, other: object) -> bool:
        """The same host names in the same order."""
        if not isinstance(other, Hostlist):
            return NotImplemented
        return self.encode() == other.encode()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __copy__(self) -> "Hostlist":
        return self.copy()

    def __deepcopy__(self, memo: Any) -> "Hostlist":
        return self.copy()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (Hostlist, (self.encode(),))


def decode(arg: HostsArg) -> Hostlist:
    """A Hostlist of ``arg`` (a hostlist string or an iterable of them)."""
    return Hostlist(arg)
