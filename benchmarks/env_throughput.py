"""Env steps per second: raw procgen vs MazeVecEnv with TopRightRegion(5), same run.

Both step random actions through the same engine with the same num_envs, threads and
distribution mode. Raw: ``act`` + ``observe`` on ``procgen.ProcgenGym3Env``. Wrapped:
``MazeVecEnv.step`` (action checks, mouse tracking, outcome info, and the cheese
placement re-applied at every reset). Reports wrapped/raw; the target is >= 0.9.

    python benchmarks/env_throughput.py --num-envs 64 256 --threads 2 --steps 2000 \\
        --json benchmarks/results/env_throughput.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mazepolicy.envs import MazeVecEnv, TopRightRegion
from mazepolicy.envs.procgen_backend import make_gym3_env


def raw_sps(num_envs: int, threads: int, steps: int, mode: str, seed: int) -> float:
    env = make_gym3_env(num=num_envs, distribution_mode=mode, rand_seed=seed,
                        num_threads=threads)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 15, (steps, num_envs)).astype(np.int32)
    for a in actions[:50]:  # warm-up
        env.act(a)
        env.observe()
    start = time.perf_counter()
    for a in actions:
        env.act(a)
        env.observe()
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed


def wrapped_sps(num_envs: int, threads: int, steps: int, mode: str, seed: int) -> tuple:
    env = MazeVecEnv(num_envs=num_envs, cheese=TopRightRegion(5), distribution_mode=mode,
                     seed=seed, num_threads=threads)
    env.reset()
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 15, (steps, num_envs))
    for a in actions[:50]:
        env.step(a)
    resets = 0
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        resets += int((terminated | truncated).sum())
    elapsed = time.perf_counter() - start
    env.close()
    return steps * num_envs / elapsed, resets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--mode", default="hard", choices=["easy", "hard"])
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each side")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = []
    for n in args.num_envs:
        raws, wraps = [], []
        for r in range(args.repeats):  # interleaved, so drift hits both sides alike
            raws.append(raw_sps(n, args.threads, args.steps, args.mode, seed=r))
            sps, resets = wrapped_sps(n, args.threads, args.steps, args.mode, seed=r)
            wraps.append(sps)
        row = {"num_envs": n, "raw_sps": max(raws), "wrapped_sps": max(wraps),
               "ratio": max(wraps) / max(raws), "resets_per_run": resets}
        results.append(row)
        print(f"num_envs={n:4d}  raw {row['raw_sps']:9.0f} sps  wrapped "
              f"{row['wrapped_sps']:9.0f} sps  ratio {row['ratio']:.3f}")
    if args.json:
        out = {
            "benchmark": "env_throughput",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "python": platform.python_version()},
            "config": vars(args),
            "results": results,
            "raw_sps": results[-1]["raw_sps"],
            "wrapped_sps": results[-1]["wrapped_sps"],
            "ratio": min(r["ratio"] for r in results),
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
