"""Data-parallel training: two CPU processes (gloo) keep bitwise-identical parameters."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mazepolicy.agents.ppo_config import load_recipe

CONFIG = load_recipe("ppo-tiny").replace(
    num_envs=4, num_steps=16, minibatches=2, epochs=1, eval_episodes=0, torch_threads=1,
    env_threads=1,
)


def _worker(rank: int, world: int, port: int, out_dir: str, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    from mazepolicy.agents.trainer import Trainer

    trainer = Trainer(CONFIG, out_dir, progress=False)
    first_obs = torch.from_numpy(trainer.next_obs).float().sum()
    for _ in range(2):
        trainer.train_iteration()
    flat = torch.cat([p.detach().flatten() for p in trainer.policy.parameters()])
    gathered = [torch.zeros_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    obs_sums = [torch.zeros_like(first_obs) for _ in range(world)]
    dist.all_gather(obs_sums, first_obs)
    if rank == 0:
        results["identical"] = all(torch.equal(gathered[0], g) for g in gathered[1:])
        results["different_envs"] = bool(obs_sums[0] != obs_sums[1])
        results["global_step"] = trainer.global_step
        results["changed"] = not torch.equal(flat, _initial(trainer))
    dist.destroy_process_group()


def _initial(trainer) -> torch.Tensor:
    torch.manual_seed(CONFIG.seed)
    from mazepolicy.agents.impala import ImpalaPolicy

    return torch.cat([p.flatten() for p in ImpalaPolicy(CONFIG.scale).parameters()])


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
    assert results["global_step"] == 2 * 2 * CONFIG.batch_size
