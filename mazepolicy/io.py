"""Atomic file writes: a crash mid-write never leaves a truncated file behind."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows
    (``/proc/self/status``); elsewhere set and restored at once.

    Example:
        >>> old = os.umask(0o027)
        >>> current_umask() == 0o027
        True
        >>> _ = os.umask(old)
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_with(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temp_path)`` to fill a temporary file beside ``path``, then move it
    into place with ``os.replace``; returns ``path``. A failure (or crash) never leaves
    a truncated ``path``; the temporary file is removed if ``write`` raises.

    The file gets the mode a plain ``open(path, "w")`` would give it, ``0o666 & ~umask``
    (the temporary file starts as 0600), and is fsynced before the rename. The temporary
    name keeps ``path``'s suffix, so writers that pick a format by suffix still work.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> atomic_write_with(p, lambda tmp: pathlib.Path(tmp).write_text("hi")).read_text()
        'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename
    (see :func:`atomic_write_with`; the file's mode is ``0o666 & ~umask``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> atomic_write_bytes(p, b"hi"); p.read_bytes()
        b'hi'
    """
    atomic_write_with(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_dumps(obj, **kwargs) -> str:
    """``json.dumps`` writing NaN and infinities as ``null`` (valid JSON for any reader).

    Example:
        >>> json_dumps({"rate": float("nan"), "ci": (0.0, 1.0)})
        '{"rate": null, "ci": [0.0, 1.0]}'
    """
    return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
