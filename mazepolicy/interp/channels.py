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


def window_maps(positions: torch.Tensor, size: int, tolerance: int = 1) -> torch.Tensor:
    """Indicator maps (N, size, size): 1 within ``tolerance`` (Chebyshev) of each
    sample's (row, col) in ``positions`` (N, 2), else 0.

    Example:
        >>> window_maps(torch.tensor([[0, 0]]), 3, tolerance=0)[0].tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    grid = torch.arange(size)
    rows = (grid[None, :, None] - positions[:, 0, None, None]).abs()  # (N, size, 1)
    cols = (grid[None, None, :] - positions[:, 1, None, None]).abs()  # (N, 1, size)
    return (torch.maximum(rows, cols) <= tolerance).float()


def map_correlation(acts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per channel, the Pearson correlation over all samples and positions between
    its map in ``acts`` (N, C, H, W) and ``targets`` (N, H, W); 0 for a constant channel.

    Example:
        >>> t = window_maps(torch.tensor([[1, 1], [2, 0]]), 4, tolerance=0)
        >>> acts = torch.stack([torch.stack([3 * m, torch.ones(4, 4)]) for m in t])
        >>> map_correlation(acts, t).tolist()
        [1.0, 0.0]
    """
    a = acts.transpose(0, 1).flatten(1).double()  # (C, N*H*W)
    t = targets.flatten().double()  # (N*H*W,)
    a = a - a.mean(1, keepdim=True)
    t = t - t.mean()
    denom = a.norm(dim=1) * t.norm()
    return torch.where(denom > 0, (a @ t) / denom.clamp_min(1e-30), 0.0).float()


def cheese_moved_activations(policy, states, layer: str, cells_per_maze: int, rng):
    """Activations at ``layer`` (N, C, H, W) with the cheese put at ``cells_per_maze``
    random free cells of each maze (mouse at the start), the cheese's map positions
    (N, 2) as (row, col) and each frame's maze side (N,)."""
    import numpy as np

    from mazepolicy.interp.vectors import activations

    size = policy.hook_names()[layer][-1]
    acts, positions, dims = [], [], []
    for state in states:
        base = state.copy()
        base.set_mouse((0, 0))
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
            dims.append(s.maze_dim)
        acts.append(activations(policy, variants, layer).cpu())  # (K, C, H, W)
    return torch.cat(acts), torch.tensor(positions), torch.tensor(dims)


def cheese_tracking_channels(
    policy, states, layer: str, cells_per_maze: int = 8, seed: int = 0, tolerance: int = 1
) -> dict:
    """Score every channel of a conv ``layer`` by how well its map follows the cheese.

    Method: in each maze (mouse at the start), the cheese is put at ``cells_per_maze``
    random free cells; a channel's score is the correlation of its activation map with
    the indicator of the ``tolerance`` window around the cheese's map position
    (:func:`cell_position`), over all these frames and map positions. The null is the
    same correlation with the cheese positions shuffled across frames (no link between
    map and cheese). Returns ``correlation`` and ``null_correlation``, each (C,).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    size = policy.hook_names()[layer][-1]
    acts, positions, _ = cheese_moved_activations(policy, states, layer, cells_per_maze, rng)
    shuffled = positions[torch.from_numpy(rng.permutation(len(positions)))]
    return {"correlation": map_correlation(acts, window_maps(positions, size, tolerance)),
            "null_correlation": map_correlation(acts, window_maps(shuffled, size, tolerance))}


def channel_patch_effects(policy, states, layer: str, channels=None) -> dict:
    """The causal test of cheese channels: with the mouse at each maze's decision
    square, one channel's map at ``layer`` is replaced by its map in the same maze with
    the cheese removed, and P(toward cheese) there is measured.

    Returns ``mazes`` (how many had cheese and a decision square), the median
    P(toward cheese) unpatched, with the whole layer patched (as if the cheese were
    gone at that layer) and per channel of ``channels`` (default: all) the median
    P(toward cheese) and the median change against unpatched.
    """
    import numpy as np

    from mazepolicy.envs.frames import render_states
    from mazepolicy.interp.probes import decision_probe, move_probability
    from mazepolicy.interp.vectors import activations

    policy.check_hook_names([layer])
    found = [probe for probe in map(decision_probe, states) if probe is not None]
    probes, moves = [p for p, _ in found], [m for _, m in found]
    if not probes:
        return {"mazes": 0, "median_p_cheese": float("nan"),
                "median_p_cheese_layer_patched": float("nan"), "channels": []}
    without = []
    for probe in probes:
        blank = probe.copy()
        blank.set_cheese(None)
        without.append(blank)
    clean = activations(policy, without, layer)  # (M, C, H, W)
    device = next(policy.parameters()).device
    obs = torch.as_tensor(render_states(probes), device=device)
    channels = range(clean.shape[1]) if channels is None else list(channels)

    def p_cheese(patch=None) -> np.ndarray:  # (M,)
        def hook(activation):
            out = activation.clone()
            out[:, patch] = clean[:, patch].to(out.device)
            return out
        fns = {} if patch is None else {layer: hook}
        with torch.no_grad(), policy.hooks(fns):
            probs = torch.softmax(policy(obs)[0].float(), -1).cpu().numpy()
        return np.array([move_probability(p[None], m)[0] for p, m in zip(probs, moves,
                                                                            strict=True)])

    base = p_cheese()
    rows = []
    for c in channels:
        p = p_cheese([c])
        rows.append({"channel": int(c), "median_p_cheese": float(np.median(p)),
                     "median_change": float(np.median(p - base))})
    return {"mazes": len(probes), "median_p_cheese": float(np.median(base)),
            "median_p_cheese_layer_patched": float(np.median(p_cheese(list(
                range(clean.shape[1]))))),
            "channels": rows}
