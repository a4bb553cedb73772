"""Env steps per second: raw procgen vs MazeVecEnv with TopRightRegion(5), same run.

Both sides step uniformly random actions through the same engine with the same
num_envs, threads, distribution mode and number of timed steps, after the same warm-up.
Raw: ``act`` + ``observe`` on the installed backend's engine (procgen-mirror's
``ProcgenGym3Env`` or procgen-gym's ``CLibenv``, each copying its frames as it does for its
users; the engine's own cheese, no edits). Wrapped: ``MazeVecEnv.step`` (action checks,
mouse tracking, outcome info, final frames, and the cheese placement re-applied at every
reset). Repeats alternate raw and wrapped so
that load from other processes hits both alike; each side reports its best repeat.
The target is wrapped/raw >= 0.9.

Wall-clock steps/s are only as good as the machine is quiet, so the load average is
recorded, and each side's CPU time per env-step (all threads of the process, best
repeat) is reported too: ``cpu_ratio`` = raw CPU / wrapped CPU, the share of the raw
engine's efficiency the wrapper keeps, is far less sensitive to other processes.
Samples are (steps/s, CPU us per env-step) per repeat.

    python benchmarks/env_throughput.py --num-envs 64 256 --threads 2 --steps 1000 \\
        --json benchmarks/results/env_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mazepolicy.envs import MazeVecEnv, TopRightRegion
from mazepolicy.envs.actions import NUM_ACTIONS
from mazepolicy.envs.procgen_backend import BACKEND, make_engine

WARMUP_STEPS = 50


def random_actions(steps: int, num_envs: int, seed: int) -> np.ndarray:
    """Uniform actions, int32 (WARMUP_STEPS + steps, num_envs)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, NUM_ACTIONS, (WARMUP_STEPS + steps, num_envs)).astype(np.int32)


def raw_sps(num_envs: int, threads: int, steps: int, mode: str, seed: int) -> tuple:
    """(steps/s, CPU us per env-step) of the bare engine (act + observe)."""
    env = make_engine(num=num_envs, distribution_mode=mode, rand_seed=seed,
                        num_threads=threads)
    actions = random_actions(steps, num_envs, seed)
    for a in actions[:WARMUP_STEPS]:
        env.act(a)
        env.observe()
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions[WARMUP_STEPS:]:
        env.act(a)
        env.observe()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return steps * num_envs / elapsed, cpu * 1e6 / (steps * num_envs)


def wrapped_sps(num_envs: int, threads: int, steps: int, mode: str, seed: int) -> tuple:
    """(steps/s, CPU us per env-step, episode ends in the timed steps) of MazeVecEnv with
    TopRightRegion(5)."""
    env = MazeVecEnv(num_envs=num_envs, cheese=TopRightRegion(5), distribution_mode=mode,
                     seed=seed, num_threads=threads)
    env.reset()
    actions = random_actions(steps, num_envs, seed)
    for a in actions[:WARMUP_STEPS]:
        env.step(a)
    ends = 0
    start, cpu = time.perf_counter(), time.process_time()
    for a in actions[WARMUP_STEPS:]:
        _, _, terminated, truncated, _ = env.step(a)
        ends += int((terminated | truncated).sum())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return steps * num_envs / elapsed, cpu * 1e6 / (steps * num_envs), ends


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "backend": BACKEND,
        "backend_version": version(BACKEND),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1000, help="timed steps per run")
    parser.add_argument("--mode", default="hard", choices=["easy", "hard"])
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each side")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"engine: {BACKEND} {version(BACKEND)}, numpy {np.__version__}")
    results = []
    print(f"{'num_envs':>8} {'raw sps':>10} {'wrapped sps':>12} {'ratio':>6}   "
          f"{'raw cpu us':>10} {'wrapped cpu us':>14} {'cpu ratio':>9} {'ends':>6}")
    for n in args.num_envs:
        raw, wrapped, ends = [], [], []
        for r in range(args.repeats):
            raw.append(raw_sps(n, args.threads, args.steps, args.mode, seed=r))
            *sample, e = wrapped_sps(n, args.threads, args.steps, args.mode, seed=r)
            wrapped.append(sample)
            ends.append(e)
        (raw_best, _), (wrapped_best, _) = max(raw), max(wrapped)
        raw_cpu, wrapped_cpu = min(c for _, c in raw), min(c for _, c in wrapped)
        row = {"num_envs": n, "raw_sps": raw_best, "wrapped_sps": wrapped_best,
               "ratio": wrapped_best / raw_best,
               "raw_cpu_us_per_step": raw_cpu, "wrapped_cpu_us_per_step": wrapped_cpu,
               "cpu_ratio": raw_cpu / wrapped_cpu,
               "raw_samples": raw, "wrapped_samples": wrapped, "episode_ends": ends}
        results.append(row)
        print(f"{n:8d} {raw_best:10.0f} {wrapped_best:12.0f} {row['ratio']:6.3f}   "
              f"{raw_cpu:10.1f} {wrapped_cpu:14.1f} {row['cpu_ratio']:9.3f} {ends[-1]:6d}")
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    if args.json:
        out = {
            "benchmark": "env_throughput",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "config": vars(args) | {"warmup_steps": WARMUP_STEPS},
            "results": results,
            "raw_sps": {r["num_envs"]: r["raw_sps"] for r in results},
            "wrapped_sps": {r["num_envs"]: r["wrapped_sps"] for r in results},
            "ratio": {r["num_envs"]: r["ratio"] for r in results},
            "cpu_ratio": {r["num_envs"]: r["cpu_ratio"] for r in results},
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
