"""``mazepolicy explore``: the maze lab in the browser.

A local web server (Python's standard library) over the library's own functions: pick a
maze, edit it, and watch the policy's vector field and action probabilities change
under a steering vector. :mod:`~mazepolicy.explore.state` checks the view a request
carries, :mod:`~mazepolicy.explore.mazes` applies its edits,
:mod:`~mazepolicy.explore.lab` computes, :mod:`~mazepolicy.explore.api` answers
requests and :mod:`~mazepolicy.explore.server` serves them and the page in ``static/``.
"""

from mazepolicy.extras import require

require("torch", "mazepolicy.explore")
