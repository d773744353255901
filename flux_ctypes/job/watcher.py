"""Watching jobs as ``flux submit --watch`` does: their status, their
output, their events, from the reactor.

(The official class can also draw a progress bar; flux_ctypes has no
terminal progress bar, so ``progress=True`` is refused.)
"""

import os
import sys
import time
from collections import Counter
from typing import Any, Callable, Optional, Tuple

from flux_ctypes.constants import FLUX_JOB_STATE_SCHED
from flux_ctypes.job.event import event_watch_async
from flux_ctypes.job.info import JobInfo
from flux_ctypes.job.output import JobExceptionEvent, output_watch_async

__all__ = ["JobStatus", "JobWatcher"]


class JobStatus:
    """A job's simplified status: ``status`` is "pending", "running",
    "complete" or "failed", ``exitcode`` its exit code (0 while active);
    and a count of the events seen."""

    def __init__(self, job: Any) -> None:
        if not isinstance(job, JobInfo):
            raise ValueError("JobStatus requires an object of type JobInfo")
        self.id = job.id
        self.status, self.exitcode = self._status_and_exitcode(job)
        self._events = Counter()  # type: Counter[str]

    @staticmethod
    def _status_and_exitcode(job: JobInfo) -> Tuple[str, int]:
        status = job.status
        if status in ("DEPEND", "PRIORITY", "SCHED"):
            return "pending", 0
        if status in ("RUN", "CLEANUP"):
            return "running", 0
        if status == "COMPLETED":
            return "complete", 0
        if status in ("FAILED", "CANCELED", "TIMEOUT"):
            return "failed", job.returncode
        raise ValueError("unknown job status {}".format(status))

    @property
    def active(self) -> bool:
        return self.status in ("pending", "running")

    def add_event(self, name: str) -> None:
        self._events[name] += 1

    def event_count(self, name: str) -> int:
        return self._events[name]

    def has_event(self, name: str) -> bool:
        return self._events[name] > 0


class JobWatcher:
    """Watch several jobs from the handle's reactor: copy their output to
    ``stdout``/``stderr`` (or give it to ``output_callback(jobid, stream,
    text)``, called with stream None at the end of each job's output),
    optionally log their events (``log_events``) and final status
    (``log_status``) on stderr, until each reaches event ``wait``
    (default "clean"; "exec.NAME" for an exec eventlog event).
    ``exitcode`` is the largest exit code seen.  Call start(), add jobs,
    then run the reactor."""

    class JobWatchStatus(JobStatus):
        def __init__(self, job: Any, stdout: Any, stderr: Any, wait: str = "clean") -> None:
            super().__init__(job)
            self.stdout = stdout
            self.stderr = stderr
            self.wait = wait

    def __init__(
        self,
        flux_handle: Any,
        jobs: Any = None,
        progress: bool = False,
        jps: bool = False,
        wait: str = "clean",
        watch: bool = True,
        log_events: bool = False,
        log_status: bool = False,
        stdout: Any = sys.stdout,
        stderr: Any = sys.stderr,
        labelio: bool = False,
        starttime: Optional[float] = None,
        output_callback: Optional[Callable[..., Any]] = None,
    ) -> None:
        if progress:
            raise ValueError("JobWatcher: flux_ctypes has no progress bar (progress=True)")
        self.flux_handle = flux_handle
        self.wait = wait
        self.watch = watch
        self.t0 = starttime
        self.log_events = log_events
        self.log_status = log_status
        self.output_callback = output_callback
        self.stdout = stdout
        self.stderr = stderr
        self.labelio = labelio
        self.exitcode = 0
        self.show_progress = False
        if jobs:
            self.add_jobs(*jobs)

    def start(self) -> "JobWatcher":
        return self

    def stop(self) -> "JobWatcher":
        return self

    @staticmethod
    def _status_to_exitcode(status: int) -> int:
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)
        return status

    def add_jobs(self, *jobs: Any, stdout: Any = None, stderr: Any = None,
                 wait: str = "clean") -> "JobWatcher":
        """Watch ``jobs`` (JobInfo objects); output goes to ``stdout`` and
        ``stderr`` (default: the watcher's)."""
        for job in jobs:
            if not self.t0 or job.t_submit < self.t0:
                self.t0 = job.t_submit
            status = self.JobWatchStatus(job, stdout or self.stdout,
                                         stderr or self.stderr, wait=wait)
            event_watch_async(self.flux_handle, job.id).then(self._on_event, status)
        return self

    def add_jobid(self, jobid: Any, stdout: Any = None, stderr: Any = None,
                  wait: str = "clean") -> "JobWatcher":
        """Watch job ``jobid`` (its state is learnt from its eventlog)."""
        job = JobInfo({"id": jobid, "state": FLUX_JOB_STATE_SCHED, "t_submit": time.time()})
        return self.add_jobs(job, stdout=stdout, stderr=stderr, wait=wait)

    def _log(self, job: Any, timestamp: float, msg: str) -> None:
        print("{}: {:4.3f}s: {}".format(job.id.f58, timestamp - (self.t0 or 0.0), msg),
              file=job.stderr)

    def _log_event(self, job: Any, event: Any, prefix: str = "") -> None:
        if self.log_events and event is not None:
            self._log(job, event.timestamp,
                      "{}{} {}".format(prefix, event.name, event.context_string))

    def _on_event(self, future: Any, job: Any) -> None:
        event = future.get_event()
        if event is None:
            return
        job.add_event(event.name)
        if self.t0 is None or event.timestamp < self.t0:
            self.t0 = event.timestamp
        self._log_event(job, event)
        if event.name == "exception" and event.context.get("severity") == 0:
            if not job.has_event("start"):
                self.exitcode = max(self.exitcode, 1)
                job.status = "failed"
            if not job.has_event("shell.init"):
                # no output eventlog will show it: say it here
                print(JobExceptionEvent(event).render(), file=job.stderr)
        elif event.name == "alloc":
            job.status = "running"
        elif event.name == "start":
            if self.watch or job.wait.startswith("exec."):
                event_watch_async(self.flux_handle, job.id, "guest.exec.eventlog").then(
                    self._on_exec_event, job, future)
        elif event.name == "finish":
            status = event.context["status"]
            self.exitcode = max(self.exitcode, self._status_to_exitcode(status))
            job.status = "failed" if status else "complete"
            if self.log_status:
                self._log(job, event.timestamp, "{}: status={}".format(job.status, status))
        if job.wait and job.wait == event.name:
            future.cancel(stop=True)

    def _on_exec_event(self, future: Any, job: Any, main_watch: Any) -> None:
        event = future.get_event()
        if event is None:
            return
        job.add_event(event.name)
        self._log_event(job, event, prefix="exec.")
        if self.watch and event.name == "shell.init":
            output_watch_async(self.flux_handle, job.id, labelio=self.labelio,
                               nowait=True).then(self._on_output, job)
            if not job.wait or not job.wait.startswith("exec."):
                future.cancel(stop=True)
        if job.wait and job.wait == "exec." + event.name:
            future.cancel(stop=True)
            main_watch.cancel(stop=True)

    def _on_output(self, future: Any, job: Any) -> None:
        stream, data = future.get_output()
        if self.output_callback is not None:
            self.output_callback(job.id, stream, data)
            return
        if stream is None:
            for name in ("stdout", "stderr"):
                getattr(job, name).flush()
            return
        out = getattr(job, stream)
        if self.labelio:
            for line in data.splitlines(True):
                out.write("{}: {}".format(job.id, line))
        else:
            out.write(data)
