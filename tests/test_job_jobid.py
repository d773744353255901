"""flux_ctypes.job.JobID: RFC 19 job IDs parsed and encoded by the loaded
libflux-core (no instance needed)."""

import pytest

from helpers import library_or_skip
from flux_ctypes.job import JobID, id_encode, id_parse
from flux_ctypes.job.JobID import jobid_arg


@pytest.fixture(autouse=True)
def need_library():
    library_or_skip()


# (value, encoding, text): fixed points of RFC 19
KNOWN = [
    (0, "dothex", "0000.0000.0000.0000"),
    (0, "kvs", "job.0000.0000.0000.0000"),
    (0, "words", "academy-academy-academy--academy-academy-academy"),
    (65535, "hex", "0xffff"),
    (65535, "dothex", "0000.0000.0000.ffff"),
    (6787342413402046, "f58plain", "fuzzybunny"),
    (6787342413402046, "words", "cake-plume-nepal--neuron-pencil-academy"),
    (18446744073709551614, "dothex", "ffff.ffff.ffff.fffe"),
    (18446744073709551614, "f58plain", "fjpXCZedGfVP"),
]


@pytest.mark.parametrize("value,encoding,text", KNOWN)
def test_encode_and_parse_round_trip(value, encoding, text):
    assert id_encode(value, encoding) == text
    assert id_parse(text) == value
    jobid = JobID(text)
    assert jobid == value and isinstance(jobid, int)
    assert getattr(jobid, encoding) == text
    assert jobid.orig == text


def test_f58_prefix_follows_the_library(monkeypatch):
    # the ASCII 'f' is forced by FLUX_F58_FORCE_ASCII, read by the C library
    monkeypatch.setenv("FLUX_F58_FORCE_ASCII", "1")
    assert str(JobID(6787342413402046)) == "fuzzybunny"
    monkeypatch.delenv("FLUX_F58_FORCE_ASCII")
    assert str(JobID(6787342413402046)) in ("ƒuzzybunny", "fuzzybunny")
    assert JobID("ƒuzzybunny") == JobID("fuzzybunny") == 6787342413402046


def test_emoji_round_trip():
    jobid = JobID(6787342413402046)
    assert JobID(jobid.emoji) == jobid


def test_repr_str_and_copy():
    jobid = JobID("0x1234")
    assert repr(jobid) == "JobID(4660)"
    assert str(jobid) == jobid.f58
    copy = JobID(jobid)
    assert copy == jobid and copy.orig == "0x1234"
    assert JobID(1234).orig == "1234"
    assert jobid.dec == "4660"


@pytest.mark.parametrize("text", [
    "invalid", "-1", "0.0.0", "0.0.0.0.0", "0.0.0.g", "job.0.0", "notjob.0.0.0.0",
    "f0", "fO", "fI", "foo-bar-baz--qux-quux-corge", "🦄", "", "\ud800", "ƒ\udfff",
])
def test_bad_text_is_value_error(text):
    with pytest.raises(ValueError, match="not a valid Flux jobid"):
        JobID(text)
    with pytest.raises(OSError):
        id_parse(text)


def test_bad_types():
    with pytest.raises(TypeError):
        JobID(1.5)
    with pytest.raises(TypeError):
        id_parse(12)
    with pytest.raises(OSError):
        id_parse("12\0")


def test_unknown_encoding_names_it():
    with pytest.raises(OSError, match="bogus"):
        id_encode(1, "bogus")


def test_out_of_range_ids_never_wrap():
    # ctypes would silently wrap -1 to 2**64-1: refused by name instead
    with pytest.raises(OverflowError, match="jobid"):
        id_encode(-1)
    with pytest.raises(OverflowError):
        jobid_arg(2 ** 64)
    assert jobid_arg(2 ** 64 - 1) == 2 ** 64 - 1
    assert jobid_arg("ƒ2") == 1
    with pytest.raises(ValueError):
        jobid_arg("abc")
    with pytest.raises(TypeError):
        jobid_arg(None)
    with pytest.raises(TypeError):
        jobid_arg(True)


@pytest.mark.parametrize("encoding", ["dec\0hex", "\ud800", "f58\udcff\0"])
def test_encoding_with_nul_or_no_utf8_form_is_a_valueerror(encoding):
    """C would read "dec\\0hex" as "dec": refused, naming the parameter."""
    with pytest.raises(ValueError, match="encoding"):
        id_encode(1, encoding)
    with pytest.raises(ValueError, match="encoding"):
        JobID(1).encode(encoding)


@pytest.mark.parametrize("text", ["abc", "ƒ" + "z" * 30, b"0x", "1" * 40])
def test_id_parse_error_names_the_text(text):
    with pytest.raises(OSError, match="{!r} is not a job ID".format(text)):
        id_parse(text)
