"""Helpers for building jobs from command-line style options: signal
names, durations, and the ``--conf`` configuration of batch jobs."""

import collections
import fnmatch
import json
import os
import re
import signal
import string
import sys
from typing import Any, Dict, List, Optional, Tuple

from flux_ctypes.job.Jobspec import parse_fsd

__all__ = [
    "decode_signal",
    "decode_duration",
    "BatchConfig",
    "dict_merge",
    "parse_signal_option",
    "URIArg",
    "dependency_array_create",
    "filter_dict",
    "list_split",
    "get_rlimits",
    "get_filtered_rlimits",
    "get_filtered_environment",
    "normalize_conf",
    "jobspec_add_file",
    "parse_jobspec_keyval",
]


def decode_signal(val: Any) -> int:
    """A signal number from a number, "10", "SIGUSR1" or "USR1";
    ValueError for anything else."""
    if isinstance(val, int) and not isinstance(val, bool):
        return val
    text = str(val)
    try:
        return int(text)
    except ValueError:
        pass
    for name in (text, "SIG" + text):
        number = getattr(signal.Signals, name, None) if name.startswith("SIG") else None
        if number is not None:
            return int(number)
    raise ValueError("signal '{}' is invalid".format(val))


def decode_duration(val: Any) -> float:
    """Seconds from a number or an FSD string; ValueError otherwise."""
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        return float(val)
    return parse_fsd(str(val))


def dict_merge(base: Dict[str, Any], new: Dict[str, Any]) -> Dict[str, Any]:
    """Merge ``new`` into ``base`` (nested dicts merged, other values
    replaced) and return ``base``."""
    for key, value in new.items():
        if isinstance(base.get(key), dict) and isinstance(value, dict):
            dict_merge(base[key], value)
        else:
            base[key] = value
    return base


def _toml() -> Any:
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]  # novermin

        return tomllib
    except ImportError:
        try:
            import tomli  # type: ignore[import-not-found,unused-ignore]

            return tomli
        except ImportError:
            return None


def _parse_toml(text: str) -> Any:
    toml = _toml()
    if toml is None:
        raise ValueError("TOML needs Python 3.11 (tomllib) or the tomli package")
    return toml.loads(text)


def _xdg_config_dirs() -> Tuple[str, ...]:
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config")
    rest = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    return tuple(os.path.join(d, "flux", "config") for d in [home] + rest)


class BatchConfig:
    """The configuration given to a batch or alloc job by successive
    ``--conf`` values (see update()); the result is in ``config`` (None
    until the first update)."""

    def __init__(self) -> None:
        self.config = None  # type: Optional[Dict[str, Any]]

    def _merge(self, conf: Any) -> "BatchConfig":
        if not isinstance(conf, dict):
            raise ValueError("--conf: the configuration must be a table/object")
        self.config = dict_merge(self.config or {}, conf)
        return self

    def update_string(self, value: str) -> "BatchConfig":
        """Merge JSON or TOML text."""
        try:
            conf = json.loads(value)
        except ValueError:
            try:
                conf = _parse_toml(value)
            except ValueError:
                raise ValueError("--conf: failed to parse multiline as TOML or JSON") from None
        return self._merge(conf)

    def update_keyval(self, keyval: str) -> "BatchConfig":
        """Merge ``dotted.key=value`` (the value parsed as JSON if it can be)."""
        key, _, text = keyval.partition("=")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if self.config is None:
            self.config = {}
        node = self.config
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise TypeError("failed to set {} to {}: {} is not a table".format(
                    key, value, part))
            node = child
        node[parts[-1]] = value
        return self

    def update_file(self, path: str, extension: str = ".toml") -> "BatchConfig":
        """Merge a .toml or .json file."""
        if extension not in (".toml", ".json"):
            raise ValueError("--conf: {} must end in .toml or .json".format(path))
        try:
            with open(path, "rb") as infile:
                text = infile.read().decode("utf-8")
        except OSError as exc:
            raise ValueError("--conf: {}".format(exc)) from None
        try:
            conf = json.loads(text) if extension == ".json" else _parse_toml(text)
        except ValueError as exc:
            raise ValueError("--conf: parse error: {}: {}".format(path, exc)) from None
        return self._merge(conf)

    def update_named_config(self, name: str) -> "BatchConfig":
        """Merge ``name``.toml (or .json) from the XDG config search path."""
        for directory in _xdg_config_dirs():
            for ext in (".toml", ".json"):
                path = os.path.join(directory, name + ext)
                if os.path.exists(path):
                    return self.update_file(path, ext)
        raise ValueError("--conf: named config '{}' not found".format(name))

    def update(self, value: str) -> "BatchConfig":
        """Merge ``value``: JSON or TOML text if it has a newline, else
        ``key=value`` if it has '=', else a .toml/.json file, else a named
        configuration."""
        if self.config is None:
            self.config = {}
        if "\n" in value:
            return self.update_string(value)
        if "=" in value:
            return self.update_keyval(value)
        extension = os.path.splitext(value)[1]
        if extension in (".toml", ".json"):
            return self.update_file(value, extension)
        return self.update_named_config(value)

    def get(self, key: str, default: Any = None) -> Any:
        """The value at dotted ``key``, or ``default``."""
        node = self.config or {}  # type: Any
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


# --- the options of flux submit/run/alloc/batch -------------------------------
def parse_signal_option(arg: Optional[str]) -> Dict[str, Any]:
    """``--signal=[SIG][@TIME]`` as the job shell's ``signal`` option:
    signal number (default SIGUSR1) and seconds before the time limit
    (default 60)."""
    signo = "SIGUSR1"  # type: Any
    left = 60  # type: Any
    if arg is not None:
        sig, _, when = arg.partition("@")
        if when:
            left = when
        if sig:
            signo = sig
    try:
        signum = decode_signal(signo)
        if signum <= 0:
            raise ValueError("signal must be > 0")
        seconds = decode_duration(left)
    except ValueError as exc:
        raise ValueError("--signal={}: {}".format(arg, exc)) from None
    return {"signum": signum, "timeleft": seconds}


class URIArg:
    """A ``scheme:value[?key=val&...]`` argument (a dependency, a taskmap)
    as an RFC 26 style entry: ``{"scheme": ..., "value": ..., key: val}``."""

    def __init__(self, uri: str, name: str) -> None:
        scheme, colon, rest = uri.partition(":")
        if not colon:
            rest = ""
        path, _, query = rest.partition("?")
        if not scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", scheme):
            raise ValueError('Invalid {} URI "{}"'.format(name, uri))
        self.scheme = scheme
        self.path = path
        self.query = query
        if name == "dependency" and scheme == "after":
            sys.stderr.write("dependency scheme 'after' is deprecated, use 'afterstart'\n")

    @staticmethod
    def _number(value: str) -> Any:
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                continue
        return value

    @property
    def entry(self) -> Dict[str, Any]:
        entry = {"scheme": self.scheme, "value": self.path}  # type: Dict[str, Any]
        if self.query:
            from urllib.parse import parse_qs

            for key, values in parse_qs(self.query).items():
                converted = [self._number(v) for v in values]
                entry[key] = converted if len(converted) > 1 else converted[0]
        return entry


def dependency_array_create(uris: Any) -> List[Dict[str, Any]]:
    """RFC 26 dependency entries for ``scheme:value`` strings."""
    return [URIArg(uri, "dependency").entry for uri in uris]


def filter_dict(env: Dict[str, Any], pattern: str, reverseMatch: bool = True) -> Dict[str, Any]:
    """``env`` without the keys matching glob ``pattern`` (a regex if it
    starts with '/'); with ``reverseMatch=False``, only those keys."""
    if pattern.startswith("/"):
        regex = re.compile(pattern[1:].rstrip("/"))
    else:
        regex = re.compile(fnmatch.translate(pattern))
    return {k: v for k, v in env.items() if bool(regex.match(k)) != reverseMatch}


def list_split(opts: Any) -> List[str]:
    """Each option split on commas, flattened."""
    if isinstance(opts, str):
        opts = [opts]
    return [part for opt in (opts or []) for part in opt.split(",")]


def get_rlimits(name: str = "*") -> Dict[str, int]:
    """This process's soft limits whose name matches glob ``name``."""
    import resource

    found = {}
    for limit in fnmatch.filter(dir(resource), "RLIMIT_{}".format(name).upper()):
        soft, _hard = resource.getrlimit(getattr(resource, limit))
        found[limit[len("RLIMIT_"):].lower()] = soft
    if not found:
        raise ValueError('No corresponding rlimit matching "{}"'.format(name))
    return found


# limits not propagated unless asked for
_RLIMIT_DEFAULT_RULES = ["-memlock", "-ofile", "-msgqueue", "-nice", "-rtprio",
                         "-rttime", "-sigpending"]


def get_filtered_rlimits(user_rules: Any = None) -> Dict[str, int]:
    """The limits to propagate: all of this process's, less the defaults'
    exclusions, then ``user_rules`` (``-name``, ``name``, ``name=value``
    with ``unlimited``/``infinity``)."""
    import resource

    rules = _RLIMIT_DEFAULT_RULES + list_split(user_rules)
    limits = get_rlimits()
    for rule in rules:
        if rule.startswith("-"):
            limits = filter_dict(limits, rule[1:].lower())
            continue
        name, eq, value = rule.partition("=")
        if not eq:
            limits.update(get_rlimits(name.lower()))
            continue
        if not hasattr(resource, "RLIMIT_{}".format(name).upper()):
            raise ValueError('Invalid rlimit "{}"'.format(name))
        if value in ("unlimited", "infinity", "inf"):
            limits[name.lower()] = resource.RLIM_INFINITY
        else:
            try:
                limits[name.lower()] = int(value)
            except ValueError:
                raise ValueError("Invalid value in {}={}".format(name, value)) from None
    return limits


def get_filtered_environment(
    rules: Any, environ: Optional[Dict[str, str]] = None
) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The job environment made from ``environ`` (default: this process's)
    by ``rules``: ``-PATTERN`` removes, ``^FILE`` reads more rules,
    ``VAR`` (a glob) imports, ``VAR=VALUE`` sets with ``$VAR`` expanded
    against the environment built so far.  Values holding ``{{...}}`` are
    left to the job shell: returned apart, as the env-expand option."""
    expand = {}  # type: Dict[str, str]
    env = dict(os.environ) if environ is None else environ
    if rules is None:
        return env, expand
    for rule in rules:
        if rule.startswith("-"):
            env = filter_dict(env, rule[1:])
        elif rule.startswith("^"):
            path = os.path.expanduser(rule[1:])
            try:
                with open(path) as infile:
                    lines = [line.strip() for line in infile]
            except OSError as exc:
                raise ValueError("--env: {}".format(exc)) from None
            env, more = get_filtered_environment(lines, environ=env)
            expand.update(more)
        else:
            var, eq, value = rule.partition("=")
            if not eq:
                for key, val in filter_dict(dict(os.environ), var, reverseMatch=False).items():
                    env.setdefault(key, val)
            elif "{{" in value:
                expand[var] = value
            else:
                lookup = collections.ChainMap(env, os.environ)  # type: Any
                try:
                    env[var] = string.Template(value).substitute(lookup)
                except ValueError:
                    raise ValueError("--env: Unable to substitute {}".format(rule)) from None
                except KeyError as exc:
                    raise ValueError("--env: Variable {} not found in {}".format(
                        exc, rule)) from None
    return env, expand


def normalize_conf(conf: Any) -> Optional[Dict[str, Any]]:
    """A broker configuration as a dict: from a dict, a BatchConfig, or
    anything BatchConfig.update() reads."""
    if conf is None:
        return None
    if isinstance(conf, dict):
        return conf
    if isinstance(conf, BatchConfig):
        return conf.config
    return BatchConfig().update(str(conf)).config


def jobspec_add_file(jobspec: Any, arg: str) -> None:
    """``--add-file`` ``[NAME[:PERMS]=]PATH`` or ``NAME=CONTENT`` (content
    has a newline; a literal backslash-n counts as one)."""
    perms = None
    name, _, data = arg.replace("\\n", "\n").partition("=")
    if not data:
        if "\n" in name:
            raise ValueError("--add-file: file name missing")
        data = name
        name = os.path.basename(data)
    else:
        base, colon, permstr = name.partition(":")
        if colon:
            try:
                perms = int(permstr, 8)
                name = base
            except ValueError:
                pass  # the ':' is part of the name
    try:
        jobspec.add_file(name, data, perms=perms)
    except (TypeError, ValueError, OSError) as exc:
        raise ValueError("--add-file={}: {}".format(arg, exc)) from None


def parse_jobspec_keyval(label: str, keyval: str) -> Tuple[str, Any]:
    """``key[=value]`` of --setopt/--setattr: the value parsed as JSON when
    it is JSON (1 when absent); ``^key=FILE`` reads the value from a JSON
    file."""
    key, eq, text = keyval.partition("=")
    if not eq:
        return key, 1
    if key.startswith("^"):
        key = key.lstrip("^")
        try:
            with open(text) as infile:
                return key, json.load(infile)
        except ValueError as exc:
            raise ValueError("{}: {}: {}".format(label, text, exc)) from exc
    try:
        return key, json.loads(text)
    except ValueError:
        return key, text
