"""``python -m flux_ctypes``: the first thing to run when something is off.

Says which libflux-core was loaded and why, its version, which of our
table's functions it lacks, and a ping round trip: to the instance given by
--uri or FLUX_URI, or else to a throwaway single-broker instance it starts
(``flux start --test-size=1``) and shuts down again.
Exits 0 when all is well, 1 with a one-line reason otherwise.
"""

import argparse
import os
import subprocess
import sys
import time
from typing import IO, List, Optional, Tuple

from flux_ctypes import lib as flux_lib


def _dropin_state() -> str:
    from flux_ctypes import dropin

    where = dropin.status()
    if where:
        return "active: 'import flux' gives flux_ctypes ({})".format(where)
    return "not active here ('python -m flux_ctypes.compat install' in a venv)"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flux_ctypes", description=__doc__)
    parser.add_argument("--uri", help="instance to ping (default: $FLUX_URI)")
    parser.add_argument("--count", type=int, default=10, help="pings to time (default 10)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for a throwaway instance to start or stop")
    args = parser.parse_args(argv)

    try:
        loaded = flux_lib.load_library()
    except flux_lib.FluxCoreNotFound as exc:
        print(exc.strerror, file=sys.stderr)
        print("flux_ctypes: error: libflux-core not found (set FLUX_CORE_LIB)", file=sys.stderr)
        return 1
    missing = [fn.name for fn in flux_lib.FUNCTIONS if not flux_lib.lib.has(fn.name)]
    total = len(flux_lib.FUNCTIONS)
    print("library:   {}".format(loaded.path))
    print("found by:  {}".format(loaded.rule))
    print("version:   {}".format(loaded.version))
    print("functions: {} of {} in the table provided".format(total - len(missing), total))
    if missing:
        print("missing:   {}".format(", ".join(missing)))
    print("drop-in:   {}".format(_dropin_state()))

    uri = args.uri or os.environ.get("FLUX_URI")
    if uri:
        return _ping(uri, args.count, "")
    started = _start_instance(args.timeout)
    if isinstance(started, str):
        print("flux_ctypes: error: {}".format(started), file=sys.stderr)
        return 1
    proc, uri = started
    try:
        return _ping(uri, args.count, " (throwaway: flux start --test-size=1)")
    finally:
        _stop_instance(proc, args.timeout)


def _ping(uri: str, count: int, note: str) -> int:
    from flux_ctypes import Flux

    count = max(1, count)
    try:
        with Flux(uri) as h:
            h.rpc("broker.ping", {"seq": 0}, nodeid=0).get()  # connect and warm up
            start = time.perf_counter()
            for seq in range(count):
                h.rpc("broker.ping", {"seq": seq}, nodeid=0).get()
            elapsed = (time.perf_counter() - start) / count
            size, rank = h.attr_get("size"), h.get_rank()
    except OSError as exc:
        print("flux_ctypes: error: instance {}: {}".format(uri, exc), file=sys.stderr)
        return 1
    print("instance:  {} (size {}, rank {}){}".format(uri, size, rank, note))
    print("ping:      {:.1f} us to rank 0 (mean of {})".format(elapsed * 1e6, count))
    return 0


def _start_instance(timeout: float) -> "Tuple[subprocess.Popen[str], str] | str":
    """Start ``flux start --test-size=1`` running a shell that prints its
    URI and waits on stdin; (process, uri), or why it could not."""
    flux_cmd = flux_lib.flux_command()
    if flux_cmd is None:
        return ("no FLUX_URI or --uri, and no 'flux' command (on PATH or beside "
                "FLUX_CORE_LIB) to start an instance with")
    proc = subprocess.Popen(
        [flux_cmd, "start", "--test-size=1", "sh", "-c", 'echo "$FLUX_URI"; exec cat'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, start_new_session=True,
    )
    uri = _readline(proc.stdout, timeout)
    if not uri:
        _stop_instance(proc, 0)
        err = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
        return "flux start --test-size=1 failed{}".format(": " + err[-1] if err else "")
    return proc, uri


def _readline(stream: "Optional[IO[str]]", timeout: float) -> str:
    """One line from ``stream``, or "" after ``timeout`` seconds."""
    import selectors

    if stream is None:
        return ""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return stream.readline().strip()


def _stop_instance(proc: "subprocess.Popen[str]", timeout: float) -> None:
    """End the instance: closing stdin ends its shell, and so the broker;
    killed (with its whole session) if it is not gone in ``timeout``."""
    import signal

    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()

if __name__ == "__main__":
    sys.exit(main())
