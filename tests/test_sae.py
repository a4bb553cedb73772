"""Sparse autoencoders against ground truth: planted dictionaries recovered, an exact
SAE that changes nothing when spliced in, a feature clamp that equals the channel clamp
where the feature is the channel, collected activations equal to the layer's, bit-exact
resume, and clear errors for bad files and settings."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs import Anywhere
from mazepolicy.envs.levels import level_states
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.interp.retarget import ChannelClamp, compare_edits, retargeting_rollouts
from mazepolicy.interp.sae import (
    SAEConfig,
    SparseAutoencoder,
    as_samples,
    collect_activations,
    load_sae,
    load_shard,
    reconstruction_metrics,
    shard_batches,
    spliced_kl,
    tensor_batches,
    train_sae,
)
from mazepolicy.interp.sae.metrics import SplicedAgent, dictionary_mixing
from mazepolicy.interp.sae.steer import FeatureClamp, clamp_sweep
from mazepolicy.interp.vectors import activations
from mazepolicy.models.checkpoint import save_policy
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.report.markdown import sae_markdown

LAYER = "embedder.block3.res2.resadd_out"  # (32, 8, 8): small shards
EASY = "maze-anywhere-easy"


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return ImpalaPolicy().eval()


def planted(n=20000, d=32, features=64, active=3, seed=0):
    """Samples made of ``active`` random unit dictionary rows with magnitudes in
    [0.5, 1.5]: (samples (n, d), dictionary (features, d))."""
    gen = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(features, d, generator=gen)
    dictionary /= dictionary.norm(dim=1, keepdim=True)
    index = torch.stack([torch.randperm(features, generator=gen)[:active] for _ in range(n)])
    codes = torch.zeros(n, features).scatter(1, index, 0.5 + torch.rand(n, active,
                                                                        generator=gen))
    return codes @ dictionary, dictionary


@pytest.mark.parametrize("kind, extra", [("topk", {"k": 3}), ("relu", {"l1_coeff": 3e-3})])
def test_planted_features_are_recovered(kind, extra, tmp_path):
    x, dictionary = planted()
    config = SAEConfig(d_in=32, d_sae=128, kind=kind, steps=1500, batch_size=256, lr=3e-3,
                       checkpoint_every=1500, **extra)
    sae = train_sae(config, tensor_batches(x, 256, seed=0), tmp_path, progress=False).model
    cosines = (dictionary @ sae.W_dec.detach().T).max(dim=1).values  # best match per row
    assert (cosines >= 0.9).float().mean() >= 0.9
    metrics = reconstruction_metrics(sae, x[:4000].split(1000))
    assert metrics["fraction_variance_explained"] > 0.9
    if kind == "topk":
        assert metrics["l0"] <= 3
    rows = sae.W_dec.detach().norm(dim=1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)  # unit-norm decoder


def exact_sae(channels: int) -> SparseAutoencoder:
    """ReLU SAE with features +e_c and -e_c: relu(x) - relu(-x) = x, exactly."""
    sae = SparseAutoencoder(SAEConfig(d_in=channels, d_sae=2 * channels, kind="relu",
                                      layer=LAYER))
    eye = torch.eye(channels)
    with torch.no_grad():
        sae.W_dec.copy_(torch.cat([eye, -eye]))
        sae.W_enc.copy_(torch.cat([eye, -eye]).T)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


def test_an_exact_sae_spliced_in_changes_nothing(policy):
    sae = exact_sae(32)
    states = level_states(range(4), Anywhere(), "easy")
    probes = [s.with_mouse((0, 0)) for s in states]
    kl = spliced_kl(policy, sae, LAYER, "position", probes)
    assert kl["kl_spliced"] == pytest.approx(0.0, abs=1e-6) and kl["kl_mean_ablated"] > 0
    acts = activations(policy, probes, LAYER)  # (4, 32, 8, 8)
    samples = acts.permute(0, 2, 3, 1).reshape(-1, 32)
    assert reconstruction_metrics(sae, [samples])["fraction_variance_explained"] == \
        pytest.approx(1.0, abs=1e-6)
    settings = dict(episodes=4, max_steps=30, num_envs=2, progress=False)
    base = evaluate(PolicyAgent(policy, seed=0), EASY, **settings)
    spliced = evaluate(SplicedAgent(policy, sae, LAYER, "position", seed=0), EASY, **settings)
    assert [e.steps for e in base.episodes] == [e.steps for e in spliced.episodes]
    mixing = dictionary_mixing(sae)
    assert mixing["median_effective_channels"] == pytest.approx(1.0)
    assert mixing["features_per_channel"] == [2] * 32


def test_feature_clamp_of_an_exact_sae_is_the_channel_clamp():
    """Feature c of the exact SAE is relu(x_c) along e_c: clamping it to v sets x_c = v
    where x_c >= 0 (as the channel clamp does); where x_c < 0 the -e_c feature keeps
    its share, so x_c becomes x_c + v; clamping to the current value changes nothing."""
    sae = exact_sae(8)
    positions = torch.tensor([[1, 2], [3, 0], [-1, -1]])  # slot 2 unassigned
    feature, channel = FeatureClamp(sae, 5, 2.5), ChannelClamp(5, 2.5)
    for edit in (feature, channel):
        edit.reset(3, (8, 4, 4))
        edit.positions[:] = positions
    acts = torch.rand(3, 8, 4, 4)  # >= 0
    assert torch.allclose(feature(acts), channel(acts), atol=1e-6)
    acts[0, 5, 1, 2] = -1.0
    out = feature(acts)
    assert out[0, 5, 1, 2] == pytest.approx(1.5)
    assert torch.equal(out[2], acts[2])  # unassigned slot untouched
    same = FeatureClamp(sae, 5, 0.7)
    same.reset(3, (8, 4, 4))
    same.positions[:] = positions
    flat = torch.full((3, 8, 4, 4), 0.7)
    assert torch.allclose(same(flat), flat, atol=1e-7)
    with pytest.raises(ValueError, match="feature 16"):
        FeatureClamp(sae, 16, 1.0)
    with pytest.raises(ValueError, match="reads 8 channels"):
        FeatureClamp(sae, 0, 1.0).reset(1, (32, 8, 8))
    map_sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=16, layout="map"))
    with pytest.raises(ValueError, match="position-layout"):
        FeatureClamp(map_sae, 0, 1.0)


def test_compared_edits_share_the_jobs_and_the_unedited_play(policy):
    states = [s for s in level_states(range(6), Anywhere(), "easy") if s.cheese_cell]
    jobs = [(s, next(c for c in [(0, 1), (1, 0), (1, 1)]
                     if s.free[c[1], c[0]] and c != s.cheese_cell)) for s in states[:3]]
    settings = dict(distribution_mode="easy", num_envs=2)
    success = compare_edits(policy, jobs, LAYER, {"a": ChannelClamp(3, 5.5),
                                                  "b": ChannelClamp(3, 5.5)}, 8, **settings)
    rows = retargeting_rollouts(policy, jobs, LAYER, ChannelClamp(3, 5.5), 8, **settings)
    assert success["a"] == success["b"] == [r["success"] for r in rows]
    assert success["no edit"] == [r["baseline_success"] for r in rows]


def test_clamp_sweep_points_are_the_single_clamps_at_those_values(policy):
    states = [s for s in level_states(range(6), Anywhere(), "easy") if s.cheese_cell]
    jobs = [(s, next(c for c in [(0, 1), (1, 0), (1, 1)]
                     if s.free[c[1], c[0]] and c != s.cheese_cell)) for s in states[:3]]
    settings = dict(distribution_mode="easy", num_envs=2)
    sae = exact_sae(32)
    sweep = clamp_sweep(policy, sae, LAYER, jobs, 4, 0.5, 3, 0.6, [1, 20], 8, **settings)
    assert sweep["ratios"] == [1.0, 20.0] and sweep["jobs"] == 3
    for i, ratio in enumerate(sweep["ratios"]):
        for kind, edit in (("feature clamp", FeatureClamp(sae, 4, ratio * 0.5)),
                           ("channel clamp", ChannelClamp(3, ratio * 0.6))):
            rows = retargeting_rollouts(policy, jobs, LAYER, edit, 8, **settings)
            assert sweep[kind][i]["successes"] == sum(r["success"] for r in rows)
            assert sweep["no edit"]["successes"] == sum(r["baseline_success"] for r in rows)
    with pytest.raises(ValueError, match="distinct finite"):
        clamp_sweep(policy, sae, LAYER, jobs, 4, 0.5, 3, 0.6, [2, 2], 8, **settings)


def test_collected_samples_are_the_layers_activations(policy, tmp_path):
    manifest = collect_activations(policy, [LAYER], tmp_path, EASY, mazes=3,
                                   positions_per_maze=2, shard_size=4)
    assert manifest["frames"] == 6 and [s["frames"] for s in manifest["shards"]] == [4, 2]
    shard = load_shard(tmp_path, 0)
    states = {s.level_seed: s for s in level_states(range(3), Anywhere(), "easy")}
    first = states[int(shard["level_seed"][0])]
    mouse = (int(shard["mouse_x"][0]), int(shard["mouse_y"][0]))
    assert first.free[mouse[1], mouse[0]] and mouse != first.cheese_cell
    assert (int(shard["cheese_x"][0]), int(shard["cheese_y"][0])) == first.cheese_cell
    expected = activations(policy, [first.with_mouse(mouse)], LAYER)[0]  # (32, 8, 8)
    assert torch.allclose(shard[LAYER][0].float(), expected, atol=1e-2, rtol=1e-2)  # fp16
    samples, meta = as_samples(shard, LAYER, "position")
    assert samples.shape == (4 * 64, 32)
    k = 64 * 1 + 8 * 3 + 5  # frame 1, row 3, col 5
    assert (int(meta["row"][k]), int(meta["col"][k])) == (3, 5)
    assert torch.equal(samples[k], shard[LAYER][1, :, 3, 5].float())
    whole, _ = as_samples(shard, LAYER, "map")
    assert whole.shape == (4, 32 * 64)
    with pytest.raises(FileExistsError):
        collect_activations(policy, [LAYER], tmp_path, EASY, mazes=1)


def test_training_resumes_bit_for_bit(policy, tmp_path):
    collect_activations(policy, [LAYER], tmp_path / "acts", EASY, mazes=3,
                        positions_per_maze=4, shard_size=4)
    config = SAEConfig(d_in=32, d_sae=64, k=4, steps=20, batch_size=32, checkpoint_every=10,
                       dead_after=3, layer=LAYER)
    batches = shard_batches(tmp_path / "acts", LAYER, "position", 32, seed=0)
    whole = train_sae(config, batches, tmp_path / "whole", progress=False).model
    train_sae(config.__class__(**{**config.to_dict(), "steps": 10}), batches,
              tmp_path / "half", progress=False)
    resumed = train_sae(config, batches, tmp_path / "half", resume=True, progress=False).model
    for key, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    with pytest.raises(FileExistsError):
        train_sae(config, batches, tmp_path / "whole", progress=False)
    with pytest.raises(ValueError, match="another config"):
        train_sae(config.__class__(**{**config.to_dict(), "k": 5}), batches,
                  tmp_path / "whole", resume=True, progress=False)


def test_bad_files_and_settings_are_clear_errors(policy, tmp_path):
    with pytest.raises(ValueError, match="unknown SAE kind"):
        SAEConfig(d_in=4, d_sae=8, kind="gated")
    with pytest.raises(ValueError, match="exceeds d_sae"):
        SAEConfig(d_in=4, d_sae=8, k=9)
    with pytest.raises(FileNotFoundError, match="no trained SAE"):
        load_sae(tmp_path)
    collect_activations(policy, [LAYER], tmp_path / "acts", EASY, mazes=1,
                        positions_per_maze=2)
    with pytest.raises(ValueError, match="lower the batch size"):
        next(shard_batches(tmp_path / "acts", LAYER, "map", 64, 0)(0))  # 2 maps a shard
    (tmp_path / "acts" / "shard-00000.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a valid safetensors shard"):
        load_shard(tmp_path / "acts", 0)
    with pytest.raises(KeyError, match="was not collected"):
        shard_batches(tmp_path / "acts", "embedder.fc_out", "position", 8, 0)
    sae_dir = tmp_path / "sae"
    train_sae(SAEConfig(d_in=4, d_sae=8, k=2, steps=2, batch_size=4), tensor_batches(
        torch.randn(16, 4), 4, 0), sae_dir, progress=False)
    (sae_dir / "sae.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="valid SAE"):
        load_sae(sae_dir)


def test_sae_commands_end_to_end(policy, tmp_path, capsys):
    from mazepolicy.cli import main

    path = tmp_path / "p.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5-easy"})
    common = ["--no-progress"]
    assert main(["sae", "collect", "--policy", str(path), "--layer", LAYER, "--env", EASY,
                 "--mazes", "3", "--positions-per-maze", "3", "--out",
                 str(tmp_path / "acts"), *common]) == 0
    assert main(["sae", "collect", "--policy", str(path), "--layer", LAYER, "--env", EASY,
                 "--mazes", "2", "--seed", "1000", "--positions-per-maze", "3", "--out",
                 str(tmp_path / "heldout"), *common]) == 0
    assert main(["sae", "train", "--acts", str(tmp_path / "acts"), "--layer", LAYER,
                 "--expansion", "2", "--k", "4", "--steps", "20", "--batch-size", "64",
                 "--out", str(tmp_path / "sae"), *common]) == 0
    assert main(["sae", "train", "--acts", str(tmp_path / "acts"), "--layer", LAYER,
                 "--expansion", "1", "--k", "4", "--steps", "20", "--batch-size", "64",
                 "--out", str(tmp_path / "sae1"), *common]) == 0
    out, figures = tmp_path / "analysis.json", tmp_path / "figures"
    assert main(["sae", "analyze", "--policy", str(path), "--sae", str(tmp_path / "sae"),
                 str(tmp_path / "sae1"), "--heldout", str(tmp_path / "heldout"), "--env",
                 EASY, "--episodes", "2", "--max-steps", "20", "--retarget-mazes", "2",
                 "--targets-per-maze", "1", "--retarget-max-steps", "5", "--clamp-ratios",
                 "1", "5.5", "--json", str(out),
                 "--figures", str(figures), *common]) == 0
    analysis = json.loads(out.read_text())
    assert analysis["command"].startswith(f"mazepolicy sae analyze --policy {path}")
    result, small = analysis["results"]
    assert result["config"]["d_sae"] == 64 and result["reconstruction"]["samples"] == 6 * 64
    assert small["config"]["d_sae"] == 32
    assert {"cheese", "top_right"} <= set(result["localisation"])
    rt = result["retargeting"]
    assert set(rt["success"]) == {"no edit", "feature clamp", "channel clamp",
                                  "moved-cheese vector"}
    assert all(r["trials"] == rt["jobs"] for r in rt["success"].values())
    assert rt["feature_value"] == pytest.approx(rt["clamp_ratio"] * rt["feature_at_cheese"])
    sweep = rt["clamp_sweep"]
    assert sweep["ratios"] == [1.0, 5.5] and sweep["jobs"] == rt["jobs"]
    assert sweep["no edit"] == rt["success"]["no edit"]  # same jobs, same streams
    assert sweep["feature_normal"] == rt["feature_at_cheese"]
    assert "--clamp-ratios 1 5.5 --json" in analysis["command"]
    assert sorted(p.name for p in figures.iterdir()) == [
        "dictionary-sweep.png", "sae-cheese-features.png", "sae-clamp-sweep.png",
        "sae-retargeting-by-distance.png", "sae1-cheese-features.png",
        "sae1-clamp-sweep.png", "sae1-retargeting-by-distance.png"]
    assert sorted(analysis["figures"]) == sorted(str(p) for p in figures.iterdir())
    section = "\n".join(sae_markdown(analysis))  # the report's section 7
    fve = result["reconstruction"]["fraction_variance_explained"]
    assert f"| 64 | topk | {fve:.3f} | {result['reconstruction']['l0']:.1f} |" in section
    assert f"| 32 | {small['retargeting']['feature']} (" in section
    assert "| features | x1 | x5.5 | no edit |" in section
    assert result["rollouts"]["policy"] == small["rollouts"]["policy"]  # one baseline
    from mazepolicy.interp.sae.analysis import analyze_sae, baseline_rollouts

    other = baseline_rollouts(policy, EASY, episodes=2, seed=0, max_steps=20, progress=False)
    with pytest.raises(ValueError, match="baseline rollouts were made with"):
        analyze_sae(policy, tmp_path / "sae1", tmp_path / "heldout", EASY, episodes=2,
                    max_steps=20, baseline=other, progress=False)  # held-out seed 1000
    assert main(["sae", "train", "--acts", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "collect activations first" in capsys.readouterr().err


def test_saes_are_tied_to_the_weights_they_were_trained_on(policy, tmp_path, capsys):
    from mazepolicy.cli import main

    path, other = tmp_path / "p.safetensors", tmp_path / "other.safetensors"
    save_policy(policy, path, {"env": "maze-topright-5-easy"})
    torch.manual_seed(1)
    save_policy(ImpalaPolicy(), other, {"env": "maze-topright-5-easy"})
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for name, seed in (("acts", "0"), ("heldout", "1000")):
        assert main(["sae", "collect", "--policy", str(path), "--layer", LAYER, "--env", EASY,
                     "--mazes", "2", "--seed", seed, "--positions-per-maze", "2", "--out",
                     str(tmp_path / name), "--no-progress"]) == 0
    assert json.loads((tmp_path / "acts" / "manifest.json").read_text())["policy_sha256"] == sha
    assert main(["sae", "train", "--acts", str(tmp_path / "acts"), "--layer", LAYER,
                 "--expansion", "1", "--k", "2", "--steps", "2", "--batch-size", "8",
                 "--out", str(tmp_path / "sae"), "--no-progress"]) == 0
    assert load_sae(tmp_path / "sae").card["source"]["policy_sha256"] == sha
    analyze = ["sae", "analyze", "--sae", str(tmp_path / "sae"), "--heldout",
               str(tmp_path / "heldout"), "--env", EASY, "--episodes", "1", "--max-steps", "5",
               "--retarget-mazes", "0", "--json", str(tmp_path / "a.json"), "--no-progress"]
    assert main([*analyze, "--policy", str(other)]) == 2
    assert f"comes from policy {str(path)!r}" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()
    assert main([*analyze, "--policy", str(path)]) == 0
    analysis = json.loads((tmp_path / "a.json").read_text())
    assert analysis["policy_sha256"] == sha
    assert "other weights" not in "\n".join(sae_markdown(analysis, sha))
    assert "other weights (SHA-256 " + sha[:12] in "\n".join(sae_markdown(analysis, "0" * 64))
