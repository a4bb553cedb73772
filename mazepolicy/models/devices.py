"""Which torch device a name means on this machine, checked before anything runs on it."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str | torch.device) -> torch.device:
    """``"auto"`` -> this rank's GPU if there is one, else the CPU; ``"cuda"`` -> this
    rank's GPU (``cuda:LOCAL_RANK``); ``"cuda:N"`` and ``"cpu"`` as given. ``ValueError``
    for a name torch does not know or a GPU this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("gpu")
        Traceback (most recent call last):
        ValueError: unknown device 'gpu': use auto, cpu, cuda or cuda:N
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but this torch sees no CUDA GPU")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if device.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} asked for, but this machine has "
                             f"{torch.cuda.device_count()} GPU(s)")
    return device
