"""The trainer end to end: CLI run, loadable checkpoints, exact resume, kill and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from mazepolicy.agents.checkpoint import load_policy
from mazepolicy.agents.ppo_config import load_recipe
from mazepolicy.agents.trainer import Trainer

TINY = load_recipe("ppo-tiny").replace(
    total_steps=6 * 128, num_envs=4, num_steps=32, minibatches=2, epochs=1,
    checkpoint_every=1, eval_episodes=0,
)


def weights(path):
    policy, card = load_policy(path)
    return policy.state_dict(), card


def test_resume_is_bitwise_identical(tmp_path):
    Trainer(TINY, tmp_path / "straight", progress=False).train()
    Trainer(TINY.replace(total_steps=3 * 128), tmp_path / "split", progress=False).train()
    Trainer(TINY, tmp_path / "split", resume=True, progress=False).train()
    a, card_a = weights(tmp_path / "straight" / "policy.safetensors")
    b, card_b = weights(tmp_path / "split" / "policy.safetensors")
    assert card_a["global_step"] == card_b["global_step"] == 6 * 128
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_different_config(tmp_path):
    Trainer(TINY.replace(total_steps=128), tmp_path, progress=False).train()
    with pytest.raises(ValueError, match="lr"):
        Trainer(TINY.replace(lr=1e-3), tmp_path, resume=True, progress=False)


def test_run_directory_contents(tmp_path):
    summary = Trainer(TINY.replace(total_steps=256, eval_episodes=2), tmp_path,
                      progress=False).train()
    assert summary["global_step"] == 256 and summary["iteration"] == 2
    assert {"maze-topright-5-easy", "maze-anywhere-easy"} == set(summary["eval"])
    for name in ("policy.safetensors", "policy.json", "summary.json", "metrics.jsonl",
                 "eval.jsonl"):
        assert (tmp_path / name).exists(), name
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    assert list((tmp_path / "tb").iterdir())
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("iter-*")) == [
        "iter-000001", "iter-000002"]
    _, card = weights(tmp_path / "policy.safetensors")
    assert card["global_step"] == 256 and card["config"]["env"] == "maze-topright-5-easy"


def test_cli_killed_run_resumes_and_finishes(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "mazepolicy.cli", "train", "--agent", "ppo-tiny",
            "--out", str(out), "--no-progress", "--total-steps", "2048",
            "--set", "num_envs=4", "num_steps=32", "minibatches=2", "epochs=1",
            "checkpoint_every=2", "eval_episodes=0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    latest = out / "checkpoints" / "latest"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert latest.exists(), "no checkpoint before the kill"
    killed_at = json.loads((out / "policy.json").read_text())["global_step"]
    assert killed_at < 2048
    result = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["global_step"] == 2048
    _, card = weights(out / "policy.safetensors")
    assert card["global_step"] == 2048


@pytest.mark.slow
def test_return_rises_above_random_on_easy_mazes(tmp_path):
    """About 15 minutes on 2 CPU cores: 150k steps on easy top-right-5 mazes."""
    from mazepolicy.agents.policy_agent import PolicyAgent
    from mazepolicy.agents.scripted import make_scripted_agent
    from mazepolicy.envs import TopRightRegion
    from mazepolicy.interp.evaluate import evaluate

    config = load_recipe("ppo-cpu-easy").replace(total_steps=150_000, eval_episodes=0)
    Trainer(config, tmp_path, progress=False).train()
    policy, _ = load_policy(tmp_path / "policy.safetensors")
    kwargs = dict(cheese=TopRightRegion(5), episodes=100, seed=5000, distribution_mode="easy",
                  progress=False)
    trained = evaluate(PolicyAgent(policy), **kwargs).summary()
    random = evaluate(make_scripted_agent("random"), **kwargs).summary()
    assert trained["mean_return"] > random["mean_return"] + 1.0
