"""How good an SAE is and what its features mean: reconstruction on held-out mazes,
the policy with the layer replaced by its reconstruction, and superposition measures
(which features localise the cheese or the top-right corner, how many channels each
mixes, how many features use each channel).

Cells are (x, y): x right, y up, (0, 0) the start (bottom-left); map positions are
(row, col) with row 0 at the top.

Example:
    >>> import torch
    >>> from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
    >>> sae = SparseAutoencoder(SAEConfig(d_in=4, d_sae=8, k=2))
    >>> m = reconstruction_metrics(sae, [torch.randn(32, 4)])
    >>> sorted(m)
    ['alive_features', 'dead_fraction', 'fraction_variance_explained', 'l0', 'samples']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.frames import render_states
from mazepolicy.interp.channels import (
    cell_position,
    cheese_moved_activations,
    map_correlation,
    window_maps,
)
from mazepolicy.interp.sae.model import SparseAutoencoder


@torch.no_grad()
def reconstruction_metrics(sae: SparseAutoencoder, batches: Iterable[torch.Tensor]) -> dict:
    """Fraction of variance explained, mean L0 and the share of features that never
    fire, over ``batches`` of held-out samples (B, d_in)."""
    sq_error = total = 0.0
    l0 = n = 0
    s1 = s2 = None
    fired = torch.zeros(sae.config.d_sae, dtype=torch.bool)
    for x in batches:
        out = sae(x)
        sq_error += float((x - out.reconstruction).pow(2).sum())
        s1 = x.sum(0) if s1 is None else s1 + x.sum(0)
        s2 = x.pow(2).sum(0) if s2 is None else s2 + x.pow(2).sum(0)
        active = out.features > 0
        l0 += int(active.sum())
        fired |= active.any(0)
        n += len(x)
    if n == 0:
        raise ValueError("no samples to measure the SAE on")
    total = float((s2 - s1 * s1 / n).sum())  # sum of squared deviations from the mean
    return {"samples": n, "fraction_variance_explained": 1 - sq_error / total if total else
            float("nan"), "l0": l0 / n, "alive_features": int(fired.sum()),
            "dead_fraction": 1 - float(fired.float().mean())}


def splice_hook(sae: SparseAutoencoder, layout: str):
    """A hook replacing a (N, C, H, W) activation by the SAE's reconstruction."""
    def hook(activation: torch.Tensor) -> torch.Tensor:
        n, c, h, w = activation.shape
        if layout == "map":
            return sae(activation.flatten(1)).reconstruction.view(n, c, h, w)
        flat = activation.permute(0, 2, 3, 1).reshape(-1, c)  # (N*H*W, C)
        return sae(flat).reconstruction.view(n, h, w, c).permute(0, 3, 1, 2)
    return hook


class SplicedAgent(PolicyAgent):
    """A :class:`PolicyAgent` whose ``layer`` is replaced by ``sae``'s reconstruction."""

    def __init__(self, policy, sae: SparseAutoencoder, layer: str, layout: str, seed: int = 0):
        super().__init__(policy, seed=seed, name=f"spliced SAE at {layer}")
        policy.check_hook_names([layer])
        self.hooks = {layer: splice_hook(sae, layout)}

    def act(self, obs, env):
        with torch.no_grad(), self.policy.hooks(self.hooks):
            return super().act(obs, env)


@torch.no_grad()
def spliced_kl(policy, sae: SparseAutoencoder, layer: str, layout: str, states) -> dict:
    """Mean KL(policy || spliced policy) of the action distributions on the frames of
    ``states``, against the KL of replacing the layer by its mean over those frames
    (mean ablation); ``kl_recovered`` = 1 - KL(spliced) / KL(mean-ablated)."""
    device = next(policy.parameters()).device
    obs = torch.as_tensor(render_states(states), device=device)
    logits, _, cache = policy.run_with_cache(obs, [layer])
    mean = cache[layer].mean(0, keepdim=True)
    log_p = torch.log_softmax(logits.float(), -1)

    def kl(fn) -> float:
        with policy.hooks({layer: fn}):
            log_q = torch.log_softmax(policy(obs)[0].float(), -1)
        return float((log_p.exp() * (log_p - log_q)).sum(-1).mean())

    spliced = kl(splice_hook(sae, layout))
    ablated = kl(lambda a: mean.expand_as(a))
    return {"frames": len(states), "kl_spliced": spliced, "kl_mean_ablated": ablated,
            "kl_recovered": 1 - spliced / ablated if ablated > 0 else float("nan")}


@torch.no_grad()
def feature_maps(sae: SparseAutoencoder, acts: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Feature activations (N, F, H, W) of a position-layout SAE on (N, C, H, W)."""
    out = []
    for start in range(0, len(acts), batch):
        a = acts[start : start + batch].float()
        n, c, h, w = a.shape
        f = sae.encode(a.permute(0, 2, 3, 1).reshape(-1, c))  # (n*h*w, F)
        out.append(f.view(n, h, w, -1).permute(0, 3, 1, 2))
    return torch.cat(out)


def localisation(policy, sae: SparseAutoencoder, layer: str, states: Sequence, seed: int = 0,
                 cells_per_maze: int = 8) -> dict:
    """Per feature and per channel: correlation of its map with the cheese's position
    (cheese moved to random free cells) and with the top-right corner's position (over
    mazes of different sizes), each with a null from shuffled positions, and its mean
    activation at that position (``*_at_target``)."""
    rng = np.random.default_rng(seed)
    size = policy.hook_names()[layer][-1]
    acts, cheese, dims = cheese_moved_activations(policy, states, layer, cells_per_maze, rng)
    world = states[0].world_dim
    corner = torch.tensor([cell_position((n - 1, n - 1), n, world, size) for n in dims.tolist()])
    maps = feature_maps(sae, acts)
    shuffle = torch.from_numpy(rng.permutation(len(cheese)))
    out = {}
    frames = torch.arange(len(acts))
    for name, positions in (("cheese", cheese), ("top_right", corner)):
        target = window_maps(positions, size)
        null = window_maps(positions[shuffle], size)
        r, c = positions[:, 0], positions[:, 1]
        out[name] = {"features": map_correlation(maps, target).tolist(),
                     "features_null_max": float(map_correlation(maps, null).abs().max()),
                     "features_at_target": maps[frames, :, r, c].mean(0).tolist(),
                     "channels": map_correlation(acts, target).tolist(),
                     "channels_null_max": float(map_correlation(acts, null).abs().max()),
                     "channels_at_target": acts[frames, :, r, c].mean(0).tolist()}
    return out


def dictionary_mixing(sae: SparseAutoencoder, threshold: float = 0.3) -> dict:
    """How features mix channels (position layout: decoder rows are C-dim, unit norm):
    per feature the participation ratio (sum w^2)^2 / sum w^4, an effective number of
    channels; per channel how many features put |weight| >= ``threshold`` on it."""
    w = sae.W_dec.detach()  # (F, C)
    participation = w.pow(2).sum(1).pow(2) / w.pow(4).sum(1)
    uses = (w.abs() >= threshold).sum(0)
    return {"effective_channels": participation.tolist(),
            "median_effective_channels": float(participation.median()),
            "features_per_channel": uses.tolist(), "threshold": threshold}
