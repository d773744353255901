"""flux_ctypes.dropin: the switch that gives every Python process of a venv
(or a PYTHONPATH directory) flux_ctypes as ``flux``."""

import os
import subprocess
import sys
import textwrap

import pytest

from flux_ctypes import dropin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(python, args, env=None, cwd=None, timeout=120):
    return subprocess.run(
        [python] + args, env=env, cwd=cwd, timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


@pytest.fixture
def venv(tmp_path):
    """A fresh venv (no pip: made fast) that sees this flux_ctypes through
    a .pth file, as an installed package would be seen."""
    where = tmp_path / "venv"
    proc = run(sys.executable, ["-m", "venv", "--without-pip", str(where)])
    if proc.returncode != 0:
        pytest.skip("cannot make a venv with {}: {}".format(sys.executable, proc.stderr))
    python = str(where / "bin" / "python")
    site = run(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               env=clean_env()).stdout.strip()
    with open(os.path.join(site, "flux_ctypes_under_test.pth"), "w") as f:
        f.write(ROOT + "\n")
    return python, site


PROBE = "import flux; print(getattr(flux, '__flux_ctypes__', False), flux.__file__)"


def test_install_in_a_venv_reaches_child_processes_and_uninstall_restores(venv, tmp_path):
    python, site = venv
    before = sorted(os.listdir(site))
    assert run(python, ["-c", "import flux"], env=clean_env()).returncode != 0

    proc = run(python, ["-m", "flux_ctypes.compat", "install"], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout

    # a script that spawns a child Python which imports flux and its submodules
    script = tmp_path / "spawner.py"
    script.write_text(textwrap.dedent("""
        import subprocess, sys
        code = ("import flux, flux.core.handle, flux.constants; "
                "print(flux.__flux_ctypes__, flux.core.handle.Flux.__module__)")
        out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout
        print(out.strip())
    """))
    proc = run(python, [str(script)], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "flux_ctypes.handle"]

    # Parsl's way: a fresh process (another interpreter, no venv) puts
    # dirname(dirname(flux.__file__)) on sys.path and imports flux again
    proc = run(python, ["-c", PROBE], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    active, init = proc.stdout.split()
    assert active == "True" and os.path.isfile(init)
    top = os.path.dirname(os.path.dirname(os.path.realpath(init)))
    code = "import sys; sys.path.insert(0, {!r}); {}".format(top, PROBE)
    proc = run(sys.executable, ["-c", code], env=clean_env(), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", init]

    # the diagnostic says so
    proc = run(python, ["-m", "flux_ctypes"], env=clean_env())
    assert "drop-in:   active" in proc.stdout

    proc = run(python, ["-m", "flux_ctypes.compat", "uninstall"], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(site)) == before
    assert run(python, ["-c", "import flux"], env=clean_env()).returncode != 0
    proc = run(python, ["-m", "flux_ctypes"], env=clean_env())
    assert "drop-in:   not active" in proc.stdout


def test_venv_switch_wins_over_pythonpath(venv, tmp_path):
    """A ``flux`` package earlier on PYTHONPATH (as the official bindings
    are) does not shadow the venv's switch."""
    python, _ = venv
    other = tmp_path / "official" / "flux"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("OFFICIAL = True\n")
    env = clean_env(PYTHONPATH=str(tmp_path / "official"))
    assert run(python, ["-c", "import flux; print(flux.OFFICIAL)"], env=env).stdout.strip() == "True"
    assert run(python, ["-m", "flux_ctypes.compat", "install"], env=clean_env()).returncode == 0
    proc = run(python, ["-c", PROBE], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "True"


def test_target_directory_on_pythonpath(tmp_path):
    target = tmp_path / "site"
    proc = run(sys.executable, ["-m", "flux_ctypes.compat", "install", "--target", str(target)],
               env=clean_env(PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    # only the target on the path: the package finds flux_ctypes by itself
    proc = run(sys.executable, ["-c", PROBE], env=clean_env(PYTHONPATH=str(target)),
               cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", str(target / "flux" / "__init__.py")]
    # services the shim lacks are refused clearly, not found on disk
    proc = run(sys.executable, ["-c", "import flux.no_such_module"],
               env=clean_env(PYTHONPATH=str(target)), cwd=str(tmp_path))
    assert "flux.no_such_module is not provided by flux_ctypes" in proc.stderr
    proc = run(sys.executable,
               ["-m", "flux_ctypes.compat", "uninstall", "--target", str(target)],
               env=clean_env(PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(str(target)) == []


def test_never_overwrites_a_foreign_flux_package(tmp_path):
    foreign = tmp_path / "flux"
    foreign.mkdir()
    (foreign / "__init__.py").write_text("# the official bindings\n")
    with pytest.raises(RuntimeError, match="not written by flux_ctypes"):
        dropin.install(str(tmp_path))
    with pytest.raises(RuntimeError, match="not written by flux_ctypes"):
        dropin.uninstall(str(tmp_path))
    assert (foreign / "__init__.py").read_text() == "# the official bindings\n"


def test_refused_outside_a_venv_without_target(monkeypatch):
    monkeypatch.setattr(sys, "base_prefix", sys.prefix)
    with pytest.raises(RuntimeError, match="not in a virtual environment"):
        dropin.install()


def test_usage_errors_of_the_switch(tmp_path):
    proc = run(sys.executable, ["-m", "flux_ctypes.compat", "install", "--bogus"],
               env=clean_env(PYTHONPATH=ROOT))
    assert proc.returncode == 2
    assert "install|uninstall [--target DIR]" in proc.stderr
