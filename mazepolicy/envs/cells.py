"""Maze cells: the one definition of a cell, how cells are checked, and world sizes.

A cell is an (x, y) pair of ints in inner-maze coordinates: x to the right, y up,
(0, 0) the mouse's start cell (bottom-left), (n-1, n-1) the top-right corner of an
n x n maze. Grids are indexed ``[y, x]`` with row 0 at the bottom.

Coordinates must be ints (Python ``int`` or a numpy integer): floats (even 2.0) are
refused rather than truncated, and bools are refused although Python counts them as
ints. Every place that takes a cell (state edits, placements, geometry, drawing) checks
it with :func:`as_cell` and, against a maze size, with :func:`check_in_maze`.

This module imports only numpy, so anything may use it cheaply.

Example:
    >>> as_cell((2, 4))
    (2, 4)
    >>> check_in_maze((2, 4), 5)
    (2, 4)
    >>> as_cell((1.5, 0))
    Traceback (most recent call last):
    ...
    ValueError: cell must be an (x, y) pair of ints, got (1.5, 0) (1.5 is a float)
    >>> world_dim("hard"), max_maze_dim("easy")
    (25, 15)
"""

from __future__ import annotations

import numbers

import numpy as np

Cell = tuple[int, int]
"""(x, y) in inner-maze coordinates: x right, y up, (0, 0) the bottom-left start cell."""

WORLD_DIMS = {"easy": 15, "hard": 25}
"""Side of the engine's world per distribution mode; mazes are odd, 3 .. world side."""

MIN_MAZE_DIM = 3


def world_dim(distribution_mode: str) -> int:
    """Side of the engine's world (15 easy, 25 hard); ``ValueError`` for other modes.

    Example:
        >>> world_dim("easy")
        15
    """
    try:
        return WORLD_DIMS[distribution_mode]
    except (KeyError, TypeError):
        raise ValueError(
            f"distribution_mode must be 'easy' or 'hard', got {distribution_mode!r}"
        ) from None


def max_maze_dim(distribution_mode: str) -> int:
    """Side of the largest maze of a mode: the whole world (15 easy, 25 hard).

    Example:
        >>> max_maze_dim("hard")
        25
    """
    return world_dim(distribution_mode)


def _coordinate(value, cell, what: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        kind = "a bool" if isinstance(value, bool | np.bool_) else f"a {type(value).__name__}"
        raise ValueError(
            f"{what} must be an (x, y) pair of ints, got {cell!r} ({value!r} is {kind})"
        )
    return int(value)


def as_cell(cell, what: str = "cell") -> Cell:
    """``cell`` as a pair of Python ints; ``ValueError`` naming ``what`` unless it is an
    (x, y) pair of ints (numpy integers are fine; floats, bools, strings are not).

    Example:
        >>> as_cell(np.array([3, 1]))
        (3, 1)
        >>> as_cell((True, 0), "mouse cell")
        Traceback (most recent call last):
        ...
        ValueError: mouse cell must be an (x, y) pair of ints, got (True, 0) (True is a bool)
    """
    if isinstance(cell, str | bytes):
        raise ValueError(f"{what} must be an (x, y) pair of ints, got {cell!r}")
    try:
        values = tuple(cell)
    except TypeError:
        raise ValueError(f"{what} must be an (x, y) pair of ints, got {cell!r}") from None
    if len(values) != 2:
        raise ValueError(f"{what} must be an (x, y) pair of ints, got {cell!r}")
    return _coordinate(values[0], cell, what), _coordinate(values[1], cell, what)


def check_in_maze(cell, size: int | tuple[int, int], what: str = "cell") -> Cell:
    """``cell`` as ints (see :func:`as_cell`); ``ValueError`` unless it lies inside a maze
    of side ``size`` or, for a grid indexed [y, x], of shape ``size`` = (rows, columns).

    Walls are not checked here (a grid is needed for that).

    Example:
        >>> check_in_maze((0, 2), (3, 1))  # 3 rows, 1 column
        (0, 2)
        >>> check_in_maze((7, 7), 7, "cheese cell")
        Traceback (most recent call last):
        ...
        ValueError: cheese cell (7, 7) is outside the 7x7 maze
    """
    x, y = as_cell(cell, what)
    n_y, n_x = (size, size) if isinstance(size, numbers.Integral) else size
    if not (0 <= x < n_x and 0 <= y < n_y):
        raise ValueError(f"{what} {(x, y)} is outside the {n_x}x{n_y} maze")
    return x, y


def region_start(size: int, n: int) -> int:
    """The lowest coordinate of the top-right ``n`` x ``n`` region along an axis of
    ``size`` cells: ``n`` is clipped to 1..size (``n = 0`` is the corner alone), so the
    region is cells ``region_start(size, n) .. size - 1``.

    Example:
        >>> region_start(9, 5), region_start(3, 5), region_start(9, 0)
        (4, 0, 8)
    """
    return size - min(max(int(n), 1), size)
