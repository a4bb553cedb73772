"""Retargeting: during a whole rollout, one layer is edited to point the agent at a
chosen target cell, and success is the mouse entering the target within ``max_steps``
steps. An edit is a :class:`RetargetEdit`; shipped here are :class:`ChannelClamp` (the
research set channel 55 of ``embedder.block2.res1.resadd_out`` to +5.5 at the target's
map position) and :class:`MovedCheeseVector` (add the activation difference between the
maze with its cheese moved to the target and the maze as it is); the SAE package adds a
feature clamp. Every edit is played against the same jobs without an edit.

Every (maze, target) job is also played without the edit (same mazes, same sampling
streams), so the edit's effect is read against how often the agent passes the target
anyway. Cells are (x, y): x right, y up, (0, 0) the start (bottom-left); map positions are
(row, col) with row 0 at the top.

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> state = level_states([0], Anywhere(), "easy")[0]
    >>> rows = retargeting_rollouts(ImpalaPolicy(), [(state, (0, 1))],
    ...     "embedder.block2.res1.resadd_out", ChannelClamp(channel=0, value=5.5),
    ...     max_steps=5, distribution_mode="easy")
    >>> (rows[0]["target_x"], rows[0]["target_y"]), type(rows[0]["success"])
    ((0, 1), <class 'bool'>)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.cells import Cell, check_in_maze
from mazepolicy.envs.geometry import bfs_distances, free_cells, shortest_path, top_right_corner
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.interp.channels import cell_position
from mazepolicy.interp.vectors import activations

Job = tuple[MazeState, Cell]  # a start state and a target cell (x, y)


class RetargetEdit(Protocol):
    """An edit of one (N, C, H, W) layer that points each env's agent at its job's
    target; one slot per env of the rollout."""

    label: str  # for progress bars and tables, e.g. "channel 7 = 5.5"

    def reset(self, slots: int, layer_shape: tuple[int, int, int]) -> None:
        """Prepare ``slots`` empty slots for activations of shape (C, H, W)."""

    def assign(self, slot: int, job: Job | None) -> None:
        """Point ``slot`` at ``job`` (its env now plays it); None leaves it unedited."""

    def __call__(self, activation: torch.Tensor) -> torch.Tensor:
        """The edited activation (N, C, H, W), N = slots."""


class AtTargetEdit:
    """Base of the edits that rewrite the C-vector at the target's map position only:
    subclasses define :meth:`edit_vectors`."""

    label = "edit at the target"

    def reset(self, slots: int, layer_shape: tuple[int, int, int]) -> None:
        self.size = layer_shape[-1]
        self.positions = torch.full((slots, 2), -1, dtype=torch.long)  # (slots, 2) (row, col)

    def assign(self, slot: int, job: Job | None) -> None:
        if job is None:
            self.positions[slot] = -1
            return
        state, target = job
        self.positions[slot] = torch.tensor(cell_position(target, state.maze_dim,
                                                          state.world_dim, self.size))

    def edit_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """The new (R, C) vectors at the targets, from the (R, C) ones there."""
        raise NotImplementedError

    def __call__(self, activation: torch.Tensor) -> torch.Tensor:
        rows = torch.nonzero(self.positions[:, 0] >= 0)[:, 0]
        r, c = self.positions[rows, 0], self.positions[rows, 1]
        out = activation.clone()
        out[rows, :, r, c] = self.edit_vectors(activation[rows, :, r, c]).to(out.dtype)
        return out


class ChannelClamp(AtTargetEdit):
    """Set ``channel`` to ``value`` at the target's map position.

    Example:
        >>> clamp = ChannelClamp(channel=2, value=5.5)
        >>> clamp.reset(1, (4, 5, 5))
        >>> clamp.positions[0] = torch.tensor([0, 1])
        >>> out = clamp(torch.zeros(1, 4, 5, 5))
        >>> float(out[0, 2, 0, 1]), float(out.sum())
        (5.5, 5.5)
    """

    def __init__(self, channel: int, value: float):
        self.channel, self.value = channel, value
        self.label = f"channel {channel} = {value:g}"

    def reset(self, slots: int, layer_shape: tuple[int, int, int]) -> None:
        if not 0 <= self.channel < layer_shape[0]:
            raise ValueError(f"channel {self.channel} does not exist in activations of "
                             f"shape {layer_shape}")
        super().reset(slots, layer_shape)

    def edit_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        out = vectors.clone()
        out[:, self.channel] = self.value
        return out


class MovedCheeseVector:
    """Add ``coeff`` x (activations of the job's start frame with the cheese moved to
    the target - activations of the start frame as it is) at every step: a cheese
    vector that says "the cheese is there" instead of "there is no cheese"."""

    def __init__(self, policy, layer: str, coeff: float = 1.0):
        policy.check_hook_names([layer])
        self.policy, self.layer, self.coeff = policy, layer, coeff
        self.label = f"moved-cheese vector x {coeff:g}"

    def reset(self, slots: int, layer_shape: tuple[int, int, int]) -> None:
        self.deltas = torch.zeros(slots, *layer_shape)  # (slots, C, H, W)

    def assign(self, slot: int, job: Job | None) -> None:
        if job is None:
            self.deltas[slot] = 0
            return
        state, target = job
        moved = state.copy()
        moved.set_cheese(target)
        acts = activations(self.policy, [moved, state], self.layer).cpu()  # (2, C, H, W)
        self.deltas[slot] = acts[0] - acts[1]

    def __call__(self, activation: torch.Tensor) -> torch.Tensor:
        return activation + self.coeff * self.deltas.to(activation)


def path_distance_to_corner_path(state: MazeState, cell: Cell) -> int:
    """Steps from ``cell`` to the nearest cell of the shortest path from the start to
    the top-right corner (0 on the path)."""
    free = state.free
    path = shortest_path(free, (0, 0), top_right_corner(free))
    field = bfs_distances(free, tuple(cell))  # (n, n) [y, x]
    return int(min(field[y, x] for x, y in path))


def _play(policy, jobs: Sequence[Job], layer: str, edit: RetargetEdit | None,
          max_steps: int, distribution_mode: str, seed: int, num_envs: int,
          bar) -> list[tuple[bool, int]]:
    """(success, steps) per job, with ``edit`` applied at ``layer`` unless it is None."""
    n = min(num_envs, len(jobs))
    env = MazeVecEnv(num_envs=n, distribution_mode=distribution_mode, seed=seed,
                     num_threads=1)
    agent = PolicyAgent(policy, seed=seed)
    if edit is not None:
        edit.reset(n, tuple(policy.hook_names()[layer]))
    out: list[tuple[bool, int] | None] = [None] * len(jobs)
    current = np.full(n, -1)
    targets = np.full((n, 2), -1)
    queue = iter(range(len(jobs)))
    try:
        obs, _ = env.reset()

        def start(i: int) -> None:
            job = next(queue, -1)
            current[i] = job
            if edit is not None:
                edit.assign(i, jobs[job] if job >= 0 else None)
            if job >= 0:
                obs[i] = env.set_state(i, jobs[job][0])
                targets[i] = jobs[job][1]

        for i in range(n):
            start(i)
        while (current >= 0).any():
            if edit is None:
                actions = agent.act(obs, env)
            else:
                with torch.no_grad(), policy.hooks({layer: edit}):
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


def retargeting_rollouts(policy, jobs: Sequence[Job], layer: str, edit: RetargetEdit,
                         max_steps: int, distribution_mode: str = "hard", seed: int = 0,
                         num_envs: int = 16, progress: bool = False, baseline: bool = True
                         ) -> list[dict]:
    """Play each (start state, target cell) job with ``edit`` at ``layer`` and, when
    ``baseline``, without; one row per job: success and steps of each (steps -1 when the
    episode ended first, e.g. at the cheese) and the target's path distance to the
    start-to-corner path. The unedited play depends only on the jobs and ``seed``, so
    several edits of the same jobs need it once. Targets must be free cells other than
    the cheese (entering the cheese ends the episode)."""
    policy.check_hook_names([layer])
    for state, target in jobs:
        x, y = check_in_maze(target, state.maze_dim)
        if not state.free[y, x]:
            raise ValueError(f"target {target} is a wall in level {state.level_seed}")
        if state.cheese_cell == (x, y):
            raise ValueError(f"target {target} is level {state.level_seed}'s cheese cell")
    bar = tqdm(total=(1 + baseline) * len(jobs), desc=f"retarget: {edit.label} at {layer}",
               unit="rollout", disable=not progress)
    settings = (max_steps, distribution_mode, seed, num_envs, bar)
    edited = _play(policy, jobs, layer, edit, *settings)
    plain = _play(policy, jobs, layer, None, *settings) if baseline else None
    bar.close()
    rows = []
    for i, ((state, target), (success, steps)) in enumerate(zip(jobs, edited, strict=True)):
        row = {"level_seed": state.level_seed, "target_x": int(target[0]),
               "target_y": int(target[1]),
               "path_distance": path_distance_to_corner_path(state, target),
               "success": success, "steps": steps}
        if plain is not None:
            row["baseline_success"], row["baseline_steps"] = plain[i]
        rows.append(row)
    return rows


def compare_edits(policy, jobs: Sequence[Job], layer: str,
                  edits: Mapping[str, RetargetEdit], max_steps: int, **settings
                  ) -> dict[str, list[bool]]:
    """Success per job of each named edit and of ``"no edit"`` (played once), on the
    same jobs and sampling streams; ``settings`` as for :func:`retargeting_rollouts`."""
    out: dict[str, list[bool]] = {}
    for i, (name, edit) in enumerate(edits.items()):
        rows = retargeting_rollouts(policy, jobs, layer, edit, max_steps, baseline=i == 0,
                                    **settings)
        if i == 0:
            out["no edit"] = [r["baseline_success"] for r in rows]
        out[name] = [r["success"] for r in rows]
    return out


def target_cells(state: MazeState) -> list[Cell]:
    """Every free cell of ``state`` that can be a target: all but the start and cheese."""
    return [c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell)]


def random_targets(state: MazeState, count: int, rng: np.random.Generator) -> list[Cell]:
    """Up to ``count`` distinct :func:`target_cells` of ``state``, seeded by ``rng``."""
    cells = target_cells(state)
    picks = rng.choice(len(cells), size=min(count, len(cells)), replace=False)
    return [cells[i] for i in sorted(picks)]
