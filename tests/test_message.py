"""Messages: building, reading and reference counting (needs libflux-core)."""

import errno

import pytest

from helpers import collect, library_or_skip
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
