"""Loading flux-core's libraries and binding the table's functions to them;
the error conventions; and the lifetime of C objects.

Nothing here touches a library at import time.  The first attribute read
from :data:`lib` (``lib.flux_open_ex``) loads ``libflux-core.so.2`` once and
binds that one function from :data:`FUNCTIONS` (declared in
:mod:`flux_ctypes.ffi.tables`); later reads are plain attribute lookups.  A
function the loaded library lacks binds as a stub that raises
:class:`MissingFunctionError` when called, saying in which release it
appeared or left where the table knows, so an older or newer flux-core
still imports and everything it does have keeps working.

The C types are defined in :mod:`flux_ctypes.ffi.types` and re-exported
here, so code above the floor imports them from one place.
"""

import ctypes
import errno as _errno
import os
import sys
import threading
import weakref
from ctypes import c_char_p, c_void_p
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from flux_ctypes.ffi.tables import FUNCTIONS as FUNCTIONS
from flux_ctypes.ffi.types import NEG as NEG
from flux_ctypes.ffi.types import NONE as NONE
from flux_ctypes.ffi.types import NULL as NULL
from flux_ctypes.ffi.types import Fn as Fn
from flux_ctypes.ffi.types import flux_conf_t as flux_conf_t
from flux_ctypes.ffi.types import flux_continuation_f as flux_continuation_f
from flux_ctypes.ffi.types import flux_error_t as flux_error_t
from flux_ctypes.ffi.types import flux_free_f as flux_free_f
from flux_ctypes.ffi.types import flux_future_t as flux_future_t
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
def raise_errno(err: Optional[int] = None, text: Optional[str] = None) -> "Any":
    """Raise OSError for ``err`` (default: the errno ctypes saved last)."""
    if err is None:
        err = ctypes.get_errno()
    raise OSError(err, text or os.strerror(err))


def _check_null(result: Any, func: Any, args: Any) -> Any:
    if not result:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def _check_negative(result: int, func: Any, args: Any) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


_CHECKERS = {NULL: _check_null, NEG: _check_negative, NONE: None}

TABLE = {fn.name: fn for fn in FUNCTIONS}


# --- loading --------------------------------------------------------------
class LoadedLibrary(NamedTuple):
    """Which libflux-core was loaded, from where, and by which rule."""

    cdll: ctypes.CDLL
    path: str
    rule: str
    version: str
    version_tuple: Tuple[int, ...]


def parse_version(text: str) -> Tuple[int, ...]:
    """``"0.88.0-59-g4a5e79f56"`` -> ``(0, 88, 0)``."""
    import re  # here, like the loader's imports below: not at import time

    match = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    if not match:
        return ()
    return tuple(int(part) for part in match.group(1).split("."))


def flux_command() -> Optional[str]:
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


def candidates() -> List[Tuple[str, str]]:
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


def load_library() -> LoadedLibrary:
    """Load libflux-core now (or return the one already loaded)."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = _load()
        return _loaded


def _load() -> LoadedLibrary:
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
_load_lock = threading.Lock()


# --- binding ---------------------------------------------------------------
def missing_reason(fn: Fn, loaded: "LoadedLibrary") -> str:
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


def _dotted(version: Tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _missing_stub(fn: Fn, why: str = "") -> Callable[..., Any]:
    name = fn.name

    def missing(*args: Any) -> Any:
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


def _traced(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def traced(*args: Any) -> Any:
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
    hostlist_t: "struct hostlist *",
    idset_t: "struct idset *",
}  # type: Dict[Any, str]


def _show(value: Any) -> str:
    if isinstance(value, ctypes._Pointer):
        if not value:
            return "NULL"
        addr = ctypes.cast(value, c_void_p).value or 0
        return "<{} 0x{:x}>".format(_C_NAMES.get(type(value), type(value).__name__), addr)
    return repr(value)


def bind(fn: Fn) -> Callable[..., Any]:
    """Bind one table entry to its library."""
    load_library()  # no libflux-core at all: FluxCoreNotFound, unwrapped
    try:
        cdll = load_companion(fn.library)
        func = getattr(cdll, fn.name)
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

    def __getattr__(self, name: str) -> Any:
        try:
            fn = TABLE[name]
        except KeyError:
            raise AttributeError(
                "{} is not in flux_ctypes' function table".format(name)
            ) from None
        func = bind(fn)
        setattr(self, name, func)  # later lookups skip __getattr__
        return func

    def has(self, name: str) -> bool:
        """True when the loaded library provides table function ``name``."""
        return not getattr(getattr(self, name), "missing", False)


lib = _Functions()  # type: Any


class _Owned(weakref.ref):  # type: ignore[type-arg]
    """What :func:`own` keeps: a weak reference to a wrapper, with the C
    reference it gives back when the wrapper dies."""

    __slots__ = ("destroy", "ptr", "keepalive")
    destroy: Callable[[Any], None]
    ptr: Any
    keepalive: Any
    # By identity, whatever the wrapper (or a user's subclass) defines.
    __hash__ = object.__hash__
    __eq__ = object.__eq__


# A weakref's callback runs only if the weakref is still alive: this set
# holds each one until its wrapper dies.
_OWNED: "Set[_Owned]" = set()


def _owner_died(ref: "_Owned") -> None:
    try:
        _OWNED.remove(ref)
    except KeyError:  # pragma: no cover - given back already
        return
    ref.destroy(ref.ptr)


def own(obj: Any, destroy: Callable[[Any], None], ptr: Any, keepalive: Any = None) -> None:
    """Call ``destroy(ptr)`` exactly once, when ``obj`` is collected, and
    keep ``keepalive`` (the Flux object under a future) alive until then.

    weakref.finalize does the same, plus an at-exit run that futures and
    messages don't need, at about twice the memory (an _Info record, a
    registry entry and an argument tuple per object) and three times the
    time; these objects are made by the thousand.  Flux handles and
    watchers keep weakref.finalize."""
    ref = _Owned(obj, _owner_died)
    ref.destroy = destroy
    ref.ptr = ptr
    ref.keepalive = keepalive
    _OWNED.add(ref)


def release(destroy: Callable[[Any], None], ptr: Any, *keepalive: Any) -> None:
    """Finalizer body: give back ``ptr``.  ``keepalive`` is ignored; being
    an argument of the pending finalizer is what keeps those objects (the
    Flux handle under a future or watcher) alive until this runs."""
    destroy(ptr)


def take_string(ptr: Any) -> str:
    """The text of a NUL-terminated string C malloc'd for us, which is
    freed here (``hostlist_encode()``, ``idset_encode()``)."""
    try:
        return ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
    finally:
        lib.free(ptr)


def version() -> str:
    """The loaded library's version text, e.g. ``"0.88.0"``."""
    return load_library().version


def version_tuple() -> Tuple[int, ...]:
    """The loaded library's version as integers, e.g. ``(0, 88, 0)``."""
    return load_library().version_tuple
