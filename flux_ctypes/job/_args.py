"""Argument checks shared by the job modules."""

import errno
import os
from typing import Any

from flux_ctypes.handle import Flux
from flux_ctypes.rpc import RPC
from flux_ctypes.util import encode_text

__all__ = ["flux_handle_arg", "text_arg", "int_arg", "raise_future_error", "job_error",
           "JobRPC"]


def flux_handle_arg(flux_handle: Any, name: str = "flux_handle") -> Any:
    """The ``flux_t *`` of ``flux_handle``.  None is OSError(EINVAL), as a
    NULL handle is in C; anything but a Flux is a TypeError."""
    if flux_handle is None:
        raise OSError(errno.EINVAL, "{} must not be None".format(name))
    if not isinstance(flux_handle, Flux):
        raise TypeError("{} must be a flux.Flux handle, not {}".format(
            name, type(flux_handle).__name__))
    return flux_handle.handle


def text_arg(value: Any, name: str) -> bytes:
    """``value`` (str or bytes, no NUL) as bytes for a ``const char *``."""
    return encode_text(value, name)


def int_arg(value: Any, name: str, low: int = -(2 ** 31), high: int = 2 ** 31 - 1) -> int:
    """``value`` as a C int in [low, high]: TypeError for a non-integer,
    ValueError out of range, both naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import operator

            value = operator.index(value)
        except TypeError:
            raise TypeError("{} must be an integer, not {}".format(
                name, type(value).__name__)) from None
    if not low <= value <= high:
        raise ValueError("{} must be between {} and {}, not {}".format(name, low, high, value))
    return int(value)


def raise_future_error(future: Any, exc: OSError, jobid: Any = None) -> "Any":
    """Raise ``exc`` again with the future's own error text, as Flux wrote
    it ("job 123 does not exist" rather than the errno's strerror).  Where
    Flux sent none, the message names ``jobid`` (if given)."""
    text = future.error_string()
    raise job_error(OSError(exc.errno, text or exc.strerror), jobid) from None


def job_error(exc: OSError, jobid: Any) -> OSError:
    """``exc`` (an error about job ``jobid``, an int) as a new OSError of the
    same errno whose message names the job when its own is only the
    errno's strerror (as services often send): "No such file or directory:
    job 1234"."""
    strerror = exc.strerror
    if jobid is not None and exc.errno and (
            not strerror or strerror == os.strerror(exc.errno)):
        strerror = "{}: job {}".format(os.strerror(exc.errno), int(jobid))
    return OSError(exc.errno, strerror)


class JobRPC(RPC):
    """An RPC about one job (``jobid``, set by whoever sends it): an error
    the service sends without text names the job (see job_error)."""

    jobid = None  # type: Any

    def get(self) -> Any:
        try:
            return super().get()
        except OSError as exc:
            raise job_error(exc, self.jobid) from None
