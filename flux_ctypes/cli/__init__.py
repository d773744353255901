"""The part of the official ``flux.cli`` package that job submission from
Python needs: CLI plugins (:mod:`flux_ctypes.cli.plugin`), which
``JobspecV1.apply_options(prog=...)`` and the ``from_submit`` family run."""
