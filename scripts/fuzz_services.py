"""The service groups of scripts/fuzz.py: random values into the public
entry points of flux_ctypes.job, .kvs, .hostlist, .idset and .resource.

Imported by fuzz.py's child (``--group job`` etc.); each group builds a
pool of live objects and a list of entry points, and calls them with
arguments that are, by turns, plausible for the parameter (job IDs in
every encoding, jobspecs and R mutated from valid ones, hostlist and
idset text, KVS keys under ``fuzz.``) and anything at all (fuzz.py's
values: NaN, NULs, lone surrogates, huge ints and strings, wrong types).

A call with bad input may return, or raise TypeError, ValueError, OSError
(their subclasses: KeyError, IndexError, FileNotFoundError, TimeoutError,
JSONDecodeError...), OverflowError (a job ID out of range, as documented),
or JobException (a job's fatal exception, as documented), with a message.
Anything else is a finding: ctypes.ArgumentError, SystemError,
AttributeError, UnicodeError, RecursionError... or an accepted exception
whose message is empty or a bare errno number.

Calls that wait by contract (wait/result/event_wait on a job that may be
active, a journal poll, a KVS watch) are made through their *_async form
with a short wait_for(), or only with job IDs of no active job, so that a
hang is a bug, not a wait.  Every job a submission accepts is cancelled at
the end of the batch; the valid jobspecs run ``true`` or a held job.
"""

import copy
import importlib.util
import json
import os
import random
import string

EXPECTED_SERVICE = (TypeError, ValueError, OSError, LookupError, OverflowError)

JOBID_ANY = 2 ** 64 - 1

# --- text ---------------------------------------------------------------------
TEXTS = [
    "", " ", "a", ".", "..", "a..b", "a.", ".a", "/", "\n", "\t", "-", "-1", "0", "1",
    "1e3", "0x10", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999999", "%n", "%s%s%n", "a\0b", "\0", "\udcff", "\ud800x",
    "é", "☃", "😀", "ƒ", "x" * 5000, "x" * 100000, "[", "]", "{", "}", "[]", "{}",
    "null", "true", "[1,2", '{"a":', "\\", "'", '"', ",", ",,", "*", "?",
]


def from_yaml_stream(stream):
    """JobspecV1.from_yaml_stream(); where PyYAML is not installed its
    documented refusal (an ImportError saying so) is the expected outcome."""
    from flux_ctypes.job import JobspecV1

    try:
        return JobspecV1.from_yaml_stream(stream)
    except ImportError as exc:
        if importlib.util.find_spec("yaml") is not None or "needs PyYAML" not in str(exc):
            raise
        return None


def as_text(rng, data, bytes_share):
    """``data`` as JSON text, cut short 30% of the time, as bytes
    ``bytes_share`` of the time ("{" where JSON can't encode it)."""
    try:
        text = json.dumps(data)
    except ValueError:
        text = "{"
    if rng.random() < 0.3:
        text = text[:rng.randint(0, len(text))]
    return text.encode() if rng.random() < bytes_share else text


def rand_text(rng, alphabet=None, maxlen=12):
    alphabet = alphabet or (string.ascii_letters + string.digits + "[]-,.ƒ\0\udcff😀 ")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, maxlen)))


def mutate(rng, obj, generic, depth=0):
    """``obj`` (JSON-like) with one random change somewhere in it."""
    if isinstance(obj, dict) and obj and rng.random() < 0.8:
        obj = dict(obj)
        key = rng.choice(sorted(obj, key=str))
        roll = rng.random()
        if roll < 0.2:
            del obj[key]
        elif roll < 0.35:
            obj[key] = generic()
        elif roll < 0.4:
            obj[rand_text(rng)] = generic()
        else:
            obj[key] = mutate(rng, obj[key], generic, depth + 1)
        return obj
    if isinstance(obj, list) and obj and rng.random() < 0.8:
        obj = list(obj)
        i = rng.randrange(len(obj))
        roll = rng.random()
        if roll < 0.15:
            del obj[i]
        elif roll < 0.3:
            obj.append(copy.deepcopy(obj[i]))
        elif roll < 0.45:
            obj[i] = generic()
        else:
            obj[i] = mutate(rng, obj[i], generic, depth + 1)
        return obj
    return rng.choice([
        generic(), generic(), -1, 0, 2 ** 64, 1e308, float("nan"), "", "x", None, [], {},
        True, rand_text(rng), 10 ** 30,
    ])


def json_value(rng):
    return rng.choice([
        0, 1, -1, 2 ** 31, 2 ** 53 + 1, 2 ** 64, -(2 ** 63) - 1, 10 ** 40, 0.5, 1e300,
        True, False, None, "", "a", "\udcff", "a\0b", "😀", [], {}, [1, "a", None],
        {"a": {"b": [1]}},
    ])


class Gen:
    """Argument values: typed (from a group's list or function) or generic."""

    def __init__(self, rng, generic_values):
        self.rng = rng
        self.generic_values = generic_values
        self.clean = False  # typed values only (a call that gets deeper)

    def generic(self):
        return self.generic_values(self.rng)

    def pick(self, typed, p=0.8):
        if self.clean or self.rng.random() < p:
            value = typed(self.rng) if callable(typed) else self.rng.choice(typed)
            return value
        return self.generic()


def call_entry(rng, gen, report, label, target, positional, keywords=None, log=None,
               call=None):
    """Call ``target`` with the typed ``positional`` generators (one more or
    one fewer at times) and a random subset of ``keywords``."""
    gen.clean = rng.random() < 0.4
    if gen.clean:
        nargs = len(positional)
    else:
        nargs = max(0, len(positional) + rng.choice([0, 0, 0, 0, 0, 0, 0, -1, 1]))
    args = []
    for i in range(nargs):
        if i < len(positional):
            args.append(positional[i]())
        else:
            args.append(gen.generic())
    kwargs = {}
    for name, make in (keywords or {}).items():
        if rng.random() < 0.3 and not (gen.clean and make == gen.generic):
            kwargs[name] = make()
    gen.clean = False
    if log:
        log("{}({}{})".format(label, ", ".join(short(a) for a in args),
                              "".join(", {}={}".format(k, short(v)) for k, v in kwargs.items())))
    report["calls"] += 1
    call(report, label, lambda: target(*args, **kwargs))


def short(value):
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails is shown as such
        text = "<unrepresentable {}>".format(type(value).__name__)
    return text if len(text) < 60 else text[:57] + "..."


def public_methods(obj, extra=()):
    names = []
    for name in dir(type(obj)):
        if name.startswith("_") and name not in extra:
            continue
        try:
            attr = getattr(type(obj), name)
        except AttributeError:
            continue
        if callable(attr) or isinstance(attr, property):
            names.append(name)
    return names


def bounded_wait(future, seconds=0.05):
    """get() of ``future`` if it is fulfilled within ``seconds``, else the
    TimeoutError wait_for() raises."""
    future.wait_for(seconds)
    return future.get()


# --- hostlist -------------------------------------------------------------------
HOSTLISTS = [
    "", "node1", "node[1-3]", "node[0-15],login1", "a[1-3,5,7-9]b", "a[3-1]", "a[",
    "a]", "a[1-]", "a[-1]", "a[1-2][3-4]", "a[01-10]", "a[1-3]x[4-5]", "[1-2]", "a,,b",
    " a , b ", "a[0-18446744073709551615]", "a[0-99999999999999999999999]",
    "n99999999999999999999999", "n18446744073709551615", "a[1-1000000]",
    "a[1-4294967296]", "a[0-9]" * 5, "ƒ[1-2]", "😀[1-3]", "a\0b", "a[1\0-2]",
    "a[1,1,1]", "a[00-01]", "host-[1-2]-x", "a[1-2,a]", "a[,]", "-", ",", "[", "]",
]

HOST_METHODS_EXTRA = ("__getitem__", "__contains__", "__len__", "__iter__", "__eq__",
                      "__ne__", "__str__", "__repr__", "__copy__", "__deepcopy__",
                      "__reduce_ex__")


def hostlist_group(rng, gen, report, calls, call, log):
    from flux_ctypes import hostlist
    from flux_ctypes.hostlist import Hostlist

    def host_text(r):
        if r.random() < 0.5:
            return r.choice(HOSTLISTS)
        return rand_text(r, "abn0123456789[]-,\0ƒ ", 16)

    def host_arg():
        roll = rng.random()
        if roll < 0.55:
            return host_text(rng)
        if roll < 0.7:
            return [host_text(rng) for _ in range(rng.randint(0, 3))]
        if roll < 0.8:
            return rng.choice(pool)
        return gen.generic()

    def small(h):
        try:
            return len(h) < 100000
        except Exception:  # noqa: BLE001 - closed: its refusal is under test
            return True

    pool = []

    def build():
        del pool[:]
        for text in ("node[0-15],login1", "a,b,a", "", "x[1-3]"):
            pool.append(Hostlist(text))
        closed = Hostlist("c[1-2]")
        closed.close()
        pool.append(closed)

    build()
    index_arg = lambda: gen.pick([0, 1, -1, -17, 15, 2 ** 63, 10 ** 30, slice(None, None, -1),  # noqa: E731
                                  slice(1, 3), slice(0, 10 ** 30, 2), slice(0, 5, 0),
                                  [0, 1], [0, 99], (1, -1), ["a"], 1.5])
    for _ in range(calls):
        if rng.random() < 0.03:
            build()
        roll = rng.random()
        if roll < 0.2:
            call_entry(rng, gen, report, "Hostlist", Hostlist, [host_arg],
                       {"handle": gen.generic}, log, call)
            continue
        if roll < 0.25:
            call_entry(rng, gen, report, "hostlist.decode", hostlist.decode, [host_arg],
                       None, log, call)
            continue
        obj = rng.choice(pool)
        name = rng.choice(public_methods(obj, HOST_METHODS_EXTRA))
        if name in ("expand", "__iter__", "__reduce_ex__", "__deepcopy__", "__copy__",
                    "copy", "sort", "uniq") and not small(obj):
            continue
        if name in ("close",) and rng.random() < 0.7:
            continue
        attr = getattr(type(obj), name)
        label = "Hostlist." + name
        if isinstance(attr, property):
            log(label)
            report["calls"] += 1
            call(report, label, lambda: getattr(obj, name))
            continue
        method = getattr(obj, name)
        if name == "__getitem__":
            positional = [index_arg]
        elif name in ("__iter__",):
            method = (lambda m: lambda *a: list(m(*a)))(method)
            positional = []
        elif name in ("__len__", "__str__", "__repr__", "expand", "sort", "uniq", "copy",
                      "encode", "count", "close", "__copy__"):
            positional = []
        elif name == "append":
            positional = [host_arg for _ in range(rng.randint(0, 3))]
        elif name == "index":
            positional = [host_arg, gen.generic]
        else:
            positional = [host_arg]
        call_entry(rng, gen, report, label, method, positional, None, log, call)
        if rng.random() < 0.3:
            result = None
            try:
                result = method() if name in ("sort", "uniq", "copy") else None
            except Exception:  # noqa: BLE001 - already judged above
                pass
            if isinstance(result, Hostlist) and len(pool) < 30:
                pool.append(result)


# --- idset ----------------------------------------------------------------------
IDSETS = [
    "", "0", "0-3", "1,3,5", "[0-3]", "0-3,7", "3-0", "1,1", "1-", "-1", "1--2", ",",
    "1,,2", "a", "1.5", " 1", "1 ", "[1-3", "1-3]", "[]", "0-4294967294", "4294967295",
    "0-4294967295", "18446744073709551615", "99999999999999999999", "00001", "0x1",
    "1-2-3", "1\0", "٣", "¹", "1e3", "+1", "0-99999999999999999999999",
]

IDSET_METHODS_EXTRA = ("__len__", "__iter__", "__setitem__", "__getitem__", "__contains__",
                       "__iadd__", "__isub__", "__or__", "__and__", "__sub__", "__eq__",
                       "__ne__", "__str__", "__repr__", "__hash__", "__bool__")


def idset_group(rng, gen, report, calls, call, log):
    from flux_ctypes import idset
    from flux_ctypes.idset import IDset

    def id_value(r):
        return r.choice([0, 1, 2, 3, 7, 100, -1, -(2 ** 63), 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1,
                         2 ** 32, 2 ** 64, 10 ** 30, True, 1.0, "1", None, 3.5])

    def set_arg():
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(IDSETS) if rng.random() < 0.6 else rand_text(
                rng, "0123456789-,[] \0", 12)
        if roll < 0.55:
            return [id_value(rng) for _ in range(rng.randint(0, 4))]
        if roll < 0.65:
            return id_value(rng)
        if roll < 0.8:
            return rng.choice(pool)
        return gen.generic()

    def small(s):
        try:
            return s.count() < 100000
        except Exception:  # noqa: BLE001
            return True

    pool = []

    def build():
        del pool[:]
        for text in ("0-3,7", "", "5", "0-1000"):
            pool.append(IDset(text))

    build()
    idv = lambda: gen.pick(id_value)  # noqa: E731
    flags = lambda: gen.pick([0, 1, 2, 3, 4, -1, 2 ** 40, True, None])  # noqa: E731
    for _ in range(calls):
        if rng.random() < 0.03:
            build()
        roll = rng.random()
        if roll < 0.2:
            call_entry(rng, gen, report, "IDset", IDset, [set_arg, flags],
                       {"handle": gen.generic}, log, call)
            continue
        if roll < 0.25:
            call_entry(rng, gen, report, "idset.decode", idset.decode, [set_arg], None, log,
                       call)
            continue
        obj = rng.choice(pool)
        name = rng.choice(public_methods(obj, IDSET_METHODS_EXTRA))
        if name in ("expand", "__iter__") and not small(obj):
            continue
        attr = getattr(type(obj), name, None)
        label = "IDset." + name
        if isinstance(attr, property):
            log(label)
            report["calls"] += 1
            call(report, label, lambda: getattr(obj, name))
            continue
        method = getattr(obj, name)
        if name == "__iter__":
            method = (lambda m: lambda *a: list(m(*a)))(method)
            positional = []
        elif name in ("__len__", "__str__", "__repr__", "expand", "copy", "count", "first",
                      "last", "__hash__", "__bool__"):
            positional = []
        elif name in ("test", "next", "__getitem__", "__contains__"):
            positional = [idv]
        elif name in ("set", "clear"):
            positional = [idv, idv]
        elif name == "__setitem__":
            positional = [idv, lambda: gen.pick([True, False, 0, 1, 2, None])]
        elif name in ("encode", "set_flags"):
            positional = [flags]
        elif name in ("union", "intersect", "difference"):
            positional = [set_arg for _ in range(rng.randint(0, 3))]
        else:
            positional = [set_arg]
        call_entry(rng, gen, report, label, method, positional, None, log, call)
        if name in ("copy", "union") and len(pool) < 20 and rng.random() < 0.2:
            pool.append(IDset(rng.choice(IDSETS[:6])))


# --- resource -------------------------------------------------------------------
def sample_r(nodes=2, cores="0-3"):
    return {
        "version": 1,
        "execution": {
            "R_lite": [{"rank": "0-{}".format(nodes - 1) if nodes > 1 else "0",
                        "children": {"core": cores,
                                                                      "gpu": "0"}}],
            "nodelist": ["node[0-{}]".format(nodes - 1) if nodes > 1 else "node0"],
            "properties": {"amd": "0", "big": "1"},
            "starttime": 0.0,
            "expiration": 100.0,
        },
        "scheduling": {"writer": "fuzz"},
    }


RSET_METHODS_EXTRA = ("__or__", "__and__", "__sub__", "__str__", "__repr__")


def resource_group(rng, gen, report, calls, call, log, flux_handle):
    from flux_ctypes import resource
    from flux_ctypes.resource import ResourceCount, ResourceSet, Rv1Set

    def r_arg():
        roll = rng.random()
        base = sample_r(rng.randint(1, 4), rng.choice(["0-3", "0", "0-1,5"]))
        if roll < 0.15:
            return base
        if roll < 0.5:
            data = base
            for _ in range(rng.randint(1, 3)):
                data = mutate(rng, data, lambda: json_value(rng))
            return data
        if roll < 0.7:
            return as_text(rng, mutate(rng, base, lambda: json_value(rng)), 0.2)
        if roll < 0.8:
            return rng.choice(pool)
        return gen.generic()

    def ranks_arg():
        return gen.pick(lambda r: r.choice(IDSETS + [0, 1, -1, [0, 1], 2 ** 64]))

    def constraint_arg():
        return gen.pick(lambda r: r.choice([
            {"properties": ["amd"]}, {"properties": ["^amd"]}, {"hostlist": ["node0"]},
            {"ranks": ["0"]}, {"not": [{"properties": ["big"]}]},
            {"and": [{"properties": ["amd"]}, {"or": []}]}, {"bogus": [1]}, {"properties": 1},
            {"ranks": ["x"]}, {"hostlist": ["a["]}, '{"properties": ["amd"]}', "{", [],
        ]))

    pool = []

    def build():
        del pool[:]
        pool.append(ResourceSet(sample_r()))
        pool.append(ResourceSet(sample_r(1, "0")))
        pool.append(ResourceSet())
        pool.append(Rv1Set(sample_r(3)))

    build()
    for _ in range(calls):
        if rng.random() < 0.03:
            build()
        roll = rng.random()
        if roll < 0.2:
            call_entry(rng, gen, report, "ResourceSet", ResourceSet, [r_arg],
                       {"version": lambda: gen.pick([1, 2, 0, True, "1"]),
                        "keep_scheduling": gen.generic}, log, call)
            continue
        if roll < 0.28:
            call_entry(rng, gen, report, "Rv1Set", Rv1Set, [r_arg],
                       {"keep_scheduling": gen.generic}, log, call)
            continue
        if roll < 0.33:
            call_entry(rng, gen, report, "ResourceCount.from_count_spec",
                       ResourceCount.from_count_spec,
                       [lambda: gen.pick([1, 0, -1, "1", {"min": 1}, {"min": 1, "max": 4},
                                          {"min": 1, "max": 8, "operator": "*",
                                           "operand": 2},
                                          {"min": 4, "max": 1}, {"min": 1, "operator": "^",
                                                                 "operand": 0},
                                          {"min": 1, "max": 2 ** 40, "operator": "+",
                                           "operand": 1}, {}])],
                       {"default": gen.generic}, log, call)
            continue
        if roll < 0.37 and flux_handle is not None:
            handle = flux_handle if rng.random() < 0.9 else gen.generic()
            which = rng.choice(["resource_list", "resource_status"])
            fn = getattr(resource, which)
            log(which)
            report["calls"] += 1

            def listing(fn=fn, handle=handle):
                result = fn(handle).get()
                for state in ("all", "up", "down", "free", "allocated"):
                    if hasattr(result, state):
                        getattr(result, state)
                if rng.random() < 0.5:
                    result.filter(gen.pick(lambda r: r.choice(["0", "a[", "0-1", [0], ""])))
                if hasattr(result, "copy_constraint") and rng.random() < 0.5:
                    result.copy_constraint(constraint_arg())
                if hasattr(result, "get_idset") and rng.random() < 0.5:
                    result.get_idset(gen.pick(["online", "offline", "drained", "bogus"]))
                if hasattr(result, "get_drain_info") and rng.random() < 0.5:
                    result.get_drain_info(gen.pick([0, 1, -1, 2 ** 64]))
                return result

            call(report, which, listing)
            continue
        obj = rng.choice(pool)
        name = rng.choice(public_methods(obj, RSET_METHODS_EXTRA))
        label = "{}.{}".format(type(obj).__name__, name)
        attr = getattr(type(obj), name)
        if isinstance(attr, property):
            if attr.fset is not None and rng.random() < 0.5:
                value = gen.pick([None, "up", "", 0, -1.5, 1e308, float("nan"), 2 ** 64,
                                  {"a": 1}, "x\0"])
                log(label + " = " + short(value))
                report["calls"] += 1
                call(report, label, lambda: setattr(obj, name, value))
            else:
                log(label)
                report["calls"] += 1
                call(report, label, lambda: getattr(obj, name))
            continue
        method = getattr(obj, name)
        if name in ("copy_ranks", "remove_ranks"):
            positional = [ranks_arg]
        elif name == "copy_constraint":
            positional = [constraint_arg]
        elif name == "set_property":
            positional = [lambda: gen.pick(["x", "amd", "^x", "a,b", "", "x\0", "😀", "a b"]),
                          ranks_arg]
        elif name == "host_ranks":
            positional = [lambda: gen.pick(lambda r: r.choice(HOSTLISTS)), gen.generic]
        elif name == "count":
            positional = [lambda: gen.pick(["core", "gpu", "node", "x", ""])]
        elif name in ("union", "diff", "intersect", "append", "add", "__or__", "__and__",
                      "__sub__"):
            positional = [r_arg for _ in range(1 if name.startswith("__")
                                               or type(obj) is Rv1Set else
                                               rng.randint(0, 2))]
        elif name in ("set_expiration", "set_starttime"):
            positional = [lambda: gen.pick([0, 1.5, -1, float("nan"), float("inf"), "1",
                                            2 ** 64])]
        else:
            positional = []
        call_entry(rng, gen, report, label, method, positional, None, log, call)


# --- kvs ------------------------------------------------------------------------
KVS_NAMESPACES = ["fuzz-ns-0", "fuzz-ns-1", "fuzz-nosuchns", "", "primary\0x", "\udcff",
                  "ns with space", "x" * 5000, "😀"]


def kvs_group(rng, gen, report, calls, call, log, uri):
    from flux_ctypes import Flux
    from flux_ctypes import kvs
    from flux_ctypes.kvs import KVSDir, KVSTxn

    h = Flux(uri)

    def key_read(r):
        roll = r.random()
        if roll < 0.5:
            return "fuzz." + r.choice(["a", "b", "d", "d.x", "sym.l", "nope", "a.b",
                                       "sym.loop", "sym.loop.x", "sym.l.x"])
        if roll < 0.7:
            return r.choice([".", "", "..", "fuzz", "fuzz..a", "fuzz.", ".fuzz", "resource",
                             "fuzz.a\0b", b"fuzz.a", b"fuzz.\xff", "fuzz.\udcff",
                             "fuzz.😀", "fuzz." + "k" * 70000])
        return "fuzz." + rand_text(r)

    def key_write(r):
        # below fuzz. only: a write elsewhere would break the instance.
        # Never through fuzz.sym, where the symlinks are: flux-core 0.88's
        # KVS recurses without end (the broker segfaults) committing a
        # write below a symlink cycle ("flux kvs link a a; flux kvs put
        # a.x=1"), which no client can prevent.
        roll = r.random()
        if roll < 0.6:
            key = "fuzz." + r.choice(["a", "b", "d", "d.x", "a.b", "n"])
        elif roll < 0.85:
            key = "fuzz." + rand_text(r)
        else:
            key = r.choice(["fuzz.a\0b", b"fuzz.\xff", b"fuzz.b", "fuzz.\udcff",
                            "fuzz." + "k" * 70000, 1, None, 1.5, ["fuzz.a"]])
        if isinstance(key, str) and ("sym" in key or key.strip(".") == "fuzz"):
            key = "fuzz.a"
        return key

    def key_symlink(r):
        # symlinks live in fuzz.sym only (see key_write)
        if r.random() < 0.85:
            return "fuzz.sym." + r.choice(["l", "loop", "m", "x" * r.randint(1, 9), "é",
                                           "😀"])
        return r.choice(["fuzz.sym.a\0b", b"fuzz.sym.\xff", "fuzz.sym.\ud800", 1, None])

    def value(r):
        roll = r.random()
        if roll < 0.5:
            return json_value(r)
        return r.choice([float("nan"), float("inf"), object(), {1: 2}, {(1, 2): 3},
                         b"\xff", b"bytes", set(), "x" * 70000, {"a": float("nan")},
                         [object()], 2 ** 200, 10 ** 5000 if False else 10 ** 300])

    def ns(r):
        return None if r.random() < 0.4 else r.choice(KVS_NAMESPACES)

    def handle_arg():
        return h if rng.random() < 0.9 else gen.generic()

    kr = lambda: gen.pick(key_read)  # noqa: E731
    # keys written and symlinks made never take a generic value ("" would
    # make fuzz itself a symlink): their own lists have the bad ones
    kw = lambda: key_write(rng)  # noqa: E731
    ks = lambda: key_symlink(rng)  # noqa: E731
    ks_below_fuzz = lambda: rng.choice(  # noqa: E731
        ["sym.l", "sym.m", "sym.x", 1, None, "sym.\0", "sym.\ud800", b"sym.\xff"])
    val = lambda: gen.pick(value)  # noqa: E731
    nsa = lambda: gen.pick(ns)  # noqa: E731
    flags = lambda: gen.pick([0, 1, 2, 4, -1, 2 ** 31, 2 ** 64, True])  # noqa: E731

    # a small tree to read
    try:
        kvs.put(h, "fuzz.a", 1)
        kvs.put(h, "fuzz.d.x", "text")
        kvs.put_symlink(h, "fuzz.sym.l", "fuzz.a")
        kvs.put_symlink(h, "fuzz.sym.loop", "fuzz.sym.loop")
        kvs.commit(h)
        kvs.namespace_create(h, "fuzz-ns-0")
    except OSError:
        pass  # already there (an earlier batch)

    txns = [KVSTxn(h, "fuzz"), KVSTxn(h), KVSTxn(None)]
    dirs = []

    def kvsdir():
        if not dirs or rng.random() < 0.1:
            try:
                dirs.append(KVSDir(h, "fuzz"))
            except OSError:
                pass
        return rng.choice(dirs) if dirs else None

    def walk(*args, **kwargs):
        for i, item in enumerate(kvs.walk(*args, **kwargs)):
            if i > 50:
                break

    def watch(*args, **kwargs):
        w = kvs.kvs_watch_async(*args, **kwargs)
        try:
            return bounded_wait(w)
        finally:
            w.cancel()

    def watch_iter(*args, **kwargs):
        w = kvs.watch(*args, **kwargs)
        w.wait_for(0.05)
        value = w.get()
        w.cancel()
        return value

    functions = [
        ("kvs.get", kvs.get, [handle_arg, kr, nsa]),
        ("kvs.get_key_raw", kvs.get_key_raw, [handle_arg, kr, nsa]),
        ("kvs.get_key_direct", kvs.get_key_direct, [handle_arg, kr, nsa]),
        ("kvs.readlink", kvs.readlink, [handle_arg, kr, nsa]),
        ("kvs.exists", kvs.exists, [handle_arg, kr, nsa]),
        ("kvs.isdir", kvs.isdir, [handle_arg, kr, nsa]),
        ("kvs.get_dir", kvs.get_dir, [handle_arg, kr, nsa]),
        ("kvs.put", kvs.put, [handle_arg, kw, val], {"raw": gen.generic}),
        ("kvs.put_mkdir", kvs.put_mkdir, [handle_arg, kw]),
        ("kvs.put_unlink", kvs.put_unlink, [handle_arg, kw]),
        ("kvs.put_symlink", kvs.put_symlink, [handle_arg, ks, kr], {"namespace": nsa}),
        ("kvs.commit", kvs.commit, [handle_arg, flags, nsa]),
        ("kvs.commit_async", lambda *a, **k: kvs.commit_async(*a, **k).get(),
         [handle_arg, flags, nsa]),
        ("kvs.namespace_create", kvs.namespace_create,
         [handle_arg, lambda: gen.pick(KVS_NAMESPACES), lambda: gen.pick(
             [os.getuid(), -1, 0, 2 ** 32, 2 ** 64, "0"]), flags]),
        ("kvs.namespace_remove", kvs.namespace_remove,
         [handle_arg, lambda: gen.pick([n for n in KVS_NAMESPACES if n != "primary"])]),
        ("kvs.namespace_list", kvs.namespace_list, [handle_arg]),
        ("kvs.kvs_checkpoint_lookup", kvs.kvs_checkpoint_lookup, [handle_arg, gen.generic]),
        ("kvs.walk", walk, [lambda: gen.pick(["fuzz", "fuzz.d", "fuzz.nope", "fuzz.a"]),
                            gen.generic, handle_arg, nsa]),
        ("kvs.kvs_watch_async", watch, [handle_arg, kr, nsa],
         {"waitcreate": gen.generic, "uniq": gen.generic, "full": gen.generic}),
        ("kvs.watch", watch_iter, [handle_arg, kr, nsa],
         {"waitcreate": gen.generic, "uniq": gen.generic, "full": gen.generic}),
        ("kvs.join", kvs.join, [kr, kr]),
        ("KVSTxn", KVSTxn, [handle_arg, kr, nsa]),
        ("KVSDir", KVSDir, [handle_arg, lambda: gen.pick(["fuzz", "fuzz.d", "fuzz.a", ".",
                                                          "fuzz.nope"]), nsa],
         {"handle": gen.generic}),
    ]
    txn_methods = {
        "put": [kr, val], "mkdir": [kr], "unlink": [kr], "symlink": [ks, kr],
        "clear": [], "is_empty": [], "commit": [flags], "commit_async": [flags],
    }
    dir_methods = {
        "__getitem__": [kr], "__setitem__": [kr, val], "__delitem__": [kr],
        "__contains__": [kr], "__len__": [], "keys": [], "exists": [kr],
        "issymlink": [kr], "key_at": [kr], "fill": [lambda: gen.pick(
            [{"x": 1}, {"a\0": 1}, {1: 2}, {"y": float("nan")}, {"z": {"w": [1]}}])],
        "mkdir": [kr, lambda: gen.pick([None, {"q": 1}, {"q": object()}])],
        "files": [], "directories": [], "list_all": [], "commit": [flags],
        "commit_async": [flags],
    }
    for _ in range(calls):
        roll = rng.random()
        if roll < 0.6:
            entry = rng.choice(functions)
            label, fn, positional = entry[0], entry[1], entry[2]
            keywords = entry[3] if len(entry) > 3 else None
            call_entry(rng, gen, report, label, fn, positional, keywords, log, call)
        elif roll < 0.8:
            txn = rng.choice(txns)
            name = rng.choice(sorted(txn_methods))
            method = getattr(txn, name)
            if name == "commit_async":
                method = (lambda m: lambda *a: m(*a).get())(method)
            if txn.fhdl is not None and txn.path == "fuzz":
                # keys relative to fuzz.: the same rules, without the prefix
                def below(make):
                    def key():
                        k = make()
                        return k[5:] if isinstance(k, str) and k.startswith("fuzz.") else k
                    return key
                positional = [ks_below_fuzz if p is ks else below(kw) if p is kr else p
                              for p in txn_methods[name]]
                if name == "symlink":
                    positional = [ks_below_fuzz, kr]
            elif txn.fhdl is not None:
                # keys of a transaction on the root must stay under fuzz.
                positional = [kw if p is kr else p for p in txn_methods[name]]
                if name == "symlink":
                    positional = [ks, kr]
            else:
                positional = txn_methods[name]
            call_entry(rng, gen, report, "KVSTxn." + name, method, positional, None, log,
                       call)
        else:
            d = kvsdir()
            if d is None:
                continue
            name = rng.choice(sorted(dir_methods))
            method = getattr(d, name)
            if name in ("files", "directories", "keys"):
                method = (lambda m: lambda *a: list(m(*a)))(method)
            if name == "commit_async":
                method = (lambda m: lambda *a: m(*a).get())(method)
            call_entry(rng, gen, report, "KVSDir." + name, method, dir_methods[name], None,
                       log, call)
    try:
        kvs.namespace_remove(h, "fuzz-ns-1")
    except OSError:
        pass
    h.close()


# --- job ------------------------------------------------------------------------
JOBID_TEXTS = [
    "0", "1", "-1", "ƒ1", "f1", "ƒ", "f", "fFoo", "ƒ" + "z" * 30, "0x1", "0x", "0xg",
    "0000.0000.0000.0001", "0000.0000.0000", "job.0000.0000.0000.0001", "job.",
    "18446744073709551615", "18446744073709551616", "1" * 40, "academy-academy-academy--",
    "akward-words-x", "😀", "😃😃", " 1", "1 ", "+1", "1.0", "", "\0", "ƒ1\0", "\udcff",
    "ƒ" + "1" * 12, "ƒ11111111111",
]
ENCODINGS = ["dec", "f58", "f58plain", "hex", "dothex", "words", "emoji", "kvs", "orig",
             "bogus", "", "F58", None, 1, "dec\0"]


def jobspec_dicts():
    from flux_ctypes.job import JobspecV1

    js = JobspecV1.from_command(["true"], num_tasks=1)
    js.environment = {}
    js.cwd = "/tmp"
    return json.loads(js.dumps())


def job_group(rng, gen, report, calls, call, log, uri):
    from flux_ctypes import Flux, job
    from flux_ctypes.job import Jobspec, JobspecV1

    h = Flux(uri)
    closed = Flux(uri)
    closed.close()
    base = jobspec_dicts()
    submitted = []  # job IDs and submit futures, cancelled at the end

    # a held job and an inactive one
    held = job.submit(h, JobspecV1.from_command(["true"]), urgency=0)
    submitted.append(held)
    done = job.submit(h, JobspecV1.from_command(["true"]), waitable=True)
    job.wait(h, done)
    active_ids = {int(held)}

    def record(value):
        if isinstance(value, int):
            submitted.append(value)
            active_ids.add(int(value))
        else:
            submitted.append(value)
        return value

    def safe_id(r):
        """A job ID that is no active job: waiting on it does not block."""
        roll = r.random()
        if roll < 0.3:
            return r.choice(JOBID_TEXTS)
        if roll < 0.4:
            return done
        if roll < 0.5:
            return r.choice([str(done), job.JobID(done).f58, job.JobID(done).words,
                             job.JobID(done).kvs, job.JobID(done).dothex])
        return r.choice([0, 1, 7, -1, -(2 ** 63), 2 ** 63, 2 ** 64, 10 ** 30, 2 ** 64 - 2,
                         True, 1.5, None, b"1", b"\xff", [1], float("nan")])

    def any_id(r):
        roll = r.random()
        if roll < 0.3:
            return held
        if roll < 0.4:
            return JOBID_ANY
        if roll < 0.5 and submitted:
            value = r.choice(submitted)
            return value if isinstance(value, int) else held
        return safe_id(r)

    def sid():
        value = gen.pick(safe_id)
        try:
            if int(value) == JOBID_ANY or int(value) in active_ids:
                return done
        except (TypeError, ValueError, OverflowError):
            pass
        return value

    aid = lambda: gen.pick(any_id)  # noqa: E731
    handle = lambda: h if rng.random() < 0.85 else gen.pick([closed, None, 1, "h"])  # noqa: E731

    def jobspec_arg():
        roll = rng.random()
        if roll < 0.35:
            data = base
            for _ in range(rng.randint(1, 3)):
                data = mutate(rng, data, lambda: json_value(rng))
            if rng.random() < 0.5:
                return data
            return as_text(rng, data, 0.3)
        if roll < 0.45:
            return rng.choice(specs)
        if roll < 0.55:
            return rng.choice(["", "{}", "[]", "null", "{", "version: 1", "\0", "\udcff",
                               b"\xff\xfe", "x" * 100000, json.dumps(base) + "\0"])
        return gen.generic()

    def urgency():
        # the valid urgencies submit a held job, odd ones must be refused
        return gen.pick([0, 0, 0, -1, 32, 2 ** 31, 2 ** 64, 16, True, None, "0", 0.5,
                         float("nan")])

    def submit(hh, spec, *args, **kwargs):
        if args:
            args = (0 if args[0] in range(1, 32) else args[0],) + args[1:]
        if kwargs.get("urgency") in range(1, 32):
            kwargs["urgency"] = 0
        if not args and "urgency" not in kwargs:
            kwargs["urgency"] = 0
        return record(job.submit(hh, spec, *args, **kwargs))

    def submit_async(hh, spec, *args, **kwargs):
        if args:
            args = (0 if args[0] in range(1, 32) else args[0],) + args[1:]
        if kwargs.get("urgency") in range(1, 32):
            kwargs["urgency"] = 0
        if not args and "urgency" not in kwargs:
            kwargs["urgency"] = 0
        future = job.submit_async(hh, spec, *args, **kwargs)
        record(future)
        return bounded_wait(future, 5.0)

    def through_async(fn, seconds=0.05):
        def thunk(*args, **kwargs):
            future = fn(*args, **kwargs)
            future.wait_for(seconds)
            if hasattr(future, "get_status"):
                return future.get_status()
            return future.get()
        return thunk

    def wait_sync(*args, **kwargs):
        # without a job ID, wait() waits for any waitable job: held ones
        # never end, so that form is made with a bounded wait
        if len(args) < 2 and "jobid" not in kwargs:
            return through_async(job.wait_async)(*args, **kwargs)
        return job.wait(*args, **kwargs)

    def event_watch_iter(*args, **kwargs):
        for i, _ in enumerate(job.event_watch(*args, **kwargs)):
            if i > 20:
                break

    def event_watch_async(*args, **kwargs):
        future = job.event_watch_async(*args, **kwargs)
        try:
            future.wait_for(0.05)
            return future.get_event()
        finally:
            if future.needs_cancel:
                future.cancel()

    def journal(*args, **kwargs):
        consumer = job.JournalConsumer(*args, **kwargs)
        action = rng.random()
        if action < 0.2:
            try:  # before start(): RuntimeError, documented (as official)
                consumer.poll(gen.pick([0.01, 0, -1, float("nan")]))
            except RuntimeError as exc:
                if "before start()" not in str(exc):
                    raise
        consumer.start()
        for _ in range(rng.randint(0, 3)):
            timeout = gen.pick([0.01, 0.0, 0.05, float("nan"), "1", None])
            if isinstance(timeout, (int, float)) and not (0 <= timeout <= 0.05):
                timeout = 0.01
            try:
                consumer.poll(timeout)
            except TimeoutError:
                break
        if rng.random() < 0.5:
            consumer.set_callback(gen.pick([lambda *a: None, lambda *a: 1 / 0, None, 1]))
        consumer.stop()

    def jobspec_ctor(*args, **kwargs):
        cls = rng.choice([Jobspec, JobspecV1])
        return cls(*args, **kwargs)

    def from_command(*args, **kwargs):
        # tasks run nothing: the jobspec is only built (and perhaps
        # submitted held below)
        spec = JobspecV1.from_command(*args, **kwargs)
        if len(specs) < 20:
            specs.append(spec)
        return spec

    command = lambda: gen.pick(lambda r: r.choice([  # noqa: E731
        ["true"], [], "true", ["true", "a\0b"], ["\udcff"], [1, 2], [""], ["x" * 70000],
        [None], ("true",), ["😀"]]))
    count = lambda: gen.pick([1, 0, -1, 2, 2 ** 31, 2 ** 64, "1", 1.5, None, True])  # noqa: E731

    specs = [JobspecV1.from_command(["true"]), JobspecV1.from_command(["true"], num_tasks=2)]
    text = lambda: gen.pick(TEXTS)  # noqa: E731
    functions = [
        ("JobID", job.JobID, [lambda: gen.pick(lambda r: r.choice(JOBID_TEXTS + [
            1, -1, 2 ** 64, 2 ** 64 - 1, 10 ** 30, 0]))]),
        ("JobID.encode", lambda v, e="dec": job.JobID(v).encode(e),
         [lambda: gen.pick([1, 2 ** 64 - 1, 0, done, 2 ** 63]), lambda: gen.pick(ENCODINGS)]),
        ("id_parse", job.id_parse, [lambda: gen.pick(JOBID_TEXTS)]),
        ("id_encode", job.id_encode, [lambda: gen.pick([1, 0, -1, 2 ** 64, 2 ** 64 - 1, done,
                                                        "1", 1.5]),
                                      lambda: gen.pick(ENCODINGS)]),
        ("Jobspec", jobspec_ctor, [
            lambda: gen.pick([base["resources"], [], "x", mutate(rng, base["resources"],
                                                                 lambda: json_value(rng))]),
            lambda: gen.pick([base["tasks"], [], mutate(rng, base["tasks"],
                                                        lambda: json_value(rng))]),
            lambda: gen.pick([base["attributes"], {}, mutate(rng, base["attributes"],
                                                             lambda: json_value(rng))]),
            lambda: gen.pick([1, 2, 0, -1, "1", True, 2 ** 64])]),
        ("Jobspec.from_yaml_stream", from_yaml_stream, [jobspec_arg]),
        ("validate_jobspec", job.validate_jobspec, [jobspec_arg, lambda: gen.pick(
            [None, 1, 2, 0, "1"])]),
        ("JobspecV1.from_command", from_command, [command], {
            "num_tasks": count, "cores_per_task": count, "gpus_per_task": count,
            "num_nodes": count, "exclusive": gen.generic,
            "duration": lambda: gen.pick([0, 1, -1, "1m", "1x", "", float("nan"),
                                          float("inf"), 1e308, None]),
            "environment": lambda: gen.pick([{}, {"A": "1"}, {"A\0": "1"}, {1: 2},
                                             {"A": None}, ["A=1"], "A=1"]),
            "cwd": text, "name": text, "queue": text, "bank": text, "input": text,
            "output": text, "error": text, "rlimits": lambda: gen.pick(
                [{"nofile": 10}, {"bogus": 1}, {"core": -5}, {"core": "x"}]),
            "env_expand": gen.generic, "label_io": gen.generic, "unbuffered": gen.generic}),
        ("submit", submit, [handle, jobspec_arg, urgency],
         {"waitable": gen.generic, "debug": gen.generic, "pre_signed": gen.generic,
          "novalidate": gen.generic}),
        ("submit_async", submit_async, [handle, jobspec_arg, urgency],
         {"waitable": gen.generic, "debug": gen.generic, "pre_signed": gen.generic,
          "novalidate": gen.generic}),
        ("submit_get_id", job.submit_get_id, [lambda: gen.pick([None, 1, held])]),
        ("wait", wait_sync, [handle, sid]),
        ("wait_async", through_async(job.wait_async), [handle, aid]),
        ("result", job.result, [handle, sid], {"flags": gen.generic}),
        ("result_async", through_async(job.result_async), [handle, aid],
         {"flags": gen.generic}),
        ("cancel", job.cancel, [handle, aid, lambda: gen.pick([None, "why", "a\0b", 1,
                                                                "x" * 70000])]),
        ("cancel_async", through_async(job.cancel_async, 1.0), [handle, aid, text]),
        ("kill", job.kill, [handle, aid, lambda: gen.pick([None, 0, 9, 15, -1, 65, 2 ** 64,
                                                           "9", 1.5])]),
        ("kill_async", through_async(job.kill_async, 1.0), [handle, aid, gen.generic]),
        ("job_raise", job.job_raise, [handle, aid, text, lambda: gen.pick(
            [0, 1, 7, 8, -1, 2 ** 64, None, "0"]), text]),
        ("job_raise_async", through_async(job.job_raise_async, 1.0),
         [handle, aid, text, gen.generic, text]),
        ("event_watch", event_watch_iter, [handle, sid, lambda: gen.pick(
            ["eventlog", "guest.exec.eventlog", "nope", "", "a\0b", "..", "\udcff"])]),
        ("event_watch_async", event_watch_async, [handle, aid, lambda: gen.pick(
            ["eventlog", "guest.exec.eventlog", "nope", "", "a\0b"]), lambda: gen.pick(
                [0, 1, 2, 4, -1, 2 ** 64])]),
        ("event_wait", job.event_wait, [handle, sid, lambda: gen.pick(
            ["submit", "clean", "nope", "", None, 1]), lambda: gen.pick(
                ["eventlog", "nope", "a\0b", None])], {"raiseJobException": gen.generic}),
        ("job_list_id", through_async(job.job_list_id, 2.0), [handle, aid, lambda: gen.pick(
            [("all",), "all", ["id", "state"], ["bogus"], [], [1], None, "a\0b"])]),
        ("get_job", job.get_job, [handle, aid]),
        ("job_list", through_async(job.job_list, 2.0), [handle, lambda: gen.pick(
            [1, 0, -1, 2 ** 64, "5", None, float("inf")]), lambda: gen.pick(
                [("all",), "id", ["bogus"], [1], None])],
         {"userid": gen.generic, "states": gen.generic, "results": gen.generic,
          "since": gen.generic, "name": text, "queue": gen.generic,
          "constraint": lambda: gen.pick([{"bogus": [1]}, {"and": 1}, "x", {}])}),
        ("job_list_inactive", through_async(job.job_list_inactive, 2.0), [handle, gen.generic,
                                                                          gen.generic]),
        ("JournalConsumer", journal, [handle], {
            "full": gen.generic, "since": lambda: gen.pick([0.0, -1, 1e308, float("nan"),
                                                            "x"]),
            "include_sentinel": gen.generic}),
        ("job_kvs_lookup", job.job_kvs_lookup, [handle, aid, lambda: gen.pick(
            [("jobspec",), ["R"], ["J"], ["nope"], [], "jobspec", [1], ["a\0b"], None])],
         {"decode": gen.generic, "original": gen.generic, "base": gen.generic}),
        ("job_info_lookup", through_async(job.job_info_lookup, 2.0), [handle, aid,
                                                                      gen.generic,
                                                                      gen.generic]),
        ("JobKVSLookup", lambda *a, **k: job.JobKVSLookup(*a, **k).data(),
         [handle, lambda: gen.pick([[held], [done, 1], held, [], ["x"], None, [2 ** 64]]),
          lambda: gen.pick([["jobspec"], ["R"], [], ["nope"], None])],
         {"decode": gen.generic, "original": gen.generic, "base": gen.generic}),
        ("job_kvs", job.job_kvs, [handle, aid]),
        ("job_kvs_guest", job.job_kvs_guest, [handle, aid]),
        ("timeleft", job.timeleft, [lambda: gen.pick([h, None, closed, 1])]),
    ]

    def setter(name):
        def thunk(spec, value):
            setattr(spec, name, value)
        return thunk

    spec_calls = [
        ("Jobspec.duration=", setter("duration"), [lambda: gen.pick(
            [0, 1, 1.5, -1, "1m", "1h", "2d", "1x", "", "-1s", float("nan"), float("inf"),
             1e308, 2 ** 64, None, "1e400s"])]),
        ("Jobspec.cwd=", setter("cwd"), [text]),
        ("Jobspec.queue=", setter("queue"), [text]),
        ("Jobspec.environment=", setter("environment"), [lambda: gen.pick(
            [{}, {"A": "1"}, {"A\0": "1"}, {"A": "\0"}, {1: 2}, {"A": None}, ["A=1"],
             "A=1", {"\udcff": "x"}, None])]),
        ("Jobspec.input=", setter("input"), [text]),
        ("Jobspec.output=", setter("output"), [text]),
        ("Jobspec.error=", setter("error"), [text]),
        ("Jobspec.unbuffered=", setter("unbuffered"), [gen.generic]),
        ("Jobspec.setattr", lambda s, k, v: s.setattr(k, v), [lambda: gen.pick(
            ["duration", "system.cwd", "user.x", "attributes.system.x", "", ".", "a..b",
             "system", "a\0b", "system.environment.A", 1]), lambda: gen.pick(json_value)]),
        ("Jobspec.getattr", lambda s, k: s.getattr(k), [lambda: gen.pick(
            ["duration", "system.cwd", "user.x", "", ".", "nope", 1])]),
        ("Jobspec.setattr_shell_option", lambda s, k, v: s.setattr_shell_option(k, v),
         [lambda: gen.pick(["verbose", "a.b", "", ".", "a\0", 1]),
          lambda: gen.pick(json_value)]),
        ("Jobspec.add_file", lambda s, *a, **k: s.add_file(*a, **k),
         [lambda: gen.pick(["f", "a/b", "", "/abs", "..", "a\0b", 1]),
          lambda: gen.pick(["data", b"\xff\x00", "", {"a": 1}, None, 1, "x" * 70000])],
         {"perms": lambda: gen.pick([0o644, -1, 2 ** 40, "644", None]),
          "encoding": lambda: gen.pick(["utf-8", "base64", "bogus", None, 1])}),
        # dumps passes its keywords to json.dumps: an indent of 2**32 is
        # 4 GiB of spaces per level, as asked (the kernel's OOM killer
        # answered it), so indents stay small
        ("Jobspec.dumps", lambda s, *a, **k: s.dumps(*a, **k), [],
         {"indent": lambda: gen.pick([None, 0, 2, -1, "\t", "x", 1.5, b"  "], p=1.0),
          "sort_keys": gen.generic, "bogus": gen.generic}),
        ("Jobspec.resource_counts", lambda s: s.resource_counts(), []),
        ("Jobspec.resource_walk", lambda s: list(s.resource_walk()), []),
    ]
    for _ in range(calls):
        roll = rng.random()
        if roll < 0.7:
            entry = rng.choice(functions)
            call_entry(rng, gen, report, entry[0], entry[1], entry[2],
                       entry[3] if len(entry) > 3 else None, log, call)
        else:
            spec = rng.choice(specs)
            label, fn, positional = rng.choice(spec_calls)[:3]
            keywords = None
            for entry in spec_calls:
                if entry[0] == label and len(entry) > 3:
                    keywords = entry[3]
            call_entry(rng, gen, report, label, (lambda s, f: lambda *a, **k: f(s, *a, **k))(
                spec, fn), positional, keywords, log, call)
    # every job this batch submitted is cancelled, and reaped if waitable
    jobids = []
    for item in submitted:
        try:
            jobid = item if isinstance(item, int) else bounded_wait(item, 5.0)
            job.cancel(h, jobid)
            jobids.append(jobid)
        except Exception:  # noqa: BLE001 - refused, or already gone
            pass
    for jobid in jobids:
        try:
            job.wait_async(h, jobid).wait_for(5.0).get_status()
        except Exception:  # noqa: BLE001 - not waitable
            pass
    h.close()


def run_group(group, rng, gen, report, calls, call, log, uri):
    if group == "hostlist":
        hostlist_group(rng, gen, report, calls, call, log)
    elif group == "idset":
        idset_group(rng, gen, report, calls, call, log)
    elif group == "resource":
        from flux_ctypes import Flux

        h = Flux(uri)
        resource_group(rng, gen, report, calls, call, log, h)
        h.close()
    elif group == "kvs":
        kvs_group(rng, gen, report, calls, call, log, uri)
    elif group == "job":
        job_group(rng, gen, report, calls, call, log, uri)
    else:
        raise ValueError("unknown group {!r}".format(group))
