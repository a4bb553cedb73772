"""mazepolicy: the Procgen maze made controllable and fast, for goal-misgeneralization research.

Subpackages:
    mazepolicy.envs    -- controllable vectorized maze environments, maze state codec, geometry
    mazepolicy.agents  -- IMPALA policy with named hook points, PPO trainer, checkpoints
    mazepolicy.interp  -- activation capture/patching, steering vectors, measurement, plots
"""

__version__ = "0.1.0"

# Register the gymnasium ids (mazepolicy/maze-topright-5-v0, ...) so that
# ``gymnasium.make`` works right after ``import mazepolicy``. This imports gymnasium's
# registry but not procgen: the envs themselves are imported when one is made.
from mazepolicy.envs.registration import register_envs as _register_envs  # noqa: E402

_register_envs()
