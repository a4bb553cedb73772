"""The installed engine plays the reference mazes exactly: ``tests/golden/engine.json``,
recorded with procgen-mirror, replayed on whichever backend is installed (procgen-mirror
on Python 3.11/3.12, procgen-gym on 3.13)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mazepolicy.envs.procgen_backend import make_engine
from mazepolicy.envs.state import MazeState

GOLDEN = json.loads((Path(__file__).parent / "golden" / "engine.json").read_text())
RECORDS = GOLDEN["records"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def replay(engine, actions) -> tuple[list, list, list]:
    frames, rewards, firsts = [], [], []
    for action in actions:
        engine.act(np.array([action], dtype=np.int32))
        rew, ob, first = engine.observe()
        frames.append(sha256(ob["rgb"][0].tobytes()))
        rewards.append(float(rew[0]))
        firsts.append(bool(first[0]))
    return frames, rewards, firsts


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: f"{r['mode']}-{r['seed']}")
def test_same_seed_same_state_frames_rewards_and_ends(record):
    engine = make_engine(num=1, distribution_mode=record["mode"], rand_seed=record["seed"],
                         num_threads=0)
    state = base64.b64decode(record["state"])
    assert engine.get_state_of(0) == state
    assert MazeState.from_bytes(state).to_bytes() == state  # the codec reads it
    frames, rewards, firsts = replay(engine, GOLDEN["actions"])
    assert frames == record["frames"]
    assert rewards == record["rewards"] and firsts == record["firsts"]
    assert sha256(engine.get_state_of(0)) == record["final_state_sha256"]
    engine.close()


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_reference_states_load_and_replay_in_this_engine(mode):
    """A state saved by the reference engine, written into an engine seeded otherwise,
    plays the reference's frames."""
    engine = make_engine(num=1, distribution_mode=mode, rand_seed=999, num_threads=0)
    for record in (r for r in RECORDS if r["mode"] == mode):
        engine.set_state_of(0, base64.b64decode(record["state"]))
        frames, rewards, _ = replay(engine, GOLDEN["actions"])
        assert frames == record["frames"] and rewards == record["rewards"]
    engine.close()
