"""The records of the floor: :class:`Fn`, one table entry, written with
:func:`fn`; and :class:`LoadedLibrary`, which library was loaded.

They are named tuples, and collections (with operator, keyword and reprlib)
is not cheap to import: this module is imported with the tables, when
:mod:`flux_ctypes.lib` first needs one, not by ``import flux_ctypes``.
"""

from collections import namedtuple

from flux_ctypes.ffi.types import NONE

# typing is for mypy only (see flux_ctypes.lib).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import ctypes
    from typing import Any, NamedTuple, Optional, Sequence, Tuple

    Version = Tuple[int, ...]

    class Fn(NamedTuple):
        """One C function: how to call it, how it reports errors, which library
        has it, and in which flux-core releases."""

        name: str
        restype: Any
        argtypes: Tuple[Any, ...]
        errors: str
        # a C variadic function we call with a fixed extra argument list
        variadic: bool = False
        # which of flux-core's libraries exports it (see lib.SONAMES)
        library: str = "core"
        # the first flux-core release with it, and the first without it
        added: Optional[Version] = None
        removed: Optional[Version] = None
        # works in memory only (no I/O, never waits): called without
        # releasing the GIL (see lib.bind)
        quick: bool = False

    class LoadedLibrary(NamedTuple):
        """Which libflux-core was loaded, from where, and by which rule."""

        cdll: ctypes.CDLL
        path: str
        rule: str
        version: str
        version_tuple: Tuple[int, ...]

else:  # the same records, made without typing (a third of 'import flux_ctypes')
    Fn = namedtuple("Fn", "name restype argtypes errors variadic library added removed quick")
    Fn.__new__.__defaults__ = (False, "core", None, None, False)
    Fn.__doc__ = """One C function: how to call it, how it reports errors, which
    library has it, and in which flux-core releases."""

    LoadedLibrary = namedtuple("LoadedLibrary", "cdll path rule version version_tuple")
    LoadedLibrary.__doc__ = "Which libflux-core was loaded, from where, and by which rule."


def fn(
    name: str, restype: "Any", argtypes: "Sequence[Any]", errors: str = NONE,
    variadic: bool = False, library: str = "core",
    added: "Optional[Version]" = None, removed: "Optional[Version]" = None,
    quick: bool = False,
) -> Fn:
    return Fn(name, restype, tuple(argtypes), errors, variadic, library, added, removed, quick)
