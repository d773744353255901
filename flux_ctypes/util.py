"""Small conversions shared by the handle, message and RPC classes."""

import errno

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, List, Optional


def _utf8(text: str, what: str) -> bytes:
    """``text`` as UTF-8, undecodable bytes read by decode_text() given
    back as they were; a lone surrogate (no such byte) is a ValueError
    naming ``what``, not a UnicodeEncodeError from inside."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise ValueError("{} can't be encoded as UTF-8: {}".format(what, exc.reason)) from None


def encode_topic(topic: "Any") -> bytes:
    """A topic as UTF-8 bytes; None is EINVAL and other types TypeError,
    as in the official bindings."""
    if isinstance(topic, str):
        try:  # inline (not _utf8): once per message or RPC
            data = topic.encode()  # strict: the cheaper call, the same bytes
        except UnicodeEncodeError:  # a surrogate: _utf8 keeps or refuses it
            data = _utf8(topic, "topic")
    elif isinstance(topic, bytes):
        data = topic
    else:
        data = None
    if data is not None:
        if 0 in data:  # an int: b"\0" would cost a TypeError raised and cleared in C
            raise ValueError("topic must not contain a NUL character")
        return data
    if topic is None:
        raise OSError(errno.EINVAL, "Topic must not be None/NULL")
    raise TypeError("Topic must be a string, not {}".format(type(topic)))


# json (with re and enum, which it imports) would be a quarter of 'import
# flux_ctypes': it is imported, and the encoders and the scanner below are
# made, when the first payload is encoded or decoded (see _load_json).
_json = None  # type: Any
_checked = None  # type: Any
_flat_encode = None  # type: Optional[Callable[[Any, int], List[str]]]
_scan_json = None  # type: Optional[Callable[[str, int], Any]]
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _load_json() -> "Any":
    """The json module, with the encoders and the scanner made (once)."""
    global _json, _checked, _flat_encode, _scan_json
    import json
    import json.encoder
    import json.scanner

    if _json is None:
        _checked = json.JSONEncoder(ensure_ascii=False)
        _flat_encode = _make_flat_encode(json, _checked)
        _scan_json = _make_scanner(json)
        _json = json  # last: another thread may use the others once it is set
    return json


def _make_flat_encode(json: "Any", checked: "Any") -> "Optional[Callable[[Any, int], List[str]]]":
    # The C encoder JSONEncoder.encode() would build, built once.  Without
    # its circular-reference bookkeeping (a dict per call, which is what
    # makes one unshareable), so it is only given flat dicts (below).
    make = getattr(json.encoder, "c_make_encoder", None)  # None without _json
    if make is None:  # pragma: no cover - not CPython
        return None
    return make(  # type: ignore[no-any-return]
        None, checked.default, json.encoder.encode_basestring, None,
        checked.key_separator, checked.item_separator, False, False, True,
    )


def _json_encode(payload: "Any") -> str:
    """``json.dumps(payload, ensure_ascii=False)``.

    json.dumps() with an option builds a JSONEncoder per call, and
    encode() a C encoder per call: most of the cost of a small payload.  A
    dict of plain scalars (the usual request) can hold no cycle, so it goes
    through a C encoder made once; anything else through the checking one.
    """
    if _json is None:
        _load_json()
    if _flat_encode is not None and type(payload) is dict:
        for value in payload.values():
            if type(value) not in _SCALARS:
                return _checked.encode(payload)  # type: ignore[no-any-return]
        return "".join(_flat_encode(payload, 0))
    return _checked.encode(payload)  # type: ignore[no-any-return]


def encode_payload(payload: "Any") -> "Optional[bytes]":
    """A payload as bytes for C: None stays NULL, str and bytes are sent as
    they are, anything else goes through json.dumps()."""
    if payload is None:
        return None
    if isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        try:
            data = payload.encode()  # as in encode_topic
        except UnicodeEncodeError:
            data = _utf8(payload, "payload")
    else:
        text = _json_encode(payload)
        try:  # inline (not _utf8): once per message or RPC
            return text.encode()  # as in encode_topic
        except UnicodeEncodeError:
            return _utf8(text, "payload")
    if 0 in data:  # an int: b"\0" would cost a TypeError raised and cleared in C
        # C reads a payload up to its first NUL: refuse rather than truncate
        raise ValueError("payload must not contain a NUL character")
    return data


def _make_scanner(json: "Any") -> "Optional[Callable[[str, int], Any]]":
    # json.loads() reaches the C scanner through three Python frames and
    # two whitespace regex matches: most of its cost for a payload of a
    # few dozen bytes, as responses are.  The scanner alone, made once, is
    # shareable (it holds the GIL throughout and clears its memo per call).
    make = getattr(json.scanner, "c_make_scanner", None)  # None without _json
    if make is None:  # pragma: no cover - not CPython; its json.loads is fast
        return None
    return make(json.JSONDecoder())  # type: ignore[no-any-return]


def decode_json(text: str) -> "Any":
    """``json.loads(text)``, with the same result and the same errors.

    A text that is one JSON value with nothing around it (what Flux sends)
    is parsed by the C scanner directly; anything else, including every
    malformed text, goes to json.loads() itself."""
    json = _json
    if json is None:
        json = _load_json()
    scan = _scan_json
    if scan is not None:
        try:
            value, end = scan(text, 0)
        except (StopIteration, ValueError):  # malformed: json.loads says why
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def decode_text(raw: "Optional[bytes]") -> "Optional[str]":
    """C string (bytes or None) to str, keeping undecodable bytes."""
    if raw is None:
        return None
    try:
        # strict first: a cheaper call than with the error handler named,
        # and the same text for every valid UTF-8
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def encode_text(value: "Any", what: str = "argument") -> bytes:
    """str or bytes to bytes for a ``const char *`` parameter."""
    if isinstance(value, str):
        data = _utf8(value, what)
    elif isinstance(value, bytes):
        data = value
    else:
        raise TypeError("{} must be str or bytes, not {}".format(what, type(value).__name__))
    if 0 in data:  # an int: b"\0" would cost a TypeError raised and cleared in C
        raise ValueError("{} must not contain a NUL character".format(what))
    return data


def listed(value: "Any", what: str) -> "List[Any]":
    """``list(value)`` for an iterable argument (keys, attrs...), refusing a
    ctypes pointer: indexing one never ends (there is no length), so listing
    it reads memory until the process dies."""
    import ctypes  # loaded already: the library is

    if isinstance(value, ctypes._Pointer):
        raise TypeError("{} must be an iterable of values, not a ctypes pointer".format(what))
    return list(value)
