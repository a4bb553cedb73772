"""Pictures of mazes and engine frames: matplotlib drawings, numpy images, GIFs, videos.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner. Grids are bool arrays
``free`` of shape (n, n) indexed ``free[y, x]`` with row 0 at the bottom, as the engine
stores them; every picture here is top-down (row n-1 at the top), like the engine's frames.

Example:
    >>> import numpy as np
    >>> free = np.ones((3, 3), dtype=bool)
    >>> image = maze_image(free, mouse=(0, 0), cheese=(2, 2), cell_px=4)
    >>> image.shape, tuple(image[10, 2]) == MOUSE_RGB, tuple(image[2, 10]) == CHEESE_RGB
    ((12, 12, 3), True, True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import imageio.v3 as iio
import numpy as np

from mazepolicy.envs.cells import Cell, check_in_maze
from mazepolicy.io import atomic_write_with

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RGB = tuple[int, int, int]

WALL_RGB: RGB = (38, 38, 46)
FREE_RGB: RGB = (236, 234, 222)
MOUSE_RGB: RGB = (52, 101, 214)
CHEESE_RGB: RGB = (247, 190, 20)
CORNER_RGB: RGB = (214, 39, 40)
DECISION_RGB: RGB = (148, 52, 196)


def _grid(free: np.ndarray) -> np.ndarray:
    """``free`` as a 2-D bool array; ``ValueError`` for any other shape."""
    grid = np.asarray(free, dtype=bool)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"free must be a non-empty 2-D grid indexed [y, x], got {grid.shape}")
    return grid


def _in_maze(grid: np.ndarray, cell: Cell, what: str) -> Cell:
    """``cell`` = (x, y) as ints; ``ValueError`` naming it if it lies outside the grid.

    Walls are allowed: pictures must be able to show broken or edited mazes.
    """
    return check_in_maze(cell, grid.shape, what)


def _unit(rgb: RGB) -> tuple[float, float, float]:
    """A 0-255 colour as matplotlib's 0-1 floats."""
    return rgb[0] / 255, rgb[1] / 255, rgb[2] / 255


def draw_maze(
    free: np.ndarray,
    mouse: Cell | None = None,
    cheese: Cell | None = None,
    paths: Sequence[tuple[Sequence[Cell], str, str | None]] | None = None,
    decision_square: Cell | None = None,
    arrows: Mapping[Cell, tuple[float, float]] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    cell_text: Mapping[Cell, str] | None = None,
    mark_corner: bool = True,
    arrow_scale: float = 0.45,
) -> Axes:
    """Draw the inner maze top-down on ``ax`` (a new figure's axes when None).

    Data coordinates are cell coordinates: cell (x, y) ((0, 0) the bottom-left start,
    y up) is the unit square centred on (x, y), so more artists can be added directly.
    Walls are dark and free cells light; the mouse is a blue disc, the cheese a yellow
    square, the top-right corner (n-1, n-1) a red outline (``mark_corner``),
    ``decision_square`` a purple diamond. ``paths`` are ``(cells, color, label)``
    polylines through cell centres (label None for no legend entry; a legend is drawn
    when any path has a label). ``arrows`` maps cells to (dx, dy) vectors (x right,
    y up) drawn from the cell centres, a unit vector ``arrow_scale`` cells long, e.g. a
    policy's mean move; ``cell_text`` writes a string at the centre of each cell given.
    Every cell must lie inside the grid (``ValueError`` naming it otherwise); walls are allowed.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> free = np.ones((3, 3), dtype=bool)
        >>> ax = draw_maze(free, mouse=(0, 0), cheese=(2, 0),
        ...                paths=[([(0, 0), (1, 0), (2, 0)], "tab:green", "to cheese")],
        ...                arrows={(1, 1): (1.0, 0.0)}, title="demo")
        >>> ax.get_title(), [float(v) for v in ax.get_xlim()]
        ('demo', [-0.5, 2.5])
    """
    from matplotlib import patches

    grid = _grid(free)
    n_y, n_x = grid.shape
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 5 * n_y / n_x))
    base = np.where(np.flipud(grid)[..., None], FREE_RGB, WALL_RGB).astype(np.uint8)
    ax.imshow(base, extent=(-0.5, n_x - 0.5, -0.5, n_y - 0.5), interpolation="nearest")

    labelled = False
    for i, (cells, color, label) in enumerate(paths or []):
        xy = np.array([_in_maze(grid, c, f"paths[{i}] cell") for c in cells], dtype=float)
        ax.plot(xy[:, 0], xy[:, 1], color=color, lw=2.5, alpha=0.85, label=label)
        labelled = labelled or label is not None
    if mark_corner:
        ax.add_patch(
            patches.Rectangle(
                (n_x - 1.5, n_y - 1.5),
                1,
                1,
                fill=False,
                ec=_unit(CORNER_RGB),
                lw=2,
                label="top-right corner",
            )
        )
    if decision_square is not None:
        x, y = _in_maze(grid, decision_square, "decision_square")
        ax.add_patch(
            patches.RegularPolygon(
                (x, y),
                4,
                radius=0.5,
                fill=False,
                ec=_unit(DECISION_RGB),
                lw=2,
                label="decision square",
            )
        )
    if cheese is not None:
        x, y = _in_maze(grid, cheese, "cheese")
        ax.add_patch(
            patches.Rectangle(
                (x - 0.35, y - 0.35), 0.7, 0.7, color=_unit(CHEESE_RGB), label="cheese", zorder=3
            )
        )
    if mouse is not None:
        x, y = _in_maze(grid, mouse, "mouse")
        ax.add_patch(patches.Circle((x, y), 0.35, color=_unit(MOUSE_RGB), label="mouse", zorder=3))
    if arrows:
        xy = np.array([_in_maze(grid, c, "arrows cell") for c in arrows], dtype=float)
        uv = np.array(list(arrows.values()), dtype=float).reshape(-1, 2)
        ax.quiver(
            xy[:, 0],
            xy[:, 1],
            uv[:, 0],
            uv[:, 1],
            angles="xy",
            scale_units="xy",
            scale=1 / arrow_scale,
            color="tab:orange",
            zorder=4,
        )
    for cell, text in (cell_text or {}).items():
        x, y = _in_maze(grid, cell, "cell_text cell")
        ax.text(x, y, text, ha="center", va="center", fontsize=7, zorder=5)

    ax.set_xlim(-0.5, n_x - 0.5)
    ax.set_ylim(-0.5, n_y - 0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if labelled:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax


def maze_image(
    free: np.ndarray,
    mouse: Cell | None = None,
    cheese: Cell | None = None,
    cell_px: int = 16,
) -> np.ndarray:
    """A top-down uint8 RGB picture of the inner maze, (n * cell_px, n * cell_px, 3).

    Cell (x, y) ((0, 0) bottom-left, y up) covers rows ``(n-1-y)*cell_px ..`` and columns
    ``x*cell_px ..``. Walls are ``WALL_RGB``, free cells ``FREE_RGB``; the cheese is a
    ``CHEESE_RGB`` square inset by ``cell_px // 8``, the mouse a ``MOUSE_RGB`` disc of
    radius 0.35 cells drawn over it (the cheese's corners still show); both always cover
    their cell's centre pixel. ``ValueError`` for cells outside
    the grid or ``cell_px < 1``.

    Example:
        >>> image = maze_image(np.eye(2, dtype=bool), mouse=(0, 0), cell_px=2)
        >>> image.shape, tuple(image[3, 0]) == MOUSE_RGB, tuple(image[0, 0]) == WALL_RGB
        ((4, 4, 3), True, True)
    """
    grid = _grid(free)
    if int(cell_px) != cell_px or cell_px < 1:
        raise ValueError(f"cell_px must be an int >= 1, got {cell_px!r}")
    n_y = grid.shape[0]
    base = np.where(np.flipud(grid)[..., None], FREE_RGB, WALL_RGB).astype(np.uint8)
    image = base.repeat(cell_px, axis=0).repeat(cell_px, axis=1)

    def block(cell: Cell, what: str) -> np.ndarray:
        x, y = _in_maze(grid, cell, what)
        row, col = (n_y - 1 - y) * cell_px, x * cell_px
        return image[row : row + cell_px, col : col + cell_px]

    if cheese is not None:
        inset = cell_px // 8
        block(cheese, "cheese")[inset : cell_px - inset, inset : cell_px - inset] = CHEESE_RGB
    if mouse is not None:
        centre = (np.arange(cell_px) + 0.5 - cell_px / 2) ** 2
        radius = max(0.35 * cell_px, 0.75)  # 0.75 keeps the centre pixels of tiny cells
        block(mouse, "mouse")[centre[:, None] + centre[None, :] <= radius**2] = MOUSE_RGB
    return image


def upscale_frame(obs: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of frames (..., H, W, C), e.g. a (64, 64, 3) engine
    frame or a (T, 64, 64, 3) stack: each pixel becomes a ``factor`` x ``factor`` block.

    Example:
        >>> upscale_frame(np.zeros((64, 64, 3), dtype=np.uint8), 4).shape
        (256, 256, 3)
    """
    obs = np.asarray(obs)
    if obs.ndim < 3:
        raise ValueError(f"obs must be (..., H, W, C) frames, got shape {obs.shape}")
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be an int >= 1, got {factor!r}")
    return obs.repeat(int(factor), axis=-3).repeat(int(factor), axis=-2)


def pixel_cell(
    cell: Cell, maze_dim: int, world_dim: int, frame_px: int = 64
) -> tuple[slice, slice]:
    """(row_slice, col_slice) of the engine frame's pixels lying wholly inside inner cell
    ``cell`` = (x, y) ((0, 0) the bottom-left start cell, y up, (n-1, n-1) the top-right).

    The maze sits at ``margin = (world_dim - maze_dim) // 2``; world cell (wx, wy) =
    (x + margin, y + margin) spans columns ``wx * frame_px / world_dim`` to
    ``(wx + 1) * frame_px / world_dim`` and rows ``(world_dim - 1 - wy) * frame_px /
    world_dim`` to ``(world_dim - wy) * frame_px / world_dim`` of a ``frame_px`` square
    frame (64 for observations, 512 for ``render_mode="rgb_array"``). The slices start at
    the ceiling and end at the floor of those edges, so pixels shared with a neighbour are
    left out. ``ValueError`` for a cell outside the maze, a maze larger than the world, or
    cells narrower than 2 px.

    Example:
        >>> pixel_cell((0, 0), maze_dim=25, world_dim=25)  # bottom-left: rows 61.44..64
        (slice(62, 64, None), slice(0, 2, None))
        >>> pixel_cell((0, 0), maze_dim=13, world_dim=15)  # margin 1: cols 4.27..8.53
        (slice(56, 59, None), slice(5, 8, None))
    """
    if not 1 <= maze_dim <= world_dim:
        raise ValueError(f"need 1 <= maze_dim <= world_dim, got {maze_dim} and {world_dim}")
    if frame_px < 2 * world_dim:
        raise ValueError(f"frame_px {frame_px} gives cells under 2 px for world_dim {world_dim}")
    x, y = check_in_maze(cell, maze_dim)
    margin = (world_dim - maze_dim) // 2
    wx, wy = x + margin, y + margin

    def inside(lo: int) -> slice:  # whole pixels within [lo, lo + 1) cells; exact integers
        return slice(-(-lo * frame_px // world_dim), (lo + 1) * frame_px // world_dim)

    return inside(world_dim - 1 - wy), inside(wx)


def _frame_stack(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Frames as one uint8 (N, H, W, 3) array; ``ValueError`` otherwise."""
    if len(frames) == 0:
        raise ValueError("no frames to write")
    shapes = {np.shape(f) for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"frames must all have one shape, got {sorted(shapes)}")
    stack = np.asarray(frames)
    if stack.dtype != np.uint8 or stack.ndim != 4 or stack.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (H, W, 3), got {stack.dtype} {stack.shape[1:]}")
    return stack


def _check_fps(fps: float) -> float:
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    return float(fps)


def save_gif(
    frames: Sequence[np.ndarray] | np.ndarray, path: str | os.PathLike, fps: float = 10
) -> Path:
    """Write uint8 (H, W, 3) frames as a looping GIF at ``path`` (which must end in
    ``.gif``; ``ValueError`` otherwise), atomically; returns the path. GIF delays are
    whole hundredths of a second, and Pillow merges identical consecutive frames into
    one longer frame (playback is unchanged).

    Example:
        >>> import pathlib, tempfile
        >>> frames = [maze_image(np.eye(3, dtype=bool), mouse=(i, i)) for i in range(3)]
        >>> out = save_gif(frames, pathlib.Path(tempfile.mkdtemp()) / "walk.gif")
        >>> iio.imread(out).shape
        (3, 48, 48, 3)
    """
    path = _check_suffix(path, ".gif", "save_gif")
    stack = _frame_stack(frames)
    duration_ms = 1000 / _check_fps(fps)
    return atomic_write_with(
        path,
        lambda tmp: iio.imwrite(
            tmp, stack, extension=".gif", plugin="pillow", duration=duration_ms, loop=0
        ),
    )


def save_video(
    frames: Sequence[np.ndarray] | np.ndarray, path: str | os.PathLike, fps: float = 10
) -> Path:
    """Write uint8 (H, W, 3) frames as an H.264 MP4 at ``path`` (which must end in
    ``.mp4``), atomically; returns the path.

    Encoded by PyAV (the ``av`` package, a dependency; its wheels bundle FFmpeg and
    libx264) through imageio's ``pyav`` plugin. H.264 in yuv420p needs even sides, so a
    frame with an odd height or width gets one edge-replicated row or column.

    Example:
        >>> import pathlib, tempfile
        >>> frames = np.zeros((5, 64, 64, 3), dtype=np.uint8)
        >>> out = save_video(frames, pathlib.Path(tempfile.mkdtemp()) / "clip.mp4")
        >>> iio.imread(out, plugin="pyav").shape
        (5, 64, 64, 3)
    """
    path = _check_suffix(path, ".mp4", "save_video")
    stack = _frame_stack(frames)  # (N, H, W, 3)
    fps = _check_fps(fps)
    height, width = stack.shape[1:3]
    stack = np.pad(stack, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return atomic_write_with(
        path,
        lambda tmp: iio.imwrite(tmp, stack, plugin="pyav", extension=".mp4",
                                codec="libx264", fps=fps),
    )


FRAME_WRITERS = {".gif": save_gif, ".mp4": save_video}
"""Writer per file suffix for :func:`save_frames`."""


def _check_suffix(path: str | os.PathLike, suffix: str, what: str) -> Path:
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"{what} writes {suffix} files; got {str(path)!r}")
    return path


def check_video_path(path: str | os.PathLike) -> Path:
    """``path`` if :func:`save_frames` can write it (``.gif`` or ``.mp4``, any case);
    ``ValueError`` naming the supported suffixes otherwise. Call it before a long
    rollout so a bad name fails first.

    Example:
        >>> check_video_path("out/clip.avi")
        Traceback (most recent call last):
        ...
        ValueError: unknown video suffix '.avi' in 'out/clip.avi'; use one of ['.gif', '.mp4']
    """
    path = Path(path)
    if path.suffix.lower() not in FRAME_WRITERS:
        raise ValueError(f"unknown video suffix {path.suffix!r} in {str(path)!r}; "
                         f"use one of {sorted(FRAME_WRITERS)}")
    return path


def save_frames(
    frames: Sequence[np.ndarray] | np.ndarray, path: str | os.PathLike, fps: float = 10
) -> Path:
    """Write uint8 (H, W, 3) frames as a GIF or an MP4, chosen by ``path``'s suffix;
    ``ValueError`` for any other suffix (nothing is written).

    Example:
        >>> import pathlib, tempfile
        >>> frames = np.zeros((3, 16, 16, 3), dtype=np.uint8)
        >>> save_frames(frames, pathlib.Path(tempfile.mkdtemp()) / "a.gif").suffix
        '.gif'
    """
    path = check_video_path(path)
    return FRAME_WRITERS[path.suffix.lower()](frames, path, fps)
