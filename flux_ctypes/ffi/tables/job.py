"""libflux-core's job API (``flux/job.h``, included by ``flux/core.h``).

A job ID (``flux_jobid_t``) is a ``uint64_t``; the state and result enums
are passed as ``int``.  Buffers that C fills (``char *buf``) are passed as
ctypes string buffers.
"""

from ctypes import POINTER, c_bool, c_char, c_char_p, c_double, c_int, c_size_t, c_uint32, c_uint64

from flux_ctypes.ffi.record import fn
from flux_ctypes.ffi.types import NEG, NULL, char_pp, flux_error_t, flux_future_t, flux_t, int_p

jobid_p = POINTER(c_uint64)

# fmt: off
FUNCTIONS = (
    # job IDs (RFC 19)
    fn("flux_job_id_parse", c_int, [c_char_p, jobid_p], NEG, quick=True),
    fn("flux_job_id_encode", c_int, [c_uint64, c_char_p, c_char_p, c_size_t], NEG, quick=True),
    # states and results
    fn("flux_job_statetostr", c_char_p, [c_int, c_char_p], quick=True),
    fn("flux_job_strtostate", c_int, [c_char_p, int_p], NEG, quick=True),
    fn("flux_job_resulttostr", c_char_p, [c_int, c_char_p], quick=True),
    fn("flux_job_strtoresult", c_int, [c_char_p, int_p], NEG, quick=True),
    # submit and wait
    fn("flux_job_submit", flux_future_t, [flux_t, c_char_p, c_int, c_int], NULL),
    fn("flux_job_submit_get_id", c_int, [flux_future_t, jobid_p], NEG),
    fn("flux_job_wait", flux_future_t, [flux_t, c_uint64], NULL),
    fn("flux_job_wait_get_status", c_int, [flux_future_t, POINTER(c_bool), char_pp], NEG),
    fn("flux_job_wait_get_id", c_int, [flux_future_t, jobid_p], NEG),
    # exceptions, signals, urgency
    fn("flux_job_raise", flux_future_t, [flux_t, c_uint64, c_char_p, c_int, c_char_p], NULL),
    fn("flux_job_cancel", flux_future_t, [flux_t, c_uint64, c_char_p], NULL),
    fn("flux_job_kill", flux_future_t, [flux_t, c_uint64, c_int], NULL),
    fn("flux_job_set_urgency", flux_future_t, [flux_t, c_uint64, c_int], NULL),
    # KVS paths of a job
    fn("flux_job_kvs_key", c_int, [c_char_p, c_int, c_uint64, c_char_p], NEG, quick=True),
    fn("flux_job_kvs_guest_key", c_int, [c_char_p, c_int, c_uint64, c_char_p], NEG, quick=True),
    fn("flux_job_kvs_namespace", c_int, [c_char_p, c_int, c_uint64], NEG, quick=True),
    # eventlogs
    fn("flux_job_event_watch", flux_future_t, [flux_t, c_uint64, c_char_p, c_int], NULL),
    fn("flux_job_event_watch_get", c_int, [flux_future_t, char_pp], NEG),
    fn("flux_job_event_watch_cancel", c_int, [flux_future_t], NEG),
    # results
    fn("flux_job_result", flux_future_t, [flux_t, c_uint64, c_int], NULL),
    fn("flux_job_result_get", c_int, [flux_future_t, char_pp], NEG),
    fn("flux_job_timeleft", c_int, [flux_t, POINTER(flux_error_t), POINTER(c_double)], NEG),
    fn("flux_job_waitstatus_to_exitcode", c_int, [c_int, POINTER(flux_error_t)], NEG, quick=True),
    # signed J -> jobspec; returns malloc'd memory the caller frees (a
    # char pointer, not c_char_p, so ctypes keeps the address)
    fn("flux_unwrap_string", POINTER(c_char), [c_char_p, c_bool, POINTER(c_uint32),
                                        POINTER(flux_error_t)], NULL),
)
# fmt: on
