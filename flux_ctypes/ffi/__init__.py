"""The floor everything else stands on: the C types (:mod:`.types`), one
declaration table per flux-core library or header family (:mod:`.tables`)
and the records the tables are written in (:mod:`.record`).
Loading, binding and object lifetime live in :mod:`flux_ctypes.lib`.
Nothing here touches a library."""
