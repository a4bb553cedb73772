"""A training run's directory, the same for every algorithm:

    policy.safetensors, policy.json   the latest checkpointed policy and its card
    checkpoints/<name>/               the last two full checkpoints (each trainer
                                      decides their files: policy, optimizer, state)
    checkpoints/latest                name of the newest complete checkpoint, written
                                      last: the commit point of a checkpoint
    tb/                               TensorBoard
    metrics.jsonl, eval.jsonl         one JSON row per logged step / per evaluation
    summary.json                      the final summary
    .writer.lock                      held (flock) by the one process writing the run

A kill at any moment leaves the previous complete checkpoint in place; on resume, log
rows (and TensorBoard events) written after it are dropped, so the logs read as one run.

One writer: a trainer claims the directory (:meth:`~RunDirectory.claim`) before it
reads or writes anything there, with an exclusive ``flock`` on ``.writer.lock`` (holding the
writer's pid and command line). A second process is refused with
:class:`RunDirectoryInUse` naming the first. The operating system drops the lock when its
process ends, however it ends (a SIGKILL included), so a stale lock file never blocks a
``--resume``. A run directory also belongs to one algorithm: claiming one whose latest
checkpoint another trainer wrote is refused, naming that trainer.

Example:
    >>> import tempfile
    >>> run = RunDirectory(tempfile.mkdtemp())
    >>> run.latest_checkpoint() is None
    True
    >>> path = run.checkpoint_path(3); path.mkdir(parents=True)
    >>> run.commit_checkpoint(path); run.latest_checkpoint().name
    'iter-000003'
    >>> run.claim("mazepolicy-ppo", resume=True).name
    'iter-000003'
    >>> RunDirectory(run.root).claim("mazepolicy-ppo", resume=True)
    Traceback (most recent call last):
    ...
    mazepolicy.train.common.run_dir.RunDirectoryInUse: ... is being written by process ...
    >>> run.close()
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from pathlib import Path

from safetensors import SafetensorError

from mazepolicy.agents.policy import weights_sha256
from mazepolicy.io import atomic_write_text, json_dumps
from mazepolicy.models.checkpoint import CheckpointError, load_policy, read_file_bytes

KEEP_CHECKPOINTS = 2
LOGS = ("metrics.jsonl", "eval.jsonl")
LOCK_FILE = ".writer.lock"
RECIPES = {"mazepolicy-dagger": "a dagger-* recipe", "mazepolicy-ppo": "a ppo-* recipe"}


class RunDirectoryInUse(FileExistsError):
    """Another process is writing this run directory."""


class RunDirectory:
    """Paths, checkpoint bookkeeping and logs of one run directory ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.writer = None  # TensorBoard SummaryWriter, once open_logs() ran
        self._lock = None  # the open lock file while this process is the writer

    def claim(self, trainer: str, resume: bool, exclusive: bool = True) -> Path | None:
        """Become the directory's one writer (made if missing) for ``trainer`` (the
        card's ``trainer`` name, e.g. "mazepolicy-dagger"), and return the checkpoint to
        resume from (None for a new run); see the module docstring. ``exclusive=False``
        checks without locking (data-parallel ranks beside the one that writes).

        Raises :class:`RunDirectoryInUse` if another process writes it,
        ``FileExistsError`` for a new run in a directory that holds one,
        ``FileNotFoundError`` for ``resume`` without a checkpoint, ``ValueError`` if the
        latest checkpoint is another trainer's. A refused claim holds nothing."""
        if resume and self.latest_checkpoint() is None:  # before the lock makes the dir
            raise self._nothing_to_resume()
        if exclusive:
            self._lock_directory()
        try:
            latest = self.latest_checkpoint()
            if latest is not None and not resume:
                raise FileExistsError(f"{self.root} already holds a run; resume it or pick "
                                      "another out dir")
            if latest is None and resume:  # removed while the lock was taken
                raise self._nothing_to_resume()
            if latest is not None:
                self._check_trainer(latest, trainer)
        except (FileExistsError, FileNotFoundError, ValueError):
            self.close()
            raise
        return latest

    def _nothing_to_resume(self) -> FileNotFoundError:
        return FileNotFoundError(f"no checkpoint to resume in {self.root}; drop --resume to "
                                 "start a new run there")

    def _lock_directory(self) -> None:
        """Take the exclusive lock, or raise :class:`RunDirectoryInUse` naming its holder."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / LOCK_FILE, "a+")  # noqa: SIM115  (held until close())
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunDirectoryInUse(f"{self.root} is being written by {holder}; one writer "
                                    "per run directory: wait for it or stop it") from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(f"process {os.getpid()} ({' '.join(sys.argv)}), since {started}\n")
        handle.flush()
        self._lock = handle

    def _check_trainer(self, latest: Path, trainer: str) -> None:
        """``ValueError`` if checkpoint ``latest``'s card names another trainer (an
        unreadable card is left to the trainer's own checks, which name the file)."""
        try:
            owner = json.loads((latest / "policy.json").read_text()).get("trainer")
        except (AttributeError, OSError, ValueError, TypeError):
            return
        if isinstance(owner, str) and owner != trainer:
            recipe = RECIPES.get(owner, f"{owner}'s recipes")
            raise ValueError(f"{self.root} holds a run of {owner}, not {trainer}: resume it "
                             f"with {recipe}, or pick another out dir")

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint's directory, or None."""
        pointer = self.checkpoints / "latest"
        if not pointer.exists():
            return None
        return self.checkpoints / pointer.read_text().strip()

    def checkpoint_path(self, index: int) -> Path:
        """Where checkpoint number ``index`` (an iteration or round) is written."""
        return self.checkpoints / f"iter-{index:06d}"

    def commit_checkpoint(self, path: Path) -> None:
        """Point ``checkpoints/latest`` at the complete checkpoint ``path``, then delete
        all but the newest ``KEEP_CHECKPOINTS``."""
        atomic_write_text(self.checkpoints / "latest", path.name)
        for old in sorted(self.checkpoints.glob("iter-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old)

    # --------------------------------------------------------------------------- logs
    def open_logs(self, index_key: str, index: int, global_step: int) -> None:
        """Open TensorBoard and the JSONL logs, dropping rows whose ``index_key`` is past
        ``index`` (the checkpoint resumed from) and events past ``global_step``."""
        from torch.utils.tensorboard import SummaryWriter

        for name in LOGS:
            path = self.root / name
            if path.exists():
                rows = [line for line in path.read_text().splitlines()
                        if json.loads(line)[index_key] <= index]
                atomic_write_text(path, "".join(f"{row}\n" for row in rows))
        purge = global_step + 1 if global_step else None  # events after the checkpoint
        self.writer = SummaryWriter(str(self.root / "tb"), purge_step=purge)

    def append(self, name: str, row: dict) -> None:
        """Append one JSON row to the log ``name``."""
        with open(self.root / name, "a") as f:
            f.write(json_dumps(row) + "\n")

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        """TensorBoard scalars ``prefix/key`` for the numeric entries of ``values``."""
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def write_summary(self, summary: dict) -> None:
        atomic_write_text(self.root / "summary.json", json_dumps(summary, indent=2))
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Close TensorBoard and give up the directory (see :meth:`claim`)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases its flock
            self._lock = None


def read_checkpoint_file(path: Path, parse):
    """``parse(bytes of path)``; a missing, unreadable or corrupt file raises
    :class:`CheckpointError` naming it."""
    blob = read_file_bytes(path, "checkpoint file")
    try:
        return parse(blob)
    except (ValueError, SafetensorError) as err:  # JSONDecodeError is a ValueError
        raise CheckpointError(f"checkpoint file {path} is corrupt: {err}") from None


def require_entries(found, names, path: Path) -> None:
    """Raise :class:`CheckpointError` naming ``path`` unless ``found`` holds ``names``."""
    missing = sorted(set(names) - set(found if isinstance(found, dict) else {}))
    if missing:
        raise CheckpointError(f"checkpoint file {path} is corrupt: it lacks {missing}")


def optimizer_tensors(optimizer) -> dict:
    """An optimizer's per-parameter state as flat tensors ``"<param index>.<key>"``."""
    return {f"{index}.{key}": value.detach().cpu().contiguous()
            for index, state in optimizer.state_dict()["state"].items()
            for key, value in state.items()}


def load_optimizer_tensors(optimizer, tensors: dict, keys: tuple[str, ...], path: Path) -> None:
    """Restore :func:`optimizer_tensors` (each parameter must have every one of ``keys``,
    e.g. Adam's step, exp_avg, exp_avg_sq); the param groups (lr, ...) stay as they are."""
    count = len(optimizer.state_dict()["param_groups"][0]["params"])
    require_entries(tensors, [f"{i}.{k}" for i in range(count) for k in keys], path)
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


LINEAGE_FIELDS = ("name", "trainer", "env", "rounds", "frames", "iteration", "global_step",
                  "updates", "train_seconds", "git_sha")


def load_init(path: str, scale: int) -> tuple[dict, list[dict]]:
    """The state dict of the checkpoint ``path`` a run starts from (``init``), and the
    run's lineage: the init card's own ``lineage`` (oldest first) plus one entry for
    the init weights (their path, SHA-256 and the card's counts), so a card says what
    every run before it cost. ``ValueError`` if its scale is not the run's ``scale``."""
    policy, card = load_policy(path)
    if policy.scale != scale:
        raise ValueError(f"init {path} has scale {policy.scale}, the config {scale}")
    return policy.state_dict(), [*card.get("lineage", []), lineage_entry(path, card)]


def lineage_entry(weights: str | Path, card: dict) -> dict:
    """One run in a lineage: its ``weights`` path and SHA-256, and the counts of their
    ``card`` (:data:`LINEAGE_FIELDS` that it has)."""
    return {"weights": str(weights), "weights_sha256": weights_sha256(str(weights)),
            **{k: card[k] for k in LINEAGE_FIELDS if k in card}}
