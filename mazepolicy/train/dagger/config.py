"""``DaggerConfig``: the one source of truth for an imitation run (recipes in ``agents/``
with ``algorithm = "dagger"``).

Example:
    >>> config = DaggerConfig(frames_per_round=1024, updates_per_round=16, batch_size=64)
    >>> config.reuse  # how many times each collected frame is trained on, on average
    1.0
    >>> config.capacity_bytes // 2**20  # MiB of frames kept, uint8 64 x 64 x 3
    96
"""

from __future__ import annotations

from dataclasses import dataclass

from mazepolicy.train.common.config import RecipeConfig

FRAME_BYTES = 64 * 64 * 3
EXPERTS = ("cheese-walker", "top-right-walker")
LR_SCHEDULES = ("constant", "linear", "cosine")

# Fields that may change when a run is resumed: they leave the training math alone.
RESUMABLE_CHANGES = frozenset(
    {"total_frames", "checkpoint_every", "eval_every", "eval_episodes", "eval_env",
     "eval_max_steps", "env_threads", "torch_threads", "init"}
)

# Fields newer than some committed checkpoints, with the value those runs trained with:
# a saved config without one is read as having it, so those runs stay resumable.
LATER_FIELDS = {"label_prob": 1.0, "greedy_prob": 0.0, "label_smoothing": 0.0}


@dataclass(frozen=True)
class DaggerConfig(RecipeConfig):
    """DAgger settings. Each round rolls out ``num_envs`` mazes, every episode driven
    by the expert with probability beta (decaying from ``beta_start`` to ``beta_end``
    over ``beta_rounds`` rounds) and by the learner otherwise, labels every visited frame
    with the expert's move and value, keeps the newest ``capacity`` labelled frames, and
    takes ``updates_per_round`` Adam steps on minibatches drawn from them.

    Maze diversity per frame is what generalises, so learner episodes are cut after
    ``episode_cap`` times the expert's path length (+10 steps), every episode ends after
    ``maze_frames`` labelled frames (0: no limit), and with probability
    ``teleport_prob`` per step the mouse jumps to a random free cell of its maze. With
    ``label_prob`` < 1 only that share of the visited frames is labelled, so a maze's
    labelled frames spread along its episode instead of crowding its first steps.

    With ``greedy_prob`` > 0 that share of the learner's episodes takes its most likely
    action (argmax) instead of a sampled one, so the states greedy play reaches (the
    loops it falls into) are visited and labelled. ``label_smoothing`` spreads that
    share of each frame's target uniformly over the 15 actions.
    """

    algorithm = "dagger"

    # what to train on
    env: str = "maze-topright-5"  # training variant (envs/<name>.toml)
    eval_env: str = "maze-anywhere"  # second evaluation variant (the test distribution)
    scale: int = 1  # IMPALA width multiplier
    expert: str = "cheese-walker"  # scripted walker whose moves are the labels
    init: str = ""  # weights to start from (a .safetensors checkpoint); "" = research init
    total_frames: int = 10_000_000  # labelled frames collected over the run
    # collection
    num_envs: int = 64
    frames_per_round: int = 8192
    beta_start: float = 1.0  # P(an episode is driven by the expert), first round
    beta_end: float = 0.0
    beta_rounds: int = 4  # rounds of linear decay from beta_start to beta_end
    episode_cap: float = 3.0  # learner episodes end after cap * expert path + 10 steps
    teleport_prob: float = 0.02  # per env and step: the mouse jumps to a random free cell
    maze_frames: int = 0  # labelled frames per maze before its episode is ended; 0 = any
    label_prob: float = 1.0  # P(a visited frame is labelled): spreads labels along episodes
    greedy_prob: float = 0.0  # P(a learner episode takes the argmax action, not a sample)
    # learning
    capacity: int = 8192  # labelled frames kept (the newest), 12 KiB each
    updates_per_round: int = 128
    batch_size: int = 128
    lr: float = 5e-4
    lr_schedule: str = "constant"  # constant, linear or cosine (to lr_final at the end)
    lr_final: float = 0.0
    adam_eps: float = 1e-5
    max_grad_norm: float = 1.0
    label_smoothing: float = 0.0  # share of the target spread over all 15 actions
    vf_coef: float = 0.5  # weight of the value loss (targets 10 * gamma^(d-1))
    gamma: float = 0.999
    # execution
    seed: int = 0
    device: str = "auto"
    env_threads: int = 0  # engine threads; 0 = the machine's cores
    torch_threads: int = 0  # CPU torch threads; 0 = the machine's cores
    # checkpoints and evaluation
    checkpoint_every: int = 4  # rounds between checkpoints (and at the end)
    eval_every: int = 25  # rounds between evaluations; 0 = only at the end
    eval_episodes: int = 200  # held-out mazes per evaluation variant; 0 = none
    eval_seed: int = 1_000_000  # first level seed of the evaluation mazes
    eval_max_steps: int = 500

    def validate(self) -> None:
        self.require(1, "scale", "total_frames", "num_envs", "frames_per_round",
                     "beta_rounds", "capacity", "updates_per_round", "batch_size",
                     "checkpoint_every", "eval_max_steps")
        self.require(0, "env_threads", "torch_threads", "eval_every", "eval_episodes",
                     "eval_seed", "seed", "vf_coef", "lr_final", "teleport_prob",
                     "maze_frames")
        if self.expert not in EXPERTS:
            raise ValueError(f"expert must be one of {list(EXPERTS)} (a walker: its "
                             f"path gives the value targets), got {self.expert!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got "
                             f"{self.lr_schedule!r}")
        for name in ("beta_start", "beta_end", "teleport_prob", "greedy_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 < self.label_prob <= 1:
            raise ValueError(f"label_prob must be in (0, 1], got {self.label_prob}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not self.lr > 0 or self.episode_cap <= 0 or self.max_grad_norm <= 0:
            raise ValueError("lr, episode_cap and max_grad_norm must be > 0")
        if self.capacity < self.frames_per_round:
            raise ValueError(f"capacity ({self.capacity}) must hold a round's "
                             f"{self.frames_per_round} frames")
        if self.init and not self.init.endswith(".safetensors"):
            raise ValueError(f"init must be a .safetensors checkpoint, got {self.init!r}")

    @property
    def rounds(self) -> int:
        """Rounds needed to collect ``total_frames`` (rounded up)."""
        return -(-self.total_frames // self.frames_per_round)

    @property
    def reuse(self) -> float:
        """Average number of minibatch passes per collected frame."""
        return self.updates_per_round * self.batch_size / self.frames_per_round

    @property
    def capacity_bytes(self) -> int:
        return self.capacity * FRAME_BYTES

    def beta(self, round_index: int) -> float:
        """P(expert drives an episode) in round ``round_index`` (0-based).

        Example:
            >>> [DaggerConfig(beta_rounds=2).beta(r) for r in range(3)]
            [1.0, 0.5, 0.0]
        """
        t = min(round_index / self.beta_rounds, 1.0)
        return self.beta_start + t * (self.beta_end - self.beta_start)
