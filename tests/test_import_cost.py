"""What 'import flux_ctypes' costs: the standard-library modules it leaves
for first use (issue 15), and the names it still answers for."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each of these (with what it imports) is a millisecond or more of an
# import that now takes about five; flux_ctypes imports them when first
# needed: json at the first payload, threading at the first blocking wait,
# collections with the tables, typing never (it is for mypy).
DEFERRED = ["typing", "json", "re", "enum", "signal", "threading", "functools",
            "collections", "contextlib"]

# What flux_ctypes needs at import, and what it may bring: on PyPy, ctypes
# itself imports re, enum, functools and collections, and on 3.6 types
# imports functools.
PROBE = """
import sys
import ctypes, errno, gc, math, types, weakref
if sys.version_info < (3, 7):  # no module __getattr__: lib makes its records at once
    import collections
before = set(sys.modules)
sys.path.insert(0, {root!r})
import flux_ctypes
print(" ".join(sorted(set(sys.modules) - before)))
"""


def loaded_by_import():
    # -S: no site (an interpreter's site may import any of these itself);
    # -I: nothing from the environment.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE.format(root=ROOT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


@pytest.mark.offline
def test_import_leaves_slow_modules_for_first_use():
    loaded = loaded_by_import()
    assert "flux_ctypes.handle" in loaded
    if sys.version_info >= (3, 7):  # else lib reads the tables at once
        tables = [name for name in loaded if name.startswith("flux_ctypes.ffi.tables")]
        assert not tables, tables
    early = [name for name in DEFERRED if name in loaded]
    assert not early, "import flux_ctypes imports {}".format(", ".join(early))


@pytest.mark.offline
def test_lazy_names_of_lib():
    from flux_ctypes import lib as flux_lib

    for name in ("FUNCTIONS", "TABLE", "Fn", "LoadedLibrary"):
        assert name in dir(flux_lib)
        assert getattr(flux_lib, name) is not None
    assert set(flux_lib.TABLE) == {fn.name for fn in flux_lib.FUNCTIONS}
    assert flux_lib.table() is flux_lib.TABLE
    with pytest.raises(AttributeError, match="module 'flux_ctypes.lib' has no attribute 'nope'"):
        flux_lib.nope  # noqa: B018
