"""What the explorer's test files share: the small shipped policy and its variant, a
server for a lab on a free port, API requests over HTTP, a seed's maze, and a field's
cells as a dict."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from mazepolicy.envs.levels import level_states
from mazepolicy.envs.state import MazeState
from mazepolicy.envs.variants import load_variant
from mazepolicy.explore.server import make_server, server_url

POLICY = "maze-topright-5-easy_impala-s1"
VARIANT = "maze-topright-5-easy"
LAYER = "embedder.block2.res1.resadd_out"
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serving(lab) -> Iterator:
    """A server for ``lab`` on a free port, serving in a thread until the block ends."""
    srv = make_server(lab, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def get(server, path: str, method: str = "GET", **params) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one request to ``server``'s API."""
    url = server_url(server) + path.lstrip("/") + ("?" + urlencode(params) if params else "")
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def seed_state(seed: int, variant: str = VARIANT) -> MazeState:
    """Level ``seed``'s starting state in ``variant``."""
    loaded = load_variant(variant)
    (state,) = level_states([seed], loaded.placement(), loaded.distribution_mode)
    return state


def field_of(answer: dict, key: str) -> dict:
    """An API field's ``key`` column as cell -> value."""
    return {tuple(c): tuple(p) for c, p in zip(answer["cells"], answer[key], strict=True)}
