"""Policy checkpoints: weights in safetensors plus a JSON model card; no pickle.

``save_policy(policy, "run/policy.safetensors", card)`` writes the weights and
``run/policy.json`` (the card: architecture, scale, num_actions, the weights' SHA-256 and
whatever the caller records: env variant, steps, metrics, git sha). Each file is written
atomically (a temporary file in the same folder, fsync, ``os.replace``). ``load_policy``
checks everything, the weights' bytes against the card's checksum included, and raises
:class:`CheckpointError` for a missing, corrupt or mismatched file.
``load_research_checkpoint`` reads the research code's ``.pth`` files safely.

Example:
    >>> import tempfile, pathlib
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "policy.safetensors"
    >>> save_policy(ImpalaPolicy(scale=1), path, {"env": "maze-topright-5", "steps": 0})
    >>> policy, card = load_policy(path)
    >>> card["architecture"], card["scale"], card["env"]
    ('impala', 1, 'maze-topright-5')
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from mazepolicy.io import atomic_write_bytes, atomic_write_text, json_dumps
from mazepolicy.models.devices import resolve_device
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.resources import checkpoint_path, shipped_checkpoints

ARCHITECTURE = "impala"
CHECKSUM = "weights_sha256"  # card field: SHA-256 of the weights file's bytes
FIRST_CONV = "embedder.block1.conv.weight"  # (16 * scale, 3, 3, 3)
POLICY_HEAD = "fc_policy.weight"  # (num_actions, 256)


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not match its card."""


def _positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number_or_null(v) -> bool:  # non-finite floats are written as null
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _sha256(v) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


# The card fields this package reads or writes, each with its check and what it must
# be. ``architecture``, ``scale`` and ``num_actions`` are required; the others may be
# absent; any other field is the caller's own and is kept unchecked.
REQUIRED_CARD_KEYS = ("architecture", "scale", "num_actions")
CARD_SCHEMA = {
    "architecture": (lambda v: v == ARCHITECTURE, f"the string {ARCHITECTURE!r}"),
    "scale": (_positive_int, "an int >= 1"),
    "num_actions": (_positive_int, "an int >= 1"),
    CHECKSUM: (_sha256, "a SHA-256 hex digest (64 lowercase hex digits)"),
    "config": (lambda v: isinstance(v, dict), "an object (dict)"),
    "eval": (lambda v: v is None or isinstance(v, dict), "an object (dict) or null"),
    "evaluation": (lambda v: v is None or isinstance(v, dict), "an object (dict) or null"),
    "env": (lambda v: isinstance(v, str), "a string"),
    "name": (lambda v: isinstance(v, str), "a string"),
    "trainer": (lambda v: isinstance(v, str), "a string"),
    "status": (lambda v: isinstance(v, str), "a string"),
    "git_sha": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "global_step": (_count, "an int >= 0"),
    "iteration": (_count, "an int >= 0"),
    "train_seconds": (_number_or_null, "a number or null"),
    "sps": (_number_or_null, "a number or null"),
    "lineage": (lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
                "a list of objects"),
}


def check_card(card, where: str = "model card") -> dict:
    """``card`` if it obeys :data:`CARD_SCHEMA` (required keys present, every known key
    of the right type); :class:`CheckpointError` naming the first bad key otherwise.

    Example:
        >>> check_card({"architecture": "impala", "scale": 1, "num_actions": 15})["scale"]
        1
        >>> bad = {"architecture": "impala", "scale": 1, "num_actions": 15, "config": 5}
        >>> check_card(bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.models.checkpoint.CheckpointError: model card: bad config 5: must be an ...
    """
    if not isinstance(card, dict):
        raise CheckpointError(f"{where} does not describe an {ARCHITECTURE} policy "
                              f"(a JSON {type(card).__name__}, not an object)")
    missing = [key for key in REQUIRED_CARD_KEYS if key not in card]
    if missing:
        raise CheckpointError(f"{where} lacks the required keys {missing}")
    if card["architecture"] != ARCHITECTURE:
        raise CheckpointError(f"{where} does not describe an {ARCHITECTURE} policy "
                              f"(architecture {card['architecture']!r})"[:300])
    for key, (ok, expected) in CARD_SCHEMA.items():
        if key in card and not ok(card[key]):
            raise CheckpointError(f"{where}: bad {key} {card[key]!r}: must be {expected}"[:300])
    return card


def read_file_bytes(path: Path, what: str) -> bytes:
    """The bytes of ``path``; a missing or unreadable file is a :class:`CheckpointError`
    that calls it ``what``.

    Example:
        >>> read_file_bytes(Path("gone.safetensors"), "weights file")
        Traceback (most recent call last):
        ...
        mazepolicy.models.checkpoint.CheckpointError: weights file gone.safetensors is missing
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{what} {path} is missing") from None
    except OSError as err:
        raise CheckpointError(f"{what} {path} is unreadable: {err}") from None


def card_path(weights_path: str | Path) -> Path:
    """The JSON card beside a weights file: same stem, ``.json``.

    Example:
        >>> card_path("runs/a/policy.safetensors").as_posix()
        'runs/a/policy.json'
    """
    return Path(weights_path).with_suffix(".json")


def git_sha(repo: str | Path | None = None) -> str | None:
    """The HEAD commit of the git checkout holding ``repo`` (default: this package's
    source), or None outside a checkout or without git.

    Example:
        >>> import tempfile
        >>> git_sha(tempfile.gettempdir()) is None
        True
    """
    where = Path(repo) if repo is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def _json_default(obj: Any) -> Any:
    """Card values json can't write by itself: numpy scalars/arrays, tensors, paths."""
    if isinstance(obj, np.generic | np.ndarray | torch.Tensor):
        return json.loads(json_dumps(obj.tolist()))  # plain values, non-finite ones as None
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"model card value {obj!r} ({type(obj).__name__}) is not JSON-serialisable")


def save_policy(policy: ImpalaPolicy, path: str | Path, card: dict | None = None) -> None:
    """Write ``policy``'s weights to ``path`` (``.safetensors``) and its card beside it.

    The card gets ``architecture``, ``scale`` and ``num_actions`` added to the caller's
    fields (a caller's value contradicting the policy is a ``ValueError``), and
    ``weights_sha256``, which :func:`load_policy` checks (a caller's old one, e.g. from a
    loaded card, is replaced). Non-finite floats are written as ``null`` (valid JSON).
    The card is serialised before anything is written, so a bad card leaves no files
    behind.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.safetensors"
        >>> save_policy(ImpalaPolicy(), path, {"steps": 10})
        >>> sorted(p.name for p in path.parent.iterdir())
        ['p.json', 'p.safetensors']
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights path must end in .safetensors, got {path}")
    own = {"architecture": ARCHITECTURE, "scale": policy.scale, "num_actions": policy.num_actions}
    card = dict(card or {})
    for key, value in own.items():
        if card.get(key, value) != value:
            raise ValueError(f"card says {key}={card[key]!r}, the policy has {value!r}")
    text = json_dumps({**card, **own}, default=_json_default)  # fail before writing anything
    try:
        check_card({**json.loads(text), CHECKSUM: "0" * 64}, "card")
    except CheckpointError as err:
        raise ValueError(str(err)) from None
    tensors = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    blob = save_safetensors_bytes(tensors, metadata={"format": "pt"})
    own[CHECKSUM] = hashlib.sha256(blob).hexdigest()
    text = json_dumps({**card, **own}, indent=2, sort_keys=True, default=_json_default)
    atomic_write_bytes(path, blob)
    atomic_write_text(card_path(path), text)


def read_card(path: str | Path) -> dict:
    """The model card of the weights at ``path``; CheckpointError if missing or invalid.

    Example:
        >>> read_card("/nonexistent/policy.safetensors")
        Traceback (most recent call last):
        ...
        mazepolicy.models.checkpoint.CheckpointError: model card /nonexistent/policy.json is missing
    """
    cpath = card_path(_weights_path(path))
    try:
        card = json.loads(cpath.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"model card {cpath} is missing") from None
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON
        raise CheckpointError(f"model card {cpath} is not valid JSON: {err}") from None
    return check_card(card, f"model card {cpath}")


def _weights_path(path: str | Path) -> Path:
    """``path`` as the weights file's path: a shipped checkpoint's name (a ``str``, e.g.
    ``"maze-topright-5_impala-s1"``) is its file in :mod:`mazepolicy.resources`; the
    card's own path (``.json``) is refused with a message saying which file to pass."""
    if isinstance(path, str) and path in shipped_checkpoints():
        return checkpoint_path(path)
    path = Path(path)
    if path.suffix == ".json":
        raise CheckpointError(
            f"{path} is a model card; pass the weights file "
            f"{path.with_suffix('.safetensors')} (the card is read from beside it)"
        )
    return path


def _infer_shape(state: dict, source: str) -> tuple[int, int]:
    """(scale, num_actions) of an IMPALA state dict, from its first conv and policy head."""
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: {key} is a {type(value).__name__}, not a tensor")
    first, head = state.get(FIRST_CONV), state.get(POLICY_HEAD)
    if first is None or head is None:
        raise CheckpointError(f"{source}: no {FIRST_CONV} or {POLICY_HEAD}; not an IMPALA policy")
    if first.ndim != 4 or first.shape[0] < 16 or first.shape[0] % 16 or head.ndim != 2:
        raise CheckpointError(
            f"{source}: {FIRST_CONV} has shape {tuple(first.shape)} and {POLICY_HEAD} "
            f"{tuple(head.shape)}; expected (16 * scale, 3, 3, 3) and (num_actions, 256)"
        )
    if head.shape[0] < 1:
        raise CheckpointError(f"{source}: {POLICY_HEAD} has no actions")
    return first.shape[0] // 16, head.shape[0]


def _build(
    state: dict, scale: int, num_actions: int, source: str, device: str | torch.device
) -> ImpalaPolicy:
    """A policy on ``device`` with a copy of ``state``, after strict key, shape and dtype
    checks. Built on the meta device, so no time goes into initialising weights."""
    with torch.device("meta"):
        policy = ImpalaPolicy(scale=scale, num_actions=num_actions)
    expected = policy.state_dict()  # meta tensors: shapes only
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{source}: missing keys {missing}, unexpected keys {extra}")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(value.shape)}, "
                f"expected {tuple(expected[key].shape)} for scale {scale}"
            )
        if value.dtype != torch.float32:
            raise CheckpointError(f"{source}: {key} has dtype {value.dtype}, expected float32")
        if not torch.isfinite(value).all():  # checked with or without a card checksum
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{source}: {key} holds {bad} non-finite values (NaN or inf)")
    policy.to_empty(device=resolve_device(device)).load_state_dict(state, strict=True)
    return policy.eval()


def load_policy(path: str | Path, device: str | torch.device = "cpu") -> tuple[ImpalaPolicy, dict]:
    """Load a policy saved by :func:`save_policy`: (policy in eval mode on ``device``, card).

    ``path`` is the ``.safetensors`` weights file (its card is the ``.json`` beside it;
    passing the card's path is an error saying so), or the name of a shipped checkpoint
    (``load_policy("maze-topright-5_impala-s1")``, read from the installed package).

    Raises:
        CheckpointError: missing weights file (named as such), missing card or one that
            breaks :data:`CARD_SCHEMA`, corrupt weights, weights whose SHA-256 differs
            from the card's (checked when the card has one; cards written before it was
            added have none), non-finite weights (always refused, so a card without a
            checksum cannot bring in NaN weights), weights that do not match the card,
            missing/extra keys, wrong shapes or dtypes.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.safetensors"
        >>> save_policy(ImpalaPolicy(scale=1), path, {"note": "demo"})
        >>> policy, card = load_policy(path)
        >>> policy.scale, card["note"], policy.training
        (1, 'demo', False)
    """
    path = _weights_path(path)
    blob = read_file_bytes(path, "weights file")  # first: a missing one is named as such
    card = read_card(path)
    if CHECKSUM in card and hashlib.sha256(blob).hexdigest() != card[CHECKSUM]:
        raise CheckpointError(
            f"weights file {path} is corrupt or not the one its card describes: "
            f"its SHA-256 differs from the card's {CHECKSUM}"
        )
    try:
        state = load_safetensors_bytes(blob)
    except (SafetensorError, ValueError) as err:
        raise CheckpointError(f"weights file {path} is corrupt: {err}") from None
    scale, num_actions = _infer_shape(state, str(path))
    if (scale, num_actions) != (card["scale"], card["num_actions"]):
        raise CheckpointError(
            f"{path}: card says scale {card['scale']}, {card['num_actions']} actions; "
            f"the weights have scale {scale}, {num_actions} actions (shape mismatch)"
        )
    return _build(state, scale, num_actions, str(path), device), card


def load_research_checkpoint(
    path: str | Path, scale: int | None = None, device: str | torch.device = "cpu"
) -> ImpalaPolicy:
    """Load a research-code ``.pth`` (a dict with ``model_state_dict``), safely.

    Read with ``torch.load(weights_only=True)``, which refuses arbitrary pickled objects.
    The scale is inferred from the first conv's output channels (16 * scale); a given
    ``scale`` that disagrees is a :class:`CheckpointError`, as is any unreadable file.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model_200015872.pth"
        >>> torch.save({"model_state_dict": ImpalaPolicy(scale=1).state_dict()}, path)
        >>> load_research_checkpoint(path).scale
        1
    """
    try:
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} is missing") from None
    except Exception as err:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(f"cannot read research checkpoint {path}: {err}") from None
    state = data.get("model_state_dict") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no 'model_state_dict' dict")
    inferred, num_actions = _infer_shape(state, str(path))
    if scale is not None and scale != inferred:
        raise CheckpointError(f"{path} has scale {inferred}, not {scale}")
    return _build(dict(state), inferred, num_actions, str(path), device)
