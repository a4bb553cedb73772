"""Charts of the report: rates with intervals against a binned quantity, medians per
layer, per-channel scores, values per maze cell and SAE measures against dictionary size.

Every function saves a PNG (atomically) and returns its path. Cells are (x, y) with
(0, 0) the start at the bottom-left; mazes are drawn top-down.

Example:
    >>> import tempfile, pathlib
    >>> rows = [{"low": 0, "high": 4, "rate": 0.5, "ci": (0.3, 0.7), "n": 20}]
    >>> out = plot_rate_series({"policy": rows}, pathlib.Path(tempfile.mkdtemp()) / "r.png",
    ...                        "distance", "P(cheese)", "demo")
    >>> out.stat().st_size > 0
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mazepolicy.envs.cells import Cell  # noqa: E402
from mazepolicy.envs.state import MazeState  # noqa: E402
from mazepolicy.viz.plots import _save  # noqa: E402
from mazepolicy.viz.render import draw_maze  # noqa: E402


def _rate_errorbar(ax, x: np.ndarray, rows: Sequence[dict], label: str) -> None:
    """Rates (``rate``, Wilson ``ci`` per row) at ``x`` as points with interval bars."""
    rate = np.array([r["rate"] for r in rows], dtype=float)
    lo = np.array([r["ci"][0] for r in rows], dtype=float)
    hi = np.array([r["ci"][1] for r in rows], dtype=float)
    ax.errorbar(x, rate, yerr=np.vstack([rate - lo, hi - rate]), marker="o", capsize=3,
                label=label)


def plot_rate_series(series: Mapping[str, Sequence[dict]], path: str | Path, xlabel: str,
                     ylabel: str, title: str) -> Path:
    """One line per series of bins (``low``, ``high``, ``rate``, ``ci``, ``n``): the
    rate at the bin's midpoint with its Wilson 95% interval; bins span their range. A
    series without bins is named as empty, so an empty figure says why."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, rows in series.items():
        if not rows:
            ax.plot([], [], " ", label=f"{label}: no mazes")
            continue
        mid = np.array([(r["low"] + r["high"]) / 2 for r in rows], dtype=float)
        _rate_errorbar(ax, mid, rows, f"{label} ({sum(r['n'] for r in rows)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_layer_medians(rows: Sequence[dict], path: str | Path, title: str) -> Path:
    """Median P(toward cheese) at decision squares per layer (``layer``,
    ``median_p_cheese`` unsteered and steered), as paired bars."""
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["unsteered_median_p_cheese"] for r in rows], 0.4, label="unsteered")
    ax.bar(x + 0.2, [r["median_p_cheese"] for r in rows], 0.4, label="steered")
    ax.set_xticks(x, [r["layer"].replace("embedder.", "") for r in rows], rotation=60,
                  ha="right", fontsize=7)
    ax.set_ylabel("median P(toward cheese) at decision square")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_channel_scores(scores: Sequence[float], chosen: Sequence[int], path: str | Path,
                        ylabel: str, title: str, chance: float | None = None) -> Path:
    """One bar per channel, the ``chosen`` ones highlighted; ``chance`` (a null
    level) as a dashed line."""
    fig, ax = plt.subplots(figsize=(max(6, 0.2 * len(scores)), 3.5))
    colors = ["tab:orange" if c in set(chosen) else "tab:blue" for c in range(len(scores))]
    ax.bar(range(len(scores)), scores, color=colors)
    if chance is not None:
        ax.axhline(chance, color="0.3", ls="--", lw=1, label="null")
        ax.legend(fontsize=8)
    ax.set_xlabel("channel")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_cell_values(state: MazeState, values: Mapping[Cell, float], path: str | Path,
                     title: str, label: str = "value") -> Path:
    """The maze top-down with each cell of ``values`` coloured (0 to 1)."""
    fig, ax = plt.subplots(figsize=(6, 6))
    draw_maze(state.free, mouse=(0, 0), cheese=state.cheese_cell, ax=ax, title=title)
    n = state.maze_dim
    grid = np.full((n, n), np.nan)
    for (x, y), v in values.items():
        grid[y, x] = v
    image = ax.imshow(grid, origin="lower", extent=(-0.5, n - 0.5, -0.5, n - 0.5),
                      cmap="viridis", vmin=0, vmax=1, alpha=0.8, zorder=2)
    fig.colorbar(image, ax=ax, fraction=0.046, label=label)
    return _save(fig, path)


def plot_dictionary_sweep(results: Sequence[dict], path: str | Path) -> Path:
    """SAE measures against dictionary size, one line per SAE kind: held-out fraction of
    variance explained, KL recovered when spliced, and how many features (solid) and
    channels (dashed) localise the cheese above their shuffled null. ``results`` are
    :func:`~mazepolicy.interp.sae.analysis.analyze_sae` outputs."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    kinds = sorted({r["config"]["kind"] for r in results})
    for kind in kinds:
        rows = sorted((r for r in results if r["config"]["kind"] == kind),
                      key=lambda r: r["config"]["d_sae"])
        size = [r["config"]["d_sae"] for r in rows]
        axes[0].plot(size, [r["reconstruction"]["fraction_variance_explained"] for r in rows],
                     marker="o", label=kind)
        axes[1].plot(size, [r["kl"]["kl_recovered"] for r in rows], marker="o", label=kind)
        if all("localisation" in r for r in rows):
            for target, color in (("cheese", "tab:orange"), ("top_right", "tab:green")):
                axes[2].plot(size, [r["localisation"][target]["features_over_null"]
                                    for r in rows], marker="o", color=color,
                             label=f"{kind}: features, {target}")
                axes[2].plot(size, [r["localisation"][target]["channels_over_null"]
                                    for r in rows], ls="--", color=color,
                             label=f"channels, {target}")
    titles = ("held-out fraction of variance explained", "KL recovered (spliced)",
              "localising above the shuffled null")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("dictionary size (features)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_clamp_sweep(sweep: dict, path: str | Path, name: str) -> Path:
    """P(reach the target) against the clamp value (a multiple of the normal activation
    at the cheese) for the feature and the channel clamp, with Wilson 95% intervals, and
    no edit as a band. ``sweep`` is a :func:`~mazepolicy.interp.sae.steer.clamp_sweep`
    output."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ratios = np.asarray(sweep["ratios"], dtype=float)
    for kind, label in (("feature clamp", f"feature {sweep['feature']}"),
                        ("channel clamp", f"channel {sweep['channel']}")):
        _rate_errorbar(ax, ratios, sweep[kind], label)
    base = sweep["no edit"]
    ax.axhspan(*base["ci"], color="0.8", alpha=0.6, label=f"no edit ({base['rate']:.2f})")
    ax.set_xscale("log")
    ax.set_xlabel("clamp value / mean activation at the cheese")
    ax.set_ylabel(f"P(reach target in {sweep['max_steps']} steps)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{name}: clamp sweep over {sweep['jobs']} targets", fontsize=10)
    return _save(fig, path)
