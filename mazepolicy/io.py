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


class OutputError(ValueError):
    """An output path that cannot be written (a user error: one line, no traceback)."""


def check_output_file(path: str | Path | None, option: str) -> Path | None:
    """Refuse, before any work, an output file ``option`` (e.g. ``"--json"``) that cannot
    be written: an empty name, an existing directory, or a path whose folder cannot be
    made or written. ``None`` (the option not given) passes through.

    Example:
        >>> check_output_file("", "--json")
        Traceback (most recent call last):
        ...
        mazepolicy.io.OutputError: --json: empty path
        >>> check_output_file(None, "--csv") is None
        True
    """
    if path is None:
        return None
    if not str(path).strip():
        raise OutputError(f"{option}: empty path")
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a directory; give a file path")
    _check_folder(path.parent, option, path)
    return path


def check_output_files(args, *options: str) -> None:
    """:func:`check_output_file` for each of the file ``options`` of parsed command-line
    ``args`` (``"json"`` is ``--json``), and refuse two options naming the same file (the
    second write would replace the first).

    Example:
        >>> from argparse import Namespace
        >>> check_output_files(Namespace(json="out/a", csv="out/./a"), "json", "csv")
        Traceback (most recent call last):
        ...
        mazepolicy.io.OutputError: --json and --csv both name out/a; give each its own file
    """
    seen: dict[Path, str] = {}
    for name in options:
        option = "--" + name.replace("_", "-")
        path = check_output_file(getattr(args, name), option)
        if path is None:
            continue
        key = Path(os.path.abspath(path))
        if key in seen:
            raise OutputError(f"{seen[key]} and {option} both name {os.path.normpath(path)}; "
                              "give each its own file")
        seen[key] = option


def check_output_dir(path: str | Path, option: str) -> Path:
    """Refuse, before any work, an output folder ``option`` (e.g. ``"--out"``) that is an
    existing file or cannot be made or written into.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "f"; f.write_text("")
        0
        >>> check_output_dir(f / "sub", "--out")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.io.OutputError: --out .../f/sub: .../f is a file, not a folder
    """
    if not str(path).strip():
        raise OutputError(f"{option}: empty path")
    path = Path(path)
    _check_folder(path, option, path)
    return path


def check_readable(path: str | Path | None, option: str) -> None:
    """Refuse, before any work, an input file ``option`` that cannot be read (``None``:
    not given)."""
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise ValueError(f"{option} {path}: cannot read it ({err.strerror or err})") from None


def _check_folder(folder: Path, option: str, target: Path) -> None:
    """``folder`` exists as a writable folder, or its nearest existing ancestor is one
    (the writers make the missing folders). Writability is tested by making a file,
    which also holds for root and read-only file systems."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{option} {target}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise OutputError(f"{option} {target}: cannot write in {existing} "
                          f"({err.strerror or err})") from None


def write_outputs(writers: dict[str | Path, Callable[[], object]]) -> None:
    """Call every writer (``{path: write}``), even after one fails, then raise one
    :class:`OutputError` naming each path that could not be written, so a late failure
    loses only that output.

    Example:
        >>> def fail(): raise PermissionError(13, "Permission denied")
        >>> write_outputs({"a.json": fail, "b.csv": lambda: None})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mazepolicy.io.OutputError: cannot write a.json (Permission denied); the other ...
    """
    failed = []
    for path, write in writers.items():
        try:
            write()
        except OSError as err:
            failed.append(f"{path} ({err.strerror or err})")
    if failed:
        rest = "; the other outputs were written" if len(failed) < len(writers) else ""
        raise OutputError(f"cannot write {', '.join(failed)}{rest}")
