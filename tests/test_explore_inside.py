"""``mazepolicy explore``'s Inside: channel maps, the cheese-tracking ranking and clamps
through a real server, checked against the library (activations, cheese_tracking_channels,
move_field under ChannelClamp / FeatureClamp), bad requests, and an SAE trained here on a
few activations for the ``--sae`` path.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mazepolicy.agents.policy import load_network, weights_sha256  # noqa: E402
from mazepolicy.envs.geometry import free_cells  # noqa: E402
from mazepolicy.envs.levels import level_states  # noqa: E402
from mazepolicy.envs.variants import load_variant  # noqa: E402
from mazepolicy.explore.lab import Lab  # noqa: E402
from mazepolicy.explore.server import server_url  # noqa: E402
from mazepolicy.interp.channels import cell_position, retarget_hook  # noqa: E402
from mazepolicy.interp.probes import action_probabilities, move_field  # noqa: E402
from mazepolicy.interp.retarget import ChannelClamp  # noqa: E402
from mazepolicy.interp.vectors import activations  # noqa: E402
from tests.explore_support import LAYER, POLICY, VARIANT, field_of, get, seed_state, serving  # noqa: E402,E501

SEED = 3


@pytest.fixture(scope="module")
def server():
    with serving(Lab({"policy": POLICY})) as srv:
        yield srv


@pytest.fixture(scope="module")
def policy():
    return load_network(POLICY)


def target_of(state):
    """A free cell away from the start and the cheese."""
    return next(c for c in reversed(free_cells(state.free)) if c not in ((0, 0),
                                                                        state.cheese_cell))


def slot_clamp(edit, state, target, policy, frames: int):
    """``edit`` prepared as retargeting_rollouts prepares it: one slot per frame, each
    pointed at (state, target)."""
    edit.reset(frames, tuple(policy.hook_names()[LAYER]))
    for slot in range(frames):
        edit.assign(slot, (state, target))
    return edit


def test_channels_are_ranked_by_the_librarys_cheese_tracking_scores(server, policy):
    from mazepolicy.interp.channels import cheese_tracking_channels

    status, answer = get(server, "/api/channels", variant=VARIANT, seed=0, layer=LAYER)
    assert status == 200
    variant = load_variant(VARIANT)
    states = [s for s in level_states(range(16), variant.placement(), variant.distribution_mode)
              if s.cheese_cell is not None]
    scores = cheese_tracking_channels(policy, states, LAYER, cells_per_maze=8, seed=0)
    corr = scores["correlation"].tolist()
    assert answer["shape"] == [32, 16, 16] and answer["layer"] == LAYER
    assert sorted(answer["order"]) == list(range(32))
    assert [u["correlation"] for u in answer["units"]] == [corr[i] for i in answer["order"]]
    assert answer["order"] == sorted(range(32), key=lambda i: -corr[i])
    assert answer["tracking"] == [i for i in answer["order"] if corr[i] >= 0.2]
    assert answer["ranking"]["level_seeds"] == [s.level_seed for s in states]
    assert answer["ranking"]["null_max"] == pytest.approx(
        float(scores["null_correlation"].abs().max()))


def test_channel_map_is_the_librarys_activation_at_the_mouse(server, policy):
    state = seed_state(SEED)
    mouse = target_of(state)
    state.set_mouse(mouse)
    channel = 7
    status, answer = get(server, "/api/channel-map", variant=VARIANT, seed=SEED,
                         edits=f"mouse:{mouse[0]},{mouse[1]}", layer=LAYER, channel=channel)
    assert status == 200
    expected = activations(policy, [state], LAYER)[0, channel].numpy()  # (16, 16)
    assert answer["shape"] == [16, 16]
    assert np.array_equal(np.array(answer["map"], dtype=np.float32), expected)
    start = activations(policy, [seed_state(SEED)], LAYER)[0, channel].numpy()
    assert not np.array_equal(start, expected)  # the mouse's cell matters: its own frame
    # the overlay geometry: each free cell's clamp pixel covers the cell's centre
    k, m = answer["cells_per_pixel"], answer["margin"]
    assert k == state.world_dim / 16 and m == (state.world_dim - state.maze_dim) // 2
    pixels = {(x, y): (r, c) for x, y, r, c in answer["cell_pixels"]}
    assert set(pixels) == set(free_cells(state.free))
    n = state.maze_dim
    for (x, y), (r, c) in pixels.items():
        assert (r, c) == cell_position((x, y), n, state.world_dim, 16)
        assert c * k - m <= x + 0.5 < (c + 1) * k - m
        assert r * k - m <= n - 1 - y + 0.5 < (r + 1) * k - m  # rows counted from the top


def test_channel_map_under_steering_is_the_steered_activation(server, policy):
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering

    state = seed_state(SEED)
    vector = steering_vector(policy, "cheese", [state], LAYER)
    status, answer = get(server, "/api/channel-map", variant=VARIANT, seed=SEED, layer=LAYER,
                         channel=2, coeff=-2)
    assert status == 200
    with steering(policy, [(vector, -2.0)]):
        expected = activations(policy, [state], LAYER)[0, 2].numpy()
    assert np.array_equal(np.array(answer["map"], dtype=np.float32), expected)
    plain = activations(policy, [state], LAYER)[0, 2].numpy()
    assert np.allclose(expected - plain, -2.0 * vector.tensor[2].numpy(), atol=1e-5)


def test_clamp_field_is_move_field_under_the_same_channel_clamp(server, policy):
    state = seed_state(SEED)
    target, channel, value = target_of(state), 5, 5.5
    status, answer = get(server, "/api/clamp", variant=VARIANT, seed=SEED, layer=LAYER,
                         channel=channel, target=f"{target[0]},{target[1]}", value=value)
    assert status == 200
    cells = [c for c in free_cells(state.free) if c != state.cheese_cell]
    assert len(cells) <= 256  # move_field's one batch: one slot per frame
    clamp = slot_clamp(ChannelClamp(channel, value), state, target, policy, len(cells))
    with policy.hooks({LAYER: clamp}):
        expected = move_field(policy, state)
    size = 16
    hook = retarget_hook(channel, target, state.maze_dim, state.world_dim, size, value)
    with policy.hooks({LAYER: hook}):  # the same edit written as the channels module's hook
        assert move_field(policy, state) == expected
        mouse_probs = action_probabilities(policy, [state])[0]
    assert field_of(answer, "steered") == expected
    assert field_of(answer, "unsteered") == move_field(policy, state)
    assert field_of(answer, "steered") != field_of(answer, "unsteered")
    assert answer["mouse_steered"]["actions"] == pytest.approx(mouse_probs.tolist(), abs=1e-7)
    assert answer["clamp"] == {"kind": "channel", "index": channel, "target": list(target),
                               "value": value, "layer": LAYER, "label": "channel 5 = 5.5",
                               "position": list(cell_position(target, state.maze_dim,
                                                              state.world_dim, size))}


def test_the_clamp_snippet_computes_the_same_fields_under_steering(server):
    state = seed_state(SEED)
    target = target_of(state)
    status, answer = get(server, "/api/clamp", variant=VARIANT, seed=SEED, layer=LAYER,
                         channel=3, target=f"{target[0]},{target[1]}", value=-4, coeff=1.5)
    assert status == 200
    scope: dict = {}
    exec(answer["python"], scope)  # noqa: S102 (the page's own snippet)
    assert field_of(answer, "unsteered") == scope["steered"]  # the view's steered field
    assert field_of(answer, "steered") == scope["clamped"]
    assert scope["steered"] != scope["unsteered"] and scope["clamped"] != scope["steered"]


@pytest.mark.parametrize(("params", "message"), [
    ({"channel": "32"}, "channel 32 does not exist: layer embedder.block2.res1.resadd_out "
                        "has 32 channels (0..31)"),
    ({"channel": "-1"}, "channel must be a non-negative integer, got '-1'"),
    ({"channel": "1", "feature": "2"}, "give one of channel= or feature= (an SAE feature), "
                                       "not both"),
    ({}, "give one of channel= or feature= (an SAE feature), not neither"),
    ({"feature": "0"}, "feature= needs an SAE: start mazepolicy explore with --sae DIR"),
    ({"channel": "1", "target": "1,1"}, "parameter 'target' does not apply here; this "
                                        "endpoint takes channel, feature"),
    ({"channel": "1", "layer": "embedder.fc_out"}, "layer embedder.fc_out has activations of "
                                                   "shape (256,): channel maps and clamps "
                                                   "need a conv layer (C, H, W)"),
    ({"channel": "1", "colour": "red"}, "unknown parameter 'colour'"),
])
def test_bad_map_requests_get_400_with_a_message(server, params, message):
    status, answer = get(server, "/api/channel-map", variant=VARIANT, seed=SEED,
                         **({"layer": LAYER} | params))
    assert status == 400
    assert answer["error"].startswith(message)


def test_bad_clamp_requests_get_400_with_a_message(server):
    state = seed_state(SEED)
    n = state.maze_dim
    wall = next((x, y) for x in range(n) for y in range(n) if not state.free[y, x])
    free = target_of(state)
    cases = [
        ({"target": f"{wall[0]},{wall[1]}"}, f"target {wall} is a wall: clamp at a free cell"),
        ({"target": f"{n},0"}, f"target ({n}, 0) is outside the {n}x{n} maze"),
        ({"target": "3"}, "target must be a cell x,y (e.g. target=3,4), got '3'"),
        ({}, "a clamp needs target=x,y: the free cell to clamp at"),
        ({"value": "nan"}, "value must be a number in -100..100, got 'nan'"),
        ({"value": "1e3"}, "value must be a number in -100..100, got '1e3'"),
        ({"value": "big"}, "value must be a number in -100..100, got 'big'"),
        ({"channel": "40"}, "channel 40 does not exist"),
    ]
    for params, message in cases:
        query = {"target": f"{free[0]},{free[1]}", "channel": "1"} | params
        if params == {}:
            query.pop("target")
        status, answer = get(server, "/api/clamp", variant=VARIANT, seed=SEED, layer=LAYER,
                             **query)
        assert (status, answer["error"][:len(message)]) == (400, message), params
    status, answer = get(server, "/api/features", variant=VARIANT, seed=SEED, layer=LAYER)
    assert (status, answer) == (400, {"error": "no SAE: start mazepolicy explore with --sae "
                                               "DIR"})


# ------------------------------------------------------------------------------ SAE
@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory, policy):
    """A small position-layout SAE trained here on the activations of a few mazes."""
    from mazepolicy.interp.sae.model import SAEConfig
    from mazepolicy.interp.sae.train import tensor_batches, train_sae

    variant = load_variant(VARIANT)
    states = level_states(range(20, 28), variant.placement(), variant.distribution_mode)
    acts = activations(policy, states, LAYER)  # (8, 32, 16, 16)
    samples = acts.permute(0, 2, 3, 1).reshape(-1, 32)  # (8 * 256, 32)
    config = SAEConfig(d_in=32, d_sae=48, kind="topk", k=4, steps=40, batch_size=256,
                       layer=LAYER, layout="position", checkpoint_every=40)
    folder = tmp_path_factory.mktemp("sae")
    train_sae(config, tensor_batches(samples, 256, seed=0), folder, progress=False,
              source={"policy": POLICY, "policy_sha256": weights_sha256(POLICY)})
    return folder


@pytest.fixture(scope="module")
def sae_server(sae_dir):
    with serving(Lab({"policy": POLICY}, sae=str(sae_dir))) as srv:
        yield srv


def test_sae_features_map_rank_and_clamp_as_the_library_computes_them(sae_server, sae_dir,
                                                                     policy):
    from mazepolicy.interp.sae.metrics import feature_maps, localisation
    from mazepolicy.interp.sae.steer import FeatureClamp
    from mazepolicy.interp.sae.train import load_sae

    sae = load_sae(sae_dir).model
    status, info = get(sae_server, "/api/info")
    assert info["sae"] == {"dir": str(sae_dir), "layer": LAYER, "features": 48,
                           "kind": "topk", "k": 4}
    state = seed_state(SEED)
    maps = feature_maps(sae, activations(policy, [state], LAYER))[0]  # (48, 16, 16)
    feature = int(maps.flatten(1).amax(1).argmax())  # one that fires on this maze
    status, answer = get(sae_server, "/api/channel-map", variant=VARIANT, seed=SEED,
                         layer=LAYER, feature=feature)
    assert status == 200 and answer["kind"] == "feature"
    assert np.array_equal(np.array(answer["map"], dtype=np.float32), maps[feature].numpy())

    target, value = target_of(state), 3.0
    status, answer = get(sae_server, "/api/clamp", variant=VARIANT, seed=SEED, layer=LAYER,
                         feature=feature, target=f"{target[0]},{target[1]}", value=value)
    assert status == 200
    cells = [c for c in free_cells(state.free) if c != state.cheese_cell]
    clamp = slot_clamp(FeatureClamp(sae, feature, value), state, target, policy, len(cells))
    with policy.hooks({LAYER: clamp}):
        expected = move_field(policy, state)
    assert field_of(answer, "steered") == expected
    assert field_of(answer, "unsteered") == move_field(policy, state)
    assert f"FeatureClamp(sae, {feature}, 3.0)" in answer["python"]

    status, ranked = get(sae_server, "/api/features", variant=VARIANT, seed=SEED, layer=LAYER)
    assert status == 200
    variant = load_variant(VARIANT)
    states = [s for s in level_states(range(16), variant.placement(), variant.distribution_mode)
              if s.cheese_cell is not None]
    corr = localisation(policy, sae, LAYER, states, seed=0, cells_per_maze=8)["cheese"]["features"]
    assert ranked["order"] == sorted(range(48), key=lambda i: -corr[i])
    assert [u["correlation"] for u in ranked["units"]] == [corr[i] for i in ranked["order"]]


@pytest.mark.parametrize(("params", "message"), [
    ({"feature": "48"}, "feature 48 does not exist: the SAE has 48 features (0..47)"),
    ({"feature": "1", "layer": "embedder.block3.res1.resadd_out"},
     f"the SAE reads layer {LAYER}; features need layer={LAYER}"),
])
def test_bad_feature_requests_get_400_with_a_message(sae_server, params, message):
    status, answer = get(sae_server, "/api/channel-map", variant=VARIANT, seed=SEED,
                         **({"layer": LAYER} | params))
    assert status == 400 and answer["error"].startswith(message)


def test_an_sae_that_does_not_fit_the_policy_is_refused_at_start(tmp_path, sae_dir):
    from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
    from mazepolicy.interp.sae.train import load_sae, save_sae

    card = load_sae(sae_dir).card
    other = tmp_path / "other"
    other.mkdir()
    save_sae(load_sae(sae_dir).model, other,
             card | {"source": {"policy": "x", "policy_sha256": "ab" * 32}})
    with pytest.raises(ValueError, match="comes from policy 'x'"):
        Lab({"policy": POLICY}, sae=str(other))
    flat = tmp_path / "map"
    flat.mkdir()
    config = SAEConfig(d_in=32 * 16 * 16, d_sae=2, k=1, layer=LAYER, layout="map")
    save_sae(SparseAutoencoder(config), flat, {"config": config.to_dict(), "source": {}})
    with pytest.raises(ValueError, match="position-layout SAE"):
        Lab({"policy": POLICY}, sae=str(flat))
    with pytest.raises(FileNotFoundError, match="no trained SAE"):
        Lab({"policy": POLICY}, sae=str(tmp_path / "missing"))


@pytest.mark.skipif(__import__("shutil").which("node") is None,
                    reason="no node to run the page's script")
def test_the_page_maps_a_channel_and_clamps_at_a_clicked_cell(server, tmp_path):
    """The page's own script in node (test_explore's driver): choosing a channel puts it
    in the URL, a click in "clamp at cell" mode draws the clamped field's arrows, and a
    click on a wall in that mode is refused and changes nothing."""
    import importlib.util
    import subprocess
    from pathlib import Path
    from urllib.parse import parse_qs, urlsplit

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("explore_tests", root / "tests/test_explore.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = seed_state(SEED)
    n = state.maze_dim
    target = target_of(state)
    wall = next((x, y) for x in range(n) for y in range(n) if not state.free[y, x])
    steps = [{"set": "inside-channel", "value": 5}, {"click": [*target, n], "mode": "clamp"},
             {"click": [*wall, n], "mode": "clamp"}]
    driver = tmp_path / "driver.js"
    driver.write_text(module.PAGE_DRIVER)
    start = server_url(server) + "?" + urlencode({"variant": VARIANT, "seed": SEED})
    run = subprocess.run(["node", str(driver), start,
                          str(root / "mazepolicy/explore/static/app.js"), json.dumps(steps)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    _, chosen, clamped, refused = json.loads(run.stdout)

    def url_view(snapshot):
        return {k: v[0] for k, v in parse_qs(urlsplit(snapshot["url"]).query,
                                               keep_blank_values=True).items()}

    assert url_view(chosen)["channel"] == "5" and "target" not in url_view(chosen)
    view = url_view(clamped)
    assert (view["channel"], view["target"], view["value"]) == ("5", f"{target[0]},{target[1]}",
                                                                "5.5")
    answer = get(server, "/api/clamp", **{k: v for k, v in view.items() if k != "show"})[1]
    assert answer["steered_net"] != answer["unsteered_net"]  # the arrows tell them apart
    size = 560 // n
    drawn = {(round(a[1], 6), round(a[2], 6), round(b[1], 6), round(b[2], 6))
             for a, b in zip(clamped["path"], clamped["path"][1:], strict=False)
             if a[0] == "moveTo" and b[0] == "lineTo"}
    for (x, y), (dx, dy) in zip(answer["cells"], answer["steered_net"], strict=True):
        cx, cy = (x + 0.5) * size, (n - 1 - y + 0.5) * size
        if (dx * dx + dy * dy) ** 0.5 >= 1e-3:
            assert (round(cx, 6), round(cy, 6), round(cx + dx * size * 0.45, 6),
                    round(cy - dy * size * 0.45, 6)) in drawn, (x, y)
    assert "ChannelClamp(5, 5.5)" in clamped["python"]
    assert refused["message"] == f"refused: target {wall} is a wall: clamp at a free cell"
    assert refused["url"] == clamped["url"]
