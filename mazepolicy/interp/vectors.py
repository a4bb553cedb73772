"""Steering vectors: activation differences between maze states, added during rollouts.

- cheese vector: activations(maze with cheese) - activations(same maze, cheese removed),
  mouse at the start (Mini et al. 2023), per maze or averaged over mazes;
- top-right vector: activations(maze + an L-shaped corridor through the padding from the
  maze's top-right corner to the world's top-right corner) - activations(maze);
- any contrast between two states.

Each vector is the full (C, H, W) activation difference at one hook point (for a conv
layer). :func:`steering` adds ``coeff * vector`` at its layer on every forward pass
while the block runs; several vectors compose.

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import MazeVecEnv
    >>> policy = ImpalaPolicy()
    >>> env = MazeVecEnv(num_envs=1, seed=0); _ = env.reset()
    >>> vec = cheese_vector(policy, [env.get_state(0)], "embedder.block2.res1.resadd_out")
    >>> tuple(vec.tensor.shape)
    (32, 16, 16)
    >>> obs = env.observe()
    >>> with steering(policy, [(vec, 0.0)]):
    ...     same = policy.act(obs, greedy=True)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from mazepolicy.agents.steered import add_vector_hook, check_coeff
from mazepolicy.envs.frames import render_states
from mazepolicy.envs.state import FREE, MazeState
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps


@dataclass
class SteeringVector:
    """An activation-space direction at hook point ``layer``; ``tensor`` is per sample
    (e.g. (C, H, W)); ``metadata`` records how it was made (kind, level seeds, ...)."""

    layer: str
    tensor: torch.Tensor
    metadata: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write ``path`` (.safetensors) and its JSON metadata beside it (.json)."""
        path = Path(path)
        blob = save_safetensors_bytes({"vector": self.tensor.detach().cpu().contiguous()})
        atomic_write_bytes(path, blob)
        atomic_write_text(path.with_suffix(".json"),
                          json_dumps({"layer": self.layer, **self.metadata}, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> SteeringVector:
        path = Path(path)
        try:
            tensor = load_safetensors_bytes(path.read_bytes())["vector"]
            meta = json.loads(path.with_suffix(".json").read_text())
            layer = meta.pop("layer")
        except (OSError, ValueError, KeyError, SafetensorError) as err:
            raise ValueError(f"cannot load steering vector {path}: {err}") from None
        return cls(layer, tensor, meta)


def activations(policy, states: Sequence[MazeState], layer: str) -> torch.Tensor:
    """Activations at ``layer`` for the frames of ``states``: (len(states), *shape)."""
    policy.check_hook_names([layer])
    device = next(policy.parameters()).device
    obs = torch.as_tensor(render_states(states), device=device)
    with torch.no_grad():
        _, _, cache = policy.run_with_cache(obs, [layer])
    return cache[layer]


def contrast_vector(policy, states_a: Sequence[MazeState], states_b: Sequence[MazeState],
                    layer: str, metadata: dict | None = None) -> SteeringVector:
    """mean over pairs of activations(a) - activations(b) at ``layer``."""
    if len(states_a) != len(states_b) or not states_a:
        raise ValueError("contrast needs two equally long, non-empty lists of states")
    diff = activations(policy, states_a, layer) - activations(policy, states_b, layer)
    return SteeringVector(layer, diff.mean(0), {"kind": "contrast", **(metadata or {})})


def cheese_vector(policy, states: Sequence[MazeState], layer: str) -> SteeringVector:
    """Cheese vector averaged over ``states`` (one state: the per-maze vector). Each state
    must have cheese; the mouse is put at the start cell (0, 0)."""
    with_cheese, without = [], []
    for state in states:
        if state.cheese_cell is None:
            raise ValueError(f"level {state.level_seed} has no cheese to remove")
        a = state.with_mouse((0, 0))
        b = a.copy()
        b.set_cheese(None)
        with_cheese.append(a)
        without.append(b)
    vec = contrast_vector(policy, with_cheese, without, layer)
    vec.metadata = {"kind": "cheese", "level_seeds": [s.level_seed for s in states]}
    return vec


def with_top_right_corridor(state: MazeState) -> MazeState:
    """A copy with an L-shaped corridor through the padding: up from the maze's top-right
    corner to the world's top row, then right to the world's top-right corner.

    Raises ``ValueError`` when the maze fills the world (no padding to open).
    """
    if state.margin == 0:
        raise ValueError(
            f"maze {state.maze_dim}x{state.maze_dim} fills the {state.world_dim}x"
            f"{state.world_dim} world: no padding for a top-right corridor"
        )
    out = state.copy()
    corner_x, corner_y = out.to_world((out.maze_dim - 1, out.maze_dim - 1))
    top = out.world_dim - 1
    for y in range(corner_y + 1, top + 1):
        out.set_world_cell((corner_x, y), FREE)
    for x in range(corner_x + 1, top + 1):
        out.set_world_cell((x, top), FREE)
    return out


def top_right_vector(policy, states: Sequence[MazeState], layer: str) -> SteeringVector:
    """Top-right vector averaged over ``states``; mouse at the start cell (0, 0)."""
    base = [s.with_mouse((0, 0)) for s in states]
    opened = [with_top_right_corridor(s) for s in base]
    vec = contrast_vector(policy, opened, base, layer)
    vec.metadata = {"kind": "top_right", "level_seeds": [s.level_seed for s in states]}
    return vec


@contextmanager
def steering(policy, vectors: Sequence[tuple[SteeringVector, float]]) -> Iterator[None]:
    """Add ``coeff * vector`` at each vector's layer on every forward pass in the block.

    Vectors at the same layer are summed; coefficient 0 leaves outputs bitwise unchanged.
    """
    by_layer: dict[str, torch.Tensor] = {}
    for vec, coeff in vectors:
        if check_coeff(coeff) == 0:
            continue
        by_layer[vec.layer] = by_layer.get(vec.layer, 0) + coeff * vec.tensor
    with policy.hooks({layer: add_vector_hook(v, 1.0) for layer, v in by_layer.items()}):
        yield
