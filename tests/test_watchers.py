"""Reactor and watchers on the CFUNCTYPE trampolines, against a live instance."""

import errno
import os
import platform
import signal
import threading
import time

import pytest

from conftest import collect, interrupt_child

from flux_ctypes import Flux
from flux_ctypes.callbacks import registries
from flux_ctypes import Message
from flux_ctypes.constants import (
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_ROLE_USER,
    FLUX_POLLIN,
    FLUX_REACTOR_NOWAIT,
    FLUX_REACTOR_ONCE,
)
from flux_ctypes.lib import lib
from flux_ctypes.watchers import (
    CheckWatcher,
    FDWatcher,
    IdleWatcher,
    PrepareWatcher,
    SignalWatcher,
    TimerWatcher,
)



def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_timer_fires_with_args(handle):
    calls = []

    def cb(h, w, revents, args):
        calls.append((h, w, revents, args))

    w = handle.timer_watcher_create(0.01, cb, args={"a": 1})
    assert isinstance(w, TimerWatcher)
    w.start()
    assert handle.reactor_run() == 0
    assert len(calls) == 1
    h, watcher, revents, args = calls[0]
    assert h is handle and watcher is w and args == {"a": 1}
    assert isinstance(revents, int)
    w.destroy()


def test_repeating_timer_and_reset(handle):
    ticks = []

    def cb(h, w, revents, args):
        ticks.append(time.monotonic())
        if len(ticks) == 3:
            w.stop()

    w = handle.timer_watcher_create(0.0, cb, repeat=0.01).start()
    handle.reactor_run()
    assert len(ticks) == 3
    assert ticks[2] - ticks[1] >= 0.005
    # reset() re-arms with new times and starts
    start = time.monotonic()
    w.reset(after=0.05, repeat=0.0)
    del ticks[:]
    handle.reactor_run()
    assert len(ticks) == 1 and ticks[0] - start >= 0.04
    w.destroy()


def test_timer_negative_times(handle):
    with pytest.raises(OSError) as info:
        handle.timer_watcher_create(-1, lambda *a: None)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        handle.timer_watcher_create(0, lambda *a: None, repeat=-0.5)


def test_context_manager_and_is_active(handle):
    w = handle.timer_watcher_create(10, lambda *a: None)
    if not lib.has("flux_watcher_is_active"):
        pytest.skip("flux_watcher_is_active not in this libflux-core")
    assert not w.is_active()
    with w:
        assert w.is_active()
    assert not w.is_active()
    w.destroy()
    assert not w.is_active()


def test_ref_unref(handle):
    fired = []
    w = handle.timer_watcher_create(0.2, lambda *a: fired.append(1)).start()
    w.unref()
    # an unreferenced watcher doesn't keep the reactor running
    assert handle.reactor_run() == 0
    assert fired == []
    w.ref()
    handle.reactor_run()
    assert fired == [1]
    w.destroy()


def test_fd_watcher(handle):
    rfd, wfd = os.pipe()
    got = []

    def cb(h, w, fd, revents, args):
        got.append((fd, revents & FLUX_POLLIN, os.read(fd, 100), args))
        w.stop()

    w = handle.fd_watcher_create(rfd, cb, events=FLUX_POLLIN, args="x")
    assert isinstance(w, FDWatcher)
    w.start()
    os.write(wfd, b"hello")
    handle.reactor_run()
    assert got == [(rfd, FLUX_POLLIN, b"hello", "x")]
    w.destroy()
    os.close(rfd)
    os.close(wfd)


def test_fd_watcher_default_events(handle):
    rfd, wfd = os.pipe()
    got = []

    def cb(h, w, fd, revents, args):
        got.append(revents)
        w.stop()

    # default events include POLLOUT: the write end is writable at once
    w = handle.fd_watcher_create(wfd, cb).start()
    handle.reactor_run()
    assert got and got[0] & 2  # FLUX_POLLOUT
    w.destroy()
    os.close(rfd)
    os.close(wfd)


def test_signal_watcher(handle):
    got = []

    def cb(h, w, signum, args):
        got.append((signum, args))
        w.stop()

    w = handle.signal_watcher_create(signal.SIGUSR1, cb, args=7)
    assert isinstance(w, SignalWatcher)
    w.start()
    t = handle.timer_watcher_create(0.01, lambda *a: os.kill(os.getpid(), signal.SIGUSR1))
    t.start()
    handle.reactor_run()
    assert got == [(signal.SIGUSR1, 7)]
    w.destroy()
    t.destroy()


@pytest.mark.parametrize("signum", [0, -1, signal.NSIG, 1000])
def test_signal_watcher_bad_number(handle, signum):
    with pytest.raises(OSError) as info:
        handle.signal_watcher_create(signum, lambda *a: None)
    assert info.value.errno == errno.EINVAL


def test_prepare_check_idle(handle):
    order = []

    def prepare(h, w, revents, args):
        order.append("prepare")

    def check(h, w, revents, args):
        order.append("check")
        if len(order) >= 6:
            h.reactor_stop()

    p = handle.prepare_watcher_create(prepare).start()
    c = handle.check_watcher_create(check).start()
    idle = handle.idle_watcher_create().start()  # no callback: just don't block
    assert isinstance(p, PrepareWatcher) and isinstance(c, CheckWatcher)
    assert isinstance(idle, IdleWatcher)
    handle.reactor_run()
    assert order[:4] == ["prepare", "check", "prepare", "check"]
    for w in (p, c, idle):
        w.destroy()


def test_idle_with_callback(handle):
    n = []

    def cb(h, w, revents, args):
        n.append(1)
        if len(n) == 5:
            w.stop()

    w = handle.idle_watcher_create(cb).start()
    handle.reactor_run()
    assert len(n) == 5
    w.destroy()


def test_message_watcher_options(handle):
    handle.event_subscribe("wtest.")
    seen = []

    def cb(h, w, msg, args):
        seen.append((msg.topic, msg.payload, args))
        if len(seen) == 2:
            h.reactor_stop()

    w = handle.msg_watcher_create(cb, FLUX_MSGTYPE_EVENT, b"wtest.*", args="ev")
    w.start()
    handle.event_send("wtest.one", {"i": 1})
    handle.event_send("other.two", {"i": 2})  # not matched (nor subscribed)
    handle.event_send("wtest.three", {"i": 3})
    handle.reactor_run()
    assert seen == [("wtest.one", {"i": 1}, "ev"), ("wtest.three", {"i": 3}, "ev")]
    w.destroy()
    handle.event_unsubscribe("wtest.")
    with pytest.raises(TypeError):
        handle.msg_watcher_create(cb, topic_glob=5)


@pytest.mark.parametrize("allow", [None, FLUX_ROLE_USER])
def test_message_watcher_rolemask(handle, allow):
    """A request from a guest (rolemask USER, another userid) reaches the
    callback only where the watcher allows that role; otherwise libflux
    answers EPERM itself.  The instance owner may set a request's creds."""
    service = "rm{}x{}".format(os.getpid(), allow)
    handle.service_register(service).get()
    seen, responses = [], []

    def on_request(h, w, msg, args):
        seen.append((msg.userid, msg.rolemask))
        h.respond(msg, {"ok": True})

    def on_response(h, w, msg, args):
        try:
            msg.decode()
            responses.append("ok")
        except OSError as exc:
            responses.append(exc.errno)
        h.reactor_stop()

    requests = handle.msg_watcher_create(
        on_request, FLUX_MSGTYPE_REQUEST, service + ".*", rolemask=allow).start()
    answers = handle.msg_watcher_create(
        on_response, FLUX_MSGTYPE_RESPONSE, service + ".*").start()
    msg = Message(FLUX_MSGTYPE_REQUEST)
    msg.topic = service + ".hello"
    msg.userid = 4242
    msg.rolemask = FLUX_ROLE_USER
    msg.payload = {}
    handle.send(msg)
    handle.reactor_run()
    requests.destroy()
    answers.destroy()
    handle.service_unregister(service).get()
    if allow is None:
        assert (seen, responses) == ([], [errno.EPERM])
    else:
        assert (seen, responses) == ([(4242, FLUX_ROLE_USER)], ["ok"])


class Boom(Exception):
    pass


@pytest.mark.parametrize("kind", ["timer", "prepare", "check", "idle", "fd", "signal", "msg"])
def test_raising_callback_reaches_reactor_run(handle, kind):
    def raiser(*args):
        raise Boom(kind)

    extra = []
    if kind == "timer":
        w = handle.timer_watcher_create(0, raiser)
    elif kind == "prepare":
        w = handle.prepare_watcher_create(raiser)
    elif kind == "check":
        w = handle.check_watcher_create(raiser)
        # check runs after the loop wakes: give it something to wake for
        extra = [handle.timer_watcher_create(0, lambda *a: None).start()]
    elif kind == "idle":
        w = handle.idle_watcher_create(raiser)
    elif kind == "fd":
        rfd, wfd = os.pipe()
        extra = [rfd, wfd]
        w = handle.fd_watcher_create(wfd, raiser)
    elif kind == "signal":
        w = handle.signal_watcher_create(signal.SIGUSR2, raiser)
        t = handle.timer_watcher_create(0, lambda *a: os.kill(os.getpid(), signal.SIGUSR2))
        t.start()
        extra = [t]
    else:
        handle.service_register("boomsvc").get()
        w = handle.msg_watcher_create(raiser, FLUX_MSGTYPE_REQUEST, "boomsvc.*")
        handle.rpc("boomsvc.go", {})
    w.start()
    with pytest.raises(Boom) as info:
        handle.reactor_run()
    assert str(info.value) == kind
    assert info.traceback[-1].name == "raiser"  # the original traceback
    assert Flux.tls.exception is None
    w.destroy()
    for item in extra:
        if isinstance(item, int):
            os.close(item)
        else:
            item.destroy()
    if kind == "msg":
        handle.service_unregister("boomsvc").get()


def test_keyboard_interrupt_in_callback_is_kept(handle):
    def cb(*args):
        raise KeyboardInterrupt

    w = handle.timer_watcher_create(0, cb).start()
    with pytest.raises(KeyboardInterrupt):
        handle.reactor_run()
    w.destroy()


def test_started_watcher_without_reference_keeps_firing(handle):
    fired = []

    def cb(h, w, revents, args):
        fired.append(1)
        if len(fired) == 3:
            w.destroy()

    handle.timer_watcher_create(0, cb, repeat=0.001).start()  # no reference kept
    collect()
    handle.reactor_run()
    assert len(fired) == 3
    assert registries()["watchers"] == 0


def test_unstarted_or_stopped_watcher_is_collected(handle):
    import weakref

    w = handle.timer_watcher_create(1, lambda *a: None)
    ref = weakref.ref(w)
    del w
    collect()
    assert ref() is None
    w = handle.timer_watcher_create(1, lambda *a: None).start()
    w.stop()
    ref = weakref.ref(w)
    del w
    collect()
    assert ref() is None


def test_destroy_twice_and_from_own_callback(handle):
    def cb(h, w, revents, args):
        w.destroy()
        w.destroy()
        args.append(w.handle)

    out = []
    w = handle.timer_watcher_create(0, cb, repeat=0.001, args=out).start()
    handle.reactor_run()
    assert out == [None]
    assert w.handle is None
    w.destroy()
    w.stop()
    with pytest.raises(ValueError):
        w.start()


def test_stop_from_own_callback(handle):
    n = []

    def cb(h, w, revents, args):
        n.append(1)
        w.stop()

    w = handle.timer_watcher_create(0, cb, repeat=0.001).start()
    handle.reactor_run()
    assert n == [1]
    w.destroy()


def test_watcher_outliving_its_handle(flux_uri):
    h = Flux(flux_uri)
    fired = []
    w = h.timer_watcher_create(0, lambda *a: fired.append(1), repeat=0.001)
    w.start()
    del h
    collect()
    # the watcher keeps its handle (and reactor) alive: running that
    # reactor fires it, and destroying it afterwards is safe
    assert fired == []
    w.flux_handle.reactor_run(flags=FLUX_REACTOR_ONCE)
    assert fired == [1]
    w.destroy()
    del w
    collect()


def test_reactor_run_flags(handle):
    fired = []
    w = handle.timer_watcher_create(0, lambda *a: fired.append(1), repeat=0.001).start()
    rc = handle.reactor_run(flags=FLUX_REACTOR_NOWAIT)
    assert rc >= 1  # one active watcher, the SIGINT watcher not counted
    rc2 = handle.reactor_run(flags=FLUX_REACTOR_ONCE)
    assert rc2 == rc
    assert len(fired) >= 1
    w.stop()
    assert handle.reactor_run(flags=FLUX_REACTOR_NOWAIT) == 0
    w.destroy()


def test_reactor_run_restores_python_sigint_handler(handle):
    before = signal.getsignal(signal.SIGINT)
    w = handle.timer_watcher_create(0, lambda *a: None).start()
    handle.reactor_run()
    assert signal.getsignal(signal.SIGINT) is before
    w.destroy()


def test_watchers_in_threads(flux_uri):
    results = {}

    def worker(n):
        h = Flux(flux_uri)
        count = []

        def cb(h, w, revents, args):
            count.append(1)
            if len(count) == 10:
                w.destroy()

        h.timer_watcher_create(0, cb, repeat=0.001).start()

        def boom(*a):
            raise Boom(n)

        b = h.timer_watcher_create(0, boom).start()
        try:
            h.reactor_run()
        except Boom as exc:  # per-thread exception state
            results[n] = ("boom", exc.args[0])
        b.destroy()
        h.reactor_run()
        results[n] = results.get(n, ()) + (len(count),)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {n: ("boom", n, 10) for n in range(3)}


def test_ctrl_c_stops_reactor_run(flux_uri):
    interrupt_child(
        setup='h.timer_watcher_create(0.05, lambda *a: print("tick", flush=True), '
              "repeat=0.05).start()",
        blocking="h.reactor_run()",
        ready_line="tick",
    )


def test_watcher_cycles_do_not_grow(handle):
    """A short version of the 100,000-cycle stress (bench/stress.py runs
    the full count): RSS stays put and the registry ends empty."""
    noop = lambda *a: None  # noqa: E731
    for _ in range(2000):  # warm up allocator pools
        handle.timer_watcher_create(1, noop).start().destroy()
    collect()
    before = rss_kb()
    for _ in range(20000):
        w = handle.timer_watcher_create(1, noop)
        w.start()
        w.destroy()
    collect()
    assert registries()["watchers"] == 0
    assert rss_kb() - before < 2048


def test_rpc_then_cycles_do_not_grow(handle):
    def cb(fut):
        fut.get()

    def batch(n):
        for i in range(n):
            handle.rpc("broker.ping", {"i": i}).then(cb)
        handle.reactor_run()

    # PyPy's JIT and GC arenas grow RSS by some 15 MB over the first
    # batches, then stay put: warm up past that there.
    for _ in range(6 if platform.python_implementation() == "PyPy" else 1):
        batch(2000)
        collect()
    before = rss_kb()
    for _ in range(5):
        batch(2000)
        collect()  # PyPy frees garbage only when collected: keep its heap small
    assert registries()["then"] == 0
    assert rss_kb() - before < 2048
