"""Maze geometry on inner-maze grids: distances, shortest paths, decision squares.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner. Grids are bool arrays
``free`` of shape (n, n) indexed ``free[y, x]`` (row 0 at the bottom), as
``MazeState.free`` and ``MazeVecEnv.free_grid`` give them.

Procgen mazes are perfect mazes (a tree over the free cells), so shortest paths are
unique; on grids with loops, ties are broken in the fixed order right, up, left, down
(see :func:`shortest_path`).

Example:
    >>> import numpy as np
    >>> free = np.array([[1, 1, 1],
    ...                  [0, 0, 1],
    ...                  [1, 1, 1]], dtype=bool)[::-1]  # drawn top-down, stored bottom-up
    >>> shortest_path(free, (0, 2), (0, 0))
    [(0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]
    >>> decision_square(free, cheese=(0, 2))  # the corner (2, 2) is on the way
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from mazepolicy.envs.actions import ACTION_DELTAS, DOWN, LEFT, NOOP, NUM_ACTIONS, RIGHT, UP
from mazepolicy.envs.cells import Cell, as_cell, check_in_maze, region_start

# Neighbour order for tie-breaks: right, up, left, down, as (dx, dy, action).
_STEPS = ((1, 0, RIGHT), (0, 1, UP), (-1, 0, LEFT), (0, -1, DOWN))


def _grid(free: np.ndarray) -> np.ndarray:
    """``free`` as a 2-D bool array; ``ValueError`` for any other shape."""
    grid = np.asarray(free, dtype=bool)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"free must be a non-empty 2-D grid indexed [y, x], got {grid.shape}")
    return grid


def check_cell(free: np.ndarray, cell: Cell, what: str = "cell") -> Cell:
    """``cell`` = (x, y) as ints; ``ValueError`` naming it if it is outside the grid or on
    a wall. (x, y) are inner-maze coordinates, (0, 0) the bottom-left start cell.

    Example:
        >>> check_cell(np.ones((3, 3), dtype=bool), (np.int64(2), 1))
        (2, 1)
    """
    free = _grid(free)
    x, y = check_in_maze(cell, free.shape, what)
    if not free[y, x]:
        raise ValueError(f"{what} {(x, y)} is on a wall")
    return x, y


def neighbors(free: np.ndarray, cell: Cell) -> list[Cell]:
    """Free cells next to ``cell`` = (x, y) ((0, 0) bottom-left), in the order right, up,
    left, down.

    Example:
        >>> neighbors(np.ones((3, 3), dtype=bool), (0, 0))
        [(1, 0), (0, 1)]
    """
    free = _grid(free)
    x, y = check_cell(free, cell)
    n_y, n_x = free.shape
    out = []
    for dx, dy, _ in _STEPS:
        nx, ny = x + dx, y + dy
        if 0 <= nx < n_x and 0 <= ny < n_y and free[ny, nx]:
            out.append((nx, ny))
    return out


def bfs_distances(free: np.ndarray, source: Cell) -> np.ndarray:
    """Steps from ``source`` = (x, y) ((0, 0) bottom-left) to every cell: int64 (n, n)
    indexed [y, x]; -1 for walls and cells that cannot be reached.

    A level-by-level breadth-first search over the padded, flattened grid held in Python
    lists (about 80 us for a 25x25 procgen maze).

    Example:
        >>> bfs_distances(np.ones((2, 3), dtype=bool), (0, 0))[::-1]  # top-down
        array([[1, 2, 3],
               [0, 1, 2]])
    """
    free = _grid(free)
    x0, y0 = check_cell(free, source, "source")
    n_y, n_x = free.shape
    w = n_x + 2  # a wall ring around the grid spares the bounds checks
    padded = np.zeros((n_y + 2, w), dtype=bool)
    padded[1:-1, 1:-1] = free
    unseen = padded.ravel().tolist()
    dist = array("q", [-1]) * len(unseen)
    k0 = (y0 + 1) * w + x0 + 1
    dist[k0] = 0
    unseen[k0] = False
    frontier = [k0]
    d = 0
    while frontier:
        d += 1
        reached = []
        for k in frontier:  # unrolled over the four neighbours: this loop is the hot path
            j = k + 1
            if unseen[j]:
                unseen[j] = False
                dist[j] = d
                reached.append(j)
            j = k + w
            if unseen[j]:
                unseen[j] = False
                dist[j] = d
                reached.append(j)
            j = k - 1
            if unseen[j]:
                unseen[j] = False
                dist[j] = d
                reached.append(j)
            j = k - w
            if unseen[j]:
                unseen[j] = False
                dist[j] = d
                reached.append(j)
        frontier = reached
    return np.frombuffer(dist, dtype=np.int64).reshape(n_y + 2, w)[1:-1, 1:-1].copy()


distance_field = bfs_distances
"""Alias of :func:`bfs_distances` (the name the scripted agents import)."""


def greedy_action(field: np.ndarray, cell: Cell) -> int:
    """The move from ``cell`` = (x, y) ((0, 0) bottom-left) that descends ``field`` (a
    :func:`bfs_distances` from a goal): one step along a shortest path to that goal, the
    first of right, up, left, down that gets closer; NOOP at the goal, or when the goal is
    unreachable or ``cell`` is a wall. ``ValueError`` if ``cell`` is outside the grid.

    Example:
        >>> field = bfs_distances(np.ones((1, 3), dtype=bool), (2, 0))
        >>> greedy_action(field, (0, 0)) == RIGHT, greedy_action(field, (2, 0)) == NOOP
        (True, True)
    """
    x, y = as_cell(cell, "cell")
    n_y, n_x = field.shape
    if not (0 <= x < n_x and 0 <= y < n_y):
        raise ValueError(f"cell {(x, y)} is outside the {n_x}x{n_y} maze")
    return _downhill(field, x, y)


def _downhill(field: np.ndarray, x: int, y: int) -> int:
    """:func:`greedy_action` for a cell (x, y) already known to be inside ``field``."""
    here = field[y, x]
    if here <= 0:
        return NOOP
    n_y, n_x = field.shape
    for dx, dy, action in _STEPS:
        nx, ny = x + dx, y + dy
        if 0 <= nx < n_x and 0 <= ny < n_y and field[ny, nx] == here - 1:
            return action
    return NOOP


def _field_to_goal(free: np.ndarray, start: Cell, goal: Cell, what: str):
    """Checked ``start`` (x, y) and the distance field to ``goal``; ValueError if the goal
    cannot be reached from ``start``."""
    free = _grid(free)
    x, y = check_cell(free, start, what)
    goal = check_cell(free, goal, "goal")
    field = bfs_distances(free, goal)
    if field[y, x] < 0:
        raise ValueError(f"goal {goal} is unreachable from {(x, y)}")
    return x, y, field


def next_step_action(free: np.ndarray, cell: Cell, goal: Cell) -> int:
    """The procgen action (LEFT=1, DOWN=3, UP=5, RIGHT=7) of the first move from ``cell``
    along :func:`shortest_path` to ``goal``, or NOOP=4 when ``cell == goal``. Both are
    (x, y), (0, 0) bottom-left; ``ValueError`` for walls, cells outside the maze, or an
    unreachable goal.

    Example:
        >>> next_step_action(np.ones((3, 3), dtype=bool), (0, 0), (0, 2)) == UP
        True
    """
    x, y, field = _field_to_goal(free, cell, goal, "cell")
    return greedy_action(field, (x, y))


def shortest_path(free: np.ndarray, start: Cell, goal: Cell) -> list[Cell]:
    """Cells (x, y) ((0, 0) bottom-left) of a shortest path from ``start`` to ``goal``,
    both included (``[start]`` when they are equal).

    Each step goes to the first neighbour, in the order right, up, left, down, that is one
    step closer to ``goal``; in a perfect maze this is the only shortest path. Raises
    ``ValueError`` for cells outside the maze or on walls, or an unreachable goal.

    Example:
        >>> shortest_path(np.ones((2, 2), dtype=bool), (0, 0), (1, 1))  # right before up
        [(0, 0), (1, 0), (1, 1)]
    """
    x, y, field = _field_to_goal(free, start, goal, "start")
    path = [(x, y)]
    while field[y, x] > 0:
        dx, dy = ACTION_DELTAS[_downhill(field, x, y)]
        x, y = x + dx, y + dy
        path.append((x, y))
    return path


def path_length(path: Sequence[Cell]) -> int:
    """Steps along ``path``, a sequence of (x, y) cells each next to the one before:
    ``len(path) - 1``. ``ValueError`` for an empty path or a jump between cells.

    Example:
        >>> path_length([(0, 0), (1, 0), (1, 1)])
        2
    """
    if len(path) == 0:
        raise ValueError("path is empty")
    cells = [as_cell(c, "path cell") for c in path]
    for i, ((x0, y0), (x1, y1)) in enumerate(pairwise(cells)):
        if abs(x1 - x0) + abs(y1 - y0) != 1:
            raise ValueError(f"path cells {i} {(x0, y0)} and {i + 1} {(x1, y1)} are not adjacent")
    return len(cells) - 1


def distance(free: np.ndarray, a: Cell, b: Cell) -> int:
    """Steps on a shortest path between cells ``a`` and ``b`` ((x, y), (0, 0) bottom-left);
    ``ValueError`` for walls, cells outside the maze, or no path.

    Example:
        >>> distance(np.ones((3, 3), dtype=bool), (0, 0), (2, 2))
        4
    """
    free = _grid(free)
    x, y = check_cell(free, b, "b")
    a = check_cell(free, a, "a")
    d = int(bfs_distances(free, a)[y, x])
    if d < 0:
        raise ValueError(f"{(x, y)} is unreachable from {a}")
    return d


def manhattan(a: Cell, b: Cell) -> int:
    """|dx| + |dy| between cells ``a`` and ``b`` (x, y), ignoring walls.

    Example:
        >>> manhattan((0, 0), (2, 3))
        5
    """
    (ax, ay), (bx, by) = as_cell(a, "a"), as_cell(b, "b")
    return abs(ax - bx) + abs(ay - by)


def euclidean(a: Cell, b: Cell) -> float:
    """Straight-line distance in cells between cells ``a`` and ``b`` (x, y), ignoring walls.

    Example:
        >>> euclidean((0, 0), (3, 4))
        5.0
    """
    (ax, ay), (bx, by) = as_cell(a, "a"), as_cell(b, "b")
    return math.hypot(ax - bx, ay - by)


def top_right_corner(free: np.ndarray) -> Cell:
    """The maze's top-right cell (n-1, n-1) in (x, y) inner coordinates.

    Example:
        >>> top_right_corner(np.ones((5, 5), dtype=bool))
        (4, 4)
    """
    n_y, n_x = _grid(free).shape
    return n_x - 1, n_y - 1


def decision_square(free: np.ndarray, cheese: Cell, start: Cell = (0, 0)) -> Cell | None:
    """The last cell shared by the shortest paths from ``start`` to ``cheese`` and from
    ``start`` to the top-right corner (n-1, n-1); cells are (x, y), (0, 0) bottom-left.

    Returns ``None`` exactly when one path is a prefix of the other: the cheese lies on
    the path to the corner or the corner on the path to the cheese (this includes
    ``cheese == start`` and ``cheese == corner``). Otherwise the paths share a prefix
    starting at ``start`` and the answer is its last cell, whose next cells on the two
    paths differ. Both paths come from :func:`shortest_path`, so on grids with loops
    (not procgen mazes) this is the split point of those tie-broken paths; the paths may
    meet again later. ``ValueError`` for walls, cells outside the maze, or an unreachable
    cheese or corner.

    Example:
        >>> free = np.ones((1, 3), dtype=bool)
        >>> decision_square(free, cheese=(1, 0)) is None  # cheese on the way to the corner
        True
        >>> fork = np.array([[1, 1, 1],
        ...                  [1, 0, 0],
        ...                  [1, 1, 1]], dtype=bool)[::-1]  # drawn top-down
        >>> decision_square(fork, cheese=(2, 0))  # cheese to the right, corner up
        (0, 0)
    """
    to_cheese = shortest_path(free, start, cheese)
    to_corner = shortest_path(free, start, top_right_corner(free))
    shared = 0
    while shared < min(len(to_cheese), len(to_corner)) and to_cheese[shared] == to_corner[shared]:
        shared += 1
    if shared == len(to_cheese) or shared == len(to_corner):
        return None
    return to_cheese[shared - 1]


def paths_diverge(free: np.ndarray, cheese: Cell, start: Cell = (0, 0)) -> bool:
    """Whether the paths to the cheese and to the top-right corner split, i.e. whether
    :func:`decision_square` is not None; only such mazes can show goal misgeneralization.
    Cells are (x, y), (0, 0) bottom-left.

    Example:
        >>> paths_diverge(np.ones((1, 3), dtype=bool), cheese=(1, 0))
        False
    """
    return decision_square(free, cheese, start) is not None


def top_right_region(free: np.ndarray, n_region: int) -> list[Cell]:
    """Free cells (x, y) with x >= n - k and y >= n - k, k = n_region clipped to [1, n]:
    the top-right n_region x n_region square, ``n_region=0`` meaning just the corner
    (n-1, n-1). Ordered row by row from the bottom. ``ValueError`` if ``n_region < 0``.

    Example:
        >>> top_right_region(np.ones((3, 3), dtype=bool), 2)
        [(1, 1), (2, 1), (1, 2), (2, 2)]
    """
    free = _grid(free)
    if int(n_region) < 0:
        raise ValueError(f"n_region must be >= 0, got {n_region}")
    n_y, n_x = free.shape
    k = int(n_region)
    y_lo, x_lo = region_start(n_y, k), region_start(n_x, k)
    return [(x + x_lo, y + y_lo) for x, y in free_cells(free[y_lo:, x_lo:])]


def free_cells(free: np.ndarray) -> list[Cell]:
    """All free cells (x, y), (0, 0) bottom-left, row by row from the bottom.

    Example:
        >>> free_cells(np.array([[1, 0], [0, 1]], dtype=bool))
        [(0, 0), (1, 1)]
    """
    ys, xs = np.nonzero(_grid(free))
    return [(int(x), int(y)) for x, y in zip(xs, ys, strict=True)]


def action_to_delta(action: int) -> Cell:
    """The (dx, dy) move of procgen action ``action`` (0-14) in (x right, y up) terms:
    0-2 left, 3 down, 5 up, 6-8 right, the rest (0, 0). ``ValueError`` outside 0-14.

    Example:
        >>> action_to_delta(RIGHT), action_to_delta(2), action_to_delta(NOOP)
        ((1, 0), (-1, 0), (0, 0))
    """
    if isinstance(action, bool) or not isinstance(action, int | np.integer):
        raise ValueError(f"action must be an int in 0..{NUM_ACTIONS - 1}, got {action!r}")
    if not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"action must be in 0..{NUM_ACTIONS - 1}, got {action}")
    return ACTION_DELTAS[int(action)]
