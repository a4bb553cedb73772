"""Evaluator and statistics against scripted agents with known outcomes."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs import Anywhere, TopRightRegion
from mazepolicy.envs.actions import NOOP
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.eval.stats import Rate, mcnemar_exact_p, paired_comparison, wilson_interval
from mazepolicy.models.impala import ImpalaPolicy
from tests.conftest import ConstantPolicy


@pytest.fixture(scope="module")
def walker_results():
    """Both walkers on the same 24 seeded test mazes (easy mode keeps timeouts short)."""
    kwargs = dict(
        env=Anywhere(),
        episodes=24,
        seed=100,
        distribution_mode="easy",
        num_envs=8,
        progress=False,
    )
    return (
        evaluate(make_scripted_agent("top-right-walker"), **kwargs),
        evaluate(make_scripted_agent("cheese-walker"), **kwargs),
    )


def test_top_right_walker_misgeneralizes_always_cheese_walker_never(walker_results):
    top, cheese = walker_results
    s_top, s_cheese = top.summary(), cheese.summary()
    assert s_top["eligible_episodes"] == s_cheese["eligible_episodes"] > 0
    assert s_top["misgeneralization_rate"] == 1.0
    assert s_cheese["misgeneralization_rate"] == 0.0
    assert s_cheese["cheese_rate"] == 1.0
    assert tuple(s_cheese["misgeneralization_ci"]) == wilson_interval(
        0, s_cheese["eligible_episodes"]
    )


def test_episodes_are_the_requested_seeds_and_match_across_agents(walker_results):
    top, cheese = walker_results
    assert [e.level_seed for e in top.episodes] == list(range(100, 124))
    for a, b in zip(top.episodes, cheese.episodes, strict=True):
        assert (a.cheese_x, a.cheese_y, a.eligible) == (b.cheese_x, b.cheese_y, b.eligible)
    assert all(e.steps == e.cheese_distance for e in cheese.episodes)
    # the top-right walker reaches the cheese only when it lies on the way to the corner
    for e in top.episodes:
        if e.eligible:
            assert not e.reached_cheese and e.timed_out


def test_training_distribution_has_no_eligible_mazes():
    result = evaluate(
        make_scripted_agent("cheese-walker"),
        TopRightRegion(5),
        episodes=8,
        seed=0,
        distribution_mode="easy",
        num_envs=4,
        progress=False,
    )
    assert result.summary()["eligible_episodes"] == 0
    assert math.isnan(result.summary()["misgeneralization_rate"])
    in_region = sum(e.cheese_in_region for e in result.episodes)
    assert result.summary()["no_eligible_reason"] == (
        "no maze is eligible for measuring goal misgeneralization: "
        f"{in_region} of 8 have the cheese in the top-right 5x5 region"
        + (f", {8 - in_region} of 8 have no decision square (the paths to the cheese and "
           "the corner never diverge)" if in_region < 8 else ""))


def test_a_region_larger_than_any_maze_says_why_no_maze_is_eligible(tmp_path, capsys):
    """``region = 40`` covers every maze: the summary (stdout and file) and a note on
    stderr say so instead of a bare null rate."""
    import json

    from mazepolicy.cli import main

    variant = tmp_path / "huge-region.toml"
    variant.write_text('distribution_mode = "easy"\ncheese = "anywhere"\nregion = 40\n')
    assert main(["evaluate", "--policy", "cheese-walker", "--env", str(variant),
                 "--episodes", "5", "--json", str(tmp_path / "e.json"), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    largest = max(e["maze_dim"] for e in json.loads((tmp_path / "e.json").read_text())
                  ["episodes"])
    reason = ("no maze is eligible for measuring goal misgeneralization: 5 of 5 have the "
              "cheese in the top-right 40x40 region (it covers every maze played: the "
              f"largest is {largest}x{largest})")
    assert summary["misgeneralization_rate"] is None
    assert summary["no_eligible_reason"] == reason
    assert err.strip() == f"note: {reason}; misgeneralization_rate is null"


def test_mazes_with_eligible_episodes_have_no_reason(walker_results):
    assert walker_results[0].summary()["no_eligible_reason"] is None


def test_json_and_csv_round_trip(walker_results, tmp_path):
    top, _ = walker_results
    top.write_json(tmp_path / "r.json")
    top.write_csv(tmp_path / "r.csv")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["summary"]["episodes"] == 24 and len(data["episodes"]) == 24
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [int(r["level_seed"]) for r in rows] == list(range(100, 124))


def test_wilson_interval_known_values():
    # Wilson 95% interval for 0/10 and 10/10 and 5/10, computed by hand from the formula
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    assert Rate.of(0, 0).ci == (0.0, 1.0)


def test_paired_comparison_and_mcnemar():
    same = paired_comparison([True, False, True], [True, False, True])
    assert same.difference == 0 and same.mcnemar_p == 1.0
    flip = paired_comparison([True] * 12, [False] * 12)
    assert flip.only_a == 12 and flip.difference == -1.0
    assert flip.mcnemar_p == pytest.approx(2 / 2**12)
    assert mcnemar_exact_p(3, 5) == pytest.approx(2 * (1 + 8 + 28 + 56) / 256)
    with pytest.raises(ValueError, match="length"):
        paired_comparison([True], [True, False])


def test_a_network_standing_still_times_out_everywhere():
    still = evaluate(PolicyAgent(ConstantPolicy(NOOP)), "maze-anywhere-easy", episodes=5,
                     seed=3, num_envs=2, max_steps=15, progress=False).summary()
    assert (still["episodes"], still["cheese_rate"], still["top_right_rate"]) == (5, 0, 0)
    assert still["mean_return"] == 0.0 and still["mean_steps"] == 15.0
    assert still["timeout_rate"] == 1.0 and still["cheese_ci"][0] == 0.0


def test_network_evaluation_is_deterministic():
    """Seeded sampling: the same weights give the same per-maze records."""
    torch.manual_seed(0)
    policy = ImpalaPolicy()
    kwargs = dict(episodes=6, seed=11, num_envs=4, max_steps=40, progress=False)
    first = evaluate(PolicyAgent(policy), "maze-topright-5-easy", **kwargs)
    assert first.episodes == evaluate(PolicyAgent(policy), "maze-topright-5-easy",
                                      **kwargs).episodes
    summary = first.summary()
    assert summary["episodes"] == 6
    assert summary["top_right_rate"] == sum(e.top_right_first for e in first.episodes) / 6


def test_per_maze_records_do_not_depend_on_num_envs():
    """A network agent samples from a stream per maze: 1, 4 and 16 envs give the same
    per-maze records."""
    torch.manual_seed(3)
    policy = ImpalaPolicy()
    runs = [evaluate(PolicyAgent(policy, seed=5), "maze-anywhere-easy", episodes=16, seed=40,
                     num_envs=n, max_steps=60, progress=False).episodes for n in (1, 4, 16)]
    assert runs[0] == runs[1] == runs[2]
    assert len({e.steps for e in runs[0]}) > 1  # not all alike: the policy really acts


def test_steered_coefficients_must_be_finite():
    from mazepolicy.agents.steered import SteeredAgent
    from mazepolicy.interp.vectors import SteeringVector, steering

    policy = ImpalaPolicy()
    layer = "embedder.block2.res1.resadd_out"
    vector = SteeringVector(layer, torch.ones(32, 16, 16))
    for bad in (float("nan"), float("inf"), 1e9):
        with pytest.raises(ValueError, match="finite"):
            SteeredAgent(policy, layer, bad, vector=vector.tensor)
        with pytest.raises(ValueError, match="finite"), steering(policy, [(vector, bad)]):
            pass
