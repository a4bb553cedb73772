"""DAgger end to end, against ground truth: labels and value targets against the maze
geometry on every collected frame, the beta and lr schedules, config checks, episode
caps and teleports, exact resume, the run directory, expert agreement, ``--init``, and
(slow) learning beyond a random agent on a few fixed easy mazes."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mazepolicy.agents.policy import PolicyAgent
from mazepolicy.agents.scripted import CheeseWalker, make_scripted_agent
from mazepolicy.cli import main
from mazepolicy.commands.demo import training_size
from mazepolicy.envs import MazeVecEnv, TopRightRegion, geometry
from mazepolicy.envs.levels import level_states
from mazepolicy.envs.variants import load_variant
from mazepolicy.eval.evaluate import evaluate
from mazepolicy.io import json_dumps
from mazepolicy.models.checkpoint import load_policy, read_card, save_policy
from mazepolicy.models.impala import ImpalaPolicy
from mazepolicy.train.dagger import DaggerConfig, DaggerTrainer
from mazepolicy.train.dagger.agreement import (
    ExpertAgreement,
    agreement_at_every_cell,
    bin_agreement,
)
from mazepolicy.train.dagger.buffer import LabelledFrames
from mazepolicy.train.dagger.collector import Collector
from mazepolicy.train.dagger.trainer import imitation_loss
from mazepolicy.train.ppo.config import PPOConfig
from mazepolicy.train.ppo.trainer import Trainer
from mazepolicy.train.recipes import list_recipes, load_recipe
from tests.conftest import ConstantPolicy, kill_after_first_checkpoint_then_resume

LEFT, DOWN, UP, NOOP, RIGHT = 1, 3, 5, 4, 7
MOVES = {LEFT: (-1, 0), DOWN: (0, -1), UP: (0, 1), RIGHT: (1, 0)}
GAMMA = 0.999

TINY = load_recipe("dagger-tiny").replace(
    total_frames=4 * 64, num_envs=4, frames_per_round=64, capacity=64, updates_per_round=2,
    batch_size=16, beta_rounds=2, teleport_prob=0.1, episode_cap=1.0, checkpoint_every=1,
    eval_episodes=0, device="cpu",
)
PPO_TINY = load_recipe("ppo-tiny").replace(
    total_steps=64, num_envs=4, num_steps=16, minibatches=2, epochs=1, checkpoint_every=1,
    eval_episodes=0, device="cpu",
)


def rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def weights_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def files_equal(a, b) -> bool:
    ta, tb = load_file(a), load_file(b)
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


class RecordingEnv:
    """A MazeVecEnv seen through the collector's eyes: before every step it records the
    engine's frames and the tracked maze state (the ground truth each frame's label must
    match); it records every mouse move (teleports) and every episode cut (caps)."""

    def __init__(self, env: MazeVecEnv):
        self._env = env
        self.before: list[dict] = []  # one per step: the state the actions were taken in
        self.after: list[tuple] = []  # one per step: terminated, truncated, info
        self.teleports: list[dict] = []
        self.cuts: list[tuple[int, int]] = []  # (step record index, env)

    def __getattr__(self, name):
        return getattr(self._env, name)

    def step(self, actions):
        env = self._env
        self.before.append({
            "frames": env.observe(), "mouse": env.mouse_cells.copy(),
            "cheese": env.cheese_cells, "free": [env.free_grid(i) for i in range(env.num_envs)],
            "episode_step": env.episode_steps, "actions": np.array(actions)})
        out = env.step(actions)
        self.after.append(out[2:])
        return out

    def set_mouse(self, i, cell):
        env = self._env
        record = {"i": i, "cell": tuple(int(v) for v in cell), "from": tuple(env.mouse_cells[i]),
                  "cheese": tuple(env.cheese_cells[i]), "free": env.free_grid(i),
                  "old_frame": env.observe()[i]}
        frame = env.set_mouse(i, cell)
        record.update(frame=frame, observed=env.observe()[i], now=tuple(env.mouse_cells[i]))
        self.teleports.append(record)
        return frame

    def end_episode(self, i):
        self.cuts.append((len(self.before), i))
        self._env.end_episode(i)


class ExpertPolicy(ConstantPolicy):
    """A network stand-in whose logits pick the cheese walker's move on ``env``."""

    def __init__(self, env):
        super().__init__(NOOP)
        self.env, self.walker = env, CheeseWalker()

    def forward(self, obs):
        actions = torch.from_numpy(self.walker.act(obs, self.env))
        logits = torch.full((len(obs), 15), -1e4)
        logits[torch.arange(len(obs)), actions] = 0.0
        return logits, torch.zeros(len(obs))


class LeaningExpertPolicy(ExpertPolicy):
    """Logits 2.5 on the cheese walker's move and 0 on the 14 other actions: its most
    likely action, and its most likely of the 5 folded moves, is the expert's (p 0.47,
    the 7 no-ops 0.27 together); a sample is another action about half the time."""

    def forward(self, obs):
        actions = torch.from_numpy(self.walker.act(obs, self.env))
        logits = torch.zeros(len(obs), 15)
        logits[torch.arange(len(obs)), actions] = 2.5
        return logits, torch.zeros(len(obs))


# ------------------------------------------------------------------------ labels
@pytest.mark.parametrize("variant", ["maze-topright-5-easy", "maze-topright-5"])
def test_labels_and_value_targets_match_the_geometry(variant):
    """Every labelled frame, with the learner (an untrained network) driving half the
    episodes, teleports on and learner episodes capped: the frame is the engine's frame
    at that moment, the label is geometry.next_step_action from the mouse to the cheese
    (a move that brings it one step closer), and the value target is 10 * 0.999^(d - 1)
    for the distance d."""
    torch.manual_seed(0)
    env = RecordingEnv(load_variant(variant).make_vec(8, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=0.5, gamma=GAMMA, episode_cap=1.0,
                          teleport_prob=0.05, seed=1)
    count = 1000
    buffer = LabelledFrames(count)
    stats = collector.collect(ImpalaPolicy(), 0.5, count, buffer)
    env.close()
    assert stats["frames"] == len(buffer) == count
    assert stats["teleports"] > 5 and stats["learner_steps"] > 100 and stats["episodes"] > 0
    assert stats["capped"] > 0  # frames after a cut are checked too

    expected = [(record, i) for record in env.before for i in range(8)
                if record["cheese"][i][0] >= 0
                and tuple(record["mouse"][i]) != tuple(record["cheese"][i])][:count]
    assert len(expected) == count
    for k, (record, i) in enumerate(expected):
        free, mouse = record["free"][i], tuple(int(v) for v in record["mouse"][i])
        cheese = tuple(int(v) for v in record["cheese"][i])
        assert torch.equal(buffer.frames[k], torch.from_numpy(record["frames"][i])), k
        label = int(buffer.actions[k])
        assert label in MOVES
        assert label == geometry.next_step_action(free, mouse, cheese)
        d = geometry.distance(free, mouse, cheese)
        dx, dy = MOVES[label]
        assert geometry.distance(free, (mouse[0] + dx, mouse[1] + dy), cheese) == d - 1
        assert float(buffer.values[k]) == pytest.approx(10 * GAMMA ** (d - 1), rel=1e-6)


def test_fresh_agreement_counts_the_learners_labelled_moves():
    """beta 0, so every labelled frame is the learner's: a learner always moving RIGHT
    agrees exactly on the frames labelled RIGHT, the expert itself on all of them."""
    env = load_variant("maze-topright-5-easy").make_vec(4, num_threads=1)
    collector = Collector(env, "cheese-walker", beta=0.0, gamma=GAMMA, episode_cap=3.0,
                          teleport_prob=0.05, seed=0)
    buffer = LabelledFrames(300)
    stats = collector.collect(ConstantPolicy(RIGHT), 0.0, 300, buffer)
    assert stats["fresh_agreement"] == pytest.approx(float((buffer.actions == RIGHT)
                                                           .float().mean()))
    assert 0 < stats["fresh_agreement"] < 1
    assert collector.collect(ExpertPolicy(env), 0.0, 200, buffer)["fresh_agreement"] == 1.0
    assert collector.collect(ConstantPolicy(NOOP), 0.0, 200, buffer)["fresh_agreement"] == 0.0
    env.close()
    expert_only = Collector(load_variant("maze-topright-5-easy").make_vec(2, num_threads=1),
                            "cheese-walker", 1.0, GAMMA, 3.0, 0.0, seed=0)
    assert math.isnan(expert_only.collect(ConstantPolicy(NOOP), 1.0, 50,
                                          LabelledFrames(50))["fresh_agreement"])
    expert_only.env.close()


@pytest.mark.parametrize("expert", ["cheese-walker", "top-right-walker"])
def test_agreement_at_every_cell_against_the_geometry(expert):
    """A policy that always moves RIGHT agrees exactly on the cells whose shortest step
    to the goal is RIGHT; every free cell but the goal and the cheese gets one row with
    its distances."""
    variant = load_variant("maze-topright-5-easy")
    states = level_states([0, 1], variant.placement(), variant.distribution_mode)
    rows = agreement_at_every_cell(ConstantPolicy(RIGHT), states, expert)
    for state in states:
        free, cheese = state.free, state.cheese_cell
        goal = cheese if expert == "cheese-walker" else geometry.top_right_corner(free)
        mine = [r for r in rows if r["level_seed"] == state.level_seed]
        assert sorted(r["cell"] for r in mine) == sorted(
            c for c in geometry.free_cells(free) if c not in (goal, cheese))
        for r in mine:
            assert r["d_goal"] == geometry.distance(free, r["cell"], goal)
            assert r["d_start"] == geometry.distance(free, r["cell"], (0, 0))
            assert r["agree"] == (geometry.next_step_action(free, r["cell"], goal) == RIGHT)
            assert r["p_expert"] == pytest.approx(1.0 if r["agree"] else 0.0, abs=1e-6)
    bins = bin_agreement(rows, "d_goal", [0, 5, 1000])
    assert sum(b["n"] for b in bins) == len(rows)
    assert sum(b["agreement"] * b["n"] for b in bins) == pytest.approx(
        sum(r["agree"] for r in rows))
    with pytest.raises(ValueError, match="expert must be one of"):
        agreement_at_every_cell(ConstantPolicy(RIGHT), states, "random")


def test_agreement_command_writes_its_tables(tmp_path, capsys):
    path = tmp_path / "policy.safetensors"
    save_policy(ImpalaPolicy(), path)
    out = tmp_path / "agreement.json"
    assert main(["agreement", "--policy", str(path), "--env", "maze-topright-5-easy",
                 "--mazes", "2", "--json", str(out), "--csv", str(tmp_path / "c.csv")]) == 0
    result = json.loads(out.read_text())
    cells = (tmp_path / "c.csv").read_text().splitlines()
    assert cells[0] == "level_seed,cell,d_goal,d_start,agree,p_expert"
    assert result["cells"] == len(cells) - 1 > 0
    assert sum(b["n"] for b in result["by_start_distance"]) == result["cells"]
    assert "cells of 2 mazes" in capsys.readouterr().out


def test_teleports_move_the_mouse_to_a_free_non_cheese_cell():
    env = RecordingEnv(load_variant("maze-topright-5-easy").make_vec(4, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=1.0, gamma=GAMMA, episode_cap=3.0,
                          teleport_prob=0.3, seed=0)
    collector.collect(ImpalaPolicy(), 1.0, 400, LabelledFrames(400))
    assert len(env.teleports) > 20
    for jump in env.teleports:
        x, y = jump["cell"]
        assert jump["free"][y, x], jump
        assert jump["cell"] != jump["cheese"] and jump["cell"] != jump["from"]
        assert jump["now"] == jump["cell"]
        assert np.array_equal(jump["frame"], jump["observed"])
        assert not np.array_equal(jump["frame"], jump["old_frame"])  # the mouse is drawn there
    assert len({(j["i"], j["cell"]) for j in env.teleports}) > len(env.teleports) // 2
    env.close()


# --------------------------------------------------------------------- episode cap
def _episodes(env: RecordingEnv) -> list[dict]:
    """Each finished episode: env, start distance to the cheese, length, how it ended."""
    starts, found = {}, []
    for record, (terminated, truncated, info) in zip(env.before, env.after, strict=True):
        for i in range(len(terminated)):
            if record["episode_step"][i] == 0:
                starts[i] = geometry.distance(record["free"][i], tuple(record["mouse"][i]),
                                              tuple(record["cheese"][i]))
            if (terminated[i] or truncated[i]) and i in starts:
                found.append({"env": i, "d0": starts.pop(i), "terminated": bool(terminated[i]),
                              "length": int(info["episode_length"][i])})
    return found


def test_learner_episodes_end_by_the_cap():
    """A learner that never moves (NOOP), cap 1.0: every episode is cut by
    ``end_episode`` and lasts 10 + ceil(cap * d0) steps, then the one step in which the
    engine ends it (d0: the start's distance to the cheese; no teleports)."""
    env = RecordingEnv(load_variant("maze-topright-5-easy").make_vec(4, num_threads=1))
    cap = 1.0
    collector = Collector(env, "cheese-walker", beta=0.0, gamma=GAMMA, episode_cap=cap,
                          teleport_prob=0.0, seed=0)
    stats = collector.collect(ConstantPolicy(NOOP), 0.0, 800, LabelledFrames(800))
    env.close()
    assert stats["learner_steps"] == stats["steps"] == len(env.before) * 4
    episodes = _episodes(env)
    assert len(episodes) >= 8
    for episode in episodes:
        assert not episode["terminated"], episode
        assert episode["length"] == 10 + math.ceil(cap * episode["d0"]) + 1, episode
    assert stats["capped"] == len(env.cuts) >= len(episodes)
    assert stats["learner_episodes"] == stats["episodes"] and stats["learner_cheese"] == 0


def test_maze_frames_ends_every_episode_after_that_many_labelled_frames():
    """beta 1, no teleports, maze_frames 5: an expert episode reaches the cheese if it
    is under 5 steps away, else is ended after exactly 5 labelled frames (5 steps)."""
    env = RecordingEnv(load_variant("maze-topright-5").make_vec(4, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=1.0, gamma=GAMMA, episode_cap=3.0,
                          teleport_prob=0.0, seed=0, maze_frames=5)
    stats = collector.collect(ConstantPolicy(NOOP), 1.0, 200, LabelledFrames(200))
    env.close()
    episodes = _episodes(env)
    assert len(episodes) >= 30 and stats["capped"] >= 30
    for episode in episodes:
        assert episode["length"] == min(episode["d0"], 5), episode
        if episode["d0"] != 5:
            assert episode["terminated"] == (episode["d0"] < 5), episode
    assert len(collector.mazes_seen) >= len(episodes)


def test_label_prob_spreads_a_mazes_labelled_frames_along_its_episode():
    """label_prob 0.25 with maze_frames 5 (expert driving, no teleports): the labelled
    frames are an ordered subset of the labellable ones, about a quarter of them, with
    the geometry's labels; an episode ends at the cheese or in the step after its 5th
    labelled frame, so cut episodes last about 5 / 0.25 steps rather than 5."""
    env = RecordingEnv(load_variant("maze-topright-5").make_vec(4, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=1.0, gamma=GAMMA, episode_cap=3.0,
                          teleport_prob=0.0, seed=0, maze_frames=5, label_prob=0.25)
    count = 400
    buffer = LabelledFrames(count)
    collector.collect(ConstantPolicy(NOOP), 1.0, count, buffer)
    env.close()
    k, labelled_in_episode, cut_lengths = 0, [0] * 4, []
    labellable = 0
    for record, (terminated, truncated, info) in zip(env.before, env.after, strict=True):
        for i in range(4):
            if record["episode_step"][i] == 0:
                labelled_in_episode[i] = 0
            mouse = tuple(int(v) for v in record["mouse"][i])
            cheese = tuple(int(v) for v in record["cheese"][i])
            labellable += k < count
            if k < count and torch.equal(buffer.frames[k],
                                         torch.from_numpy(record["frames"][i])):
                assert int(buffer.actions[k]) == geometry.next_step_action(
                    record["free"][i], mouse, cheese)
                k += 1
                labelled_in_episode[i] += 1
            if truncated[i]:
                assert labelled_in_episode[i] == 5, (i, labelled_in_episode[i])
                cut_lengths.append(int(info["episode_length"][i]))
            if terminated[i]:
                assert labelled_in_episode[i] <= 5
    assert k == count  # every labelled frame was found, in order
    assert 0.18 < count / labellable < 0.32
    assert len(cut_lengths) >= 10 and np.mean(cut_lengths) > 12
    with pytest.raises(ValueError, match="label_prob"):
        Collector(env, "cheese-walker", 1.0, GAMMA, 3.0, 0.0, seed=0, label_prob=0.0)


@pytest.mark.parametrize("greedy_prob", [0.0, 0.5, 1.0])
def test_greedy_episodes_take_the_learners_most_likely_action(greedy_prob):
    """beta 0, a learner leaning to the expert's move: in the episodes drawn greedy
    (about greedy_prob of them, the draw fixed for the whole episode) every action is
    the geometry's shortest-path move, the policy's argmax; in the others actions are
    sampled, so most are not."""
    env = RecordingEnv(load_variant("maze-topright-5-easy").make_vec(4, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=0.0, gamma=GAMMA, episode_cap=3.0,
                          teleport_prob=0.0, seed=0, greedy_prob=greedy_prob)
    flags = []  # (N,) per step: which episodes were greedy when the actions were taken
    step = env.step
    env.step = lambda actions: (flags.append(collector.greedy_driven.copy()),
                                step(actions))[1]
    stats = collector.collect(LeaningExpertPolicy(env), 0.0, 600, LabelledFrames(600))
    env.close()
    greedy_hits, sampled_hits, episodes, greedy_episodes = [], [], 0, 0
    for record, flag in zip(env.before, flags, strict=True):
        for i in range(4):
            mouse = tuple(int(v) for v in record["mouse"][i])
            cheese = tuple(int(v) for v in record["cheese"][i])
            hit = record["actions"][i] == geometry.next_step_action(record["free"][i],
                                                                     mouse, cheese)
            (greedy_hits if flag[i] else sampled_hits).append(hit)
            if record["episode_step"][i] == 0:
                episodes += 1
                greedy_episodes += bool(flag[i])
    assert stats["greedy_steps"] == len(greedy_hits) == int(np.sum(flags))
    assert all(greedy_hits)
    # the argmax is the expert's move on every frame, in greedy episodes or not
    greedy_agreement, sampled_agreement = (stats["fresh_agreement_greedy"],
                                           stats["fresh_agreement_sampled"])
    assert greedy_agreement == 1.0 if greedy_prob else math.isnan(greedy_agreement)
    assert sampled_agreement == 1.0 if greedy_prob < 1 else math.isnan(sampled_agreement)
    if greedy_prob < 1:
        assert len(sampled_hits) > 100 and np.mean(sampled_hits) < 0.6
    if greedy_prob == 0.5:
        assert episodes >= 20 and 0.2 < greedy_episodes / episodes < 0.8
    assert (greedy_episodes == episodes) == (greedy_prob == 1)
    with pytest.raises(ValueError, match="greedy_prob"):
        Collector(env, "cheese-walker", 0.0, GAMMA, 3.0, 0.0, seed=0, greedy_prob=1.5)


def test_label_smoothing_target_and_its_minimum():
    """The smoothed loss is the cross-entropy with the target 1 - eps on the expert's
    action plus eps / 15 on every action; its gradient vanishes where the policy's
    probabilities are that target, and eps 0 is the plain -log p(expert action)."""
    logits = torch.randn(6, 15, generator=torch.Generator().manual_seed(0))
    actions = torch.tensor([LEFT, DOWN, UP, RIGHT, RIGHT, LEFT])
    eps = 0.1
    target = torch.full((6, 15), eps / 15)
    target[torch.arange(6), actions] += 1 - eps
    expected = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    assert float(imitation_loss(logits, actions, eps)) == pytest.approx(float(expected),
                                                                         rel=1e-6)
    plain = -torch.log_softmax(logits, 1)[torch.arange(6), actions].mean()
    assert float(imitation_loss(logits, actions)) == pytest.approx(float(plain), rel=1e-6)
    at_target = target.log().requires_grad_()
    imitation_loss(at_target, actions, eps).backward()
    assert float(at_target.grad.abs().max()) < 1e-6


def test_expert_episodes_reach_the_cheese():
    """beta 1, no teleports: every episode is the expert's shortest path, d0 steps."""
    env = RecordingEnv(load_variant("maze-topright-5").make_vec(4, num_threads=1))
    collector = Collector(env, "cheese-walker", beta=1.0, gamma=GAMMA, episode_cap=1.0,
                          teleport_prob=0.0, seed=0)
    stats = collector.collect(ConstantPolicy(NOOP), 1.0, 800, LabelledFrames(800))
    env.close()
    assert stats["learner_steps"] == 0 and not env.cuts and stats["capped"] == 0
    episodes = _episodes(env)
    assert len(episodes) >= 4
    assert all(e["terminated"] and e["length"] == e["d0"] for e in episodes), episodes


# ----------------------------------------------------------------- schedules, config
def test_beta_schedule():
    assert [DaggerConfig(beta_rounds=4).beta(r) for r in range(7)] == [
        1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]
    config = DaggerConfig(beta_start=0.9, beta_end=0.1, beta_rounds=2)
    assert [config.beta(r) for r in range(4)] == pytest.approx([0.9, 0.5, 0.1, 0.1])
    assert DaggerConfig(beta_start=0.0, beta_end=0.0).beta(0) == 0.0


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_lr_schedules(schedule):
    config = DaggerConfig(lr=1e-3, lr_final=1e-4, lr_schedule=schedule, total_frames=4096,
                          frames_per_round=1024, updates_per_round=25)  # 100 updates
    def lr(updates):
        return DaggerTrainer.learning_rate(SimpleNamespace(config=config, updates=updates))
    expected = {"constant": (1e-3, 1e-3, 1e-3, 1e-3),
                "linear": (1e-3, 1e-4 + 0.75 * 9e-4, 5.5e-4, 1e-4),
                "cosine": (1e-3, 1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi / 4)), 5.5e-4,
                           1e-4)}[schedule]
    assert [lr(u) for u in (0, 25, 50, 100)] == pytest.approx(expected, rel=1e-12)
    assert lr(1000) == pytest.approx(expected[-1])  # past the end (a run extended)
    values = [lr(u) for u in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize("changes,match", [
    ({"expert": "random"}, "expert must be one of"),
    ({"expert": "cheese_walker"}, "expert must be one of"),
    ({"capacity": 100, "frames_per_round": 200}, r"capacity \(100\) must hold"),
    ({"beta_start": 1.5}, "beta_start must be in"),
    ({"beta_end": -0.1}, "beta_end must be in"),
    ({"teleport_prob": 2.0}, "teleport_prob must be in"),
    ({"label_prob": 0.0}, "label_prob must be in"),
    ({"greedy_prob": 1.5}, "greedy_prob must be in"),
    ({"greedy_prob": -0.1}, "greedy_prob must be in"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
    ({"label_smoothing": -0.1}, "label_smoothing must be in"),
    ({"lr_schedule": "step"}, "lr_schedule must be one of"),
    ({"gamma": 0.0}, "gamma must be in"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"init": "weights.pt"}, "init must be a .safetensors"),
])
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        DaggerConfig(**changes)
    with pytest.raises(ValueError, match=match):
        load_recipe("dagger-tiny").replace(**changes)


def test_config_types_and_unknown_keys(tmp_path):
    with pytest.raises(TypeError, match="capacity must be int"):
        DaggerConfig(capacity="big")
    recipe = tmp_path / "bad.toml"
    recipe.write_text('algorithm = "dagger"\nnum_steps = 16\nframes_per_round = 64\n'
                      'capacity = 64\n')
    with pytest.raises(ValueError, match=r"unknown dagger config keys \['num_steps'\]"):
        load_recipe(recipe)
    with pytest.raises(ValueError, match=r"unknown dagger config keys \['bogus'\]"):
        TINY.with_overrides(["bogus=1"])
    assert TINY.with_overrides(["lr_schedule=cosine", "lr=3e-4"]).lr == 3e-4


def test_recipe_algorithm_dispatch(tmp_path):
    assert type(load_recipe("dagger-tiny")) is DaggerConfig
    impala = load_recipe("dagger-impala")
    assert type(impala) is DaggerConfig and impala.env == "maze-topright-5"
    assert impala.expert == "cheese-walker" and impala.scale == 1
    assert type(load_recipe("ppo-tiny")) is PPOConfig
    for name in list_recipes():  # every shipped recipe loads as its algorithm's config
        config = load_recipe(name)
        assert config.algorithm in ("ppo", "dagger")
    plain = tmp_path / "plain.toml"
    plain.write_text("num_envs = 4\n")
    assert type(load_recipe(plain)) is PPOConfig  # no algorithm key: PPO
    other = tmp_path / "other.toml"
    other.write_text('algorithm = "sac"\n')
    with pytest.raises(ValueError, match="unknown algorithm 'sac'"):
        load_recipe(other)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('algorithm = "dagger"\nnum_steps = 16\n')  # a PPO field
    with pytest.raises(ValueError, match="unknown dagger config keys"):
        load_recipe(wrong)
    with pytest.raises(ValueError, match="is not 'ppo'"):
        PPOConfig.from_dict({"algorithm": "dagger"})


# ----------------------------------------------------------------- expert agreement
def _play(agent, env, steps: int) -> tuple[int, list[tuple]]:
    """Play ``steps`` steps; returns cheese count and (free, mouse, cheese) per frame."""
    obs, _ = env.reset(seed=0)
    cheese, states = 0, []
    for _ in range(steps):
        for i in range(env.num_envs):
            states.append((env.free_grid(i), tuple(env.mouse_cells[i]),
                           tuple(env.cheese_cells[i])))
        obs, _, terminated, _, _ = env.step(agent.act(obs, env))
        cheese += int(terminated.sum())
    return cheese, states


def test_control_and_corner_recipes_differ_from_the_policy_recipe_only_in_their_mazes():
    policy, control = load_recipe("dagger-impala"), load_recipe("dagger-impala-control")
    assert set(control.changed_fields(policy.to_dict())) == {"env", "eval_env"}
    assert (policy.env, policy.eval_env) == (control.eval_env, control.env)
    corner = load_recipe("dagger-impala-corner")
    assert corner.changed_fields(policy.to_dict()) == ["env"]
    assert corner.env == "maze-topright-corner"


def test_expert_agreement_of_the_expert_and_of_constant_policies():
    env = load_variant("maze-topright-5-easy").make_vec(4, num_threads=1)
    expert = ExpertAgreement(ExpertPolicy(env), "cheese-walker", seed=0)
    cheese, _ = _play(expert, env, 60)
    summary = expert.summary()
    assert summary["agreement_frames"] == 240 and summary["expert_agreement"] == 1.0
    assert summary["p_expert_move"] == pytest.approx(1.0) and cheese > 0

    noop = ExpertAgreement(ConstantPolicy(NOOP), "cheese-walker", seed=0)
    _play(noop, env, 30)
    assert noop.summary()["expert_agreement"] == 0.0 and noop.frames == 120
    assert noop.summary()["p_expert_move"] < 1e-3

    right = ExpertAgreement(ConstantPolicy(RIGHT), "cheese-walker", seed=0)
    _, states = _play(right, env, 30)
    truth = [geometry.next_step_action(*state) == RIGHT for state in states]
    assert 0 < right.summary()["expert_agreement"] == pytest.approx(np.mean(truth))
    env.close()


# ------------------------------------------------------------------ resume equality
@pytest.mark.parametrize("capacity, maze_frames, label_prob, greedy_prob, smoothing",
                         [(64, 0, 1.0, 0.0, 0.0), (160, 0, 1.0, 0.0, 0.0),
                          (64, 7, 0.5, 0.0, 0.0), (64, 7, 0.5, 0.5, 0.1)])
def test_resume_is_bitwise_identical(tmp_path, capacity, maze_frames, label_prob,
                                     greedy_prob, smoothing):
    """4 rounds straight == 2 rounds, a fresh trainer resumed, 2 more: the same weights,
    Adam state, collector/engine/buffer state and per-round losses, bit for bit (the
    buffer is one round, not saved, or more; mazes with or without a frame limit, all
    frames labelled or half of them, with greedy episodes and a smoothed loss)."""
    config = TINY.replace(capacity=capacity, maze_frames=maze_frames, label_prob=label_prob,
                          greedy_prob=greedy_prob, label_smoothing=smoothing)
    with DaggerTrainer(config, tmp_path / "straight", progress=False) as straight:
        straight.train()
    with DaggerTrainer(config.replace(total_frames=2 * 64), tmp_path / "split",
                       progress=False) as first:
        first.train()
    state = load_file(tmp_path / "split" / "checkpoints" / "iter-000002" / "state.safetensors")
    assert ("buffer.frames" in state) == (capacity > 64) and "buffer.cursor" in state
    with DaggerTrainer(config, tmp_path / "split", resume=True, progress=False) as split:
        assert split.round == 2 and split.frames == 128
        summary = split.train()
    assert summary["rounds"] == 4 and summary["frames"] == 256
    assert weights_equal(straight.policy, split.policy)
    for name in ("optimizer.safetensors", "state.safetensors", "policy.safetensors"):
        assert files_equal(tmp_path / "straight" / "checkpoints" / "iter-000004" / name,
                           tmp_path / "split" / "checkpoints" / "iter-000004" / name), name
    for key in ("frames", "actions", "values"):
        assert torch.equal(getattr(straight.buffer, key), getattr(split.buffer, key))
    losses = ("policy_loss", "value_loss", "train_agreement", "teleports", "capped",
              "learner_steps", "greedy_steps", "distinct_mazes", "beta", "lr")
    a, b = rows(tmp_path / "straight" / "metrics.jsonl"), rows(tmp_path / "split" /
                                                                "metrics.jsonl")
    assert [r["round"] for r in b] == [1, 2, 3, 4]
    assert [[r[k] for k in losses] for r in a] == [[r[k] for k in losses] for r in b]
    assert sum(r["teleports"] for r in a) > 0 and sum(r["learner_steps"] for r in a) > 0


def test_interrupted_cosine_run_resumes_exactly(tmp_path):
    """A run stopped after its round-2 checkpoint (as by a kill) and resumed with the
    same config follows the same cosine lr schedule: equal to the straight run."""
    config = TINY.replace(capacity=128, lr_schedule="cosine", lr_final=1e-5, lr=1e-3)
    with DaggerTrainer(config, tmp_path / "straight", progress=False) as straight:
        straight.train()
    with DaggerTrainer(config, tmp_path / "split", progress=False) as first:
        first.train_round()
        first.train_round()
        first.save_checkpoint()
        first.train_round()  # lost work after the checkpoint
    with DaggerTrainer(config, tmp_path / "split", resume=True, progress=False) as split:
        assert split.round == 2
        split.train()
    assert weights_equal(straight.policy, split.policy)
    opt = "checkpoints/iter-000004/optimizer.safetensors"
    assert files_equal(tmp_path / "straight" / opt, tmp_path / "split" / opt)
    assert straight.optimizer.param_groups[0]["lr"] == split.optimizer.param_groups[0]["lr"]


def test_resume_refusals(tmp_path, capsys):
    config = TINY.replace(total_frames=64)
    with DaggerTrainer(config, tmp_path / "run", progress=False) as trainer:
        trainer.train()
    with pytest.raises(FileExistsError, match="already holds a run"):
        DaggerTrainer(config, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match=r"changed: \['lr'\]"):
        DaggerTrainer(config.replace(lr=1e-3), tmp_path / "run", resume=True, progress=False)
    with pytest.raises(ValueError, match=r"changed: \['beta_rounds', 'capacity'\]"):
        DaggerTrainer(config.replace(capacity=128, beta_rounds=3), tmp_path / "run",
                      resume=True, progress=False)
    with pytest.raises(ValueError, match=r"changed: \['greedy_prob', 'label_smoothing'\]"):
        DaggerTrainer(config.replace(greedy_prob=0.5, label_smoothing=0.1), tmp_path / "run",
                      resume=True, progress=False)
    # a checkpoint from before label_prob, greedy_prob and label_smoothing trained without
    state_file = tmp_path / "run" / "checkpoints" / "iter-000001" / "trainer_state.json"
    meta = json.loads(state_file.read_text())
    for key in ("label_prob", "greedy_prob", "label_smoothing"):
        del meta["config"][key]
    state_file.write_text(json.dumps(meta))
    with DaggerTrainer(config.replace(eval_episodes=2, total_frames=128), tmp_path / "run",
                       resume=True, progress=False) as resumed:
        assert resumed.round == 1 and resumed.frames == 64  # evaluation, length may change

    base = ["train", "--agent", "dagger-tiny", "--no-progress", "--device", "cpu"]
    assert main([*base, "--out", str(tmp_path / "empty"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint to resume in" in err and "drop --resume" in err
    assert main([*base, "--out", str(tmp_path / "run")]) == 2
    assert "already holds a run; resume it or pick another out dir" in capsys.readouterr().err


def test_cli_killed_run_resumes_and_finishes(tmp_path):
    """SIGKILL after the first checkpoint, then ``--resume``: the run finishes with one
    log row per round and the same weights as the same run made without a kill."""
    out = tmp_path / "run"
    sets = ["num_envs=4", "frames_per_round=64", "capacity=64", "updates_per_round=2",
            "batch_size=16", "checkpoint_every=2", "eval_episodes=0"]
    args = [sys.executable, "-m", "mazepolicy.cli", "train", "--agent", "dagger-tiny",
            "--out", str(out), "--no-progress", "--total-steps", "256", "--device", "cpu",
            "--set", *sets]
    result = kill_after_first_checkpoint_then_resume(args, out, "frames", 256)
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["frames"] == 256 and final["rounds"] == 4
    resumed, card = load_policy(out / "policy.safetensors")
    assert card["frames"] == 256 and card["trainer"] == "mazepolicy-dagger"
    assert [r["round"] for r in rows(out / "metrics.jsonl")] == list(range(1, 5))

    config = load_recipe("dagger-tiny").replace(device="cpu").with_overrides(sets).replace(
        total_frames=256)
    assert card["config"] == config.to_dict()
    with DaggerTrainer(config, tmp_path / "straight", progress=False) as straight:
        straight.train()
    assert weights_equal(resumed, straight.policy)


# --------------------------------------------------------------------- run directory
def test_run_directory_matches_ppo_and_logs(tmp_path):
    config = TINY.replace(total_frames=3 * 64, checkpoint_every=2, eval_episodes=2,
                          eval_max_steps=20, lr_schedule="linear", lr_final=1e-5)
    with DaggerTrainer(config, tmp_path / "dagger", progress=False) as trainer:
        summary = trainer.train()
    with Trainer(PPO_TINY.replace(eval_episodes=2, eval_max_steps=20), tmp_path / "ppo",
                 progress=False) as ppo:
        ppo.train()
    run = tmp_path / "dagger"
    assert {p.name for p in run.iterdir()} == {p.name for p in (tmp_path / "ppo").iterdir()} == {
        "policy.safetensors", "policy.json", "checkpoints", "tb", "metrics.jsonl",
        "eval.jsonl", "summary.json", ".writer.lock"}
    assert summary["rounds"] == 3 and summary["frames"] == 192 and summary["updates"] == 6
    assert summary["config"] == config.to_dict()
    assert json.loads((run / "summary.json").read_text())["frames"] == 192
    policy, card = load_policy(run / "policy.safetensors")
    assert card["trainer"] == "mazepolicy-dagger" and card["env"] == config.env
    assert card["frames"] == 192 and card["rounds"] == 3 and card["config"] == config.to_dict()
    assert weights_equal(policy, trainer.policy)
    assert sorted(p.name for p in (run / "checkpoints").glob("iter-*")) == [
        "iter-000002", "iter-000003"]
    assert (run / "checkpoints" / "latest").read_text() == "iter-000003"
    assert {p.name for p in (run / "checkpoints" / "iter-000003").iterdir()} == {
        "policy.safetensors", "policy.json", "optimizer.safetensors", "state.safetensors",
        "trainer_state.json"}

    metrics = rows(run / "metrics.jsonl")
    assert [r["round"] for r in metrics] == [1, 2, 3]
    assert [r["frames"] for r in metrics] == [64, 128, 192]
    assert [r["round_frames"] for r in metrics] == [64] * 3
    assert [r["beta"] for r in metrics] == [config.beta(r) for r in range(3)] == [1, 0.5, 0]
    total = config.rounds * config.updates_per_round
    for r in metrics:  # the lr the next update will use: linear in updates done
        assert r["lr"] == pytest.approx(1e-5 + (config.lr - 1e-5) * (1 - r["updates"] / total))
        assert 0 <= r["train_agreement"] <= 1 and r["policy_loss"] > 0
    last_used = 1e-5 + (config.lr - 1e-5) * (1 - (total - 1) / total)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(last_used)
    assert metrics[0]["learner_steps"] == 0 < metrics[2]["learner_steps"]

    (evaluation,) = rows(run / "eval.jsonl")
    assert evaluation["round"] == 3 and evaluation["frames"] == 192
    assert set(evaluation["results"]) == {"maze-topright-5-easy", "maze-anywhere-easy"}
    for result in evaluation["results"].values():
        assert 0 <= result["expert_agreement"] <= 1 and result["agreement_frames"] > 0
        assert 0 <= result["p_expert_move"] <= 1 and result["episodes"] == 2
        assert result["cheese_rate"] in (0.0, 0.5, 1.0)
    assert json.loads(json_dumps(summary["eval"])) == evaluation["results"]  # NaN: null

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    assert {"train/policy_loss", "train/value_loss", "train/train_agreement", "train/lr",
            "train/samples_per_s", "train/distinct_mazes",
            "eval/maze-anywhere-easy/expert_agreement",
            "eval/maze-topright-5-easy/cheese_rate"} <= set(events.Tags()["scalars"])


# ----------------------------------------------------------------------------- init
def test_init_starts_dagger_and_ppo_from_the_given_weights(tmp_path, capsys):
    torch.manual_seed(123)
    source = ImpalaPolicy(scale=1)
    save_policy(source, tmp_path / "init.safetensors", {"note": "init"})
    init = str(tmp_path / "init.safetensors")
    with DaggerTrainer(TINY, tmp_path / "plain", progress=False) as plain:
        assert not weights_equal(plain.policy, source)  # the research init differs
    with DaggerTrainer(TINY.replace(init=init), tmp_path / "dagger", progress=False) as t:
        assert weights_equal(t.policy, source)
    with Trainer(PPO_TINY.replace(init=init), tmp_path / "ppo", progress=False) as ppo:
        assert weights_equal(ppo.policy, source)

    save_policy(ImpalaPolicy(scale=2), tmp_path / "wide.safetensors")
    wide = str(tmp_path / "wide.safetensors")
    with pytest.raises(ValueError, match="has scale 2, the config 1"):
        DaggerTrainer(TINY.replace(init=wide), tmp_path / "bad-dagger", progress=False)
    with pytest.raises(ValueError, match="has scale 2, the config 1"):
        Trainer(PPO_TINY.replace(init=wide), tmp_path / "bad-ppo", progress=False)
    assert main(["train", "--agent", "dagger-tiny", "--out", str(tmp_path / "cli"),
                 "--init", wide, "--no-progress"]) == 2
    assert "has scale 2, the config 1" in capsys.readouterr().err


def test_a_run_from_init_records_its_lineage_and_keeps_it_on_resume(tmp_path):
    """The card of a run started with ``init`` lists the init card's lineage, then the
    init weights themselves (path, SHA-256, counts); a resumed run keeps the lineage it
    began with even if the init file has been replaced since."""
    init = tmp_path / "init.safetensors"
    older = {"weights": "older.safetensors", "frames": 64}
    save_policy(ImpalaPolicy(), init, {"trainer": "mazepolicy-dagger", "env": "maze-easy",
                                       "frames": 640, "rounds": 10, "config": {},
                                       "lineage": [older]})
    sha = hashlib.sha256(init.read_bytes()).hexdigest()
    expected = [older, {"weights": str(init), "weights_sha256": sha,
                        "trainer": "mazepolicy-dagger", "env": "maze-easy", "frames": 640,
                        "rounds": 10}]
    config = TINY.replace(init=str(init), total_frames=2 * 64)
    with DaggerTrainer(config, tmp_path / "dagger", progress=False) as first:
        first.train()
    assert read_card(tmp_path / "dagger" / "policy.safetensors")["lineage"] == expected
    save_policy(ImpalaPolicy(), init, {"frames": 1})  # the init file replaced meanwhile
    with DaggerTrainer(config.replace(total_frames=3 * 64), tmp_path / "dagger",
                       resume=True, progress=False) as resumed:
        resumed.train()
    card = read_card(tmp_path / "dagger" / "policy.safetensors")
    assert card["lineage"] == expected and card["frames"] == 3 * 64
    assert training_size(card) == "192 labelled frames, after 2 earlier runs (704 labelled frames)"
    imitation = str(tmp_path / "dagger" / "policy.safetensors")
    with Trainer(PPO_TINY.replace(init=imitation), tmp_path / "ppo", progress=False) as ppo:
        ppo.train()
    ppo_card = read_card(tmp_path / "ppo" / "policy.safetensors")
    assert [e["frames"] for e in ppo_card["lineage"]] == [64, 640, 192]
    assert ppo_card["lineage"][-1]["weights"] == imitation
    assert training_size(ppo_card) == "64 env steps, after 3 earlier runs (896 labelled frames)"


# ------------------------------------------------------------------------- learning
EIGHT_EASY_MAZES = list(range(8))  # level seeds


def _cheese_rate(make_agent) -> float:
    """Cheese rate on the 8 training mazes (100-step cap), over 8 sampling seeds."""
    return float(np.mean([
        evaluate(make_agent(s), "maze-topright-5-easy", episodes=8, seed=0, max_steps=100,
                 num_threads=1, progress=False).summary()["cheese_rate"] for s in range(8)]))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dagger_beats_random_on_eight_easy_mazes(tmp_path):
    """DAgger on eight easy mazes (cheese in the top-right 5x5 region, 100-step
    episodes), 48 rounds of 256 labelled frames and 24 updates of 64 (73,728 samples),
    actions sampled from the policy in evaluation (64 episodes). Measured on the 2-core
    machine (one thread, beside a training process): random agent 0.031 cheese, the
    untrained policy 0.094, after training 0.92 (greedy 0.75); the training agreement
    with the expert went 0.31 -> 0.42 -> 0.77 -> 0.96 at rounds 12, 24, 36, 48 (a slow
    start, then a jump), in about 8 minutes."""
    random_rate = _cheese_rate(lambda s: make_scripted_agent("random", seed=s))
    config = load_recipe("dagger-tiny").replace(
        num_envs=8, frames_per_round=256, capacity=1024, updates_per_round=24, batch_size=64,
        teleport_prob=0.05, beta_rounds=4, total_frames=48 * 256, lr=1e-3, eval_episodes=0,
        checkpoint_every=1000, device="cpu")
    env = MazeVecEnv(8, cheese=TopRightRegion(5), distribution_mode="easy", seed=0,
                     max_episode_steps=100, level_seeds=EIGHT_EASY_MAZES, num_threads=1)
    with DaggerTrainer(config, tmp_path, env=env, progress=False) as trainer:
        before = _cheese_rate(lambda s: PolicyAgent(trainer.policy, seed=s))
        trainer.train()
        after = _cheese_rate(lambda s: PolicyAgent(trainer.policy, seed=s))
    assert after >= random_rate + 0.4 and after >= before + 0.4, (random_rate, before, after)


def test_training_curves_figure(tmp_path):
    import imageio.v3 as iio

    from mazepolicy.viz.plots import plot_training_curves

    with pytest.raises(ValueError, match="no metrics"):
        plot_training_curves(tmp_path, tmp_path / "none.png")
    config = load_recipe("dagger-tiny").replace(total_frames=512, eval_every=1,
                                                eval_episodes=2, eval_max_steps=10)
    with DaggerTrainer(config, tmp_path / "run", progress=False) as trainer:
        trainer.train()
    out = plot_training_curves(tmp_path / "run", tmp_path / "curves.png")
    image = iio.imread(out)
    assert image.ndim == 3 and image.shape[1] > 2 * image.shape[0]  # three panels side by side
    (tmp_path / "run" / "eval.jsonl").unlink()  # a run that never evaluated still plots
    no_eval = iio.imread(plot_training_curves(tmp_path / "run", tmp_path / "no-eval.png"))
    assert no_eval.shape == image.shape and not np.array_equal(no_eval, image)
