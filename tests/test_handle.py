"""The Flux handle against a live instance."""

import errno
import os
import threading

import pytest

import flux_ctypes
from flux_ctypes import Flux, Message
from flux_ctypes.constants import (
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_O_NONBLOCK,
)
from flux_ctypes.handle import CLOSED
from flux_ctypes.lib import ClosedError
from helpers import collect, interrupt_child, open_fds, unique


def test_connect_failure_has_flux_text(tmp_path, flux_uri):
    with pytest.raises(OSError) as info:
        Flux("local://" + str(tmp_path / "no-such-socket"))
    assert info.value.errno == errno.ENOENT
    assert info.value.strerror.startswith("Unable to connect to Flux: ")
    assert "was not found" in info.value.strerror  # libflux's own text


def test_bad_uri_type(flux_uri):
    with pytest.raises(TypeError):
        Flux(42)


def test_close_is_idempotent(flux_uri):
    h = Flux(flux_uri)
    assert not h.closed
    h.close()
    h.close()
    assert h.closed
    assert h.handle is None
    with pytest.raises(ClosedError):
        h.get_rank()


def test_with_block_closes_once(flux_uri):
    before = open_fds()
    with Flux(flux_uri) as h:
        assert h.get_rank() == 0
        assert open_fds() > before
    assert open_fds() == before
    assert h.closed and h.handle is None
    assert h._as_parameter_ is CLOSED  # the dead sentinel, no NULL
    with pytest.raises(ClosedError):  # a clean error, no use-after-free
        h.get_rank()
    del h
    collect()  # the reference was given back already: nothing is closed twice


def test_300_handles_do_not_leak_fds(flux_uri):
    collect()
    before = open_fds()
    for _ in range(300):
        h = Flux(flux_uri)
        h.rpc("broker.ping", {}).get()
        del h
    collect()
    assert open_fds() <= before


def test_borrowed_handle_takes_its_own_reference(handle):
    other = Flux(handle=handle.handle)
    del other
    collect()
    assert handle.rpc("broker.ping", {}).get()["userid"] == os.getuid()
    # also by address, as flux's module loader passes it
    import ctypes

    addr = ctypes.cast(handle.handle, ctypes.c_void_p).value
    by_addr = Flux(handle=addr)
    assert by_addr.get_rank() == 0
    with pytest.raises(TypeError):
        Flux(handle="nope")


def test_get_rank_and_attrs(handle):
    assert handle.get_rank() == 0
    assert handle.attr_get("size") == "2"
    with pytest.raises(OSError) as info:
        handle.attr_get("no-such-attribute")
    assert info.value.errno == errno.ENOENT
    attr = unique("test.flux_ctypes")
    handle.attr_set(attr, "value1")
    with Flux() as other:
        assert other.attr_get(attr) == "value1"
    if flux_ctypes.version_tuple() < (0, 80):
        # the broker dropped attr.rm in 0.47 and brought it back in 0.80
        with pytest.raises(OSError) as info:
            handle.attr_remove(attr)
        assert info.value.errno == errno.ENOSYS
    else:
        handle.attr_remove(attr)
        with Flux() as other, pytest.raises(OSError) as info:
            other.attr_get(attr)
        assert info.value.errno == errno.ENOENT
    with pytest.raises(ValueError):
        handle.attr_set("x", 1)
    with pytest.raises(ValueError):
        handle.attr_set(1, "x")
    with pytest.raises(ValueError):
        handle.attr_remove(None)


def test_conf_get(handle):
    conf = handle.conf_get()
    assert isinstance(conf, dict)
    assert handle.conf_get("no.such.key", default=7) == 7
    assert handle.conf_get(update=True) == conf


def test_log_text_is_literal(handle):
    assert handle.log(6, "flux_ctypes test %s %d 100%") == 0
    assert handle.log(6, b"bytes message") == 0
    msgs = handle.rpc("log.dmesg", {"follow": False, "nobacklog": False},
                      flags=flux_ctypes.constants.FLUX_RPC_STREAMING)
    found = False
    while True:
        try:
            entry = msgs.get_str()  # RFC 5424 text
        except OSError as exc:
            assert exc.errno == errno.ENODATA
            break
        if "flux_ctypes test %s %d 100%" in entry:
            found = True
        msgs.reset()
    assert found
    with pytest.raises(TypeError):
        handle.log(6, 123)


def test_getattr_resolves_table_functions(handle):
    reactor = handle.get_reactor()
    assert reactor
    # flux_pollfd takes the handle first: passed automatically
    assert handle.pollfd() >= 0
    assert handle.flux_pollfd() == handle.pollfd()
    # a function that doesn't take a handle: arguments as given, str encoded
    msg = handle.request_encode("a.topic", None)
    wrapped = Message._adopt(msg)
    assert wrapped.topic == "a.topic"
    with pytest.raises(AttributeError, match="flux_no_such_thing"):
        handle.no_such_thing


def test_rpc_and_nodeid(handle):
    resp = handle.rpc("broker.ping", {"seq": 1}).get()
    assert resp["seq"] == 1 and resp["rank"] == 0
    resp = handle.rpc("broker.ping", {"seq": 2}, nodeid=1).get()
    assert resp["rank"] == 1
    assert handle.rpc("broker.ping", '{"s": "str"}').get()["s"] == "str"
    assert handle.rpc(b"broker.ping", b'{"b": 1}').get()["b"] == 1


def test_rpc_unknown_service(handle):
    with pytest.raises(OSError) as info:
        handle.rpc("nosuchservice.method").get()
    assert info.value.errno == errno.ENOSYS
    assert "nosuchservice" in info.value.strerror  # the future's error string


def test_rpc_bad_topic(handle):
    with pytest.raises(OSError) as info:
        handle.rpc(None)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        handle.rpc(42)
    with pytest.raises(TypeError):
        handle.rpc("broker.ping", object())  # not JSON


def test_rpc_bad_nodeid(handle):
    with pytest.raises(OSError) as info:
        handle.rpc("broker.ping", nodeid=99).get()
    assert info.value.errno == errno.EHOSTUNREACH  # size 2: no rank 99


def test_events_with_unicode_topics(handle):
    topic = unique("test.ünïcødé.事件")
    handle.event_subscribe(topic)
    try:
        handle.event_send(topic, {"k": "vä"})
        msg = handle.event_recv()
        assert msg.topic == topic
        assert msg.payload == {"k": "vä"}
        assert msg.type == FLUX_MSGTYPE_EVENT
        assert msg.type_str == "event"
        assert msg.decode() == (FLUX_MSGTYPE_EVENT, topic, '{"k": "vä"}')
    finally:
        handle.event_unsubscribe(topic)
    with pytest.raises(OSError):
        handle.event_subscribe(None)
    with pytest.raises(TypeError):
        handle.event_subscribe(3)


def test_event_recv_by_topic(handle):
    ev_a, ev_b = unique("test.evA"), unique("test.evB")
    handle.event_subscribe(ev_a)
    handle.event_subscribe(ev_b)
    try:
        handle.event_send(ev_a)
        handle.event_send(ev_b, "raw text")
        msg = handle.event_recv(ev_b)
        assert msg.topic == ev_b and msg.payload_str == "raw text"
        msg = handle.event_recv(ev_a)
        assert msg.topic == ev_a and msg.payload_str is None
    finally:
        handle.event_unsubscribe(ev_a)
        handle.event_unsubscribe(ev_b)


def test_event_send_checks_and_subclasses(flux_uri):
    """event_send() refuses what event_create() and send() refuse, in that
    order, and goes through a subclass's own send() or event_create()."""
    sent = []

    class Recording(Flux):
        def send(self, message, flags=0):
            sent.append(message.topic)
            return super().send(message, flags)

    with Recording(flux_uri) as h:
        h.event_send("test.recorded", {"k": 1})
        assert sent == ["test.recorded"]
    with pytest.raises(OSError) as info:
        h.event_send(None)  # the topic is checked first
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        h.event_send("test.x", object())  # not JSON: the payload next
    with pytest.raises(ClosedError):
        h.event_send("test.x", {"k": 1})
    with pytest.raises(ClosedError):
        h.respond(Message(FLUX_MSGTYPE_REQUEST))
    closed = Message(FLUX_MSGTYPE_EVENT)
    closed.close()
    with Flux(flux_uri) as h:
        with pytest.raises(ClosedError):
            h.send(closed)
        with pytest.raises(ClosedError):
            h.respond(closed)


def test_raw_send_recv_service(handle):
    """A service answering its own requests with raw send/recv/respond."""
    svc = unique("selfsvc")
    handle.service_register(svc).get()
    try:
        req = Message(FLUX_MSGTYPE_REQUEST)
        req.topic = svc + ".echo"
        req.payload = {"n": 5}
        handle.send(req)
        got = handle.recv(FLUX_MSGTYPE_REQUEST, topic_glob=svc + ".*")
        assert got.topic == svc + ".echo" and got.payload == {"n": 5}
        assert got.userid == os.getuid()
        handle.respond(got, {"n": got.payload["n"] + 1})
        resp = handle.recv(FLUX_MSGTYPE_RESPONSE)
        assert resp.topic == svc + ".echo"
        assert resp.payload == {"n": 6}
        assert resp.decode() == (FLUX_MSGTYPE_RESPONSE, svc + ".echo", '{"n": 6}')
        # nothing more waiting: a nonblocking recv says None
        assert handle.recv(flags=FLUX_O_NONBLOCK) is None
    finally:
        handle.service_unregister(svc).get()


def test_service_answering_its_own_rpc(handle):
    svc = unique("own")
    handle.service_register(svc).get()

    def answer(h, watcher, msg, args):
        h.respond(msg, {"echo": msg.payload, "args": args})

    w = handle.msg_watcher_create(answer, FLUX_MSGTYPE_REQUEST, svc + ".*", args="A")
    w.start()
    results = []

    def done(fut):
        results.append(fut.get())
        fut.get_flux().reactor_stop()

    handle.rpc(svc + ".x", [1, 2]).then(done)
    handle.reactor_run()
    w.destroy()
    handle.service_unregister(svc).get()
    assert results == [{"echo": [1, 2], "args": "A"}]


def test_service_register_twice_fails(handle):
    svc = unique("dupsvc")
    handle.service_register(svc).get()
    try:
        with Flux() as other, pytest.raises(OSError) as info:
            other.service_register(svc).get()
        assert info.value.errno == errno.EEXIST
    finally:
        handle.service_unregister(svc).get()
    with pytest.raises(OSError):
        handle.service_unregister(svc).get()


def test_barrier_single_process(handle):
    assert handle.barrier(unique("solo"), 1).get() is None


def test_reactor_stop_error_without_exception(handle):
    def stop(h, w, revents, args):
        h.reactor_stop_error()

    w = handle.timer_watcher_create(0, stop).start()
    with pytest.raises(OSError):
        handle.reactor_run()
    w.destroy()


def test_threads_each_with_a_handle(flux_uri):
    errors = []
    counts = []

    def worker(n):
        try:
            h = Flux(flux_uri)
            for i in range(50):
                assert h.rpc("broker.ping", {"t": n, "i": i}).get()["t"] == n
            fired = []
            h.timer_watcher_create(0.01, lambda h, w, r, a: fired.append(n)).start()
            h.reactor_run()
            counts.append((n, len(fired)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(counts) == [(n, 1) for n in range(4)]


def test_ctrl_c_during_blocking_get(flux_uri):
    svc = unique("silent")
    interrupt_child(
        setup='h.service_register({0!r}).get()  # never answers\n'
              'f = h.rpc({0!r} + ".wait")\nprint("ready", flush=True)'.format(svc),
        blocking="f.get()",
        ready_line="ready",
    )
