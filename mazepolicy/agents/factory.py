"""Agents by name, without torch for the scripted ones: :func:`make_agent` and the
checkpoint files behind shipped names (:func:`checkpoint_file`).

Example:
    >>> make_agent("cheese-walker").name
    'cheese-walker'
"""

from __future__ import annotations

from pathlib import Path

from mazepolicy.agents.protocols import Agent
from mazepolicy.agents.scripted import SCRIPTED_AGENTS, make_scripted_agent
from mazepolicy.extras import require
from mazepolicy.resources import checkpoint_path, shipped_checkpoints


def make_agent(spec: str, device: str = "cpu", greedy: bool = False, seed: int = 0) -> Agent:
    """A scripted agent by name (``cheese-walker``, ``top-right-walker``, ``random``), or a
    :class:`PolicyAgent` for a shipped checkpoint by name (``checkpoints/<name>``) or the
    checkpoint at path ``spec`` (``*.safetensors``). ``greedy`` applies to networks only
    (``ValueError`` for a scripted agent).

    Example:
        >>> make_agent("top-right-walker").name
        'top-right-walker'
    """
    if spec in SCRIPTED_AGENTS:
        if greedy:
            raise ValueError(f"--greedy: {spec} is a scripted agent, which has no action "
                             "probabilities to take the most likely of")
        return make_scripted_agent(spec, seed=seed)
    path = checkpoint_file(spec)
    require("torch", f"the network policy {spec!r}")
    from mazepolicy.agents.policy import PolicyAgent
    from mazepolicy.models.checkpoint import load_policy

    policy, _ = load_policy(path, device=device)
    return PolicyAgent(policy, greedy=greedy, seed=seed, name=path.stem)


def checkpoint_file(spec: str) -> Path:
    """The weights file of a shipped checkpoint name or a ``*.safetensors`` path; a clear
    ``ValueError`` for anything else (a scripted agent: it has no network).

    Example:
        >>> checkpoint_file("maze-topright-5-easy_impala-s1").name
        'maze-topright-5-easy_impala-s1.safetensors'
    """
    path = Path(spec)
    if path.suffix == ".safetensors":
        return path
    if spec in SCRIPTED_AGENTS:
        raise ValueError(f"--policy {spec} is a scripted agent: this needs a network")
    if spec not in shipped_checkpoints():
        raise ValueError(
            f"policy {spec!r} is neither a scripted agent {sorted(SCRIPTED_AGENTS)}, "
            f"a shipped checkpoint {shipped_checkpoints()} nor a .safetensors file"
        )
    return checkpoint_path(spec)
