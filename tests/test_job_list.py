"""flux_ctypes.job.list and .info: job listings and JobInfo."""

import pytest

from helpers import inactive_info, library_or_skip, unique
from flux_ctypes.constants import FLUX_JOB_STATE_INACTIVE, FLUX_USERID_UNKNOWN
from flux_ctypes.job import (
    JobID,
    JobInfo,
    JobList,
    JobspecV1,
    get_job,
    job_list,
    job_list_id,
    job_list_inactive,
    submit,
    wait,
)
from flux_ctypes.job.info import resulttostr, statetostr, strtoresult, strtostate


def done_job(handle, command, name):
    jobid = submit(handle, JobspecV1.from_command(command, name=name), waitable=True)
    wait(handle, jobid)
    inactive_info(handle, jobid)  # job-list has seen it end
    return jobid


def test_list_after_completion(handle):
    name = unique("lst")
    ok = done_job(handle, ["true"], name)
    bad = done_job(handle, ["false"], name)
    jobs = job_list_inactive(handle, name=name).get_jobs()
    assert sorted(j["id"] for j in jobs) == sorted([ok, bad])
    infos = {i.id: i for i in job_list(handle, name=name, states=FLUX_JOB_STATE_INACTIVE)
             .get_jobinfos()}
    assert infos[ok].result == "COMPLETED" and infos[ok].returncode == 0
    assert infos[bad].result == "FAILED" and infos[bad].returncode == 1
    assert infos[ok].name == name and infos[ok].username
    only = job_list(handle, attrs=["userid"], name=name).get_jobs()
    assert all(set(j) == {"id", "userid"} for j in only)
    constrained = job_list(handle, constraint={"name": [name]}, max_entries=1).get_jobs()
    assert len(constrained) == 1


def test_list_id_and_get_job(handle):
    jobid = done_job(handle, ["true"], unique("lid"))
    rpc = job_list_id(handle, jobid, attrs=["name"])
    assert rpc.get_job()["id"] == jobid and rpc.jobid == jobid
    info = job_list_id(handle, jobid.f58).get_jobinfo()
    assert isinstance(info, JobInfo) and info.id == jobid
    record = get_job(handle, jobid)
    assert record["id"] == jobid and record["state"] == "INACTIVE"
    assert record["exception"]["occurred"] is False
    assert get_job(handle, 123456) is None
    with pytest.raises(FileNotFoundError):
        job_list_id(handle, 123456).get_jobinfo()


def test_joblist_class(handle):
    name = unique("jl")
    jobid = done_job(handle, ["true"], name)
    listing = JobList(handle, filters=["inactive,completed"], name=name)
    assert [j.id for j in listing.jobs()] == [jobid]
    by_id = JobList(handle, ids=[jobid, 123456])
    assert [j.id for j in by_id.jobs()] == [jobid]
    assert by_id.errors == ["JobID 123456 unknown"]
    assert JobList(handle, user="all").userid == FLUX_USERID_UNKNOWN
    with pytest.raises(ValueError):
        JobList(handle, filters=["bogus"])
    with pytest.raises(ValueError):
        JobList(handle, user="no-such-user-here")


@pytest.mark.offline
def test_journal_and_stats_want_a_handle():
    from flux_ctypes.job import JournalConsumer
    from flux_ctypes.job.stats import JobStats

    with pytest.raises(TypeError, match="flux_handle"):
        JournalConsumer("local:///nowhere")
    with pytest.raises(TypeError, match="handle"):
        JobStats(42)


def test_state_and_result_names():
    library_or_skip()
    assert statetostr(FLUX_JOB_STATE_INACTIVE) == "INACTIVE"
    assert statetostr(FLUX_JOB_STATE_INACTIVE, "S") == "I"
    assert resulttostr(2) == "FAILED" and resulttostr(2, "S") == "F"
    assert resulttostr("") == ""
    assert strtostate("RUN") == 16 and strtoresult("TIMEOUT") == 8
    with pytest.raises(ValueError):
        strtostate("nope")
    with pytest.raises(TypeError, match="stateid"):
        statetostr("RUN")
    with pytest.raises(ValueError, match="stateid"):
        statetostr(2 ** 40)  # never wrapped into a C int
    with pytest.raises(TypeError, match="name"):
        strtoresult(None)


def test_jobinfo_offline():
    library_or_skip()
    info = JobInfo({"id": 1234, "state": FLUX_JOB_STATE_INACTIVE, "result": 4,
                    "t_run": 10.0, "t_cleanup": 12.5, "annotations": {"user": {"a": 1}}})
    assert info.id == JobID(1234)
    assert info.status == "CANCELED" and info.returncode == -128
    assert info.runtime == 2.5 and info.t_remaining == 0.0
    assert info.annotations.user.a == 1 and str(info.annotations.user.b) == ""
    assert info.inactive_reason == "Canceled"
    assert info.to_dict()["result"] == "CANCELED"
    with pytest.raises(AttributeError):
        info.no_such_thing


def test_list_id_of_an_unknown_job_names_it(handle):
    """job-list sends no text for ENOENT: the message names the job."""
    from flux_ctypes.job import job_list_id

    with pytest.raises(FileNotFoundError, match="job 123$"):
        job_list_id(handle, 123).get_job()
    assert get_job(handle, 123) is None
