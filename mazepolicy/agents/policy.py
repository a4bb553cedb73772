"""Network policies as agents (``act(obs, env)``), and agents by name or checkpoint path.

Example:
    >>> agent = make_agent("top-right-walker")
    >>> agent.name
    'top-right-walker'
"""

from __future__ import annotations

from mazepolicy.extras import require

require("torch", "mazepolicy.agents.policy (network agents)")

import hashlib

import numpy as np
import torch

from mazepolicy.agents.factory import checkpoint_file, make_agent  # noqa: F401  (their home was here)
from mazepolicy.agents.sampling import episode_uniforms, sample_actions
from mazepolicy.models.checkpoint import load_policy, read_file_bytes
from mazepolicy.models.protocols import HookedPolicy


class PolicyAgent:
    """Acts with a network: samples from its action distribution, or takes the most
    likely action with ``greedy=True``. Hooks set on the policy (steering) apply.

    A sampled action depends only on the policy's probabilities, ``seed``, the maze's
    level seed and the episode step (:mod:`mazepolicy.agents.sampling`), so outcomes do
    not depend on how many mazes are played together.

    Example:
        >>> from mazepolicy.envs import MazeVecEnv
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> env = MazeVecEnv(num_envs=2, seed=0); obs, _ = env.reset()
        >>> PolicyAgent(ImpalaPolicy(), seed=0).act(obs, env).shape
        (2,)
    """

    def __init__(self, policy: HookedPolicy, greedy: bool = False, seed: int = 0,
                 name: str = "policy"):
        self.policy = policy
        self.greedy = greedy
        self.seed = seed
        self.name = name

    @torch.inference_mode()
    def probabilities(self, obs: np.ndarray) -> torch.Tensor:
        """The policy's action probabilities (N, A) for uint8 frames (N, 64, 64, 3)."""
        device = next(self.policy.parameters()).device
        logits, _ = self.policy(torch.as_tensor(obs, device=device))
        return torch.softmax(logits.float(), dim=-1)

    def choose(self, probs: torch.Tensor, env) -> np.ndarray:
        """Actions (N,) from probabilities (N, A) of the frames of ``env``."""
        if self.greedy:
            return probs.argmax(dim=-1).cpu().numpy()
        u = episode_uniforms(self.seed, env.running_level_seeds, env.episode_steps)
        return sample_actions(probs, u)

    def act(self, obs: np.ndarray, env) -> np.ndarray:
        return self.choose(self.probabilities(obs), env)


def weights_sha256(spec: str) -> str:
    """SHA-256 of the weights file behind a shipped name or ``.safetensors`` path: what
    results record beside the name, since a shipped name may get new weights.

    Example:
        >>> len(weights_sha256("maze-topright-5-easy_impala-s1"))
        64
    """
    return hashlib.sha256(read_file_bytes(checkpoint_file(spec), "weights file")).hexdigest()


def load_network(spec: str, device: str = "cpu") -> HookedPolicy:
    """The network of a shipped checkpoint name or ``.safetensors`` path; a clear
    ``ValueError`` for scripted agents, which have none.

    Example:
        >>> load_network("cheese-walker")
        Traceback (most recent call last):
        ...
        ValueError: --policy cheese-walker is a scripted agent: this needs a network
    """
    return load_policy(checkpoint_file(spec), device=device)[0]
