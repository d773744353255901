"""FLUX_CTYPES_TRACE=1: every libflux-core call is written to stderr with
its arguments and its result, or the exception it raised."""

import errno
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = r"""
import ctypes
import flux_ctypes
from flux_ctypes.lib import lib
h = flux_ctypes.Flux()
print("ping", h.rpc("broker.ping", {"seq": 7}, nodeid=0).get()["seq"])
try:
    h.rpc("no.such.service").get()
except OSError as exc:
    print("rpc errno", exc.errno)
try:
    flux_ctypes.Flux("local:///nonexistent/flux-ctypes-trace")
except OSError as exc:
    print("open errno", exc.errno)
try:
    lib.flux_msg_get_type("not a message", None)
except ctypes.ArgumentError:
    print("argument error")
h.log(7, "100% traced")
del h
import gc  # PyPy frees the futures (and then the handle) only when collected
for _ in range(4):
    gc.collect()
print("done")
"""

ADDR = r"<\w+ 0x([0-9a-f]+)>"  # how a non-NULL pointer is shown


def run(flux_uri, trace):
    env = dict(os.environ, FLUX_URI=flux_uri, PYTHONPATH=ROOT)
    env.pop("FLUX_CTYPES_TRACE", None)
    if trace is not None:
        env["FLUX_CTYPES_TRACE"] = trace
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, timeout=60,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n") == [
        "ping 7", "rpc errno {}".format(errno.ENOSYS),
        "open errno {}".format(errno.ENOENT), "argument error", "done", "",
    ]
    return [line for line in proc.stderr.splitlines() if line.startswith("flux_ctypes: ")]


def find(lines, pattern):
    """The match of the first trace line matching ``pattern`` (a regex
    for what follows the "flux_ctypes: " prefix)."""
    regex = re.compile(r"flux_ctypes: " + pattern + r"$")
    for line in lines:
        match = regex.match(line)
        if match:
            return match
    pytest.fail("no trace line matches {!r} in:\n{}".format(pattern, "\n".join(lines)))


@pytest.fixture(scope="module")
def traced(flux_uri):
    return run(flux_uri, "1")


def test_call_arguments_and_results(traced):
    opened = find(traced, r"flux_open_ex\(None, 0, .*\) = " + ADDR)
    hexh = opened.group(1)
    rpc = find(
        traced,
        r"flux_rpc\(<\w+ 0x" + hexh + r">, b'broker.ping', b'\{\"seq\": 7\}', 0, 0\) = "
        + ADDR,
    )
    hexf = rpc.group(1)
    find(traced, r"flux_rpc_get\(<\w+ 0x" + hexf + r">, .*\) = 0")
    find(traced, r"flux_future_destroy\(<\w+ 0x" + hexf + r">\) = None")
    # variadic flux_log: the fixed "%s" format and the text as given
    find(traced, r"flux_log\(<\w+ 0x" + hexh + r">, 7, b'%s', b'100% traced'\) = 0")
    find(traced, r"flux_close\(<\w+ 0x" + hexh + r">\) = None")


def test_failed_calls_are_traced_as_raised(traced):
    rpc = find(traced, r"flux_rpc\(" + ADDR + r", b'no.such.service', None, 4294967295, 0\) = "
               + ADDR)
    hexf = rpc.group(2)
    find(traced, r"flux_rpc_get\(<\w+ 0x" + hexf + r">, .*\) -> raised OSError\({}, .*\)".format(
        errno.ENOSYS))
    # the error text is read next, and shown as the bytes C returned
    find(traced, r"flux_future_error_string\(<\w+ 0x" + hexf + r">\) = b'.*no.such.service.*'")
    find(traced, r"flux_open_ex\(b'local:///nonexistent/flux-ctypes-trace', 0, .*\) "
                 r"-> raised (OSError|FileNotFoundError)\({}, .*\)".format(errno.ENOENT))
    find(traced, r"flux_msg_get_type\('not a message', None\) -> raised ArgumentError\(.*\)")


def test_every_trace_line_is_a_call(traced):
    call = re.compile(r"flux_ctypes: (flux_\w+)\(.*\) (= .*|-> raised \w+\(.*\))$")
    for line in traced:
        assert call.match(line), line
    names = {call.match(line).group(1) for line in traced}
    assert {"flux_open_ex", "flux_rpc", "flux_rpc_get", "flux_close"} <= names


@pytest.mark.parametrize("value", [None, "", "0"])
def test_off_unless_asked(flux_uri, value):
    assert run(flux_uri, value) == []
