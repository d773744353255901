"""Every table, in one tuple: each C function flux_ctypes calls is declared
exactly once, in the module of the header (or library) that declares it.

A service adds its header's module here; nothing else lists functions."""

from flux_ctypes.ffi.tables import core, hostlist, idset, job, kvs, libc

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Tuple

    from flux_ctypes.ffi.record import Fn

FUNCTIONS = (
    core.FUNCTIONS + job.FUNCTIONS + kvs.FUNCTIONS
    + hostlist.FUNCTIONS + idset.FUNCTIONS + libc.FUNCTIONS
)  # type: Tuple[Fn, ...]
