"""DAgger's data: episodes driven by the expert or the learner, every frame labelled
with the expert's shortest-path move and value.

Labels are the canonical moves (LEFT 1, DOWN 3, UP 5, RIGHT 7) of the expert walker;
value targets are the expert's discounted return from the frame's state, ``10 *
gamma^(d - 1)`` for ``d`` steps left on its shortest path (the cheese gives reward 10 on
the step that enters it). Frames where the mouse cannot move toward a goal (no cheese,
unreachable) carry no label and are skipped.

Example:
    >>> import torch
    >>> from mazepolicy.models.impala import ImpalaPolicy
    >>> from mazepolicy.envs.variants import load_variant
    >>> from mazepolicy.train.dagger.buffer import LabelledFrames
    >>> collector = Collector(load_variant("maze-topright-5-easy").make_vec(4, seed=0),
    ...                       "cheese-walker", beta=1.0, gamma=0.999, episode_cap=3.0,
    ...                       teleport_prob=0.0, seed=0)
    >>> buffer = LabelledFrames(64)
    >>> stats = collector.collect(ImpalaPolicy(), 1.0, 64, buffer)
    >>> len(buffer), stats["frames"], set(buffer.actions.tolist()) <= {1, 3, 5, 7}
    (64, 64, True)
"""

from __future__ import annotations

import json

import numpy as np
import torch

from mazepolicy.agents.scripted import make_scripted_agent
from mazepolicy.envs.vec_env import MazeVecEnv
from mazepolicy.train.dagger.agreement import move_agreement

CHEESE_REWARD = 10.0
CAP_SLACK = 10  # steps added to a learner episode's budget of cap * path length
STATE_KEYS = ("frames", "expert_driven", "budget", "episode_step", "mazes_seen", "rng.sample")
MAZE_FRAMES_KEY = "maze_frames"  # absent from checkpoints of runs without the limit
LABEL_NEXT_KEY = "label_next"  # absent from checkpoints of runs that label every frame
GREEDY_KEY = "greedy_driven"  # absent from checkpoints of runs without greedy episodes


def value_targets(steps_left: np.ndarray, gamma: float) -> np.ndarray:
    """The expert's discounted return ``10 * gamma^(d - 1)`` for ``d`` steps left (>= 1).

    Example:
        >>> value_targets(np.array([1, 2]), 0.5).tolist()
        [10.0, 5.0]
    """
    return (CHEESE_REWARD * gamma ** (steps_left - 1.0)).astype(np.float32)


def share(part: int, whole: int) -> float:
    """``part / whole``, NaN for an empty whole."""
    return float(part / whole) if whole else float("nan")


class Collector:
    """Steps ``env`` with a mixture of the expert and a learner; see the module doc.

    Args:
        env: the training env (its episodes run on across rounds).
        expert: a walker's name (``cheese-walker``, ``top-right-walker``).
        beta: P(expert drives an episode) for the episodes already running.
        gamma: discount of the value targets.
        episode_cap: learner episodes are cut once they have run ``episode_cap``
            times the expert's path length from where the mouse was first labelled
            (rounded up), plus 10 steps; the engine ends them at the next step (an
            episode from the start lasts ``ceil(cap * d) + 11`` steps). A teleport
            restarts the budget from the new cell.
        teleport_prob: per env and step, the mouse jumps to a random free cell.
        seed: seeds the mixture, the teleports and the learner's action sampling.
        maze_frames: any episode (expert's or learner's) is ended once it has given
            this many labelled frames, so the next frames come from a new maze; 0 = no
            limit.
        label_prob: each visited frame the expert can label is kept with this
            probability, so that a maze's ``maze_frames`` labelled frames spread over
            about ``maze_frames / label_prob`` steps of its episode (states deep in
            the learner's episodes, not only its first steps).
        greedy_prob: each learner episode takes the learner's most likely action
            (argmax over the actions, as ``evaluate --greedy`` plays) with this
            probability, and a sampled one otherwise, so the states greedy play
            reaches are labelled too.
    """

    def __init__(self, env: MazeVecEnv, expert: str, beta: float, gamma: float,
                 episode_cap: float, teleport_prob: float, seed: int, maze_frames: int = 0,
                 label_prob: float = 1.0, greedy_prob: float = 0.0):
        if not 0 < label_prob <= 1:
            raise ValueError(f"label_prob must be in (0, 1], got {label_prob}")
        if not 0 <= greedy_prob <= 1:
            raise ValueError(f"greedy_prob must be in [0, 1], got {greedy_prob}")
        self.env = env
        self.expert = make_scripted_agent(expert)
        self.gamma, self.episode_cap, self.teleport_prob = gamma, episode_cap, teleport_prob
        self.maze_frames, self.label_prob, self.greedy_prob = maze_frames, label_prob, greedy_prob
        self.rng = np.random.default_rng(seed)
        self.sample_gen = torch.Generator().manual_seed(seed)
        self.frames, info = env.reset(seed=seed)
        n = env.num_envs
        self.expert_driven = np.zeros(n, dtype=bool)  # (N,) who drives each episode
        self.greedy_driven = np.zeros(n, dtype=bool)  # (N,) learner episodes taking argmax
        self.budget = np.full(n, -1, dtype=np.int64)  # (N,) step at which a learner is cut
        self.episode_step = info["episode_step"]  # (N,)
        self.labelled = np.zeros(n, dtype=np.int64)  # (N,) labelled frames this episode
        self.mazes_seen: set[int] = set()
        for i in range(n):
            self._start_episode(i, int(info["level_seed"][i]), beta)
        self.label_next = self._draw_labels()  # (N,) is the frame shown now to be labelled

    def _draw_labels(self) -> np.ndarray:
        """(N,) bool: which of the frames now shown will be labelled (if the expert can)."""
        if self.label_prob == 1:  # no draw: runs without the option keep their streams
            return np.ones(self.env.num_envs, dtype=bool)
        return self.rng.random(self.env.num_envs) < self.label_prob

    def _start_episode(self, i: int, level_seed: int, beta: float) -> None:
        self.expert_driven[i] = self.rng.random() < beta
        if self.greedy_prob:  # no draw without the option: older runs keep their streams
            self.greedy_driven[i] = (not self.expert_driven[i]
                                     and self.rng.random() < self.greedy_prob)
        self.budget[i] = -1
        self.labelled[i] = 0
        self.mazes_seen.add(level_seed)

    @torch.inference_mode()
    def collect(self, policy, beta: float, count: int, buffer) -> dict:
        """Add ``count`` labelled frames to ``buffer``; episodes that start now are driven
        by the expert with probability ``beta``. Returns counts of what happened and
        ``fresh_agreement``: on every frame the learner drove and the expert could label
        (kept in the buffer or not, with ``label_prob`` < 1), the share where its most
        likely move was the expert's, measured before any update has seen those frames
        (DAgger's generalisation measure, for free; NaN when the learner drove none),
        and the same share on the frames of its greedy and of its sampled episodes
        (``fresh_agreement_greedy``, ``fresh_agreement_sampled``)."""
        env, stats = self.env, dict.fromkeys(
            ("frames", "steps", "learner_steps", "episodes", "learner_episodes",
             "learner_cheese", "capped", "teleports", "greedy_steps"), 0)
        # learner frames the expert labels, and those agreed with: [sampled, greedy]
        seen, agreed = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64)  # (2,)
        device = next(policy.parameters()).device
        while stats["frames"] < count:
            expert_actions, steps_left = self.expert.act_with_steps_left(env)  # (N,), (N,)
            labelled = np.flatnonzero((steps_left > 0) & self.label_next)[
                : count - stats["frames"]]
            buffer.add(self.frames[labelled], expert_actions[labelled],
                       value_targets(steps_left[labelled], self.gamma))
            stats["frames"] += len(labelled)
            self.labelled[labelled] += 1
            unset = (self.budget < 0) & (steps_left > 0)
            self.budget[unset] = (self.episode_step[unset] + CAP_SLACK
                                  + np.ceil(self.episode_cap * steps_left[unset]))
            actions = expert_actions.copy()
            learner = np.flatnonzero(~self.expert_driven)
            if len(learner):
                obs = torch.from_numpy(self.frames[learner]).to(device)
                probs = torch.softmax(policy(obs)[0].float(), dim=-1).cpu()  # (L, A)
                actions[learner] = self._learner_actions(probs, self.greedy_driven[learner])
                moves = steps_left[learner] > 0  # (L,) frames the expert labels
                agree = move_agreement(probs, torch.from_numpy(expert_actions[learner]))[0]
                greedy = self.greedy_driven[learner][moves].astype(np.int64)  # (M,) 0/1
                seen += np.bincount(greedy, minlength=2)
                agreed += np.bincount(greedy, weights=agree.numpy()[moves].astype(float),
                                      minlength=2).astype(np.int64)
            stats["learner_steps"] += len(learner)
            stats["greedy_steps"] += int(self.greedy_driven[learner].sum())
            stats["steps"] += env.num_envs
            self.frames, _, terminated, truncated, info = env.step(actions)
            self.episode_step = info["episode_step"]
            self.label_next = self._draw_labels()
            done = terminated | truncated
            for i in np.flatnonzero(done):
                stats["episodes"] += 1
                if not self.expert_driven[i]:
                    stats["learner_episodes"] += 1
                    stats["learner_cheese"] += bool(terminated[i])
                self._start_episode(i, int(info["level_seed"][i]), beta)
            over = ~done & ~self.expert_driven & (self.budget >= 0) & (
                self.episode_step >= self.budget)
            if self.maze_frames:
                # the frame labelled next is the maze's last: the episode ends in that step
                over |= ~done & (self.labelled + self.label_next >= self.maze_frames) & (
                    self.budget != np.iinfo(np.int64).max)
            for i in np.flatnonzero(over):
                env.end_episode(i)
                self.budget[i] = np.iinfo(np.int64).max  # ends at the next step
                stats["capped"] += 1
            jump = np.flatnonzero(~done & ~over & (self.rng.random(env.num_envs)
                                                   < self.teleport_prob))
            for i in jump:
                self._teleport(i)
                stats["teleports"] += 1
        stats["fresh_agreement"] = share(agreed.sum(), seen.sum())
        stats["fresh_agreement_sampled"] = share(agreed[0], seen[0])
        stats["fresh_agreement_greedy"] = share(agreed[1], seen[1])
        return stats

    def _learner_actions(self, probs: torch.Tensor, greedy: np.ndarray) -> torch.Tensor:
        """(L,) actions for the learner's probabilities (L, A): the argmax where
        ``greedy`` (L,) is set, a sample elsewhere (every row draws its sample, so the
        sampling stream does not depend on which episodes are greedy)."""
        sampled = torch.multinomial(probs, 1, generator=self.sample_gen)[:, 0]  # (L,)
        return torch.where(torch.from_numpy(greedy), probs.argmax(dim=1), sampled)

    def _teleport(self, i: int) -> None:
        """Move env i's mouse to a random free cell other than the cheese and its own."""
        free = self.env.free_grid(i)  # (n, n) [y, x]
        for cell in (self.env.cheese_cells[i], self.env.mouse_cells[i]):
            if cell[0] >= 0:
                free[cell[1], cell[0]] = False
        ys, xs = np.nonzero(free)
        if len(xs):
            k = self.rng.integers(len(xs))
            self.frames[i] = self.env.set_mouse(i, (int(xs[k]), int(ys[k])))
            self.budget[i] = -1

    # ------------------------------------------------------------------- resume
    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, JSON-ready dict) holding everything to continue exactly."""
        tensors = {f"env.{k}": torch.from_numpy(np.ascontiguousarray(v))
                   for k, v in self.env.snapshot().items()}
        tensors.update({
            "frames": torch.from_numpy(self.frames.copy()),
            "expert_driven": torch.from_numpy(self.expert_driven.copy()),
            "budget": torch.from_numpy(self.budget.copy()),
            "episode_step": torch.from_numpy(np.asarray(self.episode_step).copy()),
            "mazes_seen": torch.tensor(sorted(self.mazes_seen), dtype=torch.int64),
            "rng.sample": self.sample_gen.get_state(),
        })
        if self.maze_frames:
            tensors[MAZE_FRAMES_KEY] = torch.from_numpy(self.labelled.copy())
        if self.label_prob < 1:
            tensors[LABEL_NEXT_KEY] = torch.from_numpy(self.label_next.copy())
        if self.greedy_prob:
            tensors[GREEDY_KEY] = torch.from_numpy(self.greedy_driven.copy())
        return tensors, {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        snapshot = {k[4:]: v.numpy() for k, v in tensors.items() if k.startswith("env.")}
        frames = self.env.restore(snapshot)
        if not np.array_equal(frames, tensors["frames"].numpy()):
            raise ValueError("the restored env's frames differ from the saved ones")
        self.frames = frames
        self.expert_driven = tensors["expert_driven"].numpy().copy()
        self.budget = tensors["budget"].numpy().copy()
        self.episode_step = tensors["episode_step"].numpy().copy()
        self.mazes_seen = set(tensors["mazes_seen"].tolist())
        if self.maze_frames:
            if MAZE_FRAMES_KEY not in tensors:
                raise ValueError(f"the checkpoint has no {MAZE_FRAMES_KEY!r} counts; it "
                                 "comes from a run without maze_frames")
            self.labelled = tensors[MAZE_FRAMES_KEY].numpy().copy()
        if self.label_prob < 1:
            if LABEL_NEXT_KEY not in tensors:
                raise ValueError(f"the checkpoint has no {LABEL_NEXT_KEY!r} draws; it "
                                 "comes from a run that labelled every frame")
            self.label_next = tensors[LABEL_NEXT_KEY].numpy().copy()
        if self.greedy_prob:
            if GREEDY_KEY not in tensors:
                raise ValueError(f"the checkpoint has no {GREEDY_KEY!r} flags; it comes "
                                 "from a run without greedy episodes")
            self.greedy_driven = tensors[GREEDY_KEY].numpy().copy()
        self.sample_gen.set_state(tensors["rng.sample"])
        self.rng.bit_generator.state = json.loads(meta["rng"])
