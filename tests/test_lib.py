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
from conftest import library_or_skip

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


def test_import_needs_no_library():
    # A bogus FLUX_CORE_LIB: importing still works, the first call fails
    # with our error, which lists what was tried and names the variable.
    proc = run_python(
        "import flux_ctypes, sys\n"
        "assert flux_ctypes.lib._loaded is None\n"
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


def test_flux_core_lib_directory_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("FLUX_CORE_LIB", str(tmp_path))
    assert flux_lib.candidates() == [("FLUX_CORE_LIB", str(tmp_path / flux_lib.SONAME))]
    monkeypatch.setenv("FLUX_CORE_LIB", "/x/libflux-core.so.2")
    assert flux_lib.candidates() == [("FLUX_CORE_LIB", "/x/libflux-core.so.2")]


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


def test_parse_version():
    assert flux_lib.parse_version("0.88.0-59-g4a5e79f56") == (0, 88, 0)
    assert flux_lib.parse_version("v0.77.0") == (0, 77, 0)
    assert flux_lib.parse_version("garbage") == ()


def test_table_is_well_formed():
    names = [fn.name for fn in flux_lib.FUNCTIONS]
    assert len(names) == len(set(names)), "a function is declared twice"
    prefixes = {"core": ("flux_",), "hostlist": ("hostlist_",), "idset": ("idset_",),
                "libc": ("free",)}
    for fn in flux_lib.FUNCTIONS:
        assert fn.library in flux_lib.SONAMES, fn
        assert fn.name.startswith(prefixes[fn.library]), fn
        assert fn.errors in (flux_lib.NULL, flux_lib.NEG, flux_lib.NONE), fn
        if fn.errors == flux_lib.NULL:
            assert fn.restype is not None and issubclass(
                fn.restype, (ctypes._Pointer, ctypes.c_char_p, ctypes.c_void_p)
            ), fn
        if fn.errors == flux_lib.NEG:
            assert fn.restype in (ctypes.c_int, ctypes.c_ssize_t), fn


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
    # NEG convention: flux_msg_set_topic on a NULL message sets EINVAL
    with pytest.raises(OSError) as info:
        flux_lib.lib.flux_msg_get_type(None, ctypes.byref(ctypes.c_int()))
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)
    # NULL convention: an unknown message type can't be created... use a
    # request decode of garbage instead
    with pytest.raises(OSError) as info:
        flux_lib.lib.flux_msg_decode(b"\x00garbage", 8)
    assert info.value.errno != 0


def test_missing_function_stub(monkeypatch):
    loaded = library_or_skip()
    fake = flux_lib.Fn("flux_no_such_function_xyz", ctypes.c_int, (), flux_lib.NEG)
    stub = flux_lib.bind(fake)
    with pytest.raises(flux_ctypes.MissingFunctionError) as info:
        stub()
    message = str(info.value)
    assert "flux_no_such_function_xyz" in message
    assert loaded.version in message


def test_unknown_table_name():
    with pytest.raises(AttributeError, match="not in flux_ctypes' function table"):
        flux_lib.lib.flux_not_declared


def test_constants_are_unsigned_where_c_is():
    assert constants.FLUX_NODEID_ANY == 0xFFFFFFFF
    assert constants.FLUX_USERID_UNKNOWN == 0xFFFFFFFF
    assert constants.FLUX_ROLE_ALL == 0xFFFFFFFF
    assert set(constants.__all__) == {n for n in dir(constants) if n.startswith("FLUX_")}


def test_diagnostic_without_library():
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes"],
        env=dict(os.environ, FLUX_CORE_LIB="/nonexistent", PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "flux_ctypes: error: libflux-core not found (set FLUX_CORE_LIB)"
    )


def test_diagnostic_with_instance(flux_uri):
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--uri", flux_uri],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "library:" in out and flux_lib.load_library().path in out
    assert "version:   " + flux_ctypes.version() in out
    assert "(size 2, rank 0)" in out
    assert " us to rank 0" in out


def test_diagnostic_unreachable_instance(tmp_path):
    library_or_skip()
    proc = subprocess.run(
        [sys.executable, "-m", "flux_ctypes", "--uri", "local://" + str(tmp_path / "nope")],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 1
    assert "Unable to connect to Flux" in proc.stderr.strip().splitlines()[-1]


def test_runtime_stays_python36():
    vermin = shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (pip install vermin)")
    proc = subprocess.run(
        [vermin, "-t=3.6-", "--no-tips", "--violations",
         os.path.join(ROOT, "flux_ctypes")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stdout
