"""Small conversions shared by the handle, message and RPC classes."""

import errno
import json
from typing import Any, Optional


def encode_topic(topic: Any) -> bytes:
    """A topic as UTF-8 bytes; None is EINVAL and other types TypeError,
    as in the official bindings."""
    if isinstance(topic, str):
        return topic.encode("utf-8")
    if isinstance(topic, bytes):
        return topic
    if topic is None:
        raise OSError(errno.EINVAL, "Topic must not be None/NULL")
    raise TypeError("Topic must be a string, not {}".format(type(topic)))


def encode_payload(payload: Any) -> Optional[bytes]:
    """A payload as bytes for C: None stays NULL, str and bytes are sent as
    they are, anything else goes through json.dumps()."""
    if payload is None:
        return None
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogateescape")


def decode_text(raw: Optional[bytes]) -> Optional[str]:
    """C string (bytes or None) to str, keeping undecodable bytes."""
    if raw is None:
        return None
    return raw.decode("utf-8", "surrogateescape")


def encode_text(value: Any, what: str = "argument") -> bytes:
    """str or bytes to bytes for a ``const char *`` parameter."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytes):
        return value
    raise TypeError("{} must be str or bytes, not {}".format(what, type(value).__name__))
