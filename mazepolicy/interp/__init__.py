"""Interpretability: activations, steering vectors, channel interventions, and
goal-misgeneralization measurement with confidence intervals.

Cells are (x, y) in inner-maze coordinates: x right, y up, (0, 0) the start
(bottom-left).

Example:
    >>> import torch
    >>> from mazepolicy.agents import ImpalaPolicy
    >>> from mazepolicy.envs import MazeVecEnv
    >>> from mazepolicy.interp import cheese_vector, steering
    >>> policy = ImpalaPolicy()
    >>> env = MazeVecEnv(num_envs=1, seed=0); obs, _ = env.reset()
    >>> vector = cheese_vector(policy, [env.get_state(0)], "embedder.block2.res1.resadd_out")
    >>> with steering(policy, [(vector, -1.0)]):  # subtract the cheese vector
    ...     steered_logits, _ = policy(torch.from_numpy(obs))
    >>> steered_logits.shape
    torch.Size([1, 15])

Figures are in ``mazepolicy.interp.plots`` (imports matplotlib).
"""

from mazepolicy.interp.channels import (
    cell_position,
    channel_hook,
    cheese_tracking_channels,
    peak_match_rate,
    retarget_hook,
)
from mazepolicy.interp.evaluate import EpisodeResult, Evaluation, evaluate
from mazepolicy.interp.probes import (
    action_probabilities,
    decision_square_stats,
    vector_field,
)
from mazepolicy.interp.stats import PairedComparison, Rate, paired_comparison, wilson_interval
from mazepolicy.interp.steer import SteeredAgent, steering_experiment, write_table
from mazepolicy.interp.vectors import (
    SteeringVector,
    activations,
    cheese_vector,
    contrast_vector,
    steering,
    top_right_vector,
)

__all__ = [
    "EpisodeResult",
    "Evaluation",
    "PairedComparison",
    "Rate",
    "SteeredAgent",
    "SteeringVector",
    "action_probabilities",
    "activations",
    "cell_position",
    "channel_hook",
    "cheese_tracking_channels",
    "cheese_vector",
    "contrast_vector",
    "decision_square_stats",
    "evaluate",
    "paired_comparison",
    "peak_match_rate",
    "retarget_hook",
    "steering",
    "steering_experiment",
    "top_right_vector",
    "vector_field",
    "wilson_interval",
    "write_table",
]
