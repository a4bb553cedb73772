"""The real Procgen maze, controllable: vectorized env, cheese placement, state editing.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner.

Example:
    >>> from mazepolicy.envs import MazeVecEnv, TopRightRegion
    >>> env = MazeVecEnv(num_envs=2, cheese=TopRightRegion(5), seed=0)
    >>> obs, info = env.reset()
    >>> info["cheese_cell"].shape
    (2, 2)
"""

from mazepolicy.envs.actions import ACTION_DELTAS, DOWN, LEFT, NOOP, NUM_ACTIONS, RIGHT, UP
from mazepolicy.envs.cheese import (
    Anywhere,
    CheesePlacement,
    FixedCell,
    NoCheese,
    TopRightRegion,
    placement_from_spec,
)
from mazepolicy.envs.geometry import (
    decision_square,
    distance,
    free_cells,
    next_step_action,
    paths_diverge,
    shortest_path,
    top_right_corner,
    top_right_region,
)
from mazepolicy.envs.registration import register_envs
from mazepolicy.envs.state import CHEESE, FREE, WALL, Cell, MazeState, MazeStateError
from mazepolicy.envs.variants import EnvVariant, list_variants, load_variant
from mazepolicy.envs.vec_env import MazeVecEnv

register_envs()

__all__ = [
    "ACTION_DELTAS",
    "CHEESE",
    "DOWN",
    "FREE",
    "LEFT",
    "NOOP",
    "NUM_ACTIONS",
    "RIGHT",
    "UP",
    "WALL",
    "Anywhere",
    "Cell",
    "EnvVariant",
    "CheesePlacement",
    "FixedCell",
    "MazeState",
    "MazeStateError",
    "MazeVecEnv",
    "NoCheese",
    "TopRightRegion",
    "list_variants",
    "load_variant",
    "placement_from_spec",
    "decision_square",
    "distance",
    "free_cells",
    "next_step_action",
    "paths_diverge",
    "shortest_path",
    "top_right_corner",
    "top_right_region",
]
