"""Gymnasium ids: ``mazepolicy/Maze-v0`` and ``mazepolicy/<variant>-v0`` for each variant.

Registered on ``import mazepolicy.envs``. ``gymnasium.make`` builds the single-env
:class:`~mazepolicy.envs.single.MazeEnv`; ``gymnasium.make_vec`` builds the native
:class:`~mazepolicy.envs.MazeVecEnv` (all mazes stepped in C++ threads). Keyword
arguments of both go to :class:`MazeVecEnv` and override the variant's settings.

Example:
    >>> import gymnasium as gym
    >>> import mazepolicy.envs
    >>> env = gym.make_vec("mazepolicy/maze-anywhere-v0", num_envs=3)
    >>> type(env).__name__, env.num_envs
    ('MazeVecEnv', 3)
"""

from __future__ import annotations

import re
import warnings

import gymnasium as gym

from mazepolicy.envs.variants import list_variants

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
    for name in list_variants():
        if _VALID_NAME.fullmatch(name):
            ids[variant_env_id(name)] = {"variant": name}
        else:
            warnings.warn(f"env variant {name!r}: name not usable in a gymnasium id; skipped",
                          stacklevel=2)
    for env_id, kwargs in ids.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="mazepolicy.envs.single:MazeEnv",
            vector_entry_point="mazepolicy.envs.single:make_vector",
            kwargs=kwargs,
        )
    return list(ids)
