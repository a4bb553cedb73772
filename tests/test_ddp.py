"""Data-parallel training: two CPU processes (gloo) step different mazes and keep
bitwise-identical parameters; each writes its own part of a checkpoint and resumes from it."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from mazepolicy.train.recipes import load_recipe

CONFIG = load_recipe("ppo-tiny").replace(
    num_envs=4, num_steps=16, minibatches=2, epochs=1, eval_episodes=0, torch_threads=1,
    env_threads=1, total_steps=2 * 2 * 64,
)


def _join(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))


def _worker(rank: int, world: int, port: int, out_dir: str, results: dict) -> None:
    _join(rank, world, port)
    from mazepolicy.train.ppo.trainer import Trainer

    with Trainer(CONFIG, out_dir, progress=False) as trainer:
        initial = torch.cat([p.detach().flatten() for p in trainer.policy.parameters()])
        first_frames = torch.from_numpy(trainer.frames[0]).float().sum()
        summary = trainer.train()  # 2 iterations, a checkpoint at the end
        final = torch.cat([p.detach().flatten() for p in trainer.policy.parameters()])
    gathered = [torch.zeros_like(final) for _ in range(world)]
    dist.all_gather(gathered, final)
    frames = [torch.zeros_like(first_frames) for _ in range(world)]
    dist.all_gather(frames, first_frames)
    if rank == 0:
        results["identical"] = all(torch.equal(gathered[0], g) for g in gathered[1:])
        results["different_envs"] = bool(frames[0] != frames[1])
        results["changed"] = not torch.equal(initial, final)
        results["global_step"] = summary["global_step"]
        results["iteration"] = summary["iteration"]
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_stay_in_sync(tmp_path):
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), results), nprocs=2, join=True)
        results = dict(results)
    assert results["identical"], "ranks' parameters diverged"
    assert results["different_envs"], "ranks should step different mazes"
    assert results["changed"], "the updates changed nothing"
    assert results["global_step"] == CONFIG.total_steps and results["iteration"] == 2
    checkpoint = tmp_path / "checkpoints" / "iter-000002"
    assert {"rank-0.safetensors", "rank-1.safetensors", "policy.safetensors"} <= {
        p.name for p in checkpoint.iterdir()}


def _train_worker(rank: int, world: int, port: int, out_dir: str, total_steps: int,
                  resume: bool) -> None:
    _join(rank, world, port)
    from mazepolicy.train.ppo.trainer import Trainer

    with Trainer(CONFIG.replace(total_steps=total_steps), out_dir, resume=resume,
                 progress=False) as trainer:
        trainer.train()
    dist.destroy_process_group()


def _train(out_dir, total_steps: int, resume: bool = False) -> None:
    mp.spawn(_train_worker, args=(2, _free_port(), str(out_dir), total_steps, resume),
             nprocs=2, join=True)


def test_two_rank_resume_is_bitwise_identical(tmp_path):
    """Two ranks, 2 iterations straight == 1 iteration, then both ranks resume from
    their own parts of the checkpoint for 1 more: the same weights and Adam state."""
    _train(tmp_path / "straight", CONFIG.total_steps)
    _train(tmp_path / "split", CONFIG.total_steps // 2)
    _train(tmp_path / "split", CONFIG.total_steps, resume=True)
    for name in ("policy.safetensors", "optimizer.safetensors"):
        straight = load_file(tmp_path / "straight" / "checkpoints" / "iter-000002" / name)
        split = load_file(tmp_path / "split" / "checkpoints" / "iter-000002" / name)
        assert straight.keys() == split.keys()
        assert all(torch.equal(straight[k], split[k]) for k in straight), name
