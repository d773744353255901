"""libflux-core's KVS API (``src/common/libkvs``: kvs.h and the headers it
includes), one section per header.  These headers come in through
``flux/core.h``, so the conformance test checks each entry as it checks
the core table."""

from ctypes import POINTER, c_bool, c_char, c_char_p, c_int, c_size_t, c_uint32, c_void_p

from flux_ctypes.ffi.record import fn
from flux_ctypes.ffi.types import (
    NEG,
    NULL,
    char_pp,
    flux_future_t,
    flux_kvs_txn_t,
    flux_kvsdir_t,
    flux_kvsitr_t,
    flux_t,
    int_p,
    void_pp,
)

# fmt: off
FUNCTIONS = (
    # kvs.h: namespaces
    fn("flux_kvs_namespace_create", flux_future_t,
       [flux_t, c_char_p, c_uint32, c_int], NULL),
    fn("flux_kvs_namespace_remove", flux_future_t, [flux_t, c_char_p], NULL),
    # kvs_lookup.h
    fn("flux_kvs_lookup", flux_future_t, [flux_t, c_char_p, c_int, c_char_p], NULL),
    fn("flux_kvs_lookup_get_raw", c_int,
       [flux_future_t, void_pp, POINTER(c_size_t)], NEG),
    fn("flux_kvs_lookup_get_dir", c_int, [flux_future_t, POINTER(flux_kvsdir_t)], NEG),
    fn("flux_kvs_lookup_get_symlink", c_int, [flux_future_t, char_pp, char_pp], NEG),
    fn("flux_kvs_lookup_get_key", c_char_p, [flux_future_t]),
    fn("flux_kvs_lookup_cancel", c_int, [flux_future_t], NEG),
    # kvs_txn.h
    fn("flux_kvs_txn_create", flux_kvs_txn_t, [], NULL, quick=True),
    fn("flux_kvs_txn_destroy", None, [flux_kvs_txn_t], quick=True),
    fn("flux_kvs_txn_put", c_int, [flux_kvs_txn_t, c_int, c_char_p, c_char_p], NEG, quick=True),
    fn("flux_kvs_txn_put_raw", c_int,
       [flux_kvs_txn_t, c_int, c_char_p, c_void_p, c_size_t], NEG, quick=True),
    fn("flux_kvs_txn_mkdir", c_int, [flux_kvs_txn_t, c_int, c_char_p], NEG, quick=True),
    fn("flux_kvs_txn_unlink", c_int, [flux_kvs_txn_t, c_int, c_char_p], NEG, quick=True),
    fn("flux_kvs_txn_symlink", c_int,
       [flux_kvs_txn_t, c_int, c_char_p, c_char_p, c_char_p], NEG, quick=True),
    fn("flux_kvs_txn_clear", c_int, [flux_kvs_txn_t], NEG, quick=True),
    fn("flux_kvs_txn_is_empty", c_bool, [flux_kvs_txn_t], added=(0, 57), quick=True),
    # kvs_commit.h
    fn("flux_kvs_commit", flux_future_t, [flux_t, c_char_p, c_int, flux_kvs_txn_t], NULL),
    fn("flux_kvs_commit_get_rootref", c_int, [flux_future_t, char_pp], NEG),
    fn("flux_kvs_commit_get_sequence", c_int, [flux_future_t, int_p], NEG),
    # kvs_dir.h.  flux_kvsdir_key_at returns a string the caller frees, so
    # it comes back as a char pointer (not c_char_p, which would drop the
    # address) for kvs.py to read and free.
    fn("flux_kvsdir_destroy", None, [flux_kvsdir_t], quick=True),
    fn("flux_kvsdir_copy", flux_kvsdir_t, [flux_kvsdir_t], NULL, quick=True),
    fn("flux_kvsdir_get_size", c_int, [flux_kvsdir_t], NEG, quick=True),
    fn("flux_kvsdir_isdir", c_bool, [flux_kvsdir_t, c_char_p], quick=True),
    fn("flux_kvsdir_issymlink", c_bool, [flux_kvsdir_t, c_char_p], quick=True),
    fn("flux_kvsdir_key_at", POINTER(c_char), [flux_kvsdir_t, c_char_p], NULL, quick=True),
    fn("flux_kvsitr_create", flux_kvsitr_t, [flux_kvsdir_t], NULL, quick=True),
    fn("flux_kvsitr_destroy", None, [flux_kvsitr_t], quick=True),
    fn("flux_kvsitr_next", c_char_p, [flux_kvsitr_t], quick=True),
)
# fmt: on
