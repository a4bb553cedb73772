"""MazeVecEnv against ground truth: engine states, rendered pixels, scripted moves."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mazepolicy  # noqa: F401  (registers the gymnasium ids)
from mazepolicy.envs import (
    DOWN,
    LEFT,
    NOOP,
    RIGHT,
    UP,
    Anywhere,
    EnvVariant,
    FixedCell,
    MazeVecEnv,
    NoCheese,
    PlacementSkipped,
    TopRightRegion,
)
from mazepolicy.envs.state import MazeState
from tests.conftest import cell_pixels

MOVES = {(1, 0): RIGHT, (-1, 0): LEFT, (0, 1): UP, (0, -1): DOWN}


def end_episodes(env: MazeVecEnv, actions=None):
    """Put every env one step before the timeout and step once."""
    for i in range(env.num_envs):
        state = env.get_state(i)
        state.cur_time = 499
        env.set_state(i, state)
    return env.step(np.full(env.num_envs, NOOP) if actions is None else actions)


def assert_cheese_drawn_only_in_its_cell(env: MazeVecEnv, obs: np.ndarray, info: dict):
    """Removing the cheese changes the frame inside the cheese cell and nowhere else."""
    for i in range(env.num_envs):
        cell = tuple(info["cheese_cell"][i])
        state = env.get_state(i)
        assert state.cheese_cell == cell
        without = env.set_cheese(i, None).astype(int)
        changed = np.abs(obs[i].astype(int) - without).sum(axis=2) > 0
        rows, cols = cell_pixels(cell, state.maze_dim, state.world_dim)
        inside = np.zeros_like(changed)
        inside[rows, cols] = True
        assert changed[rows, cols].mean() > 0.3, "cheese not visible in its cell"
        margin = 64 / state.world_dim  # pixels shared with neighbouring cells may blend
        ys, xs = np.nonzero(changed)
        assert (ys >= rows.start - margin).all() and (ys < rows.stop + margin).all()
        assert (xs >= cols.start - margin).all() and (xs < cols.stop + margin).all()
        env.set_cheese(i, cell)


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_top_right_placement_in_region_and_in_the_first_frame(mode):
    env = MazeVecEnv(num_envs=6, cheese=TopRightRegion(5), distribution_mode=mode, seed=3)
    obs, info = env.reset()
    for _ in range(3):  # first frames after reset and after automatic resets
        n = info["maze_dim"]
        assert (info["cheese_cell"] >= (n - 5)[:, None]).all()
        assert (info["cheese_cell"] < n[:, None]).all()
        assert_cheese_drawn_only_in_its_cell(env, obs, info)
        obs, _, _, truncated, info = end_episodes(env)
        assert truncated.all()
    env.close()


def test_region_zero_is_the_corner_and_anywhere_spreads():
    env = MazeVecEnv(num_envs=8, cheese=TopRightRegion(0), seed=0)
    _, info = env.reset()
    assert (info["cheese_cell"] == (info["maze_dim"] - 1)[:, None]).all()
    env = MazeVecEnv(num_envs=16, cheese=Anywhere(), seed=0)
    _, info = env.reset()
    outside = (info["cheese_cell"] < (info["maze_dim"] - 5)[:, None]).any(axis=1)
    assert outside.sum() >= 8  # most free cells lie outside the top-right region
    assert not (info["cheese_cell"] == 0).all(axis=1).any()  # never under the mouse


def test_no_cheese_and_fixed_cell():
    env = MazeVecEnv(num_envs=4, cheese=NoCheese(), seed=1)
    _, info = env.reset()
    assert (info["cheese_cell"] == -1).all()
    assert all(env.get_state(i).cheese_cell is None for i in range(4))
    env = MazeVecEnv(num_envs=4, cheese=FixedCell(2, 2), seed=1)  # even cells are always free
    _, info = env.reset()
    assert (info["cheese_cell"] == 2).all()


def test_fixed_cell_on_a_wall_leaves_the_maze_without_cheese_and_says_why():
    """(1, 0) is a wall in some mazes and a passage in others: the first get no cheese
    and a recorded reason, the others the cheese, through autoresets, no error."""
    env = MazeVecEnv(num_envs=8, cheese=FixedCell(1, 0), level_seeds=range(24), seed=1)
    _, info = env.reset()
    walled = placed = 0
    for _ in range(3):
        for i in range(8):
            state = env.get_state(i)
            if env.free_grid(i)[0, 1]:
                placed += 1
                assert state.cheese_cell == (1, 0) and not info["_placement_skipped"][i]
            else:
                walled += 1
                assert state.cheese_cell is None and tuple(info["cheese_cell"][i]) == (-1, -1)
                assert info["_placement_skipped"][i]
                assert info["placement_skipped"][i] == "FixedCell(1, 0) is on a wall of this maze"
        _, _, _, truncated, info = end_episodes(env)
        assert truncated.all()
    assert walled > 0 and placed > 0


def test_fixed_cell_outside_small_mazes_skips_them_and_places_in_the_others():
    """FixedCell(8, 8) in hard mode: mazes of side <= 8 get no cheese and a reason, the
    others get the cheese at (8, 8) (even cells are always free), through autoresets."""
    seeds = list(range(30))  # level sides 3 .. 25
    env = MazeVecEnv(num_envs=10, cheese=FixedCell(8, 8), level_seeds=seeds, seed=0,
                     num_threads=1)
    _, info = env.reset()
    small = big = 0
    for _ in range(3):  # the first frame and two autoresets: all 30 levels
        for i in range(env.num_envs):
            n, state = info["maze_dim"][i], env.get_state(i)
            skipped = "placement_skipped" in info and info["_placement_skipped"][i]
            if n <= 8:
                small += 1
                assert skipped and info["placement_skipped"][i] == (
                    f"FixedCell(8, 8) is outside the {n}x{n} maze")
                assert tuple(info["cheese_cell"][i]) == (-1, -1) and state.cheese_cell is None
            else:
                big += 1
                assert not skipped
                assert tuple(info["cheese_cell"][i]) == (8, 8) == state.cheese_cell
        _, _, _, truncated, info = end_episodes(env)
        assert truncated.all()
    assert small > 0 and big > 0


def test_a_fixed_cell_no_maze_of_the_mode_holds_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"FixedCell\(25, 0\) never fits a 'hard'-mode maze"):
        MazeVecEnv(num_envs=1, cheese=FixedCell(25, 0))
    with pytest.raises(ValueError, match=r"FixedCell\(0, 15\) never fits a 'easy'-mode"):
        MazeVecEnv(num_envs=1, cheese=FixedCell(0, 15), distribution_mode="easy")
    MazeVecEnv(num_envs=1, cheese=FixedCell(14, 14), distribution_mode="easy")  # fits 15x15
    MazeVecEnv(num_envs=1, cheese=FixedCell(24, 24))  # fits the 25x25 hard mazes


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_cells_with_odd_x_and_odd_y_are_walls_in_every_maze(mode):
    """The ground truth behind refusing FixedCell(odd, odd): 512 mazes of each mode."""
    env = MazeVecEnv(num_envs=64, distribution_mode=mode, level_seeds=range(512), seed=0,
                     num_threads=0)
    env.reset()
    for _ in range(8):
        for i in range(64):
            free = env.free_grid(i)  # [y, x]
            assert not free[1::2, 1::2].any() and free[0::2, 0::2].all()
        end_episodes(env)


@pytest.mark.parametrize("cell, reason", [
    ((1, 1), r"FixedCell\(1, 1\) is a wall in every maze"),
    ((3, 7), r"FixedCell\(3, 7\) is a wall in every maze"),
    ((0, 0), r"FixedCell\(0, 0\) is the mouse's start cell in every maze"),
])
def test_fixed_cells_that_fit_no_maze_are_refused(cell, reason):
    for mode in ("easy", "hard"):
        with pytest.raises(ValueError, match=reason):
            MazeVecEnv(num_envs=1, cheese=FixedCell(*cell), distribution_mode=mode)
    with pytest.raises(ValueError, match=reason):
        EnvVariant("fixed", cheese={"fixed": list(cell)})
    with pytest.raises(ValueError, match=reason):
        gym.make("mazepolicy/Maze-v0", cheese=FixedCell(*cell))


def never_fits(state, rng):
    raise PlacementSkipped("this placement fits no maze")


def test_an_edit_clears_the_skip_reason():
    env = MazeVecEnv(num_envs=2, cheese=never_fits, seed=1)
    _, info = env.reset()
    assert info["_placement_skipped"].all()
    env.set_cheese(0, (2, 2))
    _, _, _, _, info = env.step(np.full(2, NOOP))
    assert info["_placement_skipped"].tolist() == [False, True]
    assert info["placement_skipped"][0] == "" and tuple(info["cheese_cell"][0]) == (2, 2)


def test_same_seed_same_levels_cheese_and_frames():
    a = MazeVecEnv(num_envs=4, cheese=TopRightRegion(5), seed=7)
    b = MazeVecEnv(num_envs=4, cheese=TopRightRegion(5), seed=7)
    obs_a, info_a = a.reset()
    obs_b, info_b = b.reset()
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = rng.integers(0, 15, 4)
        obs_a, *_, info_a = a.step(actions)
        obs_b, *_, info_b = b.step(actions)
    assert (obs_a == obs_b).all()
    for key in ("level_seed", "cheese_cell", "mouse_cell"):
        assert (info_a[key] == info_b[key]).all()
    c = MazeVecEnv(num_envs=4, cheese=TopRightRegion(5), seed=8)
    assert (c.reset()[1]["level_seed"] != info_a["level_seed"]).any()


def test_reset_with_seed_restarts_the_sequence():
    env = MazeVecEnv(num_envs=3, seed=0)
    first = env.reset(seed=5)[1]["level_seed"]
    env.reset()
    assert (env.reset(seed=5)[1]["level_seed"] == first).all()


def test_mouse_tracking_matches_engine_state():
    env = MazeVecEnv(num_envs=8, distribution_mode="easy", seed=2)
    env.reset()
    rng = np.random.default_rng(1)
    for _ in range(200):
        _, _, _, _, info = env.step(rng.integers(0, 15, 8))
        engine = np.array([env.get_state(i).mouse_cell for i in range(8)])
        assert (info["mouse_cell"] == engine).all()
        assert (env.mouse_cells == engine).all()


def test_level_seeds_play_the_listed_mazes_with_canonical_cheese():
    env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), level_seeds=[10, 11, 12, 13], seed=0)
    _, info = env.reset()
    assert info["level_seed"].tolist() == [10, 11]
    first_cheese = info["cheese_cell"].copy()
    _, _, _, _, info = end_episodes(env)
    assert info["level_seed"].tolist() == [12, 13]
    assert info["episode_level_seed"].tolist() == [10, 11]
    _, _, _, _, info = end_episodes(env)
    assert info["level_seed"].tolist() == [10, 11]  # wraps around
    assert (info["cheese_cell"] == first_cheese).all()  # a maze always gets the same cheese
    # the same level seed from another env (other seed, other slot) gives the same maze
    other = MazeVecEnv(num_envs=1, cheese=TopRightRegion(5), level_seeds=[11], seed=99)
    other.reset()
    assert (other.get_state(0).world == env.get_state(1).world).all()


def test_timeout_outcome():
    env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), seed=4)
    env.reset()
    _, reward, terminated, truncated, info = end_episodes(env)
    assert truncated.all() and not terminated.any() and (reward == 0).all()
    assert info["_timed_out"].all() and info["timed_out"].all()
    assert not info["reached_cheese"].any() and not info["reached_top_right"].any()
    assert (info["episode_length"] == 500).all() and (info["episode_return"] == 0).all()
    assert "episode" not in info and "_episode" not in info  # gymnasium's wrapper's key


def _free_neighbour(state: MazeState, cell):
    for (dx, dy), action in MOVES.items():
        x, y = cell[0] + dx, cell[1] + dy
        if 0 <= x < state.maze_dim and 0 <= y < state.maze_dim and state.free[y, x]:
            return (x, y), action
    raise AssertionError("no free neighbour")


def test_reaching_cheese_terminates_with_reward_and_outcome():
    env = MazeVecEnv(num_envs=1, cheese=TopRightRegion(5), seed=5)
    env.reset()
    state = env.get_state(0)
    target, action = _free_neighbour(state, state.mouse_cell)
    env.set_cheese(0, target)
    _, reward, terminated, truncated, info = env.step([action])
    assert terminated[0] and not truncated[0] and reward[0] == 10
    assert info["reached_cheese"][0] and info["episode_length"][0] == 1
    assert tuple(info["episode_cheese_cell"][0]) == target
    assert info["episode_return"][0] == 10


def test_reaching_the_top_right_corner_is_recorded():
    env = MazeVecEnv(num_envs=1, cheese=NoCheese(), seed=6)
    env.reset()
    state = env.get_state(0)
    n = state.maze_dim
    start, into_corner = _free_neighbour(state, (n - 1, n - 1))
    back = {RIGHT: LEFT, LEFT: RIGHT, UP: DOWN, DOWN: UP}[into_corner]
    env.set_mouse(0, start)
    env.step([back])  # step into the corner: the neighbour is reached from the corner by
    # ``into_corner``, so the corner is reached from the neighbour by the opposite move
    assert tuple(env.mouse_cells[0]) == (n - 1, n - 1)
    _, _, _, truncated, info = end_episodes(env)
    assert truncated[0] and info["reached_top_right"][0]
    assert info["top_right_step"][0] >= 1


def test_bad_input_raises():
    env = MazeVecEnv(num_envs=2, seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step([0, 0])
    env.reset()
    with pytest.raises(ValueError, match="shape"):
        env.step([0, 0, 0])
    with pytest.raises(ValueError, match="0..14"):
        env.step([0, 15])
    with pytest.raises(IndexError):
        env.get_state(2)
    with pytest.raises(ValueError, match="outside"):
        env.set_cheese(0, (99, 0))
    with pytest.raises(ValueError, match="num_envs"):
        MazeVecEnv(num_envs=0)
    with pytest.raises(ValueError, match="distribution_mode"):
        MazeVecEnv(distribution_mode="medium")
    with pytest.raises(TypeError, match="placement"):
        MazeVecEnv(cheese="top-right")
    with pytest.raises(ValueError):
        env.set_state(0, b"garbage")
    with pytest.raises(ValueError, match="level_seeds"):
        MazeVecEnv(level_seeds=[0, 2**31 - 1])
    with pytest.raises(ValueError, match="level_seeds"):
        MazeVecEnv(level_seeds=[-1])


def test_spaces_and_metadata():
    from gymnasium.vector import AutoresetMode

    env = MazeVecEnv(num_envs=3, seed=0)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = env.reset()
    assert env.observation_space.contains(obs)
    assert env.single_action_space.n == 15


def test_max_episode_steps_makes_the_engine_time_out_early():
    env = MazeVecEnv(num_envs=2, cheese=NoCheese(), seed=0, max_episode_steps=7)
    env.reset()
    for step in range(1, 8):
        _, _, terminated, truncated, info = env.step([NOOP, NOOP])
        assert truncated.all() == (step == 7) and not terminated.any()
    assert (info["episode_length"] == 7).all() and (info["episode_step"] == 0).all()
    with pytest.raises(ValueError, match="max_episode_steps"):
        MazeVecEnv(max_episode_steps=0)


class RecordingEngine:
    """Wraps an env's engine, recording the state bytes read and written per env."""

    def __init__(self, engine):
        self.engine = engine
        self.reads: dict[int, bytes] = {}
        self.writes: list[tuple[bytes, bytes]] = []  # (bytes read, bytes written)

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def get_state_of(self, i):
        self.reads[i] = self.engine.get_state_of(i)
        return self.reads[i]

    def set_state_of(self, i, state):
        self.writes.append((self.reads.pop(i), state))
        self.engine.set_state_of(i, state)


@pytest.mark.parametrize("cheese", [TopRightRegion(5), Anywhere(), NoCheese(), None])
def test_resets_write_what_the_full_codec_writes(cheese):
    """Resets edit the engine's bytes in place; the result must equal parsing them,
    applying the same edits to the parsed state and serializing it again."""
    seeds = [5, 17, 3, 2**31 - 2]
    env = MazeVecEnv(num_envs=3, cheese=cheese, distribution_mode="easy", seed=1,
                     level_seeds=seeds, placement_seed=4, max_episode_steps=9)
    env.reset()
    env._engine = recorder = RecordingEngine(env._engine)
    env.reset()  # the restart of every episode, then new episodes
    rng = np.random.default_rng(0)
    for _ in range(40):
        env.step(rng.integers(0, 15, 3))
    assert len(recorder.writes) >= 3 * 6  # restarts, then a new episode every 9 steps
    for read, written in recorder.writes:
        expected = MazeState.from_bytes(read)
        got = MazeState.from_bytes(written)
        if got.cur_time == 0:  # an episode start: timeout and placement
            expected.step["timeout"] = 9
            if cheese is not None:
                words = [expected.level_seed & 0xFFFFFFFF, 4]
                expected.set_cheese(cheese(expected.copy(), np.random.default_rng(words)))
        else:  # the restart: the clock one step before the timeout
            expected.cur_time = 8
        # both schedule the next level (its order is tested with the level seeds above)
        assert got.level_seed_low in seeds and got.level_seed_high == got.level_seed_low + 1
        expected.level_seed_low, expected.level_seed_high = (got.level_seed_low,
                                                             got.level_seed_high)
        assert expected.to_bytes() == written


def test_a_placement_sees_a_read_only_state():
    def scribble(state, rng):
        state.world[:] = 0
        return 2, 2

    env = MazeVecEnv(num_envs=1, cheese=scribble, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        env.reset()


def test_restoring_a_snapshot_replays_the_same_steps():
    env = MazeVecEnv(num_envs=3, cheese=TopRightRegion(5), distribution_mode="easy", seed=2,
                     max_episode_steps=12, level_seeds=range(10))
    env.reset()
    actions = np.random.default_rng(0).integers(0, 15, (30, 3))
    for a in actions[:5]:
        env.step(a)
    snapshot = env.snapshot()

    def play():
        steps = [env.step(a) for a in actions[5:]]  # crosses episode ends (12-step cap)
        return [(obs, reward, terminated, truncated, info["mouse_cell"], info["level_seed"])
                for obs, reward, terminated, truncated, info in steps]

    first = play()
    restored = env.restore(snapshot)
    assert (restored == env.observe()).all()
    second = play()
    assert any(t[3].any() for t in first)
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_bad_snapshots_raise():
    env = MazeVecEnv(num_envs=2, seed=0)
    env.reset()
    snapshot = env.snapshot()
    with pytest.raises(ValueError, match=r"lacks \['seed_cursor'\]"):
        env.restore({k: v for k, v in snapshot.items() if k != "seed_cursor"})
    with pytest.raises(ValueError, match="holds 1 envs"):
        env.restore({**snapshot, "state_lengths": snapshot["state_lengths"][:1]})
    with pytest.raises(ValueError, match="do not add up"):
        env.restore({**snapshot, "states": snapshot["states"][:-4]})


def test_frames_handed_out_are_never_overwritten_by_later_steps():
    """The engine's buffers are reused between steps; every frame returned is a copy."""
    env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), distribution_mode="easy", seed=0,
                     max_episode_steps=3)
    obs, _ = env.reset()
    handed_out, snapshots = [obs], [obs.copy()]
    for action in [RIGHT, UP, RIGHT, UP, RIGHT]:  # crosses an episode end (3-step cap)
        obs, *_ = env.step([action, action])
        handed_out.append(obs)
        snapshots.append(obs.copy())
        np.testing.assert_array_equal(env.observe(), obs)
    assert any(not np.array_equal(snapshots[0], s) for s in snapshots[1:])
    for frames, snapshot in zip(handed_out, snapshots, strict=True):
        np.testing.assert_array_equal(frames, snapshot)


def _env_and_engine(env: MazeVecEnv) -> dict:
    """Everything an edit could change: every env's engine state bytes, the frames and
    the tracked info."""
    return {
        "states": [env._engine.get_state_of(i) for i in range(env.num_envs)],
        "frames": env.observe(),
        "mouse": env.mouse_cells,
        "cheese": env.cheese_cells,
        "maze_dim": env.maze_dims,
        "steps": env.episode_steps,
        "seeds": env.running_level_seeds,
        "versions": env.maze_versions,
        "free": [env.free_grid(i) for i in range(env.num_envs)],
        "snapshot": {k: v for k, v in env.snapshot().items() if k != "states"},
    }


def _assert_same(before: dict, after: dict) -> None:
    assert before["states"] == after["states"], "the engine was written"
    for key in before:
        if key == "snapshot":
            for k, v in before[key].items():
                assert np.array_equal(v, after[key][k]), k
        elif key != "states":
            assert all(np.array_equal(a, b) for a, b in zip(before[key], after[key],
                                                             strict=True)), key


def _bad_edits(env: MazeVecEnv, hard: MazeVecEnv) -> dict:
    state = env.get_state(0)
    mouse = state.mouse_cell
    wall = tuple(int(v) for v in np.argwhere(~state.free)[0][::-1])  # (x, y) of a wall
    broken = state.copy()
    broken.world[0, 0] = 7  # not a cell value
    other_mode = hard.snapshot()
    short = env.snapshot()
    short["episode_return"] = short["episode_return"][:1]
    corrupt = env.snapshot()
    corrupt["states"] = corrupt["states"].copy()
    corrupt["states"][-5] ^= 0xFF  # env 1's grid tail: env 0's state is still fine
    return {
        "set_state hard state": lambda: env.set_state(0, hard.get_state(0)),
        "set_state hard bytes": lambda: env.set_state(0, hard.get_state(0).to_bytes()),
        "set_state garbage": lambda: env.set_state(0, b"garbage"),
        "set_state invalid": lambda: env.set_state(0, broken),
        "set_state not a state": lambda: env.set_state(0, 5),
        "set_cheese float": lambda: env.set_cheese(0, (1.5, 0)),
        "set_cheese bool": lambda: env.set_cheese(0, (True, 0)),
        "set_cheese wall": lambda: env.set_cheese(0, wall),
        "set_cheese outside": lambda: env.set_cheese(0, (99, 0)),
        "set_cheese mouse": lambda: env.set_cheese(0, mouse),
        "set_mouse float": lambda: env.set_mouse(0, (np.float64(2.0), 0)),
        "set_mouse wall": lambda: env.set_mouse(0, wall),
        "set_wall bool": lambda: env.set_wall(0, (2, False)),
        "set_wall mouse": lambda: env.set_wall(0, mouse),
        "set_wall index": lambda: env.set_wall(1.0, (2, 2)),
        "restore other mode": lambda: env.restore(other_mode),
        "restore short column": lambda: env.restore(short),
        "restore corrupt state": lambda: env.restore(corrupt),
    }


def test_a_failed_edit_leaves_env_and_engine_exactly_as_they_were():
    """Every edit method validates completely before the first byte reaches the engine
    (a hard state into an easy env used to overwrite the engine, then fail)."""
    env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), distribution_mode="easy", seed=3)
    hard = MazeVecEnv(num_envs=2, seed=3)
    env.reset()
    hard.reset()
    env.step(np.array([UP, RIGHT]))  # mid-episode, so the clocks are not all zero
    for name, edit in _bad_edits(env, hard).items():
        before = _env_and_engine(env)
        with pytest.raises((ValueError, TypeError)):
            edit()
        try:
            _assert_same(before, _env_and_engine(env))
        except AssertionError as err:
            raise AssertionError(f"{name}: {err}") from None
        env.step(np.array([NOOP, NOOP]))  # and the env still runs
    env.set_cheese(0, (0, 2))  # a good edit still works
    assert tuple(env.cheese_cells[0]) == (0, 2)


def test_a_state_from_the_other_mode_is_refused_with_a_clear_error():
    env = MazeVecEnv(num_envs=1, distribution_mode="easy", seed=0)
    hard = MazeVecEnv(num_envs=1, seed=0)
    env.reset()
    hard.reset()
    with pytest.raises(ValueError, match=r"'hard' env \(world 25\); this env is 'easy'"):
        env.set_state(0, hard.get_state(0))
    with pytest.raises(ValueError, match="'hard' env"):
        env.restore(hard.snapshot())


@pytest.mark.parametrize("cell", [(1.5, 0), (0, 2.0), (True, 0), (0, np.True_), "02", (0,),
                                  (0, 0, 0), None, 3])
def test_cells_must_be_int_pairs_in_every_edit(cell):
    env = MazeVecEnv(num_envs=1, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="pair of ints"):
        env.set_mouse(0, cell)
    with pytest.raises(ValueError, match="pair of ints"):
        env.set_wall(0, cell)
    if cell is not None:  # None removes the cheese
        with pytest.raises(ValueError, match="pair of ints"):
            env.set_cheese(0, cell)


def test_numpy_int_cells_are_accepted():
    env = MazeVecEnv(num_envs=1, seed=0)
    env.reset()
    env.set_cheese(0, np.array([0, 2]))
    env.set_mouse(0, (np.int32(2), np.int64(0)))
    assert tuple(env.cheese_cells[0]) == (0, 2) and tuple(env.mouse_cells[0]) == (2, 0)


def test_gymnasium_vector_wrappers_on_the_native_vector_env():
    """make_vec's native MazeVecEnv (SAME_STEP autoreset) under gymnasium's vector
    RecordEpisodeStatistics (it raised on the env's own ``episode`` key) and friends."""
    import gymnasium as gym
    from gymnasium.wrappers import vector as vw

    venv = gym.make_vec("mazepolicy/maze-topright-5-v0", num_envs=3, max_episode_steps=5,
                        seed=0)
    assert isinstance(venv, MazeVecEnv)
    # (gymnasium's vector observation wrappers accept only NEXT_STEP autoreset envs)
    env = vw.RecordEpisodeStatistics(vw.NormalizeReward(vw.ClipReward(venv, 0, 1)))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 64, 64, 3)
    ends = 0
    for step in range(1, 11):
        _, _, terminated, truncated, info = env.step(np.full(3, NOOP))
        if step % 5 == 0:
            assert truncated.all() and info["_episode"].all()
            assert (info["episode"]["l"] == 5).all() and (info["episode"]["r"] == 0).all()
            assert (info["episode_length"] == info["episode"]["l"]).all()
            ends += 1
        else:
            assert not truncated.any() and "episode" not in info
    assert ends == 2 and env.episode_count == 6


def test_gymnasium_sync_vector_env_of_single_envs():
    import gymnasium as gym
    from gymnasium.wrappers import vector as vw

    from mazepolicy.envs.single import MazeEnv

    # the env's own 3-step timeout (gym.make's max_episode_steps would add a TimeLimit)
    env = vw.RecordEpisodeStatistics(vw.GrayscaleObservation(gym.vector.SyncVectorEnv(
        [lambda: MazeEnv("maze-anywhere", max_episode_steps=3)] * 2)))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 64, 64)
    for step in range(1, 9):  # NEXT_STEP autoreset: episodes end at steps 3 and 7
        _, _, _, truncated, info = env.step(np.full(2, NOOP))
        assert truncated.all() == (step in (3, 7))
        if step in (3, 7):
            assert (info["episode"]["l"] == 3).all() and info["_episode"].all()
    assert env.episode_count == 4
    env.close()
