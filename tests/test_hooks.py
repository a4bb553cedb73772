"""Hook points: caching, patching, nesting, cleanup and error messages."""

from __future__ import annotations

import pytest
import torch

from mazepolicy.models.impala import ImpalaPolicy


def frames(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 64, 64, 3), dtype=torch.uint8, generator=g)


@pytest.fixture(scope="module")
def policy() -> ImpalaPolicy:
    torch.manual_seed(0)
    return ImpalaPolicy(scale=1).eval()


def no_hooks_left(policy: ImpalaPolicy) -> bool:
    return all(not m._forward_hooks for m in policy.modules())


def manual_activations(policy: ImpalaPolicy, obs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every hook point's activation, recomputed through the submodules by hand."""
    acts: dict[str, torch.Tensor] = {}
    x = obs.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, 64, 64)
    emb = policy.embedder
    for b, block in enumerate((emb.block1, emb.block2, emb.block3), start=1):
        x = acts[f"embedder.block{b}.conv_out"] = block.conv(x)
        x = acts[f"embedder.block{b}.maxpool_out"] = block.maxpool(x)
        for r, res in enumerate((block.res1, block.res2), start=1):
            key = f"embedder.block{b}.res{r}"
            out = acts[f"{key}.relu1_out"] = torch.relu(x)
            out = acts[f"{key}.conv1_out"] = res.conv1(out)
            out = acts[f"{key}.relu2_out"] = torch.relu(out)
            out = acts[f"{key}.conv2_out"] = res.conv2(out)
            x = acts[f"{key}.resadd_out"] = out + x
    x = acts["embedder.relu3_out"] = torch.relu(x)  # (N, 32, 8, 8)
    x = acts["embedder.flatten_out"] = x.flatten(1)  # (N, 2048)
    x = acts["embedder.fc_out"] = emb.fc(x)  # (N, 256)
    x = acts["embedder.relufc_out"] = torch.relu(x)
    acts["fc_policy_out"] = policy.fc_policy(x)  # (N, 15)
    acts["fc_value_out"] = policy.fc_value(x)  # (N, 1)
    return acts


def test_run_with_cache_equals_manual_recomputation(policy):
    obs = frames()
    logits, value, cache = policy.run_with_cache(obs)
    with torch.no_grad():
        manual = manual_activations(policy, obs)
    assert list(cache) == list(manual) == list(policy.hook_names())
    for name, act in manual.items():
        assert torch.equal(cache[name], act), name
        assert not cache[name].requires_grad
    assert torch.equal(logits, manual["fc_policy_out"])
    assert torch.equal(value, manual["fc_value_out"].squeeze(-1))
    assert no_hooks_left(policy)


def test_run_with_cache_subset(policy):
    names = ["fc_value_out", "embedder.block3.res2.conv1_out"]
    _, _, cache = policy.run_with_cache(frames(), names)
    assert set(cache) == set(names)
    assert cache["embedder.block3.res2.conv1_out"].shape == (3, 32, 8, 8)
    _, _, single = policy.run_with_cache(frames(), "fc_value_out")  # one name, not letters
    assert list(single) == ["fc_value_out"] and torch.equal(single["fc_value_out"], cache[names[0]])


def test_identity_hooks_leave_logits_bitwise_identical(policy):
    obs = frames()
    base, base_value = policy(obs)
    fns = {name: (lambda a: a) for name in policy.hook_names()}
    fns["embedder.fc_out"] = lambda a: None
    with policy.hooks(fns):
        hooked, hooked_value = policy(obs)
    assert torch.equal(base, hooked) and torch.equal(base_value, hooked_value)
    assert no_hooks_left(policy)


def test_patching_relufc_with_a_vector_gives_hand_computed_logits(policy):
    v = torch.linspace(-1, 1, 256)  # (256,)
    with policy.hooks({"embedder.relufc_out": lambda a: v.expand_as(a)}):
        logits, value = policy(frames())
    batch = v.expand(3, 256)
    assert torch.equal(logits, policy.fc_policy(batch))
    assert torch.equal(value, policy.fc_value(batch).squeeze(-1))
    by_hand = policy.fc_policy.weight @ v + policy.fc_policy.bias  # (15,)
    assert torch.allclose(logits, by_hand.expand(3, 15), atol=1e-6)


def test_several_hooks_at_once_and_per_sample_batches(policy):
    obs = frames(4)
    seen: list[tuple[int, ...]] = []
    scale = torch.arange(4.0).view(4, 1)  # a different patch per sample

    def record(a):
        seen.append(tuple(a.shape))

    with policy.hooks({"embedder.block1.conv_out": record, "embedder.fc_out": lambda a: a * scale}):
        _, _, cache = policy.run_with_cache(obs, ["embedder.relufc_out"])
    _, _, plain = policy.run_with_cache(obs, ["embedder.fc_out"])
    assert seen == [(4, 16, 64, 64)]
    assert torch.equal(cache["embedder.relufc_out"], torch.relu(plain["embedder.fc_out"] * scale))
    assert not cache["embedder.relufc_out"][0].any()  # sample 0 scaled by 0


def test_nested_hooks_apply_both_outer_first(policy):
    obs = frames()
    with policy.hooks({"embedder.fc_out": lambda a: a + 1}):
        with policy.hooks({"embedder.fc_out": lambda a: a * 2}):
            nested, _ = policy(obs)
        outer_only, _ = policy(obs)
    _, _, cache = policy.run_with_cache(obs, ["embedder.fc_out"])
    fc = cache["embedder.fc_out"]
    assert torch.equal(nested, policy.fc_policy(torch.relu((fc + 1) * 2)))
    assert torch.equal(outer_only, policy.fc_policy(torch.relu(fc + 1)))
    assert no_hooks_left(policy)


def test_hooks_removed_after_exceptions(policy):
    obs = frames()
    base, _ = policy(obs)
    with pytest.raises(RuntimeError, match="boom"):
        with policy.hooks({"embedder.fc_out": lambda a: a * 0}):
            raise RuntimeError("boom")
    assert no_hooks_left(policy)

    def failing(a):
        raise ValueError("bad hook")

    with pytest.raises(ValueError, match="bad hook"):
        with policy.hooks({"embedder.fc_out": lambda a: a * 0, "fc_value_out": failing}):
            policy(obs)
    assert no_hooks_left(policy)
    assert torch.equal(policy(obs)[0], base)


def test_unknown_hook_name_lists_valid_names_and_sets_nothing(policy):
    with pytest.raises(KeyError, match=r"Did you mean.*block2\.res1\.resadd_out") as err:
        with policy.hooks(
            {"embedder.fc_out": lambda a: a * 0, "embedder.block2.res1.resad_out": lambda a: a}
        ):
            pytest.fail("the block must not run")
    assert "Valid names" in str(err.value) and "fc_policy_out" in str(err.value)
    assert no_hooks_left(policy)
    with pytest.raises(KeyError, match="Valid names"):
        policy.run_with_cache(frames(), ["nope"])
    with pytest.raises(KeyError, match="Valid names"):
        policy.check_hook_names(["embedder.fc"])  # a module, not a hook point


def test_hooks_work_on_other_devices(policy):
    with torch.device("meta"):
        meta = ImpalaPolicy(scale=1)
    obs = torch.zeros(2, 64, 64, 3, dtype=torch.uint8, device="meta")
    with meta.hooks({"embedder.relufc_out": lambda a: a + torch.ones(256, device=a.device)}):
        logits, value, cache = meta.run_with_cache(obs, ["embedder.fc_out"])
    assert logits.device.type == "meta" and logits.shape == (2, 15) and value.shape == (2,)
    assert cache["embedder.fc_out"].device.type == "meta"
    if torch.cuda.is_available():
        gpu = ImpalaPolicy(scale=1).to("cuda")
        obs = frames().to("cuda")
        with gpu.hooks({"embedder.relufc_out": lambda a: a * 0}):
            logits, _ = gpu(obs)
        assert torch.equal(logits, gpu.fc_policy.bias.expand(3, 15))


def test_gradients_flow_through_patches(policy):
    delta = torch.zeros(256, requires_grad=True)
    with policy.hooks({"embedder.relufc_out": lambda a: a + delta}):
        logits, _ = policy(frames())
    logits[:, 0].sum().backward()
    assert torch.allclose(delta.grad, 3 * policy.fc_policy.weight[0].detach(), atol=1e-6)
    policy.zero_grad(set_to_none=True)
