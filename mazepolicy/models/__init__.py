"""Networks: hook points, the IMPALA actor-critic, checkpoints, the SB3 features extractor.

Example:
    >>> import torch
    >>> from mazepolicy.models import ImpalaPolicy
    >>> policy = ImpalaPolicy(scale=1)
    >>> frames = torch.zeros(2, 64, 64, 3, dtype=torch.uint8)  # (N, 64, 64, 3) RGB
    >>> logits, values = policy(frames)
    >>> logits.shape, values.shape
    (torch.Size([2, 15]), torch.Size([2]))
    >>> "embedder.block2.res1.resadd_out" in policy.hook_names()
    True

The Stable-Baselines3 features extractor is in ``mazepolicy.models.sb3`` (imports SB3).
"""

from mazepolicy.extras import require

require("torch", "mazepolicy.models")

from mazepolicy.models.checkpoint import (
    CheckpointError,
    load_policy,
    load_research_checkpoint,
    read_card,
    save_policy,
)
from mazepolicy.models.hooks import HookedModule, HookPoint
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.models.protocols import HookedPolicy

__all__ = [
    "CheckpointError",
    "HookPoint",
    "HookedModule",
    "HookedPolicy",
    "ImpalaPolicy",
    "load_policy",
    "load_research_checkpoint",
    "read_card",
    "save_policy",
]
