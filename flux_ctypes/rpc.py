"""RPC: a request sent with flux_rpc() and the future of its response(s)."""

from ctypes import byref, c_char_p

from flux_ctypes.constants import FLUX_NODEID_ANY
from flux_ctypes.ffi import args as check
from flux_ctypes.future import (
    COLLECT_EVERY, Future, count_wait, future_error, must_slice, note_wait, sliced_wait,
)
from flux_ctypes.lib import (
    DEAD, DEFERRED, closed_error, destructor, failed, flux_t, lib, own, run_deferred, set_errno,
    unchecked,
)
from flux_ctypes.util import decode_json, encode_payload, encode_topic

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Optional

    from flux_ctypes.handle import Flux

__all__ = ["RPC"]


class RPC(Future):
    """Send ``topic`` with ``payload`` to ``nodeid``; get the response.

    ``payload`` may be None, str, bytes, or anything json.dumps() accepts.
    A streaming RPC (``flags=FLUX_RPC_STREAMING``) yields one response per
    ``get()``; call ``reset()`` to wait for the next, until ENODATA.
    """

    _sliced = True
    _prefixes = ("flux_rpc_", "flux_future_")

    def __init__(
        self,
        flux_handle: "Flux",
        topic: "Any",
        payload: "Any" = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> None:
        hptr = getattr(flux_handle, "_as_parameter_", None)
        if type(hptr) is not flux_t:
            if hptr is DEAD:
                raise closed_error(flux_handle)
            raise TypeError("flux_handle must be a Flux handle, not {}".format(
                type(flux_handle).__name__))
        # checks that cost next to nothing for the usual values
        if type(nodeid) is not int or not 0 <= nodeid <= 0xFFFFFFFF:
            nodeid = check.uint32(nodeid, "nodeid")
        if type(flags) is not int or not -0x80000000 <= flags <= 0x7FFFFFFF:
            flags = check.c_int_arg(flags, "flags")
        # unchecked: every argument is checked above, as C takes it
        ptr = unchecked.flux_rpc(
            hptr, encode_topic(topic), encode_payload(payload), nodeid, flags)
        err = set_errno(0)
        if not ptr:
            raise failed("flux_rpc", err)
        # Future.__init__(ptr, keepalive=flux_handle, fresh=True), less the
        # checks a pointer fresh from flux_rpc() passes
        self._keepalive = flux_handle
        self._as_parameter_ = ptr
        own(self, destructor("flux_future_destroy"), ptr, flux_handle, True)
        self.flux_handle = flux_handle

    def get_str(self) -> "Optional[str]":
        """The response payload as text (None for an empty response)."""
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        if DEFERRED:
            run_deferred()
        if COLLECT_EVERY:
            count_wait(ptr)
        if not self._waited:
            note_wait(self)
        out = c_char_p()
        try:
            if must_slice(True):
                sliced_wait(ptr, -1.0)
            # else flux_rpc_get() waits itself, as in C
            rc = unchecked.flux_rpc_get(ptr, byref(out))
            err = set_errno(0)
            if rc < 0:
                raise failed("flux_rpc_get", err)
        except OSError as exc:
            raise future_error(ptr, exc) from None
        raw = out.value
        if raw is None:
            return None
        try:  # decode_text(raw), inline
            return raw.decode()
        except UnicodeDecodeError:
            return raw.decode("utf-8", "surrogateescape")

    def get(self) -> "Any":
        """The response payload, JSON-decoded (None for an empty response)."""
        text = self.get_str()
        return None if text is None else decode_json(text)

    def get_matchtag(self) -> int:
        return int(lib.flux_rpc_get_matchtag(self.cptr))

    def get_nodeid(self) -> int:
        return int(lib.flux_rpc_get_nodeid(self.cptr))
