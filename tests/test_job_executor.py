"""flux_ctypes.job.executor: FluxExecutor running real jobs."""

import concurrent.futures as cf
import os
import subprocess
import sys
import threading

import pytest

from _jobs import unique
from flux_ctypes.job import FluxExecutor, FluxExecutorFuture, JobException, JobspecV1


def spec(command, **kwargs):
    return JobspecV1.from_command(command, name=unique("ex"), **kwargs)


def test_many_futures(flux_uri):
    with FluxExecutor(threads=2) as executor:
        futures = [executor.submit(spec(["sh", "-c", "exit {}".format(i % 3)]))
                   for i in range(24)]
        done = list(cf.as_completed(futures, timeout=120))
        assert len(done) == 24
        assert [f.result() for f in futures] == [i % 3 for i in range(24)]
        jobids = {f.jobid() for f in futures}
        assert len(jobids) == 24 and all(j > 0 for j in jobids)
        # attach to finished jobs: same results from their eventlogs
        attached = [executor.attach(f.jobid()) for f in futures[:5]]
        assert [a.result(timeout=60) for a in attached] == [0, 1, 2, 0, 1]
    assert not executor._broken_event.is_set()


def test_wait_events_and_callbacks(flux_uri):
    seen = []
    jobids = []
    done = threading.Event()
    with FluxExecutor() as executor:
        future = executor.submit(spec(["false"]))
        future.add_jobid_callback(lambda f: jobids.append(f.jobid()))
        future.add_event_callback("start", lambda f, ev: seen.append(ev.name))
        future.add_done_callback(lambda f: done.set())
        finished, _ = cf.wait([future], timeout=60, return_when=cf.FIRST_COMPLETED)
        assert finished == {future}
        assert future.result() == 1 and future.exception() is None
    assert done.is_set() and seen == ["start"] and jobids == [future.jobid()]


def test_signal_and_job_exception(flux_uri):
    with FluxExecutor() as executor:
        signalled = executor.submit(spec(["sh", "-c", "kill -KILL $$"]))
        missing = executor.submit(spec(["/no/such/program"]))
        code = signalled.result(timeout=60)
        assert code in (-9, 128 + 9)
        assert isinstance(missing.exception(timeout=60), JobException)
        assert missing.exception().type == "exec"


def test_bad_jobspec_and_bad_jobid(flux_uri):
    with FluxExecutor() as executor:
        bad = executor.submit("not json")
        unknown = executor.attach(0)
        wrong = executor.attach(-1)
    assert isinstance(bad.exception(), OSError)
    with pytest.raises(RuntimeError, match="could not be submitted"):
        bad.jobid()
    with pytest.raises(ValueError, match="does not match any job"):
        unknown.result()
    with pytest.raises(OverflowError):
        wrong.result()


def test_cancel_before_start_and_shutdown_rules(flux_uri):
    executor = FluxExecutor(poll_interval=0.05)
    futures = [executor.submit(spec(["true"])) for _ in range(4)]
    executor.shutdown(wait=True, cancel_futures=True)
    for future in futures:
        assert future.cancelled() or future.result() == 0
    with pytest.raises(RuntimeError):
        executor.submit(spec(["true"]))
    with pytest.raises(RuntimeError):
        executor.attach(1)
    executor.shutdown()  # twice is fine


def test_future_offline_rules():
    fut = FluxExecutorFuture(threading.get_ident())
    with pytest.raises(cf.TimeoutError):
        fut.jobid(timeout=0)
    fut._set_jobid(7)
    assert fut.jobid(0) == 7
    with pytest.raises(RuntimeError):
        fut._set_jobid(8)
    with pytest.raises(RuntimeError, match="inside callback"):
        fut.result()  # this thread "owns" it: waiting would deadlock
    with pytest.raises(ValueError):
        fut.add_event_callback("not-an-event", print)
    fut.cancel()
    assert fut.cancelled() and fut.jobid(0) == 7


def test_interpreter_exit_not_held_up_by_running_job(flux_uri, tmp_path):
    # an executor left running with a long job must not hang exit
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from flux_ctypes.job import FluxExecutor, JobspecV1\n"
        "ex = FluxExecutor()\n"
        "f = ex.submit(JobspecV1.from_command(['sleep', '300']))\n"
        "print(int(f.jobid(timeout=60)), flush=True)\n"
    ).format(root)
    proc = subprocess.run([sys.executable, "-c", code], timeout=60,
                          stdout=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0
    jobid = int(proc.stdout.split()[0])
    from flux_ctypes import Flux
    from flux_ctypes.job import cancel
    with Flux(flux_uri) as h:
        cancel(h, jobid)
