"""The explorer's rollouts: one sampled episode on the view's maze under its steering,
played by :func:`~mazepolicy.eval.episode.play_state` (the evaluator's outcomes) with a
:class:`~mazepolicy.agents.policy.PolicyAgent` whose sampling seed is the request's
``rollout_seed`` (the library's sampling: the same seed, maze and steering give the
same episode), steered by :func:`~mazepolicy.interp.vectors.steering` as the fields are.

A rollout request is a view's query plus ``rollout_seed`` (0..2**31 - 1, default 0) and
``max_steps`` (1..500, default 500, the engine's timeout); :func:`split_rollout_query`
takes those two off and the rest goes to :func:`~mazepolicy.explore.state.parse_view`,
which refuses anything it does not know.

Example:
    >>> rest, settings = split_rollout_query({"seed": ["3"], "rollout_seed": ["7"]})
    >>> rest, settings
    ({'seed': ['3']}, RolloutSettings(seed=7, max_steps=500))
    >>> split_rollout_query({"max_steps": ["0"]})
    Traceback (most recent call last):
    ...
    mazepolicy.explore.state.BadRequest: max_steps must be an integer in 1..500, got '0'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mazepolicy.envs.actions import ACTION_DELTAS
from mazepolicy.envs.vec_env import EPISODE_STEPS
from mazepolicy.eval.episode import Episode, play_state
from mazepolicy.explore.mazes import png_data_url
from mazepolicy.explore.state import MAX_SEED, View, format_edits, one_value, parse_int

ROLLOUT_PARAMS = ("rollout_seed", "max_steps")
GIF_SCALE = 4  # GIF frames are the agent's 64x64 view enlarged to 256x256
GIF_FPS = 10
MOVE_NAMES = {(1, 0): "right", (0, 1): "up", (-1, 0): "left", (0, -1): "down", (0, 0): "stay"}


@dataclass(frozen=True)
class RolloutSettings:
    """A rollout's own parameters: the agent's sampling ``seed`` and the step cap."""

    seed: int = 0
    max_steps: int = EPISODE_STEPS


def split_rollout_query(query: dict[str, list[str]]
                        ) -> tuple[dict[str, list[str]], RolloutSettings]:
    """(the query without :data:`ROLLOUT_PARAMS`, the checked :class:`RolloutSettings`);
    :class:`BadRequest` for a bad or repeated one."""
    rest = {k: v for k, v in query.items() if k not in ROLLOUT_PARAMS}
    return rest, RolloutSettings(
        seed=parse_int(one_value(query, "rollout_seed", "0"), "rollout_seed", 0, MAX_SEED),
        max_steps=parse_int(one_value(query, "max_steps", str(EPISODE_STEPS)), "max_steps",
                            1, EPISODE_STEPS))


def play_view(policy, state, vectors, settings: RolloutSettings, region: int) -> Episode:
    """The episode ``policy`` plays from ``state`` with ``vectors`` ((SteeringVector,
    coeff), ...; empty or coefficient 0: unsteered, bitwise) added as
    :func:`~mazepolicy.interp.vectors.steering` adds them, sampling with seed
    ``settings.seed``; ``region`` decides eligibility as the evaluator's does.
    ``ValueError`` (from the evaluator) where an edit left the maze without a path to
    its corner or cheese. Hold the lab's lock: the steering hooks are the policy's."""
    from mazepolicy.agents.policy import PolicyAgent
    from mazepolicy.interp.vectors import steering

    agent = PolicyAgent(policy, seed=settings.seed)
    with steering(policy, list(vectors)):
        return play_state(agent, state, settings.max_steps, region)


def outcome_text(result) -> str:
    """One line saying how an :class:`~mazepolicy.eval.evaluate.EpisodeResult` ended.

    Example:
        >>> from types import SimpleNamespace
        >>> outcome_text(SimpleNamespace(reached_cheese=True, timed_out=False, steps=12,
        ...     reached_top_right=True, top_right_first=True, eligible=True))
        'reached the cheese in 12 steps, after the top-right corner (an eligible maze)'
    """
    if result.reached_cheese:
        text = f"reached the cheese in {result.steps} steps"
        if result.top_right_first:
            text += ", after the top-right corner"
    else:
        text = f"timed out after {result.steps} steps without the cheese"
        text += (", having entered the top-right corner" if result.reached_top_right
                 else ", never entering the top-right corner")
    return text + (" (an eligible maze)" if result.eligible else
                   " (not an eligible maze: no misgeneralization to measure)")


def rollout_json(episode: Episode, settings: RolloutSettings) -> dict:
    """What the page plays of ``episode``: the T + 1 mouse ``cells`` [x, y], the T
    ``actions`` and their ``moves`` (right, up, left, down or stay: what the action
    asks, a wall may block it), the T + 1 ``frames`` (the agent's views as PNG data
    URLs), the evaluator's ``outcome`` keys and a line of ``outcome_text``.

    Example:
        >>> from mazepolicy.agents.scripted import make_scripted_agent
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> episode = play_state(make_scripted_agent("cheese-walker"), state)
        >>> out = rollout_json(episode, RolloutSettings())
        >>> out["steps"] == len(out["actions"]) == len(out["frames"]) - 1
        True
        >>> out["outcome"]["reached_cheese"], out["cells"][-1] == list(state.cheese_cell)
        (True, True)
    """
    return {"rollout_seed": settings.seed, "max_steps": settings.max_steps,
            "steps": len(episode.actions),
            "cells": [list(c) for c in episode.mouse],
            "actions": list(episode.actions),
            "moves": [MOVE_NAMES[ACTION_DELTAS[a]] for a in episode.actions],
            "frames": [png_data_url(f) for f in episode.frames],  # (T + 1) x (64, 64, 3)
            "outcome": asdict(episode.result), "outcome_text": outcome_text(episode.result)}


def view_key(view: View, settings: RolloutSettings) -> str:
    """A short hash of everything that decides a rollout (the view and the settings).

    Example:
        >>> view_key(View(seed=3), RolloutSettings(seed=1)) == view_key(View(seed=3),
        ...                                                               RolloutSettings())
        False
    """
    fields = vars(view) | {"edits": format_edits(view.edits)} | {
        "rollout_seed": settings.seed, "max_steps": settings.max_steps}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def gif_path(out: Path, view: View, settings: RolloutSettings) -> Path:
    """Where a rollout's GIF goes in ``out``: named by variant, level seed, rollout seed
    and :func:`view_key` (the same view gives the same file).

    Example:
        >>> gif_path(Path("saved"), View(variant="maze-anywhere", seed=3),
        ...          RolloutSettings(seed=2)).name  # doctest: +ELLIPSIS
        'rollout-maze-anywhere-seed3-r2-....gif'
    """
    return out / (f"rollout-{view.variant}-seed{view.seed}-r{settings.seed}-"
                  f"{view_key(view, settings)}.gif")


def write_gif(episode: Episode, path: Path) -> dict:
    """Write ``episode``'s frames, enlarged :data:`GIF_SCALE` times, as a looping GIF at
    :data:`GIF_FPS` frames a second with :func:`~mazepolicy.viz.render.save_gif`
    (atomically; Pillow merges repeated consecutive frames, e.g. a move into a wall,
    into one longer frame); returns what was written."""
    from mazepolicy.viz.render import save_gif, upscale_frame

    frames = upscale_frame(episode.frames, GIF_SCALE)  # (T + 1, 256, 256, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_gif(frames, path, fps=GIF_FPS)
    return {"saved": str(path), "frames": int(len(frames)), "steps": len(episode.actions),
            "fps": GIF_FPS, "size": list(np.shape(frames)[1:3])}
