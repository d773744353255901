"""Job IDs (RFC 19 FLUIDs): parsing and encoding through libflux-core.

Every encoding the loaded library knows is accepted and produced here:
decimal, ``0x`` hex, dotted hex, ``job.``-prefixed KVS paths, F58 (with
the ``ƒ`` prefix, or ASCII ``f`` where the locale is not UTF-8 or
``FLUX_F58_FORCE_ASCII`` is set -- the library decides, as it does for the
``flux`` command), mnemonic words and emoji.
"""

import ctypes
import errno
from ctypes import byref, c_uint64
from typing import Any

from flux_ctypes.lib import lib
from flux_ctypes.util import encode_text

__all__ = ["JobID", "id_parse", "id_encode", "jobid_arg"]

JOBID_MAX = 0xFFFFFFFFFFFFFFFF

# Longest encoding: words ("xxxxxxx-" * 6ish) and emoji (4 bytes x 11) fit
# well within this.
_ENCODE_BUFSZ = 128


def jobid_arg(jobid: Any, name: str = "jobid") -> int:
    """``jobid`` as the uint64_t C takes: an int (a JobID is one) in
    range, or text in any job ID encoding.

    Anything else is a TypeError, a negative or too large number an
    OverflowError (never a silently wrapped ID), both naming ``name``."""
    if isinstance(jobid, (str, bytes)):
        jobid = JobID(jobid)  # ValueError for text that is no job ID
    if isinstance(jobid, bool) or not isinstance(jobid, int):
        raise TypeError(
            "{} must be an integer job ID, not {}".format(name, type(jobid).__name__))
    value = int(jobid)
    if value < 0 or value > JOBID_MAX:
        raise OverflowError(
            "{} {} is out of range for a job ID (0 to 2**64-1)".format(name, value))
    return value


def id_parse(jobid_str: Any) -> int:
    """The integer job ID written as ``jobid_str`` in any RFC 19 encoding.

    Raises OSError (EINVAL) when the text is no job ID, TypeError when it
    is not text."""
    if isinstance(jobid_str, str):
        try:
            raw = jobid_str.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate: no job ID has one
            raise OSError(errno.EINVAL, "job ID text {!r} is not encodable as UTF-8".format(
                jobid_str)) from None
    elif isinstance(jobid_str, bytes):
        raw = jobid_str
    else:
        raise TypeError(
            "jobid_str must be str or bytes, not {}".format(type(jobid_str).__name__))
    if 0 in raw:  # an int: b"\0" would cost a TypeError raised and cleared in C
        raise OSError(errno.EINVAL, "job ID text contains a NUL character")
    out = c_uint64()
    try:
        lib.flux_job_id_parse(raw, byref(out))
    except OSError as exc:  # C sets errno only: say which text
        raise OSError(exc.errno, "{}: {!r} is not a job ID".format(
            exc.strerror, jobid_str)) from None
    return out.value


def id_encode(jobid: Any, encoding: str = "f58") -> str:
    """``jobid`` as text in ``encoding``: dec, hex, dothex, kvs, f58,
    f58plain, words or emoji (those the loaded library supports).

    An unknown encoding is OSError (EPROTO) from the library."""
    value = jobid_arg(int(jobid) if isinstance(jobid, JobID) else jobid)
    if not isinstance(encoding, str):
        raise TypeError("encoding must be str, not {}".format(type(encoding).__name__))
    # no NUL (C would read "dec\0x" as "dec"), no lone surrogate
    name = encode_text(encoding, "encoding")
    buf = ctypes.create_string_buffer(_ENCODE_BUFSZ)
    try:
        lib.flux_job_id_encode(value, name, buf, _ENCODE_BUFSZ)
    except OSError as exc:
        if exc.errno == errno.EPROTO:
            raise OSError(
                exc.errno, "unknown job ID encoding {!r}".format(encoding)) from None
        raise
    return buf.value.decode("utf-8")


class JobID(int):
    """A job ID: an ``int`` that can also be made from, and written as, any
    RFC 19 encoding.  ``str(jobid)`` is its F58 form, ``repr`` shows the
    decimal value, and ``orig`` the text it was made from."""

    orig_str: str

    def __new__(cls, value: Any) -> "JobID":
        if isinstance(value, JobID):
            # a copy remembers the original text of the one it copies
            return cls(value.orig_str)
        if isinstance(value, int) and not isinstance(value, bool):
            number = int(value)
        elif isinstance(value, (str, bytes)):
            text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
            try:
                number = id_parse(text)
            except OSError:
                raise ValueError("{} is not a valid Flux jobid".format(text)) from None
            value = text
        else:
            raise TypeError(
                "a JobID is made from an int or an encoded job ID string, "
                "not {}".format(type(value).__name__))
        self = super().__new__(cls, number)
        self.orig_str = str(value) if not isinstance(value, JobID) else value.orig_str
        return self

    def encode(self, encoding: str = "dec") -> str:
        """This ID in ``encoding`` (see :func:`id_encode`)."""
        return id_encode(int(self), encoding)

    @property
    def dec(self) -> str:
        return self.encode("dec")

    @property
    def f58(self) -> str:
        return self.encode("f58")

    @property
    def f58plain(self) -> str:
        return self.encode("f58plain")

    @property
    def hex(self) -> str:  # type: ignore[override,unused-ignore]
        return self.encode("hex")

    @property
    def dothex(self) -> str:
        return self.encode("dothex")

    @property
    def words(self) -> str:
        return self.encode("words")

    @property
    def emoji(self) -> str:
        return self.encode("emoji")

    @property
    def kvs(self) -> str:
        return self.encode("kvs")

    @property
    def orig(self) -> str:
        """The text (or number) this JobID was made from."""
        return self.orig_str

    def __str__(self) -> str:
        return self.encode("f58")

    def __repr__(self) -> str:
        return "JobID({})".format(int(self))
