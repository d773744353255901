"""flux_ctypes.resource: resource sets offline, and the live instance's
resources compared with what ``flux resource`` prints for it."""

import json
import os
import random
import subprocess

import pytest

from _official import run_official
from flux_ctypes import lib as flux_lib
from flux_ctypes.hostlist import Hostlist
from flux_ctypes.idset import IDset
from flux_ctypes.resource import (
    ResourceCount,
    ResourceSet,
    ResourceStatus,
    Rv1Set,
    SchedResourceList,
    resource_list,
    resource_status,
)


@pytest.fixture(autouse=True, scope="module")
def libraries():
    try:
        flux_lib.load_companion("hostlist")
        flux_lib.load_companion("idset")
    except flux_lib.FluxCoreNotFound as exc:
        pytest.skip("flux-core's hostlist/idset libraries not found: {}".format(
            str(exc).splitlines()[0]))


def R(ranks="0-3", cores="0-3", gpus=None, nodelist=None, **execution):
    children = {"core": cores}
    if gpus is not None:
        children["gpu"] = gpus
    ex = {"R_lite": [{"rank": ranks, "children": children}], "starttime": 0,
          "expiration": 0}
    if nodelist is not None:
        ex["nodelist"] = [nodelist]
    ex.update(execution)
    return {"version": 1, "execution": ex}


def test_decode_forms_and_counts():
    r = R("0-3", "0-7", "0-1", "node[10-13]")
    for arg in (r, json.dumps(r), Rv1Set(r)):
        rset = ResourceSet(arg)
        assert str(rset) == rset.dumps() == rset.rlist == "rank[0-3]/core[0-7],gpu[0-1]"
        assert (rset.nnodes, rset.ncores, rset.ngpus) == (4, 32, 8)
        assert rset.count("core") == 32 and rset.count("memory") == 0
        assert str(rset.nodelist) == "node[10-13]" and isinstance(rset.nodelist, Hostlist)
        assert str(rset.ranks) == "0-3" and isinstance(rset.ranks, IDset)
    empty = ResourceSet()
    assert (str(empty), empty.nnodes, empty.ncores, str(empty.nodelist)) == ("", 0, 0, "")


def test_several_r_lite_entries_and_ranks_without_names():
    r = {"version": 1, "execution": {"R_lite": [
        {"rank": "2-3", "children": {"core": "0-1"}},
        {"rank": "0", "children": {"core": "0-3", "gpu": "0"}},
        {"rank": "1", "children": {"core": "0-1"}},
    ]}}
    rset = ResourceSet(r)
    assert str(rset) == "rank0/core[0-3],gpu0 rank[1-3]/core[0-1]"
    assert str(rset.nodelist) == "rank[0-3]"  # R without a nodelist
    assert "nodelist" not in rset.to_dict()["execution"]
    # a rank listed twice: its resources merge
    twice = {"version": 1, "execution": {"R_lite": [
        {"rank": "0", "children": {"core": "0-1"}},
        {"rank": "0", "children": {"core": "2-3", "gpu": "1"}}]}}
    assert str(ResourceSet(twice)) == "rank0/core[0-3],gpu1"


def test_encode_round_trip_keeps_everything():
    r = R("0-1", "0-3", None, "node[0-1]", properties={"foo": "0-1", "bar": "1"},
          nslots=3, starttime=10.5, expiration=20)
    rset = ResourceSet(r)
    again = ResourceSet(rset.encode())
    assert again.to_dict() == rset.to_dict() == json.loads(rset.encode())
    d = again.to_dict()["execution"]
    assert d["properties"] == {"bar": "1", "foo": "0-1"}
    assert (d["nslots"], d["starttime"], d["expiration"]) == (3, 10.5, 20.0)
    assert d["nodelist"] == ["node[0-1]"]
    assert (again.starttime, again.expiration) == (10.5, 20.0)
    again.expiration = 99
    assert ResourceSet(again.encode()).expiration == 99.0


def test_scheduling_key_only_when_asked():
    r = dict(R(), scheduling={"graph": [1]})
    assert "scheduling" not in ResourceSet(r).to_dict()
    assert ResourceSet(r, keep_scheduling=True).to_dict()["scheduling"] == {"graph": [1]}


def test_algebra():
    a = ResourceSet(R("0-3", "0-3", "0", "n[0-3]"))
    b = a.copy_ranks("2-3")
    assert str(a - b) == "rank[0-1]/core[0-3],gpu0"
    assert str((a - b) | b) == str(a)
    assert str(a & b) == "rank[2-3]/core[0-3],gpu0"
    one_core = ResourceSet(R("0", "1"))
    assert str(a - one_core) == "rank0/core[0,2-3],gpu0 rank[1-3]/core[0-3],gpu0"
    assert (a - one_core).ncores == 15
    gpu_only = ResourceSet({"version": 1, "execution": {"R_lite": [
        {"rank": "0", "children": {"gpu": "0"}}]}})
    assert str(a - a) == "" and str(a - gpu_only) == \
        "rank0/core[0-3] rank[1-3]/core[0-3],gpu0"
    assert str(a.union(ResourceSet(R("7", "0")), ResourceSet(R("5", "1")))) == \
        "rank[0-3]/core[0-3],gpu0 rank5/core1 rank7/core0"
    assert str(a.intersect("{}".format(json.dumps(R("1-2"))), R("2-9"))) == \
        "rank2/core[0-3],gpu0"
    assert str(a.diff(b, a.copy_ranks(0))) == "rank1/core[0-3],gpu0"
    assert str(a) == "rank[0-3]/core[0-3],gpu0"  # none of that changed a
    a.state = "up"
    assert (a - b).state == a.copy().state == a.copy_ranks(0).state == "up"


def test_in_place_append_add_remove():
    a = ResourceSet(R("0", "0-3"))
    a.append(ResourceSet(R("0", "4-7")), R("1", "0"))
    assert str(a) == "rank0/core[0-7] rank1/core0"
    a.add(R("1", "0-1"))
    assert str(a) == "rank0/core[0-7] rank1/core[0-1]"
    assert str(a.remove_ranks(0)) == "rank1/core[0-1]"
    assert str(a.remove_ranks("5-9")) == "rank1/core[0-1]"


def test_properties_and_constraints():
    rset = ResourceSet(R("0-3", "0-1", None, "n[0-3]"))
    rset.set_property("big", "2-3").set_property("all").set_property("odd", IDset("1,3"))
    assert json.loads(rset.get_properties()) == {"big": "2-3", "all": "0-3", "odd": "1,3"}
    assert sorted(rset.properties.split(",")) == ["all", "big", "odd"]
    for name, ranks in (("x^y", None), ("", None), ("p", "0-6"), ("p", "foo")):
        with pytest.raises(ValueError):
            rset.set_property(name, ranks)
    with pytest.raises(TypeError):
        rset.set_property(5)

    def ranks_of(constraint):
        return str(rset.copy_constraint(constraint).ranks)

    assert ranks_of({"properties": ["big"]}) == "2-3"
    assert ranks_of({"properties": ["big", "^odd"]}) == "2"
    assert ranks_of('{"properties": ["nosuch"]}') == ""
    assert ranks_of({"not": [{"properties": ["odd"]}]}) == "0,2"
    assert ranks_of({"or": [{"properties": ["big"]}, {"ranks": ["0"]}]}) == "0,2-3"
    assert ranks_of({"and": [{"properties": ["odd"]}, {"hostlist": ["n[0-1]"]}]}) == "1"
    assert ranks_of({"hostlist": "n3"}) == "3"
    for bad in ({"foo": []}, {}, {"and": {}}, {"or": "x"}, {"not": []},
                {"properties": [42]}, {"properties": "big"}, {"ranks": "x"},
                {"hostlist": "n["}, [1]):
        with pytest.raises(ValueError):
            rset.copy_constraint(bad)
    # checked before any rank is looked at: an empty set rejects it too
    with pytest.raises(ValueError):
        ResourceSet().copy_constraint({"foo": []})
    # properties follow the ranks they name through the algebra
    low = rset - rset.copy_ranks("2-3")
    assert json.loads(low.get_properties()) == {"all": "0-1", "odd": "1"}


def test_host_ranks():
    rset = ResourceSet(R("10-13", "0", None, "fluke[0-3]"))
    assert rset.host_ranks("fluke[3,0]") == [13, 10]
    assert rset.host_ranks("fluke[2-9]", ignore_nomatch=True) == [12, 13]
    with pytest.raises(FileNotFoundError):
        rset.host_ranks("fluke9")


@pytest.mark.parametrize("arg, error", [
    ((1, 2), TypeError), (42, TypeError), ("", ValueError), ("{", ValueError),
    ("[1]", ValueError), ({}, KeyError), ({"version": 2}, ValueError),
    ({"version": True}, ValueError), ({"version": 1, "execution": []}, ValueError),
    ({"version": 1, "execution": {"R_lite": {}}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [{"children": {}}]}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [{"rank": 0}]}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [{"rank": "x"}]}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": "1-"}}]}},
     ValueError),
    ({"version": 1, "execution": {"R_lite": [], "nodelist": ["n["]}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [], "nodelist": "n0"}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [], "starttime": "soon"}}, ValueError),
    ({"version": 1, "execution": {"R_lite": [], "properties": {"p": 1}}}, ValueError),
])
def test_malformed_r(arg, error):
    with pytest.raises(error):
        ResourceSet(arg)


def test_malformed_r_says_where():
    bad = R("0-1", "0-3")
    bad["execution"]["R_lite"].append({"rank": "2", "children": {"gpu": "zero"}})
    with pytest.raises(ValueError, match=r"R_lite\[1\]\.children\.gpu.*'zero'"):
        ResourceSet(bad)


def mutations(rng, value, depth=0):
    """``value`` with one random part replaced by something of another kind."""
    junk = [None, 1, -1, 2.5, "", "x", "0-", "[", [], {}, ["n[0-1]"], {"core": "0"}, True]
    if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.8:
        key = rng.choice(sorted(value))
        copy = dict(value)
        copy[key] = mutations(rng, value[key], depth + 1)
        return copy
    if isinstance(value, list) and value and depth < 4 and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return value[:i] + [mutations(rng, value[i], depth + 1)] + value[i + 1:]
    return rng.choice(junk)


def test_fuzz_decode_only_clear_errors():
    """Random text and randomly damaged R: a ResourceSet, or ValueError /
    TypeError (KeyError only for a missing version), never anything else;
    what decodes encodes and decodes again to the same R."""
    rng = random.Random(20)
    base = R("0-3", "0-7", "0", "n[0-3]", properties={"p": "1-2"})
    inputs = [mutations(rng, base) for _ in range(int(os.environ.get("FUZZ_N", "2000")))]
    inputs += ["".join(rng.choice('{}[]":,01 version R_lite') for _ in range(rng.randint(0, 30)))
               for _ in range(500)]
    decoded = 0
    for arg in inputs:
        try:
            rset = ResourceSet(arg)
        except (ValueError, TypeError):
            continue
        except KeyError as exc:
            assert exc.args == ("version",), arg
            continue
        decoded += 1
        assert ResourceSet(rset.encode()).to_dict() == rset.to_dict(), arg
    assert decoded > 50


@pytest.mark.parametrize("spec, bounds, allowed_up_to_20", [
    (3, (3, 3), [3]),
    ({"min": 2, "max": 5}, (2, 5), [5, 4, 3, 2]),
    ({"min": 18}, (18, None), [20, 19, 18]),
    ({"min": 2, "max": 40, "operator": "*", "operand": 3}, (2, 40), [18, 6, 2]),
    ({"min": 2, "max": 300, "operator": "^", "operand": 2}, (2, 300), [16, 4, 2]),
    ("[4-9:2:+]", (4, 9), [8, 6, 4]),
    ("19+", (19, None), [20, 19]),
    ("1,7-9,30", (1, 30), [9, 8, 7, 1]),
    ("6-7", (6, 7), [7, 6]),
    (" 12 ", (12, 12), [12]),
    (None, (1, 1), [1]),
])
def test_resource_count(spec, bounds, allowed_up_to_20):
    count = ResourceCount.from_count_spec(spec)
    assert (count.min, count.max) == bounds
    assert list(count.valid_counts(20)) == allowed_up_to_20
    assert list(count.valid_counts(count.min - 1)) == []
    doubled = count.scaled(2)
    assert (doubled.min, doubled.max) == (2 * bounds[0], bounds[1] and 2 * bounds[1])
    if count._values is not None:  # explicit values scale one by one
        assert list(doubled.valid_counts(40)) == [2 * v for v in allowed_up_to_20]
    assert count.scaled(1) is count


@pytest.mark.parametrize("spec", [
    0, -2, {"min": 0}, {"min": 5, "max": 4}, {"min": 2, "operator": "*", "operand": 2},
    {"min": 1, "max": 9, "operator": "^", "operand": 2}, {"min": 1, "max": 9, "operator": "/"},
    {"min": 2, "max": 9, "operator": "*", "operand": 1}, "3+:2:*", "0-4", "5-2", "x",
    "1-2-3", "0,4", "1-1000000:2:+",
])
def test_resource_count_refuses(spec):
    with pytest.raises(ValueError):
        ResourceCount.from_count_spec(spec)


# --- the official bindings on the same R -------------------------------------------
OFFICIAL_PROBE = r"""
from flux.resource import ResourceSet
import flux.resource
if not hasattr(ResourceSet, "to_dict"):
    print(json.dumps("old"))  # before 0.88: ResourceSet over librlist
    raise SystemExit(0)
out = []
for r, other in DATA:
    a, b = ResourceSet(r), ResourceSet(other)
    row = []
    for x in (a, b, a | b, a - b, a & b, b - a, a.copy_ranks("1-2"),
              a.copy_constraint({"properties": ["p"]})):
        row.append([str(x), x.encode(), str(x.nodelist), str(x.ranks), x.ncores, x.ngpus,
                    x.nnodes, json.loads(x.get_properties())])
    a.add(b)
    row.append(a.to_dict())
    out.append(row)
print(json.dumps(out))
"""


def test_agrees_with_official_bindings():
    pairs = [
        (R("0-3", "0-7", "0", "n[0-3]", properties={"p": "1-2"}), R("2-5", "0-3")),
        (R("0-1", "0-3"), R("0", "2-5", "0-1", "x0")),
        (R("1-2", "1", None, "a,b", properties={"p": "1"}), R("0-3", "0-1")),
        (R("0-3", "0-3"), {"version": 1, "execution": {"R_lite": [
            {"rank": "0,2", "children": {"core": "0-1", "gpu": "0"}}]}}),
    ]
    namespace = {"DATA": pairs, "json": json}
    printed = []
    namespace["print"] = printed.append
    import flux_ctypes.resource as ours  # noqa: F401 - the probe imports it by name

    code = OFFICIAL_PROBE.replace("from flux.resource import ResourceSet\nimport flux.resource\n",
                                  "from flux_ctypes.resource import ResourceSet\n")
    theirs = run_official(OFFICIAL_PROBE, pairs)
    if theirs == "old":
        pytest.skip("the official flux.resource of this flux-core is the older one over "
                    "librlist (no to_dict); this one follows the current (0.88) one")
    exec(code, namespace)
    assert json.loads(printed[0]) == theirs


def test_official_names_under_the_compat_shim():
    from flux_ctypes import compat
    import flux_ctypes.hostlist
    import flux_ctypes.idset
    import flux_ctypes.resource
    import flux_ctypes.resource.list

    compat.install()
    try:
        import flux
        import flux.hostlist
        import flux.resource.list
        from flux.idset import IDset as OfficialName
        from flux.resource import ResourceSet as Official, Rv1Set as OfficialRv1

        assert flux.hostlist is flux_ctypes.hostlist
        assert OfficialName is flux_ctypes.idset.IDset
        assert Official is ResourceSet and OfficialRv1 is Rv1Set
        assert flux.resource.list is flux_ctypes.resource.list
        assert flux.resource.SchedResourceList is SchedResourceList
    finally:
        compat.uninstall()


# --- the live instance --------------------------------------------------------------
def flux_cli(flux_uri, *args):
    env = dict(os.environ, FLUX_URI=flux_uri)
    return subprocess.run([flux_lib.flux_command()] + list(args), env=env, check=True,
                          stdout=subprocess.PIPE, universal_newlines=True,
                          timeout=60).stdout


def cli_state(flux_uri, state):
    line = flux_cli(flux_uri, "resource", "list", "-s", state, "-no",
                    "{nnodes}|{ncores}|{ngpus}|{nodelist}|{ranks}|{rlist}")
    return line.strip("\n").split("|")


def ours_state(rset):
    return [str(rset.nnodes), str(rset.ncores), str(rset.ngpus), str(rset.nodelist),
            str(rset.ranks), rset.rlist]


STATES = ("all", "up", "down", "free", "allocated")


def test_resource_list_agrees_with_flux_resource_list(handle, flux_uri):
    rl = resource_list(handle).get()
    assert isinstance(rl, SchedResourceList)
    assert rl.all.nnodes == 2  # --test-size=2
    for state in STATES:
        assert rl[state].state == state
        assert ours_state(rl[state]) == cli_state(flux_uri, state), state
    assert str(rl.up) == str(rl.all) and str(rl.down) == ""


def test_allocated_and_drained_resources(handle, flux_uri):
    """With a job running and a rank drained, every state still agrees."""
    jobid = flux_cli(flux_uri, "submit", "-n1", "sleep", "inf").strip()
    drained = False
    try:
        flux_cli(flux_uri, "job", "wait-event", jobid, "start")
        flux_cli(flux_uri, "resource", "drain", "1", "testing drain")
        drained = True
        rl = resource_list(handle).get()
        assert rl.allocated.ncores == 1
        assert rl.free.ncores == rl.all.ncores - 1 - rl.down.ncores
        for state in STATES:
            assert ours_state(rl[state]) == cli_state(flux_uri, state), state
        status = resource_status(handle).get()
        assert isinstance(status, ResourceStatus)
        assert str(status.all) == "0-1" and str(status.online) == "0-1"
        assert 1 in status.get_idset("drained", "draining")
        info = status.get_drain_info(1)
        assert info.reason == "testing drain" and 1 in info.ranks
        assert status.get_drain_info(0) is None
        assert 1 not in status.avail
        with pytest.raises(ValueError):
            status.get_drain_info(7)
        cli = flux_cli(flux_uri, "resource", "status", "-s", "drain", "-no", "{ranks}")
        assert cli.strip() == str(status.get_idset("drained", "draining"))
    finally:
        if drained:
            flux_cli(flux_uri, "resource", "undrain", "1")
        flux_cli(flux_uri, "cancel", jobid)
        flux_cli(flux_uri, "job", "wait-event", jobid, "clean")


def test_resource_list_then_callback(handle):
    got = []

    def done(future):
        got.append(future.get())
        handle.reactor_stop()

    resource_list(handle).then(done)
    handle.reactor_run()
    assert str(got[0].all.ranks) == "0-1"


def test_resource_list_falls_back_when_topic_missing(handle, monkeypatch):
    monkeypatch.setenv("FLUX_RESOURCE_LIST_RPC", "nosuch.service")
    rpc = resource_list(handle)
    assert rpc.topic == "nosuch.service"
    rl = rpc.get()  # ENOSYS, then the scheduler's sched.resource-status
    assert rl.all.nnodes == 2 and str(rl.free.ranks) == "0-1"


def test_filter_and_constraint_on_live_list(handle):
    rl = resource_list(handle).get()
    rl.filter("1")
    assert str(rl.all.ranks) == str(rl.up.ranks) == str(rl.free.ranks) == "1"
    assert str(rl.copy_constraint({"ranks": ["1"]}).all.ranks) == "1"
    with pytest.raises(AttributeError):
        rl.nosuchstate
    with pytest.raises(KeyError):
        rl["nosuchstate"]


@pytest.mark.parametrize("handle_arg", [None, "local://", 0])
@pytest.mark.parametrize("call", [resource_list, resource_status])
def test_resource_requests_need_a_flux_handle(call, handle_arg):
    """Without a handle the request can't be sent: a TypeError now, not an
    AssertionError (no message) from get() once the reactor runs."""
    with pytest.raises(TypeError, match="flux_handle"):
        call(handle_arg).get()
