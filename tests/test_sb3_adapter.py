"""The SB3 VecEnv adapter: SB3 semantics checked step by step against MazeVecEnv, the
VecEnv helper methods, and SB3's PPO with its stock CnnPolicy.

Cells are (x, y) in inner-maze coordinates, (0, 0) the bottom-left start.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.utils import check_for_correct_spaces
from stable_baselines3.common.vec_env import VecMonitor, VecTransposeImage

from mazepolicy.envs import NOOP, FixedCell, MazeVecEnv, TopRightRegion
from mazepolicy.envs.sb3 import MazeSB3VecEnv
from mazepolicy.envs.single import MazeEnv
from mazepolicy.envs.vec_env import OUTCOME_KEYS, RUNNING_KEYS

# easy mazes, cheese two cells above the start, 30-step episodes: random actions both
# reach the cheese and time out within a few hundred steps
SETTINGS = dict(cheese=FixedCell(0, 2), distribution_mode="easy", max_episode_steps=30,
                num_threads=1)


def as_python(value):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else tuple(value.tolist())


def test_reset_returns_obs_and_stores_reset_infos():
    venv = MazeSB3VecEnv(num_envs=3, seed=4, **SETTINGS)
    ref = MazeVecEnv(num_envs=3, seed=4, **SETTINGS)
    obs = venv.reset()
    ref_obs, ref_info = ref.reset()
    assert isinstance(obs, np.ndarray) and (obs == ref_obs).all()
    assert venv.reset_infos == [
        {key: as_python(ref_info[key][i]) for key in RUNNING_KEYS} for i in range(3)
    ]
    first_seeds = [info["level_seed"] for info in venv.reset_infos]
    venv.reset()  # unseeded: new mazes
    assert [info["level_seed"] for info in venv.reset_infos] != first_seeds
    assert venv.seed(4) == [4, 4, 4]
    assert (venv.reset() == ref_obs).all()  # seeded again: the same mazes
    assert [info["level_seed"] for info in venv.reset_infos] == first_seeds


def test_steps_match_the_vector_env():
    venv = MazeSB3VecEnv(num_envs=8, seed=1, **SETTINGS)
    ref = MazeVecEnv(num_envs=8, seed=1, **SETTINGS)
    venv.reset()
    ref.reset()
    rng = np.random.default_rng(0)
    ends = {"cheese": 0, "timeout": 0}
    for _ in range(150):
        actions = rng.integers(0, 15, 8)
        obs, rewards, dones, infos = venv.step(actions)
        ref_obs, ref_rew, ref_term, ref_trunc, ref_info = ref.step(actions)
        assert (obs == ref_obs).all() and (rewards == ref_rew).all()
        assert dones.dtype == bool and (dones == (ref_term | ref_trunc)).all()
        assert len(infos) == 8
        for i, info in enumerate(infos):
            running = {key: as_python(ref_info[key][i]) for key in RUNNING_KEYS}
            assert {key: info[key] for key in RUNNING_KEYS} == running
            if not dones[i]:
                assert set(info) == set(RUNNING_KEYS)
                continue
            # the finished episode's own last frame, not the next maze's first
            assert (info["terminal_observation"] == ref_info["final_obs"][i]).all()
            assert not (info["terminal_observation"] == obs[i]).all()
            assert info["TimeLimit.truncated"] == bool(ref_trunc[i]) == info["timed_out"]
            assert {key: info[key] for key in OUTCOME_KEYS} == {
                key: as_python(ref_info[key][i]) for key in OUTCOME_KEYS
            }
            assert info["episode"] == {"r": float(ref_info["episode_return"][i]),
                                       "l": int(ref_info["episode_length"][i])}
            assert "episode" not in ref_info  # the vector env leaves it to gymnasium
            if info["reached_cheese"]:
                ends["cheese"] += 1
                assert info["episode"]["r"] == 10.0 and not info["TimeLimit.truncated"]
            else:
                ends["timeout"] += 1
                assert info["episode"] == {"r": 0.0, "l": 30}
    assert ends["cheese"] > 0 and ends["timeout"] > 0


def test_vec_monitor_agrees_with_our_episode_info():
    venv = MazeSB3VecEnv(num_envs=4, seed=2, **SETTINGS)
    monitored = VecMonitor(MazeSB3VecEnv(num_envs=4, seed=2, **SETTINGS))
    venv.reset()
    monitored.reset()
    rng = np.random.default_rng(1)
    episodes = 0
    for _ in range(70):
        actions = rng.integers(0, 15, 4)
        _, _, dones, infos = venv.step(actions)
        _, _, _, monitor_infos = monitored.step(actions)
        for i in np.flatnonzero(dones):
            episodes += 1
            expected = monitor_infos[i]["episode"]
            assert infos[i]["episode"] == {"r": expected["r"], "l": expected["l"]}
    assert episodes >= 8


def test_vec_env_helpers():
    venv = MazeSB3VecEnv.from_variant("maze-topright-5", num_envs=3, seed=0)
    venv.reset()
    assert venv.get_attr("distribution_mode") == ["hard"] * 3
    assert venv.get_attr("cheese", indices=[1]) == [TopRightRegion(5)]
    assert venv.has_attr("maze_dims") and not venv.has_attr("no_such_attribute")
    frames = venv.env_method("set_cheese", (0, 2), indices=[1])
    assert len(frames) == 1 and frames[0].shape == (64, 64, 3)
    assert venv.env.cheese_cells[1].tolist() == [0, 2]
    assert venv.env_method("set_mouse", (2, 0), indices=2)[0].shape == (64, 64, 3)
    assert venv.env.mouse_cells[2].tolist() == [2, 0]
    venv.set_attr("placement_seed", 3)
    assert venv.env.placement_seed == 3
    with pytest.raises(ValueError, match="shared"):
        venv.set_attr("placement_seed", 4, indices=[0])
    assert venv.env_is_wrapped(VecMonitor) == [False] * 3
    assert len(venv.get_images()) == 3 and venv.get_images()[0].shape == (64, 64, 3)
    with pytest.warns(UserWarning, match="render_mode"):
        assert venv.render() is None
    venv.close()
    venv.close()  # idempotent


def test_render_rgb_array_tiles_engine_frames():
    venv = MazeSB3VecEnv(num_envs=4, seed=0, render_mode="rgb_array", num_threads=1)
    venv.reset()
    assert venv.render_mode == "rgb_array"
    assert venv.render().shape == (1024, 1024, 3)  # 2 x 2 tiles of 512 x 512


def test_step_wait_without_step_async_raises():
    venv = MazeSB3VecEnv(num_envs=2, seed=0)
    venv.reset()
    venv.step(np.full(2, NOOP))
    with pytest.raises(RuntimeError, match="step_async"):
        venv.step_wait()


def test_single_env_passes_sb3_env_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a warning
        sb3_check_env(MazeEnv("maze-topright-5", seed=0))


@pytest.fixture
def one_torch_thread():
    """A tiny network runs fastest on one thread (and does not fight the engine's)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sb3_ppo_cnn_policy_learns_and_logs_episodes(tmp_path, one_torch_thread):
    venv = VecTransposeImage(MazeSB3VecEnv(num_envs=4, seed=0, **SETTINGS))
    model = PPO("CnnPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0)
    check_for_correct_spaces(venv, model.observation_space, model.action_space)
    assert model.observation_space.shape == (3, 64, 64)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(512, log_interval=1)
    assert model.num_timesteps == 512
    assert len(model.ep_info_buffer) > 0
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert len(rows) == 2 and all(row["rollout/ep_len_mean"] for row in rows)
    assert 0 <= float(rows[-1]["rollout/ep_rew_mean"]) <= 10
