"""``PPOConfig``: the one source of truth for a PPO run.

Recipes in the repository's ``agents/`` are TOML files of its fields (an unknown key is
an error naming it); the CLI's flags and ``--set key=value`` override them; every
checkpoint card and ``summary.json`` records the full config.

Example:
    >>> from mazepolicy.train.recipes import load_recipe
    >>> config = load_recipe("ppo-tiny")
    >>> config.num_envs * config.num_steps == config.batch_size
    True
    >>> config.with_overrides(["lr=1e-4", "bf16=true"]).lr
    0.0001
"""

from __future__ import annotations

from dataclasses import dataclass

from mazepolicy.train.common.config import RecipeConfig

# Fields that may change when a run is resumed: they leave the training math alone.
RESUMABLE_CHANGES = frozenset(
    {"total_steps", "checkpoint_every", "eval_every", "eval_episodes", "eval_env",
     "eval_max_steps", "env_threads", "torch_threads", "init"}
)


@dataclass(frozen=True)
class PPOConfig(RecipeConfig):
    """PPO hyperparameters and run settings. The defaults are the paper's recipe
    (Langosco et al. 2022, after Cobbe et al.'s Procgen PPO); ``agents/ppo-impala.toml``
    spells them out.

    Example:
        >>> PPOConfig().minibatch_size
        8192
        >>> PPOConfig(num_envs=3, num_steps=3, minibatches=2)
        Traceback (most recent call last):
        ...
        ValueError: num_envs * num_steps (9) must divide into 2 minibatches
    """

    algorithm = "ppo"

    # what to train on
    env: str = "maze-topright-5"  # training variant (envs/<name>.toml)
    eval_env: str = "maze-anywhere"  # second evaluation variant (the test distribution)
    scale: int = 1  # IMPALA width multiplier (16/32/32 channels times scale)
    init: str = ""  # weights to start from (a .safetensors checkpoint); "" = research init
    total_steps: int = 80_000_000  # env steps over all ranks
    # the PPO recipe
    num_envs: int = 256  # envs per rank
    num_steps: int = 256  # rollout length per env
    epochs: int = 3
    minibatches: int = 8
    gamma: float = 0.999
    gae_lambda: float = 0.95
    lr: float = 5e-4
    adam_eps: float = 1e-5
    anneal_lr: bool = False  # linear decay of lr to 0 over the run
    clip_coef: float = 0.2
    clip_value_loss: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True  # per minibatch
    normalize_reward: bool = True  # divide by the running std of discounted returns
    reward_clip: float = 10.0  # clip normalised rewards to +-reward_clip
    # execution
    seed: int = 0
    device: str = "auto"  # "auto" (this rank's GPU, else CPU), "cpu", "cuda", "cuda:1"
    bf16: bool = False  # bf16 autocast for forward and backward (pays on GPUs, works on CPU)
    compile: bool = False  # torch.compile the policy (pays on GPUs, works on CPU)
    env_groups: int = 1  # >1: groups of envs step in threads while the policy acts on others
    env_threads: int = 0  # engine threads per env group; 0 = this rank's share of the cores
    torch_threads: int = 0  # CPU torch threads; 0 = this rank's share of the cores
    # checkpoints and evaluation
    checkpoint_every: int = 25  # iterations between checkpoints (and at the end)
    eval_every: int = 100  # iterations between evaluations; 0 = only at the end
    eval_episodes: int = 200  # mazes per evaluation variant; 0 = no evaluation
    eval_seed: int = 1_000_000  # first level seed of the evaluation mazes
    eval_max_steps: int = 500  # episode cap during evaluation (the engine's own is 500)

    def validate(self) -> None:
        self.require(1, "scale", "total_steps", "num_envs", "num_steps", "epochs",
                     "minibatches", "env_groups", "checkpoint_every", "eval_max_steps")
        self.require(0, "env_threads", "torch_threads", "eval_every", "eval_episodes")
        if self.batch_size % self.minibatches:
            raise ValueError(
                f"num_envs * num_steps ({self.batch_size}) must divide into "
                f"{self.minibatches} minibatches"
            )
        if self.num_envs % self.env_groups:
            raise ValueError(f"num_envs ({self.num_envs}) must divide into "
                             f"{self.env_groups} env_groups")
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.init and not self.init.endswith(".safetensors"):
            raise ValueError(f"init must be a .safetensors checkpoint, got {self.init!r}")

    @property
    def batch_size(self) -> int:
        """Samples per rank per iteration: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.minibatches

    def iterations(self, world_size: int = 1) -> int:
        """PPO iterations needed to reach ``total_steps`` over ``world_size`` ranks
        (rounded up).

        Example:
            >>> PPOConfig(total_steps=1000, num_envs=4, num_steps=100, minibatches=1).iterations()
            3
        """
        return -(-self.total_steps // (self.batch_size * world_size))
