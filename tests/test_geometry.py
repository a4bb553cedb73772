"""Geometry against hand-built mazes with known answers and real procgen mazes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mazepolicy.envs.actions import DOWN, LEFT, NOOP, RIGHT, UP
from mazepolicy.envs.geometry import (
    decision_square,
    distance,
    distance_field,
    free_cells,
    neighbors,
    next_step_action,
    paths_diverge,
    shortest_path,
    top_right_region,
)
from mazepolicy.envs.state import MazeState
from tests.conftest import engine_states


def picture(rows: list[str]) -> np.ndarray:
    """A free grid from a top-down drawing ('.' free, '#' wall), stored [y, x] bottom-up."""
    return np.array([[c == "." for c in row] for row in rows], dtype=bool)[::-1]


# A 5x5 perfect maze, drawn top-down. Start (0, 0) is the bottom-left cell.
MAZE5 = picture(
    [
        ".....",
        "##.#.",
        "...#.",
        ".#.##",
        ".#...",
    ]
)


def test_corridor_and_tjunction():
    corridor = picture(["....."])
    assert shortest_path(corridor, (0, 0), (4, 0)) == [(x, 0) for x in range(5)]
    tee = picture(["...", "#.#", "#.#"])  # stem up from (1, 0) to a bar at y = 2
    assert shortest_path(tee, (1, 0), (0, 2)) == [(1, 0), (1, 1), (1, 2), (0, 2)]
    assert decision_square(tee, cheese=(0, 2), start=(1, 0)) == (1, 2)
    assert neighbors(tee, (1, 2)) == [(2, 2), (0, 2), (1, 1)]


def test_hand_drawn_maze_known_answers():
    # from (0,0) up to (0,2), right to the junction (2,2); up to the corner, down to (4,0)
    assert distance(MAZE5, (0, 0), (0, 2)) == 2
    path_to_corner = shortest_path(MAZE5, (0, 0), (4, 4))
    assert path_to_corner[-1] == (4, 4)
    assert len(path_to_corner) - 1 == distance(MAZE5, (0, 0), (4, 4))
    to_cheese = shortest_path(MAZE5, (0, 0), (4, 0))
    assert to_cheese == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (3, 0), (4, 0)]
    assert path_to_corner[:5] == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)]
    assert decision_square(MAZE5, cheese=(4, 0)) == (2, 2)
    assert paths_diverge(MAZE5, cheese=(4, 0))
    assert next_step_action(MAZE5, (0, 0), (4, 0)) == UP
    assert next_step_action(MAZE5, (0, 2), (4, 0)) == RIGHT
    assert next_step_action(MAZE5, (2, 1), (4, 0)) == DOWN
    assert next_step_action(MAZE5, (1, 2), (0, 0)) == LEFT
    assert next_step_action(MAZE5, (4, 0), (4, 0)) == NOOP


def test_no_decision_square_when_a_goal_is_on_the_way():
    corridor = picture(["...", "#.#", "..."])  # bottom row, middle column, top row
    assert decision_square(corridor, cheese=(1, 1)) is None  # cheese on the way to corner
    assert not paths_diverge(corridor, cheese=(1, 1))


def test_validation():
    with pytest.raises(ValueError, match="on a wall"):
        shortest_path(MAZE5, (0, 0), (1, 0))
    with pytest.raises(ValueError, match="outside"):
        distance_field(MAZE5, (5, 0))
    blocked = picture([".#."])
    with pytest.raises(ValueError, match="unreachable"):
        shortest_path(blocked, (0, 0), (2, 0))
    assert distance_field(blocked, (0, 0))[0, 2] == -1


def test_regions():
    assert top_right_region(MAZE5, 0) == [(4, 4)]
    assert set(top_right_region(MAZE5, 2)) == {(3, 3), (4, 3), (4, 4), (3, 4)} & set(
        free_cells(MAZE5)
    )
    assert len(top_right_region(MAZE5, 99)) == len(free_cells(MAZE5))


REAL = [MazeState.from_bytes(b) for b in engine_states("hard", 12, 4)]


@pytest.mark.parametrize("state", REAL, ids=lambda s: f"seed{s.level_seed}")
def test_real_mazes_paths_and_decision_squares(state):
    free = state.free
    n = state.maze_dim
    assert free.sum() == 2 * ((n + 1) // 2) ** 2 - 1  # a perfect maze: a tree on the cells
    for goal in [state.cheese_cell, (n - 1, n - 1)]:
        path = shortest_path(free, (0, 0), goal)
        assert all(free[y, x] for x, y in path)
        steps = np.abs(np.diff(np.array(path), axis=0)).sum(axis=1)
        assert (steps == 1).all()
        assert len(path) - 1 == distance(free, (0, 0), goal)
    square = decision_square(free, state.cheese_cell)
    if square is not None:
        a = shortest_path(free, (0, 0), state.cheese_cell)
        b = shortest_path(free, (0, 0), (n - 1, n - 1))
        k = a.index(square)
        assert b.index(square) == k and a[k + 1] != b[k + 1]


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(REAL), st.data())
def test_distance_is_symmetric_and_obeys_triangle(state, data):
    cells = free_cells(state.free)
    a, b, c = (data.draw(st.sampled_from(cells)) for _ in range(3))
    free = state.free
    assert distance(free, a, b) == distance(free, b, a)
    assert distance(free, a, c) <= distance(free, a, b) + distance(free, b, c)
