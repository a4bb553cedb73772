"""``PPOConfig``: the one source of truth for a training run.

Recipes in the repository's ``agents/`` are TOML files of its fields; the CLI's flags
and ``--set key=value`` override them; checkpoints record the full config.

Example:
    >>> config = load_recipe("ppo-tiny")
    >>> config.num_envs * config.num_steps == config.batch_size
    True
    >>> config.replace(lr=1e-4).lr
    0.0001
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import mazepolicy

RECIPES_DIR = Path(mazepolicy.__file__).resolve().parents[1] / "agents"


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters and run settings. Defaults: the paper's recipe (Langosco et
    al. 2022, after Cobbe et al.'s Procgen PPO)."""

    env: str = "maze-topright-5"  # training variant (envs/<name>.toml)
    eval_env: str = "maze-anywhere"  # second evaluation variant (test distribution)
    scale: int = 1  # IMPALA width multiplier
    total_steps: int = 80_000_000
    num_envs: int = 256
    num_steps: int = 256  # rollout length per env
    epochs: int = 3
    minibatches: int = 8
    gamma: float = 0.999
    gae_lambda: float = 0.95
    lr: float = 5e-4
    adam_eps: float = 1e-5
    clip_coef: float = 0.2
    clip_value_loss: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    normalize_reward: bool = True
    normalize_advantages: bool = True
    anneal_lr: bool = False
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    bf16: bool = False  # bf16 autocast for forward/backward (GPU)
    compile: bool = False  # torch.compile the policy (GPU)
    env_threads: int = 0  # engine threads; 0 = automatic
    torch_threads: int = 0  # CPU torch threads; 0 = automatic
    checkpoint_every: int = 10  # iterations between checkpoints
    eval_every: int = 0  # iterations between evaluations; 0 = only at the end
    eval_episodes: int = 100  # mazes per evaluation variant; 0 = no evaluation
    eval_seed: int = 1_000_000  # first level seed of evaluation mazes

    def __post_init__(self):
        positive = ("total_steps", "num_envs", "num_steps", "epochs", "minibatches", "scale")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size % self.minibatches:
            raise ValueError(
                f"num_envs * num_steps ({self.batch_size}) must divide into "
                f"{self.minibatches} minibatches"
            )
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("gamma must be in (0, 1] and gae_lambda in [0, 1]")

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.minibatches

    @property
    def iterations(self) -> int:
        """PPO iterations needed to reach ``total_steps`` (rounded up)."""
        return -(-self.total_steps // self.batch_size)

    def replace(self, **changes) -> PPOConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> PPOConfig:
        """Build from a dict; unknown keys raise a ValueError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown PPO config keys {unknown}")
        return cls(**data)

    def with_overrides(self, assignments: list[str]) -> PPOConfig:
        """Apply ``key=value`` strings (values parsed as TOML, else taken as strings)."""
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
        return PPOConfig.from_dict({**self.to_dict(), **changes}, "overrides")


def list_recipes(directory: Path = RECIPES_DIR) -> list[str]:
    """Names of the recipes in ``agents/``."""
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_recipe(name_or_path: str | Path, directory: Path = RECIPES_DIR) -> PPOConfig:
    """The recipe called ``name_or_path`` in ``agents/``, or the TOML file at that path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = directory / f"{name_or_path}.toml"
        if not path.exists():
            raise ValueError(f"unknown recipe {str(name_or_path)!r}; available: {list_recipes()}")
    try:
        data = tomllib.loads(path.read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"cannot read recipe {path}: {err}") from None
    return PPOConfig.from_dict(data, str(path))
