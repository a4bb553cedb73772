"""``mazepolicy agreement``: where in a maze a policy has learnt the expert's moves.

The mouse is put on every free cell of seeded mazes; each cell's most likely move is
compared with the expert's, and the agreement is binned by the cell's distance to the
expert's goal and from the start cell (Wilson 95% intervals).

Example:
    mazepolicy agreement --policy maze-topright-5_impala-s1 --env maze-topright-5 \\
        --mazes 60 --seed 3000000 --json out/agreement.json --csv out/cells.csv
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import nonnegative_int, positive_int, write_cell_rows

DISTANCE_EDGES = [0, 5, 10, 20, 30, 45, 60, 80, 120, 1000]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True,
                        help="a shipped checkpoint's name or a .safetensors path (a network: "
                        "a scripted walker's moves are the expert's own, so there is nothing "
                        "learnt to measure)")
    parser.add_argument("--env", default="maze-topright-5", help="env variant")
    parser.add_argument("--expert", default="cheese-walker",
                        choices=["cheese-walker", "top-right-walker"],
                        help="whose moves count as right")
    parser.add_argument("--mazes", type=positive_int, default=60, help="seeded mazes")
    parser.add_argument("--seed", type=nonnegative_int, default=3_000_000,
                        help="first level seed (the trainers evaluate from 1,000,000)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--json", help="write the binned tables here")
    parser.add_argument("--csv", help="write one row per cell here")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from mazepolicy.agents.policy import load_network
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.io import atomic_write_text, check_output_files, json_dumps, write_outputs
    from mazepolicy.train.dagger.agreement import agreement_at_every_cell, bin_agreement

    check_output_files(args, "json", "csv")
    policy = load_network(args.policy, device=args.device)
    variant = load_variant(args.env)
    seeds = list(range(args.seed, args.seed + args.mazes))
    states = level_states(seeds, variant.placement(), variant.distribution_mode)
    rows = []
    for state in tqdm(states, desc="cells of each maze", unit="maze",
                      disable=args.no_progress):
        rows += agreement_at_every_cell(policy, [state], args.expert)
    agreed = sum(r["agree"] for r in rows)
    out = {"settings": vars(args) | {"level_seeds": [seeds[0], seeds[-1]]},
           "cells": len(rows), "agreement": agreed / len(rows) if rows else float("nan"),
           "by_goal_distance": bin_agreement(rows, "d_goal", DISTANCE_EDGES),
           "by_start_distance": bin_agreement(rows, "d_start", DISTANCE_EDGES)}
    print(f"{len(rows)} cells of {args.mazes} mazes: agreement {out['agreement']:.3f}")
    for title, key in (("steps to the goal", "by_goal_distance"),
                       ("steps from the start", "by_start_distance")):
        print(f"\n{title:>22} | cells | agreement [95% CI] | mean P(expert move)")
        for b in out[key]:
            print(f"{b['low']:>10} - {b['high']:<9} | {b['n']:>5} | {b['agreement']:.3f} "
                  f"[{b['ci'][0]:.3f}, {b['ci'][1]:.3f}] | {b['p_expert']:.3f}")
    writers = {}
    if args.json:
        writers[args.json] = lambda: atomic_write_text(args.json, json_dumps(out, indent=1))
    if args.csv:
        writers[args.csv] = lambda: write_cell_rows(args.csv, rows)
    write_outputs(writers)
    return 0
