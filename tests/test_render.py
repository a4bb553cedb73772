"""Pictures: numpy images, matplotlib drawings, frame upscaling, engine pixel slices checked
against real frames, GIF/video writing. Cells are (x, y), (0, 0) bottom-left."""

from __future__ import annotations

import sys

import imageio.v3 as iio
import matplotlib
import numpy as np
import pytest

from mazepolicy.envs.geometry import shortest_path
from mazepolicy.envs.procgen_backend import make_engine
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.viz.render import (
    CHEESE_RGB,
    FREE_RGB,
    MOUSE_RGB,
    WALL_RGB,
    check_video_path,
    draw_maze,
    maze_image,
    pixel_cell,
    save_frames,
    save_gif,
    save_video,
    upscale_frame,
)
from tests.conftest import cell_pixels

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

# 3 wide, 2 high, drawn top-down: the top-left cell (0, 1) is a wall.
FREE = np.array([[0, 1, 1], [1, 1, 1]], dtype=bool)[::-1]


def colour(image: np.ndarray, row: int, col: int) -> tuple[int, ...]:
    return tuple(int(v) for v in image[row, col])


def test_maze_image_is_top_down_with_marker_colours():
    px = 16
    image = maze_image(FREE, mouse=(0, 0), cheese=(2, 1), cell_px=px)
    assert image.shape == (2 * px, 3 * px, 3) and image.dtype == np.uint8
    assert colour(image, 0, 0) == WALL_RGB  # the wall (0, 1) is top-left
    assert colour(image, 0, px) == FREE_RGB  # (1, 1)
    mouse_centre, cheese_centre = (px + px // 2, px // 2), (px // 2, 2 * px + px // 2)
    assert colour(image, *mouse_centre) == MOUSE_RGB  # (0, 0) is bottom-left
    assert colour(image, *cheese_centre) == CHEESE_RGB  # (2, 1) is top-right
    assert colour(image, px, 0) == FREE_RGB  # the mouse cell's corner stays free
    assert colour(image, 0, 2 * px) == FREE_RGB  # so does the cheese cell's
    assert colour(image, px // 8, 2 * px + px // 8) == CHEESE_RGB  # the inset square
    colours = {tuple(c) for c in image.reshape(-1, 3)}
    assert colours == {WALL_RGB, FREE_RGB, MOUSE_RGB, CHEESE_RGB}


@pytest.mark.parametrize("px", [1, 2, 3, 5])
def test_maze_image_small_cells_keep_the_markers(px):
    image = maze_image(FREE, mouse=(1, 0), cheese=(2, 0), cell_px=px)
    assert image.shape == (2 * px, 3 * px, 3)
    row = px + px // 2
    assert colour(image, row, px + px // 2) == MOUSE_RGB
    assert colour(image, row, 2 * px + px // 2) == CHEESE_RGB


def test_maze_image_mouse_over_cheese_and_errors():
    image = maze_image(FREE, mouse=(1, 1), cheese=(1, 1), cell_px=16)
    assert colour(image, 8, 24) == MOUSE_RGB and colour(image, 2, 18) == CHEESE_RGB
    with pytest.raises(ValueError, match=r"cheese \(3, 0\) is outside the 3x2 maze"):
        maze_image(FREE, cheese=(3, 0))
    with pytest.raises(ValueError, match="mouse"):
        maze_image(FREE, mouse=(0, -1))
    with pytest.raises(ValueError, match="cell_px"):
        maze_image(FREE, cell_px=0)
    with pytest.raises(ValueError, match="2-D"):
        maze_image(np.ones((2, 2, 2), dtype=bool))


def test_draw_maze_artists_and_orientation():
    path = shortest_path(FREE, (0, 0), (2, 1))
    fig, ax = plt.subplots()
    out = draw_maze(
        FREE,
        mouse=(0, 0),
        cheese=(2, 1),
        paths=[(path, "tab:green", "to cheese"), ([(1, 0)], "k", None)],
        ax=ax,
        title="tiny",
        decision_square=(1, 0),
        arrows={(1, 1): (1.0, 0.0), (2, 0): (0.0, 1.0)},
        cell_text={(1, 0): "0.5"},
    )
    assert out is ax and ax.get_title() == "tiny"
    assert ax.get_xlim() == (-0.5, 2.5) and ax.get_ylim() == (-0.5, 1.5)
    shown = np.asarray(ax.images[0].get_array())
    assert tuple(shown[0, 0]) == WALL_RGB and tuple(shown[1, 0]) == FREE_RGB  # top-down
    assert ax.images[0].get_extent() == [-0.5, 2.5, -0.5, 1.5]
    lines = [line for line in ax.lines if line.get_label() == "to cheese"]
    np.testing.assert_array_equal(lines[0].get_xydata(), np.array(path, dtype=float))
    assert len(ax.lines) == 2
    labels = {p.get_label() for p in ax.patches}
    assert {"mouse", "cheese", "top-right corner", "decision square"} <= labels
    mouse = next(p for p in ax.patches if p.get_label() == "mouse")
    assert tuple(mouse.center) == (0, 0)
    assert ax.get_legend() is not None
    quiver = ax.collections[0]
    np.testing.assert_array_equal(quiver.U, [1.0, 0.0])
    np.testing.assert_array_equal(quiver.V, [0.0, 1.0])
    assert [t.get_text() for t in ax.texts] == ["0.5"]
    fig.canvas.draw()
    plt.close(fig)


def test_draw_maze_minimal_and_errors():
    ax = draw_maze(FREE, mark_corner=False)
    assert not ax.patches and ax.get_legend() is None and not ax.lines
    plt.close(ax.figure)
    for kwargs, what in [
        ({"mouse": (5, 5)}, "mouse"),
        ({"cheese": (0, 2)}, "cheese"),
        ({"paths": [([(0, 0), (9, 0)], "r", "p")]}, r"paths\[0\] cell"),
        ({"arrows": {(-1, 0): (1, 0)}}, "arrows cell"),
        ({"cell_text": {(3, 1): "x"}}, "cell_text cell"),
        ({"decision_square": "here"}, "decision_square"),
    ]:
        fig, ax = plt.subplots()
        with pytest.raises(ValueError, match=what):
            draw_maze(FREE, ax=ax, **kwargs)
        plt.close(fig)


def test_upscale_frame():
    frame = np.arange(64 * 64 * 3, dtype=np.uint32).reshape(64, 64, 3).astype(np.uint8)
    big = upscale_frame(frame, 3)
    assert big.shape == (192, 192, 3) and big.dtype == np.uint8
    np.testing.assert_array_equal(big[::3, ::3], frame)
    np.testing.assert_array_equal(big[2::3, 1::3], frame)
    assert upscale_frame(np.stack([frame, frame]), 2).shape == (2, 128, 128, 3)
    np.testing.assert_array_equal(upscale_frame(frame, 1), frame)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="factor"):
            upscale_frame(frame, bad)
    with pytest.raises(ValueError, match="H, W, C"):
        upscale_frame(frame[0], 2)


@pytest.mark.parametrize("world_dim", [15, 25])
def test_pixel_cells_are_disjoint_and_inside_their_cells(world_dim):
    for frame_px in (64, 512):
        size = frame_px / world_dim
        for maze_dim in range(3, world_dim + 1, 2):
            margin = (world_dim - maze_dim) // 2
            owner = np.full((frame_px, frame_px), -1)
            for y in range(maze_dim):
                for x in range(maze_dim):
                    rows, cols = pixel_cell((x, y), maze_dim, world_dim, frame_px)
                    assert rows.stop - rows.start >= 1 and cols.stop - cols.start >= 1
                    assert (owner[rows, cols] == -1).all()
                    owner[rows, cols] = y * maze_dim + x
                    # whole pixels within the cell's real-valued extent
                    assert cols.start >= (x + margin) * size - 1e-9
                    assert cols.stop <= (x + margin + 1) * size + 1e-9
                    assert rows.start >= (world_dim - 1 - y - margin) * size - 1e-9
                    assert rows.stop <= (world_dim - y - margin) * size + 1e-9
                    # and all of them: one more pixel on any side would cross an edge
                    assert cols.start - 1 < (x + margin) * size
                    assert cols.stop + 1 > (x + margin + 1) * size
                    assert rows.start - 1 < (world_dim - 1 - y - margin) * size
                    assert rows.stop + 1 > (world_dim - y - margin) * size


def test_pixel_cell_errors():
    with pytest.raises(ValueError, match=r"cell \(25, 0\) is outside"):
        pixel_cell((25, 0), 25, 25)
    with pytest.raises(ValueError, match="maze_dim"):
        pixel_cell((0, 0), 27, 25)
    with pytest.raises(ValueError, match="2 px"):
        pixel_cell((0, 0), 15, 15, frame_px=16)
    with pytest.raises(ValueError, match="pair of ints"):
        pixel_cell(3, 15, 15)


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_pixel_cell_matches_real_engine_frames(mode):
    num = 8
    env = make_engine(num=num, distribution_mode=mode, rand_seed=11, render_mode="rgb_array")
    _, obs, _ = env.observe()
    big = env.render_frames()
    states = [MazeState.from_bytes(env.get_state_of(i)) for i in range(num)]
    env.close()
    for state, frame, frame_512 in zip(states, obs["rgb"], big, strict=True):
        n, world = state.maze_dim, state.world_dim
        for image, frame_px in [(frame, 64), (frame_512, 512)]:
            colours: dict[tuple[int, int], set] = {}
            for y in range(n):
                for x in range(n):
                    rows, cols = pixel_cell((x, y), n, world, frame_px)
                    colours[x, y] = {tuple(c) for c in image[rows, cols].reshape(-1, 3)}
            walls = set().union(*(c for (x, y), c in colours.items() if not state.free[y, x]))
            free = set().union(*(c for (x, y), c in colours.items() if state.free[y, x]))
            assert walls and not walls & free, (state.level_seed, frame_px)
            assert state.mouse_cell == (0, 0)
            assert not colours[0, 0] & walls
            assert not colours[state.cheese_cell] & walls


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_pixel_cell_sees_the_cheese_disappear(mode):
    """Removing the cheese changes pixels of the cheese cell only (and agrees with the
    tests' own ``cell_pixels``); the other cells' pixels stay the same."""
    env = MazeVecEnv(num_envs=4, distribution_mode=mode, seed=5, num_threads=1)
    before, _ = env.reset()
    for i in range(env.num_envs):
        state = env.get_state(i)
        n, world, cheese = state.maze_dim, state.world_dim, state.cheese_cell
        after = env.set_cheese(i, None)
        changed = np.zeros((64, 64), dtype=bool)
        for y in range(n):
            for x in range(n):
                rows, cols = pixel_cell((x, y), n, world)
                assert (rows, cols) == cell_pixels((x, y), n, world)
                changed[rows, cols] = (before[i][rows, cols] != after[rows, cols]).any(-1)
        rows, cols = pixel_cell(cheese, n, world)
        assert changed[rows, cols].any(), (mode, i, cheese)
        changed[rows, cols] = False
        assert not changed.any(), (mode, i, cheese)
    env.close()


def test_pixel_cell_would_catch_boundary_pixels():
    """Control: slices that keep the pixels shared with neighbours mix wall and free."""
    env = make_engine(num=2, distribution_mode="hard", rand_seed=11)
    _, obs, _ = env.observe()
    state = MazeState.from_bytes(env.get_state_of(0))
    env.close()
    n, world = state.maze_dim, state.world_dim
    margin, size = (world - n) // 2, 64 / world
    walls, free = set(), set()
    for y in range(n):
        for x in range(n):
            wx, wy = x + margin, y + margin
            rows = slice(int((world - 1 - wy) * size), int(np.ceil((world - wy) * size)))
            cols = slice(int(wx * size), int(np.ceil((wx + 1) * size)))
            pixels = {tuple(c) for c in obs["rgb"][0][rows, cols].reshape(-1, 3)}
            (free if state.free[y, x] else walls).update(pixels)
    assert walls & free


def walk_frames(count: int = 4) -> list[np.ndarray]:
    """The mouse walking up the diagonal of an open count x count grid."""
    free = np.ones((count, count), dtype=bool)
    return [maze_image(free, mouse=(i, i), cheese=(count - 1, 0), cell_px=8) for i in range(count)]


def test_gif_round_trip(tmp_path):
    frames = walk_frames()
    out = save_gif(frames, tmp_path / "sub" / "walk.gif", fps=5)
    assert out == tmp_path / "sub" / "walk.gif"
    back = iio.imread(out, index=None)
    assert back.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(back, np.stack(frames))  # few colours: no quantisation loss
    assert iio.immeta(out, index=0)["duration"] == 200
    assert sorted(p.name for p in out.parent.iterdir()) == ["walk.gif"]  # no temp files left
    save_gif(frames[:2], out)  # overwrites in place
    assert iio.imread(out, index=None).shape[0] == 2


def test_gif_rejects_bad_frames_and_leaves_nothing(tmp_path):
    frames = walk_frames()
    for bad, match in [
        ([], "no frames"),
        ([frames[0], frames[0][:8]], "one shape"),
        ([f.astype(np.float32) for f in frames], "uint8"),
        ([f[..., 0] for f in frames], "uint8"),
    ]:
        with pytest.raises(ValueError, match=match):
            save_gif(bad, tmp_path / "bad.gif")
    with pytest.raises(ValueError, match="fps"):
        save_gif(frames, tmp_path / "bad.gif", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_save_video_needs_no_imageio_ffmpeg(tmp_path, monkeypatch):
    """MP4s come from PyAV; imageio-ffmpeg (which needed pkg_resources) is not used."""
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # its import now fails
    out = save_video(walk_frames(), tmp_path / "walk.mp4")
    assert iio.imread(out, plugin="pyav").shape[0] == 4


def test_video_round_trip(tmp_path):
    """MP4 through PyAV: read back, the frame count, size and rate are the ones written
    and the pictures survive H.264 closely (it is lossy)."""
    frames = [upscale_frame(f, 2) for f in walk_frames(6)]  # 6 x (96, 96, 3)
    out = save_video(frames, tmp_path / "walk.mp4", fps=10)
    back = iio.imread(out, plugin="pyav")  # (6, 96, 96, 3)
    assert back.shape == (6, 96, 96, 3) and back.dtype == np.uint8
    assert iio.immeta(out, plugin="pyav")["fps"] == 10
    error = np.abs(back.astype(int) - np.asarray(frames, dtype=int)).mean(axis=(1, 2, 3))
    assert (error < 8).all(), error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]


def test_video_with_odd_sides_is_padded_to_even(tmp_path):
    frames = np.zeros((3, 51, 33, 3), dtype=np.uint8)
    back = iio.imread(save_video(frames, tmp_path / "odd.mp4"), plugin="pyav")
    assert back.shape == (3, 52, 34, 3)


def test_unknown_video_suffixes_are_refused_and_nothing_is_written(tmp_path):
    frames = walk_frames(3)
    for name in ("walk.avi", "walk", "walk.gif.tmp"):
        with pytest.raises(ValueError, match="unknown video suffix"):
            save_frames(frames, tmp_path / name)
        with pytest.raises(ValueError, match="unknown video suffix"):
            check_video_path(tmp_path / name)
    with pytest.raises(ValueError, match="save_gif writes .gif"):
        save_gif(frames, tmp_path / "walk.avi")
    with pytest.raises(ValueError, match="save_video writes .mp4"):
        save_video(frames, tmp_path / "walk.gif")
    assert list(tmp_path.iterdir()) == []
    assert save_frames(frames, tmp_path / "w.GIF").exists()
    assert iio.imread(save_frames(frames, tmp_path / "w.mp4"), plugin="pyav").shape[0] == 3


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_pictures_get_the_usual_file_mode(tmp_path, umask):
    """GIF and MP4 files are 0666 & ~umask, like any file the user's tools write (the
    atomic write's temporary file used to leave them 0600)."""
    import os
    import stat

    old = os.umask(umask)
    try:
        paths = [save_gif(walk_frames(3), tmp_path / "a.gif"),
                 save_video(walk_frames(3), tmp_path / "a.mp4")]
    finally:
        os.umask(old)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
