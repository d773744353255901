"""flux_ctypes.kvs against a live instance: values, raw bytes, directories,
symlinks, transactions, namespaces, watches, and bad input.

Each test writes under keys (and namespaces) of its own, from the ``key``
and ``namespace`` fixtures, so tests neither see nor disturb each other.
"""

import errno
import itertools
import json
import os
import random
import subprocess
import sys

import pytest
from helpers import collect, interrupt_child

from flux_ctypes import Flux, aio, compat, constants, kvs
from flux_ctypes.lib import FUNCTIONS

_serial = itertools.count()


@pytest.fixture
def key():
    """A KVS directory name no other test (or run) uses."""
    return "t_kvs_{}_{}".format(os.getpid(), next(_serial))


@pytest.fixture
def namespace(handle):
    """A fresh KVS namespace, removed after the test."""
    name = "t-kvs-ns-{}-{}".format(os.getpid(), next(_serial))
    kvs.namespace_create(handle, name)
    yield name
    kvs.namespace_remove(handle, name)


def put_commit(h, k, value, **kwargs):
    kvs.put(h, k, value, **kwargs)
    kvs.commit(h)


# --- offline ------------------------------------------------------------------
@pytest.mark.offline
def test_kvs_functions_in_the_table_once():
    names = [fn.name for fn in FUNCTIONS if fn.name.startswith(("flux_kvs", "flux_kvsdir",
                                                                   "flux_kvsitr"))]
    assert len(names) == len(set(names))
    for needed in ("flux_kvs_lookup", "flux_kvs_lookup_get_raw", "flux_kvs_txn_put_raw",
                   "flux_kvs_commit", "flux_kvsdir_key_at", "flux_kvs_lookup_cancel"):
        assert needed in names


@pytest.mark.offline
def test_kvs_constants():
    assert constants.FLUX_KVS_WATCH == 4
    assert constants.FLUX_KVS_READDIR == 1
    assert constants.FLUX_KVS_SYNC == 4
    assert "FLUX_KVS_NO_MERGE" in constants.__all__


@pytest.mark.offline
def test_the_shim_serves_flux_kvs():
    assert compat.SERVICES["flux.kvs"] == "flux_ctypes.kvs"
    code = "import flux.kvs, flux_ctypes.kvs; assert flux.kvs is flux_ctypes.kvs"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-m", "flux_ctypes.compat", "-c", code],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          universal_newlines=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.offline
def test_raw_value_error_is_a_type_error_and_what_official_code_catches():
    assert issubclass(kvs.RawValueTypeError, TypeError)
    assert issubclass(kvs.RawValueTypeError, AttributeError)


@pytest.mark.offline
def test_decode_value_follows_the_official_rules():
    assert kvs.decode_value(None) is None
    assert kvs.decode_value(b'{"a": [1]}') == {"a": [1]}
    assert kvs.decode_value(b"{") == "{"
    assert kvs.decode_value("\u263a".encode()) == "\u263a"
    assert kvs.decode_value(b"\xde\xad\xbe\xef") == b"\xde\xad\xbe\xef"


def official_python():
    """An interpreter that imports the official bindings of the flux-core
    under test (this one, or Debian's, which they are usually built for)."""
    from flux_ctypes import lib as flux_lib

    flux_cmd = flux_lib.flux_command()
    if flux_cmd is None:
        return None, None
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux_cmd)))
    for python in (sys.executable, "/usr/bin/python3"):
        if not os.path.exists(python):
            continue
        probe = subprocess.run(
            [python, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
            stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        version = probe.stdout.strip()
        # where flux-core installs them: its own directory, or the
        # interpreter's site directories under its prefix
        for where in (os.path.join(prefix, "lib", "flux", version),
                      os.path.join(prefix, "lib", version, "site-packages"),
                      os.path.join(prefix, "lib", version, "dist-packages")):
            ok = subprocess.run([python, "-c", "import flux.kvs; print(flux.__file__)"],
                                env=dict(os.environ, PYTHONPATH=where),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True, timeout=60)
            # the official bindings of *this* flux-core, not another one
            # the interpreter happens to see
            if ok.returncode == 0 and os.path.realpath(ok.stdout.strip()).startswith(
                    os.path.realpath(prefix) + os.sep):
                return python, where
    return None, None


# Rows of official_kvs.py whose official result depends on the flux-core
# release: the official flux.kvs gained put(raw=True) in 0.82 (flux-core
# b143dae74; the directory listings show the key it writes) and
# kvs_checkpoint_lookup() in 0.79 (d6f34f979).  flux_ctypes provides both
# on every release, so before those releases these rows differ by design.
OFFICIAL_KVS_SINCE = {"raw str": (0, 82), "raw int": (0, 82), "dir": (0, 82),
                      "walk": (0, 82), "checkpoint": (0, 79)}


def test_same_results_as_the_official_module(flux_uri, key):
    """tests/scripts/official_kvs.py, written for the official flux.kvs,
    prints the same values and exceptions under both bindings (except rows
    of features the official module of this release does not have yet)."""
    from flux_ctypes import version_tuple

    python, where = official_python()
    if python is None:
        pytest.skip("the official flux bindings don't import here")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "tests", "scripts", "official_kvs.py")
    outputs = []
    for args, path in (([python, script, key + "_official"], where),
                       ([sys.executable, "-m", "flux_ctypes.compat", script, key + "_ours"],
                        os.pathsep.join([root, where]))):
        proc = subprocess.run(args, env=dict(os.environ, FLUX_URI=flux_uri, PYTHONPATH=path),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    official, ours = [[row for row in out
                       if version_tuple() >= OFFICIAL_KVS_SINCE.get(row[0], ())]
                      for out in outputs]
    assert len(official) > 50
    assert [row for row in ours if row not in official] == []
    assert ours == official


# --- values -------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    0, -17, 10.5, "stuff", "", None, True, [1, "two", None], {"a": {"b": [1.5]}},
    "\u32db \u263a \u32e1 \U0001f600",
])
def test_round_trip(handle, key, value):
    put_commit(handle, key + ".v", value)
    got = kvs.get(handle, key + ".v")
    assert got == value and type(got) is type(value)


def test_unicode_keys(handle, key):
    k = key + ".\u043a\u043b\u044e\u0447.\u03b4\u03b5\u03bd\u03b4\u03c1\u03bf.\u9375"
    put_commit(handle, k, {"\u263a": "\u2603"})
    assert kvs.get(handle, k) == {"\u263a": "\u2603"}
    d = kvs.get_dir(handle, key + ".\u043a\u043b\u044e\u0447")
    assert list(d) == ["\u03b4\u03b5\u03bd\u03b4\u03c1\u03bf"]
    assert d.key_at("x") == key + ".\u043a\u043b\u044e\u0447.x"
    assert kvs.exists(handle, k.encode("utf-8"))  # bytes keys work too


def test_large_json_value(handle, key):
    # 3.5 MB of JSON text (json.dumps writes the \u00e9 escape)
    value = {"blob": "x\u00e9" * (512 * 1024), "n": list(range(1000))}
    put_commit(handle, key + ".big", value)
    assert kvs.get(handle, key + ".big") == value


def test_large_raw_value(handle, key):
    data = os.urandom(3 * 1024 * 1024) + b"\0tail"
    put_commit(handle, key + ".bigraw", data, raw=True)
    assert kvs.get_key_raw(handle, key + ".bigraw") == data


def test_raw_values(handle, key):
    binary = b"\xde\xad\x00\xbe\xef"
    kvs.put(handle, key + ".bin", binary, raw=True)
    kvs.put(handle, key + ".bytes", b"\xff\xfe")  # bytes are stored raw anyway
    kvs.put(handle, key + ".text", "not json", raw=True)
    kvs.put(handle, key + ".json", b'{"x": 1}', raw=True)
    kvs.put(handle, key + ".empty", b"", raw=True)
    kvs.commit(handle)
    # the stored bytes exactly, NULs included
    assert kvs.get_key_raw(handle, key + ".bin") == binary
    assert kvs.get(handle, key + ".bin") == binary
    assert kvs.get(handle, key + ".bytes") == b"\xff\xfe"
    assert kvs.get(handle, key + ".text") == "not json"
    assert kvs.get_key_raw(handle, key + ".text") == b"not json"
    assert kvs.get(handle, key + ".json") == {"x": 1}
    assert kvs.get_key_raw(handle, key + ".empty") == b""
    assert kvs.get(handle, key + ".empty") is None
    # a JSON value's raw form is its JSON text
    put_commit(handle, key + ".list", [1, 2])
    assert kvs.get_key_raw(handle, key + ".list") == b"[1, 2]"


def test_get_missing_key_is_enoent(handle, key):
    with pytest.raises(OSError) as info:
        kvs.get(handle, key + ".nothing")
    assert info.value.errno == errno.ENOENT
    assert not kvs.exists(handle, key + ".nothing")
    assert not kvs.isdir(handle, key + ".nothing")


# --- directories, symlinks, unlink ------------------------------------------
def test_directories(handle, key):
    kvs.put_mkdir(handle, key + ".empty")
    kvs.put(handle, key + ".a", 1)
    kvs.put(handle, key + ".sub.b", 2)
    kvs.put(handle, key + ".sub.deeper.c", 3)
    kvs.commit(handle)
    assert kvs.isdir(handle, key) and kvs.isdir(handle, key + ".empty")
    assert not kvs.isdir(handle, key + ".a") and kvs.exists(handle, key + ".a")
    top = kvs.get(handle, key)
    assert isinstance(top, kvs.KVSDir)
    assert sorted(top) == ["a", "empty", "sub"] and len(top) == 3
    assert sorted(top.files()) == ["a"]
    assert sorted(top.directories()) == ["empty", "sub"]
    files, dirs = top.list_all()
    assert files == ["a"] and sorted(dirs) == ["empty", "sub"]
    assert top["a"] == 1 and top["sub.deeper.c"] == 3
    assert top["sub"]["deeper"]["c"] == 3
    assert len(kvs.get_dir(handle, key + ".empty")) == 0
    with pytest.raises(KeyError):
        top["missing"]
    walked = list(kvs.walk(key, flux_handle=handle, topdown=True))
    assert [(path, sorted(d), sorted(f)) for path, d, f in walked] == [
        ("", ["empty", "sub"], ["a"]), ("empty", [], []),
        ("sub", ["deeper"], ["b"]), ("sub.deeper", [], ["c"])]


def test_kvsdir_writes_share_one_transaction(handle, key):
    kvs.put_mkdir(handle, key + ".s1.s2")
    kvs.commit(handle)
    with kvs.get_dir(handle, key) as d:
        d["x"] = "top"
        d["s1"]["s2"]["y"] = "deep"  # a subdirectory read through d
        assert not kvs.exists(handle, key + ".x")  # staged only
    assert kvs.get(handle, key + ".x") == "top"
    assert kvs.get(handle, key + ".s1.s2.y") == "deep"
    d = kvs.get_dir(handle, key)
    del d["x"]
    d.commit()
    assert not kvs.exists(handle, key + ".x")


def test_kvsdir_mkdir_fills_the_subdirectory_below_its_path(handle, key):
    kvs.put_mkdir(handle, key + ".base")
    kvs.commit(handle)
    d = kvs.get_dir(handle, key + ".base")
    d.mkdir("new", {"a": 1, "b.c": 2})
    assert kvs.get(handle, key + ".base.new.a") == 1
    assert kvs.get(handle, key + ".base.new.b.c") == 2
    assert not kvs.exists(handle, "new.a")


def test_symlinks(handle, key):
    kvs.put(handle, key + ".target", {"v": 1})
    kvs.put_symlink(handle, key + ".link", key + ".target")
    kvs.put_symlink(handle, key + ".dangling", key + ".nowhere")
    kvs.commit(handle)
    assert kvs.get(handle, key + ".link") == {"v": 1}
    assert not kvs.exists(handle, key + ".dangling")
    d = kvs.get_dir(handle, key)
    assert d.issymlink("link") and not d.issymlink("target")


def test_symlink_into_another_namespace(handle, key, namespace):
    kvs.put(handle, "there", 42)
    kvs.commit(handle, namespace=namespace)
    kvs.put_symlink(handle, key + ".far", "there", namespace=namespace)
    kvs.put_symlink(handle, key + ".near", key + ".x")
    kvs.put(handle, key + ".x", 1)
    kvs.commit(handle)
    assert kvs.get(handle, key + ".far") == 42
    assert kvs.readlink(handle, key + ".far") == (namespace, "there")
    assert kvs.readlink(handle, key + ".near") == (None, key + ".x")
    with pytest.raises(OSError) as info:
        kvs.readlink(handle, key + ".x")  # not a symlink
    assert info.value.errno == errno.EINVAL


def test_unlink(handle, key):
    put_commit(handle, key + ".gone", 1)
    kvs.put_unlink(handle, key + ".gone")
    kvs.commit(handle)
    assert not kvs.exists(handle, key + ".gone")
    with pytest.raises(OSError) as info:
        kvs.get(handle, key + ".gone")
    assert info.value.errno == errno.ENOENT


# --- transactions -------------------------------------------------------------
def test_txn_with_several_ops(handle, key):
    put_commit(handle, key + ".old", "delete me")
    txn = kvs.KVSTxn(handle, key)
    assert txn.is_empty()
    txn.mkdir("d")
    txn.put("d.a", 1)
    txn.put("d.raw", b"\x00\x01", raw=True)
    txn.symlink("ln", key + ".d.a")
    txn.unlink("old")
    assert not txn.is_empty()
    assert not kvs.exists(handle, key + ".d")  # nothing until the commit
    txn.commit()
    assert txn.is_empty()
    assert kvs.get(handle, key + ".d.a") == 1
    assert kvs.get_key_raw(handle, key + ".d.raw") == b"\x00\x01"
    assert kvs.get(handle, key + ".ln") == 1
    assert not kvs.exists(handle, key + ".old")


def test_txn_commits_all_or_nothing(handle, key):
    txn = kvs.KVSTxn(handle)
    txn.put(key + ".first", 1)
    txn.put(".", "replacing the root is refused")
    with pytest.raises(OSError) as info:
        txn.commit()
    assert info.value.errno == errno.EINVAL
    assert not kvs.exists(handle, key + ".first")
    assert txn.is_empty()  # cleared even though it failed


def test_failed_commit_does_not_poison_the_next(handle, key):
    kvs.put(handle, ".", 1)
    with pytest.raises(OSError):
        kvs.commit(handle)
    put_commit(handle, key + ".after", 2)
    assert kvs.get(handle, key + ".after") == 2


def test_a_bad_commit_argument_keeps_the_staged_changes(handle, key):
    kvs.put(handle, key + ".kept", 1)
    with pytest.raises(ValueError, match="namespace must not contain a NUL"):
        kvs.commit(handle, namespace="bad\0ns")
    kvs.commit(handle)
    assert kvs.get(handle, key + ".kept") == 1


@pytest.mark.parametrize("flags, error", [
    ("1", TypeError), (1.5, TypeError), (None, TypeError), (2 ** 31, ValueError),
    (-(2 ** 64), ValueError),
])
@pytest.mark.parametrize("call", [
    lambda h, key, flags: kvs.commit(h, flags),
    lambda h, key, flags: kvs.commit_async(h, flags),
    lambda h, key, flags: kvs.KVSTxn(h, key).commit_async(flags),
    lambda h, key, flags: kvs.namespace_create(h, "t-kvs-flags", flags=flags),
])
def test_flags_that_are_no_c_int_name_the_parameter(handle, key, call, flags, error):
    """ctypes would refuse them with a bare ArgumentError naming no
    parameter."""
    kvs.put(handle, key + ".f", 1)
    with pytest.raises(error, match="flags"):
        call(handle, key, flags)
    kvs.commit(handle)  # the staged change is kept
    assert kvs.get(handle, key + ".f") == 1


@pytest.mark.parametrize("contents", [1, "ab", ["a", 1], object()])
def test_kvsdir_fill_needs_a_mapping(handle, key, contents):
    kvs.put(handle, key + ".x", 1)
    kvs.commit(handle)
    with pytest.raises(TypeError, match="contents must be a mapping"):
        kvs.KVSDir(handle, key).fill(contents)


def test_txn_context_manager_and_flags(handle, key):
    with kvs.KVSTxn(handle, key) as txn:
        txn.put("a", 1)
    assert kvs.get(handle, key + ".a") == 1
    for flags in (constants.FLUX_KVS_NO_MERGE, constants.FLUX_KVS_TXN_COMPACT,
                  constants.FLUX_KVS_SYNC):
        kvs.put(handle, key + ".f", flags)
        kvs.commit(handle, flags)
        assert kvs.get(handle, key + ".f") == flags


def test_commit_async(handle, key):
    kvs.put(handle, key + ".a", "async")
    future = kvs.commit_async(handle)
    assert future.get() is None
    seq = future.get_sequence()
    assert future.get_rootref().startswith("sha")
    kvs.put(handle, key + ".a2", "again")
    assert kvs.commit_async(handle).get_sequence() > seq
    assert kvs.get(handle, key + ".a") == "async"
    txn = kvs.KVSTxn(handle)
    txn.put(key + ".b", "too")
    txn.commit_async().get()
    assert kvs.get(handle, key + ".b") == "too"


# --- namespaces -----------------------------------------------------------------
def test_namespaces(handle, key):
    name = "t-kvs-life-{}".format(os.getpid())
    kvs.namespace_create(handle, name)
    assert name in kvs.namespace_list(handle)
    assert "primary" in kvs.namespace_list(handle)
    kvs.put(handle, key, "in ns")
    kvs.commit(handle, namespace=name)
    assert kvs.get(handle, key, namespace=name) == "in ns"
    assert not kvs.exists(handle, key)  # not in the primary namespace
    with pytest.raises(OSError) as info:
        kvs.namespace_create(handle, name)
    assert info.value.errno == errno.EEXIST
    kvs.namespace_remove(handle, name)
    # Removal finishes in the background; each lookup is a round trip.
    for _ in range(10000):
        if name not in kvs.namespace_list(handle):
            break
    assert name not in kvs.namespace_list(handle)


def test_missing_namespace_is_a_clear_oserror(handle, key):
    missing = "t-kvs-never-{}".format(os.getpid())
    with pytest.raises(OSError) as info:
        kvs.get(handle, key, namespace=missing)
    assert info.value.errno == errno.ENOTSUP
    assert str(info.value) == (
        "[Errno {}] Operation not supported: KVS namespace {!r} does not exist".format(
            errno.ENOTSUP, missing))
    kvs.put(handle, key, 1)
    with pytest.raises(OSError) as info:
        kvs.commit(handle, namespace=missing)
    assert info.value.errno == errno.ENOTSUP and missing in str(info.value)
    with pytest.raises(OSError) as info:
        kvs.get_dir(handle, namespace=missing)
    assert info.value.errno == errno.ENOTSUP


def test_kvsdir_and_txn_in_a_namespace(handle, key, namespace):
    with kvs.KVSTxn(handle, namespace=namespace) as txn:
        txn.put(key + ".a", 1)
    with kvs.get_dir(handle, key, namespace=namespace) as d:
        assert d["a"] == 1
        d["b"] = 2
    assert kvs.get(handle, key + ".b", namespace=namespace) == 2
    assert not kvs.exists(handle, key)


# --- watching -------------------------------------------------------------------
def test_watch_sees_three_updates_and_ends(handle, key):
    put_commit(handle, key + ".n", 0)
    seen = []
    w = kvs.watch(handle, key + ".n")
    for value in w:  # blocks for each change; ends after cancel()
        seen.append(value)
        if value < 3:
            put_commit(handle, key + ".n", value + 1)
        else:
            w.cancel()
    assert seen == [0, 1, 2, 3]
    assert not w.needs_cancel
    with pytest.raises(OSError) as info:
        w.get()  # the stream is over
    assert info.value.errno == errno.ENODATA


def test_watch_async_then_in_the_reactor(handle, key):
    put_commit(handle, key + ".n", 0)
    seen = []

    def changed(future, limit):
        value = future.get()
        if value is None:  # the stream ended
            return
        seen.append(value)
        if value < limit:
            kvs.put(handle, key + ".n", value + 1)
            kvs.commit_async(handle)
        else:
            future.cancel()

    future = kvs.kvs_watch_async(handle, key + ".n")
    assert isinstance(future, kvs.KVSWatchFuture)
    future.then(changed, 3)
    assert handle.reactor_run() >= 0
    assert seen == [0, 1, 2, 3]


def test_watch_under_asyncio(handle, key):
    put_commit(handle, key + ".n", "a")

    async def main():
        seen = []
        with aio.attach(handle):
            w = kvs.watch(handle, key + ".n")
            async for value in aio.stream(w):
                seen.append(value)
                if len(seen) < 4:
                    kvs.put(handle, key + ".n", value + "a")
                    await kvs.commit_async(handle)
                else:
                    w.cancel()
        return seen

    loop = aio.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == ["a", "aa", "aaa", "aaaa"]
    finally:
        loop.close()


def test_watch_missing_key_and_waitcreate(handle, key):
    with pytest.raises(OSError) as info:
        next(kvs.watch(handle, key + ".later"))
    assert info.value.errno == errno.ENOENT
    w = kvs.watch(handle, key + ".later", waitcreate=True)
    put_commit(handle, key + ".later", "here")
    assert next(w) == "here"
    w.cancel()
    assert list(w) == []


def test_ctrl_c_interrupts_a_blocking_watch(flux_uri, key):
    interrupt_child(
        "from flux_ctypes import kvs\n"
        "w = kvs.watch(h, {!r}, waitcreate=True)\n"
        "print('ready', flush=True)".format(key + ".never"),
        "next(w)", "ready")


def test_dropped_watch_is_cancelled_in_the_service(handle, key, namespace):
    def watchers():
        stats = handle.rpc("kvs-watch.stats-get").get()
        return stats["namespaces"].get(namespace, {}).get("watchers", 0)

    kvs.put(handle, key, 1)
    kvs.commit(handle, namespace=namespace)
    w = kvs.watch(handle, key, namespace=namespace)
    assert next(w) == 1
    assert watchers() == 1
    del w  # never cancelled by hand
    collect()
    assert watchers() == 0


# --- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda h: kvs.get(h, "a\0b"),
    lambda h: kvs.exists(h, b"a\0b"),
    lambda h: kvs.put(h, "a\0b", 1),
    lambda h: kvs.put_mkdir(h, "a\0b"),
    lambda h: kvs.put_unlink(h, "a\0b"),
    lambda h: kvs.put_symlink(h, "a", "t\0arget"),
    lambda h: kvs.get(h, "a", namespace="ns\0x"),
    lambda h: kvs.namespace_create(h, "ns\0x"),
    lambda h: kvs.watch(h, "a\0b"),
])
def test_nul_characters_are_value_errors(handle, call):
    with pytest.raises(ValueError, match="must not contain a NUL"):
        call(handle)


@pytest.mark.parametrize("call, match", [
    (lambda h: kvs.get(h, "a\udcff"), "key can't be encoded as UTF-8"),
    (lambda h: kvs.put(h, b"a\xff", 1), "key is not valid UTF-8"),
    (lambda h: kvs.put_symlink(h, "a", b"\xc3"), "target is not valid UTF-8"),
    (lambda h: kvs.namespace_create(h, "\ud800"), "namespace can't be encoded as UTF-8"),
])
def test_names_must_be_utf8(handle, call, match):
    # libflux-core would fail these with a misleading ENOMEM
    with pytest.raises(ValueError, match=match):
        call(handle)


@pytest.mark.parametrize("value, exc", [
    (object(), TypeError), ({1, 2}, TypeError), (float("nan"), ValueError),
    (float("inf"), ValueError),
])
def test_values_json_cannot_encode(handle, key, value, exc):
    with pytest.raises(exc, match="value can't be stored as JSON"):
        kvs.put(handle, key, value)


def test_circular_value(handle, key):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="value can't be stored as JSON"):
        kvs.put(handle, key, loop)


def test_raw_put_of_a_non_string(handle, key):
    with pytest.raises(TypeError, match="value must be bytes or str with raw=True"):
        kvs.put(handle, key, 1, raw=True)


@pytest.mark.parametrize("call", [
    lambda h: kvs.get(h, ""),
    lambda h: kvs.get_dir(h, ""),
    lambda h: kvs.put(h, "", 1),
    lambda h: kvs.put_mkdir(h, ""),
    lambda h: kvs.put_symlink(h, "", ""),
    lambda h: kvs.watch(h, ""),
])
def test_empty_keys_are_einval(handle, call):
    with pytest.raises(OSError) as info:
        call(handle)
    assert info.value.errno == errno.EINVAL


@pytest.mark.parametrize("call, match", [
    (lambda h: kvs.get(h, None), "key must be str or bytes"),
    (lambda h: kvs.get(h, 12), "key must be str or bytes"),
    (lambda h: kvs.put(h, ["k"], 1), "key must be str or bytes"),
    (lambda h: kvs.get(h, "k", namespace=3), "namespace must be str or bytes"),
    (lambda h: kvs.get("not a handle", "k"), "flux_handle must be a flux_ctypes Flux"),
    (lambda h: kvs.put(h, "k", 1, _kvstxn="txn"), "_kvstxn must be a KVSTxn"),
])
def test_wrong_types_are_type_errors(handle, call, match):
    with pytest.raises(TypeError, match=match):
        call(handle)


def test_other_bad_arguments(handle):
    with pytest.raises(ValueError):
        kvs.KVSDir()
    with pytest.raises(ValueError, match="flux_handle must be specified"):
        kvs.walk("dir")
    with pytest.raises(ValueError, match="owner must be a user id"):
        kvs.namespace_create(handle, "x", owner=-1)
    with pytest.raises(OSError) as info:
        kvs.get_dir(handle, "t_kvs_surely_absent_dir")
    assert info.value.errno == errno.ENOENT


def test_a_closed_handle_is_an_error_not_a_crash(flux_uri, key):
    with Flux(flux_uri) as h:
        pass
    with pytest.raises(ValueError, match="flux_handle is closed"):
        kvs.get(h, key)
    with pytest.raises(ValueError, match="flux_handle is closed"):
        kvs.put(h, key, 1)


# --- fuzz -------------------------------------------------------------------------
_KEY_PIECES = ["a", "b", ".", "..", "\0", " ", "\u00e9", "\u263a", "\U0001f600", "\ud800",
               "\udcff", "\t", "%s", "*", "/", "\\"]


def _random_value(rng, depth=0):
    kind = rng.randrange(10 if depth < 2 else 6)
    if kind == 0:
        return rng.randint(-2 ** 70, 2 ** 70)
    if kind == 1:
        return rng.choice([0.5, -1e300, float("nan"), float("inf"), 1e-300])
    if kind == 2:
        return "".join(rng.choice(_KEY_PIECES) for _ in range(rng.randrange(8)))
    if kind == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(16)))
    if kind == 4:
        return rng.choice([None, True, False, object(), {1, 2}, b"", ""])
    if kind == 5:
        return bytearray(b"ba")
    if kind < 8:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["k", "\0", "\u263a", ""]): _random_value(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def _normal(value):
    """What a value reads back as: bytes that are UTF-8 come back decoded."""
    if isinstance(value, bytes):
        return kvs.decode_value(value) if value else None
    return value


def test_fuzz_put_get(handle, key):
    """Random keys and values: each either round-trips or fails cleanly
    (TypeError, ValueError, or OSError from the KVS), and the handle keeps
    working; never a crash, a hang or a different value read back."""
    rng = random.Random(20261129)
    outcomes = {"ok": 0, "TypeError": 0, "ValueError": 0, "OSError": 0}
    for i in range(300):
        k = "{}.f{}.{}".format(key, i, "".join(
            rng.choice(_KEY_PIECES) for _ in range(rng.randrange(1, 6))))
        if rng.randrange(8) == 0:
            k = k.encode("utf-8", "surrogatepass")  # bytes keys, not always UTF-8
        if rng.randrange(30) == 0:
            k = rng.choice([".", "", "..."])  # the root, or nothing: EINVAL
        value = _random_value(rng)
        raw = isinstance(value, bytes) and rng.randrange(2) == 0
        try:
            kvs.put(handle, k, value, raw=raw)
            kvs.commit(handle)
            got = kvs.get(handle, k)
        except (TypeError, ValueError, OSError) as exc:
            # ours or the KVS's own, with a message: not a codec's
            assert not isinstance(exc, UnicodeError), repr(exc)
            assert str(exc)
            kvs.commit(handle)  # drops whatever the failed put left staged
            outcomes[OSError.__name__ if isinstance(exc, OSError) else
                     "TypeError" if isinstance(exc, TypeError) else "ValueError"] += 1
            continue
        if isinstance(got, kvs.KVSDir):  # the key named a directory after all
            continue
        expected = _normal(value)
        if isinstance(expected, float) and expected != expected:
            raise AssertionError("NaN was stored")
        assert got == expected, (k, value, got)
        outcomes["ok"] += 1
    # the run exercised every outcome, and the handle still works
    assert all(outcomes.values()), outcomes
    put_commit(handle, key + ".after", "fine")
    assert kvs.get(handle, key + ".after") == "fine"


def test_errors_without_text_of_the_kvs_name_the_key(handle, key):
    """The KVS answers ENOENT, EISDIR, ELOOP, EINVAL with no text: the
    OSError names the key the way it names a file."""
    kvs.put(handle, key + ".v", 1)
    kvs.put_symlink(handle, key + ".loop", key + ".loop")
    kvs.commit(handle)
    cases = [
        (lambda: kvs.get(handle, key + ".nope"), FileNotFoundError, key + ".nope"),
        (lambda: kvs.get_key_raw(handle, (key + ".nope2").encode()), FileNotFoundError,
         key + ".nope2"),
        (lambda: kvs.get_key_direct(handle, key), IsADirectoryError, key),
        (lambda: kvs.get(handle, key + ".loop.x"), OSError, key + ".loop.x"),
        (lambda: kvs.readlink(handle, key + ".v"), OSError, key + ".v"),
        (lambda: kvs.watch(handle, key + ".nope3").get(), FileNotFoundError, key + ".nope3"),
    ]
    for call, error, named in cases:
        with pytest.raises(error) as info:
            call()
        assert info.value.filename == named
        assert str(info.value).endswith(": {!r}".format(named))
