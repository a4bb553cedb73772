"""Checkpoints: safetensors + JSON card round trips, strict loading, research .pth files."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as save_safetensors_bytes

from mazepolicy.models.checkpoint import (
    CheckpointError,
    card_path,
    git_sha,
    load_policy,
    load_research_checkpoint,
    read_card,
    save_policy,
)
from mazepolicy.models.impala import ImpalaPolicy


def frames(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 64, 64, 3), dtype=torch.uint8, generator=g)


def random_state(scale: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict of the right shapes (fast: no init)."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in ImpalaPolicy(scale=scale).state_dict().items()}
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}


def write_weights(path: Path, state: dict, card: dict | None = None) -> None:
    """Write a weights file and a card by hand, bypassing save_policy's checks."""
    path.write_bytes(save_safetensors_bytes(state))
    card = card or {"architecture": "impala", "scale": 1, "num_actions": 15}
    card_path(path).write_text(json.dumps(card))


@pytest.fixture(scope="module")
def policy() -> ImpalaPolicy:
    torch.manual_seed(0)
    return ImpalaPolicy(scale=1).eval()


@pytest.fixture
def saved(policy, tmp_path) -> Path:
    path = tmp_path / "p.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5"})
    return path


def test_round_trip_is_bitwise(policy, tmp_path):
    path = tmp_path / "run" / "policy.safetensors"
    card = {"env": "maze-topright-5", "steps": 123, "metrics": {"cheese": 0.5}, "sha": git_sha()}
    save_policy(policy, path, card)
    loaded, loaded_card = load_policy(path)
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    own = {"architecture": "impala", "scale": 1, "num_actions": 15, "weights_sha256": checksum}
    assert loaded_card == {**card, **own}
    assert list(loaded.state_dict()) == list(policy.state_dict())
    for key, value in policy.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    obs = frames()
    assert torch.equal(loaded(obs)[0], policy(obs)[0])
    assert not loaded.training
    assert all(p.requires_grad for p in loaded.parameters())
    assert sorted(p.name for p in path.parent.iterdir()) == ["policy.json", "policy.safetensors"]


def test_loaded_weights_are_writable_copies(saved):
    loaded, _ = load_policy(saved)
    with torch.no_grad():
        for p in loaded.parameters():
            p.add_(1.0)  # would fail or corrupt shared memory if backed by the file bytes
    again, _ = load_policy(saved)
    assert not torch.equal(loaded.fc_value.bias, again.fc_value.bias)


def test_card_json_handles_numpy_paths_and_nan(policy, tmp_path):
    path = tmp_path / "p.safetensors"
    card = {"steps": np.int64(7), "rate": np.float32(0.5), "out": tmp_path, "sps": float("nan")}
    card |= {"loss": np.float32("nan"), "curve": np.array([1.0, np.inf])}
    save_policy(policy, path, card)
    assert "NaN" not in card_path(path).read_text()
    card = read_card(path)
    assert card["steps"] == 7 and card["rate"] == 0.5 and card["out"] == str(tmp_path)
    assert card["sps"] is None and card["loss"] is None and card["curve"] == [1.0, None]


def test_bad_saves_write_nothing(policy, tmp_path):
    with pytest.raises(ValueError, match="safetensors"):
        save_policy(policy, tmp_path / "p.pt", {})
    with pytest.raises(TypeError, match="JSON"):
        save_policy(policy, tmp_path / "p.safetensors", {"obj": object()})
    with pytest.raises(ValueError, match="scale"):
        save_policy(policy, tmp_path / "p.safetensors", {"scale": 4})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_old_files_and_no_temp_files(policy, saved, monkeypatch):
    before = saved.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_policy(policy, saved, {"env": "other"})
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["p.json", "p.safetensors"]


def test_truncated_and_garbage_weights_raise(saved):
    data = saved.read_bytes()
    for cut in (0, 4, 8, 100, len(data) // 2, len(data) - 1):
        saved.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="corrupt"):
            load_policy(saved)
    saved.write_bytes(b"\xff" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_policy(saved)
    saved.unlink()
    with pytest.raises(CheckpointError, match="weights file .* is missing"):
        load_policy(saved)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_files_load_or_raise_checkpoint_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.safetensors"
    write_weights(path, random_state(1))
    raw = bytearray(path.read_bytes())
    header_end = 8 + int.from_bytes(raw[:8], "little")
    for _ in range(data.draw(st.integers(1, 4))):  # flip bytes, mostly in the header
        pos = data.draw(st.integers(0, header_end + 64))
        raw[pos] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.sampled_from([len(raw), header_end + 16, header_end, 12]))]
    path.write_bytes(bytes(raw))
    try:
        policy, _ = load_policy(path)
    except CheckpointError:
        return
    assert policy.scale == 1


def test_changed_weight_bytes_fail_the_checksum(saved):
    original = saved.read_bytes()
    raw = bytearray(original)
    raw[-5] ^= 0x01  # one bit of fc_value.bias: still a valid safetensors file
    saved.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_policy(saved)
    saved.write_bytes(original)
    other_policy, _ = load_policy(saved)
    with torch.no_grad():
        other_policy.fc_value.bias.add_(1.0)
    other = saved.with_name("other.safetensors")
    save_policy(other_policy, other)
    saved.write_bytes(other.read_bytes())  # valid weights, but not the card's
    with pytest.raises(CheckpointError, match="not the one its card describes"):
        load_policy(saved)


def test_resaving_with_a_loaded_card_updates_the_checksum(saved):
    loaded, card = load_policy(saved)
    with torch.no_grad():
        loaded.fc_value.bias.add_(1.0)
    save_policy(loaded, saved, card)
    again, new_card = load_policy(saved)
    assert new_card["weights_sha256"] != card["weights_sha256"]
    assert torch.equal(again.fc_value.bias, loaded.fc_value.bias)


def test_card_problems_raise(saved):
    cpath = card_path(saved)
    card = json.loads(cpath.read_text())
    for bad, match in [
        ("{not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        ("[1, 2]", "impala"),
        (json.dumps({**card, "architecture": "resnet"}), "impala"),
        (json.dumps({**card, "scale": "1"}), "bad scale"),
        (json.dumps({**card, "scale": True}), "bad scale"),
        (json.dumps({**card, "num_actions": 0}), "bad num_actions"),
        (json.dumps({**card, "scale": 10**9}), "card says scale"),
        (json.dumps({**card, "num_actions": 9}), "9 actions"),
    ]:
        cpath.write_bytes(bad if isinstance(bad, bytes) else bad.encode())
        with pytest.raises(CheckpointError, match=match):
            load_policy(saved)
    cpath.unlink()
    with pytest.raises(CheckpointError, match="card .* is missing"):
        load_policy(saved)


def test_wrong_shapes_keys_and_dtypes_raise(tmp_path):
    path = tmp_path / "p.safetensors"
    good = random_state(1)
    cases = [
        ({**good, "embedder.fc.weight": torch.zeros(256, 100)}, r"embedder\.fc\.weight.*shape"),
        ({k: v for k, v in good.items() if k != "fc_value.bias"}, r"missing keys \['fc_value"),
        ({**good, "extra.weight": torch.zeros(1)}, r"unexpected keys \['extra\.weight'\]"),
        ({**good, "fc_value.bias": torch.zeros(1, dtype=torch.float64)}, "dtype"),
        ({**good, "embedder.block1.conv.weight": torch.zeros(20, 3, 3, 3)}, "16 \\* scale"),
        ({k: v for k, v in good.items() if k != "fc_policy.weight"}, "not an IMPALA"),
        ({}, "not an IMPALA"),
    ]
    for state, match in cases:
        write_weights(path, state)
        with pytest.raises(CheckpointError, match=match):
            load_policy(path)
    write_weights(path, random_state(2))  # scale-2 weights under a scale-1 card
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_policy(path)


def test_git_sha(tmp_path):
    sha = git_sha()
    assert sha is None or re.fullmatch("[0-9a-f]{40}", sha)
    assert git_sha(tmp_path) is None
    assert git_sha(tmp_path / "does-not-exist") is None


def test_research_checkpoint_gives_bitwise_identical_logits(policy, tmp_path):
    path = tmp_path / "model_80000.pth"
    state = {k: v.clone() for k, v in policy.state_dict().items()}
    torch.save({"model_state_dict": state, "optimizer_state_dict": {"lr": 5e-4}}, path)
    loaded = load_research_checkpoint(path)
    obs = frames()
    assert loaded.scale == 1 and not loaded.training
    assert torch.equal(loaded(obs)[0], policy(obs)[0])
    assert torch.equal(loaded(obs)[1], policy(obs)[1])
    assert load_research_checkpoint(path, scale=1).scale == 1
    with pytest.raises(CheckpointError, match="scale 1, not 4"):
        load_research_checkpoint(path, scale=4)


def test_research_checkpoint_infers_scale(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model_state_dict": random_state(2)}, path)
    loaded = load_research_checkpoint(path)
    assert loaded.scale == 2
    assert loaded.hook_names()["embedder.block2.res1.resadd_out"] == (64, 16, 16)


class Evil:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_bad_research_checkpoints_raise(tmp_path):
    path = tmp_path / "model.pth"
    with pytest.raises(CheckpointError, match="missing"):
        load_research_checkpoint(path)
    for content in (
        {"other": 1},
        [1, 2],
        {"model_state_dict": [1]},
        {"model_state_dict": {**random_state(1), "embedder.fc.bias": 3}},
        {"model_state_dict": {**random_state(1), "fc_value.weight": torch.zeros(2, 256)}},
    ):
        torch.save(content, path)
        with pytest.raises(CheckpointError):
            load_research_checkpoint(path)
    torch.save({"model_state_dict": Evil()}, path)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_research_checkpoint(path)
    for raw in (b"garbage", b""):
        path.write_bytes(raw)
        with pytest.raises(CheckpointError, match="cannot read"):
            load_research_checkpoint(path)


def test_a_missing_weights_file_is_named_as_such(saved):
    saved.unlink()  # the card is still there
    with pytest.raises(CheckpointError, match=r"weights file .*p\.safetensors is missing"):
        load_policy(saved)
    card_path(saved).unlink()  # both gone: still the weights file that is named
    with pytest.raises(CheckpointError, match="weights file"):
        load_policy(saved)


def test_passing_the_card_path_says_to_pass_the_weights(saved):
    for call in (load_policy, read_card):
        with pytest.raises(CheckpointError, match=r"is a model card; pass the weights file "
                                                  r".*p\.safetensors"):
            call(card_path(saved))


@pytest.mark.parametrize("key, value, match", [
    ("config", 5, "bad config 5"),
    ("config", [1], "bad config"),
    ("weights_sha256", 5, "bad weights_sha256"),
    ("weights_sha256", "abc", "bad weights_sha256"),
    ("env", ["maze"], "bad env"),
    ("global_step", -1, "bad global_step"),
    ("global_step", "10", "bad global_step"),
    ("git_sha", 7, "bad git_sha"),
    ("eval", "good", "bad eval"),
])
def test_card_schema_is_checked_on_load(saved, key, value, match):
    cpath = card_path(saved)
    cpath.write_text(json.dumps({**json.loads(cpath.read_text()), key: value}))
    with pytest.raises(CheckpointError, match=match):
        load_policy(saved)


def test_required_card_keys(saved):
    cpath = card_path(saved)
    card = json.loads(cpath.read_text())
    for key in ("architecture", "scale", "num_actions"):
        cpath.write_text(json.dumps({k: v for k, v in card.items() if k != key}))
        with pytest.raises(CheckpointError, match=rf"lacks the required keys \['{key}'\]"):
            load_policy(saved)


def test_save_refuses_a_card_that_would_not_load(policy, tmp_path):
    with pytest.raises(ValueError, match="bad config 5"):
        save_policy(policy, tmp_path / "p.safetensors", {"config": 5})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_even_without_a_checksum(tmp_path, bad):
    """A card without weights_sha256 (older cards) cannot bring in tampered weights."""
    state = random_state(1)
    state["fc_policy.bias"][3] = bad
    path = tmp_path / "p.safetensors"
    write_weights(path, state)  # the card has no checksum
    with pytest.raises(CheckpointError, match=r"fc_policy\.bias holds 1 non-finite"):
        load_policy(path)
    research = tmp_path / "model.pth"
    torch.save({"model_state_dict": state}, research)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_research_checkpoint(research)


def _shipped():
    from mazepolicy.resources import shipped_checkpoints

    return shipped_checkpoints()


@pytest.mark.parametrize("name", _shipped())
def test_every_shipped_checkpoint_has_a_complete_card(name):
    """Each shipped policy loads, and its card says what it is, how it was trained and
    what it measured."""
    from mazepolicy.resources import checkpoint_path

    policy, card = load_policy(checkpoint_path(name))
    assert card["scale"] == policy.scale and isinstance(card["config"], dict)
    assert card["name"] == name and card["status"].strip()
    assert card["env"] in card["config"].values() and "command" in card["evaluation"]
