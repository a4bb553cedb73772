"""IMPALA policy: research parameter names, hook shapes, hooks and caches, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mazepolicy.agents.checkpoint import (
    CheckpointError,
    card_path,
    load_policy,
    load_research_checkpoint,
    save_policy,
)
from mazepolicy.agents.impala import ImpalaPolicy

RESEARCH_KEYS = [
    f"embedder.block{b}.{layer}.{p}"
    for b in (1, 2, 3)
    for layer in ("conv", "res1.conv1", "res1.conv2", "res2.conv1", "res2.conv2")
    for p in ("weight", "bias")
] + [f"{m}.{p}" for m in ("embedder.fc", "fc_policy", "fc_value") for p in ("weight", "bias")]


def frames(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 64, 64, 3), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return ImpalaPolicy(scale=1).eval()


def test_state_dict_keys_are_the_research_keys(policy):
    assert sorted(policy.state_dict()) == sorted(RESEARCH_KEYS)


@pytest.mark.parametrize("scale,c1,c2", [(1, 16, 32), (4, 64, 128)])
def test_hook_shapes(scale, c1, c2):
    shapes = ImpalaPolicy(scale=scale).hook_names()
    assert shapes["embedder.block1.conv_out"] == (c1, 64, 64)
    assert shapes["embedder.block1.maxpool_out"] == (c1, 32, 32)
    assert shapes["embedder.block2.res1.resadd_out"] == (c2, 16, 16)
    assert shapes["embedder.block3.res2.resadd_out"] == (c2, 8, 8)
    assert shapes["embedder.flatten_out"] == (c2 * 64,)
    assert shapes["embedder.relufc_out"] == (256,)
    assert shapes["fc_policy_out"] == (15,) and shapes["fc_value_out"] == (1,)
    names = list(shapes)
    assert names[0] == "embedder.block1.conv_out" and names[-1] == "fc_value_out"
    assert len(names) == 3 * (2 + 2 * 5) + 4 + 2


def test_forward_matches_manual_computation(policy):
    obs = frames()
    logits, value, cache = policy.run_with_cache(obs)
    x = obs.permute(0, 3, 1, 2).float() / 255
    block = policy.embedder.block1
    y = torch.nn.functional.max_pool2d(block.conv(x), 3, 2, 1)
    r = block.res1
    y_res = y + r.conv2(torch.relu(r.conv1(torch.relu(y))))
    torch.testing.assert_close(cache["embedder.block1.maxpool_out"], y, rtol=0, atol=0)
    torch.testing.assert_close(cache["embedder.block1.res1.resadd_out"], y_res, rtol=0, atol=0)
    hidden = cache["embedder.relufc_out"]
    torch.testing.assert_close(logits, policy.fc_policy(hidden), rtol=0, atol=0)
    torch.testing.assert_close(value, policy.fc_value(hidden).squeeze(-1), rtol=0, atol=0)


def test_identity_hooks_leave_logits_bitwise_identical(policy):
    obs = frames()
    base, _ = policy(obs)
    with policy.hooks(
        {"embedder.block2.res1.resadd_out": lambda a: a, "embedder.fc_out": lambda a: None}
    ):
        hooked, _ = policy(obs)
    assert torch.equal(base, hooked)


def test_patched_hidden_gives_hand_computed_logits(policy):
    v = torch.linspace(0, 1, 256)
    with policy.hooks({"embedder.relufc_out": lambda a: v.expand_as(a)}):
        logits, value = policy(frames())
    expected = policy.fc_policy.weight @ v + policy.fc_policy.bias
    torch.testing.assert_close(logits, expected.expand(3, 15))


def test_hooks_removed_after_exceptions_and_nesting(policy):
    obs = frames()
    base, _ = policy(obs)
    with pytest.raises(RuntimeError, match="boom"):
        with policy.hooks({"embedder.fc_out": lambda a: a * 0}):
            raise RuntimeError("boom")
    assert torch.equal(policy(obs)[0], base)
    with policy.hooks({"embedder.fc_out": lambda a: a + 1}):
        with policy.hooks({"embedder.fc_out": lambda a: a * 2}):
            nested, _ = policy(obs)
    _, _, cache = policy.run_with_cache(obs, ["embedder.fc_out"])
    expected = policy.fc_policy(torch.relu((cache["embedder.fc_out"] + 1) * 2))
    torch.testing.assert_close(nested, expected)
    assert all(not p._forward_hooks for p in policy.hook_points.values())


def test_unknown_hook_name_lists_valid_names(policy):
    with pytest.raises(KeyError, match="Did you mean.*block2.res1.resadd_out"):
        with policy.hooks({"embedder.block2.res1.resad_out": lambda a: a}):
            pass
    with pytest.raises(KeyError, match="Valid names"):
        policy.run_with_cache(frames(), ["nope"])


def test_bad_input_shapes(policy):
    with pytest.raises(ValueError, match="64, 64, 3"):
        policy(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        policy(torch.zeros(2, 64, 64, 3))


def test_act_greedy_and_seeded_sampling(policy):
    obs = frames(5).numpy()
    greedy = policy.act(obs, greedy=True)
    assert (greedy == policy(torch.as_tensor(obs))[0].argmax(-1).numpy()).all()
    a = policy.act(obs, generator=torch.Generator().manual_seed(1))
    b = policy.act(obs, generator=torch.Generator().manual_seed(1))
    assert (a == b).all() and a.shape == (5,) and a.dtype == np.int64


def test_save_load_round_trip_bitwise(policy, tmp_path):
    path = tmp_path / "p.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5", "steps": 123})
    loaded, card = load_policy(path)
    assert card["steps"] == 123 and card["scale"] == 1
    for k, v in policy.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "p.safetensors"]


def test_corrupt_checkpoints_raise(policy, tmp_path):
    path = tmp_path / "p.safetensors"
    save_policy(policy, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(path)
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(path)
    save_policy(ImpalaPolicy(scale=2), path)
    card = json.loads(card_path(path).read_text())
    card["scale"] = 1
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="shape"):
        load_policy(path)
    card_path(path).write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_policy(path)
    card_path(path).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_policy(path)


def test_research_checkpoint_loads_with_identical_logits(policy, tmp_path):
    path = tmp_path / "model_80000.pth"
    torch.save({"model_state_dict": policy.state_dict(), "optimizer_state_dict": {}}, path)
    loaded = load_research_checkpoint(path)
    obs = frames()
    assert torch.equal(loaded(obs)[0], policy(obs)[0])
    with pytest.raises(CheckpointError, match="scale"):
        load_research_checkpoint(path, scale=4)
    torch.save({"other": 1}, path)
    with pytest.raises(CheckpointError, match="model_state_dict"):
        load_research_checkpoint(path)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        load_research_checkpoint(path)
