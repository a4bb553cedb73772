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

from mazepolicy.envs.cells import Cell, check_in_maze


def cell_position(cell: Cell, maze_dim: int, world_dim: int, size: int) -> tuple[int, int]:
    """(row, col) of the ``size`` x ``size`` feature map under the centre of inner cell
    ``cell`` = (x, y) of a maze of side ``maze_dim`` centred in a ``world_dim`` world."""
    x, y = check_in_maze(cell, maze_dim)
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


def retarget_hook(
    channel: int, cell: Cell, maze_dim: int, world_dim: int, size: int, value: float = 5.0
):
    """Write ``value`` into ``channel`` at the map position of ``cell`` = (x, y) only."""
    return channel_hook([channel], [cell_position(cell, maze_dim, world_dim, size)], value)


def peak_match_rate(
    diffs: torch.Tensor, positions: torch.Tensor, tolerance: int = 1
) -> torch.Tensor:
    """Per channel, the share of samples whose largest |activation change| lies within
    ``tolerance`` (Chebyshev) of the sample's target position.

    ``diffs``: (N, C, H, W) activation changes; ``positions``: (N, 2) (row, col).
    Returns (C,) rates in [0, 1].

    Example:
        >>> d = torch.zeros(2, 3, 4, 4); d[0, 1, 2, 3] = 5.0; d[1, 1, 0, 0] = -5.0
        >>> peak_match_rate(d, torch.tensor([[2, 3], [0, 0]]), tolerance=0)[1].item()
        1.0
    """
    n, c, h, w = diffs.shape
    flat = diffs.abs().flatten(2).argmax(-1)  # (N, C)
    rows, cols = flat // w, flat % w
    dr = (rows - positions[:, None, 0]).abs()
    dc = (cols - positions[:, None, 1]).abs()
    return (torch.maximum(dr, dc) <= tolerance).float().mean(0)


def cheese_tracking_channels(
    policy, states, layer: str, cells_per_maze: int = 8, seed: int = 0, tolerance: int = 1
) -> torch.Tensor:
    """Score every channel of a conv ``layer`` by how well it tracks the cheese.

    Method: in each maze (mouse at the start), the cheese is put at ``cells_per_maze``
    random free cells; for each, the change of the layer's activations against the same
    maze without cheese is computed; a channel scores the share of these cases whose
    largest change lies within ``tolerance`` map cells of the cheese's map position
    (:func:`cell_position`). Returns (C,) scores in [0, 1]; sort them to rank channels.
    """
    import numpy as np

    from mazepolicy.interp.vectors import activations

    rng = np.random.default_rng(seed)
    size = policy.hook_names()[layer][-1]
    diffs, positions = [], []
    for state in states:
        base = state.copy()
        base.set_mouse((0, 0))
        base.set_cheese(None)
        ys, xs = np.nonzero(base.free)
        cells = [(int(x), int(y)) for x, y in zip(xs, ys, strict=True) if (x, y) != (0, 0)]
        chosen = [
            cells[i] for i in rng.choice(len(cells), min(cells_per_maze, len(cells)), replace=False)
        ]
        variants = []
        for cell in chosen:
            s = base.copy()
            s.set_cheese(cell)
            variants.append(s)
            positions.append(cell_position(cell, s.maze_dim, s.world_dim, size))
        acts = activations(policy, [base, *variants], layer)  # (1 + K, C, H, W)
        diffs.append(acts[1:] - acts[:1])
    return peak_match_rate(torch.cat(diffs), torch.tensor(positions), tolerance)
