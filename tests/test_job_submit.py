"""flux_ctypes.job.submit: submitting jobspecs to a live instance."""

import errno
import json

import pytest

from helpers import inactive_info, unique
from flux_ctypes.job import JobID, JobspecV1, submit, submit_async, submit_get_id


def spec(command, **kwargs):
    return JobspecV1.from_command(command, name=unique(), **kwargs)


def test_submit_jobspec_str_bytes_and_dict(handle):
    js = spec(["true"])
    ids = [
        submit(handle, js),
        submit(handle, js.dumps()),
        submit(handle, js.dumps().encode()),
        submit(handle, js.jobspec),
    ]
    assert all(isinstance(jobid, JobID) and jobid > 0 for jobid in ids)
    assert len(set(ids)) == 4
    for jobid in ids:
        assert inactive_info(handle, jobid).result == "COMPLETED"


def test_submit_async_then(handle):
    got = []

    def done(future):
        got.append(future.get_id())

    submit_async(handle, spec(["true"])).then(done)
    handle.reactor_run()
    assert len(got) == 1 and got[0] > 0
    assert inactive_info(handle, got[0]).returncode == 0


def test_urgency_hold_and_debug(handle):
    from flux_ctypes.job import cancel, event_watch

    jobid = submit(handle, spec(["true"]), urgency=0, debug=True)
    names = []
    cancel(handle, jobid)
    for event in event_watch(handle, jobid):
        names.append(event.name)
    assert "start" not in names  # held, then canceled
    assert json.loads(json.dumps(names))[-1] == "clean"
    assert inactive_info(handle, jobid).result == "CANCELED"


def test_invalid_jobspec_is_rejected_with_reason(handle):
    bad = spec(["true"]).jobspec
    bad["version"] = 7
    with pytest.raises(OSError) as info:
        submit(handle, json.dumps(bad))
    # the job manager's validator says why (with its own errno)
    assert "version must be 1" in str(info.value)


def test_bad_arguments(handle):
    with pytest.raises(OSError) as info:
        submit(None, spec(["true"]))
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        submit(handle, None)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        submit_get_id(None)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(TypeError):
        submit(handle, 0)
    with pytest.raises(TypeError, match="flux_handle"):
        submit("not a handle", spec(["true"]))
    with pytest.raises(TypeError, match="urgency"):
        submit(handle, spec(["true"]), urgency="high")
    with pytest.raises(ValueError, match="urgency"):
        submit(handle, spec(["true"]), urgency=2 ** 40)


def test_pre_signed_submission(handle):
    from flux_ctypes.job import job_info_lookup, wait

    first = submit(handle, spec(["true"]), waitable=True)
    signed = job_info_lookup(handle, first, keys=["J"]).get()["J"]
    again = submit(handle, signed, pre_signed=True, waitable=True)
    assert again != first
    assert wait(handle, first).success and wait(handle, again).success
    with pytest.raises(OSError):
        submit(handle, "not a signed J", pre_signed=True)


def test_jobspec_text_with_nul_or_no_utf8_form_is_refused(handle):
    """C reads the jobspec up to a NUL: a valid jobspec followed by a NUL
    and anything would be submitted silently cut short."""
    text = spec(["true"]).dumps()
    for jobspec in (text + "\0garbage", text.encode() + b"\0", text[:-1] + ', "x": "\ud800"}'):
        with pytest.raises(ValueError, match="jobspec"):
            submit(handle, jobspec, urgency=0)
    js = spec(["true"])
    js.setattr("user.note", "lone \ud800 surrogate")
    with pytest.raises(ValueError, match="jobspec"):
        submit(handle, js, urgency=0)
