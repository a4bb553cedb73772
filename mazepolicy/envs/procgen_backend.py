"""The one place that imports procgen: a gym3 maze env with per-env state access.

procgen's own ``get_state``/``set_state`` touch every env; the engine's C functions
take an env index, and these wrappers call them for one env at a time, which is what
re-applying edits at each reset needs.
"""

from __future__ import annotations

import contextlib
import io
import warnings

# procgen imports the unmaintained gym package, which prints a notice and warns on import.
with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
    warnings.simplefilter("ignore")
    import procgen
    from procgen.env import MAX_STATE_SIZE


class Gym3Maze(procgen.ProcgenGym3Env):
    """``procgen.ProcgenGym3Env`` for the maze, plus single-env state read and write.

    ``reuse_arrays``: gym3's option (which procgen does not pass on): ``observe`` returns
    the engine's own buffers instead of copies, so they change at the next step; a
    caller that copies what it keeps saves a copy of every frame.
    """

    def __init__(self, reuse_arrays: bool = False, **kwargs):
        super().__init__(env_name="maze", **kwargs)
        self._reuse_arrays = reuse_arrays  # gym3.libenv.CEnv's attribute for that option
        self._state_buffer = self._ffi.new(f"char[{MAX_STATE_SIZE}]")
        # Resolve libenv_close now: cffi resolves library functions lazily under a lock
        # that it also holds while loading a library, so an env garbage-collected while
        # another env is being created would otherwise deadlock in its __del__ -> close.
        _ = self._c_lib.libenv_close

    def get_state_of(self, env_index: int) -> bytes:
        """The serialized state of env ``env_index``."""
        n = self.call_c_func("get_state", env_index, self._state_buffer, MAX_STATE_SIZE)
        return bytes(self._ffi.buffer(self._state_buffer, n))

    def set_state_of(self, env_index: int, state: bytes) -> None:
        """Write a serialized state into env ``env_index``. Only validated bytes
        (``MazeState.to_bytes``) or the engine's own with checked edits: malformed bytes
        abort the process inside the engine."""
        self.call_c_func("set_state", env_index, state, len(state))


def make_gym3_env(
    num: int,
    distribution_mode: str = "hard",
    rand_seed: int = 0,
    num_threads: int = 1,
    num_levels: int = 0,
    start_level: int = 0,
    render_mode: str | None = None,
    reuse_arrays: bool = False,
) -> Gym3Maze:
    """A raw engine: ``num`` mazes stepped by ``num_threads`` C++ threads (see
    :class:`Gym3Maze` for ``reuse_arrays``)."""
    return Gym3Maze(
        reuse_arrays=reuse_arrays,
        num=num,
        distribution_mode=distribution_mode,
        rand_seed=rand_seed,
        num_threads=num_threads,
        num_levels=num_levels,
        start_level=start_level,
        render_mode=render_mode,
    )
