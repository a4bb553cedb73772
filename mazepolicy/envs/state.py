"""Codec for the Procgen maze engine's serialized state (the bytes of ``get_state``).

``MazeState.from_bytes(b).to_bytes() == b`` holds exactly for every state the engine
produces: fields the project edits are parsed into typed values, everything else is
kept as opaque bytes. Parsing validates every length and offset, and ``to_bytes``
validates the edited state again, so malformed input raises :class:`MazeStateError`
(a ``ValueError``) in Python instead of aborting the process inside the engine.

Cells are (x, y) in inner-maze coordinates: x to the right, y up, (0, 0) is the
mouse's start cell (bottom-left), (n-1, n-1) the top-right corner, n = ``maze_dim``.
Grids are numpy arrays indexed ``[y, x]`` with row y = 0 at the BOTTOM (the engine's
storage order); flip them (``np.flipud``) to show them as top-down pictures.

Example:
    >>> from mazepolicy.envs.procgen_backend import make_engine
    >>> raw = make_engine(num=1, rand_seed=0).get_state_of(0)
    >>> state = MazeState.from_bytes(raw)
    >>> state.to_bytes() == raw
    True
    >>> state.mouse_cell
    (0, 0)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import struct
from dataclasses import dataclass, field

import numpy as np

from mazepolicy.envs.cells import WORLD_DIMS, Cell, as_cell, check_in_maze

WALL = 51
FREE = 100
CHEESE = 2
CELL_VALUES = (WALL, FREE, CHEESE)

MAGIC = 0xCAFECAFE
NUM_OPTIONS = 12
DISTRIBUTION_MODE_OPTION = 7  # index of distribution_mode among the 12 option ints
DISTRIBUTION_MODES = {0: "easy", 1: "hard", 2: "extreme", 3: "memory", 10: "exploration"}
MAX_STRING_BYTES = 1 << 20
ENTITY_BYTES = 124

_I32 = struct.Struct("<i")

# Step data: 15 fields, in the engine's order.
STEP_DTYPE = np.dtype(
    [
        ("reward", "<f4"),
        ("done", "<i4"),
        ("level_complete", "<i4"),
        ("action", "<i4"),
        ("timeout", "<i4"),
        ("current_level_seed", "<i4"),
        ("prev_level_seed", "<i4"),
        ("episodes_remaining", "<i4"),
        ("episode_done", "<i4"),
        ("last_reward_timer", "<i4"),
        ("last_reward", "<f4"),
        ("default_action", "<i4"),
        ("fixed_asset_seed", "<i4"),
        ("cur_time", "<i4"),
        ("is_waiting_for_step", "<i4"),
    ]
)

# One entity: 31 fields (124 bytes), in the engine's order. Entity 0 is the mouse.
ENTITY_DTYPE = np.dtype(
    [
        ("x", "<f4"),
        ("y", "<f4"),
        ("vx", "<f4"),
        ("vy", "<f4"),
        ("rx", "<f4"),
        ("ry", "<f4"),
        ("type", "<i4"),
        ("image_type", "<i4"),
        ("image_theme", "<i4"),
        ("render_z", "<i4"),
        ("will_erase", "<i4"),
        ("collides_with_entities", "<i4"),
        ("collision_margin", "<f4"),
        ("rotation", "<f4"),
        ("vrot", "<f4"),
        ("is_reflected", "<i4"),
        ("fire_time", "<i4"),
        ("spawn_time", "<i4"),
        ("life_time", "<i4"),
        ("expire_time", "<i4"),
        ("use_abs_coords", "<i4"),
        ("friction", "<f4"),
        ("smart_step", "<i4"),
        ("avoids_collisions", "<i4"),
        ("auto_erase", "<i4"),
        ("alpha", "<f4"),
        ("health", "<f4"),
        ("theta", "<f4"),
        ("grow_rate", "<f4"),
        ("alpha_decay", "<f4"),
        ("climber_spawn_x", "<f4"),
    ]
)
assert ENTITY_DTYPE.itemsize == ENTITY_BYTES

# Movement/background fields between the entities and the asset RNG.
MOVEMENT_DTYPE = np.dtype(
    [
        ("use_procgen_background", "<i4"),
        ("background_index", "<i4"),
        ("bg_tile_ratio", "<f4"),
        ("bg_pct_x", "<f4"),
        ("char_dim", "<f4"),
        ("last_move_action", "<i4"),
        ("move_action", "<i4"),
        ("special_action", "<i4"),
        ("mixrate", "<f4"),
        ("maxspeed", "<f4"),
        ("max_jump", "<f4"),
        ("action_vx", "<f4"),
        ("action_vy", "<f4"),
        ("action_vrot", "<f4"),
        ("center_x", "<f4"),
        ("center_y", "<f4"),
        ("random_agent_start", "<i4"),
        ("has_useful_vel_info", "<i4"),
        ("step_rand_int", "<i4"),
    ]
)
# View fields between the asset RNG and the grid.
VIEW_DTYPE = np.dtype(
    [
        ("main_width", "<i4"),
        ("main_height", "<i4"),
        ("out_of_bounds_object", "<i4"),
        ("unit", "<f4"),
        ("view_dim", "<f4"),
        ("x_off", "<f4"),
        ("y_off", "<f4"),
        ("visibility", "<f4"),
        ("min_visibility", "<f4"),
    ]
)
MT19937_WORDS = 625  # libstdc++ writes the 624 state words and the position
SERIALIZE_VERSION = 0
USE_GENERATED_ASSETS_OPTION = 1
PLAYER_TYPE = 0
MAX_FLOAT = 1e6

# What the engine may safely read back in each record field. Fields not listed may hold
# any value. "bool": 0 or 1; "action": 0..14; "finite": a float with |v| < MAX_FLOAT;
# (lo, hi): an int in lo..hi (asset indices, counters). Found by fuzzing set_state: the
# engine asserts on, or indexes arrays with, these fields.
_BOOL, _ACTION, _FINITE = "bool", "action", "finite"
STEP_RULES = {
    "reward": _FINITE,
    "done": _BOOL,
    "level_complete": _BOOL,
    "action": _ACTION,
    "timeout": (1, 1_000_000),
    "episodes_remaining": (0, 2**31 - 1),
    "episode_done": _BOOL,
    "last_reward_timer": (0, 1_000_000),
    "last_reward": _FINITE,
    "default_action": _ACTION,
    "cur_time": (0, 2**31 - 1),
    "is_waiting_for_step": (0, 0),
}
ENTITY_RULES = {
    **{name: _FINITE for name, (dtype, _) in ENTITY_DTYPE.fields.items() if dtype.kind == "f"},
    "type": (PLAYER_TYPE, PLAYER_TYPE),
    "image_type": (0, 0),  # the mouse has one sprite; other values crash the renderer
    "image_theme": (0, 0),
    "render_z": (-64, 64),
    "will_erase": _BOOL,
    "collides_with_entities": _BOOL,
    "is_reflected": _BOOL,
    "use_abs_coords": _BOOL,
    "smart_step": _BOOL,
    "avoids_collisions": _BOOL,
    "auto_erase": _BOOL,
}
MOVEMENT_RULES = {
    **{name: _FINITE for name, (dtype, _) in MOVEMENT_DTYPE.fields.items() if dtype.kind == "f"},
    "use_procgen_background": _BOOL,
    "background_index": (0, 8),  # the maze's backgrounds, as the engine draws them
    "last_move_action": _ACTION,
    "move_action": _ACTION,
    "special_action": _ACTION,
    "random_agent_start": _BOOL,
    "has_useful_vel_info": _BOOL,
}
VIEW_RULES = {name: _FINITE for name, (dtype, _) in VIEW_DTYPE.fields.items() if dtype.kind == "f"}

# Bytes after the grid cells: maze_dim, world_dim, magic.
_TAIL_BYTES = 12
# Bytes of the grid header: w, h, count.
_GRID_HEADER_BYTES = 12


_OPTION_NAMES = (
    "paint_vel_info",
    "use_generated_assets",
    "use_monochrome_assets",
    "restrict_themes",
    "use_backgrounds",
    "center_agent",
    "debug_mode",
    "distribution_mode",
    "use_sequential_levels",
    "use_easy_jump",
    "plain_assets",
    "physics_mode",
)


class MazeStateError(ValueError):
    """Raised for state bytes or edits that the engine must never see."""


def _check_records(records: np.ndarray, dtype: np.dtype, rules: dict, what: str) -> None:
    """Raise unless ``records`` is a 1-record array of ``dtype`` obeying ``rules``."""
    if not isinstance(records, np.ndarray) or records.dtype != dtype or records.shape != (1,):
        raise MazeStateError(f"{what} must be a numpy array of one {what} record")
    values = dict(zip(dtype.names, records[0].item(), strict=True))  # Python scalars
    for name, rule in rules.items():
        value = values[name]
        if rule == _FINITE:
            ok = math.isfinite(value) and abs(value) < MAX_FLOAT
        elif rule == _BOOL:
            ok = int(value) in (0, 1)
        elif rule == _ACTION:
            ok = 0 <= int(value) < 15
        else:
            ok = rule[0] <= int(value) <= rule[1]
        if not ok:
            raise MazeStateError(f"{what}: {name}={value} is not allowed ({rule})")


class _Reader:
    """Bounds-checked little-endian reader over a bytes buffer."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None):
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def _advance(self, n: int, what: str) -> int:
        """Skip ``n`` bytes; returns where they start."""
        if n < 0 or self.pos + n > self.end:
            raise MazeStateError(
                f"state truncated: need {n} bytes for {what} at offset {self.pos}, "
                f"only {self.end - self.pos} left"
            )
        self.pos += n
        return self.pos - n

    def take(self, n: int, what: str) -> bytes:
        start = self._advance(n, what)
        return bytes(self.data[start : start + n])

    def records(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        """The next ``count`` records of ``dtype``: a view of the buffer, not a copy."""
        if count < 0:
            raise MazeStateError(f"bad record count {count} for {what}")
        start = self._advance(count * dtype.itemsize, what)
        return np.frombuffer(self.data, dtype, count, start)

    def i32(self, what: str) -> int:
        return _I32.unpack_from(self.data, self._advance(4, what))[0]

    def string(self, what: str) -> bytes:
        n = self.i32(f"length of {what}")
        if not 0 <= n <= MAX_STRING_BYTES:
            raise MazeStateError(f"bad length {n} for {what}")
        return self.take(n, what)


def _pack_string(s: bytes) -> bytes:
    return _I32.pack(len(s)) + s


# Offset of level_seed_low, level_seed_high: after the version, the game name "maze",
# the options and grid_step.
_LEVEL_SEED_RANGE_OFFSET = 4 + (4 + len(b"maze")) + 4 * NUM_OPTIONS + 4
MAX_LEVEL_SEED = 2**31 - 2  # level_seed_high = seed + 1 must fit an int32


def write_level_seed_range(buffer: bytearray, low: int, high: int) -> None:
    """Set the range [low, high) the engine draws the next level seed from, in maze
    state bytes (``high = low + 1`` selects level ``low`` exactly)."""
    if not 0 <= low < high <= MAX_LEVEL_SEED + 1:
        raise MazeStateError(f"bad level seed range [{low}, {high})")
    struct.pack_into("<ii", buffer, _LEVEL_SEED_RANGE_OFFSET, low, high)


@dataclass
class RngState:
    """One of the engine's RNGs: a seeded flag and the mt19937 state as decimal text."""

    is_seeded: int
    text: bytes
    # the text object that last passed validate() (bytes are immutable, so the same
    # object needs no second check); not part of the state
    _checked_text: bytes | None = field(default=None, repr=False, compare=False)

    def to_bytes(self) -> bytes:
        return _I32.pack(self.is_seeded) + _pack_string(self.text)

    def validate(self, what: str) -> None:
        """The engine reads ``text`` with ``istream >> mt19937``: 625 decimal words."""
        if self.is_seeded not in (0, 1):
            raise MazeStateError(f"{what}: is_seeded flag {self.is_seeded} is not 0 or 1")
        if self.text is self._checked_text:
            return
        if not isinstance(self.text, bytes):
            raise MazeStateError(f"{what}: text must be bytes, got {type(self.text).__name__}")
        words = self.text.split(b" ")
        lengths = [len(w) for w in words]
        if (len(words) != MT19937_WORDS or not b"".join(words).isdigit()
                or min(lengths) < 1 or max(lengths) > 10):
            raise MazeStateError(f"{what}: not an mt19937 state ({MT19937_WORDS} decimal words)")
        # equal-length digit strings compare like their numbers
        if any(w > b"4294967295" for w in words if len(w) == 10):
            raise MazeStateError(f"{what}: mt19937 word out of 32-bit range")
        self._checked_text = self.text


@dataclass
class MazeState:
    """A parsed engine state. Edit it with the methods below, then :meth:`to_bytes`.

    Attributes:
        version, game_name, options, grid_step, level_seed_low, level_seed_high,
        game_type, game_n: header fields (``options`` holds the 12 option ints).
        level_seed_rng, rng: the engine's RNGs.
        step: one record of :data:`STEP_DTYPE` (reward, done, cur_time, ...).
        grid_size: the engine's grid size field.
        entities: array of :data:`ENTITY_DTYPE` records; entity 0 is the mouse.
        movement: one :data:`MOVEMENT_DTYPE` record (background and movement fields).
        asset_rng: the engine's asset RNG.
        view: one :data:`VIEW_DTYPE` record (main_width/height, ...).
        world: int32 array (world_dim, world_dim) indexed [y, x], y = 0 at the bottom.
        maze_dim: side of the inner maze (odd); world_dim: side of the world.
    """

    version: int
    game_name: bytes
    options: tuple[int, ...]
    grid_step: int
    level_seed_low: int
    level_seed_high: int
    game_type: int
    game_n: int
    level_seed_rng: RngState
    rng: RngState
    step: np.ndarray
    grid_size: int
    entities: np.ndarray
    movement: np.ndarray
    asset_rng: RngState
    view: np.ndarray
    world: np.ndarray
    maze_dim: int
    world_dim: int

    # ------------------------------------------------------------------ codec
    @classmethod
    def from_bytes(cls, data: bytes) -> MazeState:
        """Parse ``get_state`` bytes; raises :class:`MazeStateError` if malformed."""
        state = cls._parse(data)
        state.validate()
        return state

    @classmethod
    def _from_engine(cls, data: bytes) -> MazeState:
        """Parse bytes just read from the engine. Its RNG texts are the engine's own
        mt19937 serialization, so their format check (the slowest part of
        :meth:`validate`) is skipped; every other field is still checked."""
        state = cls._parse(data)
        for rng in (state.level_seed_rng, state.rng, state.asset_rng):
            rng._checked_text = rng.text
        state.validate()
        return state

    @classmethod
    def _over_engine_buffer(cls, buffer: bytearray) -> MazeState:
        """Parse state bytes the engine just wrote, sharing ``buffer``: the record arrays
        and the world grid are views of it, so in-place edits of them
        (:meth:`set_cheese`, ``step["timeout"] = ...``) edit the bytes themselves, ready
        for ``set_state`` with no re-serialization. Scalar fields are copies (write the
        level seed range with :func:`write_level_seed_range`). Not validated: the bytes
        are the engine's own, and those edits check what they write."""
        return cls._parse(buffer, share=True)

    @classmethod
    def _parse(cls, data: bytes | bytearray, share: bool = False) -> MazeState:
        """The fields of ``data``, checked only as far as reading them needs. The arrays
        are writable copies, or with ``share`` (``data`` a bytearray) views of ``data``."""
        if share:
            if not isinstance(data, bytearray):
                raise TypeError("a shared parse needs a bytearray")
        elif isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        else:
            raise MazeStateError(f"state must be bytes, got {type(data).__name__}")
        if len(data) < _TAIL_BYTES + _GRID_HEADER_BYTES:
            raise MazeStateError(f"state too short ({len(data)} bytes)")
        maze_dim, world_dim, magic = struct.unpack_from("<iiI", data, len(data) - _TAIL_BYTES)
        if magic != MAGIC:
            raise MazeStateError(f"state does not end with 0xCAFECAFE (got {magic:#x})")
        if not 1 <= world_dim <= 64:
            raise MazeStateError(f"bad world_dim {world_dim}")
        if not (3 <= maze_dim <= world_dim and maze_dim % 2 == 1):
            raise MazeStateError(f"bad maze_dim {maze_dim} for world_dim {world_dim}")
        count = world_dim * world_dim
        grid_start = len(data) - _TAIL_BYTES - 4 * count - _GRID_HEADER_BYTES
        if grid_start < 0:
            raise MazeStateError("state too short for its grid")
        w, h, n_cells = struct.unpack_from("<iii", data, grid_start)
        if (w, h, n_cells) != (world_dim, world_dim, count):
            raise MazeStateError(
                f"grid header {(w, h, n_cells)} does not match world_dim {world_dim}"
            )
        world = np.frombuffer(
            data, dtype="<i4", count=count, offset=grid_start + _GRID_HEADER_BYTES
        ).reshape(world_dim, world_dim)

        r = _Reader(data, 0, grid_start)
        version = r.i32("version")
        game_name = r.string("game_name")
        if game_name != b"maze":
            raise MazeStateError(f"not a maze state (game_name={game_name[:32]!r})")
        options = tuple(r.i32("option") for _ in range(NUM_OPTIONS))
        grid_step = r.i32("grid_step")
        level_seed_low = r.i32("level_seed_low")
        level_seed_high = r.i32("level_seed_high")
        game_type = r.i32("game_type")
        game_n = r.i32("game_n")
        level_seed_rng = RngState(r.i32("rng flag"), r.string("level_seed_rng"))
        rng = RngState(r.i32("rng flag"), r.string("rng"))
        step = r.records(STEP_DTYPE, 1, "step data")
        grid_size = r.i32("grid_size")
        n_entities = r.i32("entity count")
        if not 1 <= n_entities <= (r.end - r.pos) // ENTITY_BYTES:
            raise MazeStateError(f"bad entity count {n_entities}")
        entities = r.records(ENTITY_DTYPE, n_entities, "entities")
        movement = r.records(MOVEMENT_DTYPE, 1, "movement fields")
        asset_rng = RngState(r.i32("rng flag"), r.string("asset_rng"))
        view = r.records(VIEW_DTYPE, 1, "view fields")
        if r.pos != r.end:
            raise MazeStateError(f"{r.end - r.pos} unexpected bytes before the grid")
        if not share:  # views of immutable bytes: copy them into writable arrays
            step, entities, movement, view, world = (
                a.copy() for a in (step, entities, movement, view, world))
        return cls(
            version=version,
            game_name=game_name,
            options=options,
            grid_step=grid_step,
            level_seed_low=level_seed_low,
            level_seed_high=level_seed_high,
            game_type=game_type,
            game_n=game_n,
            level_seed_rng=level_seed_rng,
            rng=rng,
            step=step,
            grid_size=grid_size,
            entities=entities,
            movement=movement,
            asset_rng=asset_rng,
            view=view,
            world=world,
            maze_dim=maze_dim,
            world_dim=world_dim,
        )

    def to_bytes(self) -> bytes:
        """Serialize; validates first, so the result is always safe for ``set_state``."""
        self.validate()
        parts = [
            _I32.pack(self.version),
            _pack_string(self.game_name),
            struct.pack(f"<{NUM_OPTIONS}i", *self.options),
            struct.pack(
                "<5i",
                self.grid_step,
                self.level_seed_low,
                self.level_seed_high,
                self.game_type,
                self.game_n,
            ),
            self.level_seed_rng.to_bytes(),
            self.rng.to_bytes(),
            self.step.astype(STEP_DTYPE).tobytes(),
            struct.pack("<ii", self.grid_size, len(self.entities)),
            self.entities.astype(ENTITY_DTYPE).tobytes(),
            self.movement.astype(MOVEMENT_DTYPE).tobytes(),
            self.asset_rng.to_bytes(),
            self.view.astype(VIEW_DTYPE).tobytes(),
            struct.pack("<iii", self.world_dim, self.world_dim, self.world_dim**2),
            self.world.astype("<i4").tobytes(),
            struct.pack("<iiI", self.maze_dim, self.world_dim, MAGIC),
        ]
        return b"".join(parts)

    def validate(self) -> None:
        """Raise :class:`MazeStateError` unless the state is safe and meaningful.

        Checks every field the engine asserts on when it reads a state (version, game
        name, generated-assets flag, a player entity, RNG text), the fields it uses as
        asset indices, and the maze's own consistency (cell values, mouse position).
        """
        if self.version != SERIALIZE_VERSION:
            raise MazeStateError(f"unsupported state version {self.version}")
        if self.game_name != b"maze":
            raise MazeStateError(f"not a maze state (game_name={self.game_name[:32]!r})")
        if len(self.options) != NUM_OPTIONS:
            raise MazeStateError(f"expected {NUM_OPTIONS} options, got {len(self.options)}")
        if self.options[USE_GENERATED_ASSETS_OPTION] != 0:
            raise MazeStateError("use_generated_assets must be 0 for a restorable state")
        expected_world = WORLD_DIMS.get(self.distribution_mode)
        if expected_world != self.world_dim:
            raise MazeStateError(
                f"distribution mode {self.distribution_mode!r} does not match "
                f"world_dim {self.world_dim}"
            )
        if not self.level_seed_low < self.level_seed_high:
            raise MazeStateError(
                f"empty level seed range [{self.level_seed_low}, {self.level_seed_high})"
            )
        self.level_seed_rng.validate("level_seed_rng")
        self.rng.validate("rng")
        self.asset_rng.validate("asset_rng")
        if self.grid_step != 1:
            raise MazeStateError(f"grid_step must be 1 for the maze, got {self.grid_step}")
        if self.grid_size != self.world_dim**2:
            raise MazeStateError(f"grid_size {self.grid_size} != world_dim^2")
        for name, options_value in zip(_OPTION_NAMES, self.options, strict=True):
            if name != "distribution_mode" and options_value not in (0, 1):
                raise MazeStateError(f"option {name}={options_value} is not 0 or 1")
        _check_records(self.step, STEP_DTYPE, STEP_RULES, "step data")
        _check_records(self.movement, MOVEMENT_DTYPE, MOVEMENT_RULES, "movement fields")
        _check_records(self.view, VIEW_DTYPE, VIEW_RULES, "view fields")
        if len(self.entities) != 1:
            raise MazeStateError(f"expected one entity (the mouse), got {len(self.entities)}")
        _check_records(self.entities, ENTITY_DTYPE, ENTITY_RULES, "mouse entity")
        view = self.view[0]
        if not view["main_width"] == view["main_height"] == self.world_dim:
            raise MazeStateError("view size does not match world_dim")
        if view["out_of_bounds_object"] != WALL:
            raise MazeStateError("out_of_bounds_object must be the wall value")
        if self.world.shape != (self.world_dim, self.world_dim):
            raise MazeStateError(
                f"world grid shape {self.world.shape} != ({self.world_dim}, {self.world_dim})"
            )
        if not (3 <= self.maze_dim <= self.world_dim and self.maze_dim % 2 == 1):
            raise MazeStateError(f"bad maze_dim {self.maze_dim}")
        bad = (self.world != WALL) & (self.world != FREE) & (self.world != CHEESE)
        if bad.any():
            y, x = np.argwhere(bad)[0]
            raise MazeStateError(
                f"world cell (x={x}, y={y}) holds {self.world[y, x]}, "
                f"expected one of {CELL_VALUES} (wall, free, cheese)"
            )
        if np.count_nonzero(self.world == CHEESE) > 1:
            raise MazeStateError("more than one cheese cell")
        mx, my = (float(v) for v in (self.entities[0]["x"], self.entities[0]["y"]))
        if not (np.isfinite(mx) and np.isfinite(my)):
            raise MazeStateError("mouse position is not finite")
        wx, wy = int(mx), int(my)
        if not (0 <= wx < self.world_dim and 0 <= wy < self.world_dim):
            raise MazeStateError(f"mouse at world ({mx}, {my}) is outside the world")
        if self.world[wy, wx] == WALL:
            raise MazeStateError(f"mouse at world cell ({wx}, {wy}) is on a wall")

    def copy(self) -> MazeState:
        """A deep copy: edits to it never touch this state."""
        return copy.deepcopy(self)

    def _read_only(self) -> MazeState:
        """A shallow copy whose arrays are read-only views of this state's arrays, for
        code that may only look (a cheese placement): writing to them raises."""
        frozen = {}
        for name in ("step", "entities", "movement", "view", "world"):
            view = getattr(self, name).view()
            view.flags.writeable = False
            frozen[name] = view
        return dataclasses.replace(self, **frozen)

    # ------------------------------------------------------------- geometry
    @property
    def margin(self) -> int:
        """Padding (in cells) between the world's edge and the inner maze."""
        return (self.world_dim - self.maze_dim) // 2

    @property
    def inner(self) -> np.ndarray:
        """Writable view of the inner maze cells, int32 (maze_dim, maze_dim) indexed [y, x]."""
        m = self.margin
        return self.world[m : m + self.maze_dim, m : m + self.maze_dim]

    @property
    def free(self) -> np.ndarray:
        """Walkable inner cells (free or cheese), bool (maze_dim, maze_dim) indexed [y, x]."""
        return self.inner != WALL

    @property
    def distribution_mode(self) -> str:
        """``"easy"`` or ``"hard"`` (the engine option this state was made with)."""
        code = self.options[DISTRIBUTION_MODE_OPTION]
        return DISTRIBUTION_MODES.get(code, str(code))

    @property
    def level_seed(self) -> int:
        """The seed the engine generated this level from."""
        return int(self.step["current_level_seed"][0])

    @property
    def cur_time(self) -> int:
        """Steps taken in the current episode."""
        return int(self.step["cur_time"][0])

    @cur_time.setter
    def cur_time(self, value: int) -> None:
        self.step["cur_time"] = int(value)

    def to_world(self, cell: Cell) -> tuple[int, int]:
        """World (x, y) of inner cell ``cell`` = (x, y), (0, 0) bottom-left of the maze."""
        return cell[0] + self.margin, cell[1] + self.margin

    def check_cell(self, cell: Cell, what: str = "cell") -> Cell:
        """Return ``cell`` as ints; ``ValueError`` if it is not an (x, y) pair of ints
        (floats and bools are refused), lies outside the maze or is on a wall.

        ``cell`` is (x, y) in inner-maze coordinates, (0, 0) the bottom-left start cell.
        """
        x, y = self._in_maze(cell, what)
        if self.inner[y, x] == WALL:
            raise ValueError(f"{what} {(x, y)} is on a wall")
        return x, y

    def _in_maze(self, cell: Cell, what: str) -> Cell:
        """``cell`` as two ints; ``ValueError`` unless it is an (x, y) inside the maze."""
        return check_in_maze(cell, self.maze_dim, what)

    # ---------------------------------------------------------------- mouse
    @property
    def mouse_cell(self) -> Cell:
        """The mouse's (x, y) inner cell ((0, 0) = bottom-left start)."""
        m = self.margin
        return int(self.entities[0]["x"]) - m, int(self.entities[0]["y"]) - m

    def set_mouse(self, cell: Cell) -> None:
        """Put the mouse at the centre of inner cell ``cell`` = (x, y).

        Raises ``ValueError`` for a cell outside the maze, on a wall, or on the cheese.
        """
        x, y = self.check_cell(cell, "mouse cell")
        if self.cheese_cell == (x, y):
            raise ValueError(f"mouse cell {(x, y)} is the cheese cell")
        wx, wy = self.to_world((x, y))
        self.entities[0]["x"] = wx + 0.5
        self.entities[0]["y"] = wy + 0.5

    def with_mouse(self, cell: Cell) -> MazeState:
        """A copy of this state with the mouse at inner cell ``cell`` = (x, y) (x right,
        y up, (0, 0) the start cell) and the clock restarted; this state is unchanged.

        Raises ``ValueError`` as :meth:`set_mouse` does.
        """
        out = self.copy()
        out.set_mouse(cell)
        out.cur_time = 0
        return out

    # --------------------------------------------------------------- cheese
    @property
    def cheese_cell(self) -> Cell | None:
        """The cheese's (x, y) inner cell, or None when the maze has no cheese."""
        ys, xs = np.nonzero(self.inner == CHEESE)
        if len(xs) == 0:
            return None
        return int(xs[0]), int(ys[0])

    def set_cheese(self, cell: Cell | None) -> None:
        """Move the cheese to inner cell ``cell`` = (x, y), or remove it with ``None``.

        Raises ``ValueError`` for a cell outside the maze, on a wall, or under the mouse.
        """
        if cell is not None:
            cell = self.check_cell(cell, "cheese cell")
            if cell == self.mouse_cell:
                raise ValueError(f"cheese cell {cell} is under the mouse")
        self.world[self.world == CHEESE] = FREE
        if cell is not None:
            self.inner[cell[1], cell[0]] = CHEESE

    # ---------------------------------------------------------------- walls
    def set_wall(self, cell: Cell, wall: bool = True) -> None:
        """Make inner cell ``cell`` = (x, y) a wall (``wall=True``) or free.

        Raises ``ValueError`` outside the maze, or when walling the mouse or cheese cell.
        """
        x, y = self._in_maze(cell, "cell")
        if wall and (x, y) == self.mouse_cell:
            raise ValueError(f"cell {(x, y)} holds the mouse")
        if wall and (x, y) == self.cheese_cell:
            raise ValueError(f"cell {(x, y)} holds the cheese")
        self.inner[y, x] = WALL if wall else FREE

    def set_world_cell(self, world_cell: tuple[int, int], value: int) -> None:
        """Write ``value`` (WALL, FREE or CHEESE) at WORLD coordinates (x, y), padding included.

        World (0, 0) is the bottom-left of the whole world. Used for edits outside the inner
        maze, such as the top-right corridor through the padding.
        """
        wx, wy = as_cell(world_cell, "world cell")
        if not (0 <= wx < self.world_dim and 0 <= wy < self.world_dim):
            raise ValueError(f"world cell {(wx, wy)} is outside the {self.world_dim}^2 world")
        if value not in CELL_VALUES:
            raise ValueError(f"value {value} is not one of {CELL_VALUES}")
        self.world[wy, wx] = value

    def with_maze(self, free: np.ndarray, mouse: Cell = (0, 0), cheese: Cell | None = None):
        """A copy of this state whose inner maze is ``free`` (bool (n, n) indexed [y, x]).

        ``n`` must be odd and fit the world. The padding becomes wall, the mouse goes to
        ``mouse`` and the cheese to ``cheese`` (cells (x, y), (0, 0) bottom-left), and the
        episode clock restarts. The engine needs no other field changed.
        """
        free = np.asarray(free, dtype=bool)
        if free.ndim != 2 or free.shape[0] != free.shape[1]:
            raise ValueError(f"free must be a square 2-D array, got shape {free.shape}")
        n = free.shape[0]
        if n % 2 == 0 or not 3 <= n <= self.world_dim:
            raise ValueError(f"maze side must be odd and in 3..{self.world_dim}, got {n}")
        out = self.copy()
        out.maze_dim = n
        out.world[:] = WALL
        out.inner[:] = np.where(free, FREE, WALL)
        out.set_mouse(mouse)
        out.set_cheese(cheese)
        out.cur_time = 0
        return out
