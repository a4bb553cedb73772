"""Do per-maze cheese vectors transfer? Each maze's vector is added to every other maze's
decision-square frame, and P(toward cheese) there is compared with the maze's own vector
and with no vector, grouped by how far apart the two mazes' cheese sits.

The distance is measured in world cells (the 25 x 25 grid the frame shows; a maze of
side n sits in its centre), because the network sees positions in the frame, not in the
inner maze. Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> result = vector_transfer(ImpalaPolicy(), level_states(range(6), Anywhere()),
    ...                          "embedder.block2.res1.resadd_out", coeff=-1.0)
    >>> sorted(result)
    ['groups', 'mazes', 'pairs']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mazepolicy.agents.steered import add_vector_hook, check_coeff
from mazepolicy.envs.frames import render_states
from mazepolicy.envs.state import MazeState
from mazepolicy.interp.probes import decision_probe, move_probability, nan_median
from mazepolicy.interp.steer import maze_vector

NEAR = 2.0  # world cells: the research saw transfer only within about this distance


def world_cell(state: MazeState, cell: tuple[int, int]) -> tuple[int, int]:
    """(x, y) of inner cell ``cell`` in the world grid of the frame."""
    margin = (state.world_dim - state.maze_dim) // 2
    return cell[0] + margin, cell[1] + margin


def vector_transfer(policy, states: Sequence[MazeState], layer: str, coeff: float = -1.0,
                    near: float = NEAR) -> dict:
    """For mazes with cheese and a decision square: P(toward cheese) at each target
    maze's decision square with no vector, its own vector, and every other maze's vector
    (times ``coeff``). Returns ``mazes`` (per target), ``pairs`` (source, target, world
    distance between their cheese cells, P) and ``groups``: medians for own vectors,
    other vectors within ``near`` world cells and beyond it, with pair counts."""
    coeff = check_coeff(coeff)
    policy.check_hook_names([layer])
    usable = []  # (state, decision-square probe, move toward cheese, vector)
    for state in states:
        found = decision_probe(state)
        vec = None if found is None else maze_vector(policy, "cheese", state, layer)
        if vec is not None:
            usable.append((state, *found, vec))
    if not usable:
        return {"mazes": [], "pairs": [], "groups": {}}
    vectors = torch.stack([u[3] for u in usable])  # (M, C, H, W)
    frames = render_states([u[1] for u in usable])  # (M, 64, 64, 3)
    device = next(policy.parameters()).device
    mazes, pairs = [], []
    for t, (state, _, toward, _) in enumerate(usable):
        obs = torch.as_tensor(np.repeat(frames[t : t + 1], len(usable) + 1, 0), device=device)
        batch = torch.cat([torch.zeros_like(vectors[:1]), vectors])  # row 0: no vector
        with torch.no_grad(), policy.hooks({layer: add_vector_hook(batch.to(device), coeff)}):
            logits, _ = policy(obs)
        p = move_probability(torch.softmax(logits.float(), -1).cpu().numpy(), toward)
        mazes.append({"level_seed": state.level_seed, "p_cheese_unsteered": float(p[0]),
                      "p_cheese_own_vector": float(p[1 + t])})
        target = world_cell(state, state.cheese_cell)
        for s, (source, *_rest) in enumerate(usable):
            if s != t:
                src = world_cell(source, source.cheese_cell)
                pairs.append({"source": source.level_seed, "target": state.level_seed,
                              "cheese_distance": float(np.hypot(src[0] - target[0],
                                                                src[1] - target[1])),
                              "p_cheese": float(p[1 + s])})

    close = [r["p_cheese"] for r in pairs if r["cheese_distance"] <= near]
    far = [r["p_cheese"] for r in pairs if r["cheese_distance"] > near]
    groups = {
        "unsteered": {"n": len(mazes), "median_p_cheese":
                      nan_median([m["p_cheese_unsteered"] for m in mazes])},
        "own_vector": {"n": len(mazes), "median_p_cheese":
                       nan_median([m["p_cheese_own_vector"] for m in mazes])},
        f"other_within_{near:g}": {"n": len(close), "median_p_cheese": nan_median(close)},
        f"other_beyond_{near:g}": {"n": len(far), "median_p_cheese": nan_median(far)},
    }
    return {"mazes": mazes, "pairs": pairs, "groups": groups}
