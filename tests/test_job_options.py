"""Jobspec.apply_options() and the from_submit/from_alloc/from_batch
builders: flux submit's options, offline."""

import json
import os
import resource
import signal
from types import SimpleNamespace

import pytest

from flux_ctypes.job import BatchConfig, JobspecV1
from flux_ctypes.job._constraint import ConstraintSyntaxError, parse_requires
from flux_ctypes.job._utils import (
    URIArg,
    get_filtered_environment,
    get_filtered_rlimits,
    parse_jobspec_keyval,
    parse_signal_option,
)


def js():
    return JobspecV1.from_command(["hostname"], environment={"KEEP": "1"})


def shell_options(jobspec):
    return jobspec.jobspec["attributes"]["system"].get("shell", {}).get("options", {})


def test_environment_rules(monkeypatch, tmp_path):
    monkeypatch.setenv("OPT_TEST_A", "a")
    monkeypatch.setenv("OPT_TEST_B", "b")
    env, expand = get_filtered_environment(
        ["-*", "OPT_TEST_*", "X=$OPT_TEST_A-x", "-OPT_TEST_B", "R={{rank}}"])
    assert env == {"OPT_TEST_A": "a", "X": "a-x"}
    assert expand == {"R": "{{rank}}"}
    rules = tmp_path / "rules"
    rules.write_text("-*\nY=1\n")
    assert get_filtered_environment(["^" + str(rules)])[0] == {"Y": "1"}
    with pytest.raises(ValueError, match="NOPE"):
        get_filtered_environment(["Z=$NOPE_NOT_SET_ANYWHERE"])
    with pytest.raises(ValueError):
        get_filtered_environment(["^/no/such/file"])


def test_rlimit_rules():
    limits = get_filtered_rlimits()
    assert "memlock" not in limits and "nofile" in limits
    limits = get_filtered_rlimits(["-*", "nofile=100", "core=unlimited"])
    assert limits == {"nofile": 100, "core": resource.RLIM_INFINITY}
    with pytest.raises(ValueError):
        get_filtered_rlimits(["bogus=1"])
    with pytest.raises(ValueError):
        get_filtered_rlimits(["nofile=many"])


def test_signal_keyval_and_uris():
    assert parse_signal_option("USR2@2m") == {"signum": signal.SIGUSR2, "timeleft": 120.0}
    assert parse_signal_option("@30s")["signum"] == signal.SIGUSR1
    with pytest.raises(ValueError, match="--signal"):
        parse_signal_option("NOPE@1s")
    assert parse_jobspec_keyval("--setopt", "flag") == ("flag", 1)
    assert parse_jobspec_keyval("--setopt", "a=[1]") == ("a", [1])
    assert parse_jobspec_keyval("--setopt", "a=text") == ("a", "text")
    entry = URIArg("afterok:f1234?timeout=5&x=a&x=b", "dependency").entry
    assert entry == {"scheme": "afterok", "value": "f1234", "timeout": 5, "x": ["a", "b"]}
    assert URIArg("block", "taskmap").entry == {"scheme": "block", "value": ""}
    with pytest.raises(ValueError):
        URIArg("12:34", "dependency")


@pytest.mark.parametrize("text,expected", [
    ("gpu", {"properties": ["gpu"]}),
    ("gpu ib", {"properties": ["gpu", "ib"]}),
    ("gpu,ib & host:n[1-2]", {"and": [{"properties": ["gpu", "ib"]},
                                      {"hostlist": ["n[1-2]"]}]}),
    ("rank:0 or -gpu", {"or": [{"ranks": ["0"]}, {"not": [{"properties": ["gpu"]}]}]}),
    ("not (a | b)", {"not": [{"or": [{"properties": ["a"]}, {"properties": ["b"]}]}]}),
    ('host:"n1"', {"hostlist": ["n1"]}),
])
def test_requires_language(text, expected):
    assert parse_requires(text) == expected


@pytest.mark.parametrize("text", ["(gpu", "gpu )", "host:", "a | ", "bad$op:x", ""])
def test_requires_syntax_errors(text):
    with pytest.raises(ConstraintSyntaxError):
        parse_requires(text)


def test_apply_options_keywords():
    spec = js().apply_options(
        env=["-*", "A=1"], rlimit=["-*", "nofile=10"], signal="@1m", taskmap="cyclic",
        dependency="afterany:123", requires=["gpu"], shell_options={"verbose": 2},
        time_limit="2m", attributes={"foo": 1, ".user.tag": "t", "system.bar": 2},
        add_file=["notes=one\ntwo\n"])
    assert spec.environment == {"A": "1"}
    opts = shell_options(spec)
    assert opts["rlimit"] == {"nofile": 10} and opts["verbose"] == 2
    assert opts["signal"] == {"signum": signal.SIGUSR1, "timeleft": 60.0}
    assert opts["taskmap"] == {"scheme": "cyclic", "value": ""}
    system = spec.jobspec["attributes"]["system"]
    assert system["dependencies"] == [{"scheme": "afterany", "value": "123"}]
    assert system["constraints"] == {"properties": ["gpu"]}
    assert (system["foo"], system["bar"]) == (1, 2)
    assert spec.jobspec["attributes"]["user"]["tag"] == "t"
    assert spec.duration == 120.0
    assert system["files"]["notes"]["data"] == "one\ntwo\n"


def test_apply_options_namespace_and_precedence(tmp_path):
    value = tmp_path / "v.json"
    value.write_text(json.dumps({"deep": True}))
    ns = SimpleNamespace(setopt=["x=1", "^y=" + str(value)], setattr=["job.name=n"],
                         time_limit="1h", env=["-*"])
    spec = js().apply_options(ns, time_limit=30)
    assert spec.duration == 30.0 and spec.environment == {}
    assert shell_options(spec)["x"] == 1 and shell_options(spec)["y"] == {"deep": True}
    assert spec.getattr("job.name") == "n"


def test_apply_options_leaves_environment_unless_asked():
    spec = js().apply_options(shell_options={"a": 1})
    assert spec.environment == {"KEEP": "1"}
    assert "rlimit" not in shell_options(spec)


def test_apply_options_errors():
    with pytest.raises(TypeError, match="typo"):
        js().apply_options(typo=1)
    with pytest.raises(ValueError, match="--requires"):
        js().apply_options(requires=["(gpu"])
    with pytest.raises(ValueError, match="file name missing"):
        js().apply_options(add_file=["a\nb"])
    with pytest.raises(ValueError):
        js().apply_options(time_limit="1x")


def test_from_submit_alloc_batch(tmp_path):
    spec = JobspecV1.from_submit(["app"], ntasks=8, nodes=2, time_limit="1h",
                                 dependency=["afterok:1"], name="s")
    assert spec.resources[0]["type"] == "node" and spec.duration == 3600.0
    assert "PATH" in spec.environment and "rlimit" in shell_options(spec)
    alloc = JobspecV1.from_alloc(nodes=2, bg=True, conf="resource.noverify=true")
    command = alloc.tasks[0]["command"]
    assert command[:2] == ["flux", "broker"] and "-Sbroker.rc2_none=1" in command
    assert alloc.resources[0]["exclusive"] is True
    files = alloc.jobspec["attributes"]["system"]["files"]
    assert files["conf.json"]["data"] == {"resource": {"noverify": True}}
    assert alloc.cwd == os.getcwd()
    with pytest.raises(ValueError):
        JobspecV1.from_alloc()
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    batch = JobspecV1.from_batch(str(script), wrap=True, conf=BatchConfig().update("a=1"))
    assert batch.getattr("job.name") == "job.sh" and batch.output == "flux-{{id}}.out"
    data = batch.jobspec["attributes"]["system"]["files"]["script"]["data"]
    assert data.startswith("#!/bin/sh\n")
    with pytest.raises(ValueError):
        JobspecV1.from_batch(content="no shebang\n")
    with pytest.raises(TypeError):
        JobspecV1.from_batch()
    with pytest.raises(TypeError):
        JobspecV1.from_batch(str(script), content="#!/bin/sh\n")
