"""Channel interventions: where a maze cell sits in a layer's feature map, and hooks that
set, add to or clamp chosen channels at chosen positions (the research's retargeting:
one activation of a cheese-tracking channel written at the position of a target cell).

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left). Feature-map positions
are (row, col) with row 0 at the TOP, like the frames.

Example:
    >>> cell_position((0, 0), maze_dim=25, world_dim=25, size=16)  # bottom-left cell
    (15, 0)
    >>> cell_position((24, 24), maze_dim=25, world_dim=25, size=16)  # top-right corner
    (0, 15)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mazepolicy.envs.state import Cell


def cell_position(cell: Cell, maze_dim: int, world_dim: int, size: int) -> tuple[int, int]:
    """(row, col) of the ``size`` x ``size`` feature map under the centre of inner cell
    ``cell`` = (x, y) of a maze of side ``maze_dim`` centred in a ``world_dim`` world."""
    x, y = (int(v) for v in cell)
    if not (0 <= x < maze_dim and 0 <= y < maze_dim):
        raise ValueError(f"cell {(x, y)} is outside the {maze_dim}x{maze_dim} maze")
    margin = (world_dim - maze_dim) // 2
    centre_col = (x + margin + 0.5) / world_dim  # fraction of the frame's width
    centre_row = (world_dim - 1 - (y + margin) + 0.5) / world_dim  # from the top
    return min(int(centre_row * size), size - 1), min(int(centre_col * size), size - 1)


def channel_hook(
    channels: Sequence[int],
    positions: Sequence[tuple[int, int]] | None,
    value: float,
    mode: str = "set",
):
    """A hook function editing ``channels`` at ``positions`` ((row, col); None = all).

    ``mode``: "set" writes ``value``, "add" adds it, "clamp_min"/"clamp_max" bound it.
    """
    if mode not in ("set", "add", "clamp_min", "clamp_max"):
        raise ValueError(f"unknown mode {mode!r}")
    channels = list(channels)

    def hook(activation: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        if activation.ndim != 4:
            raise ValueError("channel interventions need a (N, C, H, W) conv activation")
        out = activation.clone()
        if max(channels) >= out.shape[1]:
            raise ValueError(f"channel {max(channels)} >= {out.shape[1]} channels")
        rows = slice(None) if positions is None else [p[0] for p in positions]
        cols = slice(None) if positions is None else [p[1] for p in positions]
        for c in channels:
            view = out[:, c][:, rows, cols]
            if mode == "set":
                view = torch.full_like(view, value)
            elif mode == "add":
                view = view + value
            elif mode == "clamp_min":
                view = view.clamp(min=value)
            else:
                view = view.clamp(max=value)
            out[:, c, rows, cols] = view
        return out

    return hook


def retarget_hook(channel: int, cell: Cell, maze_dim: int, world_dim: int, size: int,
                  value: float = 5.0):
    """Write ``value`` into ``channel`` at the map position of ``cell`` = (x, y) only."""
    return channel_hook([channel], [cell_position(cell, maze_dim, world_dim, size)], value)
