"""The data that ships with the package: environment variants (the repository's
``envs/``), training recipes (``agents/``) and trained policies (``checkpoints/``).

They live at the top of the repository, where users find them, and the wheel carries
them as the packages ``mazepolicy.resources.envs``, ``.agents`` and ``.checkpoints``
(pyproject's package-dir mapping); code reads them through ``importlib.resources``, so
an editable install and an installed wheel see the same files.

Example:
    >>> "maze-anywhere.toml" in {p.name for p in variant_files()}
    True
    >>> checkpoint_path("maze-topright-5-easy_impala-s1").name
    'maze-topright-5-easy_impala-s1.safetensors'
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def _files(kind: str, suffix: str) -> list[Traversable]:
    root = resources.files(f"mazepolicy.resources.{kind}")
    return sorted((p for p in root.iterdir() if p.name.endswith(suffix)), key=lambda p: p.name)


def variant_files() -> list[Traversable]:
    """The shipped environment variant files (``*.toml``), by name."""
    return _files("envs", ".toml")


def recipe_files() -> list[Traversable]:
    """The shipped training recipe files (``*.toml``), by name."""
    return _files("agents", ".toml")


def checkpoint_files() -> list[Traversable]:
    """The shipped policy weights (``*.safetensors``, each with its ``.json`` card)."""
    return _files("checkpoints", ".safetensors")


def shipped_checkpoints() -> list[str]:
    """Names of the shipped checkpoints (their file names without ``.safetensors``)."""
    return [p.name.removesuffix(".safetensors") for p in checkpoint_files()]


def checkpoint_path(name: str) -> Path:
    """The file path of the shipped checkpoint ``name`` (without ``.safetensors``);
    ``ValueError`` naming the shipped ones if there is none of that name."""
    for path in checkpoint_files():
        if path.name == f"{name}.safetensors":
            return Path(str(path))
    raise ValueError(f"no shipped checkpoint {name!r}; shipped: {shipped_checkpoints()}")
