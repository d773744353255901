"""The loader and the prototype table: no instance needed."""

import ctypes
import errno
import os
import shutil
import subprocess
import sys

import pytest

import flux_ctypes
from flux_ctypes import constants
from flux_ctypes import lib as flux_lib
from helpers import library_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env_changes):
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = ROOT
    return subprocess.run(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )


@pytest.mark.offline
def test_import_needs_no_library():
    # A bogus FLUX_CORE_LIB: importing still works, the first call fails
    # with our error, which lists what was tried and names the variable.
    proc = run_python(
        "import flux_ctypes, sys\n"
        "try:\n"
        "    flux_ctypes.Flux()\n"
        "except flux_ctypes.FluxCoreNotFound as exc:\n"
        "    assert isinstance(exc, OSError) and exc.errno == 2, exc\n"
        "    print(exc.strerror)\n"
        "else:\n"
        "    sys.exit('no error')\n",
        FLUX_CORE_LIB="/nonexistent/libflux-core.so.2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "/nonexistent/libflux-core.so.2 (FLUX_CORE_LIB): no such file" in proc.stdout
    assert "Set FLUX_CORE_LIB" in proc.stdout


def test_importing_every_module_maps_no_library():
    """Binding is lazy: importing the whole package, with a library there to
    be found, maps no libflux-core into the process until a call needs it."""
    library_or_skip()
    proc = run_python(
        "import pkgutil, importlib, flux_ctypes\n"
        "for mod in pkgutil.walk_packages(flux_ctypes.__path__, 'flux_ctypes.'):\n"
        "    if mod.name != 'flux_ctypes.__main__':\n"
        "        importlib.import_module(mod.name)\n"
        "def mapped():\n"
        "    with open('/proc/self/maps') as f:\n"
        "        return 'libflux-core' in f.read()\n"
        "print(mapped())\n"
        "flux_ctypes.version()\n"
        "print(mapped())\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]


@pytest.mark.offline
def test_error_lists_every_candidate(monkeypatch, tmp_path):
    monkeypatch.delenv("FLUX_CORE_LIB", raising=False)
    fake_prefix = tmp_path / "prefix"
    (fake_prefix / "bin").mkdir(parents=True)
    flux_cmd = fake_prefix / "bin" / "flux"
    flux_cmd.write_text("#!/bin/sh\n")
    flux_cmd.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_prefix / "bin"))
    rules = [rule for rule, _ in flux_lib.candidates()]
    paths = [path for _, path in flux_lib.candidates()]
    assert rules[:2] == ["flux on PATH", "flux on PATH"]
    assert paths[0] == str(fake_prefix / "lib" / flux_lib.SONAME)
    assert paths[1] == str(fake_prefix / "lib64" / flux_lib.SONAME)
    assert rules[-1] == "soname" and paths[-1] == flux_lib.SONAME


@pytest.mark.offline
def test_flux_core_lib_directory_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("FLUX_CORE_LIB", str(tmp_path))
    assert flux_lib.candidates() == [("FLUX_CORE_LIB", str(tmp_path / flux_lib.SONAME))]
    monkeypatch.setenv("FLUX_CORE_LIB", "/x/libflux-core.so.2")
    assert flux_lib.candidates() == [("FLUX_CORE_LIB", "/x/libflux-core.so.2")]


@pytest.mark.offline
def test_wrong_file_is_reported(tmp_path):
    bogus = tmp_path / "libflux-core.so.2"
    bogus.write_text("not a library")
    proc = run_python(
        "import flux_ctypes.lib as l\n"
        "try:\n    l.load_library()\nexcept l.FluxCoreNotFound as e:\n    print(e.strerror)\n",
        FLUX_CORE_LIB=str(tmp_path),
    )
    assert str(bogus) in proc.stdout
    assert "FLUX_CORE_LIB" in proc.stdout


@pytest.mark.offline
def test_parse_version():
    assert flux_lib.parse_version("0.88.0-59-g4a5e79f56") == (0, 88, 0)
    assert flux_lib.parse_version("v0.77.0") == (0, 77, 0)
    assert flux_lib.parse_version("garbage") == ()


@pytest.mark.offline
def test_table_is_well_formed():
    names = [fn.name for fn in flux_lib.FUNCTIONS]
    assert len(names) == len(set(names)), "a function is declared twice"
    prefixes = {"core": ("flux_",), "hostlist": ("hostlist_",), "idset": ("idset_",),
                "libc": ("free",)}
    for fn in flux_lib.FUNCTIONS:
        assert fn.library in flux_lib.SONAMES, fn
        assert fn.name.startswith(prefixes[fn.library]), fn
        if fn.added is not None and fn.removed is not None:
            assert fn.added < fn.removed, fn
        assert fn.errors in (flux_lib.NULL, flux_lib.NEG, flux_lib.NONE), fn
        if fn.errors == flux_lib.NULL:
            assert fn.restype is not None and issubclass(
                fn.restype, (ctypes._Pointer, ctypes.c_char_p, ctypes.c_void_p)
            ), fn
        if fn.errors == flux_lib.NEG:
            assert fn.restype in (ctypes.c_int, ctypes.c_ssize_t), fn


# What a function that talks to a broker or waits has in its name.
_IO_WORDS = ("send", "recv", "rpc", "wait", "run", "open", "close", "connect", "commit",
             "lookup", "publish", "respond", "subscribe", "submit", "barrier", "attr_",
             "service", "log", "create_watcher", "reconnect")


def test_quick_functions_do_no_io():
    """Quick functions are called holding the GIL (no other Python thread
    runs meanwhile): none of them may talk to a broker or wait."""
    quick = [fn for fn in flux_lib.FUNCTIONS if fn.quick]
    assert any(fn.name == "flux_msg_set_topic" for fn in quick)
    for fn in quick:
        words = [w for w in _IO_WORDS if w in fn.name]
        # messages are only built and read, whatever the names say
        pure = fn.name.startswith("flux_msg_") or fn.name.endswith(("_encode", "_decode"))
        assert not words or pure or fn.name == "flux_job_waitstatus_to_exitcode", (fn, words)


def test_opaque_types_are_distinct():
    library_or_skip()
    msg = flux_lib.lib.flux_msg_create(constants.FLUX_MSGTYPE_REQUEST)
    try:
        with pytest.raises(ctypes.ArgumentError):
            flux_lib.lib.flux_future_destroy(msg)  # a message is not a future
        with pytest.raises(ctypes.ArgumentError):
            flux_lib.lib.flux_close(msg)
    finally:
        flux_lib.lib.flux_msg_destroy(msg)


def test_version_is_read_once():
    loaded = library_or_skip()
    assert flux_ctypes.version() == loaded.version
    assert flux_ctypes.version_tuple()[:2] >= (0, 1)
    assert flux_ctypes.version().startswith(".".join(map(str, flux_ctypes.version_tuple())))


def test_errno_conventions():
    library_or_skip()
    # NEG convention: flux_msg_get_type on a NULL message sets EINVAL
    with pytest.raises(OSError) as info:
        flux_lib.lib.flux_msg_get_type(None, ctypes.byref(ctypes.c_int()))
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)
    # NULL convention: decoding bytes that are no message returns NULL
    # and sets EINVAL
    with pytest.raises(OSError) as info:
        flux_lib.lib.flux_msg_decode(b"\x00garbage", 8)
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)


def test_missing_function_stub(monkeypatch):
    loaded = library_or_skip()
    fake = flux_lib.Fn("flux_no_such_function_xyz", ctypes.c_int, (), flux_lib.NEG)
    stub = flux_lib.bind(fake)
    with pytest.raises(flux_ctypes.MissingFunctionError) as info:
        stub()
    message = str(info.value)
    assert "flux_no_such_function_xyz" in message
    assert loaded.version in message


def _loaded(version):
    """A LoadedLibrary record for the version-gate logic (no library)."""
    return flux_lib.LoadedLibrary(None, "/x/libflux-core.so.2", "test", version,
                                  flux_lib.parse_version(version))


@pytest.mark.offline
def test_missing_reason_reads_the_table_versions():
    removed = flux_lib.Fn("flux_gone", ctypes.c_int, (), flux_lib.NEG, removed=(0, 78))
    added = flux_lib.Fn("flux_new", ctypes.c_int, (), flux_lib.NEG, added=(0, 90))
    plain = flux_lib.Fn("flux_odd", ctypes.c_int, (), flux_lib.NEG)
    assert flux_lib.missing_reason(removed, _loaded("0.88.0-59-g4a5e79f56")) == (
        "flux_gone: removed in flux-core 0.78, this library is 0.88.0-59-g4a5e79f56")
    assert flux_lib.missing_reason(added, _loaded("0.77.0")) == (
        "flux_new: added in flux-core 0.90, this library is 0.77.0")
    # the table says it should be there: say so, with the path
    assert flux_lib.missing_reason(removed, _loaded("0.77.0")) == (
        "flux_gone() is not provided by the loaded libflux-core 0.77.0 "
        "(/x/libflux-core.so.2)")
    assert "flux_odd() is not provided" in flux_lib.missing_reason(plain, _loaded("0.88.0"))


def test_barrier_stub_names_the_release_that_removed_it():
    loaded = library_or_skip()
    if loaded.version_tuple < (0, 78):
        pytest.skip("flux-core {} still has flux_barrier".format(loaded.version))
    with pytest.raises(flux_ctypes.MissingFunctionError) as info:
        flux_lib.lib.flux_barrier(None, b"x", 1)
    assert str(info.value) == "flux_barrier: removed in flux-core 0.78, this library is {}".format(
        loaded.version)


@pytest.mark.offline
def test_unknown_table_name():
    with pytest.raises(AttributeError, match="not in flux_ctypes' function table"):
        flux_lib.lib.flux_not_declared


@pytest.mark.offline
def test_constants_are_unsigned_where_c_is():
    assert constants.FLUX_NODEID_ANY == 0xFFFFFFFF
    assert constants.FLUX_USERID_UNKNOWN == 0xFFFFFFFF
    assert constants.FLUX_ROLE_ALL == 0xFFFFFFFF
    assert set(constants.__all__) == {n for n in dir(constants) if n.startswith("FLUX_")}


@pytest.mark.offline
def test_diagnostic_without_library():
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes"],
        env=dict(os.environ, FLUX_CORE_LIB="/nonexistent", PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "flux_ctypes: error: libflux-core not found (set FLUX_CORE_LIB)"
    )


def test_diagnostic_with_instance(flux_uri):
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--uri", flux_uri],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "library:" in out and flux_lib.load_library().path in out
    assert "version:   " + flux_ctypes.version() in out
    assert "(size 2, rank 0)" in out
    assert " us to rank 0" in out


def test_diagnostic_uses_flux_uri(flux_uri):
    env = dict(os.environ, PYTHONPATH=ROOT, FLUX_URI=flux_uri)
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--count", "2"], env=env, timeout=60,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "instance:  {} (size 2, rank 0)\n".format(flux_uri) in proc.stdout


def test_diagnostic_starts_a_throwaway_instance(flux_uri):
    """No FLUX_URI, no --uri: it starts a single broker, pings it, and shuts
    it down (its run directory is gone afterwards)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("FLUX_URI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--count", "2"], env=env, timeout=120,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stderr
    line = [l for l in proc.stdout.splitlines() if l.startswith("instance:")][0]
    assert line.endswith("(size 1, rank 0) (throwaway: flux start --test-size=1)")
    assert " us to rank 0" in proc.stdout
    uri = line.split()[1]
    assert uri.startswith("local://") and uri != flux_uri
    rundir = os.path.dirname(uri[len("local://"):])
    assert not os.path.exists(rundir), "the throwaway instance is still running"


def test_diagnostic_unreachable_instance(tmp_path):
    library_or_skip()
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--uri", "local://" + str(tmp_path / "nope")],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "Unable to connect to Flux" in proc.stderr.strip().splitlines()[-1]


def test_runtime_stays_python36():
    # this interpreter's vermin first (the test extra installs it), so the
    # check runs wherever the suite does, not only where one is on PATH
    try:
        import vermin  # noqa: F401
        command = [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())"]
    except ImportError:
        found = shutil.which("vermin")
        if found is None:
            pytest.skip("vermin is not installed (pip install -e '.[test]' brings it)")
        command = [found]
    proc = subprocess.run(
        command + ["-t=3.6-", "--no-tips", "--violations",
         os.path.join(ROOT, "flux_ctypes")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout
