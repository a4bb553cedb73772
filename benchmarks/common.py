"""What the torch benchmarks share: device sync for timing, the machine record, JSON out."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    """Wait for a GPU's queued work, so a timer reads finished work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def machine(device: torch.device | str) -> dict:
    """Where and when a benchmark ran (load average included: a busy machine says so)."""
    return {"platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": str(device),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "load_average": os.getloadavg(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def write_json(path: str | None, result: dict) -> None:
    """Write ``result`` to ``path`` (folders made); nothing without a path."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2))
