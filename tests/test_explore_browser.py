"""``mazepolicy explore`` in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright for Python loads the page from a server on a free port, a click on
a free cell moves the cheese, the coefficient box steers, and the canvas's pixels and the
probability table are checked against the JSON API for the view in the page's URL.

Where Chromium or Playwright is missing the test is skipped, except under CI (``CI`` set),
where it fails: ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytest.importorskip("torch")

from mazepolicy.envs.geometry import free_cells  # noqa: E402
from mazepolicy.explore.lab import Lab  # noqa: E402
from mazepolicy.explore.server import server_url  # noqa: E402
from tests.explore_support import seed_state, serving  # noqa: E402

POLICY = "maze-topright-5_impala-s1"  # the default; its arrows are long (the easy one's are not)
VARIANT = "maze-topright-5-easy"
SEED = 3
CANVAS = 560  # the maze canvas's size in pixels (index.html)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
SCREENSHOTS = os.environ.get("MAZEPOLICY_SCREENSHOTS")  # a directory to keep them in


def chromium_or_skip() -> str:
    """Chromium's path and Playwright importable, else skip (fail under CI)."""
    missing = []
    path = os.environ.get("MAZEPOLICY_CHROMIUM") or shutil.which("chromium")
    if path is None:
        missing.append("chromium (Debian package chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def server():
    with serving(Lab({"policy": POLICY})) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 1000})
        try:
            yield browser.new_page()
        finally:
            browser.close()


def api_field(server, page_url: str) -> dict:
    """The API's field for the view in the page's URL (its ``show`` is the page's own)."""
    view = {k: v[0] for k, v in parse_qs(urlsplit(page_url).query,
                                           keep_blank_values=True).items() if k != "show"}
    url = server_url(server) + "api/field?" + urlencode(view)
    with urllib.request.urlopen(url, timeout=120) as reply:
        return json.load(reply)


def settle(page, condition: str = "true") -> None:
    """Wait until the page has answered (no request in flight, the table drawn) and the
    JavaScript ``condition`` holds."""
    page.wait_for_function(
        "(cond) => document.getElementById('message').className !== 'busy' && "
        "document.querySelectorAll('#probs tbody tr').length === 5 && "
        "document.getElementById('python-code').textContent !== '' && eval(cond)",
        arg=condition, timeout=120_000)


def canvas_pixels(page, points: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    """The maze canvas's RGB at each (px, py) point (rounded down to a pixel)."""
    return [tuple(p) for p in page.evaluate(
        """(points) => {
          const ctx = document.getElementById('maze').getContext('2d');
          return points.map(([x, y]) => Array.from(
            ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data.slice(0, 3)));
        }""", [list(p) for p in points])]


def arrow_points(field: dict, maze_dim: int, skip: set, key: str = "steered_net",
                 along: float = 0.7, shortest: float = 0.5) -> dict:
    """cell -> the canvas point ``along`` the way down its drawn arrow's shaft (the
    page draws a shaft from the cell's centre to centre + 0.45 x cell x (dx, -dy)), for
    cells whose expected move is at least ``shortest`` long and not in ``skip``."""
    size = CANVAS // maze_dim
    points = {}
    for (x, y), (dx, dy) in zip(field["cells"], field[key], strict=True):
        if (x, y) in skip or math.hypot(dx, dy) < shortest:
            continue
        cx, cy = (x + 0.5) * size, (maze_dim - 1 - y + 0.5) * size
        points[(x, y)] = (cx + dx * size * 0.45 * along, cy - dy * size * 0.45 * along)
    return points


def dark(rgb) -> bool:  # the arrows are #111 on free cells (#f2efe6)
    return sum(rgb) / 3 < 110


def assert_table_shows(page, field: dict) -> None:
    rows = page.eval_on_selector_all(
        "#probs tbody tr", "rows => rows.map(r => [r.dataset.move, "
        "...Array.from(r.cells).slice(1).map(c => c.firstChild.textContent)])")
    names = [*field["moves"], "stay"]
    assert [r[0] for r in rows] == names
    for i, row in enumerate(rows):
        for column, text in zip(("mouse_unsteered", "mouse_steered"), row[1:], strict=True):
            probs = field[column]
            expected = probs["moves"][i] if i < 4 else probs["stay"]
            assert text == f"{expected:.3f}", (names[i], column, text, expected)


def test_a_click_moves_the_cheese_and_the_coefficient_steers_the_arrows(server, page,
                                                                         tmp_path):
    state = seed_state(SEED)
    n = state.maze_dim
    size = CANVAS // n
    page.goto(server_url(server) + "?" + urlencode({"variant": VARIANT, "seed": SEED}))
    settle(page)

    # Loaded: the table and the arrows are the API's unsteered field.
    loaded = api_field(server, page.url)
    assert_table_shows(page, loaded)
    skip = {state.mouse_cell, state.cheese_cell}
    points = arrow_points(loaded, n, skip)
    assert len(points) >= 5
    assert all(map(dark, canvas_pixels(page, list(points.values())))), "arrows not drawn"

    # A click on a free cell moves the cheese there: the URL, the API's maze and the
    # canvas (the cheese's yellow square) follow.
    target = next(c for c in free_cells(state.free) if c not in skip and c[0] > 1)
    box = page.locator("#maze").bounding_box()
    scale = box["width"] / CANVAS
    page.locator("input[name=mode][value=cheese]").check()
    page.mouse.click(box["x"] + (target[0] + 0.5) * size * scale,
                     box["y"] + (n - 1 - target[1] + 0.5) * size * scale)
    settle(page, f"location.search.includes('edits=cheese%3A{target[0]}%2C{target[1]}')")
    corners = [((target[0] + 0.5 + fx) * size, (n - 1 - target[1] + 0.5 + fy) * size)
               for fx in (-0.25, 0.25) for fy in (-0.25, 0.25)]
    yellow = [p for p in canvas_pixels(page, corners) if p[0] > 200 and p[1] > 150 and p[2] < 80]
    assert len(yellow) >= 3, "no cheese drawn at the clicked cell"
    moved = api_field(server, page.url)
    assert moved["view"]["edits"] == [["cheese", list(target)]]
    assert_table_shows(page, moved)
    assert "state.set_cheese(" in page.locator("#python-code").text_content()

    # The coefficient box steers: the table shows the API's steered numbers, the arrows
    # drawn are the steered ones, and where steering turned an arrow around, the
    # unsteered arrow is no longer drawn.
    page.fill("#coeff", "-3")
    page.locator("#coeff").dispatch_event("change")
    settle(page, "location.search.includes('coeff=-3')")
    steered = api_field(server, page.url)
    assert steered["view"]["coeff"] == -3.0
    assert steered["mouse_steered"] != moved["mouse_steered"]
    assert_table_shows(page, steered)
    skip = {state.mouse_cell, target}
    now = arrow_points(steered, n, skip)
    assert all(map(dark, canvas_pixels(page, list(now.values())))), "steered arrows not drawn"
    before = arrow_points(steered, n, skip, key="unsteered_net")
    turned = [c for c in now.keys() & before.keys()
              if sum(a * b for a, b in zip(steered["steered_net"][steered["cells"].index(list(c))],
                                            steered["unsteered_net"][steered["cells"].index(list(c))],
                                            strict=True)) < 0]
    assert turned, "coefficient -3 turned no arrow around in this maze"
    assert not any(map(dark, canvas_pixels(page, [before[c] for c in turned])))

    shot = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shot.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot / "explore.png"), full_page=True)
    assert (shot / "explore.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
