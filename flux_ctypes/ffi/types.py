"""The C types of libflux-core's API as ctypes sees them, and the error
conventions a table entry names (the entry itself is in :mod:`.record`).

Nothing here loads a library.  Each opaque handle is a pointer to its own
empty structure, so passing a message where a future is expected is a
``TypeError`` from our argument checks (or ctypes'), never a segfault.
"""

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_uint32,
    c_void_p,
)
# typing is for mypy only: it is not imported at run time (with what it
# imports, it would be a third of 'import flux_ctypes').
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

# --- opaque handle types --------------------------------------------------


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


class _FluxKvsTxn(Structure):
    pass


class _FluxKvsDir(Structure):
    pass


class _FluxKvsItr(Structure):
    pass


class _Hostlist(Structure):
    """``struct hostlist`` (libflux-hostlist)."""


class _Idset(Structure):
    """``struct idset`` (libflux-idset)."""


flux_t = POINTER(_FluxHandle)
flux_msg_t = POINTER(_FluxMsg)
flux_future_t = POINTER(_FluxFuture)
flux_reactor_t = POINTER(_FluxReactor)
flux_watcher_t = POINTER(_FluxWatcher)
flux_msg_handler_t = POINTER(_FluxMsgHandler)
flux_conf_t = POINTER(_FluxConf)
flux_kvs_txn_t = POINTER(_FluxKvsTxn)
flux_kvsdir_t = POINTER(_FluxKvsDir)
flux_kvsitr_t = POINTER(_FluxKvsItr)
hostlist_t = POINTER(_Hostlist)
idset_t = POINTER(_Idset)


class flux_error_t(Structure):
    """``flux_error_t`` from types.h: a fixed buffer for error text."""

    _fields_ = [("text", c_char * 160)]


class idset_error_t(Structure):
    """``idset_error_t`` from idset.h: a fixed buffer for decode errors."""

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


def trampoline(functype: "Any", func: "Callable[..., None]", *argtypes: "Any") -> "Any":
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


def _nullable(functype: "Any") -> "Any":
    """``functype`` as a parameter type that also accepts None (NULL), as
    C's optional callbacks do; ctypes' own function types refuse None."""

    class Nullable(functype):  # type: ignore[misc]
        _flags_ = functype._flags_
        _restype_ = functype._restype_
        _argtypes_ = functype._argtypes_

        @classmethod
        def from_param(cls, obj: "Any") -> "Any":
            return None if obj is None else functype.from_param(obj)

    Nullable.__name__ = "nullable_" + functype.__name__
    return Nullable


watcher_f_arg = _nullable(flux_watcher_f)
continuation_f_arg = _nullable(flux_continuation_f)
msg_handler_f_arg = _nullable(flux_msg_handler_f)

# We never hand C a destructor, so free functions are declared as plain
# pointers and always passed as None.
flux_free_f = c_void_p



# --- error conventions of table entries ----------------------------------------
NULL = "null"  # a NULL pointer return means failure, errno says why
NEG = "neg"  # a negative int return means failure, errno says why
NONE = "none"  # nothing to check (void, bool, or a value that can't fail)

char_pp = POINTER(c_char_p)
void_pp = POINTER(c_void_p)
int_p = POINTER(c_int)
u32_p = POINTER(c_uint32)
class malloced_str(c_char_p):
    """A string the callee malloc'd and the caller must free().  As a
    restype, a subclass of c_char_p stays a pointer object (c_char_p itself
    would be converted to bytes, losing the address to free); its
    ``value`` copies the text in C, cheaper than ``ctypes.string_at``."""
