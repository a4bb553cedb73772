"""The optional extras and the one-line error for a feature whose extra is missing.

``pip install mazepolicy`` gives the environments, placements, state editing, geometry,
the gymnasium adapters, scripted agents, the evaluator and drawing, with no torch.
Networks, training, steering, SAEs, the report and the Stable-Baselines3 adapters need
the ``torch`` extra (torch, stable-baselines3, safetensors, tensorboard); gymnasium's and
SB3's video recorders need ``video`` (moviepy); ``all`` is both.

Example:
    >>> missing_extra_message("steer", "torch")
    "steer needs the torch extra (torch is not installed): pip install 'mazepolicy[torch]'"
    >>> extra_of("stable_baselines3"), extra_of("numpy")
    ('torch', None)
"""

from __future__ import annotations

import importlib

EXTRAS = {
    "torch": ("torch", "stable_baselines3", "safetensors", "tensorboard"),
    "video": ("moviepy",),
}
"""Top-level modules each extra installs."""


class MissingExtra(ImportError):
    """A feature needs an extra that is not installed; the message says which and how."""


def extra_of(module: str | None) -> str | None:
    """The extra that installs top-level module ``module``, or None.

    Example:
        >>> extra_of("torch.nn")
        'torch'
    """
    top = (module or "").split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if top in modules), None)


def missing_extra_message(feature: str, module: str) -> str:
    """One line: what needs which extra, and the pip command that installs it."""
    extra = extra_of(module)
    return (f"{feature} needs the {extra} extra ({module.split('.')[0]} is not installed): "
            f"pip install 'mazepolicy[{extra}]'")


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` naming ``feature`` unless every module of ``extra``
    that it needs first (its first module: torch, moviepy) is importable."""
    module = EXTRAS[extra][0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        raise MissingExtra(missing_extra_message(feature, module)) from None
