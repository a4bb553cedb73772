"""``mazepolicy export``: a run's policy becomes a shipped checkpoint whose card holds the
run's record and an evaluation that matches evaluating it directly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.cli import main
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.models.checkpoint import load_policy, save_policy
from mazepolicy.models.impala import ImpalaPolicy

ENV = "maze-anywhere-easy"


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as the DAgger trainer leaves it: policy (the shipped easy policy's
    weights, trained, so its sampled and greedy play differ), card, a checkpoint whose
    state logs the training mazes (level seeds 1 and 3 among them)."""
    run = tmp_path / "run"
    card = {"env": ENV, "trainer": "mazepolicy-dagger", "frames": 123, "updates": 4,
            "train_seconds": 5.0, "config": {"eval_env": ENV}, "eval": {"old": 1}}
    trained, _ = load_policy("maze-topright-5-easy_impala-s1")
    save_policy(trained, run / "policy.safetensors", card)
    ckpt = run / "checkpoints" / "iter-000001"
    ckpt.mkdir(parents=True)
    save_file({"mazes_seen": torch.tensor([1, 3, 99])}, ckpt / "state.safetensors")
    (run / "checkpoints" / "latest").write_text("iter-000001")
    return run


def test_export_writes_weights_and_a_card_that_matches_direct_evaluation(run_dir, tmp_path,
                                                                         capsys):
    out = tmp_path / "shipped"
    argv = ["export", "--run", str(run_dir), "--name", "tiny_impala-s1", "--out", str(out),
            "--status", "a test policy", "--episodes", "8", "--max-steps", "60",
            "--no-progress"]
    assert main(argv) == 0
    policy, card = load_policy(out / "tiny_impala-s1.safetensors")
    original, _ = load_policy(run_dir / "policy.safetensors")
    for key, value in original.state_dict().items():
        assert torch.equal(policy.state_dict()[key], value)
    assert (card["name"], card["status"], card["frames"]) == ("tiny_impala-s1",
                                                              "a test policy", 123)
    assert card["training_eval"] == {"old": 1}
    entry = card["evaluation"]["variants"][ENV]
    assert entry["training_mazes_among_them"] == 2  # seeds 1 and 3 of 0..7
    settings = dict(episodes=8, seed=0, max_steps=60, num_envs=64, progress=False)
    direct = evaluate(PolicyAgent(original, seed=0), ENV, **settings).summary()
    rand = evaluate(make_scripted_agent("random", seed=0), ENV, **settings).summary()
    assert entry["policy"]["cheese_rate"] == direct["cheese_rate"]
    assert entry["policy"]["mean_steps"] == direct["mean_steps"]
    assert entry["random_agent"]["mean_steps"] == rand["mean_steps"]
    greedy = evaluate(PolicyAgent(original, greedy=True), ENV, **settings).summary()
    assert entry["policy_greedy"]["mean_steps"] == greedy["mean_steps"]
    assert entry["policy_greedy"]["timeout_rate"] == greedy["timeout_rate"]
    assert entry["policy_greedy"]["mean_steps"] != entry["policy"]["mean_steps"]
    assert entry["cheese_vs_random"]["n"] == 8
    assert "mazepolicy export --run" in card["evaluation"]["command"]
    assert json.loads(capsys.readouterr().out.split("\nwrote")[0])[ENV]["policy"] == \
        direct["cheese_rate"]
    assert main(argv) == 2  # an existing name is kept unless --force


def test_export_refuses_a_bad_name_and_a_missing_run(run_dir, tmp_path, capsys):
    base = ["export", "--status", "x", "--out", str(tmp_path), "--no-progress"]
    assert main([*base, "--run", str(run_dir), "--name", "Bad Name"]) == 2
    assert "--name" in capsys.readouterr().err
    assert main([*base, "--run", str(tmp_path / "nowhere"), "--name", "ok"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_export_after_records_the_earlier_runs_and_checks_the_init_chain(run_dir, tmp_path,
                                                                         capsys):
    """``--after`` writes one lineage entry per earlier run (weights, SHA-256, counts);
    it is refused where the run's ``init`` file holds other weights than the last
    earlier run's, and where the card records its lineage already."""
    import hashlib

    earlier = tmp_path / "earlier"
    save_policy(ImpalaPolicy(), earlier / "policy.safetensors",
                {"trainer": "mazepolicy-dagger", "frames": 500, "rounds": 7, "config": {}})
    policy, card = load_policy(run_dir / "policy.safetensors")
    card["config"]["init"] = str(earlier / "policy.safetensors")
    save_policy(policy, run_dir / "policy.safetensors", card)
    base = ["export", "--run", str(run_dir), "--status", "x", "--out", str(tmp_path / "out"),
            "--episodes", "2", "--max-steps", "10", "--env", ENV, "--no-progress"]
    assert main([*base, "--name", "chained", "--after", str(earlier)]) == 0
    _, shipped = load_policy(tmp_path / "out" / "chained.safetensors")
    sha = hashlib.sha256((earlier / "policy.safetensors").read_bytes()).hexdigest()
    assert shipped["lineage"] == [{"weights": str(earlier / "policy.safetensors"),
                                   "weights_sha256": sha, "trainer": "mazepolicy-dagger",
                                   "frames": 500, "rounds": 7}]
    assert "--after" in shipped["evaluation"]["command"]

    other = tmp_path / "other"
    save_policy(ImpalaPolicy(scale=2), other / "policy.safetensors", {"frames": 1})
    capsys.readouterr()
    assert main([*base, "--name", "wrong", "--after", str(other)]) == 2
    assert "now holds other weights" in capsys.readouterr().err
    card["lineage"] = shipped["lineage"]
    save_policy(policy, run_dir / "policy.safetensors", card)
    assert main([*base, "--name", "twice", "--after", str(earlier)]) == 2
    assert "records its lineage already" in capsys.readouterr().err
