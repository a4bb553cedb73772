"""Final frames and gymnasium's autoreset modes, against the engine's own frames.

Ground truth for a timeout: the same maze played with a longer time limit shows, at
the step where the short one ended, the frame the short one must report as final.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

import mazepolicy  # noqa: F401  (registers the gymnasium ids)
from mazepolicy.envs import NOOP, FixedCell, MazeVecEnv, NoCheese, TopRightRegion
from mazepolicy.envs.geometry import shortest_path
from mazepolicy.envs.single import MazeEnv
from tests.conftest import cell_pixels

MOVES = {(1, 0): 7, (-1, 0): 1, (0, 1): 5, (0, -1): 3}


def random_actions(steps: int, num_envs: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 15, (steps, num_envs))


@pytest.mark.parametrize("mode", ["easy", "hard"])
@pytest.mark.parametrize("autoreset", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_timeout_final_frame_is_the_frame_of_a_longer_episode(mode, autoreset):
    limit = 40
    short = MazeVecEnv(num_envs=6, cheese=NoCheese(), distribution_mode=mode, seed=3,
                       max_episode_steps=limit, autoreset_mode=autoreset)
    long = MazeVecEnv(num_envs=6, cheese=NoCheese(), distribution_mode=mode, seed=3,
                      max_episode_steps=limit + 10)
    short.reset()
    long.reset()
    for actions in random_actions(limit, 6, seed=1):
        obs, _, terminated, truncated, info = short.step(actions)
        long_obs, *_ = long.step(actions)
    assert truncated.all() and not terminated.any()
    final = obs if autoreset == AutoresetMode.NEXT_STEP else np.stack(info["final_obs"])
    assert (final == long_obs).all()  # pixel for pixel
    assert (short.observe() == obs).all()


def test_cheese_final_frame_shows_the_mouse_moved_onto_the_cheese():
    """Walking to the cheese: the final frame differs from the frame before only inside
    the mouse's last two cells (it left one and now covers the cheese in the other)."""
    env = MazeVecEnv(num_envs=1, cheese=FixedCell(2, 2), distribution_mode="easy", seed=0)
    obs, info = env.reset()
    dim = int(info["maze_dim"][0])
    path = shortest_path(env.free_grid(0), (0, 0), (2, 2))
    for (x0, y0), (x1, y1) in zip(path, path[1:], strict=False):
        before = obs[0]
        obs, reward, terminated, _, info = env.step(np.array([MOVES[(x1 - x0, y1 - y0)]]))
    assert terminated[0] and reward[0] == 10
    final = info["final_obs"][0]
    changed = (final != before).any(axis=-1)
    allowed = np.zeros_like(changed)
    for cell in (path[-2], path[-1]):
        rows, cols = cell_pixels(cell, dim, 15)
        allowed[rows.start - 1 : rows.stop + 1, cols.start - 1 : cols.stop + 1] = True
    assert changed.any() and not (changed & ~allowed).any()
    assert info["final_info"]["mouse_cell"][0].tolist() == [2, 2]
    assert not (final == obs[0]).all()  # obs is the next maze's first frame


def test_same_step_infos_hold_final_obs_and_final_info():
    env = MazeVecEnv(num_envs=3, cheese=TopRightRegion(5), seed=0, max_episode_steps=5)
    env.reset()
    state = env.get_state(1)
    state.cur_time = 2  # env 1 ends at step 3, the others at step 5
    env.set_state(1, state)
    for _ in range(4):
        env.step(np.full(3, NOOP))
    env_seeds = env.running_level_seeds
    _, reward, _, truncated, info = env.step(np.full(3, NOOP))
    assert truncated.tolist() == [True, False, True]
    assert info["_final_obs"].tolist() == [True, False, True] == info["_final_info"].tolist()
    assert info["final_obs"][1] is None and info["final_obs"][0].shape == (64, 64, 3)
    final = info["final_info"]
    assert final["level_seed"][[0, 2]].tolist() == env_seeds[[0, 2]].tolist()
    assert final["episode_step"][[0, 2]].tolist() == [5, 5]
    assert final["_episode_length"].tolist() == [True, False, True]
    assert (info["level_seed"][[0, 2]] != env_seeds[[0, 2]]).all()  # the new mazes'


def test_next_step_mode_matches_same_step_shifted_by_one_step():
    """NEXT_STEP returns the final frame, then the new maze's first frame at the next
    step with reward 0, ignoring that step's action; afterwards the two modes agree."""
    same = MazeVecEnv(num_envs=1, cheese=TopRightRegion(5), seed=2, max_episode_steps=6)
    nxt = MazeVecEnv(num_envs=1, cheese=TopRightRegion(5), seed=2, max_episode_steps=6,
                     autoreset_mode="next_step")
    assert nxt.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert same.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert (same.reset()[0] == nxt.reset()[0]).all()
    actions = random_actions(20, 1, seed=4)
    ended = 0
    for a in actions:
        s_obs, s_rew, s_term, s_trunc, s_info = same.step(a)
        n_obs, n_rew, n_term, n_trunc, n_info = nxt.step(a)
        assert (n_rew == s_rew).all() and (n_trunc == s_trunc).all()
        if s_trunc[0]:
            ended += 1
            assert (n_obs[0] == s_info["final_obs"][0]).all()
            assert n_info["level_seed"][0] == s_info["final_info"]["level_seed"][0]
            assert n_info["episode_step"][0] == 6 and s_info["episode_step"][0] == 0
            r_obs, r_rew, r_term, r_trunc, r_info = nxt.step(np.array([7]))  # ignored
            assert (r_obs == s_obs).all() and r_rew[0] == 0 and not (r_term | r_trunc)[0]
            assert r_info["episode_step"][0] == 0
            assert r_info["mouse_cell"][0].tolist() == [0, 0]
            assert r_info["level_seed"][0] == s_info["level_seed"][0]
        else:
            assert (n_obs == s_obs).all()
    assert ended == 3
    assert same.get_state(0).to_bytes() == nxt.get_state(0).to_bytes()


def test_next_step_snapshot_keeps_the_pending_reset():
    env = MazeVecEnv(num_envs=2, seed=0, max_episode_steps=2, autoreset_mode="next_step")
    env.reset()
    env.step(np.full(2, NOOP))
    env.step(np.full(2, NOOP))  # both ended: a reset is pending
    copy = MazeVecEnv(num_envs=2, seed=9, max_episode_steps=2, autoreset_mode="next_step")
    copy.restore(env.snapshot())
    a, b = env.step(np.full(2, 7)), copy.step(np.full(2, 7))
    assert (a[0] == b[0]).all() and (a[1] == 0).all() and (b[1] == 0).all()
    with pytest.raises(ValueError, match="NEXT_STEP"):
        MazeVecEnv(num_envs=2, seed=0).restore(env.snapshot() | {"pending_reset":
                                                                  np.array([True, False])})


@pytest.mark.parametrize("bad", ["disabled", AutoresetMode.DISABLED, 3, "later"])
def test_autoreset_mode_is_checked(bad):
    with pytest.raises(ValueError, match="autoreset_mode"):
        MazeVecEnv(num_envs=1, autoreset_mode=bad)


@pytest.mark.parametrize("wrap", [
    lambda env: vw.NormalizeObservation(vw.DtypeObservation(env, np.float32)),
    lambda env: vw.GrayscaleObservation(env),
    lambda env: vw.FlattenObservation(env),
    lambda env: vw.RescaleObservation(vw.DtypeObservation(env, np.float32), 0.0, 1.0),
    lambda env: vw.TransformObservation(env, lambda obs: obs // 2),
    lambda env: vw.NormalizeReward(vw.ClipReward(env, 0, 1)),
])
def test_gymnasium_vector_wrappers_that_need_next_step_run_on_it(wrap):
    """gymnasium's vector observation wrappers accept only NEXT_STEP envs (SAME_STEP's
    reward and statistics wrappers are covered in test_vec_env.py)."""
    venv = gym.make_vec("mazepolicy/maze-topright-5-v0", num_envs=2, max_episode_steps=3,
                        autoreset_mode="next_step", seed=0)
    env = vw.RecordEpisodeStatistics(wrap(venv))
    obs, _ = env.reset(seed=0)
    for _ in range(8):  # episodes end at steps 3 and 7 (step 4 starts the next ones)
        obs, _, _, _, info = env.step(np.full(2, NOOP))
        assert env.observation_space.contains(obs) or obs.shape[0] == 2
    assert env.episode_count == 4
    env.close()


def test_single_env_timeout_final_frame_matches_a_longer_episode():
    short = MazeEnv("maze-nocheese", seed=5, max_episode_steps=25)
    long = MazeEnv("maze-nocheese", seed=5, max_episode_steps=60)
    short.reset()
    long.reset()
    for a in random_actions(25, 1, seed=2)[:, 0]:
        obs, _, terminated, truncated, info = short.step(int(a))
        long_obs, *_ = long.step(int(a))
    assert truncated and not terminated and (obs == long_obs).all()
    assert info["episode_step"] == 25 == info["episode_length"]
