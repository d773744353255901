"""flux-core's own Python tests, run unchanged on flux_ctypes through the
compat shim (scripts/peer_tests.py), from the flux-core source tree named by
``FLUX_CORE_SRC``.  They are the behaviour spec of each module we mirror.

Skipped, saying why, without a source tree; nothing of flux-core is in
this repository.
"""

import os
import subprocess
import sys

import pytest

from flux_ctypes import lib as flux_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "scripts", "peer_tests.py")

# The files of flux-core's t/python that cover what flux_ctypes provides.
PEER_TESTS = [
    "t0001-handle",
    "t0002-wrapper",
    "t0004-event",
    "t0005-kvs",
    "t0006-request",
    "t0007-watchers",
    "t0008-message",
    "t0010-job",
    "t0012-futures",
    "t0013-job-list",
    "t0014-job-kvslookup",
    "t0015-job-output",
    "t0016-job-validate",
    "t0017-job-utils",
    "t0018-jobspec",
    "t0020-hostlist",
    "t0021-idset",
    "t0022-resource-set",
    "t0041-resource-count",
    "t0023-executor",
    "t0042-job-manager-alloc-cache",
    "t0030-journal",
    "t0046-job-watcher",
]

# Tests that cannot pass on any binding but the official cffi one, by name,
# with the reason.  Anything failing that is not listed here fails.
CFFI_ONLY = {}  # type: dict


def source_tree():
    src = os.environ.get("FLUX_CORE_SRC")
    if not src:
        pytest.skip("FLUX_CORE_SRC not set: no flux-core source tree to take t/python from")
    if not os.path.isdir(os.path.join(src, "t", "python")):
        pytest.skip("FLUX_CORE_SRC={} has no t/python".format(src))
    try:
        flux_lib.load_library()
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("libflux-core not found: " + str(exc).splitlines()[0])
    if flux_lib.flux_command() is None:
        pytest.skip("no 'flux' command to start instances with")
    return src


@pytest.mark.parametrize("name", PEER_TESTS)
def test_flux_core_python_test_passes_on_the_shim(name):
    src = source_tree()
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("FLUX_URI", None)  # each file starts its own instance
    proc = subprocess.run(
        [sys.executable, RUNNER, "--src", src, name], env=env, timeout=900,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
    )
    out = proc.stdout
    failed = [line.split("not ok: ", 1)[1] for line in out.splitlines() if "not ok: " in line]
    unexpected = [test for test in failed if test not in CFFI_ONLY]
    assert not unexpected, out
    assert "did not complete" not in out, out
    passed = int(out.strip().splitlines()[-1].split()[0])  # "N passed, N failed, ..."
    assert passed > 0, out
