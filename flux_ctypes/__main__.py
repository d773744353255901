"""``python -m flux_ctypes``: the first thing to run when something is off.

Says which libflux-core was loaded and why, its version, which of our
table's functions it lacks, and (given an instance) a ping round trip.
Exits 0 when all is well, 1 with a one-line reason otherwise.
"""

import argparse
import os
import sys
import time
from typing import List, Optional

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
    if not uri:
        print("instance:  none (set FLUX_URI or pass --uri to ping one)")
        return 0
    from flux_ctypes import Flux

    try:
        h = Flux(uri)
        h.rpc("broker.ping", {"seq": 0}, nodeid=0).get()  # connect and warm up
        start = time.perf_counter()
        for seq in range(max(1, args.count)):
            h.rpc("broker.ping", {"seq": seq}, nodeid=0).get()
        elapsed = (time.perf_counter() - start) / max(1, args.count)
    except OSError as exc:
        print("flux_ctypes: error: instance {}: {}".format(uri, exc), file=sys.stderr)
        return 1
    print("instance:  {} (size {}, rank {})".format(uri, h.attr_get("size"), h.get_rank()))
    print("ping:      {:.1f} us to rank 0 (mean of {})".format(elapsed * 1e6, max(1, args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
