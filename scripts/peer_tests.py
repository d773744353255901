#!/usr/bin/env python3
"""Run flux-core's own Python tests (t/python/tNNNN-*.py) unchanged on
flux_ctypes, under ``python -m flux_ctypes.compat``.

    scripts/peer_tests.py [--src DIR] [--official] t0001-handle t0010-job ...

The tests come from a flux-core source tree (``--src``, default
``$FLUX_CORE_SRC``): nothing of flux-core is copied here.  Each test file
is run as flux-core's test suite runs it, except that ``import flux``
resolves to flux_ctypes: the file starts outside an instance and calls
``subflux.rerun_under_flux()``, which restarts it under ``flux start``.
That restart runs ``sys.executable script`` through the ``flux`` of
``$builddir/..``; this runner points ``builddir`` at a directory whose
``src/cmd/flux`` is a small wrapper that inserts ``-m flux_ctypes.compat``
after the interpreter and calls the real ``flux``.  Test files that need
no instance run directly under the shim.

``--official`` runs the same files on the official bindings (Debian's
/usr/bin/python3 with the installed flux-core's Python path), for the
comparison counts.

The TAP output of each file is read: per file and in total, it prints how
many tests passed, failed and were skipped, then a closing line
``N passed, N failed, N skipped``.  Exit status 0 only when nothing failed
and every file ran to its end.
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WRAPPER = r'''#!{python}
# flux, with the Python test script it starts run under flux_ctypes.compat
import os, sys
args = sys.argv[1:]
if {shim!r} and len(args) >= 2 and args[-1].endswith(".py"):
    args[-2:-1] = [args[-2], "-m", "flux_ctypes.compat"]
os.environ["FLUX_BUILD_DIR"] = {build!r}
os.environ["FLUX_SOURCE_DIR"] = {src!r}
os.execv({flux!r}, [{flux!r}] + args)
'''

TAP_LINE = re.compile(r"^(not ok|ok)\b(?:\s+\d+)?\s*(?:-\s*)?(.*?)(\s+#\s*(SKIP|skip|TODO|todo).*)?$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)")


def parse_tap(text: str) -> Tuple[List[str], List[str], List[str], Optional[int]]:
    """(passed, failed, skipped) test names and the plan's count."""
    passed, failed, skipped = [], [], []  # type: List[str], List[str], List[str]
    plan = None
    for line in text.splitlines():
        line = line.strip()
        match = TAP_PLAN.match(line)
        if match:
            plan = int(match.group(1))
            continue
        match = TAP_LINE.match(line)
        if not match:
            continue
        ok, name, directive = match.group(1), match.group(2), match.group(4)
        if directive and directive.lower() == "skip":
            skipped.append(name)
        elif ok == "ok":
            passed.append(name)
        else:
            failed.append(name)
    return passed, failed, skipped, plan


def find_flux() -> str:
    flux = os.environ.get("FLUX_CMD") or shutil.which("flux")
    if not flux:
        sys.exit("peer_tests: no 'flux' command on PATH (set FLUX_CMD)")
    return flux


def official_python() -> Tuple[str, str]:
    """Debian's python3 and the installed flux-core's Python directory."""
    flux = find_flux()
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(flux)))
    python = "/usr/bin/python3"
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True,
    ).stdout.strip()
    return python, os.path.join(prefix, "lib", "flux", "python" + version)


def run_one(
    name: str, src: str, build: str, fakebuild: str, python: str,
    pythonpath: str, shim: bool, timeout: float,
) -> Tuple[List[str], List[str], List[str], Optional[int], int, str]:
    testdir = os.path.join(src, "t", "python")
    script = name if name.endswith(".py") else name + ".py"
    env = dict(os.environ)
    for var in ("IN_SUBFLUX", "FLUX_URI", "FLUX_F58_FORCE_ASCII"):
        env.pop(var, None)
    # subflux.py: srcdir and builddir name t/ of each tree ("..")
    env["srcdir"] = os.path.join(src, "t")
    env["builddir"] = os.path.join(fakebuild, "t")
    env["FLUX_SOURCE_DIR"] = src
    env["FLUX_BUILD_DIR"] = build
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (pythonpath, os.path.join(testdir, "tap"), testdir) if p
    )
    command = [python] + (["-m", "flux_ctypes.compat"] if shim else []) + [script]
    try:
        proc = subprocess.run(
            command, cwd=testdir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout,
            start_new_session=True,
        )
        output, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        output = out if isinstance(out, str) else out.decode("utf-8", "replace")
        output += "\npeer_tests: timed out after {} s\n".format(timeout)
        rc = -1
    passed, failed, skipped, plan = parse_tap(output)
    return passed, failed, skipped, plan, rc, output


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tests", nargs="+", help="test names, e.g. t0001-handle")
    parser.add_argument("--src", default=os.environ.get("FLUX_CORE_SRC"),
                        help="flux-core source tree (default $FLUX_CORE_SRC)")
    parser.add_argument("--build", help="its build tree (default: --src)")
    parser.add_argument("--official", action="store_true",
                        help="run on the official bindings instead")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for flux_ctypes (default: this one)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each file's whole output")
    args = parser.parse_args(argv)
    if not args.src or not os.path.isdir(os.path.join(args.src, "t", "python")):
        parser.error("--src (or FLUX_CORE_SRC) must name a flux-core source tree")
    src = os.path.abspath(args.src)
    build = os.path.abspath(args.build or src)
    flux = find_flux()
    if args.official:
        python, pythonpath = official_python()
    else:
        python = args.python
        pythonpath = os.pathsep.join(
            p for p in (os.environ.get("PYTHONPATH"), ROOT) if p)
    fakebuild = tempfile.mkdtemp(prefix="peer-tests-")
    try:
        os.makedirs(os.path.join(fakebuild, "src", "cmd"))
        os.makedirs(os.path.join(fakebuild, "t"))
        wrapper = os.path.join(fakebuild, "src", "cmd", "flux")
        with open(wrapper, "w") as f:
            f.write(WRAPPER.format(python=sys.executable, shim=not args.official,
                                   build=build, src=src, flux=flux))
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        totals = {"passed": 0, "failed": 0, "skipped": 0}  # type: Dict[str, int]
        broken = []
        for name in args.tests:
            passed, failed, skipped, plan, rc, output = run_one(
                name, src, build, fakebuild, python, pythonpath,
                not args.official, args.timeout)
            seen = len(passed) + len(failed) + len(skipped)
            complete = plan is not None and seen == plan and rc == 0
            totals["passed"] += len(passed)
            totals["failed"] += len(failed)
            totals["skipped"] += len(skipped)
            status = "" if complete else "  (did not complete: plan {}, exit {})".format(plan, rc)
            print("{}: {} passed, {} failed, {} skipped{}".format(
                name, len(passed), len(failed), len(skipped), status))
            for test in failed:
                print("    not ok: {}".format(test))
            if not complete:
                broken.append(name)
            if args.verbose or (not complete and not failed):
                print("    " + "\n    ".join(output.splitlines()[-40:]))
        print("{} passed, {} failed, {} skipped".format(
            totals["passed"], totals["failed"], totals["skipped"]))
        return 0 if not totals["failed"] and not broken else 1
    finally:
        shutil.rmtree(fakebuild, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
