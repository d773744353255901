"""flux_ctypes.job.event: watching job eventlogs."""

import errno

import pytest

from helpers import collect, unique
from flux_ctypes.job import (
    MAIN_EVENTS,
    EventLogEvent,
    JobEventWatchFuture,
    JobException,
    JobspecV1,
    cancel,
    event_wait,
    event_watch,
    event_watch_async,
    submit,
    wait,
)


def run(handle, command, **kwargs):
    js = JobspecV1.from_command(command, name=unique(), **kwargs)
    return submit(handle, js, waitable=True)


def test_event_watch_iterates_whole_eventlog(handle):
    jobid = run(handle, ["true"])
    events = list(event_watch(handle, jobid))
    names = [e.name for e in events]
    assert names[0] == "submit" and names[-1] == "clean"
    assert {"start", "finish"} <= set(names) and set(names) <= MAIN_EVENTS
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)
    finish = events[names.index("finish")]
    assert finish.context["status"] == 0 and isinstance(finish.context_string, str)
    assert all(isinstance(e, EventLogEvent) and isinstance(e.context, dict) for e in events)
    wait(handle, jobid)


def test_async_watch_from_reactor(handle):
    jobid = run(handle, ["true"])
    names = []

    def on_event(future, out):
        event = future.get_event()
        if event is None:
            return  # stream ended: the reactor runs out of work
        out.append(event.name)

    future = event_watch_async(handle, jobid)
    assert isinstance(future, JobEventWatchFuture)
    future.then(on_event, names)
    handle.reactor_run()
    assert names[0] == "submit" and names[-1] == "clean"
    wait(handle, jobid)


def test_no_autoreset_and_guest_eventlog(handle):
    jobid = run(handle, ["true"])
    future = event_watch_async(handle, jobid)
    first = future.get_event(autoreset=False)
    assert future.get_event(autoreset=False) == first
    future.reset()
    assert future.get_event().name != first.name
    future.cancel()
    while future.get_event() is not None:  # drained to the end
        pass
    event = event_wait(handle, jobid, "shell.init", eventlog="guest.exec.eventlog")
    assert event.name == "shell.init"
    wait(handle, jobid)


def test_cancel_watch_while_job_runs(handle):
    jobid = run(handle, ["sleep", "300"])
    future = event_watch_async(handle, jobid)
    seen = []
    while True:
        event = future.get_event()
        if event is None:
            break
        seen.append(event.name)
        if event.name == "start":
            future.cancel()
    assert "start" in seen and "finish" not in seen
    cancel(handle, jobid)
    wait(handle, jobid)


def test_dropped_watch_is_cancelled(handle):
    """A watch abandoned mid-stream is cancelled when collected, so the
    job-info service stops streaming to this handle: its count of watchers
    goes down by one.  The job is held, so that no job shell of its own
    watches anything meanwhile."""
    def watchers():
        return handle.rpc("job-info.stats-get").get()["watchers"]

    js = JobspecV1.from_command(["true"], name=unique())
    jobid = submit(handle, js, urgency=0, waitable=True)
    before = watchers()
    future = event_watch_async(handle, jobid)
    assert future.get_event().name == "submit"
    assert future.needs_cancel
    assert watchers() == before + 1
    del future
    collect()
    assert watchers() == before  # the cancel went before this request
    cancel(handle, jobid)
    wait(handle, jobid)


def test_event_wait_raises_job_exception(handle):
    jobid = run(handle, ["true"], num_tasks=1024)  # unsatisfiable
    with pytest.raises(JobException) as info:
        event_wait(handle, jobid, "start")
    assert info.value.severity == 0 and info.value.type == "alloc"
    assert "alloc" in str(info.value)
    with pytest.raises(OSError) as err:
        event_wait(handle, jobid, "start", raiseJobException=False)
    assert err.value.errno == errno.ENODATA
    wait(handle, jobid)


def test_errors(handle):
    with pytest.raises(OSError) as info:
        list(event_watch(handle, 123))
    assert info.value.errno == errno.ENOENT
    with pytest.raises(OSError) as info:
        event_wait(None, 123, "start")
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError, match="eventlog"):
        event_watch_async(handle, 1, eventlog=5)
    with pytest.raises(ValueError):
        event_watch_async(handle, "not-a-jobid")


@pytest.mark.offline
def test_eventlog_event_from_text():
    event = EventLogEvent('{"timestamp": 1.5, "name": "x"}')
    assert event.context == {} and event.context_string == ""
    assert str(event).startswith("1.50000: x")


def test_watching_an_unknown_job_names_it(handle):
    """job-info's text is only strerror: the message names the job."""
    from flux_ctypes.job import event_wait, event_watch, event_watch_async

    with pytest.raises(FileNotFoundError, match="job 123$"):
        event_wait(handle, 123, "submit")
    with pytest.raises(FileNotFoundError, match="job 124$"):
        list(event_watch(handle, 124))
    with pytest.raises(FileNotFoundError, match="job 125$"):
        event_watch_async(handle, 125).get_event()
