"""Shared fixtures: real engine states from procgen, made once per session."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from mazepolicy.envs.procgen_backend import make_engine
from mazepolicy.envs.state import MazeState

try:
    import torch
except ModuleNotFoundError:  # the environments are tested without the torch extra too
    torch = None

if torch is not None:

    class ConstantPolicy(torch.nn.Module):
        """A network stand-in that puts (almost) all probability on one action."""

        def __init__(self, action: int):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))  # a device to read
            self.action = action

        def forward(self, obs):
            logits = torch.full((len(obs), 15), -1e4)
            logits[:, self.action] = 0.0
            return logits, torch.zeros(len(obs))


def engine_states(mode: str, num: int, seed: int, steps: int = 0) -> list[bytes]:
    """Raw ``get_state`` bytes of ``num`` mazes after ``steps`` random steps."""
    env = make_engine(num=num, distribution_mode=mode, rand_seed=seed, num_threads=1)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.act(rng.integers(0, 15, num).astype(np.int32))
        env.observe()
    states = [env.get_state_of(i) for i in range(num)]
    env.close()
    return states


@pytest.fixture(scope="session")
def hard_state_bytes() -> bytes:
    return engine_states("hard", 1, seed=0)[0]


@pytest.fixture
def hard_state(hard_state_bytes) -> MazeState:
    return MazeState.from_bytes(hard_state_bytes)


def cell_pixels(cell, maze_dim: int, world_dim: int) -> tuple[slice, slice]:
    """(rows, cols) of the 64x64 frame that lie strictly inside inner cell (x, y)."""
    margin = (world_dim - maze_dim) // 2
    wx, wy = cell[0] + margin, cell[1] + margin
    size = 64 / world_dim
    col0, col1 = wx * size, (wx + 1) * size
    row0, row1 = (world_dim - 1 - wy) * size, (world_dim - wy) * size
    return (
        slice(int(np.ceil(row0)), int(np.floor(row1))),
        slice(int(np.ceil(col0)), int(np.floor(col1))),
    )


def kill_after_first_checkpoint_then_resume(args: list[str], out: Path, counter: str,
                                            total: int) -> subprocess.CompletedProcess:
    """Run the training command ``args`` (writing to ``out``), SIGKILL it as soon as its
    first checkpoint is committed, check the kill came before the end (the card's
    ``counter`` < ``total``), and return the finished ``args + ["--resume"]`` run."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    latest = out / "checkpoints" / "latest"
    deadline = time.time() + 300
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert latest.exists(), "no checkpoint before the kill"
    assert json.loads((out / "policy.json").read_text())[counter] < total
    result = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resumed" in result.stderr
    return result
