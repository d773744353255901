"""The floor everything else stands on: the C types (:mod:`.types`) and one
declaration table per flux-core library or header family (:mod:`.tables`).
Loading, binding and object lifetime live in :mod:`flux_ctypes.lib`.
Nothing here touches a library."""
