"""flux_ctypes.job._utils, .timeleft, .kvs and the compat shim's flux.job."""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest

from _jobs import unique
from flux_ctypes.job import BatchConfig, JobspecV1, submit, timeleft, wait
from flux_ctypes.job._utils import decode_duration, decode_signal
from flux_ctypes.job.kvs import job_kvs_guest_key, job_kvs_key

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_decode_signal_and_duration():
    assert decode_signal(10) == 10 and decode_signal("10") == 10
    assert decode_signal("SIGUSR1") == decode_signal("USR1") == signal.SIGUSR1
    with pytest.raises(ValueError):
        decode_signal("NOTASIGNAL")
    assert decode_duration("2m") == 120.0 and decode_duration(3) == 3.0


def test_batch_config(tmp_path):
    conf = BatchConfig()
    assert conf.config is None
    conf.update("resource.noverify=true").update("a.b=x")
    assert conf.config == {"resource": {"noverify": True}, "a": {"b": "x"}}
    conf.update('{"a": {"c": 1}}\n')
    assert conf.get("a.c") == 1 and conf.get("a.b") == "x"
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"z": 2}))
    conf.update(str(path))
    assert conf.get("z") == 2 and conf.get("nope", "d") == "d"
    with pytest.raises(ValueError):
        conf.update("not json or toml\n\n")
    with pytest.raises(ValueError):
        conf.update("no-such-named-config-" + unique())


def test_kvs_keys():
    pytest.importorskip("flux_ctypes.lib").load_library()
    assert job_kvs_key(1) == "job.0000.0000.0000.0001"
    assert job_kvs_key(1, "") == "job.0000.0000.0000.0001."
    assert job_kvs_key(1, "eventlog") == "job.0000.0000.0000.0001.eventlog"
    assert job_kvs_guest_key(1, "x").endswith("x")


def test_timeleft_inside_job_with_limit(handle, tmp_path):
    out = tmp_path / "left"
    code = ("import sys; sys.path.insert(0, {!r}); from flux_ctypes.job import timeleft; "
            "print(timeleft())").format(ROOT)
    js = JobspecV1.from_command([sys.executable, "-c", code], duration="10m",
                                output=str(out), name=unique())
    jobid = submit(handle, js, waitable=True)
    assert wait(handle, jobid).success
    assert 0 < float(out.read_text()) <= 600


def test_timeleft_outside_any_job(handle):
    from flux_ctypes import version_tuple

    if version_tuple() >= (0, 83):
        # the enclosing instance's time left: the test instance has no limit
        # (flux-core commit 3d125f774, "fix flux_job_timeleft() for foreign
        # resource managers", first in 0.83)
        assert timeleft(handle) == float("inf")
    else:
        with pytest.raises(OSError, match="Flux jobid") as info:
            timeleft(handle)
        assert info.value.errno == errno.ENOENT
    with pytest.raises(TypeError):
        timeleft("not a handle")


def test_compat_shim_serves_flux_job(flux_uri):
    code = (
        "import flux, flux.job\n"
        "from flux.job import JobspecV1, JobID\n"
        "from flux.job.list import job_list\n"
        "h = flux.Flux()\n"
        "jobid = flux.job.submit(h, JobspecV1.from_command(['true']), waitable=True)\n"
        "print(type(jobid).__module__, flux.job.wait(h, jobid).success)\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "flux_ctypes.compat", "-c", code],
                          env=env, timeout=60, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["flux_ctypes.job.JobID", "True"]
