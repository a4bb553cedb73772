"""``mazepolicy train``: PPO or DAgger on a maze variant, with checkpoints, resume, logs
and evals.

The recipe (``--agent``, a TOML file in ``agents/`` of ``PPOConfig`` or, with
``algorithm = "dagger"``, ``DaggerConfig`` fields) gives the settings; the flags and
``--set key=value`` override them. ``--resume`` continues the run in ``--out`` from its
latest checkpoint (an error if it has none); ``--init`` starts from given weights.
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
    with trainer:
        summary = trainer.train()
    if getattr(trainer, "rank", 0) == 0:
        print(json_dumps({k: v for k, v in summary.items() if not isinstance(v, dict)}))
    return 0
