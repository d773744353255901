"""Run code written for the official ``flux`` bindings on flux_ctypes.

``python -m flux_ctypes.compat script.py args...`` runs ``script.py`` as
``python script.py args...`` would (same ``sys.argv``, ``__name__ ==
"__main__"``, the script's directory first on ``sys.path``), except that
``import flux`` and these submodules resolve to flux_ctypes:

=====================  ==========================
``flux``               the package (``flux.Flux``)
``flux.constants``     :mod:`flux_ctypes.constants`
``flux.message``       :mod:`flux_ctypes.message`
``flux.future``        :mod:`flux_ctypes.future`
``flux.rpc``           :mod:`flux_ctypes.rpc`
``flux.core``          a package of the three below
``flux.core.handle``   :mod:`flux_ctypes.handle`
``flux.core.watchers`` :mod:`flux_ctypes.watchers`
``flux.core.inner``    :mod:`flux_ctypes.inner` (``raw``, ``ffi.NULL``)
``flux.wrapper``       :mod:`flux_ctypes.wrapper` (the errors)
``flux.job`` (and its  :mod:`flux_ctypes.job` (and its submodules),
submodules)            imported when a program imports it
``flux.cli.plugin``    :mod:`flux_ctypes.cli.plugin` (CLI plugins)
``flux.kvs``           :mod:`flux_ctypes.kvs`
=====================  ==========================

Any other ``flux.*`` module (``flux.uri``, ``flux.cli.base``...) raises an
ImportError that says flux_ctypes does not provide it, even where the
official bindings are installed: mixing the two would hand cffi objects to
ctypes functions.  ``-m module`` and ``-c command`` work in place of the
script, as they do for ``python``.

Nothing happens on ``import flux_ctypes`` (or of this module): the shim is
installed only by running this module, or by calling :func:`install` (and
removed again by :func:`uninstall`), and only in the current process.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import types
from typing import Any, Dict, List, Optional, Sequence

import flux_ctypes
from flux_ctypes import constants, future, handle, inner, message, rpc, watchers, wrapper

__all__ = ["install", "uninstall", "installed", "main", "PROVIDED", "SERVICES"]

# Leaf modules: each name is the flux_ctypes module object itself, so
# ``flux.message.Message is flux_ctypes.Message``.
_LEAVES = {
    "flux.constants": constants,
    "flux.message": message,
    "flux.future": future,
    "flux.rpc": rpc,
    "flux.core.handle": handle,
    "flux.core.watchers": watchers,
    "flux.core.inner": inner,
    "flux.wrapper": wrapper,
}  # type: Dict[str, types.ModuleType]

#: Service modules and packages, imported only when a program imports them:
#: official name -> flux_ctypes module.  A package's submodules follow it
#: (``flux.job.list`` is ``flux_ctypes.job.list``).
SERVICES = {
    "flux.kvs": "flux_ctypes.kvs",
    "flux.job": "flux_ctypes.job",
    "flux.cli": "flux_ctypes.cli",
    "flux.hostlist": "flux_ctypes.hostlist",
    "flux.idset": "flux_ctypes.idset",
    "flux.resource": "flux_ctypes.resource",
}  # type: Dict[str, str]

#: Every module name the shim answers for (service packages with their
#: submodules).
PROVIDED = ("flux", "flux.core") + tuple(sorted(_LEAVES)) + tuple(sorted(SERVICES))


def _service_target(fullname: str) -> Optional[str]:
    """The flux_ctypes module that answers ``fullname``, if any."""
    if fullname in SERVICES:
        return SERVICES[fullname]
    parent, _, leaf = fullname.rpartition(".")
    while parent:
        if parent in SERVICES:
            return SERVICES[parent] + fullname[len(parent):]
        parent = parent.rpartition(".")[0]
    return None


def _not_provided(name: str) -> str:
    return (
        "{} is not provided by flux_ctypes: the flux_ctypes.compat shim "
        "offers only {}.  Use the official flux-core bindings for it "
        "(run without flux_ctypes.compat).".format(name, ", ".join(PROVIDED))
    )


class _ShimPackage(types.ModuleType):
    """``flux`` and ``flux.core``: packages whose submodules come from
    the shim alone; a missing attribute says what the shim offers."""

    def __repr__(self) -> str:
        return "<module {!r} (flux_ctypes.compat shim)>".format(self.__name__)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        full = self.__name__ + "." + name
        if _service_target(full) is not None and installed():
            # ``import flux; flux.job.JobID`` works once flux.job is
            # imported anywhere, as with the official package; importing
            # it here keeps attribute access and import in step.
            return importlib.import_module(full)
        raise AttributeError(
            "module {!r} has no attribute {!r} ({})".format(
                self.__name__, name, _not_provided(full)
            )
        )


class _AliasLoader(importlib.abc.Loader):
    """Loads ``flux.x`` as the flux_ctypes module itself (one object under
    two names, as the leaf modules above are)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.module = None  # type: Optional[types.ModuleType]

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        self.module = importlib.import_module(self.target)
        self.saved_spec = self.module.__spec__
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        # the import system stamped the alias's spec on the module: give
        # it back its own, so flux_ctypes' relative imports keep working
        module.__spec__ = self.saved_spec


class _Finder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path while installed: service modules resolve to
    flux_ctypes, and ``flux.*`` names the shim does not provide fail here,
    before another finder can load the official module of that name."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]],
        target: Optional[types.ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith("flux.") or fullname in sys.modules:
            return None
        alias = _service_target(fullname)
        if alias is not None and importlib.util.find_spec(alias) is not None:
            real = importlib.util.find_spec(alias)
            is_pkg = real is not None and real.submodule_search_locations is not None
            spec = importlib.machinery.ModuleSpec(
                fullname, _AliasLoader(alias), is_package=is_pkg)
            return spec
        if fullname not in _LEAVES:
            raise ModuleNotFoundError(_not_provided(fullname), name=fullname)
        return None


_refuser = _Finder()


def _package(name: str, doc: str) -> _ShimPackage:
    pkg = _ShimPackage(name, doc)
    pkg.__path__ = []  # a package, but nothing is ever found on disk
    pkg.__package__ = name
    pkg.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    return pkg


def _build() -> Dict[str, types.ModuleType]:
    top = _package("flux", "flux_ctypes standing in for the official flux bindings.")
    for attr in flux_ctypes.__all__:
        setattr(top, attr, getattr(flux_ctypes, attr))
    top.__version__ = flux_ctypes.__version__  # type: ignore[attr-defined]
    top.flux_ctypes = flux_ctypes  # type: ignore[attr-defined]
    # how a program tells, at run time, which bindings ``import flux`` gave
    top.__flux_ctypes__ = True  # type: ignore[attr-defined]
    core = _package("flux.core", "flux_ctypes' handle and watchers.")
    core.handle = handle  # type: ignore[attr-defined]
    core.watchers = watchers  # type: ignore[attr-defined]
    core.inner = inner  # type: ignore[attr-defined]
    top.wrapper = wrapper  # type: ignore[attr-defined]
    top.core = core  # type: ignore[attr-defined]
    top.constants = constants  # type: ignore[attr-defined]
    top.message = message  # type: ignore[attr-defined]
    top.future = future  # type: ignore[attr-defined]
    top.rpc = rpc  # type: ignore[attr-defined]
    modules = {"flux": top, "flux.core": core}  # type: Dict[str, types.ModuleType]
    modules.update(_LEAVES)
    return modules


def installed() -> bool:
    """True while ``import flux`` gives flux_ctypes in this process."""
    return _refuser in sys.meta_path


def install(package: Optional[types.ModuleType] = None) -> None:
    """Make ``import flux`` (and the submodules in :data:`PROVIDED`) give
    flux_ctypes in this process, until :func:`uninstall`.

    ``package`` is a ``flux`` module being imported from a file (the
    environment-wide switch of :mod:`flux_ctypes.dropin`): it becomes the
    shim's top package, keeping its ``__file__``.

    Raises RuntimeError if the official ``flux`` is already imported here:
    objects of the two bindings can't be mixed.  Calling it again while
    installed does nothing.
    """
    if installed():
        return
    loaded = sorted(
        name for name in sys.modules
        if (name == "flux" or name.startswith("flux."))
        and not (package is not None and sys.modules[name] is package)
    )
    if loaded:
        raise RuntimeError(
            "flux_ctypes.compat.install(): {} already imported from {}; install "
            "the shim before anything imports flux".format(
                ", ".join(loaded), getattr(sys.modules[loaded[0]], "__file__", "?")
            )
        )
    modules = _build()
    if package is not None:
        _adopt_top(package, modules)
    sys.modules.update(modules)
    sys.meta_path.insert(0, _refuser)


def _adopt_top(package: types.ModuleType, modules: Dict[str, types.ModuleType]) -> None:
    """Give a real ``flux/__init__.py`` module everything the built top
    package has, and make it the one in ``modules``."""
    built = modules["flux"]
    for attr, value in vars(built).items():
        if attr not in ("__name__", "__file__", "__spec__", "__loader__", "__doc__"):
            setattr(package, attr, value)
    package.__path__ = []  # submodules: the shim's alone
    package.__class__ = _ShimPackage
    modules["flux"] = package


def uninstall() -> None:
    """Undo :func:`install`: ``import flux`` finds what it found before
    (install() refuses to run over an imported flux, so nothing of the
    official bindings is lost here)."""
    if not installed():
        return
    sys.meta_path.remove(_refuser)
    for name in list(sys.modules):
        if name == "flux" or name.startswith("flux."):
            del sys.modules[name]


_USAGE = (
    "usage: python -m flux_ctypes.compat script.py [args...]\n"
    "       python -m flux_ctypes.compat -m module [args...]\n"
    "       python -m flux_ctypes.compat -c command [args...]\n"
    "       python -m flux_ctypes.compat install|uninstall [--target DIR]\n"
    "Run a program written for the official flux bindings with flux_ctypes\n"
    "answering 'import flux' ({}).\n".format(", ".join(PROVIDED))
)


def _set_path0(entry: str) -> None:
    """Put on sys.path what ``python script.py`` (or ``-m``, ``-c``) would
    have put first, in place of the directory ``python -m`` put there; in
    isolated or safe-path mode (``-I``, ``-P``) neither adds anything."""
    if sys.flags.isolated or getattr(sys.flags, "safe_path", False):
        return
    if sys.path and sys.path[0] in ("", os.getcwd()):
        sys.path[0] = entry
    else:
        sys.path.insert(0, entry)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m flux_ctypes.compat``; returns the exit
    status when the program returns normally (SystemExit passes through)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0 if args else 2
    mode = args[0]
    if mode in ("install", "uninstall"):
        return _switch(mode, args[1:])
    if mode in ("-m", "-c") and len(args) < 2:
        sys.stderr.write("flux_ctypes.compat: {} needs an argument\n".format(mode))
        sys.stderr.write(_USAGE)
        return 2
    install()
    if mode == "-m":
        sys.argv = [args[1]] + args[2:]  # run_module puts the file name in argv[0]
        _set_path0(os.getcwd())
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif mode == "-c":
        sys.argv = ["-c"] + args[2:]
        _set_path0("")
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(args[1], "<string>", "exec"), namespace)
    else:
        script = args[0]
        if not os.path.exists(script):
            sys.stderr.write(
                "flux_ctypes.compat: can't open file {!r}: no such file\n".format(script)
            )
            return 2
        sys.argv = args
        _set_path0(os.path.dirname(os.path.abspath(script)))
        runpy.run_path(script, run_name="__main__")
    return 0


def _switch(mode: str, args: List[str]) -> int:
    """``install``/``uninstall`` the environment-wide switch (see
    :mod:`flux_ctypes.dropin`)."""
    from flux_ctypes import dropin

    target = None
    if args[:1] == ["--target"] and len(args) == 2:
        target = args[1]
    elif args:
        sys.stderr.write(_USAGE)
        return 2
    try:
        paths = dropin.install(target) if mode == "install" else dropin.uninstall(target)
    except (RuntimeError, OSError) as exc:
        sys.stderr.write("flux_ctypes.compat {}: {}\n".format(mode, exc))
        return 1
    verb = "wrote" if mode == "install" else "removed"
    for path in paths:
        sys.stdout.write("{} {}\n".format(verb, path))
    if not paths:
        sys.stdout.write("nothing to remove\n")
    return 0


if __name__ == "__main__":
    # Run the copy imported as flux_ctypes.compat, not this __main__ one, so
    # the shim's state lives in one module whichever way it is reached.
    from flux_ctypes.compat import main as _main

    sys.exit(_main())
