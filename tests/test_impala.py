"""IMPALA policy: research parameter names, architecture, hook shapes, init, acting."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mazepolicy.models.hooks import HookPoint
from mazepolicy.models.impala import ImpalaPolicy

LAYERS = ("conv", "res1.conv1", "res1.conv2", "res2.conv1", "res2.conv2")
# The research code's state_dict keys, in its order (train-procgen-pytorch ImpalaModel +
# CategoricalPolicy).
RESEARCH_KEYS = [
    f"embedder.block{b}.{layer}.{p}"
    for b in (1, 2, 3)
    for layer in LAYERS
    for p in ("weight", "bias")
] + [f"{m}.{p}" for m in ("embedder.fc", "fc_policy", "fc_value") for p in ("weight", "bias")]
RES_HOOKS = ("relu1_out", "conv1_out", "relu2_out", "conv2_out", "resadd_out")


def frames(n: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 64, 64, 3), dtype=torch.uint8, generator=g)


def research_forward(state: dict, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The research network, written functionally from its state dict."""
    x = obs.permute(0, 3, 1, 2).float() / 255.0  # (N, 3, 64, 64)

    def conv(x, key):
        return F.conv2d(x, state[f"{key}.weight"], state[f"{key}.bias"], padding=1)

    for b in (1, 2, 3):
        x = F.max_pool2d(conv(x, f"embedder.block{b}.conv"), 3, stride=2, padding=1)
        for r in (1, 2):
            key = f"embedder.block{b}.res{r}"
            x = conv(F.relu(conv(F.relu(x), f"{key}.conv1")), f"{key}.conv2") + x
    x = F.relu(x).flatten(1)  # (N, 32 * scale * 64), NCHW order
    hidden = F.relu(F.linear(x, state["embedder.fc.weight"], state["embedder.fc.bias"]))
    logits = F.linear(hidden, state["fc_policy.weight"], state["fc_policy.bias"])
    value = F.linear(hidden, state["fc_value.weight"], state["fc_value.bias"])
    return logits, value.reshape(-1)


@pytest.fixture(scope="module")
def policy() -> ImpalaPolicy:
    torch.manual_seed(0)
    return ImpalaPolicy(scale=1).eval()


def test_state_dict_keys_are_the_research_keys_in_order(policy):
    assert list(policy.state_dict()) == RESEARCH_KEYS


def test_hook_points_have_no_parameters(policy):
    points = [m for m in policy.modules() if isinstance(m, HookPoint)]
    assert len(points) == len(policy.hook_names())
    assert all(not list(p.parameters()) and not list(p.buffers()) for p in points)


def test_forward_equals_research_network_bitwise(policy):
    obs = frames()
    logits, value = policy(obs)
    ref_logits, ref_value = research_forward(policy.state_dict(), obs)
    assert logits.shape == (3, 15) and value.shape == (3,)
    assert torch.equal(logits, ref_logits) and torch.equal(value, ref_value)


def expected_hook_shapes(scale: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    size = 64
    for b, ch in ((1, 16 * scale), (2, 32 * scale), (3, 32 * scale)):
        shapes[f"embedder.block{b}.conv_out"] = (ch, size, size)
        size //= 2
        shapes[f"embedder.block{b}.maxpool_out"] = (ch, size, size)
        for r in (1, 2):
            for hook in RES_HOOKS:
                shapes[f"embedder.block{b}.res{r}.{hook}"] = (ch, size, size)
    shapes["embedder.relu3_out"] = (32 * scale, 8, 8)
    shapes["embedder.flatten_out"] = (32 * scale * 64,)
    shapes["embedder.fc_out"] = shapes["embedder.relufc_out"] = (256,)
    shapes["fc_policy_out"], shapes["fc_value_out"] = (15,), (1,)
    return shapes


def test_hook_shapes_scale_1_in_forward_order(policy):
    shapes = policy.hook_names()
    assert list(shapes.items()) == list(expected_hook_shapes(1).items())
    assert shapes["embedder.block2.res1.resadd_out"] == (32, 16, 16)
    assert len(shapes) == 3 * (2 + 2 * 5) + 4 + 2


def test_hook_shapes_scale_4():
    with torch.device("meta"):  # shapes only: skip the init
        big = ImpalaPolicy(scale=4).to_empty(device="cpu")
    shapes = big.hook_names()
    assert list(shapes.items()) == list(expected_hook_shapes(4).items())
    assert shapes["embedder.block2.res1.resadd_out"] == (128, 16, 16)


def test_hook_names_is_a_copy(policy):
    policy.hook_names().clear()
    assert len(policy.hook_names()) == 42


def test_initialisation_is_the_research_one(policy):
    """Heads orthogonal (policy gain 0.01, value gain 1); body Xavier-uniform:
    values within +-sqrt(6 / (fan_in + fan_out)) and spread like that uniform; biases 0."""

    def gram(w):  # rows or columns of the flattened weight, whichever are fewer
        w = w.flatten(1)
        return w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w

    for name, module in policy.named_modules():
        if not isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            continue
        w = module.weight.detach()
        assert not module.bias.any(), name
        if name in ("fc_policy", "fc_value"):
            gain = {"fc_policy": 0.01, "fc_value": 1.0}[name]
            g = gram(w)
            assert torch.allclose(g, gain**2 * torch.eye(len(g)), atol=1e-5), name
        else:
            receptive = w[0, 0].numel() if w.ndim == 4 else 1
            bound = math.sqrt(6 / ((w.shape[0] + w.shape[1]) * receptive))
            assert w.abs().max() <= bound, name
            assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.1, name


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_scale_rejected(bad):
    with pytest.raises(ValueError, match="scale"):
        ImpalaPolicy(scale=bad)


def test_bad_inputs_rejected(policy):
    with pytest.raises(ValueError, match="64, 64, 3"):
        policy(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="64, 64, 3"):
        policy(torch.zeros(2, 32, 32, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        policy(torch.zeros(2, 64, 64, 3))
    with pytest.raises(TypeError, match="uint8"):
        policy(np.zeros((2, 64, 64, 3), dtype=np.float32))  # numpy floats: refused too
    with pytest.raises(ValueError, match="64, 64, 3"):
        policy(np.zeros((2, 3, 64, 64), dtype=np.uint8))
    with pytest.raises(TypeError, match="torch.Tensor or numpy array"):
        policy([[0] * 3] * 2)


def test_numpy_frames_work_wherever_frames_are_taken(policy):
    """The env's numpy uint8 frames (N, 64, 64, 3), as ``act`` always took them, in
    ``policy(obs)``, ``run_with_cache`` and ``distribution``: the same numbers as tensors."""
    obs = frames()  # uint8 tensor (N, 64, 64, 3)
    array = obs.numpy().copy()
    logits, value = policy(obs)
    np_logits, np_value = policy(array)
    assert torch.equal(logits, np_logits) and torch.equal(value, np_value)
    layer = "embedder.block2.res1.resadd_out"
    _, _, cache = policy.run_with_cache(obs, [layer])
    np_out, _, np_cache = policy.run_with_cache(array, [layer])
    assert torch.equal(cache[layer], np_cache[layer]) and torch.equal(np_out, logits)
    assert torch.equal(policy.distribution(array).probs, policy.distribution(obs).probs)
    flipped = array[:, ::-1]  # negative strides; and a read-only view
    readonly = array.view()
    readonly.flags.writeable = False
    assert torch.equal(policy(flipped)[0], policy(torch.from_numpy(flipped.copy()))[0])
    assert torch.equal(policy(readonly)[0], logits)


def test_distribution_matches_logits(policy):
    obs = frames()
    dist = policy.distribution(obs)
    assert torch.allclose(dist.probs, torch.softmax(policy(obs)[0], -1), atol=1e-6)


def test_act_greedy_and_seeded_sampling(policy):
    obs = frames(5).numpy()
    greedy = policy.act(obs, greedy=True)
    assert isinstance(greedy, np.ndarray) and greedy.shape == (5,) and greedy.dtype == np.int64
    assert (greedy == policy(torch.as_tensor(obs))[0].argmax(-1).numpy()).all()
    a = policy.act(obs, generator=torch.Generator().manual_seed(1))
    b = policy.act(obs, generator=torch.Generator().manual_seed(1))
    assert (a == b).all() and a.shape == (5,) and ((0 <= a) & (a < 15)).all()


def test_act_samples_from_the_distribution(policy):
    policy = copy.deepcopy(policy)
    with torch.no_grad():  # a known distribution: logits = bias
        policy.fc_policy.weight.zero_()
        policy.fc_policy.bias.copy_(torch.log(torch.tensor([0.7, 0.3] + [1e-9] * 13)))
    obs = np.zeros((256, 64, 64, 3), np.uint8)
    actions = policy.act(obs, generator=torch.Generator().manual_seed(0))
    assert set(np.unique(actions)) <= {0, 1}
    assert abs((actions == 0).mean() - 0.7) < 0.1  # 3.5 sigma; seeded
