"""Periodic evaluation during training: mean return, P(reach cheese) and P(reach the
top-right corner first), with counts, on a fixed set of seeded mazes.

Each evaluation plays level seeds ``seed, ..., seed + episodes - 1`` once each
(``MazeVecEnv(level_seeds=...)``), sampling actions from the policy with a seeded
generator, so two evaluations of the same weights agree exactly. Outcomes come from the
env's ``info`` keys (``reached_cheese``, ``reached_top_right``, ``top_right_step``,
``episode_length``, ``episode_return``). For the per-maze analysis of goal
misgeneralization (decision squares, eligible mazes) use ``mazepolicy.interp.evaluate``.

Example:
    >>> from mazepolicy.agents.impala import ImpalaPolicy
    >>> result = evaluate_policy(ImpalaPolicy(), "maze-anywhere-easy", episodes=4, seed=0,
    ...                          max_episode_steps=20)
    >>> result.episodes, 0 <= result.cheese <= 4
    (4, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mazepolicy.envs.variants import EnvVariant, load_variant
from mazepolicy.envs.vec_env import EPISODE_STEPS, seeds_for
from mazepolicy.interp.stats import wilson_interval


@dataclass(frozen=True)
class EvalResult:
    """Outcome counts of one evaluation on ``episodes`` seeded mazes of ``variant``.

    ``top_right_first`` counts episodes whose mouse entered the maze's top-right corner
    before reaching the cheese (or without reaching it); a cheese in the corner itself,
    reached on first entering it, counts as cheese only.
    """

    variant: str
    seed: int  # first level seed
    episodes: int
    cheese: int
    top_right_first: int
    mean_return: float
    mean_length: float

    def to_dict(self) -> dict:
        """JSON-ready: the counts, rates and Wilson 95% intervals.

        Example:
            >>> EvalResult("v", 0, 4, 3, 1, 7.5, 20.0).to_dict()["p_cheese"]
            0.75
        """
        rates = {}
        for name in ("cheese", "top_right_first"):
            count = getattr(self, name)
            rates[f"p_{name}"] = count / self.episodes
            rates[f"p_{name}_ci"] = list(wilson_interval(count, self.episodes))
        return {"variant": self.variant, "seed": self.seed, "episodes": self.episodes,
                "cheese": self.cheese, "top_right_first": self.top_right_first, **rates,
                "mean_return": self.mean_return, "mean_length": self.mean_length}


@torch.inference_mode()
def evaluate_policy(
    policy: nn.Module,
    variant: str | EnvVariant,
    episodes: int,
    seed: int,
    num_envs: int = 64,
    sample_seed: int = 0,
    max_episode_steps: int = EPISODE_STEPS,
    num_threads: int | None = None,
) -> EvalResult:
    """Play ``episodes`` seeded mazes of ``variant`` once each with ``policy`` (uint8
    frames (N, 64, 64, 3) -> (logits (N, A), values (N,)), on its own device).

    Actions are sampled with a generator seeded by ``sample_seed``. ``num_envs`` mazes
    run at once; ``max_episode_steps`` caps episodes (default: the engine's 500).

    Example:
        >>> from mazepolicy.agents.impala import ImpalaPolicy
        >>> policy = ImpalaPolicy()
        >>> run = lambda: evaluate_policy(policy, "maze-topright-5-easy", episodes=3, seed=7,
        ...                               max_episode_steps=10)
        >>> run() == run()
        True
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if isinstance(variant, str):
        variant = load_variant(variant)
    device = next(policy.parameters()).device
    generator = torch.Generator(device).manual_seed(sample_seed)
    level_seeds = range(seed, seed + episodes)
    n = min(num_envs, episodes)
    quota = np.array([len(s) for s in seeds_for(n, level_seeds)])  # (n,) episodes per env
    finished = np.zeros(n, dtype=np.int64)  # (n,)
    cheese = top_right_first = 0
    returns, lengths = [], []
    env = variant.make_vec(n, seed=seed, level_seeds=level_seeds,
                           max_episode_steps=max_episode_steps, num_threads=num_threads)
    obs, _ = env.reset()
    try:
        while (finished < quota).any():
            logits, _ = policy(torch.from_numpy(obs).to(device))  # (n, A)
            probs = torch.softmax(logits.float(), dim=-1)
            actions = torch.multinomial(probs, 1, generator=generator)[:, 0]  # (n,)
            obs, _, terminated, truncated, info = env.step(actions.cpu().numpy())
            done = terminated | truncated
            for i in np.flatnonzero(done & (finished < quota)):
                reached = bool(info["reached_cheese"][i])
                length = int(info["episode_length"][i])
                corner_first = info["reached_top_right"][i] and not (
                    reached and info["top_right_step"][i] >= length
                )
                cheese += reached
                top_right_first += bool(corner_first)
                returns.append(float(info["episode_return"][i]))
                lengths.append(length)
            finished += done
    finally:
        env.close()
    return EvalResult(variant.name, seed, episodes, cheese, top_right_first,
                      float(np.mean(returns)), float(np.mean(lengths)))
