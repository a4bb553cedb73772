"""Rollout storage on the training device, and generalised advantage estimation.

Shapes: T = ``num_steps``, N = ``num_envs``, B = T * N. Frames stay uint8 (a 256 x 256
rollout of 64 x 64 x 3 frames is 805 MB), written one step at a time straight into
device memory. Rewards and episode ends come from the env on the host and stay there
(numpy) until the rollout ends: they are normalised in step order, then moved to the
device in one copy for GAE.

Example:
    >>> import torch
    >>> rewards = torch.tensor([[0.0], [0.0], [1.0]])  # (T=3, N=1)
    >>> adv, ret = compute_gae(rewards, torch.zeros(3, 1), torch.zeros(3, 1),
    ...                        torch.zeros(1), gamma=0.5, lam=1.0)
    >>> adv[:, 0].tolist()
    [0.25, 0.5, 1.0]
"""

from __future__ import annotations

import numpy as np
import torch

FRAME_SHAPE = (64, 64, 3)


class RolloutStorage:
    """One rollout: what the policy saw and did (device), what the env returned (host).

    Attributes (T = num_steps, N = num_envs):
        obs: uint8 (T, N, 64, 64, 3), device. actions: int64 (T, N), device.
        logprobs, values: float32 (T, N), device (of the sampled action; critic).
        rewards: numpy float32 (T, N): the env's reward for the step's action.
        dones: numpy bool (T, N): True where the step's action ended the episode.

    Example:
        >>> storage = RolloutStorage(num_steps=4, num_envs=2, device=torch.device("cpu"))
        >>> storage.obs.shape, storage.obs.dtype
        (torch.Size([4, 2, 64, 64, 3]), torch.uint8)
    """

    def __init__(self, num_steps: int, num_envs: int, device: torch.device):
        t, n = num_steps, num_envs
        self.obs = torch.zeros((t, n, *FRAME_SHAPE), dtype=torch.uint8, device=device)
        self.actions = torch.zeros((t, n), dtype=torch.long, device=device)
        self.logprobs = torch.zeros((t, n), device=device)
        self.values = torch.zeros((t, n), device=device)
        self.rewards = np.zeros((t, n), dtype=np.float32)
        self.dones = np.zeros((t, n), dtype=bool)


@torch.no_grad()
def compute_gae(
    rewards: torch.Tensor,  # (T, N)
    values: torch.Tensor,  # (T, N)
    dones: torch.Tensor,  # (T, N): 1 where the action at step t ended the episode
    next_value: torch.Tensor,  # (N,) value of the frame after the rollout's last step
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation; returns (advantages, returns), each (T, N).

    The frame after an episode's last step is the next maze's first frame (the env
    resets in the same step), so nothing is bootstrapped across ``dones[t] = 1``. Both
    episode ends, cheese and the 500-step timeout, are treated as terminal, as in
    Procgen's PPO baselines and the research's runs. (The env gives a timed-out
    episode's final frame, ``info["final_obs"]``, so a timeout could be bootstrapped
    from it; ``docs/training.md``, "Timeouts", says why the trainer does not.)

    Example:
        >>> r = torch.tensor([[1.0], [1.0]])
        >>> adv, ret = compute_gae(r, torch.zeros(2, 1), torch.tensor([[1.0], [0.0]]),
        ...                        torch.tensor([2.0]), gamma=0.5, lam=0.5)
        >>> adv[:, 0].tolist(), ret[:, 0].tolist()
        ([1.0, 2.0], [1.0, 2.0])
    """
    num_steps = rewards.shape[0]
    nonterminal = 1.0 - dones  # (T, N)
    advantages = torch.empty_like(rewards)  # (T, N)
    last = torch.zeros_like(next_value)  # (N,) advantage of step t + 1
    following = next_value  # (N,) value of the frame after step t
    for t in reversed(range(num_steps)):
        delta = rewards[t] + gamma * following * nonterminal[t] - values[t]
        last = delta + gamma * lam * nonterminal[t] * last
        advantages[t] = last
        following = values[t]
    return advantages, advantages + values
