"""PPO, readable top to bottom: rollout storage, reward normalisation, GAE, the update.

Shapes: T = ``num_steps``, N = ``num_envs``, B = T * N, M = minibatch size.
Episode ends (cheese or the 500-step timeout) are treated as terminal, as in Procgen's
PPO baselines: the engine never renders the final frame, so timeouts cannot be
bootstrapped from it.

Example:
    >>> import torch
    >>> rewards = torch.tensor([[0.0], [0.0], [1.0]])  # (T=3, N=1)
    >>> dones = torch.zeros(3, 1)
    >>> values = torch.zeros(3, 1)
    >>> adv, ret = compute_gae(rewards, values, dones, torch.zeros(1), gamma=0.5, lam=1.0)
    >>> adv[:, 0].tolist()
    [0.25, 0.5, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mazepolicy.agents.ppo_config import PPOConfig


class RolloutBuffer:
    """One rollout on the training device; observations stay uint8."""

    def __init__(self, num_steps: int, num_envs: int, device: torch.device):
        t, n = num_steps, num_envs
        self.obs = torch.zeros((t, n, 64, 64, 3), dtype=torch.uint8, device=device)
        self.actions = torch.zeros((t, n), dtype=torch.long, device=device)
        self.logprobs = torch.zeros((t, n), device=device)
        self.rewards = torch.zeros((t, n), device=device)  # normalised rewards
        self.dones = torch.zeros((t, n), device=device)  # 1 where the episode ended at t
        self.values = torch.zeros((t, n), device=device)


class RewardNormalizer:
    """Divide rewards by the running std of the discounted return (as gym's
    ``NormalizeReward`` and train-procgen-pytorch do), then clip to +-10."""

    def __init__(self, num_envs: int, gamma: float, epsilon: float = 1e-8, clip: float = 10.0):
        self.gamma, self.epsilon, self.clip = gamma, epsilon, clip
        self.returns = np.zeros(num_envs, dtype=np.float64)  # (N,) running discounted returns
        self.mean, self.var, self.count = 0.0, 1.0, epsilon

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + rewards
        self._update(self.returns)
        self.returns[dones] = 0.0
        scaled = rewards / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def _update(self, x: np.ndarray) -> None:
        batch_mean, batch_var, n = float(x.mean()), float(x.var()), x.size
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var, self.count = m2 / total, total

    def state(self) -> dict:
        return {"returns": self.returns.copy(), "mean": self.mean, "var": self.var,
                "count": self.count}

    def load_state(self, state: dict) -> None:
        self.returns = np.asarray(state["returns"], dtype=np.float64).copy()
        self.mean, self.var, self.count = (float(state[k]) for k in ("mean", "var", "count"))


def compute_gae(
    rewards: torch.Tensor,  # (T, N)
    values: torch.Tensor,  # (T, N)
    dones: torch.Tensor,  # (T, N): 1 where the episode ended at step t
    next_value: torch.Tensor,  # (N,) value of the observation after the rollout
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation; returns (advantages, returns), each (T, N).

    ``dones[t]`` marks an episode that ended with the action at step t, so the value of
    the next observation (a new maze) is not bootstrapped into step t.
    """
    num_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(next_value)
    for t in reversed(range(num_steps)):
        following = next_value if t == num_steps - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * following * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        advantages[t] = last
    return advantages, advantages + values


@dataclass
class UpdateStats:
    """Means over the update's minibatches (CleanRL's loss tags)."""

    policy_loss: float
    value_loss: float
    entropy: float
    approx_kl: float
    clipfrac: float
    explained_variance: float


def ppo_update(
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    buffer: RolloutBuffer,
    advantages: torch.Tensor,  # (T, N)
    returns: torch.Tensor,  # (T, N)
    config: PPOConfig,
    generator: torch.Generator,
    autocast: bool = False,
    all_reduce_grads=None,
) -> UpdateStats:
    """``config.epochs`` passes of clipped-surrogate PPO over shuffled minibatches.

    ``all_reduce_grads`` (optional) averages gradients across data-parallel ranks.
    """
    b_obs = buffer.obs.flatten(0, 1)  # (B, 64, 64, 3)
    b_actions = buffer.actions.flatten()  # (B,)
    b_logprobs = buffer.logprobs.flatten()
    b_values = buffer.values.flatten()
    b_adv = advantages.flatten()
    b_returns = returns.flatten()
    batch = b_obs.shape[0]
    sums = torch.zeros(5, device=b_obs.device)  # pg, v, entropy, kl, clipfrac
    updates = 0
    for _ in range(config.epochs):
        order = torch.randperm(batch, generator=generator, device=generator.device)
        order = order.to(b_obs.device)
        for start in range(0, batch, config.minibatch_size):
            idx = order[start : start + config.minibatch_size]  # (M,)
            with torch.autocast(b_obs.device.type, dtype=torch.bfloat16, enabled=autocast):
                logits, new_values = policy(b_obs[idx])
            logits, new_values = logits.float(), new_values.float()
            logp_all = torch.log_softmax(logits, dim=-1)  # (M, A)
            new_logprob = logp_all.gather(1, b_actions[idx, None]).squeeze(1)
            entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
            log_ratio = new_logprob - b_logprobs[idx]
            ratio = log_ratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - log_ratio).mean()
                clipfrac = ((ratio - 1).abs() > config.clip_coef).float().mean()
            adv = b_adv[idx]
            if config.normalize_advantages:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(
                -adv * ratio, -adv * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
            ).mean()
            if config.clip_value_loss:
                clipped = b_values[idx] + (new_values - b_values[idx]).clamp(
                    -config.clip_coef, config.clip_coef
                )
                v_loss = 0.5 * torch.max(
                    (new_values - b_returns[idx]) ** 2, (clipped - b_returns[idx]) ** 2
                ).mean()
            else:
                v_loss = 0.5 * ((new_values - b_returns[idx]) ** 2).mean()
            loss = pg_loss - config.ent_coef * entropy + config.vf_coef * v_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if all_reduce_grads is not None:
                all_reduce_grads()
            nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
            sums += torch.stack([pg_loss, v_loss, entropy, approx_kl, clipfrac]).detach()
            updates += 1
    pg, v, ent, kl, cf = (sums / updates).tolist()
    var_returns = b_returns.var()
    explained = float("nan") if var_returns == 0 else float(
        1 - (b_returns - b_values).var() / var_returns
    )
    return UpdateStats(pg, v, ent, kl, cf, explained)
