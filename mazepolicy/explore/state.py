"""The explorer's view: what the page shows, parsed from a URL query and checked.

A view is a maze (variant, level seed, edits) and a steering setting (vector kind,
layer, coefficient). The page keeps it in its own URL, so a link re-opens it; every
request carries it and :func:`parse_view` checks every field before anything runs.

Edits are ``kind:x,y`` joined by ``;``, applied in order: ``cheese`` moves the cheese,
``mouse`` moves the mouse, ``wall`` toggles a wall. Cells are (x, y), x right, y up,
(0, 0) the bottom-left start cell.

Example:
    >>> view = parse_view({"variant": ["maze-anywhere"], "seed": ["3"],
    ...                    "edits": ["cheese:4,5;wall:2,3"], "coeff": ["-1.5"]})
    >>> view.seed, view.edits, view.coeff
    (3, (('cheese', (4, 5)), ('wall', (2, 3))), -1.5)
    >>> parse_view({"seed": ["-1"]})
    Traceback (most recent call last):
    ...
    mazepolicy.explore.state.BadRequest: seed must be an integer in 0..2147483647, got '-1'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mazepolicy.envs.cells import Cell

DEFAULT_VARIANT = "maze-topright-5"
DEFAULT_LAYER = "embedder.block2.res1.resadd_out"
MAX_SEED = 2**31 - 1
MAX_COEFF = 5.0  # the page's slider range, -5..5
MAX_EDITS = 200
EDIT_KINDS = ("cheese", "mouse", "wall")
VECTORS = ("cheese", "top-right", "composed")  # composed: top-right - cheese
ROLES = ("policy", "control")  # which command-line policy; never a path
_EDIT = re.compile(r"(cheese|mouse|wall):(\d{1,2}),(\d{1,2})")


class BadRequest(ValueError):
    """A request the explorer refuses: answered with HTTP 400 and this message."""


@dataclass(frozen=True)
class View:
    """One view of the explorer (see the module docstring)."""

    variant: str = DEFAULT_VARIANT
    seed: int = 0
    edits: tuple[tuple[str, Cell], ...] = ()
    vector: str = "cheese"
    layer: str = DEFAULT_LAYER
    coeff: float = 0.0
    role: str = "policy"

    @property
    def maze_key(self) -> tuple:
        """What decides the maze: variant, seed and edits."""
        return self.variant, self.seed, self.edits


def one_value(query: dict[str, list[str]], name: str, default: str | None) -> str | None:
    """Parameter ``name``'s one value in a parsed query (``default`` when absent);
    :class:`BadRequest` when it is given more than once."""
    values = query.get(name, [default])
    if len(values) != 1:
        raise BadRequest(f"{name} given {len(values)} times")
    return values[0]


def parse_seed(text: str) -> int:
    """A level seed from its text; :class:`BadRequest` unless an int in 0..2**31 - 1.

    Example:
        >>> parse_seed("42")
        42
    """
    return parse_int(text, "seed", 0, MAX_SEED)


def parse_int(text: str, name: str, low: int, high: int) -> int:
    """Parameter ``name``'s integer from its text; :class:`BadRequest` unless plain
    digits with a value in low..high.

    Example:
        >>> parse_int("7", "max_steps", 1, 500)
        7
        >>> parse_int("0", "max_steps", 1, 500)
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: max_steps must be an integer in 1..500, got '0'
    """
    if not re.fullmatch(r"\d{1,10}", text) or not low <= int(text) <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}, got {text[:40]!r}")
    return int(text)


def parse_coeff(text: str) -> float:
    """A steering coefficient from its text; :class:`BadRequest` unless a finite number
    in -5..5.

    Example:
        >>> parse_coeff("2.5"), parse_coeff("-0")
        (2.5, 0.0)
        >>> parse_coeff("nan")
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: coeff must be a number in -5..5, got 'nan'
    """
    return parse_bounded(text, "coeff", MAX_COEFF)


def parse_bounded(text: str, name: str, bound: float) -> float:
    """Parameter ``name``'s number from its text; :class:`BadRequest` unless finite and
    in -bound..bound. -0 reads as 0.

    Example:
        >>> parse_bounded("-0", "value", 100.0)
        0.0
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        raise BadRequest(f"{name} must be a number in -{bound:g}..{bound:g}, "
                         f"got {text[:40]!r}")
    return value + 0.0  # -0.0 -> 0.0


def parse_edits(text: str) -> tuple[tuple[str, Cell], ...]:
    """Edits ``kind:x,y;...`` as ((kind, (x, y)), ...); :class:`BadRequest` naming the
    first malformed one.

    Example:
        >>> parse_edits("mouse:1,0;wall:3,3")
        (('mouse', (1, 0)), ('wall', (3, 3)))
        >>> parse_edits("cheese:1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: edit 1 'cheese:1' is not kind:x,y with kind ...
    """
    if not text:
        return ()
    parts = text.split(";")
    if len(parts) > MAX_EDITS:
        raise BadRequest(f"at most {MAX_EDITS} edits, got {len(parts)}")
    edits = []
    for i, part in enumerate(parts, 1):
        match = _EDIT.fullmatch(part)
        if match is None:
            raise BadRequest(f"edit {i} {part[:40]!r} is not kind:x,y with kind one of "
                             f"{', '.join(EDIT_KINDS)}")
        edits.append((match[1], (int(match[2]), int(match[3]))))
    return tuple(edits)


def format_edits(edits: tuple[tuple[str, Cell], ...]) -> str:
    """The inverse of :func:`parse_edits`.

    Example:
        >>> format_edits((("cheese", (4, 5)), ("wall", (2, 3))))
        'cheese:4,5;wall:2,3'
    """
    return ";".join(f"{kind}:{x},{y}" for kind, (x, y) in edits)


def parse_view(query: dict[str, list[str]], variants: tuple[str, ...] | None = None,
               layers: tuple[str, ...] | None = None, vectors: tuple[str, ...] = VECTORS
               ) -> View:
    """The :class:`View` of a parsed URL query (``urllib.parse.parse_qs``), every field
    checked: ``variant`` one of ``variants``, ``layer`` one of ``layers`` (either None:
    not checked here), ``vector`` one of ``vectors`` (:data:`VECTORS` and the names of
    the ``--vector`` files), ``role`` one of :data:`ROLES`
    (the policies are the command line's: a path from the browser is refused), ``seed``,
    ``coeff`` and ``edits`` as their parsers say. Unknown parameters are refused too, so
    a misspelt one is not silently ignored.

    Example:
        >>> parse_view({"policy": ["/tmp/x.safetensors"]})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.explore.state.BadRequest: unknown parameter 'policy': the policies are ...
    """
    known = {"variant", "seed", "edits", "vector", "layer", "coeff", "role"}
    for name in query:
        if name not in known:
            hint = (": the policies are the ones given on the command line (role=policy or "
                    "role=control)" if name in ("policy", "path", "checkpoint") else
                    f"; known: {', '.join(sorted(known))}")
            raise BadRequest(f"unknown parameter {name[:40]!r}{hint}")
    variant = one_value(query, "variant", DEFAULT_VARIANT)
    if variants is not None and variant not in variants:
        raise BadRequest(f"unknown variant {variant[:60]!r}; choose from {', '.join(variants)}")
    layer = one_value(query, "layer", DEFAULT_LAYER)
    if layers is not None and layer not in layers:
        raise BadRequest(f"unknown layer {layer[:80]!r}: use one of the policy's hook points "
                         "(GET /api/info lists them)")
    vector = one_value(query, "vector", "cheese")
    if vector not in vectors:
        raise BadRequest(f"unknown vector {vector[:40]!r}; choose from {', '.join(vectors)}")
    role = one_value(query, "role", "policy")
    if role not in ROLES:
        raise BadRequest(f"unknown role {role[:40]!r}; choose from {', '.join(ROLES)}")
    return View(variant=variant, seed=parse_seed(one_value(query, "seed", "0")),
                edits=parse_edits(one_value(query, "edits", "")), vector=vector, layer=layer,
                coeff=parse_coeff(one_value(query, "coeff", "0")), role=role)
