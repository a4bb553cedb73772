"""Geometry against hand-built mazes with known answers, a reference BFS on random grids,
and real procgen mazes. Cells are (x, y), (0, 0) bottom-left; grids are free[y, x]."""

from __future__ import annotations

import timeit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mazepolicy.envs.actions import DOWN, LEFT, NOOP, RIGHT, UP
from mazepolicy.envs.geometry import (
    action_to_delta,
    bfs_distances,
    check_cell,
    decision_square,
    distance,
    distance_field,
    euclidean,
    free_cells,
    greedy_action,
    manhattan,
    neighbors,
    next_step_action,
    path_length,
    paths_diverge,
    shortest_path,
    top_right_corner,
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


def reference_distances(free: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Distances by repeated relaxation over the whole grid (slow, obviously right)."""
    n_y, n_x = free.shape
    inf = n_y * n_x + 1
    dist = np.full((n_y + 2, n_x + 2), inf)
    dist[source[1] + 1, source[0] + 1] = 0
    walls = ~np.pad(free, 1)
    while True:
        near = np.minimum.reduce([dist[1:-1, 2:], dist[1:-1, :-2], dist[2:, 1:-1], dist[:-2, 1:-1]])
        new = dist.copy()
        new[1:-1, 1:-1] = np.minimum(dist[1:-1, 1:-1], near + 1)
        new[walls] = inf
        if (new == dist).all():
            break
        dist = new
    out = dist[1:-1, 1:-1]
    return np.where(out >= inf, -1, out)


def test_corridor_and_tjunction():
    corridor = picture(["....."])
    assert shortest_path(corridor, (0, 0), (4, 0)) == [(x, 0) for x in range(5)]
    assert bfs_distances(corridor, (2, 0)).tolist() == [[2, 1, 0, 1, 2]]
    tee = picture(["...", "#.#", "#.#"])  # stem up from (1, 0) to a bar at y = 2
    assert shortest_path(tee, (1, 0), (0, 2)) == [(1, 0), (1, 1), (1, 2), (0, 2)]
    assert decision_square(tee, cheese=(0, 2), start=(1, 0)) == (1, 2)
    assert neighbors(tee, (1, 2)) == [(2, 2), (0, 2), (1, 1)]
    assert bfs_distances(tee, (1, 0))[::-1].tolist() == [[3, 2, 3], [-1, 1, -1], [-1, 0, -1]]


def test_hand_drawn_maze_known_answers():
    # from (0,0) up to (0,2), right to the junction (2,2); up to the corner, down to (4,0)
    assert distance(MAZE5, (0, 0), (0, 2)) == 2
    path_to_corner = shortest_path(MAZE5, (0, 0), (4, 4))
    assert path_to_corner == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 3), (2, 4), (3, 4),
                              (4, 4)]  # fmt: skip
    assert path_length(path_to_corner) == distance(MAZE5, (0, 0), (4, 4)) == 8
    to_cheese = shortest_path(MAZE5, (0, 0), (4, 0))
    assert to_cheese == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (3, 0), (4, 0)]
    assert decision_square(MAZE5, cheese=(4, 0)) == (2, 2)
    assert paths_diverge(MAZE5, cheese=(4, 0))
    assert next_step_action(MAZE5, (0, 0), (4, 0)) == UP
    assert next_step_action(MAZE5, (0, 2), (4, 0)) == RIGHT
    assert next_step_action(MAZE5, (2, 1), (4, 0)) == DOWN
    assert next_step_action(MAZE5, (1, 2), (0, 0)) == LEFT
    assert next_step_action(MAZE5, (4, 0), (4, 0)) == NOOP
    assert top_right_corner(MAZE5) == (4, 4)


def test_no_decision_square_when_a_goal_is_on_the_way():
    corridor = picture(["...", "#.#", "..."])  # bottom row, middle column, top row
    assert decision_square(corridor, cheese=(1, 1)) is None  # cheese on the way to corner
    assert not paths_diverge(corridor, cheese=(1, 1))
    assert decision_square(MAZE5, cheese=(0, 0)) is None  # cheese at the start
    assert decision_square(MAZE5, cheese=(4, 4)) is None  # cheese in the corner
    assert decision_square(MAZE5, cheese=(4, 2)) is None  # reached through the corner
    hook = picture(["..", "#.", ".."])  # the corner (1, 2) lies on the way to (0, 2)
    assert shortest_path(hook, (0, 0), (0, 2)) == [(0, 0), (1, 0), (1, 1), (1, 2), (0, 2)]
    assert decision_square(hook, cheese=(0, 2)) is None


def test_ties_on_grids_with_loops_follow_right_up_left_down():
    open_grid = np.ones((3, 3), dtype=bool)
    assert shortest_path(open_grid, (0, 0), (2, 2)) == [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2)]
    assert shortest_path(open_grid, (2, 2), (0, 0)) == [(2, 2), (1, 2), (0, 2), (0, 1), (0, 0)]
    assert next_step_action(open_grid, (0, 0), (1, 1)) == RIGHT
    # cheese (2, 1): its path runs right along the bottom like the corner path, then
    # stops before it; the corner path continues, so there is no split
    assert decision_square(open_grid, cheese=(2, 1)) is None
    # cheese (0, 2): up the left edge, while the corner path goes right first
    assert decision_square(open_grid, cheese=(0, 2)) == (0, 0)


def test_validation_names_the_cell_and_reason():
    with pytest.raises(ValueError, match=r"goal \(1, 0\) is on a wall"):
        shortest_path(MAZE5, (0, 0), (1, 0))
    with pytest.raises(ValueError, match=r"start \(1, 0\) is on a wall"):
        shortest_path(MAZE5, (1, 0), (0, 0))
    with pytest.raises(ValueError, match=r"source \(5, 0\) is outside the 5x5 maze"):
        bfs_distances(MAZE5, (5, 0))
    with pytest.raises(ValueError, match=r"outside"):
        neighbors(MAZE5, (0, -1))
    with pytest.raises(ValueError, match="pair of ints"):
        distance(MAZE5, (0, 0), "corner")
    with pytest.raises(ValueError, match="on a wall"):
        next_step_action(MAZE5, (1, 0), (0, 0))
    with pytest.raises(ValueError, match="on a wall"):
        decision_square(MAZE5, cheese=(3, 1))
    with pytest.raises(ValueError, match="2-D grid"):
        bfs_distances(np.ones(5, dtype=bool), (0, 0))
    with pytest.raises(ValueError, match="outside"):
        greedy_action(bfs_distances(MAZE5, (0, 0)), (7, 7))
    assert check_cell(MAZE5, (np.int64(4), np.int32(4))) == (4, 4)
    blocked = picture([".#."])
    with pytest.raises(ValueError, match="unreachable"):
        shortest_path(blocked, (0, 0), (2, 0))
    with pytest.raises(ValueError, match="unreachable"):
        distance(blocked, (0, 0), (2, 0))
    with pytest.raises(ValueError, match="unreachable"):
        next_step_action(blocked, (0, 0), (2, 0))
    assert bfs_distances(blocked, (0, 0)).tolist() == [[0, -1, -1]]
    assert greedy_action(bfs_distances(blocked, (2, 0)), (0, 0)) == NOOP


def test_path_length_and_flat_distances():
    assert path_length([(3, 3)]) == 0
    assert path_length(np.array([(0, 0), (0, 1), (1, 1)])) == 2
    with pytest.raises(ValueError, match="empty"):
        path_length([])
    with pytest.raises(ValueError, match=r"cells 1 \(1, 0\) and 2 \(2, 1\) are not adjacent"):
        path_length([(0, 0), (1, 0), (2, 1)])
    with pytest.raises(ValueError, match="not adjacent"):
        path_length([(0, 0), (0, 0)])
    assert manhattan((0, 0), (3, -4)) == 7
    assert euclidean((1, 1), (4, 5)) == 5.0


def test_action_deltas_cover_all_fifteen_actions():
    left, right = {0, 1, 2}, {6, 7, 8}
    for a in range(15):
        expected = (
            (-1, 0) if a in left else (1, 0) if a in right
            else (0, -1) if a == 3 else (0, 1) if a == 5 else (0, 0)
        )  # fmt: skip
        assert action_to_delta(a) == action_to_delta(np.int64(a)) == expected
    for bad in (-1, 15, 2.0, True, "1", None):
        with pytest.raises(ValueError, match="action"):
            action_to_delta(bad)


def test_regions():
    assert top_right_region(MAZE5, 0) == [(4, 4)]
    assert top_right_region(MAZE5, 1) == [(4, 4)]
    assert set(top_right_region(MAZE5, 2)) == {(3, 3), (4, 3), (4, 4), (3, 4)} & set(
        free_cells(MAZE5)
    )
    assert top_right_region(MAZE5, 99) == free_cells(MAZE5)
    with pytest.raises(ValueError, match="n_region"):
        top_right_region(MAZE5, -1)
    assert free_cells(MAZE5)[:3] == [(0, 0), (2, 0), (3, 0)]  # row by row from the bottom
    assert len(free_cells(MAZE5)) == int(MAZE5.sum())


def test_distance_field_is_bfs_distances():
    assert distance_field is bfs_distances


grids = arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9)))


@settings(max_examples=200, deadline=None)
@given(grids, st.data())
def test_bfs_matches_reference_on_random_grids(free, data):
    cells = free_cells(free)
    if not cells:
        return
    source = data.draw(st.sampled_from(cells))
    dist = bfs_distances(free, source)
    assert dist.dtype == np.int64 and dist.shape == free.shape
    np.testing.assert_array_equal(dist, reference_distances(free, source))


@settings(max_examples=200, deadline=None)
@given(grids, st.data())
def test_paths_on_random_grids_are_shortest_and_tie_broken(free, data):
    cells = free_cells(free)
    if not cells:
        return
    start, goal = data.draw(st.sampled_from(cells)), data.draw(st.sampled_from(cells))
    field = bfs_distances(free, goal)
    if field[start[1], start[0]] < 0:
        with pytest.raises(ValueError, match="unreachable"):
            shortest_path(free, start, goal)
        return
    path = shortest_path(free, start, goal)
    assert path[0] == start and path[-1] == goal
    assert path_length(path) == field[start[1], start[0]] == distance(free, start, goal)
    for here, there in zip(path, path[1:], strict=False):
        closer = [c for c in neighbors(free, here) if field[c[1], c[0]] < field[here[1], here[0]]]
        assert there == closer[0]  # first of right, up, left, down
        action = next_step_action(free, here, goal)
        assert (here[0] + action_to_delta(action)[0], here[1] + action_to_delta(action)[1]) == there


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
        assert len(path) - 1 == distance(free, (0, 0), goal) == path_length(path)
        for here, there in zip(path, path[1:], strict=False):
            dx, dy = action_to_delta(next_step_action(free, here, goal))
            assert (here[0] + dx, here[1] + dy) == there
    square = decision_square(free, state.cheese_cell)
    if square is not None:
        a = shortest_path(free, (0, 0), state.cheese_cell)
        b = shortest_path(free, (0, 0), (n - 1, n - 1))
        k = a.index(square)
        assert b.index(square) == k and a[k + 1] != b[k + 1]


@pytest.mark.parametrize("state", REAL[:4], ids=lambda s: f"seed{s.level_seed}")
def test_real_mazes_cheese_on_and_off_the_corner_path(state):
    free = state.free
    n = state.maze_dim
    to_corner = shortest_path(free, (0, 0), (n - 1, n - 1))
    for cell in to_corner:  # cheese anywhere on the way to the corner: nothing to decide
        assert decision_square(free, cell) is None
    on_path = set(to_corner)
    for cell in free_cells(free):
        if cell in on_path:
            continue
        square = decision_square(free, cell)
        if (n - 1, n - 1) in shortest_path(free, (0, 0), cell):
            assert square is None  # the corner is on the way to the cheese
            continue
        # a tree: the split is where the cheese's branch leaves the corner path
        assert square in on_path
        assert distance(free, (0, 0), square) + distance(free, square, cell) == distance(
            free, (0, 0), cell
        )
        assert shortest_path(free, square, cell)[1] not in on_path


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(REAL), st.data())
def test_distance_is_symmetric_and_obeys_triangle(state, data):
    cells = free_cells(state.free)
    a, b, c = (data.draw(st.sampled_from(cells)) for _ in range(3))
    free = state.free
    assert distance(free, a, b) == distance(free, b, a)
    assert distance(free, a, c) <= distance(free, a, b) + distance(free, b, c)
    assert manhattan(a, b) <= distance(free, a, b)


def test_bfs_is_fast_on_a_large_maze():
    state = max(REAL, key=lambda s: s.maze_dim)
    corner = (state.maze_dim - 1, state.maze_dim - 1)
    seconds = min(timeit.repeat(lambda: bfs_distances(state.free, corner), number=50, repeat=5))
    assert seconds / 50 < 1e-3  # about 80 us measured; a loose bound against regressions
