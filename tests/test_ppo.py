"""PPO pieces against hand computations, and the update's direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mazepolicy.agents.impala import ImpalaPolicy
from mazepolicy.agents.ppo import RewardNormalizer, RolloutBuffer, compute_gae, ppo_update
from mazepolicy.agents.ppo_config import PPOConfig, list_recipes, load_recipe


def test_gae_matches_hand_computation_with_episode_end():
    gamma, lam = 0.9, 0.8
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [0.4], [0.3]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])  # episode ends after step 1
    next_value = torch.tensor([0.7])
    adv, ret = compute_gae(rewards, values, dones, next_value, gamma, lam)
    d2 = 2.0 + gamma * 0.7 - 0.3
    d1 = 0.0 - 0.4  # terminal: no bootstrap from the next maze
    d0 = 1.0 + gamma * 0.4 - 0.5
    expected = [d0 + gamma * lam * d1, d1, d2]
    torch.testing.assert_close(adv[:, 0], torch.tensor(expected))
    torch.testing.assert_close(ret, adv + values)


def test_reward_normalizer_divides_by_running_return_std():
    norm = RewardNormalizer(num_envs=2, gamma=0.5)
    rewards = np.array([1.0, 0.0])
    out = norm(rewards, np.array([False, False]))
    returns = np.array([1.0, 0.0])
    # running stats after one batch: mean/var of the returns, blended with the prior
    eps = 1e-8
    total = eps + 2
    mean = returns.mean() * 2 / total
    var = (1.0 * eps + returns.var() * 2 + returns.mean() ** 2 * eps * 2 / total) / total
    assert norm.mean == pytest.approx(mean) and norm.var == pytest.approx(var)
    np.testing.assert_allclose(out, rewards / np.sqrt(var + eps), rtol=1e-6)
    norm(rewards, np.array([True, False]))
    assert norm.returns[0] == 0.0 and norm.returns[1] == 0.0


def test_update_raises_probability_of_advantaged_action():
    torch.manual_seed(0)
    policy = ImpalaPolicy()
    config = PPOConfig(num_envs=8, num_steps=8, epochs=4, minibatches=2, ent_coef=0.0)
    buf = RolloutBuffer(8, 8, torch.device("cpu"))
    buf.obs.copy_(torch.randint(0, 256, buf.obs.shape, dtype=torch.uint8))
    buf.actions.copy_(torch.randint(0, 15, buf.actions.shape))
    with torch.no_grad():
        logits, values = policy(buf.obs.flatten(0, 1))
        logp = torch.log_softmax(logits, -1).gather(1, buf.actions.flatten()[:, None])[:, 0]
    buf.logprobs.copy_(logp.view(8, 8))
    buf.values.copy_(values.view(8, 8))
    advantages = torch.where(buf.actions == 7, 1.0, -1.0)
    before = torch.softmax(logits, -1)[:, 7].mean()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    stats = ppo_update(policy, opt, buf, advantages, buf.values + advantages, config,
                       torch.Generator().manual_seed(0))
    with torch.no_grad():
        after = torch.softmax(policy(buf.obs.flatten(0, 1))[0], -1)[:, 7].mean()
    assert after > before * 1.5
    assert stats.approx_kl > 0 and 0 <= stats.clipfrac <= 1


def test_config_validation_and_recipes(tmp_path):
    assert {"ppo-impala", "ppo-tiny"} <= set(list_recipes())
    paper = load_recipe("ppo-impala")
    assert (paper.num_envs, paper.num_steps, paper.epochs, paper.minibatches) == (256, 256, 3, 8)
    assert (paper.gamma, paper.gae_lambda, paper.lr, paper.clip_coef) == (0.999, 0.95, 5e-4, 0.2)
    assert (paper.vf_coef, paper.ent_coef, paper.max_grad_norm) == (0.5, 0.01, 0.5)
    assert paper.normalize_reward
    with pytest.raises(ValueError, match="minibatches"):
        PPOConfig(num_envs=3, num_steps=3, minibatches=2)
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 1e-3\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_recipe(bad)
    assert paper.with_overrides(["lr=1e-4", "bf16=true", "env=maze-anywhere"]) == paper.replace(
        lr=1e-4, bf16=True, env="maze-anywhere"
    )
    with pytest.raises(ValueError, match="key=value"):
        paper.with_overrides(["lr"])
