"""The seam between agents and everything that runs them.

An :class:`Agent` maps a batch of frames from a :class:`~mazepolicy.envs.MazeVecEnv`
to one action per env; it may read the env's tracked state (the scripted walkers do)
and its running level seeds and episode steps (network agents sample from them).

Example:
    >>> from mazepolicy.agents.scripted import make_scripted_agent
    >>> isinstance(make_scripted_agent("cheese-walker"), Agent)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from mazepolicy.envs.vec_env import MazeVecEnv


@runtime_checkable
class Agent(Protocol):
    """``act(obs, env) -> actions``: uint8 frames (N, 64, 64, 3) -> int actions (N,)."""

    name: str

    def act(self, obs: np.ndarray, env: MazeVecEnv) -> np.ndarray: ...
