"""``MazeSB3VecEnv``: a :class:`MazeVecEnv` behind Stable-Baselines3's ``VecEnv`` API.

SB3 semantics: ``reset()`` returns observations only (infos in ``reset_infos``);
``step_wait()`` returns ``(obs, rewards, dones, infos)`` with one info dict per env.
Every info holds the running episode's ``level_seed``, ``maze_dim``, ``cheese_cell``,
``mouse_cell`` (cells as (x, y) tuples in inner-maze coordinates, (0, 0) the
bottom-left start) and ``episode_step`` (and ``placement_skipped``, a str, while a maze
runs that its cheese placement could not apply to). An env whose episode ended is already reset;
its info also carries ``TimeLimit.truncated`` (True for the 500-step timeout, False when
the cheese was reached), the outcome keys (``reached_cheese``, ``reached_top_right``,
``timed_out``, ``episode_return``, ``episode_length``, ``top_right_step``,
``episode_level_seed``, ``episode_cheese_cell``, ``episode_maze_dim``) and
``episode`` = {"r": return, "l": length} as SB3's ``Monitor`` writes them, so SB3's
logger reports ``ep_rew_mean`` and ``ep_len_mean`` without ``VecMonitor``. (Wrapping in
``VecMonitor`` also works: it overwrites ``episode`` with the same r and l.)

``terminal_observation`` holds the finished episode's final frame (64, 64, 3), the
frame the engine would have shown had the episode gone on (see
:class:`~mazepolicy.envs.MazeVecEnv`), so SB3's PPO bootstraps timeouts
(``TimeLimit.truncated``) from the right maze.

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

from mazepolicy.extras import require

require("torch", "mazepolicy.envs.sb3 (the Stable-Baselines3 VecEnv)")

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from mazepolicy.envs.variants import load_variant
from mazepolicy.envs.vec_env import OUTCOME_KEYS, RUNNING_KEYS, MazeVecEnv


class MazeSB3VecEnv(VecEnv):
    """Stable-Baselines3 view of a :class:`MazeVecEnv` (same constructor arguments).

    ``seed`` (constructor or :meth:`seed`) applies to the next ``reset()``, which then
    restarts the engine's level sequence; later resets move on to new mazes.
    """

    def __init__(self, num_envs: int = 8, **kwargs):
        self._attach(MazeVecEnv(num_envs=num_envs, **kwargs), kwargs.get("seed"))

    @classmethod
    def from_variant(
        cls, variant: str | Path, num_envs: int = 8, seed: int | None = None, **overrides
    ) -> MazeSB3VecEnv:
        """The adapter over ``load_variant(variant).make_vec(num_envs, seed, **overrides)``.

        Example:
            >>> venv = MazeSB3VecEnv.from_variant("maze-topright-5", num_envs=2, seed=0)
            >>> venv.get_attr("distribution_mode")
            ['hard', 'hard']
        """
        self = cls.__new__(cls)
        self._attach(load_variant(variant).make_vec(num_envs, seed=seed, **overrides), seed)
        return self

    def _attach(self, env: MazeVecEnv, seed: int | None) -> None:
        if env.autoreset_mode != AutoresetMode.SAME_STEP:
            env.close()
            raise ValueError("MazeSB3VecEnv autoresets in SB3's way (SAME_STEP, the final "
                             "frame in terminal_observation); autoreset_mode cannot change")
        self.env = env
        self._seed = seed
        self._actions: np.ndarray | None = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    def reset(self) -> np.ndarray:
        """New episodes in all envs; observations (N, 64, 64, 3), infos in ``reset_infos``."""
        obs, info = self.env.reset(seed=self._seed)
        self._seed = None  # a seed applies to one reset, as in SB3's VecEnv.seed()
        self.reset_infos = self._running_infos(info)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("call step_async() before step_wait()")
        actions, self._actions = self._actions, None
        obs, reward, terminated, truncated, info = self.env.step(actions)
        dones = terminated | truncated
        infos = self._running_infos(info)
        for i in np.flatnonzero(dones):
            item = infos[i]
            item.update({key: _item(info[key][i]) for key in OUTCOME_KEYS})
            item["terminal_observation"] = info["final_obs"][i]
            # SB3's Monitor convention (its logger reads it); the vector env itself has
            # no "episode" key, which gymnasium reserves for RecordEpisodeStatistics
            item["episode"] = {"r": float(info["episode_return"][i]),
                               "l": int(info["episode_length"][i])}
            item["TimeLimit.truncated"] = bool(truncated[i])
        return obs, reward, dones, infos

    def _running_infos(self, info: dict) -> list[dict]:
        columns = {key: info[key].tolist() for key in RUNNING_KEYS}
        infos = [
            {key: tuple(col[i]) if isinstance(col[i], list) else col[i]
             for key, col in columns.items()}
            for i in range(self.num_envs)
        ]
        if "placement_skipped" in info:  # mazes left without cheese, and why
            for i in np.flatnonzero(info["_placement_skipped"]):
                infos[i]["placement_skipped"] = str(info["placement_skipped"][i])
        return infos

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the next ``reset()``'s level sequence (one engine seed for all envs)."""
        self._seed = None if seed is None else int(seed)
        return [self._seed] * self.num_envs

    def close(self) -> None:
        self.env.close()

    def get_images(self) -> Sequence[np.ndarray]:
        """Per env: the engine's 512x512 frame with ``render_mode="rgb_array"``, else the
        64x64 observation."""
        if self.env.render_mode == "rgb_array":
            return list(self.env.render())
        return list(self.env.observe())

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list:
        """The :class:`MazeVecEnv` attribute, once per requested env (it is shared)."""
        return [getattr(self.env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value, indices: VecEnvIndices = None) -> None:
        """Set a :class:`MazeVecEnv` attribute; it is shared, so only for all envs at once."""
        if sorted(self._get_indices(indices)) != list(range(self.num_envs)):
            raise ValueError(f"{attr_name!r} is shared by all envs; set it with indices=None")
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None,
                   **method_kwargs) -> list:
        """Call a per-env :class:`MazeVecEnv` method (first argument: the env index), e.g.
        ``env_method("set_cheese", (2, 4), indices=[0])``; returns one result per env."""
        method = getattr(self.env, method_name)
        return [method(i, *method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices: VecEnvIndices = None) -> list[bool]:
        """Always False: the mazes are not gymnasium envs, so nothing wraps them."""
        return [False] * len(self._get_indices(indices))


def _item(value):
    """numpy scalar -> Python scalar, (2,) array -> tuple."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else tuple(value.tolist())
