"""The ``mazepolicy`` command line: one subcommand per module in ``mazepolicy.commands``.

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int``; the
one-line descriptions are in :data:`COMMANDS`. Modules are imported only when their
command runs, so ``mazepolicy --help`` stays fast.

A user error (a bad argument, an unknown variant, layer or vector, a missing or corrupt
file) prints one line naming the problem and exits with status 2; ``--debug`` (before
the command) shows the traceback instead. A reader that closes the output early
(``mazepolicy goals ... --json out.json | head``) does not stop the command: the rest of
what it prints is dropped and its files are still written.

Example:
    >>> main(["evaluate", "--policy", "cheese-walker", "--episodes", "0"])  # doctest: +SKIP
    mazepolicy evaluate: argument --episodes: must be >= 1, got 0
    2
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

import mazepolicy
from mazepolicy.extras import MissingExtra, extra_of, missing_extra_message

COMMANDS = {
    "demo": "Run a small steering experiment and write its table and figures (the main job).",
    "train": "Train a policy (PPO or DAgger imitation) on a maze variant.",
    "evaluate": "Measure a policy's outcomes on seeded mazes (rates with 95% intervals).",
    "steer": "Evaluate a policy with a steering vector added at a layer, per coefficient.",
    "vfield": "Draw a policy's vector field on a maze, unsteered and steered.",
    "rollout": "Roll a policy out on a maze and save a GIF/MP4.",
    "report": "Regenerate the report: misgeneralization, vectors, channels, retargeting.",
    "sae": "Sparse autoencoders on a layer: collect activations, train, analyze.",
    "agreement": "Agreement with the expert's move at every free cell of seeded mazes.",
    "goals": "Which goal a policy heads for between the cheese and the top-right corner.",
    "export": "Make a run's policy a shipped checkpoint, evaluated against a random agent.",
    "explore": "The maze lab in the browser: edit mazes, steer the policy, see its field.",
}

# What bad input raises in this package (CheckpointError and MazeStateError are
# ValueErrors); anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mazepolicy", description=mazepolicy.__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--version", action="version", version=f"mazepolicy {mazepolicy.__version__}"
    )
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks of errors instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        # argparse %-formats help strings (not descriptions)
        sub.add_parser(name, help=help_text.replace("%", "%%"), add_help=False)
    return parser


class DefaultOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to an option's help once: not where the help already names
    its default, nor for options without one (None, an empty list) or flags (False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if (default is None or default is False or default == []
                or "default" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


def command_parser(name: str) -> argparse.ArgumentParser:
    """The argument parser of command ``name`` (every option's help shows its default)."""
    module = importlib.import_module(f"mazepolicy.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"mazepolicy {name}", description=COMMANDS[name],
                                     formatter_class=DefaultOnceFormatter)
    module.add_arguments(parser)
    return parser


class ClosedPipeTolerantStream:
    """A text stream that forwards to ``stream`` until the reader at the other end of its
    pipe goes away; from then on it sends what is written to the null device, so the
    command goes on to write its result files instead of dying on ``BrokenPipeError``."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard_from_now_on()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard_from_now_on()

    def _discard_from_now_on(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # the interpreter's final flush succeeds
        os.close(devnull)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    if argv is None and not isinstance(sys.stdout, ClosedPipeTolerantStream):
        sys.stdout = ClosedPipeTolerantStream(sys.stdout)  # the console script's stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv[:1]
    if debug:
        argv = argv[1:]
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # handles --help/--version and reports unknown commands
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    try:
        args = command_parser(name).parse_args(rest)
        return int(importlib.import_module(f"mazepolicy.commands.{name}").run(args) or 0)
    except MissingExtra as err:
        return _refuse(name, str(err), debug)
    except ModuleNotFoundError as err:
        if extra_of(err.name) is None:
            raise
        return _refuse(name, missing_extra_message("this command", err.name), debug)
    except USER_ERRORS as err:
        return _refuse(name, str(err), debug)


def _refuse(name: str, message: str, debug: bool) -> int:
    """Print a user error in one line (``--debug``: re-raise it) and return status 2."""
    if debug:
        raise
    print(f"mazepolicy {name}: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
