"""flux_ctypes.job.kill: signals, cancellation and job exceptions."""

import errno
import os
import signal

import pytest

from helpers import inactive_info, unique
from flux_ctypes.job import (
    JobspecV1,
    cancel_async,
    event_wait,
    job_raise,
    kill,
    kill_async,
    submit,
    wait,
)


def running(handle, command):
    jobid = submit(handle, JobspecV1.from_command(command, name=unique()), waitable=True)
    event_wait(handle, jobid, "start")
    event_wait(handle, jobid, "shell.start", eventlog="guest.exec.eventlog")
    return jobid


def test_kill_with_signal(handle):
    jobid = running(handle, ["sleep", "300"])
    kill(handle, jobid, signum=signal.SIGKILL)
    assert wait(handle, jobid).success is False
    status = inactive_info(handle, jobid).waitstatus
    assert (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL) or \
        (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGKILL)


def test_kill_async_default_sigterm(handle):
    jobid = running(handle, ["sleep", "300"])
    kill_async(handle, jobid).get()
    assert wait(handle, jobid).success is False
    assert inactive_info(handle, jobid).returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)


def test_cancel_async_reason_and_raise(handle):
    jobid = submit(handle, JobspecV1.from_command(["true"], name=unique()), urgency=0,
                   waitable=True)
    job_raise(handle, jobid, "mytype", severity=0, note="raised by test")
    info = wait(handle, jobid)
    assert info.success is False and b"mytype" in info.errstr
    exc = inactive_info(handle, jobid).exception
    assert (exc.type, exc.note, exc.severity) == ("mytype", "raised by test", 0)
    with pytest.raises(OSError):  # inactive now
        cancel_async(handle, jobid, "late").get()


def test_errors(handle):
    with pytest.raises(ValueError):
        kill(handle, "abc")
    with pytest.raises(OSError) as info:
        kill(handle, 123)
    assert info.value.errno == errno.EINVAL and "unknown job id" in str(info.value)
    with pytest.raises(ValueError, match="signum"):
        kill(handle, 123, signum=1000)
    with pytest.raises(TypeError, match="exc_type"):
        job_raise(handle, 123, None)
    with pytest.raises(OverflowError):
        kill(handle, 2 ** 64)


@pytest.mark.parametrize("exc_type, note, name", [
    ("\ud800", None, "exc_type"),
    ("test", "a lone surrogate \udfff", "note"),
])
def test_text_that_is_no_utf8_is_a_valueerror_naming_it(handle, exc_type, note, name):
    """A lone surrogate has no UTF-8 form: a ValueError naming the
    parameter, not a UnicodeEncodeError from the encoder."""
    with pytest.raises(ValueError, match=name) as info:
        job_raise(handle, 123, exc_type, note=note)
    assert not isinstance(info.value, UnicodeError)
