"""The runtime package is fully typed: mypy --strict is clean."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.offline
def test_py_typed_marker_ships():
    assert os.path.exists(os.path.join(ROOT, "flux_ctypes", "py.typed"))


def test_mypy_strict_is_clean():
    # the mypy of this interpreter, which the command below runs (one on
    # PATH may belong to another)
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed for {} (pip install -e '.[test]' brings it)".format(
            sys.executable))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "flux_ctypes"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout
