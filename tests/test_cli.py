"""The command line end to end, on scripted agents and a small untrained checkpoint."""

from __future__ import annotations

import argparse
import json

import imageio.v3 as iio
import pytest
import torch

from mazepolicy.cli import COMMANDS, main
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


def test_steer_rejects_scripted_agents(tmp_path, capsys):
    _user_error(["steer", "--policy", "cheese-walker", "--json", str(tmp_path / "x.json")],
                capsys, "scripted agent: this needs a network")


def test_shipped_checkpoint_by_name(capsys):
    assert main(["evaluate", "--policy", "maze-topright-5-easy_impala-s1", "--env",
                 "maze-anywhere-easy", "--episodes", "2", "--max-steps", "10",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["agent"] == "maze-topright-5-easy_impala-s1"
    _user_error(["evaluate", "--policy", "maze-nosuch_impala-s1"], capsys,
                "neither a scripted agent")


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
    assert "docs/report.md" in (tmp_path / "summary.md").read_text()


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


def _user_error(argv, capsys, *expected):
    """``argv`` fails with exit status 2 and one stderr line holding ``expected``."""
    with pytest.raises(SystemExit) as stop:  # argparse's own errors exit 2 too
        code = main(argv)
        raise SystemExit(code)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    last = err[-1]
    for text in expected:
        assert text in last, last
    return last


@pytest.mark.parametrize("argv, expected", [
    (["evaluate", "--policy", "missing.safetensors", "--episodes", "1"], ["missing"]),
    (["evaluate", "--policy", "random", "--env", "maze-nowhere", "--episodes", "1"],
     ["unknown env variant 'maze-nowhere'"]),
    (["evaluate", "--policy", "random", "--episodes", "0"], ["--episodes", ">= 1"]),
    (["evaluate", "--policy", "random", "--seed", "-1"], ["--seed", ">= 0"]),
    (["steer", "--policy", "cheese-walker", "--json", "x.json", "--coeffs", "nan"],
     ["--coeffs", "finite"]),
    (["vfield", "--policy", "cheese-walker", "--out", "x.png", "--coeff", "inf"],
     ["--coeff", "finite"]),
    (["train", "--agent", "no-such-recipe", "--out", "runs/x"], ["unknown recipe"]),
])
def test_user_errors_are_one_line_without_traceback(argv, expected, capsys):
    _user_error(argv, capsys, *expected)


def test_checkpoint_errors_are_one_line(tmp_path, checkpoint, capsys):
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(b"not weights")
    (tmp_path / "bad.json").write_text((checkpoint.with_suffix(".json")).read_text())
    _user_error(["evaluate", "--policy", str(corrupt), "--episodes", "1"], capsys, "bad")
    _user_error(["evaluate", "--policy", str(checkpoint), "--device", "banana",
                 "--episodes", "1"], capsys, "banana")


def test_unknown_vector_or_layer_fails_before_any_rollout(tmp_path, checkpoint, capsys):
    out = tmp_path / "steer.json"
    _user_error(["steer", "--policy", str(checkpoint), "--env", "maze-anywhere-easy",
                 "--vector", "nosuch", "--coeffs", "1", "--episodes", "2", "--json", str(out),
                 "--no-progress"], capsys, "unknown vector 'nosuch'")
    assert not out.exists()
    _user_error(["rollout", "--policy", str(checkpoint), "--env", "maze-anywhere-easy",
                 "--vector", "nosuch", "--coeff", "1", "--video", str(tmp_path / "r.gif")],
                capsys, "unknown vector 'nosuch'")
    assert not (tmp_path / "r.gif").exists()
    _user_error(["steer", "--policy", str(checkpoint), "--env", "maze-anywhere-easy",
                 "--layer", "embedder.nope", "--episodes", "2", "--json", str(out),
                 "--no-progress"], capsys, "embedder.nope")
    assert not out.exists()


def test_rollout_refuses_unknown_video_suffixes_before_rolling_out(tmp_path, capsys):
    _user_error(["rollout", "--policy", "cheese-walker", "--env", "maze-anywhere-easy",
                 "--video", str(tmp_path / "x.avi")], capsys, "unknown video suffix '.avi'")
    assert not list(tmp_path.iterdir())


def test_bad_recipe_and_variant_files_are_one_line(tmp_path, capsys):
    recipe = tmp_path / "broken.toml"
    recipe.write_text("lr = [unclosed\n")
    _user_error(["train", "--agent", str(recipe), "--out", str(tmp_path / "run")], capsys,
                "cannot read recipe", "broken.toml")
    variant = tmp_path / "odd.toml"
    variant.write_text('distribution_mode = "medium"\n')
    _user_error(["evaluate", "--policy", "random", "--env", str(variant), "--episodes", "1"],
                capsys, "distribution_mode")


def test_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="maze-nowhere"):
        main(["--debug", "evaluate", "--policy", "random", "--env", "maze-nowhere"])


def test_train_resume_without_a_checkpoint_fails(tmp_path, capsys):
    for out in (tmp_path / "missing", tmp_path):
        _user_error(["train", "--agent", "ppo-tiny", "--out", str(out), "--resume",
                     "--no-progress"], capsys, "no checkpoint to resume")
        _user_error(["train", "--agent", "dagger-tiny", "--out", str(out), "--resume",
                     "--no-progress"], capsys, "no checkpoint to resume")
    assert not (tmp_path / "missing").exists()


def test_train_set_flags_accumulate():
    """``--set a=1 --set b=2`` keeps both overrides (a repeated flag once dropped the first)."""
    from mazepolicy.cli import command_parser

    args = command_parser("train").parse_args(["--agent", "dagger-tiny", "--out", "x",
                                      "--set", "total_frames=1024", "lr=1e-3",
                                      "--set", "eval_every=40"])
    assert args.set == ["total_frames=1024", "lr=1e-3", "eval_every=40"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_with_its_default(command, capsys):
    from mazepolicy.cli import command_parser

    parsers = [([command], command_parser(command))]
    for argv, parser in parsers:  # a command with actions (sae) adds their parsers
        for action in parser._actions:
            assert action.help, f"{argv} {action.option_strings} has no help"
            if isinstance(action, argparse._SubParsersAction):
                parsers += [([*argv, name], sub) for name, sub in action.choices.items()]
    for argv, parser in parsers:
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        out = capsys.readouterr().out
        for action in parser._actions:
            if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
                assert "(default:" in out, (argv, action.option_strings)


def test_evaluate_json_records_its_settings(tmp_path):
    out = tmp_path / "e.json"
    assert main(["evaluate", "--policy", "random", "--env", "maze-anywhere-easy",
                 "--episodes", "3", "--num-envs", "2", "--max-steps", "20", "--json", str(out),
                 "--no-progress"]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert (summary["num_envs"], summary["max_steps"], summary["episodes"]) == (2, 20, 3)
    assert summary["env"] == "maze-anywhere-easy" and summary["policy"] == "random"
