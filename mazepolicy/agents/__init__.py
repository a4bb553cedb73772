"""Agents: anything with ``act(obs, env) -> actions`` (:class:`Agent`): scripted agents
with known behaviour, a network agent, and a steered network agent.

The scripted agents and :func:`make_agent` for them need no torch; the network agents
need the ``torch`` extra. Names are imported on first use (PEP 562).

Example:
    >>> from mazepolicy.agents import make_agent
    >>> make_agent("cheese-walker").name
    'cheese-walker'
"""

import importlib

_EXPORTS = {
    "factory": ("make_agent",),
    "policy": ("PolicyAgent",),
    "protocols": ("Agent",),
    "scripted": ("CheeseWalker", "RandomAgent", "TopRightWalker"),
    "steered": ("SteeredAgent",),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name in _SOURCE:
        value = getattr(importlib.import_module(f"{__name__}.{_SOURCE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCE))


__all__ = [
    "Agent",
    "CheeseWalker",
    "PolicyAgent",
    "RandomAgent",
    "SteeredAgent",
    "TopRightWalker",
    "make_agent",
]
