"""``mazepolicy demo``: the README's main job. A small steering experiment on the shipped
policy (or the best available checkpoint) on CPU in a few minutes:

1. goal misgeneralization of the unsteered policy on the test distribution;
2. the per-maze cheese vector at ``embedder.block2.res1.resadd_out``, coefficient -1,
   and the top-right vector, coefficient +1, each paired with the unsteered policy on
   the same seeded mazes (rates with Wilson 95% intervals, McNemar p, median decision-
   square probabilities);
3. figures: rates per coefficient, a vector field unsteered vs cheese-steered.

Writes ``table.json``, ``table.csv``, ``steering.png``, ``vfield.png`` and ``summary.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mazepolicy.commands.common import nonnegative_int, note_no_eligible, positive_int

# shipped policies in order of preference: the hard-mode imitation policy, then the
# easy-mode PPO smoke policy
PREFERRED = ["maze-topright-5_impala-s1", "maze-topright-5-easy_impala-s1"]
LAYER = "embedder.block2.res1.resadd_out"
REPORT_URL = "docs/report.md"


def default_checkpoint() -> Path:
    """The first shipped policy of ``PREFERRED``."""
    from mazepolicy.resources import checkpoint_path, shipped_checkpoints

    shipped = shipped_checkpoints()
    for name in PREFERRED:
        if name in shipped:
            return checkpoint_path(name)
    raise SystemExit(f"none of the policies {PREFERRED} is shipped; pass --policy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", help="a shipped checkpoint's name or a .safetensors path "
                        f"(default: the shipped {PREFERRED[0]})")
    parser.add_argument("--env", help="test variant (default: the checkpoint's eval_env)")
    parser.add_argument("--episodes", type=positive_int, default=64,
                        help="seeded test mazes per experiment")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first level seed")
    parser.add_argument("--out", default="demo-out", help="output folder")
    parser.add_argument("--max-steps", type=positive_int, default=500, help="episode cap")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import checkpoint_file
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.steer import table_csv
    from mazepolicy.io import atomic_write_text, check_output_dir, json_dumps, write_outputs
    from mazepolicy.models.checkpoint import load_policy
    from mazepolicy.viz.plots import plot_sweep, plot_vector_fields

    out = check_output_dir(args.out, "--out")
    path = checkpoint_file(args.policy) if args.policy else default_checkpoint()
    policy, card = load_policy(path)
    variant = load_variant(args.env or card.get("config", {}).get("eval_env", "maze-anywhere"))
    print(f"policy {path} ({training_size(card)}); test variant {variant.name}")
    table = steering_table(policy, path, card, variant, args)
    state, base, steered = cheese_vector_field(policy, variant, args.seed)
    print(json_dumps([{k: r[k] for k in ("vector", "coeff", "misgeneralization_rate",
                                         "cheese_rate", "median_p_cheese")}
                      for r in table["rows"]], indent=2))
    note_no_eligible(table["unsteered"])
    write_outputs({
        out / "table.json": lambda: atomic_write_text(out / "table.json",
                                                      json_dumps(table, indent=2)),
        out / "table.csv": lambda: atomic_write_text(out / "table.csv", table_csv(table)),
        out / "steering.png": lambda: plot_sweep(
            table, out / "steering.png", title=f"{path.stem} on {variant.name}: cheese "
            "vector at -1 and top-right vector at +1, each against the unsteered policy (0)"),
        out / "vfield.png": lambda: plot_vector_fields(
            state, base, steered, out / "vfield.png",
            titles=("unsteered", f"cheese vector (per maze) -1\nat {LAYER}",
                    "steered - unsteered")),
        out / "summary.md": lambda: atomic_write_text(out / "summary.md",
                                                      summary_markdown(table)),
    })
    print(f"wrote {out}/table.json, table.csv, steering.png, vfield.png, summary.md")
    return 0


def steering_table(policy, path: Path, card: dict, variant, args: argparse.Namespace) -> dict:
    """The per-maze cheese vector at -1 and top-right vector at +1 at :data:`LAYER`, each
    paired with the unsteered policy on the same ``args.episodes`` seeded mazes: one
    table whose rows name their ``vector`` (``none`` for the unsteered row)."""
    from mazepolicy.interp.steer import steering_experiment

    common = dict(env=variant, episodes=args.episodes, seed=args.seed,
                  max_steps=args.max_steps, progress=not args.no_progress)
    cheese = steering_experiment(policy, "cheese", [LAYER], [-1.0], **common)
    top_right = steering_experiment(policy, "top-right", [LAYER], [1.0], **common)
    table = {"policy": str(path), "policy_trained": training_size(card),
             "env": variant.name, "vector": {"kind": "cheese and top-right", "per_maze": True},
             "unsteered": cheese["unsteered"],
             "rows": cheese["rows"] + top_right["rows"][1:]}
    for row, kind in zip(table["rows"], ["none", "cheese", "top-right"], strict=True):
        row["vector"] = kind
    return table


def cheese_vector_field(policy, variant, seed: int):
    """(state, unsteered, steered move fields) on the first of the 20 mazes from level
    ``seed`` whose paths to the cheese and the corner diverge (else the first), steered
    by that maze's own cheese vector at -1."""
    from mazepolicy.envs.geometry import paths_diverge
    from mazepolicy.envs.levels import level_states
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering

    states = level_states(range(seed, seed + 20), variant.placement(),
                          variant.distribution_mode)
    state = next((s for s in states if paths_diverge(s.free, s.cheese_cell)), states[0])
    vector = steering_vector(policy, "cheese", [state], LAYER)
    base = move_field(policy, state)
    with steering(policy, [(vector, -1.0)]):
        steered = move_field(policy, state)
    return state, base, steered


def training_size(card: dict) -> str:
    """How much training a card records: PPO env steps or DAgger labelled frames, and
    what the runs in its ``lineage`` (the runs its weights continue) cost before it.

    Example:
        >>> training_size({"frames": 491520}), training_size({"global_step": 100})
        ('491,520 labelled frames', '100 env steps')
        >>> training_size({"frames": 100, "lineage": [{"frames": 300}, {"frames": 600}]})
        '100 labelled frames, after 2 earlier runs (900 labelled frames)'
    """
    own = _run_size(card)
    earlier = card.get("lineage", [])
    if not earlier:
        return own
    steps = sum(e.get("global_step") or 0 for e in earlier)
    frames = sum(e.get("frames") or 0 for e in earlier if e.get("global_step") is None)
    spent = " and ".join(f"{n:,} {unit}" for n, unit in ((frames, "labelled frames"),
                                                         (steps, "env steps")) if n)
    runs = f"{len(earlier)} earlier run" + ("s" if len(earlier) > 1 else "")
    return f"{own}, after {runs} ({spent or 'size not recorded'})"


def _run_size(card: dict) -> str:
    """The training size of the card's own run."""
    if card.get("global_step") is not None:
        return f"{card['global_step']:,} env steps"
    if card.get("frames") is not None:
        return f"{card['frames']:,} labelled frames"
    return "training size not recorded"


def summary_markdown(table: dict) -> str:
    """The table as Markdown, for a quick read."""
    lines = [f"# Steering demo: {table['policy']} ({table['policy_trained']}) on "
             f"{table['env']}", "",
             "| vector | coeff | P(cheese) [95% CI] | misgeneralization [95% CI] | change "
             "(paired) | McNemar p | median P(cheese) at decision square |",
             "|---|---|---|---|---|---|---|"]
    for r in table["rows"]:
        lines.append(
            f"| {r['vector']} | {r['coeff']:+g} | {_rate(r, 'cheese')} | "
            f"{_rate(r, 'misgeneralization')} | {_number(r['misgeneralization_change'], '+.2f')} "
            f"| {_number(r['mcnemar_p'], '.3g')} | {_number(r['median_p_cheese'], '.2f')} |"
        )
    unsteered = table["unsteered"]
    lines += ["", f"{unsteered['episodes']} mazes, {unsteered['eligible_episodes']} eligible "
              f"(cheese outside the top-right {unsteered['region']}x{unsteered['region']} "
              "region, paths to cheese and corner diverge)" +
              (f"; {unsteered['no_eligible_reason']}." if unsteered["no_eligible_reason"]
               else "."), "",
              f"The full report (1,000-maze misgeneralization against a control, layer "
              f"sweeps, vector transfer, cheese channels, retargeting) is {REPORT_URL} in "
              f"the repository; regenerate it with `mazepolicy report --policy "
              f"{table['policy']} --size full --out docs`."]
    return "\n".join(lines) + "\n"


def _number(value: float, spec: str) -> str:
    """``value`` formatted with ``spec``; n/a for NaN (no eligible maze to compare).

    Example:
        >>> _number(float("nan"), ".2f"), _number(0.5, "+.2f")
        ('n/a', '+0.50')
    """
    return "n/a" if value != value else format(value, spec)


def _rate(row: dict, key: str) -> str:
    """A row's ``key`` rate with its 95% interval, or n/a."""
    lo, hi = row[f"{key}_ci"]
    rate = row[f"{key}_rate"]
    return "n/a" if rate != rate else f"{rate:.2f} [{lo:.2f}, {hi:.2f}]"
