"""What a policy does at chosen cells: action probabilities, decision-square statistics,
goal choices on the path between the cheese and the top-right corner, and vector
fields, all computed from frames rendered by the engine.

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import Anywhere
    >>> from mazepolicy.envs.levels import level_states
    >>> rows = decision_square_stats(ImpalaPolicy(), level_states(range(4), Anywhere()))
    >>> all(0 <= r["p_cheese"] <= 1 for r in rows)
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mazepolicy.agents.scripted import SCRIPTED_AGENTS
from mazepolicy.envs.actions import ACTION_DELTAS
from mazepolicy.envs.cells import Cell
from mazepolicy.envs.frames import render_states
from mazepolicy.envs.geometry import (
    decision_square,
    distance_field,
    free_cells,
    greedy_action,
    shortest_path,
    top_right_corner,
)
from mazepolicy.envs.state import MazeState
from mazepolicy.eval.stats import binned, mean_interval, wilson_interval

_DELTAS = np.array(ACTION_DELTAS, dtype=np.float64)  # (15, 2) of (dx, dy)


class ScriptedMoves:
    """A scripted agent as the probes see a policy, from each state's geometry: the
    walkers put probability 1 on their shortest-path move toward their goal (the cheese,
    or the top-right corner; NOOP on it), ``random`` 1/15 on each of the 15 actions.

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> rows = goal_choices(ScriptedMoves("cheese-walker"), level_states([0], Anywhere()))
        >>> {r["choice"] for r in rows}
        {'cheese'}
    """

    def __init__(self, name: str):
        if name not in SCRIPTED_AGENTS:
            raise ValueError(f"unknown scripted agent {name!r}; choose from "
                             f"{sorted(SCRIPTED_AGENTS)}")
        self.name = name

    def probabilities(self, states: Sequence[MazeState]) -> np.ndarray:
        """(len(states), 15) action probabilities with the mouse where each state has it."""
        if self.name == "random":
            return np.full((len(states), len(ACTION_DELTAS)), 1 / len(ACTION_DELTAS))
        out = np.zeros((len(states), len(ACTION_DELTAS)))
        for i, state in enumerate(states):
            goal = (state.cheese_cell if self.name == "cheese-walker"
                    else top_right_corner(state.free))
            if goal is None:
                raise ValueError(f"level {state.level_seed} has no cheese to walk to")
            out[i, greedy_action(distance_field(state.free, goal), state.mouse_cell)] = 1.0
        return out


def action_probabilities(policy, states: Sequence[MazeState], batch: int = 256) -> np.ndarray:
    """Action probabilities (len(states), 15) of ``policy`` on each state's frame, or of
    a :class:`ScriptedMoves` from each state's geometry.

    Hooks active on the policy (steering) apply.
    """
    if isinstance(policy, ScriptedMoves):
        return policy.probabilities(states)
    device = next(policy.parameters()).device
    out = []
    frames = render_states(states)
    with torch.no_grad():
        for start in range(0, len(frames), batch):
            logits, _ = policy(torch.as_tensor(frames[start : start + batch], device=device))
            out.append(torch.softmax(logits.float(), -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 15))


def move_probability(probs: np.ndarray, delta: tuple[int, int]) -> np.ndarray:
    """Total probability (N,) of the actions that move by ``delta`` = (dx, dy)."""
    mask = (_DELTAS == np.array(delta)).all(axis=1)
    return probs[:, mask].sum(axis=1)


def decision_probe(state: MazeState) -> tuple[MazeState, tuple[int, int]] | None:
    """``state`` with the mouse on its decision square, and the move (dx, dy) onto the
    next cell of the shortest path to the cheese; None without cheese or a decision
    square."""
    cheese = state.cheese_cell
    square = None if cheese is None else decision_square(state.free, cheese)
    if square is None:
        return None
    step = shortest_path(state.free, square, cheese)[1]
    return state.with_mouse(square), (step[0] - square[0], step[1] - square[1])


def nan_median(values) -> float:
    """The median of ``values``, NaN when there are none.

    Example:
        >>> nan_median([3, 1, 2]), nan_median([])
        (2.0, nan)
    """
    return float(np.median(values)) if len(values) else float("nan")


def decision_square_stats(policy, states: Sequence[MazeState]) -> list[dict]:
    """Per maze with a decision square: the mouse is put there and P(toward cheese),
    P(toward top-right) are the probabilities of the moves onto the next cell of the
    shortest path to the cheese and to the top-right corner.

    Mazes whose paths to the cheese and to the corner do not diverge are skipped.
    """
    probes, rows = [], []
    for state in states:
        free, cheese = state.free, state.cheese_cell
        if cheese is None:
            continue
        square = decision_square(free, cheese)
        if square is None:
            continue
        n = state.maze_dim
        to_cheese = shortest_path(free, square, cheese)[1]
        to_corner = shortest_path(free, square, (n - 1, n - 1))[1]
        probes.append(state.with_mouse(square))
        rows.append({"level_seed": state.level_seed, "decision_square": square,
                     "cheese_step": to_cheese, "top_right_step": to_corner})
    probs = action_probabilities(policy, probes)
    for row, p in zip(rows, probs, strict=True):
        sq = row["decision_square"]
        for key, target in (("p_cheese", row["cheese_step"]), ("p_top_right",
                                                                row["top_right_step"])):
            delta = (target[0] - sq[0], target[1] - sq[1])
            row[key] = float(move_probability(p[None], delta)[0])
    return rows


def median_probabilities(rows: list[dict]) -> dict:
    """Medians of P(cheese) and P(top-right) over :func:`decision_square_stats` rows."""
    if not rows:
        return {"mazes": 0, "median_p_cheese": float("nan"), "median_p_top_right": float("nan")}
    return {
        "mazes": len(rows),
        "median_p_cheese": float(np.median([r["p_cheese"] for r in rows])),
        "median_p_top_right": float(np.median([r["p_top_right"] for r in rows])),
    }


MOVES = ((1, 0), (0, 1), (-1, 0), (0, -1))  # right, up, left, down as (dx, dy)

GOAL_CHOICES = ("cheese", "corner", "other")
GOAL_DISTANCE_EDGES = (1, 2, 3, 5, 10, 20, 40, 1000)  # bins of steps to the cheese


def goal_choices(policy, states: Sequence[MazeState]) -> list[dict]:
    """Which way the policy heads with the mouse on each cell strictly between the
    cheese and the top-right corner on the path joining them: in these perfect mazes,
    exactly the cells where the first steps toward the two goals differ (elsewhere both
    paths leave by the same move). The decision square is the one of these cells the
    mouse's own path from the start crosses.

    One row per cell: ``level_seed``, ``cell`` (x, y; (0, 0) the bottom-left start
    cell, y up), ``d_cheese`` and ``d_corner`` (steps to each goal), ``p_cheese`` and
    ``p_corner`` (probabilities of the step toward each) and ``choice``: ``"cheese"``,
    ``"corner"`` or ``"other"`` for the most likely of the four moves. Mazes without
    cheese, or with the cheese in the corner or next to it, give no rows.

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> state = level_states([0], Anywhere(), "easy")[0]
        >>> rows = goal_choices(ImpalaPolicy(), [state])
        >>> all(r["d_cheese"] + r["d_corner"] == len(rows) + 1 for r in rows)
        True
    """
    probes, rows = [], []
    for state in states:
        cheese = state.cheese_cell
        if cheese is None:
            continue
        path = shortest_path(state.free, cheese, top_right_corner(state.free))
        for i in range(1, len(path) - 1):
            (x, y), back, ahead = path[i], path[i - 1], path[i + 1]
            probes.append(state.with_mouse((x, y)))
            rows.append({"level_seed": state.level_seed, "cell": (x, y), "d_cheese": i,
                         "d_corner": len(path) - 1 - i,
                         "cheese_step": (back[0] - x, back[1] - y),
                         "corner_step": (ahead[0] - x, ahead[1] - y)})
    if not rows:
        return []
    probs = action_probabilities(policy, probes)
    moves = np.stack([move_probability(probs, d) for d in MOVES], axis=1)  # (cells, 4)
    for row, p in zip(rows, moves, strict=True):
        cheese_step, corner_step = row.pop("cheese_step"), row.pop("corner_step")
        row["p_cheese"] = float(p[MOVES.index(cheese_step)])
        row["p_corner"] = float(p[MOVES.index(corner_step)])
        best = MOVES[int(p.argmax())]
        row["choice"] = ("cheese" if best == cheese_step else
                         "corner" if best == corner_step else "other")
    return rows


def goal_choice_rates(rows: list[dict]) -> dict:
    """:func:`goal_choices` rows summed up: ``cells``, ``mazes``, and for each choice its
    share of the cells with a Wilson 95% interval (``rate``, ``ci``; it treats the cells
    as independent, which those of one maze are not, so it is too narrow) and the mean
    over mazes of each maze's share with a 95% interval over mazes (``maze_mean``,
    ``maze_mean_ci``: every maze weighs the same, however long its path);
    ``mean_p_cheese`` and ``mean_p_corner``.

    Example:
        >>> rows = [{"level_seed": 0, "choice": "corner", "p_cheese": 0.1, "p_corner": 0.8},
        ...         {"level_seed": 0, "choice": "cheese", "p_cheese": 0.6, "p_corner": 0.3},
        ...         {"level_seed": 1, "choice": "corner", "p_cheese": 0.2, "p_corner": 0.7}]
        >>> rates = goal_choice_rates(rows)
        >>> rates["corner"]["rate"], rates["corner"]["maze_mean"], rates["mazes"]
        (0.6666666666666666, 0.75, 2)
    """
    out = {"cells": len(rows), "mazes": len({r["level_seed"] for r in rows})}
    for choice in GOAL_CHOICES:
        k = sum(r["choice"] == choice for r in rows)
        mean, low, high = mean_interval(list(_maze_shares(rows, choice).values()))
        out[choice] = {"rate": k / len(rows) if rows else float("nan"),
                       "ci": list(wilson_interval(k, len(rows))),
                       "maze_mean": mean, "maze_mean_ci": [low, high]}
    for key in ("p_cheese", "p_corner"):
        out[f"mean_{key}"] = float(np.mean([r[key] for r in rows])) if rows else float("nan")
    return out


def move_field(policy, state: MazeState) -> dict[Cell, tuple[float, float, float, float]]:
    """The policy's probability of moving right, up, left and down (:data:`MOVES`; the
    rest stays put) with the mouse at each free cell (x, y), the cheese cell excluded."""
    cells = [c for c in free_cells(state.free) if c != state.cheese_cell]
    probs = action_probabilities(policy, [state.with_mouse(c) for c in cells])
    moves = np.stack([move_probability(probs, d) for d in MOVES], axis=1)  # (cells, 4)
    return {c: tuple(float(p) for p in row) for c, row in zip(cells, moves, strict=True)}


def net_moves(field: dict[Cell, tuple[float, ...]]) -> dict[Cell, tuple[float, float]]:
    """A :func:`move_field`'s expected move (dx, dy) per cell.

    Example:
        >>> net_moves({(0, 0): (0.5, 0.25, 0.0, 0.25)})
        {(0, 0): (0.5, 0.0)}
    """
    directions = np.array(MOVES, dtype=np.float64)  # (4, 2)
    return {c: tuple(float(v) for v in np.asarray(p) @ directions) for c, p in field.items()}


def vector_field(policy, state: MazeState) -> dict[Cell, tuple[float, float]]:
    """The policy's expected move (dx, dy) with the mouse at each free cell (the cheese
    cell excluded): sum over actions of P(action) * displacement of the action."""
    return net_moves(move_field(policy, state))


def goal_choices_by_distance(rows: list[dict],
                             edges: Sequence[int] = GOAL_DISTANCE_EDGES) -> list[dict]:
    """:func:`goal_choice_rates` of the rows whose ``d_cheese`` lies in each ``[low,
    high)`` bin of ``edges``, with ``low`` and ``high``; empty bins are left out.

    Example:
        >>> rows = [{"level_seed": 0, "d_cheese": 1, "choice": "cheese", "p_cheese": 0.9,
        ...          "p_corner": 0.1},
        ...         {"level_seed": 0, "d_cheese": 7, "choice": "corner", "p_cheese": 0.2,
        ...          "p_corner": 0.7}]
        >>> [(b["low"], b["cells"], b["corner"]["rate"]) for b in goal_choices_by_distance(rows)]
        [(1, 1, 0.0), (5, 1, 1.0)]
    """
    return [{"low": low, "high": high, **goal_choice_rates(inside)}
            for low, high, inside in binned(rows, "d_cheese", edges)]


def paired_goal_difference(rows_a: list[dict], rows_b: list[dict],
                           choice: str = "corner") -> dict:
    """Per maze that both :func:`goal_choices` row sets cover (the same mazes give the
    same cells), the share of cells where ``a`` makes ``choice`` minus that of ``b``:
    ``mazes``, their ``mean`` and its 95% interval over mazes (``ci``).

    Example:
        >>> a = [{"level_seed": 0, "choice": "corner"}, {"level_seed": 1, "choice": "corner"}]
        >>> b = [{"level_seed": 0, "choice": "cheese"}, {"level_seed": 1, "choice": "corner"}]
        >>> paired_goal_difference(a, b)["mean"]
        0.5
    """
    sa, sb = _maze_shares(rows_a, choice), _maze_shares(rows_b, choice)
    common = sorted(set(sa) & set(sb))
    mean, low, high = mean_interval([sa[m] - sb[m] for m in common], bounds=(-1.0, 1.0))
    return {"choice": choice, "mazes": len(common), "mean": mean, "ci": [low, high]}


def _maze_shares(rows: list[dict], choice: str) -> dict[int, float]:
    """Per level seed of :func:`goal_choices` rows, the share of its cells making
    ``choice``."""
    by_maze: dict[int, list[bool]] = {}
    for r in rows:
        by_maze.setdefault(r["level_seed"], []).append(r["choice"] == choice)
    return {seed: sum(v) / len(v) for seed, v in by_maze.items()}
