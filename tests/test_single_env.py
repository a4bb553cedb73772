"""The gymnasium single env and its registered ids, checked against MazeVecEnv.

Ground truth is a one-env :class:`MazeVecEnv` with the same seed and actions: the
single env must show the same frames, rewards and outcomes, and must not skip a maze
when ``reset()`` follows an episode end. Cells are (x, y), (0, 0) the bottom-left start.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mazepolicy.envs  # noqa: F401  (registers the ids)
from mazepolicy.envs import ACTION_DELTAS, NOOP, Anywhere, FixedCell, MazeVecEnv, TopRightRegion
from mazepolicy.envs.geometry import next_step_action
from mazepolicy.envs.registration import register_envs, variant_env_id
from mazepolicy.envs.single import MazeEnv
from mazepolicy.envs.variants import list_variants
from mazepolicy.envs.vec_env import OUTCOME_KEYS, RUNNING_KEYS


def walk_to_cheese(env: MazeEnv, info: dict) -> list[int]:
    """Actions that walk the mouse along a shortest path to the cheese (last one ends it)."""
    free, cell, goal = env.vec.free_grid(0), tuple(info["mouse_cell"]), tuple(info["cheese_cell"])
    actions = []
    while cell != goal:
        actions.append(next_step_action(free, cell, goal))
        dx, dy = ACTION_DELTAS[actions[-1]]
        cell = (cell[0] + dx, cell[1] + dy)
    return actions


def test_check_env_passes():
    check_env(gym.make("mazepolicy/Maze-v0", cheese=TopRightRegion(5)).unwrapped)
    check_env(gym.make("mazepolicy/maze-anywhere-easy-v0", render_mode="rgb_array").unwrapped)


def test_every_variant_has_an_id():
    ids = register_envs()  # idempotent
    assert ids == ["mazepolicy/Maze-v0"] + [variant_env_id(v) for v in list_variants()]
    assert all(env_id in gym.registry for env_id in ids)


def test_make_variant_id_and_overrides():
    env = gym.make("mazepolicy/maze-topright-5-v0")
    obs, info = env.reset(seed=3)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert set(info) == set(RUNNING_KEYS) and isinstance(info["level_seed"], int)
    n = info["maze_dim"]
    assert (info["cheese_cell"] >= n - 5).all() and info["mouse_cell"].tolist() == [0, 0]
    assert env.unwrapped.vec.cheese == TopRightRegion(5)
    for cheese, expected in [("anywhere", Anywhere()), ({"fixed": [0, 2]}, FixedCell(0, 2)),
                             (FixedCell(2, 0), FixedCell(2, 0)), ("engine", None)]:
        env = gym.make("mazepolicy/maze-topright-5-v0", cheese=cheese, distribution_mode="easy")
        assert env.unwrapped.vec.cheese == expected
        assert env.unwrapped.vec.distribution_mode == "easy"
    _, info = gym.make("mazepolicy/Maze-v0", cheese="top-right-0").reset(seed=0)
    assert (info["cheese_cell"] == info["maze_dim"] - 1).all()


def test_make_vec_native_and_sync():
    env = gym.make_vec("mazepolicy/maze-topright-5-v0", num_envs=4, cheese="top-right-2")
    assert isinstance(env, MazeVecEnv) and env.num_envs == 4
    _, info = env.reset(seed=0)
    assert (info["cheese_cell"] >= (info["maze_dim"] - 2)[:, None]).all()
    sync = gym.make_vec("mazepolicy/Maze-v0", num_envs=2, vectorization_mode="sync")
    obs, _ = sync.reset(seed=0)
    obs, *_ = sync.step(np.full(2, NOOP))
    assert obs.shape == (2, 64, 64, 3)


def test_trajectory_matches_the_vector_env_and_reset_skips_no_maze():
    """The step that ends an episode returns its final frame (the mouse on the cheese)
    and its info; reset() then gives the maze the vector env started in that step."""
    kwargs = dict(cheese=FixedCell(0, 2), distribution_mode="easy", seed=5)
    env, ref = MazeEnv(**kwargs), MazeVecEnv(num_envs=1, **kwargs)
    obs, info = env.reset()
    ref_obs, ref_info = ref.reset()
    assert (obs == ref_obs[0]).all() and info["level_seed"] == ref_info["level_seed"][0]
    level_seeds = []
    for _ in range(3):  # three episodes, each walked to the cheese
        level_seeds.append(info["level_seed"])
        actions = walk_to_cheese(env, info)
        for k, action in enumerate(actions):
            obs, reward, terminated, truncated, info = env.step(action)
            ref_obs, ref_reward, ref_term, ref_trunc, ref_info = ref.step(np.array([action]))
            expected = ref_info["final_obs"][0] if ref_term[0] else ref_obs[0]
            assert (obs == expected).all() and reward == ref_reward[0]
            assert (terminated, truncated) == (ref_term[0], ref_trunc[0])
            assert terminated == (k == len(actions) - 1) and not truncated
        assert reward == 10.0 and info["reached_cheese"] and not info["timed_out"]
        assert info["episode_return"] == 10.0 and info["episode_length"] == len(actions)
        assert "episode" not in info  # gymnasium's RecordEpisodeStatistics owns that key
        assert set(info) == set(OUTCOME_KEYS) | set(RUNNING_KEYS)
        # the finished episode's info: its maze, the mouse on the cheese, its length
        assert info["episode_level_seed"] == level_seeds[-1] == info["level_seed"]
        assert info["mouse_cell"].tolist() == [0, 2] == info["cheese_cell"].tolist()
        assert info["episode_step"] == len(actions)
        obs, info = env.reset()  # the next maze, already started in the engine
        assert (obs == ref_obs[0]).all() and info["level_seed"] == ref_info["level_seed"][0]
        assert info["level_seed"] != level_seeds[-1]
        assert info["episode_step"] == 0 and set(info) == set(RUNNING_KEYS)
    assert len(set(level_seeds)) == 3


def test_timeout_is_truncation():
    env = MazeEnv("maze-nocheese", seed=0, max_episode_steps=5)
    env.reset()
    for step in range(1, 6):
        _, reward, terminated, truncated, info = env.step(NOOP)
        assert reward == 0.0 and not terminated and truncated == (step == 5)
    assert info["timed_out"] and info["episode_length"] == 5 and info["cheese_cell"][0] == -1


def test_seeded_reset_is_reproducible():
    def episodes(seed):
        env = MazeEnv("maze-anywhere", max_episode_steps=2)
        obs, info = env.reset(seed=seed)
        seen = [(obs, info["level_seed"], tuple(info["cheese_cell"]))]
        for _ in range(4):
            env.step(NOOP)
            env.step(NOOP)
            obs, info = env.reset()
            seen.append((obs, info["level_seed"], tuple(info["cheese_cell"])))
        return seen

    a, b, c = episodes(11), episodes(11), episodes(12)
    assert [s[1:] for s in a] == [s[1:] for s in b] != [s[1:] for s in c]
    assert all((x[0] == y[0]).all() for x, y in zip(a, b, strict=True))
    assert len({s[1] for s in a}) == 5


def test_seeded_reset_after_an_episode_end_restarts_the_sequence():
    env = MazeEnv("maze-anywhere", max_episode_steps=1)
    first, info = env.reset(seed=4)
    env.step(NOOP)  # episode over, next maze pending
    obs, info2 = env.reset(seed=4)
    assert (obs == first).all() and info2["level_seed"] == info["level_seed"]


def test_stepping_on_after_an_episode_end_drops_the_pending_frame():
    env = MazeEnv("maze-anywhere", seed=0, max_episode_steps=1)
    env.reset()
    _, _, _, truncated, info = env.step(NOOP)
    pending_seed = int(env.vec.running_level_seeds[0])  # the maze begun in that step
    assert pending_seed != info["level_seed"]  # the info is the finished episode's
    env.step(NOOP)  # no reset: the pending maze is played (and times out) instead
    _, info = env.reset()
    assert truncated and info["level_seed"] != pending_seed and info["episode_step"] == 0


def test_render_rgb_array():
    env = MazeEnv("maze-topright-5", render_mode="rgb_array", seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.render()
    obs, _ = env.reset()
    frame = env.render()
    assert frame.shape == (512, 512, 3) and frame.dtype == np.uint8
    other, _ = MazeEnv("maze-topright-5", seed=1).reset()
    small = frame.reshape(64, 8, 64, 8, 3).mean(axis=(1, 3))
    assert np.abs(small - obs).mean() < np.abs(small - other).mean()
    assert MazeEnv(seed=0).render() is None


def test_bad_input_raises():
    env = MazeEnv(seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(NOOP)
    env.reset()
    for action in (15, -1, 1.5, np.array([3]), "up"):
        with pytest.raises(ValueError, match="action"):
            env.step(action)
    env.step(np.int64(3))
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"level": 3})
    with pytest.raises(TypeError, match="single env"):
        MazeEnv(num_envs=2)
    with pytest.raises(ValueError, match="available"):
        gym.make("mazepolicy/Maze-v0", variant="maze-nowhere")
    with pytest.raises(ValueError, match="cheese spec"):
        MazeEnv(cheese="top-left")
    with pytest.raises(ValueError, match="distribution_mode"):
        MazeEnv(distribution_mode="medium")


def test_gymnasium_make_works_right_after_import_mazepolicy_without_procgen():
    """The README's order, in a fresh interpreter: ``import mazepolicy``, then
    ``gymnasium.make``. Importing mazepolicy registers the ids but starts no procgen."""
    code = (
        "import sys, mazepolicy\n"
        "assert 'procgen' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)\n"
        "import gymnasium as gym\n"
        "env = gym.make('mazepolicy/maze-topright-5-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "vec = gym.make_vec('mazepolicy/maze-anywhere-v0', num_envs=2)\n"
        "print(obs.shape, vec.num_envs, type(env.unwrapped).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "(64, 64, 3) 2 MazeEnv"


def test_every_shipped_variant_has_an_id_after_import_mazepolicy():
    ids = set(register_envs())
    assert {variant_env_id(name) for name in list_variants()} <= ids
    assert all(env_id in gym.registry for env_id in ids)


def test_record_episode_statistics_and_other_wrappers_on_the_single_env():
    """gymnasium's own wrappers over gym.make: RecordEpisodeStatistics puts its
    ``episode`` (it raised while the env wrote a key of that name) and matches ours."""
    from gymnasium.wrappers import (
        ClipReward,
        FrameStackObservation,
        GrayscaleObservation,
        RecordEpisodeStatistics,
    )

    base = gym.make("mazepolicy/maze-anywhere-easy-v0")
    env = RecordEpisodeStatistics(ClipReward(FrameStackObservation(
        GrayscaleObservation(base), 2), 0.0, 1.0))
    obs, info = env.reset(seed=0)
    assert obs.shape == (2, 64, 64)
    for _ in range(3):
        actions = walk_to_cheese(base.unwrapped, info)
        for action in actions:
            obs, reward, terminated, truncated, info = env.step(action)
        assert terminated and not truncated and reward == 1.0  # clipped from 10
        assert info["episode"]["r"] == 1.0 and info["episode"]["l"] == len(actions)
        assert info["episode_length"] == len(actions) and info["episode_return"] == 10.0
        obs, info = env.reset()


def test_time_limit_and_record_episode_statistics_from_gym_make():
    env = gym.wrappers.RecordEpisodeStatistics(
        gym.make("mazepolicy/maze-topright-5-v0", max_episode_steps=4))
    env.reset(seed=1)
    for _ in range(2):
        for _ in range(4):
            _, _, terminated, truncated, info = env.step(NOOP)
        assert truncated and not terminated and info["episode"]["l"] == 4
        env.reset()
    assert len(env.length_queue) == 2
