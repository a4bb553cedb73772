"""Network policies as agents (``act(obs, env)``), and agents by name or checkpoint path.

Example:
    >>> agent = make_agent("top-right-walker")
    >>> agent.name
    'top-right-walker'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mazepolicy.agents.checkpoint import load_policy
from mazepolicy.agents.scripted import SCRIPTED_AGENTS, make_scripted_agent


class PolicyAgent:
    """Acts with a network: samples from its action distribution (seeded), or takes the
    most likely action with ``greedy=True``. Hooks set on the policy (steering) apply."""

    def __init__(self, policy, greedy: bool = False, seed: int = 0, name: str = "policy"):
        self.policy = policy
        self.greedy = greedy
        self.name = name
        device = next(policy.parameters()).device
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def act(self, obs: np.ndarray, env=None) -> np.ndarray:
        return self.policy.act(obs, greedy=self.greedy, generator=self.generator)


def make_agent(spec: str, device: str = "cpu", greedy: bool = False, seed: int = 0):
    """A scripted agent by name (``cheese-walker``, ``top-right-walker``, ``random``) or a
    :class:`PolicyAgent` for the checkpoint at path ``spec`` (``*.safetensors``)."""
    if spec in SCRIPTED_AGENTS:
        return make_scripted_agent(spec, seed=seed)
    path = Path(spec)
    if path.suffix != ".safetensors":
        raise ValueError(
            f"policy {spec!r} is neither a scripted agent {sorted(SCRIPTED_AGENTS)} "
            "nor a .safetensors checkpoint"
        )
    policy, _ = load_policy(path, device=device)
    return PolicyAgent(policy, greedy=greedy, seed=seed, name=path.stem)
