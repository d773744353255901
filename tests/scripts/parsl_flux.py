"""Parsl's FluxExecutor, as a Parsl user writes it: a python app, a bash
app with output to a file, and a failing bash app's exit code.  Prints one
JSON line of what it saw.  (Run by tests/test_tools.py; unchanged Parsl.)"""
import json
import os
import sys

import parsl
from parsl.app.app import bash_app, python_app
from parsl.app.errors import BashExitFailure
from parsl.config import Config
from parsl.executors import FluxExecutor

workdir = sys.argv[1]


@python_app
def add(a, b):
    return a + b


@bash_app
def greet(name, stdout=None):
    return "echo hello " + name


@bash_app
def fail():
    return "exit 7"


parsl.load(Config(executors=[FluxExecutor(label="flux", working_dir=workdir)],
                  run_dir=os.path.join(workdir, "runinfo")))
report = {}
try:
    report["add"] = add(2, 3).result(timeout=300)
    out = os.path.join(workdir, "greet.out")
    report["greet_rc"] = greet("flux", stdout=out).result(timeout=300)
    with open(out) as f:
        report["greet_out"] = f.read().strip()
    try:
        fail().result(timeout=300)
    except BashExitFailure as exc:
        report["fail_exitcode"] = exc.exitcode
    import flux
    report["flux_ctypes"] = getattr(flux, "__flux_ctypes__", False)
finally:
    parsl.dfk().cleanup()
print(json.dumps(report))
