"""The report's experiments against ground truth: exact identities (coefficient 0,
patching a whole layer), planted regressions, scripted rollouts with known outcomes,
and the whole report on a tiny policy."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs import RIGHT, Anywhere
from mazepolicy.envs.geometry import decision_square, free_cells, shortest_path
from mazepolicy.envs.levels import level_states
from mazepolicy.eval.covariates import logistic_regression, rates_in_bins
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.interp.channels import cell_position, channel_patch_effects
from mazepolicy.interp.probes import (
    action_probabilities,
    goal_choices,
    move_probability,
)
from mazepolicy.interp.retarget import ChannelClamp, MovedCheeseVector, retargeting_rollouts
from mazepolicy.interp.steer import composition_experiment
from mazepolicy.interp.transfer import vector_transfer
from mazepolicy.interp.vectors import activations
from mazepolicy.models.checkpoint import save_policy
from mazepolicy.models.impala import ImpalaPolicy

LAYER = "embedder.block2.res1.resadd_out"
EASY = "maze-anywhere-easy"


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(1)
    return ImpalaPolicy().eval()


@pytest.fixture(scope="module")
def states():
    return level_states(range(8), Anywhere(), "easy")


def test_rates_in_bins_counts_exactly():
    rows = rates_in_bins([5, 1, 3, 3, 9, 7], [True, False, True, True, False, False], bins=2)
    assert [(r["low"], r["high"], r["n"], r["successes"]) for r in rows] == [
        (1.0, 3.0, 3, 2), (5.0, 9.0, 3, 1)]
    assert rows[0]["ci"][0] < 2 / 3 < rows[0]["ci"][1]
    with pytest.raises(ValueError, match="differ in shape"):
        rates_in_bins([1, 2], [True])


def test_logistic_regression_recovers_planted_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = rng.random(4000) < 1 / (1 + np.exp(-(0.5 + 1.5 * x[:, 0] - 1.0 * x[:, 1])))
    fit = logistic_regression(x, y, ["a", "b"])
    sd = x.std(axis=0)  # coefficients are per standard deviation
    for name, planted, s in (("a", 1.5, sd[0]), ("b", -1.0, sd[1])):
        lo, hi = fit["ci"][name]
        assert lo < planted * s < hi
    with pytest.raises(ValueError, match="one value"):
        logistic_regression(x, np.ones(4000), ["a", "b"])
    with pytest.raises(ValueError, match="constant"):
        logistic_regression(np.ones((10, 1)), np.arange(10) % 2, ["c"])


def test_vector_transfer_at_coefficient_zero_changes_nothing(policy, states):
    result = vector_transfer(policy, states, LAYER, coeff=0.0)
    assert result["mazes"]
    unsteered = {m["level_seed"]: m["p_cheese_unsteered"] for m in result["mazes"]}
    for m in result["mazes"]:
        assert m["p_cheese_own_vector"] == pytest.approx(m["p_cheese_unsteered"], abs=1e-6)
    for pair in result["pairs"]:
        assert pair["p_cheese"] == pytest.approx(unsteered[pair["target"]], abs=1e-6)


def test_patching_the_whole_layer_equals_removing_the_cheese(policy, states):
    """Everything after a residual output depends on it alone, so patching all of it
    from the no-cheese frame gives that frame's probabilities exactly."""
    result = channel_patch_effects(policy, states, LAYER, channels=[0, 5])
    probes, blanks, moves = [], [], []
    for state in states:
        square = decision_square(state.free, state.cheese_cell)
        if square is None:
            continue
        step = shortest_path(state.free, square, state.cheese_cell)[1]
        probe = state.with_mouse(square)
        blank = probe.copy()
        blank.set_cheese(None)
        probes.append(probe)
        blanks.append(blank)
        moves.append((step[0] - square[0], step[1] - square[1]))
    p_blank = [move_probability(p[None], m)[0]
               for p, m in zip(action_probabilities(policy, blanks), moves, strict=True)]
    assert result["mazes"] == len(probes) > 0
    assert result["median_p_cheese_layer_patched"] == pytest.approx(np.median(p_blank),
                                                                    abs=1e-5)
    assert [r["channel"] for r in result["channels"]] == [0, 5]


def test_channel_clamp_writes_one_cell_per_assigned_slot(states):
    clamp = ChannelClamp(channel=2, value=5.5)
    clamp.reset(3, (4, 5, 5))
    clamp.positions[:] = torch.tensor([[0, 1], [4, 4], [-1, -1]])  # slot 2 unassigned
    acts = torch.zeros(3, 4, 5, 5)
    out = clamp(acts)
    assert out[0, 2, 0, 1] == 5.5 and out[1, 2, 4, 4] == 5.5
    assert out.sum() == 11.0  # nothing else changed; slot 2 left alone
    state = states[0]
    clamp.assign(0, (state, (0, 0)))  # the start cell: bottom-left of the map
    row, col = clamp.positions[0].tolist()
    assert (row, col) == cell_position((0, 0), state.maze_dim, state.world_dim, 5)
    clamp.assign(0, None)
    assert clamp.positions[0].tolist() == [-1, -1]
    with pytest.raises(ValueError, match="channel 9"):
        ChannelClamp(9, 1.0).reset(1, (4, 5, 5))


def test_moved_cheese_vector_is_zero_when_the_cheese_stays_and_the_contrast_otherwise(
        policy, states):
    state = next(s for s in states if s.cheese_cell is not None)
    edit = MovedCheeseVector(policy, LAYER, coeff=2.0)
    edit.reset(2, tuple(policy.hook_names()[LAYER]))
    target = next(c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell))
    edit.assign(0, (state, state.cheese_cell))  # moved onto itself: no change
    edit.assign(1, (state, target))
    moved = state.copy()
    moved.set_cheese(target)
    a = activations(policy, [moved, state], LAYER)
    acts = torch.randn(2, *a.shape[1:])
    out = edit(acts)
    assert torch.equal(out[0], acts[0])
    assert torch.allclose(out[1], acts[1] + 2.0 * (a[0] - a[1]), atol=1e-6)
    edit.assign(1, None)
    assert torch.equal(edit(acts), acts)
    with pytest.raises(ValueError, match="bogus"):
        MovedCheeseVector(policy, "bogus")


def test_retargeting_outcomes_of_an_agent_that_always_moves_right(policy, states):
    """With the logits forced to RIGHT, a target along the start row's corridor is
    reached after exactly its x steps, and a target above the start never is."""
    state = next(s for s in states if s.free[0, 1] and s.free[1, 0]
                 and s.cheese_cell not in ((1, 0), (0, 1)))
    forced = torch.full((15,), -1e4)
    forced[RIGHT] = 0.0
    with policy.hooks({"fc_policy_out": lambda logits: forced.expand_as(logits)}):
        rows = retargeting_rollouts(policy, [(state, (1, 0)), (state, (0, 1))], LAYER,
                                    ChannelClamp(channel=3, value=5.5), max_steps=6,
                                    distribution_mode="easy", num_envs=2)
    right, up = rows
    assert (right["success"], right["steps"]) == (True, 1)
    assert right["baseline_success"] and right["baseline_steps"] == 1
    assert (up["success"], up["steps"]) == (False, 6)
    with pytest.raises(ValueError, match="cheese cell"):
        retargeting_rollouts(policy, [(state, state.cheese_cell)], LAYER,
                             ChannelClamp(3, 5.5), 6, distribution_mode="easy")


def test_composition_with_zero_coefficients_equals_unsteered(policy):
    table = composition_experiment(policy, [("cheese", 0.0), ("top-right", 0.0)], LAYER,
                                   EASY, episodes=4, max_steps=30, progress=False)
    base, composed = table["rows"]
    for key in ("cheese_rate", "top_right_rate", "median_p_cheese"):
        assert composed[key] == pytest.approx(base[key], abs=1e-6, nan_ok=True)
    assert composed["misgeneralization_change"] in (0.0,) or np.isnan(
        composed["misgeneralization_change"])


def test_report_command_writes_numbers_that_match_the_evaluator(tmp_path, policy, capsys):
    from mazepolicy.cli import main

    path = tmp_path / "tiny.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5-easy"})
    out = tmp_path / "report"
    assert main(["report", "--policy", str(path), "--control", str(path), "--size", "smoke",
                 "--env", EASY, "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results" / "misgeneralization.json").read_text())
    direct = evaluate(PolicyAgent(policy, seed=0), EASY, episodes=6, num_envs=4,
                      max_steps=40, progress=False).summary()
    for label in ("policy", "control"):  # the same network: the same outcomes
        assert results["summaries"][label]["cheese_rate"] == direct["cheese_rate"]
        assert results["summaries"][label]["mean_steps"] == direct["mean_steps"]
    assert results["paired"]["cheese_all"]["only_a"] == 0
    goals = results["goal_choices"]
    states = level_states(range(3), Anywhere(), "easy")  # the smoke size's goal mazes
    assert goals["policy"] == goals["control"]
    assert goals["policy"]["cells"] == len(goal_choices(policy, states)) > 0
    assert results["goal_choices_paired"]["mean"] == 0.0
    text = (out / "report.md").read_text()
    meta = json.loads((out / "results" / "meta.json").read_text())
    assert meta["config"]["misgeneralization_episodes"] == 6
    assert meta["command"].startswith(f"mazepolicy report --policy {path} --control {path}")
    assert f"`{meta['command']}`" in text
    assert f"| policy | {goals['policy']['cells']} ({goals['policy']['mazes']}) |" in text
    for name in json.loads((out / "results" / "channels.json").read_text())["figures"]:
        assert f"figures/{name}" in text and (out / "figures" / name).stat().st_size > 0
    notes = tmp_path / "notes.md"
    notes.write_text("## Why they differ\n\nBecause of scale.\n")
    assert main(["report", "--policy", str(path), "--out", str(out), "--notes", str(notes),
                 "--render-only"]) == 0
    assert (out / "report.md").read_text() == text + "\n" + notes.read_text()
    before = {p.name: p.read_text() for p in (out / "results").iterdir()}
    assert main(["report", "--policy", str(path), "--control", str(path), "--size", "smoke",
                 "--env", EASY, "--out", str(out), "--only", "vector_fields",
                 "--no-progress"]) == 0
    after = {p.name: p.read_text() for p in (out / "results").iterdir()}
    assert {k for k in before if before[k] != after[k]} == {"meta.json"}  # seeded: same
    rerun = json.loads(after["meta.json"])["reruns"]
    assert rerun[0]["sections"] == ["vector_fields"]
    assert f"`{rerun[0]['command']}`" in (out / "report.md").read_text()
    assert main(["report", "--policy", str(path), "--control", str(path), "--size", "smoke",
                 "--env", EASY, "--out", str(out), "--seed", "5", "--only", "channels"]) == 2
    no_control = ["report", "--policy", str(path), "--size", "smoke", "--env", EASY, "--out",
                  str(out), "--no-progress", "--only"]
    assert main([*no_control, "channels"]) == 2  # the control changes section 1 only
    assert main([*no_control, "misgeneralization"]) == 0
    results = json.loads((out / "results" / "misgeneralization.json").read_text())
    assert set(results["summaries"]) == {"policy"} and "paired" not in results
    meta = json.loads((out / "results" / "meta.json").read_text())
    assert meta["control"] is None and meta["config"]["control"] is None
    assert meta["reruns"][-1]["sections"] == ["misgeneralization"]
    assert meta["policy_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["control_sha256"] is None
    torch.manual_seed(2)
    save_policy(ImpalaPolicy(), path, {"env": "maze-topright-5-easy"})  # new weights
    assert main([*no_control, "channels"]) == 2
    assert "other weights of" in capsys.readouterr().err


def test_report_refuses_unknown_layers_and_variants(tmp_path, policy, capsys):
    from mazepolicy.cli import main

    path = tmp_path / "tiny.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5-easy"})
    base = ["report", "--policy", str(path), "--size", "smoke", "--out", str(tmp_path / "o")]
    assert main([*base, "--layer", "embedder.nope"]) == 2
    assert "embedder.nope" in capsys.readouterr().err
    assert main([*base, "--env", "maze-nowhere"]) == 2
    assert "maze-nowhere" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main([*base, "--render-only"]) == 2  # nothing to render yet
    assert "run the report first" in capsys.readouterr().err
    assert main([*base, "--render-only", "--only", "channels", "--resume"]) == 2
    assert "--only --resume: --render-only runs no experiment" in capsys.readouterr().err


def test_a_stopped_report_keeps_its_sections_and_resume_finishes_it(tmp_path, policy,
                                                                    monkeypatch):
    """Killed in section 5: sections 1-4 are on disk and listed as done; ``--only`` and
    ``--render-only`` say to finish it; ``--resume`` runs sections 5 and 6 alone and gives
    the numbers of an uninterrupted run. The variant's region (40) covers every maze, so
    the report says why its misgeneralization rates are n/a (issue 22, items 3 and 6)."""
    from mazepolicy.cli import main
    from mazepolicy.report import experiments
    from mazepolicy.report.config import EXPERIMENTS, PRESETS

    monkeypatch.setitem(PRESETS, "smoke", {**PRESETS["smoke"], "sweep_layers": (LAYER,),
                                           "misgeneralization_episodes": 4, "goal_mazes": 2,
                                           "vector_mazes": 3, "steer_episodes": 2,
                                           "transfer_mazes": 2, "retarget_mazes": 1,
                                           "heatmap_seed": 0, "max_steps": 20})
    path = tmp_path / "tiny.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5-easy"})
    variant = tmp_path / "huge-region.toml"
    variant.write_text('distribution_mode = "easy"\ncheese = "anywhere"\nregion = 40\n')
    base = ["report", "--policy", str(path), "--size", "smoke", "--env", str(variant),
            "--no-progress", "--out"]
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main([*base, str(whole)]) == 0

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    retargeting = experiments.retargeting_section
    monkeypatch.setattr(experiments, "retargeting_section", killed)
    with pytest.raises(KeyboardInterrupt):
        main([*base, str(stopped)])
    meta = json.loads((stopped / "results" / "meta.json").read_text())
    assert meta["sections_done"] == list(EXPERIMENTS[:4])
    assert sorted(p.name for p in (stopped / "results").iterdir()) == sorted(
        [f"{name}.json" for name in EXPERIMENTS[:4]] + ["meta.json"])
    assert not (stopped / "report.md").exists()
    assert main([*base, str(stopped), "--only", "channels"]) == 2
    assert main(["report", "--policy", str(path), "--out", str(stopped), "--render-only"]) == 2

    def measured_again(*args, **kwargs):
        raise AssertionError("a section already done was measured again")

    monkeypatch.setattr(experiments, "retargeting_section", retargeting)
    for name in ("misgeneralization", "cheese_vector_section", "top_right_section",
                 "channels_section"):
        monkeypatch.setattr(experiments, name, measured_again)
    assert main([*base, str(stopped), "--resume"]) == 0
    for name in EXPERIMENTS:
        assert (json.loads((stopped / "results" / f"{name}.json").read_text())
                == json.loads((whole / "results" / f"{name}.json").read_text())), name
    meta = json.loads((stopped / "results" / "meta.json").read_text())
    assert meta["sections_done"] == list(EXPERIMENTS)
    assert meta["reruns"][-1]["sections"] == ["retargeting", "vector_fields"]
    assert meta["reruns"][-1]["resumed"] and meta["reruns"][-1]["command"].endswith("--resume")
    text = (stopped / "report.md").read_text()
    assert f"measured on resuming with `{meta['reruns'][-1]['command']}`" in text
    assert ("policy: no maze is eligible for measuring goal misgeneralization: 4 of 4 have "
            "the cheese in the top-right 40x40 region") in text
    assert "top-right 40x40 region and the paths" in text


@pytest.mark.slow
def test_report_smoke_on_the_shipped_policies_takes_what_the_readme_says(tmp_path):
    """The README's time for ``report --size smoke`` (shipped policy and control, one
    thread per process, as measured) holds, within a factor of 2 for a busier machine."""
    import os
    import re
    import subprocess
    import sys
    import time
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    stated = re.search(r"`--size smoke` about (\d+) s", readme)
    assert stated, "the README states no time for --size smoke"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mazepolicy", "report", "--policy", "maze-topright-5_impala-s1",
         "--control", "maze-anywhere_impala-s1", "--size", "smoke", "--out",
         str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-2000:]
    assert seconds <= 2 * int(stated.group(1)), seconds
