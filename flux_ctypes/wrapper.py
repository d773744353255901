"""``flux.wrapper`` for programs run under :mod:`flux_ctypes.compat`.

The official bindings build every class on a cffi "Wrapper" that looks C
functions up by name.  flux_ctypes has no cffi; what programs reach for here
are the errors (raised by flux_ctypes' own raw layer, so ``except
flux.wrapper.InvalidArguments`` catches them), the base classes (for
``isinstance``), and a :class:`Wrapper` that resolves names to the
prototype table the same way (its ``ffi`` and ``lib`` arguments are
accepted and ignored: the table is the only library).
"""

from typing import Any, Optional, Sequence

from flux_ctypes.lib import (
    CObject,
    InvalidArguments,
    MissingFunctionError,
    RawView,
    WrongNumArguments,
)

__all__ = [
    "Wrapper",
    "WrapperBase",
    "WrapperPimpl",
    "MissingFunctionError",
    "WrongNumArguments",
    "InvalidArguments",
]

#: Every flux_ctypes object wrapping a C object (Flux, Message, Future,
#: watchers) is a WrapperBase, as in the official bindings.
WrapperBase = CObject
WrapperPimpl = CObject


class Wrapper(RawView):
    """Calls the table's functions by name (bare, or with one of
    ``prefixes``), passing ``handle`` first when the function takes a
    pointer of its type first."""

    def __init__(
        self, ffi: Any, lib: Any, handle: Any = None, match: Any = None,
        filter_match: bool = True, prefixes: Sequence[str] = (),
        destructor: Optional[Any] = None,
    ) -> None:
        super().__init__(None, tuple(prefixes) or ("flux_",), strict=False)

