"""Job information as job-list (or flux_job_result()) reports it: the
JobInfo object, and the state/result names libflux-core gives."""

import json
import os
import pwd
import sys
import time
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional

from flux_ctypes.constants import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_STATE_PENDING,
    FLUX_JOB_STATE_RUNNING,
)
from flux_ctypes.lib import lib
from flux_ctypes.job._args import int_arg, text_arg
from flux_ctypes.job.JobID import JobID

__all__ = [
    "JobInfo",
    "ExceptionInfo",
    "AnnotationsInfo",
    "EmptyObject",
    "statetostr",
    "statetoemoji",
    "resulttostr",
    "resulttoemoji",
    "statustostr",
    "statustoemoji",
    "strtostate",
    "strtoresult",
    "get_username",
]


def statetostr(stateid: int, fmt: str = "L") -> str:
    """The name of job state ``stateid``: long ("RUN"), or with ``fmt="S"``
    the single letter ("R")."""
    text = lib.flux_job_statetostr(int_arg(stateid, "stateid"), text_arg(fmt, "fmt"))
    return (text or b"").decode("utf-8")


def resulttostr(resultid: Any, fmt: str = "L") -> str:
    """The name of job result ``resultid`` ("COMPLETED", or "CD" with
    ``fmt="S"``); "" for no result yet."""
    if resultid == "":
        return ""
    text = lib.flux_job_resulttostr(int_arg(resultid, "resultid"), text_arg(fmt, "fmt"))
    return (text or b"").decode("utf-8")


def strtostate(name: str) -> int:
    """The state number of a state name (long or single letter)."""
    import ctypes

    out = ctypes.c_int()
    try:
        lib.flux_job_strtostate(text_arg(name, "name"), ctypes.byref(out))
    except OSError:
        raise ValueError("{!r} is not a job state".format(name)) from None
    return out.value


def strtoresult(name: str) -> int:
    """The result number of a result name (long or abbreviated)."""
    import ctypes

    out = ctypes.c_int()
    try:
        lib.flux_job_strtoresult(text_arg(name, "name"), ctypes.byref(out))
    except OSError:
        raise ValueError("{!r} is not a job result".format(name)) from None
    return out.value


def _printable(emoji: str, fallback: str) -> str:
    try:
        emoji.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError, AttributeError):
        return fallback
    return emoji


_STATE_EMOJI = {
    "N": "\U0001f381", "D": "\U0001f6d1", "P": "\U0001f6a6", "S": "\U0001f4c5",
    "R": "\U0001f3c3", "C": "\U0001f5d1", "I": "\U0001f480",
}
_RESULT_EMOJI = {
    "CD": ("\U0001f600", ":-)"), "F": ("\U0001f4a9", ":'-("),
    "CA": ("\U0001f4a5", "%-|"), "TO": ("\u231b", "(-_-)"),
}


def statetoemoji(stateid: int) -> str:
    letter = statetostr(stateid, "S")
    return _printable(_STATE_EMOJI.get(letter, letter), letter)


def resulttoemoji(resultid: Any) -> str:
    if resultid == "":
        return _printable("\u3000", "")
    emoji, alt = _RESULT_EMOJI.get(resulttostr(resultid, "S"), ("", ""))
    return _printable(emoji, alt)


def _active(stateid: int) -> bool:
    return bool(stateid & (FLUX_JOB_STATE_PENDING | FLUX_JOB_STATE_RUNNING))


def statustostr(stateid: int, resultid: Any, fmt: str = "L") -> str:
    """The state name of an active job, the result name of an inactive one."""
    return statetostr(stateid, fmt) if _active(stateid) else resulttostr(resultid, fmt)


def statustoemoji(stateid: int, resultid: Any) -> str:
    return statetoemoji(stateid) if _active(stateid) else resulttoemoji(resultid)


def get_username(userid: int) -> str:
    """The user name of ``userid``, or the number as text if it has none."""
    try:
        return pwd.getpwuid(userid).pw_name
    except KeyError:
        return str(userid)


class ExceptionInfo:
    """A job's exception: ``occurred``, ``severity``, ``type``, ``note``
    ('' for each when job-list did not say)."""

    def __init__(self, occurred: Any, severity: Any, _type: Any, note: Any) -> None:
        self.occurred = occurred
        self.severity = severity
        self.type = _type
        self.note = note


class EmptyObject:
    """Stands for an unset value: any attribute of it is another one, and it
    formats as '' with any format spec."""

    def __getattr__(self, attr: str) -> "EmptyObject":
        if attr.startswith("__"):
            raise AttributeError(attr)
        return EmptyObject()

    def __repr__(self) -> str:
        return ""

    def __str__(self) -> str:
        return ""

    def __format__(self, spec: str) -> str:
        return "".__format__(spec.rstrip("bcdoxXeEfFgGn%"))


class AnnotationsInfo:
    """Job annotations with attribute access (``annotations.sched.reason``);
    a missing key is an EmptyObject."""

    def __init__(self, annotationsDict: Dict[str, Any]) -> None:
        self.annotationsDict = annotationsDict
        self._values = {
            key: AnnotationsInfo(value) if isinstance(value, dict) else value
            for key, value in annotationsDict.items()
        }

    def __repr__(self) -> str:
        return json.dumps(self.annotationsDict) if self.annotationsDict else ""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("annotationsDict", "_values"):
            raise AttributeError(attr)
        try:
            return self._values[attr]
        except KeyError:
            return EmptyObject()


class InfoList(list):  # type: ignore[type-arg]
    """A list shown as its items joined by commas."""

    def __str__(self) -> str:
        return ",".join(str(item) for item in self)


class DependencyList(InfoList):
    """Dependencies, with ``begin-time=T`` shown as ``begin@HH:MM``."""

    def __init__(self, items: Iterable[str]) -> None:
        shown = []
        for dep in items:
            if dep.startswith("begin-time="):
                stamp = float(dep.partition("=")[2])
                when = datetime.fromtimestamp(stamp).astimezone()
                if when.date() == datetime.today().date():
                    dep = "begin@{:%H:%M}".format(when)
                else:
                    dep = "begin@{:%b%d-%H:%M}".format(when)
                if when.second:
                    dep += ":{:%S}".format(when)
            shown.append(dep)
        super().__init__(shown)


class JobInfo:
    """One job as job-list describes it (or as much as flux_job_result()
    tells), with derived attributes computed when first read: ``state``
    and ``result`` names, ``status``, ``returncode``, ``runtime``,
    ``username``, ``exception`` (an ExceptionInfo), ``annotations``...

    An attribute the listing did not include and that has no default is
    AttributeError."""

    #: values for attributes job-list leaves out until they are known
    defaults = {
        "t_depend": 0.0,
        "t_priority": 0.0,
        "t_sched": 0.0,
        "t_run": 0.0,
        "t_cleanup": 0.0,
        "t_inactive": 0.0,
        "duration": 0.0,
        "expiration": 0.0,
        "name": "",
        "cwd": "",
        "queue": "",
        "project": "",
        "bank": "",
        "ntasks": "",
        "ncores": "",
        "nnodes": "",
        "priority": "",
        "ranks": "",
        "nodelist": "",
        "success": "",
        "result": "",
        "waitstatus": "",
    }  # type: Dict[str, Any]

    #: derived attributes that to_dict() includes
    properties = (
        "id", "t_submit", "t_remaining", "state", "result", "username", "userid",
        "urgency", "runtime", "status", "returncode", "dependencies",
    )

    def __init__(self, info_resp: Dict[str, Any]) -> None:
        values = dict(self.defaults)
        values.update(info_resp)
        values["id"] = JobID(values["id"])
        if "state" in values:
            values["state_id"] = values.pop("state")
        if "result" in values:
            values["result_id"] = values.pop("result")
        values["exception"] = ExceptionInfo(
            values.get("exception_occurred", ""),
            values.get("exception_severity", ""),
            values.get("exception_type", ""),
            values.get("exception_note", ""),
        )
        annotations = AnnotationsInfo(values.get("annotations", {}))
        values["annotations"] = annotations
        values["sched"] = annotations.sched
        values["user"] = annotations.user
        values["dependencies"] = DependencyList(values.get("dependencies", []))
        self._values = values

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        values = self.__dict__.get("_values", {})
        if attr in values:
            return values[attr]
        compute = _DERIVED.get(attr)
        if compute is None:
            raise AttributeError("invalid JobInfo attribute '{}'".format(attr))
        value = compute(self)
        if attr not in _UNCACHED:
            values[attr] = value
        return value

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr == "_values":
            object.__setattr__(self, attr, value)
        else:
            self._values[attr] = value

    def get_runtime(self) -> float:
        if self.t_cleanup > 0 and self.t_run > 0:
            return float(self.t_cleanup - self.t_run)
        if self.t_run > 0:
            return time.time() - float(self.t_run)
        return 0.0

    def get_remaining_time(self) -> float:
        try:
            if str(self.status) != "RUN":
                return 0.0
            left = float(self.expiration) - time.time()
        except (KeyError, AttributeError, TypeError, ValueError):
            return 0.0
        return max(left, 0.0)

    def to_dict(self, filtered: bool = True) -> Dict[str, Any]:
        """The job as a dict.  By default unset values ('' and zero
        timestamps) are left out; ``filtered=False`` keeps them."""
        result = {}  # type: Dict[str, Any]
        for attr in list(self.defaults) + list(self.properties):
            try:
                value = getattr(self, attr)
            except AttributeError:
                continue
            if value is not None:
                result[attr] = value
        result["jobid"] = self.id.f58
        result["annotations"] = self.annotations.annotationsDict
        result["exception"] = dict(self.exception.__dict__)
        uri = self.uri
        if uri is not None:
            result["uri"] = str(uri)
        if not filtered:
            return result
        for key in list(result):
            value = result[key]
            zero_unset = key.startswith("t_") or key in ("runtime", "expiration")
            if value == "" or (zero_unset and value == 0):
                del result[key]
        if not result["exception"].get("occurred"):
            result["exception"] = {"occurred": False}
        if uri is not None:
            user = dict(result["annotations"].get("user", {}))
            user.pop("uri", None)
            result["annotations"] = dict(result["annotations"])
            if user:
                result["annotations"]["user"] = user
            else:
                result["annotations"].pop("user", None)
        return result


def _returncode(info: JobInfo) -> Any:
    # the highest task exit code, minus the signal number if killed;
    # for jobs that never ran: -128 when canceled, 1 when failed
    status = info.waitstatus
    if not isinstance(status, int):
        if info.result_id == FLUX_JOB_RESULT_CANCELED:
            return -128
        if info.result_id == FLUX_JOB_RESULT_FAILED:
            return 1
        return ""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return ""


def _uri(info: JobInfo) -> Optional[str]:
    text = str(info.user.uri)
    return text or None


def _contextual_info(info: JobInfo) -> Any:
    state = str(info.state)
    if state == "PRIORITY":
        return "priority-wait"
    if state == "DEPEND":
        return "depends:{}".format(info.dependencies)
    if state == "SCHED":
        estimate = info.sched.t_estimate
        if isinstance(estimate, (int, float)):
            eta = estimate - time.time()
            return "eta:{}".format("now" if eta < 0 else _fsd(eta))
        if info.urgency == 0:
            return "held"
        if info.priority == 0:
            return "priority-hold"
        return ""
    return info.nodelist


def _fsd(seconds: float) -> str:
    from flux_ctypes.job.Jobspec import fsd

    return fsd(seconds)


def _inactive_reason(info: JobInfo) -> str:
    if str(info.state) != "INACTIVE":
        return ""
    result = str(info.result)
    exc = info.exception
    if result == "CANCELED":
        if exc.occurred and exc.type == "cancel" and exc.note:
            return "Canceled: {}".format(exc.note)
        return "Canceled"
    if result == "FAILED":
        if exc.occurred and exc.type != "exec" and exc.severity == 0:
            note = " note={}".format(exc.note) if exc.note else ""
            return "Exception: type={}{}".format(exc.type, note)
        code = info.returncode
        if code > 128:
            import signal

            strsignal = getattr(signal, "strsignal", None)  # Python 3.8+
            try:
                text = strsignal(code - 128) if strsignal else None
            except ValueError:
                text = None
            return text or "Signaled {}".format(code - 128)
        if code == 126:
            return "Command invoked cannot execute"
        if code == 127:
            return "command not found"
        if code == 128:
            return "Invalid argument to exit"
        return "Exit {}".format(code)
    if result == "TIMEOUT":
        return "Timeout"
    return "Exit {}".format(info.returncode)


_DERIVED = {
    "t_remaining": JobInfo.get_remaining_time,
    "runtime": JobInfo.get_runtime,
    "state": lambda info: statetostr(info.state_id),
    "state_single": lambda info: statetostr(info.state_id, "S"),
    "state_emoji": lambda info: statetoemoji(info.state_id),
    "result": lambda info: resulttostr(info.result_id),
    "result_abbrev": lambda info: resulttostr(info.result_id, "S"),
    "result_emoji": lambda info: resulttoemoji(info.result_id),
    "username": lambda info: get_username(info.userid),
    "status": lambda info: statustostr(info.state_id, info.result_id),
    "status_abbrev": lambda info: statustostr(info.state_id, info.result_id, "S"),
    "status_emoji": lambda info: statustoemoji(info.state_id, info.result_id),
    "returncode": _returncode,
    "uri": _uri,
    "contextual_info": _contextual_info,
    "contextual_time": lambda info: (
        info.duration if str(info.state) in ("PRIORITY", "DEPEND", "SCHED")
        else info.runtime),
    "inactive_reason": _inactive_reason,
}  # type: Dict[str, Any]

# time-dependent: computed at every read
_UNCACHED = frozenset(("t_remaining",))


def job_fields_to_attrs(fields: Iterable[str]) -> List[str]:
    """The job-list attributes needed to show output ``fields``."""
    needs = {
        "userid": ("userid",), "username": ("userid",), "urgency": ("urgency",),
        "priority": ("priority",), "state": ("state",), "state_single": ("state",),
        "state_emoji": ("state",), "name": ("name",), "cwd": ("cwd",),
        "queue": ("queue",), "project": ("project",), "bank": ("bank",),
        "ntasks": ("ntasks",), "ncores": ("ncores",), "duration": ("duration",),
        "nnodes": ("nnodes",), "ranks": ("ranks",), "nodelist": ("nodelist",),
        "success": ("success",), "waitstatus": ("waitstatus",),
        "returncode": ("waitstatus", "result"),
        "result": ("result",), "result_abbrev": ("result",), "result_emoji": ("result",),
        "runtime": ("t_run", "t_cleanup"), "status": ("state", "result"),
        "status_abbrev": ("state", "result"), "status_emoji": ("state", "result"),
        "expiration": ("expiration", "state", "result"),
        "t_remaining": ("expiration", "state", "result"),
        "annotations": ("annotations",), "dependencies": ("dependencies",),
        "contextual_info": ("state", "dependencies", "annotations", "nodelist",
                            "priority", "urgency"),
        "contextual_time": ("state", "t_run", "t_cleanup", "duration"),
        "inactive_reason": ("state", "result", "waitstatus", "exception_occurred",
                            "exception_severity", "exception_type", "exception_note"),
        "sched": ("annotations",), "user": ("annotations",), "uri": ("annotations",),
        "uri.local": ("annotations",),
    }
    attrs = set()
    for field in fields:
        if field == "id" or field.startswith("id."):
            continue
        if field.startswith(("annotations.", "sched.", "user.")):
            attrs.add("annotations")
        elif field.startswith("instance."):
            attrs.update(("annotations", "state", "result"))
        elif field.startswith("exception."):
            attrs.add("exception_" + field[len("exception."):])
        elif field.startswith("t_"):
            attrs.add(field)
        else:
            try:
                attrs.update(needs[field])
            except KeyError:
                raise ValueError("unknown job field {!r}".format(field)) from None
    return sorted(attrs)
