"""Messages (``flux_msg_t``) and the watcher that dispatches them."""

import builtins
import ctypes
import errno
import sys
from ctypes import byref, c_char_p, c_int, c_uint32, c_void_p

from flux_ctypes.callbacks import fail
from flux_ctypes.constants import (
    FLUX_MATCHTAG_NONE,
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
)
from flux_ctypes.ffi import args as check
from flux_ctypes.lib import (
    DEAD,
    CObject,
    closed_error,
    flux_t,
    flux_match,
    flux_msg_handler_f,
    flux_msg_handler_t,
    flux_msg_t,
    failed,
    lib,
    set_errno,
    trampoline,
    unchecked,
)
from flux_ctypes.util import decode_json, decode_text, encode_payload, encode_topic
from flux_ctypes.watchers import ACTIVE, Watcher, active

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Optional, Tuple

    from flux_ctypes.handle import Flux

__all__ = ["Message", "MessageWatcher", "msg_typestr"]


_new_object = object.__new__
# Reference counts tell whether a message lent to a callback is still held
# once the callback returns (see _message_cb); where the interpreter has
# none (PyPy), or shares them between threads without a GIL, every such
# message takes its reference, as any other wrapper.
_getrefcount = getattr(sys, "getrefcount", None)
_gil_enabled = getattr(sys, "_is_gil_enabled", None)
if _gil_enabled is not None and not _gil_enabled():  # pragma: no cover
    _getrefcount = None


def msg_typestr(msg_type: int) -> str:
    """"request", "response", "event", "control" (or "unknown")."""
    msg_type = check.c_int_arg(msg_type, "msg_type")
    return (lib.flux_msg_typestr(msg_type) or b"unknown").decode("ascii")


class Message(CObject):
    """A Flux message.

    ``Message(type)`` creates a new one; ``Message(handle=ptr)`` wraps an
    existing ``flux_msg_t *`` (or another Message) and takes a reference of
    its own.  Either way the reference is given back exactly once: by
    ``close()`` (or the end of a ``with`` block), or when the object is
    collected - in whichever thread the garbage collector runs, since a
    message belongs to no handle.
    """

    _ctype = flux_msg_t
    _c_destroy = "flux_msg_decref"
    _c_incref = "flux_msg_incref"
    # True while this wraps a message C lends to a message callback without
    # a reference of its own (see _message_cb): it takes one at once when
    # its pointer is handed out (cptr, handle) or the callback ends with
    # the message still held.
    _lent = False

    def __init__(
        self, type: int = FLUX_MSGTYPE_REQUEST, handle: "Any" = None,
        type_id: "Optional[int]" = None,
    ) -> None:
        if type_id is not None:  # the official bindings' keyword
            type = type_id
        if handle is None:
            if builtins.type(type) is not int or not -0x80000000 <= type <= 0x7FFFFFFF:
                type = check.c_int_arg(type, "type")
            ptr = unchecked.flux_msg_create(type)  # checked just above
            err = set_errno(0)
            if not ptr:
                raise failed("flux_msg_create", err)
        elif isinstance(handle, Message):
            ptr = lib.flux_msg_incref(handle._ptr())
        elif isinstance(handle, flux_msg_t) and handle:
            ptr = lib.flux_msg_incref(handle)
        else:
            raise TypeError("handle must be a non-NULL flux_msg_t pointer or a Message")
        self._own(ptr)

    def _ptr(self) -> "Any":
        # self.cptr without the property machinery, for the accessors below
        # (a lent pointer is valid for as long as they use it)
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        return ptr

    def _keep(self) -> None:
        """A lent message takes its own reference: from now on it is
        given back like any other (close(), or when collected)."""
        self._lent = False
        ptr = self._as_parameter_
        if ptr is not DEAD:
            self._own(unchecked.flux_msg_incref(ptr))

    @property
    def cptr(self) -> "Any":
        """The C pointer; ClosedError once the object is closed."""
        if self._lent:
            self._keep()  # the pointer may be given to other wrappers
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        return ptr

    def _get_handle(self) -> "Any":
        if self._lent:
            self._keep()  # the pointer may be assigned to another wrapper
        ptr = self._as_parameter_
        return None if ptr is DEAD else ptr

    handle = property(  # CObject's, with the getter above
        _get_handle, CObject.handle.fset, doc=CObject.handle.__doc__,  # type: ignore[attr-defined]
    )

    def close(self) -> None:
        """Give back the C reference now (idempotent); a lent message
        has none to give back, and is closed all the same."""
        if self._lent:
            self._lent = False
        CObject.close(self)

    @classmethod
    def _borrow(cls, ptr: "Any") -> "Message":
        """Wrap a non-NULL message C lends us, taking a reference of its
        own."""
        msg = cls.__new__(cls)
        msg._own(unchecked.flux_msg_incref(ptr))
        return msg

    @classmethod
    def _adopt(cls, ptr: "Any") -> "Message":
        """Wrap a message whose reference the caller hands over."""
        msg = cls.__new__(cls)
        msg._own(ptr)
        return msg

    @classmethod
    def from_event_encode(cls, topic: "Any", payload: "Any" = None) -> "Message":
        ptr = unchecked.flux_event_encode(encode_topic(topic), encode_payload(payload))
        err = set_errno(0)
        if not ptr:
            raise failed("flux_event_encode", err)
        return cls._adopt(ptr)

    # -- header ------------------------------------------------------------
    @property
    def type(self) -> int:
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        value = c_int()
        rc = unchecked.flux_msg_get_type(ptr, byref(value))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_msg_get_type", err)
        return value.value

    @type.setter
    def type(self, value: int) -> None:
        lib.flux_msg_set_type(self._ptr(), check.c_int_arg(value, "type"))

    @property
    def type_str(self) -> str:
        return msg_typestr(self.type)

    @property
    def topic(self) -> str:
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        # (a c_char_p * 1 array would save CPython ~60 ns, and cost PyPy
        # 3 us: its argtypes conversion of an array takes a slow path)
        out = c_char_p()
        rc = unchecked.flux_msg_get_topic(ptr, byref(out))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_msg_get_topic", err)
        raw = out.value
        if not raw:
            return ""
        try:  # decode_text(raw), inline
            return raw.decode()
        except UnicodeDecodeError:
            return raw.decode("utf-8", "surrogateescape")

    @topic.setter
    def topic(self, value: "Any") -> None:
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        rc = unchecked.flux_msg_set_topic(ptr, encode_topic(value))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_msg_set_topic", err)

    @property
    def userid(self) -> int:
        value = c_uint32()
        lib.flux_msg_get_userid(self._ptr(), byref(value))
        return value.value

    @userid.setter
    def userid(self, value: int) -> None:
        lib.flux_msg_set_userid(self._ptr(), check.uint32(value, "userid"))

    @property
    def rolemask(self) -> int:
        value = c_uint32()
        lib.flux_msg_get_rolemask(self._ptr(), byref(value))
        return value.value

    @rolemask.setter
    def rolemask(self, value: int) -> None:
        lib.flux_msg_set_rolemask(self._ptr(), check.uint32(value, "rolemask"))

    # -- payload -------------------------------------------------------------
    def _get_payload_str(self) -> "Optional[str]":
        # flux_msg_get_string() itself gives NULL for a message without
        # payload (every flux-core since 0.50 at least), so no has_payload().
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        # (a c_char_p * 1 array would save CPython ~60 ns, and cost PyPy
        # 3 us: its argtypes conversion of an array takes a slow path)
        out = c_char_p()
        rc = unchecked.flux_msg_get_string(ptr, byref(out))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_msg_get_string", err)
        raw = out.value
        if raw is None:
            return None
        try:  # decode_text(raw), inline
            return raw.decode()
        except UnicodeDecodeError:
            return raw.decode("utf-8", "surrogateescape")

    def _set_payload(self, value: "Any") -> None:
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        rc = unchecked.flux_msg_set_string(ptr, encode_payload(value))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_msg_set_string", err)

    payload_str = property(_get_payload_str, _set_payload, doc=(
        "The payload as text, or None when the message has none."))

    def _get_payload(self) -> "Any":
        text = self._get_payload_str()  # a method call, not a second property
        return None if text is None else decode_json(text)

    # Both setters are one function: str and bytes are stored as they are,
    # anything else as JSON.
    payload = property(_get_payload, _set_payload, doc=(
        "The payload, JSON-decoded (None when the message has none)."))

    def decode(self) -> "Tuple[int, str, Optional[str]]":
        """``(type, topic, payload_str or None)``; an error response raises
        OSError with its errno and error text."""
        msgtype = self.type
        topic = c_char_p()
        text = c_char_p()
        if msgtype == FLUX_MSGTYPE_RESPONSE:
            try:
                lib.flux_response_decode(self._ptr(), byref(topic), byref(text))
            except OSError as exc:
                errstr = c_char_p()
                try:
                    lib.flux_response_decode_error(self._ptr(), byref(errstr))
                except OSError:
                    raise exc from None
                raise OSError(exc.errno, decode_text(errstr.value)) from None
        elif msgtype == FLUX_MSGTYPE_EVENT:
            lib.flux_event_decode(self._ptr(), byref(topic), byref(text))
        elif msgtype == FLUX_MSGTYPE_REQUEST:
            lib.flux_request_decode(self._ptr(), byref(topic), byref(text))
        else:
            raise OSError(errno.EPROTO, "cannot decode a {} message".format(msgtype))
        return msgtype, decode_text(topic.value) or "", decode_text(text.value)

    def __repr__(self) -> str:
        if self.closed:
            return "<Message closed>"
        addr = ctypes.cast(self._as_parameter_, c_void_p).value or 0
        return "<Message {} 0x{:x}>".format(self.type_str, addr)


def _message_cb(hptr: "Any", mh: "Any", msgptr: "Any", key: "Optional[int]") -> None:
    """callback(handle, watcher, message, args).

    C lends the message for the call, and holds its own reference until
    the callback returns.  The Message wrapper takes one of its own only
    if it needs it: when its pointer is handed out during the callback
    (Message._keep), or when anything still holds the wrapper once the
    callback is over (a list, a closure, a pending exception's traceback).
    Most callbacks just read the message: then no reference is taken, and
    none is given back."""
    watcher = active(key)
    if watcher is None:
        return
    watcher._running += 1
    msg = _new_object(Message)  # Message.__init__ makes a message
    msg._as_parameter_ = msgptr
    msg._lent = True
    try:
        watcher.callback(  # type: ignore[misc]
            watcher.flux_handle, watcher, msg, watcher.args
        )
    except BaseException as exc:  # nothing may cross back into C
        if msg._lent:
            msg._keep()  # the exception, kept to be re-raised, may show it
        fh = watcher.flux_handle
        if fh.closed:  # closed by the callback: its flux_t lives until we return
            fail(exc, lib.flux_get_reactor(ctypes.cast(hptr, flux_t)))
        else:
            fail(exc, fh.get_reactor())
    finally:
        watcher._running -= 1
        if msg._lent:  # not closed, and its pointer not handed out
            if _getrefcount is not None and _getrefcount(msg) <= _ALONE:
                # only this function holds it: it goes when we return
                msg._lent = False
                msg._as_parameter_ = DEAD
            else:
                msg._keep()
        if watcher._destroy_deferred:
            watcher._after_callback()


def _alone() -> int:
    # What _message_cb's check reads for a wrapper held by nothing but its
    # one local variable: the same statement, on an object of our own.
    msg = _new_object(Message)
    return _getrefcount(msg) if _getrefcount is not None else 0


_ALONE = _alone()


# the trampoline, made once; the message stays typed (it is wrapped)
_on_message = trampoline(
    flux_msg_handler_f, _message_cb, c_void_p, c_void_p, flux_msg_t, c_void_p
)


class MessageWatcher(Watcher):
    """Dispatch messages matching ``type_mask``/``topic_glob``/``match_tag``
    to ``callback(handle, watcher, message, args)``."""

    _ctype = flux_msg_handler_t
    _c_start = "flux_msg_handler_start"
    _c_stop = "flux_msg_handler_stop"
    _c_destroy = "flux_msg_handler_destroy"

    def __init__(
        self,
        flux_handle: "Flux",
        type_mask: int,
        callback: "Callable[..., Any]",
        topic_glob: "Any" = "*",
        match_tag: int = FLUX_MATCHTAG_NONE,
        rolemask: "Optional[int]" = None,
        args: "Any" = None,
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        if topic_glob is not None and not isinstance(topic_glob, (str, bytes)):
            raise TypeError("Topic must be a string, not {}".format(type(topic_glob)))
        glob = check.text(topic_glob, "topic_glob", allow_none=True)
        type_mask = check.c_int_arg(type_mask, "type_mask")
        match_tag = check.uint32(match_tag, "match_tag")
        if rolemask is not None:
            rolemask = check.uint32(rolemask, "rolemask")
        # flux_msg_handler_create() copies the glob, so it need not outlive this call.
        match = flux_match(type_mask, match_tag, glob)
        self._adopt(lib.flux_msg_handler_create(
            flux_handle.cptr, match, _on_message, self._key
        ))
        if rolemask:
            lib.flux_msg_handler_allow_rolemask(self.cptr, rolemask)

    def ref(self) -> "Watcher":
        return self  # message handlers hold no reactor reference of their own

    def unref(self) -> "Watcher":
        return self

    def is_active(self) -> bool:
        return self._key in ACTIVE
