#!/usr/bin/env python3
"""Random values into every public method of flux_ctypes' core, to show
that nothing a caller passes can kill the process.

    python3 scripts/fuzz.py --batches 100 --calls 300      # needs FLUX_URI
    flux start --test-size=1 python3 scripts/fuzz.py ...

Each batch runs in its own child process (killed when it exceeds
--timeout): it builds a pool of live and closed objects (handles, messages,
futures, RPCs, watchers, a reactor pointer) and makes --calls calls, each a
random public method (of Flux, Message, Future/RPC/FutureExt/WaitAllFuture,
the watchers, or a libflux-core function through the raw layer ``h.xyz()``)
with random arguments: -1, 2**32, NaN, inf, "%n", NUL bytes, huge strings,
wrong wrapper objects, closed objects, callables of the wrong arity...

A batch *crashed* when its child died of a signal or exited without its
report; it *hung* when it was killed on timeout.  A call that raised
ctypes.ArgumentError, or an exception other than TypeError, ValueError,
OverflowError, OSError or AttributeError (or what a fuzzed callback raised
itself), is reported as *unexpected*.  Children run with glibc's
MALLOC_PERTURB_, so that a use after free tends to crash.

Calls that block by contract (reactor_run without NOWAIT, recv without
NONBLOCK, get() of an unfulfilled future) are made in their non-blocking
form, so a hang is a bug, not a wait.  ``Flux(handle=<int>)`` (an address,
trusted as flux's module loader passes it) is not fuzzed.

``--group`` picks what is fuzzed: ``core`` (the above, the default), or
one of the services (``job``, ``kvs``, ``hostlist``, ``idset``,
``resource``; see scripts/fuzz_services.py), or ``all`` (each group in
turn, --batches each).  For the services the bar is higher: AttributeError
is a finding too, and so is an accepted exception without a message.

Prints one JSON line: batches, calls, crashes, hangs, unexpected, and the
last calls of each failing batch (per group with ``--group all``).  A
child logs each call to stderr; with FLUX_CTYPES_FUZZ_STATS=1 the service
groups log each outcome too (``--child --seed N`` replays one batch).
"""

import argparse
import ctypes
import inspect
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = (TypeError, ValueError, OverflowError, OSError, AttributeError)
GROUPS = ("core", "job", "kvs", "hostlist", "idset", "resource")
SERVICE_EXPECTED = ()  # type: tuple  # set by child_service()
SERVICE_GROUPS = GROUPS[1:]


# --- the child ---------------------------------------------------------------
POOL_BIAS = 0.35  # how often an argument is one of the pool's objects


def _values(rng, pool):
    """One random argument value."""
    choices = [
        -1, 0, 1, 2, 7, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 32 - 1, -(2 ** 63), 2 ** 64,
        10 ** 30, float("nan"), float("inf"), float("-inf"), -0.5, 0.0, 0.001, 1e308,
        True, False, None, "", "%n", "%s%s%s%n", "a\0b", b"a\0b", b"\xff\xfe", "\udcff",
        "x" * 100000, b"y" * 70000, "broker.ping", "test.*", "*", '{"a": 1}', "[1,2",
        [], {}, {"a": [1, {"b": None}]}, (1, 2), object(), 3.5j, bytearray(b"zz"),
        lambda: None, lambda *a, **k: None, lambda a, b, c, d, e, f: None,
        lambda *a: 1 / 0, print,
        ctypes.c_int(3), ctypes.c_void_p(), ctypes.create_string_buffer(8),
        ctypes.POINTER(ctypes.c_int)(),
    ]
    if pool and rng.random() < POOL_BIAS:
        obj = rng.choice(pool)
        if rng.random() < 0.15:
            return getattr(obj, "handle", obj)  # its raw pointer (or None, closed)
        return obj
    return rng.choice(choices)


def _public_methods(obj):
    names = []
    for name in dir(type(obj)):
        if name.startswith("_"):
            continue
        try:
            attr = getattr(type(obj), name)
        except AttributeError:
            continue
        if callable(attr) or isinstance(attr, property):
            names.append(name)
    return names


def _arity(func):
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return 3
    return sum(
        1 for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


# Methods whose blocking form waits by contract: the fuzzer calls them in
# their non-blocking form (see _nonblocking).
FUTURE_WAITS = {"get", "get_str", "wait_for", "__await__"}
# Raw-layer functions that block by contract.
RAW_BLOCKING = {
    "flux_future_wait_for", "flux_future_get", "flux_rpc_get", "flux_rpc_get_raw",
    "flux_event_publish_get_seq", "flux_recv", "flux_reactor_run", "flux_barrier",
}


def child(seed, calls, uri):
    import faulthandler

    faulthandler.enable()
    sys.path.insert(0, ROOT)
    import flux_ctypes
    from flux_ctypes import Flux, FutureExt, Message, WaitAllFuture, constants
    from flux_ctypes.future import Future
    from flux_ctypes.inner import raw
    from flux_ctypes.lib import TABLE

    rng = random.Random(seed)
    report = {"calls": 0, "ok": 0, "refused": {}, "unexpected": []}
    rfd, wfd = os.pipe()

    def build():
        h = Flux(uri)
        h2 = Flux(uri)
        closed_h = Flux(uri)
        closed_h.close()
        m = Message()
        ev = Message.from_event_encode("fuzz.event", {"x": 1})
        closed_m = Message()
        closed_m.close()
        ping = h.rpc("broker.ping", {"seq": 1})
        never = h.rpc("fuzz.nosuchservice")
        closed_f = h.rpc("broker.ping")
        closed_f.close()
        ext = FutureExt(lambda f: f.fulfill({"v": 1}))
        raw_f = Future(h.future_create(None, None))
        wall = WaitAllFuture()
        timer = h.timer_watcher_create(1000, lambda *a: None)
        idle = h.idle_watcher_create()
        fdw = h.fd_watcher_create(rfd, lambda *a: None)
        sig = h.signal_watcher_create(signal.SIGUSR2, lambda *a: None)
        mw = h.msg_watcher_create(lambda *a: None, constants.FLUX_MSGTYPE_EVENT, "fuzz.*")
        closed_w = h.timer_watcher_create(1, lambda *a: None)
        closed_w.destroy()
        reactor = h.get_reactor()
        objs = [h, h2, closed_h, m, ev, closed_m, ping, never, closed_f, ext, raw_f, wall,
                timer, idle, fdw, sig, mw, closed_w, reactor]
        return objs

    objs = build()
    raw_names = sorted(TABLE)
    future_fns = [n for n in raw_names if n.startswith(("flux_future_", "flux_rpc_"))]
    for i in range(calls):
        if rng.random() < 0.03:
            objs = build()
        h = objs[0]
        kind = rng.random()
        if kind < 0.08:
            # flux.core.inner.raw: every argument given, the handle too
            fname = rng.choice(raw_names)
            if fname in RAW_BLOCKING:
                continue
            nargs = max(0, len(TABLE[fname].argtypes) + rng.choice([0, 0, 0, -1, 1]))
            target = getattr(raw, fname)
            label = "raw." + fname
        elif kind < 0.3 and not h.closed:
            # the raw layer: a libflux-core function through the handle
            fname = rng.choice(raw_names)
            if fname in RAW_BLOCKING:
                continue
            fn = TABLE[fname]
            nargs = len(fn.argtypes) - (1 if fn.argtypes and fn.argtypes[0] is type(h.cptr) else 0)
            nargs = max(0, nargs + rng.choice([0, 0, 0, 0, -1, 1]))
            target = getattr(h, fname[5:], None)
            label = "h." + fname[5:]
        elif kind < 0.38:
            # a future's own functions, the official way: future.pimpl.xyz()
            fut = rng.choice([o for o in objs if isinstance(o, Future)])
            fname = rng.choice(future_fns)
            if fname in RAW_BLOCKING:
                continue
            nargs = max(0, len(TABLE[fname].argtypes) - 1 + rng.choice([0, 0, 0, -1, 1]))
            label = "{}.pimpl.{}".format(type(fut).__name__, fname)
            try:
                target = getattr(fut.pimpl, fname)
            except AttributeError:  # masked: the function takes no future first
                continue
        elif kind < 0.43:
            cls = rng.choice([Flux, Message, FutureExt, WaitAllFuture, Future])
            target, label, nargs = cls, cls.__name__, rng.randint(0, 3)
        else:
            obj = rng.choice(objs[:-1])
            names = _public_methods(obj)
            name = rng.choice(names)
            label = "{}.{}".format(type(obj).__name__, name)
            attr = getattr(type(obj), name)
            if isinstance(attr, property):
                # a property: read it, or assign it a random value
                if attr.fset is not None and rng.random() < 0.5:
                    value = _values(rng, objs)
                    _log(label + " = " + _short(value))
                    report["calls"] += 1
                    _call(report, label, lambda: setattr(obj, name, value))
                else:
                    _log(label)
                    report["calls"] += 1
                    _call(report, label, lambda: getattr(obj, name))
                continue
            target = getattr(obj, name)
            nargs = max(0, _arity(target) + rng.choice([0, 0, 0, -1, 1]))
            if name in FUTURE_WAITS:
                if name == "__await__":
                    continue
                if name == "wait_for":
                    nargs = 1
                elif not _ready(obj):
                    continue
        if target is None:
            continue
        args = [_values(rng, objs) for _ in range(nargs)]
        kwargs = {}
        args = _nonblocking(label, args, kwargs)
        if args is None:
            continue
        if label in ("Flux",) and len(args) >= 3:
            args = args[:2]  # Flux(url, flags, handle=<int>) trusts an address
        _log("{}({})".format(label, ", ".join(_short(a) for a in args)))
        report["calls"] += 1
        _call(report, label, lambda: target(*args, **kwargs))
        if rng.random() < 0.2 and not h.closed:
            _call(report, "reactor_run(NOWAIT)",
                  lambda: h.reactor_run(flags=constants.FLUX_REACTOR_NOWAIT))
    os.close(rfd)
    os.close(wfd)
    del objs
    import gc

    gc.collect()
    return report


def child_service(group, seed, calls, uri):
    import faulthandler

    faulthandler.enable()
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import fuzz_services

    global SERVICE_EXPECTED
    SERVICE_EXPECTED = fuzz_services.EXPECTED_SERVICE
    rng = random.Random(seed)
    report = {"calls": 0, "ok": 0, "refused": {}, "unexpected": []}
    gen = fuzz_services.Gen(rng, lambda r: _values(r, []))
    fuzz_services.run_group(group, rng, gen, report, calls, _call_service, _log, uri)
    import gc

    gc.collect()
    return report


def _call_service(report, label, thunk):
    """_call() with the services' bar: only the documented exceptions, and
    each with a message."""
    from flux_ctypes.job import JobException

    try:
        thunk()
        report["ok"] += 1
        if os.environ.get("FLUX_CTYPES_FUZZ_STATS"):
            _log("  -> ok")
    except ctypes.ArgumentError as exc:
        report["unexpected"].append("{}: ctypes.ArgumentError: {}".format(label, exc))
    except ZeroDivisionError:
        report["refused"]["callback raised"] = report["refused"].get("callback raised", 0) + 1
    except BaseException as exc:  # noqa: B902 - judged below
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        accepted = isinstance(exc, SERVICE_EXPECTED + (JobException,))
        # UnicodeError is a ValueError, but a finding when it leaks from the
        # internals; so is AttributeError, unless it is also a TypeError
        # (kvs.RawValueTypeError is both, documented)
        leaked = isinstance(exc, (UnicodeError, RecursionError)) or (
            isinstance(exc, AttributeError) and not isinstance(exc, TypeError))
        text = str(exc).strip()
        if os.environ.get("FLUX_CTYPES_FUZZ_STATS"):
            _log("  -> {}: {}".format(type(exc).__name__, text[:100]))
        if accepted and not leaked and text and not text.isdigit():
            key = type(exc).__name__
            report["refused"][key] = report["refused"].get(key, 0) + 1
            return
        why = " (no message)" if accepted and not leaked else ""
        report["unexpected"].append("{}: {}: {!r}{}\n{}".format(
            label, type(exc).__name__, text[:300], why, traceback.format_exc(limit=6)))


def _raise(exc):
    raise exc


def _ready(obj):
    try:
        return obj.is_ready()
    except Exception:
        return True  # closed: get() must refuse it cleanly


def _nonblocking(label, args, kwargs):
    """The non-blocking form of calls that wait by contract."""
    from flux_ctypes import constants

    def nowait(index, flag):
        # flags that are a valid int (bools included) get the non-blocking
        # bit; anything else must be refused before C is called at all
        if len(args) > index and isinstance(args[index], int):
            if INT_MIN <= args[index] <= INT_MAX:
                args[index] = int(args[index]) | flag
        elif len(args) <= index:
            kwargs["flags"] = flag

    if label.endswith(".reactor_run"):
        nowait(1, constants.FLUX_REACTOR_NOWAIT)
    elif label.endswith(".recv"):
        nowait(3, constants.FLUX_O_NONBLOCK)
    elif label.endswith(".event_recv"):
        return None  # blocks by contract, and has no non-blocking form
    elif label.endswith(".wait_for"):
        if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool):
            if math.isnan(args[0]):
                pass
            elif args[0] < 0 or args[0] > 0.01:
                args[0] = 0.001
    return args


INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1


def _call(report, label, thunk):
    try:
        thunk()
        report["ok"] += 1
    except ctypes.ArgumentError as exc:
        report["unexpected"].append("{}: ctypes.ArgumentError: {}".format(label, exc))
    except EXPECTED as exc:
        key = type(exc).__name__
        report["refused"][key] = report["refused"].get(key, 0) + 1
    except ZeroDivisionError:
        report["refused"]["callback raised"] = report["refused"].get("callback raised", 0) + 1
    except BaseException as exc:  # noqa: B902 - everything else is a finding
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        report["unexpected"].append("{}: {}: {}\n{}".format(
            label, type(exc).__name__, exc, traceback.format_exc(limit=4)))


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _log(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --- the parent --------------------------------------------------------------
def run(batches, calls, timeout, seed, uri, python, group="core"):
    summary = {"interpreter": python, "group": group, "batches": 0, "calls": 0, "crashes": 0, "hangs": 0,
               "unexpected": 0, "failures": []}
    start = time.monotonic()
    for batch in range(batches):
        bseed = seed + batch
        cmd = [python, os.path.abspath(__file__), "--child", "--seed", str(bseed),
               "--calls", str(calls), "--uri", uri, "--pool-bias", str(POOL_BIAS),
               "--group", group]
        # glibc fills freed memory with garbage: a use after free shows
        env = dict(os.environ, MALLOC_PERTURB_="165")
        # errors="replace": the child's log repeats fuzzed text, which may
        # not be UTF-8 (a surrogate-escaped byte), and must not kill this
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, errors="replace",
                                start_new_session=True, env=env)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            summary["hangs"] += 1
            summary["failures"].append({"seed": bseed, "what": "hang", "last": err.splitlines()[-3:]})
            summary["batches"] += 1
            continue
        summary["batches"] += 1
        report = None
        for line in out.splitlines():
            if line.startswith("{"):
                report = json.loads(line)
        if report is None or proc.returncode != 0:
            summary["crashes"] += 1
            summary["failures"].append({"seed": bseed, "what": "crash (exit {})".format(
                proc.returncode), "last": err.splitlines()[-4:]})
            continue
        summary["calls"] += report["calls"]
        if report["unexpected"]:
            summary["unexpected"] += len(report["unexpected"])
            summary["failures"].append({"seed": bseed, "what": "unexpected",
                                        "last": report["unexpected"][:5]})
    summary["seconds"] = round(time.monotonic() - start, 1)
    return summary


def main(argv=None):
    global POOL_BIAS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--uri", default=os.environ.get("FLUX_URI"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pool-bias", type=float, default=POOL_BIAS,
                        help="share of arguments taken from the live/closed objects "
                        "(default %(default)s)")
    parser.add_argument("--group", default="core", choices=GROUPS + ("all",),
                        help="what to fuzz (default %(default)s)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.uri:
        parser.error("no instance: set FLUX_URI (run under 'flux start') or pass --uri")
    POOL_BIAS = args.pool_bias
    sys.path[:0] = [ROOT, os.path.join(ROOT, "scripts")]
    if args.child:
        selftest = os.environ.get("FLUX_CTYPES_FUZZ_SELFTEST")
        if selftest == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif selftest == "hang":
            time.sleep(3600)
        elif selftest == "leak" and args.group != "core":
            # what the services' bar must flag: one finding each
            import fuzz_services

            global SERVICE_EXPECTED
            SERVICE_EXPECTED = fuzz_services.EXPECTED_SERVICE
            report = {"calls": 4, "ok": 0, "refused": {}, "unexpected": []}
            for exc in (AttributeError("x"), OSError(2), ValueError(""),
                        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"),
                        ctypes.ArgumentError("argument 1")):
                _call_service(report, "selftest", lambda exc=exc: _raise(exc))
            sys.stdout.write(json.dumps(report) + "\n")
            return 0
        if args.group == "core":
            report = child(args.seed, args.calls, args.uri)
        else:
            report = child_service(args.group, args.seed, args.calls, args.uri)
        sys.stdout.write(json.dumps(report) + "\n")
        sys.stdout.flush()
        return 0  # interpreter teardown (finalizers) is under test too
    groups = GROUPS if args.group == "all" else (args.group,)
    summaries = [run(args.batches, args.calls, args.timeout, args.seed, args.uri, args.python,
                     group) for group in groups]
    if len(summaries) == 1:
        summary = summaries[0]
    else:
        summary = {"interpreter": args.python, "group": "all", "groups": summaries}
        for field in ("batches", "calls", "crashes", "hangs", "unexpected"):
            summary[field] = sum(s[field] for s in summaries)
        summary["failures"] = [dict(f, group=s["group"]) for s in summaries
                               for f in s["failures"]]
        summary["seconds"] = round(sum(s["seconds"] for s in summaries), 1)
    print(json.dumps(summary))
    return 1 if summary["crashes"] or summary["hangs"] or summary["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
