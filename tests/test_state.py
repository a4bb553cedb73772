"""The state codec: exact round trips over real engine states, edits, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mazepolicy.envs.state import (
    CHEESE,
    FREE,
    WALL,
    MazeState,
    MazeStateError,
    write_level_seed_range,
)
from tests.conftest import engine_states

ROUND_TRIP_CASES = [
    (mode, seed, steps) for mode in ("easy", "hard") for seed in (0, 1) for steps in (0, 37, 300)
]


@pytest.mark.parametrize("mode,seed,steps", ROUND_TRIP_CASES)
def test_round_trip_is_byte_exact(mode, seed, steps):
    for raw in engine_states(mode, 8, seed, steps):
        state = MazeState.from_bytes(raw)
        assert state.to_bytes() == raw
        assert state.distribution_mode == mode
        assert state.world_dim == (15 if mode == "easy" else 25)


def test_parsed_fields_match_engine_geometry(hard_state):
    s = hard_state
    assert s.maze_dim % 2 == 1 and 3 <= s.maze_dim <= 25
    assert s.mouse_cell == (0, 0)
    # everything outside the inner maze is wall
    outside = np.ones_like(s.world, dtype=bool)
    m, n = s.margin, s.maze_dim
    outside[m : m + n, m : m + n] = False
    assert (s.world[outside] == WALL).all()
    assert s.free[0, 0] and s.free[n - 1, n - 1]
    assert s.cheese_cell is not None and s.free[s.cheese_cell[1], s.cheese_cell[0]]


def test_edits_round_trip(hard_state):
    s = hard_state
    n = s.maze_dim
    s.set_cheese((n - 1, n - 1))
    s.set_mouse((2, 0)) if s.free[0, 2] else s.set_mouse((0, 2))
    again = MazeState.from_bytes(s.to_bytes())
    assert again.cheese_cell == (n - 1, n - 1)
    assert again.mouse_cell == s.mouse_cell
    assert (again.world == s.world).all()


def test_remove_cheese(hard_state):
    hard_state.set_cheese(None)
    assert hard_state.cheese_cell is None
    assert not (hard_state.world == CHEESE).any()


def _wall_cell(state):
    ys, xs = np.nonzero(~state.free)
    return int(xs[0]), int(ys[0])


def test_bad_cells_raise(hard_state):
    s = hard_state
    n = s.maze_dim
    with pytest.raises(ValueError, match="on a wall"):
        s.set_cheese(_wall_cell(s))
    with pytest.raises(ValueError, match="outside"):
        s.set_cheese((n, 0))
    with pytest.raises(ValueError, match="outside"):
        s.set_mouse((-1, 0))
    with pytest.raises(ValueError, match="under the mouse"):
        s.set_cheese((0, 0))
    with pytest.raises(ValueError, match="holds the mouse"):
        s.set_wall((0, 0))
    with pytest.raises(ValueError, match="pair of ints"):
        s.set_cheese("a")


def test_set_wall_toggles(hard_state):
    s = hard_state
    cell = _wall_cell(s)
    s.set_wall(cell, wall=False)
    assert s.free[cell[1], cell[0]]
    s.set_wall(cell, wall=True)
    assert not s.free[cell[1], cell[0]]


def test_with_maze_builds_from_grid(hard_state):
    free = np.zeros((5, 5), dtype=bool)
    free[0, :] = True  # bottom corridor
    free[:, 4] = True  # right corridor up to the corner
    built = hard_state.with_maze(free, mouse=(0, 0), cheese=(4, 4))
    again = MazeState.from_bytes(built.to_bytes())
    assert again.maze_dim == 5 and again.cur_time == 0
    assert (again.free == free).all()
    assert again.cheese_cell == (4, 4) and again.mouse_cell == (0, 0)
    with pytest.raises(ValueError, match="odd"):
        hard_state.with_maze(np.ones((4, 4), dtype=bool))


def test_validation_catches_semantic_garbage(hard_state):
    s = hard_state.copy()
    s.world[0, 0] = 7
    with pytest.raises(MazeStateError, match="holds 7"):
        s.to_bytes()
    s = hard_state.copy()
    s.world[s.world == FREE] = CHEESE
    with pytest.raises(MazeStateError, match="more than one cheese"):
        s.to_bytes()
    s = hard_state.copy()
    s.entities[0]["x"] = np.nan
    with pytest.raises(MazeStateError, match="x=nan"):
        s.to_bytes()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1],
        lambda b: b[:100],
        lambda b: b"",
        lambda b: b[:-4] + b"\0\0\0\0",
        lambda b: b[:4] + b"\xff\xff\xff\x7f" + b[8:],  # absurd game_name length
        lambda b: b.replace(b"maze", b"coin", 1),
    ],
)
def test_malformed_bytes_raise(hard_state_bytes, mutate):
    with pytest.raises(MazeStateError):
        MazeState.from_bytes(mutate(hard_state_bytes))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_corruption_parses_exactly_or_raises(hard_state_bytes, data):
    """Any byte flip either parses to a state that round-trips or raises MazeStateError."""
    raw = bytearray(hard_state_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        state = MazeState.from_bytes(bytes(raw))
    except MazeStateError:
        return
    assert state.to_bytes() == bytes(raw)


def test_not_bytes_raises():
    with pytest.raises(MazeStateError, match="bytes"):
        MazeState.from_bytes("not bytes")


def test_rng_text_must_be_an_mt19937_state(hard_state):
    words = hard_state.rng.text.split(b" ")
    for bad in (b"4294967296", b"12a", b""):
        s = hard_state.copy()
        s.rng.text = b" ".join([bad, *words[1:]])
        with pytest.raises(MazeStateError, match="mt19937"):
            s.to_bytes()
    s = hard_state.copy()
    s.rng.text = b" ".join([b"4294967295", *words[1:]])
    s.to_bytes()  # the largest 32-bit word is fine


def test_rng_text_is_checked_again_after_every_change(hard_state):
    """A validated text is not re-checked, but any new text is, even after validation."""
    s = hard_state.copy()
    s.to_bytes()
    words = s.rng.text.split(b" ")
    s.rng.text = b" ".join([b"99999999999", *words[1:]])
    with pytest.raises(MazeStateError, match="mt19937"):
        s.to_bytes()
    s.rng.text = b" ".join(words)  # an equal but new bytes object: valid again
    assert s.to_bytes() == hard_state.to_bytes()
    s.rng.text = bytearray(s.rng.text)
    with pytest.raises(MazeStateError, match="must be bytes"):
        s.to_bytes()


def test_shared_parse_edits_the_bytes_in_place(hard_state_bytes):
    buffer = bytearray(hard_state_bytes)
    shared = MazeState._over_engine_buffer(buffer)
    copied = MazeState.from_bytes(hard_state_bytes)
    n = shared.maze_dim
    for state in (shared, copied):
        state.set_cheese((n - 1, n - 1))
        state.step["timeout"] = 123
        state.cur_time = 7
    write_level_seed_range(buffer, 42, 43)
    copied.level_seed_low, copied.level_seed_high = 42, 43
    assert bytes(buffer) == copied.to_bytes()
    assert bytes(buffer) != hard_state_bytes


@pytest.mark.parametrize("low,high", [(5, 5), (-1, 0), (0, 2**31)])
def test_bad_level_seed_ranges_raise(hard_state_bytes, low, high):
    buffer = bytearray(hard_state_bytes)
    with pytest.raises(MazeStateError, match="level seed range"):
        write_level_seed_range(buffer, low, high)
    assert buffer == hard_state_bytes


def test_read_only_view_shares_values_but_refuses_writes(hard_state):
    frozen = hard_state._read_only()
    assert frozen.cheese_cell == hard_state.cheese_cell
    assert np.shares_memory(frozen.world, hard_state.world)
    with pytest.raises(ValueError, match="read-only"):
        frozen.set_cheese((0, 2) if hard_state.free[2, 0] else (2, 0))
    hard_state.step["timeout"] = 9  # the original stays writable
    assert frozen.step["timeout"][0] == 9
