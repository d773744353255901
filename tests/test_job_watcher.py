"""flux_ctypes.job.watcher: watching jobs' output and status."""

import io

import pytest

from _jobs import unique
from flux_ctypes.constants import FLUX_JOB_RESULT_FAILED, FLUX_JOB_STATE_INACTIVE
from flux_ctypes.job import JobInfo, JobspecV1, submit, wait
from flux_ctypes.job.watcher import JobStatus, JobWatcher


def run(handle, command, **kwargs):
    js = JobspecV1.from_command(command, name=unique("w"), **kwargs)
    return submit(handle, js, waitable=True)


def test_watcher_copies_output_and_keeps_exit_code(handle):
    ok = run(handle, ["sh", "-c", "echo out; echo err >&2"])
    bad = run(handle, ["sh", "-c", "echo failing; exit 5"])
    out, err = io.StringIO(), io.StringIO()
    watcher = JobWatcher(handle, stdout=out, stderr=err, log_status=True).start()
    watcher.add_jobid(ok)
    watcher.add_jobid(bad)
    handle.reactor_run()
    watcher.stop()
    assert sorted(out.getvalue().splitlines()) == ["failing", "out"]
    assert "err\n" in err.getvalue() and "failed: status=1280" in err.getvalue()
    assert watcher.exitcode == 5
    wait(handle, ok)
    wait(handle, bad)


def test_watcher_callback_labels_and_exceptions(handle):
    jobid = run(handle, ["true"], num_tasks=1024)  # never runs
    got = []
    err = io.StringIO()
    JobWatcher(handle, stderr=err, output_callback=lambda *a: got.append(a)).add_jobid(jobid)
    handle.reactor_run()
    assert got == []  # no output eventlog, so no callback
    assert "job.exception: type=alloc" in err.getvalue()
    wait(handle, jobid)


def test_job_status():
    pytest.importorskip("flux_ctypes.lib").load_library()
    info = JobInfo({"id": 1, "state": FLUX_JOB_STATE_INACTIVE,
                    "result": FLUX_JOB_RESULT_FAILED, "waitstatus": 3 << 8})
    status = JobStatus(info)
    assert (status.status, status.exitcode, status.active) == ("failed", 3, False)
    status.add_event("x")
    assert status.has_event("x") and status.event_count("x") == 1
    with pytest.raises(ValueError):
        JobStatus("not a JobInfo")
    with pytest.raises(ValueError):
        JobWatcher(None, progress=True)
