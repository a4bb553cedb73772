"""``MazeEnv``: one maze as a ``gymnasium.Env``, registered as ``mazepolicy/Maze-v0``.

It drives a one-env :class:`~mazepolicy.envs.MazeVecEnv`, so cheese placement, editing
and outcome info work the same. Procgen starts the next maze inside the step that ends
an episode and never renders the final frame: the observation returned with
``terminated`` or ``truncated`` is the next maze's first frame (as in procgen's own gym
env). The following ``reset()`` (without a seed) returns that same frame and maze, so no
maze is skipped; ``reset(seed=s)`` restarts the level sequence from seed ``s``.

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> import gymnasium as gym
    >>> import mazepolicy.envs  # registers the ids
    >>> env = gym.make("mazepolicy/maze-topright-5-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["cheese_cell"].shape
    ((64, 64, 3), (2,))
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from mazepolicy.envs.cheese import CheesePlacement
from mazepolicy.envs.variants import load_variant
from mazepolicy.envs.vec_env import RUNNING_KEYS, MazeVecEnv


def _first(info: dict) -> dict:
    """Per-env info of a one-env MazeVecEnv -> scalars/(2,) arrays; masked keys kept only
    where set."""
    out = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[0]:
            continue
        out[key] = _first(value) if isinstance(value, dict) else value[0]
    return out


class MazeEnv(gym.Env):
    """A single Procgen maze with controllable cheese.

    Args:
        variant: name of an ``envs/`` variant supplying the defaults below.
        cheese: a placement callable (overrides the variant's).
        distribution_mode: "easy" or "hard" (overrides the variant's).
        render_mode: None or "rgb_array" (the engine's 512x512 frames).
        **kwargs: passed to :class:`MazeVecEnv` (num_threads, level_seeds, ...).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        variant: str | None = None,
        cheese: CheesePlacement | None = None,
        distribution_mode: str | None = None,
        render_mode: str | None = None,
        **kwargs,
    ):
        settings: dict = {}
        if variant is not None:
            v = load_variant(variant)
            settings = dict(
                cheese=v.placement(),
                distribution_mode=v.distribution_mode,
                num_levels=v.num_levels,
                start_level=v.start_level,
            )
        if cheese is not None:
            settings["cheese"] = cheese
        if distribution_mode is not None:
            settings["distribution_mode"] = distribution_mode
        settings.update(kwargs)
        self.render_mode = render_mode
        self.vec = MazeVecEnv(num_envs=1, render_mode=render_mode, num_threads=0, **settings)
        self.observation_space = self.vec.single_observation_space
        self.action_space = self.vec.single_action_space
        self._pending: tuple[np.ndarray, dict] | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None and self._pending is not None:
            obs, info = self._pending
        else:
            obs, info = self.vec.reset(seed=seed)
        self._pending = None
        return obs[0], _first(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.vec.step(np.array([action]))
        if terminated[0] or truncated[0]:
            self._pending = obs, {key: info[key] for key in RUNNING_KEYS}
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), _first(info)

    def render(self):
        return self.vec.render()[0] if self.render_mode == "rgb_array" else None

    def close(self):
        self.vec.close()


def make_vector(num_envs: int = 1, variant: str | None = None, **kwargs) -> MazeVecEnv:
    """Vector entry point for ``gymnasium.make_vec``: the native :class:`MazeVecEnv`."""
    if variant is not None:
        return load_variant(variant).make_vec(num_envs, **kwargs)
    return MazeVecEnv(num_envs=num_envs, **kwargs)
