"""flux_ctypes.hostlist: RFC 29 hostlists over the real libflux-hostlist.

Behaviour is checked directly, and against the official bindings on the
same inputs (a differential test, skipped where they are not installed),
including a seeded fuzz of random strings.  ``FUZZ_N=200000 pytest -k
fuzz tests/test_hostlist.py`` runs a larger fuzz by hand."""

import os
import random
import subprocess
import sys

import pytest

from _official import run_official
from helpers import collect
from flux_ctypes import lib as flux_lib
from flux_ctypes.hostlist import Hostlist, decode
from flux_ctypes.idset import IDset


@pytest.fixture(autouse=True, scope="module")
def libhostlist():
    try:
        flux_lib.load_companion("hostlist")
        flux_lib.load_companion("idset")
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("flux-core's hostlist/idset libraries not found: {}".format(
            str(exc).splitlines()[0]))


@pytest.mark.parametrize("text, encoded, count", [
    ("", "", 0),
    ("foo0", "foo0", 1),
    ("foo0,foo1", "foo[0-1]", 2),
    ("foo0,bar1", "foo0,bar1", 2),
    ("foo[0-10]", "foo[0-10]", 11),
    ("foo[7,6,5]", "foo[7,6,5]", 3),
    ("foo[00-02]", "foo[00-02]", 3),
    ("foo1 foo2\tfoo3", "foo[1-3]", 3),
    ("a[1-3],a2", "a[1-3,2]", 4),
])
def test_decode_encode(text, encoded, count):
    hl = Hostlist(text)
    assert str(hl) == hl.encode() == encoded
    assert repr(hl) == "Hostlist('{}')".format(encoded)
    assert len(hl) == hl.count() == count
    assert decode(text).expand() == hl.expand()


@pytest.mark.parametrize("text", [
    "[]", "foo[]", "foo[", "foo[1,3", "foo[[1,3]", "foo]", "foo[x-y]", "foo[0-1,2--5]",
    "foo[3-1]", "foo[-1]",
])
def test_malformed_is_valueerror_naming_the_argument(text):
    with pytest.raises(ValueError, match=r"Hostlist\(arg\).*{}".format(
            text.replace("[", r"\[").replace("]", r"\]"))):
        Hostlist(text)


def test_libhostlist_range_limit():
    assert len(Hostlist("node[1-1048576]")) == 1048576
    with pytest.raises(ValueError):
        Hostlist("node[0-1048576]")  # one more than a range may hold


def test_nul_would_truncate_in_c_so_it_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        Hostlist("foo1\0foo2")
    with pytest.raises(ValueError, match="NUL"):
        Hostlist("foo1").find("foo1\0x")


def test_numbers_too_large_for_libhostlist_are_refused():
    # libhostlist silently drops such a host ("a,foo<20 digits>,b" -> "a,b")
    # or clamps a bracketed one to ULONG_MAX
    assert str(Hostlist("foo18446744073709551615")) == "foo18446744073709551615"
    for text in ("a,foo99999999999999999999,b", "foo18446744073709551616",
                 "foo[18446744073709551616]", "foo[1-99999999999999999999]"):
        with pytest.raises(ValueError, match="too large"):
            Hostlist(text)
    # digits not at the end of a name are no number to libhostlist
    assert len(Hostlist("x99999999999999999999999y")) == 1


@pytest.mark.parametrize("arg", [42, 1.0, None, b"foo1", ["foo1", 42], [b"foo"]])
def test_wrong_types_are_typeerror(arg):
    with pytest.raises(TypeError, match=r"Hostlist\(arg\)"):
        Hostlist(arg)


def test_iterables_and_hostlists():
    assert str(Hostlist(["foo1", "foo2"])) == "foo[1-2]"
    assert str(Hostlist({"foo2", "foo1"}).sort()) == "foo[1-2]"
    assert str(Hostlist(["foo[1-2]", Hostlist("bar")])) == "foo[1-2],bar"
    with pytest.raises(ValueError, match="foo\\["):
        Hostlist(["ok", "foo["])
    original = Hostlist("foo[1-3]")
    copied = Hostlist(original)
    copied.delete("foo1")
    assert str(original) == "foo[1-3]"


def test_indexing_and_slicing():
    hl = Hostlist("foo[0-9]")
    assert (hl[0], hl[9], hl[-1], hl[-10]) == ("foo0", "foo9", "foo9", "foo0")
    assert str(hl[1:3]) == "foo[1-2]"
    assert str(hl[::3]) == "foo[0,3,6,9]"
    assert hl[::-1].expand() == ["foo{}".format(i) for i in range(9, -1, -1)]
    assert str(hl[8:100]) == "foo[8-9]"
    assert str(hl[5:2]) == ""
    assert str(hl[1, 3]) == "foo[1,3]"
    assert str(hl[IDset("0-1,5")]) == "foo[0-1,5]"
    for bad in (10, -11, 2 ** 40):
        with pytest.raises(IndexError):
            hl[bad]
    for bad in ("a", 1.5, None):
        with pytest.raises(TypeError):
            hl[bad]
    with pytest.raises(TypeError):
        hl[[1, "2"]]


def test_iteration_membership_expand():
    hl = Hostlist("foo[0-3]")
    assert list(hl) == hl.expand() == ["foo0", "foo1", "foo2", "foo3"]
    assert list(Hostlist()) == []
    assert "foo2" in hl and "foo4" not in hl and "foo" not in hl
    assert "" not in hl and "foo[1-2]" not in hl
    with pytest.raises(TypeError):
        42 in hl


def test_find_agrees_with_iteration_for_names_libhostlist_rejects():
    hl = Hostlist("foo[1-2]x[3]")
    assert list(hl) == ["foo1x[3]", "foo2x[3]"]  # libhostlist's reading
    assert hl.find("foo2x[3]") == 1  # its hostlist_find() says EINVAL
    assert "foo1x[3]" in hl and "foo3x[3]" not in hl


def test_iterating_while_deleting_stops_at_the_new_end():
    hl = Hostlist("foo[0-5]")
    seen = []
    for host in hl:
        seen.append(host)
        if host == "foo1":
            hl.delete("foo[4-5]")
    assert seen == ["foo0", "foo1", "foo2", "foo3"]


def test_append_itself_doubles_the_list_and_returns():
    """C's hostlist_append_list(h, h) adds h's ranges while walking them:
    it never ends.  Run in a child so that a regression fails, not hangs."""
    code = ("from flux_ctypes.hostlist import Hostlist\n"
            "hl = Hostlist('x[1-3],y')\n"
            "print(hl.append(hl), hl.append('z', hl), hl)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, timeout=60,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    assert out.split() == ["4", "10", "x[1-3],y,x[1-3],y,z,x[1-3],y,x[1-3],y,z"]


def test_append_delete_sort_uniq_copy():
    hl = Hostlist()
    assert hl.append("foo[0-3]") == 4
    assert hl.append("foo[7-9]", Hostlist("foo1,bar")) == 5
    assert str(hl) == "foo[0-3,7-9,1],bar"
    assert hl.append(["bar0", "bar1"]) == 2
    assert str(hl) == "foo[0-3,7-9,1],bar,bar[0-1]"
    with pytest.raises(TypeError):
        hl.append(42)
    with pytest.raises(ValueError):
        hl.append("foo[")
    # libhostlist deletes the first occurrence of each host named
    assert hl.delete("foo1") == 1
    assert str(hl) == "foo[0,2-3,7-9,1],bar,bar[0-1]"
    assert hl.delete("foo1,foo1") == 1  # (only one left)
    assert hl.delete(Hostlist("foo[7-8]")) == 2
    assert hl.delete(["bar0", "bar1"]) == 2
    assert hl.delete("nothere") == 0
    with pytest.raises(ValueError):
        hl.delete("foo[")  # malformed is an error, not "nothing deleted"
    assert str(hl) == "foo[0,2-3,9],bar"
    assert str(Hostlist("foo[7,6,5,1]").sort()) == "foo[1,5-7]"
    assert str(Hostlist("b,a,foo10,foo9").sort()) == "a,b,foo[9-10]"
    assert str(Hostlist("foo[1-3,1-3,2]").uniq()) == "foo[1-3]"
    original = Hostlist("foo[0-3]")
    copied = original.copy()
    original.delete("foo[0-3]")
    assert (str(original), str(copied)) == ("", "foo[0-3]")


def test_find_and_index():
    hl = Hostlist("foo[0-10]")
    assert hl.find("foo3") == 3
    with pytest.raises(FileNotFoundError):
        hl.find("foo11")
    with pytest.raises(TypeError):
        hl.find(3)
    assert hl.index("foo[1,5,7]") == [1, 5, 7]
    assert hl.index(Hostlist("foo7,foo1")) == [7, 1]  # in the order asked
    assert hl.index("foo[9-11]", ignore_nomatch=True) == [9, 10]
    with pytest.raises(FileNotFoundError, match="hosts 'foo\\[11-12\\]' not found"):
        hl.index("foo[10-12]")
    with pytest.raises(FileNotFoundError, match="host 'foo11' not found"):
        hl.index("foo11")
    # first occurrence of a duplicate
    assert Hostlist("a,b,a").find("a") == 0


def test_equality():
    assert Hostlist("foo[1-2]") == Hostlist("foo1,foo2")
    assert Hostlist("foo[1-2]") != Hostlist("foo2,foo1")
    assert Hostlist("foo1") != "foo1"
    with pytest.raises(TypeError):
        hash(Hostlist("foo1"))


def test_close_with_copy_and_pickle():
    import copy
    import pickle

    with Hostlist("foo[1-3]") as hl:
        assert isinstance(hl, flux_lib.CObject) and not hl.closed
        copied, deep = copy.copy(hl), copy.deepcopy(hl)
        thawed = pickle.loads(pickle.dumps(hl))
    assert hl.closed and hl.handle is None
    for use in (len, str, list, lambda h: h[0], lambda h: "foo1" in h, lambda h: h.copy()):
        with pytest.raises(flux_lib.ClosedError):
            use(hl)
    hl.close()  # idempotent
    assert str(copied) == str(deep) == str(thawed) == "foo[1-3]"
    iterator = iter(copied)
    assert next(iterator) == "foo1"
    copied.close()
    with pytest.raises(flux_lib.ClosedError):
        next(iterator)  # never a read of the freed list


def test_handle_adoption_checks_its_argument():
    with pytest.raises(TypeError):
        Hostlist(handle=42)
    with pytest.raises(TypeError):
        Hostlist(handle=flux_lib.hostlist_t())  # NULL


def test_each_c_hostlist_is_destroyed_exactly_once(monkeypatch):
    destroyed = []
    real = flux_lib.lib.hostlist_destroy

    def counting(ptr):
        destroyed.append(flux_lib.ctypes.addressof(ptr.contents))
        real(ptr)

    monkeypatch.setattr(flux_lib.lib, "hostlist_destroy", counting)
    made = [Hostlist("foo[1-3]"), Hostlist(["a", "b"]), Hostlist("x").copy()]
    made.append(made[0][0:2])
    collect()
    assert len(destroyed) == 1  # the temporary Hostlist("x") under copy()
    addresses = [flux_lib.ctypes.addressof(h.handle.contents) for h in made]
    del made
    collect()
    assert len(destroyed) == 5
    assert sorted(destroyed[1:]) == sorted(addresses)
    with pytest.raises(ValueError):
        Hostlist(["ok", "foo["])  # the half-built list is destroyed too
    collect()
    assert len(destroyed) == 6


# --- the official bindings on the same inputs ------------------------------------
OFFICIAL_PROBE = r"""
import flux.hostlist as H
out = []
for text in DATA:
    try:
        hl = H.decode(text)
    except Exception as exc:
        out.append([type(exc).__name__])
        continue
    out.append(["ok", str(hl), len(hl), list(hl), str(hl.copy().sort()),
                str(hl.copy().uniq())])
print(json.dumps(out))
"""


def ours(texts):
    out = []
    for text in texts:
        try:
            hl = decode(text)
        except Exception as exc:  # noqa: BLE001 - compared by type name
            out.append([type(exc).__name__])
            continue
        out.append(["ok", str(hl), len(hl), list(hl), str(hl.copy().sort()),
                    str(hl.copy().uniq())])
        # find() and ``in`` agree with iteration, even for the odd names
        # libhostlist's decoder makes and its find() rejects (EINVAL)
        names = list(hl)
        for name in names[:20]:
            assert hl.find(name) == names.index(name)
            assert name in hl
    return out


INPUTS = [
    "", "foo", "foo0", "foo[0-3]", "foo[3-0]", "foo[0-3,5,7-9]", "foo[01-10]", "foo[1-10,01]",
    "foo1,foo2,bar3", "foo[1-3]x", "foo[1-3]x[1-2]", "a,b,a", "[1-3]", "1-3", "foo-1",
    "foo[1-2]-bar", "  foo1 ,foo2  ", "foo,,bar", ",", "foo[9,10,11]", "f[1-2]o[3]",
    "foo0001,foo0002", "foo1,foo01", "node[1-2000]", "node[0-1048576]", "é[1-2]",
    "foo[]", "foo[", "foo]", "foo[1,,2]", "foo[1-]", "foo[-2]", "foo[a]", "foo[1-2",
]


def test_agrees_with_official_bindings():
    assert ours(INPUTS) == run_official(OFFICIAL_PROBE, INPUTS)


def random_hostlists(count, seed):
    rng = random.Random(seed)
    alphabet = "ab01239-[], x"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
            for _ in range(count)]


def test_fuzz_only_valueerror_and_same_answers_as_official():
    """Random strings: never a crash or an unexpected exception type, and
    the official bindings give the same answers (run more with FUZZ_N)."""
    texts = random_hostlists(int(os.environ.get("FUZZ_N", "3000")), seed=29)
    mine = ours(texts)
    assert {result[0] for result in mine} <= {"ok", "ValueError"}
    assert sum(result[0] == "ok" for result in mine) > len(texts) // 10
    official = run_official(OFFICIAL_PROBE, texts)
    differ = [(t, m, o) for t, m, o in zip(texts, mine, official) if m != o]
    assert not differ, differ[:5]
