"""The C library functions flux-core's API obliges its callers to use:
``free()`` for the strings hostlist_encode() and idset_encode() return."""

from ctypes import c_void_p

from flux_ctypes.ffi.record import fn
from flux_ctypes.ffi.types import NONE

# fmt: off
FUNCTIONS = (
    fn("free", None, [c_void_p], NONE, library="libc", quick=True),
)
# fmt: on
