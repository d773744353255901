"""Jobspecs: the canonical form of RFC 14 and version 1 of RFC 25.

A :class:`Jobspec` holds the four top-level sections (``resources``,
``tasks``, ``attributes``, ``version``) and checks them when made; its
properties and setters edit ``attributes.system`` (duration as an RFC 23
Flux Standard Duration, cwd, environment, stdio redirection, queue...).
:class:`JobspecV1` adds the version 1 rules and the factories
(``from_command``, ``from_batch_command``, ``from_nest_command``,
``per_resource``).

Invalid input is a ValueError or TypeError saying which key is wrong.
"""

import base64
import collections
import collections.abc as abc
import datetime
import errno
import json
import math
import numbers
import os
import re
import stat
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Jobspec",
    "JobspecV1",
    "validate_jobspec",
    "validate_counts",
    "parse_fsd",
    "fsd",
    "Fileref",
]


# --- small helpers -----------------------------------------------------------
def parse_fsd(text: str) -> float:
    """Seconds in an RFC 23 Flux Standard Duration: a non-negative number
    with an optional unit ``ms``, ``s``, ``m``, ``h`` or ``d``; ``inf`` or
    ``infinity`` is unlimited.  Anything else is ValueError."""
    if not isinstance(text, str):
        raise TypeError("a duration string is needed, not {}".format(type(text).__name__))
    if text.lower() in ("inf", "infinity"):
        return float("inf")
    match = re.match(r"^\s*(.*?)(ms|s|m|h|d)?\s*$", text)
    number, unit = (match.group(1), match.group(2)) if match else (text, None)
    try:
        value = float(number)
    except ValueError:
        raise ValueError("invalid Flux standard duration {!r}".format(text)) from None
    scale = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0, "d": 86400.0}
    seconds = value * scale[unit]
    if seconds < 0 or math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("invalid Flux standard duration {!r}".format(text))
    return seconds


def fsd(seconds: float) -> str:
    """``seconds`` as a short Flux Standard Duration ("1.5m", "2h", "inf")."""
    if math.isinf(seconds):
        return "infinity"
    if seconds < 60:
        text = "{:.3g}s".format(seconds) if seconds >= 0.001 or seconds == 0 else \
            "{:.3g}ms".format(seconds * 1000)
    elif seconds < 3600:
        text = "{:.3g}m".format(seconds / 60)
    elif seconds < 86400:
        text = "{:.3g}h".format(seconds / 3600)
    else:
        text = "{:.3g}d".format(seconds / 86400)
    return text


def _set_tree(tree: Dict[str, Any], key: str, value: Any) -> None:
    """``tree["a"]["b"]["c"] = value`` for key ``a.b.c``, making levels."""
    head, dot, rest = key.partition(".")
    if not dot:
        tree[key] = value
        return
    child = tree.setdefault(head, {})
    if not isinstance(child, abc.MutableMapping):
        raise TypeError("{!r} holds {!r}, not a dict".format(head, child))
    _set_tree(child, rest, value)  # type: ignore[arg-type]


def _del_tree(tree: Dict[str, Any], key: str) -> None:
    """Delete dotted ``key`` and any dict left empty by it (KeyError if a
    level is missing)."""
    head, dot, rest = key.partition(".")
    if not dot:
        del tree[key]
        return
    _del_tree(tree[head], rest)
    if isinstance(tree[head], abc.Mapping) and not tree[head]:
        del tree[head]


def _full_key(key: str) -> str:
    # "duration" and "system.duration" are "attributes.system.duration";
    # "user.x" is "attributes.user.x"
    if not isinstance(key, str):
        raise TypeError("jobspec attribute key must be a str, not {}".format(
            type(key).__name__))
    if key.startswith("attributes."):
        return key
    if not key.startswith(("system.", "user.")):
        key = "system." + key
    return "attributes." + key


_IDSET_RE = re.compile(r"^\[?\d+(-\d+)?(,\d+(-\d+)?)*\]?$")


def _is_idset(text: str) -> bool:
    if not _IDSET_RE.match(text):
        return False
    for part in text.strip("[]").split(","):
        low, _, high = part.partition("-")
        if high and int(high) < int(low):
            return False
    return True


def _check_keys(expected: Sequence[str], given: Any, optional: bool = False,
                extra_ok: bool = False) -> None:
    expected_set, given_set = set(expected), set(given)
    if not optional:
        for key in sorted(expected_set - given_set):
            raise ValueError("Missing key ({})".format(key))
    if not extra_ok:
        for key in sorted(given_set - expected_set):
            raise ValueError("Extraneous key ({})".format(key))


class Fileref(dict):  # type: ignore[type-arg]
    """An RFC 37 file entry for ``attributes.system.files``: ``data`` given
    as a dict (JSON content), as text in ``encoding`` (utf-8 or base64),
    or else the path of a local file whose content is read now."""

    def __init__(self, data: Any, perms: int = 0o600, encoding: Optional[str] = None) -> None:
        entry = {"mode": perms | stat.S_IFREG}  # type: Dict[str, Any]
        if isinstance(data, abc.Mapping):
            entry["data"] = dict(data)
        elif encoding is not None:
            if encoding not in ("utf-8", "base64"):
                raise ValueError("invalid encoding: {} (utf-8 or base64)".format(encoding))
            entry["data"] = data
            entry["encoding"] = encoding
        else:
            info = os.stat(data)
            entry["size"] = info.st_size
            entry["mode"] = info.st_mode
            with open(data, "rb") as infile:
                content = infile.read()
            try:
                entry["data"] = content.decode("utf-8")
                entry["encoding"] = "utf-8"
            except UnicodeDecodeError:
                entry["data"] = base64.b64encode(content).decode("ascii")
                entry["encoding"] = "base64"
        super().__init__(entry)


# --- validation ---------------------------------------------------------------
def validate_counts(resources: Sequence[Mapping[str, Any]]) -> None:
    """Every resource count (at any depth) must be a plain integer."""
    for res in resources:
        count = res["count"]
        if not isinstance(count, int) or isinstance(count, bool):
            raise ValueError(
                "resource count must be an integer for type '{}' (got '{}')".format(
                    res["type"], type(count).__name__))
        validate_counts(res.get("with", []))


def _check_range(count: Mapping[str, Any]) -> None:
    if "min" not in count:
        raise ValueError("min must be in range")
    _check_keys(["min", "max", "operand", "operator"], count, optional=True)
    for key in ("min", "max", "operand"):
        if key in count:
            if not isinstance(count[key], int):
                raise TypeError("{} must be an int".format(key))
            if count[key] < 1:
                raise ValueError("{} must be > 0".format(key))
    if "max" in count and count["max"] < count["min"]:
        raise ValueError("max must be >= min")
    if ("operand" in count) != ("operator" in count):
        raise ValueError("operand and operator must both be in range if either is")
    if "operator" in count:
        operator = count["operator"]
        if not isinstance(operator, str) or len(operator) != 1:
            raise TypeError("operator must be a single character str")
        if operator not in ("+", "*", "^"):
            raise ValueError("operator must be one of ['+', '*', '^']")
        if operator in ("*", "^") and count["operand"] < 2:
            raise ValueError("operand must be > 1 for '*' or '^' operator")
        if operator == "^" and count["min"] < 2:
            raise ValueError("min must be > 1 for '^' operator")


def _check_count_string(count: str) -> None:
    # an idset ("1-4,7"), or a range "min-max[:operand[:operator]]" / "min+"
    if _is_idset(count):
        return
    parts = count.split(":")
    if len(parts) > 3 or ("-" not in parts[0] and "+" not in parts[0]):
        raise ValueError("count string must be a valid idset or range")
    spec = {}  # type: Dict[str, Any]
    try:
        if "-" in parts[0]:
            low, _, high = parts[0].partition("-")
            spec["max"] = int(high)
        else:
            low = parts[0].rstrip("+")
        spec["min"] = int(low)
        if len(parts) > 1:
            spec["operand"] = int(parts[1])
            spec["operator"] = "+"
    except ValueError:
        raise ValueError("count string {!r} is not a valid range".format(count)) from None
    if len(parts) > 2:
        spec["operator"] = parts[2]
    _check_range(spec)


def _check_resource(res: Any) -> None:
    if not isinstance(res, abc.Mapping):
        raise TypeError("resource must be a mapping")
    if "type" not in res:
        raise ValueError("type is a required key for resources")
    if not isinstance(res["type"], str):
        raise TypeError("type must be a string")
    if "count" not in res:
        raise ValueError("count is a required key for resources")
    count = res["count"]
    if isinstance(count, abc.Mapping):
        _check_range(count)
    elif isinstance(count, str):
        _check_count_string(count)
    elif not isinstance(count, int) or isinstance(count, bool):
        raise TypeError("count must be an int or mapping")
    else:
        if res["type"] in ("node", "slot", "core") and count < 1:
            raise ValueError("node, slot, or core count must be > 0")
        if count < 0:
            raise ValueError("count must be >= 0")
    for key in ("id", "unit", "label"):
        if key in res and not isinstance(res[key], str):
            raise TypeError("{} must be a string".format(key))
    if "exclusive" in res and res["exclusive"] not in (True, False):
        raise TypeError("exclusive must be a boolean")
    if res["type"] == "slot" and "label" not in res:
        raise ValueError("slots must have labels")


def _check_task(task: Any) -> None:
    if not isinstance(task, abc.Mapping):
        raise TypeError("task must be a mapping")
    _check_keys(["command", "slot", "count"], task, extra_ok=True)
    count = task["count"]
    if not isinstance(count, abc.Mapping):
        raise TypeError("count must be a mapping")
    if len(count) != 1:
        raise ValueError("count must have exactly one key set")
    if not set(count) & {"per_slot", "per_resource", "total"}:
        raise ValueError("count per_slot, per_resource, or total must be set")
    for key in ("total", "per_slot"):
        if key in count:
            if not isinstance(count[key], int) or isinstance(count[key], bool):
                raise TypeError("count {} must be an int".format(key))
            if count[key] <= 0:
                raise ValueError("count {} must be > 0".format(key))
    if not isinstance(task["slot"], str):
        raise TypeError("slot must be a string")
    if "attributes" in task and not isinstance(task["attributes"], abc.Mapping):
        raise TypeError("attributes must be a mapping")
    command = task["command"]
    if isinstance(command, abc.Sized) and len(command) == 0:
        raise TypeError("command array cannot have length of zero")
    if (isinstance(command, str) or not isinstance(command, abc.Sequence)
            or not all(isinstance(arg, str) for arg in command)):
        raise TypeError("command must be a list of strings")


def _check_constraint(constraint: Any) -> None:
    """An RFC 31 constraint object: operators and their arguments."""
    if not isinstance(constraint, abc.Mapping):
        raise TypeError("constraints must be a mapping")
    for operator, args in constraint.items():
        if not isinstance(operator, str):
            raise TypeError("constraint operation {} is not a string".format(operator))
        if isinstance(args, str) or not isinstance(args, abc.Sequence):
            raise TypeError("argument to constraint {} must be a sequence".format(operator))
        if operator in ("and", "or", "not"):
            for sub in args:
                _check_constraint(sub)
        elif operator == "properties":
            for name in args:
                if not isinstance(name, str) or set(name) & set("&'\"`|()"):
                    raise TypeError("invalid character in property '{}'".format(name))
        elif operator == "hostlist":
            for hosts in args:
                if not isinstance(hosts, str) or not hosts:
                    raise ValueError("hostlist constraint needs host names")
        elif operator == "ranks":
            for ranks in args:
                if not isinstance(ranks, str) or not _is_idset(ranks):
                    raise ValueError("ranks constraint {!r} is not an idset".format(ranks))
        else:
            raise TypeError("unknown constraint operator '{}'".format(operator))


def _check_system(system: Mapping[str, Any]) -> None:
    if "dependencies" in system:
        deps = system["dependencies"]
        if isinstance(deps, str) or not isinstance(deps, abc.Sequence):
            raise TypeError("attributes.system.dependencies must be a list")
        for dep in deps:
            _check_keys(["scheme", "value"], dep, extra_ok=True)
            if not isinstance(dep["scheme"], str):
                raise TypeError("dependency scheme must be a string")
            if not isinstance(dep["value"], str):
                raise TypeError("dependency value must be a string")
    if "constraints" in system:
        _check_constraint(system["constraints"])


def _jobspec_text(jobspec: Any) -> str:
    if isinstance(jobspec, Jobspec):
        return jobspec.dumps()
    if isinstance(jobspec, bytes):
        return jobspec.decode("utf-8", "surrogateescape")
    if isinstance(jobspec, str):
        return jobspec
    if jobspec is None:
        raise OSError(errno.EINVAL, "jobspec must not be None")
    raise TypeError("jobspec must be a Jobspec or a string")


def validate_jobspec(jobspec: Any, require_version: Optional[int] = None) -> Tuple[bool, "Jobspec"]:
    """Check a jobspec (a Jobspec, or its JSON text) by building it: version
    1 (or ``require_version=1``) as a JobspecV1.  Returns ``(True,
    jobspec)``; an invalid one raises ValueError or TypeError saying why."""
    try:
        data = json.loads(_jobspec_text(jobspec))
    except ValueError as exc:
        # %, not str.format(): PyPy's json puts malformed text in the message
        # for a lone surrogate, which PyPy's format() fails on (SystemError)
        raise ValueError("jobspec is not valid JSON: %s" % (exc,)) from None
    if not isinstance(data, dict):
        raise ValueError("jobspec must be a JSON object")
    _check_keys(sorted(Jobspec.top_level_keys), data)
    if require_version == 1 or data.get("version") == 1:
        return True, JobspecV1(**data)
    return True, Jobspec(**data)


# --- the classes ------------------------------------------------------------------
class Jobspec:
    """A canonical (RFC 14) jobspec; see the module's docstring."""

    top_level_keys = frozenset(("resources", "tasks", "version", "attributes"))

    def __init__(self, resources: Any, tasks: Any, attributes: Any, version: Any) -> None:
        if isinstance(resources, str) or not isinstance(resources, abc.Sequence):
            raise TypeError("resources must be a sequence")
        if isinstance(tasks, str) or not isinstance(tasks, abc.Sequence):
            raise TypeError("tasks must be a sequence")
        if not isinstance(attributes, abc.Mapping):
            raise TypeError("attributes must be a mapping")
        if not isinstance(version, int) or isinstance(version, bool):
            raise TypeError("version must be an integer")
        if version < 1:
            raise ValueError("version must be >= 1")
        self.jobspec = {
            "resources": resources,
            "tasks": tasks,
            "attributes": attributes,
            "version": version,
        }  # type: Dict[str, Any]
        for res in self:
            _check_resource(res)
        for task in tasks:
            _check_task(task)
        _check_keys(["system", "user"], attributes, optional=True)
        if "system" in attributes:
            _check_system(attributes["system"])

    # -- making one ----------------------------------------------------------
    @classmethod
    def from_yaml_stream(cls, yaml_stream: Any) -> "Jobspec":
        """A jobspec from YAML (or JSON) text or a file object (needs PyYAML)."""
        try:
            import yaml  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise ImportError(
                "Jobspec.from_yaml_stream() needs PyYAML (pip install pyyaml); "
                "for JSON use {}(**json.loads(text))".format(cls.__name__)) from None
        if not isinstance(yaml_stream, (str, bytes)) and not hasattr(yaml_stream, "read"):
            raise TypeError("yaml_stream must be str, bytes or a file object, not {}".format(
                type(yaml_stream).__name__))
        try:
            data = yaml.safe_load(yaml_stream)
        except yaml.YAMLError as exc:
            raise ValueError("yaml_stream is not a valid YAML jobspec: {}".format(exc)) from None
        if not isinstance(data, dict):
            raise ValueError("a jobspec must be a mapping, not {}".format(
                type(data).__name__))
        _check_keys(sorted(cls.top_level_keys), data)
        return cls(**data)

    @classmethod
    def from_yaml_file(cls, filename: Any) -> "Jobspec":
        """A jobspec from the YAML (or JSON) file at ``filename``."""
        with open(filename, "rb") as infile:
            return cls.from_yaml_stream(infile)

    # -- attribute access ------------------------------------------------------
    def getattr(self, key: str) -> Any:
        """The attribute at dotted ``key`` ("duration", "system.cwd",
        "user.x", "attributes.system.x"); KeyError when unset."""
        value = self.jobspec  # type: Any
        for part in _full_key(key).split("."):
            value = value.get(part) if isinstance(value, abc.Mapping) else None
            if value is None:
                raise KeyError(key)
        return value

    def setattr(self, key: str, val: Any) -> None:
        """Set the attribute at dotted ``key`` (see getattr()), making
        levels as needed."""
        full = _full_key(key)
        try:
            _set_tree(self.jobspec, full, val)
        except TypeError as exc:
            raise TypeError("failed to set {} to {}: {}".format(full, val, exc)) from None

    def setattr_shell_option(self, key: str, val: Any) -> None:
        """Set job shell option ``key`` (dotted) to ``val``."""
        if not isinstance(key, str):
            raise TypeError("shell option key must be a str, not {}".format(
                type(key).__name__))
        self.setattr("system.shell.options." + key, val)

    def _system(self, key: str) -> Any:
        try:
            return self.jobspec["attributes"]["system"][key]
        except (KeyError, TypeError):
            return None

    @property
    def duration(self) -> Any:
        """The time limit in seconds (0 is unlimited).  Set it to a number,
        an FSD string ("10m") or a datetime.timedelta."""
        return self._system("duration")

    @duration.setter
    def duration(self, duration: Any) -> None:
        if isinstance(duration, str):
            seconds = parse_fsd(duration)
        elif isinstance(duration, datetime.timedelta):
            seconds = duration.total_seconds()
        elif isinstance(duration, (int, float)) and not isinstance(duration, bool):
            seconds = float(duration)
        else:
            raise TypeError("duration must be an int, float, string, or timedelta")
        if seconds < 0:
            raise ValueError("duration must not be negative")
        if math.isnan(seconds) or math.isinf(seconds):
            raise ValueError("duration must be a normal, finite value")
        self.setattr("system.duration", seconds)

    @property
    def queue(self) -> Optional[str]:
        """The queue the job is submitted to."""
        return self._system("queue")  # type: ignore[no-any-return]

    @queue.setter
    def queue(self, queue: str) -> None:
        if not isinstance(queue, str):
            raise TypeError("queue must be a string")
        self.setattr("system.queue", queue)

    @property
    def cwd(self) -> Optional[str]:
        """The job's working directory (a str or os.PathLike when set)."""
        return self._system("cwd")  # type: ignore[no-any-return]

    @cwd.setter
    def cwd(self, cwd: Any) -> None:
        if isinstance(cwd, os.PathLike):
            cwd = os.fspath(cwd)
        if not isinstance(cwd, str):
            raise ValueError("cwd must be a string")
        self.setattr("system.cwd", cwd)

    @property
    def environment(self) -> Optional[Dict[str, str]]:
        """The job's whole environment, a mapping (kept, not copied)."""
        return self._system("environment")  # type: ignore[no-any-return]

    @environment.setter
    def environment(self, environ: Any) -> None:
        if not isinstance(environ, abc.Mapping):
            raise ValueError("environment must be a mapping")
        self.setattr("system.environment", environ)

    def _io_path(self, iotype: str, stream: str) -> Optional[str]:
        try:
            return self.getattr("shell.options.{}.{}.path".format(iotype, stream))  # type: ignore[no-any-return]
        except KeyError:
            return None

    def _set_io_path(self, iotype: str, stream: str, path: Any) -> None:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError("The path must be a string or pathlib object, got {}".format(
                type(path).__name__))
        self.setattr_shell_option("{}.{}.type".format(iotype, stream), "file")
        self.setattr_shell_option("{}.{}.path".format(iotype, stream), path)

    @property
    def input(self) -> Optional[str]:
        """File the job's stdin is read from."""
        return self._io_path("input", "stdin")

    @input.setter
    def input(self, path: Any) -> None:
        self._set_io_path("input", "stdin", path)

    @property
    def output(self) -> Optional[str]:
        """File the job's stdout goes to (stderr too, unless set apart)."""
        return self._io_path("output", "stdout")

    @output.setter
    def output(self, path: Any) -> None:
        self._set_io_path("output", "stdout", path)

    @property
    def error(self) -> Optional[str]:
        """File the job's stderr goes to."""
        return self._io_path("output", "stderr")

    @error.setter
    def error(self, path: Any) -> None:
        self._set_io_path("output", "stderr", path)

    stdin = input
    stdout = output
    stderr = error

    @property
    def unbuffered(self) -> bool:
        """True when stdout and stderr are sent as written (no buffering)."""
        try:
            return bool(self.getattr("shell.options.output.stdout.buffer.type") == "none"
                        and self.getattr("shell.options.output.stderr.buffer.type") == "none")
        except KeyError:
            return False

    @unbuffered.setter
    def unbuffered(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError("unbuffered must be True or False")
        if value:
            self.setattr_shell_option("output.stdout.buffer.type", "none")
            self.setattr_shell_option("output.stderr.buffer.type", "none")
            self.setattr_shell_option("output.batch-timeout", 0.05)
            self.setattr_shell_option("input.batch-timeout", 0.0)
            return
        prefix = "attributes.system.shell.options."
        removals = ["output.stdout.buffer", "output.stderr.buffer"]
        # the batch timeouts only when they are what unbuffered=True set
        if self._shell_option("output.batch-timeout") == 0.05:
            removals.append("output.batch-timeout")
        if self._shell_option("input.batch-timeout") == 0.0:
            removals.append("input.batch-timeout")
        for key in removals:
            try:
                _del_tree(self.jobspec, prefix + key)
            except KeyError:
                pass

    def _shell_option(self, key: str) -> Any:
        try:
            return self.getattr("shell.options." + key)
        except KeyError:
            return None

    def add_file(self, path: str, data: Any, perms: Optional[int] = None,
                 encoding: Optional[str] = None) -> None:
        """Add file ``path`` to the job's RFC 37 file archive.  ``data`` is
        its content when it is a dict, contains a newline, or ``encoding``
        is given; otherwise the local file it names is read now."""
        if not isinstance(data, (abc.Mapping, str)):
            raise TypeError("data must be a Mapping or string")
        if encoding is None and isinstance(data, str) and "\n" in data:
            encoding = "utf-8"
        system = self.jobspec["attributes"].setdefault("system", {})
        files = system.get("files", {})
        files[path] = Fileref(data, perms=0o600 if perms is None else perms,
                              encoding=encoding)
        system["files"] = files

    # -- the sections ------------------------------------------------------------
    def dumps(self, **kwargs: Any) -> str:
        """The jobspec as JSON text (json.dumps keyword arguments apply)."""
        return json.dumps(self.jobspec, ensure_ascii=False, **kwargs)

    @property
    def resources(self) -> Any:
        return self.jobspec.get("resources")

    @property
    def tasks(self) -> Any:
        return self.jobspec.get("tasks")

    @property
    def attributes(self) -> Any:
        return self.jobspec.get("attributes")

    @property
    def version(self) -> Any:
        return self.jobspec.get("version")

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        """Every resource, depth first, parents before their children."""
        stack = list(reversed(self.resources or []))
        while stack:
            res = stack.pop()
            yield res
            stack.extend(reversed(res.get("with", [])))

    def resource_walk(self) -> Iterator[Tuple[Any, Dict[str, Any], int]]:
        """``(parent, resource, count)`` for every resource, depth first;
        ``count`` is multiplied by the counts of its ancestors."""

        def walk(resources: Any, parent: Any, scale: int) -> Iterator[Tuple[Any, Dict[str, Any], int]]:
            for res in resources:
                count = scale * res["count"]
                yield parent, res, count
                for item in walk(res.get("with", []), res, count):
                    yield item

        return walk(self.resources or [], None, 1)

    def resource_counts(self) -> Dict[str, int]:
        """Total count per resource type (units are not considered)."""
        totals = collections.defaultdict(int)  # type: Dict[str, int]
        for _, res, count in self.resource_walk():
            totals[res["type"]] += count
        return totals

    def __repr__(self) -> str:
        return "{}({!r}, {!r}, attributes={!r}, version={!r})".format(
            type(self).__name__, self.resources, self.tasks, self.attributes, self.version)

    def __str__(self) -> str:
        return str(self.jobspec)


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError("{} must be an integer >= {}".format(what, minimum))
    return value


class JobspecV1(Jobspec):
    """A version 1 jobspec (RFC 25): a duration in attributes.system,
    integer counts, tasks counted per slot or in total."""

    def __init__(self, resources: Any, tasks: Any, attributes: Any, version: Any = 1) -> None:
        if version != 1:
            raise ValueError("version must be 1")
        super().__init__(resources, tasks, attributes, version)
        system = attributes.get("system")
        if system is None:
            raise ValueError("attributes.system is a required key")
        if not isinstance(system, abc.Mapping):
            raise ValueError("attributes.system must be a mapping")
        if "duration" not in system:
            raise ValueError("attributes.system.duration is a required key")
        duration = system["duration"]
        if not isinstance(duration, numbers.Number) or isinstance(duration, bool):
            raise ValueError("attributes.system.duration must be a number")
        for task in tasks:
            if not set(task["count"]) & {"per_slot", "total"}:
                raise ValueError("count per_slot or total must be set")
        validate_counts(resources)

    # -- building blocks ------------------------------------------------------------
    @staticmethod
    def _resource(kind: str, count: int, children: Optional[List[Any]] = None,
                  exclusive: bool = False) -> Dict[str, Any]:
        if not count > 0:
            raise ValueError("resource count must be > 0")
        res = {"type": kind, "count": count}  # type: Dict[str, Any]
        if exclusive:
            res["exclusive"] = True
        if children:
            res["with"] = children
        return res

    @classmethod
    def _slot(cls, count: int, children: List[Any]) -> Dict[str, Any]:
        slot = cls._resource("slot", count, children)
        slot["label"] = "task"
        return slot

    def _set_extra_options(
        self,
        duration: Any = None,
        environment: Any = None,
        env_expand: Any = None,
        cwd: Any = None,
        rlimits: Any = None,
        name: Optional[str] = None,
        input: Any = None,
        output: Any = None,
        error: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: Optional[str] = None,
        bank: Optional[str] = None,
    ) -> "JobspecV1":
        if duration is not None:
            self.duration = duration
        self.environment = dict(os.environ) if environment is None else environment
        if env_expand is not None:
            if not isinstance(env_expand, abc.Mapping):
                raise ValueError("env_expand must be a mapping")
            self.setattr_shell_option("env-expand", env_expand)
        if cwd is not None:
            self.cwd = cwd
        if rlimits is not None:
            if not isinstance(rlimits, abc.Mapping):
                raise ValueError("rlimits must be a mapping")
            self.setattr_shell_option("rlimit", rlimits)
        if name is not None:
            self.setattr("job.name", name)
        if input is not None:
            self.input = input
        # "none" and "kvs" leave output in the KVS, as by default
        if output is not None and output not in ("none", "kvs"):
            self.output = output
            if label_io:
                self.setattr_shell_option("output.stdout.label", True)
        if error is not None and error not in ("none", "kvs"):
            self.error = error
            if label_io:
                self.setattr_shell_option("output.stderr.label", True)
        if unbuffered:
            self.unbuffered = True
        if queue is not None:
            self.setattr("queue", queue)
        if bank is not None:
            self.setattr("bank", bank)
        return self

    # -- factories ------------------------------------------------------------------
    @classmethod
    def from_command(
        cls,
        command: Sequence[str],
        num_tasks: int = 1,
        cores_per_task: int = 1,
        gpus_per_task: Optional[int] = None,
        num_nodes: Optional[int] = None,
        exclusive: bool = False,
        duration: Any = None,
        environment: Any = None,
        env_expand: Any = None,
        cwd: Any = None,
        rlimits: Any = None,
        name: Optional[str] = None,
        input: Any = None,
        output: Any = None,
        error: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: Optional[str] = None,
        bank: Optional[str] = None,
    ) -> "JobspecV1":
        """The smallest jobspec running ``command`` (a list of strings) as
        ``num_tasks`` tasks of ``cores_per_task`` cores (and
        ``gpus_per_task`` GPUs) each, spread over ``num_nodes`` nodes if
        given (whole nodes with ``exclusive``).

        The environment is os.environ unless ``environment`` is given;
        ``duration`` is seconds, an FSD string or a timedelta; ``output``
        / ``error`` / ``input`` redirect stdio to files (``label_io``
        prefixes lines with the task rank); ``rlimits`` and ``env_expand``
        are mappings; ``name``, ``cwd``, ``queue``, ``bank`` as named."""
        num_tasks = _positive_int(num_tasks, "task count")
        cores_per_task = _positive_int(cores_per_task, "cores per task")
        if gpus_per_task is not None:
            _positive_int(gpus_per_task, "gpus per task", 0)
        if num_nodes is not None:
            _positive_int(num_nodes, "node count")
            if num_nodes > num_tasks:
                raise ValueError("node count must not be greater than task count")
        elif exclusive:
            raise ValueError("exclusive can only be set with a node count")
        children = [cls._resource("core", cores_per_task)]
        if gpus_per_task:
            children.append(cls._resource("gpu", gpus_per_task))
        if num_nodes is not None:
            slots_per_node = -(-num_tasks // num_nodes)  # ceiling
            if num_tasks % num_nodes:
                task_count = {"total": num_tasks}  # type: Dict[str, int]
            else:
                task_count = {"per_slot": 1}
            top = cls._resource("node", num_nodes, [cls._slot(slots_per_node, children)],
                                exclusive)
        else:
            task_count = {"per_slot": 1}
            top = cls._slot(num_tasks, children)
        tasks = [{"command": command, "slot": "task", "count": task_count}]
        jobspec = cls([top], tasks, attributes={"system": {"duration": 0}})
        return jobspec._set_extra_options(
            duration=duration, environment=environment, env_expand=env_expand, cwd=cwd,
            rlimits=rlimits, name=name, input=input, output=output, error=error,
            label_io=label_io, unbuffered=unbuffered, queue=queue, bank=bank,
        )

    @classmethod
    def per_resource(
        cls,
        command: Sequence[str],
        ncores: Optional[int] = None,
        nnodes: Optional[int] = None,
        per_resource_type: Optional[str] = None,
        per_resource_count: Optional[int] = None,
        gpus_per_node: Optional[int] = None,
        exclusive: bool = False,
        **kwargs: Any,
    ) -> "JobspecV1":
        """A jobspec asking for ``ncores`` cores and/or ``nnodes`` nodes,
        running ``per_resource_count`` tasks per ``per_resource_type``
        ("node" or "core"); other arguments as in from_command()."""
        per_resource = None
        if per_resource_type is not None and per_resource_count is not None:
            if per_resource_type not in ("node", "core"):
                raise ValueError("Invalid per_resource_type='{}' specified".format(
                    per_resource_type))
            _positive_int(per_resource_count, "per_resource_count")
            per_resource = {"type": per_resource_type, "count": per_resource_count}
        elif per_resource_type is not None:
            raise ValueError("must specify a per_resource_count with per_resource_type")
        elif per_resource_count is not None:
            raise ValueError("must specify a per_resource_type with per_resource_count")
        if ncores is not None:
            _positive_int(ncores, "ncores")
        if gpus_per_node is not None:
            _positive_int(gpus_per_node, "gpus_per_node", 0)
            if not nnodes:
                raise ValueError("gpus_per_node must be specified with nnodes")
        if nnodes is not None:
            _positive_int(nnodes, "nnodes")
        elif exclusive:
            raise ValueError("exclusive can only be set with a node count")
        if nnodes and ncores:
            if ncores < nnodes:
                raise ValueError("number of cores cannot be less than nnodes")
            if ncores % nnodes:
                raise ValueError("number of cores must be evenly divisible by node count")
            nslots, slot_size = 1, ncores // nnodes
        elif ncores:
            nslots, slot_size = ncores, 1
        elif nnodes:
            if not exclusive:
                raise ValueError("Specifying nnodes also requires ncores or exclusive")
            nslots, slot_size = 1, 1
        else:
            raise ValueError("must specify node or core count with per_resource")
        children = [cls._resource("core", slot_size)]
        if gpus_per_node:
            children.append(cls._resource("gpu", gpus_per_node))
        top = cls._slot(nslots, children)
        if nnodes:
            top = cls._resource("node", nnodes, [top], exclusive)
        attributes = {"system": {"duration": 0}}  # type: Dict[str, Any]
        if per_resource:
            attributes["system"]["shell"] = {"options": {"per-resource": per_resource}}
        tasks = [{"command": command, "slot": "task", "count": {"per_slot": 1}}]
        return cls([top], tasks, attributes=attributes)._set_extra_options(**kwargs)

    @classmethod
    def from_nest_command(
        cls,
        command: Sequence[str],
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: Optional[int] = None,
        num_nodes: Optional[int] = None,
        broker_opts: Optional[Sequence[str]] = None,
        exclusive: bool = False,
        conf: Any = None,
        **kwargs: Any,
    ) -> "JobspecV1":
        """A jobspec for a Flux instance (one broker per node) whose
        initial program is ``command``; ``conf`` (a dict) becomes its
        configuration; other arguments as in from_command()."""
        options = list(broker_opts) if broker_opts is not None else []
        if conf is not None:
            options.append("-c{{tmpdir}}/conf.json")
        jobspec = cls.from_command(
            ["flux", "broker"] + options + list(command),
            num_tasks=num_slots, cores_per_task=cores_per_slot,
            gpus_per_task=gpus_per_slot, num_nodes=num_nodes, exclusive=exclusive,
            **kwargs,
        )
        jobspec.setattr_shell_option("per-resource.type", "node")
        jobspec.setattr_shell_option("mpi", "none")
        jobspec.setattr_shell_option("exit-timeout", "none")
        if conf is not None:
            jobspec.add_file("conf.json", conf)
        return jobspec

    @classmethod
    def from_batch_command(
        cls,
        script: str,
        jobname: str,
        args: Optional[Sequence[str]] = None,
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: Optional[int] = None,
        num_nodes: Optional[int] = None,
        broker_opts: Optional[Sequence[str]] = None,
        exclusive: bool = False,
        conf: Any = None,
        **kwargs: Any,
    ) -> "JobspecV1":
        """A jobspec for a Flux instance running batch ``script`` (text
        starting with ``#!``, copied into the job) with ``args``."""
        if not isinstance(script, str):
            raise TypeError("script must be a string")
        if not script.startswith("#!"):
            raise ValueError("{} does not appear to start with '#!'".format(jobname))
        jobspec = cls.from_nest_command(
            ["{{tmpdir}}/script"] + list(args or ()),
            num_slots=num_slots, cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot, num_nodes=num_nodes, broker_opts=broker_opts,
            exclusive=exclusive, conf=conf, name=jobname, **kwargs,
        )
        jobspec.add_file("script", script, perms=0o700, encoding="utf-8")
        return jobspec

    # -- the options of flux submit/run/alloc/batch --------------------------------
    _OPTION_NAMES = ("env", "rlimit", "signal", "taskmap", "dependency", "requires",
                     "shell_options", "time_limit", "attributes", "add_file")

    def apply_options(
        self,
        args: Any = None,
        *,
        prog: Optional[str] = None,
        _preinit: bool = True,
        env: Any = None,
        rlimit: Any = None,
        signal: Optional[str] = None,
        taskmap: Optional[str] = None,
        dependency: Any = None,
        requires: Any = None,
        shell_options: Optional[Mapping[str, Any]] = None,
        time_limit: Any = None,
        attributes: Optional[Mapping[str, Any]] = None,
        add_file: Any = None,
        **kwargs: Any,
    ) -> "JobspecV1":
        """Apply ``flux submit``-style options to this jobspec, in place;
        returns it.

        Options come from keyword arguments, or from ``args`` (an
        argparse.Namespace or any object with those attributes, which may
        also carry the CLI's string forms ``setopt`` and ``setattr``);
        keywords win.  ``env`` rules (``-PATTERN``, ``VAR``,
        ``VAR=VALUE``, ``^FILE``) and ``rlimit`` rules (``-name``,
        ``name``, ``name=value``) are applied only when given (or with
        ``args``): ``env=[]`` propagates this process's environment as it
        is.  ``signal`` is ``[SIG][@TIME]``; ``taskmap`` and ``dependency``
        are URIs (``afterok:JOBID``); ``requires`` is constraint text
        (``host:node1 gpu``); ``shell_options`` and ``attributes`` are
        dicts (attribute keys default to ``system.``, a leading ``.``
        means ``attributes.``); ``time_limit`` is seconds or an FSD;
        ``add_file`` entries are ``[NAME[:PERMS]=]PATH`` or ``NAME=TEXT``.

        ``prog`` ("submit", "run", "alloc", "batch") loads that command's
        CLI plugins (see flux_ctypes.cli.plugin): their options are more
        keywords (by prefixed name, e.g. ``site_opt``), preinit() runs
        first (after filling in their defaults, unless ``_preinit`` is
        False), then modify_jobspec().  Any other keyword is TypeError."""
        from types import SimpleNamespace

        from flux_ctypes.job import _utils
        from flux_ctypes.job._constraint import ConstraintSyntaxError, parse_requires

        registry = None  # type: Any
        if prog:
            from flux_ctypes.cli.plugin import CLIPluginRegistry

            registry = CLIPluginRegistry(prog)
        if kwargs:
            known = {option.dest for option in registry.options} if registry else set()
            unknown = sorted(set(kwargs) - known)
            if unknown:
                raise TypeError("apply_options() got unexpected keyword argument(s): "
                                + ", ".join(repr(k) for k in unknown))
        given = {
            "env": env, "rlimit": rlimit, "signal": signal, "taskmap": taskmap,
            "dependency": dependency, "requires": requires,
            "shell_options": shell_options, "time_limit": time_limit,
            "attributes": attributes, "add_file": add_file,
        }  # type: Dict[str, Any]
        given.update(kwargs)
        options = dict.fromkeys(given)  # type: Dict[str, Any]
        if args is not None:
            options.update(vars(args))
        options.update({k: v for k, v in given.items() if v is not None})
        for key in ("requires", "dependency", "env", "rlimit"):
            if isinstance(options.get(key), str):
                options[key] = [options[key]]

        if env is not None or args is not None:
            self.environment, expand = _utils.get_filtered_environment(options["env"])
            if expand:
                self.setattr_shell_option("env-expand", expand)
        if rlimit is not None or args is not None:
            limits = _utils.get_filtered_rlimits(options["rlimit"])
            if limits:
                self.setattr_shell_option("rlimit", limits)
        if options["signal"]:
            self.setattr_shell_option("signal", _utils.parse_signal_option(options["signal"]))
        if options["taskmap"] is not None:
            self.setattr_shell_option("taskmap",
                                      _utils.URIArg(options["taskmap"], "taskmap").entry)
        if options["dependency"] is not None:
            self.setattr("system.dependencies",
                         _utils.dependency_array_create(options["dependency"]))
        if options["requires"] is not None:
            text = " ".join(options["requires"])
            try:
                self.setattr("system.constraints", parse_requires(text))
            except ConstraintSyntaxError as exc:
                raise ValueError("--requires='{}': {}".format(text, exc)) from None
        for keyval in options.get("setopt") or []:
            key, val = _utils.parse_jobspec_keyval("--setopt", keyval)
            self.setattr_shell_option(key, val)
        for key, val in (options["shell_options"] or {}).items():
            self.setattr_shell_option(key, val)
        if options["time_limit"] is not None:
            self.duration = _utils.decode_duration(options["time_limit"])
        pairs = [_utils.parse_jobspec_keyval("--setattr", kv)
                 for kv in options.get("setattr") or []]
        pairs += list((options["attributes"] or {}).items())
        for key, val in pairs:
            if key.startswith("."):
                key = "attributes" + key
            elif not key.startswith(("attributes.", "user.", "system.")):
                key = "system." + key
            self.setattr(key, val)
        for arg in options["add_file"] or []:
            _utils.jobspec_add_file(self, arg)
        if registry is not None:
            merged = SimpleNamespace(**options)
            if _preinit:
                for option in registry.options:
                    if option.dest not in options:
                        setattr(merged, option.dest, option.kwargs.get("default"))
                registry.preinit(merged)
            registry.modify_jobspec(merged, self)
        return self

    @classmethod
    def from_submit(
        cls,
        command: Sequence[str],
        *,
        ntasks: int = 1,
        nodes: Optional[int] = None,
        cores_per_task: int = 1,
        gpus_per_task: Optional[int] = None,
        exclusive: bool = False,
        name: Optional[str] = None,
        queue: Optional[str] = None,
        bank: Optional[str] = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> "JobspecV1":
        """from_command() then apply_options(), as ``flux submit`` builds a
        job: the environment and default rlimits are propagated unless
        ``env``/``rlimit`` rules say otherwise."""
        jobspec = cls.from_command(
            command, num_tasks=ntasks, cores_per_task=cores_per_task,
            gpus_per_task=gpus_per_task, num_nodes=nodes, exclusive=exclusive, name=name,
            queue=queue, bank=bank, cwd=cwd, output=output, error=error, input=input,
            label_io=label_io, unbuffered=unbuffered,
        )
        return jobspec.apply_options(
            prog="submit", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []),
            **kwargs)

    @classmethod
    def from_alloc(
        cls,
        *,
        nslots: Optional[int] = None,
        nodes: Optional[int] = None,
        cores_per_slot: int = 1,
        gpus_per_slot: Optional[int] = None,
        exclusive: bool = False,
        broker_opts: Optional[Sequence[str]] = None,
        conf: Any = None,
        bg: bool = False,
        name: Optional[str] = None,
        queue: Optional[str] = None,
        bank: Optional[str] = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> "JobspecV1":
        """A Flux instance job as ``flux alloc`` builds it: ``nslots`` slots
        (or ``nodes`` whole nodes), broker options and configuration
        (``conf``: dict, BatchConfig or --conf text), ``bg`` to start it
        without an initial program; then apply_options()."""
        from flux_ctypes.job._utils import normalize_conf

        if nslots is None:
            if nodes is None:
                raise ValueError("from_alloc() requires nslots or nodes")
            nslots, exclusive = nodes, True
        options = list(broker_opts or [])
        if bg:
            options.append("-Sbroker.rc2_none=1")
        jobspec = cls.from_nest_command(
            [], num_slots=nslots, cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot, num_nodes=nodes, broker_opts=options,
            exclusive=exclusive, conf=normalize_conf(conf), name=name, queue=queue,
            bank=bank, cwd=os.getcwd() if cwd is None else cwd, output=output,
            error=error, input=input, label_io=label_io, unbuffered=unbuffered,
        )
        if bg:
            jobspec.setattr_shell_option("pty.capture", 1)
        return jobspec.apply_options(
            prog="alloc", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []),
            **kwargs)

    @classmethod
    def from_batch(
        cls,
        script: Any = None,
        *,
        content: Optional[str] = None,
        nslots: Optional[int] = None,
        nodes: Optional[int] = None,
        cores_per_slot: int = 1,
        gpus_per_slot: Optional[int] = None,
        exclusive: bool = False,
        broker_opts: Optional[Sequence[str]] = None,
        conf: Any = None,
        wrap: bool = False,
        name: Optional[str] = None,
        queue: Optional[str] = None,
        bank: Optional[str] = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> "JobspecV1":
        """A batch job as ``flux batch`` builds it, from a ``script`` file
        or inline ``content`` (one of them; ``wrap`` adds ``#!/bin/sh``
        when there is no shebang).  Output goes to ``flux-{{id}}.out``
        unless ``output`` says otherwise; then apply_options()."""
        from flux_ctypes.job._utils import normalize_conf

        if script is not None and content is not None:
            raise TypeError("from_batch() accepts 'script' or 'content', not both")
        if script is None and content is None:
            raise TypeError(
                "from_batch() requires 'script' (file path) or 'content' (inline script)")
        if content is not None:
            text = content
        else:
            path = os.fspath(script)
            if name is None:
                name = os.path.basename(path)
            with open(path, encoding="utf-8") as infile:
                text = infile.read()
        if wrap and not text.startswith("#!"):
            text = "#!/bin/sh\n" + text
        if nslots is None:
            if nodes is not None:
                nslots, exclusive = nodes, True
            else:
                nslots = 1
        jobspec = cls.from_batch_command(
            text, "batch" if name is None else name, num_slots=nslots,
            cores_per_slot=cores_per_slot, gpus_per_slot=gpus_per_slot,
            num_nodes=nodes, broker_opts=broker_opts, exclusive=exclusive,
            conf=normalize_conf(conf), cwd=os.getcwd() if cwd is None else cwd,
            output="flux-{{id}}.out" if output is None else output, error=error,
            input=input, label_io=label_io, unbuffered=unbuffered, queue=queue, bank=bank,
        )
        return jobspec.apply_options(
            prog="batch", env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []),
            **kwargs)
