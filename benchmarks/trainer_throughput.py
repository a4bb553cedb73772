"""Env steps per second of full PPO iterations (collect + update): our trainer vs
Stable-Baselines3's PPO with the same IMPALA network, env count, rollout length, epochs
and minibatches, in one run; plus the network's own compute bound.

The bound uses the network alone at the same batch sizes: ``fwd`` frames/s at the
rollout batch (num_envs, inference) and ``fwd_bwd`` samples/s at the minibatch size,
``bound_sps = 1 / (1/fwd + epochs/fwd_bwd)``. Each repeat times the bound, ours and
SB3 in turn (each warmed up once beforehand); the medians over repeats are reported.

    python benchmarks/trainer_throughput.py --num-envs 16 --num-steps 64 --epochs 3 \\
        --minibatches 4 --device cpu --env-groups 2 --json benchmarks/results/trainer_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from common import machine, sync, write_json

from mazepolicy.models.devices import resolve_device
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.ppo.config import PPOConfig
from mazepolicy.train.ppo.trainer import Trainer


class OursRunner:
    """Our ``Trainer``, warmed up by one iteration (and compilation, if enabled)."""

    def __init__(self, config: PPOConfig):
        self.config = config
        self.trainer = Trainer(config, tempfile.mkdtemp(), progress=False)
        self.trainer.train_iteration()

    def sps(self, iterations: int) -> float:
        sync(self.trainer.device)
        start = time.perf_counter()
        for _ in range(iterations):
            self.trainer.train_iteration()
        sync(self.trainer.device)
        return iterations * self.config.batch_size / (time.perf_counter() - start)

    def close(self) -> None:
        self.trainer.close()


class SB3Runner:
    """Stable-Baselines3's PPO with our IMPALA network as features extractor on our SB3
    VecEnv adapter, with the same PPO settings; warmed up by one iteration."""

    def __init__(self, config: PPOConfig):
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import VecTransposeImage

        from mazepolicy.envs.sb3 import MazeSB3VecEnv
        from mazepolicy.envs.variants import load_variant
        from mazepolicy.models.sb3 import impala_policy_kwargs

        self.config = config
        variant = load_variant(config.env)
        self.venv = VecTransposeImage(MazeSB3VecEnv(
            num_envs=config.num_envs, cheese=variant.placement(),
            distribution_mode=variant.distribution_mode, seed=config.seed,
            num_threads=config.env_threads or None))
        self.model = PPO(
            "CnnPolicy", self.venv, n_steps=config.num_steps,
            batch_size=config.minibatch_size, n_epochs=config.epochs, learning_rate=config.lr,
            gamma=config.gamma, gae_lambda=config.gae_lambda, clip_range=config.clip_coef,
            ent_coef=config.ent_coef, vf_coef=config.vf_coef,
            max_grad_norm=config.max_grad_norm, policy_kwargs=impala_policy_kwargs(config.scale),
            device=resolve_device(config.device), seed=config.seed, verbose=0)
        self.model.learn(config.batch_size)

    def sps(self, iterations: int) -> float:
        steps = iterations * self.config.batch_size
        start = time.perf_counter()
        self.model.learn(steps, reset_num_timesteps=False)
        return steps / (time.perf_counter() - start)

    def close(self) -> None:
        self.venv.close()


def network_bound(config: PPOConfig, repeats: int = 5) -> dict:
    device = resolve_device(config.device)
    policy = ImpalaPolicy(config.scale).to(device)
    rollout = torch.randint(0, 256, (config.num_envs, 64, 64, 3), dtype=torch.uint8,
                            device=device)
    minibatch = torch.randint(0, 256, (config.minibatch_size, 64, 64, 3), dtype=torch.uint8,
                              device=device)

    def forward():
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16,
                                                    enabled=config.bf16):
            policy(rollout)

    def forward_backward():
        with torch.autocast(device.type, torch.bfloat16, enabled=config.bf16):
            logits, value = policy(minibatch)
        (logits.float().sum() + value.float().sum()).backward()

    fwd = len(rollout) / _time(forward, repeats, device)
    fwd_bwd = len(minibatch) / _time(forward_backward, repeats, device)
    return {"fwd": fwd, "fwd_bwd": fwd_bwd,
            "bound_sps": 1 / (1 / fwd + config.epochs / fwd_bwd)}


def _time(fn, repeats: int, device: torch.device) -> float:
    fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="maze-topright-5")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--num-steps", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=2,
                        help="timed PPO iterations per repeat and side")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repeats; the medians are reported")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--env-threads", type=int, default=0,
                        help="engine threads per env group (0: all cores)")
    parser.add_argument("--env-groups", type=int, default=1,
                        help="env groups stepped while the policy acts on the others")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    config = PPOConfig(env=args.env, num_envs=args.num_envs, num_steps=args.num_steps,
                       epochs=args.epochs, minibatches=args.minibatches, scale=args.scale,
                       device=args.device, env_threads=args.env_threads,
                       env_groups=args.env_groups, bf16=args.bf16,
                       compile=args.compile, eval_episodes=0, total_steps=10**9)
    ours = OursRunner(config)
    sb3 = None if args.skip_sb3 else SB3Runner(config)
    samples: dict[str, list[float]] = {"ours_sps": [], "sb3_sps": [], "bound_sps": [],
                                       "fwd": [], "fwd_bwd": []}
    for repeat in range(args.repeats):  # interleaved, so load from elsewhere hits all alike
        for key, value in network_bound(config).items():
            samples[key].append(value)
        samples["ours_sps"].append(ours.sps(args.iterations))
        if sb3 is not None:
            samples["sb3_sps"].append(sb3.sps(args.iterations))
        print(f"repeat {repeat + 1}/{args.repeats}: "
              + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in samples.items() if v), flush=True)
    ours.close()
    if sb3 is not None:
        sb3.close()
    median = {k: statistics.median(v) for k, v in samples.items() if v}
    bound = {k: median[k] for k in ("fwd", "fwd_bwd", "bound_sps")}
    ours, sb3 = median["ours_sps"], median.get("sb3_sps")
    result = {
        "benchmark": "trainer_throughput",
        "machine": machine(resolve_device(args.device)),
        "config": vars(args),
        "ours_sps": ours,
        "sb3_sps": sb3,
        "ratio": ours / sb3 if sb3 else None,
        **bound,
        "samples": samples,
        "bound_ratio": ours / bound["bound_sps"],
    }
    print(f"ours {ours:,.0f} sps | sb3 {sb3 or float('nan'):,.0f} sps | "
          f"ratio {result['ratio'] or float('nan'):.2f} | bound {bound['bound_sps']:,.0f} sps "
          f"(fwd {bound['fwd']:,.0f}/s, fwd+bwd {bound['fwd_bwd']:,.0f}/s) | "
          f"ours/bound {result['bound_ratio']:.2f}")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
