"""Messages: building, reading and reference counting (needs libflux-core)."""

import ctypes
import errno
import platform

import pytest

from helpers import collect, library_or_skip, unique
from flux_ctypes import Message
from flux_ctypes.constants import (
    FLUX_MSGTYPE_EVENT,
    FLUX_MSGTYPE_REQUEST,
    FLUX_MSGTYPE_RESPONSE,
    FLUX_ROLE_OWNER,
    FLUX_ROLE_USER,
    FLUX_USERID_UNKNOWN,
)
from flux_ctypes.lib import lib
from flux_ctypes.message import msg_typestr


@pytest.fixture(autouse=True)
def need_library():
    library_or_skip()


def test_new_request_fields():
    msg = Message()
    assert msg.type == FLUX_MSGTYPE_REQUEST and msg.type_str == "request"
    msg.topic = "a.b"
    assert msg.topic == "a.b"
    assert msg.payload_str is None and msg.payload is None
    msg.payload = {"x": [1, 2]}
    assert msg.payload == {"x": [1, 2]}
    msg.payload_str = "plain text"
    assert msg.payload_str == "plain text"
    assert msg.userid == FLUX_USERID_UNKNOWN  # unsigned, not -1
    msg.userid = 1234
    msg.rolemask = FLUX_ROLE_USER | FLUX_ROLE_OWNER
    assert msg.userid == 1234
    assert msg.rolemask == FLUX_ROLE_USER | FLUX_ROLE_OWNER
    msg.type = FLUX_MSGTYPE_EVENT
    assert msg.type_str == "event"


def test_type_keywords():
    assert Message(type=FLUX_MSGTYPE_EVENT).type == FLUX_MSGTYPE_EVENT
    assert Message(type_id=FLUX_MSGTYPE_RESPONSE).type == FLUX_MSGTYPE_RESPONSE
    assert msg_typestr(FLUX_MSGTYPE_RESPONSE) == "response"


def test_decode_request_and_event():
    msg = Message(FLUX_MSGTYPE_REQUEST)
    msg.topic = "svc.method"
    msg.payload = {"k": "vé"}
    assert msg.decode() == (FLUX_MSGTYPE_REQUEST, "svc.method", '{"k": "vé"}')
    ev = Message.from_event_encode("ev.topic", {"a": 1})
    assert ev.decode() == (FLUX_MSGTYPE_EVENT, "ev.topic", '{"a": 1}')
    assert Message.from_event_encode("ev.empty").decode() == (FLUX_MSGTYPE_EVENT, "ev.empty", None)


def test_decode_error_response():
    req = Message._adopt(lib.flux_request_encode(b"svc.x", None))
    err = Message._adopt(lib.flux_response_derive(req.handle, errno.EPERM))
    lib.flux_msg_set_string(err.handle, b"not allowed, says the test")
    with pytest.raises(OSError) as info:
        err.decode()
    assert info.value.errno == errno.EPERM
    assert info.value.strerror == "not allowed, says the test"


def test_decode_control_message_is_an_error():
    with pytest.raises(OSError) as info:
        Message(8).decode()  # FLUX_MSGTYPE_CONTROL
    assert info.value.errno == errno.EPROTO


def test_bad_topic_and_handle():
    msg = Message()
    with pytest.raises(OSError) as info:
        msg.topic = None
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        msg.topic = 12
    with pytest.raises(TypeError):
        Message(handle="not a message")
    with pytest.raises(TypeError):
        Message(handle=lib.flux_msg_create.restype())  # NULL


def test_no_topic_is_an_error():
    with pytest.raises(OSError) as info:
        Message().topic
    assert info.value.errno == errno.EPROTO


def test_invalid_json_payload_raises():
    msg = Message()
    msg.payload_str = "{not json"
    with pytest.raises(ValueError):
        msg.payload


def test_wrapping_takes_and_gives_back_one_reference():
    raw = lib.flux_msg_create(FLUX_MSGTYPE_REQUEST)
    lib.flux_msg_set_topic(raw, b"refcount.test")
    for _ in range(3):
        wrapper = Message(handle=raw)
        assert wrapper.topic == "refcount.test"
        del wrapper
        collect()
    # our own reference is still good: the wrappers each took and gave one
    again = Message(handle=raw)
    assert again.topic == "refcount.test"
    lib.flux_msg_decref(raw)  # give back the creator's reference
    assert again.topic == "refcount.test"  # the wrapper's keeps it alive


def _address(ptr):
    return ctypes.cast(ptr, ctypes.c_void_p).value


class _RefCounter:
    """The references message wrappers take (flux_msg_incref) and give
    back (flux_msg_decref) on the message a callback was lent, once it
    was lent (its address may have been the sent message's): taken and
    given, lists of its address."""

    def __init__(self, monkeypatch):
        import flux_ctypes.lib as flux_lib

        self.lent = []  # the address of the callback's message
        self._taken = []
        self._given = []
        real_incref = flux_lib.unchecked.flux_msg_incref
        real_decref = flux_lib.unchecked.flux_msg_decref
        checked_incref = flux_lib.lib.flux_msg_incref

        def incref(ptr):
            if self.lent:
                self._taken.append(_address(ptr))
            return real_incref(ptr)

        def shared(ptr):  # CObject.handle's, sharing an owned pointer
            if self.lent:
                self._taken.append(_address(ptr))
            return checked_incref(ptr)

        def decref(ptr):
            if self.lent:
                self._given.append(_address(ptr))
            real_decref(ptr)

        monkeypatch.setattr(flux_lib.unchecked, "flux_msg_incref", incref)
        monkeypatch.setattr(flux_lib.lib, "flux_msg_incref", shared)
        monkeypatch.setattr(flux_lib.lib, "flux_msg_decref", decref)

    @property
    def taken(self):
        return [a for a in self._taken if a in self.lent]

    @property
    def given(self):
        return [a for a in self._given if a in self.lent]


def _deliver_event(handle, on_event, counts):
    """Publish one event and run the reactor until on_event(msg) has seen it."""
    topic = unique("lent")
    handle.event_subscribe(topic)
    seen = []

    def callback(h, watcher, msg, args):
        seen.append(None)
        counts.lent.append(_address(msg._as_parameter_))
        h.reactor_stop()
        on_event(msg)

    w = handle.msg_watcher_create(callback, FLUX_MSGTYPE_EVENT, topic + ".*")
    w.start()
    try:
        handle.event_send(topic + ".tick", {"n": 7})
        handle.reactor_run()
    finally:
        w.destroy()
        handle.event_unsubscribe(topic)
    assert seen == [None]


def test_message_read_in_its_callback_takes_no_reference(handle, monkeypatch):
    """A callback's message is C's for the call: a callback that only reads
    it costs no reference taken and given back."""
    if platform.python_implementation() != "CPython":
        pytest.skip("only where reference counts say who keeps the wrapper (CPython); "
                    "elsewhere a callback's message always takes its reference")
    counts = _RefCounter(monkeypatch)
    got = []
    _deliver_event(handle, lambda msg: got.append((msg.topic, msg.payload, msg.closed)), counts)
    collect()
    assert got == [(got[0][0], {"n": 7}, False)] and got[0][0].endswith(".tick")
    assert counts.taken == [] and counts.given == []


def test_message_kept_after_its_callback_takes_its_reference(handle, monkeypatch):
    counts = _RefCounter(monkeypatch)
    kept = []
    _deliver_event(handle, kept.append, counts)
    msg = kept.pop()
    assert len(counts.taken) == 1 and counts.given == []
    assert not msg.closed and msg.payload == {"n": 7}  # still readable: its own reference
    del msg
    collect()
    assert counts.given == counts.taken


def test_message_pointer_handed_out_takes_its_reference(handle, monkeypatch):
    """msg.handle and msg.cptr may be given to another wrapper (which then
    shares the reference it finds owned): the message takes its own first."""
    counts = _RefCounter(monkeypatch)
    other = []

    def share(msg):
        wrapper = Message()
        wrapper.handle = msg.handle  # shared with msg, which owns one now
        other.append(wrapper)
        assert msg.cptr is msg.handle

    _deliver_event(handle, share, counts)
    assert other[0].payload == {"n": 7}
    assert len(counts.taken) == 2  # msg's own, and the wrapper's share
    del other[:]
    collect()
    assert sorted(counts.given) == sorted(counts.taken)


def test_message_closed_in_its_callback(handle, monkeypatch):
    counts = _RefCounter(monkeypatch)
    closed = []

    def close(msg):
        msg.close()
        closed.append(msg)  # kept, but closed: nothing to take or give back
        with pytest.raises(ValueError):
            msg.payload

    _deliver_event(handle, close, counts)
    assert closed[0].closed
    collect()
    assert counts.taken == [] and counts.given == []


def test_message_of_a_failed_callback_is_kept_with_the_exception(handle, monkeypatch):
    counts = _RefCounter(monkeypatch)

    def fail(msg):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError) as info:
        _deliver_event(handle, fail, counts)
    assert len(counts.taken) == 1
    del info
    collect()
    assert counts.given == counts.taken
