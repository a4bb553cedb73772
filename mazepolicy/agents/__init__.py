"""Agents: the IMPALA policy with named hook points, checkpoints, scripted agents and
the PPO trainer.

Example:
    >>> import torch
    >>> from mazepolicy.agents import ImpalaPolicy
    >>> policy = ImpalaPolicy(scale=1)
    >>> frames = torch.zeros(2, 64, 64, 3, dtype=torch.uint8)  # (N, 64, 64, 3) RGB
    >>> logits, values = policy(frames)
    >>> logits.shape, values.shape
    (torch.Size([2, 15]), torch.Size([2]))
    >>> "embedder.block2.res1.resadd_out" in policy.hook_names()
    True

The Stable-Baselines3 features extractor is in ``mazepolicy.agents.sb3``.
"""

from mazepolicy.agents.checkpoint import (
    CheckpointError,
    load_policy,
    load_research_checkpoint,
    read_card,
    save_policy,
)
from mazepolicy.agents.evaluation import EvalResult, evaluate_policy
from mazepolicy.agents.hooks import HookedModule, HookPoint
from mazepolicy.agents.impala import ImpalaPolicy
from mazepolicy.agents.policy_agent import PolicyAgent, make_agent
from mazepolicy.agents.ppo_config import PPOConfig, list_recipes, load_recipe
from mazepolicy.agents.scripted import CheeseWalker, RandomAgent, TopRightWalker
from mazepolicy.agents.trainer import Trainer

__all__ = [
    "CheckpointError",
    "CheeseWalker",
    "EvalResult",
    "HookPoint",
    "HookedModule",
    "ImpalaPolicy",
    "PPOConfig",
    "PolicyAgent",
    "RandomAgent",
    "TopRightWalker",
    "Trainer",
    "evaluate_policy",
    "list_recipes",
    "load_policy",
    "load_recipe",
    "load_research_checkpoint",
    "make_agent",
    "read_card",
    "save_policy",
]
