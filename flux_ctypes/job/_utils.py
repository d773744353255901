"""Helpers for building jobs from command-line style options: signal
names, durations, and the ``--conf`` configuration of batch jobs."""

import json
import os
import signal
from typing import Any, Callable, Dict, Optional, Tuple

from flux_ctypes.job.Jobspec import parse_fsd

__all__ = ["decode_signal", "decode_duration", "BatchConfig", "dict_merge"]


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
