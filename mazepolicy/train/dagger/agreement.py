"""Agreement with the expert on the learner's own states: DAgger's measure of
generalisation, taken while the learner plays held-out mazes.

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import MazeVecEnv, TopRightRegion
    >>> env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), seed=0)
    >>> obs, _ = env.reset()
    >>> agent = ExpertAgreement(ImpalaPolicy(), "cheese-walker", seed=0)
    >>> _ = agent.act(obs, env)
    >>> agent.frames, 0 <= agent.summary()["expert_agreement"] <= 1
    (2, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs.actions import FIVE_ACTION_GROUPS, NUM_ACTIONS
from mazepolicy.envs.frames import render_states
from mazepolicy.envs.geometry import bfs_distances, free_cells, greedy_action, top_right_corner
from mazepolicy.envs.state import MazeState
from mazepolicy.eval.stats import binned, wilson_interval

# (15, 5): action -> its move group (left, down, up, right, noop)
GROUPS = torch.zeros(NUM_ACTIONS, len(FIVE_ACTION_GROUPS))
for _column, _actions in enumerate(FIVE_ACTION_GROUPS.values()):
    GROUPS[list(_actions), _column] = 1.0
MOVE_GROUP = GROUPS.argmax(dim=1)  # (15,) group index of each action


def move_agreement(probs: torch.Tensor, actions: torch.Tensor):
    """Per frame, whether the policy's most likely move is the move of ``actions`` and
    the probability it gives that move, with the 15 actions folded into 5 moves (a
    move's probability is the sum of its actions'): (bool (N,), float (N,)) for action
    probabilities (N, 15) and actions (N,).

    Example:
        >>> logits = torch.zeros(1, 15); logits[0, 7] = 5.0  # RIGHT
        >>> agree, p = move_agreement(torch.softmax(logits, 1), torch.tensor([8]))
        >>> bool(agree[0]), round(float(p[0]), 3)  # 8 moves right too
        (True, 0.926)
    """
    moves = probs.float() @ GROUPS.to(probs.device)  # (N, 5)
    want = MOVE_GROUP.to(probs.device)[actions]  # (N,)
    return moves.argmax(dim=1) == want, moves.gather(1, want[:, None])[:, 0]


class ExpertAgreement(PolicyAgent):
    """A :class:`~mazepolicy.agents.policy.PolicyAgent` (sampling per maze, seeded) that
    also counts, on every frame where the expert moves, whether the policy's most likely
    move is the expert's (:func:`move_agreement`) and the probability it gives it."""

    def __init__(self, policy, expert: str, seed: int = 0, name: str = "policy"):
        super().__init__(policy, seed=seed, name=name)
        self.expert = make_scripted_agent(expert)
        self.frames = 0
        self.agreed = 0
        self.p_expert = 0.0

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        expert_actions, steps_left = self.expert.act_with_steps_left(env)
        probs = self.probabilities(obs).cpu()  # (N, 15)
        agree, p_expert = move_agreement(probs, torch.from_numpy(expert_actions))
        labelled = torch.from_numpy(steps_left > 0)
        self.frames += int(labelled.sum())
        self.agreed += int((agree & labelled).sum())
        self.p_expert += float(p_expert[labelled].sum())
        return self.choose(probs, env)

    def summary(self) -> dict:
        """``expert_agreement`` (share of frames whose most likely move is the expert's),
        ``p_expert_move`` (mean probability of the expert's move), ``agreement_frames``."""
        n = self.frames
        return {"expert_agreement": self.agreed / n if n else float("nan"),
                "p_expert_move": self.p_expert / n if n else float("nan"),
                "agreement_frames": n}


EXPERT_GOALS = {"cheese-walker": lambda state: state.cheese_cell,
                "top-right-walker": lambda state: top_right_corner(state.free)}


@torch.inference_mode()
def agreement_at_every_cell(policy, states: Sequence[MazeState],
                            expert: str = "cheese-walker") -> list[dict]:
    """The policy's agreement with the expert with the mouse on every free cell of each
    maze state (except the expert's goal and the cheese): where in a maze it has learnt
    the expert's moves, whatever cells its own episodes happen to visit. One row per
    cell: ``level_seed``, ``cell`` (x, y; (0, 0) the bottom-left start cell, y up),
    ``d_goal`` (the expert's steps left to its goal), ``d_start`` (steps from the start
    cell), ``agree`` (the most likely move is the expert's) and ``p_expert`` (the
    probability of the expert's move). Mazes without the expert's goal are skipped.

    Example:
        >>> from mazepolicy.envs import TopRightRegion
        >>> from mazepolicy.envs.levels import level_states
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> state = level_states([0], TopRightRegion(5), "easy")[0]
        >>> rows = agreement_at_every_cell(ImpalaPolicy(), [state])
        >>> len(rows) == int(state.free.sum()) - 1, min(r["d_goal"] for r in rows)
        (True, 1)
    """
    if expert not in EXPERT_GOALS:
        raise ValueError(f"expert must be one of {list(EXPERT_GOALS)}, got {expert!r}")
    device = next(policy.parameters()).device
    rows = []
    for state in states:
        goal = EXPERT_GOALS[expert](state)
        if goal is None:
            continue  # no cheese: nothing to agree with
        free = state.free
        to_goal, from_start = bfs_distances(free, goal), bfs_distances(free, (0, 0))
        cells = [c for c in free_cells(free) if to_goal[c[1], c[0]] > 0
                 and c != state.cheese_cell]  # the mouse cannot stand on the cheese
        if not cells:
            continue
        frames = render_states([state.with_mouse(cell) for cell in cells])  # (M, 64, 64, 3)
        probs = torch.softmax(policy(torch.from_numpy(frames).to(device))[0].float(), 1)
        moves = torch.tensor([greedy_action(to_goal, cell) for cell in cells])
        agree, p_expert = move_agreement(probs.cpu(), moves)
        rows += [{"level_seed": state.level_seed, "cell": cell,
                  "d_goal": int(to_goal[cell[1], cell[0]]),
                  "d_start": int(from_start[cell[1], cell[0]]), "agree": bool(agree[k]),
                  "p_expert": float(p_expert[k])} for k, cell in enumerate(cells)]
    return rows


def bin_agreement(rows: list[dict], key: str, edges: list[int]) -> list[dict]:
    """:func:`agreement_at_every_cell` rows grouped by ``key`` into ``[low, high)`` bins
    of ``edges``: ``low``, ``high``, ``n``, ``agreement`` (rate with its Wilson 95%
    ``ci``) and mean ``p_expert``; empty bins are left out.

    Example:
        >>> rows = [{"d_goal": 1, "agree": True, "p_expert": 0.9},
        ...         {"d_goal": 7, "agree": False, "p_expert": 0.2}]
        >>> [(b["low"], b["n"], b["agreement"])
        ...  for b in bin_agreement(rows, "d_goal", [0, 5, 10])]
        [(0, 1, 1.0), (5, 1, 0.0)]
    """
    out = []
    for low, high, inside in binned(rows, key, edges):
        agreed = sum(r["agree"] for r in inside)
        out.append({"low": low, "high": high, "n": len(inside),
                    "agreement": agreed / len(inside),
                    "ci": list(wilson_interval(agreed, len(inside))),
                    "p_expert": sum(r["p_expert"] for r in inside) / len(inside)})
    return out
