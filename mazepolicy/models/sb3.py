"""Stable-Baselines3 integration: our IMPALA network as an SB3 features extractor.

SB3's ``PPO`` then trains the research architecture on :class:`MazeSB3VecEnv`. SB3's
``CnnPolicy`` feeds channels-first frames scaled to [0, 1] (wrap the env in
``VecTransposeImage``); with ``net_arch=[]`` its policy and value heads read the 256
features directly, as ``fc_policy`` and ``fc_value`` do in :class:`ImpalaPolicy`.

Example:
    >>> from stable_baselines3 import PPO
    >>> from stable_baselines3.common.vec_env import VecTransposeImage
    >>> from mazepolicy.envs import TopRightRegion
    >>> from mazepolicy.envs.sb3 import MazeSB3VecEnv
    >>> venv = VecTransposeImage(MazeSB3VecEnv(num_envs=2, cheese=TopRightRegion(5), seed=0))
    >>> model = PPO("CnnPolicy", venv, n_steps=16, batch_size=16, n_epochs=1,
    ...             policy_kwargs=impala_policy_kwargs(scale=1))
    >>> _ = model.learn(32)
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from mazepolicy.models.impala import ImpalaEmbedder


class ImpalaFeaturesExtractor(BaseFeaturesExtractor):
    """The IMPALA embedder (3 blocks, fc 256) on SB3's (N, 3, 64, 64) float frames."""

    def __init__(self, observation_space: gym.spaces.Box, scale: int = 1):
        super().__init__(observation_space, features_dim=256)
        if observation_space.shape != (3, 64, 64):
            raise ValueError(
                f"expected channels-first (3, 64, 64) frames (use VecTransposeImage), "
                f"got {observation_space.shape}"
            )
        self.embedder = ImpalaEmbedder(scale)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:  # (N, 3, 64, 64) -> (N, 256)
        return self.embedder(observations)


def impala_policy_kwargs(scale: int = 1) -> dict:
    """``policy_kwargs`` for SB3's ``CnnPolicy``: our extractor, heads straight on top."""
    return {
        "features_extractor_class": ImpalaFeaturesExtractor,
        "features_extractor_kwargs": {"scale": scale},
        "net_arch": [],
    }
