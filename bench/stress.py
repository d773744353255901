"""Full-count stress (issue 4): 100,000 watcher create/start/destroy cycles
and 100,000 RPCs with then() callbacks, on one handle.

    python3 bench/stress.py [--watchers 100000] [--rpcs 100000] [--batch 10000] [--src DIR]

Starts its own ``flux start --test-size=1`` unless FLUX_URI is set.  Prints
RSS, open file descriptors and the callback registry sizes
(``flux_ctypes.callbacks.registries()``) before and after each phase, and
RSS after every tenth of it, so a leak shows as steady growth rather than
the allocator's first-pass plateau.  Exits 1 if a registry is left
non-empty, a descriptor leaks, or a callback count is wrong.
"""

import argparse
import gc
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The checkout's flux_ctypes, or the tree given as --src DIR.
_SRC = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv[:-1] else os.path.dirname(HERE)
sys.path.insert(0, os.path.abspath(_SRC))

import flux_ctypes  # noqa: E402
from flux_ctypes import callbacks  # noqa: E402
from flux_ctypes.constants import (  # noqa: E402
    FLUX_MSGTYPE_REQUEST,
    FLUX_POLLIN,
    FLUX_REACTOR_NOWAIT,
)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fds():
    return len(os.listdir("/proc/self/fd"))


def mib(n):
    return "{:.1f} MiB".format(n / 1048576.0)


def snapshot(label):
    gc.collect()
    regs = callbacks.registries()
    print("{:<28} RSS {:>10}  fds {:>3}  registries {}".format(
        label, mib(rss()), fds(), regs))
    sys.stdout.flush()
    return rss(), fds(), regs


def watcher_cycles(h, total):
    """Create, start and destroy ``total`` watchers of every kind, in turn;
    every 1000 cycles let the reactor run once so started ones also fire."""
    rfd, wfd = os.pipe()
    fired = [0]

    def cb(*args):
        fired[0] += 1

    def on_msg(handle, watcher, msg, arg):
        fired[0] += 1

    kinds = [
        lambda: h.timer_watcher_create(0.0, cb),
        lambda: h.prepare_watcher_create(cb),
        lambda: h.check_watcher_create(cb),
        lambda: h.idle_watcher_create(cb),
        lambda: h.fd_watcher_create(rfd, cb, events=FLUX_POLLIN),
        lambda: h.msg_watcher_create(on_msg, FLUX_MSGTYPE_REQUEST, "stress.nothing.*"),
    ]
    step = max(1, total // 10)
    try:
        for i in range(total):
            w = kinds[i % len(kinds)]()
            w.start()
            if i % 1000 == 999:
                h.reactor_run(flags=FLUX_REACTOR_NOWAIT)
            w.destroy()
            if (i + 1) % step == 0 and total >= 10000:
                gc.collect()
                print("  {:>7} watchers: RSS {}".format(i + 1, mib(rss())))
                sys.stdout.flush()
    finally:
        os.close(rfd)
        os.close(wfd)
    return fired[0]


def rpc_batches(h, total, batch):
    """``total`` broker.ping RPCs with then() callbacks, ``batch`` at a time
    outstanding; every callback reads its response."""
    done = [0]
    bad = []
    target = [0]

    def on_response(f, seq):
        if f.get()["seq"] != seq:
            bad.append(seq)
        done[0] += 1
        if done[0] == target[0]:
            h.reactor_stop()

    sent = 0
    step = max(batch, total // 10)
    while sent < total:
        n = min(batch, total - sent)
        target[0] = done[0] + n
        for i in range(sent, sent + n):
            h.rpc("broker.ping", {"seq": i}).then(on_response, i)
        h.reactor_run()
        sent += n
        if total > batch and (sent % step == 0 or sent == total):
            gc.collect()
            print("  {:>7} RPCs:     RSS {}".format(sent, mib(rss())))
            sys.stdout.flush()
    return done[0], bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watchers", type=int, default=100000)
    parser.add_argument("--rpcs", type=int, default=100000)
    parser.add_argument("--batch", type=int, default=10000,
                        help="RPCs outstanding at once (default 10000)")
    parser.add_argument("--src", default=os.path.dirname(HERE),
                        help="directory holding the flux_ctypes to test (default: this checkout)")
    args = parser.parse_args()

    if not os.environ.get("FLUX_URI"):
        flux_cmd = shutil.which("flux")
        if not flux_cmd:
            raise SystemExit("stress.py: no FLUX_URI and no 'flux' command")
        cmd = [flux_cmd, "start", "--test-size=1", sys.executable,
               os.path.abspath(__file__)] + sys.argv[1:]
        raise SystemExit(subprocess.call(cmd))

    print("flux_ctypes {} ({}) on libflux-core {}, Python {}".format(
        flux_ctypes.__version__, os.path.dirname(flux_ctypes.__file__),
        flux_ctypes.version(), sys.version.split()[0]))
    failures = []
    h = flux_ctypes.Flux()
    # Warm up before the baseline: libev makes its signal pipe on the first
    # reactor_run() (a one-time descriptor), and the allocator reaches its
    # plateau with the first full batch of outstanding RPCs.
    watcher_cycles(h, 1000)
    rpc_batches(h, args.batch, args.batch)

    rss0, fds0, _ = snapshot("start")
    t0 = time.perf_counter()
    fired = watcher_cycles(h, args.watchers)
    dt = time.perf_counter() - t0
    rss1, fds1, regs1 = snapshot("after watcher cycles")
    print("  {} cycles in {:.1f} s ({:.0f}/s), {} callbacks fired, RSS {:+.1f} MiB".format(
        args.watchers, dt, args.watchers / dt, fired, (rss1 - rss0) / 1048576.0))
    if any(regs1.values()):
        failures.append("registries not empty after watcher cycles: {}".format(regs1))
    if fds1 > fds0:
        failures.append("file descriptors leaked: {} -> {}".format(fds0, fds1))

    t0 = time.perf_counter()
    done, bad = rpc_batches(h, args.rpcs, args.batch)
    dt = time.perf_counter() - t0
    rss2, fds2, regs2 = snapshot("after RPCs")
    print("  {} RPCs in {:.1f} s ({:.0f}/s), {} callbacks, RSS {:+.1f} MiB".format(
        args.rpcs, dt, args.rpcs / dt, done, (rss2 - rss1) / 1048576.0))
    if done != args.rpcs or bad:
        failures.append("{} of {} callbacks, {} wrong responses".format(
            done, args.rpcs, len(bad)))
    if any(regs2.values()):
        failures.append("registries not empty after RPCs: {}".format(regs2))
    if fds2 > fds1:
        failures.append("file descriptors leaked: {} -> {}".format(fds1, fds2))

    del h
    snapshot("handle dropped")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
