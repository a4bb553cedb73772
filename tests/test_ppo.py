"""PPO pieces against references, the update's direction, the config, and a short
learning run on a real maze."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.wrappers.utils import RunningMeanStd

from mazepolicy.envs import FixedCell, MazeVecEnv
from mazepolicy.envs.actions import RIGHT
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.ppo.config import PPOConfig
from mazepolicy.train.ppo.loss import RewardNormalizer, explained_variance, ppo_update
from mazepolicy.train.ppo.rollout import RolloutStorage, compute_gae
from mazepolicy.train.ppo.trainer import Trainer
from mazepolicy.train.recipes import list_recipes, load_recipe


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread: on a shared 2-core machine, waiting OpenMP threads cost more than
    they give (see agents/ppo-tiny.toml)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def naive_gae(rewards, values, dones, next_value, gamma, lam):
    """GAE by its definition: sum over l of (gamma * lam)^l delta_{t+l}, within the episode."""
    steps, envs = rewards.shape
    values_after = np.vstack([values[1:], next_value[None]])  # value of the frame after step t
    delta = rewards + gamma * values_after * (1 - dones) - values
    adv = np.zeros_like(rewards)
    for n in range(envs):
        for t in range(steps):
            weight = 1.0
            for k in range(t, steps):
                adv[t, n] += weight * delta[k, n]
                if dones[k, n]:
                    break
                weight *= gamma * lam
    return adv


def test_gae_matches_hand_computation_with_episode_end():
    gamma, lam = 0.9, 0.8
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [0.4], [0.3]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends with step 1's action
    adv, ret = compute_gae(rewards, values, dones, torch.tensor([0.7]), gamma, lam)
    d2 = 2.0 + gamma * 0.7 - 0.3
    d1 = 0.0 - 0.4  # terminal: the next frame is a new maze, not bootstrapped
    d0 = 1.0 + gamma * 0.4 - 0.5
    torch.testing.assert_close(adv[:, 0], torch.tensor([d0 + gamma * lam * d1, d1, d2]))
    torch.testing.assert_close(ret, adv + values)


def test_gae_matches_its_definition_on_random_rollouts():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(20, 5)), rng.normal(size=(20, 5))
    dones = (rng.random((20, 5)) < 0.2).astype(np.float64)
    next_value = rng.normal(size=5)
    adv, _ = compute_gae(*(torch.from_numpy(a) for a in (rewards, values, dones, next_value)),
                         gamma=0.99, lam=0.9)
    np.testing.assert_allclose(adv.numpy(), naive_gae(rewards, values, dones, next_value,
                                                      0.99, 0.9), rtol=1e-10)


def test_reward_normalizer_follows_baselines_vec_normalize():
    """Same statistics as gymnasium's RunningMeanStd fed baselines' discounted returns."""
    rng = np.random.default_rng(1)
    gamma, norm, rms = 0.99, RewardNormalizer(3, 0.99, clip=5.0), RunningMeanStd()
    ret = np.zeros(3)
    for _ in range(50):
        rewards = rng.choice([0.0, 10.0], size=3, p=[0.9, 0.1])
        dones = rng.random(3) < 0.1
        out = norm(rewards, dones)
        ret = ret * gamma + rewards
        rms.update(ret)
        expected = np.clip(rewards / np.sqrt(rms.var + 1e-8), -5.0, 5.0)
        ret[dones] = 0.0
        np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert norm.var == pytest.approx(float(rms.var)) and norm.count == pytest.approx(rms.count)
    copy = RewardNormalizer(3, gamma)
    copy.load_state_dict(norm.state_dict())
    np.testing.assert_array_equal(copy(np.ones(3), dones), norm(np.ones(3), dones))


def _random_rollout(policy, steps=8, envs=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    storage = RolloutStorage(steps, envs, torch.device("cpu"))
    storage.obs.copy_(torch.randint(0, 256, storage.obs.shape, dtype=torch.uint8, generator=gen))
    storage.actions.copy_(torch.randint(0, 15, storage.actions.shape, generator=gen))
    with torch.no_grad():
        logits, values = policy(storage.obs.flatten(0, 1))
        logp = torch.log_softmax(logits, -1).gather(1, storage.actions.flatten()[:, None])
    storage.logprobs.copy_(logp.view(steps, envs))
    storage.values.copy_(values.view(steps, envs))
    return storage


def test_update_raises_probability_of_advantaged_action_and_fits_values():
    torch.manual_seed(0)
    policy = ImpalaPolicy()
    storage = _random_rollout(policy)
    config = PPOConfig(num_envs=8, num_steps=8, epochs=8, minibatches=2, ent_coef=0.0)
    advantages = torch.where(storage.actions == RIGHT, 1.0, -1.0)  # (T, N)
    returns = torch.full((8, 8), 0.5)
    frames = storage.obs.flatten(0, 1)
    with torch.no_grad():
        before = torch.softmax(policy(frames)[0], -1)[:, RIGHT].mean()
        value_error = (policy(frames)[1] - 0.5).abs().mean()
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    stats = ppo_update(policy, opt, storage, advantages, returns, config,
                       torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, values = policy(frames)
    assert torch.softmax(logits, -1)[:, RIGHT].mean() > 1.5 * before
    assert (values - 0.5).abs().mean() < value_error
    assert stats.approx_kl > 0 and 0 <= stats.clipfrac <= 1 and stats.entropy > 0


def test_update_with_nothing_to_learn_changes_nothing():
    """Zero advantages, exact values and no entropy bonus: zero gradients, so the
    weights stay bitwise the same (no stray loss term)."""
    torch.manual_seed(0)
    policy = ImpalaPolicy()
    storage = _random_rollout(policy, steps=4, envs=4)
    config = PPOConfig(num_envs=4, num_steps=4, epochs=1, minibatches=1, ent_coef=0.0,
                       vf_coef=0.0, normalize_advantages=False)
    before = policy.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    opt = torch.optim.SGD(policy.parameters(), lr=1.0)
    stats = ppo_update(policy, opt, storage, torch.zeros(4, 4), storage.values.clone(), config,
                       torch.Generator().manual_seed(0))
    assert stats.policy_loss == 0 and stats.approx_kl == pytest.approx(0, abs=1e-6)
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(target, target) == 1.0
    assert explained_variance(torch.zeros(3), target) == 0.0
    assert explained_variance(target + 5.0, target) == 1.0
    assert np.isnan(explained_variance(target, torch.ones(3)))


def test_config_recipes_overrides_and_validation(tmp_path):
    assert {"ppo-impala", "ppo-tiny"} <= set(list_recipes())
    paper = load_recipe("ppo-impala")
    assert paper == PPOConfig()  # the recipe spells out the defaults: the paper's settings
    assert (paper.num_envs, paper.num_steps, paper.epochs, paper.minibatches) == (256, 256, 3, 8)
    assert (paper.gamma, paper.gae_lambda, paper.lr, paper.adam_eps) == (0.999, 0.95, 5e-4, 1e-5)
    assert (paper.clip_coef, paper.vf_coef, paper.ent_coef, paper.max_grad_norm) == (
        0.2, 0.5, 0.01, 0.5)
    assert paper.normalize_reward and paper.iterations() == 1221
    assert paper.iterations(world_size=4) == 306
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 1e-3\nlr = 1e-3\nclip = 1\n")
    with pytest.raises(ValueError, match=r"\['clip', 'learning_rate'\]"):
        load_recipe(bad)
    with pytest.raises(ValueError, match="unknown recipe"):
        load_recipe("no-such-recipe")
    assert paper.with_overrides(["lr=1e-4", "bf16=true", "env=maze-anywhere", "lr=2"]) == (
        paper.replace(lr=2.0, bf16=True, env="maze-anywhere"))
    with pytest.raises(ValueError, match="key=value"):
        paper.with_overrides(["lr"])
    with pytest.raises(TypeError, match="num_envs must be int"):
        paper.with_overrides(["num_envs=many"])
    with pytest.raises(TypeError, match="bf16 must be bool"):
        paper.replace(bf16=1)
    with pytest.raises(ValueError, match="minibatches"):
        PPOConfig(num_envs=3, num_steps=3, minibatches=2)
    with pytest.raises(ValueError, match="env_groups"):
        PPOConfig(num_envs=6, env_groups=4)
    with pytest.raises(ValueError, match="device"):
        PPOConfig(device="tpu")


def test_ppo_learns_to_step_onto_the_cheese_next_to_the_start():
    """The learning signal end to end (env, rollout, normaliser, GAE, update): one easy
    maze, the cheese one cell right of the start. The policy's probability of stepping
    right on the start frame rises from about 3/15 to near 1 within 8 iterations
    (1,024 steps); episodes shorten from several steps to about one.
    """
    env = MazeVecEnv(8, cheese=FixedCell(1, 0), distribution_mode="easy", level_seeds=[0],
                     max_episode_steps=50)
    env.reset()
    assert env.free_grid(0)[0, 1], "level 0 should have an open cell right of the start"
    config = PPOConfig(env="maze-topright-5-easy", num_envs=8, num_steps=16, minibatches=2,
                       gamma=0.9, total_steps=8 * 16 * 8, eval_episodes=0, device="cpu",
                       torch_threads=1, env_threads=1)
    with Trainer(config, env=env) as trainer:
        start = torch.from_numpy(trainer.frames[0][:1])

        def p_right() -> float:
            with torch.no_grad():
                return torch.softmax(trainer.policy(start)[0], -1)[0, 6:9].sum().item()

        before = p_right()
        lengths = [np.mean([e["length"] for e in trainer.train_iteration()[0]])
                   for _ in range(8)]
        after = p_right()
    assert before < 0.3 and after > 0.8, (before, after)
    assert lengths[-1] < 0.5 * lengths[0], lengths
