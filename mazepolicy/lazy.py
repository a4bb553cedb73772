"""Package exports imported on first use (PEP 562), so that importing a light part of a
package does not import its heavy parts (procgen, torch).

Example:
    >>> getattr_, dir_ = lazy_exports("mazepolicy.envs", {"cells": ("Cell",)}, {})
    >>> getattr_("Cell") == tuple[int, int]
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]],
                 namespace: dict) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``exports`` (submodule ->
    names) is imported from its submodule when first read, then kept in ``namespace``
    (the package's ``globals()``)."""
    source = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in source:
            value = getattr(importlib.import_module(f"{package}.{source[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(source))

    return __getattr__, __dir__
