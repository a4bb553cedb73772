"""Training recipes: TOML files in ``agents/`` holding one config's fields; the
``algorithm`` key (default ``ppo``) names the trainer and its config class.

Example:
    >>> type(load_recipe("dagger-tiny")).__name__, type(load_recipe("ppo-tiny")).__name__
    ('DaggerConfig', 'PPOConfig')
    >>> {"dagger-impala", "ppo-impala"} <= set(list_recipes())
    True
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mazepolicy.resources import recipe_files
from mazepolicy.train.dagger.config import DaggerConfig
from mazepolicy.train.ppo.config import PPOConfig

CONFIGS = {"ppo": PPOConfig, "dagger": DaggerConfig}


def list_recipes() -> list[str]:
    """Names of the shipped recipes (the repository's ``agents/``)."""
    return list(recipe_files())


def load_recipe(name_or_path: str | Path):
    """The config of the shipped recipe called ``name_or_path``, or of the TOML file at
    that path (a value ending in ``.toml``)."""
    if str(name_or_path).endswith(".toml"):
        path = Path(name_or_path)
    else:
        files = recipe_files()
        if name_or_path not in files:
            raise ValueError(f"unknown recipe {str(name_or_path)!r}; available: {sorted(files)}")
        path = files[name_or_path]
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read recipe {path}: {err}") from None
    algorithm = data.get("algorithm", "ppo")
    if algorithm not in CONFIGS:
        raise ValueError(f"{path}: unknown algorithm {algorithm!r}; choose from {sorted(CONFIGS)}")
    return CONFIGS[algorithm].from_dict(data, str(path))
