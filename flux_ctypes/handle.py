"""The Flux handle: a connection to a Flux instance (``flux_t``)."""

import ctypes
import errno
import weakref
from ctypes import byref, c_uint32, c_void_p

from flux_ctypes import callbacks
from flux_ctypes.constants import (
    FLUX_MATCHTAG_NONE,
    FLUX_MSGTYPE_ANY,
    FLUX_MSGTYPE_EVENT,
    FLUX_NODEID_ANY,
    FLUX_O_CLONE,
    FLUX_O_NONBLOCK,
)
from flux_ctypes.future import Future
from flux_ctypes.ffi import args as check
from flux_ctypes.future import pending_then_futures as callbacks_then
from flux_ctypes.lib import (
    DEAD,
    CObject,
    disown,
    failed,
    run_deferred,
    set_errno,
    unchecked,
    UnknownFunctionError,
    closed_error,
    destructor,
    find_function,
    flux_error_t,
    flux_match,
    flux_t,
    lib,
    raw_call,
)
from flux_ctypes.message import Message, MessageWatcher
from flux_ctypes.rpc import RPC
from flux_ctypes.util import decode_text, encode_payload, encode_text, encode_topic
from flux_ctypes.watchers import (
    CheckWatcher,
    Reactor,
    reactor_arg,
    FDWatcher,
    IdleWatcher,
    PrepareWatcher,
    SignalWatcher,
    TimerWatcher,
    Watcher,
)

try:  # signal itself imports enum, for a few ms
    from _signal import SIGINT, getsignal, signal  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - other interpreters
    from signal import SIGINT, getsignal, signal

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Optional, Set

__all__ = ["Flux"]


# What ``Flux._as_parameter_`` becomes once the handle is closed (kept under
# its old name; every closed wrapper shares it).
CLOSED = DEAD


def _rpc_future(ptr: "Any", flux_handle: "Flux") -> Future:
    """A Future for a C call that is an RPC underneath."""
    fut = Future(ptr, flux_handle, fresh=True)
    fut._sliced = True
    return fut


class _BarrierRPC(RPC):
    """barrier.enter without flux_barrier(): say why ENOSYS happened."""

    def get_str(self) -> "Optional[str]":
        try:
            return super().get_str()
        except OSError as exc:
            if exc.errno != errno.ENOSYS:
                raise
            raise OSError(
                errno.ENOSYS,
                "barrier: this Flux instance has no barrier service "
                "(flux-core 0.78 removed flux_barrier() and the barrier module)",
            ) from None


class Flux(CObject):
    """A connection to a Flux instance.

    ``Flux()`` connects to the enclosing instance (``FLUX_URI``), ``Flux(url)``
    to the given URI.  ``Flux(handle=ptr)`` wraps a ``flux_t *`` (or the
    address of one, as flux's module loader passes it: an address is
    trusted) owned by someone else, taking a reference of its own.

    The reference is given back exactly once: by ``close()``, at the end of
    a ``with`` block, or when the object is collected.  Closing a handle
    first destroys the watchers made on it and the futures waiting on it
    with ``then()`` (their callbacks will not run), so nothing keyed by its
    C addresses outlives it; futures you hold keep the C handle alive
    until they go.  Closed from a callback of its own ``reactor_run()``,
    the reference is given back when that returns.

    A ``flux_t`` is not thread-safe: a handle the garbage collector releases
    in another thread than the one that opened it is closed by the opening
    thread, at its next C object, blocking wait or reactor run (at once if
    that thread has ended); see :func:`flux_ctypes.lib.own`.
    """

    # Per-thread reactor depth and pending callback exception.  A class
    # attribute, since callbacks may see another Flux object for the same
    # flux_t than the one running the reactor.
    tls = callbacks.state

    _ctype = flux_t
    _c_destroy = "flux_close"  # flux_close() is flux_decref()
    _c_incref = "flux_incref"
    _thread_bound = True
    _reactor: "Optional[Reactor]" = None
    _runs = 0  # depth of this object's reactor_run()
    _close_deferred = False

    # the watchers add_watcher() keeps, and those made on this handle (which
    # close() closes first): made with the first one (most handles have none)
    _active_watchers: "Optional[Set[Watcher]]" = None
    _dependents: "Optional[weakref.WeakSet[Watcher]]" = None

    def __init__(self, url: "Any" = None, flags: int = 0, handle: "Any" = None) -> None:
        self._cached_config: Any = None
        if (type(flags) is not int or flags & FLUX_O_CLONE
                or not -0x80000000 <= flags <= 0x7FFFFFFF):
            flags = check.handle_flags(flags, "flags")  # converts, or says why not
        if handle is not None:
            if isinstance(handle, Flux):
                handle = handle.cptr
            elif isinstance(handle, int) and not isinstance(handle, bool) and handle > 0:
                handle = ctypes.cast(c_void_p(handle), flux_t)
            if not isinstance(handle, flux_t) or not handle:
                raise TypeError("handle must be a non-NULL flux_t pointer")
            ptr = lib.flux_incref(handle)
        else:
            error = flux_error_t()
            uri = None if url is None else encode_text(url, "url")
            open_ex = unchecked.flux_open_ex  # a missing library raises here, unwrapped
            ptr = open_ex(uri, flags, byref(error))  # each argument as C takes it
            err = set_errno(0)
            if not ptr:
                text = decode_text(error.text)
                msg = "Unable to connect to Flux"
                raise OSError(err, msg + ": " + text if text else msg)
        self._own(ptr)

    def _add_dependent(self, watcher: Watcher) -> None:
        """``watcher`` was made on this handle: close() closes it first."""
        dependents = self._dependents
        if dependents is None:
            dependents = self._dependents = weakref.WeakSet()
        dependents.add(watcher)

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Close the connection now (idempotent): first the watchers made
        on it and the futures waiting on it with then(), then the handle."""
        if self._as_parameter_ is DEAD:
            return
        if self._dependents is not None:
            for watcher in list(self._dependents):
                watcher.close()
        for future in callbacks_then():
            if future._keepalive is self:
                future.close()
        if self._active_watchers is not None:
            self._active_watchers.clear()
        if self._reactor is not None:
            self._reactor.close()
            self._reactor = None
        if self._runs:
            # closed from a callback of its own reactor_run(): freeing the
            # flux_t now would free the reactor C is running; _run() gives
            # the reference back when the reactor returns
            self._as_parameter_ = DEAD
            self._close_deferred = True
            return
        super().close()

    def __enter__(self) -> "Flux":
        return self

    def __getattr__(self, name: str) -> "Any":
        """``h.foo(...)`` calls libflux-core's ``flux_foo``, passing this
        handle first when that function takes a ``flux_t *`` first.  The
        arguments are checked as the table declares them (see
        :func:`flux_ctypes.lib.raw_call`); this handle is passed as itself,
        so a call kept after close() is refused, never made on freed
        memory."""
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        fn = find_function(name)
        if fn is None:
            raise UnknownFunctionError(
                "'Flux' object has no attribute '{0}' (and libflux-core has no "
                "flux_{0} in flux_ctypes' table)".format(
                    name[5:] if name.startswith("flux_") else name
                )
            )
        import functools  # here: the raw layer is seldom used

        if fn.argtypes and fn.argtypes[0] is flux_t:
            return functools.partial(raw_call, fn, self)
        return functools.partial(raw_call, fn)

    # -- reactor state (per thread) -----------------------------------------
    @classmethod
    def reactor_running(cls) -> bool:
        return cls.tls.reactor_depth > 0

    @classmethod
    def reactor_enter(cls) -> None:
        cls.tls.reactor_depth += 1

    @classmethod
    def reactor_exit(cls) -> None:
        cls.tls.reactor_depth -= 1

    def in_reactor(self) -> "_InReactor":
        """A context manager: reactor_enter(), then reactor_exit() at its end."""
        return _InReactor(self)

    @classmethod
    def set_exception(cls, exception: "Optional[BaseException]") -> "Optional[BaseException]":
        """Set this thread's pending exception; return the previous one."""
        prev = cls.tls.exception
        cls.tls.exception = exception
        return prev

    @classmethod
    def raise_if_exception(cls) -> None:
        """Re-raise (and clear) the exception a callback left pending."""
        callbacks.raise_pending()

    # -- reactor -----------------------------------------------------------
    def get_reactor(self) -> Reactor:
        """This handle's reactor (one Reactor object, holding its own
        reference; closed with the handle)."""
        reactor = self._reactor
        if reactor is None or self._as_parameter_ is DEAD:
            reactor = self._reactor = Reactor(lib.flux_get_reactor(self.cptr))
        return reactor

    def reactor_run(self, reactor: "Any" = None, flags: int = 0) -> int:
        """Run the reactor until stopped or out of active watchers; re-raise
        any exception a callback raised.  In the main thread, Ctrl-C stops
        it and raises KeyboardInterrupt."""
        reactor = self.get_reactor() if reactor is None else reactor_arg(reactor)
        flags = check.c_int_arg(flags, "flags")
        run_deferred()
        import threading  # here, not at import: with functools and collections it is slow

        if threading.current_thread() is not threading.main_thread():
            return self._run(reactor, flags)
        interrupted = []

        def on_sigint(handle: "Flux", watcher: Watcher, signum: int, args: "Any") -> None:
            interrupted.append(signum)
            lib.flux_reactor_stop(reactor)

        previous = getsignal(SIGINT)
        sigint = SignalWatcher(self, SIGINT, on_sigint)
        try:
            # Unreferenced: it must not keep the reactor running once the
            # user's watchers are done, and ev_run() does not count it.
            try:
                sigint.start().unref()
            except OSError:
                pass  # SIGINT is watched from another reactor (libev allows one)
            rc = self._run(reactor, flags)
        finally:
            sigint.destroy()
            if previous is not None:
                signal(SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt
        return rc

    def _run(self, reactor: "Any", flags: int) -> int:
        self._runs += 1
        try:
            with self.in_reactor():
                try:
                    rc = lib.flux_reactor_run(reactor, flags)
                except OSError:
                    callbacks.raise_pending()
                    raise
        finally:
            self._runs -= 1
            if self._close_deferred and not self._runs:
                self._close_deferred = False
                disown(self)
        callbacks.raise_pending()
        return int(rc)

    def reactor_stop(self, reactor: "Any" = None) -> None:
        lib.flux_reactor_stop(self.get_reactor() if reactor is None else reactor_arg(reactor))

    def reactor_stop_error(self, reactor: "Any" = None) -> None:
        lib.flux_reactor_stop_error(
            self.get_reactor() if reactor is None else reactor_arg(reactor))

    # -- watchers ----------------------------------------------------------
    def add_watcher(self, watcher: Watcher) -> Watcher:
        """Keep a reference to ``watcher`` for the life of this handle."""
        check.instance(watcher, Watcher, "watcher")
        if self._active_watchers is None:
            self._active_watchers = set()
        self._active_watchers.add(watcher)
        return watcher

    def del_watcher(self, watcher: Watcher) -> None:
        if self._active_watchers is not None:
            self._active_watchers.discard(watcher)

    def timer_watcher_create(
        self, after: float, callback: "Callable[..., Any]", repeat: float = 0.0,
        args: "Any" = None,
    ) -> TimerWatcher:
        return TimerWatcher(self, after, callback, repeat=repeat, args=args)

    def fd_watcher_create(
        self, fd: int, callback: "Callable[..., Any]", events: "Optional[int]" = None,
        args: "Any" = None,
    ) -> FDWatcher:
        return FDWatcher(self, fd, events, callback, args=args)

    def signal_watcher_create(
        self, signum: int, callback: "Callable[..., Any]", args: "Any" = None
    ) -> SignalWatcher:
        return SignalWatcher(self, signum, callback, args=args)

    def prepare_watcher_create(
        self, callback: "Callable[..., Any]", args: "Any" = None
    ) -> PrepareWatcher:
        return PrepareWatcher(self, callback, args=args)

    def check_watcher_create(
        self, callback: "Callable[..., Any]", args: "Any" = None
    ) -> CheckWatcher:
        return CheckWatcher(self, callback, args=args)

    def idle_watcher_create(
        self, callback: "Optional[Callable[..., Any]]" = None, args: "Any" = None
    ) -> IdleWatcher:
        return IdleWatcher(self, callback, args=args)

    def msg_watcher_create(
        self,
        callback: "Callable[..., Any]",
        type_mask: int = FLUX_MSGTYPE_ANY,
        topic_glob: "Any" = "*",
        args: "Any" = None,
        match_tag: int = FLUX_MATCHTAG_NONE,
        rolemask: "Optional[int]" = None,
    ) -> MessageWatcher:
        return MessageWatcher(
            self, type_mask, callback, topic_glob, match_tag, rolemask, args
        )

    # -- messages ----------------------------------------------------------
    def send(self, message: Message, flags: int = 0) -> int:
        hptr = self._as_parameter_  # self.cptr, without a property call
        if hptr is DEAD:
            raise closed_error(self)
        if type(message) is not Message:
            check.instance(message, Message, "message")
        # not message.cptr: a message lent to a callback need not take a
        # reference of its own to be sent (C takes one if it keeps it)
        mptr = message._as_parameter_
        if mptr is DEAD:
            raise closed_error(message)
        if type(flags) is not int or not -0x80000000 <= flags <= 0x7FFFFFFF:
            flags = check.c_int_arg(flags, "flags")
        rc = unchecked.flux_send(hptr, mptr, flags)  # each checked above
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_send", err)
        return int(rc)

    def recv(
        self,
        type_mask: int = FLUX_MSGTYPE_ANY,
        match_tag: int = FLUX_MATCHTAG_NONE,
        topic_glob: "Any" = None,
        flags: int = 0,
    ) -> "Optional[Message]":
        """The next matching message; None when ``flags`` has
        FLUX_O_NONBLOCK and none is waiting."""
        hptr = self.cptr
        glob = None if topic_glob is None else encode_topic(topic_glob)
        match = flux_match(
            check.c_int_arg(type_mask, "type_mask"), check.uint32(match_tag, "match_tag"), glob)
        flags = check.c_int_arg(flags, "flags")
        try:
            ptr = lib.flux_recv(hptr, match, flags)
        except OSError as exc:
            if flags & FLUX_O_NONBLOCK and exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return None
            raise
        return Message._adopt(ptr)

    def respond(self, message: Message, payload: "Any" = None) -> int:
        hptr = self._as_parameter_  # as in send()
        if hptr is DEAD:
            raise closed_error(self)
        if type(message) is not Message:
            check.instance(message, Message, "message")
        mptr = message._as_parameter_
        if mptr is DEAD:
            raise closed_error(message)
        rc = unchecked.flux_respond(hptr, mptr, encode_payload(payload))
        err = set_errno(0)
        if rc < 0:
            raise failed("flux_respond", err)
        return int(rc)

    def rpc(
        self, topic: "Any", payload: "Any" = None, nodeid: int = FLUX_NODEID_ANY,
        flags: int = 0,
    ) -> RPC:
        return RPC(self, topic, payload, nodeid, flags)

    # -- events ------------------------------------------------------------
    def event_create(self, topic: "Any", payload: "Any" = None) -> Message:
        return Message.from_event_encode(topic, payload)

    def event_send(self, topic: "Any", payload: "Any" = None) -> int:
        cls = type(self)
        if cls.send is not _send or cls.event_create is not _event_create:
            # a subclass's own send() or event_create() is used, as it was
            return self.send(self.event_create(topic, payload))
        # self.send(self.event_create(topic, payload)), without the Message
        # wrapper: the event is made, sent and given back here
        topic_b = encode_topic(topic)
        payload_b = encode_payload(payload)
        hptr = self._as_parameter_
        if hptr is DEAD:
            raise closed_error(self)
        ptr = unchecked.flux_event_encode(topic_b, payload_b)
        err = set_errno(0)
        if not ptr:
            raise failed("flux_event_encode", err)
        try:
            rc = unchecked.flux_send(hptr, ptr, 0)
            err = set_errno(0)
        finally:
            destructor("flux_msg_decref")(ptr)
        if rc < 0:
            raise failed("flux_send", err)
        return int(rc)

    def event_recv(self, topic: "Any" = None) -> "Optional[Message]":
        return self.recv(type_mask=FLUX_MSGTYPE_EVENT, topic_glob=topic)

    def event_subscribe(self, topic: "Any") -> int:
        hptr = self.cptr
        return int(lib.flux_event_subscribe(hptr, encode_topic(topic)))

    def event_unsubscribe(self, topic: "Any") -> int:
        hptr = self.cptr
        return int(lib.flux_event_unsubscribe(hptr, encode_topic(topic)))

    # -- misc --------------------------------------------------------------
    def log(self, level: int, message: "Any") -> int:
        """Log ``message`` (str or bytes) at syslog ``level``; a '%' in it
        is logged literally."""
        hptr = self.cptr
        level = check.c_int_arg(level, "level")
        return int(lib.flux_log(hptr, level, b"%s", encode_text(message, "message")))

    def get_rank(self) -> int:
        rank = c_uint32()
        lib.flux_get_rank(self.cptr, byref(rank))
        return rank.value

    def attr_get(self, attr_name: "Any") -> str:
        hptr = self.cptr
        return decode_text(lib.flux_attr_get(hptr, encode_text(attr_name, "attr"))) or ""

    def attr_set(self, attr: str, value: str) -> None:
        if not isinstance(attr, str):
            raise ValueError("Attribute name must be a string")
        if not isinstance(value, str):
            raise ValueError("Attribute value must be a string")
        hptr = self.cptr
        lib.flux_attr_set(hptr, encode_text(attr, "attr"), encode_text(value, "value"))

    def attr_remove(self, attr: str) -> None:
        if not isinstance(attr, str):
            raise ValueError("Attribute name must be a string")
        self.rpc("attr.rm", {"name": attr}).get()

    def conf_get(self, key: "Optional[str]" = None, default: "Any" = None, update: bool = False) -> "Any":
        """The instance configuration (fetched once, then cached), or the
        value at dotted ``key`` in it, or ``default``."""
        if key is not None and not isinstance(key, str):
            raise TypeError("key must be a str or None, not {}".format(type(key).__name__))
        if update or self._cached_config is None:
            self._cached_config = self.rpc("config.get").get()
        if key is None:
            return self._cached_config
        node = self._cached_config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def service_register(self, name: "Any") -> Future:
        hptr = self.cptr
        return _rpc_future(lib.flux_service_register(hptr, encode_text(name, "name")), self)

    def service_unregister(self, name: "Any") -> Future:
        hptr = self.cptr
        return _rpc_future(lib.flux_service_unregister(hptr, encode_text(name, "name")), self)

    def barrier(self, name: "Any", nprocs: int) -> Future:
        """Enter barrier ``name`` with ``nprocs`` participants.

        libflux-core 0.78 removed flux_barrier() (and the broker module that
        served it).  Where the library lacks it, a one-process barrier is
        fulfilled at once and larger ones send ``barrier.enter`` themselves,
        failing with ENOSYS where the instance has no barrier service."""
        hptr = self.cptr
        bname = encode_text(name, "name")
        nprocs = check.c_int_arg(nprocs, "nprocs")
        if lib.has("flux_barrier"):
            return _rpc_future(lib.flux_barrier(hptr, bname, nprocs), self)
        if nprocs == 1:
            fut = Future(lib.flux_future_create(None, None), self, fresh=True)
            lib.flux_future_fulfill(fut.cptr, None, None)
            return fut
        return _BarrierRPC(self, "barrier.enter", {"name": bname.decode(), "nprocs": nprocs})

    def __repr__(self) -> str:
        if self.closed:
            return "<flux_ctypes.Flux closed>"
        addr = ctypes.cast(self._as_parameter_, c_void_p).value or 0
        return "<flux_ctypes.Flux 0x{:x}>".format(addr)


_send = Flux.send
_event_create = Flux.event_create


class _InReactor:
    """What :meth:`Flux.in_reactor` returns (contextlib's contextmanager
    would import functools and collections with it)."""

    __slots__ = ("flux",)

    def __init__(self, flux: Flux) -> None:
        self.flux = flux

    def __enter__(self) -> None:
        self.flux.reactor_enter()

    def __exit__(self, *exc_info: "Any") -> None:
        self.flux.reactor_exit()
