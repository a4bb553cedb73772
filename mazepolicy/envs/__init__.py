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

from mazepolicy.lazy import lazy_exports

# Names exported here, by the submodule that defines them. They are imported on first
# use (PEP 562), so importing a light submodule (cells, registration) does not start
# procgen; ``from mazepolicy.envs import MazeVecEnv`` works as usual.
_EXPORTS = {
    "actions": ("ACTION_DELTAS", "DOWN", "LEFT", "NOOP", "NUM_ACTIONS", "RIGHT", "UP"),
    "cells": ("Cell",),
    "cheese": ("Anywhere", "CheesePlacement", "FixedCell", "NoCheese", "PlacementSkipped",
               "TopRightRegion", "placement_from_spec"),
    "geometry": ("decision_square", "distance", "free_cells", "next_step_action",
                 "paths_diverge", "shortest_path", "top_right_corner", "top_right_region"),
    "registration": ("register_envs",),
    "state": ("CHEESE", "FREE", "WALL", "MazeState", "MazeStateError"),
    "variants": ("EnvVariant", "list_variants", "load_variant"),
    "vec_env": ("MazeVecEnv",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

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
    "PlacementSkipped",
    "register_envs",
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
