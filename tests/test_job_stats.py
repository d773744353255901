"""flux_ctypes.job.stats: job counts from job-list."""

from _jobs import inactive_info, unique
from flux_ctypes.job import JobspecV1, submit, wait
from flux_ctypes.job.stats import JobStats


def test_stats_sync_and_async(handle):
    jobid = submit(handle, JobspecV1.from_command(["true"], name=unique()), waitable=True)
    wait(handle, jobid)
    inactive_info(handle, jobid)
    stats = JobStats(handle)
    assert stats.inactive == -1
    assert stats.update_sync() is stats
    assert stats.inactive >= 1 and stats.total >= stats.inactive
    assert stats.active == stats.total - stats.inactive
    calls = []
    fresh = JobStats(handle)
    fresh.update(callback=lambda s, tag=None: calls.append((s.inactive, tag)), tag="x")
    handle.reactor_run()
    assert calls == [(stats.inactive, "x")]
