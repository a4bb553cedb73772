"""Data-parallel set-up under ``torchrun``."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def distributed_context() -> tuple[int, int, int]:
    """(rank, world size, ranks on this node); joins the process group under ``torchrun``.

    Example:
        >>> distributed_context()  # a plain process
        (0, 1, 1)
    """
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world == 1:
        return 0, 1, 1
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    return dist.get_rank(), dist.get_world_size(), local_world
