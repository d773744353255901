"""Reactor watchers: timers, file descriptors, signals, prepare/check/idle.

Each kind of C callback has one trampoline, a ``CFUNCTYPE`` object made once
here at import.  The ``void *arg`` C stores is an integer key into
``_ACTIVE``, which holds every *started* watcher strongly: a started watcher
keeps firing with no user reference (flux-core issue 3973) until it is
stopped or destroyed, and a stopped one is freed like any other object.
"""

import errno
import signal
import weakref
from ctypes import c_int, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Optional

from flux_ctypes.callbacks import Registry, fail, new_key
from flux_ctypes.constants import FLUX_POLLERR, FLUX_POLLIN, FLUX_POLLOUT
from flux_ctypes.lib import flux_watcher_f, lib, release, trampoline

if TYPE_CHECKING:  # pragma: no cover
    from flux_ctypes.handle import Flux

__all__ = [
    "Watcher",
    "TimerWatcher",
    "FDWatcher",
    "SignalWatcher",
    "PrepareWatcher",
    "CheckWatcher",
    "IdleWatcher",
]

_ACTIVE: "Registry[Watcher]" = Registry("watchers")
_active = _ACTIVE.lookup


class Watcher:
    """Base of all watchers: start/stop/ref/unref/destroy, and a context
    manager that starts on entry and stops on exit."""

    # C functions differ for message handlers; subclasses name theirs.
    _c_start = "flux_watcher_start"
    _c_stop = "flux_watcher_stop"
    _c_destroy = "flux_watcher_destroy"

    handle: Any
    # libev stops a one-shot timer before calling it back; such a watcher
    # leaves the registry then, and start()/reset() in the callback re-adds it.
    _oneshot = False

    def __init__(
        self, flux_handle: "Flux", callback: Optional[Callable[..., Any]],
        args: Any = None,
    ) -> None:
        self.flux_handle = flux_handle
        self.callback = callback
        self.args = args
        self.handle = None
        self._key = new_key()
        self._running = 0  # nesting depth of our callback
        self._destroy_deferred = False
        self._finalizer: Any = None

    def _adopt(self, ptr: Any) -> None:
        """Own the C watcher ``ptr``: destroyed exactly once, by destroy()
        or when this object is collected.  The Flux object rides along in
        the finalizer so its handle (and reactor) outlive the watcher."""
        self.handle = ptr
        self._finalizer = weakref.finalize(
            self, release, getattr(lib, self._c_destroy), ptr, self.flux_handle
        )

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> "Watcher":
        if self.handle is None:
            raise ValueError("watcher was destroyed")
        _ACTIVE.put(self._key, self)
        getattr(lib, self._c_start)(self.handle)
        return self

    def stop(self) -> "Watcher":
        if self.handle is not None:
            getattr(lib, self._c_stop)(self.handle)
        _ACTIVE.discard(self._key)
        return self

    def ref(self) -> "Watcher":
        if self.handle is not None:
            lib.flux_watcher_ref(self.handle)
        return self

    def unref(self) -> "Watcher":
        if self.handle is not None:
            lib.flux_watcher_unref(self.handle)
        return self

    def is_active(self) -> bool:
        """True while started (needs flux_watcher_is_active, flux-core 0.62+)."""
        if self.handle is None:
            return False
        return bool(lib.flux_watcher_is_active(self.handle))

    def destroy(self) -> None:
        """Stop and free the C watcher; harmless when already destroyed.
        From inside the watcher's own callback the free waits until the
        callback returns, so C never touches freed memory."""
        if self.handle is None:
            return
        self.stop()
        self.handle = None
        if self._running:
            self._destroy_deferred = True  # the trampoline frees it on return
        elif self._finalizer is not None:
            self._finalizer()

    def _invoke(self, revents: int) -> None:
        """Call the user's callback (fd and signal watchers override)."""
        self.callback(self.flux_handle, self, revents, self.args)  # type: ignore[misc]

    def _after_callback(self) -> None:
        """Finish a destroy() that our own callback asked for (the
        trampolines call this only when one was deferred)."""
        if not self._running:
            self._destroy_deferred = False
            self._finalizer()


def _revents_cb(reactor: Any, wptr: Any, revents: int, key: Optional[int]) -> None:
    """Timer, prepare, check and idle: callback(handle, watcher, revents, args)."""
    watcher = _active(key)
    if watcher is None:
        return
    if watcher._oneshot:
        _ACTIVE.discard(key)  # type: ignore[arg-type]
    watcher._running += 1
    try:
        watcher.callback(watcher.flux_handle, watcher, revents, watcher.args)  # type: ignore[misc]
    except BaseException as exc:  # nothing may cross back into C
        fail(exc, reactor)
    finally:
        watcher._running -= 1
        if watcher._destroy_deferred:
            watcher._after_callback()


def _kind_cb(reactor: Any, wptr: Any, revents: int, key: Optional[int]) -> None:
    """fd and signal watchers, whose callbacks take more than revents:
    the watcher class builds the call (see ``_invoke``)."""
    watcher = _active(key)
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


def _check_time(value: float, what: str) -> float:
    value = float(value)
    if value < 0:
        raise OSError(errno.EINVAL, "{} must not be negative".format(what))
    return value


class TimerWatcher(Watcher):
    """Fire ``after`` seconds from now, then every ``repeat`` seconds if
    ``repeat`` > 0."""

    def __init__(
        self, flux_handle: "Flux", after: float, callback: Callable[..., Any],
        repeat: float = 0.0, args: Any = None,
    ) -> None:
        super().__init__(flux_handle, callback, args)
        self.after = _check_time(after, "after")
        self.repeat = _check_time(repeat, "repeat")
        self._oneshot = self.repeat == 0
        self._adopt(lib.flux_timer_watcher_create(
            flux_handle.get_reactor(), self.after, self.repeat, _on_revents, self._key
        ))

    def reset(self, after: Optional[float] = None, repeat: Optional[float] = None) -> None:
        """Re-arm from now with new (or the original) times, and start."""
        if after is not None:
            self.after = _check_time(after, "after")
        if repeat is not None:
            self.repeat = _check_time(repeat, "repeat")
            self._oneshot = self.repeat == 0
        if self.handle is None:
            raise ValueError("watcher was destroyed")
        lib.flux_timer_watcher_reset(self.handle, self.after, self.repeat)
        self.start()


class FDWatcher(Watcher):
    """Fire when file descriptor ``fd_int`` has any of ``events``
    (FLUX_POLLIN, FLUX_POLLOUT, FLUX_POLLERR)."""

    def __init__(
        self, flux_handle: "Flux", fd_int: int, events: Optional[int],
        callback: Callable[..., Any], args: Any = None,
    ) -> None:
        super().__init__(flux_handle, callback, args)
        if events is None:
            events = FLUX_POLLIN | FLUX_POLLOUT | FLUX_POLLERR
        self.fd_int = int(fd_int)
        self.events = events
        self._adopt(lib.flux_fd_watcher_create(
            flux_handle.get_reactor(), self.fd_int, events, _on_kind, self._key
        ))


    def _invoke(self, revents: int) -> None:
        self.callback(self.flux_handle, self, self.fd_int, revents, self.args)  # type: ignore[misc]


class SignalWatcher(Watcher):
    """Fire when the process receives signal ``signal_int``."""

    def __init__(
        self, flux_handle: "Flux", signal_int: int, callback: Callable[..., Any],
        args: Any = None,
    ) -> None:
        super().__init__(flux_handle, callback, args)
        # libev indexes a fixed table by signal number: check before C sees it.
        if not 1 <= signal_int < signal.NSIG:
            raise OSError(errno.EINVAL, "invalid signal number {}".format(signal_int))
        self.signal_int = signal_int
        self._adopt(lib.flux_signal_watcher_create(
            flux_handle.get_reactor(), signal_int, _on_kind, self._key
        ))


    def _invoke(self, revents: int) -> None:
        self.callback(self.flux_handle, self, self.signal_int, self.args)  # type: ignore[misc]


class PrepareWatcher(Watcher):
    """Fire once per reactor loop, just before it blocks."""

    def __init__(
        self, flux_handle: "Flux", callback: Callable[..., Any], args: Any = None
    ) -> None:
        super().__init__(flux_handle, callback, args)
        self._adopt(lib.flux_prepare_watcher_create(
            flux_handle.get_reactor(), _on_revents, self._key
        ))


class CheckWatcher(Watcher):
    """Fire once per reactor loop, just after it wakes up."""

    def __init__(
        self, flux_handle: "Flux", callback: Callable[..., Any], args: Any = None
    ) -> None:
        super().__init__(flux_handle, callback, args)
        self._adopt(lib.flux_check_watcher_create(
            flux_handle.get_reactor(), _on_revents, self._key
        ))


class IdleWatcher(Watcher):
    """While started, keep the reactor from blocking.  Without a callback
    (the usual prepare/idle/check pattern) C calls nothing back."""

    def __init__(
        self, flux_handle: "Flux", callback: Optional[Callable[..., Any]] = None,
        args: Any = None,
    ) -> None:
        super().__init__(flux_handle, callback, args)
        if callback is None:
            self._adopt(lib.flux_idle_watcher_create(flux_handle.get_reactor(), None, None))
        else:
            self._adopt(lib.flux_idle_watcher_create(
                flux_handle.get_reactor(), _on_revents, self._key
            ))


def active_watchers() -> int:
    """How many started watchers the registry holds (for leak checks)."""
    return len(_ACTIVE)
