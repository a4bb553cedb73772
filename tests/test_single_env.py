"""The gymnasium single env, registration, make/make_vec, and TOML variants."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mazepolicy.envs  # noqa: F401  (registers the ids)
from mazepolicy.envs import NOOP, MazeVecEnv, TopRightRegion, list_variants, load_variant
from mazepolicy.envs.variants import EnvVariant


def test_check_env_passes():
    check_env(gym.make("mazepolicy/Maze-v0", cheese=TopRightRegion(5)).unwrapped)


def test_make_variant_ids_and_info():
    env = gym.make("mazepolicy/maze-topright-5-v0")
    obs, info = env.reset(seed=3)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    n = info["maze_dim"]
    assert (info["cheese_cell"] >= n - 5).all() and tuple(info["mouse_cell"]) == (0, 0)
    for variant in list_variants():
        assert f"mazepolicy/{variant}-v0" in gym.registry


def test_make_vec_gives_native_vector_env():
    env = gym.make_vec("mazepolicy/maze-topright-5-v0", num_envs=3)
    assert isinstance(env, MazeVecEnv)
    _, info = env.reset(seed=0)
    assert (info["cheese_cell"] >= (info["maze_dim"] - 5)[:, None]).all()


def test_episode_end_then_reset_continues_with_the_next_maze():
    env = gym.make("mazepolicy/maze-topright-5-v0").unwrapped
    env.reset(seed=1)
    state = env.vec.get_state(0)
    state.cur_time = 499
    env.vec.set_state(0, state)
    obs, reward, terminated, truncated, info = env.step(NOOP)
    assert truncated and not terminated and info["timed_out"]
    next_seed = env.vec.get_state(0).level_seed
    obs2, info2 = env.reset()
    assert (obs2 == obs).all() and info2["level_seed"] == next_seed
    assert "timed_out" not in info2


def test_variants_load_and_validate(tmp_path):
    assert {"maze-topright-5", "maze-anywhere"} <= set(list_variants())
    v = load_variant("maze-anywhere")
    assert v == EnvVariant(
        name="maze-anywhere", description=v.description, distribution_mode="hard", cheese="anywhere"
    )
    with pytest.raises(ValueError, match="available"):
        load_variant("maze-nowhere")
    bad = tmp_path / "bad.toml"
    bad.write_text('distribution_mode = "hard"\ncolour = "red"\n')
    with pytest.raises(ValueError, match="colour"):
        load_variant(bad)
    bad.write_text('cheese = "top-left"\n')
    with pytest.raises(ValueError, match="cheese spec"):
        load_variant(bad)
    good = tmp_path / "corner.toml"
    good.write_text('distribution_mode = "easy"\ncheese = {fixed = [2, 2]}\n')
    env = load_variant(good).make_vec(num_envs=2, seed=0)
    _, info = env.reset()
    assert (info["cheese_cell"] == 2).all() and env.distribution_mode == "easy"
