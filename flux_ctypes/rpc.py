"""RPC: a request sent with flux_rpc() and the future of its response(s)."""

from ctypes import byref, c_char_p
from typing import TYPE_CHECKING, Any, Optional

from flux_ctypes.constants import FLUX_NODEID_ANY
from flux_ctypes.future import Future, _blocking_wait, future_error
from flux_ctypes.lib import lib
from flux_ctypes.util import decode_json, encode_payload, encode_topic

if TYPE_CHECKING:  # pragma: no cover
    from flux_ctypes.handle import Flux

__all__ = ["RPC"]


class RPC(Future):
    """Send ``topic`` with ``payload`` to ``nodeid``; get the response.

    ``payload`` may be None, str, bytes, or anything json.dumps() accepts.
    A streaming RPC (``flags=FLUX_RPC_STREAMING``) yields one response per
    ``get()``; call ``reset()`` to wait for the next, until ENODATA.
    """

    _sliced = True

    def __init__(
        self,
        flux_handle: "Flux",
        topic: Any,
        payload: Any = None,
        nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> None:
        ptr = lib.flux_rpc(
            flux_handle.handle, encode_topic(topic), encode_payload(payload),
            nodeid, flags,
        )
        super().__init__(ptr, keepalive=flux_handle)
        self.flux_handle = flux_handle

    def get_str(self) -> Optional[str]:
        """The response payload as text (None for an empty response)."""
        ptr = self.handle
        out = c_char_p()
        try:
            _blocking_wait(ptr, -1.0, True)
            lib.flux_rpc_get(ptr, byref(out))
        except OSError as exc:
            raise future_error(ptr, exc) from None
        raw = out.value
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    def get(self) -> Any:
        """The response payload, JSON-decoded (None for an empty response)."""
        text = self.get_str()
        return None if text is None else decode_json(text)

    def get_matchtag(self) -> int:
        return int(lib.flux_rpc_get_matchtag(self.handle))

    def get_nodeid(self) -> int:
        return int(lib.flux_rpc_get_nodeid(self.handle))
