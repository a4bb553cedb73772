"""The explorer's JSON API: one function from a request (method, path, query string)
to an HTTP status and a JSON-ready body. A bad request gets 400 (404 for an unknown
path, 405 for a wrong method) with ``{"error": message}``; the server keeps serving.

Endpoints (the view's query parameters are :func:`~mazepolicy.explore.state.parse_view`'s):

- ``GET /api/info``: policies, variants, layers, vectors, coefficient range;
- ``GET /api/maze?variant=&seed=&edits=``: the edited maze and the agent's view;
- ``GET /api/field?...&vector=&layer=&coeff=&role=``: the move fields and probabilities;
- ``GET /api/goals?...`` (the same parameters): the goal choices on the cheese-corner path;
- ``POST /api/save-state?...``: the edited maze's state into ``--out``;
- ``GET /api/channels?...&layer=``: a conv layer's shape and channels, cheese-tracking
  first (ranked once per layer and variant on seeded mazes; the answer says how);
- ``GET /api/features?...&layer=`` (with ``--sae``): the SAE's features, ranked alike;
- ``GET /api/channel-map?...&layer=&channel=`` (or ``&feature=``): that unit's
  activation map on the view's maze, and where its pixels lie on the maze;
- ``GET /api/clamp?...&layer=&channel=&target=x,y&value=`` (or ``&feature=``): the move
  field with the unit clamped to ``value`` at ``target`` beside the field without it;
- ``GET /api/rollout?...&rollout_seed=&max_steps=``: one sampled episode on the view's
  maze under its steering (mouse cells, actions, the agent's frames as PNG data URLs,
  the evaluator's outcome); the same request gives the same episode;
- ``POST /api/rollout-gif?...`` (the same parameters): that episode as a GIF in ``--out``;
- ``GET /api/side-field?...`` (with ``--control``): the other policy's fields on the same
  maze, steered alike where its layers allow (``note`` says when they do not).

The rollout parameters are :func:`~mazepolicy.explore.rollout.split_rollout_query`'s;
``vector`` may name a ``--vector`` file as ``file:<stem>`` (``layer`` then its layer).

The Inside parameters (``channel``, ``feature``, ``target``, ``value``) are
:func:`~mazepolicy.explore.inside.parse_inside`'s.

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
    "/api/channels": ("GET", lambda lab, query: lab.channels_response(query)),
    "/api/features": ("GET", lambda lab, query: lab.features_response(query)),
    "/api/channel-map": ("GET", lambda lab, query: lab.channel_map_response(query)),
    "/api/clamp": ("GET", lambda lab, query: lab.clamp_response(query)),
    "/api/rollout": ("GET", lambda lab, query: lab.rollout_response(*lab.rollout_view(query))),
    "/api/rollout-gif": ("POST", lambda lab, query: lab.rollout_gif(*lab.rollout_view(query))),
    "/api/side-field": ("GET", lambda lab, query: lab.side_field_response(lab.view(query))),
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
