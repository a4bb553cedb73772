"""Steering vectors, channel interventions and probes against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mazepolicy.envs import LEFT, RIGHT, UP, Anywhere
from mazepolicy.envs.frames import render_states
from mazepolicy.envs.geometry import action_to_delta, free_cells, next_step_action, top_right_corner
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.state import FREE
from mazepolicy.interp.channels import cell_position, channel_hook, retarget_hook
from mazepolicy.interp.probes import (
    decision_square_stats,
    goal_choice_rates,
    goal_choices,
    move_field,
    vector_field,
)
from mazepolicy.interp.vectors import (
    SteeringVector,
    cheese_vector,
    steering,
    top_right_vector,
    with_top_right_corridor,
)
from mazepolicy.models.impala import ImpalaPolicy
from tests.conftest import ConstantPolicy, cell_pixels

LAYER = "embedder.block2.res1.resadd_out"


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return ImpalaPolicy().eval()


@pytest.fixture(scope="module")
def states():
    return level_states(range(6), cheese=Anywhere())


def test_cheese_vector_equals_manual_difference(policy, states):
    vec = cheese_vector(policy, states[:3], LAYER)
    with_cheese = [s.copy() for s in states[:3]]
    without = [s.copy() for s in states[:3]]
    for s in without:
        s.set_cheese(None)
    obs_a = torch.as_tensor(render_states(with_cheese))
    obs_b = torch.as_tensor(render_states(without))
    _, _, cache_a = policy.run_with_cache(obs_a, [LAYER])
    _, _, cache_b = policy.run_with_cache(obs_b, [LAYER])
    manual = (cache_a[LAYER] - cache_b[LAYER]).mean(0)
    assert torch.equal(vec.tensor, manual)
    assert vec.metadata == {"kind": "cheese", "level_seeds": [0, 1, 2]}


def test_coefficient_zero_is_bitwise_identity(policy, states):
    vec = cheese_vector(policy, states[:1], LAYER)
    obs = torch.as_tensor(render_states(states))
    base, _ = policy(obs)
    with steering(policy, [(vec, 0.0)]):
        steered, _ = policy(obs)
    assert torch.equal(base, steered)
    with steering(policy, [(vec, -1.0)]):
        moved, _ = policy(obs)
    assert not torch.equal(base, moved)
    assert torch.equal(policy(obs)[0], base)  # hooks removed


def test_steering_adds_coeff_times_vector_and_composes(policy, states):
    a = SteeringVector(LAYER, torch.randn(32, 16, 16))
    b = SteeringVector(LAYER, torch.randn(32, 16, 16))
    obs = torch.as_tensor(render_states(states[:2]))
    _, _, base = policy.run_with_cache(obs, [LAYER])
    with steering(policy, [(a, 2.0), (b, -0.5)]):
        _, _, cache = policy.run_with_cache(obs, ["embedder.block2.res2.relu1_out"])
    expected = torch.relu(base[LAYER] + 2.0 * a.tensor - 0.5 * b.tensor)
    torch.testing.assert_close(cache["embedder.block2.res2.relu1_out"], expected)
    bad = SteeringVector(LAYER, torch.randn(3))
    with pytest.raises(ValueError, match="does not fit"):
        with steering(policy, [(bad, 1.0)]):
            policy(obs)


def test_planted_direction_flips_action_as_computed_by_hand():
    """fc_policy reads one direction d of the 256-d hidden layer: RIGHT gets +d.h, LEFT -d.h.
    Adding k*d raises RIGHT's logit by k|d|^2 and lowers LEFT's by as much."""
    policy = ImpalaPolicy().eval()
    d = torch.zeros(256)
    d[:8] = 1.0
    with torch.no_grad():
        policy.fc_policy.weight.zero_()
        policy.fc_policy.bias.zero_()
        policy.fc_policy.weight[RIGHT] = d
        policy.fc_policy.weight[LEFT] = -d
    obs = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
    _, _, cache = policy.run_with_cache(obs, ["embedder.relufc_out"])
    h = cache["embedder.relufc_out"][0]
    vec = SteeringVector("embedder.relufc_out", d)
    for coeff, action in ((5.0, RIGHT), (-5.0, LEFT)):
        with steering(policy, [(vec, coeff)]):
            logits, _ = policy(obs)
        expected = torch.zeros(15)
        expected[RIGHT] = d @ (h + coeff * d)
        expected[LEFT] = -(d @ (h + coeff * d))
        torch.testing.assert_close(logits[0], expected)
        assert int(logits.argmax()) == action


def test_top_right_corridor_and_vector(policy, states):
    state = next(s for s in states if s.margin > 0)
    opened = with_top_right_corridor(state)
    cx, cy = opened.to_world((state.maze_dim - 1, state.maze_dim - 1))
    top = state.world_dim - 1
    assert (opened.world[cy + 1 :, cx] == FREE).all()
    assert (opened.world[top, cx:] == FREE).all()
    changed = np.argwhere(opened.world != state.world)
    assert len(changed) == (top - cy) + (top - cx)
    vec = top_right_vector(policy, [state], LAYER)
    assert vec.tensor.shape == (32, 16, 16) and vec.metadata["kind"] == "top_right"
    full = next(s for s in level_states(range(60), cheese=Anywhere()) if s.margin == 0)
    with pytest.raises(ValueError, match="no padding"):
        with_top_right_corridor(full)


def test_vector_save_load_round_trip(tmp_path, policy, states):
    vec = cheese_vector(policy, states[:2], LAYER)
    vec.save(tmp_path / "cheese.safetensors")
    loaded = SteeringVector.load(tmp_path / "cheese.safetensors")
    assert loaded.layer == LAYER and torch.equal(loaded.tensor, vec.tensor)
    assert loaded.metadata == vec.metadata
    (tmp_path / "cheese.safetensors").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot load"):
        SteeringVector.load(tmp_path / "cheese.safetensors")


def test_cell_position_lies_under_the_cells_pixels(states):
    for state in states:
        for cell in [(0, 0), (state.maze_dim - 1, state.maze_dim - 1), state.cheese_cell]:
            rows, cols = cell_pixels(cell, state.maze_dim, state.world_dim)
            row, col = cell_position(cell, state.maze_dim, state.world_dim, size=64)
            assert rows.start - 1 <= row <= rows.stop and cols.start - 1 <= col <= cols.stop
    with pytest.raises(ValueError, match="outside"):
        cell_position((9, 9), maze_dim=5, world_dim=15, size=16)


def test_channel_hooks_edit_only_the_chosen_entries(policy, states):
    obs = torch.as_tensor(render_states(states[:2]))
    _, _, base = policy.run_with_cache(obs, [LAYER])
    hook = retarget_hook(5, (2, 2), states[0].maze_dim, states[0].world_dim, 16, value=7.0)
    with policy.hooks({LAYER: hook}):
        _, _, cache = policy.run_with_cache(obs, [LAYER])
    row, col = cell_position((2, 2), states[0].maze_dim, states[0].world_dim, 16)
    diff = cache[LAYER] != base[LAYER]
    assert (cache[LAYER][:, 5, row, col] == 7.0).all()
    assert diff.sum() <= 2 and not diff[:, :5].any() and not diff[:, 6:].any()
    clamp = channel_hook([1, 2], None, 0.0, mode="clamp_max")
    out = clamp(base[LAYER])
    assert (out[:, 1:3] <= 0).all() and torch.equal(out[:, 3:], base[LAYER][:, 3:])


def test_decision_square_stats_and_vector_field_with_known_policy(states):
    rows = decision_square_stats(ConstantPolicy(UP), states)
    assert rows
    for r in rows:
        sq, nxt = r["decision_square"], r["cheese_step"]
        assert r["p_cheese"] == pytest.approx(float(nxt == (sq[0], sq[1] + 1)))
        assert r["p_cheese"] + r["p_top_right"] <= 1.0 + 1e-6
    field = vector_field(ConstantPolicy(UP), states[0])
    assert all(move == pytest.approx((0.0, 1.0)) for move in field.values())
    assert states[0].cheese_cell not in field
    moves = move_field(ConstantPolicy(UP), states[0])  # right, up, left, down
    assert set(moves) == set(field)
    assert all(p == pytest.approx((0.0, 1.0, 0.0, 0.0)) for p in moves.values())


def test_goal_choices_are_the_cells_where_the_goals_part_and_read_the_right_moves(
        states, tmp_path):
    rows = goal_choices(ConstantPolicy(RIGHT), states)
    for state in states:
        free, cheese = state.free, state.cheese_cell
        corner = top_right_corner(free)
        parting = {c for c in free_cells(free) if c not in (cheese, corner)
                   and next_step_action(free, c, cheese) != next_step_action(free, c, corner)}
        mine = [r for r in rows if r["level_seed"] == state.level_seed]
        assert {r["cell"] for r in mine} == parting and len(mine) == len(parting)
        for r in mine:
            to_cheese = action_to_delta(next_step_action(free, r["cell"], cheese))
            to_corner = action_to_delta(next_step_action(free, r["cell"], corner))
            expected = ("cheese" if to_cheese == (1, 0) else
                        "corner" if to_corner == (1, 0) else "other")
            assert r["choice"] == expected
            assert r["p_cheese"] == pytest.approx(float(to_cheese == (1, 0)), abs=1e-6)
            assert r["p_corner"] == pytest.approx(float(to_corner == (1, 0)), abs=1e-6)
    assert {r["choice"] for r in rows} == {"cheese", "corner", "other"}
    rates = goal_choice_rates(rows)
    assert rates["cells"] == len(rows) and rates["mazes"] == len({r["level_seed"] for r in rows})
    assert sum(rates[c]["rate"] for c in ("cheese", "corner", "other")) == pytest.approx(1.0)
    assert rates["corner"]["rate"] == sum(r["choice"] == "corner" for r in rows) / len(rows)
    shares = [np.mean([r["choice"] == "corner" for r in rows if r["level_seed"] == seed])
              for seed in sorted({r["level_seed"] for r in rows})]
    low, high = rates["corner"]["maze_mean_ci"]
    assert rates["corner"]["maze_mean"] == pytest.approx(np.mean(shares))
    assert low <= rates["corner"]["maze_mean"] <= high
    assert high - low == pytest.approx(2 * 1.96 * np.std(shares, ddof=1) / np.sqrt(len(shares)),
                                       rel=1e-3) or low == 0.0 or high == 1.0


def test_goals_command_writes_shares_and_cells(tmp_path):
    import json

    from mazepolicy.cli import main
    from mazepolicy.models.checkpoint import save_policy

    path = tmp_path / "p.safetensors"
    torch.manual_seed(0)
    save_policy(ImpalaPolicy(), path, {"env": "maze-topright-5-easy"})
    assert main(["goals", "--policy", str(path), "--env", "maze-anywhere-easy", "--mazes",
                 "4", "--json", str(tmp_path / "g.json"), "--csv", str(tmp_path / "g.csv"),
                 "--no-progress"]) == 0
    out = json.loads((tmp_path / "g.json").read_text())
    lines = (tmp_path / "g.csv").read_text().splitlines()
    assert lines[0] == "level_seed,cell,d_cheese,d_corner,p_cheese,p_corner,choice"
    assert out["cells"] == len(lines) - 1 > 0
    assert sum(b["cells"] for b in out["by_cheese_distance"]) == out["cells"]
    assert out["settings"]["level_seeds"] == [0, 3]


@pytest.mark.parametrize("walker, goal", [("cheese-walker", "cheese"),
                                          ("top-right-walker", "corner")])
def test_goals_command_takes_scripted_walkers_as_baselines(tmp_path, walker, goal, states):
    """A walker heads for its own goal at every cell where the goals part, and its cells
    are the geometry's."""
    import json

    from mazepolicy.cli import main

    out = tmp_path / "g.json"
    assert main(["goals", "--policy", walker, "--env", "maze-anywhere", "--mazes",
                 str(len(states)), "--json", str(out), "--no-progress"]) == 0
    shares = json.loads(out.read_text())
    assert shares[goal]["rate"] == 1.0 and shares["policy_sha256"] is None
    assert shares["cells"] == len(goal_choices(ConstantPolicy(RIGHT), states)) > 0


def test_goals_command_refuses_the_random_agent(capsys):
    from mazepolicy.cli import main

    assert main(["goals", "--policy", "random", "--mazes", "1", "--no-progress"]) == 2
    assert "no most likely move" in capsys.readouterr().err


def test_sweep_lines_pass_through_the_unsteered_point_one_line_per_vector():
    """``steer --coeffs -1 1`` draws one line through the unsteered point at 0; the demo's
    cheese (-1) and top-right (+1) rows are two lines, each from the unsteered point."""
    from mazepolicy.viz.plots import sweep_lines

    def row(coeff, rate, vector=None):
        r = {"layer": "L" if coeff else "", "coeff": coeff, "cheese_rate": rate,
             "cheese_ci": (rate / 2, rate * 2)}
        return r if vector is None else {**r, "vector": vector}

    steer = {"vector": {"kind": "cheese"}, "rows": [row(0.0, 0.5), row(1.0, 0.3),
                                                    row(-1.0, 0.8)]}
    assert sweep_lines(steer, "cheese") == {"cheese at L": [
        (-1.0, 0.8, 0.4, 1.6), (0.0, 0.5, 0.25, 1.0), (1.0, 0.3, 0.15, 0.6)]}
    demo = {"vector": {"kind": "cheese and top-right"},
            "rows": [row(0.0, 0.5, "none"), row(-1.0, 0.8, "cheese"),
                     row(1.0, 0.2, "top-right")]}
    lines = sweep_lines(demo, "cheese")
    assert lines == {"cheese at L": [(-1.0, 0.8, 0.4, 1.6), (0.0, 0.5, 0.25, 1.0)],
                     "top-right at L": [(0.0, 0.5, 0.25, 1.0), (1.0, 0.2, 0.1, 0.4)]}


def test_load_policy_takes_a_shipped_name():
    from mazepolicy.models.checkpoint import load_policy
    from mazepolicy.resources import checkpoint_path

    by_name, card = load_policy("maze-topright-5_impala-s1")
    by_path, _ = load_policy(checkpoint_path("maze-topright-5_impala-s1"))
    assert card["name"] == "maze-topright-5_impala-s1"
    for (key, a), b in zip(by_name.state_dict().items(), by_path.state_dict().values(),
                           strict=True):
        assert torch.equal(a, b), key


def test_readme_python_example_runs_outside_the_repository(tmp_path):
    """The README's steering example, run where no ``checkpoints/`` folder exists (as
    from a wheel), with its episode count cut to keep the test fast."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Steering and measurement"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "checkpoints/" not in code
    code = code.replace("episodes=200", "episodes=4")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_map_correlation_finds_a_planted_cheese_channel(policy, states):
    from mazepolicy.interp.channels import (
        cheese_tracking_channels,
        map_correlation,
        window_maps,
    )

    gen = torch.Generator().manual_seed(0)
    positions = torch.randint(0, 8, (40, 2), generator=gen)
    targets = window_maps(positions, 8)
    acts = torch.randn(40, 4, 8, 8, generator=gen)
    acts[:, 2] += 3.0 * targets  # channel 2 lights up around the cheese
    acts[:, 0] += 3.0 * window_maps((positions + 4) % 8, 8)  # channel 0 somewhere else
    corr = map_correlation(acts, targets)
    assert corr[2] > 0.6 and corr[0] < 0.1 and abs(corr[1]) < 0.1
    scores = cheese_tracking_channels(policy, states[:2], LAYER, cells_per_maze=3)
    assert scores["correlation"].shape == scores["null_correlation"].shape == (32,)
    assert (scores["correlation"].abs() <= 1).all()


def test_steering_experiment_checks_layers_before_any_rollout(policy, monkeypatch):
    import mazepolicy.interp.steer as steer

    monkeypatch.setattr(steer, "evaluate", lambda *a, **k: pytest.fail("rolled out"))
    with pytest.raises(KeyError, match="unknown hook point 'embedder.nope'"):
        steer.steering_experiment(policy, "cheese", ["embedder.nope"], [-1.0], Anywhere(),
                                  episodes=2, distribution_mode="easy", progress=False)


def test_steering_experiment_without_eligible_mazes_reports_no_change(policy):
    """Cheese in the top-right corner: the paths to cheese and corner never diverge, so no
    maze is eligible and the paired change is undefined (NaN), not an error."""
    from mazepolicy.envs import TopRightRegion
    from mazepolicy.interp.steer import steering_experiment

    table = steering_experiment(policy, "cheese", [LAYER], [-1.0], TopRightRegion(0),
                                episodes=2, distribution_mode="easy", max_steps=10,
                                num_envs=2, progress=False)
    steered = table["rows"][1]
    assert steered["eligible_episodes"] == 0 and steered["episodes"] == 2
    assert np.isnan(steered["misgeneralization_change"]) and np.isnan(steered["mcnemar_p"])
