"""``mazepolicy rollout``: one episode on a seeded maze, saved as a GIF or MP4.

Example:
    mazepolicy rollout --policy cheese-walker --env maze-anywhere --seed 3 \\
        --video out/rollout.gif [--vector cheese --coeff -1]
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import (
    add_policy_arguments,
    add_vector_arguments,
    finite_float,
    positive_float,
    positive_int,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, default_env="maze-anywhere", progress=False)
    add_vector_arguments(parser)
    parser.add_argument("--coeff", type=finite_float, default=0.0,
                        help="steering coefficient (0: unsteered)")
    parser.add_argument("--video", required=True, help=".gif or .mp4 path")
    parser.add_argument("--fps", type=positive_float, default=10, help="frames per second")
    parser.add_argument("--scale", type=positive_int, default=4,
                        help="frame enlargement (64 px frames times this)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from mazepolicy.commands.common import steered_agent
    from mazepolicy.envs.levels import level_states
    from mazepolicy.envs.variants import load_variant
    from mazepolicy.eval.episode import play_state
    from mazepolicy.io import check_output_file, json_dumps, write_outputs
    from mazepolicy.viz.render import check_video_path, save_frames, upscale_frame

    check_video_path(check_output_file(args.video, "--video"))  # fails before the rollout
    variant = load_variant(args.env)
    agent = steered_agent(args, args.coeff, variant)
    (state,) = level_states([args.seed], variant.placement(), variant.distribution_mode)
    episode = play_state(agent, state, args.max_steps)  # its frames end on the final one
    frames = np.stack([upscale_frame(f, args.scale) for f in episode.frames])
    result = episode.result
    outcome = {"reached_cheese": result.reached_cheese,
               "reached_top_right": result.reached_top_right,
               "timed_out": result.timed_out, "episode_length": result.steps}
    print(json_dumps({"video": args.video, **outcome}))
    write_outputs({args.video: lambda: save_frames(frames, args.video, fps=args.fps)})
    return 0
