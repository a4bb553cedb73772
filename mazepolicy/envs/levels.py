"""Fresh maze states for chosen level seeds, with a variant's cheese placement applied.

Example:
    >>> from mazepolicy.envs import TopRightRegion
    >>> states = level_states([0, 1, 2], cheese=TopRightRegion(5))
    >>> [s.level_seed for s in states], states[0].mouse_cell
    ([0, 1, 2], (0, 0))
"""

from __future__ import annotations

from collections.abc import Sequence

from mazepolicy.envs.cheese import CheesePlacement
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.vec_env import MazeVecEnv


def level_states(
    seeds: Sequence[int],
    cheese: CheesePlacement | None = None,
    distribution_mode: str = "hard",
) -> list[MazeState]:
    """The starting state of each level seed (the same maze and cheese every time)."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        return []
    env = MazeVecEnv(num_envs=len(seeds), cheese=cheese, distribution_mode=distribution_mode,
                     level_seeds=seeds, num_threads=1, seed=0)
    env.reset()
    states = [env.get_state(i) for i in range(len(seeds))]
    env.close()
    return states
