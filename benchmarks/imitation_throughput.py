"""Labelled samples per second of whole DAgger rounds (collection + labelling + updates)
against the network's forward+backward+Adam bound at the same batch size, in one run.

A round is ``DaggerTrainer.train_round()`` on a temporary run directory: the collector
steps ``num_envs`` mazes (the learner acting with probability 1 - beta), labels
``frames_per_round`` frames with the expert's moves and values, then
``updates_per_round`` Adam steps of ``batch_size`` run on the buffer. Its rate is
``updates_per_round * batch_size / seconds`` (labelled samples trained on per second).
The bound is the same update (forward, cross-entropy + value loss, backward, gradient
clipping, Adam) on random uint8 frames already in memory, with a second network of the
same shape: ``batch_size / seconds per update``. Each repeat times the bound, then
``--rounds`` rounds (both warmed up once beforehand); medians over repeats are reported.

    python benchmarks/imitation_throughput.py --batch-size 128 --frames-per-round 8192 \\
        --updates-per-round 128 --rounds 2 --threads 2 \\
        --json benchmarks/results/imitation_cpu.json
    python benchmarks/imitation_throughput.py ... --channels-last   # compare memory formats
    python benchmarks/imitation_throughput.py --compare-settings --updates-per-round 20 \
        --json benchmarks/results/imitation_settings_cpu.json
    # the bound alone in fp32, channels_last, bf16 autocast and torch.compile, each as a
    # ratio to fp32 eager: which setting the trainer should use on this machine
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from common import machine, sync, write_json

from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.dagger import DaggerConfig, DaggerTrainer


class RoundRunner:
    """A ``DaggerTrainer`` on a temporary directory, warmed up by one round."""

    def __init__(self, config: DaggerConfig, channels_last: bool):
        self.config = config
        self.trainer = DaggerTrainer(config, tempfile.mkdtemp(), progress=False)
        if channels_last:  # in place: the optimizer keeps the same parameters
            self.trainer.policy.to(memory_format=torch.channels_last)
        self.trainer.train_round()

    def measure(self, rounds: int) -> dict:
        """Labelled samples/s over ``rounds`` rounds, and the time split."""
        device = self.trainer.device
        collect = update = 0.0
        sync(device)
        start = time.perf_counter()
        for _ in range(rounds):
            row = self.trainer.train_round()
            collect += row["collect_seconds"]
            update += row["update_seconds"]
        sync(device)
        seconds = time.perf_counter() - start
        samples = rounds * self.config.updates_per_round * self.config.batch_size
        return {"samples_per_s": samples / seconds,
                "collect_share": collect / (collect + update),
                "frames_per_s": rounds * self.config.frames_per_round / seconds}

    def close(self) -> None:
        self.trainer.close()


class UpdateBound:
    """The trainer's update step alone, on random frames and labels in memory."""

    def __init__(self, config: DaggerConfig, device: torch.device, channels_last: bool,
                 bf16: bool = False, compile: bool = False):
        self.config, self.device, self.bf16 = config, device, bf16
        self.policy = ImpalaPolicy(config.scale).to(device)
        if channels_last:
            self.policy.to(memory_format=torch.channels_last)
        self.policy.train()
        self.model = torch.compile(self.policy) if compile else self.policy
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=config.lr,
                                          eps=config.adam_eps)
        b = config.batch_size
        self.frames = torch.randint(0, 256, (b, 64, 64, 3), dtype=torch.uint8, device=device)
        self.actions = torch.randint(0, 15, (b,), device=device)
        self.values = torch.rand(b, device=device) * 10
        self.step()

    def step(self) -> None:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, predicted = self.model(self.frames)
            loss = (F.cross_entropy(logits.float(), self.actions)
                    + self.config.vf_coef * F.mse_loss(predicted.float(), self.values))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        self.optimizer.step()

    def samples_per_s(self, updates: int) -> float:
        sync(self.device)
        start = time.perf_counter()
        for _ in range(updates):
            self.step()
        sync(self.device)
        return updates * self.config.batch_size / (time.perf_counter() - start)


SETTINGS = {"fp32": {}, "channels_last": {"channels_last": True}, "bf16": {"bf16": True},
            "compile": {"compile": True}}


def compare_settings(config: DaggerConfig, device: torch.device, updates: int,
                     repeats: int) -> dict:
    """The bound under each of :data:`SETTINGS`, interleaved over ``repeats``; medians and
    each one's ratio to fp32 eager."""
    bounds = {name: UpdateBound(config, device, **{"channels_last": False, **kwargs})
              for name, kwargs in SETTINGS.items()}  # built (and compiled) up front
    for bound in bounds.values():
        bound.samples_per_s(3)  # warm-up beyond the first step (compile, autotuning)
    samples: dict[str, list[float]] = {name: [] for name in bounds}
    for repeat in range(repeats):
        for name, bound in bounds.items():
            samples[name].append(bound.samples_per_s(updates))
        print(f"repeat {repeat + 1}/{repeats}: "
              + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in samples.items()), flush=True)
    median = {k: statistics.median(v) for k, v in samples.items()}
    return {"bound_samples_per_s": median,
            "ratio_to_fp32": {k: v / median["fp32"] for k, v in median.items()},
            "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="maze-topright-5")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--frames-per-round", type=int, default=8192)
    parser.add_argument("--updates-per-round", type=int, default=128)
    parser.add_argument("--maze-frames", type=int, default=16,
                        help="labelled frames per maze (the dagger-impala recipe's 16)")
    parser.add_argument("--teleport-prob", type=float, default=0.1,
                        help="per-step teleport probability (the recipe's 0.1)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per repeat")
    parser.add_argument("--repeats", type=int, default=3,
                        help="repeats of bound then rounds; the medians are reported")
    parser.add_argument("--beta", type=float, default=0.0,
                        help="P(expert drives an episode); 0 = the learner always "
                             "(a long run's steady state)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: all cores)")
    parser.add_argument("--env-threads", type=int, default=0,
                        help="engine threads (0: all cores)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true",
                        help="convert both networks to channels_last memory format")
    parser.add_argument("--compare-settings", action="store_true",
                        help="time only the bound in fp32, channels_last, bf16 autocast "
                             "and torch.compile (no DAgger rounds)")
    parser.add_argument("--json")
    args = parser.parse_args()
    config = DaggerConfig(
        env=args.env, scale=args.scale, num_envs=args.num_envs, batch_size=args.batch_size,
        frames_per_round=args.frames_per_round, capacity=args.frames_per_round,
        updates_per_round=args.updates_per_round, beta_start=args.beta, beta_end=args.beta,
        torch_threads=args.threads, env_threads=args.env_threads, device=args.device,
        maze_frames=args.maze_frames, teleport_prob=args.teleport_prob,
        eval_episodes=0, total_frames=10**9)
    if args.compare_settings:
        torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
        result = {"benchmark": "imitation_settings", "machine": machine(args.device),
                  "config": vars(args),
                  **compare_settings(config, torch.device(args.device),
                                     args.updates_per_round, args.repeats)}
        print("bound, samples/s: " + ", ".join(
            f"{k} {v:,.0f} ({result['ratio_to_fp32'][k]:.2f}x fp32)"
            for k, v in result["bound_samples_per_s"].items()))
        write_json(args.json, result)
        return
    rounds = RoundRunner(config, args.channels_last)
    bound = UpdateBound(config, rounds.trainer.device, args.channels_last)
    samples: dict[str, list[float]] = {"bound_samples_per_s": [], "samples_per_s": [],
                                       "frames_per_s": [], "collect_share": []}
    for repeat in range(args.repeats):  # interleaved, so load from elsewhere hits both
        samples["bound_samples_per_s"].append(bound.samples_per_s(args.updates_per_round))
        for key, value in rounds.measure(args.rounds).items():
            samples[key].append(value)
        print(f"repeat {repeat + 1}/{args.repeats}: "
              + ", ".join(f"{k} {v[-1]:,.2f}" for k, v in samples.items()), flush=True)
    device = str(rounds.trainer.device)
    rounds.close()
    median = {k: statistics.median(v) for k, v in samples.items()}
    result = {
        "benchmark": "imitation_throughput",
        "machine": machine(device),
        "config": vars(args),
        "reuse": config.reuse,
        **median,
        "ratio": median["samples_per_s"] / median["bound_samples_per_s"],
        "samples": samples,
    }
    print(f"DAgger rounds {median['samples_per_s']:,.0f} labelled samples/s "
          f"({median['frames_per_s']:,.0f} frames collected/s, "
          f"{median['collect_share']:.0%} of the time collecting) | "
          f"bound {median['bound_samples_per_s']:,.0f} samples/s "
          f"(forward+backward+Adam, batch {args.batch_size}"
          f"{', channels_last' if args.channels_last else ''}) | "
          f"ratio {result['ratio']:.2f}")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
