"""Run a snippet under flux-core's official Python bindings, in another
process (they can't share one with flux_ctypes), and return what it prints
as JSON.  For differential tests: the same inputs through both bindings
must give the same answers.

The official bindings are found as /usr/bin/python3 (or
$FLUX_OFFICIAL_PYTHON) with $FLUX_OFFICIAL_PYTHONPATH or
<prefix>/lib/flux/python3.X of the libflux-core flux_ctypes loads."""

import glob
import json
import os
import subprocess

import pytest

from flux_ctypes import lib as flux_lib


def official_python():
    """(interpreter, PYTHONPATH) of the official bindings, or skip."""
    python = os.environ.get("FLUX_OFFICIAL_PYTHON", "/usr/bin/python3")
    path = os.environ.get("FLUX_OFFICIAL_PYTHONPATH")
    if path is None:
        try:
            loaded = flux_lib.load_library()
        except flux_lib.FluxCoreNotFound:
            pytest.skip("libflux-core not found")
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(loaded.path)))
        found = sorted(glob.glob(os.path.join(prefix, "lib", "flux", "python3*")))
        if not found:
            pytest.skip("official flux bindings not installed under " + prefix)
        path = found[-1]
    if not os.access(python, os.X_OK):
        pytest.skip("no {} to run the official bindings".format(python))
    probe = subprocess.run([python, "-c", "import flux.hostlist, flux.idset"],
                           env=dict(os.environ, PYTHONPATH=path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if probe.returncode != 0:
        pytest.skip("official bindings not importable with {} and PYTHONPATH={}: {}".format(
            python, path, probe.stdout.decode(errors="replace").strip()[-200:]))
    return python, path


def run_official(code, data):
    """Run ``code`` with ``DATA`` (json-decoded ``data``) under the official
    bindings; it must print one JSON document, returned decoded."""
    python, path = official_python()
    prologue = "import json, sys\nDATA = json.loads(sys.stdin.read())\n"
    proc = subprocess.run([python, "-c", prologue + code], input=json.dumps(data),
                          env=dict(os.environ, PYTHONPATH=path),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
