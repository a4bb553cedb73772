"""Arguments and loaders shared by the evaluation and steering commands."""

from __future__ import annotations

import argparse

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


def add_policy_arguments(parser: argparse.ArgumentParser, default_env: str) -> None:
    parser.add_argument("--policy", required=True,
                        help="a shipped checkpoint's name, a .safetensors path, or a scripted "
                        "agent: cheese-walker, top-right-walker, random")
    parser.add_argument("--env", default=default_env, help="env variant (envs/<name>.toml)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="first level seed, and the agent's sampling seed")
    parser.add_argument("--greedy", action="store_true",
                        help="take the most likely action instead of sampling")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--max-steps", type=positive_int, default=500,
                        help="episode cap (the engine's own is 500)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_vector_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vector", default="cheese",
                        help="cheese, top-right, or a saved vector (.safetensors)")
    parser.add_argument("--layer", nargs="+", default=[DEFAULT_LAYER],
                        help="hook point(s) to add the vector at")
    parser.add_argument("--averaged", action="store_true",
                        help="one vector averaged over --vector-seeds instead of per maze")
    parser.add_argument("--vector-seeds", type=positive_int, default=100,
                        help="mazes to average over with --averaged (seeds 0..N-1)")


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


def steered_agent(args: argparse.Namespace, coeff: float):
    """The ``--policy`` agent, steered by ``--vector`` at ``--layer`` with ``coeff`` (0:
    the plain agent), every argument checked before anything runs."""
    from mazepolicy.agents.policy import load_network, make_agent
    from mazepolicy.agents.steered import SteeredAgent, check_coeff
    from mazepolicy.interp.steer import per_maze_vectors

    coeff = check_coeff(coeff)
    vector = load_vector_arg(args.vector)
    if coeff == 0:
        return make_agent(args.policy, device=args.device, greedy=args.greedy, seed=args.seed)
    policy = load_network(args.policy, args.device)  # a network, or a clear error
    layer = vector.layer if vector is not None else args.layer[0]
    per_maze = None if vector is not None else per_maze_vectors(policy, args.vector, layer)
    return SteeredAgent(policy, layer, coeff, vector=None if vector is None else vector.tensor,
                        per_maze=per_maze, greedy=args.greedy, seed=args.seed)


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
