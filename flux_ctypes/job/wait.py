"""Waiting for jobs: flux_job_wait() for waitable jobs, flux_job_result()
for any job, as often as one likes."""

import json
from collections import namedtuple
from ctypes import byref, c_bool, c_char_p, c_uint64
from typing import Any, Dict, Optional

from flux_ctypes.constants import FLUX_JOBID_ANY
from flux_ctypes.future import Future
from flux_ctypes.lib import lib
from flux_ctypes.job._args import flux_handle_arg, int_arg, raise_future_error
from flux_ctypes.job.info import JobInfo
from flux_ctypes.job.JobID import jobid_arg

__all__ = [
    "JobWaitFuture",
    "JobWaitResult",
    "JobResultFuture",
    "wait_async",
    "wait",
    "wait_get_status",
    "result_async",
    "result",
]

#: What wait() gives: the job's ID, whether it succeeded, and if not why
#: (bytes, as the official bindings give it).
JobWaitResult = namedtuple("JobWaitResult", "jobid, success, errstr")


class JobWaitFuture(Future):
    """The future of wait_async()."""

    _sliced = True

    def get_status(self) -> JobWaitResult:
        return wait_get_status(self)


def wait_async(flux_handle: Any, jobid: Any = FLUX_JOBID_ANY) -> JobWaitFuture:
    """Wait for waitable job ``jobid`` (default: any waitable job) to end;
    returns at once.  A job can be waited for once."""
    hptr = flux_handle_arg(flux_handle)
    return JobWaitFuture(lib.flux_job_wait(hptr, jobid_arg(jobid)), keepalive=flux_handle,
                         fresh=True)


def wait_get_status(future: Any) -> JobWaitResult:
    """Wait for a wait_async() future and decode it.  No such waitable job
    (or none left, ECHILD) is OSError with the job manager's text."""
    if future is None:
        import errno

        raise OSError(errno.EINVAL, "future must not be None")
    future.wait_for()
    success = c_bool()
    errstr = c_char_p()
    jobid = c_uint64()
    try:
        lib.flux_job_wait_get_id(future.handle, byref(jobid))
        lib.flux_job_wait_get_status(future.handle, byref(success), byref(errstr))
    except OSError as exc:
        raise_future_error(future, exc)
    return JobWaitResult(int(jobid.value), bool(success.value), errstr.value or b"")


def wait(flux_handle: Any, jobid: Any = FLUX_JOBID_ANY) -> JobWaitResult:
    """Block until waitable job ``jobid`` (default: any) ends."""
    return wait_async(flux_handle, jobid).get_status()


class JobResultFuture(Future):
    """The future of result_async(): the job's result once it is inactive."""

    jobid = None  # type: Any

    def get_dict(self) -> Optional[Dict[str, Any]]:
        """The result object flux_job_result() gives, as a dict."""
        self.wait_for()
        out = c_char_p()
        try:
            lib.flux_job_result_get(self.handle, byref(out))
        except OSError as exc:
            raise_future_error(self, exc, self.jobid)
        if out.value is None:
            return None
        return json.loads(out.value.decode("utf-8", "surrogateescape"))  # type: ignore[no-any-return]

    def get_info(self) -> JobInfo:
        """The result as a JobInfo (id, result, t_submit/t_run/t_cleanup,
        waitstatus, returncode, runtime, exception)."""
        return JobInfo(self.get_dict() or {})

    def get(self) -> Optional[Dict[str, Any]]:
        return self.get_dict()


def result_async(flux_handle: Any, jobid: Any, flags: int = 0) -> JobResultFuture:
    """The result of job ``jobid`` (any job, waitable or not, active or
    inactive), from its eventlog; returns at once."""
    hptr = flux_handle_arg(flux_handle)
    number = jobid_arg(jobid)
    ptr = lib.flux_job_result(hptr, number, int_arg(flags, "flags"))
    future = JobResultFuture(ptr, keepalive=flux_handle, fresh=True)
    future.jobid = number
    return future


def result(flux_handle: Any, jobid: Any, flags: int = 0) -> JobInfo:
    """Block until job ``jobid`` is inactive; its result as a JobInfo."""
    return result_async(flux_handle, jobid, flags).get_info()
