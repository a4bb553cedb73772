"""Figures for papers: steering sweeps with intervals, vector fields, activation maps.

Every function saves a PNG (atomically) and returns its path. Mazes are drawn top-down;
cells are (x, y) with (0, 0) the start at the bottom-left.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mazepolicy.envs.cells import Cell  # noqa: E402
from mazepolicy.envs.geometry import decision_square  # noqa: E402
from mazepolicy.envs.state import MazeState  # noqa: E402
from mazepolicy.io import atomic_write_bytes  # noqa: E402
from mazepolicy.viz.render import draw_maze  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def plot_sweep(table: dict, path: str | Path, title: str | None = None) -> Path:
    """Misgeneralization and cheese rates vs coefficient, one line per layer, with the
    Wilson 95% intervals as error bars; the unsteered policy as a shaded band."""
    rows = [r for r in table["rows"] if r["layer"]]
    base = table["rows"][0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, key, label in ((axes[0], "misgeneralization", "P(top-right first | eligible)"),
                           (axes[1], "cheese", "P(reach cheese)")):
        rate_key, ci_key = f"{key}_rate", f"{key}_ci"
        lo, hi = base[ci_key]
        ax.axhspan(lo, hi, color="0.85", label="unsteered 95% CI")
        ax.axhline(base[rate_key], color="0.4", lw=1)
        for layer in dict.fromkeys(r["layer"] for r in rows):
            pts = sorted((r["coeff"], r[rate_key], *r[ci_key]) for r in rows
                         if r["layer"] == layer)
            c, rate, lo_, hi_ = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
            ax.errorbar(c, rate, yerr=[rate - lo_, hi_ - rate], marker="o", capsize=3,
                        label=layer)
        ax.set_xlabel("steering coefficient")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title or f"steering with {table['vector'].get('kind', 'vector')} vector "
                 f"({base['episodes']} mazes, {base['eligible_episodes']} eligible)")
    return _save(fig, path)


def plot_vector_fields(
    state: MazeState,
    unsteered: Mapping[Cell, tuple[float, float]],
    steered: Mapping[Cell, tuple[float, float]],
    path: str | Path,
    titles: Sequence[str] = ("unsteered", "steered", "steered - unsteered"),
) -> Path:
    """Expected moves at every free cell, side by side, and their difference."""
    diff = {c: (steered[c][0] - unsteered[c][0], steered[c][1] - unsteered[c][1])
            for c in unsteered}
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    cheese = state.cheese_cell
    square = decision_square(state.free, cheese) if cheese is not None else None
    for ax, field, title in zip(axes, (unsteered, steered, diff), titles, strict=True):
        draw_maze(state.free, mouse=(0, 0), cheese=cheese, decision_square=square,
                  arrows=field, ax=ax, title=f"{title} (level {state.level_seed})")
    return _save(fig, path)


def plot_activation_maps(
    activation: np.ndarray, channels: Sequence[int], state: MazeState, path: str | Path,
    frame: np.ndarray | None = None,
) -> Path:
    """Heatmaps of ``channels`` of one (C, H, W) activation, next to the maze frame."""
    panels = len(channels) + (frame is not None)
    fig, axes = plt.subplots(1, panels, figsize=(3 * panels, 3), squeeze=False)
    axes = list(axes[0])
    if frame is not None:
        axes.pop(0).imshow(frame)
    for ax, channel in zip(axes, channels, strict=True):
        im = ax.imshow(activation[channel], cmap="RdBu_r",
                       vmin=-np.abs(activation[channel]).max(),
                       vmax=np.abs(activation[channel]).max())
        ax.set_title(f"channel {channel}")
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"level {state.level_seed}, cheese at {state.cheese_cell}")
    return _save(fig, path)
