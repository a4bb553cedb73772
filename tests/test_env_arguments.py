"""Every argument of the env is checked before it reaches the engine (which aborts the
process on bad values); errors leave the env consistent or refuse further use."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest

import mazepolicy  # noqa: F401  (registers the gymnasium ids)
from mazepolicy.envs import NOOP, RIGHT, MazeVecEnv, PlacementSkipped, TopRightRegion
from mazepolicy.envs.arguments import engine_seed
from mazepolicy.envs.single import MazeEnv


@pytest.mark.parametrize("kwargs, error, words", [
    ({"num_levels": -5}, ValueError, "num_levels must be >= 0"),
    ({"start_level": -5}, ValueError, "start_level must be >= 0"),
    ({"start_level": 2**31 - 10, "num_levels": 20}, ValueError, "start_level \\+ num_levels"),
    ({"num_threads": -1}, ValueError, "num_threads must be >= 0"),
    ({"num_threads": 2.0}, TypeError, "num_threads must be an int"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"seed": True}, TypeError, "seed must be an int"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"seed": 2**64}, ValueError, "seed must be <="),
    ({"num_envs": True}, TypeError, "num_envs must be an int"),
    ({"max_episode_steps": 2.5}, TypeError, "max_episode_steps must be an int"),
    ({"max_episode_steps": 0}, ValueError, "max_episode_steps must be >= 1"),
    ({"level_seeds": "12"}, TypeError, "level_seeds must be an iterable of ints"),
    ({"level_seeds": [1.7]}, TypeError, "each of level_seeds must be an int"),
    ({"level_seeds": [True]}, TypeError, "each of level_seeds must be an int"),
    ({"level_seeds": 5}, TypeError, "level_seeds must be an iterable"),
    ({"placement_seed": -1}, ValueError, "placement_seed must be >= 0"),
])
def test_bad_arguments_raise_python_errors_naming_them(kwargs, error, words):
    with pytest.raises(error, match=words):
        MazeVecEnv(num_envs=kwargs.pop("num_envs", 2), **kwargs).reset()


def test_bad_arguments_through_gymnasium_make_raise_too():
    with pytest.raises(ValueError, match="num_levels"):
        gym.make("mazepolicy/maze-topright-5-v0", num_levels=-5)
    with pytest.raises(ValueError, match="num_threads"):
        gym.make_vec("mazepolicy/maze-topright-5-v0", num_envs=2, num_threads=-1)


def test_numpy_integer_seeds_and_the_full_gymnasium_seed_range():
    a = MazeVecEnv(num_envs=2, seed=np.int64(3))
    b = MazeVecEnv(num_envs=2, seed=3)
    assert (a.reset()[1]["level_seed"] == b.reset()[1]["level_seed"]).all()
    big = [2**31, 2**63 + 5, 2**64 - 1]
    firsts = []
    for seed in big:  # deterministic: the same big seed, the same mazes
        once = a.reset(seed=seed)[1]["level_seed"]
        again = MazeVecEnv(num_envs=2, seed=seed).reset()[1]["level_seed"]
        assert (once == again).all()
        firsts.append(tuple(once))
        assert 0 <= engine_seed(seed) < 2**31
    assert len(set(firsts)) == 3
    assert engine_seed(12345) == 12345  # small seeds are the engine's seeds as before


def test_reset_with_one_seed_per_env():
    env = MazeVecEnv(num_envs=3, cheese=TopRightRegion(5), seed=0)
    env.reset()
    before = env.running_level_seeds
    _, info = env.reset(seed=[11, None, np.uint32(12)])
    for i, seed in ((0, 11), (2, 12)):  # env i plays a one-env env of that seed
        ref = MazeVecEnv(num_envs=1, cheese=TopRightRegion(5), seed=seed)
        _, ref_info = ref.reset()
        assert info["level_seed"][i] == ref_info["level_seed"][0]
        assert (info["cheese_cell"][i] == ref_info["cheese_cell"][0]).all()
        assert env.get_state(i).to_bytes() == ref.get_state(0).to_bytes()
    assert info["level_seed"][1] != before[1]  # None: its own sequence goes on
    with pytest.raises(ValueError, match="one seed per env"):
        env.reset(seed=[1, 2])
    with pytest.raises(TypeError, match="seed must be an int"):
        env.reset(seed=[1, 2.5, None])
    with pytest.raises(ValueError, match="no options"):
        env.reset(options={"x": 1})


@pytest.mark.parametrize("actions, words", [
    (np.array([2**32 + 7, 4]), "actions must be in 0..14"),
    (np.array([True, False]), "bools are not actions"),
    (np.array([-1, 4]), "actions must be in 0..14"),
    (np.array([np.nan, 4.0]), "actions must be in 0..14"),
    (np.array([1.5, 4.0]), "actions must be integers"),
    (np.array(["a", "b"]), "actions must be ints"),
    (np.array([1, 2, 3]), "shape"),
])
def test_out_of_range_and_odd_actions_are_refused_before_any_cast(actions, words):
    env = MazeVecEnv(num_envs=2, seed=0)
    env.reset()
    mouse = env.mouse_cells
    with pytest.raises(ValueError, match=words):
        env.step(actions)
    assert (env.mouse_cells == mouse).all() and (env.episode_steps == 0).all()
    env.step(np.array([RIGHT, np.uint64(4)]))  # the env is still usable


def test_single_env_refuses_bool_actions():
    env = MazeEnv("maze-anywhere", seed=0)
    env.reset()
    with pytest.raises(ValueError, match="action must be an int"):
        env.step(True)


def raising_placement(state, rng):
    if state.level_seed % 3 == 0:
        raise KeyError("a bug in the placement")
    return TopRightRegion(5)(state, rng)


def test_an_exception_in_a_placement_during_autoreset_refuses_further_use():
    env = MazeVecEnv(num_envs=8, cheese=raising_placement, level_seeds=[1, 2, 4, 5, 7, 8,
                     10, 11, 3, 13, 14, 16, 17, 19, 20, 22], seed=0, max_episode_steps=3)
    env.reset()  # seeds 1 .. 11: none divisible by 3
    env.step(np.full(8, NOOP))
    env.step(np.full(8, NOOP))
    with pytest.raises(KeyError, match="a bug"):
        env.step(np.full(8, NOOP))  # the autoreset reaches seed 3
    for call in (lambda: env.step(np.full(8, NOOP)), lambda: env.get_state(0),
                 lambda: env.set_cheese(0, (0, 2)), env.snapshot, env.observe):
        with pytest.raises(RuntimeError, match="no longer matches its engine.*KeyError"):
            call()
    env.cheese = TopRightRegion(5)
    _, info = env.reset()  # starts over: consistent again
    assert (env.mouse_cells == 0).all() and (info["episode_step"] == 0).all()
    for i in range(8):
        state = env.get_state(i)
        assert state.cheese_cell == tuple(info["cheese_cell"][i])
        assert state.mouse_cell == (0, 0) and state.cur_time == 0


def test_placement_skips_are_not_failures():
    def skip_all(state, rng):
        raise PlacementSkipped("never")

    env = MazeVecEnv(num_envs=2, cheese=skip_all, seed=0, max_episode_steps=1)
    env.reset()
    _, _, _, truncated, info = env.step(np.full(2, NOOP))
    assert truncated.all() and info["_placement_skipped"].all()
    env.step(np.full(2, NOOP))


def test_a_closed_env_says_so():
    env = MazeVecEnv(num_envs=2, seed=0)
    env.reset()
    env.close()
    for call in (lambda: env.step(np.full(2, NOOP)), lambda: env.get_state(0), env.reset,
                 env.observe):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    env.close()  # closing twice is fine
    single = MazeEnv("maze-anywhere", seed=0)
    single.reset()
    single.close()
    with pytest.raises(RuntimeError, match="closed"):
        single.step(NOOP)


@pytest.mark.parametrize("autoreset", ["same_step", "next_step"])
def test_pickled_and_deep_copied_envs_continue_exactly(autoreset):
    env = MazeVecEnv(num_envs=3, cheese=TopRightRegion(5), seed=4, max_episode_steps=6,
                     autoreset_mode=autoreset)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(9):
        env.step(rng.integers(0, 15, 3))
    copies = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    for _ in range(20):
        actions = rng.integers(0, 15, 3)
        obs, reward, terminated, truncated, info = env.step(actions)
        for other in copies:
            o, r, te, tr, i = other.step(actions)
            assert (o == obs).all() and (r == reward).all() and (tr == truncated).all()
            assert (i["level_seed"] == info["level_seed"]).all()
            assert (i["mouse_cell"] == info["mouse_cell"]).all()
    single = MazeEnv("maze-topright-5", seed=1)
    single.reset()
    twin = pickle.loads(pickle.dumps(single))
    assert (single.step(RIGHT)[0] == twin.step(RIGHT)[0]).all()


def test_an_env_with_an_unpicklable_placement_says_why():
    env = MazeVecEnv(num_envs=1, cheese=lambda state, rng: None, seed=0)
    env.reset()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(env)
