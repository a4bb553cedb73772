"""Render engine frames of arbitrary maze states (edited, built from grids, ...).

Example:
    >>> from mazepolicy.envs import MazeVecEnv
    >>> env = MazeVecEnv(num_envs=1, seed=0)
    >>> obs, _ = env.reset()
    >>> state = env.get_state(0)
    >>> frames = render_states([state])
    >>> frames.shape, bool((frames[0] == obs[0]).all())
    ((1, 64, 64, 3), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mazepolicy.envs.procgen_backend import MazeEngine, make_engine
from mazepolicy.envs.state import MazeState


@lru_cache(maxsize=4)
def _renderer(distribution_mode: str, num: int) -> MazeEngine:
    return make_engine(num=num, distribution_mode=distribution_mode, num_threads=0)


def render_states(states: Sequence[MazeState], batch: int = 64) -> np.ndarray:
    """The frame the agent would see for each state: uint8 (len(states), 64, 64, 3).

    States are validated before they reach the engine; they may mix easy and hard mode.
    """
    out = np.zeros((len(states), 64, 64, 3), dtype=np.uint8)
    for mode in {s.distribution_mode for s in states}:
        index = [i for i, s in enumerate(states) if s.distribution_mode == mode]
        for start in range(0, len(index), batch):
            chunk = index[start : start + batch]
            engine = _renderer(mode, batch)
            for slot, i in enumerate(chunk):
                engine.set_state_of(slot, states[i].to_bytes())
            frames = engine.observe()[1]["rgb"]
            out[chunk] = frames[: len(chunk)]
    return out
