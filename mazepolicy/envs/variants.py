"""Named environment variants, declared as TOML files in the repository's ``envs/``.

One dataclass, :class:`EnvVariant`, is the single source of truth: each TOML file
holds its fields, the CLI and checkpoints refer to variants by name, and
``variant.make_vec(...)`` builds the :class:`~mazepolicy.envs.MazeVecEnv`.

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

import mazepolicy
from mazepolicy.envs.cheese import CheesePlacement, placement_from_spec
from mazepolicy.envs.vec_env import MazeVecEnv

VARIANTS_DIR = Path(mazepolicy.__file__).resolve().parents[1] / "envs"


@dataclass(frozen=True)
class EnvVariant:
    """A maze environment variant.

    Attributes:
        name: the variant's name (its TOML file's stem).
        description: one line for listings.
        distribution_mode: "easy" or "hard".
        cheese: placement spec for :func:`~mazepolicy.envs.cheese.placement_from_spec`:
            "top-right-N", "anywhere", "none", "engine", {"fixed": [x, y]}.
        num_levels, start_level: the engine's level set (0 levels = unlimited).
        region: top-right region size used to call a test maze eligible for measuring
            goal misgeneralization (5, the training region of the paper).
    """

    name: str
    description: str = ""
    distribution_mode: str = "hard"
    cheese: str | dict = "anywhere"
    num_levels: int = 0
    start_level: int = 0
    region: int = 5

    def __post_init__(self):
        if self.distribution_mode not in ("easy", "hard"):
            raise ValueError(
                f"variant {self.name}: bad distribution_mode {self.distribution_mode!r}"
            )
        self.placement()  # validates the cheese spec

    def placement(self) -> CheesePlacement | None:
        """The cheese placement callable of this variant."""
        return placement_from_spec(self.cheese)

    def make_vec(self, num_envs: int, seed: int | None = None, **overrides) -> MazeVecEnv:
        """A :class:`MazeVecEnv` of this variant; ``overrides`` go to its constructor."""
        kwargs = dict(
            cheese=self.placement(),
            distribution_mode=self.distribution_mode,
            num_levels=self.num_levels,
            start_level=self.start_level,
        )
        kwargs.update(overrides)
        return MazeVecEnv(num_envs=num_envs, seed=seed, **kwargs)


def list_variants(directory: Path = VARIANTS_DIR) -> list[str]:
    """Names of the variants in ``directory`` (default: the repository's ``envs/``)."""
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_variant(name_or_path: str | Path, directory: Path = VARIANTS_DIR) -> EnvVariant:
    """The variant called ``name_or_path`` in ``envs/``, or the TOML file at that path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = directory / f"{name_or_path}.toml"
        if not path.exists():
            raise ValueError(
                f"unknown env variant {str(name_or_path)!r}; available: {list_variants(directory)}"
            )
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
    return EnvVariant(name=path.stem, **data)
