"""Looking up a job's KVS data (jobspec, R, eventlog...) through the
job-info service."""

import ctypes
import errno
import json
from ctypes import byref
from typing import Any, Dict, Iterable, List, Optional

from flux_ctypes.constants import FLUX_JOB_LOOKUP_CURRENT
from flux_ctypes.future import WaitAllFuture
from flux_ctypes.lib import flux_error_t, lib
from flux_ctypes.job._args import JobRPC
from flux_ctypes.job.JobID import JobID
from flux_ctypes.util import listed

__all__ = [
    "JobInfoLookupRPC",
    "JobKVSLookup",
    "JobKVSLookupFuture",
    "job_info_lookup",
    "job_kvs_lookup",
    "decode_special_data",
]

_libc = None  # type: Any


def _free(address: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None)
        _libc.free.argtypes = [ctypes.c_void_p]
        _libc.free.restype = None
    _libc.free(address)


def _decode_field(data: Dict[str, Any], key: str) -> None:
    try:
        data[key] = json.loads(data[key])
    except (ValueError, TypeError):
        pass  # not JSON text: left as it is


def decode_special_data(data: Dict[str, Any]) -> None:
    """Turn the JSON text of ``jobspec`` and ``R`` in a lookup answer into
    Python objects, in place."""
    for key in ("jobspec", "R"):
        if key in data:
            _decode_field(data, key)


class JobInfoLookupRPC(JobRPC):
    """A job-info.lookup request; get_decode() decodes jobspec and R."""

    def get_decode(self) -> Dict[str, Any]:
        data = self.get()
        decode_special_data(data)
        return data  # type: ignore[no-any-return]


def job_info_lookup(flux_handle: Any, jobid: Any, keys: Iterable[str] = ("jobspec",),
                    flags: int = 0) -> JobInfoLookupRPC:
    """Ask job-info for ``keys`` of job ``jobid``'s KVS directory; with
    ``flags=FLUX_JOB_LOOKUP_CURRENT`` jobspec and R include the updates
    made by eventlog events."""
    number = JobID(jobid)
    rpc = JobInfoLookupRPC(flux_handle, "job-info.lookup",
                           {"id": int(number), "keys": listed(keys, "keys"), "flags": int(flags)})
    rpc.jobid = number
    return rpc


def _original_jobspec(signed: str) -> str:
    error = flux_error_t()
    try:
        pointer = lib.flux_unwrap_string(signed.encode("utf-8"), False, None, byref(error))
    except OSError as exc:
        text = error.text.decode("utf-8", "replace")
        raise OSError(exc.errno, text or "could not unwrap J") from None
    address = ctypes.cast(pointer, ctypes.c_void_p).value or 0
    try:
        return ctypes.string_at(address).decode("utf-8")
    finally:
        _free(address)


def _lookup_keys(keys: Iterable[str], original: bool) -> List[str]:
    # the original jobspec is read from the signed J
    wanted = listed(keys, "keys")
    if original and "jobspec" in wanted:
        wanted.remove("jobspec")
        if "J" not in wanted:
            wanted.append("J")
    return wanted


def _finish(data: Dict[str, Any], keys: List[str], decode: bool, original: bool) -> None:
    if original and "jobspec" in keys:
        data["jobspec"] = _original_jobspec(data["J"])
        if decode:
            _decode_field(data, "jobspec")
        if "J" not in keys:
            data.pop("J")


def job_kvs_lookup(
    flux_handle: Any, jobid: Any, keys: Iterable[str] = ("jobspec",), decode: bool = True,
    original: bool = False, base: bool = False,
) -> Optional[Dict[str, Any]]:
    """``keys`` of job ``jobid`` (None if there is no such job): jobspec and
    R as current (updates applied) unless ``base``, decoded into objects
    unless ``decode`` is False; ``original`` gives the jobspec as submitted."""
    keys = listed(keys, "keys")
    flags = 0 if base else FLUX_JOB_LOOKUP_CURRENT
    rpc = job_info_lookup(flux_handle, jobid, _lookup_keys(keys, original), flags)
    try:
        data = rpc.get_decode() if decode else rpc.get()
    except FileNotFoundError:
        return None
    _finish(data, keys, decode, original)
    return data


class JobKVSLookupFuture(WaitAllFuture):
    """Lookups of several jobs; failures are described in ``errors``."""

    def __init__(self) -> None:
        super().__init__()
        self.errors = []  # type: List[str]

    def _collect(self, decode: bool) -> List[Dict[str, Any]]:
        self.wait_for()
        answers = []
        for child in self.children:
            try:
                answers.append(child.get_decode() if decode else child.get())  # type: ignore[attr-defined]
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    self.errors.append("JobID {} unknown".format(
                        child.jobid.orig))  # type: ignore[attr-defined]
                else:
                    self.errors.append("rpc: {}".format(exc.strerror))
        return answers

    def get(self) -> List[Dict[str, Any]]:
        return self._collect(False)

    def get_decode(self) -> List[Dict[str, Any]]:
        return self._collect(True)


class JobKVSLookup:
    """KVS data of several jobs (``ids``), as job_kvs_lookup() gives it for
    one; data() returns the answers, ``errors`` the failures."""

    def __init__(self, flux_handle: Any, ids: Iterable[Any] = (),
                 keys: Iterable[str] = ("jobspec",), decode: bool = True,
                 original: bool = False, base: bool = False) -> None:
        self.handle = flux_handle
        self.keys = listed(keys, "keys")
        self.keyslookup = _lookup_keys(self.keys, original)
        if isinstance(ids, (str, bytes, bytearray)):
            # iterated, text is characters and bytes small ints: each a
            # lookup of a job that is not the one meant
            raise TypeError("ids must be an iterable of job IDs, not {} (for one job: "
                            "[jobid])".format(type(ids).__name__))
        self.ids = [JobID(jobid) for jobid in listed(ids, "ids")]
        self.decode = decode
        self.original = original
        self.base = base
        self.errors = []  # type: List[str]

    def fetch_data(self) -> JobKVSLookupFuture:
        """Send the lookups; the returned future is fulfilled with all."""
        flags = 0 if self.base else FLUX_JOB_LOOKUP_CURRENT
        combined = JobKVSLookupFuture()
        for jobid in self.ids:
            combined.push(job_info_lookup(self.handle, jobid, self.keyslookup, flags))
        return combined

    def data(self) -> List[Dict[str, Any]]:
        """Every job's data (blocks)."""
        future = self.fetch_data()
        answers = future.get_decode() if self.decode else future.get()
        self.errors = future.errors
        for data in answers:
            _finish(data, self.keys, self.decode, self.original)
        return answers
