"""``mazepolicy goals``: which goal a policy heads for, cheese or top-right corner.

The mouse is put on every cell strictly between the cheese and the top-right corner on
the path joining them (the cells where the first steps toward the two goals differ),
and the policy's most likely move is read there: toward the cheese, toward the corner,
or neither. Shares with Wilson 95% intervals, overall and by the cell's distance to the
cheese.

Example:
    mazepolicy goals --policy maze-topright-5_impala-s1 --env maze-anywhere --mazes 100 \\
        --json out/goals.json --csv out/goal-cells.csv
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import nonnegative_int, positive_int, write_cell_rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True,
                        help="a shipped checkpoint's name or a .safetensors path")
    parser.add_argument("--env", default="maze-anywhere", help="env variant")
    parser.add_argument("--mazes", type=positive_int, default=100, help="seeded mazes")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first level seed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", help="write the shares here")
    parser.add_argument("--csv", help="write one row per cell here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from mazepolicy.agents.policy import load_network, weights_sha256
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.probes import (
        GOAL_CHOICES,
        goal_choice_rates,
        goal_choices,
        goal_choices_by_distance,
    )
    from mazepolicy.io import atomic_write_text, json_dumps

    policy = load_network(args.policy, device=args.device)
    variant = load_variant(args.env)
    seeds = list(range(args.seed, args.seed + args.mazes))
    states = level_states(seeds, variant.placement(), variant.distribution_mode)
    rows = []
    for state in tqdm(states, desc="cheese-corner paths", unit="maze",
                      disable=args.no_progress):
        rows += goal_choices(policy, [state])
    bins = goal_choices_by_distance(rows)
    out = {"settings": vars(args) | {"level_seeds": [seeds[0], seeds[-1]]},
           "policy_sha256": weights_sha256(args.policy), **goal_choice_rates(rows),
           "by_cheese_distance": bins}
    print(f"{out['cells']} cells on the cheese-corner paths of {out['mazes']} of "
          f"{args.mazes} mazes; the most likely move heads for")
    print(f"{'steps to the cheese':>20} | cells | " + " | ".join(
        f"{c} [95% CI]" for c in GOAL_CHOICES))
    for b in [{"low": "all", "high": "", **out}, *bins]:
        print(f"{b['low']:>10} - {b['high']:<7} | {b['cells']:>5} | " + " | ".join(
            f"{b[c]['rate']:.3f} [{b[c]['ci'][0]:.3f}, {b[c]['ci'][1]:.3f}]"
            for c in GOAL_CHOICES))
    print("mean over mazes of each maze's share: " + ", ".join(
        f"{c} {out[c]['maze_mean']:.3f} [{out[c]['maze_mean_ci'][0]:.3f}, "
        f"{out[c]['maze_mean_ci'][1]:.3f}]" for c in GOAL_CHOICES))
    if args.json:
        atomic_write_text(args.json, json_dumps(out, indent=1))
    if args.csv:
        write_cell_rows(args.csv, rows)
    return 0
