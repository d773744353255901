"""The Flux key-value store (KVS), with the names and behaviour of the
official ``flux.kvs`` module.

Reading::

    get(h, "a.b")            # the value, JSON-decoded; a directory -> KVSDir
    get_key_raw(h, "a.b")    # the stored bytes, exactly
    exists(h, key), isdir(h, key), get_dir(h, "a"), readlink(h, "a.link")

Writing is staged in a transaction and made permanent by a commit: the
module functions (``put``, ``put_mkdir``, ``put_unlink``, ``put_symlink``)
stage in a transaction kept on the handle (``h.aux_txn``) until
``commit(h)``; :class:`KVSTxn` is a transaction of your own; :class:`KVSDir`
is a directory as a mutable mapping whose writes share one transaction.

Values are stored as JSON (``put(h, k, [1, 2])``), or as raw bytes with
``raw=True`` (or when the value is bytes).  Reading decodes as the official
module does: JSON if the stored text is JSON, else the text, else bytes.

Watching: ``kvs_watch_async(h, key)`` (official) returns a
:class:`KVSWatchFuture` whose ``get()`` gives each new value and ``None``
once the watch has ended; :func:`watch` returns a :class:`KVSWatch`, a
plain streaming future (``get()`` raises ``OSError(ENODATA)`` at the end)
that is also an iterator, and works with ``flux_ctypes.aio.stream()``::

    for value in kvs.watch(h, "counter"):   # blocks for each change
        ...
    async for value in aio.stream(kvs.watch(h, "counter")):
        ...

Keys are dotted paths (``"a.b.c"``), str or bytes.  A key, target or
namespace that holds a NUL character or is not UTF-8 is a ValueError, a
value JSON can't encode a TypeError or ValueError naming ``value``; what
the KVS refuses is an OSError carrying the KVS's own error text (a
namespace that does not exist: ENOTSUP, naming it).

Blocking calls wait for the broker's answer in one piece, except a
watch's, which Ctrl-C interrupts as it does an RPC's.
"""

import collections.abc
import ctypes
import errno
import json
import os
from abc import ABC, abstractmethod
from collections.abc import MutableMapping
from ctypes import byref, c_char_p, c_int, c_size_t, c_void_p
from typing import (
    Any,
    Callable,
    Generator,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
)

from flux_ctypes.constants import (
    FLUX_KVS_READDIR,
    FLUX_KVS_READLINK,
    FLUX_KVS_WAITCREATE,
    FLUX_KVS_WATCH,
    FLUX_KVS_WATCH_FULL,
    FLUX_KVS_WATCH_UNIQ,
)
from flux_ctypes.future import COLLECT_EVERY, Future, count_wait, future_error
from flux_ctypes.handle import Flux
from flux_ctypes.lib import (
    DEFERRED,
    failed,
    flux_kvs_txn_t,
    flux_kvsdir_t,
    flux_t,
    lib,
    own,
    run_deferred,
    set_errno,
    unchecked,
)
from flux_ctypes.rpc import RPC
from flux_ctypes.util import decode_json

__all__ = [
    "KVSCommit",
    "KVSDir",
    "KVSFuture",
    "KVSLookup",
    "KVSTxn",
    "KVSWatch",
    "KVSWatchFuture",
    "RawValueTypeError",
    "WatchImplementation",
    "commit",
    "commit_async",
    "decode_value",
    "exists",
    "get",
    "get_dir",
    "get_key_direct",
    "get_key_raw",
    "isdir",
    "join",
    "kvs_checkpoint_lookup",
    "kvs_watch_async",
    "namespace_create",
    "namespace_list",
    "namespace_remove",
    "put",
    "put_mkdir",
    "put_symlink",
    "put_unlink",
    "readlink",
    "walk",
    "watch",
]


class RawValueTypeError(TypeError, AttributeError):
    """``put(..., raw=True)`` was given a value that is neither bytes nor
    str.  A TypeError; also an AttributeError, which is what the official
    module raises there, so code written against it still catches it."""


# --- argument checks ------------------------------------------------------
def _text_arg(value: Any, what: str) -> bytes:
    """A key, namespace or target as the NUL-terminated UTF-8 C reads.

    The KVS keeps names in JSON, which is UTF-8: libflux-core fails on
    anything else with ENOMEM, which would mislead."""
    if isinstance(value, str):
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate
            raise ValueError("{} can't be encoded as UTF-8: {}".format(what, exc)) from None
    elif isinstance(value, bytes):
        data = value
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("{} is not valid UTF-8: {}".format(what, exc)) from None
    else:
        raise TypeError(
            "{} must be str or bytes, not {}".format(what, type(value).__name__))
    if 0 in data:  # an int: b"\0" would cost a TypeError raised and cleared in C
        # C would stop reading at the NUL: a different key, silently.
        raise ValueError("{} must not contain a NUL character: {!r}".format(what, value))
    return data


def _flags_arg(value: Any, what: str = "flags") -> int:
    """``value`` as the C int of a flags parameter: TypeError for what is
    no integer, ValueError out of range (ctypes would refuse it with an
    ArgumentError that names no parameter).  A bool is an int here, as
    for ctypes."""
    if not isinstance(value, int):
        raise TypeError("{} must be an int, not {}".format(what, type(value).__name__))
    if not -(2 ** 31) <= value <= 2 ** 31 - 1:
        raise ValueError("{} must fit a C int, not {}".format(what, value))
    return int(value)


def _optional_text_arg(value: Any, what: str) -> Optional[bytes]:
    return None if value is None else _text_arg(value, what)


def _flux_arg(flux_handle: Any) -> Any:
    """The flux_t pointer of a Flux object (TypeError for anything else)."""
    if not isinstance(flux_handle, Flux):
        raise TypeError(
            "flux_handle must be a flux_ctypes Flux object, not {}".format(
                type(flux_handle).__name__))
    hptr = flux_handle.handle
    if not isinstance(hptr, flux_t) or not hptr:
        raise ValueError("flux_handle is closed")
    return hptr


# json.dumps() with an option builds an encoder per call.  ASCII output,
# as the official module writes (json.dumps' default).
_encoder = json.JSONEncoder(allow_nan=False)


def _json_value(value: Any) -> bytes:
    try:
        text = _encoder.encode(value)
    except TypeError as exc:
        raise TypeError("value can't be stored as JSON: {}".format(exc)) from None
    except ValueError as exc:  # NaN, infinities, circular references
        raise ValueError("value can't be stored as JSON: {}".format(exc)) from None
    return text.encode("ascii")


def decode_value(data: Optional[bytes]) -> Any:
    """A stored value as the official module returns it: None for no data,
    the JSON value if the bytes are UTF-8 JSON, else the text if they are
    UTF-8, else the bytes themselves."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    try:
        return decode_json(text)
    except ValueError:
        return text


# --- futures --------------------------------------------------------------
class _KVSRequest(Future):
    """What every KVS future shares: the handle it was sent on, and the
    errors of its getters as OSError with the KVS's text."""

    flux_handle: Flux
    # The namespace the request names (None: $FLUX_KVS_NAMESPACE or the
    # primary one), for the error of one that does not exist.
    namespace = None  # type: Any
    # The key a lookup or watch names, for an error without text of its own.
    key = None  # type: Any

    def __init__(self, future_handle: Any, flux_handle: Optional[Flux] = None, *,
                 fresh: bool = False) -> None:
        # Future.__init__ even under RPC: this request is sent already.
        Future.__init__(self, future_handle, keepalive=flux_handle, fresh=fresh)
        if flux_handle is None:  # a future made elsewhere: its own handle
            flux_handle = self.get_flux()
            if flux_handle is None:
                raise ValueError("this future has no Flux handle")
        self.flux_handle = flux_handle

    def _call(self, func: Callable[..., Any], *args: Any) -> None:
        """Wait for the response, then ``func(self.handle, *args)``;
        OSError with the future's error text when either fails."""
        if self._sliced:  # a watch (an RPC): wait where Ctrl-C is seen
            self.wait_for()
        else:
            if DEFERRED:
                run_deferred()
            if COLLECT_EVERY:
                count_wait(self.handle)
        # else the getter waits itself, as in C: one call less
        try:
            func(self.handle, *args)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> BaseException:
        return _request_error(self.handle, exc, self.namespace, self.key)


def _answer(fptr: Any, namespace: Any, key: Any, getter: str, *args: Any) -> None:
    """Wait for KVS future ``fptr``'s answer in one piece, as C does, with
    C getter ``getter(fptr, *args)``, called unchecked (``args`` are what C
    takes); OSError with the KVS's text when it failed.  For the module's
    blocking calls, which make no future object: the caller destroys
    ``fptr`` once it has copied what it needs."""
    if DEFERRED:
        run_deferred()
    try:
        rc = getattr(unchecked, getter)(fptr, *args)
        err = set_errno(0)
        if rc < 0:
            raise failed(getter, err)
    except OSError as exc:  # (traced, the binding raises it itself)
        raise _request_error(fptr, exc, namespace, key) from None


def _request_error(fptr: Any, exc: OSError, namespace: Any, key: Any) -> BaseException:
    """The exception for KVS future ``fptr`` failing with ``exc``: OSError
    with the KVS's text, naming a namespace that does not exist, or
    ``key`` (if not None) where the KVS gave no text."""
    error = future_error(fptr, exc)
    if (isinstance(error, OSError) and error.errno == errno.ENOTSUP
            and error.strerror == os.strerror(errno.ENOTSUP)):
        # What the KVS answers for a namespace it does not have, with
        # no text of its own: say so.
        if namespace is None:
            namespace = os.environ.get("FLUX_KVS_NAMESPACE", "primary")
        if isinstance(namespace, bytes):
            namespace = namespace.decode("utf-8", "surrogateescape")
        return OSError(error.errno, "{}: KVS namespace {!r} does not exist".format(
            error.strerror, namespace))
    if (isinstance(error, OSError) and key is not None and error.errno
            and error.strerror == os.strerror(error.errno)):
        # The KVS says ENOENT, EISDIR, ELOOP... without text: name the
        # key, as OSError names a file ("...: 'a.b'")
        if isinstance(key, bytes):
            key = key.decode("utf-8", "surrogateescape")
        return OSError(error.errno, error.strerror, key)
    return error



class KVSFuture(_KVSRequest):
    """The future of a KVS request that is answered at once: a lookup, a
    commit, a namespace change.  ``get()`` returns None or raises OSError
    with the KVS's error text.

    A plain Future, not an RPC, though these are RPCs underneath: an RPC's
    blocking wait is cut into slices so that Ctrl-C is seen, which costs a
    timer per wait (a tenth of a lookup's time), and these never wait
    long.  Watches, which may, are RPCs (see _WatchBase)."""

    def get(self) -> Any:
        self._call(lib.flux_future_get, None)
        return None


class KVSCommit(KVSFuture):
    """The future of flux_kvs_commit(): after ``get()``, the namespace's
    root as the commit left it."""

    def get_sequence(self) -> int:
        """The root's sequence number (its version) after this commit."""
        seq = c_int()
        self._call(lib.flux_kvs_commit_get_sequence, byref(seq))
        return seq.value

    def get_rootref(self) -> str:
        """The blobref of the root directory after this commit."""
        ref = c_char_p()
        self._call(lib.flux_kvs_commit_get_rootref, byref(ref))
        return (ref.value or b"").decode("ascii")


class KVSLookup(KVSFuture):
    """The future of flux_kvs_lookup(): the value of one key."""

    def get_raw(self) -> Optional[bytes]:
        """The stored bytes (None when the value has no data)."""
        data = c_void_p()
        size = c_size_t()
        self._call(lib.flux_kvs_lookup_get_raw, byref(data), byref(size))
        if data.value is None:
            return None
        return ctypes.string_at(data.value, size.value)

    def get(self) -> Any:
        """The value, decoded as :func:`decode_value` does."""
        return decode_value(self.get_raw())

    def get_key(self) -> Optional[str]:
        key = lib.flux_kvs_lookup_get_key(self.cptr)
        return None if key is None else key.decode("utf-8", "surrogateescape")

    def get_symlink(self) -> Tuple[Optional[str], str]:
        """(namespace or None, target) of the symlink looked up (with
        FLUX_KVS_READLINK); OSError EINVAL if it is not a symlink."""
        namespace = c_char_p()
        target = c_char_p()
        self._call(lib.flux_kvs_lookup_get_symlink, byref(namespace), byref(target))
        ns = namespace.value
        return (None if ns is None else ns.decode("utf-8", "surrogateescape"),
                (target.value or b"").decode("utf-8", "surrogateescape"))

    def get_dir(self) -> Any:
        """A copy of the directory looked up (with FLUX_KVS_READDIR), owned
        by the caller: a ``flux_kvsdir_t`` pointer."""
        dirp = flux_kvsdir_t()
        self._call(lib.flux_kvs_lookup_get_dir, byref(dirp))
        return lib.flux_kvsdir_copy(dirp)


def _lookup(flux_handle: Flux, key: Any, namespace: Any = None, flags: int = 0,
            cls: Any = KVSLookup) -> Any:
    hptr = _flux_arg(flux_handle)
    ptr = lib.flux_kvs_lookup(
        hptr, _optional_text_arg(namespace, "namespace"), flags, _text_arg(key, "key"))
    future = cls(ptr, flux_handle, fresh=True)
    future.namespace = namespace
    future.key = key
    return future


# --- reading ----------------------------------------------------------------
def get_key_direct(flux_handle: Flux, key: Any, namespace: Any = None) -> Any:
    """The value of ``key`` (OSError EISDIR for a directory)."""
    # The commonest read, made as the C client makes it: no future object,
    # the getter waiting in one piece, the future destroyed at once (so it
    # never counts among a handle's waited futures).  Three C calls,
    # unchecked: their arguments are checked here.
    hptr = _flux_arg(flux_handle)
    ns = None if namespace is None else _text_arg(namespace, "namespace")
    fptr = unchecked.flux_kvs_lookup(hptr, ns, 0, _text_arg(key, "key"))
    err = set_errno(0)
    if not fptr:
        raise failed("flux_kvs_lookup", err)
    try:
        data = c_void_p()
        size = c_size_t()
        _answer(fptr, namespace, key, "flux_kvs_lookup_get_raw", byref(data), byref(size))
        address = data.value  # into the response: copied before the destroy
        raw = None if address is None else ctypes.string_at(address, size.value)
    finally:
        unchecked.flux_future_destroy(fptr)
    return decode_value(raw)


def get_key_raw(flux_handle: Flux, key: Any, namespace: Any = None) -> bytes:
    """The bytes stored at ``key``, exactly (NULs included), undecoded."""
    data = _lookup(flux_handle, key, namespace).get_raw()
    return b"" if data is None else data


def readlink(flux_handle: Flux, key: Any, namespace: Any = None) -> Tuple[Optional[str], str]:
    """Where symlink ``key`` points: (its namespace, or None for the one
    it is in; the target key).  OSError EINVAL if ``key`` is no symlink."""
    future = _lookup(flux_handle, key, namespace, FLUX_KVS_READLINK)  # type: KVSLookup
    return future.get_symlink()


def exists(flux_handle: Flux, key: Any, namespace: Any = None) -> bool:
    """True if ``key`` is a value or a directory in the KVS.

    ``namespace`` None means ``$FLUX_KVS_NAMESPACE``, else the primary one
    (as everywhere in this module)."""
    try:
        _lookup(flux_handle, key, namespace).get_raw()  # no need to decode it
    except OSError as err:
        if err.errno == errno.ENOENT:
            return False
        if err.errno == errno.EISDIR:
            return True
        raise
    return True


def isdir(flux_handle: Flux, key: Any, namespace: Any = None) -> bool:
    """True if ``key`` is a directory (False if it is absent)."""
    try:
        _lookup(flux_handle, key, namespace).get_raw()
    except OSError as err:
        if err.errno == errno.ENOENT:
            return False
        if err.errno == errno.EISDIR:
            return True
        raise
    return False


def get_dir(flux_handle: Flux, key: Any = ".", namespace: Any = None,
            _kvstxn: Any = None) -> "KVSDir":
    """The directory ``key`` (default: the root) as a :class:`KVSDir`."""
    return KVSDir(path=key, flux_handle=flux_handle, namespace=namespace,
                  _kvstxn=_kvstxn)


def get(flux_handle: Flux, key: Any, namespace: Any = None, _kvstxn: Any = None) -> Any:
    """The value at ``key``, decoded (see :func:`decode_value`); a
    directory comes back as a :class:`KVSDir`."""
    try:
        return get_key_direct(flux_handle, key, namespace=namespace)
    except OSError as err:
        if err.errno != errno.EISDIR:
            raise
    return get_dir(flux_handle, key, namespace=namespace, _kvstxn=_kvstxn)


# --- transactions -----------------------------------------------------------
class KVSTxn:
    """A transaction: changes staged in memory, made permanent together by
    :meth:`commit` (also on leaving a ``with`` block).

    Keys are relative to ``path`` (default: the root).  ``namespace`` None
    means ``$FLUX_KVS_NAMESPACE``, else the primary namespace.
    """

    def __init__(self, flux_handle: Optional[Flux] = None, path: Any = ".",
                 namespace: Any = None) -> None:
        self.fhdl = flux_handle
        self.path = path
        self._path = _prefix(path)
        self.namespace = namespace
        self.txn = lib.flux_kvs_txn_create()
        own(self, lib.flux_kvs_txn_destroy, self.txn)

    def commit(self, flags: int = 0) -> None:
        """Commit the staged changes (nothing to do when there are none);
        the transaction is empty afterwards, whether or not it succeeded."""
        if lib.flux_kvs_txn_is_empty(self.txn):
            return
        try:
            commit(self._handle(), flags=flags, namespace=self.namespace, _kvstxn=self)
        finally:
            self.clear()

    def commit_async(self, flags: int = 0) -> KVSCommit:
        """Send the commit; the future's ``get()`` waits for it."""
        future = commit_async(self._handle(), flags=flags, namespace=self.namespace,
                              _kvstxn=self)
        self.clear()
        return future

    def put(self, key: Any, value: Any, raw: bool = False) -> None:
        """Stage ``key`` = ``value`` (JSON; raw bytes with ``raw=True``)."""
        put(self.fhdl, self._key(key), value, _kvstxn=self, raw=raw)

    def mkdir(self, key: Any) -> None:
        put_mkdir(self.fhdl, self._key(key), _kvstxn=self)

    def unlink(self, key: Any) -> None:
        put_unlink(self.fhdl, self._key(key), _kvstxn=self)

    def symlink(self, key: Any, target: Any) -> None:
        put_symlink(self.fhdl, self._key(key), target, _kvstxn=self)

    def clear(self) -> None:
        """Drop the staged changes."""
        lib.flux_kvs_txn_clear(self.txn)

    def is_empty(self) -> bool:
        return bool(lib.flux_kvs_txn_is_empty(self.txn))

    def __enter__(self) -> "KVSTxn":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.commit()

    def _key(self, key: Any) -> Any:
        if isinstance(key, bytes):
            return self._path.encode("utf-8", "surrogateescape") + key
        if not isinstance(key, str):
            raise TypeError("key must be str or bytes, not {}".format(type(key).__name__))
        return self._path + key

    def _handle(self) -> Flux:
        if self.fhdl is None:
            raise ValueError("this KVSTxn was made without a flux_handle, so it can't commit")
        return self.fhdl


def _prefix(path: Any) -> str:
    """``"a.b"`` -> ``"a.b."``; the root (``"."``, ``""``, None) -> ``""``."""
    if isinstance(path, bytes):
        path = path.decode("utf-8", "surrogateescape")
    if not path or path == ".":
        return ""
    if not isinstance(path, str):
        raise TypeError("path must be str or bytes, not {}".format(type(path).__name__))
    return path if path.endswith(".") else path + "."


def _txn_arg(flux_handle: Any, _kvstxn: Any) -> Any:
    """The ``flux_kvs_txn_t`` to stage in: ``_kvstxn`` (a KVSTxn or a
    pointer) or else the handle's own, made when first needed."""
    if _kvstxn is None:
        txn = getattr(flux_handle, "aux_txn", None)
        if txn is None:
            _flux_arg(flux_handle)
            txn = KVSTxn(flux_handle)
            setattr(flux_handle, "aux_txn", txn)
        return txn.txn
    if isinstance(_kvstxn, KVSTxn):
        return _kvstxn.txn
    if isinstance(_kvstxn, flux_kvs_txn_t) and _kvstxn:
        return _kvstxn
    raise TypeError(
        "_kvstxn must be a KVSTxn (or a flux_kvs_txn_t pointer), not {}".format(
            type(_kvstxn).__name__))


def put(flux_handle: Optional[Flux], key: Any, value: Any, _kvstxn: Any = None,
        raw: bool = False) -> None:
    """Stage ``key`` = ``value`` until :func:`commit`.

    The value is stored as JSON; bytes (and anything with ``raw=True``,
    str being UTF-8 encoded) are stored as they are."""
    txn = _txn_arg(flux_handle, _kvstxn)
    ckey = _text_arg(key, "key")
    if raw or isinstance(value, bytes):
        if isinstance(value, str):
            value = value.encode("utf-8", "surrogateescape")
        elif not isinstance(value, (bytes, bytearray)):
            raise RawValueTypeError(
                "value must be bytes or str with raw=True, not {}".format(
                    type(value).__name__))
        data = bytes(value)
        lib.flux_kvs_txn_put_raw(txn, 0, ckey, data, len(data))
        return
    # once per put: unchecked, its arguments being checked above
    rc = unchecked.flux_kvs_txn_put(txn, 0, ckey, _json_value(value))
    err = set_errno(0)
    if rc < 0:
        raise failed("flux_kvs_txn_put", err)


def put_mkdir(flux_handle: Optional[Flux], key: Any, _kvstxn: Any = None) -> None:
    """Stage an empty directory at ``key`` until :func:`commit`."""
    lib.flux_kvs_txn_mkdir(_txn_arg(flux_handle, _kvstxn), 0, _text_arg(key, "key"))


def put_unlink(flux_handle: Optional[Flux], key: Any, _kvstxn: Any = None) -> None:
    """Stage the removal of ``key`` until :func:`commit`."""
    lib.flux_kvs_txn_unlink(_txn_arg(flux_handle, _kvstxn), 0, _text_arg(key, "key"))


def put_symlink(flux_handle: Optional[Flux], key: Any, target: Any, _kvstxn: Any = None,
                namespace: Any = None) -> None:
    """Stage a symlink ``key`` -> ``target`` (a key; in ``namespace``, if
    given) until :func:`commit`."""
    lib.flux_kvs_txn_symlink(
        _txn_arg(flux_handle, _kvstxn), 0, _text_arg(key, "key"),
        _optional_text_arg(namespace, "namespace"), _text_arg(target, "target"))


def _send_commit(flux_handle: Flux, flags: int, namespace: Any, txn: Any) -> Any:
    return lib.flux_kvs_commit(
        _flux_arg(flux_handle), _optional_text_arg(namespace, "namespace"),
        _flags_arg(flags), txn)


def _commit_future(flux_handle: Flux, flags: int, namespace: Any, txn: Any) -> KVSCommit:
    future = KVSCommit(_send_commit(flux_handle, flags, namespace, txn), flux_handle,
                       fresh=True)
    future.namespace = namespace
    return future


def commit(flux_handle: Flux, flags: int = 0, namespace: Any = None,
           _kvstxn: Any = None) -> None:
    """Make the staged changes permanent; OSError if the KVS refuses them.

    ``flags``: FLUX_KVS_NO_MERGE, FLUX_KVS_TXN_COMPACT, FLUX_KVS_SYNC.
    Without ``_kvstxn`` the handle's own transaction is committed, and
    dropped even when the commit fails, so one bad put can't poison every
    later commit.  A given ``_kvstxn`` is left as it is."""
    if _kvstxn is None:
        txn = getattr(flux_handle, "aux_txn", None)
        if txn is None:
            return
        # A bad argument leaves the staged changes; once sent, they go.
        fptr = _send_commit(flux_handle, flags, namespace, txn.txn)
        setattr(flux_handle, "aux_txn", None)
    else:
        fptr = _send_commit(flux_handle, flags, namespace, _txn_arg(flux_handle, _kvstxn))
    try:
        _answer(fptr, namespace, None, "flux_future_get", None)
    finally:
        unchecked.flux_future_destroy(fptr)


def commit_async(flux_handle: Flux, flags: int = 0, namespace: Any = None,
                 _kvstxn: Any = None) -> KVSCommit:
    """:func:`commit`, returning its future at once (``get()`` waits; it
    also has ``get_sequence()`` and ``get_rootref()``)."""
    if _kvstxn is None:
        txn = getattr(flux_handle, "aux_txn", None)
        if txn is None:
            txn = KVSTxn(flux_handle)
        # flux_kvs_commit() encodes the request at once: the transaction
        # can go as soon as it returns (a bad argument leaves it staged)
        future = _commit_future(flux_handle, flags, namespace, txn.txn)
        setattr(flux_handle, "aux_txn", None)
        return future
    return _commit_future(flux_handle, flags, namespace, _txn_arg(flux_handle, _kvstxn))


# --- namespaces -------------------------------------------------------------
def namespace_create(flux_handle: Flux, namespace: Any, owner: int = os.getuid(),
                     flags: int = 0) -> None:
    """Create KVS namespace ``namespace`` owned by user ``owner``."""
    if not isinstance(owner, int) or not 0 <= owner <= 0xFFFFFFFF:
        raise ValueError("owner must be a user id (0 to 2**32-1), not {!r}".format(owner))
    ptr = lib.flux_kvs_namespace_create(
        _flux_arg(flux_handle), _text_arg(namespace, "namespace"), owner, _flags_arg(flags))
    KVSFuture(ptr, flux_handle, fresh=True).get()


def namespace_remove(flux_handle: Flux, namespace: Any) -> None:
    """Remove KVS namespace ``namespace``.  The KVS finishes removing it in
    the background: it may still be listed just after this returns."""
    ptr = lib.flux_kvs_namespace_remove(
        _flux_arg(flux_handle), _text_arg(namespace, "namespace"))
    KVSFuture(ptr, flux_handle, fresh=True).get()


def namespace_list(flux_handle: Flux) -> List[str]:
    """The names of the KVS namespaces."""
    _flux_arg(flux_handle)
    response = RPC(flux_handle, "kvs.namespace-list").get()
    return [entry["namespace"] for entry in response["namespaces"]]


def kvs_checkpoint_lookup(flux_handle: Flux, cache_bypass: bool = False) -> List[Any]:
    """The KVS checkpoints (from the content store, or with
    ``cache_bypass`` from its backing store directly)."""
    _flux_arg(flux_handle)
    topic = "content-backing.checkpoint-get" if cache_bypass else "content.checkpoint-get"
    value = RPC(flux_handle, topic).get()["value"]
    return [value] if isinstance(value, dict) else list(value)


# --- directories ------------------------------------------------------------
_libc_free: Any = None


def _c_string_free(ptr: Any) -> str:
    """The text of a malloc'd C string, which is then freed."""
    global _libc_free
    if _libc_free is None:
        free = ctypes.CDLL(None).free
        free.argtypes = [c_void_p]
        free.restype = None
        _libc_free = free
    try:
        return ctypes.string_at(ptr).decode("utf-8", "surrogateescape")
    finally:
        _libc_free(ctypes.cast(ptr, c_void_p))


class KVSDir(MutableMapping):  # type: ignore[type-arg]
    """A KVS directory as a mutable mapping.

    ``d[key]`` reads (a dotted key reaches into subdirectories; a
    directory comes back as a KVSDir sharing this one's transaction);
    ``d[key] = value`` and ``del d[key]`` are staged until :meth:`commit`
    (or the end of a ``with`` block).  Iterating gives the names in the
    directory as it was read; ``len()`` counts them.

    ``handle`` may be a ``flux_kvsdir_t`` pointer to wrap (it is copied)
    instead of a path to look up.
    """

    def __init__(self, flux_handle: Optional[Flux] = None, path: Any = ".",
                 handle: Any = None, namespace: Any = None, _kvstxn: Any = None) -> None:
        super().__init__()
        if flux_handle is None and handle is None:
            raise ValueError(
                "flux_handle must be a Flux object, or handle a flux_kvsdir_t pointer")
        self.fhdl = flux_handle
        self.path = path
        self._path = _prefix(path)
        self.namespace = namespace
        if handle is not None:
            if not isinstance(handle, flux_kvsdir_t) or not handle:
                raise TypeError("handle must be a non-NULL flux_kvsdir_t pointer")
            dirp = lib.flux_kvsdir_copy(handle)
        else:
            assert flux_handle is not None
            dirp = _lookup(flux_handle, path, namespace, FLUX_KVS_READDIR).get_dir()
        self.handle = dirp
        # flux_kvsdir_t keeps the flux_t pointer: the Flux object must
        # outlive it.
        own(self, lib.flux_kvsdir_destroy, dirp, flux_handle)
        # Subdirectories read through this one share its transaction, whose
        # keys are therefore all written from the root.
        self.kvstxn = _kvstxn if _kvstxn else KVSTxn(flux_handle, ".", namespace=namespace)

    def commit(self, flags: int = 0) -> None:
        """Commit the changes staged through this directory (and the
        subdirectories read through it)."""
        try:
            self.kvstxn.commit(flags=flags)
        finally:
            self.kvstxn.clear()

    def commit_async(self, flags: int = 0) -> KVSCommit:
        future = self.kvstxn.commit_async(flags=flags)
        self.kvstxn.clear()
        return future

    def key_at(self, key: Any) -> str:
        """The full key of ``key`` in this directory."""
        return _c_string_free(lib.flux_kvsdir_key_at(self.handle, _text_arg(key, "key")))

    def exists(self, name: Any) -> bool:
        """True if ``name`` (a dotted path below this directory) exists."""
        return exists(self._flux(), self._path + _str_key(name), namespace=self.namespace)

    def __getitem__(self, key: Any) -> Any:
        try:
            return get(self._flux(), self.key_at(key), namespace=self.namespace,
                       _kvstxn=self.kvstxn)
        except OSError:
            raise KeyError("{} not found under directory {}".format(
                key, self.key_at(""))) from None

    def __setitem__(self, key: Any, value: Any) -> None:
        self.kvstxn.put(self._path + _str_key(key), value)

    def __delitem__(self, key: Any) -> None:
        self.kvstxn.unlink(self._path + _str_key(key))

    def _names(self) -> List[str]:
        itr = lib.flux_kvsitr_create(self.handle)
        names = []  # type: List[str]
        try:
            while True:
                name = lib.flux_kvsitr_next(itr)
                if name is None:
                    return names
                names.append(name.decode("utf-8", "surrogateescape"))
        finally:
            lib.flux_kvsitr_destroy(itr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return int(lib.flux_kvsdir_get_size(self.handle))

    def _isdir(self, name: str) -> bool:
        return bool(lib.flux_kvsdir_isdir(self.handle, _text_arg(name, "name")))

    def issymlink(self, name: Any) -> bool:
        """True if entry ``name`` of this directory is a symlink."""
        return bool(lib.flux_kvsdir_issymlink(self.handle, _text_arg(name, "name")))

    def fill(self, contents: Mapping[str, Any]) -> None:
        """Stage every ``key: value`` of ``contents`` (dotted keys make
        subdirectories; a dict value is one JSON value), then commit."""
        if contents is None:
            raise ValueError("contents must be non-None")
        if not isinstance(contents, collections.abc.Mapping):
            raise TypeError("contents must be a mapping of keys to values, not {}".format(
                type(contents).__name__))
        try:
            for key, val in contents.items():
                self[key] = val
        finally:
            self.commit()

    def mkdir(self, key: str, contents: Optional[Mapping[str, Any]] = None) -> None:
        """Make subdirectory ``key`` (committed at once), then fill it
        with ``contents`` as :meth:`fill` does."""
        self.kvstxn.mkdir(self._path + _str_key(key))
        self.commit()
        if contents is not None:
            KVSDir(self.fhdl, self.key_at(key), namespace=self.namespace).fill(contents)

    def files(self) -> Generator[str, None, None]:
        """The names of the entries that are not directories."""
        for name in self:
            if not self._isdir(name):
                yield name

    def directories(self) -> Generator[str, None, None]:
        """The names of the entries that are directories."""
        for name in self:
            if self._isdir(name):
                yield name

    def list_all(self) -> Tuple[List[str], List[str]]:
        """(files, directories), as lists of names."""
        files, dirs = [], []  # type: List[str], List[str]
        for name in self:
            (dirs if self._isdir(name) else files).append(name)
        return files, dirs

    def __enter__(self) -> "KVSDir":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.commit()

    def _flux(self) -> Flux:
        if self.fhdl is None:
            raise ValueError("this KVSDir was made without a flux_handle")
        return self.fhdl

    def __repr__(self) -> str:
        return "<KVSDir {!r}{}>".format(
            self.key_at("").rstrip(".") or ".",
            "" if self.namespace is None else " in namespace {!r}".format(self.namespace))


def _str_key(key: Any) -> str:
    if isinstance(key, bytes):
        return key.decode("utf-8", "surrogateescape")
    if not isinstance(key, str):
        raise TypeError("key must be str or bytes, not {}".format(type(key).__name__))
    return key


def join(*args: str) -> str:
    """Join key components with dots, skipping empty ones (for walk())."""
    return ".".join(a for a in args if len(a) > 0)


def _inner_walk(kvsdir: KVSDir, curr_dir: str, topdown: bool = False,
                namespace: Any = None) -> Generator[Any, None, None]:
    if topdown:
        yield (curr_dir, kvsdir.directories(), kvsdir.files())
    for directory in kvsdir.directories():
        sub = get_dir(kvsdir._flux(), kvsdir.key_at(directory), namespace=namespace)
        for entry in _inner_walk(sub, join(curr_dir, directory), topdown, namespace):
            yield entry
    if not topdown:
        yield (curr_dir, kvsdir.directories(), kvsdir.files())


def walk(directory: Any, topdown: bool = False, flux_handle: Optional[Flux] = None,
         namespace: Any = None) -> Generator[Any, None, None]:
    """Walk a KVS directory tree as os.walk() does: yields (path relative
    to ``directory``, directory names, file names).  ``directory`` is a
    KVSDir, or a key (then ``flux_handle`` is needed)."""
    if not isinstance(directory, KVSDir):
        if flux_handle is None:
            raise ValueError("If directory is a key, flux_handle must be specified")
        directory = KVSDir(flux_handle, directory, namespace=namespace)
    return _inner_walk(directory, "", topdown, namespace=namespace)


# --- watching ---------------------------------------------------------------
class _WatchBase(_KVSRequest, RPC):
    """A streaming KVS future (one response per change) that is cancelled
    in the service when no longer wanted: by cancel(), or when collected
    while the stream still runs.  An RPC, so that a blocking wait for the
    next change can be interrupted with Ctrl-C."""

    needs_cancel = True
    _extra_ref = None  # type: Any

    def __init__(self, future_handle: Any, flux_handle: Optional[Flux] = None, *,
                 fresh: bool = False) -> None:
        super().__init__(future_handle, flux_handle, fresh=fresh)
        self.needs_cancel = True
        # A C reference of our own, given back by __del__ after it has
        # cancelled: whether weak reference callbacks (which destroy the
        # future) run before or after __del__ varies between Pythons.
        lib.flux_future_incref(self.cptr)
        self._extra_ref = self.handle

    def watch_get(self, future: Any) -> Any:
        raise NotImplementedError

    def watch_cancel(self, future: Any) -> None:
        raise NotImplementedError

    def _next(self) -> Any:
        """The current response's value; OSError when the stream ended
        (ENODATA) or failed.  Either way the stream is over, and nothing
        is left to cancel."""
        self.wait_for()
        try:
            return self.watch_get(self.handle)
        except OSError as exc:
            self.needs_cancel = False
            raise self._error(exc) from None

    def cancel(self, stop: bool = False) -> None:
        """Ask the service to end the stream (it ends with ENODATA, so
        values already sent still arrive first); with ``stop=True`` also
        stop calling the then() callback."""
        if self.needs_cancel:
            _flux_arg(self.flux_handle)  # closed: ValueError, not a dangling handle
            self.watch_cancel(self.handle)
            self.needs_cancel = False
        if stop:
            self.stop()

    def __del__(self) -> None:
        ptr = self._extra_ref
        if ptr is None:  # __init__ did not get that far
            return
        self._extra_ref = None
        try:
            # Still streaming: tell the service, so it stops sending to
            # this handle.  Not once the handle is closed (nothing to tell).
            if self.needs_cancel and isinstance(self.flux_handle.handle, flux_t):
                self.needs_cancel = False
                self.watch_cancel(ptr)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
        try:
            lib.flux_future_decref(ptr)
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


class WatchImplementation(_WatchBase, ABC):
    """Base of the official bindings' watch futures: subclasses define
    ``watch_get(future)`` (the value of the current response, given the
    ``flux_future_t`` pointer) and ``watch_cancel(future)``.  ``get()``
    returns each value in turn, and None once the stream has ended."""

    @abstractmethod
    def watch_get(self, future: Any) -> Any:
        pass

    @abstractmethod
    def watch_cancel(self, future: Any) -> None:
        pass

    def get(self, autoreset: bool = True) -> Any:
        """The next value (blocking until there is one), or None once the
        stream has ended.  The future is reset for the value after it
        unless ``autoreset=False``."""
        try:
            value = self._next()
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                return None
            raise
        if autoreset:
            self.reset()
        return value


def _lookup_value(future: Any) -> Any:
    data = c_void_p()
    size = c_size_t()
    lib.flux_kvs_lookup_get_raw(future, byref(data), byref(size))
    if data.value is None:
        return None
    return decode_value(ctypes.string_at(data.value, size.value))


class KVSWatchFuture(WatchImplementation):
    """What :func:`kvs_watch_async` returns (the official interface).

    Its ``get()`` resets the future itself, so it is not for
    ``flux_ctypes.aio.stream()`` (which resets after each value): under
    asyncio, iterate a :class:`KVSWatch` from :func:`watch` instead."""

    def watch_get(self, future: Any) -> Any:
        return _lookup_value(future)

    def watch_cancel(self, future: Any) -> None:
        lib.flux_kvs_lookup_cancel(future)


def _watch_flags(waitcreate: bool, uniq: bool, full: bool) -> int:
    flags = FLUX_KVS_WATCH
    if waitcreate:
        flags |= FLUX_KVS_WAITCREATE
    if uniq:
        flags |= FLUX_KVS_WATCH_UNIQ
    if full:
        flags |= FLUX_KVS_WATCH_FULL
    return flags


def kvs_watch_async(flux_handle: Flux, key: Any, namespace: Any = None,
                    waitcreate: bool = False, uniq: bool = False,
                    full: bool = False) -> KVSWatchFuture:
    """Watch ``key``: the future is fulfilled with its value now and again
    at each commit that touches it, until cancelled.

    ``waitcreate``: wait for a missing key to appear instead of failing
    with ENOENT; ``uniq``: only values that differ from the last one;
    ``full``: also changes that replace a parent directory."""
    future = _lookup(flux_handle, key, namespace, _watch_flags(waitcreate, uniq, full),
                     KVSWatchFuture)  # type: KVSWatchFuture
    return future


class KVSWatch(_WatchBase):
    """A watch as a plain streaming future (see :func:`watch`): ``get()``
    returns the current value and raises ``OSError(ENODATA)`` once the
    watch has ended; ``reset()`` waits for the next.  Iterating it does
    both, ending cleanly at ENODATA; ``flux_ctypes.aio.stream(w)`` does
    the same under asyncio."""

    def watch_get(self, future: Any) -> Any:
        return _lookup_value(future)

    def watch_cancel(self, future: Any) -> None:
        lib.flux_kvs_lookup_cancel(future)

    def get(self) -> Any:
        return self._next()

    def __iter__(self) -> "KVSWatch":
        return self

    def __next__(self) -> Any:
        try:
            value = self._next()
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                raise StopIteration from None
            raise
        self.reset()
        return value



def watch(flux_handle: Flux, key: Any, namespace: Any = None, waitcreate: bool = False,
          uniq: bool = False, full: bool = False) -> KVSWatch:
    """Watch ``key`` (options as for :func:`kvs_watch_async`); the first
    value is the current one.  ``cancel()`` ends the iteration after the
    values already on their way."""
    future = _lookup(flux_handle, key, namespace, _watch_flags(waitcreate, uniq, full),
                     KVSWatch)  # type: KVSWatch
    return future
