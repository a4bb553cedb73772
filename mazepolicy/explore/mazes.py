"""The explorer's mazes: a seed's maze with the view's edits applied through the
validated :class:`~mazepolicy.envs.state.MazeState` codec, and the JSON the page draws.

Example:
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> (state,) = level_states([0], Anywhere(), "easy")
    >>> edited, steps = apply_edits(state, (("mouse", (2, 0)),))
    >>> edited.mouse_cell, state.mouse_cell, steps
    ((2, 0), (0, 0), ['state.set_mouse((2, 0))'])
    >>> apply_edits(state, (("cheese", (0, 0)),))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mazepolicy.explore.state.BadRequest: edit 1 (cheese at (0, 0)) cannot apply: ... mouse
"""

from __future__ import annotations

import base64
import io

import numpy as np

from mazepolicy.envs.cells import Cell, check_in_maze
from mazepolicy.envs.cheese import TopRightRegion
from mazepolicy.envs.geometry import decision_square, top_right_region
from mazepolicy.envs.state import MazeState
from mazepolicy.explore.state import BadRequest

RESEARCH_REGION = 5  # the top-right region drawn for variants without one of their own


def apply_edits(state: MazeState, edits) -> tuple[MazeState, list[str]]:
    """A copy of ``state`` with ``edits`` ((kind, (x, y)), ...) applied in order, and
    the library calls that make each (``state.set_wall((x, y), True)``: a toggle
    written as what it did). :class:`BadRequest` naming the first edit that cannot
    apply and why; ``state`` is never changed."""
    out, steps = state.copy(), []
    for i, (kind, cell) in enumerate(edits, 1):
        try:
            if kind == "cheese":
                out.set_cheese(cell)
                steps.append(f"state.set_cheese({cell})")
            elif kind == "mouse":
                out.set_mouse(cell)
                steps.append(f"state.set_mouse({cell})")
            else:
                x, y = check_in_maze(cell, out.maze_dim)
                wall = bool(out.free[y, x])
                out.set_wall(cell, wall)
                steps.append(f"state.set_wall({cell}, {wall})")
        except ValueError as err:
            raise BadRequest(f"edit {i} ({kind} at {cell}) cannot apply: {err}") from None
    return out, steps


def region_size(variant) -> int:
    """The side of the top-right region to draw: the variant's own, else the research's 5.

    Example:
        >>> from mazepolicy.envs.variants import load_variant
        >>> region_size(load_variant("maze-anywhere"))
        5
    """
    placement = variant.placement()
    return placement.n if isinstance(placement, TopRightRegion) else RESEARCH_REGION


def png_data_url(image: np.ndarray) -> str:
    """A uint8 (H, W, 3) image as a ``data:image/png;base64,...`` URL.

    Example:
        >>> png_data_url(np.zeros((2, 2, 3), dtype=np.uint8))[:22]
        'data:image/png;base64,'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def safe_decision_square(state: MazeState) -> Cell | None:
    """The decision square from the start (0, 0) as :func:`decision_square` finds it;
    None without cheese, or where an edit walled the start or cut a goal off."""
    if state.cheese_cell is None:
        return None
    try:
        return decision_square(state.free, state.cheese_cell)
    except ValueError:
        return None


def maze_json(state: MazeState, region: int, frame: np.ndarray) -> dict:
    """What the page draws of ``state``: ``free`` (rows of 0/1, row 0 the bottom, as
    grids are indexed [y, x]), ``maze_dim``, ``cheese``, ``mouse``, ``decision_square``,
    the ``top_right_region`` cells, and the agent's view ``frame`` (uint8 (64, 64, 3))
    as a PNG data URL."""
    return {"maze_dim": state.maze_dim, "level_seed": state.level_seed,
            "distribution_mode": state.distribution_mode,
            "free": state.free.astype(int).tolist(),  # (maze_dim, maze_dim) [y][x]
            "cheese": state.cheese_cell, "mouse": state.mouse_cell,
            "decision_square": safe_decision_square(state),
            "top_right_region": top_right_region(state.free, region),
            "view_png": png_data_url(frame)}
