"""flux_ctypes.job.kvslookup: a job's jobspec and R from job-info."""

import pytest

from helpers import unique
from flux_ctypes.job import (
    JobKVSLookup,
    JobspecV1,
    job_info_lookup,
    job_kvs_lookup,
    submit,
    wait,
)


def test_lookup_jobspec_and_R(handle):
    name = unique("kl")
    jobid = submit(handle, JobspecV1.from_command(["true"], name=name), waitable=True)
    wait(handle, jobid)
    data = job_kvs_lookup(handle, jobid, keys=["jobspec", "R"])
    assert data["id"] == jobid
    assert data["jobspec"]["attributes"]["system"]["job"]["name"] == name
    assert data["R"]["version"] == 1
    raw = job_kvs_lookup(handle, jobid, decode=False)
    assert isinstance(raw["jobspec"], str)
    # the jobspec as submitted, unwrapped from the signed J by libflux-core
    original = job_kvs_lookup(handle, jobid, original=True)
    assert original["jobspec"]["tasks"][0]["command"] == ["true"]
    assert "J" not in original
    assert job_kvs_lookup(handle, 123456) is None
    rpc = job_info_lookup(handle, jobid, keys=["eventlog"])
    assert "submit" in rpc.get()["eventlog"]


def test_lookup_several(handle):
    jobid = submit(handle, JobspecV1.from_command(["true"], name=unique()), waitable=True)
    wait(handle, jobid)
    lookup = JobKVSLookup(handle, ids=[jobid, 123456], keys=["R"])
    data = lookup.data()
    assert [d["id"] for d in data] == [jobid]
    assert lookup.errors == ["JobID 123456 unknown"]


def test_ids_given_as_one_text_are_refused(handle):
    """Iterated, b"y" * 70000 was 70000 lookups of job 121, and a str its
    characters: a TypeError naming ids instead."""
    for ids in ("ƒ2", b"y" * 70000, bytearray(b"1")):
        with pytest.raises(TypeError, match="ids must be an iterable of job IDs"):
            JobKVSLookup(handle, ids)
