"""Cheese placement rules, applied to every new maze before the agent sees a frame.

A placement is any callable ``placement(state, rng) -> cell | None`` that picks the
cheese cell for a freshly generated maze (``state`` is a :class:`MazeState`, ``rng`` a
``numpy.random.Generator`` seeded from the maze's level seed, so a given maze always gets
the same cheese). ``None`` means no cheese. Cells are (x, y) in inner-maze coordinates:
x to the right, y up, (0, 0) the mouse's start cell (bottom-left), (n-1, n-1) the
top-right corner.

Placements that cannot apply to a maze: a placement raises :class:`PlacementSkipped`
for a maze it cannot place cheese in (``FixedCell(8, 8)`` in a 7x7 maze, or on one of
its walls; a region with no free cell). :class:`~mazepolicy.envs.MazeVecEnv` then
leaves that maze without cheese and records the reason in
``info["placement_skipped"]`` (masked by ``info["_placement_skipped"]``) for as long
as that episode runs: never an exception in the middle of a run. A placement that can
never apply to a distribution mode is refused when the env is built instead:
``FixedCell(x, y)`` with x or y >= the mode's largest maze (15 easy, 25 hard) raises
``ValueError`` in ``MazeVecEnv(...)`` (placements may define ``check_mode(mode)`` for
that). Any other exception a placement raises is a bug and propagates.

Example:
    >>> from mazepolicy.envs.procgen_backend import make_engine
    >>> from mazepolicy.envs.state import MazeState
    >>> state = MazeState.from_bytes(make_engine(num=1, rand_seed=0).get_state_of(0))
    >>> x, y = TopRightRegion(5)(state, np.random.default_rng(0))
    >>> x >= state.maze_dim - 5 and y >= state.maze_dim - 5
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mazepolicy.envs.cells import Cell, as_cell, max_maze_dim, region_start
from mazepolicy.envs.state import MazeState

CheesePlacement = Callable[[MazeState, np.random.Generator], Cell | None]


class PlacementSkipped(Exception):
    """Raised by a placement for a maze it cannot place cheese in; the env leaves that
    maze without cheese and records ``str(exc)`` in ``info["placement_skipped"]``.

    Not a ``ValueError`` on purpose: a genuine bad value must not be mistaken for it.
    """


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
        raise PlacementSkipped(f"{what}: no free cell available")
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
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 0:
            raise ValueError(f"TopRightRegion size must be an int >= 0, got {self.n!r}")

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        cells = _free_cells_except_mouse(state, region_start(state.maze_dim, self.n))
        return _choose(cells, rng, f"TopRightRegion({self.n})")


@dataclass(frozen=True)
class Anywhere:
    """Cheese uniform over all free cells except the mouse's start (the test distribution)."""

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        return _choose(_free_cells_except_mouse(state), rng, "Anywhere()")


@dataclass(frozen=True)
class FixedCell:
    """Cheese always at cell (x, y), in inner-maze coordinates ((0, 0) bottom-left).

    ``x`` and ``y`` must be ints >= 0 (``ValueError`` otherwise). A maze where that cell
    is outside the maze, on a wall or under the mouse gets no cheese: the placement
    raises :class:`PlacementSkipped` with the reason, which the env records in
    ``info["placement_skipped"]``. A cell that no maze of a mode can take is refused
    when an env or variant is made (:meth:`check_mode`): x or y >= 15 in easy mode
    (>= 25 in hard mode), both x and y odd (Procgen's mazes are Kruskal mazes on the
    even cells: a cell with odd x and odd y is a wall in every maze), and (0, 0), the
    mouse's start in every maze. The cells with even x and even y are always free.

    Example:
        >>> FixedCell(8, 8).check_mode("hard")
        >>> FixedCell(30, 0).check_mode("hard")
        Traceback (most recent call last):
        ...
        ValueError: FixedCell(30, 0) never fits a 'hard'-mode maze (at most 25x25)
    """

    x: int
    y: int

    def __post_init__(self):
        x, y = as_cell((self.x, self.y), "FixedCell cell")
        if x < 0 or y < 0:
            raise ValueError(f"FixedCell cell {(x, y)} has a negative coordinate")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def check_mode(self, distribution_mode: str) -> None:
        """``ValueError`` if no maze of ``distribution_mode`` can take the cell (see the
        class docstring).

        Example:
            >>> FixedCell(1, 3).check_mode("easy")
            Traceback (most recent call last):
            ...
            ValueError: FixedCell(1, 3) is a wall in every maze (x and y both odd)
        """
        n, cell = max_maze_dim(distribution_mode), f"FixedCell({self.x}, {self.y})"
        if self.x >= n or self.y >= n:
            raise ValueError(f"{cell} never fits a {distribution_mode!r}-mode maze "
                             f"(at most {n}x{n})")
        if self.x % 2 == 1 and self.y % 2 == 1:
            raise ValueError(f"{cell} is a wall in every maze (x and y both odd)")
        if (self.x, self.y) == (0, 0):
            raise ValueError(f"{cell} is the mouse's start cell in every maze")

    def __call__(self, state: MazeState, rng: np.random.Generator) -> Cell:
        cell, n = (self.x, self.y), state.maze_dim
        if self.x >= n or self.y >= n:
            raise PlacementSkipped(f"FixedCell{cell} is outside the {n}x{n} maze")
        if not state.free[self.y, self.x]:
            raise PlacementSkipped(f"FixedCell{cell} is on a wall of this maze")
        if cell == state.mouse_cell:
            raise PlacementSkipped(f"FixedCell{cell} is under the mouse")
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
            return TopRightRegion(value)
        if key == "fixed":
            return FixedCell(*as_cell(value, "fixed cheese cell"))
    raise ValueError(
        f"unknown cheese spec {spec!r}; use 'engine', 'anywhere', 'none', 'top-right-N', "
        "{'top_right': N} or {'fixed': [x, y]}"
    )
