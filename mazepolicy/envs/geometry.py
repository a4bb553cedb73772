"""Maze geometry on inner-maze grids: distances, shortest paths, decision squares.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner. Grids are bool arrays
``free`` of shape (n, n) indexed ``free[y, x]`` (row 0 at the bottom), as
``MazeState.free`` and ``MazeVecEnv.free_grid`` give them.

Procgen mazes are perfect mazes (a tree over the free cells), so shortest paths are
unique; on grids with loops, ties are broken in the fixed order right, up, left, down.

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

from collections import deque

import numpy as np

from mazepolicy.envs.actions import DOWN, LEFT, NOOP, RIGHT, UP

Cell = tuple[int, int]

# Neighbour order for tie-breaks: right, up, left, down, as (dx, dy, action).
_STEPS = ((1, 0, RIGHT), (0, 1, UP), (-1, 0, LEFT), (0, -1, DOWN))


def check_cell(free: np.ndarray, cell: Cell, what: str = "cell") -> Cell:
    """``cell`` = (x, y) as ints; ``ValueError`` if it is outside the grid or on a wall."""
    try:
        x, y = (int(v) for v in cell)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an (x, y) pair of ints, got {cell!r}") from None
    n_y, n_x = free.shape
    if not (0 <= x < n_x and 0 <= y < n_y):
        raise ValueError(f"{what} {(x, y)} is outside the {n_x}x{n_y} maze")
    if not free[y, x]:
        raise ValueError(f"{what} {(x, y)} is on a wall")
    return x, y


def neighbors(free: np.ndarray, cell: Cell) -> list[Cell]:
    """Free cells next to ``cell`` = (x, y), in the order right, up, left, down.

    Example:
        >>> neighbors(np.ones((3, 3), dtype=bool), (0, 0))
        [(1, 0), (0, 1)]
    """
    x, y = check_cell(free, cell)
    n_y, n_x = free.shape
    out = []
    for dx, dy, _ in _STEPS:
        nx, ny = x + dx, y + dy
        if 0 <= nx < n_x and 0 <= ny < n_y and free[ny, nx]:
            out.append((nx, ny))
    return out


def distance_field(free: np.ndarray, source: Cell) -> np.ndarray:
    """Steps from ``source`` = (x, y) to every cell, int (n, n) indexed [y, x]; -1 unreachable.

    Example:
        >>> distance_field(np.ones((2, 3), dtype=bool), (0, 0))[::-1]  # top-down
        array([[1, 2, 3],
               [0, 1, 2]])
    """
    free = np.asarray(free, dtype=bool)
    x0, y0 = check_cell(free, source, "source")
    n_y, n_x = free.shape
    dist = np.full((n_y, n_x), -1, dtype=np.int64)
    dist[y0, x0] = 0
    flat_free = free.ravel()
    flat = dist.ravel()
    queue = deque([y0 * n_x + x0])
    while queue:
        k = queue.popleft()
        y, x = divmod(k, n_x)
        d = flat[k] + 1
        if x + 1 < n_x and flat_free[k + 1] and flat[k + 1] < 0:
            flat[k + 1] = d
            queue.append(k + 1)
        if x > 0 and flat_free[k - 1] and flat[k - 1] < 0:
            flat[k - 1] = d
            queue.append(k - 1)
        if y + 1 < n_y and flat_free[k + n_x] and flat[k + n_x] < 0:
            flat[k + n_x] = d
            queue.append(k + n_x)
        if y > 0 and flat_free[k - n_x] and flat[k - n_x] < 0:
            flat[k - n_x] = d
            queue.append(k - n_x)
    return dist


def greedy_action(field: np.ndarray, cell: Cell) -> int:
    """The move from ``cell`` = (x, y) that descends ``field`` (a :func:`distance_field` to
    a goal): one step along a shortest path to that goal; NOOP at the goal or when the
    goal is unreachable.

    Example:
        >>> field = distance_field(np.ones((1, 3), dtype=bool), (2, 0))
        >>> greedy_action(field, (0, 0)) == RIGHT, greedy_action(field, (2, 0)) == NOOP
        (True, True)
    """
    x, y = cell
    here = field[y, x]
    if here <= 0:
        return NOOP
    n_y, n_x = field.shape
    for dx, dy, action in _STEPS:
        nx, ny = x + dx, y + dy
        if 0 <= nx < n_x and 0 <= ny < n_y and field[ny, nx] == here - 1:
            return action
    return NOOP


def next_step_action(free: np.ndarray, cell: Cell, goal: Cell) -> int:
    """The procgen action of the first move from ``cell`` towards ``goal`` (both (x, y)).

    Example:
        >>> next_step_action(np.ones((3, 3), dtype=bool), (0, 0), (0, 2)) == UP
        True
    """
    check_cell(free, cell, "cell")
    return greedy_action(distance_field(free, goal), cell)


def shortest_path(free: np.ndarray, start: Cell, goal: Cell) -> list[Cell]:
    """Cells (x, y) of a shortest path from ``start`` to ``goal``, both included.

    Raises ``ValueError`` for cells outside the maze or on walls, or an unreachable goal.
    """
    field = distance_field(free, goal)
    x, y = check_cell(free, start, "start")
    if field[y, x] < 0:
        raise ValueError(f"goal {tuple(goal)} is unreachable from {(x, y)}")
    path = [(x, y)]
    while field[y, x] > 0:
        for dx, dy, _ in _STEPS:
            nx, ny = x + dx, y + dy
            inside = 0 <= nx < field.shape[1] and 0 <= ny < field.shape[0]
            if inside and field[ny, nx] == field[y, x] - 1:
                x, y = nx, ny
                break
        path.append((x, y))
    return path


def distance(free: np.ndarray, a: Cell, b: Cell) -> int:
    """Steps on a shortest path between cells ``a`` and ``b`` (x, y); ValueError if none."""
    d = int(distance_field(free, a)[check_cell(free, b, "b")[::-1]])
    if d < 0:
        raise ValueError(f"{tuple(b)} is unreachable from {tuple(a)}")
    return d


def top_right_corner(free: np.ndarray) -> Cell:
    """The maze's top-right cell (n-1, n-1)."""
    return free.shape[1] - 1, free.shape[0] - 1


def decision_square(free: np.ndarray, cheese: Cell, start: Cell = (0, 0)) -> Cell | None:
    """The last cell shared by the shortest paths from ``start`` to the cheese and from
    ``start`` to the top-right corner, or ``None`` when the paths do not diverge (one goal
    lies on the way to the other). Cells are (x, y), (0, 0) bottom-left.

    Example:
        >>> free = np.ones((1, 3), dtype=bool)
        >>> decision_square(free, cheese=(1, 0)) is None  # cheese on the way to the corner
        True
    """
    to_cheese = shortest_path(free, start, cheese)
    to_corner = shortest_path(free, start, top_right_corner(free))
    shared = 0
    while (
        shared < min(len(to_cheese), len(to_corner))
        and to_cheese[shared] == to_corner[shared]
    ):
        shared += 1
    if shared == len(to_cheese) or shared == len(to_corner):
        return None
    return to_cheese[shared - 1]


def paths_diverge(free: np.ndarray, cheese: Cell, start: Cell = (0, 0)) -> bool:
    """Whether the paths to the cheese and to the top-right corner split (see
    :func:`decision_square`); only such mazes can show goal misgeneralization."""
    return decision_square(free, cheese, start) is not None


def top_right_region(free: np.ndarray, n_region: int) -> list[Cell]:
    """Free cells (x, y) with x, y >= n - n_region (n_region clipped to n; 0 = the corner)."""
    n = free.shape[0]
    lo = n - min(max(int(n_region), 1), n)
    ys, xs = np.nonzero(free)
    return [(int(x), int(y)) for x, y in zip(xs, ys, strict=True) if x >= lo and y >= lo]


def free_cells(free: np.ndarray) -> list[Cell]:
    """All free cells (x, y), row by row from the bottom."""
    ys, xs = np.nonzero(free)
    return [(int(x), int(y)) for x, y in zip(xs, ys, strict=True)]
