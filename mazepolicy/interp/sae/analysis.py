"""One SAE analysed end to end: reconstruction and sparsity on held-out activations,
the policy with the layer spliced (action KL on held-out frames, seeded rollouts paired
with the unspliced policy), and superposition measures against single channels.

Example:
    >>> import tempfile, pathlib, torch
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.interp.sae.activations import collect_activations
    >>> from mazepolicy.interp.sae.model import SAEConfig
    >>> from mazepolicy.interp.sae.train import shard_batches, train_sae
    >>> root, layer = pathlib.Path(tempfile.mkdtemp()), "embedder.block3.res2.resadd_out"
    >>> policy = ImpalaPolicy()
    >>> _ = collect_activations(policy, [layer], root / "acts", "maze-anywhere-easy",
    ...                         mazes=2, positions_per_maze=4)
    >>> config = SAEConfig(d_in=32, d_sae=64, k=4, steps=10, batch_size=64, layer=layer)
    >>> _ = train_sae(config, shard_batches(root / "acts", layer, "position", 64, 0),
    ...               root / "sae", progress=False)
    >>> result = analyze_sae(policy, root / "sae", root / "acts", "maze-anywhere-easy",
    ...                      episodes=2, max_steps=20, progress=False)
    >>> 0 <= result["reconstruction"]["dead_fraction"] <= 1
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.eval.evaluate import Evaluation, evaluate
from mazepolicy.eval.stats import paired_comparison
from mazepolicy.interp.retarget import random_targets
from mazepolicy.interp.sae.activations import as_samples, load_shard, read_manifest
from mazepolicy.interp.sae.metrics import (
    SplicedAgent,
    dictionary_mixing,
    localisation,
    reconstruction_metrics,
    spliced_kl,
)
from mazepolicy.interp.sae.steer import clamp_sweep, retargeting_comparison
from mazepolicy.interp.sae.train import load_sae

# The research clamped channel 55 to +5.5 where its cheese values are about 0.6.
RESEARCH_CLAMP_RATIO = 5.5 / 0.6


def heldout_batches(folder: str | Path, layer: str, layout: str, batch: int = 4096):
    """Every sample of a collection folder, in order, in batches."""
    manifest = read_manifest(folder)
    for index in range(len(manifest["shards"])):
        samples, _ = as_samples(load_shard(folder, index), layer, layout)
        yield from samples.split(batch)


def analyze_sae(policy, sae_folder: str | Path, heldout: str | Path, variant: str,
                episodes: int = 100, max_steps: int = 500, seed: int | None = None,
                kl_mazes: int = 20, localisation_mazes: int = 30, retarget_mazes: int = 20,
                targets_per_maze: int = 4, retarget_max_steps: int = 100,
                clamp_ratio: float = RESEARCH_CLAMP_RATIO,
                clamp_ratios: Sequence[float] = (), baseline: Evaluation | None = None,
                progress: bool = True) -> dict:
    """Measure the SAE in ``sae_folder`` against the held-out activations ``heldout``
    (collected on other level seeds than its training data), with rollouts on
    ``episodes`` mazes of ``variant`` from the held-out seed.

    Position-layout SAEs also get superposition measures and a retargeting comparison
    on ``retarget_mazes`` mazes: the most cheese-localising feature and channel, each
    clamped at the target to ``clamp_ratio`` x its mean activation at the cheese's
    position (the research's ratio by default), the moved-cheese vector, and no edit;
    with ``clamp_ratios``, also a :func:`clamp_sweep` of both clamps over those ratios.

    ``baseline``: the policy's own :func:`baseline_rollouts` with the same settings, to
    share between SAEs of one policy (computed here if not given)."""
    trained = load_sae(sae_folder)
    sae, config = trained.model, trained.model.config
    manifest = read_manifest(heldout)
    seed = manifest["seed"] if seed is None else seed
    result = {"sae": str(sae_folder), "config": config.to_dict(), "heldout": str(heldout),
              "seed": seed,
              "reconstruction": reconstruction_metrics(
                  sae, heldout_batches(heldout, config.layer, config.layout))}
    v = load_variant(variant)
    states = level_states(range(seed, seed + max(kl_mazes, localisation_mazes,
                                                 retarget_mazes)),
                          v.placement(), v.distribution_mode)
    rng = np.random.default_rng(seed)
    probes = []
    for state in states[:kl_mazes]:  # the start and random free cells of each maze
        ys, xs = np.nonzero(state.free)
        picks = rng.choice(len(xs), size=min(8, len(xs)), replace=False)
        probes += [state.with_mouse((int(xs[i]), int(ys[i]))) for i in picks
                   if (int(xs[i]), int(ys[i])) != state.cheese_cell]
    result["kl"] = spliced_kl(policy, sae, config.layer, config.layout, probes)
    settings = dict(episodes=episodes, seed=seed, max_steps=max_steps, progress=progress)
    if baseline is None:
        base = baseline_rollouts(policy, variant, **settings)
    else:
        wanted = {"env": variant, "seed": seed, "episodes": episodes, "max_steps": max_steps,
                  "agent_seed": seed}
        given = {key: baseline.settings.get(key) for key in wanted}
        if given != wanted:
            raise ValueError(f"the baseline rollouts were made with {given}; this analysis "
                             f"needs {wanted}")
        base = baseline
    spliced = evaluate(SplicedAgent(policy, sae, config.layer, config.layout, seed=seed),
                       variant, **settings)
    eligible = [i for i, e in enumerate(base.episodes) if e.eligible]
    result["rollouts"] = {
        "policy": base.summary(), "spliced": spliced.summary(),
        "cheese_change": paired_comparison([e.reached_cheese for e in base.episodes],
                                           [e.reached_cheese for e in spliced.episodes]
                                           ).to_dict(),
        "misgeneralization_change": paired_comparison(
            [base.episodes[i].top_right_first for i in eligible],
            [spliced.episodes[i].top_right_first for i in eligible]).to_dict()
        if eligible else None,
    }
    if config.layout == "position":
        with torch.no_grad():
            local = localisation(policy, sae, config.layer,
                                 [s for s in states[:localisation_mazes] if s.cheese_cell],
                                 seed=seed)
        result["localisation"] = {name: _best(values) for name, values in local.items()}
        result["mixing"] = dictionary_mixing(sae)
        if retarget_mazes:
            result["retargeting"] = _retargeting(
                policy, sae, local["cheese"], states[:retarget_mazes], rng, targets_per_maze,
                retarget_max_steps, clamp_ratio, clamp_ratios, v.distribution_mode, seed,
                progress)
    return result


def baseline_rollouts(policy, variant: str, episodes: int, seed: int, max_steps: int = 500,
                      progress: bool = True) -> Evaluation:
    """The unspliced policy on ``episodes`` seeded mazes of ``variant``: what
    :func:`analyze_sae` compares each spliced SAE with.

    Example:
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> result = baseline_rollouts(ImpalaPolicy(), "maze-anywhere-easy", episodes=2,
        ...                            seed=0, max_steps=10, progress=False)
        >>> len(result.episodes)
        2
    """
    return evaluate(PolicyAgent(policy, seed=seed, name="policy"), variant, episodes=episodes,
                    seed=seed, max_steps=max_steps, progress=progress)


def _retargeting(policy, sae, cheese: dict, states, rng, targets_per_maze: int,
                 max_steps: int, ratio: float, ratios: Sequence[float],
                 distribution_mode: str, seed: int, progress: bool) -> dict:
    """:func:`retargeting_comparison` of the most cheese-localising feature and channel,
    and their :func:`clamp_sweep` over ``ratios`` (if any) on the same jobs."""
    feature = int(np.nanargmax(np.asarray(cheese["features"], dtype=float)))
    channel = int(np.nanargmax(np.asarray(cheese["channels"], dtype=float)))
    jobs = [(s, t) for s in states if s.cheese_cell
            for t in random_targets(s, targets_per_maze, rng)]
    if not jobs:
        return {"error": "no held-out maze with a cheese and a free target cell"}
    feature_normal = cheese["features_at_target"][feature]
    channel_normal = cheese["channels_at_target"][channel]
    settings = dict(distribution_mode=distribution_mode, seed=seed, progress=progress)
    out = retargeting_comparison(
        policy, sae, sae.config.layer, jobs, feature, ratio * feature_normal, channel,
        ratio * channel_normal, max_steps, **settings)
    out = {**out, "clamp_ratio": ratio, "feature_at_cheese": feature_normal,
           "channel_at_cheese": channel_normal}
    if ratios:
        out["clamp_sweep"] = clamp_sweep(policy, sae, sae.config.layer, jobs, feature,
                                         feature_normal, channel, channel_normal, ratios,
                                         max_steps, **settings)
    return out


def _best(values: dict) -> dict:
    """The strongest features and channels of a localisation entry, with the nulls."""
    feats = np.asarray(values["features"])
    chans = np.asarray(values["channels"])
    top_f = np.argsort(-np.nan_to_num(feats, nan=-2))[:5]
    top_c = np.argsort(-np.nan_to_num(chans, nan=-2))[:5]
    return {"top_features": [(int(i), float(feats[i])) for i in top_f],
            "features_over_null": int((feats > values["features_null_max"]).sum()),
            "features_null_max": values["features_null_max"],
            "top_channels": [(int(i), float(chans[i])) for i in top_c],
            "channels_over_null": int((chans > values["channels_null_max"]).sum()),
            "channels_null_max": values["channels_null_max"]}
