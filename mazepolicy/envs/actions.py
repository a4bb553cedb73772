"""The maze's 15 discrete actions and the moves they make.

Procgen keeps the 15-action keyboard set for every game. In the maze, actions
0-2 move left and 6-8 move right (horizontal wins over vertical), 3 moves down,
5 moves up, and 4 and 9-14 do nothing. A move into a wall leaves the mouse in place.

Example:
    >>> ACTION_DELTAS[RIGHT], ACTION_DELTAS[UP], ACTION_DELTAS[NOOP]
    ((1, 0), (0, 1), (0, 0))
    >>> MOVE_ACTIONS[(0, -1)] == DOWN
    True
"""

from __future__ import annotations

import numpy as np

NUM_ACTIONS = 15
LEFT, DOWN, NOOP, UP, RIGHT = 1, 3, 4, 5, 7

ACTION_DELTAS: tuple[tuple[int, int], ...] = tuple(
    (-1, 0) if a in (0, 1, 2)
    else (1, 0) if a in (6, 7, 8)
    else (0, -1) if a == 3
    else (0, 1) if a == 5
    else (0, 0)
    for a in range(NUM_ACTIONS)
)
"""(dx, dy) of each action in (x right, y up) coordinates."""

ACTION_DELTA_ARRAY = np.array(ACTION_DELTAS, dtype=np.int64)  # (15, 2) of (dx, dy)

FACING_AFTER = np.array(
    [0 if a in (0, 1, 2) else 1 if a in (6, 7, 8) else -1 for a in range(NUM_ACTIONS)],
    dtype=np.int32,
)
"""The mouse sprite's ``is_reflected`` flag after each action: 1 after a rightward action,
0 after a leftward one, -1 where the action leaves it as it was. The engine sets it from
the action alone, whether or not a wall blocks the move (measured over random play), and
it changes the drawn frame, so it is part of what renders an episode's final frame."""

MOVE_ACTIONS: dict[tuple[int, int], int] = {
    (-1, 0): LEFT,
    (1, 0): RIGHT,
    (0, -1): DOWN,
    (0, 1): UP,
    (0, 0): NOOP,
}
"""The canonical action for each (dx, dy) move."""

FIVE_ACTION_GROUPS: dict[str, tuple[int, ...]] = {
    "left": (0, 1, 2),
    "down": (3,),
    "up": (5,),
    "right": (6, 7, 8),
    "noop": (4, 9, 10, 11, 12, 13, 14),
}
"""The research code's folding of the 15 actions into 5 moves."""
