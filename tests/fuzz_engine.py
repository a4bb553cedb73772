"""Fuzz driver run in a subprocess by test_state_fuzz.py: corrupt real states, and write
every state the codec accepts into the engine. A crash of the engine kills this process,
which the test sees as a non-zero exit code."""

from __future__ import annotations

import sys

import numpy as np

from mazepolicy.envs.procgen_backend import make_engine
from mazepolicy.envs.state import MazeState, MazeStateError


def structured_word_offsets(state: MazeState) -> list[int]:
    """Byte offsets of every int/float word outside the RNG texts and the grid cells."""
    header = 4 + 4 + len(state.game_name) + 4 * (12 + 5)
    step = header + 8 + len(state.level_seed_rng.text) + 8 + len(state.rng.text)
    records = 60 + 8 + 124 * len(state.entities) + 76
    view = step + records + 8 + len(state.asset_rng.text)
    total = len(state.to_bytes())
    return (
        list(range(0, header, 4))
        + list(range(step, step + records, 4))
        + list(range(view, view + 36 + 12, 4))
        + [total - 12, total - 8]
    )


def main(seed: int, cases: int) -> None:
    env = make_engine(num=1, distribution_mode="hard", rand_seed=seed, num_threads=0)
    base = env.get_state_of(0)
    words = structured_word_offsets(MazeState.from_bytes(base))
    rng = np.random.default_rng(seed)
    accepted = 0
    for case in range(cases):
        raw = bytearray(base)
        if case % 2:
            pos = int(rng.choice(words))
            value = int(rng.choice([0, 1, 2, -1, 7, 2**31 - 1, -(2**31), rng.integers(-999, 999)]))
            raw[pos : pos + 4] = value.to_bytes(4, "little", signed=True)
        else:
            for _ in range(rng.integers(1, 4)):
                raw[rng.integers(len(raw))] = rng.integers(256)
        try:
            state = MazeState.from_bytes(bytes(raw))
        except MazeStateError:
            continue
        env.set_state_of(0, state.to_bytes())
        for action in (1, 3, 5, 7, 4):
            env.act(np.array([action], dtype=np.int32))
            env.observe()
        accepted += 1
    print(f"accepted {accepted} of {cases}")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
