"""Helpers for the job tests: unique job names, and waiting for a job's
end through its eventlog (never by sleeping)."""

import itertools
import os

_seq = itertools.count()


def unique(prefix="t"):
    """A job name no other test uses."""
    return "{}-{}-{}".format(prefix, os.getpid(), next(_seq))


def inactive_info(handle, jobid):
    """job-list's record of ``jobid`` once it is inactive: list-id waits
    for the state asked for, so no polling is needed."""
    from flux_ctypes.constants import FLUX_JOB_STATE_INACTIVE
    from flux_ctypes.job.list import JobListIdRPC

    rpc = JobListIdRPC(handle, "job-list.list-id",
                       {"id": int(jobid), "attrs": ["all"],
                        "state": FLUX_JOB_STATE_INACTIVE})
    return rpc.get_jobinfo()

