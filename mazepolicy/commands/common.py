"""Arguments and loaders shared by the evaluation and steering commands."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mazepolicy.interp.vectors import SteeringVector

DEFAULT_LAYER = "embedder.block2.res1.resadd_out"


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    return _bounded_int(text, 1)


def nonnegative_int(text: str) -> int:
    """argparse type: an int >= 0."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite float (no nan or inf).

    Example:
        >>> finite_float("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected a finite number, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0.

    Example:
        >>> positive_float("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be > 0, got 0.0
    """
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


SCRIPTED_HELP = "scripted agents: cheese-walker, top-right-walker, random"


def add_policy_arguments(parser: argparse.ArgumentParser, default_env: str, *,
                         scripted: bool = True, rollouts: bool = True,
                         progress: bool = True) -> None:
    """``--policy``, ``--env``, ``--seed`` and ``--device``; with ``rollouts`` (the
    command plays episodes) also ``--greedy`` and ``--max-steps``, with ``progress``
    (it shows progress bars) ``--no-progress``. ``scripted``: whether ``--policy``
    takes a scripted agent (its help says which)."""
    policy_help = "a shipped checkpoint's name or a .safetensors path"
    policy_help += (f", or one of the {SCRIPTED_HELP}" if scripted else
                    " (a network: scripted agents have no layers to steer)")
    parser.add_argument("--policy", required=True, help=policy_help)
    parser.add_argument("--env", default=default_env, help="env variant (envs/<name>.toml)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="first level seed, and the agent's sampling seed" if rollouts
                        else "the maze's level seed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    if rollouts:
        parser.add_argument("--greedy", action="store_true",
                            help="take the most likely action instead of sampling")
        parser.add_argument("--max-steps", type=positive_int, default=500,
                            help="episode cap (the engine's own is 500)")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_vector_arguments(parser: argparse.ArgumentParser, several_layers: bool = False) -> None:
    """``--vector``, ``--layer`` (one, or with ``several_layers`` one or more),
    ``--averaged`` and ``--vector-seeds``, read by :func:`vector_choice`."""
    parser.add_argument("--vector", help="cheese, top-right, or a saved vector (.safetensors) "
                        "(default: cheese)")
    parser.add_argument("--layer", nargs="+" if several_layers else None,
                        help=("hook point(s)" if several_layers else "hook point") +
                        f" to add the vector at (default: {DEFAULT_LAYER}; for a saved "
                        "vector, the layer it was made at)")
    parser.add_argument("--averaged", action="store_true",
                        help="one cheese or top-right vector averaged over the start states "
                        "of --vector-seeds mazes instead of one per maze")
    parser.add_argument("--vector-seeds", type=positive_int,
                        help="with --averaged: average over level seeds 0..N-1 of --env "
                        "(default: 100)")


VECTOR_OPTIONS = ("vector", "layer", "averaged", "vector_seeds")


def given_vector_options(args: argparse.Namespace) -> list[str]:
    """The vector options given on the command line, as written (``--vector-seeds``)."""
    return ["--" + name.replace("_", "-") for name in VECTOR_OPTIONS
            if getattr(args, name) not in (None, False)]


@dataclass(frozen=True)
class VectorChoice:
    """What the vector options ask for: a saved vector, or a ``kind`` of vector built
    per maze or averaged over ``averaged_seeds``, at each of ``layers``."""

    spec: str  # --vector as given (or "cheese")
    saved: SteeringVector | None  # a saved vector, loaded
    layers: tuple[str, ...]
    averaged_seeds: range | None  # None: per maze (or the saved vector)

    @property
    def kind(self) -> str | None:
        """``cheese`` or ``top-right``; None for a saved vector."""
        return None if self.saved is not None else self.spec

    def describe(self) -> str:
        """The vector actually used, for figure titles.

        Example:
            >>> VectorChoice("cheese", None, ("L",), range(20)).describe()
            'cheese vector (averaged over 20 mazes)'
        """
        if self.saved is not None:
            made = self.saved.metadata.get("kind", "saved")
            return f"{made} vector {Path(self.spec).name}"
        how = ("per maze" if self.averaged_seeds is None
               else f"averaged over {len(self.averaged_seeds)} mazes")
        return f"{self.spec} vector ({how})"


def vector_choice(args: argparse.Namespace) -> VectorChoice:
    """The vector options checked together (before any rollout): a saved vector keeps its
    own layer (another ``--layer`` is refused) and is not averaged again;
    ``--vector-seeds`` acts only with ``--averaged``; a layer given twice is refused."""
    spec = args.vector or "cheese"
    saved = load_vector_arg(spec)
    layers = [args.layer] if isinstance(args.layer, str) else args.layer
    if layers:
        distinct(layers, "--layer")
    if saved is not None:
        if args.averaged:
            raise ValueError(f"--averaged builds a vector from mazes; --vector {spec} is a "
                             "saved vector already")
        if layers and layers != [saved.layer]:
            raise ValueError(f"--layer {' '.join(layers)}: the saved vector {spec} was made "
                             f"at {saved.layer}; leave --layer out or give that layer")
        layers = [saved.layer]
    if args.vector_seeds is not None and not args.averaged:
        raise ValueError("--vector-seeds acts only with --averaged")
    averaged = range(args.vector_seeds or 100) if args.averaged else None
    return VectorChoice(spec, saved, tuple(layers or [DEFAULT_LAYER]), averaged)


def distinct(values: list, option: str) -> list:
    """``values`` if none repeats; ``ValueError`` naming the repeated one otherwise.

    Example:
        >>> distinct([1.0, 1.0], "--coeffs")
        Traceback (most recent call last):
        ...
        ValueError: --coeffs: 1 given twice
    """
    seen = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{option}: {value:g} given twice" if isinstance(value, float)
                             else f"{option}: {value} given twice")
        seen.add(value)
    return values


def load_vector_arg(spec: str):
    """A saved SteeringVector for a path, else None for a vector kind computed on the
    fly; ``ValueError`` for anything else (before any rollout)."""
    from mazepolicy.interp.steer import VECTOR_KINDS
    from mazepolicy.interp.vectors import SteeringVector

    if spec.endswith(".safetensors"):
        return SteeringVector.load(spec)
    if spec not in VECTOR_KINDS:
        raise ValueError(f"unknown vector {spec!r}: use {', '.join(sorted(VECTOR_KINDS))} "
                         "or a saved vector (.safetensors)")
    return None


def fixed_vector(policy, choice: VectorChoice, layer: str, variant, states=()):
    """The one vector ``choice`` stands for at ``layer``: the saved vector, the vector
    averaged over ``choice.averaged_seeds`` mazes of ``variant``, or else the
    ``choice.kind`` vector of ``states`` (one state: that maze's own vector)."""
    from mazepolicy.envs.levels import level_states
    from mazepolicy.interp.steer import steering_vector

    if choice.saved is not None:
        return choice.saved
    if choice.averaged_seeds is not None:
        states = level_states(choice.averaged_seeds, variant.placement(),
                              variant.distribution_mode)
    return steering_vector(policy, choice.kind, states, layer)


def steered_agent(args: argparse.Namespace, coeff: float, variant):
    """The ``--policy`` agent, steered by the vector options with ``coeff`` on mazes of
    ``variant`` (0: the plain agent, and vector options are refused since they would do
    nothing), every argument checked before anything runs."""
    from mazepolicy.agents.policy import load_network, make_agent
    from mazepolicy.agents.steered import SteeredAgent, check_coeff
    from mazepolicy.interp.steer import per_maze_vectors

    coeff = check_coeff(coeff)
    choice = vector_choice(args)
    if coeff == 0:
        if given_vector_options(args):
            raise ValueError(f"{' '.join(given_vector_options(args))} steer the policy; with "
                             "--coeff 0 nothing is steered: give a nonzero --coeff")
        return make_agent(args.policy, device=args.device, greedy=args.greedy, seed=args.seed)
    policy = load_network(args.policy, args.device)  # a network, or a clear error
    (layer,) = choice.layers
    if choice.saved is None and choice.averaged_seeds is None:
        return SteeredAgent(policy, layer, coeff, per_maze=per_maze_vectors(
            policy, choice.kind, layer), greedy=args.greedy, seed=args.seed)
    vector = fixed_vector(policy, choice, layer, variant)
    return SteeredAgent(policy, layer, coeff, vector=vector.tensor, greedy=args.greedy,
                        seed=args.seed)


def note_no_eligible(summary: dict) -> None:
    """On stderr, why an evaluation ``summary`` has no eligible maze (so its
    misgeneralization rates are null), if it has none."""
    import sys

    if summary.get("no_eligible_reason"):
        print(f"note: {summary['no_eligible_reason']}; misgeneralization_rate is null",
              file=sys.stderr)


def write_cell_rows(path: str, rows: list[dict]) -> None:
    """Write per-cell result rows as CSV at ``path`` (atomically), one column per key;
    the ``cell`` (x, y) column as ``"x y"``.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "cells.csv"
        >>> write_cell_rows(str(out), [{"level_seed": 3, "cell": (1, 2), "agree": True}])
        >>> out.read_text().splitlines()
        ['level_seed,cell,agree', '3,1 2,True']
    """
    import csv
    import io

    from mazepolicy.io import atomic_write_text

    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]) if rows else ["level_seed"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows({**r, "cell": f"{r['cell'][0]} {r['cell'][1]}"} for r in rows)
    atomic_write_text(path, table.getvalue())
