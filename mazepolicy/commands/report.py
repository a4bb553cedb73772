"""``mazepolicy report``: regenerate every number and figure of the report from
checkpoints, seeded: goal misgeneralization vs a control, the cheese vector (per maze,
over layers, across mazes), the top-right vector and its composition, cheese-tracking
channels, retargeting by channel clamping and vector fields.

Writes ``OUT/report.md``, ``OUT/results/*.json`` and ``OUT/figures/*.png``; each
section's results as soon as it is measured, so a report that stops part-way is
finished by the same command with ``--resume``.

Example:
    mazepolicy report --policy maze-topright-5_impala-s1 \\
        --control maze-anywhere_impala-s1 --size full --out docs --notes docs/report-notes.md
    mazepolicy report --policy maze-topright-5_impala-s1 --out docs \\
        --notes docs/report-notes.md --render-only   # after editing the notes
    mazepolicy report --policy maze-topright-5_impala-s1 --out docs \\
        --notes docs/report-notes.md --control maze-anywhere_impala-s1 \\
        --only misgeneralization   # add a control to an existing report
"""

from __future__ import annotations

import argparse
import shlex

from mazepolicy.commands.common import DEFAULT_LAYER, distinct, nonnegative_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mazepolicy.report.config import EXPERIMENTS, PRESETS

    parser.add_argument("--policy", required=True,
                        help="the top-right-5 policy: a shipped name or a .safetensors path")
    parser.add_argument("--control", help="the control policy trained on maze-anywhere "
                        "(default: none; the report then has no paired comparison)")
    parser.add_argument("--size", choices=sorted(PRESETS), default="full",
                        help="how many mazes each experiment uses (full: the report's, "
                        "hours; quick: about 12 min on two CPU cores; smoke: a check that "
                        "every section runs, about 40 s)")
    parser.add_argument("--env", default="maze-anywhere", help="the test variant")
    parser.add_argument("--layer", default=DEFAULT_LAYER, help="hook point of the vectors "
                        "and channels")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="first level seed, and the agents' sampling seed")
    parser.add_argument("--out", default="report-out", help="output folder")
    parser.add_argument("--notes", help="a hand-written Markdown file appended to report.md "
                        "(the discussion of the numbers)")
    parser.add_argument("--sae", help="the JSON of `mazepolicy sae analyze`: rendered as the "
                        "report's section 7 (kept in OUT/results/sae.json)")
    parser.add_argument("--only", nargs="+", metavar="SECTION", choices=EXPERIMENTS,
                        help="re-run just these sections of the report in --out (same "
                        "settings, except that re-running misgeneralization may add or "
                        f"change --control; the others are kept): {', '.join(EXPERIMENTS)}")
    parser.add_argument("--resume", action="store_true",
                        help="finish a report that stopped part-way (killed, or an error): "
                        "every section is kept in OUT/results as soon as it is measured, so "
                        "the same command with --resume runs only the sections not done yet")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite OUT/report.md from OUT/results/*.json (and --notes) "
                        "without rerunning any experiment")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import load_network
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.io import check_output_dir, check_readable
    from mazepolicy.report.config import ReportConfig
    from mazepolicy.report.runner import render_report, run_report

    if args.render_only:
        refused = [f"--{name}" for name in ("control", "only", "resume") if getattr(args, name)]
        if refused:
            raise ValueError(f"{' '.join(refused)}: --render-only runs no experiment; "
                             "leave them out")
        print(f"wrote {render_report(args.out, args.notes, args.sae)}")
        return 0

    check_output_dir(args.out, "--out")
    distinct(args.only or [], "--only")
    for option in ("notes", "sae"):
        check_readable(getattr(args, option), f"--{option}")  # read at the end
    load_variant(args.env)  # a clear error before anything loads
    load_network(args.policy).check_hook_names([args.layer])
    config = ReportConfig.preset(args.size, policy=args.policy, control=args.control,
                                 env=args.env, layer=args.layer, seed=args.seed)
    command = ["mazepolicy", "report", "--policy", args.policy, "--size", args.size, "--env",
               args.env, "--layer", args.layer, "--seed", str(args.seed), "--out", args.out]
    if args.control:
        command[4:4] = ["--control", args.control]
    if args.only:
        command += ["--only", *args.only]
    if args.resume:
        command += ["--resume"]
    run_report(config, args.out, progress=not args.no_progress, command=shlex.join(command),
               notes=args.notes, sae=args.sae, only=tuple(args.only or ()) or None,
               resume=args.resume)
    print(f"wrote {args.out}/report.md, {args.out}/results/ and {args.out}/figures/")
    return 0
