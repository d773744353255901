"""flux_ctypes.job.output: a job's output from its output eventlog."""

import pytest

from _jobs import unique
from flux_ctypes.job import (
    JobException,
    JobspecV1,
    job_output,
    output_event_watch,
    output_watch_lines,
    submit,
    wait,
)
from flux_ctypes.job.output import OutputEvent, Taskset


def run(handle, command, **kwargs):
    js = JobspecV1.from_command(command, name=unique("out"), **kwargs)
    return submit(handle, js, waitable=True)


def test_job_output_streams_tasks_and_labels(handle):
    jobid = run(handle, ["sh", "-c", 'echo "out $FLUX_TASK_RANK"; echo err >&2'],
                num_tasks=2)
    output = job_output(handle, jobid)
    assert sorted(output.stdout.splitlines()) == ["out 0", "out 1"]
    assert output.stderr == "err\nerr\n"
    assert job_output(handle, jobid, tasks="1").stdout == "out 1\n"
    labelled = job_output(handle, jobid, tasks="0", labelio=True)
    assert labelled.stdout == "0: out 0\n"
    wait(handle, jobid)
    assert job_output(handle, jobid, nowait=True).stdout.count("out") == 2


def test_output_generators(handle):
    jobid = run(handle, ["printf", "a\\nb\\n"])
    lines = list(output_watch_lines(handle, jobid))
    assert lines == [("stdout", "a"), ("stdout", "b")]
    events = list(output_event_watch(handle, jobid))
    data = [e for e in events if isinstance(e, OutputEvent) and e.data]
    assert "".join(e.data for e in data) == "a\nb\n"
    assert any(e.eof for e in events if isinstance(e, OutputEvent))
    wait(handle, jobid)


def test_job_that_never_started(handle):
    jobid = run(handle, ["true"], num_tasks=1024)  # cannot be allocated
    with pytest.raises(JobException):
        job_output(handle, jobid)
    with pytest.raises(FileNotFoundError):
        job_output(handle, jobid, nowait=True)
    wait(handle, jobid)


def test_taskset():
    assert str(Taskset("0-2,5").intersect("2-9")) == "2,5"
    assert Taskset("*").intersect("3").ids == {3}
    assert not Taskset("1").intersect("2")
    with pytest.raises(ValueError):
        Taskset("3-1")


def test_async_watchers_in_the_reactor(handle):
    from flux_ctypes.job import output_watch_async, output_watch_lines_async

    jobid = run(handle, ["sh", "-c", "printf 'x\\ny\\n'; echo e >&2"])
    chunks = {}
    lines = []

    def on_chunk(future):
        stream, text = future.get_output()
        chunks.setdefault(stream, []).append(text)

    def on_line(future):
        lines.append(future.getline())

    output_watch_async(handle, jobid).then(on_chunk)
    output_watch_lines_async(handle, jobid).then(on_line)
    handle.reactor_run()
    assert "".join(chunks["stdout"]) == "x\ny\n" and "".join(chunks["stderr"]) == "e\n"
    assert chunks[None] == [None]  # the end
    assert sorted(lines[:-1]) == [("stderr", "e"), ("stdout", "x"), ("stdout", "y")]
    assert lines[-1] == (None, None)
    wait(handle, jobid)


def test_never_started_job_reports_exception_then_eio(handle):
    import errno

    from flux_ctypes.job import cancel, output_watch

    jobid = submit(handle, JobspecV1.from_command(["true"], name=unique()), urgency=0,
                   waitable=True)
    cancel(handle, jobid)
    got = []
    with pytest.raises(OSError) as info:
        for pair in output_watch(handle, jobid):
            got.append(pair)
    assert info.value.errno == errno.EIO
    assert info.value.strerror == "job {} never started".format(jobid)
    assert got and got[0][0] == "stderr" and "job.exception" in got[0][1]
    wait(handle, jobid)
