"""Argument checks shared by the job modules."""

import errno
from typing import Any

from flux_ctypes.handle import Flux
from flux_ctypes.util import encode_text

__all__ = ["flux_handle_arg", "text_arg", "int_arg", "raise_future_error"]


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


def raise_future_error(future: Any, exc: OSError) -> "Any":
    """Raise ``exc`` again with the future's own error text, as Flux wrote
    it ("job 123 does not exist" rather than the errno's strerror)."""
    text = future.error_string()
    raise OSError(exc.errno, text or exc.strerror) from None
