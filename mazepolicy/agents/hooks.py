"""Named hook points on a network, TransformerLens-style.

A :class:`HookPoint` is an identity module placed after an operation; its name is its
module path (``embedder.block2.res1.resadd_out``). A :class:`HookedModule` can cache
the activations at any hook points, and patch them with functions for the duration of a
``with`` block. Hooks are always removed, exceptions included.

Example:
    >>> import torch
    >>> from mazepolicy.agents.impala import ImpalaPolicy
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


class HookPoint(nn.Identity):
    """An identity module marking a named activation; ``name`` is set by its owner."""

    name: str = ""


class HookedModule(nn.Module):
    """A module whose :class:`HookPoint` submodules can be cached and patched by name."""

    def setup_hooks(self) -> None:
        """Name every hook point after its module path; call at the end of ``__init__``."""
        self._hook_points: dict[str, HookPoint] = {}
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name
                self._hook_points[name] = module

    @property
    def hook_points(self) -> dict[str, HookPoint]:
        return dict(self._hook_points)

    def check_hook_names(self, names: Iterable[str]) -> list[str]:
        """Return ``names`` as a list; ``KeyError`` naming the valid ones for any unknown."""
        names = list(names)
        for name in names:
            if name not in self._hook_points:
                close = difflib.get_close_matches(name, self._hook_points, n=3)
                hint = f" Did you mean {close}?" if close else ""
                raise KeyError(
                    f"unknown hook point {name!r}.{hint} Valid names: {list(self._hook_points)}"
                )
        return names

    def hook_names(self) -> dict[str, tuple[int, ...]]:
        """Hook names in forward order, each with its per-sample activation shape."""
        param = next(self.parameters())
        obs = torch.zeros((1, *self.input_shape), dtype=torch.uint8, device=param.device)
        order: list[str] = []
        shapes: dict[str, tuple[int, ...]] = {}

        def record(module, inputs, output):
            order.append(module.name)
            shapes[module.name] = tuple(output.shape[1:])

        handles = [p.register_forward_hook(record) for p in self._hook_points.values()]
        try:
            with torch.no_grad():
                self(obs)
        finally:
            for h in handles:
                h.remove()
        return {name: shapes[name] for name in order}

    @contextmanager
    def hooks(self, fns: dict[str, HookFn]) -> Iterator[None]:
        """Patch activations while the block runs: ``fn(activation)`` returns the new
        activation, or ``None`` to keep it. Several names at once; nesting applies both.

        Example:
            >>> import torch
            >>> from mazepolicy.agents.impala import ImpalaPolicy
            >>> policy = ImpalaPolicy()
            >>> with policy.hooks({"embedder.fc_out": lambda a: a * 0}):
            ...     pass
        """
        names = self.check_hook_names(fns)
        handles = []
        try:
            for name in names:
                fn = fns[name]
                handles.append(
                    self._hook_points[name].register_forward_hook(
                        lambda module, inputs, output, fn=fn: fn(output)
                    )
                )
            yield
        finally:
            for h in handles:
                h.remove()

    def run_with_cache(
        self, obs: torch.Tensor, names: Iterable[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``obs`` and return (logits, value, {hook name: activation}).

        ``names=None`` caches every hook point. Activations are detached.
        """
        names = list(self._hook_points) if names is None else self.check_hook_names(names)
        cache: dict[str, torch.Tensor] = {}

        def store(name):
            def fn(activation):
                cache[name] = activation.detach()

            return fn

        with self.hooks({name: store(name) for name in names}):
            logits, value = self(obs)
        return logits, value, cache
