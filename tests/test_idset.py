"""flux_ctypes.idset: RFC 22 idsets over the real libflux-idset.

Checked directly, and against the official bindings on the same inputs
(skipped where they are not installed), including a seeded fuzz;
``FUZZ_N=100000 pytest -k fuzz tests/test_idset.py`` runs more by hand."""

import os
import random
import re

import pytest

from _official import run_official
from flux_ctypes import lib as flux_lib
from flux_ctypes.idset import (
    IDSET_FLAG_BRACKETS,
    IDSET_FLAG_RANGE,
    IDSET_INVALID_ID,
    IDSET_MAX_ID,
    IDset,
    decode,
)


@pytest.fixture(autouse=True, scope="module")
def libidset():
    try:
        flux_lib.load_companion("idset")
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("libflux-idset not found: {}".format(str(exc).splitlines()[0]))


@pytest.mark.parametrize("arg, text", [
    ("", ""), ("0", "0"), ("0,1", "0-1"), ("0-10", "0-10"),
    ("[0-3]", "0-3"), (7, "7"), ([42, 40, 41], "40-42"), ((), ""),
    (range(5), "0-4"), ({9, 1}, "1,9"), (IDset("2-3"), "2-3"),
])
def test_constructor(arg, text):
    ids = IDset(arg)
    assert str(ids) == text
    assert repr(ids) == "IDset('{}')".format(text)


@pytest.mark.parametrize("flags, text", [
    (IDSET_FLAG_RANGE, "0-3,7"),
    (IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS, "[0-3,7]"),
    (IDSET_FLAG_BRACKETS, "[0,1,2,3,7]"),
    (0, "0,1,2,3,7"),
])
def test_encode_flags(flags, text):
    ids = IDset("0-3,7")
    assert ids.encode(flags) == text
    ids.set_flags(flags)
    assert str(ids) == text
    assert repr(ids) == "IDset('0-3,7')"  # always with ranges
    assert IDset("5").encode(IDSET_FLAG_BRACKETS) == "5"  # no brackets for one


@pytest.mark.parametrize("text", ["foo", "1-", "-1", "3-1", "[1", "1]", "0x1", "1.5",
                                  "3,1,2", "1,1", "0-5,3-8"])  # libidset: in order only
def test_malformed_is_valueerror_with_the_reason(text):
    with pytest.raises(ValueError, match=r"IDset\(arg\): invalid idset"):
        IDset(text)


def test_huge_ranges_cost_nothing():
    ids = IDset("0-2147483647")
    assert len(ids) == 2 ** 31 and ids.last() == IDSET_MAX_ID
    assert str(ids - "1-2147483646") == "0,2147483647"


def test_ids_libidset_would_wrap_are_refused():
    # idset_decode() reads "99999999999" as 1215752191 (strtoul, 32 bits)
    for text in ("99999999999", "0-4294967296", "1,4294967294"):
        with pytest.raises(ValueError, match="larger than an idset can hold"):
            IDset(text)
    for bad in (-1, IDSET_MAX_ID + 1, 2 ** 32 + 3, 2 ** 64):
        with pytest.raises(ValueError):
            IDset().set(bad)  # ctypes would wrap these into valid ids
        with pytest.raises(ValueError):
            IDset([bad])


@pytest.mark.parametrize("arg", [1.5, None, b"1-2", ["1"], [1.0], True, object()])
def test_wrong_types_are_typeerror(arg):
    with pytest.raises(TypeError):
        IDset(arg)


def test_nul_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        IDset("1\0-5")


def test_members():
    ids = IDset("0-3,7")
    assert len(ids) == ids.count() == 5
    assert list(ids) == ids.expand() == [0, 1, 2, 3, 7]
    assert 7 in ids and 4 not in ids and 2 ** 40 not in ids
    assert ids[0] and not ids[5]
    assert (ids.first(), ids.last(), ids.next(3), ids.next(7)) == (0, 7, 7, IDSET_INVALID_ID)
    assert ids.next(2 ** 40) == IDSET_INVALID_ID
    empty = IDset()
    assert (empty.first(), empty.last(), list(empty)) == (IDSET_INVALID_ID, IDSET_INVALID_ID, [])
    with pytest.raises(ValueError):
        -1 in ids
    with pytest.raises(TypeError):
        "1" in ids
    with pytest.raises(TypeError):
        ids.next("a")


def test_set_clear_setitem():
    ids = IDset()
    assert str(ids.set(3)) == "3"
    assert str(ids.set(5, 9).clear(6, 7)) == "3,5,8-9"
    ids[100] = True
    ids[3] = 0
    assert str(ids) == "5,8-9,100"
    for bad in (7, "x", None, 0.0):
        with pytest.raises(TypeError):
            ids[1] = bad
    with pytest.raises(ValueError):
        ids.set(5, 1)
    with pytest.raises(ValueError):
        ids.clear(1, -1)
    with pytest.raises(TypeError):
        ids.set("a")
    assert str(ids.clear(1000)) == "5,8-9,100"  # beyond the universe: nothing


def test_set_algebra():
    ids = IDset("0-9")
    assert str(ids.union("20", [30, 31], IDset("5-15"))) == "0-15,20,30-31"
    assert str(ids.intersect("5-20", "0-6")) == "5-6"
    assert str(ids.difference("5-7", [1])) == "0,2-4,8-9"
    assert str(ids | "10") == str(ids + "10") == "0-10"
    assert str(ids & [1, 2]) == "1-2"
    assert str(ids - 0) == "1-9"
    assert str(ids) == "0-9"  # none of those changed it
    ids += "20-21"
    ids -= [0, 21]
    assert str(ids) == "1-9,20"
    assert str(ids.add(IDset()).subtract("")) == "1-9,20"
    with pytest.raises(ValueError):
        ids.add("foo")
    with pytest.raises(TypeError):
        ids.subtract(4.2)


def test_copy_and_equality():
    ids = IDset("0-9", flags=0)
    copied = ids.copy()
    copied.clear(1, 9)
    assert str(copied) == "0" and str(ids) == "0,1,2,3,4,5,6,7,8,9"
    assert ids == IDset("0-9") and ids != copied
    assert ids.equal(IDset(range(10)))
    with pytest.raises(TypeError):
        ids == "0-9"  # as the official: comparing with a non-IDset is a mistake
    with pytest.raises(TypeError):
        ids.equal([0])
    with pytest.raises(TypeError):
        hash(ids)


def test_decode_and_flags_checks():
    assert str(decode("1-3")) == "1-3"
    with pytest.raises(TypeError):
        decode(5)
    with pytest.raises(ValueError):
        IDset("1", flags=64)
    with pytest.raises(TypeError):
        IDset("1").encode("x")


def test_handle_adoption_takes_the_ids_and_destroys_the_c_set(monkeypatch):
    destroyed = []
    real = flux_lib.lib.idset_destroy
    monkeypatch.setattr(flux_lib.lib, "idset_destroy",
                        lambda ptr: (destroyed.append(1), real(ptr)))
    ptr = flux_lib.lib.idset_decode(b"1-3,9")
    ids = IDset(handle=ptr)
    assert str(ids) == "1-3,9" and destroyed == [1]
    with pytest.raises(TypeError):
        IDset(handle=flux_lib.idset_t())  # NULL
    with pytest.raises(TypeError):
        IDset(handle="1-3")


def test_operations_agree_with_a_python_set_model():
    """Random sequences of set/clear (single ids and ranges) and set
    algebra, checked step by step against Python's own set."""
    rng = random.Random(2022)
    for _ in range(300):
        ids, model = IDset(), set()
        for _ in range(rng.randint(1, 30)):
            lo = rng.randint(0, 60)
            hi = lo + rng.choice([0, 0, 1, 2, 5, 20])
            if rng.random() < 0.6:
                ids.set(lo, hi) if hi > lo else ids.set(lo)
                model.update(range(lo, hi + 1))
            else:
                ids.clear(lo, hi)
                model.difference_update(range(lo, hi + 1))
            assert list(ids) == sorted(model)
            assert len(ids) == len(model)
        other_model = {rng.randint(0, 70) for _ in range(rng.randint(0, 40))}
        other = IDset(other_model)
        assert list(ids | other) == sorted(model | other_model)
        assert list(ids & other) == sorted(model & other_model)
        assert list(ids - other) == sorted(model - other_model)
        assert list(other - ids) == sorted(other_model - model)
        assert (ids == other) == (model == other_model)
        for probe in range(0, 75):
            assert (probe in ids) == (probe in model)
            after = [x for x in sorted(model) if x > probe]
            assert ids.next(probe) == (after[0] if after else IDSET_INVALID_ID)
        assert ids.first() == (min(model) if model else IDSET_INVALID_ID)
        assert ids.last() == (max(model) if model else IDSET_INVALID_ID)
        # the text form is canonical: what libidset reads back is the same set
        assert list(IDset(str(ids))) == sorted(model)


# --- libidset itself, in this process ----------------------------------------------
def c_decode(text):
    data = text.encode()
    error = flux_lib.idset_error_t()
    try:
        return flux_lib.lib.idset_decode_ex(data, len(data), -1, 1,
                                            flux_lib.ctypes.byref(error))
    except OSError:
        return None


def c_encode(ptr, flags):
    return flux_lib.take_string(flux_lib.lib.idset_encode(ptr, flags))


def c_answers(text):
    """What libidset says of ``text``: None if it refuses it, else its
    encodings with each flag combination."""
    ptr = c_decode(text)
    if ptr is None:
        return None
    try:
        # without ranges libidset writes every id (and re-scans its output
        # per id): only for small sets
        small = flux_lib.lib.idset_count(ptr) <= 1000
        return [c_encode(ptr, flags) if small or flags & 4 else None
                for flags in (0, 2, 4, 6)]
    finally:
        flux_lib.lib.idset_destroy(ptr)


def py_answers(text):
    try:
        ids = IDset(text)
    except ValueError:
        return None
    small = len(ids) <= 1000
    return [ids.encode(flags) if small or flags & 4 else None for flags in (0, 2, 4, 6)]


def test_parsing_agrees_with_libidset_in_process():
    """The grammar followed in Python accepts exactly what libidset
    accepts and encodes it the same way (random and fixed input)."""
    rng = random.Random(1022)
    texts = INPUTS + ["".join(rng.choice("0123456789-,[]") for _ in range(rng.randint(0, 8)))
                      for _ in range(int(os.environ.get("FUZZ_N", "4000")))]
    differ = []
    for text in texts:
        wraps = any(int(n) > IDSET_MAX_ID for n in re.findall("[0-9]+", text))
        ours, theirs = py_answers(text), c_answers(text)
        if wraps:
            assert ours is None, text  # libidset would read a wrapped id
        elif ours != theirs:
            differ.append((text, ours, theirs))
    assert not differ, differ[:5]


def test_error_messages_are_libidsets():
    for text, reason in (("1-", "error parsing range '1-'"), ("3,1", "range '1' is out of order"),
                         ("[1]]", "mismatched or nested brackets"), ("01", "error parsing range")):
        with pytest.raises(ValueError, match=re.escape(reason)):
            IDset(text)
        error = flux_lib.idset_error_t()
        with pytest.raises(OSError):
            flux_lib.lib.idset_decode_ex(text.encode(), len(text), -1, 1,
                                         flux_lib.ctypes.byref(error))
        assert reason in error.text.decode()


# --- the official bindings on the same inputs --------------------------------------
PROBE = r"""
out = []
for text in DATA:
    try:
        ids = IDSET.decode(text)
    except Exception as exc:
        out.append([type(exc).__name__])
        continue
    small = len(ids) < 1000
    out.append(["ok", str(ids), len(ids), list(ids) if small else None,
                ids.encode(0) if small else None,
                ids.encode(IDSET.IDSET_FLAG_RANGE | IDSET.IDSET_FLAG_BRACKETS),
                ids.first(), ids.last(), str(ids | "3-5"), str(ids - "0-2"), str(ids & "1-8")])
print(json.dumps(out))
"""


def probe(idset_module, texts):
    namespace = {"IDSET": idset_module, "DATA": texts, "json": __import__("json")}
    captured = []
    namespace["print"] = captured.append
    exec(PROBE, namespace)
    return __import__("json").loads(captured[0])


def official(texts):
    return run_official("import flux.idset as IDSET\n" + PROBE, texts)


INPUTS = ["", "0", "1-3", "3-1", "1,3,5-7", "[1-3]", "[1", "1-", "-1", "00-03", "1-1",
          "7,3", "0-5,3-8", " 1", "1 ", "1, 2", "1,,2", "a", "0-1023", "4294967295",
          "1-3,,", "[]", "[ ]", ",", "--", "1--3"]


def test_agrees_with_official_bindings():
    import flux_ctypes.idset as ours

    mine = probe(ours, INPUTS)
    theirs = official(INPUTS)
    assert mine[INPUTS.index("4294967295")] == ["ValueError"]  # they wrap it
    keep = [i for i, text in enumerate(INPUTS) if text != "4294967295"]
    assert [mine[i] for i in keep] == [theirs[i] for i in keep]


def test_fuzz_only_valueerror_and_same_answers_as_official():
    import flux_ctypes.idset as ours

    rng = random.Random(22)
    texts = ["".join(rng.choice("0123456789-,[] ") for _ in range(rng.randint(0, 7)))
             for _ in range(int(os.environ.get("FUZZ_N", "3000")))]
    mine = probe(ours, texts)
    assert {result[0] for result in mine} <= {"ok", "ValueError"}
    assert sum(result[0] == "ok" for result in mine) > len(texts) // 20
    theirs = official(texts)
    differ = [(t, m, o) for t, m, o in zip(texts, mine, theirs)
              if m != o and not any(int(n) > IDSET_MAX_ID for n in re.findall("[0-9]+", t))]
    assert not differ, differ[:5]
