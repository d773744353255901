"""asyncio on the Flux reactor: one reactor per event loop, and asyncio
blocks in it.

Run coroutines with :func:`run` (or a loop from :func:`new_event_loop`, or
:class:`EventLoopPolicy`), and bind each Flux handle to the loop with
:func:`attach` before its first use::

    async def main():
        with Flux() as h, aio.attach(h):
            print(await h.rpc("broker.ping", {}))

    aio.run(main())

Why this design. An asyncio loop spends its idle time in one place: its
selector's ``select(timeout)``. :class:`EventLoop` is asyncio's own
``SelectorEventLoop`` with a selector whose wait *is* a run of a Flux
reactor (``flux_reactor_run(r, 0)``, stopped as soon as asyncio has
something to do): asyncio's file descriptors are Flux fd watchers and its
timeout a Flux timer watcher, as gbulb and qasync host asyncio on GLib and
Qt. Handles bound to the loop (:func:`attach` makes the loop's reactor
theirs, ``flux_set_reactor``) have all their watchers in that same reactor,
so libev itself decides how long asyncio may sleep: not at all while an
idle watcher or a then() callback is pending, until the earliest Flux timer
(``then(cb, timeout=)`` included) or asyncio timer, or until any fd of
either is ready. Whatever works under ``reactor_run()`` -- continuations of
composites of any depth, C-armed timeouts, prepare/check/idle watchers,
futures fulfilled from plain asyncio code, message watchers, events,
streams -- works the same here, with no polling and no guess at how many
internal steps flux-core takes: the reactor runs until one of asyncio's fds
is ready, its timeout passes, or a Flux callback hands asyncio work (a
settled future's callbacks, a timer, a stop: the loop's ``call_soon``,
``call_at`` and ``stop`` end the run), and it never blocks while it has
work. The other way round (watching ``flux_pollfd()`` from someone else's
loop, as this module did before) must infer from outside when the reactor
ran dry, and timers C arms by itself stay invisible.

A loop of another class (uvloop, Jupyter's kernel loop) can't host the
reactor, so :func:`attach` and :func:`wrap` refuse it with a
:class:`TypeError`; nothing is driven by inference.  Install
:class:`EventLoopPolicy` to make ``asyncio.run()`` (and every new loop) an
:class:`EventLoop`.

Ctrl-C: libev resumes a wait a signal interrupted, so the loop makes its
self-pipe Python's wakeup fd (``signal.set_wakeup_fd``): the byte Python's
C-level handler writes ends the run.  The handler itself runs wherever
Python code next runs -- often at a Flux callback's entry, where what it
raises (KeyboardInterrupt) can't be caught by the callback and ctypes
reports it to ``sys.unraisablehook``; select() takes it from there and
raises it, as Python would have raised it in select() itself.  Where ctypes
doesn't report it so (PyPy, CPython before 3.8) or someone else's wakeup fd
is set, select() runs single iterations instead, which a signal ends; there
a Ctrl-C whose handler runs at a callback's entry is printed and lost, as
before this design (a loop busy with Flux traffic may need a second one).

Speed: the reactor runs in C between asyncio's turns (``aio.gather`` of
many RPCs is one run); a burst of responses that each give asyncio work
(``asyncio.gather`` of wrapped RPCs) is handled in one turn (up to
``BURST`` more iterations while they complete awaiters and more are
outstanding -- any number of iterations is correct, this only trades
latency); an RPC's loop is found by its handle, not by asyncio's running-
loop lookup; C calls each response back into one Python frame, which
settles the awaiter, and ``EventLoop.call_soon`` skips asyncio's two helper
frames. What remains per gathered RPC is mostly asyncio's own (a Future,
gather's bookkeeping, a Handle per done callback).

Limits, stated: a Flux callback that itself runs the loop's reactor
(``h.reactor_run()`` inside a Flux callback, while the loop waits) has that
run ended early by whatever hands asyncio work.  A handle that lost its
connection fails what waits on it
with ECONNRESET, and (as it stops ``reactor_run()``) keeps waking the loop
until its futures and watchers are gone.  A detached handle keeps the loop's
reactor (a reactor can't be taken back from a handle), so it still works
with ``reactor_run()`` after the loop closed.  Closing a loop ends its
attachments.

Handles: a handle's reactor is fixed once it has one, and a fresh handle
gets one at its first RPC or watcher.  :func:`attach` gives a fresh handle
the loop's reactor (and the handle a reference on it, so each outlives the
other safely).  A handle that already has a reactor of its own can still be
the *first* handle of a loop: the loop then adopts that reactor.  Any
other handle must be attached before its first use.

Awaiting: ``await future`` (any :class:`~flux_ctypes.future.Future`) or
:func:`wrap` gives what ``get()`` returns and raises what it raises.  It
takes the future's one continuation (``Future.continuation_key``), so a
future can't also have a then() callback.  Cancelling the awaiting task
forgets the future: a late response is dropped.  :func:`stream` and
:func:`events` iterate streaming RPCs and events with ``async for``.

Threads: one loop per thread, any thread; a handle is used from its loop's
thread.  A Flux callback that raises is reported to the loop's exception
handler (KeyboardInterrupt and SystemExit propagate out of the loop).
"""

import asyncio
import collections
import ctypes
import errno
import selectors
import signal
import sys
import threading
import weakref
from ctypes import c_double, c_int, c_void_p
from typing import (
    TYPE_CHECKING, Any, AsyncIterator, Callable, Coroutine, Deque, Dict, List, Mapping,
    Optional, Set, Tuple, TypeVar, Union, cast,
)

from flux_ctypes.callbacks import Registry, fail, new_key, state
from flux_ctypes.constants import (
    FLUX_MSGTYPE_EVENT,
    FLUX_NODEID_ANY,
    FLUX_POLLERR,
    FLUX_POLLIN,
    FLUX_POLLOUT,
    FLUX_REACTOR_NOWAIT,
    FLUX_REACTOR_ONCE,
    FLUX_RPC_STREAMING,
)
from flux_ctypes.future import Future
from flux_ctypes.handle import Flux
from flux_ctypes.lib import (
    DEAD,
    closed_error,
    failed,
    flux_continuation_f,
    flux_reactor_t,
    flux_watcher_f,
    lib,
    load_library,
    set_errno,
    trampoline,
    unchecked,
)
from flux_ctypes.message import Message, MessageWatcher

__all__ = [
    "Attachment",
    "DetachedError",
    "EventLoop",
    "EventLoopPolicy",
    "EventStream",
    "FluxSelector",
    "ResponseStream",
    "attach",
    "attachment",
    "detach",
    "events",
    "gather",
    "job_events",
    "new_event_loop",
    "result",
    "rpc_stream",
    "run",
    "stream",
    "wrap",
]

T = TypeVar("T")
_Handle = asyncio.Handle

if TYPE_CHECKING:  # pragma: no cover
    _FutureBase = asyncio.Future[Any]
else:
    _FutureBase = asyncio.Future

# How long one select() may block when asyncio has no timer (libev wakes at
# least once a minute anyway).
_FOREVER = 3600.0


def _address(ptr: Any) -> int:
    """The address a ctypes pointer (or an object passed to C as one, through
    ctypes' ``_as_parameter_``) holds; 0 for NULL or None."""
    ptr = getattr(ptr, "_as_parameter_", ptr)
    return ctypes.cast(ptr, c_void_p).value or 0


# asyncio.get_running_loop() is 3.7+ (and raises); this one exists from
# 3.5.3 on and returns None outside a loop.  Bound once: wrap() calls it.
_running_loop: "Callable[[], Optional[asyncio.AbstractEventLoop]]" = getattr(
    asyncio, "_get_running_loop"
)


class DetachedError(RuntimeError):
    """The handle was detached from its loop while something waited on it."""


# -- the selector: asyncio waits in the Flux reactor -------------------------
_raw_run: Any = None


def _reactor_run() -> Any:
    """flux_reactor_run() returning -1 rather than raising (no Python
    error check per call: select() calls it once per message of a burst).
    Not traced by FLUX_CTYPES_TRACE."""
    global _raw_run
    if _raw_run is None:
        lib.flux_reactor_run  # the library and the table entry exist
        func = load_library().cdll["flux_reactor_run"]  # a new function object
        func.restype = c_int
        if sys.implementation.name != "cpython":
            # PyPy's JIT calls a function with declared argtypes directly.
            # CPython converts what select() passes (the reactor pointer, an
            # int) as they are, without a converter per argument per call.
            func.argtypes = [flux_reactor_t, c_int]
        _raw_run = func
    return _raw_run


def _fileobj_fd(fileobj: Any) -> int:
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: {!r}".format(fileobj)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: {}".format(fd))
    return fd


class _KeyMap(Mapping[Any, selectors.SelectorKey]):
    """What ``get_map()`` returns: file objects to their keys."""

    def __init__(self, selector: "FluxSelector") -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._keys)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            return self._selector._keys[_fileobj_fd(fileobj)]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def __iter__(self) -> Any:
        return iter([key.fileobj for key in self._selector._keys.values()])


# The selectors whose fd watchers C may call, by key: (selector, fd).
_FD_WATCH: "Registry[Tuple[FluxSelector, int]]" = Registry("aio-fd")
_fd_lookup = _FD_WATCH.lookup


def _fd_cb(reactor: Any, wptr: Any, revents: int, key: Optional[int]) -> None:
    entry = _fd_lookup(key)
    if entry is not None:
        entry[0]._fd_ready(entry[1], revents)


_on_fd = trampoline(flux_watcher_f, _fd_cb, c_void_p, c_void_p, c_int, c_void_p)

_NO_REPEAT = c_double(0.0)
# Most single reactor iterations one select() adds while they complete
# awaiters (see FluxSelector.select).
BURST = 256
# Awaiters completed so far (one cell, bumped from the C callbacks).
_completed = [0]
# Whether ctypes reports what a callback raised to sys.unraisablehook
# (CPython 3.8 on), where select() can catch what a signal handler raised
# at a callback's entry (see FluxSelector._interrupted).
_UNRAISABLE_CALLBACKS = sys.implementation.name == "cpython" and sys.version_info >= (3, 8)
_stop_in_c: Any = None


def _stop_callback() -> Any:
    """``flux_reactor_stop`` itself as a watcher callback: select()'s
    timer ends its run without a trip through Python.

    C calls a watcher callback as ``cb(r, w, revents, arg)`` and
    ``flux_reactor_stop(r)`` takes the first of these only.  On the ABIs
    Linux runs on, arguments travel in registers (or a caller-cleaned
    stack) and a callee ignores those it doesn't take, as GLib's callbacks
    with fewer parameters than their signal's rely on."""
    global _stop_in_c
    if _stop_in_c is None:
        lib.flux_reactor_stop  # the library and the table entry exist
        _stop_in_c = ctypes.cast(load_library().cdll["flux_reactor_stop"], flux_watcher_f)
    return _stop_in_c


class FluxSelector(selectors.BaseSelector):
    """A :mod:`selectors` selector that waits in a Flux reactor: registered
    fds are Flux fd watchers, and ``select(timeout)`` runs the reactor, with
    every other Flux watcher and continuation that is due, until asyncio
    has something to do: one of its fds is ready, its timeout passed, or a
    Flux callback gave it work (:meth:`wake`).  Owns one reference on its
    reactor (``reactor``)."""

    def __init__(self) -> None:
        self._reactor: Any = lib.flux_reactor_create(0)
        self._keys: Dict[int, selectors.SelectorKey] = {}
        self._watchers: Dict[int, Tuple[Any, int]] = {}  # fd: (watcher, key)
        self._ready: Dict[int, int] = {}  # fd: FLUX_POLL* seen
        self._paused: Set[int] = set()
        self._selecting = False
        self._bound = False  # a handle has this reactor: never swap it
        self._lost_seen = False  # a handle of this reactor lost its connection
        self._held = False  # the last iteration left referenced watchers active
        self._closed = False
        self._woken = False  # wake() stopped this select()'s run
        self._timer: Any = None
        self._make_timer()
        # this select()'s run flags, and whether wake_soon() found more
        # awaiters outstanding (see select)
        self._flags = 0
        self._burst = False
        # Whether a signal writes to an fd registered here (the loop's
        # self-pipe; else select() runs single iterations).
        self.signals_wake = True
        # Whether this select() runs where Python handles signals (the main
        # thread): set by EventLoop.run_forever().
        self.main_thread = False
        self._hook_saved: Any = None
        self.loop: "Optional[EventLoop]" = None
        self.iterations = 0  # select() calls, to see that idle is idle
        self.loop_ref: "Callable[[], Optional[EventLoop]]" = _no_loop

    @property
    def reactor(self) -> Any:
        """The ``flux_reactor_t *`` asyncio blocks in."""
        return self._reactor

    def _make_timer(self) -> None:
        self._timer = lib.flux_timer_watcher_create(
            self._reactor, 0.0, 0.0, _stop_callback(), None
        )

    def wake(self) -> None:
        """End the wait in progress, if any: a Flux callback gave asyncio
        work (a stop, an fd's readiness)."""
        if self._selecting and not self._woken:
            self._woken = True
            unchecked.flux_reactor_stop(self._reactor)

    def wake_soon(self) -> None:
        """Like wake(), for a ready callback or timer; with more awaiters
        outstanding (a gather's responses keep coming), select() first
        runs single iterations while they complete some, so that asyncio
        runs their callbacks in one turn rather than one turn each."""
        if not self._selecting or self._woken:
            return
        self._woken = True
        self._burst = bool(_links_count())
        if not self._flags:  # (single iterations end anyway)
            unchecked.flux_reactor_stop(self._reactor)

    # -- BaseSelector ------------------------------------------------------
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        if not events or events & ~(selectors.EVENT_READ | selectors.EVENT_WRITE):
            raise ValueError("Invalid events: {!r}".format(events))
        fd = _fileobj_fd(fileobj)
        if fd in self._keys:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, fd))
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        self._watch(fd, events)
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            fd = _fileobj_fd(fileobj)
            key = self._keys.pop(fd)
        except (KeyError, ValueError):
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        self._unwatch(fd)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        try:
            fd = _fileobj_fd(fileobj)
            key = self._keys[fd]
        except (KeyError, ValueError):
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        if events != key.events:
            self.unregister(fileobj)
            return self.register(fileobj, events, data)
        if data is not key.data:
            key = key._replace(data=data)
            self._keys[fd] = key
        return key

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return _KeyMap(self)

    def _watch(self, fd: int, events: int) -> None:
        flux_events = 0
        if events & selectors.EVENT_READ:
            flux_events |= FLUX_POLLIN
        if events & selectors.EVENT_WRITE:
            flux_events |= FLUX_POLLOUT
        wkey = _FD_WATCH.add((self, fd))
        try:
            watcher = lib.flux_fd_watcher_create(self._reactor, fd, flux_events, _on_fd, wkey)
        except BaseException:
            _FD_WATCH.discard(wkey)
            raise
        # Unreferenced: asyncio's fds alone must not keep a reactor_run()
        # from returning (a coroutine may run one); select() holds the
        # reactor with its timer instead.
        lib.flux_watcher_unref(watcher)
        lib.flux_watcher_start(watcher)
        self._watchers[fd] = (watcher, wkey)

    def _unwatch(self, fd: int) -> None:
        watcher, wkey = self._watchers.pop(fd)
        _FD_WATCH.discard(wkey)
        lib.flux_watcher_destroy(watcher)
        self._ready.pop(fd, None)
        self._paused.discard(fd)

    def _fd_ready(self, fd: int, revents: int) -> None:
        ready = self._ready
        ready[fd] = ready.get(fd, 0) | revents
        if self._selecting:
            # Always, even after wake(): a stop made before ev_run() began
            # (a signal handler's call_soon_threadsafe() just before it)
            # is reset by it, but the self-pipe's byte then lands here.
            self._woken = True
            unchecked.flux_reactor_stop(self._reactor)
        else:
            # A reactor_run() outside select() (from a coroutine): libev
            # watches levels, so rest until the next select() reports it.
            entry = self._watchers.get(fd)
            if entry is not None:
                lib.flux_watcher_stop(entry[0])
                self._paused.add(fd)

    def select(self, timeout: Optional[float] = None) -> List[Tuple[selectors.SelectorKey, int]]:
        reactor = self._reactor
        self.iterations += 1
        if self._paused:
            for fd in self._paused:
                lib.flux_watcher_start(self._watchers[fd][0])
            self._paused.clear()
        timer = None
        waits = not self._ready and (timeout is None or timeout > 0)
        if not waits:
            flags = FLUX_REACTOR_NOWAIT
        else:
            # Run until stopped: by an fd (the self-pipe included: signals
            # and other threads write to it) or wake() (Python), by the
            # timer or the idle watcher (C), or by a Flux callback's error.
            # Every iteration in between is libev's own loop in C.  Unless
            # signals don't reach the self-pipe, or what a signal handler
            # raises at a callback's entry would go unseen: then single
            # iterations, which a signal ends (libev's poll returns on EINTR).
            if self.signals_wake and (_UNRAISABLE_CALLBACKS or not self.main_thread):
                flags = 0
            else:
                flags = FLUX_REACTOR_ONCE
            # libev runs only while some referenced watcher is active;
            # asyncio's fds are unreferenced, so the timer holds it.  With no
            # deadline and referenced watchers left by the last run, it
            # isn't needed (if they went meanwhile, the run just returns, and
            # the next one has the timer).
            if timeout is not None or not self._held:
                timer = self._timer
                if timeout is None:
                    timeout = _FOREVER
                else:
                    # The timer counts from the reactor's cached "now", as
                    # old as the last iteration: bring it up to date first.
                    lib.flux_reactor_now_update(reactor)
                # unchecked (void functions, arguments as C takes them):
                # a blocking select() per sequential await makes these
                unchecked.flux_timer_watcher_reset(timer, c_double(timeout), _NO_REPEAT)
                unchecked.flux_watcher_start(timer)
        self._flags = flags
        st = state
        self._selecting = True
        self._woken = self._burst = False
        st.reactor_depth += 1
        run = _reactor_run()
        hook = None
        if _UNRAISABLE_CALLBACKS and self.main_thread:
            # every run, NOWAIT ones too: they call back into Python as
            # well (a busy loop's select(0) runs asyncio's ready fds)
            hook = self._hook_saved = getattr(sys, "unraisablehook")
            setattr(sys, "unraisablehook", self._interrupted)
        try:
            mark = _completed[0]
            # ev_run() returns how many referenced watchers are active, or
            # -1 when stopped with an error.
            active = run(reactor, flags)
            extra = flags == FLUX_REACTOR_ONCE
            if extra or self._burst:
                # While iterations complete awaiters and more are
                # outstanding (a burst of responses), a few more before
                # asyncio's turn, to spread its per-turn cost: any number
                # of iterations is correct, this only trades a little
                # latency.  After a single iteration, one more anyway:
                # libflux calls a future's continuation one iteration after
                # the message that fulfils it.
                turns = BURST
                while (turns and active >= 0 and not self._ready
                       and (extra or (_completed[0] != mark and _links_count()))):
                    extra = False
                    mark = _completed[0]
                    active = run(reactor, FLUX_REACTOR_NOWAIT)
                    turns -= 1
            # A stop (the C watchers' or wake()'s) clears the error flag a
            # failing callback set in the same iteration: its exception
            # says so.
            failed = active < 0 or st.exception is not None
            if timer is not None:
                active -= 1
            self._held = active > 0
        finally:
            st.reactor_depth -= 1
            self._selecting = False
            if hook is not None:
                setattr(sys, "unraisablehook", hook)
            if timer is not None:
                unchecked.flux_watcher_stop(timer)
        if failed:
            self._stopped_with_error()
        ready = self._ready
        if not ready:
            return []
        self._ready = {}
        keys = self._keys
        out = []
        for fd, revents in ready.items():
            key = keys.get(fd)
            if key is None:
                continue
            events = 0
            if revents & (FLUX_POLLIN | FLUX_POLLERR):
                events |= selectors.EVENT_READ
            if revents & (FLUX_POLLOUT | FLUX_POLLERR):
                events |= selectors.EVENT_WRITE
            events &= key.events
            if events:
                out.append((key, events))
        return out

    def _interrupted(self, unraisable: Any) -> None:
        """sys.unraisablehook while select() runs the reactor in the main
        thread.  A signal's Python handler runs where Python code next
        runs: maybe at a callback's entry (before the callback's own
        ``try`` can see what it raises) or in a weakref callback, and what
        it raises (KeyboardInterrupt) is then reported as unraisable.  Keep
        that for select() to raise, as Python would raise it in select()
        itself; what a callback raised at its entry too.  The rest goes to
        the hook that was there."""
        exc = unraisable.exc_value
        if not isinstance(exc, Exception) or "ctypes callback" in (unraisable.err_msg or ""):
            fail(exc, self._reactor)
        else:
            self._hook_saved(unraisable)

    def _stopped_with_error(self) -> None:
        """The reactor stopped with an error: a Flux callback raised, or a
        handle lost its connection (its watcher stops the reactor)."""
        pending = state.exception
        state.exception = None
        if pending is not None and not isinstance(pending, Exception):
            raise pending  # KeyboardInterrupt, SystemExit: out of the loop
        if [att for att in _attachments_of(self) if att._check_lost()]:
            self._lost_seen = True
        if pending is None and self._lost_seen:
            # A handle of this reactor lost its connection: what waited on
            # it failed with ECONNRESET.  Its message watcher keeps stopping
            # the reactor (as it would stop reactor_run()) until the futures
            # and watchers of that handle are gone.
            return
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_exception_handler({
            "message": "exception in a Flux reactor callback",
            "exception": pending if pending is not None else OSError(
                "the Flux reactor stopped with an error"
            ),
            "reactor": self._reactor,
        })

    def adopt(self, reactor: Any) -> None:
        """Wait in ``reactor`` (another reference on it) instead of the
        reactor made for this selector, which no handle uses yet."""
        if self._bound or self._selecting:
            raise RuntimeError("this event loop's reactor is in use")
        _forget(self)
        lib.flux_reactor_incref(reactor)
        fds = {fd: key.events for fd, key in self._keys.items()}
        for fd in fds:
            self._unwatch(fd)
        lib.flux_watcher_destroy(self._timer)
        old, self._reactor = self._reactor, reactor
        lib.flux_reactor_decref(old)
        self._make_timer()
        self._held = False
        for fd, events in fds.items():
            self._watch(fd, events)
        self._bound = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _forget(self)
        for fd in list(self._watchers):
            self._unwatch(fd)
        self._keys.clear()
        lib.flux_watcher_destroy(self._timer)
        self._timer = None
        # Handles bound to this reactor keep their own references on it.
        lib.flux_reactor_decref(self._reactor)
        self.loop = None


class EventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose waits are Flux reactor iterations (see
    :class:`FluxSelector`).  ``reactor`` is the reactor handles attached to
    it use."""

    def __init__(self) -> None:
        selector = FluxSelector()
        super().__init__(selector)
        selector.loop = self
        selector.loop_ref = weakref.ref(self)
        self.flux_selector = selector
        # libev resumes a wait a signal interrupted: Python's C-level
        # handler must write to the self-pipe (run_forever) to end it.
        self._wake = selector.wake
        self._wake_soon = selector.wake_soon

    # What a Flux callback may do to the loop while select() waits, and
    # asyncio must see before waiting on: call_soon() (a settled future's
    # done callbacks), call_at() (call_later's too), stop().
    if sys.version_info >= (3, 7):  # 3.6's take no context

        def call_soon(  # type: ignore[override]
            self, callback: Callable[..., Any], *args: Any, context: Any = None
        ) -> asyncio.Handle:
            """asyncio's own call_soon(), less the two Python frames it
            spends in _check_closed() and _call_soon(): each settled future
            calls it once per done callback (gather's, a task's wakeup).
            A closed or debug loop takes asyncio's path, checks and all."""
            if self._closed or self._debug:  # type: ignore[attr-defined]
                handle = super().call_soon(callback, *args, context=context)
            else:
                handle = _Handle(callback, args, self, context)
                self._ready.append(handle)  # type: ignore[attr-defined]
            self._wake_soon()
            return handle

        def call_at(  # type: ignore[override]
            self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
        ) -> asyncio.TimerHandle:
            handle = super().call_at(when, callback, *args, context=context)
            self._wake_soon()
            return handle

    else:

        def call_soon(self, callback: Callable[..., Any], *args: Any) -> asyncio.Handle:
            handle = super().call_soon(callback, *args)
            self._wake_soon()
            return handle

        def call_at(  # type: ignore[override]
            self, when: float, callback: Callable[..., Any], *args: Any
        ) -> asyncio.TimerHandle:
            handle = super().call_at(when, callback, *args)
            self._wake_soon()
            return handle

    def stop(self) -> None:
        super().stop()
        self._wake()

    def run_forever(self) -> None:
        installed = False
        selector = self.flux_selector
        selector.main_thread = threading.current_thread() is threading.main_thread()
        if selector.main_thread:
            pipe = self._csock.fileno()  # type: ignore[attr-defined]
            previous = signal.set_wakeup_fd(pipe)
            if previous == -1:
                installed = True
            elif previous != pipe:  # someone else's: keep it
                signal.set_wakeup_fd(previous)
                selector.signals_wake = False
        try:
            super().run_forever()
        finally:
            selector.signals_wake = True
            if installed:
                signal.set_wakeup_fd(-1)

    @property
    def reactor(self) -> Any:
        return self.flux_selector.reactor

    def close(self) -> None:
        """Close the loop; its attachments end (see Attachment.detach())."""
        if not self.is_running():
            for att in _attachments_of(self.flux_selector):
                att._uses = 1
                att.detach()
        super().close()


def new_event_loop() -> EventLoop:
    """A new :class:`EventLoop` (not set as the current loop)."""
    return EventLoop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """``asyncio.set_event_loop_policy(aio.EventLoopPolicy())`` makes every
    new loop (``asyncio.run()``'s too) an :class:`EventLoop`."""

    def new_event_loop(self) -> EventLoop:
        return EventLoop()


def _all_tasks(loop: asyncio.AbstractEventLoop) -> "Set[asyncio.Task[Any]]":
    all_tasks = getattr(asyncio, "all_tasks", None)  # 3.7+
    if all_tasks is None:
        all_tasks = getattr(asyncio.Task, "all_tasks")
    return {t for t in all_tasks(loop) if not t.done()}


def run(main: "Coroutine[Any, Any, T]", debug: Optional[bool] = None) -> T:
    """``asyncio.run(main)`` on a new :class:`EventLoop` (on Python 3.6 too):
    run the coroutine, cancel what it left running, close the loop.

    Ctrl-C in the main thread cancels the coroutine and then raises
    KeyboardInterrupt, as asyncio.run() does since 3.11 (a second Ctrl-C
    raises at once).  Raising it wherever the signal lands could leave a
    task that had been woken never to run again, and the clean-up that
    cancels tasks would then wait for it forever."""
    if _running_loop() is not None:
        raise RuntimeError("aio.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise ValueError("a coroutine was expected, got {!r}".format(main))
    runner_class = getattr(asyncio, "Runner", None)
    if runner_class is not None:  # Python 3.11+: asyncio's own, on our loop
        with runner_class(debug=debug, loop_factory=EventLoop) as runner:
            return cast(T, runner.run(main))
    loop = EventLoop()
    interrupts = [0]
    task: "Optional[asyncio.Future[T]]" = None

    def on_sigint(signum: int, frame: Any) -> None:
        interrupts[0] += 1
        if interrupts[0] == 1 and task is not None and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(_no_loop)
            return
        raise KeyboardInterrupt()

    previous = None
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        task = loop.create_task(main)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupts[0]:
                raise KeyboardInterrupt() from None
            raise
    finally:
        if previous is not None and signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, previous)
        try:
            tasks = _all_tasks(loop)
            for pending in tasks:
                pending.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


# -- handles --------------------------------------------------------------------
# Attachments by flux_t address.
_ATTACHED: "Dict[int, Attachment]" = {}
_ATTACH_LOCK = threading.Lock()
# The key under which a handle keeps its reference on the loop's reactor.
_REACTOR_REF = b"flux_ctypes::aio::reactor"
_decref_address = 0


def _attachments_of(selector: FluxSelector) -> "List[Attachment]":
    return [att for att in list(_ATTACHED.values()) if att.loop.flux_selector is selector]


def _give_reactor(flux_handle: Flux, selector: FluxSelector) -> None:
    """Make ``selector``'s reactor the handle's (see the module docstring)."""
    global _decref_address
    hptr = flux_handle.handle
    if not _address(hptr):
        raise ValueError("the Flux handle is closed")
    reactor = selector.reactor
    try:
        lib.flux_set_reactor(hptr, reactor)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
        own = lib.flux_get_reactor(hptr)
        if _address(own) == _address(reactor):
            return  # attached to this loop before
        if selector._bound:
            raise RuntimeError(
                "this Flux handle already has a reactor of its own (it was used "
                "before being attached) and the event loop already serves another "
                "handle: attach a handle before its first RPC or watcher"
            ) from None
        selector.adopt(own)  # the loop's first handle: use its reactor
        return
    selector._bound = True
    # The handle keeps a reference on the reactor, given back when the
    # handle is destroyed, so neither may outlive the other unsafely.
    if not _decref_address:
        _decref_address = _address(
            ctypes.cast(load_library().cdll.flux_reactor_decref, c_void_p)
        )
    lib.flux_reactor_incref(reactor)
    try:
        lib.flux_aux_set(hptr, _REACTOR_REF, _address(reactor), _decref_address)
    except OSError:
        lib.flux_reactor_decref(reactor)
        raise


class Attachment:
    """One Flux handle served by one :class:`EventLoop`; see :func:`attach`.

    A context manager (``with`` or ``async with``) that detaches on exit.
    It keeps the handle (the Python object) only while attached."""

    def __init__(self, flux_handle: Flux, loop: EventLoop) -> None:
        self.loop = loop
        self.flux_handle: Optional[Flux] = flux_handle
        self.handle_address = _address(flux_handle.handle)
        self._uses = 1
        self._closed = False
        self._lost = False
        self._subscriptions: Dict[bytes, int] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscriptions(self) -> Dict[str, int]:
        """Event topics this attachment subscribed to, with their users."""
        return {t.decode("utf-8"): n for t, n in self._subscriptions.items()}

    def detach(self) -> None:
        """Undo one :func:`attach`.  At the last, whatever still waits on the
        handle (awaits, streams, event subscriptions) raises
        :class:`DetachedError`.  The handle keeps the loop's reactor."""
        if self._closed:
            return
        self._uses -= 1
        if self._uses > 0:
            return
        with _ATTACH_LOCK:
            if _ATTACHED.get(self.handle_address) is self:
                del _ATTACHED[self.handle_address]
        self._close_links(DetachedError("Flux handle detached from its event loop"))
        self._closed = True
        self.flux_handle = None

    def _check_lost(self) -> bool:
        """True (and what waits on it failed) if the connection is gone."""
        if self._lost:
            return True
        h = self.flux_handle
        if h is None or not _address(h.handle):  # detached, or closed
            return False
        try:
            events = int(lib.flux_pollevents(h.handle))
        except (OSError, ctypes.ArgumentError):
            events = FLUX_POLLERR
        if not events & FLUX_POLLERR:
            return False
        self._lost = True
        self._close_links(OSError(errno.ECONNRESET, "connection to Flux lost"))
        return True

    def _close_links(self, error: BaseException) -> None:
        for link in _LINKS:  # a copy: abort() unregisters
            if link.belongs_to(self):
                link.abort(error)

    def __enter__(self) -> "Attachment":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.detach()

    async def __aenter__(self) -> "Attachment":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.detach()

    # -- event subscriptions (counted: one broker subscription per topic) --
    def _subscribe(self, topic: bytes) -> None:
        h = self.flux_handle
        if h is None or not _address(h.handle):
            raise DetachedError("Flux handle detached from its event loop (or closed)")
        count = self._subscriptions.get(topic, 0)
        if count == 0:
            lib.flux_event_subscribe(h.handle, topic)
        self._subscriptions[topic] = count + 1

    def _unsubscribe(self, topic: bytes) -> None:
        count = self._subscriptions.get(topic, 0) - 1
        if count > 0:
            self._subscriptions[topic] = count
            return
        self._subscriptions.pop(topic, None)
        h = self.flux_handle
        if h is not None and _address(h.handle) and not self._lost:
            try:
                lib.flux_event_unsubscribe(h.handle, topic)
            except (OSError, ctypes.ArgumentError):
                pass  # the connection is gone: so is the subscription

    def __repr__(self) -> str:
        return "<flux_ctypes.aio.Attachment 0x{:x} {}>".format(
            self.handle_address, "detached" if self._closed else "attached"
        )


def _event_loop(loop: Optional[asyncio.AbstractEventLoop]) -> EventLoop:
    if loop is None:
        loop = _running_loop() or asyncio.get_event_loop()
    if not isinstance(loop, EventLoop):
        raise TypeError(
            "{} can't serve Flux handles: only a flux_ctypes.aio.EventLoop can "
            "(use aio.run(), aio.new_event_loop() or aio.EventLoopPolicy)".format(
                type(loop).__name__
            )
        )
    return loop


def attach(flux_handle: Flux, loop: Optional[asyncio.AbstractEventLoop] = None) -> Attachment:
    """Serve ``flux_handle`` from ``loop`` (default: the running loop, else
    the current one), which must be an :class:`EventLoop`: the handle gets
    the loop's reactor (see the module docstring).  Attaching again to the
    same loop returns the same attachment, which then needs one more
    detach()."""
    if not isinstance(flux_handle, Flux):
        raise TypeError("attach() needs a flux_ctypes.Flux handle")
    ev_loop = _event_loop(loop)
    key = _address(flux_handle.handle)
    with _ATTACH_LOCK:
        current = _ATTACHED.get(key)
        if current is not None and (
            current.flux_handle is None or _address(current.flux_handle.handle) != key
        ):
            current = None  # that handle was closed: this one reuses its memory
        if current is not None:
            if current.loop is not ev_loop:
                raise RuntimeError("this Flux handle is already attached to another event loop")
            current._uses += 1
            return current
        _give_reactor(flux_handle, ev_loop.flux_selector)
        att = Attachment(flux_handle, ev_loop)
        _ATTACHED[key] = att
    return att


def attachment(flux_handle: Flux) -> Optional[Attachment]:
    """The attachment serving ``flux_handle``, or None."""
    key = _address(flux_handle.handle)
    att = _ATTACHED.get(key)
    if att is None or att.flux_handle is None or _address(att.flux_handle.handle) != key:
        return None
    return att


def detach(flux_handle: Flux) -> None:
    """Undo one :func:`attach` of ``flux_handle`` (no-op if not attached)."""
    att = attachment(flux_handle)
    if att is not None:
        att.detach()


# -- callbacks from C ----------------------------------------------------------
class _Link:
    """Something registered in ``_LINKS`` for C to call back."""

    __slots__ = ()
    key: int

    def fulfilled(self) -> None:
        raise NotImplementedError

    def abort(self, error: BaseException) -> None:
        raise NotImplementedError

    def belongs_to(self, att: Attachment) -> bool:
        raise NotImplementedError


# Every Flux future, stream and subscription an awaiter waits on: what C
# may call back into (keys are what ``flux_future_then`` stores).
_LINKS: "Registry[_Link]" = Registry("aio")
_link_lookup = _LINKS.lookup
_links_store = _LINKS.store
_links_remove = _LINKS.remove
_links_count = _LINKS.count
# flux_future_then()'s timeout for "none", as C takes it
_NO_TIMEOUT = c_double(-1.0)


def _fulfilled_cb(fptr: Any, key: Optional[int]) -> None:
    link = _link_lookup(key)
    if link is None:  # cancelled or detached meanwhile: drop it
        return
    _completed[0] += 1
    try:
        if link.__class__ is not _Awaiting:
            if link.__class__ is _Gathering:
                link.settle(key)
            else:
                link.fulfilled()
            return
        # An awaiter is settled here rather than by a method of its own: one
        # Python frame per response of a gather(), as a then() callback has.
        fut = link._fut
        if fut is None:
            return
        link._fut = None
        _links_remove(key, None)
        if fut.continuation_key == key:
            fut.continuation_key = 0
        # _outcome(fut), inlined for the common case: no exception pending.
        if state.exception is None:
            error: Optional[Exception] = None
            try:
                value = fut.get()
            except Exception as exc:
                exc.__traceback__ = None  # it would hold this frame, so fut
                value, error = None, exc
        else:
            value, error = _outcome(fut)
        del fut
        try:  # (no done() call first: a cancelled awaiter refuses)
            if error is None:
                link.set_result(value)
            else:
                link.set_exception(error)
        except asyncio.InvalidStateError:
            pass
        followers = link._followers
        if followers is not None:
            link._followers = None
            for waiting in followers:
                if waiting.done():
                    continue
                if error is None:
                    waiting.set_result(value)
                else:
                    waiting.set_exception(error)
    except BaseException as exc:  # nothing may cross back into C
        # Not fptr's reactor: the future may be gone already (del fut).
        # Links are called back in their loop's thread, from its reactor.
        loop = _running_loop()
        fail(exc, loop.reactor if isinstance(loop, EventLoop) else None)


_on_fulfilled = trampoline(flux_continuation_f, _fulfilled_cb, c_void_p, c_void_p)


def _outcome(fut: Future) -> Tuple[Any, Optional[Exception]]:
    """What ``fut.get()`` gives, as (value, None) or (None, exception).

    get() re-raises an exception some other callback left pending; keep
    that one for the reactor run to report, not for this awaiter."""
    saved = state.exception
    state.exception = None
    try:
        return fut.get(), None
    except Exception as exc:
        # Its traceback holds this frame and so the future (and whoever
        # calls this): the awaiter adds its own when it raises.
        exc.__traceback__ = None
        return None, exc
    finally:
        if saved is not None:
            state.exception = saved


def _claim(fut: Future, link: "Union[_Awaiting, _ResponseQueue]") -> None:
    """Take ``fut``'s continuation for ``link`` (Future's event-loop
    protocol: ``continuation_key``)."""
    if fut.continuation_key:
        raise OSError(
            errno.EEXIST,
            "{!r} already has a then() callback or another awaiter".format(fut),
        )
    key = link.key = _LINKS.add(link)
    try:
        lib.flux_future_then(fut.handle, -1.0, _on_fulfilled, key)
    except OSError:
        _LINKS.discard(key)
        raise
    fut.continuation_key = key


def _unclaim(fut: Future, link: _Link) -> None:
    _LINKS.discard(link.key)
    if fut.continuation_key == link.key:
        fut.continuation_key = 0


def _handle_address_of(fut: Future) -> int:
    try:
        return _address(lib.flux_future_get_flux(fut.handle))
    except (OSError, ctypes.ArgumentError):
        return 0


# -- awaiting one future ---------------------------------------------------------
class _Awaiting(_FutureBase, _Link):
    """The asyncio future :func:`wrap` returns.

    The first one made for a pending Flux future is also the link C calls
    back; one made while that is pending follows it.  Cancelling one (as
    cancelling the task awaiting it does) lets go of the Flux future at
    once when nothing else awaits it.  (One object per await, set up by
    wrap() rather than an __init__, and settled by _fulfilled_cb itself
    rather than a fulfilled() method: this is the hot path of gather().)"""

    __slots__ = ("key", "_fut", "_leader", "_followers")
    _fut: Optional[Future]
    _leader: "Optional[_Awaiting]"
    _followers: "Optional[List[_Awaiting]]"

    def belongs_to(self, att: Attachment) -> bool:
        fut = self._fut
        return fut is not None and _handle_address_of(fut) == att.handle_address

    def release(self) -> None:
        fut = self._fut
        if fut is not None:
            self._fut = None
            _unclaim(fut, self)

    def abort(self, error: BaseException) -> None:
        self.release()
        for waiting in [self] + (self._followers or []):
            if not waiting.done():
                waiting.set_exception(error)
        self._followers = None

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        if not super().cancel(*args, **kwargs):
            return False
        leader = getattr(self, "_leader", None)
        if leader is not None:  # a follower
            self._leader = None
            followers = leader._followers
            if followers is not None and self in followers:
                followers.remove(self)
            leader._let_go_if_unwanted()
        elif getattr(self, "_fut", None) is not None:
            self._let_go_if_unwanted()
        return True

    def _let_go_if_unwanted(self) -> None:
        if self.done() and not any(not f.done() for f in self._followers or ()):
            self.release()
            self._followers = None


def _no_loop() -> None:
    return None


# The last handle whose RPCs were found to run in an EventLoop's reactor, as
# (a weak reference to the Flux object, one to the loop): a burst of RPCs on
# one handle finds its loop by identity, without asyncio's
# _get_running_loop() (a microsecond, a tenth of what an RPC costs in a
# gather) or a get_reactor() call.  An open handle's reactor never changes;
# the selector's changes only by adopt(), and closing or adopting resets
# this, as does the handle's closing (checked in wrap()).
_fast: "Tuple[Callable[[], Optional[Flux]], Callable[[], Optional[EventLoop]]]" = (
    _no_loop, _no_loop)


def _forget(selector: "FluxSelector") -> None:
    global _fast
    if _fast[1] is selector.loop_ref:
        _fast = (_no_loop, _no_loop)


def _serves(loop: asyncio.AbstractEventLoop, fut: Future) -> bool:
    """True if ``fut``'s continuations run in ``loop``'s reactor."""
    global _fast
    if not isinstance(loop, EventLoop):
        return False
    selector = loop.flux_selector
    owner = getattr(fut, "flux_handle", None)
    if isinstance(owner, Flux):  # an RPC: its handle's reactor
        reactor = owner.get_reactor()
    else:
        try:
            reactor = fut.get_reactor()
        except OSError:
            return False
    if _address(reactor) != _address(selector.reactor):
        return False
    if isinstance(owner, Flux):
        _fast = (weakref.ref(owner), selector.loop_ref)
    return True


def _done(loop: asyncio.AbstractEventLoop, fut: Future) -> "_Awaiting":
    done = _Awaiting(loop=loop)
    value, error = _outcome(fut)
    if error is None:
        done.set_result(value)
    else:
        done.set_exception(error)
    return done


def wrap(fut: Future) -> "asyncio.Future[Any]":
    """An asyncio future for ``fut``: its result is what ``fut.get()``
    returns, its exception what ``fut.get()`` raises.

    A future that is not yet fulfilled needs its handle attached to the
    running loop (see :func:`attach`); wrapping it takes the future's one
    continuation, so it can't also have a then() callback.  Cancelling the
    asyncio future (or the task awaiting it) forgets the Flux future: a late
    response is dropped.  Gather many of these (rather than of coroutines)
    for speed: ``await asyncio.gather(*(aio.wrap(h.rpc(...)) for ...))``.
    """
    if not isinstance(fut, Future):
        raise TypeError("wrap() needs a flux_ctypes Future, not {}".format(type(fut).__name__))
    key = fut.continuation_key
    owner = getattr(fut, "flux_handle", None)
    if not key and owner is not None:
        handle_ref, loop_ref = _fast
        fast_handle: Any = handle_ref()
        # (as CObject documents, _as_parameter_ is DEAD once closed)
        if owner is fast_handle and owner._as_parameter_ is not DEAD:
            fast_loop = loop_ref()
            ptr = fut._as_parameter_
            if fast_loop is not None and ptr is not DEAD:
                # _await_in(fast_loop, fut), inlined: the hot path of gather().
                waiting = _Awaiting(loop=fast_loop)
                waiting._fut = fut
                waiting._leader = None
                waiting._followers = None
                key = waiting.key = new_key()
                _links_store(key, waiting)
                try:
                    rc = unchecked.flux_future_then(
                        ptr, _NO_TIMEOUT, _on_fulfilled, c_void_p(key))
                    err = set_errno(0)
                    if rc < 0:
                        raise failed("flux_future_then", err)
                except OSError:
                    _links_remove(key, None)
                    raise
                fut.continuation_key = key
                return waiting
    loop = _running_loop() or asyncio.get_event_loop()
    if key:
        leader = _link_lookup(key)
        if isinstance(leader, _Awaiting) and leader._fut is fut:
            # A second wrap() of a future already awaited follows the first.
            waiting = _Awaiting(loop=loop)
            waiting._fut = None
            waiting._leader = leader
            if leader._followers is None:
                leader._followers = []
            leader._followers.append(waiting)
            return waiting
        if lib.flux_future_is_ready(fut.handle):
            return _done(loop, fut)
        raise OSError(
            errno.EEXIST,
            "{!r} already has a then() callback or another awaiter".format(fut),
        )
    if not _serves(loop, fut):
        if lib.flux_future_is_ready(fut.handle):
            return _done(loop, fut)  # nothing to wait for
        _event_loop(loop)  # raises TypeError for a loop of another kind
        raise RuntimeError(
            "the Flux handle of {!r} is not attached to this event loop: "
            "use flux_ctypes.aio.attach(handle) first".format(fut)
        )
    return _await_in(loop, fut)


def _await_in(loop: asyncio.AbstractEventLoop, fut: Future) -> "_Awaiting":
    """The awaiter of ``fut``, whose continuation runs in ``loop``."""
    waiting = _Awaiting(loop=loop)
    waiting._fut = fut
    waiting._leader = None
    waiting._followers = None
    # A future fulfilled already calls back at the next reactor iteration.
    _claim(fut, waiting)
    return waiting


Future.await_hook = wrap


# -- awaiting many futures ---------------------------------------------------
class _Gathering(_FutureBase, _Link):
    """The asyncio future :func:`gather` returns: one for many Flux
    futures, registered in _LINKS under one key per Flux future (C calls
    back with the key, which says which future it was)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int,
                 return_exceptions: bool) -> None:
        super().__init__(loop=loop)
        self._slots: Dict[int, Tuple[int, Future]] = {}  # key -> (index, future)
        self._results: List[Any] = [None] * count
        self._return_exceptions = return_exceptions
        self._handles: Optional[Set[int]] = None
        self._adding = True  # while gather() registers the futures

    def add(self, index: int, fut: Future) -> None:
        """Take ``fut``'s continuation for slot ``index``."""
        ptr = fut._as_parameter_  # (CObject's protocol: DEAD once closed)
        if ptr is DEAD:
            raise closed_error(fut)
        key = new_key()
        _links_store(key, self)
        self._slots[key] = (index, fut)
        try:
            rc = unchecked.flux_future_then(ptr, _NO_TIMEOUT, _on_fulfilled, c_void_p(key))
            err = set_errno(0)
            if rc < 0:
                raise failed("flux_future_then", err)
        except BaseException:
            del self._slots[key]
            _links_remove(key, None)
            raise
        fut.continuation_key = key

    def settle(self, key: Optional[int]) -> None:
        """C's callback for the future registered under ``key``."""
        _links_remove(key, None)
        slot = self._slots.pop(key, None) if key is not None else None
        if slot is None:  # released meanwhile
            return
        index, fut = slot
        if fut.continuation_key == key:
            fut.continuation_key = 0
        if state.exception is None and self._slots:
            # the common case inlined (one Python frame per response, as a
            # then() callback has): no exception pending, more to come
            try:
                self._results[index] = fut.get()
                return
            except Exception as exc:
                exc.__traceback__ = None  # it would hold this frame, so fut
                value, error = None, exc  # type: Tuple[Any, Optional[Exception]]
        else:
            value, error = _outcome(fut)
        del fut
        self.put(index, value, error)

    def put(self, index: int, value: Any, error: Optional[Exception]) -> None:
        if error is not None:
            if not self._return_exceptions:
                self.abort(error)
                return
            value = error
        self._results[index] = value
        if not self._slots and not self._adding and not self.done():
            self.set_result(self._results)

    def added_all(self) -> None:
        self._adding = False
        if not self._slots and not self.done():  # nothing was pending
            self.set_result(self._results)

    def fulfilled(self) -> None:  # pragma: no cover - _fulfilled_cb calls settle()
        raise TypeError("a gather is settled by key")

    def release(self) -> None:
        """Let go of every Flux future still pending (late responses are
        dropped, as for a cancelled wrap())."""
        slots, self._slots = self._slots, {}
        for key, (_, fut) in slots.items():
            _links_remove(key, None)
            if fut.continuation_key == key:
                fut.continuation_key = 0

    def abort(self, error: BaseException) -> None:
        self.release()
        if not self.done():
            self.set_exception(error)

    def belongs_to(self, att: Attachment) -> bool:
        handles = self._handles
        if handles is None:  # once: a detach visits this link once per key
            handles = self._handles = {
                _handle_address_of(fut) for _, fut in self._slots.values()}
        return att.handle_address in handles

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        if not super().cancel(*args, **kwargs):
            return False
        self.release()
        return True


def gather(*futures: Future, return_exceptions: bool = False) -> "asyncio.Future[List[Any]]":
    """One asyncio future for many Flux futures: its result is the list of
    what each ``get()`` returns, in order, as ``asyncio.gather(*map(wrap,
    futures))`` gives; the first exception is raised (and the others
    forgotten), or with ``return_exceptions=True`` put in the list.

    The fast path for bulk work: no asyncio future per Flux future, so it
    costs what then() callbacks cost.  Each future's handle must be
    attached to the running loop (see :func:`attach`) unless it is
    fulfilled already; its one continuation is taken, as by wrap().
    Cancelling the result forgets every Flux future still pending.
    """
    loop = _running_loop() or asyncio.get_event_loop()
    gathering = _Gathering(loop, len(futures), return_exceptions)
    served = None  # the last handle found to be served by this loop
    try:
        for index, fut in enumerate(futures):
            if not isinstance(fut, Future):
                raise TypeError("gather() needs flux_ctypes Futures, not {}".format(
                    type(fut).__name__))
            if fut.continuation_key:
                if fut.continuation_key in gathering._slots:
                    raise ValueError("gather(): the same Flux future is given twice")
                raise OSError(errno.EEXIST, "{!r} already has a then() callback or "
                              "another awaiter".format(fut))
            owner = getattr(fut, "flux_handle", None)
            if owner is None or owner is not served:
                if not _serves(loop, fut):
                    if lib.flux_future_is_ready(fut.handle):
                        gathering.put(index, *_outcome(fut))
                        if gathering.done():  # its exception ends the gather
                            return gathering
                        continue
                    _event_loop(loop)  # raises TypeError for a loop of another kind
                    raise RuntimeError(
                        "the Flux handle of {!r} is not attached to this event loop: "
                        "use flux_ctypes.aio.attach(handle) first".format(fut))
                served = owner
            gathering.add(index, fut)
    except BaseException:
        gathering.release()
        raise
    gathering.added_all()
    return gathering


async def result(fut: Future) -> Any:
    """``await aio.result(fut)``: the same as ``await aio.wrap(fut)``."""
    waiting = wrap(fut)
    # Since 3.11 the CancelledError a cancelled task keeps holds this frame
    # (through its traceback): the frame must not hold the Flux future.
    del fut
    return await waiting


# -- streams ---------------------------------------------------------------------
class _Queue(_Link):
    """A buffer C fills (or an error ends) and ``__anext__`` empties."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.key = 0
        self.loop = loop
        self.thread = threading.get_ident()
        self.items: Deque[Tuple[Any, Optional[BaseException]]] = collections.deque()
        self.ended = False
        self.waiter: "Optional[asyncio.Future[None]]" = None

    def push(self, value: Any, error: Optional[BaseException] = None) -> None:
        self.items.append((value, error))
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def next(self) -> Any:
        while not self.items:
            if self.ended:
                raise StopAsyncIteration
            waiter = self.loop.create_future()
            self.waiter = waiter
            await waiter
        value, error = self.items.popleft()
        if error is not None:
            raise error
        return value

    def close(self) -> None:
        raise NotImplementedError

    def abort(self, error: BaseException) -> None:
        self.close()
        self.push(None, error)
        self.end()


class _ResponseQueue(_Queue):
    def __init__(self, loop: asyncio.AbstractEventLoop, fut: Future) -> None:
        super().__init__(loop)
        self.fut = fut
        self.registered = False
        # The attachment serving the future's handle when the stream was made.
        self.att = _ATTACHED.get(_handle_address_of(fut))

    def register(self) -> None:
        if self.att is not None and self.att.closed:
            raise DetachedError("Flux handle detached from its event loop")
        _claim(self.fut, self)
        self.registered = True

    def fulfilled(self) -> None:
        value, error = _outcome(self.fut)
        if error is None:
            self.push(value)
            # The next response (maybe already queued in the future).
            self.fut.reset()
            return
        if not (isinstance(error, OSError) and error.errno == errno.ENODATA):
            self.push(None, error)
        self.close()
        self.end()

    def belongs_to(self, att: Attachment) -> bool:
        return self.registered and _handle_address_of(self.fut) == att.handle_address

    def close(self) -> None:
        if self.registered:
            self.registered = False
            _unclaim(self.fut, self)


def _close_soon(queue: _Queue) -> None:
    """Finalizer of a stream the program dropped (``break`` out of its
    ``async for``): close it in the loop's thread."""
    if threading.get_ident() == queue.thread:
        queue.close()
        return
    try:
        queue.loop.call_soon_threadsafe(queue.close)
    except RuntimeError:  # that loop is closed: nothing will close it better
        pass


class _AsyncStream:
    """Base of the ``async for`` objects: close on exit of an ``async with``
    block, on close(), and when dropped (e.g. after ``break``)."""

    _queue: _Queue

    def _watch(self, queue: _Queue) -> None:
        self._queue = queue
        fin = weakref.finalize(self, _close_soon, queue)
        fin.atexit = False  # no C calls while the interpreter shuts down
        self._finalizer = fin

    def _open(self) -> None:
        raise NotImplementedError

    async def __anext__(self) -> Any:
        self._open()
        return await self._queue.next()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self._finalizer()


class ResponseStream(_AsyncStream):
    """``async for`` over the responses of a streaming RPC (or over each
    fulfillment of any future that is reset between them): each item is
    what ``get()`` returns; the iteration ends at the ENODATA error that
    ends a stream, and raises any other error.  Made by :func:`stream`."""

    def __init__(self, fut: Future) -> None:
        if not isinstance(fut, Future):
            raise TypeError("stream() needs a flux_ctypes Future")
        loop = _running_loop() or asyncio.get_event_loop()
        if not _serves(loop, fut):
            _event_loop(loop)
            raise RuntimeError(
                "the Flux handle of {!r} is not attached to this event loop: "
                "use flux_ctypes.aio.attach(handle) first".format(fut)
            )
        self.future = fut
        self._watch(_ResponseQueue(loop, fut))

    def _open(self) -> None:
        queue = self._queue
        assert isinstance(queue, _ResponseQueue)
        if not queue.registered and not queue.ended:
            queue.register()

    def __aiter__(self) -> "ResponseStream":
        self._open()
        return self

    async def __aenter__(self) -> "ResponseStream":
        self._open()
        return self


def stream(fut: Future) -> ResponseStream:
    """``async for value in aio.stream(h.rpc(topic, payload,
    flags=FLUX_RPC_STREAMING)):`` -- see :class:`ResponseStream`.
    Leaving the loop early forgets the RPC (later responses are dropped);
    it does not cancel it in the service."""
    return ResponseStream(fut)


def rpc_stream(
    flux_handle: Flux, topic: Any, payload: Any = None,
    nodeid: int = FLUX_NODEID_ANY, flags: int = 0,
) -> ResponseStream:
    """Send a streaming RPC and iterate its responses (see :func:`stream`)."""
    return ResponseStream(
        flux_handle.rpc(topic, payload, nodeid, flags | FLUX_RPC_STREAMING)
    )


# -- events ------------------------------------------------------------------------
def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class _EventQueue(_Queue):
    def __init__(self, att: Attachment, topic: str) -> None:
        super().__init__(att.loop)
        self.att = att
        self.topic = topic.encode("utf-8")
        self.watcher: Optional[MessageWatcher] = None
        self.subscribed = False

    def open(self) -> None:
        att = self.att
        h = att.flux_handle
        if h is None or att.closed:
            raise DetachedError("Flux handle detached from its event loop")
        # Events are delivered by topic prefix, as the subscription is.
        watcher = MessageWatcher(
            h, FLUX_MSGTYPE_EVENT, self._on_event,
            _glob_escape(self.topic.decode("utf-8")) + "*",
        )
        att._subscribe(self.topic)
        self.subscribed = True
        watcher.start()
        self.watcher = watcher
        self.key = _LINKS.add(self)  # no C continuation: for detach and leak checks

    def _on_event(self, h: Flux, watcher: MessageWatcher, msg: Message, args: Any) -> None:
        self.push(msg)

    def fulfilled(self) -> None:  # pragma: no cover - no future behind it
        pass

    def belongs_to(self, att: Attachment) -> bool:
        return self.att is att

    def close(self) -> None:
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.destroy()
        _LINKS.discard(self.key)
        if self.subscribed:
            self.subscribed = False
            self.att._unsubscribe(self.topic)
        self.end()


class EventStream(_AsyncStream):
    """``async for msg in aio.events(h, topic):`` -- each event whose topic
    starts with ``topic`` (as ``flux_event_subscribe`` matches), as a
    :class:`~flux_ctypes.message.Message`.  The handle subscribes when the
    iteration (or ``async with`` block) starts and unsubscribes when it ends
    (``break``, an exception, close(), or the end of the ``async with``)."""

    def __init__(self, flux_handle: Flux, topic: str) -> None:
        if not isinstance(topic, str):
            raise TypeError("topic must be a str")
        att = attachment(flux_handle)
        if att is None:
            raise RuntimeError(
                "the Flux handle is not attached to an event loop: "
                "use flux_ctypes.aio.attach(handle) first"
            )
        self.topic = topic
        self._watch(_EventQueue(att, topic))

    def _open(self) -> None:
        queue = self._queue
        assert isinstance(queue, _EventQueue)
        if queue.watcher is None and not queue.ended:
            queue.open()

    def __aiter__(self) -> "EventStream":
        self._open()
        return self

    async def __aenter__(self) -> "EventStream":
        self._open()
        return self


def events(flux_handle: Flux, topic: str) -> EventStream:
    """Events of ``topic`` on an attached handle; see :class:`EventStream`.
    Subscribing and unsubscribing are synchronous calls to the broker."""
    return EventStream(flux_handle, topic)


async def job_events(
    flux_handle: Flux, jobid: Any, eventlog: str = "eventlog", flags: int = 0,
) -> "AsyncIterator[Any]":
    """``async for event in aio.job_events(h, jobid):`` each entry of a
    job's ``eventlog`` (an :class:`flux_ctypes.job.EventLogEvent`), ending
    when the eventlog does (the job's ``clean``, for the main one).
    Leaving the loop early cancels the watch in the job-info service."""
    from flux_ctypes.job import event_watch_async

    fut = event_watch_async(flux_handle, jobid, eventlog=eventlog, flags=flags)
    ended = False
    try:
        while True:
            event = await wrap(fut)  # get() with autoreset: one entry each
            if event is None:
                ended = True
                return
            yield event
    finally:
        if not ended and not fut.closed:
            fut.cancel()
