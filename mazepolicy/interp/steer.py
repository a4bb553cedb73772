"""Steered rollouts and steering experiments: coefficients x layers, paired with the
unsteered policy on the same seeded mazes, written as a table.

A :class:`SteeredAgent` adds ``coeff * vector`` at a layer on every forward pass of a
rollout. The vector is either fixed (e.g. a cheese vector averaged over many mazes) or
computed per maze from the maze each env is playing (``per_maze=True``), as in the
research's per-maze cheese vectors.

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs import Anywhere
    >>> policy = ImpalaPolicy()
    >>> table = steering_experiment(policy, "cheese", ["embedder.block2.res1.resadd_out"],
    ...     [-1.0], Anywhere(), episodes=4, seed=0, distribution_mode="easy",
    ...     per_maze=True, progress=False)
    >>> [row["coeff"] for row in table["rows"]]
    [0.0, -1.0]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.steered import SteeredAgent, check_coeff
from mazepolicy.envs.cheese import CheesePlacement
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.variants import EnvVariant
from mazepolicy.eval.evaluate import Evaluation, evaluate, maze_settings
from mazepolicy.eval.stats import paired_comparison
from mazepolicy.interp.probes import decision_square_stats, median_probabilities
from mazepolicy.interp.vectors import (
    SteeringVector,
    cheese_vector,
    steering,
    top_right_vector,
)
from mazepolicy.io import atomic_write_text, json_dumps

VECTOR_KINDS = {"cheese": cheese_vector, "top-right": top_right_vector}


def steering_vector(policy, kind: str, states: Sequence[MazeState], layer: str) -> SteeringVector:
    """A ``kind`` ("cheese" or "top-right") vector at ``layer`` averaged over ``states``."""
    if kind not in VECTOR_KINDS:
        raise ValueError(f"unknown vector kind {kind!r}; choose from {sorted(VECTOR_KINDS)}")
    return VECTOR_KINDS[kind](policy, states, layer)


def per_maze_vectors(policy, kind: str, layer: str):
    """``state -> its kind vector at layer`` (or None), for :class:`SteeredAgent`."""
    if kind not in VECTOR_KINDS:
        raise ValueError(f"unknown vector kind {kind!r}; choose from {sorted(VECTOR_KINDS)}")
    return lambda state: maze_vector(policy, kind, state, layer)


def maze_vector(policy, kind: str, state: MazeState, layer: str) -> torch.Tensor | None:
    """The per-maze ``kind`` vector of ``state``, or None where the maze has none (a
    top-right vector for a maze that fills the world has no padding to open)."""
    try:
        return steering_vector(policy, kind, [state], layer).tensor
    except ValueError:
        return None


def composed_vectors(policy, terms: Sequence[tuple[str, float]], layer: str):
    """``state -> sum of coeff * its per-maze kind vector`` over ``terms`` (kind, coeff),
    or None where any term has no vector: a :class:`SteeredAgent` ``per_maze`` function
    (use it with coefficient 1) that composes, e.g., the cheese vector at -1 with the
    top-right vector at +1."""
    terms = [(kind, check_coeff(coeff)) for kind, coeff in terms]
    for kind, _ in terms:
        if kind not in VECTOR_KINDS:
            raise ValueError(f"unknown vector kind {kind!r}; choose from {sorted(VECTOR_KINDS)}")

    def vector_of(state: MazeState) -> torch.Tensor | None:
        parts = [maze_vector(policy, kind, state, layer) for kind, _ in terms]
        if any(part is None for part in parts):
            return None
        return sum(coeff * part for (_, coeff), part in zip(terms, parts, strict=True))

    return vector_of


def steered_decision_stats(policy, states, layer: str, coeff: float, vector_of) -> dict:
    """Median P(cheese), P(top-right) at decision squares with ``coeff * vector_of(state)``
    added at ``layer`` per maze (mazes whose vector is None are left out), as the
    rollouts of :class:`SteeredAgent` are steered."""
    if coeff == 0:
        return median_probabilities(decision_square_stats(policy, states))
    rows = []
    for state in states:
        tensor = vector_of(state)
        if tensor is None:
            continue  # no vector for this maze: left out of the steered medians
        with steering(policy, [(SteeringVector(layer, tensor), coeff)]):
            rows += decision_square_stats(policy, [state])
    return median_probabilities(rows)


def _decision_stats(policy, states, layer, coeff, kind, vector) -> dict:
    if vector is not None:
        return steered_decision_stats(policy, states, layer, coeff, lambda _: vector.tensor)
    return steered_decision_stats(policy, states, layer, coeff,
                                  lambda state: maze_vector(policy, kind, state, layer))


def _row(layer: str, coeff: float, result: Evaluation, base: Evaluation, decision: dict,
         unsteered_mazes: int = 0) -> dict:
    s = result.summary()
    eligible = [i for i, e in enumerate(base.episodes) if e.eligible]
    change = {"misgeneralization_change": float("nan"),
              "misgeneralization_change_ci": (float("nan"), float("nan")),
              "mcnemar_p": float("nan")}  # no eligible maze, nothing to compare
    if eligible:
        paired = paired_comparison([base.episodes[i].top_right_first for i in eligible],
                                   [result.episodes[i].top_right_first for i in eligible])
        change = {"misgeneralization_change": paired.difference,
                  "misgeneralization_change_ci": paired.difference_ci,
                  "mcnemar_p": paired.mcnemar_p}
    return {
        "layer": layer,
        "coeff": coeff,
        "episodes": s["episodes"],
        "eligible_episodes": s["eligible_episodes"],
        "cheese_rate": s["cheese_rate"],
        "cheese_ci": s["cheese_ci"],
        "top_right_rate": s["top_right_rate"],
        "misgeneralization_rate": s["misgeneralization_rate"],
        "misgeneralization_ci": s["misgeneralization_ci"],
        **change,
        "unsteered_mazes": unsteered_mazes,  # mazes the vector could not be built for
        **decision,
    }


def steering_experiment(
    policy,
    kind: str | None,
    layers: Sequence[str],
    coeffs: Sequence[float],
    env: str | EnvVariant | CheesePlacement | None,
    episodes: int,
    seed: int = 0,
    distribution_mode: str | None = None,
    per_maze: bool = True,
    vector: SteeringVector | None = None,
    vector_seeds: Sequence[int] = range(100),
    region: int | None = None,
    num_envs: int = 16,
    max_steps: int = 500,
    progress: bool = True,
) -> dict:
    """Evaluate the unsteered policy and each (layer, coeff) on the same seeded mazes
    of ``env`` (a variant or a placement, as in :func:`~mazepolicy.eval.evaluate.evaluate`).

    The vector is ``vector`` (one layer), or a ``kind`` vector computed per maze
    (``per_maze``) or averaged over the start states of ``vector_seeds``. Each row has
    rates with Wilson 95% intervals, the paired change in misgeneralization vs unsteered
    (McNemar exact p) and median decision-square probabilities over the same mazes.
    """
    if vector is not None:
        layers = [vector.layer]
    elif kind not in VECTOR_KINDS:
        raise ValueError(f"unknown vector kind {kind!r}; choose from {sorted(VECTOR_KINDS)}")
    coeffs = [check_coeff(c) for c in coeffs]  # all checked before any rollout
    policy.check_hook_names(layers)
    mazes = maze_settings(env, distribution_mode, region)
    cheese, distribution_mode = mazes["cheese"], mazes["distribution_mode"]
    states = level_states(range(seed, seed + episodes), cheese, distribution_mode)
    eval_kwargs = dict(env=cheese, episodes=episodes, seed=seed,
                       distribution_mode=distribution_mode, region=mazes["region"],
                       num_envs=num_envs, max_steps=max_steps, progress=progress)
    base = evaluate(PolicyAgent(policy, seed=seed, name="unsteered"), **eval_kwargs)
    rows = [_row("", 0.0, base, base, _decision_stats(policy, states, "", 0.0, kind, None))]
    averaged_states = None
    for layer in layers:
        fixed = vector
        if fixed is None and not per_maze:
            averaged_states = averaged_states or level_states(vector_seeds, cheese,
                                                              distribution_mode)
            fixed = steering_vector(policy, kind, averaged_states, layer)
        for coeff in coeffs:
            agent = SteeredAgent(
                policy, layer, coeff, vector=None if fixed is None else fixed.tensor,
                per_maze=None if fixed is not None else per_maze_vectors(policy, kind, layer),
                seed=seed)
            agent.name = f"{kind or 'vector'} {coeff:+g} at {layer}"  # the progress bar's
            result = evaluate(agent, **eval_kwargs)
            decision = _decision_stats(policy, states, layer, coeff, kind, fixed)
            rows.append(_row(layer, coeff, result, base, decision,
                             len(agent.unsteered_levels)))
    return {
        "vector": vector.metadata if vector is not None else {"kind": kind,
                                                                "per_maze": per_maze},
        "unsteered": base.summary(),
        "rows": rows,
    }


def composition_experiment(
    policy,
    terms: Sequence[tuple[str, float]],
    layer: str,
    env: str | EnvVariant | CheesePlacement | None,
    episodes: int,
    seed: int = 0,
    num_envs: int = 16,
    max_steps: int = 500,
    progress: bool = True,
) -> dict:
    """Like :func:`steering_experiment` for the sum of several per-maze vectors at one
    layer (``terms``: (kind, coeff) pairs, e.g. ``[("cheese", -1), ("top-right", 1)]``):
    the unsteered row and the composed row, paired on the same seeded mazes."""
    vector_of = composed_vectors(policy, terms, layer)
    policy.check_hook_names([layer])
    mazes = maze_settings(env)
    states = level_states(range(seed, seed + episodes), mazes["cheese"],
                          mazes["distribution_mode"])
    eval_kwargs = dict(env=env, episodes=episodes, seed=seed, num_envs=num_envs,
                       max_steps=max_steps, progress=progress)
    base = evaluate(PolicyAgent(policy, seed=seed, name="unsteered"), **eval_kwargs)
    agent = SteeredAgent(policy, layer, 1.0, per_maze=vector_of, seed=seed)
    agent.name = " ".join(f"{kind} {coeff:+g}" for kind, coeff in terms) + f" at {layer}"
    result = evaluate(agent, **eval_kwargs)
    rows = [_row("", 0.0, base, base, steered_decision_stats(policy, states, "", 0.0, None)),
            _row(layer, 1.0, result, base,
                 steered_decision_stats(policy, states, layer, 1.0, vector_of),
                 len(agent.unsteered_levels))]
    return {"vector": {"kind": "composed", "terms": [list(t) for t in terms],
                       "per_maze": True},
            "unsteered": base.summary(), "rows": rows}


def write_table(table: dict, json_path: str | Path, csv_path: str | Path | None = None):
    """Write the experiment as JSON (NaN as null) and its rows as CSV (:func:`table_csv`)."""
    atomic_write_text(json_path, json_dumps(table, indent=2))
    if csv_path is not None:
        atomic_write_text(csv_path, table_csv(table))


def table_csv(table: dict) -> str:
    """The experiment's rows as CSV text, intervals as ``_lo``/``_hi`` columns.

    Example:
        >>> print(table_csv({"rows": [{"coeff": -1.0, "cheese_ci": (0.1, 0.5)}]}), end="")
        coeff,cheese_ci_lo,cheese_ci_hi
        -1.0,0.1,0.5
    """
    flat = []
    for row in table["rows"]:
        out = {}
        for key, value in row.items():
            if isinstance(value, (list, tuple)):
                out[f"{key}_lo"], out[f"{key}_hi"] = value
            else:
                out[key] = value
        flat.append(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(flat[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()
