"""Submitting jobs: flux_job_submit() and the job ID it answers with."""

import errno
import json
from ctypes import byref, c_uint64
from typing import Any

from flux_ctypes.constants import (
    FLUX_JOB_DEBUG,
    FLUX_JOB_NOVALIDATE,
    FLUX_JOB_PRE_SIGNED,
    FLUX_JOB_URGENCY_DEFAULT,
    FLUX_JOB_WAITABLE,
)
from flux_ctypes.future import Future
from flux_ctypes.lib import lib
from flux_ctypes.util import encode_text
from flux_ctypes.job._args import flux_handle_arg, int_arg, raise_future_error
from flux_ctypes.job.JobID import JobID
from flux_ctypes.job.Jobspec import Jobspec

__all__ = ["SubmitFuture", "submit_async", "submit", "submit_get_id"]


class SubmitFuture(Future):
    """The future of a submission; get_id() gives the new job's ID."""

    _sliced = True  # an RPC underneath: blocking waits stay interruptible

    def get_id(self) -> JobID:
        return submit_get_id(self)


def _jobspec_bytes(jobspec: Any) -> bytes:
    if jobspec is None:
        raise OSError(errno.EINVAL, "jobspec must not be None")
    # C reads the jobspec up to a NUL: one inside would submit a prefix
    # silently, so it is refused, as a lone surrogate (no UTF-8 form) is
    if isinstance(jobspec, Jobspec):
        return encode_text(jobspec.dumps(), "jobspec")
    if isinstance(jobspec, (str, bytes)):
        return encode_text(jobspec, "jobspec")
    if isinstance(jobspec, dict):
        return encode_text(json.dumps(jobspec, ensure_ascii=False), "jobspec")
    raise TypeError("jobspec must be a Jobspec, str, bytes or dict, not {}".format(
        type(jobspec).__name__))


def submit_async(
    flux_handle: Any,
    jobspec: Any,
    urgency: int = FLUX_JOB_URGENCY_DEFAULT,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> SubmitFuture:
    """Submit ``jobspec`` (a Jobspec, its JSON or YAML-free JSON text, or a
    signed J when ``pre_signed``) and return at once; the future's
    get_id() waits for the job ID.

    ``urgency`` is 0 (held) to 31 (expedite); below 16, ``waitable`` and
    ``novalidate`` are for the instance owner.  ``debug`` adds job manager
    debug events to the eventlog."""
    hptr = flux_handle_arg(flux_handle)
    data = _jobspec_bytes(jobspec)
    flags = 0
    if waitable:
        flags |= FLUX_JOB_WAITABLE
    if debug:
        flags |= FLUX_JOB_DEBUG
    if pre_signed:
        flags |= FLUX_JOB_PRE_SIGNED
    if novalidate:
        flags |= FLUX_JOB_NOVALIDATE
    ptr = lib.flux_job_submit(hptr, data, int_arg(urgency, "urgency"), flags)
    return SubmitFuture(ptr, keepalive=flux_handle, fresh=True)


def submit_get_id(future: Any) -> JobID:
    """The job ID a submit_async() future was fulfilled with (waits).
    A rejected submission is OSError with the job manager's reason."""
    if future is None:
        raise OSError(errno.EINVAL, "future must not be None")
    if not isinstance(future, Future):
        raise TypeError("future must be the Future of submit_async(), not {}".format(
            type(future).__name__))
    future.wait_for()
    out = c_uint64()
    try:
        lib.flux_job_submit_get_id(future.handle, byref(out))
    except OSError as exc:
        raise_future_error(future, exc)
    return JobID(out.value)


def submit(
    flux_handle: Any,
    jobspec: Any,
    urgency: int = FLUX_JOB_URGENCY_DEFAULT,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> JobID:
    """Submit ``jobspec`` and wait for its job ID (see submit_async())."""
    return submit_async(
        flux_handle, jobspec, urgency, waitable, debug, pre_signed, novalidate
    ).get_id()
