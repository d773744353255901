"""libflux-hostlist (``flux/hostlist.h``): RFC 29 hostlists.

The library has been its own shared object since flux-core 0.21.  Its
functions set errno and return NULL or -1 on failure, like libflux-core's.
"""

from ctypes import c_char_p, c_int

from flux_ctypes.ffi.record import fn
from flux_ctypes.ffi.types import NEG, NONE, NULL, hostlist_t, malloced_str

HL = "hostlist"
SINCE = (0, 21)

# fmt: off
FUNCTIONS = (
    fn("hostlist_create", hostlist_t, [], NULL, library=HL, added=SINCE, quick=True),
    fn("hostlist_destroy", None, [hostlist_t], NONE, library=HL, added=SINCE, quick=True),
    fn("hostlist_decode", hostlist_t, [c_char_p], NULL, library=HL, added=SINCE, quick=True),
    # malloc'd: the caller copies and frees it (lib.take_string)
    fn("hostlist_encode", malloced_str, [hostlist_t], NULL, library=HL, added=SINCE, quick=True),
    fn("hostlist_copy", hostlist_t, [hostlist_t], NULL, library=HL, added=SINCE, quick=True),
    fn("hostlist_append", c_int, [hostlist_t, c_char_p], NEG, library=HL, added=SINCE, quick=True),
    fn("hostlist_append_list", c_int, [hostlist_t, hostlist_t], NEG,
       library=HL, added=SINCE, quick=True),
    # NULL past the end; callers check the index against the count first
    fn("hostlist_nth", c_char_p, [hostlist_t, c_int], NONE, library=HL, added=SINCE, quick=True),
    # -1 with errno ENOENT when absent: OSError(ENOENT) is FileNotFoundError
    fn("hostlist_find", c_int, [hostlist_t, c_char_p], NEG, library=HL, added=SINCE, quick=True),
    fn("hostlist_delete", c_int, [hostlist_t, c_char_p], NEG, library=HL, added=SINCE, quick=True),
    fn("hostlist_count", c_int, [hostlist_t], NEG, library=HL, added=SINCE, quick=True),
    fn("hostlist_sort", None, [hostlist_t], NONE, library=HL, added=SINCE, quick=True),
    fn("hostlist_uniq", None, [hostlist_t], NONE, library=HL, added=SINCE, quick=True),
)
# fmt: on
