"""Imitation of the exact shortest-path expert by DAgger (Ross, Gordon and Bagnell 2011).

Example:
    >>> from mazepolicy.train.dagger import DaggerConfig
    >>> DaggerConfig().expert
    'cheese-walker'
"""

from mazepolicy.train.dagger.config import DaggerConfig
from mazepolicy.train.dagger.trainer import DaggerTrainer

__all__ = ["DaggerConfig", "DaggerTrainer"]
