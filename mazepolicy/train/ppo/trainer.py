"""The PPO training loop: rollouts, updates, checkpoints with exact resume, logs, evals.

The run directory is every trainer's (:mod:`mazepolicy.train.common.run_dir`); a PPO
checkpoint ``checkpoints/iter-NNNNNN/`` holds the policy and its card (global_step,
iteration, full config, git sha, eval), ``trainer_state.json`` (counters, config),
``optimizer.safetensors`` and, per rank, ``rank-R.safetensors`` (engine states, frames,
reward normaliser, RNGs). TensorBoard tags follow CleanRL (charts/*, losses/*, eval/*).

Resume (``resume=True``) restores the weights, Adam's state, the reward normaliser,
the action-sampling and shuffling RNGs and every engine state (which holds the level
RNGs), so on the CPU a resumed run continues bit-for-bit; a kill loses at most
``checkpoint_every`` iterations. Not restored: wall-clock counters of the session that
was killed after its last checkpoint, and on a GPU, cuDNN's autotuned kernels may
differ between sessions (and bf16/TF32 rounding with them), so GPU resumes are close,
not bitwise.

Data-parallel training (``torchrun``): every rank steps its own envs (seeded by
rank), DDP averages gradients, rank 0 logs, evaluates and writes the shared files; each
rank writes its own ``rank-R`` state. Logged episode statistics are rank 0's.

Example:
    >>> import tempfile
    >>> from mazepolicy.train.recipes import load_recipe
    >>> config = load_recipe("ppo-tiny").replace(total_steps=128, num_envs=4, num_steps=32,
    ...                                          minibatches=2, eval_episodes=0)
    >>> with Trainer(config, tempfile.mkdtemp(), progress=False) as trainer:
    ...     summary = trainer.train()
    >>> summary["global_step"], summary["iteration"]
    (128, 1)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.envs.variants import load_variant
from mazepolicy.envs.vec_env import SNAPSHOT_KEYS, MazeVecEnv
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps
from mazepolicy.models.checkpoint import git_sha, load_policy, save_policy
from mazepolicy.models.devices import resolve_device
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.common.distributed import distributed_context
from mazepolicy.train.common.run_dir import (
    RunDirectory,
    load_init,
    load_optimizer_tensors,
    optimizer_tensors,
    read_checkpoint_file,
    require_entries,
)
from mazepolicy.train.common.seeding import derived_seed
from mazepolicy.train.ppo.config import RESUMABLE_CHANGES, PPOConfig
from mazepolicy.train.ppo.loss import RewardNormalizer, UpdateStats, ppo_update
from mazepolicy.train.ppo.rollout import RolloutStorage, compute_gae

EVAL_KEYS = ("cheese_rate", "top_right_rate", "misgeneralization_rate", "mean_return",
             "mean_steps")

TRAINER = "mazepolicy-ppo"  # the cards' trainer name
# Entries of a checkpoint's trainer_state.json.
TRAINER_STATE_KEYS = ("iteration", "global_step", "train_seconds", "world_size", "config",
                      "last_eval", "recent_returns")


# Streams of derived_seed(seed, rank, stream, ...): each rank's envs, sampling, shuffling.
ENV_STREAM, SAMPLE_STREAM, SHUFFLE_STREAM = 0, 1, 2


class Trainer:
    """PPO with the IMPALA policy on a maze variant. ``train()`` runs to
    ``config.total_steps``; for benchmarks, ``train_iteration()`` is one
    ``collect_rollout()`` plus one ``update()``.

    Args:
        config: the run's :class:`PPOConfig`.
        out_dir: run directory (checkpoints, logs); needed by ``train()`` and
            ``save_checkpoint()`` only.
        env: a ready :class:`MazeVecEnv` with ``config.num_envs`` envs to train on
            (``env_groups`` must be 1); default: ``config.env``'s variant. The trainer
            resets it with its seed and closes it in :meth:`close`.
        resume: continue from ``out_dir``'s latest checkpoint (an error if it has none).
            Without it, a directory that already holds a checkpoint is refused.
        progress: show a tqdm bar (rank 0) during ``train()``.
    """

    def __init__(
        self,
        config: PPOConfig,
        out_dir: str | Path | None = None,
        env: MazeVecEnv | None = None,
        resume: bool = False,
        progress: bool = True,
    ):
        self.config = config
        self.rank, self.world, local_world = distributed_context()
        self.run = None if out_dir is None else RunDirectory(out_dir)
        self.progress = progress
        if self.run is None and resume:
            raise ValueError("resume needs a run directory (out_dir)")
        latest = None if self.run is None else self.run.claim(
            TRAINER, resume, exclusive=self.rank == 0)  # rank 0 writes the shared files
        self.device = resolve_device(config.device)
        cores = max(1, len(os.sched_getaffinity(0)) // local_world)  # this rank's share
        self._configure_torch(cores)
        self._build_policy()
        self.autocast = config.bf16  # bf16 autocast on this device (CPU or GPU)

        self.envs = self._make_envs(env, config.env_threads or cores)
        size = config.num_envs // len(self.envs)
        self.slices = [slice(g * size, (g + 1) * size) for g in range(len(self.envs))]
        self.executor = ThreadPoolExecutor(len(self.envs)) if len(self.envs) > 1 else None
        self.pending: list[Future | tuple | None] = [None] * len(self.envs)  # env steps
        self.staging = None  # pinned host frames per group, for asynchronous copies to a GPU
        if self.device.type == "cuda":
            self.staging = [torch.empty((size, 64, 64, 3), dtype=torch.uint8, pin_memory=True)
                            for _ in self.envs]
        self.storage = RolloutStorage(config.num_steps, config.num_envs, self.device)
        self.normalizer = RewardNormalizer(config.num_envs, config.gamma, config.reward_clip)
        self.sample_gen = torch.Generator(self.device).manual_seed(
            derived_seed(config.seed, self.rank, SAMPLE_STREAM))
        self.shuffle_gen = torch.Generator().manual_seed(
            derived_seed(config.seed, self.rank, SHUFFLE_STREAM))

        self.iteration = 0
        self.global_step = 0  # env steps over all ranks
        self.train_seconds = 0.0  # time in train_iteration, over all sessions
        self.last_eval: dict = {}
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.git_sha = git_sha()
        if latest is not None:
            try:
                self.load_checkpoint(latest)
            except Exception:
                self.close()
                raise
        else:
            seeds = zip(self.envs, self.env_seeds, strict=True)
            self.frames = [env.reset(seed=seed)[0] for env, seed in seeds]

    def _configure_torch(self, cores: int) -> None:
        """CPU threads (``torch_threads``, else this rank's cores); on a GPU, cuDNN
        autotuning and TF32 matmuls/convolutions."""
        torch.set_num_threads(self.config.torch_threads or cores)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True

    def _build_policy(self) -> None:
        """The policy; ``act_model`` (rollouts) and ``train_model`` (updates: DDP across
        ranks), compiled if asked; Adam (fused on a GPU)."""
        cfg = self.config
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.policy = ImpalaPolicy(scale=cfg.scale)
        self.lineage: list[dict] = []  # the runs these weights continue, oldest first
        if cfg.init:
            weights, self.lineage = load_init(cfg.init, cfg.scale)
            self.policy.load_state_dict(weights)
        self.policy.to(self.device)
        self.act_model = self.train_model = self.policy
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(
                self.policy, device_ids=ids, broadcast_buffers=False
            )
        if cfg.compile:
            self.act_model = torch.compile(self.policy)
            self.train_model = torch.compile(self.train_model)
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=cfg.lr, eps=cfg.adam_eps,
            fused=self.device.type == "cuda",
        )

    @property
    def env_seeds(self) -> list[int]:
        """The engine seed of each of this rank's env groups."""
        return [derived_seed(self.config.seed, self.rank, ENV_STREAM, g)
                for g in range(len(self.envs))]

    def _make_envs(self, env: MazeVecEnv | None, threads: int) -> list[MazeVecEnv]:
        cfg = self.config
        if env is not None:
            if cfg.env_groups != 1 or env.num_envs != cfg.num_envs:
                raise ValueError(f"the env has {env.num_envs} envs; the config asks for "
                                 f"{cfg.num_envs} in {cfg.env_groups} group(s)")
            return [env]
        variant = load_variant(cfg.env)
        size = cfg.num_envs // cfg.env_groups
        return [variant.make_vec(size, num_threads=threads) for _ in range(cfg.env_groups)]

    # ----------------------------------------------------------------- one iteration
    def collect_rollout(self) -> list[dict]:
        """Fill the storage with ``num_steps`` steps of every env; returns the episodes
        that ended (``return``, ``length``, ``reached_cheese``, ``reached_top_right``).

        With several env groups, a group's env step runs in a thread while the policy
        acts on the next group, so the engine and the network overlap.
        """
        episodes: list[dict] = []
        for t in range(self.config.num_steps):
            for g in range(len(self.envs)):
                if t > 0:
                    self._receive(g, t - 1, episodes)
                self._act(g, t)
        for g in range(len(self.envs)):
            self._receive(g, self.config.num_steps - 1, episodes)
        self.global_step += self.config.batch_size * self.world
        return episodes

    def _act(self, g: int, t: int) -> None:
        """Sample actions for group g's frames at step t and start its env step."""
        obs = self.storage.obs[t, self.slices[g]]  # (n, 64, 64, 3) uint8, device
        if self.staging is None:
            obs.copy_(torch.from_numpy(self.frames[g]))
        else:  # through pinned memory, so the host-to-GPU copy is asynchronous
            self.staging[g].copy_(torch.from_numpy(self.frames[g]))
            obs.copy_(self.staging[g], non_blocking=True)
        with torch.inference_mode(), self._autocast():
            logits, value = self.act_model(obs)  # (n, A), (n,)
            logp_all = torch.log_softmax(logits.float(), dim=-1)  # (n, A)
            action = torch.multinomial(logp_all.exp(), 1, generator=self.sample_gen)[:, 0]
            self.storage.actions[t, self.slices[g]] = action
            self.storage.logprobs[t, self.slices[g]] = logp_all.gather(1, action[:, None])[:, 0]
            self.storage.values[t, self.slices[g]] = value.float()
        actions = action.cpu().numpy()
        if self.executor is None:
            self.pending[g] = self.envs[g].step(actions)
        else:
            self.pending[g] = self.executor.submit(self.envs[g].step, actions)

    def _receive(self, g: int, t: int, episodes: list[dict]) -> None:
        """Wait for group g's env step t; record its rewards, ends and episodes."""
        result = self.pending[g]
        obs, reward, terminated, truncated, info = (
            result.result() if isinstance(result, Future) else result
        )
        self.pending[g] = None
        done = terminated | truncated
        self.storage.rewards[t, self.slices[g]] = reward
        self.storage.dones[t, self.slices[g]] = done
        self.frames[g] = obs
        for i in np.flatnonzero(done):
            episodes.append({
                "return": float(info["episode_return"][i]),
                "length": int(info["episode_length"][i]),
                "reached_cheese": bool(info["reached_cheese"][i]),
                "reached_top_right": bool(info["reached_top_right"][i]),
            })

    def update(self) -> UpdateStats:
        """Normalise the rollout's rewards (in step order), GAE, then the PPO epochs."""
        cfg, storage = self.config, self.storage
        frames = torch.from_numpy(np.concatenate(self.frames)).to(self.device)  # (N, 64, 64, 3)
        with torch.inference_mode(), self._autocast():
            next_value = self.act_model(frames)[1].float()  # (N,)
        rewards = storage.rewards  # (T, N)
        if cfg.normalize_reward:
            steps = zip(rewards, storage.dones, strict=True)
            rewards = np.stack([self.normalizer(r, d) for r, d in steps])
        advantages, returns = compute_gae(
            torch.from_numpy(rewards).to(self.device),
            storage.values,
            torch.from_numpy(storage.dones).to(self.device, torch.float32),
            next_value, cfg.gamma, cfg.gae_lambda,
        )
        if cfg.anneal_lr:
            frac = 1.0 - self.iteration / cfg.iterations(self.world)
            self.optimizer.param_groups[0]["lr"] = frac * cfg.lr
        return ppo_update(self.train_model, self.optimizer, storage, advantages, returns, cfg,
                          self.shuffle_gen, autocast=self.autocast)

    def train_iteration(self) -> tuple[list[dict], UpdateStats]:
        """One PPO iteration: ``collect_rollout()`` then ``update()``."""
        episodes = self.collect_rollout()
        stats = self.update()
        self.iteration += 1
        self.recent_returns.extend(e["return"] for e in episodes)
        return episodes, stats

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast)

    # ------------------------------------------------------------------------ the loop
    def train(self) -> dict:
        """Train to ``config.total_steps``: log every iteration, evaluate every
        ``eval_every`` iterations and at the end, checkpoint every ``checkpoint_every``
        and at the end; writes and returns the summary."""
        if self.run is None:
            raise ValueError("train() needs an out_dir")
        cfg, main = self.config, self.rank == 0
        iterations = cfg.iterations(self.world)
        if main:
            self.run.open_logs("iteration", self.iteration, self.global_step)
        per_iteration = cfg.batch_size * self.world
        bar = tqdm(total=iterations * per_iteration, initial=self.global_step, unit="step",
                   unit_scale=True, desc="train", dynamic_ncols=True,
                   disable=not (self.progress and main))
        while self.iteration < iterations:
            start = time.perf_counter()
            episodes, stats = self.train_iteration()
            seconds = time.perf_counter() - start
            self.train_seconds += seconds
            sps = per_iteration / seconds
            bar.update(per_iteration)
            bar.set_postfix(SPS=f"{sps:,.0f}", ret=f"{self.mean_recent_return():.2f}")
            if main:
                self._log_iteration(stats, episodes, sps)
            last = self.iteration == iterations
            if main and cfg.eval_episodes and (
                last or (cfg.eval_every and self.iteration % cfg.eval_every == 0)
            ):
                self.evaluate()
            if last or self.iteration % cfg.checkpoint_every == 0:
                self.save_checkpoint()
        bar.close()
        summary = self.summary()
        if main:
            self.run.write_summary(summary)
        return summary

    def mean_recent_return(self) -> float:
        """Mean return of this rank's last 100 episodes (NaN before the first)."""
        return float(np.mean(self.recent_returns)) if self.recent_returns else float("nan")

    def evaluate(self) -> dict:
        """Evaluate the policy on ``config.env`` and ``config.eval_env`` (seeded mazes);
        logs to TensorBoard and ``eval.jsonl`` when training, returns the results."""
        cfg = self.config
        results = {}
        logging = self.run is not None and self.run.writer is not None
        for name in dict.fromkeys([cfg.env, cfg.eval_env]):
            summary = evaluate(PolicyAgent(self.policy, seed=cfg.seed), name,
                               cfg.eval_episodes, seed=cfg.eval_seed, num_envs=64,
                               max_steps=cfg.eval_max_steps,
                               num_threads=cfg.env_threads or None, progress=False).summary()
            results[name] = summary
            if logging:
                self.run.scalars(f"eval/{name}", {k: summary[k] for k in EVAL_KEYS},
                                 self.global_step)
        if logging:
            self.run.append("eval.jsonl", {"iteration": self.iteration,
                                           "global_step": self.global_step, "results": results})
        self.last_eval = results
        return results

    def summary(self) -> dict:
        """The run so far: config, counters, speed, seeds, last evaluation (JSON-ready)."""
        return {
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds,
            "sps": self.global_step / self.train_seconds if self.train_seconds else 0.0,
            "mean_recent_return": self.mean_recent_return(),
            "eval": self.last_eval,
            "seeds": {"seed": self.config.seed, "env_seeds_rank0": self.env_seeds
                      if self.rank == 0 else None, "eval_seed": self.config.eval_seed},
            "device": str(self.device),
            "world_size": self.world,
            "torch": torch.__version__,
            "git_sha": self.git_sha,
        }

    def close(self) -> None:
        """Close the envs, the env threads and the logs."""
        if self.executor is not None:
            self.executor.shutdown()
        for env in self.envs:
            env.close()
        if self.run is not None:
            self.run.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------------------- logs
    def _log_iteration(self, stats: UpdateStats, episodes: list[dict], sps: float) -> None:
        step, w = self.global_step, self.run.writer
        row = {"iteration": self.iteration, "global_step": step, "sps": sps,
               "learning_rate": self.optimizer.param_groups[0]["lr"],
               "episodes": len(episodes), **vars(stats)}
        if episodes:
            row["episodic_return"] = float(np.mean([e["return"] for e in episodes]))
            row["episodic_length"] = float(np.mean([e["length"] for e in episodes]))
            row["cheese_rate"] = float(np.mean([e["reached_cheese"] for e in episodes]))
            for key in ("episodic_return", "episodic_length", "cheese_rate"):
                w.add_scalar(f"charts/{key}", row[key], step)
        w.add_scalar("charts/SPS", sps, step)
        w.add_scalar("charts/learning_rate", row["learning_rate"], step)
        for key, value in vars(stats).items():
            w.add_scalar(f"losses/{key}", value, step)
        self.run.append("metrics.jsonl", row)

    # -------------------------------------------------------------------- checkpoints
    def _card(self) -> dict:
        return {"env": self.config.env, "global_step": self.global_step,
                "iteration": self.iteration, "config": self.config.to_dict(),
                "eval": self.last_eval, "git_sha": self.git_sha, "trainer": TRAINER,
                "lineage": self.lineage}

    def save_checkpoint(self) -> Path:
        """Write a complete checkpoint (every rank its own state), then point
        ``checkpoints/latest`` at it and refresh the run's ``policy.safetensors``."""
        if self.run is None:
            raise ValueError("save_checkpoint() needs an out_dir")
        path = self.run.checkpoint_path(self.iteration)
        atomic_write_bytes(path / f"rank-{self.rank}.safetensors",
                           save_safetensors_bytes(self._rank_state()))
        if self.world > 1:
            dist.barrier()  # every rank's state is on disk
        if self.rank == 0:
            card = self._card()
            save_policy(self.policy, path / "policy.safetensors", card)
            atomic_write_bytes(path / "optimizer.safetensors",
                               save_safetensors_bytes(optimizer_tensors(self.optimizer)))
            meta = {"iteration": self.iteration, "global_step": self.global_step,
                    "train_seconds": self.train_seconds, "world_size": self.world,
                    "config": self.config.to_dict(), "last_eval": self.last_eval,
                    "recent_returns": list(self.recent_returns)}
            atomic_write_text(path / "trainer_state.json", json_dumps(meta, indent=2))
            save_policy(self.policy, self.run.root / "policy.safetensors", card)
            self.run.commit_checkpoint(path)
        return path

    def _rank_state(self) -> dict[str, torch.Tensor]:
        """This rank's part of a checkpoint: engine states, frames, normaliser, RNGs."""
        tensors = {}
        for g, env in enumerate(self.envs):
            for key, value in env.snapshot().items():
                tensors[f"env{g}.{key}"] = torch.from_numpy(np.ascontiguousarray(value))
            tensors[f"frames{g}"] = torch.from_numpy(self.frames[g].copy())
        norm = self.normalizer.state_dict()
        tensors["normalizer.returns"] = torch.from_numpy(norm["returns"])
        tensors["normalizer.stats"] = torch.tensor(
            [norm["mean"], norm["var"], norm["count"]], dtype=torch.float64)
        tensors["rng.sample"] = self.sample_gen.get_state().cpu()
        tensors["rng.shuffle"] = self.shuffle_gen.get_state()
        return tensors

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from the checkpoint directory ``path`` (this rank's part of it)."""
        path = Path(path)
        meta = read_checkpoint_file(path / "trainer_state.json", json.loads)
        require_entries(meta if isinstance(meta, dict) else {}, TRAINER_STATE_KEYS,
                         path / "trainer_state.json")
        changed = set(self.config.changed_fields(meta["config"])) - RESUMABLE_CHANGES
        if changed:
            raise ValueError(f"{path}: cannot resume with a different config; changed: "
                             f"{sorted(changed)}")
        if meta["world_size"] != self.world:
            raise ValueError(f"{path} was written by {meta['world_size']} ranks, not "
                             f"{self.world}")
        policy, card = load_policy(path / "policy.safetensors", device=self.device)
        self.policy.load_state_dict(policy.state_dict())
        self.lineage = card.get("lineage", self.lineage)  # as the run began, not as init is now
        optimizer = read_checkpoint_file(path / "optimizer.safetensors", load_safetensors_bytes)
        load_optimizer_tensors(self.optimizer, optimizer, ("step", "exp_avg", "exp_avg_sq"),
                               path / "optimizer.safetensors")

        rank_file = path / f"rank-{self.rank}.safetensors"
        tensors = read_checkpoint_file(rank_file, load_safetensors_bytes)
        require_entries(tensors, [f"env{g}.{key}" for g in range(len(self.envs))
                                   for key in SNAPSHOT_KEYS]
                         + [f"frames{g}" for g in range(len(self.envs))]
                         + ["normalizer.returns", "normalizer.stats", "rng.sample",
                            "rng.shuffle"], rank_file)
        self.frames = []
        for g, env in enumerate(self.envs):
            prefix = f"env{g}."
            snapshot = {k[len(prefix):]: v.numpy() for k, v in tensors.items()
                        if k.startswith(prefix)}
            frames = env.restore(snapshot)
            if not np.array_equal(frames, tensors[f"frames{g}"].numpy()):
                raise ValueError(f"{path}: env group {g}'s restored frames differ from the "
                                 "saved ones")
            self.frames.append(frames)
        mean, var, count = tensors["normalizer.stats"].tolist()
        self.normalizer.load_state_dict({"returns": tensors["normalizer.returns"].numpy(),
                                         "mean": mean, "var": var, "count": count})
        self.sample_gen.set_state(tensors["rng.sample"])
        self.shuffle_gen.set_state(tensors["rng.shuffle"])
        self.iteration, self.global_step = meta["iteration"], meta["global_step"]
        self.train_seconds, self.last_eval = meta["train_seconds"], meta["last_eval"]
        self.recent_returns.extend(meta["recent_returns"])
        if self.rank == 0:
            print(f"resumed {path} at step {self.global_step:,}", file=sys.stderr)
