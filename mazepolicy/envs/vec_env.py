"""``MazeVecEnv``: the real Procgen maze as a gymnasium ``VectorEnv`` with controllable cheese.

One procgen gym3 env steps all mazes in C++ threads. Whenever a maze starts (at
``reset`` and at every automatic reset inside ``step``), only that env's state is read,
the cheese placement is applied and the state is written back before its first frame is
observed, so the agent never sees an unedited maze.

The mouse moves one cell per step (Procgen's ``grid_step``), so its cell is tracked
exactly from the actions and the maze grid read at reset: no per-step state reads. Episode
outcomes come from that tracking and from the engine's reward.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner.

Autoreset: procgen generates the next level inside the step that ends an episode, so
this env follows gymnasium's ``SAME_STEP`` mode: the observation returned with
``terminated | truncated`` is the first frame of the next episode. The engine never
renders the final frame, so ``info`` has no ``final_obs``; the finished episode's
outcome is in ``info["reached_cheese"]`` etc., masked by ``info["_reached_cheese"]``.

Example:
    >>> import numpy as np
    >>> from mazepolicy.envs import MazeVecEnv, TopRightRegion
    >>> env = MazeVecEnv(num_envs=4, cheese=TopRightRegion(5), seed=0)
    >>> obs, info = env.reset()
    >>> obs.shape, info["cheese_cell"].shape
    ((4, 64, 64, 3), (4, 2))
    >>> bool((info["cheese_cell"] >= info["maze_dim"][:, None] - 5).all())
    True
    >>> obs, reward, terminated, truncated, info = env.step(np.full(4, 4))
    >>> env.close()
"""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from mazepolicy.envs.actions import ACTION_DELTA_ARRAY, NOOP, NUM_ACTIONS
from mazepolicy.envs.cells import Cell, world_dim
from mazepolicy.envs.cheese import CheesePlacement, PlacementSkipped
from mazepolicy.envs.procgen_backend import make_gym3_env
from mazepolicy.envs.state import (
    MAX_LEVEL_SEED,
    WALL,
    MazeState,
    MazeStateError,
    write_level_seed_range,
)

EPISODE_STEPS = 500  # the engine's timeout
SNAPSHOT_KEYS = ("states", "state_lengths", "episode_return", "top_right_step", "seed_cursor")
RUNNING_KEYS = ("level_seed", "maze_dim", "cheese_cell", "mouse_cell", "episode_step")
OUTCOME_KEYS = (
    "reached_cheese",
    "reached_top_right",
    "timed_out",
    "episode_return",
    "episode_length",
    "top_right_step",
    "episode_level_seed",
    "episode_cheese_cell",
    "episode_maze_dim",
)


class MazeVecEnv(gym.vector.VectorEnv):
    """Vectorized Procgen maze with cheese placement re-applied at every reset.

    Args:
        num_envs: number of mazes stepped together.
        cheese: a placement (``TopRightRegion(5)``, ``Anywhere()``, ``FixedCell(x, y)``,
            ``NoCheese()`` or any ``fn(state, rng) -> cell | None``); ``None`` keeps the
            engine's own cheese. The rng is seeded from the level seed (and
            ``placement_seed``), so a maze always gets the same cheese.
        distribution_mode: ``"easy"`` (world 15, mazes 3..15) or ``"hard"`` (world 25).
        seed: seed of the engine's level sequence; same seed, same levels and cheese.
        num_threads: engine threads (default: min(4, cpu count)).
        num_levels, start_level: the engine's level-set options (0 = unlimited).
        level_seeds: play exactly these level seeds, env i taking seeds i, i + num_envs,
            ... in turn and wrapping around (for evaluation on seeded mazes).
        placement_seed: extra entropy mixed into the placement rng.
        render_mode: ``None`` or ``"rgb_array"`` (512x512 frames from the engine).
        max_episode_steps: episode timeout (default: the engine's 500). Written into
            each maze's state at its start, so the engine itself ends the episode.

    ``info`` always holds, per env, for the episode now running: ``level_seed`` (N,),
    ``maze_dim`` (N,), ``cheese_cell`` (N, 2) (-1, -1 without cheese), ``mouse_cell``
    (N, 2) and ``episode_step`` (N,). When episodes end it also holds the finished
    episodes' ``reached_cheese``, ``reached_top_right`` (the mouse entered the top-right
    corner cell), ``timed_out``, ``episode_return``, ``episode_length``,
    ``top_right_step`` (step of the first corner visit, -1 if none),
    ``episode_level_seed``, ``episode_cheese_cell``, ``episode_maze_dim``, each with a
    ``_key`` mask of the envs that finished. There is no ``episode`` key: gymnasium
    reserves it for its ``RecordEpisodeStatistics`` wrapper, which works on this env
    (``episode_return`` and ``episode_length`` hold the same numbers).

    A placement that cannot apply to a maze (``FixedCell(8, 8)`` in a 7x7 maze, or on
    a wall; see :class:`~mazepolicy.envs.cheese.PlacementSkipped`) leaves that maze
    without cheese; while its episode runs, ``info["placement_skipped"]`` (N,) holds
    the reason (a str, "" for the other envs), masked by ``info["_placement_skipped"]``.
    Both keys are present only when some running maze was skipped; an edit through
    :meth:`set_state` (or ``set_cheese`` ...) clears that env's reason. A ``FixedCell``
    that cannot fit even the mode's largest maze is refused here, at construction.

    Edits (:meth:`set_state`, :meth:`set_cheese`, :meth:`set_mouse`, :meth:`set_wall`,
    :meth:`restore`) validate everything, including that a state belongs to this env's
    distribution mode (world size), before anything is written: a failed edit raises
    (``ValueError``; :class:`~mazepolicy.envs.state.MazeStateError` for states) and
    leaves the env and its engine exactly as they were.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": ["rgb_array"]}

    def __init__(
        self,
        num_envs: int = 8,
        cheese: CheesePlacement | None = None,
        distribution_mode: str = "hard",
        seed: int | None = None,
        num_threads: int | None = None,
        num_levels: int = 0,
        start_level: int = 0,
        level_seeds: Iterable[int] | None = None,
        placement_seed: int = 0,
        max_episode_steps: int = EPISODE_STEPS,
        render_mode: str | None = None,
    ):
        if int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        if distribution_mode not in ("easy", "hard"):
            raise ValueError(
                f"distribution_mode must be 'easy' or 'hard', got {distribution_mode!r}"
            )
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if cheese is not None and not callable(cheese):
            raise TypeError(f"cheese must be a placement callable or None, got {cheese!r}")
        check_mode = getattr(cheese, "check_mode", None)
        if check_mode is not None:
            check_mode(distribution_mode)  # e.g. a FixedCell that no maze of the mode holds
        self.num_envs = int(num_envs)
        self.cheese = cheese
        self.distribution_mode = distribution_mode
        self.num_threads = min(4, os.cpu_count() or 1) if num_threads is None else num_threads
        self.num_levels = num_levels
        self.start_level = start_level
        self.placement_seed = placement_seed
        if not 1 <= max_episode_steps <= 1_000_000:
            raise ValueError(f"max_episode_steps must be in 1..1e6, got {max_episode_steps}")
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        self.level_seeds = None if level_seeds is None else [int(s) for s in level_seeds]
        if self.level_seeds is not None:
            if not self.level_seeds:
                raise ValueError("level_seeds must not be empty")
            if not all(0 <= s <= MAX_LEVEL_SEED for s in self.level_seeds):
                raise ValueError(f"level_seeds must be in 0..{MAX_LEVEL_SEED}")
        self.single_observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.single_action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._seed = seed
        self._gym3 = None
        self._obs: np.ndarray | None = None
        self._has_reset = False

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start a new episode in every env. ``seed`` re-seeds the level sequence."""
        if seed is not None or self._gym3 is None:
            if seed is not None:
                self._seed = int(seed)
            self._open_engine()
        else:
            self._restart_all_episodes()
        self._has_reset = True
        return self._obs.copy(), self._running_info()

    def step(self, actions):
        """Step every env; finished envs start their next episode in the same step."""
        if not self._has_reset:
            raise RuntimeError("call reset() before step()")
        actions = self._check_actions(actions)
        self._gym3.act(actions)
        rew, ob, first = self._gym3.observe()
        self._obs = ob["rgb"]
        done = first.astype(bool)
        self._track_moves(actions, done)
        self._ep_return += rew
        self._ep_len += 1
        reached_cheese = done & (rew > 0)
        timed_out = done & ~reached_cheese
        info = {}
        if done.any():
            info = self._outcome_info(done, reached_cheese, timed_out)
            for i in np.flatnonzero(done):
                self._begin_episode(i)
            self._obs = self._gym3.observe()[1]["rgb"]
        info.update(self._running_info())
        return (
            self._obs.copy(),
            rew.astype(np.float32),
            reached_cheese,
            timed_out,
            info,
        )

    def render(self):
        """Engine frames of every env: (N, 512, 512, 3) with ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            raise RuntimeError("create the env with render_mode='rgb_array' to render")
        return np.stack([info["rgb"] for info in self._gym3.get_info()])

    def close(self, **kwargs):
        if self._gym3 is not None:
            self._gym3.close()
            self._gym3 = None

    # --------------------------------------------------------------- editing API
    def observe(self) -> np.ndarray:
        """Current frames, uint8 (N, 64, 64, 3)."""
        self._require_reset()
        return self._obs.copy()

    def get_state(self, env_index: int) -> MazeState:
        """A parsed copy of env ``env_index``'s engine state; edit it and :meth:`set_state`."""
        self._require_reset()
        return self._read_state(self._check_index(env_index))

    def set_state(self, env_index: int, state: MazeState | bytes) -> np.ndarray:
        """Write a state (validated) into env ``env_index``; returns its new frame (64, 64, 3).

        The running episode continues from the written state (its ``cur_time`` included);
        outcome tracking follows the new grid, mouse and cheese. ``state`` must come from
        an env of the same distribution mode (world size); any invalid state raises
        :class:`~mazepolicy.envs.state.MazeStateError` with env and engine unchanged.
        """
        self._require_reset()
        i = self._check_index(env_index)
        state, data = self._checked_state(state)  # everything checked before any write
        self._write_checked_state(i, state, data)
        self._obs = self._gym3.observe()[1]["rgb"]
        return self._obs[i].copy()

    def set_cheese(self, env_index: int, cell: Cell | None) -> np.ndarray:
        """Move env ``env_index``'s cheese to cell (x, y), (0, 0) bottom-left; None removes it."""
        state = self.get_state(env_index)
        state.set_cheese(cell)
        return self.set_state(env_index, state)

    def set_mouse(self, env_index: int, cell: Cell) -> np.ndarray:
        """Move env ``env_index``'s mouse to cell (x, y), (0, 0) bottom-left."""
        state = self.get_state(env_index)
        state.set_mouse(cell)
        return self.set_state(env_index, state)

    def set_wall(self, env_index: int, cell: Cell, wall: bool = True) -> np.ndarray:
        """Make cell (x, y) of env ``env_index`` a wall or free; (0, 0) is bottom-left."""
        state = self.get_state(env_index)
        state.set_wall(cell, wall)
        return self.set_state(env_index, state)

    def end_episode(self, env_index: int) -> None:
        """Make env ``env_index``'s running episode time out at its next step (the
        engine then starts the next maze in that step, as at any episode end). Used to
        cap episodes by a per-episode budget, e.g. a multiple of the shortest path.

        Example:
            >>> env = MazeVecEnv(num_envs=2, seed=0); _ = env.reset()
            >>> env.end_episode(1)
            >>> _, _, terminated, truncated, _ = env.step(np.full(2, 4))
            >>> truncated.tolist(), terminated.tolist()
            ([False, True], [False, False])
        """
        self._require_reset()
        with self._edit_engine_state(self._check_index(env_index)) as (state, _):
            state.step["timeout"] = state.cur_time + 1

    @property
    def mouse_cells(self) -> np.ndarray:
        """Tracked mouse cells, int (N, 2) of (x, y) in inner-maze coordinates."""
        self._require_reset()
        return self._mouse - self._margin[:, None]

    @property
    def cheese_cells(self) -> np.ndarray:
        """Cheese cells of the running episodes, int (N, 2) of (x, y); (-1, -1) = none."""
        self._require_reset()
        return self._cheese.copy()

    @property
    def running_level_seeds(self) -> np.ndarray:
        """Level seed of each env's running episode, int (N,)."""
        self._require_reset()
        return self._level_seed.copy()

    @property
    def episode_steps(self) -> np.ndarray:
        """Steps taken so far in each env's running episode, int (N,)."""
        self._require_reset()
        return self._ep_len.copy()

    @property
    def maze_dims(self) -> np.ndarray:
        """Side of each env's inner maze, int (N,)."""
        self._require_reset()
        return self._maze_dim.copy()

    @property
    def maze_versions(self) -> np.ndarray:
        """Per-env counter bumped whenever a maze starts or is edited, int (N,).

        Agents that cache per-maze work (distance fields) key their caches on it.
        """
        self._require_reset()
        return self._maze_version.copy()

    def free_grid(self, env_index: int) -> np.ndarray:
        """Env ``env_index``'s walkable inner cells, bool (maze_dim, maze_dim) indexed [y, x]
        (row 0 at the bottom)."""
        self._require_reset()
        i = self._check_index(env_index)
        m, n = self._margin[i] + 1, self._maze_dim[i]  # +1: the tracking grid has a border
        return self._free[i, m : m + n, m : m + n].copy()

    def snapshot(self) -> dict:
        """Everything needed to continue exactly from here: every env's engine state
        (which holds the level RNGs) plus the episode bookkeeping. See :meth:`restore`.

        Returns a dict of numpy arrays: ``states`` (uint8, all states concatenated),
        ``state_lengths``, ``episode_return``, ``top_right_step``, ``seed_cursor``.
        """
        self._require_reset()
        states = [self._gym3.get_state_of(i) for i in range(self.num_envs)]
        return {
            "states": np.frombuffer(b"".join(states), dtype=np.uint8).copy(),
            "state_lengths": np.array([len(s) for s in states], dtype=np.int64),
            "episode_return": self._ep_return.copy(),
            "top_right_step": self._top_right_step.copy(),
            "seed_cursor": self._seed_cursor.copy(),
        }

    def restore(self, snapshot: dict) -> np.ndarray:
        """Continue from a :meth:`snapshot` of an env with the same settings and
        ``num_envs``; returns the current frames (N, 64, 64, 3).

        The whole snapshot is checked (keys, shapes, every state and its distribution
        mode) before anything is written; a bad one raises ``ValueError`` and leaves the
        env and its engine as they were. (Placement skip reasons are not part of a
        snapshot: after a restore no env reports one.)"""
        if not isinstance(snapshot, dict):
            raise TypeError(f"snapshot must be a dict, got {type(snapshot).__name__}")
        missing = sorted(set(SNAPSHOT_KEYS) - set(snapshot))
        if missing:
            raise ValueError(f"snapshot lacks {missing}")
        lengths = np.asarray(snapshot["state_lengths"])
        if lengths.shape != (self.num_envs,):
            held = lengths.shape[0] if lengths.ndim == 1 else f"shape {lengths.shape} of"
            raise ValueError(f"snapshot holds {held} envs, this env has {self.num_envs}")
        if not np.issubdtype(lengths.dtype, np.integer) or (lengths < 0).any():
            raise ValueError("snapshot state_lengths must be ints >= 0")
        raw = np.asarray(snapshot["states"])
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"snapshot states must be uint8 bytes (1-D), got {raw.dtype} "
                             f"{raw.shape}")
        blob = raw.tobytes()
        if int(lengths.sum()) != len(blob):
            raise ValueError("snapshot state lengths do not add up to its state bytes")
        columns = {}
        for key, dtype in (("episode_return", np.float32), ("top_right_step", np.int64),
                           ("seed_cursor", np.int64)):
            value = np.asarray(snapshot[key])
            if value.shape != (self.num_envs,) or not np.isfinite(value.astype(float)).all():
                raise ValueError(f"snapshot {key} must be {self.num_envs} finite numbers, "
                                 f"got {value.dtype} {value.shape}")
            columns[key] = value.astype(dtype)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        bounds = zip(offsets[:-1], offsets[1:], strict=True)
        checked = [self._checked_state(blob[a:b], f"snapshot state {i}")
                   for i, (a, b) in enumerate(bounds)]
        # everything is valid: from here on nothing can fail halfway
        if self._gym3 is None:
            self._open_engine()
        for i, (state, data) in enumerate(checked):
            self._write_checked_state(i, state, data)
        self._ep_return[:] = columns["episode_return"]
        self._top_right_step[:] = columns["top_right_step"]
        self._seed_cursor[:] = columns["seed_cursor"]
        self._has_reset = True
        self._obs = self._gym3.observe()[1]["rgb"]
        return self._obs.copy()

    # ----------------------------------------------------------------- internals
    def _open_engine(self) -> None:
        self.close()
        rand_seed = self._seed
        if rand_seed is None:
            rand_seed = int(np.random.SeedSequence().entropy % 2**31)
        self._gym3 = make_gym3_env(
            num=self.num_envs,
            distribution_mode=self.distribution_mode,
            rand_seed=rand_seed,
            num_threads=self.num_threads,
            num_levels=self.num_levels,
            start_level=self.start_level,
            render_mode=self.render_mode,
            reuse_arrays=True,  # every frame handed out is copied once, here
        )
        world = world_dim(self.distribution_mode)
        n = self.num_envs
        self._free = np.zeros((n, world + 2, world + 2), dtype=bool)  # world grid + wall border
        self._mouse = np.zeros((n, 2), dtype=np.int64)  # world (x, y)
        self._corner = np.zeros((n, 2), dtype=np.int64)  # world (x, y) of top-right corner
        self._margin = np.zeros(n, dtype=np.int64)
        self._maze_dim = np.zeros(n, dtype=np.int64)
        self._level_seed = np.zeros(n, dtype=np.int64)
        self._cheese = np.full((n, 2), -1, dtype=np.int64)  # inner (x, y), -1 = none
        self._ep_return = np.zeros(n, dtype=np.float32)
        self._ep_len = np.zeros(n, dtype=np.int64)
        self._top_right_step = np.full(n, -1, dtype=np.int64)
        self._maze_version = np.zeros(n, dtype=np.int64)
        self._seed_cursor = np.arange(n)
        self._skipped = np.full(n, "", dtype=object)  # why a placement skipped a maze
        if self.level_seeds is None:
            for i in range(n):
                self._begin_episode(i)
            self._obs = self._gym3.observe()[1]["rgb"]
        else:
            self._restart_all_episodes()

    def _restart_all_episodes(self) -> None:
        """End every episode at once: each env's clock is set to one step before the
        timeout and one no-op step is taken, so the engine generates the next levels."""
        for i in range(self.num_envs):
            with self._edit_engine_state(i) as (state, buffer):
                state.cur_time = int(state.step["timeout"][0]) - 1
                self._schedule_next_level(i, buffer)
        self._gym3.act(np.full(self.num_envs, NOOP, dtype=np.int32))
        self._gym3.observe()
        for i in range(self.num_envs):
            self._begin_episode(i)
        self._obs = self._gym3.observe()[1]["rgb"]

    def _schedule_next_level(self, i: int, buffer: bytearray) -> None:
        """With ``level_seeds``, make the engine's next level for env i its next seed,
        in env i's state bytes ``buffer``.

        ``_seed_cursor[i]`` indexes that next seed; the engine draws a level seed from
        [low, high), so low = seed, high = seed + 1 selects it exactly.
        """
        if self.level_seeds is None:
            return
        seed = self.level_seeds[self._seed_cursor[i] % len(self.level_seeds)]
        write_level_seed_range(buffer, seed, seed + 1)

    def _begin_episode(self, i: int) -> None:
        """Apply the cheese placement and the episode settings to env i's fresh maze,
        before its first frame.

        The edits go straight into the engine's state bytes (the parsed state's arrays
        are views of them), so nothing is re-serialized: resets are the hot path of
        training. The placement sees a read-only state.
        """
        with self._edit_engine_state(i) as (state, buffer):
            state.step["timeout"] = self.max_episode_steps
            self._skipped[i] = ""
            if self.cheese is not None:
                seed_words = [state.level_seed & 0xFFFFFFFF, self.placement_seed]
                try:
                    cell = self.cheese(state._read_only(), np.random.default_rng(seed_words))
                except PlacementSkipped as skip:
                    cell = None  # this maze cannot take the placement: no cheese
                    self._skipped[i] = str(skip) or type(self.cheese).__name__
                state.set_cheese(cell)
            if self.level_seeds is not None:
                self._seed_cursor[i] += self.num_envs  # the scheduled seed is now playing
                self._schedule_next_level(i, buffer)
        self._ep_return[i] = 0.0
        self._ep_len[i] = 0
        self._top_right_step[i] = -1
        self._track_state(i, state)

    def _track_state(self, i: int, state: MazeState) -> None:
        self._maze_version[i] += 1
        self._free[i] = False
        self._free[i, 1:-1, 1:-1] = state.world != WALL
        m, n = state.margin, state.maze_dim
        self._margin[i], self._maze_dim[i] = m, n
        self._mouse[i] = np.add(state.mouse_cell, m)
        self._corner[i] = (m + n - 1, m + n - 1)
        self._level_seed[i] = state.level_seed
        cheese = state.cheese_cell
        self._cheese[i] = (-1, -1) if cheese is None else cheese
        if (self._mouse[i] == self._corner[i]).all() and self._top_right_step[i] < 0:
            self._top_right_step[i] = state.cur_time

    def _track_moves(self, actions: np.ndarray, done: np.ndarray) -> None:
        """Advance tracked mouse cells by the actions (walls block), and corner visits."""
        target = self._mouse + ACTION_DELTA_ARRAY[actions]  # (N, 2) world (x, y)
        rows = np.arange(self.num_envs)
        open_ = self._free[rows, target[:, 1] + 1, target[:, 0] + 1]
        self._mouse = np.where(open_[:, None], target, self._mouse)
        at_corner = (self._mouse == self._corner).all(axis=1) & (self._top_right_step < 0)
        self._top_right_step[at_corner] = self._ep_len[at_corner] + 1

    def _outcome_info(self, done, reached_cheese, timed_out) -> dict:
        values = {
            "reached_cheese": reached_cheese,
            "reached_top_right": done & (self._top_right_step >= 0),
            "timed_out": timed_out,
            "episode_return": self._ep_return.copy(),
            "episode_length": self._ep_len.copy(),
            "top_right_step": self._top_right_step.copy(),
            "episode_level_seed": self._level_seed.copy(),
            "episode_cheese_cell": self._cheese.copy(),
            "episode_maze_dim": self._maze_dim.copy(),
        }
        info = {}
        for key in OUTCOME_KEYS:
            info[key] = values[key]
            info[f"_{key}"] = done.copy()
        return info

    def _running_info(self) -> dict:
        info = {
            "level_seed": self._level_seed.copy(),
            "maze_dim": self._maze_dim.copy(),
            "cheese_cell": self._cheese.copy(),
            "mouse_cell": self._mouse - self._margin[:, None],
            "episode_step": self._ep_len.copy(),
        }
        skipped = self._skipped != ""
        if skipped.any():
            info["placement_skipped"] = self._skipped.copy()
            info["_placement_skipped"] = skipped
        return info

    @contextlib.contextmanager
    def _edit_engine_state(self, i: int) -> Iterator[tuple[MazeState, bytearray]]:
        """Env i's state bytes and a state parsed over them (its arrays are views of the
        bytes); what the block edits in place is written back to the engine at its end,
        nothing if it raises."""
        buffer = bytearray(self._gym3.get_state_of(i))
        yield MazeState._over_engine_buffer(buffer), buffer
        self._gym3.set_state_of(i, bytes(buffer))

    def _read_state(self, i: int) -> MazeState:
        return MazeState._from_engine(self._gym3.get_state_of(i))

    def _checked_state(self, state: MazeState | bytes, what: str = "state"):
        """(state, its bytes), both validated for this env: a valid maze state of this
        env's distribution mode. Raises before anything is written."""
        if isinstance(state, MazeState):
            data = state.to_bytes()  # validates
        elif isinstance(state, bytes | bytearray | memoryview):
            data = bytes(state)
            state = MazeState.from_bytes(data)
        else:
            raise TypeError(f"{what} must be a MazeState or bytes, got {type(state).__name__}")
        mode, world = self.distribution_mode, world_dim(self.distribution_mode)
        if state.distribution_mode != mode or state.world_dim != world:
            raise MazeStateError(
                f"{what} is from a {state.distribution_mode!r} env (world {state.world_dim}); "
                f"this env is {mode!r} (world {world})"
            )
        return state, data

    def _write_checked_state(self, i: int, state: MazeState, data: bytes) -> None:
        """Write a state that passed :meth:`_checked_state` and track it."""
        self._gym3.set_state_of(i, data)
        self._track_state(i, state)
        self._ep_len[i] = state.cur_time
        self._skipped[i] = ""

    def _check_actions(self, actions) -> np.ndarray:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {a.shape}")
        if not np.issubdtype(a.dtype, np.integer):
            if not np.all(np.mod(a, 1) == 0):
                raise ValueError("actions must be integers")
        a = a.astype(np.int32)
        if a.min() < 0 or a.max() >= NUM_ACTIONS:
            raise ValueError(f"actions must be in 0..{NUM_ACTIONS - 1}, got {a.min()}..{a.max()}")
        return a

    def _check_index(self, env_index: int) -> int:
        if isinstance(env_index, bool | np.bool_) or not isinstance(env_index, numbers.Integral):
            raise TypeError(f"env_index must be an int, got {env_index!r}")
        if not 0 <= int(env_index) < self.num_envs:
            raise IndexError(f"env_index {env_index} out of range for {self.num_envs} envs")
        return int(env_index)

    def _require_reset(self) -> None:
        if not self._has_reset:
            raise RuntimeError("call reset() first")


def seeds_for(num_envs: int, level_seeds: Sequence[int]) -> list[list[int]]:
    """The level seeds env i plays in order under ``level_seeds`` (before wrapping).

    Example:
        >>> seeds_for(2, range(5))
        [[0, 2, 4], [1, 3]]
    """
    seeds = list(level_seeds)
    return [seeds[i::num_envs] for i in range(num_envs)]
