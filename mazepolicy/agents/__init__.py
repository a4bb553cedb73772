"""Agents: anything with ``act(obs, env) -> actions`` (:class:`Agent`): scripted agents
with known behaviour, a network agent, and a steered network agent.

Example:
    >>> from mazepolicy.agents import make_agent
    >>> make_agent("cheese-walker").name
    'cheese-walker'
"""

from mazepolicy.agents.policy import PolicyAgent, make_agent
from mazepolicy.agents.protocols import Agent
from mazepolicy.agents.scripted import CheeseWalker, RandomAgent, TopRightWalker
from mazepolicy.agents.steered import SteeredAgent

__all__ = [
    "Agent",
    "CheeseWalker",
    "PolicyAgent",
    "RandomAgent",
    "SteeredAgent",
    "TopRightWalker",
    "make_agent",
]
