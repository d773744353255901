"""Finding libflux-core, and the one table of every C function we call.

Nothing here touches the library at import time.  The first attribute read
from :data:`lib` (``lib.flux_open_ex``) loads ``libflux-core.so.2`` once and
binds that one function from :data:`FUNCTIONS`; later reads are plain
attribute lookups.  A function the loaded library lacks binds as a stub that
raises :class:`MissingFunctionError` when called, so an older or newer
flux-core still imports and everything it does have keeps working.
"""

import ctypes
import errno as _errno
import os
import sys
import threading
import weakref
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_size_t,
    c_ssize_t,
    c_uint32,
    c_void_p,
)
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

SONAME = "libflux-core.so.2"
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


# --- opaque handle types --------------------------------------------------
# Each handle is a pointer to its own empty structure, so passing a message
# where a future is expected is a ctypes.ArgumentError, not a segfault.


class _FluxHandle(Structure):
    pass


class _FluxMsg(Structure):
    pass


class _FluxFuture(Structure):
    pass


class _FluxReactor(Structure):
    pass


class _FluxWatcher(Structure):
    pass


class _FluxMsgHandler(Structure):
    pass


class _FluxConf(Structure):
    pass


flux_t = POINTER(_FluxHandle)
flux_msg_t = POINTER(_FluxMsg)
flux_future_t = POINTER(_FluxFuture)
flux_reactor_t = POINTER(_FluxReactor)
flux_watcher_t = POINTER(_FluxWatcher)
flux_msg_handler_t = POINTER(_FluxMsgHandler)
flux_conf_t = POINTER(_FluxConf)


class flux_error_t(Structure):
    """``flux_error_t`` from types.h: a fixed buffer for error text."""

    _fields_ = [("text", c_char * 160)]


class flux_match(Structure):
    """``struct flux_match`` from message.h (passed by value)."""

    _fields_ = [
        ("typemask", c_int),
        ("matchtag", c_uint32),
        ("topic_glob", c_char_p),
    ]


class flux_msg_cred(Structure):
    """``struct flux_msg_cred`` from message.h."""

    _fields_ = [("userid", c_uint32), ("rolemask", c_uint32)]


class flux_msgcounters_t(Structure):
    """``flux_msgcounters_t`` from handle.h."""

    _fields_ = [
        (name, c_int)
        for name in (
            "request_tx",
            "request_rx",
            "response_tx",
            "response_rx",
            "event_tx",
            "event_rx",
            "control_tx",
            "control_rx",
        )
    ]


# --- callback types -------------------------------------------------------
flux_watcher_f = CFUNCTYPE(None, flux_reactor_t, flux_watcher_t, c_int, c_void_p)
flux_continuation_f = CFUNCTYPE(None, flux_future_t, c_void_p)
flux_msg_handler_f = CFUNCTYPE(
    None, flux_t, flux_msg_handler_t, flux_msg_t, c_void_p
)


def trampoline(functype: Any, func: Callable[..., None], *argtypes: Any) -> Any:
    """``func`` as a C callback of type ``functype`` whose arguments reach
    Python as ``argtypes`` instead.

    A ctypes callback builds one Python object per argument per call, and a
    typed pointer (``flux_reactor_t``...) costs far more than the plain int
    that ``c_void_p`` gives.  Trampolines find their Python object by key and
    never hand these pointers back to C, so they take them as c_void_p; the
    C signature is the same, and the result has the table's type, as the
    functions taking it expect (it keeps the callback object alive).
    """
    receive = CFUNCTYPE(functype._restype_, *argtypes)
    return ctypes.cast(receive(func), functype)


def _nullable(functype: Any) -> Any:
    """``functype`` as a parameter type that also accepts None (NULL), as
    C's optional callbacks do; ctypes' own function types refuse None."""

    class Nullable(functype):  # type: ignore[misc]
        _flags_ = functype._flags_
        _restype_ = functype._restype_
        _argtypes_ = functype._argtypes_

        @classmethod
        def from_param(cls, obj: Any) -> Any:
            return None if obj is None else functype.from_param(obj)

    Nullable.__name__ = "nullable_" + functype.__name__
    return Nullable


_watcher_f_arg = _nullable(flux_watcher_f)
_continuation_f_arg = _nullable(flux_continuation_f)
_msg_handler_f_arg = _nullable(flux_msg_handler_f)

# We never hand C a destructor, so free functions are declared as plain
# pointers and always passed as None.
flux_free_f = c_void_p


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


NULL = "null"  # a NULL pointer return means failure, errno says why
NEG = "neg"  # a negative int return means failure, errno says why
NONE = "none"  # nothing to check (void, bool, or a value that can't fail)

_CHECKERS = {NULL: _check_null, NEG: _check_negative, NONE: None}


class Fn(NamedTuple):
    """One libflux-core function: how to call it and how it reports errors."""

    name: str
    restype: Any
    argtypes: Tuple[Any, ...]
    errors: str
    # a C variadic function we call with a fixed extra argument list
    variadic: bool = False


def _fn(
    name: str, restype: Any, argtypes: Sequence[Any], errors: str = NONE,
    variadic: bool = False,
) -> Fn:
    return Fn(name, restype, tuple(argtypes), errors, variadic)


_char_pp = POINTER(c_char_p)
_void_pp = POINTER(c_void_p)
_int_p = POINTER(c_int)
_u32_p = POINTER(c_uint32)

# fmt: off
FUNCTIONS = (
    # version.h
    _fn("flux_core_version_string", c_char_p, []),
    # handle.h
    _fn("flux_open", flux_t, [c_char_p, c_int], NULL),
    _fn("flux_open_ex", flux_t, [c_char_p, c_int, POINTER(flux_error_t)], NULL),
    _fn("flux_close", None, [flux_t]),
    _fn("flux_incref", flux_t, [flux_t]),
    _fn("flux_decref", None, [flux_t]),
    _fn("flux_clone", flux_t, [flux_t], NULL),
    _fn("flux_get_reactor", flux_reactor_t, [flux_t], NULL),
    _fn("flux_set_reactor", c_int, [flux_t, flux_reactor_t], NEG),
    _fn("flux_reconnect", c_int, [flux_t], NEG),
    _fn("flux_opt_set", c_int, [flux_t, c_char_p, c_void_p, c_size_t], NEG),
    _fn("flux_opt_get", c_int, [flux_t, c_char_p, c_void_p, c_size_t], NEG),
    _fn("flux_aux_get", c_void_p, [flux_t, c_char_p]),
    _fn("flux_flags_set", None, [flux_t, c_int]),
    _fn("flux_flags_unset", None, [flux_t, c_int]),
    _fn("flux_flags_get", c_int, [flux_t]),
    _fn("flux_matchtag_alloc", c_uint32, [flux_t]),
    _fn("flux_matchtag_free", None, [flux_t, c_uint32]),
    _fn("flux_matchtag_avail", c_uint32, [flux_t]),
    _fn("flux_send", c_int, [flux_t, flux_msg_t, c_int], NEG),
    _fn("flux_recv", flux_msg_t, [flux_t, flux_match, c_int], NULL),
    _fn("flux_requeue", c_int, [flux_t, flux_msg_t, c_int], NEG),
    _fn("flux_pollevents", c_int, [flux_t], NEG),
    _fn("flux_pollfd", c_int, [flux_t], NEG),
    _fn("flux_get_msgcounters", None, [flux_t, POINTER(flux_msgcounters_t)]),
    _fn("flux_clr_msgcounters", None, [flux_t]),
    _fn("flux_dispatch_requeue", c_int, [flux_t], NEG),
    _fn("flux_get_handle_watcher", flux_watcher_t, [flux_t], NULL),
    # attr.h
    _fn("flux_attr_get", c_char_p, [flux_t, c_char_p], NULL),
    _fn("flux_attr_set", c_int, [flux_t, c_char_p, c_char_p], NEG),
    _fn("flux_attr_set_cacheonly", c_int, [flux_t, c_char_p, c_char_p], NEG),
    _fn("flux_get_rank", c_int, [flux_t, _u32_p], NEG),
    _fn("flux_get_size", c_int, [flux_t, _u32_p], NEG),
    _fn("flux_get_instance_starttime", c_int, [flux_t, POINTER(c_double)], NEG),
    # flog.h: flux_log is variadic; we always call it with the format "%s"
    # and one string, so text with a '%' in it is logged literally.
    _fn("flux_log", c_int, [flux_t, c_int, c_char_p, c_char_p], NEG, variadic=True),
    _fn("flux_log_set_appname", None, [flux_t, c_char_p]),
    _fn("flux_log_set_procid", None, [flux_t, c_char_p]),
    _fn("flux_strerror", c_char_p, [c_int]),
    # message.h
    _fn("flux_match_init", flux_match, [c_int, c_uint32, c_char_p]),
    _fn("flux_msg_create", flux_msg_t, [c_int], NULL),
    _fn("flux_msg_destroy", None, [flux_msg_t]),
    _fn("flux_msg_copy", flux_msg_t, [flux_msg_t, c_bool], NULL),
    _fn("flux_msg_incref", flux_msg_t, [flux_msg_t]),
    _fn("flux_msg_decref", None, [flux_msg_t]),
    _fn("flux_msg_encode_size", c_ssize_t, [flux_msg_t], NEG),
    _fn("flux_msg_encode", c_int, [flux_msg_t, c_void_p, c_size_t], NEG),
    _fn("flux_msg_decode", flux_msg_t, [c_void_p, c_size_t], NULL),
    _fn("flux_msg_set_type", c_int, [flux_msg_t, c_int], NEG),
    _fn("flux_msg_get_type", c_int, [flux_msg_t, _int_p], NEG),
    _fn("flux_msg_set_private", c_int, [flux_msg_t], NEG),
    _fn("flux_msg_is_private", c_bool, [flux_msg_t]),
    _fn("flux_msg_set_streaming", c_int, [flux_msg_t], NEG),
    _fn("flux_msg_is_streaming", c_bool, [flux_msg_t]),
    _fn("flux_msg_set_noresponse", c_int, [flux_msg_t], NEG),
    _fn("flux_msg_is_noresponse", c_bool, [flux_msg_t]),
    _fn("flux_msg_set_topic", c_int, [flux_msg_t, c_char_p], NEG),
    _fn("flux_msg_get_topic", c_int, [flux_msg_t, _char_pp], NEG),
    _fn("flux_msg_get_payload", c_int, [flux_msg_t, _void_pp, POINTER(c_size_t)], NEG),
    _fn("flux_msg_set_payload", c_int, [flux_msg_t, c_void_p, c_size_t], NEG),
    _fn("flux_msg_has_payload", c_bool, [flux_msg_t]),
    _fn("flux_msg_has_flag", c_bool, [flux_msg_t, c_int]),
    _fn("flux_msg_set_flag", c_int, [flux_msg_t, c_int], NEG),
    _fn("flux_msg_clear_flag", c_int, [flux_msg_t, c_int], NEG),
    _fn("flux_msg_set_string", c_int, [flux_msg_t, c_char_p], NEG),
    _fn("flux_msg_get_string", c_int, [flux_msg_t, _char_pp], NEG),
    _fn("flux_msg_last_error", c_char_p, [flux_msg_t]),
    _fn("flux_msg_set_nodeid", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_get_nodeid", c_int, [flux_msg_t, _u32_p], NEG),
    _fn("flux_msg_set_userid", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_get_userid", c_int, [flux_msg_t, _u32_p], NEG),
    _fn("flux_msg_set_rolemask", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_get_rolemask", c_int, [flux_msg_t, _u32_p], NEG),
    _fn("flux_msg_get_cred", c_int, [flux_msg_t, POINTER(flux_msg_cred)], NEG),
    _fn("flux_msg_set_cred", c_int, [flux_msg_t, flux_msg_cred], NEG),
    _fn("flux_msg_authorize", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_is_local", c_bool, [flux_msg_t]),
    _fn("flux_msg_set_errnum", c_int, [flux_msg_t, c_int], NEG),
    _fn("flux_msg_get_errnum", c_int, [flux_msg_t, _int_p], NEG),
    _fn("flux_msg_set_seq", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_get_seq", c_int, [flux_msg_t, _u32_p], NEG),
    _fn("flux_msg_set_matchtag", c_int, [flux_msg_t, c_uint32], NEG),
    _fn("flux_msg_get_matchtag", c_int, [flux_msg_t, _u32_p], NEG),
    _fn("flux_msg_cmp_matchtag", c_bool, [flux_msg_t, c_uint32]),
    _fn("flux_msg_cmp", c_bool, [flux_msg_t, flux_match]),
    _fn("flux_msg_typestr", c_char_p, [c_int]),
    _fn("flux_msg_route_count", c_int, [flux_msg_t], NEG),
    # request.h / response.h
    _fn("flux_request_decode", c_int, [flux_msg_t, _char_pp, _char_pp], NEG),
    _fn("flux_request_decode_raw", c_int,
        [flux_msg_t, _char_pp, _void_pp, POINTER(c_size_t)], NEG),
    _fn("flux_request_encode", flux_msg_t, [c_char_p, c_char_p], NULL),
    _fn("flux_request_encode_raw", flux_msg_t, [c_char_p, c_void_p, c_size_t], NULL),
    _fn("flux_response_decode", c_int, [flux_msg_t, _char_pp, _char_pp], NEG),
    _fn("flux_response_decode_error", c_int, [flux_msg_t, _char_pp], NEG),
    _fn("flux_response_encode", flux_msg_t, [c_char_p, c_char_p], NULL),
    _fn("flux_response_encode_error", flux_msg_t, [c_char_p, c_int, c_char_p], NULL),
    _fn("flux_response_derive", flux_msg_t, [flux_msg_t, c_int], NULL),
    _fn("flux_respond", c_int, [flux_t, flux_msg_t, c_char_p], NEG),
    _fn("flux_respond_raw", c_int, [flux_t, flux_msg_t, c_void_p, c_int], NEG),
    _fn("flux_respond_error", c_int, [flux_t, flux_msg_t, c_int, c_char_p], NEG),
    # event.h
    _fn("flux_event_subscribe", c_int, [flux_t, c_char_p], NEG),
    _fn("flux_event_unsubscribe", c_int, [flux_t, c_char_p], NEG),
    _fn("flux_event_decode", c_int, [flux_msg_t, _char_pp, _char_pp], NEG),
    _fn("flux_event_encode", flux_msg_t, [c_char_p, c_char_p], NULL),
    _fn("flux_event_encode_raw", flux_msg_t, [c_char_p, c_void_p, c_size_t], NULL),
    _fn("flux_event_publish", flux_future_t, [flux_t, c_char_p, c_int, c_char_p], NULL),
    _fn("flux_event_publish_get_seq", c_int, [flux_future_t, _int_p], NEG),
    # rpc.h
    _fn("flux_rpc", flux_future_t, [flux_t, c_char_p, c_char_p, c_uint32, c_int], NULL),
    _fn("flux_rpc_raw", flux_future_t,
        [flux_t, c_char_p, c_void_p, c_size_t, c_uint32, c_int], NULL),
    _fn("flux_rpc_message", flux_future_t, [flux_t, flux_msg_t, c_uint32, c_int], NULL),
    _fn("flux_rpc_get", c_int, [flux_future_t, _char_pp], NEG),
    _fn("flux_rpc_get_raw", c_int, [flux_future_t, _void_pp, POINTER(c_size_t)], NEG),
    _fn("flux_rpc_get_matchtag", c_uint32, [flux_future_t]),
    _fn("flux_rpc_get_nodeid", c_uint32, [flux_future_t]),
    # service.h
    _fn("flux_service_register", flux_future_t, [flux_t, c_char_p], NULL),
    _fn("flux_service_unregister", flux_future_t, [flux_t, c_char_p], NULL),
    # future.h
    _fn("flux_future_then", c_int,
        [flux_future_t, c_double, _continuation_f_arg, c_void_p], NEG),
    _fn("flux_future_wait_for", c_int, [flux_future_t, c_double], NEG),
    _fn("flux_future_is_ready", c_bool, [flux_future_t]),
    _fn("flux_future_reset", None, [flux_future_t]),
    _fn("flux_future_destroy", None, [flux_future_t]),
    _fn("flux_future_create", flux_future_t, [_continuation_f_arg, c_void_p], NULL),
    _fn("flux_future_get", c_int, [flux_future_t, _void_pp], NEG),
    _fn("flux_future_fulfill", None, [flux_future_t, c_void_p, flux_free_f]),
    _fn("flux_future_fulfill_error", None, [flux_future_t, c_int, c_char_p]),
    _fn("flux_future_fulfill_with", c_int, [flux_future_t, flux_future_t], NEG),
    _fn("flux_future_fatal_error", None, [flux_future_t, c_int, c_char_p]),
    _fn("flux_future_has_error", c_bool, [flux_future_t]),
    _fn("flux_future_error_string", c_char_p, [flux_future_t]),
    _fn("flux_future_set_flux", None, [flux_future_t, flux_t]),
    _fn("flux_future_get_flux", flux_t, [flux_future_t]),
    _fn("flux_future_set_reactor", None, [flux_future_t, flux_reactor_t]),
    _fn("flux_future_get_reactor", flux_reactor_t, [flux_future_t]),
    _fn("flux_future_incref", None, [flux_future_t]),
    _fn("flux_future_decref", None, [flux_future_t]),
    _fn("flux_future_wait_all_create", flux_future_t, [], NULL),
    _fn("flux_future_wait_any_create", flux_future_t, [], NULL),
    _fn("flux_future_push", c_int, [flux_future_t, c_char_p, flux_future_t], NEG),
    _fn("flux_future_first_child", c_char_p, [flux_future_t]),
    _fn("flux_future_next_child", c_char_p, [flux_future_t]),
    _fn("flux_future_get_child", flux_future_t, [flux_future_t, c_char_p], NULL),
    # reactor.h
    _fn("flux_reactor_create", flux_reactor_t, [c_int], NULL),
    _fn("flux_reactor_destroy", None, [flux_reactor_t]),
    _fn("flux_reactor_incref", None, [flux_reactor_t]),
    _fn("flux_reactor_decref", None, [flux_reactor_t]),
    _fn("flux_reactor_run", c_int, [flux_reactor_t, c_int], NEG),
    _fn("flux_reactor_stop", None, [flux_reactor_t]),
    _fn("flux_reactor_stop_error", None, [flux_reactor_t]),
    _fn("flux_reactor_now", c_double, [flux_reactor_t]),
    _fn("flux_reactor_now_update", None, [flux_reactor_t]),
    _fn("flux_reactor_time", c_double, []),
    # watcher.h
    _fn("flux_watcher_start", None, [flux_watcher_t]),
    _fn("flux_watcher_stop", None, [flux_watcher_t]),
    _fn("flux_watcher_ref", None, [flux_watcher_t]),
    _fn("flux_watcher_unref", None, [flux_watcher_t]),
    _fn("flux_watcher_destroy", None, [flux_watcher_t]),
    _fn("flux_watcher_next_wakeup", c_double, [flux_watcher_t]),
    _fn("flux_watcher_is_active", c_bool, [flux_watcher_t]),
    _fn("flux_watcher_is_referenced", c_bool, [flux_watcher_t]),
    _fn("flux_handle_watcher_create", flux_watcher_t,
        [flux_reactor_t, flux_t, c_int, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_fd_watcher_create", flux_watcher_t,
        [flux_reactor_t, c_int, c_int, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_fd_watcher_get_fd", c_int, [flux_watcher_t], NEG),
    _fn("flux_timer_watcher_create", flux_watcher_t,
        [flux_reactor_t, c_double, c_double, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_timer_watcher_reset", None, [flux_watcher_t, c_double, c_double]),
    _fn("flux_timer_watcher_again", None, [flux_watcher_t]),
    _fn("flux_prepare_watcher_create", flux_watcher_t,
        [flux_reactor_t, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_check_watcher_create", flux_watcher_t,
        [flux_reactor_t, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_idle_watcher_create", flux_watcher_t,
        [flux_reactor_t, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_signal_watcher_create", flux_watcher_t,
        [flux_reactor_t, c_int, _watcher_f_arg, c_void_p], NULL),
    _fn("flux_signal_watcher_get_signum", c_int, [flux_watcher_t], NEG),
    # msg_handler.h
    _fn("flux_msg_handler_create", flux_msg_handler_t,
        [flux_t, flux_match, _msg_handler_f_arg, c_void_p], NULL),
    _fn("flux_msg_handler_destroy", None, [flux_msg_handler_t]),
    _fn("flux_msg_handler_start", None, [flux_msg_handler_t]),
    _fn("flux_msg_handler_stop", None, [flux_msg_handler_t]),
    _fn("flux_msg_handler_allow_rolemask", None, [flux_msg_handler_t, c_uint32]),
    _fn("flux_msg_handler_deny_rolemask", None, [flux_msg_handler_t, c_uint32]),
    # barrier.h: removed from libflux-core in 0.78 (see Flux.barrier)
    _fn("flux_barrier", flux_future_t, [flux_t, c_char_p, c_int], NULL),
)
# fmt: on

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
def _missing_stub(name: str) -> Callable[..., Any]:
    def missing(*args: Any) -> Any:
        loaded = load_library()
        raise MissingFunctionError(
            "{}() is not provided by the loaded libflux-core {} ({})".format(
                name, loaded.version, loaded.path
            )
        )

    missing.__name__ = name
    missing.missing = True  # type: ignore[attr-defined]
    return missing


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
}  # type: Dict[Any, str]


def _show(value: Any) -> str:
    if isinstance(value, ctypes._Pointer):
        if not value:
            return "NULL"
        addr = ctypes.cast(value, c_void_p).value or 0
        return "<{} 0x{:x}>".format(_C_NAMES.get(type(value), type(value).__name__), addr)
    return repr(value)


def bind(fn: Fn) -> Callable[..., Any]:
    """Bind one table entry to the loaded library."""
    cdll = load_library().cdll
    try:
        func = getattr(cdll, fn.name)
    except AttributeError:
        stub = _missing_stub(fn.name)
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


def version() -> str:
    """The loaded library's version text, e.g. ``"0.88.0"``."""
    return load_library().version


def version_tuple() -> Tuple[int, ...]:
    """The loaded library's version as integers, e.g. ``(0, 88, 0)``."""
    return load_library().version_tuple
