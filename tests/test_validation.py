"""Arguments are checked before C: what libev or libflux-core would assert
on, misread or truncate is a TypeError, ValueError, OverflowError or
OSError naming the parameter, and ctypes.ArgumentError never reaches a
caller."""

import ctypes
import errno
import gc
import os
import platform

import pytest

from flux_ctypes import Flux, FutureExt, Message, constants
from flux_ctypes.ffi import args as check
from flux_ctypes.lib import InvalidArguments, WrongNumArguments, lib
from flux_ctypes.lib import check_negative


def _refused(exc_type, match, func, *args, **kwargs):
    with pytest.raises(exc_type, match=match) as info:
        func(*args, **kwargs)
    assert not isinstance(info.value, ctypes.ArgumentError)
    return info.value


# --- the validators (no instance needed) ------------------------------------
@pytest.mark.offline
@pytest.mark.offline
@pytest.mark.offline
@pytest.mark.parametrize("value,exc", [
    (-1, OverflowError), (2 ** 32, OverflowError), ("1", TypeError), (1.0, TypeError),
    (None, TypeError),
])
def test_uint32(value, exc):
    _refused(exc, "nodeid", check.uint32, value, "nodeid")


@pytest.mark.offline
def test_uint32_bounds():
    assert check.uint32(0, "x") == 0
    assert check.uint32(2 ** 32 - 1, "x") == 2 ** 32 - 1


@pytest.mark.parametrize("value,exc", [
    (float("nan"), ValueError), (float("inf"), ValueError), (-0.5, OSError), ("1", TypeError),
])
def test_seconds(value, exc):
    _refused(exc, "repeat", check.seconds, value, "repeat")


@pytest.mark.offline
def test_timeouts_mean_forever_when_negative_or_infinite():
    assert check.timeout(-5) == -1.0
    assert check.timeout(float("inf")) == -1.0
    assert check.timeout(0.25) == 0.25
    _refused(ValueError, "NaN", check.timeout, float("nan"))


@pytest.mark.offline
def test_fd():
    rfd, wfd = os.pipe()
    os.close(wfd)
    assert check.fd(rfd) == rfd
    os.close(rfd)
    assert _refused(OSError, "not an open file descriptor", check.fd, rfd).errno == errno.EBADF
    _refused(OverflowError, "fd", check.fd, -1)


@pytest.mark.parametrize("value", [0, -500, 500, 65])
def test_signum(value):
    assert _refused(OSError, "signal", check.signum, value, "signal").errno == errno.EINVAL


@pytest.mark.offline
def test_text():
    assert check.text("é", "topic") == "é".encode()
    _refused(ValueError, "topic.*NUL", check.text, "a\0b", "topic")
    _refused(TypeError, "topic", check.text, 5, "topic")
    assert check.text(None, "topic", allow_none=True) is None


# --- the public API, live -----------------------------------------------------
def test_watcher_arguments(handle):
    _refused(OverflowError, "fd", handle.fd_watcher_create, -1, lambda *a: None)
    _refused(OSError, "repeat", handle.timer_watcher_create, 1, lambda *a: None, repeat=-1)
    _refused(ValueError, "after", handle.timer_watcher_create, float("nan"), lambda *a: None)
    _refused(ValueError, "after", handle.timer_watcher_create, float("inf"), lambda *a: None)
    _refused(OSError, "signal", handle.signal_watcher_create, 500, lambda *a: None)
    _refused(TypeError, "callback", handle.timer_watcher_create, 1, "not callable")
    w = handle.timer_watcher_create(1, lambda *a: None)
    _refused(OSError, "repeat", w.reset, 1, -2)
    w.destroy()
    _refused(TypeError, "flux_handle", FutureExt, lambda f: None, flux_handle="x")


def test_clone_flag_is_refused(handle, flux_uri):
    """FLUX_O_CLONE set by hand sends libflux-core through a NULL parent."""
    _refused(ValueError, "FLUX_O_CLONE", Flux, flux_uri, constants.FLUX_O_CLONE)
    _refused(InvalidArguments, "FLUX_O_CLONE", handle.flags_set, -1)
    _refused(InvalidArguments, "FLUX_O_CLONE", handle.flags_unset, constants.FLUX_O_CLONE)
    handle.flags_set(constants.FLUX_O_MATCHDEBUG)
    handle.flags_unset(constants.FLUX_O_MATCHDEBUG)
    assert handle.rpc("broker.ping", {}).get() is not None


def test_rpc_and_message_arguments(handle):
    _refused(OverflowError, "nodeid", handle.rpc, "broker.ping", {}, nodeid=-1)
    _refused(OverflowError, "nodeid", handle.rpc, "broker.ping", {}, nodeid=2 ** 32)
    _refused(OverflowError, "flags", handle.rpc, "broker.ping", {}, flags=2 ** 40)
    _refused(ValueError, "topic", handle.rpc, "broker.ping\0x", {})
    _refused(ValueError, "payload", handle.rpc, "broker.ping", '{"a": "\0"}')
    assert _refused(OSError, "Topic", handle.rpc, None).errno == errno.EINVAL
    _refused(TypeError, "message", handle.send, "not a message")
    _refused(TypeError, "message", handle.respond, handle, {})
    _refused(TypeError, "reactor", handle.reactor_stop, "x")
    _refused(TypeError, "reactor", handle.reactor_run, 5)
    _refused(OverflowError, "match_tag", handle.msg_watcher_create, lambda *a: None,
             match_tag=-1)
    m = Message()
    _refused(OverflowError, "userid", setattr, m, "userid", -1)
    _refused(OverflowError, "rolemask", setattr, m, "rolemask", 2 ** 32)
    _refused(TypeError, "type", setattr, m, "type", "request")
    _refused(ValueError, "topic", setattr, m, "topic", b"a\0")
    _refused(TypeError, "handle", Message, handle=5)
    f = handle.rpc("broker.ping", {})
    _refused(ValueError, "NaN", f.wait_for, float("nan"))
    _refused(ValueError, "NaN", f.then, lambda f: None, timeout=float("nan"))
    _refused(TypeError, "callable", f.then, 5)
    f.get()


def test_the_raw_layer_checks_against_the_table(handle):
    _refused(WrongNumArguments, "takes 2", handle.request_encode, "topic")
    _refused(InvalidArguments, "argument 1", handle.request_encode, 15, None)
    _refused(InvalidArguments, "flux_msg_t", handle.flux_send, handle, 0)
    _refused(InvalidArguments, "fd", handle.flux_fd_watcher_create, handle.get_reactor(), -1,
             1, None, None)
    _refused(OSError, "signal", handle.flux_signal_watcher_create, handle.get_reactor(), 0,
             None, None)
    _refused(InvalidArguments, "NaN", handle.flux_timer_watcher_create,
             handle.get_reactor(), 1.0, float("nan"), None, None)
    _refused(InvalidArguments, "not callable through the raw layer", handle.flux_reactor_destroy,
             handle.get_reactor())
    _refused(InvalidArguments, "larger than the buffer", handle.flux_msg_set_payload,
             Message(), b"ab", 100)
    _refused(InvalidArguments, "addresses", handle.flux_msg_set_payload, Message(), 12345, 1)
    assert handle.flux_log(6, "100% literal %n") == 0  # never a format
    # None for an output parameter gets scratch space, whatever C would do
    assert handle.flux_get_rank(None) == 0
    # a destructor given a wrapper closes the wrapper: never freed twice
    m = Message()
    handle.flux_msg_destroy(m)
    assert m.closed


# --- errno --------------------------------------------------------------------
@pytest.mark.offline
def test_a_failure_without_errno_reports_none():
    def flux_x():
        pass

    ctypes.set_errno(0)  # what the previous checked call left
    with pytest.raises(OSError) as info:
        check_negative(-1, flux_x, ())
    assert info.value.errno == 0
    assert "flux_x failed without setting errno" in str(info.value)


def test_checked_calls_leave_errno_clear(handle):
    with pytest.raises(OSError) as info:
        handle.attr_get("no-such-attribute-for-errno")
    assert info.value.errno == errno.ENOENT
    assert ctypes.get_errno() == 0  # the next checked call starts from 0
    ctypes.set_errno(errno.EPERM)
    handle.get_rank()
    assert ctypes.get_errno() == 0


# --- FutureExt.fulfill: no C allocation left behind -------------------------------
def test_future_ext_fulfill_does_not_leak(handle):
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("no mallinfo2() in this libc")

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc.mallinfo2.restype = Mallinfo2

    f = FutureExt(lambda f: None)
    for _ in range(20000):  # warm up (PyPy's JIT and GC arenas grow at first)
        f.fulfill("x")
        f.get()
        f.reset()
    if platform.python_implementation() != "CPython":
        # Its collector's arenas move malloc's count by 0.5-1 MB from one
        # collection to the next (bounded: measured over 8 rounds), more
        # than the 160 KB this test allows; the code under test is the same
        # on every interpreter, and CPython's run catches the leak.
        pytest.skip("malloc's byte count is too noisy under a non-refcounting collector")
    # Measured after collecting, the lowest of three rounds (a leak grows
    # with every round).
    n = 20000
    gc.collect()
    before = libc.mallinfo2().uordblks
    after = []
    for _ in range(3):
        for _ in range(n):
            f.fulfill("x")
            f.get()
            f.reset()
        gc.collect()
        gc.collect()
        after.append(libc.mallinfo2().uordblks)
    grown = min(after) - before
    assert grown < n * 8, "{} bytes left allocated by {} fulfill()s".format(grown, n)


def test_every_tables_handle_types_are_opaque_to_the_raw_layer(handle):
    """Any table's pointer to an incomplete structure is a handle, never an
    output parameter to be given scratch space (freeing that crashed)."""
    from flux_ctypes.ffi.args import is_opaque
    from flux_ctypes.inner import raw
    from flux_ctypes.lib import FUNCTIONS

    destroys = [fn for fn in FUNCTIONS if fn.argtypes and is_opaque(fn.argtypes[0])
                and fn.name.endswith("_destroy") and not fn.name.startswith("flux_reactor")]
    assert len(destroys) >= 5
    for fn in destroys:
        _refused(InvalidArguments, "not None", getattr(raw, fn.name), None)
        if fn.argtypes[0] is not type(Message().cptr):  # a wrapper of another type
            _refused(InvalidArguments, "must be a", getattr(raw, fn.name), Message())


def test_aux_set_through_the_raw_layer(handle):
    """No destructor C would call, and no "flux::" key of libflux-core's own
    (the handle's reactor lives under one)."""
    _refused(InvalidArguments, "must be None", handle.aux_set, "mine", None, b"not a function")
    _refused(InvalidArguments, "belong to libflux-core", handle.aux_set, "flux::reactor",
             None, None)
    assert handle.aux_set("flux_ctypes.test", b"v", None) == 0
    assert handle.get_reactor() is not None


@pytest.mark.parametrize("name", ["rpc_get", "job_event_watch_get"])
@pytest.mark.parametrize("kind", ["FutureExt", "WaitAllFuture"])
def test_raw_message_readers_refuse_futures_no_response_fulfils(handle, name, kind):
    """Through the raw layer, a function that reads a future's result as a
    response message is refused a future whose result is none (the fuzz
    found flux_job_event_watch_get(FutureExt) reading it, and crashing)."""
    from flux_ctypes import WaitAllFuture

    if kind == "FutureExt":
        future = FutureExt(lambda f, arg: None, flux_handle=handle)
    else:
        future = WaitAllFuture([handle.rpc("broker.ping", {})])
    with pytest.raises(InvalidArguments, match="a future a response fulfils"):
        getattr(handle, name)(future, None)
    with pytest.raises(InvalidArguments, match="a future a response fulfils"):
        getattr(handle, name)(future.handle, None)
    # an RPC's future is still taken
    rpc = handle.rpc("broker.ping", {})
    rpc.wait_for(10)
    assert handle.rpc_get(rpc, None) == 0
    del future, rpc  # (their waits' epoll sets go with them)
    gc.collect()


def test_raw_free_is_refused():
    """libc's free() is in the table for the wrappers' own use; through the
    raw layer it would free anything (a bytes object's buffer: the fuzz
    found it)."""
    from flux_ctypes.lib import raw_call, table

    with pytest.raises(InvalidArguments, match="not callable through the raw layer"):
        raw_call(table()["free"], b"\xff\xfe")
