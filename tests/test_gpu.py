"""The policy and trainer on a CUDA GPU; skipped where there is none (CI has none).

Run on a GPU machine with ``python -m pytest -m gpu`` (``benchmarks/gpu/device_check.sh``
does, with the benchmarks).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.ppo.trainer import Trainer
from mazepolicy.train.recipes import load_recipe

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

GPU_TINY = load_recipe("ppo-tiny").replace(
    device="cuda", num_envs=8, num_steps=16, minibatches=2, epochs=1, env_groups=2,
    checkpoint_every=1, eval_episodes=0, total_steps=4 * 128,
)


def _frames(n: int, seed: int = 0) -> torch.Tensor:
    """Random uint8 frames (n, 64, 64, 3)."""
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3),
                                                                   dtype=np.uint8))


def test_policy_on_the_gpu_matches_the_cpu():
    torch.manual_seed(0)
    policy = ImpalaPolicy(scale=1)
    frames = _frames(32)
    cpu_logits, cpu_values = policy(frames)
    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            logits, values = policy.cuda()(frames.cuda())
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
    torch.testing.assert_close(logits.cpu(), cpu_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(values.cpu(), cpu_values, atol=1e-4, rtol=1e-4)


def test_rollout_on_the_gpu_holds_exactly_the_frames_the_envs_returned(tmp_path):
    """Frames go to the device through pinned buffers with asynchronous copies; the
    rollout storage must still hold every frame the envs returned, in step order."""
    with Trainer(GPU_TINY, tmp_path, progress=False) as trainer:
        assert all(buffer.is_pinned() for buffer in trainer.staging)
        returned = [[] for _ in trainer.envs]  # per group: frames after each step
        for g, env in enumerate(trainer.envs):
            def step(actions, env=env, g=g, step=env.step):
                result = step(actions)
                returned[g].append(result[0].copy())
                return result
            env.step = step
        first = [frames.copy() for frames in trainer.frames]
        trainer.collect_rollout()
        stats = trainer.update()
        obs = trainer.storage.obs.cpu().numpy()  # (T, N, 64, 64, 3)
    for g, rows in enumerate(trainer.slices):
        expected = np.stack([first[g]] + returned[g][:-1])  # what step t acted on
        np.testing.assert_array_equal(obs[:, rows], expected)
    assert all(np.isfinite(v) for v in vars(stats).values())


def test_bf16_and_compile_train_on_the_gpu(tmp_path):
    config = GPU_TINY.replace(total_steps=2 * 128, bf16=True, compile=True)
    with Trainer(config, tmp_path, progress=False) as trainer:
        before = [p.detach().clone() for p in trainer.policy.parameters()]
        summary = trainer.train()
        frames = torch.from_numpy(np.concatenate(trainer.frames)).cuda()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            compiled_logits, _ = trainer.act_model(frames)
            eager_logits, _ = trainer.policy(frames)
    assert summary["iteration"] == 2
    assert any(not torch.equal(a, b)
               for a, b in zip(before, trainer.policy.parameters(), strict=True))
    torch.testing.assert_close(compiled_logits.float(), eager_logits.float(),
                               atol=3e-2, rtol=3e-2)


def test_resume_on_the_gpu_continues_the_run(tmp_path):
    """Not bitwise on a GPU (cuDNN's kernels may differ), but the same run: same
    counters and engine states, and weights within float noise of the straight run."""
    with Trainer(GPU_TINY, tmp_path / "straight", progress=False) as trainer:
        trainer.train()
        straight = [p.detach().cpu() for p in trainer.policy.parameters()]
        straight_frames = np.concatenate(trainer.frames)
    with Trainer(GPU_TINY.replace(total_steps=2 * 128), tmp_path / "split",
                 progress=False) as trainer:
        trainer.train()
    with Trainer(GPU_TINY, tmp_path / "split", resume=True, progress=False) as trainer:
        assert trainer.iteration == 2
        summary = trainer.train()
        split = [p.detach().cpu() for p in trainer.policy.parameters()]
        split_frames = np.concatenate(trainer.frames)
    assert summary["global_step"] == 4 * 128
    np.testing.assert_array_equal(split_frames, straight_frames)
    for a, b in zip(straight, split, strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)
