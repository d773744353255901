"""Flux.barrier across flux-core versions.

flux-core 0.77 has flux_barrier() and a broker barrier module: processes
meet at a named barrier.  0.78 removed both: a one-process barrier is
still fulfilled at once, a larger one fails with ENOSYS naming the
missing service.  Each test states which side of that line it covers.
"""

import errno
import os
import subprocess
import sys
import uuid

import pytest

from flux_ctypes import lib as flux_lib
from flux_ctypes.lib import lib, version_tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REMOVED_IN = (0, 78)

ENTER = """
import sys, flux_ctypes
h = flux_ctypes.Flux()
print("entering", flush=True)
f = h.barrier(sys.argv[1], int(sys.argv[2]))
if sys.argv[3:] == ["alone"]:
    try:
        f.wait_for(0.3)
    except OSError as exc:
        print("waiting", exc.errno, flush=True)
if sys.argv[3:] == ["leave"]:
    try:
        f.wait_for(0.5)
    except OSError:
        pass
    print("left early", flush=True)
    sys.exit(0)
f.get()
print("passed", flush=True)
"""


def unique_name():
    return "flux-ctypes-test-" + uuid.uuid4().hex


def enter(flux_uri, name, nprocs, *extra):
    """A separate process, with its own handle, entering the barrier."""
    return subprocess.Popen(
        [sys.executable, "-c", ENTER, name, str(nprocs)] + list(extra),
        env=dict(os.environ, FLUX_URI=flux_uri, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )


def finish(proc, timeout=30):
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:  # hung: never leave it behind
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return out.split()


@pytest.fixture
def native(handle):
    if version_tuple() >= REMOVED_IN:
        pytest.skip("flux-core {} has no barrier service (removed in 0.78)".format(
            flux_lib.version()))


@pytest.fixture
def removed(handle):
    if version_tuple() < REMOVED_IN:
        pytest.skip("flux-core {} still has flux_barrier() and its service".format(
            flux_lib.version()))


def test_flux_barrier_present_exactly_before_0_78(handle):
    assert lib.has("flux_barrier") == (version_tuple() < REMOVED_IN)


def test_one_process_barrier_is_fulfilled_at_once(handle):
    f = handle.barrier(unique_name(), 1)
    assert f.is_ready()
    assert f.get() is None


def test_name_must_be_text(handle):
    with pytest.raises(TypeError):
        handle.barrier(42, 2)


# -- flux-core before 0.78: a real barrier -----------------------------------
def test_two_processes_meet(native, flux_uri):
    name = unique_name()
    first = enter(flux_uri, name, 2, "alone")
    try:
        assert first.stdout.readline().strip() == "entering"
        # alone, it waits (its own wait_for() times out), and it goes on waiting
        assert first.stdout.readline().split() == ["waiting", str(errno.ETIMEDOUT)]
        second = enter(flux_uri, name, 2)
        assert finish(second) == ["entering", "passed"]
        assert finish(first) == ["passed"]
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()


def test_this_process_and_another_meet(native, handle, flux_uri):
    name = unique_name()
    f = handle.barrier(name, 2)
    with pytest.raises(OSError) as info:
        f.wait_for(0.3)
    assert info.value.errno == errno.ETIMEDOUT
    assert finish(enter(flux_uri, name, 2)) == ["entering", "passed"]
    assert f.get() is None


def test_disconnect_aborts_the_barrier(native, handle, flux_uri):
    name = unique_name()
    f = handle.barrier(name, 3)
    assert finish(enter(flux_uri, name, 3, "leave")) == ["entering", "left", "early"]
    with pytest.raises(OSError) as info:
        f.wait_for(30).get()
    assert info.value.errno == errno.ECONNABORTED


# -- flux-core 0.78 and later: no barrier service ----------------------------
def test_larger_barrier_fails_naming_the_service(removed, handle):
    f = handle.barrier(unique_name(), 2)
    with pytest.raises(OSError) as info:
        f.get()
    assert info.value.errno == errno.ENOSYS
    assert "barrier service" in str(info.value)
