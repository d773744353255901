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
from conftest import collect, interrupt_child, open_fds



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
    handle.attr_set("test.flux_ctypes", "value1")
    assert Flux().attr_get("test.flux_ctypes") == "value1"
    if flux_ctypes.version_tuple() < (0, 80):
        # the broker dropped attr.rm in 0.47 and brought it back in 0.80
        with pytest.raises(OSError) as info:
            handle.attr_remove("test.flux_ctypes")
        assert info.value.errno == errno.ENOSYS
    else:
        handle.attr_remove("test.flux_ctypes")
        with pytest.raises(OSError):
            Flux().attr_get("test.flux_ctypes")
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
    topic = "test.ünïcødé.事件"
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
    handle.event_subscribe("test.evA")
    handle.event_subscribe("test.evB")
    try:
        handle.event_send("test.evA")
        handle.event_send("test.evB", "raw text")
        msg = handle.event_recv("test.evB")
        assert msg.topic == "test.evB" and msg.payload_str == "raw text"
        msg = handle.event_recv("test.evA")
        assert msg.topic == "test.evA" and msg.payload_str is None
    finally:
        handle.event_unsubscribe("test.evA")
        handle.event_unsubscribe("test.evB")


def test_raw_send_recv_service(handle):
    """A service answering its own requests with raw send/recv/respond."""
    handle.service_register("selfsvc").get()
    try:
        req = Message(FLUX_MSGTYPE_REQUEST)
        req.topic = "selfsvc.echo"
        req.payload = {"n": 5}
        handle.send(req)
        got = handle.recv(FLUX_MSGTYPE_REQUEST, topic_glob="selfsvc.*")
        assert got.topic == "selfsvc.echo" and got.payload == {"n": 5}
        assert got.userid == os.getuid()
        handle.respond(got, {"n": got.payload["n"] + 1})
        resp = handle.recv(FLUX_MSGTYPE_RESPONSE)
        assert resp.topic == "selfsvc.echo"
        assert resp.payload == {"n": 6}
        assert resp.decode() == (FLUX_MSGTYPE_RESPONSE, "selfsvc.echo", '{"n": 6}')
        # nothing more waiting: a nonblocking recv says None
        assert handle.recv(flags=FLUX_O_NONBLOCK) is None
    finally:
        handle.service_unregister("selfsvc").get()


def test_service_answering_its_own_rpc(handle):
    handle.service_register("own").get()

    def answer(h, watcher, msg, args):
        h.respond(msg, {"echo": msg.payload, "args": args})

    w = handle.msg_watcher_create(answer, FLUX_MSGTYPE_REQUEST, "own.*", args="A")
    w.start()
    results = []

    def done(fut):
        results.append(fut.get())
        fut.get_flux().reactor_stop()

    handle.rpc("own.x", [1, 2]).then(done)
    handle.reactor_run()
    w.destroy()
    handle.service_unregister("own").get()
    assert results == [{"echo": [1, 2], "args": "A"}]


def test_service_register_twice_fails(handle):
    handle.service_register("dupsvc").get()
    try:
        with pytest.raises(OSError) as info:
            Flux().service_register("dupsvc").get()
        assert info.value.errno == errno.EEXIST
    finally:
        handle.service_unregister("dupsvc").get()
    with pytest.raises(OSError):
        handle.service_unregister("dupsvc").get()


def test_barrier_single_process(handle):
    assert handle.barrier("solo", 1).get() is None


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
    interrupt_child(
        setup='h.service_register("silent").get()  # never answers\n'
              'f = h.rpc("silent.wait")\nprint("ready", flush=True)',
        blocking="f.get()",
        ready_line="ready",
        delay=0.3,
    )
