"""The DAgger training loop: collect labelled frames, update, evaluate, checkpoint.

One round = ``Collector.collect`` of ``frames_per_round`` frames into the buffer, then
``updates_per_round`` Adam steps on minibatches from it: cross-entropy of the policy's
logits against the expert's move, plus ``vf_coef`` times the squared error of the value
head against the expert's discounted return. The run directory has the layout of every
trainer (:mod:`mazepolicy.train.common.run_dir`); a checkpoint holds the weights, Adam,
the counters, every engine state, the buffer (only its write position when it holds
one round: the next round overwrites it whole) and the RNGs, so a resumed run continues
exactly, losing at most ``checkpoint_every`` rounds.

Evaluations play held-out level seeds (``eval_seed`` on) of the training variant and
of ``eval_env``, sampling the learner's actions, and report the cheese rate,
misgeneralization rate and the learner's agreement with the expert on its own states.

Example:
    >>> import tempfile
    >>> from mazepolicy.train.recipes import load_recipe
    >>> config = load_recipe("dagger-tiny").replace(total_frames=256, frames_per_round=128,
    ...                                             capacity=128, eval_episodes=0)
    >>> with DaggerTrainer(config, tempfile.mkdtemp(), progress=False) as trainer:
    ...     summary = trainer.train()
    >>> summary["rounds"], summary["frames"]
    (2, 256)
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from tqdm.auto import tqdm

from mazepolicy.envs.variants import load_variant
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps
from mazepolicy.models.checkpoint import git_sha, load_policy, save_policy
from mazepolicy.models.devices import resolve_device
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.common.run_dir import (
    RunDirectory,
    load_init,
    load_optimizer_tensors,
    optimizer_tensors,
    read_checkpoint_file,
    require_entries,
)
from mazepolicy.train.common.seeding import derived_seed
from mazepolicy.train.dagger.agreement import ExpertAgreement, move_agreement
from mazepolicy.train.dagger.buffer import LabelledFrames
from mazepolicy.train.dagger.collector import STATE_KEYS, Collector
from mazepolicy.train.dagger.config import LATER_FIELDS, RESUMABLE_CHANGES, DaggerConfig

ENV_STREAM, COLLECT_STREAM, SHUFFLE_STREAM = 0, 1, 2
TRAINER = "mazepolicy-dagger"  # the cards' trainer name
STATE_ENTRIES = ("round", "frames", "updates", "train_seconds", "config", "last_eval",
                 "collector")
EVAL_KEYS = ("episodes", "cheese_rate", "cheese_ci", "top_right_rate", "eligible_episodes",
             "misgeneralization_rate", "misgeneralization_ci", "mean_steps",
             "expert_agreement", "p_expert_move", "agreement_frames")


def imitation_loss(logits: torch.Tensor, actions: torch.Tensor,
                   label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of logits (B, A) against the expert's actions (B,): the target
    puts ``1 - label_smoothing`` on the expert's action and ``label_smoothing / A`` on
    every action (the expert's included)."""
    return F.cross_entropy(logits, actions, label_smoothing=label_smoothing)


class DaggerTrainer:
    """DAgger with the IMPALA policy on a maze variant; ``train()`` runs to
    ``config.total_frames`` labelled frames.

    Args:
        config: the run's :class:`DaggerConfig`.
        out_dir: the run directory.
        env: a ready :class:`MazeVecEnv` with ``config.num_envs`` envs to collect on
            (e.g. a fixed set of level seeds); default: ``config.env``'s variant. The
            trainer resets it with its seed and closes it in :meth:`close`.
        resume: continue from ``out_dir``'s latest checkpoint (an error if it has none).
            Without it, a directory that already holds a checkpoint is refused.
        progress: show a progress bar during ``train()``.
    """

    def __init__(self, config: DaggerConfig, out_dir: str | Path,
                 env: MazeVecEnv | None = None, resume: bool = False, progress: bool = True):
        self.config, cfg = config, config
        self.run = RunDirectory(out_dir)
        self.progress = progress
        latest = self.run.claim(TRAINER, resume)
        self.device = resolve_device(cfg.device)
        cores = max(1, len(os.sched_getaffinity(0)))
        torch.set_num_threads(cfg.torch_threads or cores)
        torch.manual_seed(cfg.seed)
        self.policy = ImpalaPolicy(scale=cfg.scale)
        self.lineage: list[dict] = []  # the runs these weights continue, oldest first
        if cfg.init:
            weights, self.lineage = load_init(cfg.init, cfg.scale)
            self.policy.load_state_dict(weights)
        self.policy.to(self.device).eval()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
        if env is None:
            env = load_variant(cfg.env).make_vec(cfg.num_envs,
                                                 num_threads=cfg.env_threads or cores)
        elif env.num_envs != cfg.num_envs:
            raise ValueError(f"the env has {env.num_envs} envs; the config asks for "
                             f"{cfg.num_envs}")
        self.collector = Collector(env, cfg.expert, cfg.beta(0), cfg.gamma, cfg.episode_cap,
                                   cfg.teleport_prob, derived_seed(cfg.seed, ENV_STREAM),
                                   maze_frames=cfg.maze_frames, label_prob=cfg.label_prob,
                                   greedy_prob=cfg.greedy_prob)
        self.buffer = LabelledFrames(cfg.capacity)
        self.shuffle_gen = torch.Generator().manual_seed(derived_seed(cfg.seed, SHUFFLE_STREAM))
        self.round = self.frames = self.updates = 0
        self.train_seconds = 0.0
        self.last_eval: dict = {}
        self.git_sha = git_sha()
        if latest is not None:
            try:
                self.load_checkpoint(latest)
            except Exception:
                self.close()
                raise

    # ---------------------------------------------------------------- one round
    def learning_rate(self) -> float:
        """The schedule's lr at the current update."""
        cfg = self.config
        t = min(self.updates / (cfg.rounds * cfg.updates_per_round), 1.0)
        if cfg.lr_schedule == "constant":
            return cfg.lr
        shape = 1 - t if cfg.lr_schedule == "linear" else 0.5 * (1 + math.cos(math.pi * t))
        return cfg.lr_final + (cfg.lr - cfg.lr_final) * shape

    def train_round(self) -> dict:
        """One collection and ``updates_per_round`` updates; returns the round's stats."""
        cfg = self.config
        start = time.perf_counter()
        beta = cfg.beta(self.round)
        collected = self.collector.collect(self.policy, beta, cfg.frames_per_round,
                                           self.buffer)
        collect_seconds = time.perf_counter() - start
        losses = self.update()
        seconds = time.perf_counter() - start
        self.round += 1
        self.frames += collected["frames"]
        self.train_seconds += seconds
        samples = cfg.updates_per_round * cfg.batch_size
        collected["round_frames"] = collected.pop("frames")
        return {"round": self.round, "frames": self.frames, "updates": self.updates,
                "beta": beta, "lr": self.learning_rate(), **losses, **collected,
                "distinct_mazes": len(self.collector.mazes_seen),
                "samples_per_s": samples / seconds, "collect_seconds": collect_seconds,
                "update_seconds": seconds - collect_seconds,
                "train_seconds": self.train_seconds}

    def update(self) -> dict:
        """``updates_per_round`` minibatch steps; mean losses and move agreement."""
        cfg = self.config
        totals = torch.zeros(3)  # policy loss, value loss, agreement
        self.policy.train()
        for _ in range(cfg.updates_per_round):
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate()
            frames, actions, values = self.buffer.sample(cfg.batch_size, self.shuffle_gen)
            logits, predicted = self.policy(frames.to(self.device))  # (B, A), (B,)
            actions, values = actions.to(self.device), values.to(self.device)
            policy_loss = imitation_loss(logits, actions, cfg.label_smoothing)
            value_loss = F.mse_loss(predicted, values)
            loss = policy_loss + cfg.vf_coef * value_loss
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            self.updates += 1
            with torch.no_grad():
                probs = torch.softmax(logits.float(), dim=-1)
                agree = move_agreement(probs, actions)[0].float().mean()
                totals += torch.stack([policy_loss.detach(), value_loss.detach(), agree]).cpu()
        self.policy.eval()
        mean = (totals / cfg.updates_per_round).tolist()
        return {"policy_loss": mean[0], "value_loss": mean[1], "train_agreement": mean[2]}

    # ------------------------------------------------------------------ the run
    def train(self) -> dict:
        """Run rounds until ``total_frames``, with logs, evaluations and checkpoints."""
        cfg = self.config
        self.run.open_logs("round", self.round, self.frames)
        bar = tqdm(total=cfg.rounds * cfg.frames_per_round, initial=self.frames,
                   unit="frame", desc="dagger", disable=not self.progress, dynamic_ncols=True)
        while self.round < cfg.rounds:
            row = self.train_round()
            bar.update(row["frames"] - bar.n)
            bar.set_postfix(samples_s=f"{row['samples_per_s']:,.0f}",
                            loss=f"{row['policy_loss']:.3f}",
                            fresh=f"{row['fresh_agreement']:.3f}")
            self.run.append("metrics.jsonl", row)
            self.run.scalars("train", row, self.frames)
            last = self.round == cfg.rounds
            if cfg.eval_episodes and (last or (cfg.eval_every
                                               and self.round % cfg.eval_every == 0)):
                self.evaluate()
            if last or self.round % cfg.checkpoint_every == 0:
                self.save_checkpoint()
        bar.close()
        summary = self.summary()
        self.run.write_summary(summary)
        return summary

    def evaluate(self) -> dict:
        """Play ``eval_episodes`` held-out mazes of ``env`` and ``eval_env``; logs the
        results (``eval.jsonl``, TensorBoard) when training, and returns them."""
        cfg = self.config
        results = {}
        for name in dict.fromkeys([cfg.env, cfg.eval_env]):
            variant = load_variant(name)
            agent = ExpertAgreement(self.policy, cfg.expert, seed=cfg.seed)
            evaluation = evaluate(agent, variant.placement(), cfg.eval_episodes,
                                  seed=cfg.eval_seed,
                                  distribution_mode=variant.distribution_mode,
                                  num_envs=min(64, cfg.eval_episodes),
                                  max_steps=cfg.eval_max_steps,
                                  num_threads=cfg.env_threads or None, progress=False)
            summary = {**evaluation.summary(), **agent.summary()}
            results[name] = {key: summary[key] for key in EVAL_KEYS}
            if self.run.writer is not None:
                self.run.scalars(f"eval/{name}", results[name], self.frames)
        if self.run.writer is not None:
            self.run.append("eval.jsonl", {"round": self.round, "frames": self.frames,
                                           "updates": self.updates, "results": results})
        self.last_eval = results
        return results

    def summary(self) -> dict:
        """The run so far: config, counters, speed, last evaluation (JSON-ready)."""
        return {"config": self.config.to_dict(), "rounds": self.round, "frames": self.frames,
                "updates": self.updates, "train_seconds": self.train_seconds,
                "distinct_mazes": len(self.collector.mazes_seen), "eval": self.last_eval,
                "device": str(self.device), "torch": torch.__version__,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores "
                           f"({platform.processor() or platform.system()})",
                "git_sha": self.git_sha}

    def close(self) -> None:
        self.collector.env.close()
        self.run.close()

    def __enter__(self) -> DaggerTrainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------- checkpoints
    def _card(self) -> dict:
        summary = self.summary()
        return {"env": self.config.env, "trainer": TRAINER,
                **{k: summary[k] for k in ("rounds", "frames", "updates", "train_seconds",
                                           "distinct_mazes", "config", "eval", "machine",
                                           "torch", "git_sha")},
                "lineage": self.lineage}

    def save_checkpoint(self) -> Path:
        """Write a complete checkpoint, then point ``checkpoints/latest`` at it and
        refresh the run's ``policy.safetensors``."""
        path = self.run.checkpoint_path(self.round)
        card = self._card()
        tensors, collector_meta = self.collector.state_dict()
        # a round overwrites a buffer of one round's frames whole before reading it
        contents = self.config.capacity > self.config.frames_per_round
        tensors.update({f"buffer.{k}": v
                        for k, v in self.buffer.state_dict(contents).items()})
        tensors["rng.shuffle"] = self.shuffle_gen.get_state()
        atomic_write_bytes(path / "state.safetensors", save_safetensors_bytes(tensors))
        atomic_write_bytes(path / "optimizer.safetensors",
                           save_safetensors_bytes(optimizer_tensors(self.optimizer)))
        meta = {"round": self.round, "frames": self.frames, "updates": self.updates,
                "train_seconds": self.train_seconds, "config": self.config.to_dict(),
                "last_eval": self.last_eval, "collector": collector_meta}
        atomic_write_text(path / "trainer_state.json", json_dumps(meta, indent=2))
        save_policy(self.policy, path / "policy.safetensors", card)
        save_policy(self.policy, self.run.root / "policy.safetensors", card)
        self.run.commit_checkpoint(path)
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from the checkpoint directory ``path``."""
        path = Path(path)
        meta = read_checkpoint_file(path / "trainer_state.json", json.loads)
        require_entries(meta, STATE_ENTRIES, path / "trainer_state.json")
        saved = {**LATER_FIELDS, **meta["config"]}
        changed = set(self.config.changed_fields(saved)) - RESUMABLE_CHANGES
        if changed:
            raise ValueError(f"{path}: cannot resume with a different config; changed: "
                             f"{sorted(changed)}")
        policy, card = load_policy(path / "policy.safetensors", device=self.device)
        self.policy.load_state_dict(policy.state_dict())
        self.lineage = card.get("lineage", self.lineage)  # as the run began, not as init is now
        optimizer = read_checkpoint_file(path / "optimizer.safetensors",
                                         load_safetensors_bytes)
        load_optimizer_tensors(self.optimizer, optimizer, ("step", "exp_avg", "exp_avg_sq"),
                               path / "optimizer.safetensors")
        state_file = path / "state.safetensors"
        tensors = read_checkpoint_file(state_file, load_safetensors_bytes)
        contents = ("buffer.frames", "buffer.actions", "buffer.values")
        require_entries(tensors, [*STATE_KEYS, "rng.shuffle", "buffer.cursor",
                                  *(contents if self.config.capacity
                                    > self.config.frames_per_round else ())], state_file)
        self.collector.load_state_dict(tensors, meta["collector"])
        self.buffer.load_state_dict({k[7:]: v for k, v in tensors.items()
                                     if k.startswith("buffer.")})
        self.shuffle_gen.set_state(tensors["rng.shuffle"])
        self.round, self.frames, self.updates = meta["round"], meta["frames"], meta["updates"]
        self.train_seconds, self.last_eval = meta["train_seconds"], meta["last_eval"]
        print(f"resumed {path} at round {self.round:,} ({self.frames:,} frames)",
              file=sys.stderr)
