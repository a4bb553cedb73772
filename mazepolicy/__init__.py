"""mazepolicy: the Procgen maze made controllable and fast, for goal-misgeneralization research.

Subpackages (each imports only the ones above it):
    mazepolicy.envs      -- vectorized maze envs, state codec, placements, cells, geometry
    mazepolicy.models    -- the IMPALA network with named hook points, checkpoints
    mazepolicy.agents    -- the Agent protocol: scripted, network and steered agents
    mazepolicy.eval      -- the evaluator (outcomes on seeded mazes) and its statistics
    mazepolicy.train     -- PPO and DAgger trainers on one run-directory format
    mazepolicy.interp    -- activations, steering vectors and experiments, channels, probes
    mazepolicy.viz       -- maze drawing, GIF/MP4, figures
    mazepolicy.commands  -- the ``mazepolicy`` command line
"""

__version__ = "0.1.0"

# Register the gymnasium ids (mazepolicy/maze-topright-5-v0, ...) so that
# ``gymnasium.make`` works right after ``import mazepolicy``. This imports gymnasium's
# registry but not procgen: the envs themselves are imported when one is made.
from mazepolicy.envs.registration import register_envs as _register_envs  # noqa: E402

_register_envs()
