"""One lifetime protocol for every C object (lib.CObject): each wrapper is
its own ctypes parameter, knows whether it is closed, and once released
answers with a dead sentinel that no C function accepts."""

import ctypes
import errno
import gc
import os
import subprocess
import sys
import threading

import pytest

from conftest import collect
from flux_ctypes import Flux, FutureExt, Message, constants
from flux_ctypes.future import Future, pending_then
from flux_ctypes.lib import DEAD, ClosedError, CObject, deferred_count, lib, run_deferred
from flux_ctypes.watchers import active_watchers, signal_loops


def _wrappers(h):
    """One of each kind of wrapper, made on ``h``."""
    return [
        Message(),
        h.rpc("broker.ping"),
        FutureExt(lambda f: f.fulfill(1)),
        Future(h.future_create(None, None)),
        h.timer_watcher_create(100, lambda *a: None),
        h.fd_watcher_create(h.pollfd(), lambda *a: None),
        h.signal_watcher_create(10, lambda *a: None),
        h.idle_watcher_create(),
        h.msg_watcher_create(lambda *a: None, constants.FLUX_MSGTYPE_EVENT, "lifetime.*"),
    ]


def test_every_wrapper_is_its_own_parameter_and_closes_once(flux_uri):
    with Flux(flux_uri) as h:
        objs = [h] + _wrappers(h)
        for obj in objs[1:]:
            assert isinstance(obj, CObject)
            assert not obj.closed
            assert obj._as_parameter_ is obj.handle  # ctypes passes the object itself
            obj.close()
            obj.close()  # idempotent
            assert obj.closed and obj.handle is None and obj._as_parameter_ is DEAD
            with pytest.raises(ClosedError):
                obj.cptr
    assert h.closed


def test_a_passthrough_kept_across_close_never_reaches_c(flux_uri):
    h = Flux(flux_uri)
    pollfd = h.pollfd  # a bound passthrough, cached by the caller
    get_rank = h.get_rank
    assert pollfd() >= 0
    h.close()
    with pytest.raises(ClosedError):
        pollfd()  # the old code passed the freed flux_t to C here
    with pytest.raises(ClosedError):
        get_rank()
    # the C layer itself refuses the dead sentinel: a clean ctypes error
    with pytest.raises(ctypes.ArgumentError):
        lib.flux_pollfd(h)


def test_with_blocks(flux_uri):
    with Flux(flux_uri) as h:
        with h.rpc("broker.ping", {"n": 1}) as f:  # as the official Future
            assert f.get()["n"] == 1
        assert f.closed
        with Message() as m:
            m.topic = "a.b"
        assert m.closed
        with h.timer_watcher_create(100, lambda *a: None) as w:  # start/stop
            assert w.is_active()
        assert not w.is_active() and not w.closed
        w.destroy()
        assert w.closed


def test_handle_assignment_follows_the_official_bindings(flux_uri):
    with Flux(flux_uri) as h:
        f = h.rpc("broker.ping")
        with pytest.raises(TypeError, match="expected a"):
            f.handle = h.rpc("broker.ping")  # a wrapper, not a pointer
        f.handle = lib.flux_rpc(h, b"broker.ping", b'{"again": 1}', constants.FLUX_NODEID_ANY, 0)
        assert f.get()["again"] == 1  # the new pointer is adopted
        f.handle = None  # closes
        assert f.closed
        with pytest.raises(ValueError, match="Attempting to call a cached, bound method"):
            f.get()


def test_closing_a_handle_closes_what_hangs_on_it(flux_uri):
    h = Flux(flux_uri)
    called = []
    future = h.rpc("lifetime.nosuchservice").then(lambda f: called.append(f), timeout=0.05)
    timer = h.timer_watcher_create(0.01, lambda *a: called.append(a)).start()
    sig = h.signal_watcher_create(10, lambda *a: None).start()
    assert pending_then() == 1 and active_watchers() >= 2 and 10 in signal_loops()
    h.close()
    assert future.closed and timer.closed and sig.closed
    assert pending_then() == 0 and active_watchers() == 0 and signal_loops() == {}
    # a new handle (perhaps at the same addresses) meets nothing of the old
    with Flux(flux_uri) as h2:
        h2.timer_watcher_create(0.1, lambda h, *a: h.reactor_stop()).start()
        h2.reactor_run()
    assert called == []


def test_one_signal_one_reactor(flux_uri):
    """libev asserts when one signal is watched from two loops: refused."""
    with Flux(flux_uri) as h1, Flux(flux_uri) as h2:
        w1 = h1.signal_watcher_create(12, lambda *a: None).start()
        w2 = h2.signal_watcher_create(12, lambda *a: None)
        with pytest.raises(OSError) as info:
            w2.start()
        assert info.value.errno == errno.EBUSY
        w1.stop()
        w2.start()  # free again
        w2.destroy()
        w1.destroy()
    assert signal_loops() == {}


def test_gc_in_another_thread_defers_a_future_to_its_thread(flux_uri):
    """A future (or watcher, or handle) released by the garbage collector
    in a thread other than the one that made it is queued for that thread,
    which releases it at its next C object, wait or reactor run."""
    with Flux(flux_uri) as h:
        gc.disable()
        try:
            f = h.rpc("broker.ping")
            f.cycle = f  # only the cyclic collector can free it
            del f
            before = deferred_count()
            seen = []
            t = threading.Thread(target=lambda: (gc.collect(), seen.append(deferred_count())))
            t.start()
            t.join(10)
            assert seen == [before + 1]  # not released in the collecting thread
        finally:
            gc.enable()
        assert h.rpc("broker.ping", {}).get() is not None  # the next C object runs it
        assert deferred_count() == 0


def test_gc_in_another_thread_releases_a_message_there(flux_uri):
    gc.disable()
    try:
        m = Message()
        m.cycle = m
        del m
        t = threading.Thread(target=gc.collect)
        t.start()
        t.join(10)
        assert deferred_count() == 0  # a message belongs to no handle
    finally:
        gc.enable()


def test_releases_of_an_ended_thread_are_not_lost(flux_uri):
    made = []

    def worker():
        h = Flux(flux_uri)
        made.append(h.rpc("broker.ping"))
        made.append(h)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    made.clear()  # released here, in the main thread: its thread has ended
    collect()
    assert deferred_count() == 0
    run_deferred()


CLOSE_IN_CALLBACK = r"""
import sys
sys.path.insert(0, {root!r})
from flux_ctypes import Flux
from flux_ctypes.lib import ClosedError
from flux_ctypes.watchers import active_watchers
h = Flux()
seen = []
def cb(handle, watcher, revents, args):
    handle.close()
    seen.append(handle.closed)
h.timer_watcher_create(0, cb).start()
h.timer_watcher_create(0.01, lambda *a: seen.append("late")).start()
rc = h.reactor_run()
try:
    h.reactor_run()
except ClosedError:
    seen.append("refused")
print(rc >= 0, seen, active_watchers())
"""


def test_closing_a_handle_from_its_own_reactor_callback(flux_uri):
    """The flux_t (and the reactor C is running) is given back when
    reactor_run() returns, not under the running reactor.  In a child with
    glibc's MALLOC_PERTURB_, so that running on freed memory shows."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", CLOSE_IN_CALLBACK.format(root=root)],
        env=dict(os.environ, FLUX_URI=flux_uri, MALLOC_PERTURB_="165"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "True [True, 'refused'] 0"


def test_a_reactor_is_a_reference_of_its_own(flux_uri):
    """get_reactor() hands out Reactor objects holding their own C
    reference: the handle's own one closes with the handle (and is then
    refused), a future's one keeps the C reactor alive after it."""
    from flux_ctypes.watchers import Reactor

    h = Flux(flux_uri)
    r = h.get_reactor()
    assert isinstance(r, Reactor) and r is h.get_reactor()
    f = h.rpc("broker.ping", {})
    fr = f.get_reactor()
    assert fr == r and fr is not r
    f.get()
    h.close()
    assert r.closed and not fr.closed
    with Flux(flux_uri) as h2:
        with pytest.raises(ClosedError):
            h2.reactor_run(r)
        assert h2.reactor_run(fr, constants.FLUX_REACTOR_NOWAIT) >= 0  # still a live reactor
        assert fr.now() > 0
    del f
    fr.close()


LEND_REACTOR = r"""
import sys
sys.path.insert(0, {root!r})
from flux_ctypes import Flux
owner = Flux()
h = Flux()
h.set_reactor(owner.get_reactor())
owner.close()
h.timer_watcher_create(0.01, lambda handle, *a: handle.reactor_stop()).start()
print(h.reactor_run(), h.rpc("broker.ping", {{}}).get() is not None)
"""


def test_a_reactor_lent_to_another_handle_outlives_its_owner(flux_uri):
    """flux_set_reactor() keeps the pointer without a reference: the raw
    layer gives it one (never released, as C never says when it is done),
    so closing the reactor's owner can't free it under the other handle.
    In a child with MALLOC_PERTURB_: without that reference it crashes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-c", LEND_REACTOR.format(root=root)],
        env=dict(os.environ, FLUX_URI=flux_uri, MALLOC_PERTURB_="165"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "0 True"


def test_wrappers_refuse_copies(flux_uri):
    """A copy would hold the pointer without a reference of its own."""
    import copy
    import pickle

    with Flux(flux_uri) as h:
        for obj in (h, Message(), h.rpc("broker.ping", {})):
            for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
                with pytest.raises(TypeError, match="can't be"):
                    attempt(obj)


def test_assigning_a_pointer_another_wrapper_owns_shares_it(flux_uri):
    """``x.handle = y.handle`` must not make two owners of one reference."""
    with Flux(flux_uri) as h:
        a = h.rpc("broker.ping", {"n": 1})
        b = h.rpc("broker.ping", {"n": 2})
        b.handle = a.handle  # b takes a reference of its own
        a.close()
        assert b.get()["n"] == 1
        b.close()
        m1, m2 = Message(), Message()
        m2.handle = m1.handle
        del m1
        collect()
        m2.topic = "still.alive"
        w1 = h.timer_watcher_create(1, lambda *a: None)
        w2 = h.timer_watcher_create(1, lambda *a: None)
        with pytest.raises(ValueError, match="belongs to another wrapper"):
            w2.handle = w1.handle  # a watcher has no reference to share
        w1.destroy()
        w2.destroy()


def test_future_of_another_wrappers_pointer_shares_it(flux_uri):
    """Future(f.handle) must not adopt the reference f gives back (the
    fuzzer's raw pointers found that double free)."""
    with Flux(flux_uri) as h:
        f = h.rpc("broker.ping", {"n": 3})
        g = Future(f.handle, h)
        del g
        collect()
        assert f.get()["n"] == 3
        fresh = Future(h.future_create(None, None))  # adopted, not shared
        fresh.pimpl.fulfill(None, None)
        assert fresh.is_ready()


@pytest.mark.skipif(not hasattr(sys, "getrefcount"), reason="needs reference counts")
def test_a_fresh_pointer_is_not_searched_for(flux_uri, monkeypatch):
    """Every RPC makes a Future: its fresh pointer must not cost a search
    of all the owned references."""
    import flux_ctypes.lib as flux_lib

    class NoSearch(set):
        def __iter__(self):
            raise AssertionError("searched the owned references")

    with Flux(flux_uri) as h:
        owned = NoSearch(flux_lib._OWNED)
        monkeypatch.setattr(flux_lib, "_OWNED", owned)
        ptr = lib.flux_future_create(None, None)
        assert not flux_lib.owned_by_a_wrapper(ptr)
        lib.flux_future_destroy(ptr)
        monkeypatch.undo()
