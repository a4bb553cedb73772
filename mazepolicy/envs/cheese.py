"""Cheese placement rules, applied to every new maze before the agent sees a frame.

A placement is any callable ``placement(state, rng) -> cell | None`` that picks the
cheese cell for a freshly generated maze (``state`` is a :class:`MazeState`, ``rng`` a
``numpy.random.Generator`` seeded from the maze's level seed, so a given maze always gets
the same cheese). ``None`` means no cheese. Cells are (x, y) in inner-maze coordinates:
x to the right, y up, (0, 0) the mouse's start cell (bottom-left), (n-1, n-1) the
top-right corner.

Example:
    >>> import procgen
    >>> from mazepolicy.envs.state import MazeState
    >>> env = procgen.ProcgenGym3Env(num=1, env_name="maze", distribution_mode="hard",
    ...                              rand_seed=0, num_threads=1)
    >>> state = MazeState.from_bytes(env.callmethod("get_state")[0])
    >>> x, y = TopRightRegion(5)(state, np.random.default_rng(0))
    >>> x >= state.maze_dim - 5 and y >= state.maze_dim - 5
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mazepolicy.envs.state import Cell, MazeState

CheesePlacement = Callable[[MazeState, np.random.Generator], Cell | None]


def _free_cells_except_mouse(state: MazeState, min_coord: int = 0) -> np.ndarray:
    """Free inner cells with x, y >= ``min_coord``, mouse cell excluded; int (k, 2) of (x, y)."""
    free = state.free.copy()
    mx, my = state.mouse_cell
    free[my, mx] = False
    free[:min_coord, :] = False
    free[:, :min_coord] = False
    ys, xs = np.nonzero(free)
    return np.stack([xs, ys], axis=1)


def _choose(cells: np.ndarray, rng: np.random.Generator, what: str) -> Cell:
    if len(cells) == 0:
        raise ValueError(f"no free cell available for {what}")
    x, y = cells[rng.integers(len(cells))]
    return int(x), int(y)


@dataclass(frozen=True)
class TopRightRegion:
    """Cheese uniform over free cells with x, y >= maze_dim - n (the paper's training set).

    ``n`` is clipped to the maze size; ``n = 0`` puts the cheese in the top-right corner.
    Uniform choice over the region's free cells is the distribution the paper's rejection
    sampling draws from (the corner is always free, so the region is never empty).
    """

    n: int

    def __post_init__(self):
        if int(self.n) != self.n or self.n < 0:
            raise ValueError(f"TopRightRegion size must be an int >= 0, got {self.n!r}")

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        size = min(max(self.n, 1), state.maze_dim)
        cells = _free_cells_except_mouse(state, state.maze_dim - size)
        return _choose(cells, rng, f"TopRightRegion({self.n})")


@dataclass(frozen=True)
class Anywhere:
    """Cheese uniform over all free cells except the mouse's start (the test distribution)."""

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        return _choose(_free_cells_except_mouse(state), rng, "Anywhere()")


@dataclass(frozen=True)
class FixedCell:
    """Cheese always at cell (x, y); ``ValueError`` for a maze where that cell is unusable.

    In Procgen mazes the cells with even x and even y are always free.
    """

    x: int
    y: int

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        cell = state.check_cell((self.x, self.y), f"FixedCell cheese (level {state.level_seed})")
        if cell == state.mouse_cell:
            raise ValueError(f"FixedCell cheese {cell} is under the mouse")
        return cell


@dataclass(frozen=True)
class NoCheese:
    """No cheese at all: every episode runs to the engine's 500-step timeout."""

    def __call__(self, state: MazeState, rng: np.random.Generator) -> None:
        return None


def placement_from_spec(spec: str | dict | None) -> CheesePlacement | None:
    """Build a placement from its TOML/CLI spec.

    Accepted: ``None`` or ``"engine"`` (keep the engine's own cheese), ``"anywhere"``,
    ``"none"``, ``"top-right-N"``, ``{"top_right": N}``, ``{"fixed": [x, y]}``.

    Example:
        >>> placement_from_spec("top-right-5")
        TopRightRegion(n=5)
        >>> placement_from_spec({"fixed": [2, 4]})
        FixedCell(x=2, y=4)
    """
    if spec is None or spec == "engine":
        return None
    if isinstance(spec, str):
        if spec == "anywhere":
            return Anywhere()
        if spec == "none":
            return NoCheese()
        if spec.startswith("top-right-") and spec[len("top-right-") :].isdigit():
            return TopRightRegion(int(spec[len("top-right-") :]))
    if isinstance(spec, dict) and len(spec) == 1:
        (key, value), = spec.items()
        if key == "top_right":
            return TopRightRegion(int(value))
        if key == "fixed" and len(value) == 2:
            return FixedCell(int(value[0]), int(value[1]))
    raise ValueError(
        f"unknown cheese spec {spec!r}; use 'engine', 'anywhere', 'none', 'top-right-N', "
        "{'top_right': N} or {'fixed': [x, y]}"
    )
