"""``mazepolicy export``: turn a training run's policy into a shipped checkpoint, its card
holding the run's training record and a fresh evaluation against a random agent.

Writes ``OUT/NAME.safetensors`` and ``OUT/NAME.json``. The card keeps what the run's
card says (trainer, recipe config, frames, updates, wall time, machine, torch, git sha),
adds ``name``, ``status`` (your one-paragraph description), ``source`` (the run and
checkpoint), ``lineage`` for a run trained before trainers recorded it (``--after``: the
earlier runs its weights continue, each with its weights' SHA-256 and its card's counts)
and ``evaluation``: per variant, the policy's (sampled actions, and greedy actions as
``policy_greedy``) and a random agent's outcome rates on the same seeded mazes with
Wilson 95% intervals, the sampled policy's paired comparison with random, the
command that measured it and how many of those mazes the run trained on (DAgger runs
log their training mazes).

Example:
    mazepolicy export --run training/maze-topright-5_dagger --name maze-topright-5_impala-s1 \\
        --episodes 1000 --status "DAgger on hard top-right-5 mazes, ..."
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from mazepolicy.commands.common import distinct, nonnegative_int, positive_int

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="a training run's folder")
    parser.add_argument("--checkpoint", help="one of the run's checkpoints/iter-* folders "
                        "(default: the run's latest policy.safetensors)")
    parser.add_argument("--name", required=True,
                        help="the shipped name, e.g. maze-topright-5_impala-s1")
    parser.add_argument("--out", default="checkpoints", help="folder to write into")
    parser.add_argument("--status", required=True,
                        help="what the policy is and how far it got, for its users")
    parser.add_argument("--env", nargs="+",
                        help="variants to evaluate on (default: the run's env and eval_env)")
    parser.add_argument("--episodes", type=positive_int, default=1000,
                        help="seeded mazes per variant")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="first level seed, and the agents' sampling seed")
    parser.add_argument("--max-steps", type=positive_int, default=500, help="episode cap")
    parser.add_argument("--after", nargs="+", default=[], metavar="RUN",
                        help="the earlier runs (folders, oldest first) whose weights this "
                        "run continues, for a run whose card does not record its lineage")
    parser.add_argument("--force", action="store_true", help="overwrite an existing NAME")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import PolicyAgent
    from mazepolicy.eval.card import card_evaluation
    from mazepolicy.io import check_output_dir, json_dumps
    from mazepolicy.models.checkpoint import load_policy, save_policy

    if not set(args.name) <= NAME_CHARS:
        raise ValueError(f"--name {args.name!r}: use lower-case letters, digits, '-', '_', '.'")
    run_dir = Path(args.run)
    source = (run_dir / "checkpoints" / args.checkpoint if args.checkpoint else run_dir)
    weights = source / "policy.safetensors"
    out = check_output_dir(args.out, "--out") / f"{args.name}.safetensors"
    distinct(args.env or [], "--env")
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to replace it")
    policy, card = load_policy(weights)
    config = card.get("config", {})
    if args.after:
        card["lineage"] = earlier_runs(args.after, run_dir, card)
    variants = args.env or list(dict.fromkeys(
        [v for v in (card.get("env"), config.get("eval_env")) if v]))
    if not variants:
        raise ValueError(f"{weights}'s card names no env; pass --env")
    agent = PolicyAgent(policy, seed=args.seed, name=args.name)
    evaluation = card_evaluation(agent, variants, args.episodes, seed=args.seed,
                                 max_steps=args.max_steps, progress=not args.no_progress,
                                 training_mazes=training_mazes(source),
                                 greedy_agent=PolicyAgent(policy, greedy=True, name=args.name))
    command = ["mazepolicy", "export", "--run", str(run_dir), "--name", args.name,
               "--episodes", str(args.episodes), "--seed", str(args.seed),
               "--max-steps", str(args.max_steps), "--env", *variants]
    if args.checkpoint:
        command += ["--checkpoint", args.checkpoint]
    if args.after:
        command += ["--after", *args.after]
    card.pop("weights_sha256", None)  # save_policy writes the new file's own
    if "eval" in card:  # the trainer's last small held-out evaluation
        card["training_eval"] = card.pop("eval")
    card.update(name=args.name, status=args.status,
                source={"run": str(run_dir), "weights": str(weights)},
                evaluation={"command": shlex.join(command), "variants": evaluation})
    save_policy(policy, out, card)
    print(json_dumps({name: {"policy": e["policy"]["cheese_rate"],
                             "greedy": e["policy_greedy"]["cheese_rate"],
                             "random": e["random_agent"]["cheese_rate"],
                             "misgeneralization": e["policy"]["misgeneralization_rate"]}
                      for name, e in evaluation.items()}, indent=2))
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


def training_mazes(source: Path) -> list[int]:
    """The level seeds a DAgger run had trained on at ``source`` (a checkpoint folder,
    or a run whose latest checkpoint is used); empty where the run does not log them."""
    from safetensors.torch import load_file

    if not (source / "state.safetensors").is_file():
        latest = source / "checkpoints" / "latest"
        if not latest.is_file():
            return []
        source = source / "checkpoints" / latest.read_text().strip()
    state = source / "state.safetensors"
    if not state.is_file():
        return []
    tensors = load_file(state)
    return tensors["mazes_seen"].tolist() if "mazes_seen" in tensors else []


def earlier_runs(runs: list[str], run_dir: Path, card: dict) -> list[dict]:
    """Lineage entries for the run folders ``runs`` (oldest first) that the run in
    ``run_dir`` (whose weights' card is ``card``) continues. ``ValueError`` if the card
    records its lineage already, or where a run's config names an ``init`` file that
    still exists and is not the previous run's weights."""
    from mazepolicy.agents.policy import weights_sha256
    from mazepolicy.models.checkpoint import read_card
    from mazepolicy.train.common.run_dir import lineage_entry

    if card.get("lineage"):
        raise ValueError(f"{run_dir}'s card records its lineage already; drop --after")
    entries, chain = [], [*map(Path, runs), run_dir]
    for earlier, later in zip(chain[:-1], chain[1:], strict=True):
        weights = earlier / "policy.safetensors"
        entries.append(lineage_entry(weights, read_card(weights)))
        init = (card if later == run_dir else read_card(later / "policy.safetensors")
                ).get("config", {}).get("init")
        if init and Path(init).is_file() and weights_sha256(init) != entries[-1]["weights_sha256"]:
            raise ValueError(f"{later} started from {init}, which now holds other weights "
                             f"than {weights}: --after names the wrong runs, or {init} "
                             "was replaced since")
    return entries
