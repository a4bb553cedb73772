"""One episode played from a given maze state, step by step, with the evaluator's
outcome: what ``mazepolicy rollout`` saves and the explorer's rollout shows.

:func:`play_state` writes a :class:`~mazepolicy.envs.state.MazeState` (a seed's maze,
or one edited through its codec) into a one-env :class:`~mazepolicy.envs.vec_env.
MazeVecEnv`, lets ``agent`` (``act(obs, env)``: a network, a
:class:`~mazepolicy.agents.steered.SteeredAgent`, a scripted agent) play it until the
episode ends or ``max_steps`` steps, and records every frame, mouse cell and action.
Its :class:`~mazepolicy.eval.evaluate.EpisodeResult` is built by the evaluator's own
functions (:func:`~mazepolicy.eval.evaluate.episode_geometry`, ``episode_result``), so
the outcome keys (``reached_cheese``, ``top_right_first``, ...) mean what they mean in
:func:`~mazepolicy.eval.evaluate.evaluate`; an unedited seed's state gives the same
result as evaluating that level seed (a network agent samples from the same
per-(seed, level seed, step) stream, :mod:`mazepolicy.agents.sampling`).

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> from mazepolicy.agents.scripted import make_scripted_agent
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> (state,) = level_states([0], Anywhere(), "easy")
    >>> episode = play_state(make_scripted_agent("cheese-walker"), state)
    >>> episode.result.reached_cheese, episode.mouse[-1] == state.cheese_cell
    (True, True)
    >>> len(episode.frames) == len(episode.mouse) == len(episode.actions) + 1
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mazepolicy.envs.cells import Cell
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.vec_env import EPISODE_STEPS, MazeVecEnv
from mazepolicy.eval.evaluate import (
    TRAINING_REGION,
    EpisodeResult,
    episode_geometry,
    episode_result,
)


@dataclass(frozen=True)
class Episode:
    """One played episode: ``frames`` uint8 (T + 1, 64, 64, 3), the agent's view at the
    start and after each step (the last one the episode's final frame), ``mouse`` the
    T + 1 mouse cells (x, y) they show, ``actions`` the T actions taken (0..14), and
    ``result`` the evaluator's record of it (``result.steps`` counts from the state's
    ``cur_time``, 0 for a fresh maze)."""

    frames: np.ndarray
    mouse: list[Cell]
    actions: list[int]
    result: EpisodeResult


def play_state(agent, state: MazeState, max_steps: int = EPISODE_STEPS,
               region: int = TRAINING_REGION) -> Episode:
    """Play ``state`` once with ``agent`` for at most ``max_steps`` steps (the episode
    then times out, as the engine's timeout does at 500), ``region`` deciding
    eligibility as in :func:`~mazepolicy.eval.evaluate.evaluate`. ``state`` is not
    changed. ``ValueError`` where the evaluator cannot describe the maze (an edit
    walled the corner off, say) or for a bad ``max_steps``."""
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
    start = state.copy()
    start.step["timeout"] = start.cur_time + max_steps  # the engine ends it there
    env = MazeVecEnv(num_envs=1, distribution_mode=state.distribution_mode, seed=0,
                     num_threads=0, max_episode_steps=max_steps)
    try:
        env.reset()
        obs = env.set_state(0, start)[None]  # (1, 64, 64, 3)
        geometry = episode_geometry(env, 0, region)
        frames, mouse, actions = [obs[0]], [tuple(int(v) for v in env.mouse_cells[0])], []
        while True:
            action = np.asarray(agent.act(obs, env)).reshape(1)  # (1,)
            obs, _, terminated, truncated, info = env.step(action)
            actions.append(int(action[0]))
            if terminated[0] or truncated[0]:
                frames.append(info["final_obs"][0])
                mouse.append(tuple(int(v) for v in info["final_info"]["mouse_cell"][0]))
                break
            frames.append(obs[0])
            mouse.append(tuple(int(v) for v in env.mouse_cells[0]))
        result = episode_result(geometry, info, 0)
    finally:
        env.close()
    return Episode(np.stack(frames), mouse, actions, result)
