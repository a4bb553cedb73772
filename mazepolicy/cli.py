"""The ``mazepolicy`` command line: one subcommand per module in ``mazepolicy.commands``.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so
``mazepolicy --help`` stays fast.

Example:
    >>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import importlib
import sys

import mazepolicy

COMMANDS = {
    "demo": "Run a small steering experiment and write its table and figures (the main job).",
    "train": "Train a PPO policy on a maze variant.",
    "evaluate": "Measure a policy's outcomes on seeded mazes (rates with 95% intervals).",
    "steer": "Evaluate a policy with a steering vector added at a layer, per coefficient.",
    "vfield": "Draw a policy's vector field on a maze, unsteered and steered.",
    "rollout": "Roll a policy out on a maze and save a GIF/MP4.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mazepolicy", description=mazepolicy.__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--version", action="version", version=f"mazepolicy {mazepolicy.__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        # argparse %-formats help strings (not descriptions)
        sub.add_parser(name, help=help_text.replace("%", "%%"), add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # handles --help/--version and reports unknown commands
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f"mazepolicy.commands.{name}")
    command_parser = argparse.ArgumentParser(prog=f"mazepolicy {name}", description=COMMANDS[name])
    module.add_arguments(command_parser)
    return int(module.run(command_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
