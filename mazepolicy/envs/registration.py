"""Gymnasium ids: ``mazepolicy/Maze-v0`` and ``mazepolicy/<variant>-v0`` for each variant.

Registered on ``import mazepolicy.envs``. ``gymnasium.make_vec`` builds the native
:class:`~mazepolicy.envs.MazeVecEnv` (all mazes stepped in C++ threads).

Example:
    >>> import gymnasium as gym
    >>> import mazepolicy.envs
    >>> env = gym.make_vec("mazepolicy/maze-anywhere-v0", num_envs=3)
    >>> type(env).__name__, env.num_envs
    ('MazeVecEnv', 3)
"""

from __future__ import annotations

import gymnasium as gym

from mazepolicy.envs.variants import list_variants

NAMESPACE = "mazepolicy"


def register_envs() -> None:
    """Register the generic maze id and one id per variant (idempotent)."""
    ids = {f"{NAMESPACE}/Maze-v0": {}}
    ids.update({f"{NAMESPACE}/{name}-v0": {"variant": name} for name in list_variants()})
    for env_id, kwargs in ids.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="mazepolicy.envs.single:MazeEnv",
            vector_entry_point="mazepolicy.envs.single:make_vector",
            kwargs=kwargs,
        )
