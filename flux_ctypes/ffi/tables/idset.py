"""libflux-idset (``flux/idset.h``): RFC 22 idsets.

Only ``libflux-idset.so.1`` exports these (libflux-core does not); it has
been a shared object of its own since flux-core 0.46.  Functions returning
an id return IDSET_INVALID_ID when there is none, which is not an error.
"""

from ctypes import POINTER, c_bool, c_char_p, c_int, c_size_t, c_ssize_t, c_uint

from flux_ctypes.ffi.record import fn
from flux_ctypes.ffi.types import NEG, NONE, NULL, idset_error_t, idset_t, malloced_str

ID = "idset"
SINCE = (0, 46)
SINCE_EX = (0, 57)

# fmt: off
FUNCTIONS = (
    fn("idset_create", idset_t, [c_size_t, c_int], NULL, library=ID, added=SINCE, quick=True),
    fn("idset_destroy", None, [idset_t], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_copy", idset_t, [idset_t], NULL, library=ID, added=SINCE, quick=True),
    # malloc'd: the caller copies and frees it (lib.take_string)
    fn("idset_encode", malloced_str, [idset_t, c_int], NULL, library=ID, added=SINCE, quick=True),
    fn("idset_decode", idset_t, [c_char_p], NULL, library=ID, added=SINCE, quick=True),
    fn("idset_decode_ex", idset_t,
       [c_char_p, c_ssize_t, c_ssize_t, c_int, POINTER(idset_error_t)], NULL,
       library=ID, added=SINCE_EX, quick=True),
    fn("idset_set", c_int, [idset_t, c_uint], NEG, library=ID, added=SINCE, quick=True),
    fn("idset_range_set", c_int, [idset_t, c_uint, c_uint], NEG, library=ID, added=SINCE, quick=True),
    fn("idset_clear", c_int, [idset_t, c_uint], NEG, library=ID, added=SINCE, quick=True),
    fn("idset_range_clear", c_int, [idset_t, c_uint, c_uint], NEG,
       library=ID, added=SINCE, quick=True),
    fn("idset_test", c_bool, [idset_t, c_uint], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_first", c_uint, [idset_t], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_next", c_uint, [idset_t, c_uint], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_last", c_uint, [idset_t], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_prev", c_uint, [idset_t, c_uint], NONE, library=ID, added=SINCE_EX, quick=True),
    fn("idset_count", c_size_t, [idset_t], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_equal", c_bool, [idset_t, idset_t], NONE, library=ID, added=SINCE, quick=True),
    fn("idset_union", idset_t, [idset_t, idset_t], NULL, library=ID, added=SINCE, quick=True),
    fn("idset_add", c_int, [idset_t, idset_t], NEG, library=ID, added=SINCE, quick=True),
    fn("idset_difference", idset_t, [idset_t, idset_t], NULL, library=ID, added=SINCE, quick=True),
    fn("idset_subtract", c_int, [idset_t, idset_t], NEG, library=ID, added=SINCE, quick=True),
    fn("idset_intersect", idset_t, [idset_t, idset_t], NULL, library=ID, added=SINCE, quick=True),
)
# fmt: on
