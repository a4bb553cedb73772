"""Agents: anything with ``act(obs, env) -> actions`` (:class:`Agent`): scripted agents
with known behaviour, a network agent, and a steered network agent.

The scripted agents and :func:`make_agent` for them need no torch; the network agents
need the ``torch`` extra. Names are imported on first use (PEP 562).

Example:
    >>> from mazepolicy.agents import make_agent
    >>> make_agent("cheese-walker").name
    'cheese-walker'
"""

from mazepolicy.lazy import lazy_exports

_EXPORTS = {
    "factory": ("make_agent",),
    "policy": ("PolicyAgent",),
    "protocols": ("Agent",),
    "scripted": ("CheeseWalker", "RandomAgent", "TopRightWalker"),
    "steered": ("SteeredAgent",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "Agent",
    "CheeseWalker",
    "PolicyAgent",
    "RandomAgent",
    "SteeredAgent",
    "TopRightWalker",
    "make_agent",
]
