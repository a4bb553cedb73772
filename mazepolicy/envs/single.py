"""``MazeEnv``: one maze as a ``gymnasium.Env``, registered as ``mazepolicy/Maze-v0``.

It drives a one-env :class:`~mazepolicy.envs.MazeVecEnv`, so cheese placement, editing
(through ``env.vec``) and outcome info work the same. ``terminated`` means the mouse
reached the cheese (reward 10); ``truncated`` means the 500-step timeout.

Episode ends follow gymnasium's contract: the step that returns ``terminated`` or
``truncated`` returns that episode's final frame (the mouse on its last cell; on the
cheese's cell, drawn over the cheese, when it reached it), rendered from the finished
episode's final state (see :class:`~mazepolicy.envs.MazeVecEnv`), and its ``info``
describes the finished episode (``reached_cheese``, ``episode_level_seed``, ...). The
engine has already started the next maze in that step; the following ``reset()``
without a seed returns that maze's first frame, so no maze is skipped and the seeds
are those procgen plays; ``reset(seed=s)`` restarts the level sequence from seed ``s``
(same seed, same mazes and cheese).

Cells are (x, y) in inner-maze coordinates: x right, y up, (0, 0) the mouse's start
(bottom-left), (n-1, n-1) the top-right corner.

Example:
    >>> import gymnasium as gym
    >>> import mazepolicy.envs  # registers the ids
    >>> env = gym.make("mazepolicy/maze-topright-5-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["cheese_cell"].shape, info["mouse_cell"].tolist()
    ((64, 64, 3), (2,), [0, 0])
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from mazepolicy.envs.cheese import placement_from_spec
from mazepolicy.envs.variants import load_variant
from mazepolicy.envs.vec_env import RUNNING_KEYS, MazeVecEnv


def _vec_kwargs(variant: str | Path | None, kwargs: dict) -> dict:
    """MazeVecEnv kwargs: the variant's settings updated by ``kwargs`` (cheese specs resolved)."""
    if variant is not None:
        return load_variant(variant).env_kwargs(**kwargs)
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("cheese"), str | dict):
        kwargs["cheese"] = placement_from_spec(kwargs["cheese"])
    return kwargs


def _first(info: dict) -> dict:
    """Info of a one-env MazeVecEnv -> Python scalars and (2,) arrays; outcome keys
    (masked by ``_key``) kept only when set."""
    out = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[0]:
            continue
        if isinstance(value, dict):
            out[key] = _first(value)
        else:
            item = value[0]
            out[key] = item.item() if isinstance(item, np.generic) else item
    return out


class MazeEnv(gym.Env):
    """A single Procgen maze with controllable cheese.

    Args:
        variant: name of an ``envs/`` variant (or a TOML path) supplying the defaults;
            None: :class:`MazeVecEnv`'s defaults (hard, the engine's own cheese).
        render_mode: None or "rgb_array" (the engine's 512x512 frames).
        **kwargs: passed to :class:`MazeVecEnv`, overriding the variant: ``cheese`` (a
            placement or a spec such as "top-right-5", "anywhere", {"fixed": [x, y]}),
            ``distribution_mode``, ``seed``, ``num_levels``, ``start_level``,
            ``level_seeds``, ``max_episode_steps``, ``num_threads`` (default 0: step in
            the calling thread).

    ``info`` holds the keys of :class:`MazeVecEnv`'s info for this one env: ``level_seed``,
    ``maze_dim``, ``cheese_cell`` ((2,) array, (-1, -1) without cheese), ``mouse_cell``,
    ``episode_step``, at an episode end the outcome keys (``episode_return``,
    ``episode_length``, ...; no ``episode`` key, which gymnasium's
    ``RecordEpisodeStatistics`` adds itself), and ``placement_skipped`` (a str) while a
    maze runs whose cheese placement could not apply.

    Example:
        >>> env = MazeEnv("maze-anywhere", seed=1)
        >>> obs, info = env.reset()
        >>> obs, reward, terminated, truncated, info = env.step(4)  # no-op
        >>> reward, terminated, truncated, info["episode_step"]
        (0.0, False, False, 1)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self, variant: str | Path | None = None, render_mode: str | None = None, **kwargs
    ):
        if "num_envs" in kwargs:
            raise TypeError("MazeEnv is a single env; use gymnasium.make_vec or MazeVecEnv")
        if "autoreset_mode" in kwargs:
            raise TypeError("MazeEnv does not autoreset (call reset() after an episode "
                            "ends); autoreset_mode is MazeVecEnv's option")
        settings = _vec_kwargs(variant, kwargs)
        settings.setdefault("num_threads", 0)
        self.render_mode = render_mode
        self.vec = MazeVecEnv(num_envs=1, render_mode=render_mode, **settings)
        self.observation_space = self.vec.single_observation_space
        self.action_space = self.vec.single_action_space
        self._pending: tuple[np.ndarray, dict] | None = None  # next episode's start
        self._has_reset = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; after an episode end (and no seed) it is the one already begun."""
        if options:
            raise ValueError(f"MazeEnv.reset takes no options, got {sorted(options)}")
        super().reset(seed=seed)
        if seed is None and self._pending is not None:
            obs, info = self._pending
        else:
            obs, info = self.vec.reset(seed=seed)
        self._pending = None
        self._has_reset = True
        return obs[0], _first(info)

    def step(self, action):
        """One step; at an episode end the returned frame is that episode's final one."""
        if isinstance(action, bool | np.bool_) or not self.action_space.contains(action):
            raise ValueError(f"action must be an int in 0..{self.action_space.n - 1}, "
                             f"got {action!r}")
        obs, reward, terminated, truncated, info = self.vec.step(np.array([action]))
        self._pending = None  # stepping on without reset() plays the maze already begun
        frame = obs[0]
        if terminated[0] or truncated[0]:
            self._pending = obs, {key: info[key] for key in RUNNING_KEYS}
            frame, info = info["final_obs"][0], info["final_info"]
        return frame, float(reward[0]), bool(terminated[0]), bool(truncated[0]), _first(info)

    def render(self) -> np.ndarray | None:
        """The engine's 512x512 frame with ``render_mode="rgb_array"``, else None."""
        if self.render_mode is None:
            return None
        if not self._has_reset:
            raise RuntimeError("call reset() before render()")
        return self.vec.render()[0]

    def close(self):
        self.vec.close()


def make_vector(num_envs: int = 1, variant: str | Path | None = None, **kwargs) -> MazeVecEnv:
    """Vector entry point for ``gymnasium.make_vec``: the native :class:`MazeVecEnv`.

    Example:
        >>> env = make_vector(3, "maze-topright-5", seed=0)
        >>> type(env).__name__, env.num_envs
        ('MazeVecEnv', 3)
    """
    return MazeVecEnv(num_envs=num_envs, **_vec_kwargs(variant, kwargs))
