"""flux_ctypes.job.kvslookup: a job's jobspec and R from job-info."""

import ctypes

import pytest

from helpers import unique
from flux_ctypes.job import (
    JobKVSLookup,
    JobList,
    JobspecV1,
    job_info_lookup,
    job_kvs_lookup,
    job_list,
    job_list_id,
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


@pytest.mark.parametrize("call", [
    lambda h, p: job_info_lookup(h, 1, keys=p),
    lambda h, p: job_list(h, attrs=p),
    lambda h, p: job_list_id(h, 1, attrs=p),
    lambda h, p: JobList(h, attrs=p),
])
def test_a_ctypes_pointer_is_no_list_of_names(handle, call):
    """Listing a ctypes pointer never ends (it has no length): as keys or
    attrs it once read memory until the process died (the fuzz found it)."""
    pointer = ctypes.pointer(ctypes.c_int(1))
    with pytest.raises(TypeError, match="ctypes pointer"):
        call(handle, pointer)
