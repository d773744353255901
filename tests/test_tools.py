"""Real tools from PyPI, unchanged, running their Flux back ends on
flux_ctypes through the environment-wide drop-in switch, with no official
bindings importable: Parsl's FluxExecutor and PSI/J's flux executor.

Each test builds (once per session) a venv with the tool installed from
PyPI and flux_ctypes visible as an installed package, turns the switch on
there, and runs a script of tests/scripts/ written as the tool's users
write them.  Skipped, saying why, where PyPI can't be reached.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "scripts")
TOOLS = ["parsl", "psij-python"]


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def run(args, timeout=600, **kwargs):
    return subprocess.run(args, timeout=timeout, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, **kwargs)


@pytest.fixture(scope="session")
def tool_venv(tmp_path_factory, flux_uri):
    where = tmp_path_factory.mktemp("tools") / "venv"
    proc = run([sys.executable, "-m", "venv", str(where)])
    if proc.returncode != 0:
        pytest.skip("cannot make a venv: " + proc.stderr.strip())
    python = str(where / "bin" / "python")
    proc = run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"] + TOOLS,
               env=clean_env())
    if proc.returncode != 0:
        pytest.skip("could not install {} from PyPI: {}".format(
            " ".join(TOOLS), proc.stderr.strip().splitlines()[-1:]))
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               env=clean_env()).stdout.strip()
    with open(os.path.join(site, "flux_ctypes_under_test.pth"), "w") as f:
        f.write(ROOT + "\n")
    official = run([python, "-c", "import _flux._core"], env=clean_env())
    assert official.returncode != 0, "the official bindings import in the tool venv"
    proc = run([python, "-m", "flux_ctypes.compat", "install"], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return python


def last_json(proc):
    lines = proc.stdout.strip().splitlines()
    assert lines, "no output; stderr:\n" + proc.stderr[-3000:]
    return json.loads(lines[-1])


def test_parsl_flux_executor(tool_venv, tmp_path):
    # Parsl starts its own instance ('flux start' on PATH) with a manager
    # running in the venv's Python, which sends flux.__file__'s directory
    # back to the parent.
    proc = run([tool_venv, os.path.join(SCRIPTS, "parsl_flux.py"), str(tmp_path)],
               env=clean_env(), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert last_json(proc) == {
        "add": 5, "greet_rc": 0, "greet_out": "hello flux", "fail_exitcode": 7,
        "flux_ctypes": True,
    }


def test_psij_flux_executor(tool_venv, flux_uri, tmp_path):
    proc = run([tool_venv, os.path.join(SCRIPTS, "psij_flux.py")],
               env=clean_env(FLUX_URI=flux_uri), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    # what the same script reports on the official bindings
    assert last_json(proc) == {
        "completed": ["COMPLETED", None], "failed": ["FAILED", 3], "listed": True,
        "canceled": "CANCELED", "flux_ctypes": True,
    }
