"""Vendoring: the flux_ctypes directory copied beside a script is all a
program needs; nothing installed, nothing compiled, no environment."""

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "flux_ctypes")

PING = """
import json, os, sys
{prelude}
import flux_ctypes
h = flux_ctypes.Flux()
reply = h.rpc("broker.ping", {{"seq": 9}}, nodeid=0).get()
print(json.dumps({{
    "file": flux_ctypes.__file__,
    "seq": reply["seq"],
    "version": flux_ctypes.version(),
    "site": "site" in sys.modules,
    "path": sys.path,
    "modules": sorted(m for m in sys.modules if m.startswith("flux_ctypes")),
}}))
"""

# -I leaves the script's directory off sys.path: a vendoring program that
# runs isolated puts it there itself.
PRELUDE_ISOLATED = "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))"


def bare_env(flux_uri):
    """Only what reaching the instance needs: no PYTHON* variables."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FLUX_URI": flux_uri}
    if os.environ.get("FLUX_CORE_LIB"):
        env["FLUX_CORE_LIB"] = os.environ["FLUX_CORE_LIB"]
    return env


@pytest.fixture
def app(tmp_path):
    """A program directory holding a copy of the package and nothing else."""
    appdir = tmp_path / "app"
    shutil.copytree(PACKAGE, str(appdir / "flux_ctypes"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return appdir


@pytest.mark.offline
def test_package_is_pure_python(app):
    for dirpath, _dirs, files in os.walk(str(app / "flux_ctypes")):
        for name in files:
            assert name.endswith(".py") or name == "py.typed", (
                "{} would need building or installing".format(os.path.join(dirpath, name))
            )


@pytest.mark.parametrize("flags,prelude", [
    (["-E", "-S"], ""),               # no site: no site-packages, no .pth, no install
    (["-I"], PRELUDE_ISOLATED),       # site-packages there, yet the copy wins
], ids=["no-site", "isolated"])
def test_vendored_copy_pings(flux_uri, app, flags, prelude):
    script = app / "ping.py"
    script.write_text(PING.format(prelude=prelude))
    proc = subprocess.run(
        [sys.executable] + flags + [str(script)], cwd=str(app.parent),
        env=bare_env(flux_uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["file"] == str(app / "flux_ctypes" / "__init__.py")
    assert report["seq"] == 9
    assert report["version"]
    assert "flux_ctypes.handle" in report["modules"]
    if "-S" in flags:
        assert report["site"] is False
        assert not [p for p in report["path"] if "-packages" in p]


def test_vendored_diagnostic_runs(flux_uri, app):
    """``python -m flux_ctypes`` from the program's directory, no site."""
    proc = subprocess.run(
        [sys.executable, "-E", "-S", "-m", "flux_ctypes", "--count", "2"], cwd=str(app),
        env=bare_env(flux_uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "library:" in proc.stdout
    assert "ping:" in proc.stdout
