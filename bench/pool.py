"""Pool several runs of run.py: one table over all their rounds.

    python3 bench/pool.py bench/results/RUN1.json bench/results/RUN2.json ...

Each file holds the JSON line run.py prints last.  On a machine whose
speed wanders (a VM whose neighbours come and go), one run of 11 rounds can
land on either side of a target that the code meets on average; pooling
runs made with the same code gives every workload more rounds, and the
per-run ratios show how far single runs strayed.

For each workload: the median of all per-round ratios flux_ctypes /
official (each round runs both bindings back to back, so its ratio is the
least disturbed comparison), the ratio of each run, and, for the RPC
workloads, the median of flux_ctypes over the C client's per-round rates.
"""

import json
import statistics
import sys

from run import C_WORKLOADS, WORKLOADS  # the targets, as run.py judges them


def load(path):
    with open(path) as f:
        lines = [line for line in f if line.startswith("{")]
    if not lines:
        raise SystemExit("{}: no JSON line from run.py".format(path))
    return json.loads(lines[-1])


def main(paths):
    runs = [load(p) for p in paths]
    machines = {json.dumps(r["machine"], sort_keys=True) for r in runs}
    if len(machines) > 1:
        raise SystemExit("these runs come from different machines or versions")
    print("pooled {} runs, {} rounds: {}".format(
        len(runs), sum(r["repeat"] for r in runs), ", ".join(paths)))
    header = "{:<18} {:>7} {:>11} {:>7} {:>7} {:>5}  {}".format(
        "workload", "rounds", "ratio", "target", "vs C", "ok", "per-run ratios")
    print(header)
    print("-" * len(header))
    pooled = {}
    for name, _unit, higher, target in WORKLOADS:
        per_run = [r["results"][name] for r in runs if name in r.get("results", {})]
        if not per_run:
            continue
        paired = [x for res in per_run for x in res["paired_ratios"]]
        ratio = statistics.median(paired)
        ok = ratio >= target if higher else ratio <= target
        vs_c = None
        if C_WORKLOADS.get(name):
            # (a run made with --only may not have this workload)
            c_paired = [o / c for r in runs if name in r["samples"] for o, c in zip(
                r["samples"][name].get("ctypes", []), r["samples"][name].get("c", [])) if c]
            if c_paired:
                vs_c = statistics.median(c_paired)
                ok = ok and vs_c >= C_WORKLOADS[name]
        pooled[name] = {"rounds": len(paired), "ratio": ratio, "vs_c": vs_c, "ok": ok,
                        "per_run": [res["ratio"] for res in per_run]}
        print("{:<18} {:>7} {:>11.3f} {:>7} {:>7} {:>5}  {}".format(
            name, len(paired), ratio, ("\u2265 " if higher else "\u2264 ") + str(target),
            "-" if vs_c is None else "{:.2f}".format(vs_c), "yes" if ok else "NO",
            " ".join("{:.2f}".format(x) for x in pooled[name]["per_run"])))
    print(json.dumps({"runs": paths, "pooled": pooled}))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
