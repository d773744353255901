"""Time left to the current job (or enclosing instance)."""

from ctypes import byref, c_double
from typing import Any, Optional

from flux_ctypes.handle import Flux
from flux_ctypes.lib import flux_error_t, lib
from flux_ctypes.job._args import flux_handle_arg

__all__ = ["timeleft"]


def timeleft(flux_handle: Optional[Any] = None) -> float:
    """Seconds left before the job this process runs in (or the instance
    it is part of) reaches its time limit; ``inf`` when it has none.
    Outside any job: OSError with Flux's explanation."""
    if flux_handle is None:
        flux_handle = Flux()
    hptr = flux_handle_arg(flux_handle)
    error = flux_error_t()
    left = c_double()
    try:
        lib.flux_job_timeleft(hptr, byref(error), byref(left))
    except OSError as exc:
        text = error.text.decode("utf-8", "replace")
        raise OSError(exc.errno, text or exc.strerror) from None
    return left.value
