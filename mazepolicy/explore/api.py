"""The explorer's JSON API: one function from a request (method, path, query string)
to an HTTP status and a JSON-ready body. A bad request gets 400 (404 for an unknown
path, 405 for a wrong method) with ``{"error": message}``; the server keeps serving.

Endpoints (the view's query parameters are :func:`~mazepolicy.explore.state.parse_view`'s):

- ``GET /api/info``: policies, variants, layers, vectors, coefficient range;
- ``GET /api/maze?variant=&seed=&edits=``: the edited maze and the agent's view;
- ``GET /api/field?...&vector=&layer=&coeff=&role=``: the move fields and probabilities;
- ``GET /api/goals?...`` (the same parameters): the goal choices on the cheese-corner path;
- ``POST /api/save-state?...``: the edited maze's state into ``--out``.

Example:
    >>> from mazepolicy.explore.lab import Lab
    >>> lab = Lab({"policy": "maze-topright-5-easy_impala-s1"})
    >>> handle(lab, "GET", "/api/maze", "seed=x")
    (400, {'error': "seed must be an integer in 0..2147483647, got 'x'"})
    >>> handle(lab, "GET", "/api/nothing", "")[0]
    404
"""

from __future__ import annotations

from urllib.parse import parse_qs

from mazepolicy.explore.state import BadRequest

MAX_QUERY = 8192  # characters; a view's query is far shorter

ROUTES = {  # path -> (method, what the lab answers with)
    "/api/info": ("GET", lambda lab, query: lab.info()),
    "/api/maze": ("GET", lambda lab, query: lab.maze_response(lab.view(query))),
    "/api/field": ("GET", lambda lab, query: lab.field_response(lab.view(query))),
    "/api/goals": ("GET", lambda lab, query: lab.goals_response(lab.view(query))),
    "/api/save-state": ("POST", lambda lab, query: lab.save_state(lab.view(query))),
}


def parse_query(text: str) -> dict[str, list[str]]:
    """A query string as ``parse_qs`` reads it, strictly: every field must be
    ``name=value``; :class:`BadRequest` for a malformed or over-long one.

    Example:
        >>> parse_query("seed=3&edits=")
        {'seed': ['3'], 'edits': ['']}
    """
    if len(text) > MAX_QUERY:
        raise BadRequest(f"query longer than {MAX_QUERY} characters")
    try:
        return parse_qs(text, keep_blank_values=True, strict_parsing=bool(text),
                        max_num_fields=32)
    except ValueError as err:
        raise BadRequest(f"malformed query: {err}") from None


def handle(lab, method: str, path: str, query: str) -> tuple[int, dict]:
    """(HTTP status, JSON body) of one API request to ``lab``."""
    if path not in ROUTES:
        return 404, {"error": f"no endpoint {path[:80]!r}; endpoints: {', '.join(ROUTES)}"}
    wanted, answer = ROUTES[path]
    if method != wanted:
        return 405, {"error": f"{path} takes {wanted}, not {method}"}
    try:
        return 200, answer(lab, parse_query(query))
    except BadRequest as err:
        return 400, {"error": str(err)}
