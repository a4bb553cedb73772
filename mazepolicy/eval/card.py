"""The evaluation a shipped checkpoint's card records: the policy and a uniformly random
agent on the same seeded mazes of each variant, with Wilson 95% intervals and the paired
(McNemar) comparison of their cheese rates; optionally the policy again with greedy
(most likely) actions on the same mazes.

Example:
    >>> from mazepolicy.agents.scripted import make_scripted_agent
    >>> result = card_evaluation(make_scripted_agent("cheese-walker"),
    ...                          ["maze-anywhere-easy"], episodes=4, progress=False)
    >>> entry = result["maze-anywhere-easy"]
    >>> entry["policy"]["cheese_rate"], entry["level_seeds"]
    (1.0, [0, 3])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mazepolicy.agents.protocols import Agent
from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.eval.stats import paired_comparison

SUMMARY_KEYS = ("episodes", "cheese_rate", "cheese_ci", "top_right_rate", "top_right_ci",
                "eligible_episodes", "misgeneralization_rate", "misgeneralization_ci",
                "eligible_cheese_rate", "eligible_cheese_ci", "timeout_rate", "mean_steps")


def card_evaluation(agent: Agent, variants: Sequence[str], episodes: int, seed: int = 0,
                    max_steps: int = 500, num_envs: int = 64, progress: bool = True,
                    training_mazes: Iterable[int] = (),
                    greedy_agent: Agent | None = None) -> dict:
    """Per variant name: the agent's and a random agent's outcome rates on level seeds
    ``seed .. seed + episodes - 1``, ``cheese_vs_random`` (paired comparison, random as
    A) and ``training_mazes_among_them``: how many of those seeds are in
    ``training_mazes`` (the level seeds a run trained on, where it logs them). With
    ``greedy_agent`` (the same policy taking its most likely action), also
    ``policy_greedy``: its rates on the same mazes."""
    seen = set(training_mazes)
    out = {}
    for name in variants:
        settings = dict(episodes=episodes, seed=seed, max_steps=max_steps,
                        num_envs=num_envs, progress=progress)
        mine = evaluate(agent, name, **settings)
        rand = evaluate(make_scripted_agent("random", seed=seed), name, **settings)
        compared = paired_comparison([e.reached_cheese for e in rand.episodes],
                                     [e.reached_cheese for e in mine.episodes])
        out[name] = {
            "level_seeds": [seed, seed + episodes - 1],
            "max_steps": max_steps,
            "sampled_actions": not getattr(agent, "greedy", False),
            "policy": _summary(mine),
            "random_agent": _summary(rand),
            "cheese_vs_random": compared.to_dict(),
            "training_mazes_among_them": sum(s in seen for s in range(seed, seed + episodes)),
        }
        if greedy_agent is not None:
            out[name]["policy_greedy"] = _summary(evaluate(greedy_agent, name, **settings))
    return out


def _summary(result) -> dict:
    summary = result.summary()
    return {key: summary[key] for key in SUMMARY_KEYS}
