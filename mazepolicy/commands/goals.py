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
                        help="a shipped checkpoint's name or a .safetensors path, or a "
                        "scripted walker (cheese-walker, top-right-walker: baselines that "
                        "always head for their goal; random has no most likely move)")
    parser.add_argument("--env", default="maze-anywhere", help="env variant")
    parser.add_argument("--mazes", type=positive_int, default=100, help="seeded mazes")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first level seed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", help="write the shares here")
    parser.add_argument("--csv", help="write one row per cell here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from mazepolicy.agents.policy import weights_sha256
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.probes import (
        GOAL_CHOICES,
        ScriptedMoves,
        goal_choice_rates,
        goal_choices,
        goal_choices_by_distance,
    )
    from mazepolicy.io import atomic_write_text, check_output_files, json_dumps, write_outputs

    check_output_files(args, "json", "csv")
    policy = probed_policy(args.policy, args.device)
    variant = load_variant(args.env)
    seeds = list(range(args.seed, args.seed + args.mazes))
    states = level_states(seeds, variant.placement(), variant.distribution_mode)
    rows = []
    for state in tqdm(states, desc="cheese-corner paths", unit="maze",
                      disable=args.no_progress):
        rows += goal_choices(policy, [state])
    bins = goal_choices_by_distance(rows)
    scripted = isinstance(policy, ScriptedMoves)
    out = {"settings": vars(args) | {"level_seeds": [seeds[0], seeds[-1]]},
           "policy_sha256": None if scripted else weights_sha256(args.policy),
           **goal_choice_rates(rows), "by_cheese_distance": bins}
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
    writers = {}
    if args.json:
        writers[args.json] = lambda: atomic_write_text(args.json, json_dumps(out, indent=1))
    if args.csv:
        writers[args.csv] = lambda: write_cell_rows(args.csv, rows)
    write_outputs(writers)
    return 0


def probed_policy(spec: str, device: str):
    """The network of ``spec``, or for a scripted walker its :class:`ScriptedMoves`;
    ``random`` is refused: all its moves are equally likely, so it heads nowhere."""
    from mazepolicy.agents.policy import load_network
    from mazepolicy.agents.scripted import SCRIPTED_AGENTS
    from mazepolicy.interp.probes import ScriptedMoves

    if spec == "random":
        raise ValueError("--policy random: every move of a random agent is equally likely, "
                         "so it has no most likely move to count; use cheese-walker or "
                         "top-right-walker as a baseline")
    return ScriptedMoves(spec) if spec in SCRIPTED_AGENTS else load_network(spec, device)
