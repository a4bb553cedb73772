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
    fixed_vector,
    given_vector_options,
    vector_choice,
)

DEFAULT_COEFF = -1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere", rollouts=False,
                         progress=False)
    add_vector_arguments(parser)
    parser.add_argument("--coeff", type=finite_float,
                        help=f"steering coefficient of the steered panel (default: "
                        f"{DEFAULT_COEFF:g})")
    parser.add_argument("--out", required=True, help="PNG path")
    parser.add_argument("--json", help="also write the fields as JSON here")


def run(args: argparse.Namespace) -> int:
    from mazepolicy.agents.policy import load_network
    from mazepolicy.agents.scripted import SCRIPTED_AGENTS
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.interp.probes import ScriptedMoves, move_field
    from mazepolicy.interp.vectors import steering
    from mazepolicy.io import atomic_write_text, check_output_file, json_dumps, write_outputs
    from mazepolicy.viz.plots import plot_vector_fields

    check_output_file(args.out, "--out")
    check_output_file(args.json, "--json")
    variant = load_variant(args.env)
    (state,) = level_states([args.seed], variant.placement(), variant.distribution_mode)
    if args.policy in SCRIPTED_AGENTS:
        refused = given_vector_options(args) + (["--coeff"] if args.coeff is not None else [])
        if refused:
            raise ValueError(f"{' '.join(refused)}: --policy {args.policy} is a scripted "
                             "agent, which has no layers to steer")
        base = steered = move_field(ScriptedMoves(args.policy), state)
        titles = (args.policy, f"{args.policy} (scripted: not steerable)", "difference")
        vector = None
    else:
        coeff = DEFAULT_COEFF if args.coeff is None else args.coeff
        choice = vector_choice(args)
        policy = load_network(args.policy, args.device)
        (layer,) = choice.layers
        policy.check_hook_names([layer])
        vector = fixed_vector(policy, choice, layer, variant, [state])
        base = move_field(policy, state)
        with steering(policy, [(vector, coeff)]):
            steered = move_field(policy, state)
        titles = ("unsteered", f"{choice.describe()} {coeff:+g}\nat {layer}",
                  "steered - unsteered")
    writers = {args.out: lambda: plot_vector_fields(state, base, steered, args.out,
                                                    titles=titles)}
    if args.json:
        writers[args.json] = lambda: atomic_write_text(args.json, json_dumps({
            "level_seed": state.level_seed,
            "policy": args.policy,
            "vector": None if vector is None else {"layer": vector.layer, **vector.metadata},
            "coeff": None if vector is None else coeff,
            "moves": ["right", "up", "left", "down"],  # the probabilities' order per cell
            "unsteered": {f"{x},{y}": v for (x, y), v in base.items()},
            "steered": {f"{x},{y}": v for (x, y), v in steered.items()},
        }))
    print(args.out)
    write_outputs(writers)
    return 0
