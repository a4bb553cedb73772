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


def sweep_lines(table: dict, key: str) -> dict[str, list[tuple[float, float, float, float]]]:
    """The lines of :func:`plot_sweep` for ``key`` ("misgeneralization" or "cheese"):
    one per vector (a row's ``vector``, else the table's kind) and layer, each a list of
    (coeff, rate, ci low, ci high) sorted by coefficient that passes through the
    unsteered point at coefficient 0 (where steering changes nothing).

    Example:
        >>> row = lambda v, c, r: {"vector": v, "layer": "L" if c else "", "coeff": c,
        ...                        "cheese_rate": r, "cheese_ci": (r, r)}
        >>> table = {"vector": {}, "rows": [row("none", 0.0, 0.5), row("cheese", -1.0, 0.7),
        ...                                 row("top-right", 1.0, 0.2)]}
        >>> lines = sweep_lines(table, "cheese")
        >>> {label: [c for c, *_ in pts] for label, pts in lines.items()}
        {'cheese at L': [-1.0, 0.0], 'top-right at L': [0.0, 1.0]}
    """
    base = table["rows"][0]
    zero = (0.0, base[f"{key}_rate"], *base[f"{key}_ci"])
    lines: dict[str, dict[float, tuple]] = {}
    for r in table["rows"][1:]:
        label = f"{r.get('vector', table['vector'].get('kind') or 'vector')} at {r['layer']}"
        points = lines.setdefault(label, {0.0: zero})
        points[r["coeff"]] = (r["coeff"], r[f"{key}_rate"], *r[f"{key}_ci"])
    return {label: sorted(points.values()) for label, points in lines.items()}


def plot_sweep(table: dict, path: str | Path, title: str | None = None) -> Path:
    """Misgeneralization and cheese rates vs coefficient, one line per vector and layer
    (:func:`sweep_lines`), with the Wilson 95% intervals as error bars; the unsteered
    policy as a shaded band and as each line's point at coefficient 0."""
    base = table["rows"][0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, key, label in ((axes[0], "misgeneralization", "P(top-right first | eligible)"),
                           (axes[1], "cheese", "P(reach cheese)")):
        lo, hi = base[f"{key}_ci"]
        ax.axhspan(lo, hi, color="0.85", label="unsteered 95% CI")
        ax.axhline(base[f"{key}_rate"], color="0.4", lw=1)
        for name, pts in sweep_lines(table, key).items():
            c, rate, lo_, hi_ = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
            ax.errorbar(c, rate, yerr=np.vstack([rate - lo_, hi_ - rate]), marker="o", capsize=3,
                        label=name)
        ax.set_xlabel("steering coefficient")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title or f"steering with {table['vector'].get('kind', 'vector')} vector "
                 f"({base['episodes']} mazes, {base['eligible_episodes']} eligible)")
    return _save(fig, path)


def _move_arrows(ax, field: Mapping[Cell, Sequence[float]], length: float) -> None:
    """Per-move arrows: from each cell's centre, one arrow per direction (right, up,
    left, down) ``length * P(move)`` cells long, as the research draws vector fields."""
    from mazepolicy.interp.probes import MOVES

    cells = np.array(list(field), dtype=float).reshape(-1, 2)  # (n, 2)
    probs = np.array(list(field.values()), dtype=float).reshape(-1, 4)  # (n, 4)
    for k, (dx, dy) in enumerate(MOVES):
        ax.quiver(cells[:, 0], cells[:, 1], dx * probs[:, k], dy * probs[:, k], angles="xy",
                  scale_units="xy", scale=1 / length, color="tab:orange", width=0.005,
                  headwidth=3, headlength=3, headaxislength=2.5, minlength=0, zorder=4)


def plot_vector_fields(
    state: MazeState,
    unsteered: Mapping[Cell, Sequence[float]],
    steered: Mapping[Cell, Sequence[float]],
    path: str | Path,
    titles: Sequence[str] = ("unsteered", "steered", "steered - unsteered"),
) -> Path:
    """Two :func:`~mazepolicy.interp.probes.move_field` panels (at each free cell one
    arrow per move, its length proportional to the move's probability, the same scale
    in both: the largest probability is 0.45 cell) and the difference of their expected
    moves, scaled so the longest difference is half a cell (each scale is in the
    title). A legend names the markers."""
    from mazepolicy.interp.probes import net_moves

    before, after = net_moves(unsteered), net_moves(steered)
    diff = {c: (after[c][0] - before[c][0], after[c][1] - before[c][1]) for c in before}
    longest = max((float(np.hypot(*v)) for v in diff.values()), default=0.0)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.6))
    cheese = state.cheese_cell
    square = decision_square(state.free, cheese) if cheese is not None else None
    top = max((max(p) for field in (unsteered, steered) for p in field.values()), default=0)
    top = top if top > 0 else 1.0
    for ax, field, title in zip(axes[:2], (unsteered, steered), titles, strict=False):
        draw_maze(state.free, mouse=(0, 0), cheese=cheese, decision_square=square, ax=ax,
                  title=f"{title}\nlevel {state.level_seed}; arrow 0.45 cell = P {top:.2f}")
        _move_arrows(ax, field, 0.45 / top)
    scale = 0.5 / longest if longest > 0 else 1.0
    draw_maze(state.free, mouse=(0, 0), cheese=cheese, decision_square=square, ax=axes[2],
              arrows={c: (v[0] * scale, v[1] * scale) for c, v in diff.items()},
              arrow_scale=1.0,
              title=f"{titles[2]}: expected move\narrows x{scale:.3g} "
                    f"(largest {longest:.3g} cell)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    return _save(fig, path)


def plot_activation_maps(
    activation: np.ndarray, channels: Sequence[int], state: MazeState, path: str | Path,
    frame: np.ndarray | None = None, name: str = "channel",
) -> Path:
    """Heatmaps of ``channels`` of one (C, H, W) activation, next to the maze frame;
    ``name`` titles the panels (e.g. "feature" for SAE feature maps)."""
    panels = len(channels) + (frame is not None)
    fig, axes = plt.subplots(1, panels, figsize=(3 * panels, 3), squeeze=False)
    axes = list(axes[0])
    if frame is not None:
        axes.pop(0).imshow(frame)
    for ax, channel in zip(axes, channels, strict=True):
        im = ax.imshow(activation[channel], cmap="RdBu_r",
                       vmin=-np.abs(activation[channel]).max(),
                       vmax=np.abs(activation[channel]).max())
        ax.set_title(f"{name} {channel}")
        fig.colorbar(im, ax=ax, fraction=0.046)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"level {state.level_seed}, cheese at {state.cheese_cell}")
    return _save(fig, path)


def _read_rows(path: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def plot_training_curves(run_dir: str | Path, path: str | Path) -> Path:
    """Learning curves of an imitation run directory (``metrics.jsonl`` and
    ``eval.jsonl``): the training loss, the agreement on its own minibatches and on
    fresh frames before training on them (where logged), and from
    each evaluation on held-out mazes the learner's agreement with the expert on its own
    states and its cheese rates (with Wilson 95% intervals) per evaluation variant,
    against updates (bottom axis) and training hours (top axis). A run without
    evaluations says so in the cheese-rate panel."""
    run_dir = Path(run_dir)
    metrics, evals = _read_rows(run_dir / "metrics.jsonl"), _read_rows(run_dir / "eval.jsonl")
    if not metrics:
        raise ValueError(f"{run_dir} has no metrics.jsonl rows to plot")
    updates = np.array([r["updates"] for r in metrics])
    hours = np.array([r["train_seconds"] for r in metrics]) / 3600
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    axes[0].plot(updates, [r["policy_loss"] for r in metrics], label="policy loss")
    axes[0].plot(updates, [r["value_loss"] for r in metrics], label="value loss", alpha=0.7)
    axes[0].set_yscale("log")
    axes[0].set_title("training losses (per round)", pad=28)
    axes[1].plot(updates, [r["train_agreement"] for r in metrics], color="0.6",
                 label="on training minibatches")
    fresh = [(u, r["fresh_agreement"]) for u, r in zip(updates, metrics, strict=True)
             if r.get("fresh_agreement") is not None]  # older runs do not log it
    if fresh:
        axes[1].plot(*zip(*fresh, strict=True), color="k", lw=1,
                     label="on fresh frames, before training on them")
    at = np.array([e["updates"] for e in evals])
    for name in (evals[0]["results"] if evals else {}):
        results = [e["results"][name] for e in evals]
        axes[1].plot(at, [r["expert_agreement"] for r in results], marker="o",
                     label=f"held-out {name}, learner's states")
        rate = np.array([r["cheese_rate"] for r in results])
        ci = np.array([r["cheese_ci"] for r in results])
        axes[2].errorbar(at, rate, yerr=np.vstack([rate - ci[:, 0], ci[:, 1] - rate]),
                         marker="o", capsize=3,
                         label=f"{name} ({results[-1]['episodes']} mazes)")
    if not evals:
        axes[2].text(0.5, 0.5, "no held-out evaluation in this run", ha="center",
                     va="center", transform=axes[2].transAxes, color="0.4")
    axes[1].set_title("agreement with the expert's move")
    axes[2].set_title("P(reach cheese), sampled actions, held-out mazes")
    for ax in axes:
        ax.set_xlabel("updates")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in axes[1:]:
        ax.set_ylim(0, 1)
    top = axes[0].secondary_xaxis(
        "top", functions=(lambda u: np.interp(u, updates, hours),
                          lambda h: np.interp(h, hours, updates)))
    top.set_xlabel("training hours")
    fig.suptitle(f"{run_dir.name}: {int(metrics[-1]['frames']):,} labelled frames, "
                 f"{metrics[-1]['distinct_mazes']:,} distinct mazes", y=1.13)
    return _save(fig, path)
