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
    from mazepolicy.agents.scripted import SCRIPTED_AGENTS
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.io import atomic_write_text, check_output_files, json_dumps, write_outputs
    from mazepolicy.viz.plots import plot_vector_fields

    check_output_files(args, "out", "json")
    variant = load_variant(args.env)
    (state,) = level_states([args.seed], variant.placement(), variant.distribution_mode)
    fields = (scripted_fields(args, state) if args.policy in SCRIPTED_AGENTS
              else steered_fields(args, state, variant))
    writers = {args.out: lambda: plot_vector_fields(state, fields["unsteered"],
                                                    fields["steered"], args.out,
                                                    titles=fields["titles"])}
    if args.json:
        writers[args.json] = lambda: atomic_write_text(args.json, json_dumps({
            "level_seed": state.level_seed, "policy": args.policy,
            "moves": ["right", "up", "left", "down"],  # the probabilities' order per cell
            **{key: ({f"{x},{y}": v for (x, y), v in value.items()}
                     if key in ("unsteered", "steered") else value)
               for key, value in fields.items() if key != "titles"}}))
    write_outputs(writers)
    print(args.out)
    return 0


def scripted_fields(args: argparse.Namespace, state) -> dict:
    """A scripted agent's move field on ``state`` (the same in both panels: it has no
    layers to steer, so the vector options and ``--coeff`` are refused)."""
    from mazepolicy.interp.probes import ScriptedMoves, move_field

    refused = given_vector_options(args) + (["--coeff"] if args.coeff is not None else [])
    if refused:
        raise ValueError(f"{' '.join(refused)}: --policy {args.policy} is a scripted agent, "
                         "which has no layers to steer")
    field = move_field(ScriptedMoves(args.policy), state)
    return {"unsteered": field, "steered": field, "vector": None, "coeff": None,
            "titles": (args.policy, f"{args.policy} (scripted: not steerable)", "difference")}


def steered_fields(args: argparse.Namespace, state, variant) -> dict:
    """The network's move field on ``state``, unsteered and steered by the vector the
    options choose (its layer and how it was made recorded, and named in the titles)."""
    from mazepolicy.agents.policy import load_network
    from mazepolicy.interp.probes import move_field
    from mazepolicy.interp.vectors import steering

    coeff = DEFAULT_COEFF if args.coeff is None else args.coeff
    choice = vector_choice(args)
    policy = load_network(args.policy, args.device)
    (layer,) = choice.layers
    policy.check_hook_names([layer])
    vector = fixed_vector(policy, choice, layer, variant, [state])
    base = move_field(policy, state)
    with steering(policy, [(vector, coeff)]):
        steered = move_field(policy, state)
    return {"unsteered": base, "steered": steered, "coeff": coeff,
            "vector": {"layer": vector.layer, **vector.metadata},
            "titles": ("unsteered", f"{choice.describe()} {coeff:+g}\nat {layer}",
                       "steered - unsteered")}
