"""Evaluation: the one evaluator of outcomes on seeded mazes, and its statistics
(Wilson intervals, paired McNemar comparisons).

Example:
    >>> from mazepolicy.agents import make_agent
    >>> from mazepolicy.eval import evaluate
    >>> result = evaluate(make_agent("cheese-walker"), "maze-anywhere-easy", episodes=2,
    ...                   progress=False)
    >>> result.summary()["cheese_rate"]
    1.0
"""

from mazepolicy.eval.evaluate import EpisodeResult, Evaluation, evaluate, maze_settings
from mazepolicy.eval.stats import PairedComparison, Rate, paired_comparison, wilson_interval

__all__ = [
    "EpisodeResult",
    "Evaluation",
    "PairedComparison",
    "Rate",
    "evaluate",
    "maze_settings",
    "paired_comparison",
    "wilson_interval",
]
