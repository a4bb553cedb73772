"""``MazeVecEnv``: the real Procgen maze as a gymnasium ``VectorEnv`` with controllable cheese.

One Procgen engine (:mod:`~mazepolicy.envs.procgen_backend`) steps all mazes in C++
threads. Whenever a maze starts (at ``reset`` and at every automatic reset inside
``step``), only that env's state is read, the cheese placement is applied and the state
is written back before its first frame is observed, so the agent never sees an unedited
maze.

The mouse moves one cell per step (Procgen's ``grid_step``), so its cell is tracked
exactly from the actions and the maze grid read at reset: no per-step state reads. Episode
outcomes come from that tracking and from the engine's reward.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) the mouse's
start cell (bottom-left), (n-1, n-1) the top-right corner.

Autoreset: procgen generates the next level inside the step that ends an episode.
Both of gymnasium's autoreset modes are offered (``autoreset_mode=``, declared in
``env.metadata``): ``SAME_STEP`` (the default, the engine's own), where the observation
returned with ``terminated | truncated`` is the next episode's first frame and the
finished episode's last frame is ``info["final_obs"]``, and ``NEXT_STEP`` (gymnasium's
default), where that step returns the final frame and the next step returns the new
episode's first frame, ignoring that env's action. The engine never renders the final
frame itself; the env knows the finished episode's final state (the maze, its cheese,
the mouse on its last cell, facing its last horizontal move) and renders it through a
second engine, so the final frame is the frame the engine would have shown had the
episode gone on. When the mouse reaches the cheese, the final frame shows the mouse on
the cheese's cell, drawn over the cheese. The finished episode's outcome is in
``info["reached_cheese"]`` etc., masked by ``info["_reached_cheese"]``, in both modes.

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

from mazepolicy.envs.actions import ACTION_DELTA_ARRAY, FACING_AFTER, NOOP, NUM_ACTIONS
from mazepolicy.envs.arguments import (
    INT32_MAX,
    MAX_THREADS,
    check_int,
    check_level_seeds,
    engine_seed,
)
from mazepolicy.envs.cells import Cell, world_dim
from mazepolicy.envs.cheese import CheesePlacement, PlacementSkipped
from mazepolicy.envs.procgen_backend import MazeEngine, make_engine
from mazepolicy.envs.state import (
    MAX_LEVEL_SEED,
    WALL,
    MazeState,
    MazeStateError,
    write_level_seed_range,
)

EPISODE_STEPS = 500  # the engine's timeout
SNAPSHOT_KEYS = ("states", "state_lengths", "episode_return", "top_right_step", "seed_cursor")
# Optional in a snapshot (older snapshots lack it): NEXT_STEP envs whose episode just ended.
PENDING_KEY = "pending_reset"
AUTORESET_MODES = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}
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
            An int in 0 .. 2**64 - 1 (gymnasium's range; see
            :func:`~mazepolicy.envs.arguments.engine_seed` for how seeds above 2**31 - 1
            map onto the engine's) or None (a random one).
        num_threads: engine threads, 0 .. 256 (default: min(4, cpu count); 0 steps in
            the calling thread).
        num_levels, start_level: the engine's level-set options (0 levels = unlimited);
            ints >= 0 with ``start_level + num_levels`` <= 2**31 - 1.
        level_seeds: play exactly these level seeds, env i taking seeds i, i + num_envs,
            ... in turn and wrapping around (for evaluation on seeded mazes).
        placement_seed: extra entropy mixed into the placement rng (0 .. 2**32 - 1).
        render_mode: ``None`` or ``"rgb_array"`` (512x512 frames from the engine).
        max_episode_steps: episode timeout, an int in 1 .. 1e6 (default: the engine's
            500). Written into each maze's state at its start, so the engine itself
            ends the episode.
        autoreset_mode: ``AutoresetMode.SAME_STEP`` (default) or ``NEXT_STEP`` (or
            their names, "same_step" / "next_step"); see below. ``DISABLED`` is refused:
            the engine always starts the next maze itself.

    Autoreset modes (gymnasium's, declared in ``env.metadata["autoreset_mode"]``):

    - ``SAME_STEP``: the step that ends env i's episode returns the next episode's
      first frame; ``info["final_obs"]`` (an object array, None where no episode
      ended; mask ``info["_final_obs"]``) holds the finished episode's final frame and
      ``info["final_info"]`` (mask ``info["_final_info"]``) its final info: the
      running keys as they were at its end and the outcome keys, each masked.
    - ``NEXT_STEP``: that step returns the final frame, and the info's running keys
      describe the finished episode (its last mouse cell, its length). The next step
      ignores env i's action and returns the new episode's first frame with reward 0,
      not terminated or truncated, and the new episode's running info. Edits made in
      between (``set_cheese`` ...) apply to that new episode.

    Errors: a step or reset that raises part-way (a cheese placement raising anything
    but :class:`~mazepolicy.envs.cheese.PlacementSkipped`, say) leaves the engine ahead
    of the env's bookkeeping, so the env then refuses every call but ``reset()`` (which
    starts over from the engine's seed, as the first reset did) and ``close()``, with
    an error naming the first failure. After ``close()`` every call but ``close()``
    raises. An env pickles (and deep-copies) by its settings and a :meth:`snapshot`:
    the copy continues exactly where the original was (placement skip reasons aside),
    if its cheese placement pickles.

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
    """The class default; each env's own ``metadata`` declares its ``autoreset_mode``."""

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
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
    ):
        num_envs = check_int(num_envs, "num_envs", minimum=1, maximum=INT32_MAX)
        num_levels = check_int(num_levels, "num_levels", minimum=0, maximum=INT32_MAX)
        start_level = check_int(start_level, "start_level", minimum=0, maximum=INT32_MAX)
        if start_level + num_levels > INT32_MAX:
            raise ValueError(f"start_level + num_levels must be <= {INT32_MAX}, got "
                             f"{start_level} + {num_levels}")
        if num_threads is not None:
            num_threads = check_int(num_threads, "num_threads", minimum=0, maximum=MAX_THREADS)
        if seed is not None:
            engine_seed(seed)  # checks it
        placement_seed = check_int(placement_seed, "placement_seed", minimum=0,
                                   maximum=2**32 - 1)
        max_episode_steps = check_int(max_episode_steps, "max_episode_steps", minimum=1,
                                      maximum=1_000_000)
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
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
        self.num_envs = num_envs
        self.cheese = cheese
        self.distribution_mode = distribution_mode
        self.num_threads = min(4, os.cpu_count() or 1) if num_threads is None else num_threads
        self.num_levels = num_levels
        self.start_level = start_level
        self.placement_seed = placement_seed
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.level_seeds = (None if level_seeds is None
                            else check_level_seeds(level_seeds, MAX_LEVEL_SEED))
        self.single_observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.single_action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._seed = seed
        self._engine: MazeEngine | None = None
        self._final_renderer: MazeEngine | None = None  # draws finished episodes' last frames
        self._obs: np.ndarray | None = None
        self._has_reset = False
        self._closed = False
        self._failure: str | None = None  # why the env refuses use (see the class docstring)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed=None, options: dict | None = None):
        """Start a new episode in every env.

        ``seed``: None (continue the level sequence), an int (re-seed the whole level
        sequence: same seed, same mazes) or gymnasium's list form, one seed or None per
        env: env i then plays the levels of ``MazeVecEnv(num_envs=1, seed=seed[i])``
        with the same settings, and None entries continue their own sequence. ``options``
        are refused (there are none).
        """
        if options:
            raise ValueError(f"MazeVecEnv.reset takes no options, got {sorted(options)}")
        self._require_open()
        per_env = _per_env_seeds(seed, self.num_envs) if isinstance(seed, list | tuple) else None
        if per_env is not None and self.level_seeds is not None:
            raise ValueError("reset(seed=[...]) cannot apply: level_seeds fixes the levels")
        if per_env is None and seed is not None:
            engine_seed(seed)  # checked before anything changes
        with self._refusing_use_after_error("reset()"):
            if per_env is not None:
                if self._engine is None or self._failure is not None:
                    self._open_engine()
                self._restart_all_episodes(per_env)
            elif seed is not None or self._engine is None or self._failure is not None:
                if seed is not None:
                    self._seed = seed
                self._open_engine()
            else:
                self._restart_all_episodes()
        self._has_reset = True
        return self._obs.copy(), self._running_info()

    def step(self, actions):
        """Step every env; finished envs start their next episode (see the autoreset
        modes in the class docstring)."""
        self._require_reset()
        actions = self._check_actions(actions)
        with self._refusing_use_after_error("step()"):
            return self._step(actions)

    def render(self):
        """Engine frames of every env: (N, 512, 512, 3) with ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            raise RuntimeError("create the env with render_mode='rgb_array' to render")
        self._require_reset()
        return self._engine.render_frames()

    def close(self, **kwargs):
        """Free the engines; any later call but ``close()`` raises."""
        self._close_engines()
        self._closed = True

    def _close_engines(self) -> None:
        for engine in (self._engine, self._final_renderer):
            if engine is not None:
                engine.close()
        self._engine = self._final_renderer = None

    def __getstate__(self) -> dict:
        """Settings plus a :meth:`snapshot`: what pickling and ``copy.deepcopy`` keep."""
        self._require_usable()
        settings = {key: value for key, value in self.__dict__.items()
                    if key in _SETTINGS}
        snapshot = self.snapshot() if self._has_reset else None
        return {"settings": settings, "snapshot": snapshot}

    def __setstate__(self, pickled: dict) -> None:
        self.__dict__.update(pickled["settings"])
        self._engine = self._final_renderer = self._obs = None
        self._has_reset, self._closed, self._failure = False, False, None
        if pickled["snapshot"] is not None:
            self.restore(pickled["snapshot"])

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
        self._obs = self._engine.observe()[1]["rgb"]
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
        return self._mouse_world() - self._margin[:, None]

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
        states = [self._engine.get_state_of(i) for i in range(self.num_envs)]
        return {
            "states": np.frombuffer(b"".join(states), dtype=np.uint8).copy(),
            "state_lengths": np.array([len(s) for s in states], dtype=np.int64),
            "episode_return": self._ep_return.copy(),
            "top_right_step": self._top_right_step.copy(),
            "seed_cursor": self._seed_cursor.copy(),
            PENDING_KEY: self._pending.copy(),
        }

    def restore(self, snapshot: dict) -> np.ndarray:
        """Continue from a :meth:`snapshot` of an env with the same settings and
        ``num_envs``; returns the current frames (N, 64, 64, 3).

        The whole snapshot is checked (keys, shapes, every state and its distribution
        mode) before anything is written; a bad one raises ``ValueError`` and leaves the
        env and its engine as they were. (Placement skip reasons are not part of a
        snapshot: after a restore no env reports one.)"""
        self._require_open()
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
        pending = np.asarray(snapshot.get(PENDING_KEY, np.zeros(self.num_envs, dtype=bool)))
        if pending.shape != (self.num_envs,) or pending.dtype != bool:
            raise ValueError(f"snapshot {PENDING_KEY} must be {self.num_envs} bools")
        if pending.any() and self.autoreset_mode != AutoresetMode.NEXT_STEP:
            raise ValueError("snapshot has envs awaiting a NEXT_STEP autoreset; this env "
                             f"uses {self.autoreset_mode}")
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        bounds = zip(offsets[:-1], offsets[1:], strict=True)
        checked = [self._checked_state(blob[a:b], f"snapshot state {i}")
                   for i, (a, b) in enumerate(bounds)]
        # everything is valid: from here on nothing can fail halfway
        if self._engine is None:
            self._open_engine()
        for i, (state, data) in enumerate(checked):
            self._write_checked_state(i, state, data)
        self._ep_return[:] = columns["episode_return"]
        self._top_right_step[:] = columns["top_right_step"]
        self._seed_cursor[:] = columns["seed_cursor"]
        self._pending[:] = pending
        self._has_reset = True
        self._failure = None  # every engine state and all bookkeeping were just written
        self._obs = self._engine.observe()[1]["rgb"]
        return self._obs.copy()

    # ----------------------------------------------------------------- internals
    def _step(self, actions: np.ndarray):
        """One step of every env (actions checked); see the autoreset modes."""
        restarting = self._pending.copy()  # NEXT_STEP: episodes that ended last step
        if restarting.any():
            actions = np.where(restarting, NOOP, actions).astype(np.int32)
        self._engine.act(actions)
        rew, ob, first = self._engine.observe()
        frames, done = ob["rgb"], first.astype(bool)
        if restarting.any():
            for i in np.flatnonzero(restarting):  # undo the no-op: the episode starts now
                self._engine.set_state_of(i, self._state_bytes[i])
            rew = np.where(restarting, 0.0, rew)
            done &= ~restarting
            frames = self._engine.observe()[1]["rgb"]
            self._pending[:] = False
        self._track_moves(actions, done)
        self._ep_return += rew
        self._ep_len += 1
        self._ep_len[restarting] = 0
        reward = rew.astype(np.float32)
        reached_cheese = done & (rew > 0)
        timed_out = done & ~reached_cheese
        if not done.any():
            self._obs = frames
            return frames.copy(), reward, reached_cheese, timed_out, self._running_info()
        ended = np.flatnonzero(done)
        final_frames = self._render_final_frames(ended)  # (len(ended), 64, 64, 3)
        outcome = self._outcome_info(done, reached_cheese, timed_out)
        final_running = self._running_info()  # the finished episodes', before the resets
        for i in ended:
            self._begin_episode(i)
        frames = self._engine.observe()[1]["rgb"]
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._obs = frames.copy()
            self._obs[ended] = final_frames
            self._pending = done
            return self._obs.copy(), reward, reached_cheese, timed_out, outcome | final_running
        self._obs = frames
        final_obs = np.full(self.num_envs, None, dtype=object)
        final_obs[ended] = list(final_frames)
        info = outcome | self._running_info()
        info["final_obs"], info["_final_obs"] = final_obs, done
        info["final_info"] = _final_info(final_running, outcome, done)
        info["_final_info"] = done.copy()
        return frames.copy(), reward, reached_cheese, timed_out, info

    def _render_final_frames(self, ended: np.ndarray) -> np.ndarray:
        """The last frame of each ended episode, uint8 (len(ended), 64, 64, 3): the state
        last written to the env (its maze and cheese) with the tracked mouse cell,
        facing and clock, drawn by a second one-env engine."""
        if self._final_renderer is None:
            self._final_renderer = make_engine(
                num=1, distribution_mode=self.distribution_mode, num_threads=0,
                reuse_arrays=True)
        out = np.empty((len(ended), 64, 64, 3), dtype=np.uint8)
        mice = self._mouse_world()  # (N, 2) world (x, y)
        for k, i in enumerate(ended):
            buffer = bytearray(self._state_bytes[i])
            mouse = MazeState._over_engine_buffer(buffer).entities[0]  # a view of buffer
            mouse["x"], mouse["y"] = mice[i] + 0.5
            mouse["is_reflected"] = self._facing[i]
            self._final_renderer.set_state_of(0, bytes(buffer))
            out[k] = self._final_renderer.observe()[1]["rgb"][0]
        return out

    @contextlib.contextmanager
    def _refusing_use_after_error(self, call: str) -> Iterator[None]:
        """Record an exception escaping ``call`` (the engine may be ahead of the
        bookkeeping), so that later calls refuse (see :meth:`_require_usable`)."""
        try:
            yield
        except BaseException as err:  # Ctrl-C too: it may land between engine and books
            self._failure = f"{call} raised {type(err).__name__}: {err}"
            raise

    def _fresh_engine_state(self, seed) -> bytes:
        """The first level's state of a one-env engine seeded ``seed`` (this env's
        settings): what ``MazeVecEnv(num_envs=1, seed=seed)`` starts with."""
        engine = make_engine(
            num=1, distribution_mode=self.distribution_mode, rand_seed=engine_seed(seed),
            num_threads=0, num_levels=self.num_levels, start_level=self.start_level)
        try:
            return engine.get_state_of(0)
        finally:
            engine.close()

    def _open_engine(self) -> None:
        self._close_engines()
        self._failure = None
        rand_seed = self._seed
        if rand_seed is None:
            rand_seed = int(np.random.SeedSequence().entropy % 2**31)
        self._engine = make_engine(
            num=self.num_envs,
            distribution_mode=self.distribution_mode,
            rand_seed=engine_seed(rand_seed),
            num_threads=self.num_threads,
            num_levels=self.num_levels,
            start_level=self.start_level,
            render_mode=self.render_mode,
            reuse_arrays=True,  # every frame handed out is copied once, here
        )
        world = world_dim(self.distribution_mode)
        n = self.num_envs
        self._state_bytes: list[bytes] = [b""] * n  # what was last written to each env
        self._facing = np.zeros(n, dtype=np.int32)  # the mouse sprite's is_reflected
        self._pending = np.zeros(n, dtype=bool)  # NEXT_STEP: reset at the next step
        # Walkable world cells of every env with a wall border, bool (N, side, side) indexed
        # [env, y + 1, x + 1]; mice and corners are flat indices into it, so one step of
        # tracking is a few vectorized ops.
        side = world + 2
        self._side = side
        self._free = np.zeros((n, side, side), dtype=bool)
        self._free_flat = self._free.reshape(-1)  # a view
        self._env_base = np.arange(n, dtype=np.int64) * side * side
        self._action_offset = ACTION_DELTA_ARRAY[:, 0] + ACTION_DELTA_ARRAY[:, 1] * side
        self._mouse_at = np.zeros(n, dtype=np.int64)  # flat index of each mouse's cell
        self._corner_at = np.zeros(n, dtype=np.int64)  # ... and of each top-right corner
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
            self._obs = self._engine.observe()[1]["rgb"]
        else:
            self._restart_all_episodes()

    def _restart_all_episodes(self, seeds: list | None = None) -> None:
        """End every episode at once: each env's clock is set to one step before the
        timeout and one no-op step is taken, so the engine generates the next levels.
        With ``seeds`` (one int or None per env), an env with a seed instead takes the
        first level of a one-env engine of that seed (its RNGs included)."""
        seeds = [None] * self.num_envs if seeds is None else seeds
        for i in range(self.num_envs):
            with self._edit_engine_state(i) as (state, buffer):
                state.cur_time = int(state.step["timeout"][0]) - 1
                self._schedule_next_level(i, buffer)
        self._engine.act(np.full(self.num_envs, NOOP, dtype=np.int32))
        self._engine.observe()
        for i, seed in enumerate(seeds):
            if seed is not None:
                self._engine.set_state_of(i, self._fresh_engine_state(seed))
        self._pending[:] = False
        for i in range(self.num_envs):
            self._begin_episode(i)
        self._obs = self._engine.observe()[1]["rgb"]

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
        mx, my = state.mouse_cell
        self._mouse_at[i] = self._flat_index(i, mx + m, my + m)
        self._corner_at[i] = self._flat_index(i, m + n - 1, m + n - 1)
        self._level_seed[i] = state.level_seed
        cheese = state.cheese_cell
        self._cheese[i] = (-1, -1) if cheese is None else cheese
        self._facing[i] = state.entities[0]["is_reflected"]
        if self._mouse_at[i] == self._corner_at[i] and self._top_right_step[i] < 0:
            self._top_right_step[i] = state.cur_time

    def _flat_index(self, i: int, wx: int, wy: int) -> int:
        """Index in ``_free_flat`` of env i's world cell (wx, wy)."""
        return int(self._env_base[i] + (wy + 1) * self._side + wx + 1)

    def _mouse_world(self) -> np.ndarray:
        """Tracked mouse cells in world coordinates, int (N, 2) of (x, y)."""
        wy, wx = np.divmod(self._mouse_at - self._env_base, self._side)
        return np.stack([wx - 1, wy - 1], axis=1)

    def _track_moves(self, actions: np.ndarray, done: np.ndarray) -> None:
        """Advance tracked mouse cells by the actions (walls block), the sprite's
        facing, and corner visits."""
        target = self._mouse_at + self._action_offset[actions]  # (N,) flat indices
        np.copyto(self._mouse_at, target, where=self._free_flat[target])
        facing = FACING_AFTER[actions]
        np.copyto(self._facing, facing, where=facing >= 0)
        at_corner = (self._mouse_at == self._corner_at) & (self._top_right_step < 0)
        if at_corner.any():
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
            "mouse_cell": self._mouse_world() - self._margin[:, None],
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
        buffer = bytearray(self._engine.get_state_of(i))
        yield MazeState._over_engine_buffer(buffer), buffer
        data = bytes(buffer)
        self._engine.set_state_of(i, data)
        self._state_bytes[i] = data

    def _read_state(self, i: int) -> MazeState:
        return MazeState._from_engine(self._engine.get_state_of(i))

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
        self._engine.set_state_of(i, data)
        self._state_bytes[i] = data
        self._track_state(i, state)
        self._ep_len[i] = state.cur_time
        self._skipped[i] = ""

    def _check_actions(self, actions) -> np.ndarray:
        """Actions as int32 (N,): ints (or integral floats) in 0..14, range checked
        before any cast (so 2**32 + 7 cannot wrap to 7); bools are refused."""
        a = np.asarray(actions)
        if a.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {a.shape}")
        if a.dtype.kind not in "iuf":
            raise ValueError(f"actions must be ints in 0..{NUM_ACTIONS - 1}, got dtype "
                             f"{a.dtype}" + (" (bools are not actions)" if a.dtype == bool
                                             else ""))
        low, high = a.min(), a.max()
        if not (0 <= low and high < NUM_ACTIONS):  # also False for NaN
            raise ValueError(f"actions must be in 0..{NUM_ACTIONS - 1}, got {low}..{high}")
        if a.dtype.kind == "f" and not np.all(np.mod(a, 1) == 0):
            raise ValueError("actions must be integers")
        return a.astype(np.int32, copy=False)

    def _check_index(self, env_index: int) -> int:
        if isinstance(env_index, bool | np.bool_) or not isinstance(env_index, numbers.Integral):
            raise TypeError(f"env_index must be an int, got {env_index!r}")
        if not 0 <= int(env_index) < self.num_envs:
            raise IndexError(f"env_index {env_index} out of range for {self.num_envs} envs")
        return int(env_index)

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("this MazeVecEnv is closed; make a new one")

    def _require_usable(self) -> None:
        self._require_open()
        if self._failure is not None:
            raise RuntimeError(
                f"this MazeVecEnv no longer matches its engine after an error ({self._failure});"
                " call reset() to start over, or make a new env")

    def _require_reset(self) -> None:
        self._require_usable()
        if not self._has_reset:
            raise RuntimeError("call reset() first")


_SETTINGS = (
    "num_envs", "cheese", "distribution_mode", "num_threads", "num_levels", "start_level",
    "placement_seed", "max_episode_steps", "render_mode", "level_seeds", "autoreset_mode",
    "metadata", "single_observation_space", "single_action_space", "observation_space",
    "action_space", "_seed",
)
"""The attributes set by ``__init__``: with a snapshot, all a pickled env needs."""


def _autoreset_mode(mode) -> AutoresetMode:
    """``mode`` as SAME_STEP or NEXT_STEP; ``ValueError`` for anything else."""
    if isinstance(mode, str) and mode.lower() in AUTORESET_MODES:
        return AUTORESET_MODES[mode.lower()]
    if mode in (AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP):
        return mode
    if mode == AutoresetMode.DISABLED:
        raise ValueError("autoreset_mode DISABLED is not possible: the engine starts the next "
                         "maze itself; use SAME_STEP or NEXT_STEP")
    raise ValueError(f"autoreset_mode must be AutoresetMode.SAME_STEP or NEXT_STEP (or "
                     f"'same_step' / 'next_step'), got {mode!r}")


def _per_env_seeds(seeds, num_envs: int) -> list:
    """gymnasium's list form of ``reset(seed=...)``: one int or None per env, checked."""
    if len(seeds) != num_envs:
        raise ValueError(f"reset(seed=[...]) needs one seed per env ({num_envs}), got "
                         f"{len(seeds)}")
    for seed in seeds:
        if seed is not None:
            engine_seed(seed)  # checks it
    return list(seeds)


def _final_info(final_running: dict, outcome: dict, done: np.ndarray) -> dict:
    """SAME_STEP's ``info["final_info"]``: the finished episodes' running keys as they
    were at their end, and the outcome keys, each masked to the envs that ended."""
    info = {}
    for key, value in final_running.items():
        if not key.startswith("_"):
            info[key] = value
            info[f"_{key}"] = final_running.get(f"_{key}", done) & done
    return info | outcome


def seeds_for(num_envs: int, level_seeds: Sequence[int]) -> list[list[int]]:
    """The level seeds env i plays in order under ``level_seeds`` (before wrapping).

    Example:
        >>> seeds_for(2, range(5))
        [[0, 2, 4], [1, 3]]
    """
    seeds = list(level_seeds)
    return [seeds[i::num_envs] for i in range(num_envs)]
