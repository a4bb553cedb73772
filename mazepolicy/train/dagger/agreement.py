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

import numpy as np
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs.actions import FIVE_ACTION_GROUPS, NUM_ACTIONS

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
