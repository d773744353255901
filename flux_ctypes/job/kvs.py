"""KVS paths of a job: its directory, and the guest directory of its
owner (``job_kvs``, ``job_kvs_guest`` give KVSDir objects when the KVS
service module, flux_ctypes.kvs, is present)."""

import ctypes
import importlib
from typing import Any, Optional

from flux_ctypes.lib import lib
from flux_ctypes.job._args import text_arg
from flux_ctypes.job.JobID import jobid_arg

__all__ = ["job_kvs_key", "job_kvs_guest_key", "job_kvs", "job_kvs_guest"]

_PATH_MAX = 1024


def _key(func: Any, jobid: Any, key: Optional[str]) -> str:
    buf = ctypes.create_string_buffer(_PATH_MAX)
    func(buf, _PATH_MAX, jobid_arg(jobid), None if key is None else text_arg(key, "key"))
    return buf.value.decode("utf-8")


def job_kvs_key(jobid: Any, key: Optional[str] = None) -> str:
    """KVS path of ``key`` in job ``jobid``'s directory (of the directory
    itself when ``key`` is None)."""
    return _key(lib.flux_job_kvs_key, jobid, key)


def job_kvs_guest_key(jobid: Any, key: Optional[str] = None) -> str:
    """KVS path of ``key`` in job ``jobid``'s guest directory."""
    return _key(lib.flux_job_kvs_guest_key, jobid, key)


def _get_dir(flux_handle: Any, path: str) -> Any:
    try:
        kvs = importlib.import_module("flux_ctypes.kvs")
    except ImportError:
        raise ImportError(
            "job_kvs() needs flux_ctypes.kvs, which this copy of flux_ctypes "
            "lacks; job_kvs_key() gives the path") from None
    return kvs.get_dir(flux_handle, path)


def job_kvs(flux_handle: Any, jobid: Any) -> Any:
    """The KVSDir of job ``jobid``."""
    return _get_dir(flux_handle, job_kvs_key(jobid, ""))


def job_kvs_guest(flux_handle: Any, jobid: Any) -> Any:
    """The KVSDir of job ``jobid``'s guest namespace."""
    return _get_dir(flux_handle, job_kvs_guest_key(jobid, ""))
