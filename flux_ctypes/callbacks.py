"""What every C-to-Python callback shares: the registries that turn a C
``void *arg`` back into a Python object, and the per-thread error state.

C never holds a pointer to a Python object.  Each object that C may call
back is entered in a :class:`Registry` under a fresh integer key, and that
integer is the ``void *arg`` C stores.  Keys are never reused, so a late
callback carrying a stale key finds nothing instead of a stranger.
"""

import ctypes
import itertools

from flux_ctypes.lib import flux_reactor_t, lib, thread_local

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, Generic, Iterator, List, Optional, TypeVar

    T = TypeVar("T")
else:
    # Registry is generic for mypy only: typing is not imported at run time
    # (with what it imports, a third of 'import flux_ctypes'), and there
    # Generic[T] is plain object.
    T = None
    Generic = {T: object}

_keys = itertools.count(1)  # shared by all registries: a key names one object
ALL: "List[Registry[Any]]" = []  # every registry, for leak checks

# new_key(): a fresh key for a C ``void *arg``; never 0 (NULL), never
# reused.  The counter's own __next__ (thread-safe in C), so making a key
# costs no Python frame: one is made per then(), awaiter and watcher.
new_key: "Callable[[], int]" = _keys.__next__


class Registry(Generic[T]):
    """Objects C may call back into, by integer key; strong references."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._objects: Dict[Any, T] = {}
        # What the trampolines call: the dict's own get(), no Python frame.
        self.lookup: Callable[[Any], Optional[T]] = self._objects.get
        # remove(key, None): the dict's own pop(), likewise
        self.remove: Callable[[Any, Any], Optional[T]] = self._objects.pop
        # store(key, obj): put() as the dict's own __setitem__, likewise
        self.store: Callable[[Any, T], None] = self._objects.__setitem__
        # count(): len() as the dict's own __len__, likewise
        self.count: Callable[[], int] = self._objects.__len__
        ALL.append(self)

    def add(self, obj: T) -> int:
        key = new_key()
        self._objects[key] = obj
        return key

    def put(self, key: int, obj: T) -> None:
        self._objects[key] = obj

    def get(self, key: "Optional[int]") -> "Optional[T]":
        return self._objects.get(key)

    def discard(self, key: int) -> None:
        self._objects.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> "Iterator[T]":
        return iter(list(self._objects.values()))

    def __repr__(self) -> str:
        return "<Registry {} with {} objects>".format(self.name, len(self))


class ThreadState(thread_local):
    """Per-thread reactor depth and the exception waiting to be re-raised."""

    def __init__(self) -> None:
        self.reactor_depth = 0
        self.exception: Optional[BaseException] = None


state = ThreadState()


def fail(exc: BaseException, reactor: "Any") -> None:
    """A callback raised: keep the exception and stop ``reactor`` with an
    error, so that ``reactor_run()`` or the blocking ``get()`` that is
    running returns and re-raises it.  The first exception wins; later
    ones are usually its consequences."""
    if state.exception is None:
        state.exception = exc
    if reactor:
        if isinstance(reactor, int):  # an address, as trampolines get it
            reactor = ctypes.cast(reactor, flux_reactor_t)
        lib.flux_reactor_stop_error(reactor)


def raise_pending() -> None:
    """Re-raise (and clear) the exception a callback left in this thread."""
    exc = state.exception
    if exc is not None:
        state.exception = None
        raise exc


def registries() -> "Dict[str, int]":
    """How many objects each callback registry holds (for leak checks)."""
    return {reg.name: len(reg) for reg in ALL}


