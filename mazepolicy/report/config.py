"""The report's settings: one dataclass read by ``mazepolicy report`` and its presets.

``full`` is what ``docs/report.md`` is generated with (hours on two CPU cores); ``quick``
is the demo's size; ``smoke`` checks that every section runs: about 40 s on two CPU
cores with the shipped policy and control (``OMP_NUM_THREADS=1``), for the test suite.

Example:
    >>> config = ReportConfig.preset("smoke", policy="p.safetensors")
    >>> config.misgeneralization_episodes, config.layer
    (6, 'embedder.block2.res1.resadd_out')
    >>> config.replace(seed=3).seed
    3
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

LAYER = "embedder.block2.res1.resadd_out"
EXPERIMENTS = ("misgeneralization", "cheese_vector", "top_right", "channels", "retargeting",
               "vector_fields")  # the report's sections 1-6, in order


@dataclass(frozen=True)
class ReportConfig:
    """What the report measures and on how many mazes (level seeds from ``seed``)."""

    policy: str  # shipped checkpoint name or .safetensors path: the top-right-5 policy
    control: str | None = None  # the same, trained on maze-anywhere; None: no control
    env: str = "maze-anywhere"  # the test distribution
    layer: str = LAYER
    seed: int = 0
    max_steps: int = 500
    num_envs: int = 32
    # 1. misgeneralization, policy vs control
    misgeneralization_episodes: int = 1000
    bins: int = 5
    goal_mazes: int = 200  # goal choices on the cheese-corner path of these mazes
    # 2. cheese vector: per-maze decision-square medians on vector_mazes seeds, rollouts
    vector_mazes: int = 100
    steer_episodes: int = 200
    sweep_layers: tuple[str, ...] | None = None  # None: every residual output
    transfer_mazes: int = 50
    # 3. top-right vector coefficients (0 is always included)
    top_right_coeffs: tuple[float, ...] = (-1.0, 0.5, 1.0, 2.0)
    # 4. cheese channels
    channel_mazes: int = 50
    cells_per_maze: int = 8
    channel_threshold: float = 0.2  # map-cheese correlation that counts as tracking it
    # 5. retargeting
    retarget_mazes: int = 50
    targets_per_maze: int = 4
    retarget_value: float = 5.5
    retarget_max_steps: int = 100
    heatmap_seed: int | None = None  # None: the largest of the first 20 test mazes with a
    # decision square
    # 6. vector fields
    field_seeds: tuple[int, ...] = field(default=(0, 1, 2))

    @classmethod
    def preset(cls, name: str, **overrides) -> ReportConfig:
        """The ``full``, ``quick`` or ``smoke`` settings, with ``overrides``."""
        if name not in PRESETS:
            raise ValueError(f"unknown report size {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes) -> ReportConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict] = {
    "full": {},
    "quick": dict(misgeneralization_episodes=200, goal_mazes=50, vector_mazes=40, steer_episodes=64,
                  sweep_layers=(LAYER,), transfer_mazes=16, top_right_coeffs=(1.0,),
                  channel_mazes=12, retarget_mazes=8, targets_per_maze=2, field_seeds=(0,)),
    "smoke": dict(misgeneralization_episodes=6, bins=2, goal_mazes=3, vector_mazes=6,
                  steer_episodes=4,
                  sweep_layers=(LAYER, "embedder.block3.res2.resadd_out"), transfer_mazes=4,
                  top_right_coeffs=(1.0,), channel_mazes=2, cells_per_maze=2,
                  retarget_mazes=2, targets_per_maze=1, retarget_max_steps=10,
                  max_steps=40, num_envs=4, field_seeds=(0,)),
}
