"""TOML env variants: loading, validation, and the cheese distributions they produce.

Cheese cells are checked against the engine: each new maze's state is read back from
procgen and its grid must hold exactly one cheese cell, the one reported in ``info``.
Cells are (x, y) in inner-maze coordinates, (0, 0) the bottom-left start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mazepolicy.envs import Anywhere, FixedCell, TopRightRegion
from mazepolicy.envs.state import CHEESE
from mazepolicy.envs.variants import EnvVariant, list_variants, load_variant

REQUIRED = {
    "maze-topright-5": ("hard", TopRightRegion(5)),
    "maze-anywhere": ("hard", Anywhere()),
    "maze-topright-5-easy": ("easy", TopRightRegion(5)),
    "maze-anywhere-easy": ("easy", Anywhere()),
}


def new_maze_cheese(variant: str, num_envs: int, steps: int, seed: int = 0):
    """(maze_dim, cheese cell) of every maze started in ``steps`` random steps, with the
    episode cut to 4 steps so that mazes turn over quickly; each checked in the engine."""
    env = load_variant(variant).make_vec(num_envs, seed=seed, max_episode_steps=4,
                                         num_threads=1)
    _, info = env.reset()
    rng = np.random.default_rng(seed)
    mazes = []
    new = np.ones(num_envs, dtype=bool)
    for _ in range(steps):
        for i in np.flatnonzero(new):
            state = env.get_state(i)
            grid_cheese = np.argwhere(state.inner == CHEESE)
            reported = tuple(info["cheese_cell"][i])
            if reported == (-1, -1):
                assert len(grid_cheese) == 0
            else:
                assert [tuple(c[::-1]) for c in grid_cheese] == [reported]  # rows are y
            mazes.append((int(info["maze_dim"][i]), reported, int(info["level_seed"][i])))
        _, _, terminated, truncated, info = env.step(rng.integers(0, 15, num_envs))
        new = terminated | truncated
    env.close()
    return mazes


def test_shipped_variants_all_load():
    names = list_variants()
    assert set(REQUIRED) | {"maze-nocheese"} <= set(names)
    repo_envs = Path(__file__).resolve().parents[1] / "envs"  # what the wheel must ship
    assert sorted(p.stem for p in repo_envs.glob("*.toml")) == names
    for name in names:
        variant = load_variant(name)
        assert variant.name == name and variant.description
    for name, (mode, placement) in REQUIRED.items():
        variant = load_variant(name)
        assert (variant.distribution_mode, variant.placement()) == (mode, placement)


def test_topright_5_cheese_always_in_the_region():
    mazes = new_maze_cheese("maze-topright-5", num_envs=8, steps=60)
    assert len(mazes) > 100
    for n, (x, y), _ in mazes:
        assert n - 5 <= x < n and n - 5 <= y < n and (x, y) != (0, 0)
    assert len({cell for _, cell, _ in mazes}) > 10  # not one fixed cell


def test_anywhere_cheese_varies_over_the_whole_maze():
    mazes = new_maze_cheese("maze-anywhere", num_envs=8, steps=60)
    cells = [cell for _, cell, _ in mazes]
    outside = [n for n, (x, y), _ in mazes if x < n - 5 or y < n - 5]
    assert len(set(cells)) > 50 and len(outside) > len(mazes) // 2
    assert all(cell != (0, 0) for cell in cells)


def test_easy_and_nocheese_variants():
    easy = new_maze_cheese("maze-topright-5-easy", num_envs=4, steps=20)
    assert all(3 <= n <= 15 and x >= n - 5 and y >= n - 5 for n, (x, y), _ in easy)
    none = new_maze_cheese("maze-nocheese", num_envs=2, steps=10)
    assert all(cell == (-1, -1) for _, cell, _ in none)


def test_same_seed_same_mazes_and_cheese():
    a = new_maze_cheese("maze-anywhere", num_envs=4, steps=12, seed=7)
    b = new_maze_cheese("maze-anywhere", num_envs=4, steps=12, seed=7)
    c = new_maze_cheese("maze-anywhere", num_envs=4, steps=12, seed=8)
    assert a == b and a != c


def test_make_vec_overrides():
    variant = load_variant("maze-topright-5")
    env = variant.make_vec(2, seed=0, cheese={"fixed": [0, 2]}, distribution_mode="easy")
    _, info = env.reset()
    assert env.cheese == FixedCell(0, 2) and env.distribution_mode == "easy"
    assert info["cheese_cell"].tolist() == [[0, 2], [0, 2]]
    assert variant.env_kwargs(cheese="engine")["cheese"] is None


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="maze-topright-5") as err:
        load_variant("maze-nowhere")
    assert "unknown env variant 'maze-nowhere'" in str(err.value)


def test_explicit_paths_and_bad_files(tmp_path):
    good = tmp_path / "corner.toml"
    good.write_text('description = "x"\ndistribution_mode = "easy"\ncheese = {top_right = 0}\n')
    variant = load_variant(good)
    assert variant == EnvVariant("corner", "x", "easy", {"top_right": 0})
    assert load_variant("corner", directory=tmp_path) == variant
    assert list_variants(tmp_path) == ["corner"]
    cases = {
        'colour = "red"\nsize = 3\n': r"unknown keys \['colour', 'size'\]",
        'cheese = "top-left"\n': "unknown cheese spec",
        'cheese = {fixed = "ab"}\n': "variant 'bad'",
        'distribution_mode = "extreme"\n': "distribution_mode",
        "num_levels = -1\n": "num_levels",
        'start_level = "3"\n': "start_level",
        "region = true\n": "region",
        "description = 3\n": "description",
        "cheese = [1, 2\n": "not valid TOML",
    }
    bad = tmp_path / "bad.toml"
    for text, message in cases.items():
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_variant(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_variant(tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError):
        list_variants(tmp_path / "nowhere")
