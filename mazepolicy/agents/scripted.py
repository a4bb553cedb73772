"""Scripted agents with known behaviour, usable wherever a policy is.

Every agent has ``act(obs, env) -> actions``: ``obs`` the (N, 64, 64, 3) frames and
``env`` the :class:`~mazepolicy.envs.MazeVecEnv` they came from, whose tracked maze
state the walkers read. Outcome tests use them as ground truth: the cheese walker
reaches the cheese of every maze, the top-right walker the top-right corner.

Example:
    >>> from mazepolicy.envs import MazeVecEnv, TopRightRegion
    >>> env = MazeVecEnv(num_envs=4, cheese=TopRightRegion(5), seed=0)
    >>> obs, info = env.reset()
    >>> agent = make_scripted_agent("cheese-walker")
    >>> ends = 0
    >>> while ends < 4:
    ...     obs, reward, terminated, truncated, info = env.step(agent.act(obs, env))
    ...     ends += int(terminated.sum())
    >>> bool(terminated.any() or info["reached_cheese"].any())
    True
"""

from __future__ import annotations

import numpy as np

from mazepolicy.envs.actions import NOOP, NUM_ACTIONS
from mazepolicy.envs.geometry import distance_field, greedy_action
from mazepolicy.envs.vec_env import MazeVecEnv


class _Walker:
    """Walks the shortest path to a goal cell chosen per env; no-op without a goal."""

    name = ""

    def __init__(self):
        self._fields: dict[int, tuple[tuple, np.ndarray]] = {}  # env -> (key, distances)

    def goals(self, env: MazeVecEnv) -> np.ndarray:
        """Goal cell per env, int (N, 2) of (x, y); (-1, -1) for none."""
        raise NotImplementedError

    def act(self, obs: np.ndarray, env: MazeVecEnv) -> np.ndarray:
        goals = self.goals(env)
        versions = env.maze_versions
        mice = env.mouse_cells
        actions = np.full(env.num_envs, NOOP, dtype=np.int64)
        for i in range(env.num_envs):
            goal = (int(goals[i, 0]), int(goals[i, 1]))
            if goal[0] < 0:
                continue
            key = (int(versions[i]), goal)
            cached = self._fields.get(i)
            if cached is None or cached[0] != key:
                cached = (key, distance_field(env.free_grid(i), goal))
                self._fields[i] = cached
            actions[i] = greedy_action(cached[1], (int(mice[i, 0]), int(mice[i, 1])))
        return actions


class CheeseWalker(_Walker):
    """Walks the shortest path to the cheese (stands still in mazes without cheese)."""

    name = "cheese-walker"

    def goals(self, env: MazeVecEnv) -> np.ndarray:
        return env.cheese_cells


class TopRightWalker(_Walker):
    """Walks the shortest path to the maze's top-right corner (n-1, n-1), then stays."""

    name = "top-right-walker"

    def goals(self, env: MazeVecEnv) -> np.ndarray:
        corner = env.maze_dims - 1
        return np.stack([corner, corner], axis=1)


class RandomAgent:
    """Uniformly random actions over all 15, from its own seeded generator."""

    name = "random"

    def __init__(self, seed: int | None = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, env: MazeVecEnv) -> np.ndarray:
        return self.rng.integers(0, NUM_ACTIONS, env.num_envs)


SCRIPTED_AGENTS = {cls.name: cls for cls in (CheeseWalker, TopRightWalker, RandomAgent)}


def make_scripted_agent(name: str, seed: int | None = 0):
    """The scripted agent called ``name``: ``cheese-walker``, ``top-right-walker``, ``random``.

    Example:
        >>> make_scripted_agent("top-right-walker").name
        'top-right-walker'
    """
    if name not in SCRIPTED_AGENTS:
        raise ValueError(f"unknown scripted agent {name!r}; choose from {sorted(SCRIPTED_AGENTS)}")
    return RandomAgent(seed) if name == "random" else SCRIPTED_AGENTS[name]()
