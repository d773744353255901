"""``flux.core.inner`` for programs run under :mod:`flux_ctypes.compat`:
the raw C layer, reached the documented way.

- ``raw.flux_xyz(...)`` (or ``raw.xyz(...)``) calls libflux-core's
  ``flux_xyz`` from the prototype table, its arguments checked and
  converted as the table declares them: ``str`` becomes UTF-8, a
  flux_ctypes object its C pointer, ``ffi.NULL`` (None) NULL where C allows
  it.  A bad argument is :class:`flux_ctypes.wrapper.InvalidArguments`,
  never a crash.  ``lib`` is the same object.
- ``ffi.NULL`` is None; ``ffi.errno`` reads and sets the errno that the
  raw layer's calls report; ``ffi.string(b)`` gives bytes back.
"""

import ctypes
from typing import Any

from flux_ctypes.lib import RawView

__all__ = ["ffi", "lib", "raw", "Core"]


class _FFI:
    """The parts of cffi's ``ffi`` object that programs use with ``raw``."""

    NULL = None

    @property
    def errno(self) -> int:
        return ctypes.get_errno()

    @errno.setter
    def errno(self, value: int) -> None:
        ctypes.set_errno(value)

    @staticmethod
    def string(value: Any) -> Any:
        """bytes of a C string result (already bytes here), as cffi's."""
        if isinstance(value, (bytes, str)) or value is None:
            return value
        return ctypes.string_at(value)


ffi = _FFI()


class Core(RawView):
    """Functions prefixed ``flux_`` (or ``FLUX_``), by either name."""

    def __init__(self) -> None:
        super().__init__(None, ("flux_", "FLUX_"))


raw = Core()
lib = raw
