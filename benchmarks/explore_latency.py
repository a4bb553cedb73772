"""Latency of ``mazepolicy explore``'s field updates, end to end through its HTTP API
(server in-process on a free port, requests with urllib, JSON included), on the hard
mazes where it is slowest.

Mazes: the first ``--mazes`` level seeds of ``maze-topright-5`` (hard) whose maze is
25x25, the largest (300+ free cells, every one a frame for the network). Per maze, after
one unmeasured request that loads it:

- ``coefficient``: the cheese vector's coefficient moves through ``--coeffs`` (the
  unsteered field and the vector are cached: one steered field per request);
- ``layer``: the cheese vector at two other layers (a vector built, one steered field;
  a 25x25 hard maze fills its world, so it has no top-right or composed vector);
- ``edit``: the cheese moves to ``--edits`` fixed free cells in turn at coefficient -1
  (a new maze: unsteered field, vector and steered field).

Median and p95 per kind, and the machine (load average included: the 2-core machine
these ran on is shared with training runs).

    OMP_NUM_THREADS=1 python benchmarks/explore_latency.py \\
        --json benchmarks/results/explore_latency.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
from urllib.parse import urlencode

import torch
from common import machine, write_json

from mazepolicy.envs.geometry import free_cells
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.explore.lab import Lab
from mazepolicy.explore.server import make_server, server_url

VARIANT = "maze-topright-5"
LAYER = "embedder.block2.res1.resadd_out"
OTHER_LAYERS = ("embedder.block1.res2.resadd_out", "embedder.block3.res1.resadd_out")


def hard_mazes(count: int) -> list:
    """The first ``count`` seeds' states of VARIANT with the largest maze (25x25)."""
    variant, states, seed = load_variant(VARIANT), [], 0
    while len(states) < count:
        batch = level_states(range(seed, seed + 50), variant.placement(),
                             variant.distribution_mode)
        states += [s for s in batch if s.maze_dim == 25]
        seed += 50
    return states[:count]


def timed_get(url: str, params: dict) -> float:
    """Seconds for one GET of ``url`` with ``params`` (its answer must be 200)."""
    start = time.perf_counter()
    with urllib.request.urlopen(url + "?" + urlencode(params), timeout=120) as reply:
        json.load(reply)
        assert reply.status == 200
    return time.perf_counter() - start


def summary(times: list[float]) -> dict:
    """Median, p95 (inclusive quantiles) and max of ``times`` in seconds."""
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]
    return {"requests": len(times), "median_s": statistics.median(times), "p95_s": p95,
            "max_s": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default="maze-topright-5_impala-s1")
    parser.add_argument("--mazes", type=int, default=4)
    parser.add_argument("--coeffs", type=float, nargs="+", default=[-1, -2, 1, 2.5, -0.5])
    parser.add_argument("--edits", type=int, default=3, help="cheese moves per maze")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    states = hard_mazes(args.mazes)
    server = make_server(Lab({"policy": args.policy}), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = server_url(server) + "api/field"
    times: dict[str, list[float]] = {"coefficient": [], "layer": [], "edit": []}
    cells = []
    for state in states:
        base = {"variant": VARIANT, "seed": state.level_seed, "layer": LAYER}
        timed_get(url, base | {"vector": "cheese", "coeff": 0.5})  # loads the maze
        for coeff in args.coeffs:
            times["coefficient"].append(timed_get(url, base | {"vector": "cheese",
                                                               "coeff": coeff}))
        for layer in OTHER_LAYERS:
            times["layer"].append(timed_get(url, base | {"vector": "cheese", "coeff": -1,
                                                         "layer": layer}))
        free = [c for c in free_cells(state.free) if c not in ((0, 0), state.cheese_cell)]
        for i in range(args.edits):
            x, y = free[(i + 1) * len(free) // (args.edits + 1)]
            times["edit"].append(timed_get(url, base | {"vector": "cheese", "coeff": -1,
                                                        "edits": f"cheese:{x},{y}"}))
        cells.append(len(free) + 1)  # the field's cells: every free cell but the cheese's
    server.shutdown()
    result = {"machine": machine("cpu"), "policy": args.policy, "variant": VARIANT,
              "layer": LAYER, "level_seeds": [s.level_seed for s in states],
              "field_cells": cells, **{kind: summary(t) for kind, t in times.items()},
              "times_s": times}
    print(f"{len(states)} hard 25x25 mazes ({min(cells)}-{max(cells)} cells), "
          f"{result['machine']['threads']} torch thread(s), "
          f"load average {result['machine']['load_average'][0]:.2f}")
    print("| update | requests | median (s) | p95 (s) | max (s) |\n|---|---|---|---|---|")
    for kind in times:
        s = result[kind]
        print(f"| {kind} | {s['requests']} | {s['median_s']:.3f} | {s['p95_s']:.3f} | "
              f"{s['max_s']:.3f} |")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
