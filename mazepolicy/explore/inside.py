"""The explorer's "Inside": one channel of a conv layer (or one feature of the SAE given
with ``--sae``) as a map over the maze, the channels ranked by how well they track the
cheese, and the move field with that channel or feature clamped at a clicked cell, all
through the library: maps from :func:`~mazepolicy.interp.vectors.activations` (features
through :func:`~mazepolicy.interp.sae.metrics.feature_maps`), the ranking from
:func:`~mazepolicy.interp.channels.cheese_tracking_channels` (features:
:func:`~mazepolicy.interp.sae.metrics.localisation`, the same frames), the clamps
:class:`~mazepolicy.interp.retarget.ChannelClamp` and
:class:`~mazepolicy.interp.sae.steer.FeatureClamp` (the retargeting edits), and the
field :func:`~mazepolicy.interp.probes.move_field`.

The request's own parameters (``channel``, ``feature``, ``target``, ``value``) are split
off the view's (:func:`split_query`) and parsed here (:func:`parse_inside`); the rest
goes to :func:`~mazepolicy.explore.state.parse_view`, which still refuses anything
unknown. Cells are (x, y): x right, y up, (0, 0) the bottom-left start cell; map pixels
are (row, col), row 0 at the top, like the frame. A map covers the whole frame, the maze
and its padding: with ``k = world_dim / W`` cells per pixel, pixel (row, col) spans the
cells x in ``[col * k - margin, (col + 1) * k - margin)`` and, counted down from the
maze's top row, ``[row * k - margin, (row + 1) * k - margin)``.

Example:
    >>> view_query, inside_query = split_query({"seed": ["3"], "channel": ["7"],
    ...                                         "target": ["3,4"], "value": ["5.5"]})
    >>> view_query
    {'seed': ['3']}
    >>> inside = parse_inside(inside_query)
    >>> inside.unit(sae_loaded=False), inside.target, inside.value
    (('channel', 7), (3, 4), 5.5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from mazepolicy.envs.cells import Cell
from mazepolicy.explore.state import BadRequest, one_value, parse_bounded

INSIDE_PARAMS = ("channel", "feature", "target", "value")
MAX_CLAMP = 100.0  # |value| of a clamp; the research clamps channel 55 to 5.5
DEFAULT_CLAMP = 5.5
RANK_MAZES = 16  # level seeds 0..15 of the view's variant (those with cheese) rank units
RANK_CELLS = 8  # cheese positions per ranking maze
RANK_SEED = 0
TRACKING_THRESHOLD = 0.2  # map-cheese correlation counted as tracking (the report's)
_INDEX = re.compile(r"\d{1,6}")
_TARGET = re.compile(r"(\d{1,2}),(\d{1,2})")


@dataclass(frozen=True)
class Inside:
    """The Inside parameters of one request (see :func:`parse_inside`)."""

    channel: int | None = None
    feature: int | None = None
    target: Cell | None = None
    value: float = DEFAULT_CLAMP

    def unit(self, sae_loaded: bool) -> tuple[str, int]:
        """(``"channel"`` or ``"feature"``, its index): exactly one must be given, and a
        feature only with an SAE loaded; :class:`BadRequest` otherwise.

        Example:
            >>> Inside(feature=2).unit(sae_loaded=False)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            mazepolicy.explore.state.BadRequest: feature= needs an SAE: start ... --sae DIR
        """
        if (self.channel is None) == (self.feature is None):
            raise BadRequest("give one of channel= or feature= (an SAE feature), not "
                             f"{'both' if self.channel is not None else 'neither'}")
        if self.channel is not None:
            return "channel", self.channel
        if not sae_loaded:
            raise BadRequest("feature= needs an SAE: start mazepolicy explore with --sae DIR")
        return "feature", self.feature


def split_query(query: dict[str, list[str]]) -> tuple[dict, dict]:
    """(the view's parameters, the Inside ones: :data:`INSIDE_PARAMS`) of a query."""
    inside = {k: v for k, v in query.items() if k in INSIDE_PARAMS}
    return {k: v for k, v in query.items() if k not in INSIDE_PARAMS}, inside


def parse_index(text: str | None, name: str) -> int | None:
    """A channel or feature index from its text (None: not given); :class:`BadRequest`
    unless a non-negative integer.

    Example:
        >>> parse_index("12", "channel"), parse_index(None, "feature")
        (12, None)
        >>> parse_index("-1", "channel")
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: channel must be a non-negative integer, got '-1'
    """
    if text is None:
        return None
    if not _INDEX.fullmatch(text):
        raise BadRequest(f"{name} must be a non-negative integer, got {text[:40]!r}")
    return int(text)


def parse_target(text: str | None) -> Cell | None:
    """A target cell ``x,y`` from its text (None: not given).

    Example:
        >>> parse_target("3,14")
        (3, 14)
        >>> parse_target("3")
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: target must be a cell x,y (e.g. target=3,4), got '3'
    """
    if text is None:
        return None
    match = _TARGET.fullmatch(text)
    if match is None:
        raise BadRequest(f"target must be a cell x,y (e.g. target=3,4), got {text[:40]!r}")
    return int(match[1]), int(match[2])


def parse_value(text: str | None) -> float:
    """A clamp value from its text (None: :data:`DEFAULT_CLAMP`); :class:`BadRequest`
    unless a finite number in -100..100.

    Example:
        >>> parse_value("-2.5"), parse_value(None)
        (-2.5, 5.5)
        >>> parse_value("inf")
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: value must be a number in -100..100, got 'inf'
    """
    return DEFAULT_CLAMP if text is None else parse_bounded(text, "value", MAX_CLAMP)


def parse_inside(query: dict[str, list[str]]) -> Inside:
    """The :class:`Inside` of the Inside parameters of a query (:func:`split_query`),
    each as its parser says; what they must fit (the layer, the maze) is checked by
    :func:`check_unit` and :func:`check_target`."""
    return Inside(channel=parse_index(one_value(query, "channel", None), "channel"),
                  feature=parse_index(one_value(query, "feature", None), "feature"),
                  target=parse_target(one_value(query, "target", None)),
                  value=parse_value(one_value(query, "value", None)))


def conv_shape(policy, layer: str) -> tuple[int, int, int]:
    """The (C, H, W) activation shape of conv ``layer``; :class:`BadRequest` for a layer
    without maps (a flat one).

    Example:
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> conv_shape(ImpalaPolicy(), "embedder.block2.res1.resadd_out")
        (32, 16, 16)
    """
    shape = tuple(policy.hook_names()[layer])
    if len(shape) != 3:
        raise BadRequest(f"layer {layer} has activations of shape {shape}: channel maps and "
                         "clamps need a conv layer (C, H, W)")
    return shape


def check_unit(kind: str, index: int, shape: tuple[int, int, int], layer: str,
               role: str, sae=None) -> None:
    """:class:`BadRequest` unless channel ``index`` exists at a layer of ``shape`` or
    feature ``index`` in ``sae`` (a :class:`~mazepolicy.interp.sae.model.
    SparseAutoencoder`) read at ``layer`` of the policy (not the control).

    Example:
        >>> check_unit("channel", 32, (32, 16, 16), "x", "policy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: channel 32 does not exist: layer x has 32 ch...
    """
    if kind == "channel":
        if index >= shape[0]:
            raise BadRequest(f"channel {index} does not exist: layer {layer} has {shape[0]} "
                             f"channels (0..{shape[0] - 1})")
        return
    config = sae.config
    if role != "policy":
        raise BadRequest("SAE features are the policy's (role=policy): the SAE was not "
                         "trained on the control")
    if layer != config.layer:
        raise BadRequest(f"the SAE reads layer {config.layer}; features need "
                         f"layer={config.layer}, not {layer}")
    if index >= config.d_sae:
        raise BadRequest(f"feature {index} does not exist: the SAE has {config.d_sae} "
                         f"features (0..{config.d_sae - 1})")


def check_target(target: Cell | None, state) -> Cell:
    """``target`` if it is a free cell of ``state``'s maze; :class:`BadRequest` otherwise
    (also when none was given).

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> check_target((0, 0), state)
        (0, 0)
        >>> check_target((99, 0), state)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: target (99, 0) is outside the ...x... maze
    """
    if target is None:
        raise BadRequest("a clamp needs target=x,y: the free cell to clamp at")
    x, y = target
    n = state.maze_dim
    if not (0 <= x < n and 0 <= y < n):
        raise BadRequest(f"target {target} is outside the {n}x{n} maze")
    if not state.free[y, x]:
        raise BadRequest(f"target {target} is a wall: clamp at a free cell")
    return target


# ---------------------------------------------------------------------------- maps
def unit_map(policy, state, layer: str, kind: str, index: int, sae=None) -> torch.Tensor:
    """The (H, W) map of channel (or SAE feature) ``index`` at ``layer`` on ``state``'s
    frame (the agent's view with the mouse where it is); active hooks (steering) apply.

    Example:
        >>> from mazepolicy.models.impala import ImpalaPolicy
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> tuple(unit_map(ImpalaPolicy(), state, "embedder.block2.res1.resadd_out",
        ...                "channel", 3).shape)
        (16, 16)
    """
    from mazepolicy.interp.vectors import activations

    acts = activations(policy, [state], layer)  # (1, C, H, W)
    if kind == "channel":
        return acts[0, index].cpu()  # (H, W)
    from mazepolicy.interp.sae.metrics import feature_maps

    return feature_maps(sae, acts)[0, index].cpu()  # (1, F, H, W) -> (H, W)


def map_json(grid: torch.Tensor, state) -> dict:
    """A (H, W) map of ``state``'s frame as the page overlays it on the maze: ``map``
    (rows, row 0 the top), ``shape``, its ``min`` and ``max``, the geometry
    (``world_dim``, ``maze_dim``, ``margin``, ``cells_per_pixel``: see the module doc)
    and ``cell_pixels``: [x, y, row, col] for each free cell, the pixel a clamp at that
    cell writes (:func:`~mazepolicy.interp.channels.cell_position`).

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> out = map_json(torch.zeros(16, 16), state)
        >>> out["shape"], out["cell_pixels"][0][:2], out["max"]
        ([16, 16], [0, 0], 0.0)
    """
    from mazepolicy.envs.geometry import free_cells
    from mazepolicy.interp.channels import cell_position

    h, w = grid.shape
    cells = free_cells(state.free)
    return {"shape": [h, w], "map": grid.tolist(),  # (H, W) floats
            "min": float(grid.min()), "max": float(grid.max()),
            "world_dim": state.world_dim, "maze_dim": state.maze_dim,
            "margin": state.margin, "cells_per_pixel": state.world_dim / w,
            "cell_pixels": [[x, y, *cell_position((x, y), state.maze_dim, state.world_dim, w)]
                            for x, y in cells]}


# ------------------------------------------------------------------------ rankings
def ranking_states(variant_name: str) -> list:
    """The start states that rank units: level seeds 0..:data:`RANK_MAZES` - 1 of the
    variant, those with cheese.

    Example:
        >>> len(ranking_states("maze-anywhere-easy")) <= RANK_MAZES
        True
    """
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant

    variant = load_variant(variant_name)
    states = level_states(range(RANK_MAZES), variant.placement(), variant.distribution_mode)
    return [s for s in states if s.cheese_cell is not None]


def ranked_json(correlation, null_max: float, how: dict) -> dict:
    """Units ranked by their map-cheese ``correlation`` (one per unit), best first,
    ``cheese_tracking`` where it reaches :data:`TRACKING_THRESHOLD`; ``how`` says how the
    scores were made.

    Example:
        >>> out = ranked_json([0.1, 0.5, -0.2], 0.05, {})
        >>> out["order"], out["tracking"], out["units"][0]
        ([1, 0, 2], [1], {'index': 1, 'correlation': 0.5, 'cheese_tracking': True})
    """
    corr = [float(c) for c in correlation]
    order = sorted(range(len(corr)), key=lambda i: (-corr[i], i))
    tracking = [i for i in order if corr[i] >= TRACKING_THRESHOLD]
    return {"order": order, "tracking": tracking,
            "units": [{"index": i, "correlation": corr[i],
                       "cheese_tracking": corr[i] >= TRACKING_THRESHOLD} for i in order],
            "ranking": {**how, "threshold": TRACKING_THRESHOLD, "null_max": float(null_max)}}


def _how(method: str, variant: str, states) -> dict:
    return {"method": method, "variant": variant,
            "level_seeds": [s.level_seed for s in states], "cells_per_maze": RANK_CELLS,
            "seed": RANK_SEED, "tolerance": 1,
            "score": "correlation of the map with the window around the cheese's map "
                     "position, the cheese moved to random free cells (mouse at the start)"}


def channel_ranking(policy, layer: str, variant: str) -> dict:
    """:func:`ranked_json` of every channel of conv ``layer`` by
    :func:`~mazepolicy.interp.channels.cheese_tracking_channels` on
    :func:`ranking_states` of ``variant``."""
    from mazepolicy.interp.channels import cheese_tracking_channels

    states = ranking_states(variant)
    if not states:
        raise BadRequest(f"no maze with cheese among level seeds 0..{RANK_MAZES - 1} of "
                         f"{variant} to rank the channels on")
    scores = cheese_tracking_channels(policy, states, layer, cells_per_maze=RANK_CELLS,
                                      seed=RANK_SEED)
    return ranked_json(scores["correlation"].tolist(),
                       scores["null_correlation"].abs().max(),
                       _how("mazepolicy.interp.channels.cheese_tracking_channels", variant,
                            states))


def feature_ranking(policy, sae, variant: str) -> dict:
    """:func:`ranked_json` of every feature of ``sae`` (read at its layer) by
    :func:`~mazepolicy.interp.sae.metrics.localisation`'s cheese correlations on
    :func:`ranking_states` of ``variant`` (the frames :func:`channel_ranking` uses)."""
    from mazepolicy.interp.sae.metrics import localisation

    states = ranking_states(variant)
    if not states:
        raise BadRequest(f"no maze with cheese among level seeds 0..{RANK_MAZES - 1} of "
                         f"{variant} to rank the features on")
    cheese = localisation(policy, sae, sae.config.layer, states, seed=RANK_SEED,
                          cells_per_maze=RANK_CELLS)["cheese"]
    return ranked_json(cheese["features"], cheese["features_null_max"],
                       _how("mazepolicy.interp.sae.metrics.localisation", variant, states))


# -------------------------------------------------------------------------- clamps
def clamp_edit(kind: str, index: int, value: float, sae=None):
    """The retargeting edit: :class:`~mazepolicy.interp.retarget.ChannelClamp` of channel
    ``index`` or :class:`~mazepolicy.interp.sae.steer.FeatureClamp` of ``sae``'s feature
    ``index``, to ``value``.

    Example:
        >>> clamp_edit("channel", 55, 5.5).label
        'channel 55 = 5.5'
    """
    if kind == "channel":
        from mazepolicy.interp.retarget import ChannelClamp

        return ChannelClamp(index, value)
    from mazepolicy.interp.sae.steer import FeatureClamp

    return FeatureClamp(sae, index, value)


def at_target_hook(edit, state, target: Cell, layer_shape):
    """A hook applying retargeting ``edit`` (an :class:`~mazepolicy.interp.retarget.
    AtTargetEdit`: one slot per frame) at ``target`` of ``state``'s maze to every frame
    of a batch of any size: the slots are reset and pointed at (``state``, ``target``)
    whenever the batch size changes (every frame of a move field is one maze).

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> from mazepolicy.interp.retarget import ChannelClamp
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> hook = at_target_hook(ChannelClamp(2, 5.5), state, (0, 0), (4, 16, 16))
        >>> out = hook(torch.zeros(3, 4, 16, 16))  # (N, C, H, W)
        >>> float(out.sum()), float(out[:, 2].amax())
        (16.5, 5.5)
    """
    layer_shape = tuple(layer_shape)
    slots = [None]

    def hook(activation: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        n = activation.shape[0]
        if slots[0] != n:
            edit.reset(n, layer_shape)
            for slot in range(n):
                edit.assign(slot, (state, target))
            slots[0] = n
        return edit(activation)

    return hook


def clamp_json(kind: str, index: int, target: Cell, value: float, edit, state,
               layer: str, size: int) -> dict:
    """What a clamp answer says of its edit: the unit, the target and the map pixel the
    value is written at, the value and the edit's label.

    Example:
        >>> from mazepolicy.envs import Anywhere
        >>> from mazepolicy.envs.levels import level_states
        >>> (state,) = level_states([0], Anywhere(), "easy")
        >>> clamp_json("channel", 5, (0, 0), 5.5, clamp_edit("channel", 5, 5.5), state,
        ...            "l", 16)["label"]
        'channel 5 = 5.5'
    """
    from mazepolicy.interp.channels import cell_position

    return {"kind": kind, "index": index, "target": list(target), "value": value,
            "layer": layer, "label": edit.label,
            "position": list(cell_position(target, state.maze_dim, state.world_dim, size))}


def clamp_snippet(snippet: str, kind: str, index: int, target: Cell, value: float,
                  layer: str, coeff: float, sae_dir: str | None = None) -> str:
    """``snippet`` (:func:`~mazepolicy.explore.snippet.python_snippet`'s: it defines
    ``policy``, ``state``, ``vector`` and ``steered``, the unclamped field) followed by
    the lines that compute ``clamped`` (and ``probs_clamped``) as the explorer does.

    Example:
        >>> code = clamp_snippet("", "channel", 55, (3, 4), 5.5, "l", 0.0)
        >>> "edit = ChannelClamp(55, 5.5)" in code, compile(code, "<s>", "exec") is not None
        (True, True)
    """
    if kind == "channel":
        lines = ["from mazepolicy.interp.retarget import ChannelClamp",
                 f"edit = ChannelClamp({index}, {value!r})"]
    else:
        lines = ["from mazepolicy.interp.sae.steer import FeatureClamp",
                 "from mazepolicy.interp.sae.train import load_sae",
                 f"sae = load_sae({sae_dir!r}).model",
                 f"edit = FeatureClamp(sae, {index}, {value!r})"]
    lines = ["from mazepolicy.explore.inside import at_target_hook", *lines,
             f"hook = at_target_hook(edit, state, {tuple(target)!r}, "
             f"policy.hook_names()[{layer!r}])",
             f"with steering(policy, [(vector, {coeff!r})]), policy.hooks({{{layer!r}: hook}}):",
             "    clamped = move_field(policy, state)",
             "    probs_clamped = action_probabilities(policy, [state])[0]"]
    return snippet + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- SAE
def load_explorer_sae(folder: str, spec: str, policy):
    """The :class:`~mazepolicy.interp.sae.train.TrainedSAE` in ``folder`` (loaded as
    ``mazepolicy sae analyze`` loads it), checked against policy ``spec`` (``policy`` its
    network): a position-layout SAE at one of its conv layers with as many inputs as
    that layer has channels, trained on these weights where its card records them;
    ValueError otherwise (FileNotFoundError without an SAE)."""
    from mazepolicy.agents.policy import weights_sha256
    from mazepolicy.interp.sae.activations import check_same_policy
    from mazepolicy.interp.sae.train import load_sae

    trained = load_sae(folder)
    config = trained.model.config
    if config.layout != "position":
        raise ValueError(f"--sae {folder}: feature maps and clamps need a position-layout "
                         f"SAE (one C-vector per map position), not layout {config.layout!r}")
    shape = policy.hook_names().get(config.layer)
    if shape is None or len(shape) != 3 or shape[0] != config.d_in:
        raise ValueError(f"--sae {folder} reads {config.d_in} inputs at layer "
                         f"{config.layer!r}; the policy's activations there have shape "
                         f"{shape}")
    check_same_policy(spec, weights_sha256(spec),
                      {f"SAE {folder}": trained.card.get("source") or {}})
    trained.model.to(next(policy.parameters()).device)
    return trained


def sae_info(folder: str, trained) -> dict:
    """What ``GET /api/info`` says of the loaded SAE.

    Example:
        >>> from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
        >>> from mazepolicy.interp.sae.train import TrainedSAE
        >>> sae = SparseAutoencoder(SAEConfig(d_in=4, d_sae=8, layer="l"))
        >>> sae_info("dir", TrainedSAE(sae, {}))["features"]
        8
    """
    config = trained.model.config
    return {"dir": str(folder), "layer": config.layer, "features": config.d_sae,
            "kind": config.kind, "k": config.k}

