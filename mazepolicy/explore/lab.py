"""The explorer's computations, all through the library: mazes from
:func:`~mazepolicy.envs.levels.level_states`, fields from
:func:`~mazepolicy.interp.probes.move_field`, vectors from
:mod:`mazepolicy.interp.steer` and steering from
:func:`~mazepolicy.interp.vectors.steering`, as ``mazepolicy vfield`` computes them.

Steering works by hooks set on the policy, and frames come from one shared engine, so
one lock serializes every computation: two tabs' requests run one after the other and
never see each other's hooks. The network runs on 64 frames at a time
(:class:`~mazepolicy.explore.chunked.ChunkedPolicy`: faster, the same numbers). Seed
mazes, unsteered fields and vectors are cached (a coefficient change recomputes only
the steered field).

Example:
    >>> lab = Lab({"policy": "maze-topright-5-easy_impala-s1"})
    >>> view = lab.view({"variant": ["maze-topright-5-easy"], "seed": ["1"]})
    >>> maze = lab.maze_response(view)
    >>> maze["maze_dim"] == len(maze["free"]), maze["mouse"]
    (True, (0, 0))
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from mazepolicy.explore import inside
from mazepolicy.explore.chunked import ChunkedPolicy
from mazepolicy.explore.mazes import apply_edits, maze_json, region_size
from mazepolicy.explore.rollout import (
    RolloutSettings,
    gif_path,
    play_view,
    rollout_json,
    split_rollout_query,
    write_gif,
)
from mazepolicy.explore.snippet import python_snippet
from mazepolicy.explore.state import (
    DEFAULT_LAYER,
    MAX_COEFF,
    ROLES,
    VECTORS,
    BadRequest,
    View,
    parse_view,
)
from mazepolicy.explore.vector_files import file_vector, fit_error, load_vector_files

CACHE_SIZE = 64


class LRU:
    """A small least-recently-used cache: ``get(key, make)`` returns the cached value or
    stores ``make()``; at most ``size`` entries (not thread-safe: callers lock).

    Example:
        >>> cache = LRU(1)
        >>> cache.get("a", lambda: 1), cache.get("b", lambda: 2), cache.get("a", lambda: 3)
        (1, 2, 3)
    """

    def __init__(self, size: int = CACHE_SIZE):
        self.size, self._items = size, OrderedDict()

    def get(self, key, make):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = self._items[key] = make()
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


class Lab:
    """The policies given on the command line (``specs``: role -> shipped name or path,
    ``"policy"`` and optionally ``"control"``), and everything the API computes with
    them. ``out``: the directory saved states go to (None: saving is refused). ``sae``:
    an SAE folder of the policy's (``--sae``) whose features the Inside offers.
    ``vectors``: saved steering vector files (``--vector``), offered as ``file:<stem>``."""

    def __init__(self, specs: dict[str, str], device: str = "cpu", out: str | None = None,
                 sae: str | None = None, vectors=()):
        from mazepolicy.agents.policy import load_network
        from mazepolicy.envs.variants import list_variants

        unknown = set(specs) - set(ROLES)
        if "policy" not in specs or unknown:
            raise ValueError(f"specs needs 'policy' and at most {ROLES}, got {sorted(specs)}")
        self.specs = dict(specs)
        self.policies = {role: load_network(spec, device) for role, spec in specs.items()}
        self.layers = {role: tuple(p.hook_names()) for role, p in self.policies.items()}
        self.variants = tuple(list_variants())
        self.out = None if out is None else Path(out)
        self._lock = threading.Lock()
        self._states, self._fields, self._vectors, self._goals = LRU(), LRU(), LRU(), LRU()
        self._rankings, self._based = LRU(), LRU()  # the Inside's (explore/inside.py)
        self.files = load_vector_files(vectors, self.policies["policy"].hook_names())
        self._rollouts = LRU(8)  # episodes keep their frames: (T + 1, 64, 64, 3) each
        self.sae_dir, self.sae = sae, None
        if sae is not None:
            self.sae = inside.load_explorer_sae(sae, specs["policy"], self.policies["policy"])

    # ------------------------------------------------------------------ views
    def view(self, query: dict[str, list[str]]) -> View:
        """The checked :class:`View` of a parsed query (:func:`parse_view`), its layer one
        of its policy's hook points; :class:`BadRequest` otherwise."""
        view = parse_view(query, self.variants, vectors=VECTORS + tuple(self.files))
        if view.role not in self.policies:
            raise BadRequest("role=control: the explorer was started without --control")
        if view.layer not in self.layers[view.role]:
            parse_view(query, self.variants, self.layers[view.role],
                       VECTORS + tuple(self.files))  # raises its message
        if view.vector in self.files:  # a saved vector keeps its layer and must fit
            file_vector(self.files, view.vector, view.layer,
                        self.policies[view.role].hook_names(), view.role)
        return view

    def info(self) -> dict:
        """What the page offers: policies, variants, layers (with activation shapes),
        vectors (``file_vectors``: the ``--vector`` files' layers), the coefficient range,
        whether states can be saved."""
        return {"policies": self.specs, "variants": list(self.variants),
                "layers": {role: {name: list(shape) for name, shape in
                                  p.hook_names().items()} for role, p in self.policies.items()},
                "vectors": list(VECTORS) + list(self.files),
                "file_vectors": {name: {"layer": f.vector.layer, "file": f.path.name}
                                 for name, f in self.files.items()},
                "coeff_range": [-MAX_COEFF, MAX_COEFF],
                "default_view": vars(View()) | {"edits": ""}, "can_save": self.out is not None,
                "sae": None if self.sae is None else inside.sae_info(self.sae_dir, self.sae)}

    # ------------------------------------------------------------------ mazes
    def _seed_state(self, variant_name: str, seed: int):
        from mazepolicy.envs.levels import level_states
        from mazepolicy.envs.variants import load_variant

        def make():
            variant = load_variant(variant_name)
            (state,) = level_states([seed], variant.placement(), variant.distribution_mode)
            return state, region_size(variant)

        return self._states.get((variant_name, seed), make)

    def _maze(self, view: View):
        """(edited state, region side, edit steps); call with the lock held."""
        state, region = self._seed_state(view.variant, view.seed)
        edited, steps = apply_edits(state, view.edits)
        return edited, region, steps

    def maze_response(self, view: View) -> dict:
        """``GET /api/maze``: the edited maze as :func:`maze_json` gives it."""
        from mazepolicy.envs.frames import render_states

        with self._lock:
            state, region, _ = self._maze(view)
            frame = render_states([state])[0]  # uint8 (64, 64, 3)
        return maze_json(state, region, frame)

    def save_state(self, view: View) -> dict:
        """``POST /api/save-state``: write the edited maze's state bytes into ``out``
        (named by variant, seed and the bytes' hash) and return the file name."""
        if self.out is None:
            raise BadRequest("saving needs a directory: start mazepolicy explore with --out DIR")
        with self._lock:
            state, _, _ = self._maze(view)
        data = state.to_bytes()
        path = self.out / (f"{view.variant}-seed{view.seed}-"
                           f"{hashlib.sha256(data).hexdigest()[:12]}.mazestate")
        from mazepolicy.io import atomic_write_bytes

        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        return {"saved": str(path), "bytes": len(data)}

    # ----------------------------------------------------------------- fields
    def _vector(self, view: View, state):
        """The view's per-maze vector of ``state`` (a SteeringVector), or its ``--vector``
        file's; call with the lock held. :class:`BadRequest` where this maze has none,
        with the reason."""
        from mazepolicy.interp.steer import composed_vectors, steering_vector
        from mazepolicy.interp.vectors import SteeringVector

        policy = self.policies[view.role]
        if view.vector in self.files:
            return file_vector(self.files, view.vector, view.layer, policy.hook_names(),
                               view.role)

        def make():
            try:
                if view.vector != "composed":
                    return steering_vector(policy, view.vector, [state], view.layer)
                for kind in ("cheese", "top-right"):  # the reason, if either has none
                    steering_vector(policy, kind, [state], view.layer)
                tensor = composed_vectors(policy, [("cheese", -1.0), ("top-right", 1.0)],
                                          view.layer)(state)
                return SteeringVector(view.layer, tensor, {"kind": "composed"})
            except ValueError as err:
                raise BadRequest(f"no {view.vector} vector for this maze: {err}") from None

        return self._vectors.get((view.role, view.maze_key, view.vector, view.layer), make)

    def _probed(self, policy, state) -> tuple[dict, np.ndarray]:
        """(move field, the 15 action probabilities at the mouse) under active hooks."""
        from mazepolicy.interp.probes import action_probabilities, move_field

        chunked = ChunkedPolicy(policy)
        return move_field(chunked, state), action_probabilities(chunked, [state])[0]

    def field_response(self, view: View) -> dict:
        """``GET /api/field``: the policy's move field on the view's maze, unsteered and
        steered by ``coeff`` x the view's vector at its layer, their expected moves and
        difference, and the action probabilities at the mouse; coefficient 0 gives the
        unsteered numbers in both (steering by 0 changes nothing)."""
        from mazepolicy.interp.vectors import steering

        policy = self.policies[view.role]
        with self._lock:
            state, _, steps = self._maze(view)
            base, base_probs = self._fields.get((view.role, view.maze_key),
                                                lambda: self._probed(policy, state))
            if view.coeff == 0:
                steered, steered_probs = base, base_probs
            else:
                vector = self._vector(view, state)
                with steering(policy, [(vector, view.coeff)]):
                    steered, steered_probs = self._probed(policy, state)
        return field_json(base, steered, base_probs, steered_probs) | {
            "view": vars(view) | {"edits": [[k, list(c)] for k, c in view.edits]},
            "python": python_snippet(self.specs[view.role], view, steps,
                                     self._file_path(view))}

    def _file_path(self, view: View) -> str | None:
        """The path of the view's ``--vector`` file (for the snippet), None for a kind."""
        return str(self.files[view.vector].path) if view.vector in self.files else None

    def goals_response(self, view: View) -> dict:
        """``GET /api/goals``: which goal the policy heads for on each cell strictly
        between the cheese and the top-right corner (:func:`~mazepolicy.interp.probes.
        goal_choices`, as ``mazepolicy goals`` computes it), unsteered and steered; no
        rows without cheese or with the cheese next to the corner."""
        from mazepolicy.interp.probes import goal_choices
        from mazepolicy.interp.vectors import steering

        policy = self.policies[view.role]

        def rows(state):
            try:
                return goal_choices(ChunkedPolicy(policy), [state])
            except ValueError as err:  # an edit walled the corner or cut it off
                raise BadRequest(f"no goal choices for this maze: {err}") from None

        with self._lock:
            state, _, _ = self._maze(view)
            base = self._goals.get((view.role, view.maze_key), lambda: rows(state))
            if view.coeff == 0:
                steered = base
            else:
                with steering(policy, [(self._vector(view, state), view.coeff)]):
                    steered = rows(state)
        return {"unsteered": [goal_json(r) for r in base],
                "steered": [goal_json(r) for r in steered]}

    # --------------------------------------------------------------- rollouts
    # One sampled episode under the view's steering: the logic is explore/rollout.py's.
    def rollout_view(self, query: dict[str, list[str]]) -> tuple[View, RolloutSettings]:
        """The checked view and :class:`~mazepolicy.explore.rollout.RolloutSettings` of a
        rollout request (the view's parameters plus ``rollout_seed`` and ``max_steps``)."""
        rest, settings = split_rollout_query(query)
        return self.view(rest), settings

    def _episode(self, view: View, settings: RolloutSettings):
        """The view's episode (:func:`~mazepolicy.explore.rollout.play_view`), cached;
        call with the lock held."""
        from mazepolicy.eval.evaluate import maze_settings

        def make():
            state, _, _ = self._maze(view)
            vectors = [] if view.coeff == 0 else [(self._vector(view, state), view.coeff)]
            region = maze_settings(view.variant)["region"]  # the evaluator's eligibility
            try:
                return play_view(self.policies[view.role], state, vectors, settings, region)
            except ValueError as err:  # an edit cut the corner or the cheese off
                raise BadRequest(f"cannot play this maze: {err}") from None

        return self._rollouts.get((view.role, view.maze_key, view.vector, view.layer,
                                   view.coeff, settings), make)

    def rollout_response(self, view: View, settings: RolloutSettings) -> dict:
        """``GET /api/rollout``: the episode's mouse cells, actions, frames and outcome
        (:func:`~mazepolicy.explore.rollout.rollout_json`)."""
        with self._lock:
            episode = self._episode(view, settings)
        return rollout_json(episode, settings) | {"role": view.role, "coeff": view.coeff}

    def rollout_gif(self, view: View, settings: RolloutSettings) -> dict:
        """``POST /api/rollout-gif``: the episode as a GIF in ``out``, named by the view's
        hash (:func:`~mazepolicy.explore.rollout.gif_path`)."""
        if self.out is None:
            raise BadRequest("saving a GIF needs a directory: start mazepolicy explore with "
                             "--out DIR")
        with self._lock:
            episode = self._episode(view, settings)
        return write_gif(episode, gif_path(self.out, view, settings))

    # ------------------------------------------------------------- side field
    def side_field_response(self, view: View) -> dict:
        """``GET /api/side-field``: the other command-line policy's field (the control's
        for role=policy, the policy's for role=control) on the same maze, with the same
        steering where that policy has the view's layer (and a saved vector fits it),
        unsteered otherwise (``note`` says why); :meth:`field_response`'s keys plus
        ``role`` and ``same_steering`` (False when it fell back to unsteered)."""
        from dataclasses import replace

        if "control" not in self.policies:
            raise BadRequest("no control: start mazepolicy explore with --control")
        other = "control" if view.role == "policy" else "policy"
        shapes = self.policies[other].hook_names()
        reason = None
        if view.vector in self.files:
            why = fit_error(self.files[view.vector].vector, shapes)
            reason = None if why is None else f"vector {view.vector} cannot steer it: {why}"
        elif view.layer not in shapes:
            reason = f"layer {view.layer} is not a hook point of the {other}"
        if reason is None:
            side = replace(view, role=other)
        else:
            layer = DEFAULT_LAYER if DEFAULT_LAYER in shapes else next(iter(shapes))
            side = replace(view, role=other, vector="cheese", layer=layer, coeff=0.0)
        return self.field_response(side) | {
            "role": other, "same_steering": reason is None,
            "note": "" if reason is None else f"the {other} unsteered: {reason}"}

    # ----------------------------------------------------------------- inside
    # Channel maps, rankings and clamps: the logic is mazepolicy.explore.inside's.
    def _inside(self, query: dict[str, list[str]], allowed: tuple[str, ...]):
        """(checked view, :class:`~mazepolicy.explore.inside.Inside`) of a request whose
        own parameters may be ``allowed`` (of :data:`~mazepolicy.explore.inside.
        INSIDE_PARAMS`); the view's go through :meth:`view`."""
        view_query, inside_query = inside.split_query(query)
        extra = sorted(set(inside_query) - set(allowed))
        if extra:
            raise BadRequest(f"parameter {extra[0]!r} does not apply here; this endpoint "
                             f"takes {', '.join(allowed) or 'none of them'}")
        try:
            view = self.view(view_query)
        except BadRequest as err:
            if not str(err).startswith("unknown parameter"):
                raise
            raise BadRequest(f"{err}; and here {', '.join(allowed)}") from None
        return view, inside.parse_inside(inside_query)

    def _sae_model(self):
        return None if self.sae is None else self.sae.model

    def _unit(self, view: View, params) -> tuple[str, int, tuple[int, int, int]]:
        """(kind, index, the layer's (C, H, W)) of the request's channel or feature."""
        shape = inside.conv_shape(self.policies[view.role], view.layer)
        kind, index = params.unit(self.sae is not None)
        inside.check_unit(kind, index, shape, view.layer, view.role, self._sae_model())
        return kind, index, shape

    def _steering(self, view: View, state):
        """The view's steering as a context (none at coefficient 0); lock held."""
        from contextlib import nullcontext

        from mazepolicy.interp.vectors import steering

        if view.coeff == 0:
            return nullcontext()
        return steering(self.policies[view.role], [(self._vector(view, state), view.coeff)])

    def _view_field(self, view: View, state) -> tuple[dict, np.ndarray]:
        """The view's own field and probabilities (steered by its coefficient); cached."""
        policy = self.policies[view.role]
        if view.coeff == 0:
            return self._fields.get((view.role, view.maze_key),
                                    lambda: self._probed(policy, state))

        def make():
            with self._steering(view, state):
                return self._probed(policy, state)

        return self._based.get((view.role, view.maze_key, view.vector, view.layer,
                                view.coeff), make)

    def channels_response(self, query: dict[str, list[str]]) -> dict:
        """``GET /api/channels``: the layer's shape and channels, cheese-tracking first
        (:func:`~mazepolicy.explore.inside.channel_ranking`, once per role, layer and
        variant), and how they were ranked."""
        view = self.view(query)
        policy = self.policies[view.role]
        shape = inside.conv_shape(policy, view.layer)
        with self._lock:
            ranked = self._rankings.get(("channel", view.role, view.layer, view.variant),
                                        lambda: inside.channel_ranking(policy, view.layer,
                                                                       view.variant))
        return {"layer": view.layer, "shape": list(shape), **ranked}

    def features_response(self, query: dict[str, list[str]]) -> dict:
        """``GET /api/features``: the SAE's features, cheese-tracking first
        (:func:`~mazepolicy.explore.inside.feature_ranking`, once per variant)."""
        view = self.view(query)
        if self.sae is None:
            raise BadRequest("no SAE: start mazepolicy explore with --sae DIR")
        shape = inside.conv_shape(self.policies[view.role], view.layer)
        inside.check_unit("feature", 0, shape, view.layer, view.role, self.sae.model)
        with self._lock:
            ranked = self._rankings.get(("feature", view.variant), lambda: (
                inside.feature_ranking(self.policies["policy"], self.sae.model, view.variant)))
        return {"layer": view.layer, "sae": inside.sae_info(self.sae_dir, self.sae), **ranked}

    def channel_map_response(self, query: dict[str, list[str]]) -> dict:
        """``GET /api/channel-map``: the map of ``channel`` (or SAE ``feature``) at the
        view's layer on the view's maze, the mouse where it is and the view's steering
        active (:func:`~mazepolicy.explore.inside.map_json`)."""
        view, params = self._inside(query, ("channel", "feature"))
        policy = self.policies[view.role]
        with self._lock:
            state, _, _ = self._maze(view)
            kind, index, _ = self._unit(view, params)
            with self._steering(view, state):
                grid = inside.unit_map(policy, state, view.layer, kind, index,
                                       self._sae_model())  # (H, W)
        return inside.map_json(grid, state) | {"kind": kind, "index": index,
                                                "layer": view.layer, "coeff": view.coeff}

    def clamp_response(self, query: dict[str, list[str]]) -> dict:
        """``GET /api/clamp``: the move field with ``channel`` (or SAE ``feature``) set to
        ``value`` at ``target``'s map position on every frame (the retargeting edit,
        :func:`~mazepolicy.explore.inside.at_target_hook`) beside the field without it,
        both under the view's steering, in :func:`field_json`'s format (``steered``: the
        clamped field, ``unsteered``: the unclamped one)."""
        view, params = self._inside(query, inside.INSIDE_PARAMS)
        policy = self.policies[view.role]
        with self._lock:
            state, _, steps = self._maze(view)
            kind, index, shape = self._unit(view, params)
            target = inside.check_target(params.target, state)
            edit = inside.clamp_edit(kind, index, params.value, self._sae_model())
            base, base_probs = self._view_field(view, state)
            hook = inside.at_target_hook(edit, state, target, shape)
            with self._steering(view, state), policy.hooks({view.layer: hook}):
                clamped, clamped_probs = self._probed(policy, state)
        code = inside.clamp_snippet(python_snippet(self.specs[view.role], view, steps,
                                                   self._file_path(view)),
                                    kind, index, target, params.value, view.layer,
                                    view.coeff, self.sae_dir)
        return field_json(base, clamped, base_probs, clamped_probs) | {
            "clamp": inside.clamp_json(kind, index, target, params.value, edit, state,
                                       view.layer, shape[-1]),
            "view": vars(view) | {"edits": [[k, list(c)] for k, c in view.edits]},
            "python": code}


def goal_json(row: dict) -> dict:
    """A :func:`~mazepolicy.interp.probes.goal_choices` row for the page (no level seed).

    Example:
        >>> goal_json({"level_seed": 3, "cell": (1, 2), "choice": "corner", "p_cheese": 0.1,
        ...            "p_corner": 0.8, "d_cheese": 2, "d_corner": 5})["cell"]
        [1, 2]
    """
    return {"cell": list(row["cell"]), "choice": row["choice"], "p_cheese": row["p_cheese"],
            "p_corner": row["p_corner"], "d_cheese": row["d_cheese"],
            "d_corner": row["d_corner"]}


def field_json(base: dict, steered: dict, base_probs: np.ndarray,
               steered_probs: np.ndarray) -> dict:
    """Two move fields (cell -> P(right, up, left, down)) and the 15 action probabilities
    at the mouse as the page reads them: per cell in one order, the probabilities, the
    expected moves (dx, dy) and steered - unsteered.

    Example:
        >>> out = field_json({(0, 0): (1.0, 0.0, 0.0, 0.0)}, {(0, 0): (0.0, 1.0, 0.0, 0.0)},
        ...                  np.full(15, 1 / 15), np.full(15, 1 / 15))
        >>> out["cells"], out["unsteered_net"], out["difference"]
        ([[0, 0]], [[1.0, 0.0]], [[-1.0, 1.0]])
    """
    from mazepolicy.interp.probes import MOVES, move_probability, net_moves

    cells = list(base)
    nets = [net_moves(field) for field in (base, steered)]
    out = {"moves": ["right", "up", "left", "down"], "cells": [list(c) for c in cells],
           "unsteered": [list(base[c]) for c in cells],
           "steered": [list(steered[c]) for c in cells],
           "unsteered_net": [list(nets[0][c]) for c in cells],
           "steered_net": [list(nets[1][c]) for c in cells],
           "difference": [[s - u for s, u in zip(nets[1][c], nets[0][c], strict=True)]
                          for c in cells]}
    for name, probs in (("mouse_unsteered", base_probs), ("mouse_steered", steered_probs)):
        moves = [float(move_probability(probs[None], d)[0]) for d in MOVES]  # 4 moves
        out[name] = {"actions": [float(p) for p in probs], "moves": moves,
                     "stay": max(0.0, 1.0 - sum(moves))}
    return out
