"""Test harness: a real Flux instance of size 2, started once per session.

Tests that need libflux-core or an instance take the ``flux_uri`` (or
``handle``) fixture and are skipped, with the reason, where flux-core is
absent.  Every test checks afterwards that it left no callback registered
and no file descriptor open.  Shared helpers live in helpers.py (``from
helpers import ...``); test modules never import this file.

Markers (registered in pyproject.toml):

* ``offline``: pure logic that needs neither libflux-core nor an instance,
  and runs without them:  ``FLUX_CORE_LIB=/nonexistent python3 -m pytest -m offline``
* ``leaky``: the test keeps objects alive on purpose (no leak check).
"""

import gc
import os
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (HERE, os.path.dirname(HERE)):  # helpers, and flux_ctypes itself
    if _path not in sys.path:
        sys.path.insert(0, _path)

from flux_ctypes import lib as flux_lib  # noqa: E402
from flux_ctypes.callbacks import registries  # noqa: E402
from helpers import Instance, collect, library_or_skip, open_fds  # noqa: E402


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


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Callback registries empty and no fd left open after each test.

    Collecting garbage costs more than most tests (several full passes), so
    it is done only when the check fails without it: collecting can only
    empty registries and close descriptors, never the reverse."""
    # what an earlier test left for the collector goes now (the young
    # generations only before an offline test: it makes no C objects)
    gc.collect(1 if "offline" in request.keywords else 2)
    flux_lib.run_deferred()
    before = open_fds()
    yield
    if "leaky" in request.keywords:
        return
    for attempt in range(4):
        if attempt:
            collect()
            time.sleep(0.05 * (attempt - 1))
        leftover = {name: n for name, n in registries().items() if n}
        if not leftover and open_fds() <= before:
            break
    assert not leftover, "callbacks still registered after the test: {}".format(leftover)
    assert open_fds() <= before, "file descriptors leaked: {} -> {}; {}".format(
        before, open_fds(), leak_report())


def leak_report():
    """What may hold the leaked descriptors: the live handles (and the
    threads that made them), the releases still queued, the descriptors."""
    from flux_ctypes import Flux

    handles = [obj for obj in gc.get_objects() if isinstance(obj, Flux)]
    referrers = {}
    for h in handles:
        for ref in gc.get_referrers(h):
            if ref is not handles:
                name = type(ref).__name__
                referrers[name] = referrers.get(name, 0) + 1
    fds = []
    for name in sorted(os.listdir("/proc/self/fd")):
        try:
            fds.append(os.readlink("/proc/self/fd/" + name))
        except OSError:
            pass
    return "live handles: {} (open: {}; referred to by {}); deferred releases: {}; " \
        "threads: {}; fds: {}".format(
            len(handles), sum(1 for h in handles if not h.closed), referrers,
            flux_lib.deferred_count(), threading.active_count(), fds)
