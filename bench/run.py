"""Benchmark flux_ctypes against the official cffi bindings (and C).

    /usr/bin/python3 bench/run.py [--repeat 5] [--only sync_rpc,timer] [--scale 1.0]
                                  [--ctypes-src DIR] [--compare-src DIR]
                                  [--ctypes-python pypy3]

Starts its own ``flux start --test-size=2`` instance unless FLUX_URI is
already set (then it uses that one).  Inside the one instance every
workload of worker.py runs in fresh subprocesses, one per binding (each
reports the best of three timed runs), interleaved (who goes first rotates
every round) and repeated.  For each
workload it prints the median of each binding, the ratio flux_ctypes /
official with the spread of the per-round ratios, and the target.  Where a
C compiler and the flux-core headers are present it also builds
bench/cfloor.c into a temporary directory and runs the RPC workloads in C,
the floor no binding can beat.  The last line is one JSON object with every
sample.

flux_ctypes is measured from a byte-compiled copy (see install_snapshot);
``--compare-src`` measures a second tree (say, with a proposed patch) in the
same rounds, as column "alt".  ``--ctypes-python`` runs the flux_ctypes
workers (and "alt") under another interpreter, e.g. PyPy, against the
official bindings on theirs.

The official bindings are built for one interpreter (Debian's python3 for
the flux-core here): workers run under ``--python`` (default: the python3
that ``flux python`` runs, else /usr/bin/python3), with the official
package's PYTHONPATH taken from ``flux env``; without them flux_ctypes is
measured alone.  The machine is shared: trust the ratios of interleaved
runs, not the absolute rates, and rerun when the per-round spread is wide.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import worker  # bench/worker.py: the workloads and their N

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "worker.py")
CFLOOR = os.path.join(HERE, "cfloor.c")

# workload: (unit, higher_is_better, target ratio ctypes/official)
WORKLOADS = [
    ("sync_rpc", "ops/s", True, 1.15),
    ("pipelined_rpc", "ops/s", True, 1.3),
    ("service", "ops/s", True, 1.4),
    ("timer", "fires/s", True, 1.0),
    ("events", "events/s", True, 1.3),
    ("handle_open_close", "opens/s", True, 1.1),
    ("message", "msgs/s", True, 2.5),
    ("kvs_put_commit", "commits/s", True, 1.2),
    ("kvs_lookup", "lookups/s", True, 1.2),
    ("job_submit", "jobs/s", True, 1.2),
    ("job_executor", "jobs/s", True, 1.2),
    ("import", "ms", False, 0.15),
    ("memory", "B/future", False, 1.0),
    ("memory_py", "B/future", False, 1.0),
]
C_WORKLOADS = {"sync_rpc": 0.90, "pipelined_rpc": 0.85}  # target vs C floor
IMPORT_SAMPLES = 8  # interpreter launches per binding per round


def log(*args):
    print(*args, file=sys.stderr)
    sys.stderr.flush()


# --- environment -------------------------------------------------------------


def flux_env_pythonpath():
    """The official bindings' directory, from ``flux env``."""
    try:
        out = subprocess.run(
            ["flux", "env"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True, timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'^export PYTHONPATH="([^"]*)"', out, re.M)
    return match.group(1) if match else None


def flux_python():
    """The interpreter ``flux python`` runs (the official bindings')."""
    try:
        out = subprocess.run(
            ["flux", "python", "-c", "import sys; print(sys.executable)"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True, timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or ("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable)


# PYTHONPATH of each flux_ctypes variant measured: compiled snapshots (see
# install_snapshot); "alt" is the --compare-src tree, if any.
CTYPES_PATHS = {"ctypes": ROOT}
# The interpreter of each binding's workers (see --ctypes-python).
PYTHONS = {}


def install_snapshot(python, tmpdir, src, variant):
    """Copy ``src``/flux_ctypes into ``tmpdir`` and byte-compile it there, as
    an installed package is: the official bindings ship .pyc files, and with
    PYTHONDONTWRITEBYTECODE set a source tree would be recompiled at every
    import.  It also freezes the code measured while others edit the tree."""
    site = os.path.join(tmpdir, "site-" + variant)
    pkg = os.path.join(src, "flux_ctypes")
    if not os.path.isfile(os.path.join(pkg, "__init__.py")):
        raise SystemExit("run.py: no flux_ctypes package in {}".format(src))
    shutil.copytree(pkg, os.path.join(site, "flux_ctypes"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([python, "-m", "compileall", "-q", site], check=True)
    CTYPES_PATHS[variant] = site


def worker_env(binding, official_path):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("BENCH_PROFILE", None)
    if binding in CTYPES_PATHS:
        env["PYTHONPATH"] = CTYPES_PATHS[binding]
    elif binding == "official":
        env["PYTHONPATH"] = official_path
    return env


def check_official(python, official_path):
    if not official_path:
        return "flux env gave no PYTHONPATH"
    proc = subprocess.run(
        [python, "-c", "import flux; print(flux.Flux().rpc('broker.ping', {}).get()['rank'])"],
        env=worker_env("official", official_path), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
    )
    if proc.returncode != 0:
        return "import flux failed: " + proc.stdout.strip().splitlines()[-1]
    return None


def build_cfloor(tmpdir):
    """Compile cfloor.c; the path of the program, or None with a reason."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    flux_cmd = shutil.which("flux")
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux_cmd))) if flux_cmd else "/usr/local"
    incdir = os.path.join(prefix, "include")
    libdir = os.path.join(prefix, "lib")
    if not cc:
        return None, "no C compiler"
    if not os.path.exists(os.path.join(incdir, "flux", "core.h")):
        return None, "no {}/flux/core.h".format(incdir)
    exe = os.path.join(tmpdir, "cfloor")
    cmd = [cc, "-O2", "-std=gnu99", "-o", exe, CFLOOR, "-I" + incdir, "-L" + libdir,
           "-lflux-core", "-Wl,-rpath," + libdir]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if proc.returncode != 0:
        return None, "cc failed: " + proc.stdout.strip()[-500:]
    return exe, None


def machine_info(python, official_path):
    info = {"nproc": os.cpu_count(), "machine": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["python"] = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    info["python_path"] = python
    if "ctypes" in PYTHONS:
        info["ctypes_python_path"] = PYTHONS["ctypes"]
        info["ctypes_python"] = subprocess.run(
            [PYTHONS["ctypes"], "-c", "import sys, platform; print(platform."
             "python_implementation(), sys.version.split()[0])"],
            stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    info["flux_core"] = subprocess.run(
        [PYTHONS.get("ctypes", python), "-c",
         "import flux_ctypes; print(flux_ctypes.version())"],
        env=worker_env("ctypes", official_path), stdout=subprocess.PIPE,
        universal_newlines=True).stdout.strip()
    info["cffi"] = subprocess.run(
        [python, "-c", "import cffi; print(cffi.__version__)"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        universal_newlines=True).stdout.strip() or None
    return info


# --- measuring ---------------------------------------------------------------


def run_worker(python, binding, workload, n, official_path, cfloor):
    if binding == "c":
        cmd = [cfloor, workload, str(n)]
    else:
        api = "official" if binding == "official" else "ctypes"
        cmd = [PYTHONS.get(binding, python), WORKER, api, workload, str(n)]
    proc = subprocess.run(
        cmd, env=worker_env(binding, official_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError("{} {} failed (exit {}):\n{}{}".format(
            binding, workload, proc.returncode, proc.stdout, proc.stderr[-3000:]))
    return json.loads(lines[-1])


def time_import(python, binding, official_path):
    """Wall time of one interpreter that imports the binding and exits
    (``bare``: imports nothing, the startup to subtract)."""
    code = {"bare": "pass", "bare_ctypes": "pass", "official": "import flux"}.get(
        binding, "import flux_ctypes")
    env = worker_env(binding if not binding.startswith("bare") else "ctypes", official_path)
    if binding == "bare_ctypes":
        binding = "ctypes"
    t0 = time.perf_counter()
    subprocess.run([PYTHONS.get(binding, python), "-c", code], env=env, check=True)
    return time.perf_counter() - t0


def median(values):
    values = [v for v in values if v is not None]  # None: a failed worker
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--only", default="", help="comma-separated workloads")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N")
    parser.add_argument("--python", default=None, help="interpreter for the workers")
    parser.add_argument("--size", type=int, default=2, help="instance size to start")
    parser.add_argument("--ctypes-src", default=ROOT,
                        help="directory holding the flux_ctypes package to measure "
                        "(default: this checkout)")
    parser.add_argument("--compare-src", default=None,
                        help="a second flux_ctypes tree (e.g. with a proposed patch), "
                        "measured in the same rounds as column 'alt'")
    parser.add_argument("--ctypes-python", default=None,
                        help="interpreter for the flux_ctypes workers (e.g. pypy3); the "
                        "official bindings stay on --python")
    args = parser.parse_args()

    if not os.environ.get("FLUX_URI"):
        flux_cmd = shutil.which("flux")
        if not flux_cmd:
            raise SystemExit("run.py: no FLUX_URI and no 'flux' command to start an instance")
        log("starting flux start --test-size={} ...".format(args.size))
        cmd = [flux_cmd, "start", "--test-size={}".format(args.size),
               sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
        raise SystemExit(subprocess.call(cmd))

    ctypes_src = os.path.abspath(args.ctypes_src)
    compare_src = os.path.abspath(args.compare_src) if args.compare_src else None
    tmpdir = tempfile.mkdtemp(prefix="flux-ctypes-bench-")
    try:
        # Every 'python -c' puts its working directory first on sys.path:
        # started in a checkout, it would import the source tree there
        # instead of the compiled snapshot.
        os.chdir(tmpdir)
        measure(args, tmpdir, ctypes_src, compare_src)
    finally:
        os.chdir("/")
        shutil.rmtree(tmpdir, ignore_errors=True)


def measure(args, tmpdir, ctypes_src, compare_src):
    python = args.python or flux_python()
    if args.ctypes_python:
        ctypes_python = shutil.which(args.ctypes_python) or args.ctypes_python
        PYTHONS["ctypes"] = PYTHONS["alt"] = ctypes_python
    official_path = flux_env_pythonpath()
    skip_official = check_official(python, official_path)
    bindings = ["ctypes"] if skip_official else ["ctypes", "official"]
    if compare_src:
        bindings.append("alt")
    if skip_official:
        log("official bindings not usable, measuring flux_ctypes alone: " + skip_official)

    only = [w for w in args.only.split(",") if w]
    unknown = set(only) - {w[0] for w in WORKLOADS}
    if unknown:
        raise SystemExit("run.py: unknown workloads: " + ", ".join(sorted(unknown)))
    workloads = [w for w in WORKLOADS if not only or w[0] in only]
    install_snapshot(PYTHONS.get("ctypes", python), tmpdir, ctypes_src, "ctypes")
    if compare_src:
        install_snapshot(PYTHONS.get("alt", python), tmpdir, compare_src, "alt")
    cfloor, why_no_c = build_cfloor(tmpdir)
    if why_no_c:
        log("no C floor: " + why_no_c)
    info = machine_info(python, official_path)
    log("machine: {nproc} cpus, {cpu}; python {python} ({python_path}); "
        "flux-core {flux_core}; cffi {cffi}".format(**dict(info, cpu=info.get("cpu", "?"))))
    if "ctypes_python" in info:
        log("flux_ctypes runs on {ctypes_python} ({ctypes_python_path})".format(**info))

    samples = {w[0]: {} for w in workloads}  # workload -> binding -> [values]
    details = {w[0]: {} for w in workloads}
    for rnd in range(args.repeat):
        for name, unit, _, _ in workloads:
            order = list(bindings)
            if name in C_WORKLOADS and cfloor:
                order.append("c")
            shift = rnd % len(order)  # rotate who goes first
            order = order[shift:] + order[:shift]
            if name == "import":
                order = ["bare"] + (["bare_ctypes"] if "ctypes" in PYTHONS else []) + order
                this_round = {}
                for _ in range(IMPORT_SAMPLES):
                    for b in order:
                        t = time_import(python, b, official_path) * 1000.0
                        samples[name].setdefault(b, []).append(t)
                        this_round.setdefault(b, []).append(t)
                for b, values in this_round.items():
                    details[name].setdefault(b, []).append(median(values))
                continue
            n = max(1, int(worker.WORKLOADS[name][1] * args.scale))
            for b in order:
                try:
                    res = run_worker(python, b, name, n, official_path, cfloor)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    # one crashed worker costs its cell of this round, not the run
                    log("round {}: {} {} failed, left out: {}".format(
                        rnd + 1, b, name, str(exc).strip().splitlines()[-1][-300:]))
                    samples[name].setdefault(b, []).append(None)
                    details[name].setdefault(b, []).append(None)
                    continue
                value = res.get("rate", res.get("bytes_per_future"))
                samples[name].setdefault(b, []).append(value)
                details[name].setdefault(b, []).append(res)
        log("round {}/{} done".format(rnd + 1, args.repeat))

    results = report(workloads, samples, details, bindings)
    print(json.dumps({"machine": info, "repeat": args.repeat, "scale": args.scale,
                      "ctypes_src": ctypes_src, "compare_src": compare_src,
                      "official_skipped": skip_official, "c_floor_skipped": why_no_c,
                      "results": results, "samples": samples}))


def _paired_ratios(a, b):
    """Per-round ratios a[i]/b[i]: their spread shows how much the shared
    machine moved between rounds."""
    return [x / y for x, y in zip(a, b) if y and x is not None]


def report(workloads, samples, details, bindings):
    results = {}
    alt = "alt" in bindings
    cols = ["workload", "flux_ctypes", "official", "ratio", "(range)", "target", "ok"]
    widths = [18, 11, 11, 6, 13, 7, 4]
    if alt:
        cols += ["alt", "alt ratio"]
        widths += [11, 9]
    cols += ["C floor", "vs C", "unit"]
    widths += [10, 6, 8]
    line = " ".join("{:<%d}" % widths[0] if i == 0 else "{:>%d}" % w
                    for i, w in enumerate(widths))
    print(line.format(*cols))
    print("-" * (sum(widths) + len(widths) - 1))
    for name, unit, higher, target in workloads:
        s = samples[name]
        ours = median(s.get("ctypes", []))
        theirs = median(s.get("official", []))
        other = median(s.get("alt", []))
        c = median(s.get("c", []))
        paired = _paired_ratios(s.get("ctypes", []), s.get("official", []))
        if name == "import":  # net of bare interpreter startup
            # each binding net of a bare start of its own interpreter
            bare = median(s.get("bare", []))
            bare_c = median(s.get("bare_ctypes", [])) if "bare_ctypes" in s else bare
            theirs = theirs - bare if theirs is not None else None
            ours, other = [v - bare_c if v is not None else None for v in (ours, other)]
            rounds = details[name]
            paired = [(o - bc) / (t - b) for o, t, b, bc in zip(
                rounds.get("ctypes", []), rounds.get("official", []), rounds.get("bare", []),
                rounds.get("bare_ctypes", rounds.get("bare", []))) if t > b]
        ratio = ours / theirs if ours is not None and theirs else None
        alt_ratio = other / theirs if other is not None and theirs else None
        ok = None
        if ratio is not None:
            ok = ratio >= target if higher else ratio <= target
        vs_c = ours / c if ours and c else None
        c_target = C_WORKLOADS.get(name)
        if vs_c is not None and c_target is not None:
            ok = (ok is not False) and vs_c >= c_target
        results[name] = {
            "unit": unit, "ctypes": ours, "official": theirs, "ratio": ratio,
            "paired_ratios": paired,
            "target": ("\u2265 " if higher else "\u2264 ") + str(target),
            "c": c, "ratio_vs_c": vs_c, "c_target": c_target, "ok": ok,
        }
        if alt:
            results[name]["alt"] = other
            results[name]["alt_ratio"] = alt_ratio
            results[name]["alt_vs_c"] = other / c if other and c else None
        for b, runs in details[name].items():
            cpu = median([r.get("cpu_us_per_op") for r in runs if isinstance(r, dict)])
            if cpu is not None:  # client CPU per op: the share the binding controls
                results[name][b + "_cpu_us_per_op"] = cpu
        if name == "import":
            results[name]["bare_interpreter_ms"] = median(s.get("bare", []))
            if "bare_ctypes" in s:
                results[name]["bare_ctypes_interpreter_ms"] = median(s["bare_ctypes"])
        if name == "handle_open_close":
            for b, runs in details[name].items():
                runs = [r for r in runs if r]
                if runs:
                    results[name][b + "_fds_leaked"] = max(r["fds_leaked"] for r in runs)
                    results[name][b + "_objects_grew"] = max(r["objects_grew"] for r in runs)
        spread = "{}-{}".format(fmt(min(paired), 2), fmt(max(paired), 2)) if paired else ""
        row = [name, fmt(ours), fmt(theirs), fmt(ratio, 2), spread,
               results[name]["target"], {True: "yes", False: "NO", None: "-"}[ok]]
        if alt:
            row += [fmt(other), fmt(alt_ratio, 2)]
        row += [fmt(c), fmt(vs_c, 2), unit]
        print(line.format(*row))
    if "handle_open_close" in results:
        r = results["handle_open_close"]
        print("handle_open_close: fds leaked {}; gc-tracked objects grew {}".format(
            ", ".join("{}={}".format(b, r.get(b + "_fds_leaked")) for b in bindings),
            ", ".join("{}={}".format(b, r.get(b + "_objects_grew")) for b in bindings)))
    cpu_rows = ["{} {}".format(n, " ".join(
        "{}={}".format(b, fmt(results[n].get(b + "_cpu_us_per_op")))
        for b in bindings + ["c"] if results[n].get(b + "_cpu_us_per_op") is not None))
        for n in results if results[n].get("ctypes_cpu_us_per_op") is not None]
    if cpu_rows:
        print("client CPU per op (us; the rest of 1/rate is waiting on the broker):")
        for row in cpu_rows:
            print("  " + row)
    if "import" in results:
        print("import: net of a bare interpreter ({} ms)".format(
            fmt(results["import"]["bare_interpreter_ms"])))
    if alt:
        for n in results:
            if results[n].get("alt_vs_c"):
                print("{}: alt vs C floor {}".format(n, fmt(results[n]["alt_vs_c"], 2)))
    if any(results[n].get("c_target") for n in results):
        print("ok also needs vs C >= the target: " + ", ".join(
            "{} {}".format(n, t) for n, t in sorted(C_WORKLOADS.items()) if t))
    sys.stdout.flush()
    return results


def fmt(value, digits=None):
    if value is None:
        return "-"
    if digits is not None:
        return "{:.{}f}".format(value, digits)
    if abs(value) >= 100:
        return "{:.0f}".format(value)
    return "{:.2f}".format(value)


if __name__ == "__main__":
    main()
