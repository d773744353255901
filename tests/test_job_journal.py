"""flux_ctypes.job.journal: the job manager journal."""

import pytest

from _jobs import unique
from flux_ctypes.job import JobspecV1, JournalConsumer, submit, wait
from flux_ctypes.job.journal import SENTINEL_EVENT, JournalEvent


def test_history_poll_sentinel_and_new_job(handle):
    old = submit(handle, JobspecV1.from_command(["true"], name=unique()), waitable=True)
    wait(handle, old)
    consumer = JournalConsumer(handle, include_sentinel=True).start()
    history = []
    while True:
        event = consumer.poll(timeout=30)
        if event.is_empty():
            break
        history.append(event)
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)
    assert any(e.jobid == old and e.name == "clean" for e in history)
    submits = [e for e in history if e.name == "submit"]
    assert submits and all(e.jobspec is not None for e in submits)
    new = submit(handle, JobspecV1.from_command(["true"], name=unique()), waitable=True)
    names = []
    while "clean" not in names:
        event = consumer.poll(timeout=30)
        if event.jobid == new:
            names.append(event.name)
    assert names[0] == "submit"
    consumer.stop()
    while consumer.poll(timeout=30) is not None:
        pass
    wait(handle, new)


def test_callback_mode(handle):
    consumer = JournalConsumer(handle, full=False)
    got = []

    def on_event(event, tag, extra=None):
        got.append((event.jobid, event.name, tag, extra))
        if event.name == "clean":
            consumer.stop()

    consumer.set_callback(on_event, "t", extra=1).start()
    jobid = submit(handle, JobspecV1.from_command(["true"], name=unique()), waitable=True)
    handle.reactor_run()
    assert got[-1] == (jobid, "clean", "t", 1)
    wait(handle, jobid)


def test_poll_rules(handle):
    with pytest.raises(RuntimeError):
        JournalConsumer(handle).poll()
    consumer = JournalConsumer(handle, full=False).start()
    with pytest.raises(TimeoutError):
        # other tests' jobs may still be ending: skip their events
        for _ in range(10000):
            consumer.poll(timeout=0.1)
    consumer.stop()
    assert consumer.poll(timeout=30) is None


def test_event_strings():
    assert SENTINEL_EVENT.is_empty()
    assert str(SENTINEL_EVENT) == "-1: End of historical data stream"
    event = JournalEvent(1, {"name": "alloc", "timestamp": 2.0}, R={"r": 1})
    assert event.R == {"r": 1} and event.jobspec is None
