"""The one place that talks to the Procgen engine: a batch of mazes with per-env state access.

Two packages ship the same C++ engine, and this module hides which one runs:

- ``procgen-mirror`` 0.10.7 (Python 3.11 and 3.12, numpy < 2): procgen's own gym3
  package, reached through cffi;
- ``procgen-gym`` 0.1.1 (Python 3.13, numpy 2): a gymnasium port whose game code is
  unchanged, reached through ctypes.

Their mazes are the same byte for byte (states, frames, rewards, episode ends; states
saved by one load into the other): ``tests/golden/engine.json``, recorded with
procgen-mirror, is checked on whichever is installed. ``pyproject.toml`` installs the one
that suits the running Python; :data:`BACKEND` is the one found (procgen-mirror first),
and the environment variable ``MAZEPOLICY_BACKEND`` (``procgen-mirror`` or
``procgen-gym``) forces one, for testing.

Both engines' C functions ``get_state``/``set_state`` take an env index; the wrappers here
call them for one env at a time, which is what re-applying edits at each reset needs.

Example:
    >>> engine = make_engine(num=2, distribution_mode="easy", rand_seed=0, num_threads=0)
    >>> rew, ob, first = engine.observe()
    >>> ob["rgb"].shape, rew.shape, len(engine.get_state_of(1)) > 0
    ((2, 64, 64, 3), (2,), True)
    >>> engine.close()
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import os
import warnings
from typing import Protocol

import numpy as np

BACKENDS = ("procgen-mirror", "procgen-gym")


class MazeEngine(Protocol):
    """What the env needs of an engine: ``num`` mazes stepped together."""

    num: int

    def act(self, actions: np.ndarray) -> None:
        """Step every maze with int32 actions (num,)."""

    def observe(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """(reward float32 (num,), {"rgb": uint8 (num, 64, 64, 3)}, first (num,))."""

    def get_state_of(self, env_index: int) -> bytes:
        """The serialized state of maze ``env_index``."""

    def set_state_of(self, env_index: int, state: bytes) -> None:
        """Write a serialized state into maze ``env_index``. Only validated bytes
        (``MazeState.to_bytes``) or the engine's own with checked edits: malformed bytes
        abort the process inside the engine."""

    def render_frames(self) -> np.ndarray:
        """The 512x512 frames of ``render_mode="rgb_array"``, uint8 (num, 512, 512, 3)."""

    def close(self) -> None:
        """Free the engine."""


def _quietly_import_procgen():
    """procgen-mirror imports the unmaintained gym package, which prints a notice and
    warns on import."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import procgen
        from procgen.env import MAX_STATE_SIZE
    return procgen, MAX_STATE_SIZE


def _find_backend() -> str:
    """The backend to use: ``MAZEPOLICY_BACKEND`` if set, else the first installed."""
    forced = os.environ.get("MAZEPOLICY_BACKEND")
    if forced is not None:
        if forced not in BACKENDS:
            raise ValueError(f"MAZEPOLICY_BACKEND must be one of {BACKENDS}, got {forced!r}")
        return forced
    for name, module in zip(BACKENDS, ("procgen", "procgen_gym"), strict=True):
        if importlib.util.find_spec(module) is not None:
            return name
    raise ImportError("no Procgen engine is installed: `pip install procgen-mirror==0.10.7` "
                      "(Python 3.11, 3.12) or `pip install procgen-gym==0.1.1` (Python 3.13)")


BACKEND = _find_backend()


class Gym3Engine:
    """procgen-mirror's ``ProcgenGym3Env`` for the maze, plus single-env state access.

    ``reuse_arrays``: gym3's option (which procgen does not pass on): ``observe`` returns
    the engine's own buffers instead of copies, so they change at the next step; a
    caller that copies what it keeps saves a copy of every frame.
    """

    def __init__(self, reuse_arrays: bool = False, **options):
        procgen, max_state_size = _quietly_import_procgen()
        self._env = procgen.ProcgenGym3Env(env_name="maze", **options)
        self._env._reuse_arrays = reuse_arrays  # gym3.libenv.CEnv's attribute for it
        self.num = self._env.num
        self._state_buffer = self._env._ffi.new(f"char[{max_state_size}]")
        self._max_state_size = max_state_size
        # Resolve libenv_close now: cffi resolves library functions lazily under a lock
        # that it also holds while loading a library, so an env garbage-collected while
        # another env is being created would otherwise deadlock in its __del__ -> close.
        _ = self._env._c_lib.libenv_close

    def act(self, actions: np.ndarray) -> None:
        self._env.act(actions)

    def observe(self):
        return self._env.observe()

    def get_state_of(self, env_index: int) -> bytes:
        n = self._env.call_c_func("get_state", env_index, self._state_buffer,
                                  self._max_state_size)
        return bytes(self._env._ffi.buffer(self._state_buffer, n))

    def set_state_of(self, env_index: int, state: bytes) -> None:
        self._env.call_c_func("set_state", env_index, state, len(state))

    def render_frames(self) -> np.ndarray:
        return np.stack([info["rgb"] for info in self._env.get_info()])

    def close(self) -> None:
        self._env.close()


class CtypesEngine:
    """procgen-gym's engine for the maze, driven through its ctypes ``CLibenv`` without
    the per-step copies of its ``ProcgenVecEnv.step`` (see :class:`Gym3Engine` for
    ``reuse_arrays``)."""

    def __init__(self, reuse_arrays: bool = False, *, num: int, **options):
        from procgen_gym.env import MAX_STATE_SIZE, ProcgenVecEnv

        self._env = ProcgenVecEnv(num_envs=num, env_name="maze", **options)
        self._lib = self._env._clib  # its CLibenv: buffers, act, C functions
        self._reuse_arrays = reuse_arrays
        self.num = num
        self._state_buffer = ctypes.create_string_buffer(MAX_STATE_SIZE)
        self._max_state_size = MAX_STATE_SIZE

    def act(self, actions: np.ndarray) -> None:
        self._lib.act(actions)

    def observe(self):
        self._lib.call_c_func("libenv_observe")
        rew, first = self._lib.get_reward_buf(), self._lib.get_first_buf()
        frames = self._lib.get_ob_bufs()["rgb"]
        if not self._reuse_arrays:
            rew, first, frames = rew.copy(), first.copy(), frames.copy()
        return rew, {"rgb": frames}, first.astype(bool)

    def get_state_of(self, env_index: int) -> bytes:
        n = self._lib.call_c_func("get_state", int(env_index), self._state_buffer,
                                  self._max_state_size)  # ctypes takes no numpy ints
        return self._state_buffer.raw[:n]

    def set_state_of(self, env_index: int, state: bytes) -> None:
        self._lib.call_c_func("set_state", int(env_index), bytes(state), len(state))

    def render_frames(self) -> np.ndarray:
        return self._lib.get_info_bufs()["rgb"].copy()

    def close(self) -> None:
        self._env.close()


def make_engine(
    num: int,
    distribution_mode: str = "hard",
    rand_seed: int = 0,
    num_threads: int = 1,
    num_levels: int = 0,
    start_level: int = 0,
    render_mode: str | None = None,
    reuse_arrays: bool = False,
) -> MazeEngine:
    """A raw engine of :data:`BACKEND`: ``num`` mazes stepped by ``num_threads`` C++
    threads (0: in the calling thread); see :class:`Gym3Engine` for ``reuse_arrays``.
    Arguments are passed on unchecked (``MazeVecEnv`` checks them first)."""
    engine = Gym3Engine if BACKEND == "procgen-mirror" else CtypesEngine
    return engine(reuse_arrays=reuse_arrays, num=num, distribution_mode=distribution_mode,
                  rand_seed=rand_seed, num_threads=num_threads, num_levels=num_levels,
                  start_level=start_level, render_mode=render_mode)
