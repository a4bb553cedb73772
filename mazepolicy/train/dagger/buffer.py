"""The newest labelled frames of a DAgger run, in a fixed-size ring (uint8 frames).

Example:
    >>> import numpy as np, torch
    >>> buffer = LabelledFrames(capacity=3)
    >>> for k in range(4):
    ...     buffer.add(np.full((1, 64, 64, 3), k, np.uint8), np.array([7]), np.array([1.0]))
    >>> len(buffer), sorted(buffer.frames[:, 0, 0, 0].tolist())  # the oldest is gone
    (3, [1, 2, 3])
    >>> frames, actions, values = buffer.sample(2, torch.Generator().manual_seed(0))
    >>> frames.shape, actions.dtype
    (torch.Size([2, 64, 64, 3]), torch.int64)
"""

from __future__ import annotations

import numpy as np
import torch

FRAME_SHAPE = (64, 64, 3)


class LabelledFrames:
    """Frames uint8 (C, 64, 64, 3) with the expert's action (C,) and value target (C,)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.frames = torch.zeros((capacity, *FRAME_SHAPE), dtype=torch.uint8)
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.values = torch.zeros(capacity, dtype=torch.float32)
        self.size = 0  # filled entries
        self.cursor = 0  # next write position

    def __len__(self) -> int:
        return self.size

    def add(self, frames: np.ndarray, actions: np.ndarray, values: np.ndarray) -> None:
        """Append k labelled frames: uint8 (k, 64, 64, 3), actions (k,), values (k,)."""
        k = len(frames)
        if k > self.capacity:
            raise ValueError(f"{k} frames do not fit a buffer of {self.capacity}")
        index = (self.cursor + np.arange(k)) % self.capacity  # (k,)
        index = torch.from_numpy(index)
        self.frames[index] = torch.from_numpy(np.ascontiguousarray(frames))
        self.actions[index] = torch.as_tensor(actions, dtype=torch.int64)
        self.values[index] = torch.as_tensor(values, dtype=torch.float32)
        self.cursor = (self.cursor + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    def sample(self, batch: int, generator: torch.Generator):
        """A uniform minibatch (with replacement): frames, actions, values."""
        if not self.size:
            raise ValueError("the buffer is empty")
        index = torch.randint(self.size, (batch,), generator=generator)  # (B,)
        return self.frames[index], self.actions[index], self.values[index]

    def state_dict(self, contents: bool = True) -> dict[str, torch.Tensor]:
        """The write position, and the filled entries unless ``contents=False`` (for a
        buffer that the next writes overwrite whole before it is read again)."""
        state = {"cursor": torch.tensor([self.cursor])}
        if contents:
            n = self.size
            state.update(frames=self.frames[:n], actions=self.actions[:n],
                         values=self.values[:n])
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "frames" not in state:  # saved without contents: only the write position
            self.size, self.cursor = 0, int(state["cursor"][0]) % self.capacity
            return
        n = len(state["frames"])
        if n > self.capacity or not (len(state["actions"]) == len(state["values"]) == n):
            raise ValueError(f"saved buffer of {n} frames does not fit capacity "
                             f"{self.capacity} or its labels")
        self.frames[:n], self.actions[:n], self.values[:n] = (
            state["frames"], state["actions"], state["values"])
        self.size, self.cursor = n, int(state["cursor"][0]) % self.capacity
