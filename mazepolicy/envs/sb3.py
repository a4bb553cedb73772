"""``MazeSB3VecEnv``: a :class:`MazeVecEnv` behind Stable-Baselines3's ``VecEnv`` API.

SB3 semantics: ``reset()`` returns observations only (infos in ``reset_infos``);
``step_wait()`` returns ``(obs, rewards, dones, infos)`` with one info dict per env; an
env whose episode ended is already reset, its info carrying ``episode`` ({"r", "l"},
as ``VecMonitor`` would write), ``TimeLimit.truncated`` (True for the 500-step timeout)
and the outcome keys (``reached_cheese``, ``reached_top_right``, ...).

``terminal_observation`` is left out: procgen generates the next maze inside the step
that ends an episode and never renders the final frame. SB3's PPO bootstraps a
truncated episode only when that key is present, so timeouts count as terminal, as in
Procgen's own PPO baselines.

Example:
    >>> from stable_baselines3.common.vec_env import VecTransposeImage
    >>> from mazepolicy.envs import TopRightRegion
    >>> venv = MazeSB3VecEnv(num_envs=2, cheese=TopRightRegion(5), seed=0)
    >>> venv.reset().shape
    (2, 64, 64, 3)
    >>> VecTransposeImage(venv).reset().shape  # channels first, for SB3's CnnPolicy
    (2, 3, 64, 64)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from mazepolicy.envs.vec_env import OUTCOME_KEYS, RUNNING_KEYS, MazeVecEnv


class MazeSB3VecEnv(VecEnv):
    """Stable-Baselines3 view of a :class:`MazeVecEnv` (same constructor arguments)."""

    def __init__(self, num_envs: int = 8, **kwargs):
        self.env = MazeVecEnv(num_envs=num_envs, **kwargs)
        super().__init__(num_envs, self.env.single_observation_space,
                         self.env.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = kwargs.get("seed")

    def reset(self) -> np.ndarray:
        obs, info = self.env.reset(seed=self._seed)
        self._seed = None  # seed only the first reset, as SB3's VecEnv.seed() does
        self.reset_infos = [self._running(info, i) for i in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        dones = terminated | truncated
        infos = []
        for i in range(self.num_envs):
            item = self._running(info, i)
            if dones[i]:
                item.update({key: _item(info[key][i]) for key in OUTCOME_KEYS})
                item["episode"] = {"r": float(info["episode"]["r"][i]),
                                   "l": int(info["episode"]["l"][i])}
                item["TimeLimit.truncated"] = bool(truncated[i])
            infos.append(item)
        return obs, reward, dones, infos

    @staticmethod
    def _running(info: dict, i: int) -> dict:
        return {key: _item(info[key][i]) for key in RUNNING_KEYS}

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [seed] * self.num_envs

    def close(self) -> None:
        self.env.close()

    def get_images(self) -> Sequence[np.ndarray]:
        return list(self.env.observe())

    def get_attr(self, attr_name: str, indices=None) -> list:
        return [getattr(self.env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        """Call a :class:`MazeVecEnv` method per env index, e.g. ``set_cheese``."""
        method = getattr(self.env, method_name)
        return [method(i, *method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))


def _item(value):
    """numpy scalar -> Python scalar, (2,) array -> tuple."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else tuple(value.tolist())
