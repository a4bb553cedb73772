"""The SB3 VecEnv adapter against MazeVecEnv ground truth, and SB3 PPO with our network."""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecTransposeImage

from mazepolicy.envs import NOOP, MazeVecEnv, TopRightRegion
from mazepolicy.envs.sb3 import MazeSB3VecEnv
from mazepolicy.models.sb3 import ImpalaFeaturesExtractor, impala_policy_kwargs


def test_reset_and_step_semantics_match_the_vector_env():
    venv = MazeSB3VecEnv(num_envs=3, cheese=TopRightRegion(5), seed=4)
    ref = MazeVecEnv(num_envs=3, cheese=TopRightRegion(5), seed=4)
    obs = venv.reset()
    ref_obs, ref_info = ref.reset(seed=4)
    assert (obs == ref_obs).all()
    assert [i["cheese_cell"] for i in venv.reset_infos] == [
        tuple(c) for c in ref_info["cheese_cell"]
    ]
    for env in (venv.env, ref):  # env 0 one step before the timeout
        state = env.get_state(0)
        state.cur_time = 499
        env.set_state(0, state)
    obs, rewards, dones, infos = venv.step(np.full(3, NOOP))
    ref_obs, _, _, ref_truncated, ref_info = ref.step(np.full(3, NOOP))
    assert (obs == ref_obs).all() and dones.tolist() == [True, False, False]
    assert infos[0]["TimeLimit.truncated"] and infos[0]["timed_out"]
    assert infos[0]["episode"] == {"r": 0.0, "l": 500}
    assert "terminal_observation" not in infos[0]
    assert "episode" not in infos[1]
    assert infos[0]["level_seed"] == int(ref_info["level_seed"][0])


def test_env_method_reaches_single_envs():
    venv = MazeSB3VecEnv(num_envs=2, seed=0)
    venv.reset()
    venv.env_method("set_cheese", (0, 2), indices=[1])
    assert tuple(venv.env.cheese_cells[1]) == (0, 2)
    assert venv.get_attr("distribution_mode") == ["hard", "hard"]


def test_sb3_ppo_trains_our_impala_network():
    venv = VecTransposeImage(MazeSB3VecEnv(num_envs=4, cheese=TopRightRegion(5), seed=0))
    model = PPO("CnnPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0,
                policy_kwargs=impala_policy_kwargs(scale=1))
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(256)
    assert model.num_timesteps == 256
    assert isinstance(model.policy.features_extractor, ImpalaFeaturesExtractor)
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
