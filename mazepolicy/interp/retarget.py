"""Retargeting by channel clamping: during a whole rollout, one activation of a
cheese-tracking channel is set to a large value at the feature-map position of a chosen
target cell (the research set channel 55 of ``embedder.block2.res1.resadd_out`` to +5.5
there); success is the mouse entering the target within ``max_steps`` steps.

Every (maze, target) job is also played without the clamp (same mazes, same sampling
streams), so the clamp's effect is read against how often the agent passes the target
anyway. Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> state = level_states([0], Anywhere(), "easy")[0]
    >>> rows = retargeting_rollouts(ImpalaPolicy(), [(state, (0, 1))],
    ...     "embedder.block2.res1.resadd_out", channel=0, value=5.5, max_steps=5,
    ...     distribution_mode="easy")
    >>> (rows[0]["target_x"], rows[0]["target_y"]), type(rows[0]["success"])
    ((0, 1), <class 'bool'>)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.cells import Cell, check_in_maze
from mazepolicy.envs.geometry import bfs_distances, free_cells, shortest_path, top_right_corner
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.interp.channels import cell_position

Job = tuple[MazeState, Cell]  # a start state and a target cell (x, y)


def clamp_positions_hook(channel: int, positions: torch.Tensor, value: float):
    """A hook writing ``value`` into ``channel`` at one (row, col) per sample:
    ``positions`` (N, 2); rows with a negative row are left alone."""
    def hook(activation: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        if activation.ndim != 4 or not 0 <= channel < activation.shape[1]:
            raise ValueError(f"channel {channel} does not exist in activations of shape "
                             f"{tuple(activation.shape)}")
        out = activation.clone()
        rows = torch.nonzero(positions[:, 0] >= 0)[:, 0]
        out[rows, channel, positions[rows, 0], positions[rows, 1]] = value
        return out
    return hook


def path_distance_to_corner_path(state: MazeState, cell: Cell) -> int:
    """Steps from ``cell`` to the nearest cell of the shortest path from the start to
    the top-right corner (0 on the path)."""
    free = state.free
    path = shortest_path(free, (0, 0), top_right_corner(free))
    field = bfs_distances(free, tuple(cell))  # (n, n) [y, x]
    return int(min(field[y, x] for x, y in path))


def _play(policy, jobs: Sequence[Job], layer: str, channel: int, value: float | None,
          max_steps: int, distribution_mode: str, seed: int, num_envs: int,
          bar) -> list[tuple[bool, int]]:
    """(success, steps) per job, clamped when ``value`` is not None."""
    size = policy.hook_names()[layer][-1]
    n = min(num_envs, len(jobs))
    env = MazeVecEnv(num_envs=n, distribution_mode=distribution_mode, seed=seed,
                     num_threads=1)
    agent = PolicyAgent(policy, seed=seed)
    out: list[tuple[bool, int] | None] = [None] * len(jobs)
    current = np.full(n, -1)
    positions = torch.full((n, 2), -1, dtype=torch.long)  # (n, 2) clamp (row, col)
    targets = np.full((n, 2), -1)
    queue = iter(range(len(jobs)))
    try:
        obs, _ = env.reset()

        def start(i: int) -> None:
            job = next(queue, -1)
            current[i] = job
            if job < 0:
                positions[i] = -1
                return
            state, target = jobs[job]
            obs[i] = env.set_state(i, state)
            targets[i] = target
            positions[i] = torch.tensor(cell_position(target, state.maze_dim,
                                                      state.world_dim, size))

        for i in range(n):
            start(i)
        while (current >= 0).any():
            if value is None:
                actions = agent.act(obs, env)
            else:
                with policy.hooks({layer: clamp_positions_hook(channel, positions, value)}):
                    actions = agent.act(obs, env)
            obs, _, terminated, truncated, _ = env.step(actions)
            steps, mice = env.episode_steps, env.mouse_cells
            for i in np.flatnonzero(current >= 0):
                done = terminated[i] or truncated[i]
                reached = not done and (mice[i] == targets[i]).all()
                if reached or done or steps[i] >= max_steps:
                    out[current[i]] = (bool(reached), int(steps[i]) if not done else -1)
                    bar.update(1)
                    start(i)
    finally:
        env.close()
    return out


def retargeting_rollouts(policy, jobs: Sequence[Job], layer: str, channel: int,
                         value: float, max_steps: int, distribution_mode: str = "hard",
                         seed: int = 0, num_envs: int = 16, progress: bool = False) -> list[dict]:
    """Play each (start state, target cell) job with ``channel`` clamped to ``value`` at
    the target's map position and without; one row per job: success and steps of each
    (steps -1 when the episode ended first, e.g. at the cheese) and the target's path
    distance to the start-to-corner path. Targets must be free cells other than the
    cheese (entering the cheese ends the episode)."""
    policy.check_hook_names([layer])
    for state, target in jobs:
        x, y = check_in_maze(target, state.maze_dim)
        if not state.free[y, x]:
            raise ValueError(f"target {target} is a wall in level {state.level_seed}")
        if state.cheese_cell == (x, y):
            raise ValueError(f"target {target} is level {state.level_seed}'s cheese cell")
    bar = tqdm(total=2 * len(jobs), desc=f"retarget channel {channel} = {value:g} at {layer}",
               unit="rollout", disable=not progress)
    clamped = _play(policy, jobs, layer, channel, value, max_steps, distribution_mode, seed,
                    num_envs, bar)
    plain = _play(policy, jobs, layer, channel, None, max_steps, distribution_mode, seed,
                  num_envs, bar)
    bar.close()
    return [{"level_seed": state.level_seed, "target_x": int(target[0]),
             "target_y": int(target[1]),
             "path_distance": path_distance_to_corner_path(state, target),
             "success": c[0], "steps": c[1], "baseline_success": b[0], "baseline_steps": b[1]}
            for (state, target), c, b in zip(jobs, clamped, plain, strict=True)]


def target_cells(state: MazeState) -> list[Cell]:
    """Every free cell of ``state`` that can be a target: all but the start and cheese."""
    return [c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell)]


def random_targets(state: MazeState, count: int, rng: np.random.Generator) -> list[Cell]:
    """Up to ``count`` distinct :func:`target_cells` of ``state``, seeded by ``rng``."""
    cells = target_cells(state)
    picks = rng.choice(len(cells), size=min(count, len(cells)), replace=False)
    return [cells[i] for i in sorted(picks)]
