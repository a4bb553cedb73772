"""The "copy as Python" box: the library calls that compute a view's numbers.

Example:
    >>> from mazepolicy.explore.state import View
    >>> code = python_snippet("maze-topright-5_impala-s1", View(seed=3, coeff=-1.0),
    ...                       ["state.set_cheese((4, 5))"])
    >>> "level_states([3], variant.placement(), variant.distribution_mode)" in code
    True
    >>> compile(code, "<snippet>", "exec") is not None
    True
    >>> code = python_snippet("maze-topright-5_impala-s1", View(vector="file:mine"), [],
    ...                       "/tmp/mine.safetensors")
    >>> "vector = SteeringVector.load('/tmp/mine.safetensors')" in code
    True
"""

from __future__ import annotations

from mazepolicy.explore.state import View

_HEADER = """\
from mazepolicy.agents.policy import load_network
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.interp.probes import action_probabilities, move_field
{steer_line}from mazepolicy.interp.vectors import {vector_import}

policy = load_network({spec!r})
variant = load_variant({variant!r})
(state,) = level_states([{seed}], variant.placement(), variant.distribution_mode)
"""

_VECTOR = {
    "cheese": ("steering_vector", "steering",
               "vector = steering_vector(policy, 'cheese', [state], {layer!r})"),
    "top-right": ("steering_vector", "steering",
                  "vector = steering_vector(policy, 'top-right', [state], {layer!r})"),
    "composed": ("composed_vectors", "SteeringVector, steering",
                 "tensor = composed_vectors(policy, [('cheese', -1.0), ('top-right', 1.0)], "
                 "{layer!r})(state)\nvector = SteeringVector({layer!r}, tensor)"),
}


_FILE = (None, "SteeringVector, steering", "vector = SteeringVector.load({path!r})")


def python_snippet(spec: str, view: View, steps: list[str], vector_file: str | None = None
                   ) -> str:
    """Python that loads policy ``spec`` and the view's maze, applies ``steps`` (the
    edits as :func:`~mazepolicy.explore.mazes.apply_edits` writes them) and computes
    ``unsteered`` and ``steered`` (move fields: cell -> P(right, up, left, down)) and
    ``probs_unsteered`` / ``probs_steered`` (the 15 action probabilities at the mouse),
    the same numbers the explorer shows for ``view``; ``vector_file``: the path of the
    view's saved vector (a ``--vector`` file), loaded with ``SteeringVector.load``."""
    if vector_file is None and view.vector not in _VECTOR:  # a file vector, path not given
        vector_file = view.vector.removeprefix("file:") + ".safetensors"
    steer_import, vector_import, vector_line = (_FILE if vector_file is not None
                                                else _VECTOR[view.vector])
    steer_line = ("" if steer_import is None else
                  f"from mazepolicy.interp.steer import {steer_import}\n")
    lines = [_HEADER.format(steer_line=steer_line, vector_import=vector_import,
                            spec=spec, variant=view.variant, seed=view.seed).rstrip("\n")]
    lines += steps
    lines += [vector_line.format(layer=view.layer, path=vector_file),
              "unsteered = move_field(policy, state)",
              "probs_unsteered = action_probabilities(policy, [state])[0]",
              f"with steering(policy, [(vector, {view.coeff!r})]):",
              "    steered = move_field(policy, state)",
              "    probs_steered = action_probabilities(policy, [state])[0]"]
    return "\n".join(lines) + "\n"
