"""Signalling, cancelling and raising exceptions on jobs."""

import signal
from typing import Any, Optional

from flux_ctypes.future import Future
from flux_ctypes.lib import lib
from flux_ctypes.job._args import flux_handle_arg, int_arg, text_arg
from flux_ctypes.job.JobID import jobid_arg

__all__ = [
    "kill_async", "kill", "cancel_async", "cancel", "job_raise_async", "job_raise",
]


class _JobRPCFuture(Future):
    _sliced = True  # an RPC to the job manager underneath


def kill_async(flux_handle: Any, jobid: Any, signum: Optional[int] = None) -> Future:
    """Send ``signum`` (default SIGTERM) to the tasks of running job
    ``jobid``; the future is fulfilled once it is delivered."""
    hptr = flux_handle_arg(flux_handle)
    number = jobid_arg(jobid)
    if not signum:
        signum = signal.SIGTERM
    ptr = lib.flux_job_kill(hptr, number, int_arg(signum, "signum", 1, 64))
    return _JobRPCFuture(ptr, keepalive=flux_handle, fresh=True)


def kill(flux_handle: Any, jobid: Any, signum: Optional[int] = None) -> None:
    """Send ``signum`` (default SIGTERM) to a running job and wait."""
    kill_async(flux_handle, jobid, signum).get()


def cancel_async(flux_handle: Any, jobid: Any, reason: Optional[str] = None) -> Future:
    """Cancel job ``jobid`` (pending or running), with an optional reason."""
    hptr = flux_handle_arg(flux_handle)
    number = jobid_arg(jobid)
    why = text_arg(reason, "reason") if reason else None
    return _JobRPCFuture(lib.flux_job_cancel(hptr, number, why), keepalive=flux_handle,
                         fresh=True)


def cancel(flux_handle: Any, jobid: Any, reason: Optional[str] = None) -> None:
    """Cancel job ``jobid`` and wait for the job manager to accept it."""
    cancel_async(flux_handle, jobid, reason).get()


def job_raise_async(
    flux_handle: Any, jobid: Any, exc_type: str, severity: int = 0,
    note: Optional[str] = None,
) -> Future:
    """Raise an exception of type ``exc_type`` on job ``jobid``; severity 0
    ends the job."""
    hptr = flux_handle_arg(flux_handle)
    number = jobid_arg(jobid)
    kind = text_arg(exc_type, "exc_type")
    text = text_arg(note, "note") if note else None
    ptr = lib.flux_job_raise(hptr, number, kind, int_arg(severity, "severity", 0, 7), text)
    return _JobRPCFuture(ptr, keepalive=flux_handle, fresh=True)


def job_raise(
    flux_handle: Any, jobid: Any, exc_type: str, severity: int = 0,
    note: Optional[str] = None,
) -> None:
    """Raise a job exception and wait for the job manager to accept it."""
    job_raise_async(flux_handle, jobid, exc_type, severity, note).get()
