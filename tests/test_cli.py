"""The command line end to end, on scripted agents and a small untrained checkpoint."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest
import torch

from mazepolicy.cli import main
from mazepolicy.models.checkpoint import save_policy
from mazepolicy.models.impala import ImpalaPolicy


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "policy.safetensors"
    save_policy(
        ImpalaPolicy(),
        path,
        {
            "env": "maze-topright-5-easy",
            "global_step": 0,
            "config": {"eval_env": "maze-anywhere-easy"},
        },
    )
    return path


def test_evaluate_scripted_walker_json(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--policy",
                "top-right-walker",
                "--env",
                "maze-anywhere-easy",
                "--episodes",
                "12",
                "--json",
                str(out),
                "--csv",
                str(tmp_path / "e.csv"),
                "--no-progress",
            ]
        )
        == 0
    )
    summary = json.loads(out.read_text())["summary"]
    for key in (
        "episodes",
        "cheese_rate",
        "top_right_rate",
        "misgeneralization_rate",
        "misgeneralization_ci",
        "eligible_episodes",
    ):
        assert key in summary
    assert summary["episodes"] == 12 and summary["misgeneralization_rate"] == 1.0
    assert json.loads(capsys.readouterr().out)["episodes"] == 12


def test_steer_coefficient_zero_row_equals_unsteered(tmp_path, checkpoint):
    out = tmp_path / "steer.json"
    assert (
        main(
            [
                "steer",
                "--policy",
                str(checkpoint),
                "--env",
                "maze-anywhere-easy",
                "--coeffs",
                "0",
                "-1",
                "--episodes",
                "6",
                "--max-steps",
                "40",
                "--json",
                str(out),
                "--csv",
                str(tmp_path / "s.csv"),
                "--plot",
                str(tmp_path / "s.png"),
                "--no-progress",
            ]
        )
        == 0
    )
    table = json.loads(out.read_text())
    base, zero, minus = table["rows"]
    assert (zero["coeff"], minus["coeff"]) == (0.0, -1.0)
    for key in ("cheese_rate", "top_right_rate", "median_p_cheese"):
        assert zero[key] == base[key]
    assert zero["misgeneralization_change"] == 0.0
    assert (tmp_path / "s.png").stat().st_size > 0


def test_steer_rejects_scripted_agents(tmp_path):
    with pytest.raises(SystemExit, match="scripted"):
        main(["steer", "--policy", "cheese-walker", "--json", str(tmp_path / "x.json")])


def test_vfield_and_rollout(tmp_path, checkpoint, capsys):
    png = tmp_path / "vf.png"
    assert (
        main(
            [
                "vfield",
                "--policy",
                str(checkpoint),
                "--env",
                "maze-anywhere-easy",
                "--seed",
                "3",
                "--out",
                str(png),
                "--json",
                str(tmp_path / "vf.json"),
            ]
        )
        == 0
    )
    assert png.stat().st_size > 0
    field = json.loads((tmp_path / "vf.json").read_text())
    assert field["level_seed"] == 3 and field["unsteered"]
    gif = tmp_path / "r.gif"
    capsys.readouterr()
    assert (
        main(
            [
                "rollout",
                "--policy",
                "cheese-walker",
                "--env",
                "maze-anywhere-easy",
                "--seed",
                "3",
                "--video",
                str(gif),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["reached_cheese"] and not result["timed_out"]
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (256, 256)


def test_demo_writes_table_and_figures(tmp_path, checkpoint):
    assert (
        main(
            [
                "demo",
                "--policy",
                str(checkpoint),
                "--episodes",
                "4",
                "--max-steps",
                "40",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    table = json.loads((tmp_path / "table.json").read_text())
    assert [r["vector"] for r in table["rows"]] == ["none", "cheese", "top-right"]
    for name in ("table.csv", "steering.png", "vfield.png", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0


def test_unknown_command_and_help(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit):
        main(["fly"])


@pytest.mark.parametrize("command", ["evaluate", "train", "steer"])
def test_command_help_is_printed_as_written(command, capsys):
    from mazepolicy.cli import COMMANDS

    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert COMMANDS[command] in out and "%%" not in out
