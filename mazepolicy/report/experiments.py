"""The report's experiments, one function per section. Each takes the loaded policies and
a :class:`~mazepolicy.report.config.ReportConfig`, writes its figures into ``figures``
and returns a JSON-ready dict of what it measured (every rate with its Wilson 95%
interval and counts).

Test mazes are the level seeds ``config.seed, config.seed + 1, ...`` of ``config.env``;
cells are (x, y): x right, y up, (0, 0) the start (bottom-left).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.geometry import paths_diverge
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.eval.covariates import FEATURES, binned_rates, outcome_regression, rates_in_bins
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.eval.stats import Rate, paired_comparison
from mazepolicy.interp.channels import channel_patch_effects, cheese_tracking_channels
from mazepolicy.interp.probes import (
    decision_square_stats,
    goal_choice_rates,
    goal_choices,
    goal_choices_by_distance,
    move_field,
    nan_median,
    paired_goal_difference,
)
from mazepolicy.interp.retarget import (
    ChannelClamp,
    MovedCheeseVector,
    random_targets,
    retargeting_rollouts,
    target_cells,
)
from mazepolicy.interp.steer import (
    composition_experiment,
    maze_vector,
    per_maze_vectors,
    steered_decision_stats,
    steering_experiment,
    steering_vector,
)
from mazepolicy.interp.transfer import vector_transfer
from mazepolicy.interp.vectors import SteeringVector, steering
from mazepolicy.report.config import ReportConfig
from mazepolicy.viz.charts import (
    plot_cell_values,
    plot_channel_scores,
    plot_layer_medians,
    plot_rate_series,
)
from mazepolicy.viz.plots import plot_sweep, plot_vector_fields

BIN_FEATURES = {"cheese_corner_euclidean": "cheese's distance to the top-right corner (cells)",
                "cheese_path_distance": "steps from the start to the cheese"}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def test_states(config: ReportConfig, count: int):
    """Start states of the first ``count`` test mazes."""
    variant = load_variant(config.env)
    return level_states(range(config.seed, config.seed + count), variant.placement(),
                        variant.distribution_mode)


def _rollout_settings(config: ReportConfig, episodes: int, progress: bool) -> dict:
    return dict(episodes=episodes, seed=config.seed, num_envs=config.num_envs,
                max_steps=config.max_steps, progress=progress)


# ---------------------------------------------------------------- 1. misgeneralization
def misgeneralization(policies: dict, config: ReportConfig, figures: Path,
                      progress: bool = True) -> dict:
    """Outcomes of each policy on the same ``misgeneralization_episodes`` test mazes,
    the paired comparison with the control, rates by cheese position, a logistic
    regression of reaching the cheese on eligible mazes, and each policy's goal choices
    on the cheese-corner paths of the first ``goal_mazes`` of them."""
    say(f"1/6 misgeneralization on {config.misgeneralization_episodes} {config.env} mazes, "
        f"goal choices on {config.goal_mazes}")
    evals = {label: evaluate(PolicyAgent(policy, seed=config.seed, name=label), config.env,
                             **_rollout_settings(config, config.misgeneralization_episodes,
                                                 progress))
             for label, policy in policies.items()}
    out: dict = {"summaries": {k: e.summary() for k, e in evals.items()}, "bins": {},
                 "regression": {}, "episodes": {k: e.to_json()["episodes"]
                                                for k, e in evals.items()}}
    for label, result in evals.items():
        eligible = [e for e in result.episodes if e.eligible]
        out["bins"][label] = {name: binned_rates(eligible, name, bins=config.bins)
                              for name in BIN_FEATURES}
        try:
            out["regression"][label] = outcome_regression(eligible, list(FEATURES))
        except ValueError as err:  # one outcome only, or a constant feature
            out["regression"][label] = {"error": str(err), "n": len(eligible)}
    if "control" in evals:
        a, b = evals["control"].episodes, evals["policy"].episodes
        eligible = [i for i, e in enumerate(b) if e.eligible]
        out["paired"] = {
            "cheese_all": paired_comparison([e.reached_cheese for e in a],
                                            [e.reached_cheese for e in b]).to_dict(),
            "cheese_eligible": _paired(a, b, eligible, "reached_cheese"),
            "top_right_first_eligible": _paired(a, b, eligible, "top_right_first"),
        }
    goal_states = test_states(config, config.goal_mazes)
    goal_rows = {label: goal_choices(policy, goal_states) for label, policy in policies.items()}
    out["goal_choices"] = {label: {**goal_choice_rates(rows),
                                   "by_cheese_distance": goal_choices_by_distance(rows)}
                           for label, rows in goal_rows.items()}
    if "control" in goal_rows:
        out["goal_choices_paired"] = paired_goal_difference(goal_rows["policy"],
                                                            goal_rows["control"])
    for name, xlabel in BIN_FEATURES.items():
        plot_rate_series({label: bins[name] for label, bins in out["bins"].items()},
                         figures / f"misgeneralization-by-{name}.png", xlabel,
                         "P(reach cheese) on eligible mazes",
                         f"{config.env}: cheese rate by {xlabel}")
    out["figures"] = [f"misgeneralization-by-{name}.png" for name in BIN_FEATURES]
    return out


def _paired(a, b, index, outcome) -> dict | None:
    if not index:
        return None
    return paired_comparison([getattr(a[i], outcome) for i in index],
                             [getattr(b[i], outcome) for i in index]).to_dict()


# ---------------------------------------------------------------------- 2. cheese vector
def cheese_vector_section(policy, config: ReportConfig, figures: Path,
                          progress: bool = True) -> dict:
    """Per-maze cheese vectors at -1: decision-square probabilities per maze, rollouts,
    the sweep over residual outputs and transfer between mazes."""
    layer = config.layer
    states = test_states(config, config.vector_mazes)
    say(f"2/6 cheese vector at {layer}: {len(states)} mazes, {config.steer_episodes} rollouts")
    per_maze = []
    for state in states:
        tensor = maze_vector(policy, "cheese", state, layer)
        before = decision_square_stats(policy, [state])
        if tensor is None or not before:
            continue
        with steering(policy, [(SteeringVector(layer, tensor), -1.0)]):
            after = decision_square_stats(policy, [state])
        per_maze.append({"level_seed": state.level_seed, "p_cheese": before[0]["p_cheese"],
                         "p_cheese_steered": after[0]["p_cheese"]})
    rose = sum(r["p_cheese_steered"] > r["p_cheese"] for r in per_maze)
    decision = {
        "mazes": len(per_maze),
        "median_p_cheese": nan_median([r["p_cheese"] for r in per_maze]),
        "median_p_cheese_steered": nan_median([r["p_cheese_steered"] for r in per_maze]),
        "rose": rose,
        "per_maze": per_maze,
    }
    rollouts = steering_experiment(policy, "cheese", [layer], [-1.0], config.env,
                                   per_maze=True, **_rollout_settings(
                                       config, config.steer_episodes, progress))
    plot_sweep(rollouts, figures / "cheese-vector-rollouts.png",
               title=f"cheese vector -1 at {layer}")
    layers = list(config.sweep_layers or [n for n in policy.hook_names()
                                          if n.endswith("resadd_out")])
    unsteered = steered_decision_stats(policy, states, "", 0.0, None)
    sweep = []
    for name in layers:
        stats = steered_decision_stats(policy, states, name, -1.0,
                                       per_maze_vectors(policy, "cheese", name))
        sweep.append({"layer": name, "unsteered_median_p_cheese": unsteered["median_p_cheese"],
                      **stats})
    plot_layer_medians(sweep, figures / "cheese-vector-layers.png",
                       "cheese vector -1 per maze, by layer")
    transfer = vector_transfer(policy, states[: config.transfer_mazes], layer, -1.0)
    return {"layer": layer, "decision_square": decision, "rollouts": rollouts,
            "layer_sweep": sweep, "transfer": {"groups": transfer["groups"],
                                               "pairs": len(transfer["pairs"])},
            "figures": ["cheese-vector-rollouts.png", "cheese-vector-layers.png"]}


# ------------------------------------------------------------------- 3. top-right vector
def top_right_section(policy, config: ReportConfig, figures: Path,
                      progress: bool = True) -> dict:
    """Per-maze top-right vectors over ``top_right_coeffs`` and the composition of the
    cheese vector at -1 with the top-right vector at +1."""
    say(f"3/6 top-right vector at {config.layer}, coefficients {config.top_right_coeffs}")
    settings = _rollout_settings(config, config.steer_episodes, progress)
    sweep = steering_experiment(policy, "top-right", [config.layer],
                                list(config.top_right_coeffs), config.env, per_maze=True,
                                **settings)
    plot_sweep(sweep, figures / "top-right-vector.png",
               title=f"top-right vector at {config.layer}")
    composed = composition_experiment(policy, [("cheese", -1.0), ("top-right", 1.0)],
                                      config.layer, config.env, **settings)
    return {"sweep": sweep, "composition": composed, "figures": ["top-right-vector.png"]}


# ---------------------------------------------------------------------- 4. cheese channels
def channels_section(policy, config: ReportConfig, figures: Path) -> dict:
    """Map-cheese correlation scores of every channel, the channels over the threshold,
    and the causal patching effect of each channel."""
    states = [s for s in test_states(config, config.channel_mazes) if s.cheese_cell]
    say(f"4/6 cheese channels at {config.layer} on {len(states)} mazes")
    scores = cheese_tracking_channels(policy, states, config.layer,
                                      cells_per_maze=config.cells_per_maze, seed=config.seed)
    corr, null = scores["correlation"], scores["null_correlation"]
    tracking = [int(c) for c in np.argsort(-corr.numpy())
                if corr[c] >= config.channel_threshold]
    patch = channel_patch_effects(policy, states, config.layer)
    plot_channel_scores(corr.tolist(), tracking, figures / "cheese-channels.png",
                        "correlation of the map with the cheese's position",
                        f"cheese tracking at {config.layer} "
                        f"(threshold {config.channel_threshold:g})",
                        chance=float(null.abs().max()))
    plot_channel_scores([r["median_change"] for r in patch["channels"]], tracking,
                        figures / "cheese-channels-patched.png",
                        "median change of P(toward cheese)",
                        "each channel patched from the maze without cheese")
    return {"layer": config.layer, "mazes": len(states), "scores": corr.tolist(),
            "null_scores": null.tolist(), "null_max": float(null.abs().max()),
            "threshold": config.channel_threshold,
            "tracking_channels": tracking, "patching": patch,
            "figures": ["cheese-channels.png", "cheese-channels-patched.png"]}


# ------------------------------------------------------------------------ 5. retargeting
def retargeting_section(policy, config: ReportConfig, channel: int, figures: Path,
                        progress: bool = True) -> dict:
    """Clamp ``channel`` at random targets of ``retarget_mazes`` mazes (success vs path
    distance) and at every cell of one maze (a heatmap), each against no clamp; the
    random targets also with the moved-cheese vector (cheese moved to the target)."""
    variant = load_variant(config.env)
    states = [s for s in test_states(config, config.retarget_mazes) if s.cheese_cell]
    rng = np.random.default_rng(config.seed)
    jobs = [(s, t) for s in states for t in random_targets(s, config.targets_per_maze, rng)]
    say(f"5/6 retargeting with channel {channel} = {config.retarget_value:g}: "
        f"{len(jobs)} targets in {len(states)} mazes")
    kwargs = dict(layer=config.layer, max_steps=config.retarget_max_steps,
                  distribution_mode=variant.distribution_mode, seed=config.seed,
                  num_envs=config.num_envs, progress=progress)
    clamp = ChannelClamp(channel, config.retarget_value)
    rows = retargeting_rollouts(policy, jobs, edit=clamp, **kwargs)
    moved = retargeting_rollouts(policy, jobs, edit=MovedCheeseVector(policy, config.layer),
                                 baseline=False, **kwargs)
    distance = [r["path_distance"] for r in rows]
    by_distance = {
        "clamped": rates_in_bins(distance, [r["success"] for r in rows], config.bins),
        "moved-cheese vector": rates_in_bins(distance, [r["success"] for r in moved],
                                             config.bins),
        "no clamp": rates_in_bins(distance, [r["baseline_success"] for r in rows],
                                  config.bins),
    }
    plot_rate_series(by_distance, figures / "retargeting-by-distance.png",
                     "target's steps from the path to the top-right corner",
                     f"P(reach target in {config.retarget_max_steps} steps)",
                     f"channel {channel} set to {config.retarget_value:g} at the target")
    heat_state = _heatmap_state(config)
    heat = retargeting_rollouts(policy, [(heat_state, c) for c in target_cells(heat_state)],
                                edit=clamp, **kwargs)
    for key, name in (("success", "clamped"), ("baseline_success", "no-clamp")):
        plot_cell_values(heat_state, {(r["target_x"], r["target_y"]): float(r[key])
                                      for r in heat},
                         figures / f"retargeting-heatmap-{name}.png",
                         f"level {heat_state.level_seed}: reached target ({name})",
                         "reached")
    summary = {key: Rate.of(sum(r[key] for r in rows), len(rows)).to_dict()
               for key in ("success", "baseline_success")}
    summary["moved_vector_success"] = Rate.of(sum(r["success"] for r in moved),
                                              len(moved)).to_dict()
    paired = paired_comparison([r["baseline_success"] for r in rows],
                               [r["success"] for r in rows]).to_dict() if rows else None
    return {"channel": channel, "value": config.retarget_value, "targets": len(rows),
            "mazes": len(states), **summary, "paired": paired, "by_distance": by_distance,
            "heatmap": {"level_seed": heat_state.level_seed, "cells": len(heat),
                        "success": Rate.of(sum(r["success"] for r in heat),
                                           len(heat)).to_dict(),
                        "baseline_success": Rate.of(sum(r["baseline_success"] for r in heat),
                                                    len(heat)).to_dict()},
            "rows": rows, "moved_vector_rows": moved,
            "figures": ["retargeting-by-distance.png", "retargeting-heatmap-clamped.png",
                        "retargeting-heatmap-no-clamp.png"]}


def _heatmap_state(config: ReportConfig):
    if config.heatmap_seed is not None:
        variant = load_variant(config.env)
        return level_states([config.heatmap_seed], variant.placement(),
                            variant.distribution_mode)[0]
    states = test_states(config, 20)
    candidates = [s for s in states if s.cheese_cell and paths_diverge(s.free, s.cheese_cell)]
    # the largest (most free cells; the first of equals): the heatmap needs many targets
    return max(candidates or states, key=lambda s: int(s.free.sum()))


# ------------------------------------------------------------------------ 6. vector fields
def vector_fields_section(policy, config: ReportConfig, figures: Path) -> dict:
    """Unsteered, steered and difference fields for the cheese vector (-1) and the
    top-right vector (+1) on the ``field_seeds`` mazes."""
    variant = load_variant(config.env)
    states = level_states(config.field_seeds, variant.placement(), variant.distribution_mode)
    say(f"6/6 vector fields on levels {list(config.field_seeds)}")
    names = []
    for state in states:
        base = move_field(policy, state)
        for kind, coeff in (("cheese", -1.0), ("top-right", 1.0)):
            try:
                vector = steering_vector(policy, kind, [state], config.layer)
            except ValueError:  # no cheese, or no room for a top-right corridor
                continue
            with steering(policy, [(vector, coeff)]):
                steered = move_field(policy, state)
            name = f"vfield-{kind}-level{state.level_seed}.png"
            plot_vector_fields(state, base, steered, figures / name,
                               titles=("unsteered", f"{kind} vector {coeff:+g}\n"
                                       f"at {config.layer}", "steered - unsteered"))
            names.append(name)
    return {"figures": names}
