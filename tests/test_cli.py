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
    # The start and every step's frame, the last one the episode's final frame (the
    # mouse on the cheese): the cheese walker never stands still, so no frame repeats.
    assert len(frames) == result["episode_length"] + 1


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


# ------------------------------------------------ options act or are refused (issue 22, 5)
LAYER2 = "embedder.block2.res1.resadd_out"
LAYER3 = "embedder.block3.res2.resadd_out"


def _vfield_json(tmp_path, checkpoint, name, *extra):
    out = tmp_path / f"{name}.json"
    assert main(["vfield", "--policy", str(checkpoint), "--env", "maze-anywhere-easy",
                 "--seed", "3", "--out", str(tmp_path / f"{name}.png"), "--json", str(out),
                 *extra]) == 0
    return json.loads(out.read_text())


def _field_with(policy, state, vector, coeff=-1.0):
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.vectors import steering

    with steering(policy, [(vector, coeff)]):
        return {f"{x},{y}": list(v) for (x, y), v in move_field(policy, state).items()}


def test_vfield_averaged_uses_the_vector_averaged_over_vector_seeds(tmp_path, checkpoint):
    from mazepolicy.envs import Anywhere
    from mazepolicy.envs.levels import level_states
    from mazepolicy.interp.vectors import cheese_vector
    from mazepolicy.models.checkpoint import load_policy

    policy, _ = load_policy(checkpoint)
    per_maze = _vfield_json(tmp_path, checkpoint, "own")
    averaged = _vfield_json(tmp_path, checkpoint, "avg", "--averaged", "--vector-seeds", "3")
    mean = cheese_vector(policy, level_states(range(3), Anywhere(), "easy"), LAYER2)
    (state,) = level_states([3], Anywhere(), "easy")
    assert averaged["vector"]["level_seeds"] == [0, 1, 2]
    assert per_maze["vector"]["level_seeds"] == [3]
    expected = _field_with(policy, state, mean)
    assert expected.keys() == averaged["steered"].keys()
    for cell, probs in expected.items():
        assert averaged["steered"][cell] == pytest.approx(probs, abs=1e-6), cell
    assert averaged["steered"] != per_maze["steered"]


def test_vfield_and_rollout_use_a_saved_vectors_layer_and_name_it(tmp_path, checkpoint,
                                                                   monkeypatch):
    from mazepolicy.commands.common import steered_agent
    from mazepolicy.envs import Anywhere
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.vectors import cheese_vector
    from mazepolicy.models.checkpoint import load_policy
    from mazepolicy.viz import plots

    policy, _ = load_policy(checkpoint)
    saved = tmp_path / "b3.safetensors"
    cheese_vector(policy, level_states([5], Anywhere(), "easy"), LAYER3).save(saved)
    titles = []
    real = plots.plot_vector_fields
    monkeypatch.setattr(plots, "plot_vector_fields",
                        lambda *a, **k: titles.append(k["titles"]) or real(*a, **k))
    field = _vfield_json(tmp_path, checkpoint, "saved", "--vector", str(saved))
    assert field["vector"]["layer"] == LAYER3
    assert LAYER3 in titles[0][1] and "b3.safetensors" in titles[0][1]
    args = command_parser_args("rollout", "--policy", str(checkpoint), "--vector", str(saved),
                               "--coeff", "-1", "--video", "x.gif")
    agent = steered_agent(args, -1.0, load_variant("maze-anywhere-easy"))
    assert agent.layer == LAYER3


def command_parser_args(command, *argv):
    from mazepolicy.cli import command_parser

    return command_parser(command).parse_args(list(argv))


def test_rollout_averaged_steers_with_the_averaged_vector(checkpoint):
    from mazepolicy.commands.common import steered_agent
    from mazepolicy.envs import Anywhere
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.vectors import cheese_vector

    args = command_parser_args("rollout", "--policy", str(checkpoint), "--coeff", "-1",
                               "--averaged", "--vector-seeds", "4", "--video", "x.gif")
    agent = steered_agent(args, -1.0, load_variant("maze-anywhere-easy"))
    mean = cheese_vector(agent.policy, level_states(range(4), Anywhere(), "easy"), LAYER2)
    assert agent.per_maze is None and torch.allclose(agent.vector, mean.tensor)


@pytest.mark.parametrize("argv, expected", [
    (["vfield", "--layer", LAYER2, LAYER3], ["unrecognized arguments", LAYER3]),
    (["vfield", "--vector-seeds", "5"], ["--vector-seeds acts only with --averaged"]),
    (["vfield", "--policy", "cheese-walker", "--coeff", "1"], ["--coeff", "scripted"]),
    (["vfield", "--policy", "cheese-walker", "--averaged"], ["--averaged", "scripted"]),
    (["rollout", "--vector", "top-right"], ["--vector", "--coeff 0 nothing is steered"]),
    (["rollout", "--coeff", "1", "--layer", LAYER2, LAYER3], ["unrecognized arguments"]),
    (["steer", "--layer", LAYER3, "--vector", "SAVED"], ["--layer", "made at " + LAYER2]),
    (["steer", "--vector", "SAVED", "--averaged"], ["--averaged", "saved vector already"]),
    (["steer", "--coeffs", "1", "1"], ["--coeffs: 1 given twice"]),
    (["steer", "--layer", LAYER2, LAYER2], [f"--layer: {LAYER2} given twice"]),
    (["steer", "--json", ""], ["--json: empty path"]),
    (["evaluate", "--csv", ""], ["--csv: empty path"]),
    (["evaluate", "--policy", "cheese-walker", "--greedy"], ["--greedy", "scripted agent"]),
    (["rollout", "--policy", "random", "--greedy"], ["--greedy", "scripted agent"]),
    (["rollout", "--policy", "cheese-walker", "--fps", "0"], ["--fps", "must be > 0"]),
])
def test_options_that_would_do_nothing_are_refused(argv, expected, tmp_path, checkpoint,
                                                   capsys):
    from mazepolicy.envs import Anywhere
    from mazepolicy.envs.levels import level_states
    from mazepolicy.interp.vectors import cheese_vector
    from mazepolicy.models.checkpoint import load_policy

    saved = tmp_path / "v.safetensors"
    cheese_vector(load_policy(checkpoint)[0], level_states([5], Anywhere(), "easy"),
                  LAYER2).save(saved)
    command, *rest = [str(saved) if a == "SAVED" else a for a in argv]
    defaults = {"vfield": ["--out", str(tmp_path / "v.png")],
                "rollout": ["--video", str(tmp_path / "r.gif")],
                "steer": ["--json", str(tmp_path / "s.json"), "--episodes", "1",
                          "--max-steps", "5", "--no-progress"],
                "evaluate": ["--episodes", "1", "--max-steps", "5"]}[command]
    policy = [] if "--policy" in rest else ["--policy", str(checkpoint)]
    _user_error([command, *policy, "--env", "maze-anywhere-easy", *defaults, *rest], capsys,
                *expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.json", "v.safetensors"]


# ------------------------------------------ output paths checked first (issue 22, 9 and 20)
@pytest.mark.parametrize("argv", [
    ["evaluate", "--policy", "missing.safetensors", "--json", "BAD", "--csv", "OK"],
    ["evaluate", "--policy", "missing.safetensors", "--csv", "DIR"],
    ["steer", "--policy", "missing.safetensors", "--json", "OK", "--plot", "BAD"],
    ["vfield", "--policy", "missing.safetensors", "--out", "BAD"],
    ["vfield", "--policy", "missing.safetensors", "--out", "OK", "--json", "BAD"],
    ["rollout", "--policy", "missing.safetensors", "--coeff", "1", "--video", "BAD.gif"],
    ["agreement", "--policy", "missing.safetensors", "--json", "BAD"],
    ["goals", "--policy", "missing.safetensors", "--csv", "BAD"],
    ["demo", "--policy", "missing.safetensors", "--out", "BAD"],
    ["report", "--policy", "missing.safetensors", "--out", "BAD"],
    ["sae", "analyze", "--policy", "missing.safetensors", "--sae", "s", "--heldout", "h",
     "--json", "BAD"],
])
def test_output_paths_are_checked_before_any_work(argv, tmp_path, capsys):
    """An unwritable output (under a regular file, or a folder given as a file) fails
    first: before the missing policy would be noticed, so before any rollout."""
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    paths = {"BAD": str(tmp_path / "file" / "x.json"), "BAD.gif": str(tmp_path / "file/x.gif"),
             "OK": str(tmp_path / "ok.json"), "DIR": str(tmp_path / "dir")}
    option = argv[argv.index(next(a for a in argv if a in ("BAD", "BAD.gif", "DIR"))) - 1]
    line = _user_error([paths.get(a, a) for a in argv], capsys, option)
    assert "missing" not in line.replace("missing.safetensors", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_a_write_that_fails_late_keeps_the_summary_and_the_other_outputs(tmp_path, capsys,
                                                                         monkeypatch):
    from mazepolicy.eval.evaluate import Evaluation

    def refuse(self, path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Evaluation, "write_json", refuse)
    code = main(["evaluate", "--policy", "random", "--env", "maze-anywhere-easy",
                 "--episodes", "2", "--max-steps", "5", "--json", str(tmp_path / "e.json"),
                 "--csv", str(tmp_path / "e.csv"), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2 and json.loads(out)["episodes"] == 2
    assert (tmp_path / "e.csv").read_text().startswith("level_seed,")
    assert err.strip().splitlines()[-1] == (
        f"mazepolicy evaluate: cannot write {tmp_path / 'e.json'} (Permission denied); "
        "the other outputs were written")


# ------------------------------------------------------ conventions (issue 22, 12, 14, 15)
def test_python_dash_m_mazepolicy_runs_the_command_line():
    import subprocess
    import sys

    import mazepolicy

    done = subprocess.run([sys.executable, "-m", "mazepolicy", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"mazepolicy {mazepolicy.__version__}"


def test_a_reader_that_stops_early_does_not_stop_the_command(tmp_path):
    """``mazepolicy evaluate ... --json X | head -0``: the pipe's reader is gone before the
    summary is printed; the command still exits 0, writes X, and shows no traceback."""
    import json
    import subprocess
    import sys

    out = tmp_path / "eval.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "mazepolicy", "evaluate", "--policy", "cheese-walker",
         "--env", "maze-anywhere-easy", "--episodes", "3", "--no-progress", "--json",
         str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader leaves before the command writes a byte
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, stderr
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr
    assert json.loads(out.read_text())["summary"]["cheese_rate"] == 1.0


def test_importing_dunder_main_runs_nothing():
    """pytest's doctest collection imports every module: ``mazepolicy.__main__`` must not
    run the command line (and exit) on import."""
    import importlib

    assert importlib.import_module("mazepolicy.__main__").main is main


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_shows_each_default_once(command):
    from mazepolicy.cli import command_parser

    parsers = [command_parser(command)]
    for parser in parsers:
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            text = formatter._expand_help(action)
            assert text.count("default") <= 1, (command, action.option_strings, text)
            assert "(default: None)" not in text and "(default: [])" not in text
            if action.default not in (None, [], argparse.SUPPRESS) and action.default is not False:
                assert "default" in text, (command, action.option_strings, text)  # e.g. 0


def test_agreement_hides_its_progress_bar(tmp_path, checkpoint, capsys):
    assert main(["agreement", "--policy", str(checkpoint), "--env", "maze-topright-5-easy",
                 "--mazes", "1", "--no-progress"]) == 0
    assert "cells of each maze" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["evaluate", "steer"])
def test_stdout_is_the_same_valid_json_as_the_file(command, tmp_path, checkpoint, capsys):
    """No maze of the training distribution is eligible: NaN rates are null on stdout."""
    out = tmp_path / "x.json"
    policy = "random" if command == "evaluate" else str(checkpoint)
    extra = ["--coeffs", "1"] if command == "steer" else []
    assert main([command, "--policy", policy, "--env", "maze-topright-5-easy", "--episodes",
                 "2", "--max-steps", "5", "--json", str(out), "--no-progress", *extra]) == 0

    def refuse(name):
        raise AssertionError(f"{name} on stdout")

    printed = json.loads(capsys.readouterr().out, parse_constant=refuse)
    written = json.loads(out.read_text(), parse_constant=refuse)
    assert printed == (written["summary"] if command == "evaluate" else written["rows"])
    first = printed if command == "evaluate" else printed[0]
    assert first["misgeneralization_rate"] is None


@pytest.mark.parametrize("command, scripted", [
    ("evaluate", True), ("vfield", True), ("rollout", True), ("goals", True),
    ("steer", False), ("agreement", False), ("demo", False), ("report", False),
])
def test_policy_help_says_whether_scripted_agents_are_taken(command, scripted, capsys):
    from mazepolicy.cli import command_parser

    (action,) = [a for a in command_parser(command)._actions if "--policy" in a.option_strings]
    assert ("cheese-walker" in action.help) == scripted, action.help


def test_agreement_refuses_a_scripted_walker_in_one_line(capsys):
    _user_error(["agreement", "--policy", "cheese-walker", "--mazes", "1", "--no-progress"],
                capsys, "scripted agent: this needs a network")


@pytest.mark.parametrize("argv, expected", [
    (["report", "--policy", "p.safetensors", "--only", "channels", "channels"],
     "--only: channels given twice"),
    (["export", "--run", "r", "--name", "n", "--status", "s", "--env", "maze-anywhere",
      "maze-anywhere"], "--env: maze-anywhere given twice"),
    (["sae", "analyze", "--policy", "p.safetensors", "--sae", "a", "a", "--heldout", "h",
      "--json", "x.json"], "--sae: a given twice"),
])
def test_a_repeated_value_is_refused_not_run_twice(argv, expected, tmp_path, monkeypatch,
                                                   capsys):
    monkeypatch.chdir(tmp_path)
    _user_error(argv, capsys, expected)
    assert not list(tmp_path.iterdir())


def test_demo_says_why_no_maze_is_eligible(tmp_path, checkpoint, capsys):
    variant = tmp_path / "huge-region.toml"
    variant.write_text('distribution_mode = "easy"\ncheese = "anywhere"\nregion = 40\n')
    assert main(["demo", "--policy", str(checkpoint), "--env", str(variant), "--episodes", "2",
                 "--max-steps", "5", "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "nan" not in summary and "| n/a |" in summary
    assert ("0 eligible (cheese outside the top-right 40x40 region, paths to cheese and "
            "corner diverge); no maze is eligible for measuring goal misgeneralization: 2 of "
            "2 have the cheese in the top-right 40x40 region") in summary
    assert "note: no maze is eligible" in capsys.readouterr().err


def test_steer_plot_names_the_saved_vector_and_its_layer(tmp_path, checkpoint, monkeypatch):
    from mazepolicy.envs import Anywhere
    from mazepolicy.envs.levels import level_states
    from mazepolicy.interp.vectors import cheese_vector
    from mazepolicy.models.checkpoint import load_policy
    from mazepolicy.viz import plots

    saved = tmp_path / "b3.safetensors"
    cheese_vector(load_policy(checkpoint)[0], level_states([5], Anywhere(), "easy"),
                  LAYER3).save(saved)
    drawn = []
    monkeypatch.setattr(plots, "plot_sweep", lambda table, path, title: drawn.append(
        (plots.sweep_lines(table, "cheese"), title)))
    assert main(["steer", "--policy", str(checkpoint), "--env", "maze-anywhere-easy",
                 "--vector", str(saved), "--coeffs", "1", "--episodes", "1", "--max-steps",
                 "5", "--json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "s.png"),
                 "--no-progress"]) == 0
    ((lines, title),) = drawn
    assert list(lines) == [f"cheese at {LAYER3}"] and "b3.safetensors" in title


def test_vfield_of_the_random_agent_is_uniform_not_a_walkers(tmp_path):
    """Each move's probability is its share of the 15 actions (the random agent was once
    drawn as the top-right walker)."""
    from mazepolicy.envs.actions import ACTION_DELTAS
    from mazepolicy.interp.probes import MOVES

    out = tmp_path / "r.json"
    assert main(["vfield", "--policy", "random", "--env", "maze-anywhere-easy", "--seed", "3",
                 "--out", str(tmp_path / "r.png"), "--json", str(out)]) == 0
    shares = [sum(tuple(d) == move for d in ACTION_DELTAS) / len(ACTION_DELTAS)
              for move in MOVES]
    field = json.loads(out.read_text())
    assert field["unsteered"] and all(p == pytest.approx(shares)
                                      for p in field["unsteered"].values())


@pytest.mark.parametrize("command, options", [("evaluate", ["--json", "--csv"]),
                                              ("steer", ["--json", "--plot"]),
                                              ("vfield", ["--out", "--json"])])
def test_two_outputs_naming_one_file_are_refused(command, options, tmp_path, capsys):
    same = str(tmp_path / "x.out")
    argv = [command, "--policy", "missing.safetensors"]
    for option in options:
        argv += [option, same]
    _user_error(argv, capsys, f"{options[0]} and {options[1]} both name {same}")
    assert not list(tmp_path.iterdir())
