"""Flux jobs: job IDs, jobspecs, submitting, waiting, signalling, eventlogs,
listings, an executor, and the job manager journal.

Mirrors the official ``flux.job`` package (module names included), so
``python -m flux_ctypes.compat`` can answer ``import flux.job`` with it.
"""

from types import SimpleNamespace

from flux_ctypes.job._utils import BatchConfig
from flux_ctypes.job.event import (
    MAIN_EVENTS,
    EventLogEvent,
    JobEventWatchFuture,
    JobException,
    event_wait,
    event_watch,
    event_watch_async,
)
from flux_ctypes.job.executor import FluxExecutor, FluxExecutorFuture
from flux_ctypes.job.info import JobInfo, job_fields_to_attrs
from flux_ctypes.job.JobID import JobID, id_encode, id_parse
from flux_ctypes.job.Jobspec import Jobspec, JobspecV1, validate_jobspec
from flux_ctypes.job.journal import JournalConsumer
from flux_ctypes.job.kill import (
    cancel,
    cancel_async,
    job_raise,
    job_raise_async,
    kill,
    kill_async,
)
from flux_ctypes.job.kvs import job_kvs, job_kvs_guest
from flux_ctypes.job.kvslookup import JobKVSLookup, job_info_lookup, job_kvs_lookup
from flux_ctypes.job.list import JobList, get_job, job_list, job_list_id, job_list_inactive
from flux_ctypes.job.output import (
    job_output,
    output_event_watch,
    output_event_watch_async,
    output_watch,
    output_watch_async,
    output_watch_lines,
    output_watch_lines_async,
)
from flux_ctypes.job.submit import submit, submit_async, submit_get_id
from flux_ctypes.job.timeleft import timeleft
from flux_ctypes.job.wait import result, result_async, wait, wait_async, wait_get_status

#: Stands in for the official package's cffi ``ffi`` object for code that
#: passes ``ffi.NULL`` where a handle or jobspec is expected: here it is
#: None, which the job functions refuse with OSError(EINVAL) as C does.
ffi = SimpleNamespace(NULL=None)

__all__ = [
    "BatchConfig",
    "EventLogEvent",
    "FluxExecutor",
    "FluxExecutorFuture",
    "JobEventWatchFuture",
    "JobException",
    "JobID",
    "JobInfo",
    "JobKVSLookup",
    "JobList",
    "Jobspec",
    "JobspecV1",
    "JournalConsumer",
    "MAIN_EVENTS",
    "cancel",
    "cancel_async",
    "event_wait",
    "event_watch",
    "event_watch_async",
    "get_job",
    "id_encode",
    "id_parse",
    "job_fields_to_attrs",
    "job_info_lookup",
    "job_kvs",
    "job_kvs_guest",
    "job_kvs_lookup",
    "job_list",
    "job_list_id",
    "job_list_inactive",
    "job_output",
    "job_raise",
    "job_raise_async",
    "kill",
    "kill_async",
    "output_event_watch",
    "output_event_watch_async",
    "output_watch",
    "output_watch_async",
    "output_watch_lines",
    "output_watch_lines_async",
    "result",
    "result_async",
    "submit",
    "submit_async",
    "submit_get_id",
    "timeleft",
    "validate_jobspec",
    "wait",
    "wait_async",
    "wait_get_status",
]
