"""The base of every trainer's config: a frozen dataclass of typed fields, read from a
TOML recipe, overridden by ``key=value`` strings, recorded in every checkpoint card.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Toy(RecipeConfig):
    ...     algorithm = "toy"
    ...     lr: float = 1e-3
    ...     steps: int = 10
    >>> Toy().with_overrides(["lr=3e-4"]).lr
    0.0003
    >>> Toy(steps="ten")
    Traceback (most recent call last):
    ...
    TypeError: steps must be int, got 'ten'
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import asdict, dataclass
from typing import ClassVar

_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class RecipeConfig:
    """Typed, validated run settings. Subclasses add fields (annotated ``int``,
    ``float``, ``bool`` or ``str``), set ``algorithm`` (the recipe's ``algorithm`` key)
    and check their values in :meth:`validate`."""

    algorithm: ClassVar[str] = ""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, kind = getattr(self, field.name), _TYPES[field.type]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise TypeError(f"{field.name} must be {field.type}, got {value!r}")
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field (subclasses extend it)."""

    def require(self, minimum: float, *names: str) -> None:
        """``ValueError`` unless every field in ``names`` is >= ``minimum``."""
        for name in names:
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {getattr(self, name)}")

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields and the algorithm's name: what a recipe file or card holds."""
        return {"algorithm": self.algorithm, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict, source: str = "config"):
        """Build from a dict (an ``algorithm`` key must match); unknown keys raise a
        ValueError naming them."""
        data = dict(data)
        algorithm = data.pop("algorithm", cls.algorithm)
        if algorithm != cls.algorithm:
            raise ValueError(f"{source}: algorithm {algorithm!r} is not {cls.algorithm!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown {cls.algorithm} config keys {unknown}")
        return cls(**data)

    def with_overrides(self, assignments: list[str]):
        """Apply ``key=value`` strings; values are read as TOML (``3e-4``, ``true``,
        ``"x"``), anything else as a bare string (``env=maze-anywhere``)."""
        changes = {}
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ValueError(f"override {item!r} is not key=value")
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
            changes[key.strip()] = value
        return type(self).from_dict({**self.to_dict(), **changes}, "overrides")

    def changed_fields(self, saved: dict) -> list[str]:
        """Fields whose value differs from a saved ``to_dict()`` (for resume checks)."""
        current = self.to_dict()
        return sorted(k for k in current if saved.get(k) != current[k])
