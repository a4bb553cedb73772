"""Named hook points on a network, TransformerLens-style.

A :class:`HookPoint` is an identity module placed after an operation; its name is its
module path (``embedder.block2.res1.resadd_out``). A :class:`HookedModule` caches the
activations at any hook points (:meth:`~HookedModule.run_with_cache`) and patches them
with functions for the duration of a ``with`` block (:meth:`~HookedModule.hooks`).
Hooks are always removed on exit, exceptions included.

Example:
    >>> import torch
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> policy = ImpalaPolicy()
    >>> obs = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
    >>> logits, value, cache = policy.run_with_cache(obs, ["embedder.fc_out"])
    >>> tuple(cache["embedder.fc_out"].shape)
    (1, 256)
    >>> with policy.hooks({"embedder.relufc_out": lambda a: torch.zeros_like(a)}):
    ...     patched, _ = policy(obs)
    >>> bool((patched == policy.fc_policy.bias).all())
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

HookFn = Callable[[torch.Tensor], torch.Tensor | None]
"""``fn(activation) -> new activation``, or ``None`` to leave it unchanged."""


class UnknownHookPoint(KeyError, ValueError):
    """A hook point name the network does not have (a ``KeyError`` for lookups and a
    ``ValueError`` for bad input); its message names the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class HookPoint(nn.Identity):
    """An identity module marking a named activation; it has no parameters."""


class HookedModule(nn.Module):
    """A module whose :class:`HookPoint` submodules can be cached and patched by name.

    Subclasses return ``(logits, value)`` from ``forward`` and set ``input_shape`` (per
    sample) and ``input_dtype``: :meth:`hook_names` runs one forward pass on a blank input
    of that shape to measure the activations.
    """

    input_shape: tuple[int, ...]
    input_dtype: torch.dtype = torch.float32

    def __init__(self) -> None:
        super().__init__()
        self._hook_shapes: dict[str, tuple[int, ...]] | None = None

    @property
    def hook_points(self) -> dict[str, HookPoint]:
        """Every hook point by name (its module path), in registration order."""
        return {n: m for n, m in self.named_modules() if isinstance(m, HookPoint)}

    def check_hook_names(self, names: str | Iterable[str]) -> list[str]:
        """Return ``names`` (or one name) as a list; :class:`UnknownHookPoint` (a KeyError)
        naming the valid ones for any unknown.

        Example:
            >>> from mazepolicy.models.impala import ImpalaPolicy
            >>> ImpalaPolicy().check_hook_names(["embedder.fc_out"])
            ['embedder.fc_out']
        """
        names = [names] if isinstance(names, str) else list(names)  # one name, not its letters
        valid = list(self.hook_points)
        for name in names:
            if name not in valid:
                close = difflib.get_close_matches(str(name), valid, n=3)
                hint = f" Did you mean {close}?" if close else ""
                raise UnknownHookPoint(f"unknown hook point {name!r}.{hint} Valid names: "
                                       f"{valid}")
        return names

    def hook_names(self) -> dict[str, tuple[int, ...]]:
        """Hook names in forward order, each with its per-sample activation shape.

        Measured once with a forward pass on a blank input, then cached.

        Example:
            >>> from mazepolicy.models.impala import ImpalaPolicy
            >>> list(ImpalaPolicy().hook_names().items())[0]
            ('embedder.block1.conv_out', (16, 64, 64))
        """
        if self._hook_shapes is None:
            device = next(self.parameters()).device
            blank = torch.zeros((1, *self.input_shape), dtype=self.input_dtype, device=device)
            with torch.no_grad():
                _, _, cache = self.run_with_cache(blank)  # filled in forward order
            self._hook_shapes = {name: tuple(a.shape[1:]) for name, a in cache.items()}
        return dict(self._hook_shapes)

    @contextmanager
    def hooks(self, fns: dict[str, HookFn]) -> Iterator[None]:
        """Patch activations while the block runs.

        ``fns`` maps hook names to ``fn(activation) -> new activation or None``
        (``None`` keeps it); activations are batched, on the model's device. All names
        are checked before any hook is set. Nested blocks apply every hook, outer first.

        Example:
            >>> import torch
            >>> from mazepolicy.models.impala import ImpalaPolicy
            >>> policy = ImpalaPolicy()
            >>> obs = torch.zeros(2, 64, 64, 3, dtype=torch.uint8)
            >>> with policy.hooks({"fc_value_out": lambda v: v * 0 + 7}):
            ...     _, value = policy(obs)
            >>> value.tolist()
            [7.0, 7.0]
        """
        names = self.check_hook_names(fns)
        points = self.hook_points
        handles = []
        try:
            for name in names:
                handles.append(
                    points[name].register_forward_hook(
                        lambda module, inputs, output, fn=fns[name]: fn(output)
                    )
                )
            yield
        finally:
            for handle in handles:
                handle.remove()

    def run_with_cache(
        self, obs, names: str | Iterable[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``obs``; return (logits, value, {hook name: detached activation}).

        ``obs`` is whatever the module's ``forward`` takes (for :class:`ImpalaPolicy`,
        uint8 frames (N, 64, 64, 3) as a tensor or the env's numpy array).

        ``names=None`` caches every hook point. Hooks already set apply, so the cache
        holds patched activations.

        Example:
            >>> import torch
            >>> from mazepolicy.models.impala import ImpalaPolicy
            >>> obs = torch.zeros(3, 64, 64, 3, dtype=torch.uint8)
            >>> _, _, cache = ImpalaPolicy(scale=1).run_with_cache(obs)
            >>> tuple(cache["embedder.block2.res1.resadd_out"].shape)
            (3, 32, 16, 16)
        """
        names = list(self.hook_points) if names is None else self.check_hook_names(names)
        cache: dict[str, torch.Tensor] = {}

        def store(name: str) -> HookFn:
            def fn(activation: torch.Tensor) -> None:
                cache[name] = activation.detach()

            return fn

        with self.hooks({name: store(name) for name in names}):
            logits, value = self(obs)
        return logits, value, cache
