"""Gymnasium ids: ``mazepolicy/Maze-v0`` and ``mazepolicy/<variant>-v0`` for each variant.

Registered on ``import mazepolicy`` (so ``gymnasium.make("mazepolicy/...")`` works right
after it), without importing procgen: the entry points are ``"module:attr"`` strings
that gymnasium imports at ``make`` time, and the variant names come from the shipped
files (:func:`mazepolicy.resources.variant_files`). ``gymnasium.make`` builds the single-env
:class:`~mazepolicy.envs.single.MazeEnv`; ``gymnasium.make_vec`` builds the native
:class:`~mazepolicy.envs.MazeVecEnv` (all mazes stepped in C++ threads). Keyword
arguments of both go to :class:`MazeVecEnv` and override the variant's settings.

Example:
    >>> import gymnasium as gym
    >>> import mazepolicy
    >>> env = gym.make_vec("mazepolicy/maze-anywhere-v0", num_envs=3)
    >>> type(env).__name__, env.num_envs
    ('MazeVecEnv', 3)
"""

from __future__ import annotations

import re
import warnings

from gymnasium.envs.registration import register, registry

from mazepolicy.resources import variant_files

NAMESPACE = "mazepolicy"
_VALID_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")


def variant_env_id(name: str) -> str:
    """The gymnasium id of variant ``name``.

    Example:
        >>> variant_env_id("maze-topright-5")
        'mazepolicy/maze-topright-5-v0'
    """
    return f"{NAMESPACE}/{name}-v0"


def register_envs() -> list[str]:
    """Register the generic maze id and one id per variant; returns all ids (idempotent).

    A variant file whose name cannot be part of an id is skipped with a warning.

    Example:
        >>> ids = register_envs()
        >>> ids[0], "mazepolicy/maze-topright-5-v0" in ids
        ('mazepolicy/Maze-v0', True)
    """
    ids = {f"{NAMESPACE}/Maze-v0": {}}
    names = list(variant_files())
    for name in names:
        if _VALID_NAME.fullmatch(name):
            ids[variant_env_id(name)] = {"variant": name}
        else:
            warnings.warn(f"env variant {name!r}: name not usable in a gymnasium id; skipped",
                          stacklevel=2)
    for env_id, kwargs in ids.items():
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point="mazepolicy.envs.single:MazeEnv",
            vector_entry_point="mazepolicy.envs.single:make_vector",
            kwargs=kwargs,
        )
    return list(ids)
