"""One writer per run directory, the algorithm a directory belongs to, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mazepolicy.train.common.run_dir import RunDirectory, RunDirectoryInUse
from mazepolicy.train.ppo.trainer import Trainer
from mazepolicy.train.recipes import load_recipe

MAZEPOLICY = [sys.executable, "-m", "mazepolicy"]
HOLD = """
import sys, time
from mazepolicy.train.common.run_dir import RunDirectory
run = RunDirectory(sys.argv[1])
run.claim("mazepolicy-dagger", resume=False)
print("claimed", flush=True)
time.sleep(120)
"""


def hold(out: Path) -> subprocess.Popen:
    """A process that claims ``out`` and keeps it until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "claimed"
    return proc


def test_a_second_writer_is_refused_until_the_first_is_killed(tmp_path):
    out = tmp_path / "run"
    holder = hold(out)
    try:
        with pytest.raises(RunDirectoryInUse, match=f"is being written by process {holder.pid}"):
            RunDirectory(out).claim("mazepolicy-dagger", resume=False)
        result = subprocess.run([*MAZEPOLICY, "train", "--agent", "dagger-tiny", "--out",
                                 str(out), "--no-progress"], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"process {holder.pid}" in lines[0]
        assert not (out / "metrics.jsonl").exists()  # the refused run wrote nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / ".writer.lock").exists()  # a stale lock file does not block
    run = RunDirectory(out)
    assert run.claim("mazepolicy-dagger", resume=False) is None
    run.close()


def test_a_refused_claim_holds_nothing(tmp_path):
    run = RunDirectory(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        run.claim("mazepolicy-ppo", resume=True)
    other = RunDirectory(tmp_path)
    assert other.claim("mazepolicy-ppo", resume=False) is None
    other.close()


def fake_checkpoint(root: Path, trainer: str) -> None:
    run = RunDirectory(root)
    path = run.checkpoint_path(2)
    path.mkdir(parents=True)
    (path / "policy.json").write_text(json.dumps({"trainer": trainer}))
    run.commit_checkpoint(path)


def test_resuming_another_algorithms_run_names_it(tmp_path):
    fake_checkpoint(tmp_path, "mazepolicy-dagger")
    with pytest.raises(ValueError, match="holds a run of mazepolicy-dagger, not "
                       "mazepolicy-ppo: resume it with a dagger-\\* recipe"):
        Trainer(load_recipe("ppo-tiny"), tmp_path, resume=True, progress=False)
    result = subprocess.run([*MAZEPOLICY, "train", "--agent", "ppo-tiny", "--out",
                             str(tmp_path), "--resume"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "corrupt" not in result.stderr
    assert "holds a run of mazepolicy-dagger" in result.stderr


def test_ctrl_c_during_train_says_how_to_resume_in_one_line(tmp_path):
    out = tmp_path / "run"
    args = [*MAZEPOLICY, "train", "--agent", "dagger-tiny", "--out", str(out),
            "--no-progress", "--set", "total_frames=200000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"OMP_NUM_THREADS": "1"})
    latest = out / "checkpoints" / "latest"
    deadline = time.time() + 300
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert latest.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    checkpoint = RunDirectory(out).latest_checkpoint().name
    assert last.startswith(f"mazepolicy train: interrupted; resume from checkpoint {checkpoint}")
    assert last.endswith(f"mazepolicy train --agent dagger-tiny --out {out} --set "
                         "total_frames=200000 --no-progress --resume")
    run = RunDirectory(out)  # the interrupted process let go of the directory
    assert run.claim("mazepolicy-dagger", resume=True).name == checkpoint
    run.close()


def test_a_length_that_is_not_whole_iterations_is_announced(tmp_path):
    from mazepolicy.commands.train import overshoot_note
    from mazepolicy.train.dagger import DaggerConfig

    ppo = load_recipe("ppo-tiny").replace(num_envs=3, env_groups=1, minibatches=1)
    assert overshoot_note(ppo) == ("total_steps 4096 is not a multiple of the 192 env steps "
                                   "of an iteration: it runs 22 iterations, 4224 env steps")
    assert overshoot_note(load_recipe("ppo-tiny")) is None  # 4096 = 4 x 16 x 64
    dagger = load_recipe("dagger-tiny").replace(total_frames=1000)
    assert isinstance(dagger, DaggerConfig)
    assert overshoot_note(dagger) == ("total_frames 1000 is not a multiple of the 256 "
                                      "labelled frames of a round: it runs 4 rounds, 1024 "
                                      "labelled frames")
