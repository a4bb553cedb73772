"""Outcomes as a function of maze features: rates in bins with Wilson 95% intervals, and a
logistic regression with standard errors (the research's view of what predicts whether
the mouse goes to the cheese).

Features of an :class:`~mazepolicy.eval.evaluate.EpisodeResult` (cells are (x, y): x
right, y up, (0, 0) the start; distances in cells):

- ``cheese_corner_euclidean``: straight-line distance from the cheese to the top-right
  corner cell;
- ``cheese_path_distance``: steps on the shortest path from the mouse's start to the
  cheese;
- ``decision_cheese_euclidean``: straight-line distance from the decision square to the
  cheese.

Example:
    >>> import numpy as np
    >>> x = np.linspace(-3, 3, 400)
    >>> y = np.random.default_rng(0).random(400) < 1 / (1 + np.exp(-2 * x))
    >>> fit = logistic_regression(x[:, None], y, ["x"])
    >>> lo, hi = fit["ci"]["x"]  # per standard deviation of x: the planted 2 * sd inside
    >>> bool(lo < 2 * x.std() < hi)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from mazepolicy.eval.evaluate import EpisodeResult
from mazepolicy.eval.stats import Z95, Rate

FEATURES: dict[str, Callable[[EpisodeResult], float]] = {
    "cheese_corner_euclidean": lambda e: math.hypot(e.maze_dim - 1 - e.cheese_x,
                                                    e.maze_dim - 1 - e.cheese_y),
    "cheese_path_distance": lambda e: float(e.cheese_distance),
    "decision_cheese_euclidean": lambda e: math.hypot(e.cheese_x - e.decision_x,
                                                      e.cheese_y - e.decision_y),
}


def feature(name: str) -> Callable[[EpisodeResult], float]:
    """The feature function ``name`` of :data:`FEATURES`; ValueError for others."""
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r}; choose from {sorted(FEATURES)}")
    return FEATURES[name]


def binned_rates(episodes: Sequence[EpisodeResult], feature_name: str,
                 outcome: str = "reached_cheese", bins: int = 5) -> list[dict]:
    """:func:`rates_in_bins` of ``outcome`` over the :data:`FEATURES` ``feature_name``.

    Example:
        >>> from mazepolicy.agents.scripted import make_scripted_agent
        >>> from mazepolicy.eval.evaluate import evaluate
        >>> eps = evaluate(make_scripted_agent("cheese-walker"), "maze-anywhere-easy",
        ...                episodes=8, progress=False).episodes
        >>> [row["rate"] for row in binned_rates(eps, "cheese_path_distance", bins=2)]
        [1.0, 1.0]
    """
    fn = feature(feature_name)
    rows = rates_in_bins([fn(e) for e in episodes],
                         [bool(getattr(e, outcome)) for e in episodes], bins)
    return [{"feature": feature_name, **row} for row in rows]


def rates_in_bins(values: Sequence[float], hits: Sequence[bool], bins: int = 5) -> list[dict]:
    """Rate of ``hits`` in ``bins`` quantile bins of ``values`` (equal values stay in
    one bin, so there may be fewer), each with its range, count and Wilson interval.

    Example:
        >>> [(r["low"], r["high"], r["rate"]) for r in rates_in_bins([1, 2, 3, 4],
        ...                                                          [1, 1, 0, 0], bins=2)]
        [(1.0, 2.0, 1.0), (3.0, 4.0, 0.0)]
    """
    values = np.asarray(values, dtype=np.float64)
    hits = np.asarray(hits, dtype=bool)
    if values.shape != hits.shape:
        raise ValueError(f"values {values.shape} and hits {hits.shape} differ in shape")
    if not len(values):
        return []
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    if len(edges) > 1:
        index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    else:
        index = np.zeros(len(values), dtype=int)
    rows = []
    for b in range(max(len(edges) - 1, 1)):
        inside = index == b
        if not inside.any():
            continue
        rate = Rate.of(int(hits[inside].sum()), int(inside.sum()))
        rows.append({"low": float(values[inside].min()), "high": float(values[inside].max()),
                     "n": rate.trials, "successes": rate.successes, "rate": rate.rate,
                     "ci": rate.ci})
    return rows


def logistic_regression(x: np.ndarray, y: np.ndarray, names: Sequence[str],
                        iterations: int = 50) -> dict:
    """Fit P(y) = sigmoid(b0 + x @ b) by Newton's method on standardised columns of ``x``
    (N, K); returns the coefficients per standard deviation of each feature, their
    standard errors and 95% intervals, the intercept, N and the accuracy of the fit.

    Standardising makes coefficients comparable across features (the research compared
    them the same way). Raises ValueError when y has one class only or x has a constant
    column (nothing to fit).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[1] != len(names):
        raise ValueError(f"x must be (N, {len(names)}) with N = len(y); got {x.shape}, "
                         f"{y.shape}")
    if y.min() == y.max():
        raise ValueError("the outcome has one value only: no regression to fit")
    sd = x.std(axis=0)
    if (sd == 0).any():
        constant = [n for n, s in zip(names, sd, strict=True) if s == 0]
        raise ValueError(f"constant feature(s): {constant}")
    design = np.column_stack([np.ones(len(y)), (x - x.mean(axis=0)) / sd])  # (N, K+1)
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-design @ beta))
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), design.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1 / (1 + np.exp(-design @ beta))
    cov = np.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    se = np.sqrt(np.diag(cov))
    return {
        "n": int(len(y)),
        "intercept": float(beta[0]),
        "coefficients": {n: float(b) for n, b in zip(names, beta[1:], strict=True)},
        "standard_errors": {n: float(s) for n, s in zip(names, se[1:], strict=True)},
        "ci": {n: (float(b - Z95 * s), float(b + Z95 * s))
               for n, b, s in zip(names, beta[1:], se[1:], strict=True)},
        "accuracy": float(((p > 0.5) == (y > 0.5)).mean()),
        "base_rate": float(y.mean()),
    }


def outcome_regression(episodes: Sequence[EpisodeResult], features: Sequence[str],
                       outcome: str = "reached_cheese") -> dict:
    """:func:`logistic_regression` of ``outcome`` on the named :data:`FEATURES`."""
    fns = [feature(name) for name in features]
    x = np.array([[fn(e) for fn in fns] for e in episodes], dtype=np.float64)
    y = np.array([bool(getattr(e, outcome)) for e in episodes])
    return {"outcome": outcome, **logistic_regression(x.reshape(len(episodes), len(fns)), y,
                                                      list(features))}
