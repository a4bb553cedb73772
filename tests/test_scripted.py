"""Scripted agents reach what they walk to, in exactly the shortest-path number of steps."""

from __future__ import annotations

import numpy as np
import pytest

from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs import Anywhere, MazeVecEnv, NoCheese, TopRightRegion
from mazepolicy.envs.geometry import distance, top_right_corner


def start_distances(env, info, i):
    """(steps to the cheese or None, steps to the corner) from env i's start cell."""
    free = env.free_grid(i)
    cheese = tuple(info["cheese_cell"][i])
    to_cheese = distance(free, (0, 0), cheese) if cheese[0] >= 0 else None
    return to_cheese, distance(free, (0, 0), top_right_corner(free))


def run_episodes(env, agent, episodes):
    """Roll out until ``episodes`` episodes ended; returns per-episode outcome dicts,
    with the shortest-path distances measured at each episode's start."""
    obs, info = env.reset()
    starts = {i: start_distances(env, info, i) for i in range(env.num_envs)}
    results = []
    while len(results) < episodes:
        obs, _, _, _, info = env.step(agent.act(obs, env))
        for i in np.flatnonzero(info.get("_reached_cheese", np.zeros(env.num_envs, bool))):
            results.append(
                {
                    "reached_cheese": bool(info["reached_cheese"][i]),
                    "reached_top_right": bool(info["reached_top_right"][i]),
                    "length": int(info["episode_length"][i]),
                    "top_right_step": int(info["top_right_step"][i]),
                    "cheese_distance": starts[i][0],
                    "corner_distance": starts[i][1],
                }
            )
            starts[i] = start_distances(env, info, i)
    return results


@pytest.mark.parametrize("mode", ["easy", "hard"])
def test_cheese_walker_reaches_every_cheese_by_the_shortest_path(mode):
    env = MazeVecEnv(num_envs=8, cheese=Anywhere(), distribution_mode=mode, seed=1)
    results = run_episodes(env, make_scripted_agent("cheese-walker"), 60)
    assert all(r["reached_cheese"] for r in results)
    assert all(r["length"] == r["cheese_distance"] for r in results)


def test_top_right_walker_reaches_the_corner_in_corner_distance_steps():
    env = MazeVecEnv(num_envs=8, cheese=NoCheese(), distribution_mode="easy", seed=2)
    agent = make_scripted_agent("top-right-walker")
    obs, _ = env.reset()
    corner_steps = [distance(env.free_grid(i), (0, 0), top_right_corner(env.free_grid(i)))
                    for i in range(8)]
    for step in range(1, max(corner_steps) + 3):
        obs, *_ = env.step(agent.act(obs, env))
        for i in range(8):
            at_corner = (env.mouse_cells[i] == env.maze_dims[i] - 1).all()
            assert at_corner == (step >= corner_steps[i])


def test_top_right_walker_on_training_mazes_ends_on_cheese_at_or_past_the_corner():
    """With cheese in the top-right 5x5 region, walking to the corner then stopping ends an
    episode only when the cheese lies on that path; otherwise it times out at the corner."""
    env = MazeVecEnv(num_envs=8, cheese=TopRightRegion(0), distribution_mode="easy", seed=3)
    results = run_episodes(env, make_scripted_agent("top-right-walker"), 24)
    assert all(r["reached_cheese"] and r["reached_top_right"] for r in results)
    assert all(r["length"] == r["corner_distance"] for r in results)


def test_random_agent_is_seeded():
    env = MazeVecEnv(num_envs=4, seed=0)
    obs, _ = env.reset()
    a = make_scripted_agent("random", seed=3).act(obs, env)
    b = make_scripted_agent("random", seed=3).act(obs, env)
    assert (a == b).all() and a.shape == (4,)


def test_unknown_agent():
    with pytest.raises(ValueError, match="cheese-walker"):
        make_scripted_agent("walker")
