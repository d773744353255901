"""A program written for the official ``flux.kvs``, run by tests/test_kvs.py
under the official bindings and under ``python -m flux_ctypes.compat``: the
two outputs must be the same.  Keys go under ``sys.argv[1]``, which is
never printed.  Each line: a label, then the value (or what an exception
would be caught as, and its errno).
"""

import json
import sys

import flux
import flux.kvs as kvs

h = flux.Flux()
P = sys.argv[1]
rows = []


def caught_as(exc):
    for cls in (KeyError, AttributeError, ValueError, OSError, TypeError):
        if isinstance(exc, cls):
            return cls.__name__
    return type(exc).__name__


def record(label, fn):
    try:
        value = fn()
        if isinstance(value, kvs.KVSDir):
            value = ["KVSDir", sorted(value), value.list_all(), len(value)]
        rows.append([label, "ok", repr(value)])
    except Exception as exc:
        rows.append([label, caught_as(exc), getattr(exc, "errno", None)])


def put_commit(k, v, **kw):
    kvs.put(h, k, v, **kw)
    kvs.commit(h)


values = [1, 1.5, "s", None, [1, {"a": None}], {"x": "\u263a"}, b"\xde\xad",
          b"\xff\xfe", b"{}", b"{", b"", "", True, 2 ** 70, "\udcff"]
for i, v in enumerate(values):
    k = "{}.v{}".format(P, i)
    record("put {!r}".format(v), lambda: put_commit(k, v))
    record("get {!r}".format(v), lambda: kvs.get(h, k))
record("raw str", lambda: (put_commit(P + ".r", "abc", raw=True), kvs.get(h, P + ".r"))[1])
record("raw int", lambda: kvs.put(h, P + ".r", 5, raw=True))
record("dir", lambda: kvs.get(h, P))
record("isdir", lambda: (kvs.isdir(h, P), kvs.isdir(h, P + ".v0"), kvs.isdir(h, P + ".no")))
record("exists", lambda: (kvs.exists(h, P), kvs.exists(h, P + ".v0"), kvs.exists(h, P + ".no")))
record("empty key", lambda: kvs.get(h, ""))
record("missing", lambda: kvs.get(h, P + ".no"))
record("missing ns", lambda: kvs.get(h, P, namespace="t-kvs-no-such-namespace"))
record("ns dup", lambda: kvs.namespace_create(h, "primary"))
record("commit root", lambda: (kvs.put(h, ".", 1), kvs.commit(h)))
record("commit after", lambda: kvs.commit(h))
record("symlink", lambda: (kvs.put_symlink(h, P + ".l", P + ".v5"), kvs.commit(h),
                           kvs.get(h, P + ".l"))[2])
record("dangling", lambda: (kvs.put_symlink(h, P + ".l2", P + ".gone"), kvs.commit(h),
                            kvs.exists(h, P + ".l2"))[2])
record("unlink", lambda: (kvs.put_unlink(h, P + ".v0"), kvs.commit(h),
                          kvs.exists(h, P + ".v0"))[2])
record("mkdir", lambda: (kvs.put_mkdir(h, P + ".d"), kvs.commit(h), kvs.get(h, P + ".d"))[2])
record("KVSDir missing", lambda: kvs.KVSDir(h, P + ".no"))
record("KVSDir of a value", lambda: kvs.KVSDir(h, P + ".v1"))
record("KVSDir missing item", lambda: kvs.KVSDir(h, P)["no"])
record("KVSDir no handle", lambda: kvs.KVSDir())
record("key_at", lambda: kvs.get_dir(h, P).key_at("x") == P + ".x")
record("items", lambda: sorted(kvs.get_dir(h, P + ".d").items()))
record("walk", lambda: [(r, sorted(d), sorted(f)) for r, d, f in kvs.walk(P, flux_handle=h)])
record("walk no handle", lambda: kvs.walk(P))
record("txn empty commit", lambda: kvs.KVSTxn(h).commit())
record("commit_async", lambda: kvs.commit_async(h).get())
record("watch missing", lambda: kvs.kvs_watch_async(h, P + ".no").get())
watch = kvs.kvs_watch_async(h, P + ".v1")
record("watch get", lambda: watch.get())
record("watch end", lambda: (watch.cancel(), watch.get())[1])
record("checkpoint", lambda: sorted(kvs.kvs_checkpoint_lookup(h)[0]))
record("namespace list", lambda: "primary" in kvs.namespace_list(h))
print(json.dumps(rows))
