"""``mazepolicy steer``: a policy with a steering vector at a layer, per coefficient,
paired with the unsteered policy on the same seeded mazes.

Example:
    mazepolicy steer --policy checkpoints/maze-topright-5-easy_impala-s1.safetensors \\
        --env maze-anywhere --vector cheese --coeffs -1 -0.5 0.5 --episodes 200 \\
        --json out/steer.json --csv out/steer.csv --plot out/steer.png
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import (
    add_policy_arguments,
    add_vector_arguments,
    distinct,
    finite_float,
    note_no_eligible,
    positive_int,
    vector_choice,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere", scripted=False)
    add_vector_arguments(parser, several_layers=True)
    parser.add_argument("--coeffs", type=finite_float, nargs="+", default=[-1.0],
                        help="steering coefficients (distinct), each paired with the "
                        "unsteered policy")
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="seeded mazes to play per coefficient")
    parser.add_argument("--num-envs", type=positive_int, default=16,
                        help="mazes stepped together (outcomes do not depend on it)")
    parser.add_argument("--json", required=True, help="the result table (JSON)")
    parser.add_argument("--csv", help="the result table (CSV)")
    parser.add_argument("--plot", help="a PNG of rates vs coefficient")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import load_network
    from mazepolicy.interp.steer import steering_experiment, table_csv
    from mazepolicy.io import atomic_write_text, check_output_files, json_dumps, write_outputs
    from mazepolicy.viz.plots import plot_sweep

    check_output_files(args, "json", "csv", "plot")
    distinct(args.coeffs, "--coeffs")
    choice = vector_choice(args)
    policy = load_network(args.policy, args.device)
    table = steering_experiment(
        policy, choice.kind, choice.layers, args.coeffs, args.env, episodes=args.episodes,
        seed=args.seed, per_maze=choice.averaged_seeds is None, vector=choice.saved,
        vector_seeds=choice.averaged_seeds or range(100), num_envs=args.num_envs,
        max_steps=args.max_steps, progress=not args.no_progress,
    )
    table["settings"] = {"policy": args.policy, "env": args.env, "seed": args.seed,
                         "vector": args.vector or "cheese"}
    print(json_dumps(table["rows"], indent=2))
    note_no_eligible(table["unsteered"])
    writers = {args.json: lambda: atomic_write_text(args.json, json_dumps(table, indent=2))}
    if args.csv:
        writers[args.csv] = lambda: atomic_write_text(args.csv, table_csv(table))
    if args.plot:
        title = (f"{args.policy} on {args.env}: {choice.describe()} "
                 f"({args.episodes} mazes, {table['unsteered']['eligible_episodes']} eligible)")
        writers[args.plot] = lambda: plot_sweep(table, args.plot, title=title)
    write_outputs(writers)
    return 0
