"""Interpretability: activations, steering vectors and experiments, channel
interventions, and probes of the policy's choices.

Cells are (x, y) in inner-maze coordinates: x right, y up, (0, 0) the start
(bottom-left).

Example:
    >>> import torch
    >>> from mazepolicy.models import ImpalaPolicy
    >>> from mazepolicy.envs import MazeVecEnv
    >>> from mazepolicy.interp import cheese_vector, steering
    >>> policy = ImpalaPolicy()
    >>> env = MazeVecEnv(num_envs=1, seed=0); obs, _ = env.reset()
    >>> vector = cheese_vector(policy, [env.get_state(0)], "embedder.block2.res1.resadd_out")
    >>> with steering(policy, [(vector, -1.0)]):  # subtract the cheese vector
    ...     steered_logits, _ = policy(torch.from_numpy(obs))
    >>> steered_logits.shape
    torch.Size([1, 15])

Evaluation lives in ``mazepolicy.eval``; figures in ``mazepolicy.viz.plots``.
"""

from mazepolicy.extras import require

require("torch", "mazepolicy.interp")

from mazepolicy.interp.channels import (
    cell_position,
    channel_hook,
    cheese_tracking_channels,
    map_correlation,
    retarget_hook,
)
from mazepolicy.interp.probes import (
    action_probabilities,
    decision_square_stats,
    vector_field,
)
from mazepolicy.interp.steer import steering_experiment, write_table
from mazepolicy.interp.vectors import (
    SteeringVector,
    activations,
    cheese_vector,
    contrast_vector,
    steering,
    top_right_vector,
)

__all__ = [
    "SteeringVector",
    "action_probabilities",
    "activations",
    "cell_position",
    "channel_hook",
    "cheese_tracking_channels",
    "cheese_vector",
    "contrast_vector",
    "decision_square_stats",
    "map_correlation",
    "retarget_hook",
    "steering",
    "steering_experiment",
    "top_right_vector",
    "vector_field",
    "write_table",
]
