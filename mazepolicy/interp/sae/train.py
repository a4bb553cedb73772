"""Training an SAE on collected activations: seeded batches from the shards, Adam,
decoder rows renormalised after every step, dead features tracked for the auxiliary
loss, a progress bar, and checkpoints every ``checkpoint_every`` steps that resume.

An SAE folder holds ``sae.safetensors`` + ``sae.json`` (weights and card: config,
steps, training losses, the activations it was trained on) and ``state.safetensors``
(optimizer and dead-feature counters, for ``resume``). A resumed run continues from its
last checkpoint with the same batch order, so it loses at most one checkpoint interval
and ends bit for bit where an uninterrupted run would; it may raise ``steps``.

Example:
    >>> import tempfile, pathlib
    >>> x = torch.randn(512, 8)
    >>> config = SAEConfig(d_in=8, d_sae=16, k=2, steps=20, batch_size=64,
    ...                    checkpoint_every=10)
    >>> sae = train_sae(config, tensor_batches(x, 64, seed=0),
    ...                 pathlib.Path(tempfile.mkdtemp()), progress=False)
    >>> int(sae.card["steps"])
    20
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from tqdm.auto import tqdm

from mazepolicy.interp.sae.activations import as_samples, load_shard, read_manifest
from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps

RESUMABLE = {"steps", "checkpoint_every"}  # a resumed run may train longer
Batches = Callable[[int], Iterator[torch.Tensor]]  # start batch -> endless (B, d_in) batches


def epoch_batches(chunks: Callable[[torch.Generator], Iterator[torch.Tensor]],
                  batch_size: int, seed: int) -> Batches:
    """Endless batches: each epoch ``chunks(gen)`` yields sample tensors (N, d_in)
    whose rows are shuffled with ``gen`` (seeded ``seed + epoch``) and cut into full
    batches; ``start`` skips that many batches (for resuming)."""
    def batches(start: int) -> Iterator[torch.Tensor]:
        epoch, index = 0, 0
        while True:
            gen = torch.Generator().manual_seed(seed + epoch)
            before = index
            for samples in chunks(gen):
                order = torch.randperm(len(samples), generator=gen)
                for i in range(0, len(samples) - batch_size + 1, batch_size):
                    if index >= start:
                        yield samples[order[i : i + batch_size]]
                    index += 1
            if index == before:
                raise ValueError(f"no chunk of the data holds a batch of {batch_size} "
                                 "samples; lower the batch size")
            epoch += 1
    return batches


def tensor_batches(x: torch.Tensor, batch_size: int, seed: int) -> Batches:
    """Endless shuffled batches of the rows of ``x`` (N, d_in), one permutation per
    epoch, seeded."""
    return epoch_batches(lambda gen: iter([x]), batch_size, seed)


def shard_batches(folder: str | Path, layer: str, layout: str, batch_size: int,
                  seed: int) -> Batches:
    """Endless batches from a collection folder: shards in a seeded order per epoch,
    samples shuffled within each shard (one shard in memory at a time)."""
    manifest = read_manifest(folder)
    if layer not in manifest["layers"]:
        raise KeyError(f"layer {layer!r} was not collected in {folder}; have "
                       f"{sorted(manifest['layers'])}")
    count = len(manifest["shards"])

    def chunks(gen: torch.Generator) -> Iterator[torch.Tensor]:
        for shard in torch.randperm(count, generator=gen).tolist():
            yield as_samples(load_shard(folder, shard), layer, layout)[0]

    return epoch_batches(chunks, batch_size, seed)


class TrainedSAE(NamedTuple):
    """An SAE and its card as saved in a folder."""

    model: SparseAutoencoder
    card: dict


def save_sae(sae: SparseAutoencoder, folder: Path, card: dict) -> None:
    atomic_write_bytes(folder / "sae.safetensors",
                       save_bytes({k: v.detach().contiguous() for k, v in
                                   sae.state_dict().items()}))
    atomic_write_text(folder / "sae.json", json_dumps(card, indent=1))


def load_sae(folder: str | Path) -> TrainedSAE:
    """The SAE saved in ``folder``; ValueError for missing, corrupt or mismatched files."""
    folder = Path(folder)
    try:
        card = json.loads((folder / "sae.json").read_text())
        config = SAEConfig(**card["config"])
        tensors = load_bytes((folder / "sae.safetensors").read_bytes())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no trained SAE in {folder}: {err.filename} missing") from None
    except (json.JSONDecodeError, KeyError, TypeError, SafetensorError) as err:
        raise ValueError(f"{folder} does not hold a valid SAE: {err}") from None
    model = SparseAutoencoder(config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as err:
        raise ValueError(f"{folder}/sae.safetensors does not match its card: {err}") from None
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise ValueError(f"{folder}/sae.safetensors holds non-finite weights")
    return TrainedSAE(model.eval(), card)


def train_sae(config: SAEConfig, batches: Batches, out: str | Path, resume: bool = False,
              progress: bool = True, source: dict | None = None) -> TrainedSAE:
    """Train ``config.steps`` steps on ``batches`` and save into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sae = SparseAutoencoder(config)
    optimizer = torch.optim.Adam(sae.parameters(), lr=config.lr)
    since_fired = torch.zeros(config.d_sae, dtype=torch.long)
    step, history = 0, []
    if (out / "sae.json").exists():
        if not resume:
            raise FileExistsError(f"{out} already holds an SAE; resume it or pick another")
        trained = load_sae(out)
        changed = sorted(k for k, v in config.to_dict().items()
                         if trained.card["config"].get(k) != v and k not in RESUMABLE)
        if changed:
            raise ValueError(f"{out} was trained with another config ({changed}); cannot "
                             "resume")
        sae.load_state_dict(trained.model.state_dict())
        state = load_bytes((out / "state.safetensors").read_bytes())
        since_fired = state.pop("since_fired")
        optimizer.load_state_dict(_optimizer_state(optimizer, state))
        step, history = trained.card["steps"], trained.card["history"]
    elif resume:
        raise FileNotFoundError(f"no SAE to resume in {out}")
    stream = batches(step)
    if step == 0:
        with torch.no_grad():  # start the decoder bias at the data mean
            sae.b_dec.copy_(next(batches(0)).mean(0))
    bar = tqdm(total=config.steps, initial=step, desc=f"sae {config.kind} x{config.d_sae}",
               unit="step", disable=not progress)
    card = {}
    while step < config.steps:
        x = next(stream)
        terms = sae.losses(x, since_fired >= config.dead_after)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        sae.normalize_decoder()
        with torch.no_grad():
            fired = (sae.encode(x) > 0).any(0)
        since_fired = torch.where(fired, 0, since_fired + 1)
        step += 1
        if step % 50 == 0 or step == config.steps:
            row = {"step": step, **{k: float(v.detach()) for k, v in terms.items()},
                   "dead": int((since_fired >= config.dead_after).sum())}
            history.append(row)
            bar.set_postfix(mse=f"{row['mse']:.4g}", dead=row["dead"])
        bar.update(1)
        if step % config.checkpoint_every == 0 or step == config.steps:
            card = {"config": config.to_dict(), "steps": step, "history": history,
                    "source": source or {}}
            atomic_write_bytes(out / "state.safetensors", save_bytes(
                {"since_fired": since_fired, **_optimizer_tensors(optimizer)}))
            save_sae(sae, out, card)
    bar.close()
    return TrainedSAE(sae.eval(), card or load_sae(out).card)


def _optimizer_tensors(optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for i, state in enumerate(optimizer.state_dict()["state"].values()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            out[f"opt.{i}.{key}"] = torch.as_tensor(state[key]).clone().contiguous()
    return out


def _optimizer_state(optimizer, tensors: dict) -> dict:
    state = optimizer.state_dict()
    state["state"] = {i: {key: tensors[f"opt.{i}.{key}"] for key in ("step", "exp_avg",
                                                                      "exp_avg_sq")}
                      for i in range(len(state["param_groups"][0]["params"]))}
    return state
