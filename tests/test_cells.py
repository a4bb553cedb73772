"""Cells are (x, y) pairs of ints everywhere: one parser, one bounds check, one world size."""

from __future__ import annotations

import numpy as np
import pytest

from mazepolicy.envs import cells, geometry
from mazepolicy.envs.cells import as_cell, check_in_maze, world_dim
from mazepolicy.envs.cheese import FixedCell, TopRightRegion, placement_from_spec
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.variants import EnvVariant
from mazepolicy.viz import render

NOT_CELLS = [(1.5, 0), (0, 2.0), (np.float64(1), 0), (True, 0), (0, False), (np.True_, 1),
             "12", b"12", (1,), (1, 2, 3), None, 5, ("1", 2), (None, 0)]


@pytest.mark.parametrize("cell", NOT_CELLS)
def test_non_int_pairs_are_refused(cell):
    with pytest.raises(ValueError, match="cheese cell must be an \\(x, y\\) pair of ints"):
        as_cell(cell, "cheese cell")


@pytest.mark.parametrize("cell", [(1, 2), [1, 2], np.array([1, 2]), (np.int8(1), np.uint64(2))])
def test_int_pairs_become_python_ints(cell):
    out = as_cell(cell)
    assert out == (1, 2) and all(type(v) is int for v in out)


def test_bounds_square_and_rectangular():
    assert check_in_maze((4, 4), 5) == (4, 4)
    with pytest.raises(ValueError, match=r"\(5, 0\) is outside the 5x5 maze"):
        check_in_maze((5, 0), 5)
    with pytest.raises(ValueError, match="outside"):
        check_in_maze((-1, 0), 5)
    assert check_in_maze((2, 0), (1, 3)) == (2, 0)  # 1 row, 3 columns
    with pytest.raises(ValueError, match=r"outside the 3x1 maze"):
        check_in_maze((0, 1), (1, 3))


def test_world_sizes():
    assert (world_dim("easy"), world_dim("hard")) == (15, 25) == tuple(cells.WORLD_DIMS.values())
    with pytest.raises(ValueError, match="distribution_mode"):
        world_dim("extreme")


@pytest.mark.parametrize("cell", [(1.5, 0), (True, 0)])
def test_every_taker_of_cells_refuses_floats_and_bools(cell, hard_state: MazeState):
    free = np.ones((5, 5), dtype=bool)
    takers = {
        "state.set_cheese": lambda: hard_state.set_cheese(cell),
        "state.set_mouse": lambda: hard_state.set_mouse(cell),
        "state.set_wall": lambda: hard_state.set_wall(cell),
        "state.check_cell": lambda: hard_state.check_cell(cell),
        "state.set_world_cell": lambda: hard_state.set_world_cell(cell, 51),
        "state.with_maze": lambda: hard_state.with_maze(free, mouse=cell),
        "geometry.check_cell": lambda: geometry.check_cell(free, cell),
        "geometry.shortest_path": lambda: geometry.shortest_path(free, cell, (0, 0)),
        "geometry.bfs_distances": lambda: geometry.bfs_distances(free, cell),
        "geometry.manhattan": lambda: geometry.manhattan(cell, (0, 0)),
        "geometry.path_length": lambda: geometry.path_length([(0, 0), cell]),
        "geometry.decision_square": lambda: geometry.decision_square(free, cell),
        "render.maze_image": lambda: render.maze_image(free, mouse=cell),
        "render.pixel_cell": lambda: render.pixel_cell(cell, 25, 25),
        "FixedCell": lambda: FixedCell(*cell),
        "placement_from_spec": lambda: placement_from_spec({"fixed": list(cell)}),
        "EnvVariant": lambda: EnvVariant("v", cheese={"fixed": list(cell)}),
    }
    before = hard_state.to_bytes()
    for name, take in takers.items():
        with pytest.raises(ValueError, match="pair of ints|FixedCell"):
            take()
        assert hard_state.to_bytes() == before, name  # nothing was written first


def test_placement_sizes_and_fixed_cells_are_ints():
    for bad in (True, 1.5, -1):
        with pytest.raises(ValueError, match="TopRightRegion"):
            TopRightRegion(bad)
    with pytest.raises(ValueError, match="negative"):
        FixedCell(-1, 0)
    assert FixedCell(np.int64(2), 4) == FixedCell(2, 4)
    assert type(FixedCell(np.int64(2), 4).x) is int


def test_a_variant_whose_fixed_cell_fits_no_maze_of_its_mode_is_refused():
    with pytest.raises(ValueError, match=r"variant 'v'.*never fits a 'easy'-mode maze"):
        EnvVariant("v", distribution_mode="easy", cheese={"fixed": [20, 0]})
    assert EnvVariant("v", distribution_mode="hard", cheese={"fixed": [20, 0]}).placement()


def test_one_definition_of_cell():
    from mazepolicy.envs import state

    channels = pytest.importorskip("mazepolicy.interp.channels", exc_type=ImportError)

    assert state.Cell is geometry.Cell is render.Cell is channels.Cell is cells.Cell
