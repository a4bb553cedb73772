"""The explorer's HTTP server: Python's ``http.server.ThreadingHTTPServer`` serving the
page (``static/``, read through ``importlib.resources``, so it works from a wheel) and
the JSON API (:mod:`mazepolicy.explore.api`).

Example:
    >>> import json, threading, urllib.request
    >>> from mazepolicy.explore.lab import Lab
    >>> server = make_server(Lab({"policy": "maze-topright-5-easy_impala-s1"}), port=0)
    >>> thread = threading.Thread(target=server.serve_forever, daemon=True); thread.start()
    >>> with urllib.request.urlopen(server_url(server) + "api/info") as reply:
    ...     "cheese" in json.load(reply)["vectors"]
    True
    >>> server.shutdown(); server.server_close()
"""

from __future__ import annotations

import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from mazepolicy.explore.api import handle

STATIC_TYPES = {"index.html": "text/html; charset=utf-8",
                "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def static_file(name: str) -> bytes:
    """The bytes of page file ``name`` (one of :data:`STATIC_TYPES`), from the installed
    package.

    Example:
        >>> b"<canvas" in static_file("index.html")
        True
    """
    if name not in STATIC_TYPES:
        raise KeyError(name)
    return resources.files("mazepolicy.explore").joinpath("static", name).read_bytes()


class ExploreHandler(BaseHTTPRequestHandler):
    """One request: ``/`` and the static files, or an API call; anything else 404."""

    server_version = "mazepolicy-explore"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._respond("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._respond("POST")

    def _respond(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/api/"):
            try:
                status, body = handle(self.server.lab, method, url.path, url.query)
            except Exception as err:  # a bug: say so, log it, keep serving
                traceback.print_exc(file=sys.stderr)
                status, body = 500, {"error": f"internal error: {type(err).__name__}: {err}"}
            self._send(status, json.dumps(body).encode(), "application/json")
            return
        name = "index.html" if url.path == "/" else url.path.lstrip("/")
        if method != "GET" or name not in STATIC_TYPES:
            self._send(404, json.dumps({"error": f"not found: {url.path[:80]}"}).encode(),
                       "application/json")
            return
        self._send(200, static_file(name), STATIC_TYPES[name])

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's name)
        if self.server.verbose:
            super().log_message(format, *args)


def make_server(lab, host: str = "127.0.0.1", port: int = 0,
                verbose: bool = False) -> ThreadingHTTPServer:
    """A server for ``lab`` bound to ``host``:``port`` (0: a free port), not yet serving
    (call ``serve_forever``); ``verbose`` logs every request on stderr."""
    server = ThreadingHTTPServer((host, port), ExploreHandler)
    server.daemon_threads = True
    server.lab, server.verbose = lab, verbose
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    """The page's URL, e.g. ``http://127.0.0.1:8765/``."""
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"
