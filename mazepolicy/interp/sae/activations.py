"""Activations for SAEs, collected over many mazes and mouse positions and streamed to
disk in safetensors shards with per-frame metadata, memory bounded by the shard size.

A folder holds ``manifest.json`` (layers, shapes, counts, the policy and mazes) and
``shard-00000.safetensors``, ... each with one float16 tensor per layer (n, C, H, W)
and int64 metadata (n,): ``level_seed``, ``mouse_x``, ``mouse_y``, ``cheese_x``,
``cheese_y`` (-1: none), ``maze_dim``. Cells are (x, y): x right, y up, (0, 0) the
start (bottom-left). The mouse positions per maze are the free cells of a vector field
(all of them, or a seeded sample of ``positions_per_maze``).

Two sample layouts (:func:`as_samples`): ``position``, one C-dim sample per spatial
position of each frame (for a 1x1-convolution SAE shared across positions), whose
metadata adds the map ``row`` and ``col``; and ``map``, one C*H*W sample per frame.

Example:
    >>> import tempfile, pathlib
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> manifest = collect_activations(ImpalaPolicy(), ["embedder.block3.res2.resadd_out"],
    ...     folder, "maze-anywhere-easy", mazes=2, positions_per_maze=3, shard_size=4)
    >>> manifest["frames"], len(manifest["shards"])
    (6, 2)
    >>> samples, meta = as_samples(load_shard(folder, 0), "embedder.block3.res2.resadd_out",
    ...                            "position")
    >>> samples.shape, sorted(meta)[:3]
    (torch.Size([256, 32]), ['cheese_x', 'cheese_y', 'col'])
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes
from tqdm.auto import tqdm

from mazepolicy.envs.frames import render_states
from mazepolicy.envs.geometry import free_cells
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps

META_KEYS = ("level_seed", "mouse_x", "mouse_y", "cheese_x", "cheese_y", "maze_dim")
MANIFEST = "manifest.json"


def _frames(variant: str, mazes: int, seed: int, positions_per_maze: int | None) -> Iterator:
    """(state with the mouse placed, metadata row) for every maze and mouse position."""
    v = load_variant(variant)
    rng = np.random.default_rng(seed)
    for start in range(seed, seed + mazes, 64):
        for state in level_states(range(start, min(start + 64, seed + mazes)), v.placement(),
                                  v.distribution_mode):
            cheese = state.cheese_cell or (-1, -1)
            cells = [c for c in free_cells(state.free) if c != state.cheese_cell]
            if positions_per_maze is not None and positions_per_maze < len(cells):
                picks = sorted(rng.choice(len(cells), positions_per_maze, replace=False))
                cells = [cells[i] for i in picks]
            for cell in cells:
                yield state.with_mouse(cell), (state.level_seed, cell[0], cell[1], cheese[0],
                                                cheese[1], state.maze_dim)


def collect_activations(policy, layers: Sequence[str], out: str | Path, variant: str,
                        mazes: int, seed: int = 0, positions_per_maze: int | None = None,
                        shard_size: int = 2048, batch: int = 256,
                        progress: bool = False, policy_name: str = "",
                        policy_sha256: str = "") -> dict:
    """Write activations of ``layers`` on ``mazes`` level seeds of ``variant`` (from
    ``seed``) into shards of ``shard_size`` frames; returns the manifest, which names the
    policy by ``policy_name`` and its weights' ``policy_sha256``."""
    layers = policy.check_hook_names(list(layers))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / MANIFEST).exists():
        raise FileExistsError(f"{out} already holds collected activations")
    device = next(policy.parameters()).device
    shapes = {name: list(policy.hook_names()[name]) for name in layers}
    shards, pending, total = [], [], 0
    bar = tqdm(desc=f"collect {', '.join(layers)}", unit="frame", disable=not progress)

    def flush() -> None:
        nonlocal pending, total
        if not pending:
            return
        tensors: dict[str, list] = {name: [] for name in layers}
        rows = []
        for start in range(0, len(pending), batch):
            chunk = pending[start : start + batch]
            obs = torch.as_tensor(render_states([s for s, _ in chunk]), device=device)
            with torch.no_grad():
                _, _, cache = policy.run_with_cache(obs, layers)
            for name in layers:
                tensors[name].append(cache[name].to(torch.float16).cpu())
            rows += [m for _, m in chunk]
        meta = torch.tensor(rows, dtype=torch.int64)  # (n, 6)
        content = {name: torch.cat(t).contiguous() for name, t in tensors.items()}
        content.update({key: meta[:, i].contiguous() for i, key in enumerate(META_KEYS)})
        name = f"shard-{len(shards):05d}.safetensors"
        atomic_write_bytes(out / name, save_bytes(content))
        shards.append({"file": name, "frames": len(pending)})
        total += len(pending)
        bar.update(len(pending))
        pending = []

    for item in _frames(variant, mazes, seed, positions_per_maze):
        pending.append(item)
        if len(pending) == shard_size:
            flush()
    flush()
    bar.close()
    manifest = {"layers": shapes, "variant": variant, "mazes": mazes, "seed": seed,
                "positions_per_maze": positions_per_maze, "frames": total, "shards": shards,
                "policy": policy_name, "policy_sha256": policy_sha256, "dtype": "float16"}
    atomic_write_text(out / MANIFEST, json_dumps(manifest, indent=1))
    return manifest


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a collection folder; ValueError when missing or malformed."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: collect activations first") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(manifest, dict) or not {"layers", "shards"} <= set(manifest):
        raise ValueError(f"{path} is not an activation manifest")
    return manifest


def load_shard(folder: str | Path, index: int) -> dict[str, torch.Tensor]:
    """The tensors of shard ``index``; ValueError for a corrupt or incomplete shard."""
    manifest = read_manifest(folder)
    entry = manifest["shards"][index]
    path = Path(folder) / entry["file"]
    try:
        tensors = load_bytes(path.read_bytes())
    except SafetensorError as err:
        raise ValueError(f"{path} is not a valid safetensors shard: {err}") from None
    missing = [k for k in (*manifest["layers"], *META_KEYS) if k not in tensors]
    if missing or any(len(tensors[k]) != entry["frames"] for k in META_KEYS):
        raise ValueError(f"{path} lacks {missing or 'the frames its manifest lists'}")
    return tensors


def as_samples(shard: dict[str, torch.Tensor], layer: str, layout: str
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(samples float32, metadata per sample) of one layer in ``layout``: ``position``
    gives (n * H * W, C) with ``row``/``col`` added to the metadata, ``map`` (n, C*H*W)."""
    if layer not in shard:
        raise KeyError(f"layer {layer!r} was not collected; have "
                       f"{sorted(k for k in shard if k not in META_KEYS)}")
    acts = shard[layer].float()  # (n, C, H, W)
    meta = {k: shard[k] for k in META_KEYS}
    if layout == "map":
        return acts.flatten(1), meta
    if layout != "position":
        raise ValueError(f"unknown sample layout {layout!r}; use 'position' or 'map'")
    n, c, h, w = acts.shape
    samples = acts.permute(0, 2, 3, 1).reshape(n * h * w, c)  # frame-major, then row, col
    out = {k: v.repeat_interleave(h * w) for k, v in meta.items()}
    out["row"] = torch.arange(h).repeat_interleave(w).repeat(n)
    out["col"] = torch.arange(w).repeat(n * h)
    return samples, out


def check_same_policy(policy: str, sha: str, records: dict[str, dict]) -> None:
    """ValueError unless each of ``records`` (activation manifests and SAE cards'
    ``source``, keyed by what the message calls them) that records the SHA-256 of its
    policy's weights records ``sha``, that of ``policy``: an SAE read against other
    weights than it was trained on measures nothing. Records from before the digest
    was kept are not checked.

    Example:
        >>> check_same_policy("p", "ab", {"SAE": {"policy": "q", "policy_sha256": "cd"}})
        Traceback (most recent call last):
        ...
        ValueError: SAE comes from policy 'q' with weights SHA-256 cd..., not from policy p (ab...)
    """
    for what, record in records.items():
        theirs = record.get("policy_sha256")
        if theirs and theirs != sha:
            raise ValueError(f"{what} comes from policy {record.get('policy')!r} with "
                             f"weights SHA-256 {theirs[:12]}..., not from policy {policy} "
                             f"({sha[:12]}...)")
