"""flux_ctypes.compat: programs written for the official ``flux`` bindings
run unchanged under ``python -m flux_ctypes.compat``, and only then."""

import importlib
import json
import os
import subprocess
import sys
import types

import pytest

import flux_ctypes
from flux_ctypes import compat
from flux_ctypes import lib as flux_lib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPT = os.path.join(HERE, "scripts", "official_style.py")


def child_env(**extra):
    """This environment with a clean PYTHONPATH: the source tree only (so
    the child imports this flux_ctypes, and no ``flux`` from anywhere)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    env.update(extra)
    return env


def run(args, cwd, env, timeout=60):
    return subprocess.run(
        [sys.executable] + args, cwd=str(cwd), env=env, timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )


def last_json(proc):
    assert proc.stdout.strip(), "no output; stderr:\n" + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def official_bindings_dir():
    """Where the flux-core under test installed its own Python bindings for
    this interpreter, if they import here (else None)."""
    flux_cmd = flux_lib.flux_command()
    if flux_cmd is None:
        return None
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux_cmd)))
    where = os.path.join(
        prefix, "lib", "flux", "python{}.{}".format(*sys.version_info[:2])
    )
    if not os.path.isdir(os.path.join(where, "flux")):
        return None
    probe = subprocess.run(
        [sys.executable, "-c", "import flux.core.handle"],
        env=dict(os.environ, PYTHONPATH=where), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return where if probe.returncode == 0 else None


# -- never installed unless asked ---------------------------------------------
PROBE = """
import sys
import flux_ctypes, flux_ctypes.compat
print("installed", flux_ctypes.compat.installed())
try:
    import flux
except ImportError as exc:
    print("flux ImportError", exc)
else:
    print("flux", getattr(flux, "__file__", None), flux)
    print("is flux_ctypes", getattr(flux, "Flux", None) is flux_ctypes.Flux)
"""


def test_importing_flux_ctypes_does_not_install_the_shim(tmp_path):
    proc = run(["-c", PROBE], tmp_path, child_env())
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "installed False"
    # either no flux at all, or the official one (this interpreter may
    # see it in its site directory): never flux_ctypes
    if lines[1].startswith("flux ImportError"):
        assert len(lines) == 2
    else:
        assert lines[1].startswith("flux ") and "flux_ctypes" not in lines[1]
        assert lines[2] == "is flux_ctypes False"


def test_official_flux_stays_official_without_the_shim(tmp_path):
    where = official_bindings_dir()
    if where is None:
        pytest.skip("the official flux bindings don't import under this interpreter")
    proc = run(["-c", PROBE], tmp_path, child_env(PYTHONPATH=os.pathsep.join([ROOT, where])))
    assert proc.returncode == 0, proc.stderr
    assert "flux " + os.path.join(where, "flux", "__init__.py") in proc.stdout
    assert "is flux_ctypes False" in proc.stdout


# -- install() / uninstall() in this process ---------------------------------
@pytest.fixture
def shim():
    if any(n == "flux" or n.startswith("flux.") for n in sys.modules):
        pytest.skip("a flux module is already imported in the test process")
    meta_path = list(sys.meta_path)
    compat.install()
    try:
        yield
    finally:
        compat.uninstall()
    assert sys.meta_path == meta_path
    assert not [n for n in sys.modules if n == "flux" or n.startswith("flux.")]


def test_install_maps_the_official_names(shim):
    import flux
    import flux.constants
    import flux.core.handle
    from flux.core.watchers import TimerWatcher
    from flux.future import Future
    from flux.message import Message
    from flux.rpc import RPC

    assert compat.installed()
    assert flux.Flux is flux_ctypes.Flux is flux.core.handle.Flux
    assert flux.constants is flux_ctypes.constants
    assert flux.constants.FLUX_MSGTYPE_REQUEST == 1
    assert Message is flux_ctypes.Message
    assert TimerWatcher is flux_ctypes.watchers.TimerWatcher
    assert Future is flux_ctypes.Future
    assert RPC is flux_ctypes.RPC
    assert importlib.import_module("flux.core.watchers") is flux_ctypes.watchers
    # service modules are imported when a program imports them
    assert set(compat.PROVIDED) - set(compat.SERVICES) <= set(sys.modules)
    assert "flux_ctypes" in repr(flux)


@pytest.mark.parametrize("name", ["flux.cli.base", "flux.uri", "flux.util"])
def test_unprovided_submodule_is_a_clear_import_error(shim, name):
    with pytest.raises(ImportError) as info:
        importlib.import_module(name)
    assert isinstance(info.value, ModuleNotFoundError)
    assert info.value.name == name
    assert "{} is not provided by flux_ctypes".format(name) in str(info.value)
    assert name not in sys.modules


def test_unprovided_attribute_is_a_clear_attribute_error(shim):
    import flux

    with pytest.raises(AttributeError, match="flux.uri is not provided by flux_ctypes"):
        flux.uri


def test_install_is_idempotent(shim):
    before = list(sys.meta_path)
    modules = {name: sys.modules[name] for name in compat.PROVIDED if name not in compat.SERVICES}
    compat.install()
    assert sys.meta_path == before
    assert all(sys.modules[name] is mod for name, mod in modules.items())


def test_install_refuses_an_imported_flux(monkeypatch):
    monkeypatch.setitem(sys.modules, "flux", types.ModuleType("flux"))
    with pytest.raises(RuntimeError, match="already imported"):
        compat.install()
    assert not compat.installed()
    compat.uninstall()  # harmless when not installed
    assert isinstance(sys.modules["flux"], types.ModuleType)


# -- python -m flux_ctypes.compat --------------------------------------------
def test_official_style_script_runs_on_the_shim(flux_uri, tmp_path):
    proc = run(
        ["-m", "flux_ctypes.compat", SCRIPT, "one", "--two"], tmp_path,
        child_env(FLUX_URI=flux_uri),
    )
    assert proc.returncode == 0, proc.stderr
    report = last_json(proc)
    assert report["name"] == "__main__"
    assert report["argv"] == [SCRIPT, "one", "--two"]
    assert report["helper"] == "helper beside the script"
    assert report["handle_class"] == "flux_ctypes.handle.Flux"
    assert report["rpc_is_future"] is True
    assert report["ping_seq"] == 42
    assert report["rpc_class_seq"] == 7
    assert report["rank"] == 0
    assert report["timer"] == ["tick"]
    assert report["event"][1:] == [{"n": 5}, True]
    assert report["event"][0].startswith("shimtest.event")
    assert report["service"] == [30, 400]
    assert report["request_type"] == 1


def test_relative_script_path_and_exit_status(flux_uri):
    rel = os.path.relpath(SCRIPT, HERE)
    proc = run(
        ["-m", "flux_ctypes.compat", rel, "x"], HERE,
        child_env(FLUX_URI=flux_uri, SHIM_EXIT="3"),
    )
    assert proc.returncode == 3, proc.stderr
    assert last_json(proc)["argv"] == [rel, "x"]


def test_same_script_under_the_official_bindings(flux_uri, tmp_path):
    """The script really is official-bindings code: it runs the same there,
    and under the shim flux_ctypes wins even with the official on the path."""
    where = official_bindings_dir()
    if where is None:
        pytest.skip("the official flux bindings don't import under this interpreter")
    env = child_env(FLUX_URI=flux_uri, PYTHONPATH=os.pathsep.join([ROOT, where]))
    official = run([SCRIPT, "a"], tmp_path, env)
    shimmed = run(["-m", "flux_ctypes.compat", SCRIPT, "a"], tmp_path, env)
    assert official.returncode == 0, official.stderr
    assert shimmed.returncode == 0, shimmed.stderr
    a, b = last_json(official), last_json(shimmed)
    assert not a["handle_class"].startswith("flux_ctypes")
    assert b["handle_class"] == "flux_ctypes.handle.Flux"
    for report in (a, b):
        del report["handle_class"]
        del report["event"][0]  # topic names the pid
    assert a == b
    # An official module the shim lacks is refused, not loaded beside it.
    refused = run(["-m", "flux_ctypes.compat", "-c", "import flux.uri"], tmp_path, env)
    assert refused.returncode == 1
    assert "flux.uri is not provided by flux_ctypes" in refused.stderr


def test_unprovided_module_fails_the_script_clearly(tmp_path):
    proc = run(["-m", "flux_ctypes.compat", "-c", "import flux.uri"], tmp_path, child_env())
    assert proc.returncode == 1
    assert "ModuleNotFoundError: flux.uri is not provided by flux_ctypes" in proc.stderr


def test_module_and_command_modes(tmp_path):
    (tmp_path / "mymod.py").write_text(
        "import sys, flux\n"
        "print(__name__, sys.argv[1:], flux.Flux.__module__)\n"
    )
    proc = run(["-m", "flux_ctypes.compat", "-m", "mymod", "p", "q"], tmp_path, child_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["__main__", "['p',", "'q']", "flux_ctypes.handle"]

    code = "import sys, flux.rpc; print(sys.argv, flux.rpc.RPC.__module__)"
    proc = run(["-m", "flux_ctypes.compat", "-c", code, "z"], tmp_path, child_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['-c', 'z'] flux_ctypes.rpc"


def test_usage_errors(tmp_path):
    proc = run(["-m", "flux_ctypes.compat"], tmp_path, child_env())
    assert proc.returncode == 2
    assert "usage: python -m flux_ctypes.compat script.py" in proc.stdout
    proc = run(["-m", "flux_ctypes.compat", "nonexistent.py"], tmp_path, child_env())
    assert proc.returncode == 2
    assert "can't open file 'nonexistent.py'" in proc.stderr
    proc = run(["-m", "flux_ctypes.compat", "-m"], tmp_path, child_env())
    assert proc.returncode == 2
    assert "-m needs an argument" in proc.stderr


RAW_SCRIPT = r"""
import json
import flux
import flux.wrapper
from flux.core.inner import ffi, raw
from flux.future import Future

h = flux.Flux()
out = {}
# the raw layer, reached the documented way: str and wrappers unwrapped
raw.flux_log(h, 6, "from the raw layer %n")
fut = Future(h.future_create(ffi.NULL, ffi.NULL))
fut.pimpl.fulfill(ffi.NULL, ffi.NULL)
out["ready"] = fut.is_ready()
out["future_get"] = h.future_get(fut, ffi.NULL)
for name, call in [("wrong_count", lambda: h.request_encode("t")),
                   ("wrong_type", lambda: h.request_encode(h, 15)),
                   ("missing", lambda: h.no_such_function_at_all()),
                   ("masked", lambda: h.rpc("t").pimpl.flux_request_encode("t", None))]:
    try:
        call()
    except (flux.wrapper.WrongNumArguments, flux.wrapper.InvalidArguments,
            flux.wrapper.MissingFunctionError, AttributeError) as exc:
        out[name] = type(exc).__name__
rpc = h.rpc("broker.ping", {"a": 1})
rpc.pimpl.handle = None
try:
    rpc.get()
except ValueError as exc:
    out["closed"] = "NULL handle" in str(exc)
with h.rpc("broker.ping", {"b": 2}) as f:
    out["with"] = f.get()["b"]
out["closed_after_with"] = f.pimpl.handle is None
print(json.dumps(out))
"""


def test_raw_layer_and_wrapper_errors_under_the_shim(tmp_path, flux_uri):
    script = tmp_path / "raw_user.py"
    script.write_text(RAW_SCRIPT)
    proc = run(["-m", "flux_ctypes.compat", str(script)], tmp_path, child_env())
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc) == {
        "ready": True, "future_get": 0, "wrong_count": "WrongNumArguments",
        "wrong_type": "InvalidArguments", "missing": "UnknownFunctionError",
        "masked": "AttributeError", "closed": True, "with": 2, "closed_after_with": True,
    }
