"""Reactor watchers: timers, file descriptors, signals, prepare/check/idle.

Each kind of C callback has one trampoline, a ``CFUNCTYPE`` object made once
here at import.  The ``void *arg`` C stores is an integer key into
``ACTIVE``, which holds every *started* watcher strongly: a started watcher
keeps firing with no user reference (flux-core issue 3973) until it is
stopped or destroyed, and a stopped one is freed like any other object.
"""

import ctypes
import errno
from ctypes import c_int, c_void_p

from flux_ctypes.callbacks import Registry, fail, new_key
from flux_ctypes.constants import FLUX_POLLERR, FLUX_POLLIN, FLUX_POLLOUT
from flux_ctypes.ffi import args as check
from flux_ctypes.lib import (
    DEAD,
    CObject,
    disown,
    flux_reactor_t,
    flux_t,
    flux_watcher_f,
    flux_watcher_t,
    lib,
    trampoline,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional

    from flux_ctypes.handle import Flux

__all__ = [
    "Reactor",
    "Watcher",
    "TimerWatcher",
    "FDWatcher",
    "SignalWatcher",
    "PrepareWatcher",
    "CheckWatcher",
    "IdleWatcher",
]

# Public (not in __all__) for the message watcher, which shares the registry.
ACTIVE: "Registry[Watcher]" = Registry("watchers")
active = ACTIVE.lookup
_active_remove = ACTIVE.remove


class Reactor(CObject):
    """A ``flux_reactor_t`` as ``get_reactor()`` hands it out: a reference
    of its own (flux_reactor_incref), so a reactor kept after its handle
    closed is still a live reactor, never freed memory.  Passed to C as
    itself; equal to another Reactor of the same C reactor."""

    _ctype = flux_reactor_t
    _c_destroy = "flux_reactor_decref"
    _c_incref = "flux_reactor_incref"
    _thread_bound = True

    def __init__(self, ptr: "Any") -> None:
        if not isinstance(ptr, flux_reactor_t) or not ptr:
            raise TypeError("Reactor needs a non-NULL flux_reactor_t pointer")
        lib.flux_reactor_incref(ptr)
        self._own(ptr)

    def now(self) -> float:
        """The reactor's cached notion of the current time."""
        return float(lib.flux_reactor_now(self.cptr))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reactor):
            return _address(self._as_parameter_) == _address(other._as_parameter_)
        if isinstance(other, flux_reactor_t):
            return _address(self._as_parameter_) == _address(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_address(self._as_parameter_))


def reactor_arg(value: "Any", name: str = "reactor") -> "Any":
    """A reactor for C: a Reactor (refused once closed) or a raw non-NULL
    ``flux_reactor_t`` (trusted)."""
    if isinstance(value, Reactor):
        return value.cptr
    if isinstance(value, flux_reactor_t) and value:
        return value
    raise TypeError("{} must be a Reactor from get_reactor(), not {!r}".format(name, value))


def flux_handle_arg(value: "Any", name: str = "flux_handle") -> "Any":
    """``value`` is an open Flux handle (without importing handle.py)."""
    if not isinstance(value, CObject) or value._ctype is not flux_t:
        raise TypeError("{} must be a Flux handle, not {}".format(name, type(value).__name__))
    value.cptr  # ClosedError when closed
    return value


class Watcher(CObject):
    """Base of all watchers: start/stop/ref/unref/destroy, and a context
    manager that starts on entry and stops on exit (as the official
    bindings' watchers do; ``destroy()`` or ``close()`` frees it).

    A watcher is tied to the handle that made it: closing the handle
    destroys its watchers first.  Like a future, a watcher the garbage
    collector releases in another thread than the one that made it is
    destroyed by the making thread (see :func:`flux_ctypes.lib.own`)."""

    _ctype: "Any" = flux_watcher_t
    _c_destroy = "flux_watcher_destroy"
    _thread_bound = True
    # C functions differ for message handlers; subclasses name theirs.
    _c_start = "flux_watcher_start"
    _c_stop = "flux_watcher_stop"

    # libev stops a one-shot timer before calling it back; such a watcher
    # leaves the registry then, and start()/reset() in the callback re-adds it.
    _oneshot = False
    _running = 0  # nesting depth of our callback
    _destroy_deferred = False

    def __init__(
        self, flux_handle: "Flux", callback: "Optional[Callable[..., Any]]",
        args: "Any" = None,
    ) -> None:
        self.flux_handle = flux_handle_arg(flux_handle)
        self.callback = callback
        self.args = args
        self._key = new_key()

    def _adopt(self, ptr: "Any") -> None:
        """Own the C watcher ``ptr``: destroyed exactly once, by destroy()
        or when this object is collected.  The Flux object is kept alive
        with it, so its handle (and reactor) outlive the watcher."""
        self._own(ptr, self.flux_handle)
        self.flux_handle._add_dependent(self)

    def _keepalive_for_handle(self) -> "Any":
        return self.flux_handle

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(self, *exc_info: "Any") -> None:
        self.stop()

    def start(self) -> "Watcher":
        ptr = self.cptr  # ClosedError once destroyed
        ACTIVE.put(self._key, self)
        getattr(lib, self._c_start)(ptr)
        return self

    def stop(self) -> "Watcher":
        ptr = self._as_parameter_
        if ptr is not DEAD:
            getattr(lib, self._c_stop)(ptr)
        ACTIVE.discard(self._key)
        return self

    def ref(self) -> "Watcher":
        if self._as_parameter_ is not DEAD:
            lib.flux_watcher_ref(self._as_parameter_)
        return self

    def unref(self) -> "Watcher":
        if self._as_parameter_ is not DEAD:
            lib.flux_watcher_unref(self._as_parameter_)
        return self

    def is_active(self) -> bool:
        """True while started (needs flux_watcher_is_active, flux-core 0.62+)."""
        if self._as_parameter_ is DEAD:
            return False
        return bool(lib.flux_watcher_is_active(self._as_parameter_))

    def close(self) -> None:
        """Stop and free the C watcher; harmless when already destroyed.
        From inside the watcher's own callback the free waits until the
        callback returns, so C never touches freed memory."""
        if self._as_parameter_ is DEAD:
            return
        self.stop()
        self._as_parameter_ = DEAD
        dependents = getattr(self.flux_handle, "_dependents", None)
        if dependents is not None:
            dependents.discard(self)
        if self._running:
            self._destroy_deferred = True  # the trampoline frees it on return
        else:
            disown(self)

    def destroy(self) -> None:
        """The official name of close()."""
        self.close()

    def _invoke(self, revents: int) -> None:
        """Call the user's callback (fd and signal watchers override)."""
        self.callback(self.flux_handle, self, revents, self.args)  # type: ignore[misc]

    def _after_callback(self) -> None:
        """Finish a destroy() that our own callback asked for (the
        trampolines call this only when one was deferred)."""
        if not self._running:
            self._destroy_deferred = False
            disown(self)


def _revents_cb(reactor: "Any", wptr: "Any", revents: int, key: "Optional[int]") -> None:
    """Timer, prepare, check and idle: callback(handle, watcher, revents, args)."""
    watcher = active(key)
    if watcher is None:
        return
    if watcher._oneshot:
        _active_remove(key, None)
    # No nesting count here, unlike _kind_cb: libflux's timer, prepare,
    # check and idle callbacks touch nothing after calling us (watcher_call
    # is the C callback's last statement in 0.77 and 0.88 alike), so a
    # destroy() from inside the callback frees the C watcher at once.
    try:
        watcher.callback(watcher.flux_handle, watcher, revents, watcher.args)  # type: ignore[misc]
    except BaseException as exc:  # nothing may cross back into C
        fail(exc, reactor)


def _kind_cb(reactor: "Any", wptr: "Any", revents: int, key: "Optional[int]") -> None:
    """fd and signal watchers, whose callbacks take more than revents:
    the watcher class builds the call (see ``_invoke``)."""
    watcher = active(key)
    if watcher is None:
        return
    watcher._running += 1
    try:
        watcher._invoke(revents)
    except BaseException as exc:
        fail(exc, reactor)
    finally:
        watcher._running -= 1
        if watcher._destroy_deferred:
            watcher._after_callback()


# The trampolines: made once, here, and never freed.
_on_revents = trampoline(flux_watcher_f, _revents_cb, c_void_p, c_void_p, c_int, c_void_p)
_on_kind = trampoline(flux_watcher_f, _kind_cb, c_void_p, c_void_p, c_int, c_void_p)


class TimerWatcher(Watcher):
    """Fire ``after`` seconds from now, then every ``repeat`` seconds if
    ``repeat`` > 0 (both finite and >= 0: OSError EINVAL when negative)."""

    def __init__(
        self, flux_handle: "Flux", after: float, callback: "Callable[..., Any]",
        repeat: float = 0.0, args: "Any" = None,
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        self.after = check.seconds(after, "after")
        self.repeat = check.seconds(repeat, "repeat")
        self._oneshot = self.repeat == 0
        self._adopt(lib.flux_timer_watcher_create(
            flux_handle.get_reactor(), self.after, self.repeat, _on_revents, self._key
        ))

    def reset(self, after: "Optional[float]" = None, repeat: "Optional[float]" = None) -> None:
        """Re-arm from now with new (or the original) times, and start."""
        new_after = self.after if after is None else check.seconds(after, "after")
        new_repeat = self.repeat if repeat is None else check.seconds(repeat, "repeat")
        ptr = self.cptr
        self.after, self.repeat = new_after, new_repeat
        self._oneshot = self.repeat == 0
        lib.flux_timer_watcher_reset(ptr, self.after, self.repeat)
        self.start()


class FDWatcher(Watcher):
    """Fire when file descriptor ``fd_int`` has any of ``events``
    (FLUX_POLLIN, FLUX_POLLOUT, FLUX_POLLERR); ``fd_int`` must be open."""

    def __init__(
        self, flux_handle: "Flux", fd_int: int, events: "Optional[int]",
        callback: "Callable[..., Any]", args: "Any" = None,
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        if events is None:
            events = FLUX_POLLIN | FLUX_POLLOUT | FLUX_POLLERR
        self.fd_int = check.fd(fd_int, "fd")
        self.events = check.c_int_arg(events, "events")
        self._adopt(lib.flux_fd_watcher_create(
            flux_handle.get_reactor(), self.fd_int, self.events, _on_kind, self._key
        ))

    def _invoke(self, revents: int) -> None:
        self.callback(self.flux_handle, self, self.fd_int, revents, self.args)  # type: ignore[misc]


class SignalWatcher(Watcher):
    """Fire when the process receives signal ``signal_int``."""

    def __init__(
        self, flux_handle: "Flux", signal_int: int, callback: "Callable[..., Any]",
        args: "Any" = None,
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        # libev indexes a fixed table by signal number: check before C sees it.
        self.signal_int = check.signum(signal_int, "signal")
        self._started = False
        self._loop = _address(flux_handle.get_reactor()._as_parameter_)
        self._adopt(lib.flux_signal_watcher_create(
            flux_handle.get_reactor(), self.signal_int, _on_kind, self._key
        ))

    def start(self) -> "Watcher":
        if self._started:
            return super().start()
        self.cptr  # ClosedError once destroyed
        loop = self._loop
        owner = _SIGNAL_LOOPS.get(self.signal_int)
        if owner is not None and owner[0] != loop:
            # libev asserts (the process dies) when one signal is watched
            # from two loops; say so instead.
            raise OSError(errno.EBUSY, "signal {} is watched from another reactor; libev "
                          "allows one reactor per signal".format(self.signal_int))
        super().start()
        if owner is None:
            _SIGNAL_LOOPS[self.signal_int] = [loop, 1]
        else:
            owner[1] += 1
        self._started = True
        return self

    def stop(self) -> "Watcher":
        super().stop()
        if self._started:
            self._started = False
            owner = _SIGNAL_LOOPS.get(self.signal_int)
            if owner is not None:
                owner[1] -= 1
                if owner[1] <= 0:
                    del _SIGNAL_LOOPS[self.signal_int]
        return self

    def _invoke(self, revents: int) -> None:
        self.callback(self.flux_handle, self, self.signal_int, self.args)  # type: ignore[misc]


def _address(ptr: "Any") -> int:
    if ptr is DEAD or ptr is None:
        return 0
    return int(ctypes.cast(ptr, c_void_p).value or 0)


# Which reactor watches each signal, and with how many started watchers:
# libev allows one loop per signal.  Keyed by the reactor's address, and
# emptied as the watchers stop (or are destroyed), so a reactor that goes
# leaves nothing behind.
_SIGNAL_LOOPS: "Dict[int, List[int]]" = {}


class PrepareWatcher(Watcher):
    """Fire once per reactor loop, just before it blocks."""

    def __init__(
        self, flux_handle: "Flux", callback: "Callable[..., Any]", args: "Any" = None
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        self._adopt(lib.flux_prepare_watcher_create(
            flux_handle.get_reactor(), _on_revents, self._key
        ))


class CheckWatcher(Watcher):
    """Fire once per reactor loop, just after it wakes up."""

    def __init__(
        self, flux_handle: "Flux", callback: "Callable[..., Any]", args: "Any" = None
    ) -> None:
        super().__init__(flux_handle, check.callback(callback), args)
        self._adopt(lib.flux_check_watcher_create(
            flux_handle.get_reactor(), _on_revents, self._key
        ))


class IdleWatcher(Watcher):
    """While started, keep the reactor from blocking.  Without a callback
    (the usual prepare/idle/check pattern) C calls nothing back."""

    def __init__(
        self, flux_handle: "Flux", callback: "Optional[Callable[..., Any]]" = None,
        args: "Any" = None,
    ) -> None:
        super().__init__(flux_handle, check.callback(callback, allow_none=True), args)
        if callback is None:
            self._adopt(lib.flux_idle_watcher_create(flux_handle.get_reactor(), None, None))
        else:
            self._adopt(lib.flux_idle_watcher_create(
                flux_handle.get_reactor(), _on_revents, self._key
            ))


def signal_loops() -> "Dict[int, int]":
    """signal number -> address of the reactor watching it (for leak checks)."""
    return {sig: entry[0] for sig, entry in _SIGNAL_LOOPS.items()}


def active_watchers() -> int:
    """How many started watchers the registry holds (for leak checks)."""
    return len(ACTIVE)
