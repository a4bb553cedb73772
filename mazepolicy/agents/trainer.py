"""The PPO training loop: rollouts, updates, checkpoints with exact resume, logs, evals.

A run directory holds:
    policy.safetensors, policy.json   latest policy and its card (step count, config, ...)
    checkpoints/iter-NNNNNN/          full checkpoints (policy + trainer state), last two
    checkpoints/latest                name of the newest complete checkpoint
    tb/                               TensorBoard logs (CleanRL tags)
    metrics.jsonl, eval.jsonl         per-iteration metrics and evaluations
    summary.json                      the final summary

Resume restores the policy, the optimizer, the reward normaliser, the sampling RNGs
and every engine state (which holds the level RNGs), so a resumed run continues
bit-for-bit on the same device type; a kill loses at most ``checkpoint_every``
iterations. Data-parallel training across processes (``torchrun``) averages gradients
with ``all_reduce``; each rank steps its own envs.

Example:
    >>> import tempfile
    >>> from mazepolicy.agents.ppo_config import load_recipe
    >>> config = load_recipe("ppo-tiny").replace(total_steps=512, num_envs=4, num_steps=32,
    ...                                          minibatches=2, eval_episodes=2)
    >>> summary = Trainer(config, tempfile.mkdtemp(), progress=False).train()
    >>> summary["global_step"]
    512
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from tqdm.auto import tqdm

from mazepolicy.agents.checkpoint import git_sha, load_policy, save_policy
from mazepolicy.agents.impala import ImpalaPolicy
from mazepolicy.agents.policy_agent import PolicyAgent
from mazepolicy.agents.ppo import RewardNormalizer, RolloutBuffer, compute_gae, ppo_update
from mazepolicy.agents.ppo_config import PPOConfig
from mazepolicy.envs.variants import load_variant
from mazepolicy.interp.evaluate import evaluate
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps

KEEP_CHECKPOINTS = 2


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> this rank's GPU if there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(name)


def distributed_context() -> tuple[int, int]:
    """(rank, world size); initialises the process group when run under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


class Trainer:
    """PPO on a maze variant. ``train()`` runs to ``config.total_steps``.

    The steps are exposed for benchmarks: ``collect_rollout()`` then ``update()`` is one
    iteration (``train_iteration()``).
    """

    def __init__(
        self,
        config: PPOConfig,
        out_dir: str | Path,
        resume: bool = False,
        progress: bool = True,
    ):
        self.config = config
        self.out = Path(out_dir)
        self.progress = progress
        self.rank, self.world = distributed_context()
        self.device = resolve_device(config.device)
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        torch.manual_seed(config.seed)
        self.env = load_variant(config.env).make_vec(
            config.num_envs,
            seed=config.seed + 1_000_003 * self.rank,
            num_threads=config.env_threads or None,
        )
        self.policy = ImpalaPolicy(scale=config.scale).to(self.device)
        if self.world > 1:
            for p in self.policy.parameters():
                dist.broadcast(p.data, src=0)
        self.forward = torch.compile(self.policy) if config.compile else self.policy
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=config.lr, eps=config.adam_eps
        )
        self.buffer = RolloutBuffer(config.num_steps, config.num_envs, self.device)
        self.normalizer = RewardNormalizer(config.num_envs, config.gamma)
        self.sample_gen = torch.Generator(self.device).manual_seed(config.seed + self.rank)
        self.shuffle_gen = torch.Generator().manual_seed(config.seed + 7919 + self.rank)
        self.staging = None  # pinned host frames (N, 64, 64, 3) when training on a GPU
        if self.device.type == "cuda":
            self.staging = torch.zeros((config.num_envs, 64, 64, 3), dtype=torch.uint8,
                                       pin_memory=True)
        self.iteration = 0
        self.global_step = 0
        self.train_seconds = 0.0
        self.last_eval: dict = {}
        self.autocast = config.bf16 and self.device.type == "cuda"
        if resume and (self.out / "checkpoints" / "latest").exists():
            self.load_checkpoint()
        else:
            obs, _ = self.env.reset(seed=config.seed + 1_000_003 * self.rank)
            self.next_obs = obs
        self.writer = None

    # ---------------------------------------------------------------- one iteration
    def collect_rollout(self) -> list[dict]:
        """Fill the buffer with ``num_steps`` steps of every env; returns ended episodes."""
        cfg, buf = self.config, self.buffer
        episodes = []
        for t in range(cfg.num_steps):
            if self.staging is None:
                buf.obs[t].copy_(torch.from_numpy(self.next_obs))
            else:  # via pinned host memory, so the copy to the GPU is asynchronous
                self.staging.copy_(torch.from_numpy(self.next_obs))
                buf.obs[t].copy_(self.staging, non_blocking=True)
            with torch.inference_mode(), torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.autocast
            ):
                logits, value = self.forward(buf.obs[t])
            logp_all = torch.log_softmax(logits.float(), dim=-1)  # (N, A)
            action = torch.multinomial(logp_all.exp(), 1, generator=self.sample_gen)[:, 0]
            buf.actions[t] = action
            buf.logprobs[t] = logp_all.gather(1, action[:, None])[:, 0]
            buf.values[t] = value.float()
            obs, reward, terminated, truncated, info = self.env.step(action.cpu().numpy())
            done = terminated | truncated
            buf.rewards[t] = torch.from_numpy(self.normalizer(reward, done)).to(self.device)
            buf.dones[t] = torch.from_numpy(done.astype(np.float32)).to(self.device)
            self.next_obs = obs
            for i in np.flatnonzero(done):
                episodes.append({
                    "return": float(info["episode_return"][i]),
                    "length": int(info["episode_length"][i]),
                    "reached_cheese": bool(info["reached_cheese"][i]),
                    "reached_top_right": bool(info["reached_top_right"][i]),
                })
        self.global_step += cfg.batch_size * self.world
        return episodes

    def update(self):
        """GAE on the collected rollout, then the PPO epochs."""
        cfg = self.config
        with torch.inference_mode():
            obs = torch.from_numpy(self.next_obs).to(self.device)
            next_value = self.forward(obs)[1].float()
            advantages, returns = compute_gae(
                self.buffer.rewards, self.buffer.values, self.buffer.dones, next_value,
                cfg.gamma, cfg.gae_lambda,
            )
        if cfg.anneal_lr:
            frac = 1.0 - self.iteration / cfg.iterations
            self.optimizer.param_groups[0]["lr"] = frac * cfg.lr
        return ppo_update(
            self.forward, self.optimizer, self.buffer, advantages.clone(), returns.clone(),
            cfg, self.shuffle_gen, autocast=self.autocast,
            all_reduce_grads=self._all_reduce_grads if self.world > 1 else None,
        )

    def train_iteration(self) -> tuple[list[dict], object]:
        episodes = self.collect_rollout()
        stats = self.update()
        self.iteration += 1
        return episodes, stats

    def _all_reduce_grads(self) -> None:
        grads = [p.grad for p in self.policy.parameters() if p.grad is not None]
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    # ---------------------------------------------------------------------- the loop
    def train(self) -> dict:
        """Train to ``total_steps``; checkpoint, log and evaluate on the way."""
        cfg = self.config
        main = self.rank == 0
        if main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))
        bar = tqdm(total=cfg.iterations * cfg.batch_size * self.world, initial=self.global_step,
                   unit="step", unit_scale=True, desc="train", disable=not (self.progress and main))
        recent: list[dict] = []
        while self.iteration < cfg.iterations:
            start = time.perf_counter()
            episodes, stats = self.train_iteration()
            elapsed = time.perf_counter() - start
            self.train_seconds += elapsed
            recent = (recent + episodes)[-200:]
            sps = cfg.batch_size * self.world / elapsed
            bar.update(cfg.batch_size * self.world)
            bar.set_postfix(sps=f"{sps:,.0f}", ret=f"{_mean(recent, 'return'):.2f}")
            if main:
                self._log(stats, episodes, sps)
            last = self.iteration == cfg.iterations
            due = (cfg.eval_every and self.iteration % cfg.eval_every == 0) or last
            if due and main and cfg.eval_episodes:
                self.run_evaluation()
            if self.iteration % cfg.checkpoint_every == 0 or last:
                if main:
                    self.save_checkpoint()
        bar.close()
        summary = self.summary()
        if main:
            atomic_write_text(self.out / "summary.json", json_dumps(summary, indent=2))
            self.writer.close()
        self.env.close()
        return summary

    def _log(self, stats, episodes: list[dict], sps: float) -> None:
        step = self.global_step
        w = self.writer
        if episodes:
            w.add_scalar("charts/episodic_return", _mean(episodes, "return"), step)
            w.add_scalar("charts/episodic_length", _mean(episodes, "length"), step)
            w.add_scalar("charts/cheese_rate", _mean(episodes, "reached_cheese"), step)
        w.add_scalar("charts/SPS", sps, step)
        w.add_scalar("charts/learning_rate", self.optimizer.param_groups[0]["lr"], step)
        for key, value in vars(stats).items():
            w.add_scalar(f"losses/{key}", value, step)
        row = {"iteration": self.iteration, "global_step": step, "sps": sps,
               "episodes": len(episodes),
               "episodic_return": _mean(episodes, "return"),
               "cheese_rate": _mean(episodes, "reached_cheese"), **vars(stats)}
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json_dumps(row) + "\n")

    def run_evaluation(self) -> dict:
        """Evaluate on the training variant and ``eval_env``; log and return summaries."""
        cfg = self.config
        agent = PolicyAgent(self.policy, seed=cfg.seed)
        results = {}
        for name in dict.fromkeys([cfg.env, cfg.eval_env]):
            variant = load_variant(name)
            summary = evaluate(
                agent, variant.placement(), cfg.eval_episodes, seed=cfg.eval_seed,
                distribution_mode=variant.distribution_mode,
                num_envs=min(cfg.eval_episodes, 64), region=variant.region, progress=False,
            ).summary()
            results[name] = summary
            for key in ("cheese_rate", "top_right_rate", "misgeneralization_rate", "mean_return"):
                self.writer.add_scalar(f"eval/{name}/{key}", summary[key], self.global_step)
        with open(self.out / "eval.jsonl", "a") as f:
            f.write(json_dumps({"iteration": self.iteration, "global_step": self.global_step,
                                "results": results}) + "\n")
        self.last_eval = results
        return results

    def summary(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds,
            "sps": self.global_step / self.train_seconds if self.train_seconds else 0.0,
            "device": str(self.device),
            "world_size": self.world,
            "git_sha": git_sha(),
            "eval": self.last_eval,
        }

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """Write a complete checkpoint, then point ``checkpoints/latest`` at it."""
        root = self.out / "checkpoints"
        path = root / f"iter-{self.iteration:06d}"
        card = {"env": self.config.env, **self.summary()}
        save_policy(self.policy, path / "policy.safetensors", card)
        tensors, meta = self._trainer_state()
        atomic_write_bytes(path / "trainer_state.safetensors", save_safetensors_bytes(tensors))
        atomic_write_text(path / "trainer_state.json", json_dumps(meta))
        save_policy(self.policy, self.out / "policy.safetensors", card)
        atomic_write_text(root / "latest", path.name)  # the commit point for --resume
        for old in sorted(root.glob("iter-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)
        return path

    def _trainer_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        opt = self.optimizer.state_dict()
        tensors = {}
        for index, state in opt["state"].items():
            for key, value in state.items():
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
        snapshot = self.env.snapshot()
        for key, value in snapshot.items():
            tensors[f"env.{key}"] = torch.from_numpy(np.ascontiguousarray(value))
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.sample"] = self.sample_gen.get_state().cpu()
        tensors["rng.shuffle"] = self.shuffle_gen.get_state()
        tensors["normalizer.returns"] = torch.from_numpy(self.normalizer.returns.copy())
        tensors["next_obs"] = torch.from_numpy(self.next_obs.copy())
        norm = self.normalizer.state()
        meta = {
            "iteration": self.iteration,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds,
            "config": self.config.to_dict(),
            "param_groups": opt["param_groups"],
            "normalizer": {k: norm[k] for k in ("mean", "var", "count")},
            "last_eval": self.last_eval,
        }
        return tensors, meta

    def load_checkpoint(self) -> None:
        """Continue from ``checkpoints/latest``."""
        root = self.out / "checkpoints"
        path = root / (root / "latest").read_text().strip()
        meta = json.loads((path / "trainer_state.json").read_text())
        if meta["config"] != self.config.to_dict():
            changed = sorted(k for k, v in meta["config"].items()
                             if self.config.to_dict().get(k) != v)
            allowed = {"total_steps", "checkpoint_every", "eval_every", "eval_episodes",
                       "torch_threads", "env_threads"}  # settings that leave the math alone
            if set(changed) - allowed:
                raise ValueError(f"cannot resume with a different config: {changed} changed")
        tensors = load_safetensors_bytes((path / "trainer_state.safetensors").read_bytes())
        policy, _ = load_policy(path / "policy.safetensors", device=self.device)
        self.policy.load_state_dict(policy.state_dict())
        opt_state = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                opt_state.setdefault(int(index), {})[name] = value.to(self.device)
        for state in opt_state.values():
            state["step"] = state["step"].cpu()  # Adam keeps its step count on the CPU
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
        self.next_obs = self.env.restore(
            {k[len("env."):]: v.numpy() for k, v in tensors.items() if k.startswith("env.")}
        )
        if not np.array_equal(self.next_obs, tensors["next_obs"].numpy()):
            raise ValueError(f"{path}: restored frames differ from the saved ones")
        torch.set_rng_state(tensors["rng.torch"])
        self.sample_gen.set_state(tensors["rng.sample"])
        self.shuffle_gen.set_state(tensors["rng.shuffle"])
        self.normalizer.load_state({**meta["normalizer"],
                                    "returns": tensors["normalizer.returns"].numpy()})
        self.iteration = meta["iteration"]
        self.global_step = meta["global_step"]
        self.train_seconds = meta["train_seconds"]
        self.last_eval = meta["last_eval"]


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows])) if rows else float("nan")
