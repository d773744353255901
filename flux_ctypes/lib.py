"""Loading flux-core's libraries and binding the table's functions to them;
the error conventions; and the lifetime of C objects.

Nothing here touches a library at import time.  The first attribute read
from :data:`lib` (``lib.flux_open_ex``) loads ``libflux-core.so.2`` once and
binds that one function from :data:`FUNCTIONS` (declared in
:mod:`flux_ctypes.ffi.tables`, which are imported then); later reads are
plain attribute lookups.  A function the loaded library lacks binds as a
stub that raises :class:`MissingFunctionError` when called, saying in which
release it appeared or left where the table knows, so an older or newer
flux-core still imports and everything it does have keeps working.

The C types are defined in :mod:`flux_ctypes.ffi.types` and re-exported
here, so code above the floor imports them from one place.
"""

import _thread
import ctypes
import errno as _errno
import os
import sys
import weakref
from ctypes import c_char_p, c_void_p

from flux_ctypes.ffi.types import NEG as NEG
from flux_ctypes.ffi.types import NONE as NONE
from flux_ctypes.ffi.types import NULL as NULL
from flux_ctypes.ffi.types import flux_conf_t as flux_conf_t
from flux_ctypes.ffi.types import flux_continuation_f as flux_continuation_f
from flux_ctypes.ffi.types import flux_error_t as flux_error_t
from flux_ctypes.ffi.types import flux_free_f as flux_free_f
from flux_ctypes.ffi.types import flux_future_t as flux_future_t
from flux_ctypes.ffi.types import flux_kvs_txn_t as flux_kvs_txn_t
from flux_ctypes.ffi.types import flux_kvsdir_t as flux_kvsdir_t
from flux_ctypes.ffi.types import flux_kvsitr_t as flux_kvsitr_t
from flux_ctypes.ffi.types import flux_match as flux_match
from flux_ctypes.ffi.types import flux_msg_cred as flux_msg_cred
from flux_ctypes.ffi.types import flux_msg_handler_f as flux_msg_handler_f
from flux_ctypes.ffi.types import flux_msg_handler_t as flux_msg_handler_t
from flux_ctypes.ffi.types import flux_msg_t as flux_msg_t
from flux_ctypes.ffi.types import flux_msgcounters_t as flux_msgcounters_t
from flux_ctypes.ffi.types import flux_reactor_t as flux_reactor_t
from flux_ctypes.ffi.types import flux_t as flux_t
from flux_ctypes.ffi.types import flux_watcher_f as flux_watcher_f
from flux_ctypes.ffi.types import flux_watcher_t as flux_watcher_t
from flux_ctypes.ffi.types import hostlist_t as hostlist_t
from flux_ctypes.ffi.types import idset_error_t as idset_error_t
from flux_ctypes.ffi.types import idset_t as idset_t
from flux_ctypes.ffi.types import trampoline as trampoline

# threading's own Lock, get_ident and local are these: taken from _thread
# (which threading itself needs), since importing threading, with functools
# and collections, would be a sixth of 'import flux_ctypes'.
Lock = _thread.allocate_lock
get_ident = _thread.get_ident
thread_local = _thread._local

# typing is for mypy only: imported at run time (with re, enum, functools
# and collections) it would be a third of 'import flux_ctypes'.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional, Set, Tuple

    from flux_ctypes.ffi.record import Fn as Fn
    from flux_ctypes.ffi.record import LoadedLibrary as LoadedLibrary
    from flux_ctypes.ffi.tables import FUNCTIONS as FUNCTIONS

    TABLE = {}  # type: Dict[str, Fn]

SONAME = "libflux-core.so.2"
# flux-core's other libraries that tables may name (Fn.library); they are
# looked for beside the libflux-core that was loaded, so one installation
# is never mixed with another.
SONAMES = {
    "core": SONAME,
    "hostlist": "libflux-hostlist.so.1",
    "idset": "libflux-idset.so.1",
    # free() for the strings some of them return; never looked for beside
    # libflux-core: it must be the C library the process already uses
    "libc": "libc.so.6",
}
ENV_LIB = "FLUX_CORE_LIB"
ENV_TRACE = "FLUX_CTYPES_TRACE"


class FluxCoreNotFound(OSError):
    """libflux-core could not be loaded.

    The message lists every place that was tried and why it failed, and
    names ``FLUX_CORE_LIB``, the variable that fixes it.  (It is an OSError,
    as ctypes' own load failures are; CPython cannot make one class both an
    OSError and an ImportError, their C layouts conflict.)
    """


class MissingFunctionError(NotImplementedError):
    """The loaded libflux-core does not provide a function we declare."""


# --- error conventions ----------------------------------------------------
def raise_errno(err: "Optional[int]" = None, text: "Optional[str]" = None) -> "Any":
    """Raise OSError for ``err`` (default: the errno ctypes saved last)."""
    if err is None:
        err = ctypes.get_errno()
    raise OSError(err, text or os.strerror(err))


# The two conventions read errno, so it must hold what *this* call set.
# ctypes keeps a private errno copy per thread, swapped into the real errno
# around every call of a use_errno library.  Each checker takes that copy
# and leaves 0 in its place (set_errno returns the old value), so the next
# checked call starts from errno 0; functions with no convention are bound
# from a handle without use_errno, so they never touch the copy.  A failure
# that sets no errno therefore reports none instead of a stale one.
_set_errno = ctypes.set_errno


def _failed(func: "Any", err: int) -> OSError:
    if err:
        return OSError(err, os.strerror(err))
    name = getattr(func, "__name__", "libflux-core call")
    return OSError(0, "{} failed without setting errno".format(name))


def check_null(result: "Any", func: "Any", args: "Any") -> "Any":
    err = _set_errno(0)
    if not result:
        raise _failed(func, err)
    return result


def check_negative(result: int, func: "Any", args: "Any") -> int:
    err = _set_errno(0)
    if result < 0:
        raise _failed(func, err)
    return result


_CHECKERS = {NULL: check_null, NEG: check_negative, NONE: None}

# The tables, and the records they are written in, are imported when first
# needed: by the first function bound, or the first read of one of these
# names (at once on Python 3.6, which has no module __getattr__).  Imported
# with flux_ctypes, they and collections (for the records) would be a fifth
# of its import time.
_LAZY = {
    "FUNCTIONS": "flux_ctypes.ffi.tables",
    "Fn": "flux_ctypes.ffi.record",
    "LoadedLibrary": "flux_ctypes.ffi.record",
}
_table = None  # type: Optional[Dict[str, Fn]]


def table() -> "Dict[str, Fn]":
    """:data:`TABLE`: every table entry by function name."""
    global _table
    found = _table
    if found is None:
        from flux_ctypes.ffi.tables import FUNCTIONS

        found = _table = {fn.name: fn for fn in FUNCTIONS}
    return found


def _lazy_attribute(name: str) -> "Any":
    """``TABLE`` and the names in _LAZY, the first time one is read."""
    if name == "TABLE":
        value = table()  # type: Any
    elif name in _LAZY:
        value = getattr(__import__(_LAZY[name], fromlist=[name]), name)
    else:
        raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
    globals()[name] = value  # later reads find it
    return value


def _names() -> "List[str]":
    """dir() of this module, the names not yet read included."""
    return sorted(set(globals()) | set(_LAZY) | {"TABLE"})


if not TYPE_CHECKING:  # mypy sees the names themselves (above)
    __getattr__ = _lazy_attribute  # PEP 562, Python 3.7+
    __dir__ = _names


# --- loading --------------------------------------------------------------
def parse_version(text: str) -> "Tuple[int, ...]":
    """``"0.88.0-59-g4a5e79f56"`` -> ``(0, 88, 0)``."""
    import re  # here, like the loader's imports below: not at import time

    match = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    if not match:
        return ()
    return tuple(int(part) for part in match.group(1).split("."))


def flux_command() -> "Optional[str]":
    """The ``flux`` command that goes with the library we would load: the
    one beside ``FLUX_CORE_LIB`` when that is set, else the one on PATH."""
    env = os.environ.get(ENV_LIB)
    if env:
        libdir = env if os.path.isdir(env) else os.path.dirname(env)
        beside = os.path.join(os.path.dirname(os.path.abspath(libdir)), "bin", "flux")
        if os.access(beside, os.X_OK):
            return beside
    import shutil

    return shutil.which("flux")


def candidates() -> "List[Tuple[str, str]]":
    """Every (rule, path) to try, in order; see README "Finding libflux-core"."""
    # Imported here, when the library is first needed: ctypes.util and
    # shutil (with subprocess, tempfile, bz2, lzma...) are a third of
    # 'import flux_ctypes' otherwise.
    import ctypes.util
    import shutil

    found = []  # type: List[Tuple[str, str]]
    env = os.environ.get(ENV_LIB)
    if env:
        path = os.path.join(env, SONAME) if os.path.isdir(env) else env
        found.append((ENV_LIB, path))
        # An explicit choice is never silently replaced by another library.
        return found
    flux_cmd = shutil.which("flux")
    if flux_cmd:
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux_cmd)))
        for libdir in ("lib", "lib64"):
            found.append(("flux on PATH", os.path.join(prefix, libdir, SONAME)))
    name = ctypes.util.find_library("flux-core")
    if name:
        found.append(("find_library", name))
    found.append(("soname", SONAME))
    return found


def load_library() -> "LoadedLibrary":
    """Load libflux-core now (or return the one already loaded)."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> "LoadedLibrary":
    tried = []
    for rule, path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("  {} ({}): no such file".format(path, rule))
            continue
        try:
            cdll = ctypes.CDLL(path, use_errno=True)
            version_fn = cdll.flux_core_version_string
        except (OSError, AttributeError) as exc:
            tried.append("  {} ({}): {}".format(path, rule, exc))
            continue
        version_fn.restype = c_char_p
        version_fn.argtypes = []
        version = (version_fn() or b"").decode("ascii", "replace")
        real = _real_path(cdll, path)
        from flux_ctypes.ffi.record import LoadedLibrary

        return LoadedLibrary(cdll, real, rule, version, parse_version(version))
    raise FluxCoreNotFound(
        _errno.ENOENT,
        "libflux-core ({}) could not be loaded. Tried:\n{}\n"
        "Set {} to the library file, or to the directory holding it, "
        "or put the 'flux' command of a flux-core installation on PATH.".format(
            SONAME, "\n".join(tried), ENV_LIB
        ),
    )


def _real_path(cdll: ctypes.CDLL, fallback: str) -> str:
    """The file the dynamic linker actually mapped (for the diagnostic)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libflux-core.so" in line:
                    return line.split(None, 5)[-1].strip()
    except OSError:
        pass
    return fallback


_loaded = None  # type: Optional[LoadedLibrary]
_load_lock = Lock()


# --- binding ---------------------------------------------------------------
def missing_reason(fn: "Fn", loaded: "LoadedLibrary") -> str:
    """Why ``fn`` is absent from ``loaded``, as far as the table knows."""
    have = loaded.version
    if fn.removed is not None and loaded.version_tuple >= fn.removed:
        return "{}: removed in flux-core {}, this library is {}".format(
            fn.name, _dotted(fn.removed), have)
    if fn.added is not None and loaded.version_tuple < fn.added:
        return "{}: added in flux-core {}, this library is {}".format(
            fn.name, _dotted(fn.added), have)
    return "{}() is not provided by the loaded libflux-core {} ({})".format(
        fn.name, have, loaded.path)


def _dotted(version: "Tuple[int, ...]") -> str:
    return ".".join(str(part) for part in version)


def _missing_stub(fn: "Fn", why: str = "") -> "Callable[..., Any]":
    name = fn.name

    def missing(*args: "Any") -> "Any":
        raise MissingFunctionError(why or missing_reason(fn, load_library()))

    missing.__name__ = name
    missing.missing = True  # type: ignore[attr-defined]
    return missing


_companions = {}  # type: Dict[str, Any]


def load_companion(library: str) -> ctypes.CDLL:
    """flux-core's library ``library`` (a key of SONAMES), from the
    directory of the libflux-core that was loaded, else by soname."""
    core = load_library()  # before taking the lock: load_library takes it too
    if library == "core":
        return core.cdll
    with _load_lock:
        cdll = _companions.get(library)
        if cdll is not None:
            return cdll  # type: ignore[no-any-return]
        soname = SONAMES[library]
        beside = os.path.join(os.path.dirname(core.path), soname)
        tried = []
        for path in (beside, soname) if library != "libc" else (soname,):
            try:
                cdll = ctypes.CDLL(path, use_errno=True)
                break
            except OSError as exc:
                tried.append("  {}: {}".format(path, exc))
        else:
            raise FluxCoreNotFound(
                _errno.ENOENT,
                "{} (part of flux-core) could not be loaded. Tried:\n{}".format(
                    soname, "\n".join(tried)))
        _companions[library] = cdll
        return cdll


_plain_cdlls = {}  # type: Dict[str, ctypes.CDLL]


def _plain(library: str, cdll: ctypes.CDLL) -> ctypes.CDLL:
    """The same library, opened without use_errno."""
    plain = _plain_cdlls.get(library)
    if plain is None:
        plain = _plain_cdlls[library] = ctypes.CDLL(cdll._name, use_errno=False)
    return plain


# Quick functions (Fn.quick: memory only, never waiting) are called without
# releasing the GIL: ctypes.PyDLL's calling convention, which saves the
# release and re-acquisition a CDLL call makes (about 440 instructions of a
# 3100-instruction call), the part of ctypes' cost that buys nothing for a
# function that can't block.  CPython only: PyPy's ctypes has its own ways.
_HOLD_GIL = sys.implementation.name == "cpython"
_holding_cdlls = {}  # type: Dict[Tuple[str, bool], ctypes.CDLL]


def _library_for(fn: "Fn") -> ctypes.CDLL:
    """The library object whose functions call ``fn`` as its table says:
    errno kept or not (error convention), the GIL released or not."""
    cdll = load_companion(fn.library)
    use_errno = fn.errors != NONE  # errno unread: without (see check_negative)
    if fn.quick and _HOLD_GIL:
        key = (fn.library, use_errno)
        holding = _holding_cdlls.get(key)
        if holding is None:
            holding = _holding_cdlls[key] = ctypes.PyDLL(cdll._name, use_errno=use_errno)
        return holding
    return cdll if use_errno else _plain(fn.library, cdll)


def _traced(name: str, func: "Callable[..., Any]") -> "Callable[..., Any]":
    def traced(*args: "Any") -> "Any":
        shown = ", ".join(_show(a) for a in args)
        try:
            result = func(*args)
        except Exception as exc:
            sys.stderr.write("flux_ctypes: {}({}) -> raised {!r}\n".format(name, shown, exc))
            raise
        sys.stderr.write("flux_ctypes: {}({}) = {}\n".format(name, shown, _show(result)))
        return result

    traced.__name__ = name
    return traced


# The tracer shows our pointers by their C type names, not ctypes' own
# ("LP__FluxHandle").
_C_NAMES = {
    flux_t: "flux_t",
    flux_msg_t: "flux_msg_t",
    flux_future_t: "flux_future_t",
    flux_reactor_t: "flux_reactor_t",
    flux_watcher_t: "flux_watcher_t",
    flux_msg_handler_t: "flux_msg_handler_t",
    flux_conf_t: "flux_conf_t",
    flux_kvs_txn_t: "flux_kvs_txn_t",
    flux_kvsdir_t: "flux_kvsdir_t",
    flux_kvsitr_t: "flux_kvsitr_t",
    hostlist_t: "struct hostlist *",
    idset_t: "struct idset *",
}  # type: Dict[Any, str]


def _show(value: "Any") -> str:
    if isinstance(value, ctypes._Pointer):
        if not value:
            return "NULL"
        addr = ctypes.cast(value, c_void_p).value or 0
        return "<{} 0x{:x}>".format(_C_NAMES.get(type(value), type(value).__name__), addr)
    return repr(value)


def bind(fn: "Fn") -> "Callable[..., Any]":
    """Bind one table entry to its library."""
    load_library()  # no libflux-core at all: FluxCoreNotFound, unwrapped
    try:
        func = getattr(_library_for(fn), fn.name)
    except (AttributeError, FluxCoreNotFound) as exc:
        # a companion library missing from this installation
        why = str(exc) if isinstance(exc, FluxCoreNotFound) else ""
        stub = _missing_stub(fn, why)
        if os.environ.get(ENV_TRACE, "") not in ("", "0"):
            traced = _traced(fn.name, stub)
            traced.missing = True  # type: ignore[attr-defined]
            return traced
        return stub
    func.restype = fn.restype
    func.argtypes = list(fn.argtypes)
    checker = _CHECKERS[fn.errors]
    if checker is not None:
        func.errcheck = checker
    if os.environ.get(ENV_TRACE, "") not in ("", "0"):
        return _traced(fn.name, func)
    return func  # type: ignore[no-any-return]


class _Functions:
    """``lib.flux_xyz`` binds ``flux_xyz`` from the table on first use."""

    @staticmethod
    def _bind(fn: "Fn") -> "Callable[..., Any]":
        return bind(fn)

    def __getattr__(self, name: str) -> "Any":
        try:
            fn = table()[name]
        except KeyError:
            raise AttributeError(
                "{} is not in flux_ctypes' function table".format(name)
            ) from None
        func = self._bind(fn)
        setattr(self, name, func)  # later lookups skip __getattr__
        return func

    def has(self, name: str) -> bool:
        """True when the loaded library provides table function ``name``."""
        return not getattr(getattr(self, name), "missing", False)


lib = _Functions()  # type: Any


def failed(name: str, err: int) -> OSError:
    """The OSError a checker raises for ``name`` failing with errno ``err``
    (for callers of :data:`unchecked` functions)."""
    if err:
        return OSError(err, os.strerror(err))
    return OSError(0, "{} failed without setting errno".format(name))


# PyPy's JIT compiles a call with declared argtypes into a direct call, and
# takes a slow generic path without them: there, unchecked functions keep
# their argtypes (and drop only the errcheck).
_KEEP_ARGTYPES = sys.implementation.name != "cpython"


def bind_unchecked(fn: "Fn") -> "Callable[..., Any]":
    """``fn`` bound to its own function object with its restype only: no
    argtypes (so no converter call per argument) and no errcheck (no
    Python frame per call).  Traced, it is the checked binding."""
    checked = getattr(lib, fn.name)
    if getattr(checked, "missing", False) or os.environ.get(ENV_TRACE, "") not in ("", "0"):
        return checked  # type: ignore[no-any-return]
    cdll = _library_for(fn)
    func = cdll._FuncPtr((fn.name, cdll))  # a new object: lib's keeps its errcheck
    func.restype = fn.restype
    if _KEEP_ARGTYPES:
        func.argtypes = list(fn.argtypes)
    return func


class _Unchecked(_Functions):
    """``unchecked.flux_xyz``: the table's function for the few calls made
    once per RPC, callback or object, where ctypes' own checks cost as much
    as the C call (a converter call per argument, the errcheck frame).

    The caller passes exactly what C takes, already checked: a pointer of
    the table's type (never a wrapper), bytes or None, an int in range of a
    C int, ``c_double``/``c_void_p`` objects for doubles and pointers given
    as numbers.  It applies the table's error convention itself, clearing
    ctypes' errno copy after every call as the checkers do::

        rc = unchecked.flux_x(ptr)
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_x", err)

    (With FLUX_CTYPES_TRACE set these are the checked, traced bindings,
    which raise themselves.)"""

    @staticmethod
    def _bind(fn: "Fn") -> "Callable[..., Any]":
        return bind_unchecked(fn)


unchecked = _Unchecked()  # type: Any
_CFuncPtr = ctypes._CFuncPtr  # type: ignore[attr-defined]


# What destructor() made, by name, with the function lib had under that
# name then: a wrapper is made thousands of times, and asks each time
# (lib's function may have been replaced since: the tracer, a test's counter).
_destroyers = {}  # type: Dict[str, Tuple[Any, Callable[[Any], None]]]
_lib_bound = vars(lib)  # lib's functions bound (or replaced) so far, by name


def destructor(name: str) -> "Callable[[Any], None]":
    """What releases a wrapper's pointer: lib's ``name``, as its unchecked
    twin when lib's is the binding itself (a wrapper's pointer is always
    of the destructor's type, so the converter call is saved); a
    replacement set on lib (the tracer, a test's counter) is used as is."""
    known = _destroyers.get(name)
    if known is not None and _lib_bound.get(name) is known[0]:
        return known[1]
    func = getattr(lib, name)
    made = getattr(unchecked, name) if isinstance(func, _CFuncPtr) else func
    _destroyers[name] = (func, made)
    return made  # type: ignore[no-any-return]
set_errno = ctypes.set_errno


# --- lifetime: one protocol for every C object ------------------------------
class ClosedError(ValueError):
    """A wrapper whose C object was released (closed, destroyed, or never
    set) was used.  A ValueError, as the official bindings raise for a
    call through a NULL handle."""


class _Dead(ctypes.Structure):
    pass


# What a released wrapper answers as its C parameter (``_as_parameter_``): a
# pointer type no table function declares, so ctypes refuses it before C is
# called.  A cached bound call, a functools.partial, a passthrough or a late
# callback holding the *object* can therefore never reach freed memory.
DEAD = ctypes.POINTER(_Dead)()

_CLOSED_TEXT = (
    "{} is closed (its C object was released). Attempting to call a cached, "
    "bound method that requires a handle with a NULL handle"
)


def closed_error(obj: "Any") -> ClosedError:
    """The error for using ``obj`` after its C object was released."""
    return ClosedError(_CLOSED_TEXT.format(type(obj).__name__))


class _Owned(weakref.ref):  # type: ignore[type-arg]
    """What :func:`own` keeps: a weak reference to a wrapper, with the C
    reference it gives back when the wrapper dies."""

    __slots__ = ("destroy", "ptr", "keepalive", "thread")
    destroy: "Callable[[Any], None]"
    ptr: "Any"
    keepalive: "Any"
    thread: "Optional[int]"
    # By identity, whatever the wrapper (or a user's subclass) defines.
    __hash__ = object.__hash__
    __eq__ = object.__eq__


# A weakref's callback runs only if the weakref is still alive: this set
# holds each one until its wrapper dies.
_OWNED: "Set[_Owned]" = set()

# Releases the garbage collector asked for in another thread than the one
# the C object belongs to: thread ident -> [(destroy, ptr, keepalive)].
DEFERRED: "Dict[int, List[Tuple[Callable[[Any], None], Any, Any]]]" = {}
_deferred_lock = Lock()
_get_ident = get_ident
_local = thread_local()


def _owner_died(ref: "_Owned") -> None:
    try:
        _OWNED.remove(ref)
    except KeyError:  # given back already (closed)
        return
    thread = ref.thread
    if thread is not None and thread != _get_ident() and _alive(thread):
        with _deferred_lock:
            DEFERRED.setdefault(thread, []).append((ref.destroy, ref.ptr, ref.keepalive))
        return
    ref.destroy(ref.ptr)


def _alive(ident: int) -> bool:
    """Whether thread ``ident`` is still running (an ended thread can't be
    using its objects: they are released at once)."""
    import threading  # imported already where threads were started with it

    return any(t.ident == ident for t in threading.enumerate())


def own(
    obj: "Any", destroy: "Callable[[Any], None]", ptr: "Any", keepalive: "Any" = None,
    thread_bound: bool = False,
) -> None:
    """Call ``destroy(ptr)`` exactly once: when ``obj`` is collected, or
    when :func:`disown` is called for it (``close()``); keep ``keepalive``
    (the Flux object under a future) alive until then.

    ``thread_bound``: the C object belongs to the thread making it (a
    future or watcher lives on its handle's reactor, and a ``flux_t`` is
    not thread-safe).  If the garbage collector releases it in another
    thread, the release is queued, and the making thread performs it at its
    next C object (or blocking wait, or reactor run) - see
    :func:`run_deferred`.  A message belongs to no handle and is released
    where it is collected.

    weakref.finalize does the same, plus an at-exit run that C objects
    don't need, at about twice the memory and three times the time; these
    objects are made by the thousand."""
    if DEFERRED:
        run_deferred()
    ref = _Owned(obj, _owner_died)
    ref.destroy = destroy
    ref.ptr = ptr
    ref.keepalive = keepalive
    if thread_bound:
        # this thread's ident, as one int object per thread: a fresh one
        # per call is 32 bytes more for every future
        try:
            ref.thread = _local.ident
        except AttributeError:
            ref.thread = _local.ident = _get_ident()
    else:
        ref.thread = None
    _OWNED.add(ref)


def _owned_elsewhere(ptr: "Any") -> bool:
    """Whether a live wrapper owns a reference on ``ptr`` (a scan: only
    for the rare assignment to ``handle``)."""
    addr = ctypes.cast(ptr, c_void_p).value
    return any(ctypes.cast(ref.ptr, c_void_p).value == addr for ref in list(_OWNED))


_getrefcount = getattr(sys, "getrefcount", None)


def _count_refs(value: "Any") -> int:
    return _getrefcount(value) if _getrefcount is not None else 0


class _Probe:
    # made like Future(ptr): a constructor passing its argument to a function
    def __init__(self, value: "Any") -> None:
        self.count = _count_refs(value)


# The count a temporary object has at that depth; a pointer a wrapper owns
# has two more (the wrapper's attribute and its owned reference).
_FRESH_COUNT = _Probe(object()).count


def owned_by_a_wrapper(ptr: "Any") -> bool:
    """Whether ``ptr`` is the very pointer object a live wrapper owns (as
    its ``handle`` gives it out), so that adopting it would free it twice.

    Call it from a constructor given ``ptr``.  A pointer fresh from a C
    call is referenced only by its caller; one a wrapper owns also by the
    wrapper and by its owned reference.  Where the interpreter counts
    references the count rules most pointers out without a search;
    otherwise (or when it may be owned) the owned references are searched."""
    if _getrefcount is not None and _getrefcount(ptr) < _FRESH_COUNT + 2:
        return False
    return any(ref.ptr is ptr for ref in list(_OWNED))


def _owner_of(ptr: "Any") -> "Any":
    """The live wrapper owning ``ptr`` of the same C type, if any (a scan:
    only for the raw layer's routed calls)."""
    addr = ctypes.cast(ptr, c_void_p).value
    for ref in list(_OWNED):
        obj = ref()
        if (obj is not None and type(ref.ptr) is type(ptr)
                and ctypes.cast(ref.ptr, c_void_p).value == addr):
            return obj
    return None


def release(destroy: "Callable[[Any], None]", ptr: "Any", *keepalive: "Any") -> None:
    """Finalizer body for code that keeps its own weakref.finalize: give
    back ``ptr`` (``keepalive``, an argument of the pending finalizer, is
    what kept those objects alive until now).  The core's wrappers use
    :class:`CObject` instead."""
    destroy(ptr)


def disown(obj: "Any") -> bool:
    """Release ``obj``'s C reference now, in this thread (``close()``);
    False when there was none left to release."""
    for ref in weakref.getweakrefs(obj):
        if type(ref) is _Owned and ref in _OWNED:
            _OWNED.discard(ref)
            ref.destroy(ref.ptr)
            ref.keepalive = None
            return True
    return False


def run_deferred() -> int:
    """Perform the releases queued for this thread (and for threads that
    have ended, whose objects nobody else can be using); return how many."""
    if not DEFERRED:
        return 0
    me = _get_ident()
    with _deferred_lock:
        mine = DEFERRED.pop(me, [])
        if DEFERRED:
            import threading

            alive = {t.ident for t in threading.enumerate()}
            for ident in [i for i in DEFERRED if i not in alive]:
                mine.extend(DEFERRED.pop(ident))
    for destroy, ptr, _keepalive in mine:
        destroy(ptr)
    return len(mine)


def deferred_count() -> int:
    """How many releases wait for their thread (for tests and leak checks)."""
    with _deferred_lock:
        return sum(len(v) for v in DEFERRED.values())


class CObject:
    """What every wrapper of a C object is (llvmlite's ObjectRef).

    - It is its own ctypes argument: ``lib.flux_xyz(obj)`` passes the C
      pointer (``_as_parameter_``).
    - ``closed`` says whether the C reference was given back; ``close()``
      (or the end of a ``with`` block, or the garbage collector) gives it
      back exactly once.
    - Once closed, ``_as_parameter_`` is :data:`DEAD`, which no C function
      accepts, ``cptr`` raises :class:`ClosedError` and ``handle`` is None.
    - ``handle`` is the C pointer itself, as in the official bindings;
      assigning a pointer of the right type adopts it (releasing the old
      one) and assigning None closes.

    Subclasses name their C destructor in ``_c_destroy`` and their pointer
    type in ``_ctype``; ``_own(ptr)`` makes the object own ``ptr``.
    """

    _as_parameter_: "Any" = DEAD
    _ctype: "Any" = None
    _c_incref = ""  # the C function taking one more reference, if any
    _prefixes: "Tuple[str, ...]" = ("flux_",)
    _c_destroy = ""
    # the C object lives on a handle's reactor (see own(thread_bound=...))
    _thread_bound = False

    def _own(self, ptr: "Any", keepalive: "Any" = None) -> None:
        """Own ``ptr`` (one C reference, handed over by the caller)."""
        self._as_parameter_ = ptr
        # destructor(self._c_destroy), without its call once it was made
        name = self._c_destroy
        known = _destroyers.get(name)
        if known is not None and _lib_bound.get(name) is known[0]:
            destroy = known[1]
        else:
            destroy = destructor(name)
        own(self, destroy, ptr, keepalive, self._thread_bound)

    @property
    def closed(self) -> bool:
        """True once the C reference was given back."""
        return self._as_parameter_ is DEAD

    @property
    def cptr(self) -> "Any":
        """The C pointer; ClosedError once the object is closed."""
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        return ptr

    @property
    def handle(self) -> "Any":
        """The C pointer, or None once closed (as in the official bindings;
        passing the object itself, or ``cptr``, to C refuses a closed one
        instead of passing NULL)."""
        ptr = self._as_parameter_
        return None if ptr is DEAD else ptr

    @handle.setter
    def handle(self, value: "Any") -> None:
        if value is None:
            self.close()
            return
        if self._ctype is None or not isinstance(value, self._ctype) or not value:
            raise TypeError(
                "{}.handle: expected a non-NULL {} pointer, not {!r}".format(
                    type(self).__name__, getattr(self._ctype, "__name__", "C"), value))
        keepalive = self._keepalive_for_handle()
        if _owned_elsewhere(value):
            # another wrapper gives this pointer back: share it with a
            # reference of our own rather than free it a second time
            if not self._c_incref:
                raise ValueError("{}.handle: that {} belongs to another wrapper".format(
                    type(self).__name__, getattr(self._ctype, "__name__", "pointer")))
            getattr(lib, self._c_incref)(value)
        self.close()
        self._own(value, keepalive)

    def _keepalive_for_handle(self) -> "Any":
        """What a pointer assigned to ``handle`` keeps alive (the handle
        under a future)."""
        return None

    def close(self) -> None:
        """Give back the C reference now (idempotent)."""
        if self._as_parameter_ is DEAD:
            return
        self._as_parameter_ = DEAD
        disown(self)

    def __enter__(self) -> "Any":
        return self

    def __exit__(self, *exc_info: "Any") -> None:
        self.close()

    def __copy__(self) -> "Any":
        # a copy would hold the pointer without a reference of its own, and
        # use it after the original gave it back
        raise TypeError("{} wraps a C object and can't be copied (Future(f) and "
                        "Flux(handle=h) share one with a reference of their own)".format(
                            type(self).__name__))

    def __deepcopy__(self, memo: "Any") -> "Any":
        return self.__copy__()

    def __reduce_ex__(self, protocol: "Any") -> "Any":
        raise TypeError("{} wraps a C object and can't be pickled".format(type(self).__name__))

    def __repr__(self) -> str:
        ptr = self._as_parameter_
        if ptr is DEAD:
            return "<{} closed>".format(type(self).__name__)
        addr = ctypes.cast(ptr, c_void_p).value or 0
        return "<{} 0x{:x}>".format(type(self).__name__, addr)


def take_string(ptr: "Any", name: str = "encode") -> str:
    """The text of a NUL-terminated string C malloc'd for us, which is
    freed here (``hostlist_encode()``, ``idset_encode()``).  ``ptr`` may
    come from an unchecked call: NULL is C's failure (``name`` failed)."""
    if not ptr:
        raise failed(name, set_errno(0))
    set_errno(0)
    try:
        return ptr.value.decode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
    finally:
        unchecked.free(ptr)


def version() -> str:
    """The loaded library's version text, e.g. ``"0.88.0"``."""
    return load_library().version


def version_tuple() -> "Tuple[int, ...]":
    """The loaded library's version as integers, e.g. ``(0, 88, 0)``."""
    return load_library().version_tuple


# --- the raw layer: table functions called with checked arguments -----------
from flux_ctypes.ffi import args as _args  # noqa: E402  (needs nothing above)
from flux_ctypes.ffi.args import C_NAMES as C_NAMES  # noqa: E402


class InvalidArguments(TypeError, ValueError):
    """A call through the raw layer was refused before C: an argument of
    the wrong type or out of range.  (Both a TypeError and, as in the
    official bindings' ``flux.wrapper``, a ValueError.)"""


class WrongNumArguments(InvalidArguments):
    """A call through the raw layer with the wrong number of arguments."""


class UnknownFunctionError(MissingFunctionError, AttributeError):
    """No libflux-core function of that name is in the table (an
    AttributeError, so ``hasattr()`` says False)."""


def find_function(name: str, prefixes: "Tuple[str, ...]" = ("flux_",)) -> "Optional[Fn]":
    """The table entry called ``name``, or prefix + ``name``."""
    functions = table()
    fn = functions.get(name)
    if fn is None:
        for prefix in prefixes:
            fn = functions.get(prefix + name)
            if fn is not None:
                break
    return fn


def _unwrap(value: "Any", ctype: "Any", name: str) -> "Any":
    if isinstance(value, CObject) and value._ctype is ctype:
        ptr = value._as_parameter_
        if ptr is DEAD:
            raise closed_error(value)
        return ptr
    raise InvalidArguments("{} must be a {}, not {}".format(
        name, _args.c_name(ctype), type(value).__name__))


def raw_call(fn: "Fn", *args: "Any") -> "Any":
    """Call ``fn`` with ``args`` checked and converted as the table says
    (str to UTF-8, wrappers to their pointers, None to NULL where C
    allows it); see :mod:`flux_ctypes.ffi.args`.  A destructor given a
    wrapper closes the wrapper instead (so it is never freed twice)."""
    name = fn.name
    if fn.variadic and name == "flux_log":
        # (h, level, text): the text is logged literally, never a format
        if len(args) != 3:
            raise WrongNumArguments("flux_log() takes 3 arguments through the "
                                    "raw layer (handle, level, text), {} given".format(len(args)))
        args = (args[0], args[1], "%s", args[2])
    if len(args) != len(fn.argtypes):
        raise WrongNumArguments("{}() takes {} arguments, {} given".format(
            name, len(fn.argtypes), len(args)))
    if fn.argtypes and fn.argtypes[0] is flux_future_t and not name.startswith("flux_future_"):
        # flux_rpc_get(), flux_job_*_get()...: C reads the future's result
        # as a response message; a composite's or a FutureExt's is none
        # (it would read whatever the result points to, and crash)
        target = args[0]
        owner = target if isinstance(target, CObject) else (
            _owner_of(target) if isinstance(target, flux_future_t) and target else None)
        if owner is not None and not getattr(owner, "fulfilled_by_message", True):
            raise InvalidArguments(
                "{}() argument 1 must be a future a response fulfils (an RPC's), "
                "not a {}".format(name, type(owner).__name__))
    if name not in _args.REFUSED and _args.is_destructor(fn):
        # a wrapper (or the pointer a wrapper owns) is closed by its wrapper,
        # so it is never freed twice; a pointer no wrapper owns is the
        # caller's to free
        target = args[0]
        if isinstance(target, CObject):
            if target._ctype is not fn.argtypes[0]:
                raise InvalidArguments("{}() argument 1 must be a {}, not {}".format(
                    name, _args.c_name(fn.argtypes[0]), type(target).__name__))
            target.close()
            return None
        if isinstance(target, fn.argtypes[0]) and target:
            owner = _owner_of(target)
            if owner is not None:
                owner.close()
                return None
    try:
        converted = _args.convert_call(fn, args, _unwrap)
    except ClosedError:
        raise
    except OSError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, InvalidArguments):
            raise
        raise InvalidArguments(str(exc)) from None
    method = _args.ROUTED.get(name)
    if method is not None:
        # the wrapper's own method keeps its bookkeeping (registries,
        # libev's one-loop-per-signal rule, an RPC's handle) in step with
        # C, also when it is given the wrapper's pointer (x.handle)
        owner = args[0] if isinstance(args[0], CObject) else _owner_of(args[0])
        if owner is not None:
            return getattr(owner, method)(*args[1:])
    func = getattr(lib, name)
    adopted = _args.ADOPTS.get(name)
    if adopted is not None:
        # C keeps the pointer: give it a reference of its own, so the
        # wrapper still gives back only the one it holds.
        getattr(lib, adopted[1])(converted[adopted[0]])
    try:
        return func(*converted)
    except ctypes.ArgumentError as exc:  # pragma: no cover - caught above
        raise InvalidArguments("{}(): {}".format(name, exc)) from None
    except BaseException:
        if adopted is not None:
            getattr(lib, adopted[2])(converted[adopted[0]])
        raise


class RawView:
    """A C object's functions as methods, the official bindings' ``pimpl``
    (and ``flux.core.inner.raw`` when ``owner`` is None).

    ``view.name(...)`` calls the table's ``name`` or prefix + ``name``,
    passing the owner first when the function takes the owner's pointer
    type first; with ``strict``, a function that does not is refused (the
    owner "masks" it, as in flux.wrapper)."""

    def __init__(self, owner: "Any" = None, prefixes: "Tuple[str, ...]" = ("flux_",),
                 strict: bool = False) -> None:
        self._owner = owner
        self._prefixes = prefixes
        self._strict = strict

    @property
    def handle(self) -> "Any":
        owner = self._owner
        return None if owner is None else owner.handle

    @handle.setter
    def handle(self, value: "Any") -> None:
        if self._owner is None:
            raise AttributeError("the raw layer has no handle")
        self._owner.handle = value

    def __getattr__(self, name: str) -> "Any":
        if name.startswith("__"):
            raise AttributeError(name)
        fn = find_function(name, self._prefixes)
        if fn is None:
            raise UnknownFunctionError(
                "no libflux-core function {} (tried {}) in flux_ctypes' table".format(
                    name, ", ".join([name] + [p + name for p in self._prefixes])))
        import functools  # here: the raw layer is seldom used

        owner = self._owner
        if owner is not None:
            if fn.argtypes and fn.argtypes[0] is owner._ctype:
                return functools.partial(raw_call, fn, owner)
            if self._strict:
                raise AttributeError(
                    "{} wrapper masks function {}: its first parameter is not a {}".format(
                        type(owner).__name__, fn.name, C_NAMES.get(owner._ctype)))
        return functools.partial(raw_call, fn)

    def __enter__(self) -> "RawView":
        return self

    def __exit__(self, *exc_info: "Any") -> None:
        if self._owner is not None:
            self._owner.close()


if sys.version_info < (3, 7):  # pragma: no cover - no module __getattr__ (PEP 562)
    for _name in ("TABLE",) + tuple(_LAZY):
        _lazy_attribute(_name)
