"""Listing jobs through the job-list service (RFC 43 constraints)."""

import errno
import os
import pwd
from typing import Any, Dict, Iterator, List, Optional

from flux_ctypes.constants import (
    FLUX_JOB_RESULT_CANCELED,
    FLUX_JOB_RESULT_COMPLETED,
    FLUX_JOB_RESULT_FAILED,
    FLUX_JOB_RESULT_TIMEOUT,
    FLUX_JOB_STATE_ACTIVE,
    FLUX_JOB_STATE_CLEANUP,
    FLUX_JOB_STATE_DEPEND,
    FLUX_JOB_STATE_INACTIVE,
    FLUX_JOB_STATE_PENDING,
    FLUX_JOB_STATE_PRIORITY,
    FLUX_JOB_STATE_RUN,
    FLUX_JOB_STATE_RUNNING,
    FLUX_JOB_STATE_SCHED,
    FLUX_RPC_STREAMING,
    FLUX_USERID_UNKNOWN,
)
from flux_ctypes.future import WaitAllFuture
from flux_ctypes.job.info import JobInfo
from flux_ctypes.job._args import JobRPC
from flux_ctypes.job.JobID import JobID
from flux_ctypes.rpc import RPC
from flux_ctypes.util import listed

__all__ = [
    "JobListRPC",
    "JobListIdRPC",
    "JobListIdsFuture",
    "JobList",
    "job_list",
    "job_list_inactive",
    "job_list_id",
    "get_job",
]


class JobListRPC(RPC):
    """A job-list.list request; the service streams the jobs back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["flags"] = kwargs.get("flags", 0) | FLUX_RPC_STREAMING
        super().__init__(*args, **kwargs)

    def get_jobs(self) -> List[Dict[str, Any]]:
        """Every job of the listing, as dicts (blocks until the end)."""
        jobs = []  # type: List[Dict[str, Any]]
        first = True
        while True:
            try:
                resp = self.get()
            except OSError as exc:
                if exc.errno == errno.ENODATA:
                    break
                raise
            jobs.extend(resp["jobs"])
            # a service that does not stream (version 0) answers once
            if first and not resp.get("version"):
                break
            first = False
            self.reset()
        return jobs

    def get_jobinfos(self) -> Iterator[JobInfo]:
        """Every job of the listing as a JobInfo."""
        for job in self.get_jobs():
            yield JobInfo(job)


def job_list(
    flux_handle: Any,
    max_entries: int = 1000,
    attrs: Any = ("all",),
    userid: Any = None,
    states: int = 0,
    results: int = 0,
    since: float = 0.0,
    name: Optional[str] = None,
    queue: Any = None,
    constraint: Optional[Dict[str, Any]] = None,
) -> JobListRPC:
    """List up to ``max_entries`` jobs (0: all) of ``userid`` (default: the
    caller; FLUX_USERID_UNKNOWN: everyone), newest first, restricted to
    the ``states`` and ``results`` masks, jobs inactive since ``since``,
    a job ``name``, a ``queue`` (or list of queues), and an RFC 43
    ``constraint``, all of which must hold."""
    if userid is None:
        userid = os.getuid()
    terms = [constraint] if constraint is not None else []  # type: List[Any]
    if userid != FLUX_USERID_UNKNOWN:
        terms.append({"userid": [int(userid)]})
    if name:
        terms.append({"name": [name]})
    if queue:
        if isinstance(queue, str):
            queue = [queue]
        try:
            terms.append({"queue": listed(queue, "queue")})
        except TypeError:
            raise ValueError("queue parameter must be a string or iterable") from None
    if states and results:
        terms.append({"or": [{"states": [states]}, {"results": [results]}]})
    elif states:
        terms.append({"states": [states]})
    elif results:
        terms.append({"results": [results]})
    if isinstance(attrs, str):
        attrs = [attrs]
    try:
        since = float(since)
    except UnicodeError:  # PyPy's float() of a lone surrogate (and unprintable)
        raise ValueError("since must be a number, not {!r}".format(since)) from None
    payload = {
        "max_entries": int(max_entries),
        "attrs": listed(attrs, "attrs"),
        "since": since,
        "constraint": {"and": terms},
    }
    return JobListRPC(flux_handle, "job-list.list", payload)


def job_list_inactive(
    flux_handle: Any,
    since: float = 0.0,
    max_entries: int = 1000,
    attrs: Any = ("all",),
    name: Optional[str] = None,
    queue: Any = None,
    constraint: Optional[Dict[str, Any]] = None,
) -> JobListRPC:
    """job_list() of every user's inactive jobs."""
    return job_list(
        flux_handle, max_entries=max_entries, attrs=attrs, userid=FLUX_USERID_UNKNOWN,
        states=FLUX_JOB_STATE_INACTIVE, since=since, name=name, queue=queue,
        constraint=constraint,
    )


class JobListIdRPC(JobRPC):
    """A job-list.list-id request for one job."""

    def get_job(self) -> Dict[str, Any]:
        return self.get()["job"]  # type: ignore[no-any-return]

    def get_jobinfo(self) -> JobInfo:
        return JobInfo(self.get_job())


def job_list_id(flux_handle: Any, jobid: Any, attrs: Any = ("all",)) -> JobListIdRPC:
    """Ask job-list about job ``jobid`` (it waits until job-list knows the
    job); an unknown job is FileNotFoundError on get_job()."""
    if isinstance(attrs, str):
        attrs = [attrs]
    number = JobID(jobid)
    rpc = JobListIdRPC(flux_handle, "job-list.list-id",
                       {"id": int(number), "attrs": listed(attrs, "attrs")})
    rpc.jobid = number
    return rpc


def get_job(flux_handle: Any, jobid: Any) -> Optional[Dict[str, Any]]:
    """Everything job-list knows about job ``jobid`` as a dict (unset values
    included), or None when there is no such job."""
    try:
        info = job_list_id(flux_handle, jobid).get_jobinfo()
    except FileNotFoundError:
        return None
    return info.to_dict(filtered=False)


class JobListIdsFuture(WaitAllFuture):
    """job_list_id() of several jobs, answered as a JobListRPC is; the
    jobs that could not be listed are described in ``errors``."""

    def __init__(self) -> None:
        super().__init__()
        self.errors = []  # type: List[str]

    def get_jobs(self) -> List[Dict[str, Any]]:
        self.wait_for()
        jobs = []
        for child in self.children:
            try:
                jobs.append(child.get_job())  # type: ignore[attr-defined]
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    self.errors.append("JobID {} unknown".format(
                        child.jobid.orig))  # type: ignore[attr-defined]
                else:
                    self.errors.append("rpc: {}".format(exc.strerror))
        return jobs

    def get_jobinfos(self) -> List[JobInfo]:
        return [JobInfo(job) for job in self.get_jobs()]


class JobList:
    """A job listing built up from filters: state and result names
    (``filters=["pending", "failed"]``), a user (name, id or "all"),
    specific ``ids`` (then the other filters are ignored), ``since``,
    ``name``, ``queue`` and an RFC 43 ``constraint``."""

    STATES = {
        "depend": FLUX_JOB_STATE_DEPEND,
        "priority": FLUX_JOB_STATE_PRIORITY,
        "sched": FLUX_JOB_STATE_SCHED,
        "run": FLUX_JOB_STATE_RUN,
        "cleanup": FLUX_JOB_STATE_CLEANUP,
        "inactive": FLUX_JOB_STATE_INACTIVE,
        "pending": FLUX_JOB_STATE_PENDING,
        "running": FLUX_JOB_STATE_RUNNING,
        "active": FLUX_JOB_STATE_ACTIVE,
    }
    RESULTS = {
        "completed": FLUX_JOB_RESULT_COMPLETED,
        "failed": FLUX_JOB_RESULT_FAILED,
        "canceled": FLUX_JOB_RESULT_CANCELED,
        "timeout": FLUX_JOB_RESULT_TIMEOUT,
    }

    def __init__(
        self,
        flux_handle: Any,
        attrs: Any = ("all",),
        filters: Any = (),
        ids: Any = (),
        user: Any = None,
        max_entries: int = 1000,
        since: float = 0.0,
        name: Optional[str] = None,
        queue: Any = None,
        constraint: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.handle = flux_handle
        self.attrs = listed(attrs, "attrs")
        self.states = 0
        self.results = 0
        self.max_entries = max_entries
        self.since = since
        self.name = name
        self.queue = queue
        self.ids = [JobID(jobid) for jobid in listed(ids, "ids")] if ids else None
        self.errors = []  # type: List[str]
        self.userid = os.getuid()
        for spec in filters:
            for fname in spec.split(","):
                self.add_filter(fname)
        self.set_user(user)
        self.constraint = constraint

    def set_user(self, user: Any) -> None:
        """Only ``user``'s jobs (a name or id), or everyone's ("all")."""
        if user is None:
            self.userid = os.getuid()
        elif user == "all":
            self.userid = FLUX_USERID_UNKNOWN
        else:
            try:
                self.userid = pwd.getpwnam(user).pw_uid
            except (KeyError, TypeError):
                try:
                    self.userid = int(user)
                except ValueError:
                    raise ValueError("Invalid user {} specified".format(user)) from None

    def add_filter(self, fname: str) -> None:
        """Add a state or result name to the listing's filter."""
        key = fname.lower()
        if key in self.STATES:
            self.states |= self.STATES[key]
        elif key in self.RESULTS:
            self.results |= self.RESULTS[key]
        else:
            raise ValueError("Invalid filter specified: {}".format(fname))

    def fetch_jobs(self) -> Any:
        """Send the listing request(s); returns a JobListRPC, or a
        JobListIdsFuture when specific ids were asked for."""
        if self.ids:
            combined = JobListIdsFuture()
            for jobid in self.ids:
                combined.push(job_list_id(self.handle, jobid, self.attrs))
            return combined
        return job_list(
            self.handle, max_entries=self.max_entries, attrs=self.attrs,
            userid=self.userid, states=self.states, results=self.results,
            since=self.since, name=self.name, queue=self.queue,
            constraint=self.constraint,
        )

    def jobs(self) -> List[JobInfo]:
        """The listing, as JobInfo objects (blocks)."""
        rpc = self.fetch_jobs()
        jobs = rpc.get_jobs()
        if hasattr(rpc, "errors"):
            self.errors = rpc.errors
        return [JobInfo(job) for job in jobs]
