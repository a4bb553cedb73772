"""``mazepolicy explore``: the maze lab in the browser.

Starts a local server, prints its URL and opens the browser: pick a maze, edit it
(cheese, mouse, walls), steer the policy and watch its vector field and action
probabilities change. Ctrl-C stops it.

Example:
    mazepolicy explore                                 # the shipped top-right-5 policy
    mazepolicy explore --control maze-anywhere_impala-s1 --port 8765 --no-browser
    mazepolicy explore --vector vectors/cheese.safetensors --out saved/   # a saved vector
"""

from __future__ import annotations

import argparse

from mazepolicy.commands.common import nonnegative_int

DEFAULT_POLICY = "maze-topright-5_impala-s1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default=DEFAULT_POLICY,
                        help="a shipped checkpoint's name or a .safetensors path")
    parser.add_argument("--control", help="a second policy shown on request (e.g. the "
                        "control trained on maze-anywhere, maze-anywhere_impala-s1)")
    parser.add_argument("--port", type=nonnegative_int, default=8765,
                        help="port to listen on (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind; anything but 127.0.0.1 exposes the lab to "
                        "the network (a warning is printed)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--out", help="directory where the page's saved files go (without "
                        "it, saving is refused and nothing is written)")
    parser.add_argument("--sae", metavar="DIR", help="an SAE folder of --policy's (from "
                        "`mazepolicy sae train`, position layout): the Inside then shows "
                        "and clamps its features at the SAE's layer")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--vector", metavar="FILE", action="append", default=[],
                        help="a saved steering vector (.safetensors, from SteeringVector."
                        "save) the page offers as file:<stem> at its own layer; repeatable")


def run(args: argparse.Namespace) -> int:
    import sys
    import webbrowser

    specs = {"policy": args.policy} | ({"control": args.control} if args.control else {})
    try:  # torch's import and the policies take a few seconds: Ctrl-C there stops too
        print(f"mazepolicy explore: loading {', '.join(specs.values())}", flush=True)
        from mazepolicy.explore.lab import Lab
        from mazepolicy.explore.server import LOCAL_HOSTS, make_server, server_url

        lab = Lab(specs, device=args.device, out=args.out, sae=args.sae, vectors=args.vector)
    except KeyboardInterrupt:
        print("mazepolicy explore: stopped before serving", file=sys.stderr)
        return 130
    if args.host not in LOCAL_HOSTS:
        print(f"warning: --host {args.host} serves the lab to anyone who can reach this "
              "machine (it has no authentication)", file=sys.stderr)
    try:
        server = make_server(lab, args.host, args.port, verbose=args.verbose)
    except OSError as err:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}"
                         ) from None
    url = server_url(server)
    print(f"mazepolicy explore: serving {url} (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("mazepolicy explore: stopped")
    finally:
        server.server_close()
    return 0
