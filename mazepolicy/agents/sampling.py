"""Action sampling that depends only on the maze and the step, never on batching.

An agent that samples from a policy draws each env's uniform number from a counter-based
hash of (sampling seed, level seed, episode step) instead of one generator shared by
the batch, so an episode's actions, and hence its outcome, are the same whether its
maze is played alone or beside 63 others.

Example:
    >>> import numpy as np
    >>> u = episode_uniforms(0, np.array([5, 5, 6]), np.array([0, 1, 0]))
    >>> bool(u[0] != u[1] != u[2]), bool(((0 <= u) & (u < 1)).all())
    (True, True)
    >>> bool(episode_uniforms(0, np.array([5]), np.array([1]))[0] == u[1])  # batch-independent
    True
"""

from __future__ import annotations

import numpy as np
import torch

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijective, well-mixed hash of uint64 words."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def episode_uniforms(seed: int, level_seeds: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1), float64 (N,), one per (seed, level seed, step)."""
    words = _splitmix64(np.full(len(level_seeds), seed, dtype=np.uint64))
    words = _splitmix64(words ^ np.asarray(level_seeds, dtype=np.uint64))
    words = _splitmix64(words ^ np.asarray(steps, dtype=np.uint64))
    return (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample_actions(probs: torch.Tensor, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: for each row of ``probs`` (N, A), the first action whose
    cumulative probability exceeds its uniform number; int64 (N,).

    Example:
        >>> sample_actions(torch.tensor([[0.5, 0.5], [0.5, 0.5]]), np.array([0.2, 0.7]))
        array([0, 1])
    """
    cdf = torch.cumsum(probs.double().cpu(), dim=1)  # (N, A)
    cdf = cdf / cdf[:, -1:]  # exactly 1 at the end
    u = torch.from_numpy(np.asarray(uniforms, dtype=np.float64))[:, None]  # (N, 1)
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp_max(probs.shape[1] - 1).numpy()
