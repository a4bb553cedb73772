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

from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs.actions import FIVE_ACTION_GROUPS, NUM_ACTIONS

# (15, 5): action -> its move group (left, down, up, right, noop)
GROUPS = torch.zeros(NUM_ACTIONS, len(FIVE_ACTION_GROUPS))
for _column, _actions in enumerate(FIVE_ACTION_GROUPS.values()):
    GROUPS[list(_actions), _column] = 1.0
MOVE_GROUP = GROUPS.argmax(dim=1)  # (15,) group index of each action


class ExpertAgreement:
    """An agent that samples from ``policy`` (seeded) and counts, on every frame where
    the expert moves, whether the policy's most likely move (the 15 actions folded into
    5 moves) is the expert's, and the probability it gives the expert's move."""

    def __init__(self, policy, expert: str, seed: int = 0, name: str = "policy"):
        self.policy, self.name = policy, name
        self.expert = make_scripted_agent(expert)
        self.generator = torch.Generator().manual_seed(seed)
        self.frames = 0
        self.agreed = 0
        self.p_expert = 0.0

    @torch.inference_mode()
    def act(self, obs: np.ndarray, env) -> np.ndarray:
        expert_actions, steps_left = self.expert.act_with_steps_left(env)
        device = next(self.policy.parameters()).device
        logits, _ = self.policy(torch.as_tensor(obs, device=device))
        probs = torch.softmax(logits.float(), dim=-1).cpu()  # (N, 15)
        moves = probs @ GROUPS  # (N, 5)
        labelled = torch.from_numpy(steps_left > 0)
        want = MOVE_GROUP[torch.from_numpy(expert_actions)]  # (N,)
        self.frames += int(labelled.sum())
        self.agreed += int(((moves.argmax(dim=1) == want) & labelled).sum())
        self.p_expert += float(moves.gather(1, want[:, None])[:, 0][labelled].sum())
        return torch.multinomial(probs, 1, generator=self.generator)[:, 0].numpy()

    def summary(self) -> dict:
        """``expert_agreement`` (share of frames whose most likely move is the expert's),
        ``p_expert_move`` (mean probability of the expert's move), ``agreement_frames``."""
        n = self.frames
        return {"expert_agreement": self.agreed / n if n else float("nan"),
                "p_expert_move": self.p_expert / n if n else float("nan"),
                "agreement_frames": n}
