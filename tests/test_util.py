"""flux_ctypes.util: the conversions every payload goes through.

The fast JSON paths must be indistinguishable from json.dumps()/json.loads():
same text, same values, and the same exception with the same message."""

import json

import pytest

from flux_ctypes.util import _json_encode, decode_json, encode_payload, encode_text, encode_topic

pytestmark = pytest.mark.offline

# Values, whitespace around them, and every way a text can be malformed:
# empty, garbage after a value, unterminated, bad escapes, non-JSON tokens.
TEXTS = [
    '{"seq": 1, "route": "a!b", "userid": 0, "rolemask": 5}',
    "[1, 2.5, -3e2, true, false, null]",
    '"just a string"',
    "42",
    "null",
    '{"nested": {"list": [{"a": []}, {}]}, "u": "v\\u00e9 \\ud83d\\ude00"}',
    '{"k": "vé"}',
    "NaN",
    "-Infinity",
    '  {"leading": "space"}',
    '{"trailing": "space"}  \n',
    "",
    "   ",
    '{"a": 1} extra',
    '{"a": 1}{"b": 2}',
    '{"a": }',
    '{"a": 1',
    '["unterminated',
    '"bad \\x escape"',
    "{'single': 'quotes'}",
    "tru",
    '{"a": 1,}',
    '"control \x01 char"',
]


def outcome(fn, text):
    try:
        return ("value", fn(text))
    except Exception as exc:  # noqa: BLE001 - comparing whatever is raised
        return ("error", type(exc), str(exc))


@pytest.mark.parametrize("text", TEXTS)
def test_decode_json_matches_json_loads(text):
    expected = outcome(json.loads, text)
    got = outcome(decode_json, text)
    if expected[0] == "value" and expected[1] != expected[1]:  # NaN
        assert got[0] == "value" and got[1] != got[1]
    else:
        assert got == expected


def test_decode_json_leaves_no_state_between_calls():
    # The shared C scanner memoises keys within a call; a later call must
    # not see an earlier one's objects.
    first = decode_json('{"key": [1]}')
    second = decode_json('{"key": [2]}')
    assert first == {"key": [1]} and second == {"key": [2]}
    first["key"].append(3)
    assert second == {"key": [2]}


VALUES = [
    {"seq": 1},
    {"name": "vé", "n": 1.5, "ok": True, "none": None},
    {"nested": {"a": [1, 2]}},
    {1: "int key", "b": 2},
    [1, "two", None],
    "text",
    {},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_json_encode_matches_json_dumps(value):
    assert _json_encode(value) == json.dumps(value, ensure_ascii=False)


def test_json_encode_rejects_what_json_dumps_rejects():
    cyclic = {"a": []}  # type: dict
    cyclic["a"].append(cyclic)
    for bad in ({"a": object()}, {"a": {1, 2}}, cyclic, {(1, 2): "tuple key"}):
        with pytest.raises((TypeError, ValueError)) as ours:
            _json_encode(bad)
        with pytest.raises((TypeError, ValueError)) as theirs:
            json.dumps(bad, ensure_ascii=False)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("encode, what", [
    (lambda text: encode_text(text, "reason"), "reason"),
    (encode_topic, "topic"),
    (encode_payload, "payload"),
    (lambda text: encode_payload({"k": text}), "payload"),
])
def test_lone_surrogate_is_a_valueerror_naming_the_argument(encode, what):
    """surrogateescape gives back the bytes decode_text() kept, but a lone
    surrogate outside its range has no UTF-8 form at all."""
    assert b"a\xff" in encode("a\udcff")  # what decode_text() keeps stays
    with pytest.raises(ValueError, match=what) as info:
        encode("a\ud800")
    assert not isinstance(info.value, UnicodeError)
