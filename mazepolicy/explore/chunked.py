"""A policy evaluated in chunks of frames, for the explorer's speed.

:func:`~mazepolicy.interp.probes.move_field` feeds a whole maze's frames (300+ on a hard
maze) to the network in batches of 256; on a CPU the first conv layers' activations of
so many frames overflow the caches, and batches of 64 run about 40% faster with the same
numbers bit for bit (measured: ``benchmarks/explore_latency.py``). The explorer hands
move_field this wrapper; hooks (steering) are set on the wrapped policy as usual.

Example:
    >>> import torch
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> policy = ImpalaPolicy()
    >>> obs = torch.zeros(5, 64, 64, 3, dtype=torch.uint8)
    >>> logits, value = ChunkedPolicy(policy, chunk=2)(obs)
    >>> tuple(logits.shape), bool(torch.equal(logits, policy(obs)[0]))
    ((5, 15), True)
"""

from __future__ import annotations

import torch

CHUNK = 64


class ChunkedPolicy:
    """``policy`` called on at most ``chunk`` frames at a time; ``(logits, value)`` of
    all frames as one call would give them."""

    def __init__(self, policy, chunk: int = CHUNK):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.policy, self.chunk = policy, chunk

    def parameters(self):
        """The wrapped policy's parameters (callers read the device from them)."""
        return self.policy.parameters()

    def __call__(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [self.policy(obs[i : i + self.chunk]) for i in range(0, len(obs), self.chunk)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
