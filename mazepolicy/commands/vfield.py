"""``mazepolicy vfield``: a policy's expected move at every cell of one maze, unsteered
and steered side by side, with their difference.

Example:
    mazepolicy vfield --policy CHECKPOINT --env maze-anywhere --seed 3 --coeff -1 \\
        --out out/vfield.png
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import (
    add_policy_arguments,
    add_vector_arguments,
    finite_float,
    load_vector_arg,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere")
    add_vector_arguments(parser)
    parser.add_argument("--coeff", type=finite_float, default=-1.0,
                        help="steering coefficient of the steered panel")
    parser.add_argument("--out", required=True, help="PNG path")
    parser.add_argument("--json", help="also write the fields as JSON here")


def scripted_field(name: str, state) -> dict:
    """A scripted walker's (deterministic) move at each free cell but the cheese, as
    move probabilities (right, up, left, down): 1 for its move."""
    from mazepolicy.envs.actions import ACTION_DELTAS
    from mazepolicy.envs.geometry import distance_field, free_cells, greedy_action
    from mazepolicy.interp.probes import MOVES

    n = state.maze_dim
    goal = state.cheese_cell if name == "cheese-walker" else (n - 1, n - 1)
    if goal is None:
        raise ValueError("this maze has no cheese to walk to")
    field = distance_field(state.free, goal)
    return {c: tuple(float(ACTION_DELTAS[greedy_action(field, c)] == move) for move in MOVES)
            for c in free_cells(state.free) if c != state.cheese_cell}


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import load_network
    from mazepolicy.agents.scripted import SCRIPTED_AGENTS
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.steer import steering_vector
    from mazepolicy.interp.vectors import steering
    from mazepolicy.viz.plots import plot_vector_fields

    variant = load_variant(args.env)
    (state,) = level_states([args.seed], variant.placement(), variant.distribution_mode)
    titles = ("unsteered", f"{args.vector} vector {args.coeff:+g}\nat {args.layer[0]}",
              "steered - unsteered")
    if args.policy in SCRIPTED_AGENTS:
        base = steered = scripted_field(args.policy, state)
        titles = (args.policy, f"{args.policy} (scripted: not steerable)", "difference")
    else:
        policy = load_network(args.policy, args.device)
        vector = load_vector_arg(args.vector) or steering_vector(policy, args.vector, [state],
                                                             args.layer[0])
        base = move_field(policy, state)
        with steering(policy, [(vector, args.coeff)]):
            steered = move_field(policy, state)
    plot_vector_fields(state, base, steered, args.out, titles=titles)
    if args.json:
        from mazepolicy.io import atomic_write_text, json_dumps

        atomic_write_text(args.json, json_dumps({
            "level_seed": state.level_seed,
            "moves": ["right", "up", "left", "down"],  # the probabilities' order per cell
            "unsteered": {f"{x},{y}": v for (x, y), v in base.items()},
            "steered": {f"{x},{y}": v for (x, y), v in steered.items()},
        }))
    print(args.out)
    return 0
