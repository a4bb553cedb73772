"""``mazepolicy explore``'s rollouts, saved vector files and control side by side,
checked against the library: a rollout's outcome is the evaluator's for the same maze,
sampling seed and steering; a saved vector steers the field as ``SteeringVector.load``
does; the side field is the control's ``move_field``; the GIF holds the episode's frames.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest

pytest.importorskip("torch")

from mazepolicy.envs.actions import ACTION_DELTAS  # noqa: E402
from mazepolicy.envs.frames import render_states  # noqa: E402
from mazepolicy.envs.geometry import distance  # noqa: E402
from mazepolicy.envs.variants import load_variant  # noqa: E402
from mazepolicy.explore.api import handle  # noqa: E402
from mazepolicy.explore.lab import Lab  # noqa: E402
from mazepolicy.explore.server import server_url  # noqa: E402
from tests.explore_support import LAYER, POLICY, ROOT, VARIANT, field_of, seed_state, serving  # noqa: E402,E501

CONTROL = "maze-anywhere_impala-s1"


@pytest.fixture(scope="module")
def lab():
    return Lab({"policy": POLICY})


@pytest.fixture(scope="module")
def policy():
    from mazepolicy.agents.policy import load_network

    return load_network(POLICY)


def ask(lab, path: str, method: str = "GET", **params) -> tuple[int, dict]:
    return handle(lab, method, path, urlencode(params))


def evaluated(agent, seed: int) -> dict:
    """The evaluator's record of level ``seed`` of the variant played by ``agent``."""
    from mazepolicy.eval.evaluate import evaluate

    result = evaluate(agent, VARIANT, episodes=1, seed=seed, num_envs=1, progress=False)
    return asdict(result.episodes[0])


# ------------------------------------------------------------------ rollouts
def test_a_rollout_is_the_same_episode_for_the_same_seed_and_another_for_another(lab):
    params = {"variant": VARIANT, "seed": 2, "rollout_seed": 5, "max_steps": 40}
    status, first = ask(lab, "/api/rollout", **params)
    assert status == 200
    status, again = ask(Lab({"policy": POLICY}), "/api/rollout", **params)  # no cache shared
    assert status == 200 and again == first
    others = [ask(lab, "/api/rollout", **params | {"rollout_seed": s})[1]["actions"]
              for s in (6, 7)]
    assert any(actions != first["actions"] for actions in others)
    assert first["steps"] == len(first["actions"]) == len(first["frames"]) - 1 == 40
    assert first["outcome"]["timed_out"] or first["outcome"]["reached_cheese"]


def test_the_trajectory_follows_the_maze_and_starts_from_the_agents_view(lab):
    import base64
    import io

    from PIL import Image

    state = seed_state(3)
    status, answer = ask(lab, "/api/rollout", variant=VARIANT, seed=3, rollout_seed=1,
                         max_steps=60)
    assert status == 200 and answer["cells"][0] == [0, 0]
    for (x, y), action, (nx, ny), move in zip(answer["cells"][:-1], answer["actions"],
                                              answer["cells"][1:], answer["moves"],
                                              strict=True):
        dx, dy = ACTION_DELTAS[action]
        tx, ty = x + dx, y + dy
        inside = 0 <= tx < state.maze_dim and 0 <= ty < state.maze_dim
        assert (nx, ny) == ((tx, ty) if inside and state.free[ty, tx] else (x, y))
        assert move == {(1, 0): "right", (0, 1): "up", (-1, 0): "left", (0, -1): "down",
                        (0, 0): "stay"}[(dx, dy)]
    png = base64.b64decode(answer["frames"][0].split(",", 1)[1])
    assert np.array_equal(np.array(Image.open(io.BytesIO(png))), render_states([state])[0])


def test_a_rollouts_outcome_is_the_evaluators_unsteered_and_steered(lab, policy):
    from mazepolicy.agents.policy import PolicyAgent
    from mazepolicy.agents.steered import SteeredAgent
    from mazepolicy.interp.steer import per_maze_vectors

    for seed, rollout_seed in ((0, 3), (1, 0)):
        status, answer = ask(lab, "/api/rollout", variant=VARIANT, seed=seed,
                             rollout_seed=rollout_seed)
        assert status == 200
        assert answer["outcome"] == evaluated(PolicyAgent(policy, seed=rollout_seed), seed)
        assert answer["outcome"]["reached_cheese"] == (
            answer["cells"][-1] == list(seed_state(seed).cheese_cell))
    # steered as `mazepolicy steer` / `evaluate --vector cheese` steer: a per-maze vector
    agent = SteeredAgent(policy, LAYER, -1.5, per_maze=per_maze_vectors(policy, "cheese", LAYER),
                         seed=3)
    status, answer = ask(lab, "/api/rollout", variant=VARIANT, seed=0, rollout_seed=3,
                         vector="cheese", layer=LAYER, coeff=-1.5)
    assert status == 200 and answer["outcome"] == evaluated(agent, 0)
    unsteered = ask(lab, "/api/rollout", variant=VARIANT, seed=0, rollout_seed=3)[1]
    assert answer["actions"] != unsteered["actions"]  # the steering acted


def test_coefficient_zero_plays_exactly_the_unsteered_episode(lab):
    base = ask(lab, "/api/rollout", variant=VARIANT, seed=4, rollout_seed=2, max_steps=80)[1]
    for vector in ("top-right", "composed"):
        status, zero = ask(lab, "/api/rollout", variant=VARIANT, seed=4, rollout_seed=2,
                           max_steps=80, vector=vector, layer=LAYER, coeff=0)
        assert status == 200 and zero == base


def test_play_state_is_the_evaluators_episode_and_walks_the_shortest_path():
    from mazepolicy.agents.scripted import make_scripted_agent
    from mazepolicy.eval.episode import play_state

    variant = load_variant(VARIANT)
    for seed in range(4):
        state = seed_state(seed)
        for name in ("cheese-walker", "top-right-walker"):
            episode = play_state(make_scripted_agent(name), state, region=variant.region)
            assert asdict(episode.result) == evaluated(make_scripted_agent(name), seed)
        walk = play_state(make_scripted_agent("cheese-walker"), state)
        assert walk.result.reached_cheese and walk.mouse[-1] == state.cheese_cell
        assert walk.result.steps == distance(state.free, (0, 0), state.cheese_cell)
    # an edited maze: the cheese next to the mouse is reached in one step
    state = seed_state(2)
    state.set_cheese(next(c for c in ((1, 0), (0, 1)) if state.free[c[1], c[0]]))
    walk = play_state(make_scripted_agent("cheese-walker"), state)
    assert walk.result.reached_cheese and walk.result.steps == 1 and len(walk.frames) == 2
    capped = play_state(make_scripted_agent("random"), seed_state(2), max_steps=7)
    assert capped.result.timed_out and capped.result.steps == 7 and len(capped.actions) == 7


@pytest.mark.parametrize(("params", "message"), [
    ({"rollout_seed": "-1"}, "rollout_seed must be an integer in 0..2147483647"),
    ({"rollout_seed": "x"}, "rollout_seed must be an integer"),
    ({"max_steps": "0"}, "max_steps must be an integer in 1..500"),
    ({"max_steps": "501"}, "max_steps must be an integer in 1..500"),
    ({"colour": "red"}, "unknown parameter 'colour'"),
    ({"coeff": "9"}, "coeff must be a number in -5..5"),
])
def test_bad_rollout_requests_get_400(lab, params, message):
    status, answer = ask(lab, "/api/rollout", **params)
    assert status == 400 and message in answer["error"], answer
    assert ask(lab, "/api/rollout", rollout_seed="1&rollout_seed=2")[0] == 400
    status, answer = ask(lab, "/api/field", rollout_seed=1)  # not a view parameter
    assert status == 400 and "unknown parameter 'rollout_seed'" in answer["error"]


def test_a_maze_the_evaluator_cannot_describe_is_refused(lab):
    state = seed_state(3)
    corner = (state.maze_dim - 1, state.maze_dim - 1)
    status, answer = ask(lab, "/api/rollout", variant=VARIANT, seed=3,
                         edits=f"wall:{corner[0]},{corner[1]}")
    assert status == 400 and answer["error"].startswith("cannot play this maze:")


def test_the_gif_is_written_only_with_out_and_holds_the_episodes_frames(tmp_path):
    from PIL import Image

    from mazepolicy.viz.render import upscale_frame

    params = {"variant": VARIANT, "seed": 5, "rollout_seed": 4, "max_steps": 30}
    status, answer = ask(Lab({"policy": POLICY}), "/api/rollout-gif", "POST", **params)
    assert status == 400 and "--out" in answer["error"]
    assert ask(Lab({"policy": POLICY}), "/api/rollout-gif", **params)[0] == 405
    lab = Lab({"policy": POLICY}, out=str(tmp_path / "saved"))
    status, answer = ask(lab, "/api/rollout-gif", "POST", **params)
    assert status == 200, answer
    path = Path(answer["saved"])
    assert path.parent == tmp_path / "saved" and path.name.startswith(
        "rollout-maze-topright-5-easy-seed5-r4-") and path.suffix == ".gif"
    assert list(path.parent.iterdir()) == [path]  # atomic: no temporary left
    rollout = ask(lab, "/api/rollout", **params)[1]
    assert answer["frames"] == rollout["steps"] + 1 == 31
    with lab._lock:
        episode = lab._episode(*lab.rollout_view({k: [str(v)] for k, v in params.items()}))
    frames = upscale_frame(episode.frames, 4)  # (31, 256, 256, 3)
    runs = [0] + [i for i in range(1, len(frames)) if not np.array_equal(frames[i],
                                                                          frames[i - 1])]
    with Image.open(path) as gif:
        decoded, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            decoded.append(np.array(gif.convert("RGB"), dtype=np.int16))
            durations.append(gif.info["duration"])
    assert len(decoded) == len(runs) and sum(durations) == 100 * len(frames)
    for image, i in zip(decoded, runs, strict=True):  # GIF palettes: nearly equal pixels
        assert image.shape == (256, 256, 3) and np.abs(image - frames[i]).mean() < 6
    again = ask(lab, "/api/rollout-gif", "POST", **params)[1]
    other = ask(lab, "/api/rollout-gif", "POST", **params | {"rollout_seed": 5})[1]
    assert again["saved"] == answer["saved"] != other["saved"]


# ------------------------------------------------------------ saved vectors
@pytest.fixture(scope="module")
def saved_vector(tmp_path_factory, policy):
    from mazepolicy.interp.steer import steering_vector

    path = tmp_path_factory.mktemp("vectors") / "cheese2.safetensors"
    steering_vector(policy, "cheese", [seed_state(2)], LAYER).save(path)
    return path


def test_a_saved_vector_file_steers_as_the_library_steers_with_it(saved_vector, policy):
    from mazepolicy.agents.steered import SteeredAgent
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.vectors import SteeringVector, steering

    lab = Lab({"policy": POLICY}, vectors=[str(saved_vector)])
    info = ask(lab, "/api/info")[1]
    assert info["vectors"] == ["cheese", "top-right", "composed", "file:cheese2"]
    assert info["file_vectors"] == {"file:cheese2": {"layer": LAYER,
                                                     "file": "cheese2.safetensors"}}
    loaded = SteeringVector.load(saved_vector)
    status, field = ask(lab, "/api/field", variant=VARIANT, seed=4, vector="file:cheese2",
                        layer=LAYER, coeff=1.5)
    assert status == 200
    state = seed_state(4)
    with steering(policy, [(loaded, 1.5)]):
        assert field_of(field, "steered") == move_field(policy, state)
    assert field_of(field, "steered") != field_of(field, "unsteered")
    assert f"SteeringVector.load({str(saved_vector.resolve())!r})" in field["python"]
    scope: dict = {}
    exec(field["python"], scope)  # the "copy as Python" box loads the file
    assert scope["steered"] == field_of(field, "steered")
    status, answer = ask(lab, "/api/rollout", variant=VARIANT, seed=0, rollout_seed=2,
                         vector="file:cheese2", layer=LAYER, coeff=1.5)
    agent = SteeredAgent(policy, LAYER, 1.5, vector=loaded.tensor, seed=2)  # `steer --vector`
    assert status == 200 and answer["outcome"] == evaluated(agent, 0)


def test_a_saved_vector_keeps_its_layer_and_only_its_name_comes_from_the_browser(saved_vector):
    lab = Lab({"policy": POLICY}, vectors=[saved_vector])
    status, answer = ask(lab, "/api/field", vector="file:cheese2",
                         layer="embedder.block1.res1.resadd_out")
    assert status == 400 and answer["error"] == (
        f"vector file:cheese2 was made at layer {LAYER}: use layer={LAYER} (a saved vector "
        "keeps its layer), not embedder.block1.res1.resadd_out")
    for name in (str(saved_vector), "file:other", "cheese2"):
        status, answer = ask(lab, "/api/field", vector=name, layer=LAYER)
        assert status == 400 and "unknown vector" in answer["error"]


def test_bad_vector_files_are_refused_at_start_up(tmp_path, saved_vector, policy):
    import torch

    from mazepolicy.interp.vectors import SteeringVector

    with pytest.raises(ValueError, match="cannot load steering vector"):
        Lab({"policy": POLICY}, vectors=[tmp_path / "missing.safetensors"])
    SteeringVector("embedder.nope", torch.zeros(32, 16, 16)).save(tmp_path / "nolayer.safetensors")
    with pytest.raises(ValueError, match="its layer embedder.nope is not a hook point"):
        Lab({"policy": POLICY}, vectors=[tmp_path / "nolayer.safetensors"])
    SteeringVector(LAYER, torch.zeros(3, 16, 16)).save(tmp_path / "shape.safetensors")
    shape = tuple(policy.hook_names()[LAYER])
    with pytest.raises(ValueError, match=rf"its shape \(3, 16, 16\) is not layer {LAYER}'s "
                       rf"activation shape \({', '.join(map(str, shape))}\)"):
        Lab({"policy": POLICY}, vectors=[tmp_path / "shape.safetensors"])
    SteeringVector(LAYER, torch.full(shape, float("nan"))).save(tmp_path / "nan.safetensors")
    with pytest.raises(ValueError, match="non-finite"):
        Lab({"policy": POLICY}, vectors=[tmp_path / "nan.safetensors"])
    (tmp_path / "twin").mkdir()
    shutil.copy(saved_vector, tmp_path / "twin" / saved_vector.name)
    shutil.copy(saved_vector.with_suffix(".json"), tmp_path / "twin" / "cheese2.json")
    with pytest.raises(ValueError, match="another file is named cheese2 too"):
        Lab({"policy": POLICY}, vectors=[saved_vector, tmp_path / "twin" / saved_vector.name])
    run = subprocess.run([sys.executable, "-m", "mazepolicy", "explore", "--policy", POLICY,
                          "--no-browser", "--port", "0", "--vector",
                          str(tmp_path / "shape.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("mazepolicy explore: --vector ") and "its shape" in run.stderr


# ------------------------------------------------------------ side by side
@pytest.fixture(scope="module")
def paired():
    return Lab({"policy": POLICY, "control": CONTROL})


def test_the_side_field_is_the_controls_move_field_steered_alike(paired):
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering

    control, state = paired.policies["control"], seed_state(2)
    status, side = ask(paired, "/api/side-field", variant=VARIANT, seed=2, vector="cheese",
                       layer=LAYER, coeff=-1.0)
    assert status == 200 and side["role"] == "control" and side["same_steering"] is True
    assert side["note"] == ""
    assert field_of(side, "unsteered") == move_field(control, state)
    with steering(control, [(steering_vector(control, "cheese", [state], LAYER), -1.0)]):
        assert field_of(side, "steered") == move_field(control, state)
    assert field_of(side, "steered") != field_of(side, "unsteered")
    assert f"load_network('{CONTROL}')" in side["python"]
    main = ask(paired, "/api/field", variant=VARIANT, seed=2, vector="cheese", layer=LAYER,
               coeff=-1.0)[1]
    assert field_of(main, "unsteered") != field_of(side, "unsteered")  # another policy
    status, back = ask(paired, "/api/side-field", variant=VARIANT, seed=2, role="control")
    assert status == 200 and back["role"] == "policy"
    assert field_of(back, "unsteered") == field_of(main, "unsteered")
    status, answer = ask(Lab({"policy": POLICY}), "/api/side-field", seed=2)
    assert status == 400 and "--control" in answer["error"]


def test_the_side_field_is_unsteered_where_the_control_lacks_the_layer(paired, monkeypatch):
    from mazepolicy.interp.probes import move_field

    control = paired.policies["control"]
    shapes = control.hook_names()
    monkeypatch.setattr(control, "hook_names",
                        lambda: {k: v for k, v in shapes.items() if k != LAYER})
    layer = "embedder.block1.res1.resadd_out"
    status, side = ask(paired, "/api/side-field", variant=VARIANT, seed=6, vector="cheese",
                       layer=LAYER, coeff=2.0)
    assert status == 200 and side["same_steering"] is False and LAYER in side["note"]
    assert side["view"]["coeff"] == 0.0 and side["view"]["layer"] != LAYER
    assert field_of(side, "steered") == field_of(side, "unsteered") == move_field(
        control, seed_state(6))
    assert layer in shapes


# ------------------------------------------------------------------- page
PAGE_DRIVER = r"""
// app.js in node against a live server with a minimal DOM (as tests/test_explore.py's
// driver): after the page settles, the rollout's step and play buttons are pressed.
const fs = require("fs"), vm = require("vm");
const [base, scriptPath] = process.argv.slice(2);
const elements = {};
let path = [];
const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : (...a) => {
  if (k === "clearRect") path = [];
  if (k === "moveTo" || k === "lineTo") path.push([k, ...a]);
}), set: (t, k, v) => { t[k] = v; return true; } });
function el(id) {
  return elements[id] || (elements[id] = { id, value: "", innerHTML: "", textContent: "",
    className: "", hidden: false, disabled: false, src: "", width: 560, height: 560,
    getContext: () => ctx,
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 560, height: 560 }) });
}
let url = base;
const sandbox = {
  document: { getElementById: el,
    querySelector: (q) => (q.startsWith("input[name=mode]") ? { value: "cheese" } : el(q)) },
  location: { get search() { return new URL(url).search; },
    get hash() { return new URL(url).hash; } },
  history: { replaceState: (a, b, u) => { url = new URL(u, base).toString(); } },
  fetch: (p, opts) => fetch(new URL(p, base), opts),
  navigator: { clipboard: { writeText: async () => {} } },
  URLSearchParams, setTimeout, clearTimeout, console, Math, Number, Object, Set, Error,
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const snap = () => ({ url, src: el("agent-view").src, outcome: el("rollout-outcome").textContent,
  side: el("side-caption").textContent, sideHidden: el("side").hidden,
  gifHidden: el("rollout-gif").hidden, message: el("message").textContent, path });
async function until(cond) {
  for (let i = 0; i < 1200; i++) { await sleep(50); if (cond()) return snap(); }
  throw new Error("timed out: " + JSON.stringify(snap()));
}
(async () => {
  vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), sandbox);
  const out = [await until(() => el("message").className !== "busy" && el("python-code").textContent
    && el("side-caption").textContent.startsWith("control"))];
  el("rollout-step").onclick();
  out.push(await until(() => el("rollout-outcome").textContent.startsWith("step 0")));
  el("rollout-step").onclick();
  out.push(await until(() => el("rollout-outcome").textContent.startsWith("step 1 ")));
  el("rollout-play").onclick();
  out.push(await until(() => /: (reached|timed)/.test(el("rollout-outcome").textContent)));
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to run the page's script")
def test_the_page_plays_the_rollout_and_shows_the_control_beside(paired, tmp_path):
    with serving(paired) as server:
        view = {"variant": VARIANT, "seed": 0, "coeff": -1, "vector": "cheese", "layer": LAYER}
        start = server_url(server) + "?" + urlencode(view) + "#rollout_seed=3"
        driver = tmp_path / "driver.js"
        driver.write_text(PAGE_DRIVER)
        run = subprocess.run(["node", str(driver), start,
                              str(ROOT / "mazepolicy/explore/static/app.js")],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        loaded, first, second, played = json.loads(run.stdout)
        query = urlencode(view | {"rollout_seed": 3, "role": "policy", "edits": ""})
        with urllib.request.urlopen(server_url(server) + "api/rollout?" + query,
                                    timeout=120) as reply:
            rollout = json.load(reply)
    assert loaded["sideHidden"] is False and loaded["gifHidden"] is True
    assert loaded["side"].startswith(f"control ({CONTROL}), steered x -1")
    assert loaded["url"].endswith("#rollout_seed=3")
    assert first["src"] == rollout["frames"][0] and second["src"] == rollout["frames"][1]
    assert second["outcome"] == f"step 1 of {rollout['steps']} ({rollout['moves'][0]})"
    assert played["src"] == rollout["frames"][-1]
    assert played["outcome"].endswith(": " + rollout["outcome_text"])
    size = 560 // 3  # seed 0 is a 3x3 maze: the path's polyline through the cell centres
    centres = [[(x + 0.5) * size, (3 - 1 - y + 0.5) * size] for x, y in rollout["cells"]]
    drawn = [p[1:] for p in played["path"]]
    assert any(drawn[i:i + len(centres)] == centres for i in range(len(drawn)))
