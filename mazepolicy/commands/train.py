"""``mazepolicy train``: PPO or DAgger on a maze variant, with checkpoints, resume, logs
and evals.

The recipe (``--agent``, a TOML file in ``agents/`` of ``PPOConfig`` or, with
``algorithm = "dagger"``, ``DaggerConfig`` fields) gives the settings; the flags and
``--set key=value`` override them. ``--resume`` continues the run in ``--out`` from its
latest checkpoint (an error if it has none); ``--init`` starts from given weights.
A run directory has one writer: a second ``train`` on it is refused, naming the first.
Ctrl-C stops the run with one line saying which checkpoint ``--resume`` continues from.
Under ``torchrun`` every PPO rank trains on its own envs and gradients are averaged.

Example:
    mazepolicy train --env maze-topright-5 --agent ppo-impala --total-steps 80000000 \\
        --out runs/topright5 --device cuda --set bf16=true compile=true env_groups=2
    mazepolicy train --agent ppo-tiny --out runs/smoke
    mazepolicy train --agent dagger-impala --out runs/tr5-dagger [--resume]
    mazepolicy train --agent ppo-impala --init checkpoints/maze-topright-5_impala-s1.safetensors \\
        --out runs/finetune --device cuda
    torchrun --nproc_per_node 4 -m mazepolicy.cli train --agent ppo-impala --out runs/ddp
"""

from __future__ import annotations

import argparse
import shlex
import sys

from mazepolicy.commands.common import nonnegative_int, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", default="ppo-impala",
                        help="recipe name in agents/ (ppo-*, dagger-*) or a TOML path")
    parser.add_argument("--env", help="training variant (default: the recipe's)")
    parser.add_argument("--total-steps", type=positive_int,
                        help="PPO: env steps over all ranks; DAgger: labelled frames "
                        "(default: the recipe's)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the run directory's latest checkpoint (an error "
                        "if it has none)")
    parser.add_argument("--seed", type=nonnegative_int,
                        help="run seed: envs, sampling, init (default: the recipe's)")
    parser.add_argument("--init", help="start from these weights (a .safetensors checkpoint), "
                        "e.g. an imitation policy to fine-tune with PPO")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the recipe's)")
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE",
                        help="override any recipe field, e.g. --set lr=3e-4 bf16=true")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        return train(args)
    except KeyboardInterrupt:
        print(interrupted_message(args), file=sys.stderr)
        return 130  # the shell's code for a SIGINT


def interrupted_message(args: argparse.Namespace) -> str:
    """One line after Ctrl-C: where the run stands and the command that resumes it."""
    from mazepolicy.train.common.run_dir import RunDirectory

    latest = RunDirectory(args.out).latest_checkpoint()
    if latest is None:
        return f"mazepolicy train: interrupted before the first checkpoint; {args.out} " \
               "has nothing to resume (start it again)"
    command = " ".join(shlex.quote(str(word)) for word in resume_command(args))
    return (f"mazepolicy train: interrupted; resume from checkpoint {latest.name} with: "
            f"{command}")


def resume_command(args: argparse.Namespace) -> list[str]:
    """The command line that resumes the run ``args`` started: the same settings (a
    resume with other settings is refused) plus ``--resume``.

    Example:
        >>> args = argparse.Namespace(agent="dagger-tiny", out="runs/x", env=None,
        ...     total_steps=None, seed=3, init=None, device=None, set=["lr=1e-3"],
        ...     no_progress=False)
        >>> " ".join(resume_command(args))
        'mazepolicy train --agent dagger-tiny --out runs/x --seed 3 --set lr=1e-3 --resume'
    """
    words = ["mazepolicy", "train", "--agent", args.agent, "--out", args.out]
    for flag in ("env", "total_steps", "seed", "init", "device"):
        value = getattr(args, flag)
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    if args.set:
        words += ["--set", *args.set]
    if args.no_progress:
        words.append("--no-progress")
    return [*words, "--resume"]


def overshoot_note(config, world_size: int = 1) -> str | None:
    """What the run trains when its length is not a whole number of iterations (PPO)
    or rounds (DAgger), which it rounds up; None when it is.

    Example:
        >>> from mazepolicy.train.ppo.config import PPOConfig
        >>> overshoot_note(PPOConfig(total_steps=1000, num_envs=3, num_steps=100,
        ...                          minibatches=1, env_groups=1))
        'total_steps 1000 is not a multiple of the 300 env steps of an iteration: it runs 4 \
iterations, 1200 env steps'
    """
    from mazepolicy.train.dagger import DaggerConfig

    if isinstance(config, DaggerConfig):
        total, chunk, count = config.total_frames, config.frames_per_round, config.rounds
        names = ("total_frames", "labelled frames", "a round", "rounds")
    else:
        total, chunk = config.total_steps, config.batch_size * world_size
        count = config.iterations(world_size)
        names = ("total_steps", "env steps", "an iteration", "iterations")
    if total % chunk == 0:
        return None
    length, unit, one, many = names
    return (f"{length} {total} is not a multiple of the {chunk} {unit} of {one}: it runs "
            f"{count} {many}, {count * chunk} {unit}")


def train(args: argparse.Namespace) -> int:
    from mazepolicy.io import json_dumps
    from mazepolicy.train.dagger import DaggerConfig, DaggerTrainer
    from mazepolicy.train.ppo.trainer import Trainer
    from mazepolicy.train.recipes import load_recipe

    config = load_recipe(args.agent)
    flags = {"env": args.env, "seed": args.seed, "device": args.device, "init": args.init}
    config = config.replace(**{k: v for k, v in flags.items() if v is not None})
    config = config.with_overrides(args.set)
    if args.total_steps is not None:
        length = "total_frames" if isinstance(config, DaggerConfig) else "total_steps"
        config = config.replace(**{length: args.total_steps})
    trainer_class = DaggerTrainer if isinstance(config, DaggerConfig) else Trainer
    trainer = trainer_class(config, args.out, resume=args.resume, progress=not args.no_progress)
    note = overshoot_note(config, getattr(trainer, "world", 1))
    if note and getattr(trainer, "rank", 0) == 0:
        print(f"mazepolicy train: {note}", file=sys.stderr)
    with trainer:
        summary = trainer.train()
    if getattr(trainer, "rank", 0) == 0:
        print(json_dumps({k: v for k, v in summary.items() if not isinstance(v, dict)}))
    return 0
