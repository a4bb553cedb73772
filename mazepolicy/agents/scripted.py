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

    def _field(self, env: MazeVecEnv, i: int, version: int, goal: tuple[int, int]):
        """Distance field to ``goal`` in env i's maze (``version`` of it: the env's
        ``maze_versions[i]``), cached until the maze changes."""
        key = (version, goal)
        cached = self._fields.get(i)
        if cached is None or cached[0] != key:
            cached = (key, distance_field(env.free_grid(i), goal))
            self._fields[i] = cached
        return cached[1]

    def _walk(self, env: MazeVecEnv) -> tuple[np.ndarray, np.ndarray]:
        """(actions (N,), steps left to the goal (N,), -1 without a goal)."""
        goals = self.goals(env)
        versions = env.maze_versions
        mice = env.mouse_cells
        actions = np.full(env.num_envs, NOOP, dtype=np.int64)
        steps = np.full(env.num_envs, -1, dtype=np.int64)
        for i in range(env.num_envs):
            goal = (int(goals[i, 0]), int(goals[i, 1]))
            if goal[0] < 0:
                continue
            field = self._field(env, i, int(versions[i]), goal)
            mouse = (int(mice[i, 0]), int(mice[i, 1]))
            actions[i] = greedy_action(field, mouse)
            steps[i] = field[mouse[1], mouse[0]]
        return actions, steps

    def act(self, obs: np.ndarray, env: MazeVecEnv) -> np.ndarray:
        return self._walk(env)[0]

    def act_with_steps_left(self, env: MazeVecEnv) -> tuple[np.ndarray, np.ndarray]:
        """The shortest-path moves (N,) and each mouse's steps left to its goal (N,) along
        that path (-1 where there is no goal or it cannot be reached): the labels and
        value targets of imitation learning.

        Example:
            >>> from mazepolicy.envs import MazeVecEnv, TopRightRegion, distance
            >>> env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), seed=0)
            >>> _ = env.reset()
            >>> actions, steps = CheeseWalker().act_with_steps_left(env)
            >>> cheese = tuple(int(v) for v in env.cheese_cells[0])
            >>> int(steps[0]) == distance(env.free_grid(0), (0, 0), cheese)
            True
        """
        return self._walk(env)


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
