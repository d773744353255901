"""A short run of scripts/fuzz.py: random values into every public method
of the core, and into the entry points of the services (job, kvs,
hostlist, idset, resource), must never kill the process, hang, or leak
ctypes.ArgumentError.  (The long run is ``python3 scripts/fuzz.py
--batches 100 --calls 300``, with ``--group all`` for every group.)"""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "fuzz.py")


def run_group(args, timeout, **kwargs):
    """subprocess.run(), but on timeout the whole process group is killed:
    fuzz.py's own batch children too, not only fuzz.py."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            universal_newlines=True, start_new_session=True, **kwargs)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(args, proc.returncode, out)


def _fuzz(flux_uri, python, batches=4, calls=300, seed=None, group="core"):
    seed = seed if seed is not None else int.from_bytes(os.urandom(3), "big")
    proc = run_group(
        [python, SCRIPT, "--batches", str(batches), "--calls", str(calls),
         "--seed", str(seed), "--timeout", "60", "--uri", flux_uri, "--group", group],
        timeout=300, cwd=ROOT,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, "fuzz.py printed no summary (exit {})".format(proc.returncode)
    return seed, json.loads(lines[-1])


def test_fuzz_quick(flux_uri):
    seed, summary = _fuzz(flux_uri, sys.executable)
    assert summary["batches"] == 4
    assert summary["calls"] > 800
    assert (summary["crashes"], summary["hangs"], summary["unexpected"]) == (0, 0, 0), (
        "seed {}: {}".format(seed, summary["failures"]))


def test_fuzz_quick_pypy(flux_uri):
    pypy = shutil.which("pypy3")
    if pypy is None:
        pytest.skip("pypy3 is not installed")
    seed, summary = _fuzz(flux_uri, pypy, batches=2)
    assert (summary["crashes"], summary["hangs"], summary["unexpected"]) == (0, 0, 0), (
        "seed {}: {}".format(seed, summary["failures"]))


@pytest.mark.parametrize("group", ["job", "kvs", "hostlist", "idset", "resource"])
def test_fuzz_quick_services(flux_uri, group):
    """The services' entry points (scripts/fuzz_services.py): bad job IDs,
    jobspecs, KVS keys, values and namespaces, hostlists, idsets and R are
    refused with TypeError/ValueError/OSError and a message; nothing
    crashes, hangs, or leaks ArgumentError/AttributeError/UnicodeError.
    (The long run: ``python3 scripts/fuzz.py --group all``.)"""
    seed, summary = _fuzz(flux_uri, sys.executable, batches=2, group=group)
    assert summary["batches"] == 2
    assert summary["calls"] > 400
    assert (summary["crashes"], summary["hangs"], summary["unexpected"]) == (0, 0, 0), (
        "--group {} --seed {}: {}".format(group, seed, summary["failures"]))


@pytest.mark.parametrize("mode,field", [("crash", "crashes"), ("hang", "hangs")])
def test_the_harness_sees_crashes_and_hangs(flux_uri, mode, field):
    """A child killed by a signal is a crash, one past --timeout a hang
    (and is killed): the zeros above are not for want of looking."""
    env = dict(os.environ, FLUX_CTYPES_FUZZ_SELFTEST=mode)
    proc = run_group(
        [sys.executable, SCRIPT, "--batches", "1", "--calls", "5", "--timeout", "3",
         "--uri", flux_uri],
        timeout=60, cwd=ROOT, env=env,
    )
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary[field] == 1
    assert proc.returncode == 1


def test_the_service_bar_flags_what_leaks(flux_uri):
    """For the services, AttributeError, UnicodeError, ArgumentError and an
    accepted exception without a message (empty, or a bare errno) are
    findings: five raised, five reported."""
    env = dict(os.environ, FLUX_CTYPES_FUZZ_SELFTEST="leak")
    proc = run_group(
        [sys.executable, SCRIPT, "--batches", "1", "--calls", "5", "--group", "idset",
         "--uri", flux_uri],
        timeout=60, cwd=ROOT, env=env,
    )
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["unexpected"] == 5
    assert proc.returncode == 1
