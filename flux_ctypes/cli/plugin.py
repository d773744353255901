"""Flux CLI plugins: site or user Python files that add options to ``flux
submit``/``run``/``alloc``/``batch`` and edit the jobspecs they make.

A plugin file defines subclasses of :class:`CLIPlugin`.  They are found in
the directories of ``FLUX_CLI_PLUGINPATH`` (colon-separated, searched
first) and the installation's ``<confdir>/cli/plugins`` and
``<libexecdir>/cli/plugins``; ``FLUX_CLI_PLUGINPATH_OVERRIDE`` replaces
the whole search path.  (Plugins packaged in the official bindings'
``flux.cli.plugins`` namespace are not loaded.)

An option ``--name`` added by a plugin with prefix ``site`` is
``--site-name`` on the command line, and ``site_name`` as a keyword of
``apply_options()``; inside the plugin's callbacks ``args.name`` still
works.
"""

import glob
import importlib.util
import inspect
import os
import sys
from typing import Any, Dict, List, Optional

from flux_ctypes.lib import lib

__all__ = ["CLIPlugin", "CLIPluginOption", "CLIPluginRegistry", "PluginArgsProxy"]


class PluginArgsProxy:
    """The options namespace as one plugin sees it: its own options by
    their unprefixed names too (reads and writes go to the namespace)."""

    __slots__ = ("_ns", "_alias")

    def __init__(self, args: Any, alias: Dict[str, str]) -> None:
        object.__setattr__(self, "_ns", args)
        object.__setattr__(self, "_alias", alias)

    def __getattr__(self, name: str) -> Any:
        alias = object.__getattribute__(self, "_alias")
        return getattr(object.__getattribute__(self, "_ns"), alias.get(name, name))

    def __setattr__(self, name: str, value: Any) -> None:
        alias = object.__getattribute__(self, "_alias")
        setattr(object.__getattribute__(self, "_ns"), alias.get(name, name), value)


class CLIPluginOption:
    """One long option a plugin adds; ``kwargs`` are argparse's."""

    def __init__(self, name: str, prefix: Optional[str], **kwargs: Any) -> None:
        if not name.startswith("--"):
            raise ValueError("Plugins must register only long options.")
        self.name = "--{}-{}".format(prefix, name[2:]) if prefix else name
        if "dest" in kwargs:
            # chosen by the plugin's author: no alias
            self._unprefixed_dest = None  # type: Optional[str]
        else:
            self._unprefixed_dest = name[2:].replace("-", "_")
            kwargs["dest"] = self.name[2:].replace("-", "_")
        self.kwargs = kwargs

    @property
    def dest(self) -> str:
        return str(self.kwargs["dest"])


class CLIPlugin:
    """Base class of CLI plugins: add options in ``__init__`` with
    add_option(), then act on them in preinit() (before the jobspec is
    made) and modify_jobspec(); validate() may reject a jobspec with
    ValueError.  ``prog`` is the command ("submit", "alloc"...)."""

    def __init__(self, prog: str, prefix: Optional[str] = "ex",
                 version: Optional[str] = None) -> None:
        self.prog = prog[len("flux "):] if prog.startswith("flux ") else prog
        self.path = None  # type: Optional[str]
        self.prefix = prefix
        self.version = version
        self.options = []  # type: List[CLIPluginOption]

    def help(self, option: CLIPluginOption) -> None:
        """Print this plugin's documentation (for ``--help=OPTION``)."""
        doc = inspect.getdoc(self)
        if not doc or doc == inspect.getdoc(CLIPlugin):
            sys.stderr.write("No extra documentation for option `{}` found.\n".format(
                option.name))
            return
        sys.stdout.write("\nDocumentation for plugin providing option `{}`:\n\n{}\n".format(
            option.name, doc))

    def add_option(self, name: str, **kwargs: Any) -> None:
        """Add long option ``name`` (``--...``); keywords as argparse's
        add_argument()."""
        self.options.append(CLIPluginOption(name, prefix=self.prefix, **kwargs))

    def preinit(self, args: Any) -> None:
        """Called with the parsed options before the jobspec is made."""

    def modify_jobspec(self, args: Any, jobspec: Any) -> None:
        """Called with the parsed options and the jobspec to change."""

    def validate(self, jobspec: Any) -> None:
        """Raise ValueError if ``jobspec`` is not acceptable."""


def _is_plugin_class(entry: Any) -> bool:
    # A subclass of this CLIPlugin, or -- for a plugin file that imported
    # the official bindings' flux.cli.plugin -- of any class of that name.
    if not isinstance(entry, type):
        return False
    bases = [cls for cls in entry.__mro__[1:] if cls.__name__ == "CLIPlugin"]
    return bool(bases) and entry.__name__ != "CLIPlugin"


def _builtin_path(key: str) -> Optional[str]:
    try:
        value = lib.flux_conf_builtin_get(key.encode("ascii"), 0)  # FLUX_CONF_INSTALLED
    except Exception:  # no libflux-core: only FLUX_CLI_PLUGINPATH is searched
        return None
    return value.decode("utf-8") if value else None


def _import_path(path: str) -> Any:
    name = "flux_ctypes_cli_plugin_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load CLI plugin {}".format(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CLIPluginRegistry:
    """The CLI plugins for command ``prog``, loaded now.  ``options`` are
    their options (a plugin whose option clashes with an earlier one's is
    dropped); preinit(), modify_jobspec() and validate() call every
    plugin's."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.plugins = []  # type: List[Any]
        self.options = []  # type: List[Any]
        self.plugindirs = self._get_searchpath()
        self._load_plugins(prog)

    @staticmethod
    def _get_searchpath() -> List[str]:
        def split(text: str) -> List[str]:
            return [part for part in text.split(":") if part.strip()]

        if "FLUX_CLI_PLUGINPATH_OVERRIDE" in os.environ:
            return split(os.environ["FLUX_CLI_PLUGINPATH_OVERRIDE"])
        paths = split(os.environ.get("FLUX_CLI_PLUGINPATH", ""))
        for key in ("confdir", "libexecdir"):
            base = _builtin_path(key)
            if base:
                paths.append(os.path.join(base, "cli", "plugins"))
        return paths

    def _load_plugins(self, prog: str) -> "CLIPluginRegistry":
        for directory in self.plugindirs:
            for path in sorted(glob.glob(os.path.join(directory, "*.py"))):
                module = _import_path(path)
                for attr in dir(module):
                    entry = getattr(module, attr)
                    if not attr.startswith("_") and _is_plugin_class(entry):
                        plugin = entry(prog)
                        plugin.path = path
                        self.plugins.append(plugin)
        dests = {}  # type: Dict[str, Any]
        for plugin in list(self.plugins):
            if any(option.dest in dests for option in plugin.options):
                self.plugins.remove(plugin)  # the first plugin in the path wins
                continue
            for option in plugin.options:
                dests[option.dest] = option
        self.options = list(dests.values())
        return self

    @staticmethod
    def _alias(plugin: Any) -> Dict[str, str]:
        return {
            option._unprefixed_dest: option.dest
            for option in plugin.options
            if getattr(option, "_unprefixed_dest", None)
            and option._unprefixed_dest != option.dest
        }

    def print_help(self, name: str) -> None:
        """Print the documentation of the plugin adding option ``name``
        and exit; ValueError if none does."""
        for plugin in self.plugins:
            for option in plugin.options:
                if name in (option.name, option.name.lstrip("-")):
                    plugin.help(option)
                    sys.exit(0)
        raise ValueError("--help: no such option {}".format(name))

    def print_plugins(self) -> None:
        """List the loaded plugins and their options."""
        print("Options provided by plugins:")
        print("  Search path: {}\n".format(":".join(self.plugindirs)))
        for plugin in self.plugins:
            print("{} loaded from {}".format(type(plugin).__name__, plugin.path))
            for option in plugin.options:
                print("  {:<20}  {}".format(option.name, option.kwargs.get("help", "")))
            print()

    def preinit(self, args: Any) -> None:
        for plugin in self.plugins:
            plugin.preinit(PluginArgsProxy(args, self._alias(plugin)))

    def modify_jobspec(self, args: Any, jobspec: Any) -> None:
        for plugin in self.plugins:
            plugin.modify_jobspec(PluginArgsProxy(args, self._alias(plugin)), jobspec)

    def validate(self, jobspec: Any) -> None:
        for plugin in self.plugins:
            plugin.validate(jobspec)
