"""``mazepolicy explore``: the JSON API through a real server on a free port, checked
against the library (the field equals ``vfield``'s, edits equal the codec's), bad
requests, concurrency, the command's start and Ctrl-C, and the page's files from a wheel.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

pytest.importorskip("torch")

from mazepolicy.envs.frames import render_states  # noqa: E402
from mazepolicy.envs.geometry import decision_square, free_cells  # noqa: E402
from mazepolicy.envs.state import MazeState  # noqa: E402
from mazepolicy.envs.variants import load_variant  # noqa: E402
from mazepolicy.explore.lab import Lab  # noqa: E402
from mazepolicy.explore.server import STATIC_TYPES, server_url  # noqa: E402
from tests.explore_support import LAYER, POLICY, ROOT, VARIANT, field_of, get, seed_state, serving  # noqa: E402,E501


@pytest.fixture(scope="module")
def server():
    with serving(Lab({"policy": POLICY})) as srv:
        yield srv


def test_info_lists_the_policys_hook_points_and_the_shipped_variants(server):
    status, info = get(server, "/api/info")
    assert status == 200
    assert LAYER in info["layers"]["policy"] and "control" not in info["layers"]
    assert {"maze-topright-5", VARIANT} <= set(info["variants"])
    assert info["vectors"] == ["cheese", "top-right", "composed"]
    assert info["coeff_range"] == [-5.0, 5.0] and info["can_save"] is False


def test_maze_matches_the_seeds_state_and_its_rendered_view(server):
    from PIL import Image

    state = seed_state(2)
    status, maze = get(server, "/api/maze", variant=VARIANT, seed=2)
    assert status == 200
    assert np.array_equal(np.array(maze["free"], dtype=bool), state.free)
    assert tuple(maze["cheese"]) == state.cheese_cell and tuple(maze["mouse"]) == (0, 0)
    square = decision_square(state.free, state.cheese_cell)
    assert maze["decision_square"] == (None if square is None else list(square))
    png = base64.b64decode(maze["view_png"].split(",", 1)[1])
    assert np.array_equal(np.array(Image.open(io.BytesIO(png))), render_states([state])[0])


def test_field_equals_vfields_for_the_same_maze_and_vector(server):
    from mazepolicy.commands.vfield import steered_fields

    seed, coeff = 3, -1.5
    args = argparse.Namespace(policy=POLICY, device="cpu", coeff=coeff, vector="cheese",
                              layer=LAYER, averaged=False, vector_seeds=None)
    expected = steered_fields(args, seed_state(seed), load_variant(VARIANT))
    status, field = get(server, "/api/field", variant=VARIANT, seed=seed, vector="cheese",
                        layer=LAYER, coeff=coeff)
    assert status == 200
    assert field_of(field, "unsteered") == expected["unsteered"]
    assert field_of(field, "steered") == expected["steered"]
    assert field_of(field, "unsteered") != field_of(field, "steered")
    diff = np.array(field["steered_net"]) - np.array(field["unsteered_net"])
    assert np.array_equal(np.array(field["difference"]), diff)


def test_edits_go_through_the_codec_and_the_snippet_computes_the_same_numbers(server):
    from mazepolicy.agents.policy import load_network
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering

    state = seed_state(5)
    free = [c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell)]
    cheese, mouse = free[-1], free[0]
    wall = next((x, y) for x in range(state.maze_dim) for y in range(state.maze_dim)
                if not state.free[y, x])
    edits = f"cheese:{cheese[0]},{cheese[1]};mouse:{mouse[0]},{mouse[1]};wall:{wall[0]},{wall[1]}"
    status, field = get(server, "/api/field", variant=VARIANT, seed=5, edits=edits,
                        vector="top-right", layer=LAYER, coeff=2.0)
    assert status == 200
    edited = state.copy()
    edited.set_cheese(cheese)
    edited.set_mouse(mouse)
    edited.set_wall(wall, False)  # toggled: it was a wall
    policy = load_network(POLICY)
    vector = steering_vector(policy, "top-right", [edited], LAYER)
    assert field_of(field, "unsteered") == move_field(policy, edited)
    with steering(policy, [(vector, 2.0)]):
        assert field_of(field, "steered") == move_field(policy, edited)
    scope: dict = {}
    exec(field["python"], scope)  # the "copy as Python" box
    assert scope["steered"] == field_of(field, "steered")
    assert list(scope["probs_steered"]) == field["mouse_steered"]["actions"]
    status, maze = get(server, "/api/maze", variant=VARIANT, seed=5, edits=edits)
    assert tuple(maze["cheese"]) == cheese and tuple(maze["mouse"]) == mouse
    assert maze["free"][wall[1]][wall[0]] == 1


def test_goal_choices_equal_the_librarys_unsteered_and_steered(server):
    from mazepolicy.agents.policy import load_network
    from mazepolicy.interp.probes import goal_choices
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering

    seed = next(s for s in range(20) if goal_choices(load_network(POLICY), [seed_state(s)]))
    state, policy = seed_state(seed), load_network(POLICY)
    status, goals = get(server, "/api/goals", variant=VARIANT, seed=seed, coeff=-3)
    assert status == 200
    vector = steering_vector(policy, "cheese", [state], LAYER)
    with steering(policy, [(vector, -3.0)]):
        steered = goal_choices(policy, [state])
    for key, rows in (("unsteered", goal_choices(policy, [state])), ("steered", steered)):
        assert goals[key] == [{"cell": list(r["cell"]), **{k: r[k] for k in (
            "choice", "p_cheese", "p_corner", "d_cheese", "d_corner")}} for r in rows]
    corner = (state.maze_dim - 1, state.maze_dim - 1)
    status, answer = get(server, "/api/goals", variant=VARIANT, seed=seed,
                         edits=f"wall:{corner[0]},{corner[1]}")
    assert status == 400 and "no goal choices for this maze" in answer["error"]


def test_an_edit_that_cannot_apply_is_refused_with_its_reason_and_the_server_goes_on(server):
    state = seed_state(4)
    wall = next((x, y) for x in range(state.maze_dim) for y in range(state.maze_dim)
                if not state.free[y, x])
    status, answer = get(server, "/api/maze", variant=VARIANT, seed=4,
                         edits=f"cheese:{wall[0]},{wall[1]}")
    assert status == 400
    assert answer["error"] == (f"edit 1 (cheese at {wall}) cannot apply: cheese cell "
                               f"{wall} is on a wall")
    status, answer = get(server, "/api/field", variant=VARIANT, seed=4, edits="mouse:0,0;"
                         f"wall:{state.cheese_cell[0]},{state.cheese_cell[1]}")
    assert status == 400 and "edit 2" in answer["error"] and "holds the cheese" in answer["error"]
    status, maze = get(server, "/api/maze", variant=VARIANT, seed=4)
    assert status == 200 and tuple(maze["cheese"]) == state.cheese_cell


@pytest.mark.parametrize(("params", "message"), [
    ({"layer": "embedder.nope"}, "unknown layer 'embedder.nope'"),
    ({"vector": "saved.safetensors"}, "unknown vector 'saved.safetensors'"),
    ({"coeff": "5.5"}, "coeff must be a number in -5..5"),
    ({"coeff": "nan"}, "coeff must be a number in -5..5"),
    ({"coeff": "abc"}, "coeff must be a number in -5..5"),
    ({"seed": "-1"}, "seed must be an integer"),
    ({"seed": str(2**31)}, "seed must be an integer"),
    ({"seed": "1.5"}, "seed must be an integer"),
    ({"edits": "cheese:99,99"}, "cheese cell (99, 99) is outside"),
    ({"edits": "wall:1,2,3"}, "is not kind:x,y"),
    ({"edits": "teleport:1,1"}, "is not kind:x,y"),
    ({"variant": "../../etc/passwd"}, "unknown variant"),
    ({"policy": "/tmp/evil.safetensors"}, "the policies are the ones given on the command"),
    ({"role": "control"}, "started without --control"),
    ({"colour": "red"}, "unknown parameter 'colour'"),
])
def test_bad_requests_get_400_with_a_message(server, params, message):
    status, answer = get(server, "/api/field", **({"variant": VARIANT} | params))
    assert status == 400 and message in answer["error"]


def test_unknown_paths_and_methods(server):
    assert get(server, "/api/nothing")[0] == 404
    assert get(server, "/api/field", method="POST")[0] == 405
    assert get(server, "/../pyproject.toml")[0] == 404
    status, answer = get(server, "/api/save-state", method="POST", variant=VARIANT)
    assert status == 400 and "--out DIR" in answer["error"]


def test_a_maze_without_the_vector_is_refused_with_the_reason(server):
    state = seed_state(6)
    edits = f"cheese:{state.cheese_cell[0]},{state.cheese_cell[1]}"  # a no-op edit
    status, answer = get(server, "/api/field", variant="maze-nocheese", seed=6, coeff=1)
    assert status == 400 and "no cheese vector for this maze" in answer["error"]
    assert get(server, "/api/field", variant=VARIANT, seed=6, edits=edits, coeff=1)[0] == 200


def test_coefficient_zero_gives_exactly_the_unsteered_field(server):
    status, field = get(server, "/api/field", variant=VARIANT, seed=7, coeff=0)
    assert status == 200
    assert field["steered"] == field["unsteered"] and not np.any(field["difference"])
    assert field["mouse_steered"] == field["mouse_unsteered"]
    status, steered = get(server, "/api/field", variant=VARIANT, seed=7, coeff=-3)
    assert steered["unsteered"] == field["unsteered"] != steered["steered"]


def test_concurrent_requests_give_the_serial_answers(server):
    views = [dict(variant=VARIANT, seed=seed, vector=vector, layer=LAYER, coeff=coeff)
             for seed, vector, coeff in [(8, "cheese", -2.0), (9, "top-right", 1.0),
                                         (8, "composed", 1.5), (9, "cheese", 0.5)]]
    serial = [get(server, "/api/field", **v) for v in views]
    results: dict = {}

    def worker(i: int) -> None:
        for j in range(i, len(views) * 2, 2):  # two threads, interleaved views
            results[j] = get(server, "/api/field", **views[j % len(views)])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[j] == serial[j % len(views)] for j in range(len(views) * 2))
    assert all(status == 200 for status, _ in serial)


def test_saved_state_is_the_edited_maze(server, tmp_path):
    server.lab.out = tmp_path / "saved"
    try:
        status, answer = get(server, "/api/save-state", method="POST", variant=VARIANT,
                             seed=1, edits="mouse:0,1")
    finally:
        server.lab.out = None
    assert status == 200
    saved = MazeState.from_bytes(Path(answer["saved"]).read_bytes())
    assert Path(answer["saved"]).parent == tmp_path / "saved"
    assert saved.mouse_cell == (0, 1) and np.array_equal(saved.free, seed_state(1).free)


def test_the_page_is_served(server):
    for name, content_type in STATIC_TYPES.items():
        with urllib.request.urlopen(server_url(server) + name, timeout=10) as reply:
            assert reply.headers["Content-Type"] == content_type and reply.read()
    with urllib.request.urlopen(server_url(server), timeout=10) as reply:
        assert b'<canvas id="maze"' in reply.read()


def test_command_serves_warns_off_localhost_and_stops_on_ctrl_c():
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mazepolicy", "explore", "--policy", POLICY,
                             "--port", "0", "--host", "0.0.0.0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == f"mazepolicy explore: loading {POLICY}\n"
        line = proc.stdout.readline()
        assert line.startswith("mazepolicy explore: serving http://0.0.0.0:"), line
        port = line.split("http://0.0.0.0:")[1].split("/")[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=30) as reply:
            assert json.load(reply)["policies"] == {"policy": POLICY}
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out == "mazepolicy explore: stopped\n"
    assert "warning: --host 0.0.0.0" in err and "Traceback" not in err


def test_ctrl_c_while_the_policy_loads_stops_in_one_line():
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mazepolicy", "explore", "--policy", POLICY,
                             "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == f"mazepolicy explore: loading {POLICY}\n"
        proc.send_signal(signal.SIGINT)  # torch is being imported: serving is seconds away
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "mazepolicy explore: stopped before serving\n")


def test_the_pages_files_ship_in_the_wheel_and_load_through_importlib_resources(tmp_path):
    source = tmp_path / "src"  # a copy: building in place would write build/ there
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    for folder in ("mazepolicy", "envs", "agents", "checkpoints"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("mazepolicy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"mazepolicy/explore/static/{n}" for n in STATIC_TYPES} <= set(names)
    zipfile.ZipFile(wheel).extractall(tmp_path / "installed")
    code = ("import mazepolicy.explore.server as s, pathlib; "
            "print(pathlib.Path(s.__file__).parent); "
            "print(all(s.static_file(n) for n in s.STATIC_TYPES))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(tmp_path / "installed")},
                         check=True)
    where, found = run.stdout.split()
    assert Path(where) == tmp_path / "installed" / "mazepolicy" / "explore" and found == "True"


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to parse the page's script")
def test_the_pages_script_parses():
    script = ROOT / "mazepolicy/explore/static/app.js"
    subprocess.run(["node", "--check", str(script)], check=True, capture_output=True)


PAGE_DRIVER = r"""
// Runs the page's app.js in node against a live server, with a minimal DOM: the page's
// own code fetches, draws (calls recorded) and keeps its view in the URL. Steps come as
// JSON; after each, a snapshot of what the page shows is printed.
const fs = require("fs"), vm = require("vm");
const [base, scriptPath, stepsJson] = process.argv.slice(2);
const elements = {}, calls = {};
let path = [];  // the moveTo/lineTo calls since the last clearRect: the last drawing
const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : (...a) => {
  calls[k] = (calls[k] || 0) + 1;
  if (k === "clearRect") path = [];
  if (k === "moveTo" || k === "lineTo") path.push([k, ...a]);
}), set: (t, k, v) => { t[k] = v; return true; } });
function el(id) {
  return elements[id] || (elements[id] = { id, value: "", innerHTML: "", textContent: "",
    className: "", hidden: false, disabled: false, src: "", width: 560, height: 560,
    getContext: () => ctx,
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 560, height: 560 }) });
}
let mode = "cheese", url = base;
const sandbox = {
  document: { getElementById: el,
    querySelector: (q) => (q.startsWith("input[name=mode]") ? { value: mode } : el(q)) },
  location: { get search() { return new URL(url).search; } },
  history: { replaceState: (a, b, u) => { url = new URL(u, base).toString(); } },
  fetch: (path, opts) => fetch(new URL(path, base), opts),
  navigator: { clipboard: { writeText: async () => {} } },
  URLSearchParams, setTimeout, clearTimeout, console, Math, Number, Object, Set, Error,
};
const snapshot = () => ({ url, message: el("message").textContent,
  messageClass: el("message").className, probs: el("#probs tbody").innerHTML,
  python: el("python-code").textContent, strokes: calls.stroke || 0, path,
  caption: el("maze-caption").textContent, goals: el("goals").textContent });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function settle(before) {  // until the page has finished answering a step
  for (let i = 0; i < 1200; i++) {
    await sleep(50);
    const s = snapshot();
    if (s.messageClass !== "busy" && JSON.stringify(s) !== before) return s;
  }
  throw new Error("the page did not settle: " + JSON.stringify(snapshot()));
}
(async () => {
  const out = [];
  let before = JSON.stringify(snapshot());
  vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), sandbox);
  out.push(await settle(before));
  for (const step of JSON.parse(stepsJson)) {
    delete calls.stroke;
    before = JSON.stringify(snapshot());
    if (step.click) {
      mode = step.mode;
      const [x, y, n] = step.click, s = Math.floor(560 / n);
      el("maze").onclick({ clientX: (x + 0.5) * s, clientY: (n - 1 - y + 0.5) * s });
    } else {
      el(step.set).value = String(step.value);
      (el(step.set).onchange || el(step.set).oninput)();
    }
    out.push(await settle(before));
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to run the page's script")
def test_the_page_edits_by_click_steers_and_keeps_its_view_in_the_url(server, tmp_path):
    """The page's own script, run in node against the server: a click on a free cell
    moves the cheese, the coefficient box steers, a click on a wall is refused, and the
    arrows, probabilities and URL follow the API."""
    from urllib.parse import parse_qs, urlsplit

    state = seed_state(3)
    n = state.maze_dim
    target = next(c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell))
    wall = next((x, y) for x in range(n) for y in range(n) if not state.free[y, x])
    steps = [{"click": [*target, n], "mode": "cheese"}, {"set": "coeff", "value": -2},
             {"click": [*wall, n], "mode": "cheese"}]
    driver = tmp_path / "driver.js"
    driver.write_text(PAGE_DRIVER)
    start = server_url(server) + "?" + urlencode({"variant": VARIANT, "seed": 3})
    script = ROOT / "mazepolicy/explore/static/app.js"
    run = subprocess.run(["node", str(driver), start, str(script), json.dumps(steps)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    loaded, moved, steered, refused = json.loads(run.stdout)

    def shown(snapshot: dict, column: str) -> dict:
        view = {k: v[0] for k, v in parse_qs(urlsplit(snapshot["url"]).query,
                                               keep_blank_values=True).items()}
        field = get(server, "/api/field", **{k: v for k, v in view.items() if k != "show"})[1]
        probs = field[f"mouse_{column}"]
        for p in probs["moves"] + [probs["stay"]]:
            assert f"{p:.3f}<span" in snapshot["probs"]
        size = 560 // n  # the arrows: shafts from each cell's centre along the steered move
        drawn = {(round(a[1], 6), round(a[2], 6), round(b[1], 6), round(b[2], 6))
                 for a, b in zip(snapshot["path"], snapshot["path"][1:], strict=False)
                 if a[0] == "moveTo" and b[0] == "lineTo"}
        for (x, y), (dx, dy) in zip(field["cells"], field["steered_net"], strict=True):
            cx, cy = (x + 0.5) * size, (n - 1 - y + 0.5) * size
            if (dx * dx + dy * dy) ** 0.5 >= 1e-3:
                assert (round(cx, 6), round(cy, 6), round(cx + dx * size * 0.45, 6),
                        round(cy - dy * size * 0.45, 6)) in drawn, (x, y)
        return view

    view = shown(loaded, "unsteered")
    assert loaded["message"] == "" and view["edits"] == "" and view["coeff"] == "0"
    view = shown(moved, "unsteered")
    assert view["edits"] == f"cheese:{target[0]},{target[1]}" and "1 edits" in moved["caption"]
    assert f"state.set_cheese({target})" in moved["python"]
    view = shown(steered, "steered")
    assert view["coeff"] == "-2" and "[(vector, -2.0)]" in steered["python"]
    assert steered["probs"] != moved["probs"]
    assert refused["message"] == (f"refused: edit 2 (cheese at {wall}) cannot apply: cheese "
                                  f"cell {wall} is on a wall")
    assert refused["url"] == steered["url"]  # the view is unchanged
    for snapshot in (loaded, moved, steered):
        assert snapshot["goals"].startswith(("goal choices (steered) on the", "no cheese-"))


def test_the_control_is_a_second_command_line_policy_chosen_by_role():
    from mazepolicy.agents.policy import load_network
    from mazepolicy.explore.api import handle
    from mazepolicy.interp.probes import move_field

    control = "maze-anywhere_impala-s1"
    lab = Lab({"policy": POLICY, "control": control})
    assert set(handle(lab, "GET", "/api/info", "")[1]["layers"]) == {"policy", "control"}
    status, field = handle(lab, "GET", "/api/field", f"variant={VARIANT}&seed=2&role=control")
    assert status == 200
    assert field_of(field, "unsteered") == move_field(load_network(control), seed_state(2))
    assert f"load_network('{control}')" in field["python"]
