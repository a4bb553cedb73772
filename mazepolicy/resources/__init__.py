"""The data that ships with the package: environment variants (the repository's
``envs/``), training recipes (``agents/``) and trained policies (``checkpoints/``).

They live at the top of the repository, where users find them, and the wheel carries
them as the packages ``mazepolicy.resources.envs``, ``.agents`` and ``.checkpoints``
(pyproject's package-dir mapping); code reads them through ``importlib.resources``, so
an editable install and an installed wheel see the same files.

Example:
    >>> variant_files()["maze-anywhere"].name
    'maze-anywhere.toml'
    >>> checkpoint_path("maze-topright-5-easy_impala-s1").name
    'maze-topright-5-easy_impala-s1.safetensors'
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def _files(kind: str, suffix: str) -> dict[str, Traversable]:
    """name (the file name without ``suffix``) -> file, sorted by name."""
    root = resources.files(f"mazepolicy.resources.{kind}")
    files = {p.name.removesuffix(suffix): p for p in root.iterdir() if p.name.endswith(suffix)}
    return dict(sorted(files.items()))


def variant_files() -> dict[str, Traversable]:
    """The shipped environment variant files (``*.toml``) by variant name."""
    return _files("envs", ".toml")


def recipe_files() -> dict[str, Traversable]:
    """The shipped training recipe files (``*.toml``) by recipe name."""
    return _files("agents", ".toml")


def checkpoint_files() -> dict[str, Traversable]:
    """The shipped policy weights (``*.safetensors``, each with its ``.json`` card) by
    checkpoint name."""
    return _files("checkpoints", ".safetensors")


def shipped_checkpoints() -> list[str]:
    """Names of the shipped checkpoints (their file names without ``.safetensors``)."""
    return list(checkpoint_files())


def checkpoint_path(name: str) -> Path:
    """The file path of the shipped checkpoint ``name`` (without ``.safetensors``);
    ``ValueError`` naming the shipped ones if there is none of that name."""
    files = checkpoint_files()
    if name not in files:
        raise ValueError(f"no shipped checkpoint {name!r}; shipped: {list(files)}")
    return Path(str(files[name]))
