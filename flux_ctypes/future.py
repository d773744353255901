"""Futures: the result of an RPC or any other asynchronous libflux-core call.

A :class:`Future` owns one reference on a C ``flux_future_t`` and gives it
back exactly once, when collected (:func:`flux_ctypes.lib.own`).  While a
``then()`` callback is pending the future sits in a registry, so
``h.rpc(...).then(cb)`` works with no reference kept by the caller.
"""

import ctypes
import errno
import gc
import os
import sys
import time
import weakref
from ctypes import byref, c_double, c_void_p
from types import MappingProxyType

from flux_ctypes.callbacks import Registry, fail, new_key, raise_pending, state
from flux_ctypes.ffi import args as check
from flux_ctypes.lib import (
    DEAD,
    DEFERRED,
    CObject,
    RawView,
    closed_error,
    failed,
    flux_continuation_f,
    flux_future_t,
    flux_t,
    get_ident,
    lib,
    owned_by_a_wrapper,
    run_deferred,
    set_errno,
    trampoline,
    unchecked,
)
from flux_ctypes.util import decode_json

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Awaitable, Callable, Dict, Generator, List, Mapping, Optional, Tuple

    from flux_ctypes.handle import Flux

__all__ = ["Future", "FutureExt", "WaitAllFuture"]

# then_kwargs of a callback without keyword arguments: shared, so read-only.
_NO_KWARGS: "Mapping[str, Any]" = MappingProxyType({})

try:  # the C functions: signal.getsignal() adds an enum lookup per call,
    # and signal itself imports enum (a few ms of 'import flux_ctypes')
    from _signal import SIGINT as _SIGINT  # type: ignore[import-not-found,unused-ignore]
    from _signal import getsignal as _getsignal  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - other interpreters
    from signal import SIGINT as _SIGINT
    from signal import getsignal as _getsignal
_get_ident = get_ident

# How long one uninterrupted wait in C may last in the main thread.  Python
# runs its SIGINT handler only between waits, so this bounds Ctrl-C latency.
INTERRUPT_SLICE = 0.1

# Futures with a then() callback C may still call.
_THEN: "Registry[Future]" = Registry("then")
# FutureExt objects whose init callback C may call.  C calls it only from
# inside then(), get() or wait_for(), while the caller holds the object, so
# weak references are enough and nothing here can leak.
_INIT: "weakref.WeakValueDictionary[int, FutureExt]" = weakref.WeakValueDictionary()
_INF = float("inf")


def _main_ident() -> "Optional[int]":
    import threading  # here: with functools and collections, a sixth of 'import flux_ctypes'

    return threading.main_thread().ident


# The main thread's ident, read once (threading.main_thread() and .ident are
# two Python frames per synchronous RPC): at the first blocking wait, and
# in a forked child, where the forking thread becomes the main thread.
_main = [None]  # type: List[Optional[int]]
_at_fork = getattr(os, "register_at_fork", None)  # Python 3.7+
if _at_fork is not None:
    _at_fork(after_in_child=lambda: _main.__setitem__(0, _get_ident()))

_SLICE = c_double(INTERRUPT_SLICE)
_FOREVER = c_double(-1.0)  # the C timeout of then() without one


# Each future that waited keeps, until it is destroyed, a private reactor
# whose epoll set watches its handle's descriptor, and Linux lets at most
# 1000 epoll sets watch one descriptor (then libev aborts on a failed
# epoll_ctl).  CPython destroys a future as its last reference goes; an
# interpreter without reference counting (PyPy) only when its collector
# runs, which thousands of synchronous RPCs can outpace.  There, every
# COLLECT_EVERY blocking waits let the collector run first.
COLLECT_EVERY = 0 if sys.implementation.name == "cpython" else 256
_waits = [0]


def count_wait(fptr: "Any") -> None:
    """Count a blocking wait on ``fptr`` where COLLECT_EVERY is set (see
    above).  A fulfilled future (a then() callback's or an awaiter's get())
    does not wait and gets no private reactor: it is not counted, or every
    256 responses of a pipelined burst would pay a full collection of a
    heap holding all the others."""
    if unchecked.flux_future_is_ready(fptr):
        return
    _waits[0] += 1
    if _waits[0] >= COLLECT_EVERY:
        _waits[0] = 0
        gc.collect()


# The same limit reached by holding futures: each future waited on while
# unfulfilled keeps its private reactor (and epoll set) until destroyed, and
# the handle's descriptor is itself an epoll set, so the kernel's limit for
# that nesting (500) is reached by a program holding ~500 such futures on
# one handle, and libev aborts (the official bindings too).  Futures that waited are counted per handle
# while alive; past WAITED_LIMIT the wait is refused with a clear OSError
# instead, after one collection in case some were only unreachable.
WAITED_LIMIT = 480


class _WaitedOn:
    """The futures still alive that waited on one handle.  Not a WeakSet:
    PyPy's counts its members by iterating its set, and the collector's
    callbacks, run during that loop, change the set (RuntimeError in a
    synchronous RPC).  A dict of weak references is counted by len(),
    which may include some dead ones whose callbacks are late: only near
    the limit are they counted one by one."""

    __slots__ = ("refs", "drop", "__weakref__")

    def __init__(self) -> None:
        refs = self.refs = {}  # type: Dict[weakref.ref[Future], None]
        pop = refs.pop

        def drop(ref: "weakref.ref[Future]") -> None:
            pop(ref, None)

        self.drop = drop

    def alive(self) -> int:
        return sum(1 for ref in list(self.refs) if ref() is not None)


# Each handle's _WaitedOn is an attribute of the handle object (a lookup in a
# WeakKeyDictionary makes a weak reference per wait: 2k instructions, a
# fortieth of a synchronous RPC); owners that take no attributes are
# looked up here instead.
_WAITED_ATTR = "_flux_ctypes_waited_on"
_WAITED: "weakref.WeakKeyDictionary[Any, _WaitedOn]" = weakref.WeakKeyDictionary()
_weak_ref = weakref.ref


def _waited_on(owner: "Any") -> "Optional[_WaitedOn]":
    """The futures counted for ``owner``, made at its first wait; None for
    an owner that neither takes attributes nor weak references."""
    waited = _WaitedOn()
    try:
        setattr(owner, _WAITED_ATTR, waited)
    except (AttributeError, TypeError):
        try:
            waited = _WAITED.setdefault(owner, waited)
        except TypeError:
            return None
    return waited


def note_wait(future: "Future") -> None:
    """Count ``future`` among its handle's waited futures (see above);
    raise OSError(EMFILE) rather than let libev abort.  A future fulfilled
    already gets no private reactor (and is not counted)."""
    owner = future._keepalive
    if owner is None or unchecked.flux_future_is_ready(future._as_parameter_):
        return
    future._waited = True
    waited = getattr(owner, _WAITED_ATTR, None)
    if waited is None:
        waited = _waited_on(owner)
        if waited is None:  # nothing to count by
            return
    if len(waited.refs) >= WAITED_LIMIT:
        gc.collect()
        alive = waited.alive()
        if alive >= WAITED_LIMIT:
            future._waited = False
            raise OSError(errno.EMFILE, (
                "{} futures waited on are still alive on this handle: libflux-core "
                "gives each its own epoll set, and the kernel lets at most 500 "
                "watch one handle's (libev would abort). Drop futures once done, or "
                "wait with then() and reactor_run()").format(alive))
    waited.refs[_weak_ref(future, waited.drop)] = None


def must_slice(sliced: bool) -> bool:
    """Whether a blocking wait must go in slices to stay interruptible: in
    the main thread, with a Python SIGINT handler, outside a reactor, for a
    future that can be waited on in slices (see blocking_wait)."""
    if not sliced or state.reactor_depth:
        return False
    main = _main[0]
    if main is None:
        main = _main_ident()
        if _at_fork is not None:  # else (Python 3.6) no hook would update it after a fork
            _main[0] = main
    return _get_ident() == main and callable(_getsignal(_SIGINT))


def blocking_wait(fptr: "Any", timeout: float, sliced: bool) -> None:
    """flux_future_wait_for(), but Ctrl-C in the main thread still works.

    Raises OSError as flux_future_wait_for() fails (ETIMEDOUT, EDEADLOCK...).

    Slicing the wait keeps a timer in the future's private reactor, so that
    reactor never runs dry and flux_future_wait_for() can no longer report
    EDEADLOCK.  Only futures fulfilled by messages on a handle (RPCs) are
    ``sliced``: their reactor always watches the handle, so they never
    deadlock.  Other futures (FutureExt, composites of them) wait in one
    piece, as libflux-core does.
    """
    # No flux_future_is_ready() first: flux_future_wait_for() returns at
    # once for a fulfilled future, and a synchronous RPC is never fulfilled
    # yet, so that call was one more per get().
    if DEFERRED:
        run_deferred()
    if COLLECT_EVERY:
        count_wait(fptr)
    if not must_slice(sliced):
        lib.flux_future_wait_for(fptr, timeout)
        return
    sliced_wait(fptr, timeout)


def sliced_wait(fptr: "Any", timeout: float) -> None:
    """Wait in short slices, so the SIGINT handler (KeyboardInterrupt by
    default) runs between them; called where :func:`must_slice` says so."""
    wait_for = unchecked.flux_future_wait_for  # no converters, no errcheck
    deadline = None if timeout < 0 else time.monotonic() + timeout
    while True:
        if deadline is None:
            step = _SLICE
        else:
            step = c_double(min(INTERRUPT_SLICE, max(0.0, deadline - time.monotonic())))
        try:
            rc = wait_for(fptr, step)
            err = set_errno(0)
        except OSError as exc:  # traced: the checked binding raised
            rc, err = -1, exc.errno or 0
        if rc >= 0:
            return
        if err != errno.ETIMEDOUT:
            raise failed("flux_future_wait_for", err)
        raise_pending()  # a callback run by the wait failed
        if deadline is not None and time.monotonic() >= deadline:
            raise failed("flux_future_wait_for", err)


def future_error(fptr: "Any", exc: OSError) -> BaseException:
    """The exception to raise for a failed future call: an exception a
    callback left behind first, else OSError with the future's error text."""
    raise_pending()
    text = lib.flux_future_error_string(fptr)
    if text:
        return OSError(exc.errno, text.decode("utf-8", "replace"))
    return exc


_then_lookup = _THEN.lookup
_then_remove = _THEN.remove


def _address(ptr: "Any") -> int:
    return int(ctypes.cast(ptr, c_void_p).value or 0)


def _handle_reactor(flux_handle: "Any") -> "Any":
    """The reactor of ``flux_handle`` if it is an open Flux handle."""
    if isinstance(flux_handle, CObject) and flux_handle._ctype is flux_t and not flux_handle.closed:
        return flux_handle.get_reactor()  # type: ignore[attr-defined]
    return None


def _continuation_cb(fptr: "Any", key: "Optional[int]") -> None:
    future = _then_lookup(key)
    if future is None:
        return
    try:
        if not future.stopped:
            args = future.then_args
            if future.then_kwargs is _NO_KWARGS:
                # no f(*(), **{}): that builds a tuple and copies a dict
                if args:
                    future.then_cb(future, *args)
                else:
                    future.then_cb(future)
            else:
                future.then_cb(future, *args, **future.then_kwargs)
    except BaseException as exc:  # nothing may cross back into C
        ptr = future._as_parameter_
        if ptr is DEAD:  # the callback closed its future, then raised
            fail(exc, _handle_reactor(future._keepalive))
        else:
            fail(exc, lib.flux_future_get_reactor(ptr))
            # Don't call back again (and fail again) if the reactor restarts.
            lib.flux_future_reset(ptr)
        future.stopped = True
    finally:
        pending = future._then_pending - 1
        if pending > 0:
            future._then_pending = pending
        else:
            future._then_pending = 0
            _then_remove(key, None)


_on_continuation = trampoline(flux_continuation_f, _continuation_cb, c_void_p, c_void_p)


class Future(CObject):
    """A libflux-core future.

    ``Future(ptr)`` adopts a ``flux_future_t *`` the caller owns (but
    shares, with a reference of its own, the pointer another wrapper's
    ``handle`` gave out); ``Future(other_future)`` shares another Future's
    C future (taking a reference of its own, so either may go first).
    ``keepalive`` (the Flux object, for an RPC) lives until the C future is
    released.  ``fresh=True`` says ``ptr`` comes straight from a C call,
    which skips looking for another owner.

    The C reference is given back exactly once: by ``close()`` or the end
    of a ``with`` block (as the official bindings do), or when the object
    is collected.  A future lives on its handle's reactor, which is not
    thread-safe: when the garbage collector releases one in another thread
    than the one that made it, the release is queued and performed by the
    making thread at its next C object, blocking wait or reactor run (or,
    if that thread has ended, by whichever thread comes next); see
    :func:`flux_ctypes.lib.own`.
    """

    _ctype = flux_future_t
    _c_destroy = "flux_future_destroy"
    _c_incref = "flux_future_incref"
    _thread_bound = True
    _prefixes: "Tuple[str, ...]" = ("flux_future_",)

    then_cb: "Callable[..., Any]"
    _keepalive: "Any" = None
    # Class-level defaults, overridden per object by then()/stop(): most
    # futures never get a callback, and an empty dict per future is 64 bytes.
    stopped = False
    then_args: "Any" = ()
    then_kwargs: "Mapping[str, Any]" = _NO_KWARGS
    _then_key = 0
    _then_pending = 0
    # -- the event-loop protocol --------------------------------------------
    # A C future has one continuation.  ``continuation_key`` says who holds
    # it: 0 nobody; else the key of its holder -- then(), or an event-loop
    # layer that calls flux_future_then() with its own trampoline, sets this
    # to its key, and sets it back to 0 when it lets go.  then() refuses a
    # held future (EEXIST), and so must such a layer.
    continuation_key = 0
    # What ``await future`` awaits: ``await_hook(future)``, which that layer
    # sets when imported.  The core knows nothing else of event loops.
    await_hook: "Optional[Callable[[Future], Awaitable[Any]]]" = None
    # fulfilled by messages on a handle, so blocking waits may be sliced
    # (see blocking_wait); set by RPC and by the Flux methods making futures
    _sliced = False
    # counted among its handle's waited futures (see note_wait)
    _waited = False

    def __init__(
        self, future_handle: "Any", keepalive: "Any" = None, *, fresh: bool = False
    ) -> None:
        if isinstance(future_handle, Future):
            other = future_handle
            optr = other.cptr
            lib.flux_future_incref(optr)
            future_handle = optr
            keepalive = other._keepalive
            self._sliced = other._sliced
        elif not isinstance(future_handle, flux_future_t) or not future_handle:
            raise TypeError("Future needs a flux_future_t pointer or a Future")
        elif fresh is not True and owned_by_a_wrapper(future_handle):
            # another wrapper's .handle: share it, as Future(that_wrapper)
            lib.flux_future_incref(future_handle)
        if keepalive is not None:
            self._keepalive = keepalive
        # ``keepalive`` (the Flux object, for an RPC) lives until the C future
        # is destroyed, so a handle is never closed under its futures.
        self._own(future_handle, keepalive)

    def _keepalive_for_handle(self) -> "Any":
        return self._keepalive

    @property
    def pimpl(self) -> RawView:
        """The C future's functions as methods (``future.pimpl.reset()``),
        as the official bindings' inner wrapper offers them."""
        return RawView(self, self._prefixes, strict=True)

    def close(self) -> None:
        """Give back the C future now; a then() callback won't run."""
        if self._as_parameter_ is DEAD:
            return
        if self._then_key:
            _THEN.discard(self._then_key)
            self._then_pending = 0
        super().close()

    # -- results -----------------------------------------------------------
    def wait_for(self, timeout: float = -1.0) -> "Future":
        """Block until fulfilled, or ``timeout`` seconds (OSError ETIMEDOUT)."""
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        if type(timeout) is not float or timeout != timeout:
            timeout = check.timeout(timeout)
        elif timeout == _INF:
            timeout = -1.0
        if not self._waited:
            note_wait(self)
        try:
            blocking_wait(ptr, timeout, self._sliced)
        except OSError as exc:
            raise future_error(ptr, exc) from None
        return self

    def get(self) -> "Any":
        """Block until fulfilled; raise OSError if it was fulfilled with an
        error.  The base class carries no value, so it returns None."""
        self._get_raw()
        return None

    def _get_raw(self) -> "Optional[int]":
        ptr = self.cptr
        result = c_void_p()
        if not self._waited:
            note_wait(self)
        try:
            blocking_wait(ptr, -1.0, self._sliced)
            lib.flux_future_get(ptr, byref(result))
        except OSError as exc:
            raise future_error(ptr, exc) from None
        return result.value

    def is_ready(self) -> bool:
        return bool(lib.flux_future_is_ready(self.cptr))

    def error_string(self) -> "Optional[str]":
        text = lib.flux_future_error_string(self.cptr)
        return text.decode("utf-8", "replace") if text else None

    def fulfill_error(self, errnum: int = errno.ENOENT, errstr: "Any" = None) -> None:
        ptr = self.cptr
        errnum = check.c_int_arg(errnum, "errnum")
        errstr = check.text(errstr, "errstr", allow_none=True)
        lib.flux_future_fulfill_error(ptr, errnum, errstr)

    # -- callbacks ---------------------------------------------------------
    def then(
        self, callback: "Callable[..., Any]", *args: "Any", timeout: float = -1.0,
        **kwargs: "Any"
    ) -> "Future":
        """Call ``callback(future, *args, **kwargs)`` from the reactor when
        fulfilled (or with ETIMEDOUT after ``timeout`` seconds)."""
        ptr = self._as_parameter_
        if ptr is DEAD:
            raise closed_error(self)
        if self.continuation_key:
            raise OSError(errno.EEXIST, "then callback already exists for this future")
        if callback is None:
            raise ValueError("Callback cannot be None")
        if not callable(callback):
            raise TypeError("callback must be callable, not {}".format(type(callback).__name__))
        if timeout == -1.0:
            ctimeout = _FOREVER
        else:
            ctimeout = c_double(check.timeout(timeout))
        self.then_cb = callback
        self.then_args = args
        self.then_kwargs = kwargs if kwargs else _NO_KWARGS
        key = _THEN.add(self)
        self._then_key = key
        self._then_pending = 1
        # unchecked: the arguments are as C takes them (the key a c_void_p)
        try:
            rc = unchecked.flux_future_then(ptr, ctimeout, _on_continuation, c_void_p(key))
            err = set_errno(0)
            if rc < 0:
                raise failed("flux_future_then", err)
        except OSError:
            _THEN.discard(key)
            self._then_pending = 0
            self._then_key = 0
            raise
        self.continuation_key = key
        return self

    def __await__(self) -> "Generator[Any, None, Any]":
        """``await future`` gives what get() returns (or raises what it
        raises), through the event-loop layer that set ``await_hook``."""
        hook = Future.await_hook
        if hook is None:
            raise TypeError(
                "nothing can await a Flux future yet: import flux_ctypes.aio "
                "(or another event-loop layer) first"
            )
        return hook(self).__await__()

    def reset(self) -> None:
        """Make the future unfulfilled again, to wait for the next response
        of a streaming RPC; a pending then() callback stays registered."""
        ptr = self.cptr
        lib.flux_future_reset(ptr)
        if self._then_key:
            if self._then_pending <= 0:
                _THEN.put(self._then_key, self)
            self._then_pending += 1

    def stop(self) -> None:
        """Stop calling the then() callback (a future can't be cancelled)."""
        self.stopped = True

    # -- context -----------------------------------------------------------
    def get_flux(self) -> "Optional[Flux]":
        from flux_ctypes.handle import Flux

        hptr = lib.flux_future_get_flux(self.cptr)
        if not hptr:
            return None
        return Flux(handle=hptr)

    def set_flux(self, flux_handle: "Optional[Flux]") -> None:
        """Give a future made without one (FutureExt, composites) its
        handle.  A future that has a handle keeps it: an RPC's destructor
        frees its matchtag and message handler on that handle, so changing
        it (or clearing it) would make C free them on the wrong one."""
        ptr = self.cptr
        if isinstance(flux_handle, flux_t):
            hptr = flux_handle if flux_handle else None
        elif flux_handle is None:
            hptr = None
        elif isinstance(flux_handle, CObject) and flux_handle._ctype is flux_t:
            hptr = flux_handle.cptr
        else:
            raise TypeError("flux_handle must be a Flux handle or None, not {}".format(
                type(flux_handle).__name__))
        current = lib.flux_future_get_flux(ptr)
        if current:
            if hptr is not None and _address(hptr) == _address(current):
                return
            raise OSError(errno.EINVAL, "set_flux: this future already belongs to a "
                          "handle, which it must keep until it is destroyed")
        lib.flux_future_set_flux(ptr, hptr)

    def get_reactor(self) -> "Any":
        """The reactor this future's callbacks run on (a Reactor), or None."""
        from flux_ctypes.watchers import Reactor

        ptr = lib.flux_future_get_reactor(self.cptr)
        return Reactor(ptr) if ptr else None

    def incref(self) -> None:
        """Take one more C reference (for code handing the future to C)."""
        lib.flux_future_incref(self.cptr)


class WaitAllFuture(Future):
    """A future fulfilled when every pushed child future is."""

    # its result is not a response message: the raw layer refuses it to
    # functions that read one (flux_rpc_get()...)
    fulfilled_by_message = False

    def __init__(self, children: "Optional[List[Future]]" = None) -> None:
        super().__init__(lib.flux_future_wait_all_create(), fresh=True)
        self.children: List[Future] = []
        for child in children or []:
            self.push(child)

    def push(self, child: Future, name: "Optional[str]" = None) -> None:
        ptr = self.cptr
        check.instance(child, Future, "child")
        cptr = child.cptr
        cname = check.text(name, "name", allow_none=True)
        if not lib.flux_future_get_flux(ptr):
            hptr = lib.flux_future_get_flux(cptr)
            if hptr:
                lib.flux_future_set_flux(ptr, hptr)
        # flux_future_push() adopts the child's reference; take another one
        # for the child's own Python wrapper, which will give back its own.
        lib.flux_future_incref(cptr)
        try:
            lib.flux_future_push(ptr, cname, cptr)
        except OSError:
            lib.flux_future_decref(cptr)
            raise
        self.children.append(child)
        self._sliced = all(c._sliced for c in self.children)


def _init_cb(fptr: "Any", key: "Optional[int]") -> None:
    future = _INIT.get(key)  # type: ignore[arg-type]
    if future is None:
        return
    try:
        future.init_cb(future, *future.init_args, **future.init_kwargs)
    except BaseException as exc:
        ptr = future._as_parameter_
        if ptr is DEAD:
            fail(exc, _handle_reactor(future._keepalive))
        else:
            fail(exc, lib.flux_future_get_reactor(ptr))


_on_init = trampoline(flux_continuation_f, _init_cb, c_void_p, c_void_p)

_libc: "Any" = None


def _load_libc() -> "Any":
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None)
        libc.malloc.restype = c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free_address = int(  # type: ignore[attr-defined]
            ctypes.cast(libc.free, c_void_p).value or 0)
        _libc = libc
    return _libc


def _c_strdup(data: bytes) -> int:
    """A malloc'd copy of ``data`` that C owns and frees with free()."""
    ptr = _load_libc().malloc(len(data) + 1)
    if not ptr:
        raise MemoryError()
    ctypes.memmove(ptr, data + b"\0", len(data) + 1)
    return ptr  # type: ignore[no-any-return]


def _c_free() -> int:
    """The address of libc's free(), for C to free what _c_strdup made."""
    return int(_load_libc().free_address)


class FutureExt(Future):
    """A future made and fulfilled from Python.

    ``init_cb(future, *args, **kwargs)`` runs when the first ``then()`` or
    blocking ``get()`` needs the value; it starts whatever will eventually
    call :meth:`fulfill`.
    """

    # its result is not a response message: the raw layer refuses it to
    # functions that read one (flux_rpc_get()...)
    fulfilled_by_message = False

    def __init__(
        self, init_cb: "Callable[..., Any]", *args: "Any",
        flux_handle: "Optional[Flux]" = None, **kwargs: "Any"
    ) -> None:
        if not callable(init_cb):
            raise TypeError("init_cb must be callable")
        if flux_handle is not None and (
            not isinstance(flux_handle, CObject) or flux_handle._ctype is not flux_t
        ):
            raise TypeError("flux_handle must be a Flux handle or None")
        self.init_cb = init_cb
        self.init_args = args
        self.init_kwargs = kwargs
        key = new_key()
        super().__init__(lib.flux_future_create(_on_init, key), keepalive=flux_handle,
                         fresh=True)
        _INIT[key] = self
        if flux_handle is not None:
            self.set_flux(flux_handle)

    def fulfill(self, result: "Any" = None) -> None:
        """Fulfill with any value json.dumps() accepts."""
        import json  # here: json, with re and enum, is slow to import

        ptr = self.cptr
        data = json.dumps(result).encode("utf-8", "surrogateescape")
        lib.flux_future_fulfill(ptr, _c_strdup(data), _c_free())

    def get(self) -> "Any":
        """The value given to :meth:`fulfill` (None if fulfilled with NULL)."""
        value = self._get_raw()
        if value is None:
            return None
        return decode_json(ctypes.string_at(value).decode("utf-8", "surrogateescape"))



def pending_then() -> int:
    """How many futures wait for a then() callback (for leak checks)."""
    return len(_THEN)



def pending_then_futures() -> "List[Future]":
    """The futures waiting for a then() callback (a snapshot)."""
    return list(_THEN)
