"""flux_ctypes.job.Jobspec: building, checking and editing jobspecs (RFC 14
and 25) — pure Python, no library or instance needed."""

import datetime
import json
import os
import pathlib

import pytest

from flux_ctypes.job import Jobspec, JobspecV1, validate_jobspec
from flux_ctypes.job.Jobspec import fsd, parse_fsd

pytestmark = pytest.mark.offline

BASIC = {
    "version": 1,
    "resources": [{"type": "slot", "count": 1, "label": "task",
                   "with": [{"type": "core", "count": 1}]}],
    "tasks": [{"command": ["app"], "slot": "task", "count": {"per_slot": 1}}],
    "attributes": {"system": {"duration": 0}},
}


def basic():
    return JobspecV1(**json.loads(json.dumps(BASIC)))


@pytest.mark.parametrize("text,seconds", [
    ("0", 0.0), ("10", 10.0), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0),
    ("0.5d", 43200.0), ("250ms", 0.25),
])
def test_parse_fsd(text, seconds):
    assert parse_fsd(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10h5m", "-1", "1f", "", "s", "nan"])
def test_parse_fsd_rejects(text):
    with pytest.raises(ValueError):
        parse_fsd(text)


def test_fsd_formats():
    assert fsd(30) == "30s"
    assert fsd(90) == "1.5m"
    assert fsd(7200) == "2h"


def test_duration_setter():
    js = basic()
    for value in (100, 100.5, "100.5s", datetime.timedelta(seconds=100.5)):
        js.duration = value
        assert isinstance(js.duration, float)
    js.duration = "10m"
    assert js.duration == 600.0
    for bad in (-1, "10h5m", datetime.timedelta(seconds=-5), "inf", float("nan")):
        with pytest.raises(ValueError):
            js.duration = bad
    for bad in ([], {}, None):
        with pytest.raises(TypeError):
            js.duration = bad


def test_cwd_environment_queue():
    js = basic()
    js.cwd = pathlib.PurePosixPath("/tmp") if False else pathlib.Path("/tmp")
    assert js.cwd == "/tmp"
    with pytest.raises(ValueError):
        js.cwd = 5
    js.environment = {"A": "1"}
    assert js.environment == {"A": "1"}
    with pytest.raises(ValueError):
        js.environment = "A=1"
    js.queue = "batch"
    assert js.queue == "batch" and js.getattr("system.queue") == "batch"
    with pytest.raises(TypeError):
        js.queue = 3


def test_stdio_paths_and_aliases():
    js = basic()
    for name, alias in (("input", "stdin"), ("output", "stdout"), ("error", "stderr")):
        assert getattr(js, name) is None
        setattr(js, name, "/tmp/x." + name)
        assert getattr(js, alias) == "/tmp/x." + name
        with pytest.raises(TypeError):
            setattr(js, name, None)
    assert js.getattr("shell.options.output.stdout.type") == "file"


def test_unbuffered_sets_and_clears_only_its_own_values():
    js = basic()
    with pytest.raises(TypeError):
        js.unbuffered = 1
    js.unbuffered = True
    assert js.unbuffered
    assert js.getattr("shell.options.output.batch-timeout") == 0.05
    js.unbuffered = False
    assert not js.unbuffered
    with pytest.raises(KeyError):
        js.getattr("shell.options.output.batch-timeout")
    js.unbuffered = True
    js.setattr_shell_option("output.batch-timeout", 1.0)
    js.unbuffered = False
    assert js.getattr("shell.options.output.batch-timeout") == 1.0


def test_setattr_key_defaults():
    js = basic()
    js.setattr("cow", 1)
    js.setattr("user.dog", 3)
    js.setattr("attributes.goat", 6)
    assert js.getattr("attributes.system.cow") == 1
    assert js.getattr("system.cow") == 1
    assert js.getattr("user.dog") == 3
    assert js.jobspec["attributes"]["goat"] == 6
    with pytest.raises(KeyError):
        js.getattr("nope")
    with pytest.raises(TypeError):
        js.setattr("cow.calf", 2)  # cow is a number, not a table


def test_repr_evaluates_back():
    js = basic()
    js.cwd = "/a"
    assert eval(repr(js)).jobspec == js.jobspec
    assert str(js) == str(js.jobspec)


def test_iter_walk_and_counts():
    js = JobspecV1.from_command(["x"], num_tasks=4, cores_per_task=2, num_nodes=2)
    assert [r["type"] for r in js] == ["node", "slot", "core"]
    assert js.resource_counts() == {"node": 2, "slot": 4, "core": 8}
    assert [count for _, _, count in js.resource_walk()] == [2, 4, 8]


def test_from_command_shapes():
    js = JobspecV1.from_command(["hostname"], num_tasks=3, num_nodes=2)
    assert js.tasks[0]["count"] == {"total": 3}
    assert js.resources[0]["with"][0]["count"] == 2
    js = JobspecV1.from_command(["hostname"], num_tasks=2, gpus_per_task=1,
                                environment={})
    assert js.resources[0]["with"][1] == {"type": "gpu", "count": 1}
    assert js.environment == {}
    assert JobspecV1.from_command(["x"]).environment == dict(os.environ)
    for kwargs in ({"num_tasks": 0}, {"cores_per_task": 0}, {"num_nodes": 2},
                   {"exclusive": True}, {"duration": "1f"}, {"environment": "foo"},
                   {"env_expand": 1}, {"rlimits": True}, {"gpus_per_task": -1}):
        with pytest.raises(ValueError):
            JobspecV1.from_command(["x"], **kwargs)


def test_from_command_options():
    js = JobspecV1.from_command(
        ["x"], name="n", duration="1m", cwd="/c", output="o", error="e",
        label_io=True, unbuffered=True, queue="q", bank="b", rlimits={"nofile": 10},
        env_expand={"X": "{{id}}"})
    assert js.duration == 60.0
    assert js.getattr("job.name") == "n"
    assert (js.output, js.error, js.cwd) == ("o", "e", "/c")
    assert js.getattr("shell.options.output.stderr.label") is True
    assert js.getattr("shell.options.rlimit") == {"nofile": 10}
    assert js.getattr("system.bank") == "b" and js.queue == "q"
    # "kvs"/"none" leave output in the KVS
    assert JobspecV1.from_command(["x"], output="kvs").output is None


def test_nest_and_batch_commands():
    js = JobspecV1.from_nest_command(["sleep", "0"], conf={"a": 1})
    command = js.tasks[0]["command"]
    assert command[:2] == ["flux", "broker"] and "-c{{tmpdir}}/conf.json" in command
    assert js.getattr("system.files")["conf.json"]["data"] == {"a": 1}
    js = JobspecV1.from_batch_command("#!/bin/sh\ntrue\n", "myjob", args=["a"])
    assert js.tasks[0]["command"][-2:] == ["{{tmpdir}}/script", "a"]
    script = js.getattr("system.files")["script"]
    assert script["encoding"] == "utf-8" and script["mode"] & 0o777 == 0o700
    assert js.getattr("job.name") == "myjob"
    with pytest.raises(ValueError):
        JobspecV1.from_batch_command("true", "noshebang")


def test_per_resource():
    js = JobspecV1.per_resource(["x"], ncores=4, nnodes=2, per_resource_type="node",
                                per_resource_count=2)
    assert js.getattr("shell.options.per-resource") == {"type": "node", "count": 2}
    assert js.resource_counts()["core"] == 4
    with pytest.raises(ValueError):
        JobspecV1.per_resource(["x"], nnodes=2)
    with pytest.raises(ValueError):
        JobspecV1.per_resource(["x"], ncores=3, nnodes=2)


def test_add_file(tmp_path):
    js = basic()
    js.add_file("inline", "a\nb\n")
    assert js.getattr("system.files")["inline"]["data"] == "a\nb\n"
    local = tmp_path / "f.bin"
    local.write_bytes(b"\xff\x00")
    js.add_file("bin", str(local))
    assert js.getattr("system.files")["bin"]["encoding"] == "base64"
    with pytest.raises(TypeError):
        js.add_file("x", 5)


@pytest.mark.parametrize("change,error", [
    (lambda d: d.update(version=2), ValueError),
    (lambda d: d["attributes"]["system"].pop("duration"), ValueError),
    (lambda d: d["attributes"]["system"].update(duration="1h"), ValueError),
    (lambda d: d["resources"][0].pop("label"), ValueError),
    (lambda d: d["resources"][0].update(count=0), ValueError),
    (lambda d: d["resources"][0].update(count="1-"), ValueError),
    (lambda d: d["resources"][0].update(count=1.5), TypeError),
    (lambda d: d["tasks"][0].update(command="app"), TypeError),
    (lambda d: d["tasks"][0].update(command=[]), TypeError),
    (lambda d: d["tasks"][0].update(count={"per_slot": 0}), ValueError),
    (lambda d: d["tasks"][0].update(count={}), ValueError),
    (lambda d: d["attributes"].update(other={}), ValueError),
    (lambda d: d["attributes"]["system"].update(constraints={"bogus": []}), TypeError),
    (lambda d: d["attributes"]["system"].update(dependencies=[{"scheme": 1, "value": "x"}]),
     TypeError),
])
def test_invalid_jobspecs_say_why(change, error):
    data = json.loads(json.dumps(BASIC))
    change(data)
    with pytest.raises(error):
        JobspecV1(**data)


def test_count_strings_and_ranges_in_canonical_jobspec():
    data = json.loads(json.dumps(BASIC))
    data["version"] = 999
    data["resources"][0]["count"] = "2-4:2:*"
    Jobspec(**data)
    data["resources"][0]["count"] = {"min": 1, "max": 4, "operator": "+", "operand": 1}
    Jobspec(**data)
    data["resources"][0]["count"] = {"min": 4, "max": 1}
    with pytest.raises(ValueError):
        Jobspec(**data)


def test_validate_jobspec_and_yaml():
    ok, js = validate_jobspec(json.dumps(BASIC))
    assert ok and isinstance(js, JobspecV1)
    with pytest.raises(ValueError):
        validate_jobspec("{not json")
    pytest.importorskip("yaml")
    js = Jobspec.from_yaml_stream(json.dumps(BASIC))
    assert js.version == 1
    with pytest.raises(ValueError):
        Jobspec.from_yaml_stream("- a list")
    with pytest.raises(ValueError):
        Jobspec.from_yaml_stream("version: 1\nresources: []\ntasks: []\n")


@pytest.mark.parametrize("stream, error, words", [
    ("version: 1\n\0", ValueError, "yaml_stream"),
    ("{a: [1", ValueError, "yaml_stream"),
    (42, TypeError, "yaml_stream"),
    ({"version": 1}, TypeError, "yaml_stream"),
])
def test_from_yaml_stream_bad_input_names_the_parameter(stream, error, words):
    """Malformed YAML (PyYAML's own errors are no ValueError) and things
    that are neither text nor a file are clear errors."""
    pytest.importorskip("yaml")
    with pytest.raises(error, match=words):
        Jobspec.from_yaml_stream(stream)


@pytest.mark.parametrize("call", [
    lambda js: js.getattr(1),
    lambda js: js.setattr(None, 5),
    lambda js: js.setattr_shell_option(2, True),
])
def test_attribute_keys_must_be_text(call):
    js = JobspecV1.from_command(["true"])
    with pytest.raises(TypeError, match="key must be a str"):
        call(js)
