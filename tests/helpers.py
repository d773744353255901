"""Helpers shared by the test modules: ``from helpers import ...``.

tests/ is on sys.path (conftest.py puts it there, whatever pytest's import
mode), so this is imported once, as itself; test modules never import
``conftest``.  Nothing here needs libflux-core at import time.
"""

import ctypes
import gc
import itertools
import os
import platform
import random
import select
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

from flux_ctypes import lib as flux_lib  # noqa: E402

_seq = itertools.count()


def unique(prefix="t"):
    """A name (service, event topic, KVS key, job name) no other test, and
    no other run on the same instance, uses.  It ends in a letter, so that
    one name is never a prefix of another (event subscriptions and topic
    globs match prefixes)."""
    return "{}-{}-{}x".format(prefix, os.getpid(), next(_seq))


def library_or_skip():
    try:
        return flux_lib.load_library()
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("libflux-core not found: " + str(exc).splitlines()[0])


def collect():
    """Collect garbage until finalizers have run.  One pass is enough on
    CPython; on PyPy an object freed by one finalizer (a handle kept alive
    by its future's) is only collected on a later pass.  Releases the
    collector queued for a thread that has ended since are performed too
    (as the next C object made in any thread would)."""
    for _ in range(4):
        gc.collect()
        flux_lib.run_deferred()


def open_fds():
    """How many file descriptors this process has open.

    libflux-core before 0.79 leaks one epoll descriptor per handle that
    waited on a future (the official bindings do too; fixed by flux-core
    commit b63dc3467, "libflux: fix flux_pollfd() file descriptor leak").
    Those are not counted there; on newer versions every descriptor is."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    if flux_lib._loaded is None or flux_lib._loaded.version_tuple >= (0, 79):
        return len(names)
    count = 0
    for name in names:
        try:
            if os.readlink("/proc/self/fd/" + name) == "anon_inode:[eventpoll]":
                continue
        except OSError:
            continue
        count += 1
    return count


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def c_heap_bytes():
    """Bytes malloc() has handed out and not had back (glibc's mallinfo2),
    or None where libc has no mallinfo2().  Exact, unlike RSS: a C object
    leaked per call shows as its size times the calls."""
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


class Instance:
    """``flux start --test-size=N`` running ``cat``: its URI is printed
    first, and closing its stdin ends cat and so the instance."""

    def __init__(self, flux_cmd, size=2):
        self.proc = subprocess.Popen(
            [flux_cmd, "start", "--test-size={}".format(size),
             "sh", "-c", 'echo "$FLUX_URI"; exec cat'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        self.uri = self.proc.stdout.readline().strip() if ready else ""
        if not self.uri:
            self.proc.kill()
            raise RuntimeError("flux start printed no URI in 120 s (exit {})".format(
                self.proc.wait()))

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- Ctrl-C in a child process ---------------------------------------------------
CTRL_C_TEMPLATE = r"""
import faulthandler, signal, sys
faulthandler.register(signal.SIGUSR1)  # where it is, should SIGINT be lost
sys.path.insert(0, {root!r})
from flux_ctypes import Flux
h = Flux()
{setup}
try:
    {blocking}
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
finally:
    print("finally ran", flush=True)
"""

# The system calls a thread blocks in while it waits on a Flux reactor.
_WAIT_SYSCALLS = {
    "x86_64": {7, 23, 232, 270, 271, 281, 441},  # poll select epoll_wait pselect6 ppoll epoll_pwait epoll_pwait2
    "aarch64": {22, 72, 73, 441},  # epoll_pwait pselect6 ppoll epoll_pwait2
}


def _blocked_in_wait(pid):
    """True once the main thread of ``pid`` sleeps in a poll-type system
    call; None where /proc/PID/syscall can't tell."""
    waits = _WAIT_SYSCALLS.get(platform.machine())
    if waits is None:
        return None
    try:
        with open("/proc/{}/syscall".format(pid)) as f:
            fields = f.read().split()
    except OSError:
        return None
    if not fields or fields[0] in ("running", "-1"):
        return False
    try:
        return int(fields[0]) in waits
    except ValueError:
        return None


def wait_until_blocked(proc, limit=30.0):
    """Return once ``proc`` waits in the reactor (what a blocking Flux call
    does), so a signal sent now reaches that call, not the code before it.
    Where the kernel can't say, wait a generous while instead."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = _blocked_in_wait(proc.pid)
        if state is None:
            time.sleep(1.0)
            return
        if state:
            return
        assert proc.poll() is None, "the child exited before blocking"
        time.sleep(0.005)
    pytest.fail("the child never blocked in {} s".format(limit))


def _interrupt_once(code, ready_line, before_signal, wait):
    """Run ``code`` in a child, call ``before_signal(proc)`` once it printed
    ``ready_line``, send it SIGINT and give it ``wait`` seconds to end:
    (stdout, stderr), or a test failure saying it kept running.  The child
    is never left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the child printed nothing in 60 s"
        assert proc.stdout.readline().strip() == ready_line
        before_signal(proc)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # its Python stack, on stderr
            time.sleep(1.0)
            proc.kill()
            out, err = proc.communicate()
            pytest.fail("SIGINT lost, the child kept running: {}".format(err[-3000:]))
    finally:
        if proc.poll() is None:  # hung: never leave it behind
            proc.kill()
            proc.communicate()
    assert "KeyboardInterrupt" in out, err[-2000:]
    assert "finally ran" in out
    assert proc.returncode == 0
    return out, err


def interrupt_child(setup, blocking, ready_line):
    """Run ``setup`` then the blocking statement in a child process, send
    it SIGINT once it printed ``ready_line`` and then blocked waiting, and
    check that the blocking call raised KeyboardInterrupt and that
    ``finally`` blocks ran.  The child is killed if it hangs."""
    code = CTRL_C_TEMPLATE.format(root=ROOT, setup=setup, blocking=blocking)
    _interrupt_once(code, ready_line, wait_until_blocked, 30)


def interrupt_busy_child(setup, busy, ready_line, tries):
    """Like interrupt_child(), but the child is busy (``busy`` loops on
    Flux traffic forever) and SIGINT lands at a random moment of its work,
    ``tries`` times: each must raise KeyboardInterrupt out of ``busy``.
    Returns how many did (all of them, or the assertion says which
    failed how)."""
    code = CTRL_C_TEMPLATE.format(root=ROOT, setup=setup, blocking=busy)
    rng = random.Random(tries)
    for _ in range(tries):
        _interrupt_once(code, ready_line, lambda proc: time.sleep(rng.uniform(0.01, 0.2)), 10)
    return tries


# -- jobs ------------------------------------------------------------------------------
def inactive_info(handle, jobid):
    """job-list's record of ``jobid`` once it is inactive: list-id waits
    for the state asked for, so no polling is needed."""
    from flux_ctypes.constants import FLUX_JOB_STATE_INACTIVE
    from flux_ctypes.job.list import JobListIdRPC

    rpc = JobListIdRPC(handle, "job-list.list-id",
                       {"id": int(jobid), "attrs": ["all"],
                        "state": FLUX_JOB_STATE_INACTIVE})
    return rpc.get_jobinfo()
