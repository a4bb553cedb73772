"""PPO, readable top to bottom: reward normalisation, the clipped losses, the update.

The loop that feeds it (rollouts, checkpoints, logs) is in ``trainer.py``; rollout
storage and GAE are in ``rollout.py``. Shapes: T = ``num_steps``, N = ``num_envs``,
B = T * N, M = minibatch size, A = 15 actions.

Example:
    >>> import numpy as np
    >>> norm = RewardNormalizer(num_envs=2, gamma=0.99)
    >>> norm(np.array([10.0, 0.0]), np.array([True, False])).dtype
    dtype('float32')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mazepolicy.train.ppo.config import PPOConfig
from mazepolicy.train.ppo.rollout import RolloutStorage


class RewardNormalizer:
    """Scale rewards by the running std of each env's discounted return, then clip.

    The same rule as gym's ``NormalizeReward`` and train-procgen-pytorch's
    ``VecNormalize(ob=False)``: ``G <- gamma * G + r`` per env, running variance of all
    G seen so far, ``r / sqrt(var + eps)``, clipped to ``+-clip``; G restarts at episode
    ends.

    Example:
        >>> norm = RewardNormalizer(num_envs=1, gamma=0.0)
        >>> for _ in range(1000):
        ...     _ = norm(np.array([2.0]), np.array([True]))
        >>> round(float(norm(np.array([2.0]), np.array([True]))[0]), 3)  # var -> 0: clipped
        10.0
    """

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.returns = np.zeros(num_envs, dtype=np.float64)  # (N,) discounted returns so far
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4  # RunningMeanStd's prior

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Normalised rewards (N,) float32 for one step's rewards (N,) and ends (N,)."""
        self.returns = self.returns * self.gamma + rewards
        self._update(self.returns)
        self.returns[dones] = 0.0
        scaled = rewards / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def _update(self, x: np.ndarray) -> None:
        """Chan et al.'s parallel update of the running mean and variance with batch x."""
        batch_mean, batch_var, n = float(x.mean()), float(x.var()), x.size
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var, self.count = m2 / total, total

    def state_dict(self) -> dict:
        """Running statistics: ``returns`` (N,) array and float ``mean``, ``var``, ``count``."""
        return {"returns": self.returns.copy(), "mean": self.mean, "var": self.var,
                "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.returns = np.array(state["returns"], dtype=np.float64)
        self.mean, self.var, self.count = (float(state[k]) for k in ("mean", "var", "count"))


@dataclass
class UpdateStats:
    """Means over one update's minibatches, under CleanRL's ``losses/`` tag names."""

    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clipfrac: float
    explained_variance: float


def ppo_update(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    storage: RolloutStorage,
    advantages: torch.Tensor,  # (T, N)
    returns: torch.Tensor,  # (T, N)
    config: PPOConfig,
    generator: torch.Generator,
    autocast: bool = False,
) -> UpdateStats:
    """``config.epochs`` passes of clipped-surrogate PPO over shuffled minibatches.

    ``model`` maps uint8 frames (M, 64, 64, 3) to (logits (M, A), values (M,)); it may
    be a ``DistributedDataParallel`` or compiled wrapper (DDP averages gradients in
    ``backward``). Gradients are clipped over the optimizer's parameters. ``generator``
    (CPU) shuffles; ``autocast`` runs forward and backward in bf16.

    Example:
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> policy, config = ImpalaPolicy(), PPOConfig(num_envs=2, num_steps=2, minibatches=2)
        >>> storage = RolloutStorage(2, 2, torch.device("cpu"))
        >>> opt = torch.optim.Adam(policy.parameters())
        >>> stats = ppo_update(policy, opt, storage, torch.ones(2, 2), torch.ones(2, 2),
        ...                    config, torch.Generator().manual_seed(0))
        >>> stats.value_loss > 0
        True
    """
    b_obs = storage.obs.flatten(0, 1)  # (B, 64, 64, 3) uint8
    b_actions = storage.actions.flatten()  # (B,)
    b_logprobs = storage.logprobs.flatten()  # (B,)
    b_values = storage.values.flatten()  # (B,)
    b_advantages = advantages.flatten()  # (B,)
    b_returns = returns.flatten()  # (B,)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip = config.clip_coef
    batch, size = b_obs.shape[0], config.minibatch_size
    sums = torch.zeros(5, device=b_obs.device)  # policy loss, value loss, entropy, kl, clipfrac
    for _ in range(config.epochs):
        order = torch.randperm(batch, generator=generator).to(b_obs.device)  # (B,)
        for start in range(0, batch, size):
            idx = order[start : start + size]  # (M,)
            with torch.autocast(b_obs.device.type, dtype=torch.bfloat16, enabled=autocast):
                logits, new_values = model(b_obs[idx])  # (M, A), (M,)
            logp_all = torch.log_softmax(logits.float(), dim=-1)  # (M, A)
            new_values = new_values.float()
            new_logprob = logp_all.gather(1, b_actions[idx, None]).squeeze(1)  # (M,)
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            log_ratio = new_logprob - b_logprobs[idx]  # (M,)
            ratio = log_ratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's k3 estimator
                clipfrac = ((ratio - 1).abs() > clip).float().mean()

            adv = b_advantages[idx]  # (M,)
            if config.normalize_advantages:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()

            value_error = (new_values - b_returns[idx]) ** 2  # (M,)
            if config.clip_value_loss:
                clipped = b_values[idx] + (new_values - b_values[idx]).clamp(-clip, clip)
                value_error = torch.max(value_error, (clipped - b_returns[idx]) ** 2)
            value_loss = 0.5 * value_error.mean()

            loss = policy_loss - config.ent_coef * entropy + config.vf_coef * value_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            sums += torch.stack([policy_loss, value_loss, entropy, approx_kl, clipfrac]).detach()

    means = (sums / (config.epochs * config.minibatches)).tolist()
    return UpdateStats(*means, explained_variance(b_values, b_returns))


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var(target - predicted) / Var(target); NaN when the target is constant.

    Example:
        >>> explained_variance(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 4.0]))
        0.75
    """
    var_target = target.var()
    if var_target == 0:
        return float("nan")
    return float(1 - (target - predicted).var() / var_target)
