"""Checking arguments before C sees them.

libev asserts (and the process dies) on a negative file descriptor or timer
value; libflux-core reads past a string's end when it holds a NUL, a
``uint32_t`` silently wraps a negative number, and ctypes' own refusals
come out as ``ctypes.ArgumentError``, which names no parameter.  Every
public entry point therefore checks its arguments with the few validators
here, which raise ``TypeError``, ``ValueError``, ``OverflowError`` or
``OSError`` naming the parameter.

:func:`convert_call` applies the same checks to a call made through the
raw layer (``Flux.__getattr__``, ``flux.core.inner.raw``), from the
table's declared argument types plus, for the parameters libev or
libflux-core would assert on, the domain checks in :data:`DOMAINS`.
"""

import ctypes
import errno
import math
import os
from ctypes import (
    c_bool,
    c_char_p,
    c_double,
    c_int,
    c_size_t,
    c_ssize_t,
    c_uint32,
    c_void_p,
)

from flux_ctypes.ffi.types import (
    continuation_f_arg,
    flux_conf_t,
    flux_future_t,
    flux_match,
    flux_msg_cred,
    flux_msg_handler_t,
    flux_msg_t,
    flux_reactor_t,
    flux_t,
    flux_watcher_t,
    msg_handler_f_arg,
    watcher_f_arg,
)

try:  # signal itself imports enum, for a few ms
    from _signal import NSIG  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - other interpreters
    from signal import NSIG

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

    from flux_ctypes.ffi.record import Fn

INT_MIN = -(2 ** 31)
INT_MAX = 2 ** 31 - 1
UINT32_MAX = 2 ** 32 - 1
SIZE_MAX = 2 ** 63 - 1  # what ctypes and the C side can both represent

OPAQUE = (
    flux_t, flux_msg_t, flux_future_t, flux_reactor_t, flux_watcher_t,
    flux_msg_handler_t, flux_conf_t,
)
C_NAMES = {
    flux_t: "flux_t", flux_msg_t: "flux_msg_t", flux_future_t: "flux_future_t",
    flux_reactor_t: "flux_reactor_t", flux_watcher_t: "flux_watcher_t",
    flux_msg_handler_t: "flux_msg_handler_t", flux_conf_t: "flux_conf_t",
}  # type: Dict[Any, str]


def _tname(value: "Any") -> str:
    return type(value).__name__


# --- scalar validators -------------------------------------------------------
def integer(value: "Any", name: str, lo: int = INT_MIN, hi: int = INT_MAX) -> int:
    """An int in [lo, hi] (a C ``int`` by default)."""
    if not isinstance(value, int):
        index = getattr(value, "__index__", None)
        if index is None or isinstance(value, float):
            raise TypeError("{} must be an integer, not {}".format(name, _tname(value)))
        value = index()
    if not lo <= value <= hi:
        raise OverflowError("{} must be in [{}, {}], not {}".format(name, lo, hi, value))
    return int(value)


def c_int_arg(value: "Any", name: str) -> int:
    return integer(value, name)


def uint32(value: "Any", name: str) -> int:
    """A ``uint32_t``: nodeid, matchtag, rolemask, userid, seq."""
    return integer(value, name, 0, UINT32_MAX)


def number(value: "Any", name: str) -> "Any":
    """A ``double`` that is a number (not NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if not hasattr(value, "__float__") or isinstance(value, (str, bytes, bytearray)):
            raise TypeError("{} must be a number, not {}".format(name, _tname(value)))
        try:
            value = float(value)  # e.g. numpy scalars, Fraction, Decimal
        except (TypeError, ValueError):
            raise TypeError("{} must be a number, not {}".format(name, _tname(value))) from None
    try:
        value = float(value)
    except OverflowError:
        raise OverflowError("{} is too large for a double".format(name)) from None
    if math.isnan(value):
        raise ValueError("{} must not be NaN".format(name))
    return value


def seconds(value: "Any", name: str) -> "Any":
    """A timer's ``after`` or ``repeat``: finite and >= 0 (libev asserts
    on a negative repeat).  Negative values are EINVAL, as flux-core's
    Python bindings report them."""
    value = number(value, name)
    if math.isinf(value):
        raise ValueError("{} must be finite, not {}".format(name, value))
    if value < 0:
        raise OSError(errno.EINVAL, "{} must not be negative ({})".format(name, value))
    return value


def timeout(value: "Any", name: str = "timeout") -> "Any":
    """A future's timeout: negative means none; infinity is none too."""
    value = number(value, name)
    if value < 0 or math.isinf(value):
        return -1.0
    return value


def fd(value: "Any", name: str = "fd") -> "Any":
    """An open file descriptor (libev asserts on a negative one and
    misbehaves on a closed one)."""
    value = integer(value, name, 0, INT_MAX)
    try:
        os.fstat(value)
    except OSError as exc:
        raise OSError(exc.errno, "{}: {} is not an open file descriptor".format(name, value)) from None
    return value


def signum(value: "Any", name: str = "signum") -> int:
    """A signal number libev can watch (it indexes a table by it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("{} must be an integer signal number, not {}".format(name, _tname(value)))
    if not 1 <= value < NSIG:
        raise OSError(errno.EINVAL, "{}: invalid signal number {}".format(name, value))
    return int(value)


def text(value: "Any", name: str, allow_none: bool = False) -> "Optional[bytes]":
    """str or bytes for a ``const char *``: UTF-8, no NUL inside."""
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogateescape")
    elif isinstance(value, bytes):
        data = value
    elif value is None and allow_none:
        return None
    else:
        raise TypeError("{} must be str or bytes, not {}".format(name, _tname(value)))
    if 0 in data:  # an int: b"\0" would cost a TypeError raised and cleared in C
        raise ValueError("{} must not contain a NUL character".format(name))
    return data


def callback(value: "Any", name: str = "callback", allow_none: bool = False) -> "Any":
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError("{} must be callable, not {}".format(name, _tname(value)))
    return value


def instance(value: "Any", cls: "Any", name: str) -> "Any":
    """``value`` is a ``cls`` (a wrapper class) that is not closed."""
    if not isinstance(value, cls):
        raise TypeError("{} must be a {}, not {}".format(name, cls.__name__, _tname(value)))
    return value


FLUX_O_CLONE = 2  # handle.h


def handle_flags(value: "Any", name: str = "flags") -> "Any":
    """flux_open() / flux_flags_set() flags: FLUX_O_CLONE marks a handle
    made by flux_clone(), whose parent libflux-core then follows; set by
    hand it sends C through a NULL parent."""
    value = integer(value, name)
    if value & FLUX_O_CLONE:
        raise ValueError("{}: FLUX_O_CLONE is set by flux_clone() only".format(name))
    return value


# --- the raw layer -----------------------------------------------------------
def _check_none(value: "Any", name: str) -> "Any":
    if value is not None:
        raise TypeError("{} must be None (NULL) through the raw layer".format(name))
    return None


def _nonnull(value: "Any", name: str) -> "Any":
    if value is None:
        raise TypeError("{} must not be None (NULL)".format(name))
    return value


def _aux_name(value: "Any", name: str) -> "Any":
    """An aux key of one's own: libflux-core keeps its own objects (the
    handle's reactor, its message dispatch...) under "flux::" keys, and
    replacing one frees or loses them."""
    data = text(value, name)
    if data is None or data.startswith(b"flux::"):
        raise ValueError("{}: the \"flux::\" aux keys belong to libflux-core".format(name))
    return data


# Parameters libev or libflux-core would assert on, or free, or call: by
# function name, then argument index.
DOMAINS = {
    "flux_open": {1: handle_flags},
    "flux_open_ex": {1: handle_flags},
    "flux_flags_set": {1: handle_flags},
    "flux_flags_unset": {1: handle_flags},
    "flux_fd_watcher_create": {1: fd},
    "flux_timer_watcher_create": {1: seconds, 2: seconds},
    "flux_timer_watcher_reset": {1: seconds, 2: seconds},
    "flux_signal_watcher_create": {1: signum},
    "flux_future_then": {1: timeout, 2: _nonnull},
    "flux_future_wait_for": {1: timeout},
    # a stored result freed with a destructor we'd have to trust
    "flux_future_fulfill": {1: _check_none, 2: _check_none},
    "flux_msg_handler_create": {2: _nonnull},
    # (handle, name, value, destructor): C would call the destructor
    "flux_aux_set": {1: _aux_name, 3: _check_none},
}  # type: Dict[str, Dict[int, Callable[[Any, str], Any]]]

# Functions that write into a ``void *`` buffer they are given.
WRITES = frozenset(("flux_msg_encode", "flux_opt_get"))

# Functions that end a C object's life: through the raw layer they take a
# wrapper only, and close it (so its owner never frees it a second time).
DESTRUCTORS = frozenset((
    "flux_close", "flux_decref", "flux_msg_destroy", "flux_msg_decref",
    "flux_future_destroy", "flux_future_decref", "flux_watcher_destroy",
    "flux_msg_handler_destroy",
))
# Functions that free what the handle owns: never through the raw layer.
REFUSED = {
    "flux_reactor_destroy": "the reactor belongs to its handle",
    "flux_reactor_decref": "the reactor belongs to its handle",
    "flux_matchtag_free": "matchtags belong to the RPCs that allocated them",
    # any pointer at all (a bytes object's buffer...) would be freed
    "free": "the wrappers free what libflux-core gives them to free",
}

_SIZES = (c_size_t, c_ssize_t)
_BUFFER_SIZE_INT = frozenset(("flux_respond_raw",))


class BadCall(TypeError):
    """A raw-layer call refused before C; the message names the argument."""


def _buffer_len(value: "Any") -> "Optional[int]":
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (ctypes.Array, ctypes.Structure, ctypes.Union)):
        return ctypes.sizeof(value)
    return None


def _is_struct_ref(value: "Any", target: "Any") -> bool:
    """``value`` is byref()/pointer() of a ``target`` instance."""
    if isinstance(value, ctypes.POINTER(target)):
        return bool(value)
    obj = getattr(value, "_obj", None)  # a byref() CArgObject
    return type(value).__name__ == "CArgObject" and isinstance(obj, target)


def convert_call(fn: "Fn", args: "Sequence[Any]", unwrap: "Callable[[Any, Any, str], Any]") -> "List[Any]":
    """Check and convert ``args`` for table function ``fn``; raise
    BadCall (a TypeError), ValueError, OverflowError or OSError naming the
    argument.  ``unwrap(value, ctype, name)`` turns a wrapper object into
    the parameter for an opaque pointer type (refusing closed ones)."""
    if fn.name in REFUSED:
        raise BadCall("{}() is not callable through the raw layer: {}".format(
            fn.name, REFUSED[fn.name]))
    argtypes = fn.argtypes
    if len(args) != len(argtypes):
        raise BadCall("{}() takes {} arguments, {} given".format(
            fn.name, len(argtypes), len(args)))
    domains = DOMAINS.get(fn.name, {})
    out = []  # type: List[Any]
    for i, (ctype, value) in enumerate(zip(argtypes, args)):
        name = "{}() argument {}".format(fn.name, i + 1)
        check = domains.get(i)
        if check is not None:
            value = check(value, name)
        out.append(_convert_one(fn, i, ctype, value, name, args, unwrap))
    return out


# the base class of every ctypes function-pointer type
_FUNCPTR = ctypes.CFUNCTYPE(None).__mro__[1]


def is_opaque(ctype: "Any") -> bool:
    """A handle type: a pointer to a structure C keeps to itself (every
    table's, not only the core's), never an output parameter."""
    if ctype in OPAQUE:
        return True
    return (isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer)
            and isinstance(ctype._type_, type) and issubclass(ctype._type_, ctypes.Structure)
            and "_fields_" not in vars(ctype._type_))


def is_destructor(fn: "Fn") -> bool:
    """Whether ``fn`` ends the life of its first argument."""
    return bool(fn.argtypes) and is_opaque(fn.argtypes[0]) and (
        fn.name in DESTRUCTORS or fn.name.endswith(("_destroy", "_decref")))


def c_name(ctype: "Any") -> str:
    return C_NAMES.get(ctype) or getattr(getattr(ctype, "_type_", None), "__name__",
                                         str(ctype)).lstrip("_")


def _int_range(ctype: "Any") -> "Optional[Tuple[int, int]]":
    code = getattr(ctype, "_type_", None)
    if not isinstance(code, str) or code not in "bBhHiIlLqQ":
        return None
    bits = 8 * ctypes.sizeof(ctype)
    if code.isupper():
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _convert_one(
    fn: "Fn", i: int, ctype: "Any", value: "Any", name: str, args: "Sequence[Any]",
    unwrap: "Callable[[Any, Any, str], Any]",
) -> "Any":
    if is_opaque(ctype):
        if isinstance(value, ctype):
            if not value:
                raise BadCall("{} must be a {}, not NULL".format(name, c_name(ctype)))
            return value
        if value is None:
            raise BadCall("{} must be a {}, not None".format(name, c_name(ctype)))
        return unwrap(value, ctype, name)
    if ctype is c_char_p:
        return text(value, name, allow_none=True)
    if ctype is c_int:
        return integer(value, name)
    if ctype is c_uint32:
        return uint32(value, name)
    if ctype is c_bool:
        if not isinstance(value, (bool, int)):
            raise TypeError("{} must be a bool, not {}".format(name, _tname(value)))
        return bool(value)
    if ctype is c_double:
        return number(value, name)
    if ctype in _SIZES:
        return integer(value, name, 0, SIZE_MAX)
    if ctype is c_void_p:
        return _void_arg(fn, i, value, name, args)
    if ctype in (watcher_f_arg, continuation_f_arg, msg_handler_f_arg):
        if value is None:
            return None
        base = ctype.__mro__[1]
        if not isinstance(value, base):
            raise BadCall("{} must be a ctypes {} callback (or None), not {}".format(
                name, base.__name__, _tname(value)))
        return value
    if ctype in (flux_match, flux_msg_cred) or (
            isinstance(ctype, type) and issubclass(ctype, ctypes.Structure)):
        if not isinstance(value, ctype):
            raise BadCall("{} must be a {}, not {}".format(name, ctype.__name__, _tname(value)))
        return value
    if isinstance(ctype, type) and issubclass(ctype, _FUNCPTR):
        # another table's callback type: a ctypes callback of that type;
        # not None, as nothing says C would tolerate NULL there
        if not isinstance(value, ctype):
            raise BadCall("{} must be a ctypes {} callback, not {}".format(
                name, ctype.__name__, _tname(value)))
        return value
    bounds = _int_range(ctype)
    if bounds is not None:
        return integer(value, name, bounds[0], bounds[1])
    if ctype is ctypes.c_float:
        return number(value, name)
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        target = ctype._type_
        # an output parameter: None is given a scratch place to write to
        if value is None:
            return ctypes.byref(target())
        if isinstance(value, target):
            return ctypes.byref(value)
        if _is_struct_ref(value, target):
            return value
        raise BadCall("{} must be byref() of a {} (or None), not {}".format(
            name, target.__name__, _tname(value)))
    raise BadCall("{}: unsupported parameter type {}".format(name, ctype))


def _void_arg(fn: "Fn", i: int, value: "Any", name: str, args: "Sequence[Any]") -> "Any":
    size_index = i + 1
    sized = size_index < len(fn.argtypes) and (
        fn.argtypes[size_index] in _SIZES
        or (fn.name in _BUFFER_SIZE_INT and fn.argtypes[size_index] is c_int))
    if value is None:
        if sized and args[size_index] not in (0, False):
            raise ValueError("{} is NULL but its size is not 0".format(name))
        return None
    length = _buffer_len(value)
    if length is None:
        raise BadCall("{} must be bytes, a ctypes buffer or None, not {} "
                      "(addresses are not taken through the raw layer)".format(name, _tname(value)))
    if isinstance(value, bytes) and fn.name in WRITES:
        raise BadCall("{} is written to: pass ctypes.create_string_buffer(n)".format(name))
    if sized:
        size = args[size_index]
        if isinstance(size, int) and not isinstance(size, bool) and size > length:
            raise ValueError("{}: size {} is larger than the buffer ({} bytes)".format(
                name, size, length))
    return value

# Functions that keep a pointer given as one argument: (index, the C
# function taking a reference for them, the one giving it back if the call
# fails).  flux_future_push() adopts its child's reference;
# flux_set_reactor() keeps the reactor and never gives it back, so the
# reference taken for it is never released (a leak, not a dangling pointer
# once the reactor's owner goes).
ADOPTS = {
    "flux_future_push": (2, "flux_future_incref", "flux_future_decref"),
    "flux_set_reactor": (1, "flux_reactor_incref", "flux_reactor_decref"),
}

# Functions a wrapper has a method for: through the raw layer, given the
# wrapper, they call that method.
ROUTED = {
    "flux_watcher_start": "start", "flux_watcher_stop": "stop",
    "flux_msg_handler_start": "start", "flux_msg_handler_stop": "stop",
    "flux_watcher_ref": "ref", "flux_watcher_unref": "unref",
    "flux_future_set_flux": "set_flux",
}
