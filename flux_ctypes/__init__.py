"""flux_ctypes: a pure-Python (ctypes) binding to libflux-core.

Nothing to compile: the library is found and loaded when first needed (see
:mod:`flux_ctypes.lib`), so ``import flux_ctypes`` works on any Python even
where flux-core is absent.  The API follows the official bindings'
``flux.core.handle.Flux``; ``import flux_ctypes as flux`` reads the same.
"""

from flux_ctypes import constants
from flux_ctypes.future import Future, FutureExt, WaitAllFuture
from flux_ctypes.handle import Flux
from flux_ctypes.lib import (
    ClosedError,
    FluxCoreNotFound,
    InvalidArguments,
    MissingFunctionError,
    load_library,
    version,
    version_tuple,
)
from flux_ctypes.message import Message, MessageWatcher
from flux_ctypes.rpc import RPC

__version__ = "0.1.0"

__all__ = [
    "Flux",
    "Message",
    "MessageWatcher",
    "Future",
    "FutureExt",
    "WaitAllFuture",
    "RPC",
    "ClosedError",
    "FluxCoreNotFound",
    "InvalidArguments",
    "MissingFunctionError",
    "constants",
    "load_library",
    "version",
    "version_tuple",
]
