"""Steering with SAE features: clamp one feature of a position-layout SAE at the
target's map position, keeping the SAE's error term, and compare it with clamping a
channel and with the moved-cheese vector on the same retargeting jobs, at one clamp
value or over a sweep of them.

At the edited position the C-vector ``a`` becomes ``a + (value - f_i(a)) * d_i``, with
``f_i`` the feature's activation and ``d_i`` its unit decoder row: only the feature's
component along its direction changes, and what the SAE does not reconstruct stays.
Cells are (x, y): x right, y up, (0, 0) the start (bottom-left).

Example:
    >>> import torch
    >>> from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
    >>> sae = SparseAutoencoder(SAEConfig(d_in=4, d_sae=8, kind="relu")).requires_grad_(False)
    >>> clamp = FeatureClamp(sae, feature=3, value=2.0)
    >>> clamp.reset(1, (4, 5, 5))
    >>> clamp.positions[0] = torch.tensor([2, 2])  # (row, col) of slot 0's target
    >>> acts = torch.zeros(1, 4, 5, 5)
    >>> out = clamp(acts)
    >>> before = sae.encode(acts[:, :, 2, 2])[0, 3]
    >>> torch.allclose(out[0, :, 2, 2], (2.0 - before) * sae.W_dec[3])  # along d_3 only
    True
    >>> float((out - acts).abs().sum() - (out - acts)[0, :, 2, 2].abs().sum())  # elsewhere
    0.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mazepolicy.eval.covariates import rates_in_bins
from mazepolicy.eval.stats import Rate, paired_comparison
from mazepolicy.interp.retarget import (
    AtTargetEdit,
    ChannelClamp,
    Job,
    MovedCheeseVector,
    compare_edits,
    path_distance_to_corner_path,
)
from mazepolicy.interp.sae.model import SparseAutoencoder


class FeatureClamp(AtTargetEdit):
    """Set feature ``feature`` of ``sae`` to ``value`` at the target's map position
    (see the module doc); ``sae`` must use the position layout."""

    def __init__(self, sae: SparseAutoencoder, feature: int, value: float):
        if sae.config.layout != "position":
            raise ValueError("a feature clamp needs a position-layout SAE (one C-vector per "
                             f"map position), not layout {sae.config.layout!r}")
        if not 0 <= feature < sae.config.d_sae:
            raise ValueError(f"feature {feature} does not exist; the SAE has "
                             f"{sae.config.d_sae}")
        self.sae, self.feature, self.value = sae, feature, value
        self.label = f"SAE feature {feature} = {value:.3g}"

    def reset(self, slots: int, layer_shape: tuple[int, int, int]) -> None:
        if layer_shape[0] != self.sae.config.d_in:
            raise ValueError(f"the SAE reads {self.sae.config.d_in} channels; the layer has "
                             f"shape {layer_shape}")
        super().reset(slots, layer_shape)

    @torch.no_grad()
    def edit_vectors(self, vectors: torch.Tensor) -> torch.Tensor:  # (R, C)
        current = self.sae.encode(vectors.float())[:, self.feature]  # (R,)
        direction = self.sae.W_dec[self.feature]  # (C,), unit norm
        return vectors + (self.value - current)[:, None] * direction


def retargeting_comparison(policy, sae: SparseAutoencoder, layer: str, jobs: Sequence[Job],
                           feature: int, feature_value: float, channel: int,
                           channel_value: float, max_steps: int, bins: int = 4,
                           **settings) -> dict:
    """P(reach the target) over ``jobs`` for the feature clamp, the channel clamp, the
    moved-cheese vector and no edit (same jobs, same sampling streams): overall with
    Wilson intervals, each edit paired against no edit, and by the target's path
    distance to the start-to-corner path."""
    edits = {"feature clamp": FeatureClamp(sae, feature, feature_value),
             "channel clamp": ChannelClamp(channel, channel_value),
             "moved-cheese vector": MovedCheeseVector(policy, layer)}
    success = compare_edits(policy, jobs, layer, edits, max_steps, **settings)
    distance = [path_distance_to_corner_path(state, target) for state, target in jobs]
    baseline = success["no edit"]
    return {
        "jobs": len(jobs), "mazes": len({state.level_seed for state, _ in jobs}),
        "max_steps": max_steps,
        "feature": feature, "feature_value": feature_value,
        "channel": channel, "channel_value": channel_value,
        "success": {name: _rate(s) for name, s in success.items()},
        "paired_vs_no_edit": {name: paired_comparison(baseline, s).to_dict()
                              for name, s in success.items() if name != "no edit"},
        "by_distance": {name: rates_in_bins(distance, s, bins) for name, s in success.items()},
    }


def clamp_sweep(policy, sae: SparseAutoencoder, layer: str, jobs: Sequence[Job],
                feature: int, feature_normal: float, channel: int, channel_normal: float,
                ratios: Sequence[float], max_steps: int, **settings) -> dict:
    """P(reach the target) over ``jobs`` with the feature and the channel each clamped
    to ``ratio`` x its normal activation (``feature_normal``, ``channel_normal``: e.g.
    the mean at the cheese's position), for every ratio, and with no edit: the same jobs
    and sampling streams as :func:`retargeting_comparison`, so the research's single
    clamp value (5.5 / 0.6) becomes one point of a curve."""
    ratios = [float(r) for r in ratios]
    if not ratios or len(set(ratios)) != len(ratios) or not np.all(np.isfinite(ratios)):
        raise ValueError(f"clamp ratios must be distinct finite numbers, got {ratios}")
    edits = {}
    for r in ratios:
        edits[f"feature x{r:g}"] = FeatureClamp(sae, feature, r * feature_normal)
        edits[f"channel x{r:g}"] = ChannelClamp(channel, r * channel_normal)
    success = compare_edits(policy, jobs, layer, edits, max_steps, **settings)

    def rates(kind: str) -> list[dict]:
        return [_rate(success[f"{kind} x{r:g}"]) for r in ratios]

    return {"ratios": ratios, "jobs": len(jobs), "max_steps": max_steps,
            "feature": feature, "feature_normal": feature_normal,
            "channel": channel, "channel_normal": channel_normal,
            "no edit": _rate(success["no edit"]),
            "feature clamp": rates("feature"), "channel clamp": rates("channel")}


def _rate(success: Sequence[bool]) -> dict:
    return Rate.of(int(np.sum(success)), len(success)).to_dict()
