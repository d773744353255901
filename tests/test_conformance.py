"""flux_ctypes' declarations checked against the installed flux-core headers.

ctypes trusts whatever prototype it is given, so a wrong table line is a
silent bug: a ``uint32_t`` declared ``c_int`` turns FLUX_NODEID_ANY into -1,
a missing parameter shifts every later one.  These tests hand the headers to
real C front ends and compare:

* every entry of ``lib.FUNCTIONS`` with its declaration, as castxml reads
  it: arity, ``...``, and for the return and each parameter the calling
  convention class (void, bool, integer of a size and signedness, float,
  double, pointer, struct by value), down through pointees and callback
  signatures, and which struct each opaque handle pointer points to;
* the ctypes Structures with gcc's sizeof/offsetof/_Alignof, and their
  field types with castxml;
* every value in ``flux_ctypes.constants`` with what gcc computes.

The headers are found in ``$FLUX_CORE_INCLUDE`` or else in ``include/``
under the prefix of the libflux-core that flux_ctypes loads, so
``FLUX_CORE_LIB=/opt/flux-core-0.77/lib/libflux-core.so.2`` checks the
table against that version's headers.  The table covers several flux-core
versions: a function absent from both these headers and the loaded library
is reported as a skip, not a failure.
"""

import ctypes
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _cdecl  # noqa: E402
from flux_ctypes import constants  # noqa: E402
from flux_ctypes import lib as flux_lib  # noqa: E402
from flux_ctypes.ffi import types as ffi_types  # noqa: E402

ENV_INCLUDE = "FLUX_CORE_INCLUDE"

# The C struct each opaque handle type points to.
OPAQUE = {
    flux_lib.flux_t._type_: "flux_handle",
    flux_lib.flux_msg_t._type_: "flux_msg",
    flux_lib.flux_future_t._type_: "flux_future",
    flux_lib.flux_reactor_t._type_: "flux_reactor",
    flux_lib.flux_watcher_t._type_: "flux_watcher",
    flux_lib.flux_msg_handler_t._type_: "flux_msg_handler",
    flux_lib.flux_conf_t._type_: "flux_conf",
    flux_lib.flux_kvs_txn_t._type_: "flux_kvs_txn",
    flux_lib.flux_kvsdir_t._type_: "flux_kvsdir",
    flux_lib.flux_kvsitr_t._type_: "flux_kvsitr",
    flux_lib.hostlist_t._type_: "hostlist",
    flux_lib.idset_t._type_: "idset",
}

# How C spells the type each ctypes Structure with fields mirrors.
STRUCTS = {
    flux_lib.flux_error_t: "flux_error_t",
    flux_lib.flux_match: "struct flux_match",
    flux_lib.flux_msg_cred: "struct flux_msg_cred",
    flux_lib.flux_msgcounters_t: "flux_msgcounters_t",
    flux_lib.idset_error_t: "idset_error_t",
}

# What the tables are checked against: libflux-core's API, the companion
# libraries' headers, and <stdlib.h> for free().
INCLUDES = ("stdlib.h", "flux/core.h", "flux/hostlist.h", "flux/idset.h")
INCLUDE_LINES = ["#include <{}>".format(name) for name in INCLUDES]

# Constants newer than some supported flux-core: name -> first version with
# it.  Headers older than that may lack it (reported as a skip); any other
# constant missing from the headers is a failure.
CONSTANTS_SINCE = {
    "FLUX_ROLE_ADMIN": (0, 88),
    "FLUX_ROLE_PRIVILEGED": (0, 88),
}


_CTYPES_BASES = (ctypes._SimpleCData, ctypes._Pointer, ctypes._CFuncPtr,
                 ctypes.Structure, ctypes.Union, ctypes.Array)


def table_names():
    """ctypes type -> the name flux_ctypes.ffi.types gives it, for messages."""
    names = {}
    for name, value in sorted(vars(ffi_types).items()):
        if isinstance(value, type) and issubclass(value, _CTYPES_BASES):
            # prefer a public name (flux_t) over a private alias (_u32_p)
            if value not in names or names[value].startswith("_"):
                names[value] = name
    return names


def fail_on(problems, what, headers):
    """Fail naming every problem found, if there is any."""
    if problems:
        pytest.fail("{} {} against {}:\n  {}".format(
            len(problems), what, headers, "\n  ".join(problems)), pytrace=False)


# --- finding the tools and the headers ---------------------------------------
class Headers:
    def __init__(self, loaded, include):
        self.loaded = loaded
        self.include = include
        self.version_text = "unknown"
        self.version = ()
        try:
            with open(os.path.join(include, "flux", "core", "version.h")) as f:
                text = f.read()
            match = re.search(r'FLUX_CORE_VERSION_STRING\s+"([^"]*)"', text)
            if match:
                self.version_text = match.group(1)
                self.version = flux_lib.parse_version(self.version_text)
        except OSError:
            pass

    def __str__(self):
        return "{} (flux-core {}; library {} {})".format(
            self.include, self.version_text, self.loaded.version, self.loaded.path
        )

    def has_header(self, name):
        return os.path.exists(os.path.join(self.include, "flux", "core", name))


@pytest.fixture(scope="module")
def headers():
    try:
        loaded = flux_lib.load_library()
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("libflux-core not loadable: " + str(exc).splitlines()[0])
    env = os.environ.get(ENV_INCLUDE)
    if env:
        tried = [env]
    else:
        # <prefix>/lib/libflux-core.so.2 -> <prefix>/include; also one level
        # further up for multiarch layouts (<prefix>/lib/x86_64-linux-gnu)
        libdir = os.path.dirname(os.path.realpath(loaded.path))
        prefix = os.path.dirname(libdir)
        tried = [os.path.join(prefix, "include"),
                 os.path.join(os.path.dirname(prefix), "include")]
    for include in tried:
        if os.path.exists(os.path.join(include, "flux", "core.h")):
            return Headers(loaded, include)
    pytest.skip(
        "no flux/core.h in {} (headers for {} not installed; set {})".format(
            " or ".join(tried), loaded.path, ENV_INCLUDE
        )
    )


@pytest.fixture(scope="module")
def gcc(tmp_path_factory):
    """A C compiler that can build and run a program here."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc/cc) on PATH")
    workdir = tmp_path_factory.mktemp("cc")
    source = str(workdir / "hello.c")
    with open(source, "w") as f:
        f.write("int main (void) { return 0; }\n")
    proc = subprocess.run([cc, "-o", str(workdir / "hello"), source],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if proc.returncode != 0:
        pytest.skip("{} cannot build a program here: {}".format(cc, proc.stdout.strip()))
    return cc


def build_and_run(cc, include, source_text, workdir, name):
    """Compile C text against the headers and run it; return its output."""
    source = os.path.join(str(workdir), name + ".c")
    binary = os.path.join(str(workdir), name)
    with open(source, "w") as f:
        f.write(source_text)
    env = dict(os.environ, LC_ALL="C")  # plain quotes in gcc's messages
    proc = subprocess.run(
        [cc, "-std=gnu11", "-I", include, "-o", binary, source],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        env=env,
    )
    if proc.returncode != 0:
        return None, proc.stdout
    out = subprocess.run([binary], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    return out.stdout, ""


@pytest.fixture(scope="module")
def decls(headers, tmp_path_factory):
    castxml = shutil.which("castxml")
    if castxml is None:
        pytest.skip("castxml not on PATH (Debian/Ubuntu: apt-get install castxml)")
    workdir = tmp_path_factory.mktemp("castxml")
    source = str(workdir / "core.c")
    output = str(workdir / "core.xml")
    with open(source, "w") as f:
        f.write("\n".join(INCLUDE_LINES) + "\n")
    ok, errors = _cdecl.run_castxml(
        castxml, source, output, [headers.include], cc=shutil.which("gcc")
    )
    if not ok and "file not found" in errors and "flux/" not in errors:
        pytest.skip("flux/core.h needs headers not installed here: " + errors.strip())
    if not ok:
        pytest.fail("castxml could not read {} in {}:\n{}".format(
            ", ".join(INCLUDES), headers.include, errors), pytrace=False)
    return _cdecl.Declarations(output)


# --- functions -----------------------------------------------------------------
class FunctionReport:
    def __init__(self):
        self.problems = []
        self.absent = []  # (name, why): not in this version, not a failure
        self.checked = 0


def check_function(fn, decls, names):
    """Every disagreement between table entry ``fn`` and the header."""
    proto = decls.function(fn.name)
    where = "{} ({})".format(fn.name, proto.location)
    problems = []
    nfixed = len(proto.params)
    argtypes = list(fn.argtypes)
    if fn.variadic:
        if not proto.variadic:
            problems.append("{}: the table says variadic, the header does not: {}".format(
                where, proto.signature()))
        extras = argtypes[nfixed:]
        for i, extra in enumerate(extras, nfixed + 1):
            if not _cdecl.promotes_unchanged(extra):
                problems.append(
                    "{}: argument {} goes through '...' as {}, which C would promote".format(
                        where, i, _cdecl.py_name(extra, names)))
        argtypes = argtypes[:nfixed]
    elif proto.variadic:
        problems.append(
            "{}: the header is variadic but the entry lacks variadic=True: {}".format(
                where, proto.signature()))
    if len(argtypes) != nfixed:
        problems.append("{}: {} fixed parameters in the header ({}), {} in the table".format(
            where, nfixed, proto.signature(), len(argtypes)))
        return problems
    problems += _cdecl.compare(proto.ret, fn.restype, where + ": return", OPAQUE, names)
    for i, ((pname, ctype), py) in enumerate(zip(proto.params, argtypes), 1):
        label = "{}: parameter {} '{}'".format(where, i, pname)
        problems += _cdecl.compare(ctype, py, label, OPAQUE, names)
    # the error convention must be able to see an error in this return type
    if fn.errors == flux_lib.NULL and proto.ret.kind != "pointer":
        problems.append("{}: errors=NULL but it returns {}".format(where, proto.ret.spelling))
    if fn.errors == flux_lib.NEG and not (
        proto.ret.kind in ("int", "enum") and proto.ret.signed
    ):
        problems.append("{}: errors=NEG but it returns {}".format(where, proto.ret.spelling))
    return problems


@pytest.fixture(scope="module")
def function_report(headers, decls):
    report = FunctionReport()
    names = table_names()
    cdll = headers.loaded.cdll
    seen = set()
    for fn in flux_lib.FUNCTIONS:
        if fn.name in seen:
            report.problems.append("{}: listed twice in FUNCTIONS".format(fn.name))
        seen.add(fn.name)
        if decls.has_function(fn.name):
            report.checked += 1
            report.problems += check_function(fn, decls, names)
        elif fn.name == "flux_barrier" and not headers.has_header("barrier.h"):
            report.absent.append((fn.name, "these headers have no barrier.h"))
        elif hasattr(cdll, fn.name):
            report.problems.append(
                "{}: not declared in {} (in {}), yet the library exports it".format(
                    fn.name, ", ".join(INCLUDES), headers.include))
        else:
            report.absent.append((fn.name, "neither these headers nor the library have it"))
    return report


def test_function_prototypes_match_headers(headers, function_report):
    """Every table entry has the header's arity and calling-convention types."""
    report = function_report
    fail_on(report.problems, "prototype mismatches", headers)
    assert report.checked > 0


def test_table_functions_present_in_these_headers(headers, function_report):
    """Entries for other flux-core versions: absent here, so unchecked."""
    if function_report.absent:
        pytest.skip("not in flux-core {}, so not checked: {}".format(
            headers.version_text,
            ", ".join("{} ({})".format(n, why) for n, why in function_report.absent)))


# --- structures ------------------------------------------------------------------
def struct_layout_program(structs):
    lines = ["#include <stddef.h>", "#include <stdio.h>"] + INCLUDE_LINES + [
             "int main (void)", "{"]
    for cls, spelling in structs.items():
        key = cls.__name__
        lines.append('    printf ("{} sizeof %zu\\n", sizeof ({}));'.format(key, spelling))
        lines.append('    printf ("{} alignof %zu\\n", _Alignof ({}));'.format(key, spelling))
        for field in cls._fields_:
            fname = field[0]
            lines.append('    printf ("{}.{} offset %zu\\n", offsetof ({}, {}));'.format(
                key, fname, spelling, fname))
            lines.append('    printf ("{}.{} sizeof %zu\\n", sizeof ((({} *)0)->{}));'.format(
                key, fname, spelling, fname))
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


def test_structures_cover_lib():
    """Every ctypes Structure with fields in flux_ctypes.ffi.types is checked below."""
    declared = {v for v in vars(ffi_types).values()
                if isinstance(v, type) and issubclass(v, ctypes.Structure)
                and getattr(v, "_fields_", None)}
    assert declared == set(STRUCTS), "update STRUCTS in this test"
    opaque = {v for v in vars(ffi_types).values() if _cdecl.is_opaque(v)}
    assert opaque == set(OPAQUE), "update OPAQUE in this test"


def test_structure_layouts_match_gcc(headers, gcc, tmp_path):
    """sizeof, _Alignof and every field's offset and size, as gcc lays them out."""
    out, errors = build_and_run(gcc, headers.include, struct_layout_program(STRUCTS),
                                tmp_path, "layout")
    if out is None:
        pytest.fail("gcc could not compile the layout probe (a field name the "
                    "headers lack?):\n" + errors, pytrace=False)
    c_values = {}
    for line in out.splitlines():
        key, what, value = line.split()
        c_values[key, what] = int(value)
    problems = []
    for cls, spelling in STRUCTS.items():
        py_values = {(cls.__name__, "sizeof"): ctypes.sizeof(cls),
                     (cls.__name__, "alignof"): ctypes.alignment(cls)}
        for field in cls._fields_:
            desc = getattr(cls, field[0])
            key = "{}.{}".format(cls.__name__, field[0])
            py_values[key, "offset"] = desc.offset
            py_values[key, "sizeof"] = desc.size
        for (key, what), py_value in sorted(py_values.items()):
            if c_values.get((key, what)) != py_value:
                problems.append("{} {}: C ({}) {}, ctypes {}".format(
                    key, what, spelling, c_values.get((key, what)), py_value))
    fail_on(problems, "structure layout differences", headers)


def test_structure_fields_match_headers(headers, decls):
    """Same fields, in the same order, of the same calling-convention types."""
    names = table_names()
    problems = []
    for cls, spelling in STRUCTS.items():
        if spelling.startswith("struct "):
            ctype = decls.record(spelling.split()[1])
        else:
            ctype = decls.typedef(spelling)
        if ctype is None:
            problems.append("{}: not declared by the headers".format(spelling))
            continue
        problems += _cdecl.compare(ctype, cls, spelling, OPAQUE, names)
        c_fields = decls.record_fields(ctype)
        py_fields = [f[:2] for f in cls._fields_]
        if [f[0] for f in c_fields] != [f[0] for f in py_fields]:
            problems.append("{}: fields are {} in C, {} in ctypes".format(
                spelling, [f[0] for f in c_fields], [f[0] for f in py_fields]))
            continue
        for (fname, fctype, _offset), (_name, fpy) in zip(c_fields, py_fields):
            problems += _cdecl.compare(
                fctype, fpy, "{} field '{}'".format(spelling, fname), OPAQUE, names)
    fail_on(problems, "structure field differences", headers)


# --- constants -----------------------------------------------------------------
def constants_program(names):
    lines = ["#include <stdio.h>", "#include <flux/core.h>", "int main (void)", "{"]
    for name in names:
        lines.append('    printf ("{0} %lld\\n", (long long)({0}));'.format(name))
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def constant_report(headers, gcc, tmp_path_factory):
    """{name: C value} for the constants the headers have, and those they lack."""
    workdir = tmp_path_factory.mktemp("constants")
    wanted = list(constants.__all__)
    missing = []
    for attempt in range(2):
        out, errors = build_and_run(gcc, headers.include, constants_program(wanted),
                                    workdir, "constants{}".format(attempt))
        if out is not None:
            break
        undeclared = set(re.findall(r"['\u2018](FLUX_\w+)['\u2019] undeclared", errors))
        if not undeclared or attempt:
            pytest.fail("gcc could not compile the constants probe:\n" + errors,
                        pytrace=False)
        missing += sorted(undeclared)
        wanted = [n for n in wanted if n not in undeclared]
    values = {}
    for line in out.splitlines():
        name, value = line.split()
        values[name] = int(value)
    return values, missing


def test_constants_match_headers(headers, constant_report):
    """Every name in flux_ctypes.constants has the headers' value."""
    values, missing = constant_report
    assert constants.__all__, "flux_ctypes.constants exports nothing"
    problems = []
    for name in constants.__all__:
        py_value = getattr(constants, name)
        if name in values:
            # the probe prints through long long: an all-ones uint64_t
            # (FLUX_JOBID_ANY) reads back as -1, so compare 64-bit patterns
            if values[name] & 0xFFFFFFFFFFFFFFFF != py_value & 0xFFFFFFFFFFFFFFFF:
                problems.append("{}: C {} (0x{:x}), Python {} (0x{:x})".format(
                    name, values[name], values[name] & 0xFFFFFFFFFFFFFFFF,
                    py_value, py_value & 0xFFFFFFFFFFFFFFFF))
        elif not (name in CONSTANTS_SINCE and headers.version < CONSTANTS_SINCE[name]):
            problems.append("{}: not defined by the headers".format(name))
    fail_on(problems, "constant differences", headers)


def test_constants_present_in_these_headers(headers, constant_report):
    """Constants of newer flux-core versions: absent here, so unchecked."""
    _values, missing = constant_report
    older = [n for n in missing
             if n in CONSTANTS_SINCE and headers.version < CONSTANTS_SINCE[n]]
    if older:
        pytest.skip("not in flux-core {}, so not checked: {}".format(
            headers.version_text, ", ".join(older)))
