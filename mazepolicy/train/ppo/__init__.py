"""PPO (the research's recipe): config, loss, rollout storage and the trainer.

Example:
    >>> from mazepolicy.train.ppo import PPOConfig
    >>> PPOConfig().batch_size
    65536
"""

from mazepolicy.train.ppo.config import PPOConfig
from mazepolicy.train.ppo.trainer import Trainer

__all__ = ["PPOConfig", "Trainer"]
