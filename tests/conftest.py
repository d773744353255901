"""Test harness: a real Flux instance of size 2, started once per session.

Tests that need libflux-core or an instance take the ``flux_uri`` (or
``handle``) fixture and are skipped, with the reason, where flux-core is
absent.  Every test checks afterwards that it left no callback registered
and no file descriptor open.
"""

import gc
import os
import select
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from flux_ctypes import lib as flux_lib  # noqa: E402
from flux_ctypes.callbacks import registries  # noqa: E402


CTRL_C_TEMPLATE = r"""
import sys
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


def interrupt_child(setup, blocking, ready_line, delay=0.0):
    """Run ``setup`` then the blocking statement in a child process, send
    it SIGINT once it printed ``ready_line``, and check that the blocking
    call raised KeyboardInterrupt and that ``finally`` blocks ran."""
    code = CTRL_C_TEMPLATE.format(
        root=os.path.dirname(HERE), setup=setup, blocking=blocking
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the child printed nothing in 60 s"
        assert proc.stdout.readline().strip() == ready_line
        time.sleep(delay)  # the blocking call under test is entered by then
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:  # hung: never leave it behind
            proc.kill()
            proc.communicate()
    assert "KeyboardInterrupt" in out, err
    assert "finally ran" in out
    assert proc.returncode == 0


def library_or_skip():
    try:
        return flux_lib.load_library()
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("libflux-core not found: " + str(exc).splitlines()[0])


class Instance:
    """``flux start --test-size=2`` running ``cat``: its URI is printed
    first, and closing its stdin ends cat and so the instance."""

    def __init__(self, flux_cmd, size=2):
        self.proc = subprocess.Popen(
            [flux_cmd, "start", "--test-size={}".format(size),
             "sh", "-c", 'echo "$FLUX_URI"; exec cat'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True,
        )
        self.uri = self.proc.stdout.readline().strip()
        if not self.uri:
            self.proc.kill()
            raise RuntimeError("flux start printed no URI (exit {})".format(self.proc.wait()))

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def flux_uri():
    """URI of a live size-2 instance; FLUX_URI points at it for the session."""
    library_or_skip()
    flux_cmd = flux_lib.flux_command()
    if flux_cmd is None:
        pytest.skip("no 'flux' command on PATH (or beside FLUX_CORE_LIB) to start an instance")
    instance = Instance(flux_cmd)
    saved = os.environ.get("FLUX_URI")
    os.environ["FLUX_URI"] = instance.uri
    yield instance.uri
    if saved is None:
        os.environ.pop("FLUX_URI", None)
    else:
        os.environ["FLUX_URI"] = saved
    instance.stop()


@pytest.fixture
def handle(flux_uri):
    """A Flux handle on the session's instance, closed after the test."""
    from flux_ctypes import Flux

    with Flux(flux_uri) as h:
        yield h


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


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Callback registries empty and no fd left open after each test."""
    gc.collect()
    before = open_fds()
    yield
    if "leaky" in request.keywords:
        return
    for _ in range(3):
        collect()
        leftover = {name: n for name, n in registries().items() if n}
        if not leftover and open_fds() <= before:
            break
        time.sleep(0.05)
    assert not leftover, "callbacks still registered after the test: {}".format(leftover)
    assert open_fds() <= before, "file descriptors leaked: {} -> {}".format(before, open_fds())


def pytest_configure(config):
    config.addinivalue_line("markers", "leaky: the test keeps objects alive on purpose")
