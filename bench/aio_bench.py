"""asyncio throughput against the callback and blocking APIs, same RPCs.

    python3 bench/aio_bench.py [--n 10000] [--seq 2000] [--repeat 7] [--json PATH]

Uses the instance FLUX_URI names, else starts ``flux start --test-size=1``.
Each round, in one process and one handle, runs (order rotating):

* callback: N ``h.rpc("broker.ping", ...).then(cb)``, then ``reactor_run()``
* aio_wrap: ``await asyncio.gather(*(aio.wrap(h.rpc(...)) for ...))``
* aio_gather: ``await aio.gather(*(h.rpc(...) for ...))`` (one asyncio
  future for all)
* aio_coro: gather of N coroutines, each ``await h.rpc(...)`` (asyncio
  makes a Task per coroutine)
* sync_get: SEQ sequential ``h.rpc(...).get()``
* aio_seq: SEQ sequential ``await h.rpc(...)`` in one coroutine

each aio kind in a fresh ``aio.new_event_loop()``, and prints the median
rate of each, with the client's CPU time per RPC (which the machine's
other load disturbs less than the rates).  Targets: gathering >= 1.0 x
callback, aio_seq >= 0.9 x sync_get.  The last line is one JSON object (with each round's ratios);
``--json PATH`` writes it to PATH too.
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from flux_ctypes import Flux, aio  # noqa: E402


def callback_rate(h, n):
    done = []

    def on_response(fut):
        done.append(fut.get())

    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        h.rpc("broker.ping", {"seq": i}).then(on_response)
    h.reactor_run()
    elapsed = time.perf_counter() - start
    assert len(done) == n
    return n / elapsed, (time.process_time() - cpu) / n * 1e6


def sync_rate(h, n):
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        assert h.rpc("broker.ping", {"seq": i}).get()["seq"] == i
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


def aio_seq_rate(h, n):
    async def main():
        with aio.attach(h):
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                assert (await h.rpc("broker.ping", {"seq": i}))["seq"] == i
            return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6

    loop = aio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def aio_rate(h, n, how):
    async def one(i):
        return await h.rpc("broker.ping", {"seq": i})

    async def main():
        with aio.attach(h):
            start, cpu = time.perf_counter(), time.process_time()
            if how == "coroutines":
                results = await asyncio.gather(*(one(i) for i in range(n)))
            elif how == "aio.gather":
                results = await aio.gather(*(h.rpc("broker.ping", {"seq": i}) for i in range(n)))
            else:
                results = await asyncio.gather(
                    *(aio.wrap(h.rpc("broker.ping", {"seq": i})) for i in range(n))
                )
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
        assert len(results) == n and results[-1]["seq"] == n - 1
        return n / elapsed, cpu / n * 1e6

    loop = aio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def start_instance():
    proc = subprocess.Popen(
        ["flux", "start", "--test-size=1", "sh", "-c", 'echo "$FLUX_URI"; exec cat'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True,
    )
    uri = proc.stdout.readline().strip()
    if not uri:
        proc.kill()
        sys.exit("flux start printed no URI")
    return proc, uri


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seq", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="also write the JSON line to PATH")
    args = parser.parse_args()

    proc = None
    uri = os.environ.get("FLUX_URI")
    if not uri:
        proc, uri = start_instance()
    try:
        kinds = {
            "callback": lambda h: callback_rate(h, args.n),
            "aio_wrap": lambda h: aio_rate(h, args.n, "wrap"),
            "aio_gather": lambda h: aio_rate(h, args.n, "aio.gather"),
            "aio_coro": lambda h: aio_rate(h, args.n, "coroutines"),
            "sync_get": lambda h: sync_rate(h, args.seq),
            "aio_seq": lambda h: aio_seq_rate(h, args.seq),
        }
        rates = {kind: [] for kind in kinds}
        cpus = {kind: [] for kind in kinds}
        with Flux(uri) as h:
            for kind in kinds:  # warm up
                kinds[kind](h)
            order = list(kinds)
            for rnd in range(args.repeat):
                shift = rnd % len(order)
                for kind in order[shift:] + order[:shift]:
                    gc.collect()  # each kind starts with no garbage of the last
                    rate, cpu = kinds[kind](h)
                    rates[kind].append(rate)
                    cpus[kind].append(cpu)
        medians = {kind: statistics.median(r) for kind, r in rates.items()}
        cpu_us = {kind: statistics.median(c) for kind, c in cpus.items()}
        # ratios per round (the two sides ran back to back), then their median
        pairs = {
            "aio_wrap/callback": ("aio_wrap", "callback"),
            "aio_gather/callback": ("aio_gather", "callback"),
            "aio_coro/callback": ("aio_coro", "callback"),
            "aio_seq/sync_get": ("aio_seq", "sync_get"),
        }
        per_round = {
            name: [round(a / b, 3) for a, b in zip(rates[num], rates[den])]
            for name, (num, den) in pairs.items()
        }
        ratios = {name: statistics.median(r) for name, r in per_round.items()}
        for kind, rate in medians.items():
            print("{:10s} {:9.0f} RPC/s  {:5.1f} us CPU/RPC".format(kind, rate, cpu_us[kind]))
        for name, ratio in ratios.items():
            print("{:18s} x{:.2f}  (rounds {:.2f}..{:.2f})".format(
                name, ratio, min(per_round[name]), max(per_round[name])))
        result = json.dumps({
            "n": args.n,
            "seq": args.seq,
            "repeat": args.repeat,
            "median_rps": medians,
            "median_ratio": ratios,
            "ratio_per_round": per_round,
            "median_cpu_us_per_rpc": cpu_us,
            "python": sys.version.split()[0],
            "implementation": sys.implementation.name,
        })
        print(result)
        if args.json:
            with open(args.json, "w") as out:
                out.write(result + "\n")
    finally:
        if proc is not None:
            proc.stdin.close()
            proc.wait()


if __name__ == "__main__":
    main()
