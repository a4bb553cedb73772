"""Record ``tests/golden/engine.json`` with procgen-mirror (the reference engine).

For each distribution mode and level sequence seed: the fresh maze's state bytes, then
50 fixed actions' frames (SHA-256 of the bytes), rewards and episode starts, and the
final state's SHA-256. ``tests/test_engine_golden.py`` replays them on whichever backend
is installed.

    MAZEPOLICY_BACKEND=procgen-mirror python tests/golden/record_engine.py
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from mazepolicy.envs.procgen_backend import BACKEND, make_engine

SEEDS = (0, 1, 7, 42, 12345)
MODES = ("easy", "hard")
STEPS = 50
OUT = Path(__file__).with_name("engine.json")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def actions() -> list[int]:
    """The fixed actions: 50 uniform draws from the 15, seed 0."""
    return np.random.default_rng(0).integers(0, 15, STEPS).tolist()


def play(mode: str, seed: int) -> dict:
    engine = make_engine(num=1, distribution_mode=mode, rand_seed=seed, num_threads=0)
    start = engine.get_state_of(0)
    frames, rewards, firsts = [], [], []
    for action in actions():
        engine.act(np.array([action], dtype=np.int32))
        rew, ob, first = engine.observe()
        frames.append(sha256(ob["rgb"][0].tobytes()))
        rewards.append(float(rew[0]))
        firsts.append(bool(first[0]))
    final = engine.get_state_of(0)
    engine.close()
    return {"mode": mode, "seed": seed, "state": base64.b64encode(start).decode(),
            "frames": frames, "rewards": rewards, "firsts": firsts,
            "final_state_sha256": sha256(final)}


def main() -> None:
    if BACKEND != "procgen-mirror":
        raise SystemExit("record with procgen-mirror: MAZEPOLICY_BACKEND=procgen-mirror")
    records = [play(mode, seed) for mode in MODES for seed in SEEDS]
    OUT.write_text(json.dumps({"backend": BACKEND, "actions": actions(), "records": records},
                              indent=1) + "\n")
    print(f"wrote {OUT} ({len(records)} records)")


if __name__ == "__main__":
    main()
