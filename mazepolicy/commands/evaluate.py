"""``mazepolicy evaluate``: outcomes of a policy on seeded mazes, with 95% intervals.

Example:
    mazepolicy evaluate --policy top-right-walker --env maze-anywhere --episodes 200 \\
        --seed 0 --json out/eval.json --csv out/eval.csv
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import add_policy_arguments, note_no_eligible, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere")
    parser.add_argument("--episodes", type=positive_int, default=100,
                        help="seeded mazes to play, one episode each")
    parser.add_argument("--num-envs", type=positive_int, default=16,
                        help="mazes stepped together (outcomes do not depend on it)")
    parser.add_argument("--json", help="write the summary and per-episode rows here")
    parser.add_argument("--csv", help="write per-episode rows here")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.factory import make_agent
    from mazepolicy.eval.evaluate import evaluate
    from mazepolicy.io import check_output_files, json_dumps, write_outputs

    check_output_files(args, "json", "csv")
    agent = make_agent(args.policy, device=args.device, greedy=args.greedy, seed=args.seed)
    result = evaluate(agent, args.env, args.episodes, seed=args.seed, num_envs=args.num_envs,
                      max_steps=args.max_steps, progress=not args.no_progress)
    result.settings["policy"] = args.policy
    print(json_dumps(result.summary(), indent=2))
    note_no_eligible(result.summary())
    writers = {}
    if args.json:
        writers[args.json] = lambda: result.write_json(args.json)
    if args.csv:
        writers[args.csv] = lambda: result.write_csv(args.csv)
    write_outputs(writers)
    return 0
