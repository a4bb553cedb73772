"""mazepolicy: the Procgen maze made controllable and fast, for goal-misgeneralization research.

Subpackages:
    mazepolicy.envs    -- controllable vectorized maze environments, maze state codec, geometry
    mazepolicy.agents  -- IMPALA policy with named hook points, PPO trainer, checkpoints
    mazepolicy.interp  -- activation capture/patching, steering vectors, measurement, plots
"""

__version__ = "0.1.0"
