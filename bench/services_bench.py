"""Hostlist, IDset and ResourceSet rates: flux_ctypes against the official
bindings, in the same run.

    /usr/bin/python3 bench/services_bench.py [--rounds 5] [--official-path DIR]

Each (binding, workload, round) runs in a fresh interpreter; bindings
alternate within a round.  The table shows the median rate of each and
the ratio flux_ctypes / official (above 1: flux_ctypes is faster).

``py-sketch`` rows time a minimal pure-Python parse+encode (ranges only:
no validation, no merging, none of libhostlist's/libidset's rules) — the
lower bound of what writing these in Python would cost, measured to
decide between binding the C libraries and reimplementing them.
No Flux instance is needed.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

R128 = json.dumps({"version": 1, "execution": {
    "R_lite": [{"rank": "0-127", "children": {"core": "0-31", "gpu": "0-3"}}],
    "starttime": 0, "expiration": 0, "nodelist": ["node[0-127]"]}})

# name: (setup, statement, iterations); ``M`` is the module namespace
WORKLOADS = {
    "hostlist parse+encode": (
        "", "str(M.Hostlist('node[0-1023],login[1-4],gpu[01-16]'))", 20000),
    "hostlist iterate 1024": ("hl = M.Hostlist('node[0-1023]')", "list(hl)", 200),
    "hostlist index 64": (
        "hl = M.Hostlist('node[0-1023]'); "
        "q = 'node[' + ','.join(str(i) for i in range(0, 1024, 16)) + ']'",
        "hl.index(q)", 500),
    "idset parse+encode": ("", "str(M.IDset('0-1023,2000-2047,4096'))", 20000),
    "idset iterate 4096": ("ids = M.IDset('0-4095')", "list(ids)", 200),
    "idset algebra": ("a = M.IDset('0-999'); b = M.IDset('500-1499')",
                      "str(a | b); str(a - b); str(a & b)", 10000),
    "ResourceSet decode+dumps (128 nodes)": ("R = " + repr(R128),
                                             "str(M.ResourceSet(R))", 300),
}

SKETCH = r'''
import re
_RANGE = re.compile(r"([^,\[\]]*)(?:\[([^\]]*)\])?(?:,|$)")
def hl_parse(text):
    out = []
    for prefix, ranges in _RANGE.findall(text):
        if not prefix and not ranges:
            continue
        if ranges:
            for part in ranges.split(","):
                lo, _, hi = part.partition("-")
                out.append((prefix, int(lo), int(hi or lo), len(lo)))
        else:
            out.append((prefix, None, None, 0))
    return out
def hl_encode(ranges):
    parts = []
    for prefix, lo, hi, width in ranges:
        if lo is None:
            parts.append(prefix)
        else:
            parts.append("%s[%0*d-%0*d]" % (prefix, width, lo, width, hi))
    return ",".join(parts)
def ids_parse(text):
    out = []
    for part in text.strip("[]").split(","):
        lo, _, hi = part.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out
def ids_encode(ranges):
    return ",".join("%d-%d" % r if r[0] != r[1] else "%d" % r[0] for r in ranges)
'''

SKETCHES = {
    "hostlist parse+encode": "hl_encode(hl_parse('node[0-1023],login[1-4],gpu[01-16]'))",
    "idset parse+encode": "ids_encode(ids_parse('0-1023,2000-2047,4096'))",
}

WORKER = r"""
import json, sys, time
binding, setup, stmt, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
class M: pass
if binding == "ctypes":
    from flux_ctypes.hostlist import Hostlist
    from flux_ctypes.idset import IDset
    from flux_ctypes.resource import ResourceSet
elif binding == "official":
    from flux.hostlist import Hostlist
    from flux.idset import IDset
    from flux.resource import ResourceSet
else:
    Hostlist = IDset = ResourceSet = None
    exec(SKETCH)
M.Hostlist, M.IDset, M.ResourceSet = Hostlist, IDset, ResourceSet
exec(setup)
code = compile(stmt, "<bench>", "exec")
for _ in range(max(1, n // 10)):
    exec(code)
t0 = time.perf_counter()
for _ in range(n):
    exec(code)
print(json.dumps(n / (time.perf_counter() - t0)))
"""


def official_path(given):
    if given:
        return given
    found = sorted(glob.glob("/usr/local/lib/flux/python3*"))
    return found[-1] if found else None


def measure(python, binding, setup, stmt, n, pythonpath):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    code = WORKER.replace("exec(SKETCH)", "exec({!r})".format(SKETCH))
    out = subprocess.run([python, "-c", code, binding, setup, stmt, str(n)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for both bindings (the official one's)")
    parser.add_argument("--official-path", help="PYTHONPATH of the official bindings")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    official = official_path(args.official_path)
    results = {}
    for name, (setup, stmt, n) in WORKLOADS.items():
        runs = {"ctypes": [], "official": [], "py-sketch": []}
        for round_ in range(args.rounds):
            order = ["ctypes", "official"] if round_ % 2 == 0 else ["official", "ctypes"]
            for binding in order:
                if binding == "official" and official is None:
                    continue
                path = ROOT if binding == "ctypes" else official
                runs[binding].append(measure(args.python, binding, setup, stmt, n, path))
            if name in SKETCHES:
                runs["py-sketch"].append(
                    measure(args.python, "sketch", "", SKETCHES[name], n, ROOT))
        results[name] = {k: statistics.median(v) for k, v in runs.items() if v}
    width = max(len(name) for name in results)
    print("{:<{w}}  {:>12}  {:>12}  {:>7}  {:>12}".format(
        "workload (ops/s, median of {})".format(args.rounds), "flux_ctypes", "official",
        "ratio", "py-sketch", w=width))
    for name, rates in results.items():
        ratio = rates["ctypes"] / rates["official"] if "official" in rates else float("nan")
        print("{:<{w}}  {:>12,.0f}  {:>12,.0f}  {:>7.2f}  {:>12}".format(
            name, rates["ctypes"], rates.get("official", float("nan")), ratio,
            "{:,.0f}".format(rates["py-sketch"]) if "py-sketch" in rates else "", w=width))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
