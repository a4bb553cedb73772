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
    obs = first = venv.reset()
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
    # only no-ops: the final frame is the maze's first, and not the next maze's frame
    assert (infos[0]["terminal_observation"] == first[0]).all()
    assert not (infos[0]["terminal_observation"] == obs[0]).all()
    assert "terminal_observation" not in infos[1]
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


def test_make_vec_env_route_gets_a_real_terminal_observation():
    """SB3's make_vec_env over the registered single env: Monitor + DummyVecEnv store
    the step's frame as terminal_observation, which is now the finished maze's own."""
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("mazepolicy/maze-nocheese-v0", n_envs=2, seed=0,
                        env_kwargs={"max_episode_steps": 4})
    first = venv.reset()
    for _ in range(4):
        obs, _, dones, infos = venv.step(np.full(2, NOOP))
    assert dones.all()
    for i in range(2):  # no-ops only: the final frame is the maze's first frame
        assert (infos[i]["terminal_observation"] == first[i]).all()
        assert not (infos[i]["terminal_observation"] == obs[i]).all()
        assert infos[i]["TimeLimit.truncated"] and infos[i]["episode"]["l"] == 4
