"""Saved steering vectors given to ``mazepolicy explore --vector FILE``: loaded once at
start-up with :meth:`~mazepolicy.interp.vectors.SteeringVector.load`, checked against
the policy (the vector's layer must be one of its hook points and the tensor that
layer's activation shape), and offered to the page as ``file:<stem>``. The browser only
ever names a vector; it never sends a path.

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from mazepolicy.interp.vectors import SteeringVector
    >>> path = Path(tempfile.mkdtemp()) / "mine.safetensors"
    >>> SteeringVector("L", torch.zeros(2, 3, 3)).save(path)
    >>> files = load_vector_files([path], {"L": (2, 3, 3)})
    >>> list(files), files["file:mine"].vector.layer
    (['file:mine'], 'L')
    >>> load_vector_files([path], {"L": (4, 3, 3)})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --vector .../mine.safetensors: its shape (2, 3, 3) is not layer L's ... (4, 3, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mazepolicy.explore.state import BadRequest

PREFIX = "file:"


@dataclass(frozen=True)
class VectorFile:
    """A loaded ``--vector`` file: its resolved ``path`` and the SteeringVector."""

    path: Path
    vector: object  # a SteeringVector; its tensor is one sample's shape, e.g. (C, H, W)


def fit_error(vector, shapes: Mapping[str, Sequence[int]]) -> str | None:
    """Why ``vector`` cannot steer a policy whose hook points have activation
    ``shapes`` (``policy.hook_names()``), or None when it can.

    Example:
        >>> import torch
        >>> from mazepolicy.interp.vectors import SteeringVector
        >>> fit_error(SteeringVector("M", torch.zeros(1)), {"L": (1,)})
        'its layer M is not a hook point of the policy'
    """
    import torch

    if vector.layer not in shapes:
        return f"its layer {vector.layer} is not a hook point of the policy"
    want, got = tuple(shapes[vector.layer]), tuple(vector.tensor.shape)
    if got != want:
        return f"its shape {got} is not layer {vector.layer}'s activation shape {want}"
    if not vector.tensor.is_floating_point() or not bool(torch.isfinite(vector.tensor).all()):
        return "it holds non-finite or non-float values"
    return None


def load_vector_files(paths: Sequence[str | Path],
                      shapes: Mapping[str, Sequence[int]]) -> dict[str, VectorFile]:
    """``file:<stem>`` -> :class:`VectorFile` of each path, in order; ``ValueError``
    naming the file for one that does not load, does not fit ``shapes`` (see
    :func:`fit_error`) or shares its stem with another."""
    from mazepolicy.interp.vectors import SteeringVector

    out: dict[str, VectorFile] = {}
    for path in paths:
        path = Path(path).expanduser().resolve()
        vector = SteeringVector.load(path)  # ValueError naming the file
        reason = fit_error(vector, shapes)
        if reason is not None:
            raise ValueError(f"--vector {path}: {reason}")
        name = PREFIX + path.stem
        if name in out:
            raise ValueError(f"--vector {path}: another file is named {path.stem} too "
                             f"({out[name].path}); the page names vectors by file stem")
        out[name] = VectorFile(path, vector)
    return out


def file_vector(files: Mapping[str, VectorFile], name: str, layer: str,
                shapes: Mapping[str, Sequence[int]], role: str):
    """The SteeringVector of ``--vector`` file ``name`` for a view at ``layer`` of
    ``role``'s policy (hook point ``shapes``); :class:`BadRequest` when the view's layer
    is not the vector's or the vector does not fit that policy."""
    vector = files[name].vector
    if layer != vector.layer:
        raise BadRequest(f"vector {name} was made at layer {vector.layer}: use layer="
                         f"{vector.layer} (a saved vector keeps its layer), not {layer[:80]}")
    reason = fit_error(vector, shapes)
    if reason is not None:
        raise BadRequest(f"vector {name} cannot steer the {role}: {reason}")
    return vector
