"""Count cells where two moves are equally short to the cheese (ties) in seeded mazes."""
import sys

from mazepolicy.envs import TopRightRegion
from mazepolicy.envs.geometry import bfs_distances, free_cells
from mazepolicy.envs.levels import level_states

first, count = int(sys.argv[1]), int(sys.argv[2])
cells = ties = cycles = 0
for state in level_states(range(first, first + count), TopRightRegion(5), "hard"):
    free = state.free
    d = bfs_distances(free, state.cheese_cell)
    n = free.shape[0]
    edges = int((free[:, 1:] & free[:, :-1]).sum() + (free[1:, :] & free[:-1, :]).sum())
    cycles += edges - (int(free.sum()) - 1)  # a tree on F free cells has F - 1 edges
    for x, y in free_cells(free):
        if d[y, x] <= 0:
            continue
        shorter = sum(1 for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
                      if 0 <= x + dx < n and 0 <= y + dy < n and free[y + dy, x + dx]
                      and d[y + dy, x + dx] == d[y, x] - 1)
        cells += 1
        ties += shorter > 1
print(f"mazes {count} (seeds {first}..): cells {cells}, cells with >1 shortest move "
      f"{ties}, edges beyond a tree (cycles) {cycles}")
