"""A network agent steered by adding a vector to one layer's activations.

:class:`SteeredAgent` adds ``coeff * vector`` at ``layer`` on every forward pass. The
vector is fixed (one tensor for every maze, e.g. a cheese vector averaged over many
mazes) or computed per maze by ``per_maze(state)`` from the start state of the maze each
env is playing, as in the research's per-maze cheese vectors
(:mod:`mazepolicy.interp.vectors` builds both).

Example:
    >>> import torch
    >>> from mazepolicy.envs import MazeVecEnv
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> policy = ImpalaPolicy()
    >>> layer = "embedder.block2.res1.resadd_out"
    >>> agent = SteeredAgent(policy, layer, -1.0, vector=torch.ones(32, 16, 16))
    >>> env = MazeVecEnv(num_envs=2, seed=0); obs, _ = env.reset()
    >>> agent.act(obs, env).shape
    (2,)
"""

from __future__ import annotations

from mazepolicy.extras import require

require("torch", "mazepolicy.agents.steered (steered network agents)")

import math
from collections.abc import Callable

import numpy as np
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.state import MazeState
from mazepolicy.models.protocols import HookedPolicy

MAX_COEFF = 1e4  # larger coefficients only measure numerical overflow


def check_coeff(coeff: float) -> float:
    """``coeff`` as a float; ``ValueError`` unless it is finite and |coeff| <= 1e4.

    Example:
        >>> check_coeff(float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: steering coefficient must be a finite number with |coeff| <= 10000, got nan
    """
    if isinstance(coeff, bool) or not isinstance(coeff, (int, float)):
        raise TypeError(f"steering coefficient must be a number, got {coeff!r}")
    if not math.isfinite(coeff) or abs(coeff) > MAX_COEFF:
        raise ValueError(f"steering coefficient must be a finite number with |coeff| <= "
                         f"{MAX_COEFF:g}, got {coeff!r}")
    return float(coeff)


def add_vector_hook(vector: torch.Tensor, coeff: float):
    """A hook function adding ``coeff * vector`` to every sample's activation; ``vector``
    is one sample's shape (C, H, W) or a batch (N, C, H, W)."""
    coeff = check_coeff(coeff)

    def hook(activation: torch.Tensor) -> torch.Tensor:
        if vector.shape not in (activation.shape[1:], activation.shape):
            raise ValueError(
                f"vector of shape {tuple(vector.shape)} does not fit activations "
                f"{tuple(activation.shape[1:])}"
            )
        return activation + coeff * vector.to(activation.device, activation.dtype)

    return hook


class SteeredAgent(PolicyAgent):
    """A :class:`PolicyAgent` whose forward passes get ``coeff * vector`` at ``layer``.

    Give ``vector`` (one tensor, the layer's shape) or ``per_maze`` (a function of a
    maze's start state returning its vector, or None where the maze has none: those
    mazes play unsteered and their level seeds are collected in ``unsteered_levels``).
    """

    def __init__(self, policy: HookedPolicy, layer: str, coeff: float,
                 vector: torch.Tensor | None = None,
                 per_maze: Callable[[MazeState], torch.Tensor | None] | None = None,
                 greedy: bool = False, seed: int = 0):
        coeff = check_coeff(coeff)
        super().__init__(policy, greedy=greedy, seed=seed, name=f"steered({coeff:+g})")
        policy.check_hook_names([layer])
        if (vector is None) == (per_maze is None):
            raise ValueError("give either a fixed vector or a per-maze vector function")
        self.layer, self.coeff, self.vector, self.per_maze = layer, coeff, vector, per_maze
        self._cache: dict[tuple[int, int], torch.Tensor | None] = {}  # (env, version) -> vec
        self.unsteered_levels: set[int] = set()

    def _batch_vector(self, env) -> torch.Tensor:
        """(N, *layer shape): each env's maze vector, zeros where it has none."""
        versions = env.maze_versions
        rows = []
        for i in range(env.num_envs):
            key = (i, int(versions[i]))
            if key not in self._cache:
                state = env.get_state(i)
                self._cache = {k: v for k, v in self._cache.items() if k[0] != i}
                vec = self.per_maze(state)
                if vec is None:
                    self.unsteered_levels.add(state.level_seed)
                self._cache[key] = vec
            rows.append(self._cache[key])
        shape = tuple(self.policy.hook_names()[self.layer])
        return torch.stack([torch.zeros(shape) if r is None else r for r in rows])

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        if self.coeff == 0:
            return super().act(obs, env)
        vector = self.vector if self.vector is not None else self._batch_vector(env)
        with self.policy.hooks({self.layer: add_vector_hook(vector, self.coeff)}):
            return super().act(obs, env)
