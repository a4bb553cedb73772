"""What interpretability code needs of a network: a hooked policy.

Example:
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> isinstance(ImpalaPolicy(), HookedPolicy)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class HookedPolicy(Protocol):
    """A torch module mapping uint8 frames (N, 64, 64, 3) to (logits (N, A), values (N,))
    with named hook points (``embedder.block2.res1.resadd_out``, ...)."""

    def __call__(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...

    def hook_names(self) -> dict[str, tuple[int, ...]]: ...

    def check_hook_names(self, names: str | Iterable[str]) -> list[str]: ...

    def hooks(self, fns: dict[str, Callable]) -> AbstractContextManager[None]: ...

    def run_with_cache(self, obs, names) -> tuple[torch.Tensor, torch.Tensor, dict]: ...
