"""asyncio support: a Flux handle driven by an asyncio event loop.

``attach(h)`` watches the handle's poll descriptor (``flux_pollfd``) with
``loop.add_reader``; when it wakes, the handle's own reactor is run without
blocking (``FLUX_REACTOR_NOWAIT``) until it has nothing left to do.  So RPC
responses, message watchers, events and ``then()`` callbacks of the handle
keep working while coroutines ``await``: no thread, no polling::

    async def main():
        with Flux() as h, aio.attach(h):
            print(await aio.wrap(h.rpc("broker.ping", {})))

Any Future can be awaited through :func:`wrap` (the value is what ``get()``
returns; an error raises the OSError ``get()`` raises).  :func:`stream`
iterates the responses of a streaming RPC, :func:`events` the events of a
topic, both with ``async for``.

What runs the reactor:

* Messages (responses, requests, events) wake the loop through the fd.
* Timer watchers made with flux_ctypes are scheduled on the loop
  (``call_at`` their next wakeup), worked out each time the reactor ran.
* Work Python code gives the reactor from outside a Flux callback --
  fulfilling a FutureExt, starting a timer -- announces itself where
  ``flux_ctypes.callbacks.WORK_HOOKS`` exists; otherwise call
  :meth:`Attachment.kick` (or :func:`kick`) after it.
* Timeouts C arms by itself (``then(cb, timeout=...)``) are not seen: use
  ``asyncio.wait_for(aio.wrap(f), timeout)``.  Idle watchers run only
  while something else runs the reactor.

A handle is driven by one loop at a time; attach, detach and await it from
that loop's thread.  A Flux callback that raises is reported to the loop's
exception handler (KeyboardInterrupt and SystemExit propagate).  Leaving
an ``async for`` early (``break``) closes the stream when the iterator is
dropped, at once where objects are reference counted (CPython); use
``async with`` (or ``close()``) to be sure elsewhere (PyPy).
"""

import asyncio
import collections
import ctypes
import errno
import threading
import weakref
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple, Union

from flux_ctypes import callbacks as _callbacks
from flux_ctypes import watchers as _watchers
from flux_ctypes.callbacks import Registry, fail, state
from flux_ctypes.constants import (
    FLUX_MSGTYPE_EVENT,
    FLUX_NODEID_ANY,
    FLUX_POLLERR,
    FLUX_POLLIN,
    FLUX_REACTOR_NOWAIT,
    FLUX_RPC_STREAMING,
)
from flux_ctypes.future import Future
from flux_ctypes.handle import Flux
from flux_ctypes.lib import DEAD, flux_continuation_f, flux_msgcounters_t, lib
from flux_ctypes.message import Message, MessageWatcher

__all__ = [
    "Attachment",
    "DetachedError",
    "EventStream",
    "ResponseStream",
    "attach",
    "attachment",
    "attachment_for_future",
    "detach",
    "events",
    "kick",
    "result",
    "rpc_stream",
    "stream",
    "wrap",
]

if TYPE_CHECKING:  # pragma: no cover
    _FutureBase = asyncio.Future[Any]
else:
    _FutureBase = asyncio.Future

# Reactor iterations run in one go before other tasks get a turn.
BATCH = 256
# Most reactor iterations run between two flux_pollevents() calls.
MAX_BURST = 16
# A run ends after this many iterations in a row that did nothing visible.
# Not 1: a future fulfilled in one iteration calls back in the next, and a
# composite future (wait_all) adds one more internal step before that.
QUIET_RUNS = 2

# Every Flux future, stream and subscription an awaiter waits on: what C
# may call back into (keys are what ``flux_future_then`` stores).
_LINKS: "Registry[_Link]" = Registry("aio")

# Attachments by reactor address.
_ATTACHED: Dict[int, "Attachment"] = {}
_ATTACH_LOCK = threading.Lock()
# The last (reactor pointer object, attachment) looked up: an RPC's handle
# keeps one pointer object for its reactor, so a burst of RPCs on one handle
# finds its attachment by identity.
_last_lookup: "Tuple[Any, Optional[Attachment]]" = (None, None)


def _address(ptr: Any) -> int:
    """The address a ctypes pointer (or a wrapper's) holds (0 for NULL or
    a closed wrapper), cheaply."""
    ptr = getattr(ptr, "_as_parameter_", ptr)
    return ctypes.addressof(ptr.contents) if ptr and ptr is not DEAD else 0


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    # asyncio.get_running_loop() is 3.7+; this one exists from 3.5.3 on.
    return asyncio._get_running_loop()


class DetachedError(RuntimeError):
    """The handle was detached from its loop while something waited on it."""


# -- the attachment --------------------------------------------------------
class Attachment:
    """One Flux handle driven by one asyncio loop; see :func:`attach`.

    Usable as a context manager (``with`` or ``async with``) that detaches
    on exit.
    """

    def __init__(self, flux_handle: Flux, loop: asyncio.AbstractEventLoop) -> None:
        if not isinstance(flux_handle, Flux):
            raise TypeError("attach() needs a flux_ctypes.Flux handle")
        self.loop = loop
        self.flux_handle = flux_handle
        # A reference of our own on the flux_t: the pollfd must stay valid
        # until remove_reader(), even if the caller closes its handle first.
        own = Flux(handle=flux_handle.handle)
        try:
            self._reactor = lib.flux_get_reactor(own.handle)
            self.fd = int(lib.flux_pollfd(own.handle))
        except BaseException:
            own.__exit__(None, None, None)
            raise
        self._own: Optional[Flux] = own
        self._hptr = own.handle
        self.reactor_key = _address(self._reactor)
        self._thread = threading.get_ident()
        self._uses = 1
        self._closed = False
        self._reading = False
        self._driving = False
        self._kicked = False
        self._progress = 0  # bumped whenever a callback of ours ran
        self.runs = 0  # reactor iterations so far (to see that idle is idle)
        self._counters = flux_msgcounters_t()
        self._timer: "Optional[asyncio.TimerHandle]" = None
        self._timer_when = 0.0
        self._subscriptions: Dict[bytes, int] = {}

    def _start(self) -> None:
        self.loop.add_reader(self.fd, self._drive)
        self._reading = True
        self.kick()  # messages may be queued already: the fd won't say so

    # -- driving -----------------------------------------------------------
    def kick(self) -> None:
        """Run the reactor soon, from the loop, even though its fd did not
        wake up (after starting a timer or fulfilling a FutureExt from a
        coroutine).  Safe to call from any thread."""
        if self._kicked or self._closed:
            return
        self._kicked = True
        if threading.get_ident() == self._thread:
            self.loop.call_soon(self._drive)
        else:
            self.loop.call_soon_threadsafe(self._drive)

    def _drive(self) -> None:
        """Run the reactor (NOWAIT) until it has nothing to do, or for at
        most BATCH iterations, after which the rest waits its turn.

        "Nothing to do" can't be asked of the reactor; it is inferred:
        QUIET_RUNS iterations in a row began with no message waiting
        (flux_pollevents), called none of our callbacks, gave the reactor
        no work from Python (see _reactor_has_work), and received no
        message (one may arrive during an iteration and be dispatched by
        it, its edge on the fd consumed, its continuation still to run).
        """
        self._kicked = False
        if self._closed or self._driving:
            return
        hptr = self._hptr
        reactor = self._reactor
        pollevents = lib.flux_pollevents
        run = lib.flux_reactor_run
        finished = False
        quiet = 0
        runs = 0
        received = 0
        burst = 1
        st = state
        self._driving = True
        st.reactor_depth += 1
        try:
            while runs < BATCH:
                events = pollevents(hptr)
                if events & FLUX_POLLERR:
                    self._lost()
                    finished = True
                    return
                busy = events & FLUX_POLLIN
                if not busy and not quiet:
                    received = self._received()
                mark = self._progress
                # Each run dispatches at most one message: while they keep
                # coming, ask flux_pollevents() less often.
                if busy:
                    turns = burst
                    burst = min(2 * burst, MAX_BURST)
                else:
                    turns = burst = 1
                runs += turns
                try:
                    while turns:
                        turns -= 1
                        run(reactor, FLUX_REACTOR_NOWAIT)
                except OSError as exc:
                    self._report(exc)
                if self._closed:
                    finished = True
                    return
                # flux_pollevents() is edge-triggered: POLLIN still set
                # means more messages wait and the fd will not say so again.
                if busy or self._progress != mark:
                    quiet = 0
                    continue
                quiet += 1
                if quiet < QUIET_RUNS:
                    continue
                if self._received() != received:
                    quiet = 0
                    continue
                finished = True
                break
        finally:
            st.reactor_depth -= 1
            self.runs += runs
            self._driving = False
            if self._closed:
                self._release_handle()
            elif not finished:
                self.kick()  # interrupted or out of turns: carry on soon
        self._schedule_timers()

    def _received(self) -> int:
        """Messages the handle has received so far, of any type."""
        counters = self._counters
        lib.flux_get_msgcounters(self._hptr, ctypes.byref(counters))
        return int(counters.request_rx + counters.response_rx
                   + counters.event_rx + counters.control_rx)

    def _report(self, exc: OSError) -> None:
        """A run stopped with an error: the exception a Flux callback left
        behind goes to the loop's exception handler."""
        pending = state.exception
        state.exception = None
        error: BaseException = pending if pending is not None else exc
        if not isinstance(error, Exception):
            raise error  # KeyboardInterrupt, SystemExit: stop the loop
        self.loop.call_exception_handler({
            "message": "exception in a Flux reactor callback",
            "exception": error,
            "flux_handle": self.flux_handle,
        })

    def _lost(self) -> None:
        """The handle reports an error (connection lost): stop watching it
        and fail everything waiting on it."""
        if self._reading:
            self.loop.remove_reader(self.fd)
            self._reading = False
        self._cancel_timer()
        self._close_links(OSError(errno.ECONNRESET, "connection to Flux lost"))

    # -- timers ------------------------------------------------------------
    def _next_timer(self) -> Optional[float]:
        """Seconds until the earliest started flux_ctypes timer of this
        reactor fires, or None."""
        if not lib.has("flux_watcher_is_active"):
            return None
        earliest: Optional[float] = None
        for watcher in _watchers._ACTIVE:
            if isinstance(watcher, MessageWatcher) or watcher.closed:
                continue
            if _address(watcher.flux_handle.get_reactor()) != self.reactor_key:
                continue
            if not lib.flux_watcher_is_active(watcher.handle):
                continue
            wakeup = float(lib.flux_watcher_next_wakeup(watcher.handle))
            if wakeup < 0:  # not a timer or periodic watcher
                continue
            if earliest is None or wakeup < earliest:
                earliest = wakeup
        if earliest is None:
            return None
        # next_wakeup is on the reactor's clock; the reactor just ran, so
        # its cached "now" is current.
        return max(0.0, earliest - float(lib.flux_reactor_now(self._reactor)))

    def _schedule_timers(self) -> None:
        if self._closed:
            return
        delay = self._next_timer()
        if delay is None:
            self._cancel_timer()
            return
        when = self.loop.time() + delay + 1e-4
        if self._timer is not None:
            if abs(self._timer_when - when) < 1e-3:
                return
            self._timer.cancel()
        self._timer_when = when
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._drive()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- lifetime ----------------------------------------------------------
    def detach(self) -> None:
        """Stop driving the handle.  Whatever still waits on it (awaits,
        streams, event subscriptions) raises :class:`DetachedError`."""
        if self._closed:
            return
        self._uses -= 1
        if self._uses > 0:
            return
        global _last_lookup
        with _ATTACH_LOCK:
            if _ATTACHED.get(self.reactor_key) is self:
                del _ATTACHED[self.reactor_key]
                if not _ATTACHED:
                    _hook(False)
            if _last_lookup[1] is self:
                _last_lookup = (None, None)
        self._close_links(DetachedError("Flux handle detached from its event loop"))
        self._closed = True
        if self._reading:
            self.loop.remove_reader(self.fd)
            self._reading = False
        self._cancel_timer()
        if not self._driving:
            self._release_handle()

    def _close_links(self, error: BaseException) -> None:
        for link in _LINKS:  # a copy: abort() unregisters
            if link.att is self:
                link.abort(error)

    def _release_handle(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            own.__exit__(None, None, None)

    @property
    def closed(self) -> bool:
        return self._closed

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
        count = self._subscriptions.get(topic, 0)
        if count == 0:
            lib.flux_event_subscribe(self._hptr, topic)
        self._subscriptions[topic] = count + 1

    def _unsubscribe(self, topic: bytes) -> None:
        count = self._subscriptions.get(topic, 0) - 1
        if count > 0:
            self._subscriptions[topic] = count
            return
        self._subscriptions.pop(topic, None)
        if self._own is not None:
            try:
                lib.flux_event_unsubscribe(self._hptr, topic)
            except OSError:
                pass  # the connection is gone: so is the subscription

    def __repr__(self) -> str:
        return "<flux_ctypes.aio.Attachment fd={} {}>".format(
            self.fd, "detached" if self._closed else "attached"
        )


def attach(
    flux_handle: Flux, loop: Optional[asyncio.AbstractEventLoop] = None
) -> Attachment:
    """Drive ``flux_handle`` from ``loop`` (default: the running loop, else
    the current one).  Call it in the loop's thread.  Attaching a handle
    already attached to the same loop returns the same attachment, which
    then needs one more detach()."""
    if loop is None:
        loop = _running_loop() or asyncio.get_event_loop()
    reactor_key = _address(flux_handle.get_reactor())
    with _ATTACH_LOCK:
        current = _ATTACHED.get(reactor_key)
        if current is not None:
            if current.loop is not loop:
                raise RuntimeError("this Flux handle is already attached to another event loop")
            if _address(current._hptr) != _address(flux_handle.handle):
                raise RuntimeError(
                    "another Flux handle sharing this handle's reactor is attached"
                )
            current._uses += 1
            return current
        att = Attachment(flux_handle, loop)
        if not _ATTACHED:
            _hook(True)
        _ATTACHED[reactor_key] = att
    try:
        att._start()
    except BaseException:
        att.detach()
        raise
    return att


def attachment(flux_handle: Flux) -> Optional[Attachment]:
    """The attachment driving ``flux_handle``, or None."""
    return _ATTACHED.get(_address(flux_handle.get_reactor()))


def detach(flux_handle: Flux) -> None:
    """Undo one :func:`attach` of ``flux_handle`` (no-op if not attached)."""
    att = attachment(flux_handle)
    if att is not None:
        att.detach()


def kick(flux_handle: Flux) -> None:
    """:meth:`Attachment.kick` for the attachment of ``flux_handle``."""
    att = attachment(flux_handle)
    if att is not None:
        att.kick()


def _reactor_has_work(reactor: Any) -> None:
    """Python code gave ``reactor`` work its fd won't announce (fulfilled a
    future, started a watcher): run it soon, or keep running it."""
    att = _ATTACHED.get(_address(reactor)) if reactor else None
    if att is None:
        return
    if att._driving and threading.get_ident() == att._thread:
        att._progress += 1  # from a callback of this very run: go on
    else:
        att.kick()


def _hook(on: bool) -> None:
    """Be in flux_ctypes.callbacks.WORK_HOOKS while anything is attached.

    Where present, it is called by FutureExt.fulfill(),
    Future.fulfill_error()/then()/reset() and Watcher.start(); without it,
    call Attachment.kick() after those (from a coroutine)."""
    hooks = getattr(_callbacks, "WORK_HOOKS", None)
    if not isinstance(hooks, list):
        return
    if on and _reactor_has_work not in hooks:
        hooks.append(_reactor_has_work)
    elif not on and _reactor_has_work in hooks:
        hooks.remove(_reactor_has_work)


def attachment_for_future(fut: Future) -> Optional[Attachment]:
    """The attachment driving ``fut``'s reactor, or None."""
    global _last_lookup
    owner = getattr(fut, "flux_handle", None)
    if isinstance(owner, Flux) and owner._reactor is not None:
        reactor = owner._reactor  # an RPC: its handle's reactor, cached
        last_reactor, att = _last_lookup
        if last_reactor is reactor and att is not None and not att._closed:
            return att
        att = _ATTACHED.get(_address(reactor))
        _last_lookup = (reactor, att)
        return att
    reactor = lib.flux_future_get_reactor(fut.handle)
    return _ATTACHED.get(_address(reactor)) if reactor else None


def _attachment_of_future(fut: Future) -> Attachment:
    att = attachment_for_future(fut)
    if att is None:
        raise RuntimeError(
            "the Flux handle of {!r} is not attached to an event loop: "
            "use flux_ctypes.aio.attach(handle) first".format(fut)
        )
    running = _running_loop()
    if running is not None and running is not att.loop:
        raise RuntimeError("the Flux handle of this future is attached to another event loop")
    return att


# -- callbacks from C ------------------------------------------------------
class _Link:
    """Something registered in ``_LINKS`` for C to call back."""

    __slots__ = ()
    key: int
    att: Attachment

    def fulfilled(self) -> None:
        raise NotImplementedError

    def abort(self, error: BaseException) -> None:
        raise NotImplementedError


def _fulfilled_cb(fptr: Any, key: Optional[int]) -> None:
    link = _LINKS.get(key)
    if link is None:  # cancelled or detached meanwhile: drop it
        return
    try:
        link.fulfilled()
    except BaseException as exc:  # nothing may cross back into C
        fail(exc, lib.flux_future_get_reactor(fptr))


_on_fulfilled = flux_continuation_f(_fulfilled_cb)  # made once


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


def _then(fut: Future, link: "Union[_Awaiting, _Queue]") -> None:
    """Register ``link`` for the continuation of ``fut``."""
    if getattr(fut, "_then_key", 0) or getattr(fut, "_aio_key", 0):
        raise OSError(
            errno.EEXIST,
            "{!r} already has a then() callback or another awaiter".format(fut),
        )
    link.key = _LINKS.add(link)
    try:
        lib.flux_future_then(fut.handle, -1.0, _on_fulfilled, link.key)
    except OSError:
        _LINKS.discard(link.key)
        raise
    # Future.then() checks this (see the proposed future.py change), so a
    # then() callback can't silently replace this continuation.
    setattr(fut, "_aio_key", link.key)


def _unthen(fut: Future, link: _Link) -> None:
    _LINKS.discard(link.key)
    if getattr(fut, "_aio_key", 0) == link.key:
        setattr(fut, "_aio_key", 0)


# -- awaiting one future ---------------------------------------------------
class _Awaiting(_FutureBase, _Link):
    """The asyncio future :func:`wrap` returns.

    The first one made for a pending Flux future is also the link C calls
    back; one made while that is pending follows it.  Cancelling one (as
    cancelling the task awaiting it does) lets go of the Flux future at
    once when nothing else awaits it.  (One object per await, set up by
    wrap() rather than an __init__: this is the hot path of gather().)"""

    __slots__ = ("key", "att", "_fut", "_leader", "_followers")
    _fut: Optional[Future]
    _leader: "Optional[_Awaiting]"
    _followers: "Optional[List[_Awaiting]]"

    def fulfilled(self) -> None:
        fut = self._fut
        if fut is None:
            return
        value, error = _outcome(fut)
        self._fut = None
        _unthen(fut, self)
        self.att._progress += 1
        if not self.done():
            if error is None:
                self.set_result(value)
            else:
                self.set_exception(error)
        followers = self._followers
        if followers is not None:
            self._followers = None
            for waiting in followers:
                if waiting.done():
                    continue
                if error is None:
                    waiting.set_result(value)
                else:
                    waiting.set_exception(error)

    def release(self) -> None:
        fut = self._fut
        if fut is not None:
            self._fut = None
            _unthen(fut, self)

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


def wrap(fut: Future) -> "asyncio.Future[Any]":
    """An asyncio future for ``fut``: its result is what ``fut.get()``
    returns, its exception what ``fut.get()`` raises.

    A future that is not yet fulfilled needs its handle attached (see
    :func:`attach`); wrapping it takes the future's one continuation slot,
    so it can't also have a then() callback.  Cancelling the asyncio future
    (or the task awaiting it) forgets the Flux future: a late response is
    dropped.  Gather many of these (rather than of coroutines) for speed:
    ``await asyncio.gather(*(aio.wrap(h.rpc(...)) for ...))``.
    """
    if not isinstance(fut, Future):
        raise TypeError("wrap() needs a flux_ctypes Future, not {}".format(type(fut).__name__))
    att = attachment_for_future(fut)
    if att is None:
        if not lib.flux_future_is_ready(fut.handle):
            _attachment_of_future(fut)  # raises the explanation
        # Nothing to wait for, so no loop to drive anything.
        done = _Awaiting(loop=_running_loop() or asyncio.get_event_loop())
        value, error = _outcome(fut)
        if error is None:
            done.set_result(value)
        else:
            done.set_exception(error)
        return done
    running = _running_loop()
    if running is not None and running is not att.loop:
        raise RuntimeError("the Flux handle of this future is attached to another event loop")
    waiting = _Awaiting(loop=att.loop)
    waiting.att = att
    key = getattr(fut, "_aio_key", 0)
    leader = _LINKS.get(key) if key else None
    if isinstance(leader, _Awaiting) and leader._fut is fut:
        # A second wrap() of a future already awaited follows the first.
        waiting._fut = None
        waiting._leader = leader
        if leader._followers is None:
            leader._followers = []
        leader._followers.append(waiting)
        return waiting
    waiting._fut = fut
    waiting._leader = None
    waiting._followers = None
    if key or getattr(fut, "_then_key", 0):
        _then(fut, waiting)  # raises EEXIST
    # _then(fut, waiting), inlined: this is the hot path of gather().
    key = waiting.key = _LINKS.add(waiting)
    try:
        lib.flux_future_then(fut.handle, -1.0, _on_fulfilled, key)
    except OSError:
        _LINKS.discard(key)
        raise
    fut._aio_key = key  # type: ignore[attr-defined]
    # A future fulfilled already (or by a FutureExt's init callback, which
    # flux_future_then() runs) calls back at the next reactor run.
    att.kick()
    return waiting


async def result(fut: Future) -> Any:
    """``await aio.result(fut)``: the same as ``await aio.wrap(fut)``."""
    waiting = wrap(fut)
    # Since 3.11 the CancelledError a cancelled task keeps holds this frame
    # (through its traceback): the frame must not hold the Flux future.
    del fut
    return await waiting


# -- streams -----------------------------------------------------------------
class _Queue(_Link):
    """A buffer C fills (or an error ends) and ``__anext__`` empties."""

    def __init__(self, att: Attachment) -> None:
        self.key = 0
        self.att = att
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
        self.att._progress += 1
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def next(self) -> Any:
        while not self.items:
            if self.ended:
                raise StopAsyncIteration
            waiter = self.att.loop.create_future()
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
    def __init__(self, att: Attachment, fut: Future) -> None:
        super().__init__(att)
        self.fut = fut
        self.registered = False

    def register(self) -> None:
        if self.att.closed:
            raise DetachedError("Flux handle detached from its event loop")
        _then(self.fut, self)
        self.registered = True
        self.att.kick()

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

    def close(self) -> None:
        if self.registered:
            self.registered = False
            _unthen(self.fut, self)


def _close_soon(queue: _Queue) -> None:
    """Finalizer of a stream the program dropped (``break`` out of its
    ``async for``): close it in the loop's thread."""
    att = queue.att
    if att.closed:
        return
    if threading.get_ident() == att._thread:
        queue.close()
        return
    try:
        att.loop.call_soon_threadsafe(queue.close)
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

    def __aiter__(self) -> "_AsyncStream":
        self._open()
        return self

    async def __anext__(self) -> Any:
        self._open()
        return await self._queue.next()

    async def __aenter__(self) -> "_AsyncStream":
        self._open()
        return self

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
        self.future = fut
        self._watch(_ResponseQueue(_attachment_of_future(fut), fut))

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


# -- events ------------------------------------------------------------------
def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class _EventQueue(_Queue):
    def __init__(self, att: Attachment, topic: str) -> None:
        super().__init__(att)
        self.topic = topic.encode("utf-8")
        self.watcher: Optional[MessageWatcher] = None
        self.subscribed = False

    def open(self) -> None:
        att = self.att
        own = att._own
        if own is None or att.closed:
            raise DetachedError("Flux handle detached from its event loop")
        # Events are delivered by topic prefix, as the subscription is.
        watcher = MessageWatcher(
            own, FLUX_MSGTYPE_EVENT, self._on_event,
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
