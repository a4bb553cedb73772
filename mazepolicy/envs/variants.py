"""Named environment variants, declared as TOML files in the repository's ``envs/``.

One dataclass, :class:`EnvVariant`, is the single source of truth: each TOML file
holds its fields, the CLI, the gymnasium ids and checkpoints refer to variants by name,
and ``variant.make_vec(...)`` builds the :class:`~mazepolicy.envs.MazeVecEnv`.

A variant file (``envs/<name>.toml``; the name is the file's stem) may set
``description``, ``distribution_mode``, ``cheese``, ``num_levels``, ``start_level``
and ``region``; any other key is an error. Cheese cells in specs are (x, y) in
inner-maze coordinates: x right, y up, (0, 0) the mouse's start (bottom-left).

Example:
    >>> variant = load_variant("maze-topright-5")
    >>> variant.distribution_mode, variant.cheese
    ('hard', 'top-right-5')
    >>> env = variant.make_vec(num_envs=2, seed=0)
    >>> env.num_envs
    2
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from mazepolicy.envs.cheese import CheesePlacement, placement_from_spec
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.resources import variant_files


@dataclass(frozen=True)
class EnvVariant:
    """A maze environment variant.

    Attributes:
        name: the variant's name (its TOML file's stem).
        description: one line for listings.
        distribution_mode: "easy" (world 15) or "hard" (world 25).
        cheese: placement spec for :func:`~mazepolicy.envs.cheese.placement_from_spec`:
            "top-right-N", "anywhere", "none", "engine", {"top_right": N} or
            {"fixed": [x, y]} with (x, y) in inner-maze coordinates, (0, 0) bottom-left.
        num_levels, start_level: the engine's level set (0 levels = unlimited).
        region: top-right region size used to call a test maze eligible for measuring
            goal misgeneralization (5, the training region of the paper).

    Example:
        >>> EnvVariant("corner", cheese={"fixed": [0, 2]}).placement()
        FixedCell(x=0, y=2)
        >>> EnvVariant("bad", distribution_mode="medium")
        Traceback (most recent call last):
        ...
        ValueError: variant 'bad': distribution_mode must be 'easy' or 'hard', got 'medium'
    """

    name: str
    description: str = ""
    distribution_mode: str = "hard"
    cheese: str | dict = "anywhere"
    num_levels: int = 0
    start_level: int = 0
    region: int = 5

    def __post_init__(self):
        where = f"variant {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"variant name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.description, str):
            raise ValueError(f"{where}: description must be a string, got {self.description!r}")
        if self.distribution_mode not in ("easy", "hard"):
            raise ValueError(
                f"{where}: distribution_mode must be 'easy' or 'hard', "
                f"got {self.distribution_mode!r}"
            )
        for key in ("num_levels", "start_level", "region"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{where}: {key} must be an int >= 0, got {value!r}")
        try:
            placement = self.placement()
            check_mode = getattr(placement, "check_mode", None)
            if check_mode is not None:  # e.g. a fixed cell no maze of the mode holds
                check_mode(self.distribution_mode)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    def placement(self) -> CheesePlacement | None:
        """The cheese placement callable of this variant (None: the engine's own cheese).

        Example:
            >>> load_variant("maze-anywhere").placement()
            Anywhere()
        """
        return placement_from_spec(self.cheese)

    def env_kwargs(self, **overrides) -> dict:
        """:class:`MazeVecEnv` keyword arguments of this variant, updated by ``overrides``.

        A ``cheese`` override may be a placement callable or a spec ("anywhere", ...).

        Example:
            >>> kwargs = load_variant("maze-topright-5").env_kwargs(cheese="anywhere")
            >>> kwargs["cheese"], kwargs["distribution_mode"]
            (Anywhere(), 'hard')
        """
        kwargs = dict(
            cheese=self.placement(),
            distribution_mode=self.distribution_mode,
            num_levels=self.num_levels,
            start_level=self.start_level,
        )
        kwargs.update(overrides)
        if isinstance(kwargs["cheese"], str | dict):
            kwargs["cheese"] = placement_from_spec(kwargs["cheese"])
        return kwargs

    def make_vec(self, num_envs: int, seed: int | None = None, **overrides) -> MazeVecEnv:
        """A :class:`MazeVecEnv` of this variant; ``overrides`` go to its constructor.

        Example:
            >>> env = load_variant("maze-anywhere-easy").make_vec(2, seed=0, num_threads=1)
            >>> _, info = env.reset()
            >>> bool((info["maze_dim"] <= 15).all())
            True
        """
        return MazeVecEnv(num_envs=num_envs, seed=seed, **self.env_kwargs(**overrides))


def _variant_files(directory: str | Path | None) -> dict:
    """name -> file of the variants in ``directory`` (default: the shipped ones)."""
    if directory is None:
        return variant_files()
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"variant directory {directory} does not exist")
    return {p.stem: p for p in sorted(directory.glob("*.toml"))}


def list_variants(directory: str | Path | None = None) -> list[str]:
    """Sorted names of the variants in ``directory`` (default: the shipped ones, the
    repository's ``envs/``).

    Example:
        >>> {"maze-topright-5", "maze-anywhere"} <= set(list_variants())
        True
    """
    return sorted(_variant_files(directory))


def load_variant(name_or_path: str | Path, directory: str | Path | None = None) -> EnvVariant:
    """The variant called ``name_or_path`` in ``directory`` (default: the shipped ones),
    or the TOML file at that path. A value ending in ``.toml`` is a path; anything else is
    a variant name.

    Example:
        >>> load_variant("maze-nocheese").cheese
        'none'
        >>> load_variant("maze-nowhere")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown env variant 'maze-nowhere'; available: [...]
    """
    if isinstance(name_or_path, EnvVariant):
        return name_or_path
    if str(name_or_path).endswith(".toml"):
        path = Path(name_or_path)
    else:
        files = _variant_files(directory)
        if name_or_path not in files:
            raise ValueError(
                f"unknown env variant {str(name_or_path)!r}; available: {sorted(files)}"
            )
        path = files[name_or_path]
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"variant file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"variant file {path} is not valid TOML: {err}") from None
    known = {f.name for f in dataclasses.fields(EnvVariant)} - {"name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"variant file {path}: unknown keys {unknown}; known: {sorted(known)}")
    return EnvVariant(name=path.name.removesuffix(".toml"), **data)
