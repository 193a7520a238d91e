"""Names that moved to another module stay importable from their old one.

When a module is split, the names it gave away are looked up in their new module
the first time they are asked for (a module-level ``__getattr__``, PEP 562), so that
``from lfpk_hpc.store import read_kernels_file`` keeps working without the old module
importing the new one at its top (the new one usually imports the old one).
"""

from __future__ import annotations

import importlib


def forward(module: str, moved: dict[str, str]):
    """The ``__getattr__`` of ``module`` that finds ``moved``'s names in their new
    modules (name → module name within the package, e.g. ``"kernelsfile"``)."""
    package = module.rpartition(".")[0]

    def __getattr__(name: str):
        home = moved.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
