"""Policy checkpoints: weights in safetensors plus a JSON model card; no pickle.

``save_policy(policy, "run/policy.safetensors", card)`` writes the weights and
``run/policy.json`` (the card: architecture, scale, and whatever the caller records:
env variant, steps, metrics, git sha). Both writes are atomic. ``load_policy`` checks
everything and raises :class:`CheckpointError` for a corrupt or mismatched file.

Example:
    >>> import tempfile, pathlib
    >>> from mazepolicy.agents.impala import ImpalaPolicy
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "policy.safetensors"
    >>> save_policy(ImpalaPolicy(scale=1), path, {"env": "maze-topright-5", "steps": 0})
    >>> policy, card = load_policy(path)
    >>> card["architecture"], card["scale"], card["env"]
    ('impala', 1, 'maze-topright-5')
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from mazepolicy.agents.impala import ImpalaPolicy
from mazepolicy.io import atomic_write_bytes, atomic_write_text

ARCHITECTURE = "impala"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not match its card."""


def card_path(weights_path: str | Path) -> Path:
    """The JSON card beside a weights file: same stem, ``.json``."""
    return Path(weights_path).with_suffix(".json")


def git_sha(repo: str | Path | None = None) -> str | None:
    """The HEAD commit of the repository holding ``repo`` (default: this package), or None."""
    where = Path(repo) if repo else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def save_policy(policy: ImpalaPolicy, path: str | Path, card: dict | None = None) -> None:
    """Write ``policy``'s weights to ``path`` (safetensors) and its card beside it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights path must end in .safetensors, got {path}")
    full_card = {
        **(card or {}),
        "architecture": ARCHITECTURE,
        "scale": policy.scale,
        "num_actions": policy.num_actions,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    atomic_write_bytes(path, save_safetensors_bytes(tensors, metadata={"format": "pt"}))
    atomic_write_text(card_path(path), json.dumps(full_card, indent=2, sort_keys=True))


def read_card(path: str | Path) -> dict:
    """The model card of the weights at ``path``; CheckpointError if missing or invalid."""
    cpath = card_path(path)
    try:
        card = json.loads(cpath.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"model card {cpath} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"model card {cpath} is not valid JSON: {err}") from None
    if not isinstance(card, dict) or card.get("architecture") != ARCHITECTURE:
        raise CheckpointError(f"model card {cpath} does not describe an {ARCHITECTURE} policy")
    for key in ("scale", "num_actions"):
        if not isinstance(card.get(key), int) or card[key] < 1:
            raise CheckpointError(f"model card {cpath}: bad {key} {card.get(key)!r}")
    return card


def load_state_dict_into(policy: ImpalaPolicy, state: dict, source: str) -> None:
    """Load ``state`` strictly, with CheckpointError naming missing/extra/mis-shaped keys."""
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{source}: missing keys {missing[:5]}, unexpected keys {extra[:5]}")
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(value.shape)}, "
                f"expected {tuple(expected[key].shape)}"
            )
    policy.load_state_dict(state)


def load_policy(path: str | Path, device: str | torch.device = "cpu") -> tuple[ImpalaPolicy, dict]:
    """Load a policy saved by :func:`save_policy`: (policy in eval mode, card)."""
    path = Path(path)
    card = read_card(path)
    try:
        state = load_safetensors_bytes(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"weights file {path} is missing") from None
    except (SafetensorError, ValueError, OSError) as err:
        raise CheckpointError(f"weights file {path} is corrupt: {err}") from None
    policy = ImpalaPolicy(scale=card["scale"], num_actions=card["num_actions"])
    load_state_dict_into(policy, state, str(path))
    return policy.to(device).eval(), card


def load_research_checkpoint(path: str | Path, scale: int | None = None) -> ImpalaPolicy:
    """Load a research-code ``.pth`` (a dict with ``model_state_dict``), safely.

    Read with ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
    ``scale`` is inferred from the first conv's output channels (16 * scale) if not given.
    """
    try:
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} is missing") from None
    except Exception as err:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(f"cannot read research checkpoint {path}: {err}") from None
    state = data.get("model_state_dict") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no 'model_state_dict'")
    first = state.get("embedder.block1.conv.weight")
    if first is None:
        raise CheckpointError(f"{path}: no embedder.block1.conv.weight; not an IMPALA policy")
    inferred = first.shape[0] // 16
    if scale is not None and scale != inferred:
        raise CheckpointError(f"{path} has scale {inferred}, not {scale}")
    num_actions = state["fc_policy.weight"].shape[0] if "fc_policy.weight" in state else 15
    policy = ImpalaPolicy(scale=inferred, num_actions=num_actions)
    load_state_dict_into(policy, state, str(path))
    return policy.eval()
