"""The environment-wide switch: every Python process of a venv (or of a
``PYTHONPATH`` directory) gets flux_ctypes when it imports ``flux``.

``python -m flux_ctypes.compat`` covers one process; tools such as Parsl,
PSI/J or executorlib start more (workers, a manager under ``flux start``)
and import ``flux`` there, some by path from ``flux.__file__``.  The switch
writes a real ``flux`` package whose ``__init__.py`` turns itself into the
compat shim (:func:`flux_ctypes.compat.install`), so ``flux.__file__`` is a
file and ``dirname(dirname(flux.__file__))`` put on ``sys.path`` in a fresh
process imports the same thing again.

Two targets:

``install`` (no ``--target``)
    The running interpreter's venv.  The package goes in
    ``<site-packages>/flux_ctypes_dropin/flux/``, and a ``.pth`` file puts
    that directory first on ``sys.path`` at start-up, so this ``flux`` wins
    over the official bindings even when those are on ``PYTHONPATH``.
    Refused outside a venv: it would change every program of that Python.

``install --target DIR``
    ``DIR/flux/`` for a directory you put on ``PYTHONPATH``.  Python
    processes no ``.pth`` files there, so the order of ``PYTHONPATH``
    decides: put ``DIR`` before the official bindings' directory.

Which one a process got: ``getattr(flux, "__flux_ctypes__", False)``.  The
files written carry a marker line; ``uninstall`` removes exactly those and
refuses anything else.  Nothing is written or shadowed without ``install``.
"""

import os
import shutil
import sys
import sysconfig
from typing import List, Optional

__all__ = ["install", "uninstall", "status", "MARKER"]

MARKER = "# written by flux_ctypes: python -m flux_ctypes.compat install"
PTH_NAME = "flux_ctypes_dropin.pth"
VENV_DIR = "flux_ctypes_dropin"

_INIT = '''{marker}
# (remove with: python -m flux_ctypes.compat uninstall{target_arg})
"""flux_ctypes standing in for the official flux bindings in this environment."""
import sys

try:
    import flux_ctypes.compat
except ImportError:  # a process that put only this directory on sys.path
    sys.path.append({home!r})
    import flux_ctypes.compat

flux_ctypes.compat.install(sys.modules[__name__])
'''


def _flux_ctypes_home() -> str:
    """The directory holding the ``flux_ctypes`` package in use."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def in_venv() -> bool:
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix)


def site_packages() -> str:
    return sysconfig.get_paths()["purelib"]


def _package_dir(target: Optional[str]) -> str:
    if target is not None:
        return os.path.join(os.path.abspath(target), "flux")
    return os.path.join(site_packages(), VENV_DIR, "flux")


def _ours(path: str) -> bool:
    try:
        with open(path) as f:
            return f.readline().rstrip("\n") == MARKER
    except OSError:
        return False


def install(target: Optional[str] = None) -> List[str]:
    """Write the switch; return the files written.  Raises RuntimeError
    (saying why) where it would overwrite something not its own or where
    no venv is active and no ``target`` is given."""
    if target is None and not in_venv():
        raise RuntimeError(
            "not in a virtual environment ({}): give --target DIR for a "
            "directory on PYTHONPATH, or activate a venv".format(sys.prefix))
    pkg = _package_dir(target)
    init = os.path.join(pkg, "__init__.py")
    if os.path.exists(pkg) and not _ours(init):
        raise RuntimeError(
            "{} exists and was not written by flux_ctypes (the official "
            "bindings, or another package): not touching it".format(pkg))
    os.makedirs(pkg, exist_ok=True)
    written = [init]
    target_arg = "" if target is None else " --target " + os.path.abspath(target)
    with open(init, "w") as f:
        f.write(_INIT.format(marker=MARKER, target_arg=target_arg,
                             home=_flux_ctypes_home()))
    if target is None:
        pth = os.path.join(site_packages(), PTH_NAME)
        with open(pth, "w") as f:
            # .pth: one line beginning with "import" is executed at start-up
            f.write("import sys; sys.path.insert(0, {!r})  {}\n".format(
                os.path.dirname(pkg), MARKER))
        written.append(pth)
    return written


def uninstall(target: Optional[str] = None) -> List[str]:
    """Remove what :func:`install` wrote; return what was removed."""
    if target is None and not in_venv():
        raise RuntimeError("not in a virtual environment: give --target DIR")
    pkg = _package_dir(target)
    removed = []
    init = os.path.join(pkg, "__init__.py")
    if os.path.exists(pkg):
        if not _ours(init):
            raise RuntimeError("{} was not written by flux_ctypes: not removing it".format(pkg))
        shutil.rmtree(pkg)
        removed.append(pkg)
    if target is None:
        pth = os.path.join(site_packages(), PTH_NAME)
        if os.path.exists(pth):
            os.remove(pth)
            removed.append(pth)
        holder = os.path.dirname(pkg)
        if os.path.isdir(holder) and not os.listdir(holder):
            os.rmdir(holder)
    return removed


def status() -> Optional[str]:
    """Where ``import flux`` would find the switch's package in this
    process's path, or None when it would find something else (or
    nothing).  Does not import ``flux``."""
    for entry in sys.path:
        init = os.path.join(entry or os.getcwd(), "flux", "__init__.py")
        if os.path.exists(init):
            return os.path.dirname(init) if _ours(init) else None
    return None
