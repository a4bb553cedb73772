"""``mazepolicy steer``: a policy with a steering vector at a layer, per coefficient,
paired with the unsteered policy on the same seeded mazes.

Example:
    mazepolicy steer --policy checkpoints/maze-topright-5-easy_impala-s1.safetensors \\
        --env maze-anywhere --vector cheese --coeffs -1 -0.5 0.5 --episodes 200 \\
        --json out/steer.json --csv out/steer.csv --plot out/steer.png
"""

from __future__ import annotations

import argparse
import json

from mazepolicy.commands.common import (
    add_policy_arguments,
    add_vector_arguments,
    finite_float,
    load_vector_arg,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere")
    add_vector_arguments(parser)
    parser.add_argument("--coeffs", type=finite_float, nargs="+", default=[-1.0],
                        help="steering coefficients, each paired with the unsteered policy")
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="seeded mazes to play per coefficient")
    parser.add_argument("--num-envs", type=positive_int, default=16,
                        help="mazes stepped together (outcomes do not depend on it)")
    parser.add_argument("--json", required=True, help="the result table (JSON)")
    parser.add_argument("--csv", help="the result table (CSV)")
    parser.add_argument("--plot", help="a PNG of rates vs coefficient")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import load_network
    from mazepolicy.interp.steer import steering_experiment, write_table
    from mazepolicy.viz.plots import plot_sweep

    vector = load_vector_arg(args.vector)
    policy = load_network(args.policy, args.device)
    table = steering_experiment(
        policy, None if vector else args.vector, args.layer, args.coeffs, args.env,
        episodes=args.episodes, seed=args.seed, per_maze=not args.averaged,
        vector=vector, vector_seeds=range(args.vector_seeds), num_envs=args.num_envs,
        max_steps=args.max_steps, progress=not args.no_progress,
    )
    table["settings"] = {"policy": args.policy, "env": args.env, "seed": args.seed}
    write_table(table, args.json, args.csv)
    if args.plot:
        plot_sweep(table, args.plot)
    print(json.dumps(table["rows"], indent=2))
    return 0
