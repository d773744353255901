"""flux_ctypes.callbacks: the registries behind C's ``void *arg`` and the
per-thread callback error state.  Pure logic: no library, no instance."""

import threading

import pytest

from flux_ctypes import callbacks

pytestmark = pytest.mark.offline


@pytest.fixture
def registry():
    reg = callbacks.Registry("test-{}".format(id(object())))
    yield reg
    callbacks.ALL.remove(reg)  # leave registries() as it was


def test_keys_are_fresh_nonzero_and_shared_across_registries(registry):
    other = callbacks.Registry("test-other")
    try:
        keys = [registry.add(object()) for _ in range(3)] + [other.add(object())]
        keys.append(callbacks.new_key())
        assert 0 not in keys  # 0 would be NULL to C
        assert len(set(keys)) == len(keys)
        assert keys == sorted(keys)
    finally:
        callbacks.ALL.remove(other)


def test_a_discarded_key_finds_nothing_and_is_never_handed_out_again(registry):
    first = object()
    key = registry.add(first)
    assert registry.get(key) is first and registry.lookup(key) is first
    assert key in registry and len(registry) == 1
    registry.discard(key)
    registry.discard(key)  # twice is harmless
    assert registry.get(key) is None and registry.lookup(key) is None
    assert key not in registry and len(registry) == 0
    # a late callback carrying the stale key never meets a newcomer
    assert registry.add(object()) != key
    assert registry.get(key) is None


def test_put_iteration_and_counts(registry):
    a, b = object(), object()
    registry.put(10 ** 12, a)
    key = registry.add(b)
    assert registry.get(10 ** 12) is a
    # iteration is over a snapshot: discarding while iterating is safe
    seen = []
    for obj in registry:
        seen.append(obj)
        registry.discard(key)
    assert set(map(id, seen)) == {id(a), id(b)}
    assert callbacks.registries()[registry.name] == 1
    assert registry.name in repr(registry) and "1 objects" in repr(registry)


def test_the_live_registries_are_all_reported():
    names = set(callbacks.registries())
    assert {"then", "watchers"} <= names
    assert all(isinstance(n, int) for n in callbacks.registries().values())


def test_error_state_is_per_thread_and_the_first_exception_wins():
    first, second = ValueError("first"), KeyError("second")
    callbacks.fail(first, None)  # no reactor to stop: no C call
    callbacks.fail(second, None)
    other = []
    thread = threading.Thread(target=lambda: other.append(callbacks.state.exception))
    thread.start()
    thread.join(10)
    assert other == [None]
    with pytest.raises(ValueError) as info:
        callbacks.raise_pending()
    assert info.value is first
    callbacks.raise_pending()  # cleared: nothing more to raise
    assert callbacks.state.exception is None
