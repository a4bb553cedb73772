"""Checks of the env's constructor and reset arguments, before anything reaches the engine.

The engine takes its options as C ints and aborts the whole process on values it does
not expect (a negative level count, a negative thread count); Python floats and bools
would be truncated silently. Every argument is checked here first: Python and numpy
integers are accepted, anything else raises ``TypeError`` or ``ValueError`` naming the
argument.

Seeds: gymnasium seeds are ints in 0 .. 2**64 - 1; the engine's seed is an int32.
:func:`engine_seed` passes 0 .. 2**31 - 1 through unchanged (so the seeds used so far
keep their mazes) and maps larger seeds deterministically onto that range with numpy's
``SeedSequence`` (two large seeds may then share a level sequence, as any 64 -> 31 bit
map must allow).

This module imports only numpy.

Example:
    >>> check_int(np.int64(3), "seed")
    3
    >>> check_int(2.5, "max_episode_steps")
    Traceback (most recent call last):
    ...
    TypeError: max_episode_steps must be an int, got 2.5 (a float)
    >>> engine_seed(7), engine_seed(2**31 - 1), 0 <= engine_seed(2**64 - 1) < 2**31
    (7, 2147483647, True)
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

INT32_MAX = 2**31 - 1
MAX_SEED = 2**64 - 1  # gymnasium's seed range is 0 .. 2**64 - 1
MAX_THREADS = 256


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int; ``TypeError`` unless it is an int (numpy integers are
    fine; bools, floats, strings are not), ``ValueError`` outside ``minimum .. maximum``.

    Example:
        >>> check_int(-5, "num_levels", minimum=0)
        Traceback (most recent call last):
        ...
        ValueError: num_levels must be >= 0, got -5
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} (a {type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def engine_seed(seed) -> int:
    """The engine's int32 seed for a gymnasium seed in 0 .. 2**64 - 1 (see the module
    docstring): unchanged up to 2**31 - 1, larger ones mapped by ``SeedSequence``.

    Example:
        >>> engine_seed(2**40) == engine_seed(2**40) != engine_seed(2**40 + 1)
        True
        >>> engine_seed(-1)
        Traceback (most recent call last):
        ...
        ValueError: seed must be >= 0, got -1
    """
    seed = check_int(seed, "seed", minimum=0, maximum=MAX_SEED)
    if seed <= INT32_MAX:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1)[0]) & INT32_MAX


def check_level_seeds(level_seeds: Iterable, maximum: int) -> list[int]:
    """``level_seeds`` as a non-empty list of ints in 0 .. ``maximum``; a string (whose
    characters would otherwise be taken as seeds), floats and bools are refused.

    Example:
        >>> check_level_seeds(range(3), 10)
        [0, 1, 2]
        >>> check_level_seeds("12", 10)
        Traceback (most recent call last):
        ...
        TypeError: level_seeds must be an iterable of ints, got the string '12'
    """
    if isinstance(level_seeds, str | bytes):
        raise TypeError(f"level_seeds must be an iterable of ints, got the string {level_seeds!r}")
    try:
        items = list(level_seeds)
    except TypeError:
        raise TypeError(f"level_seeds must be an iterable of ints, got {level_seeds!r}") from None
    if not items:
        raise ValueError("level_seeds must not be empty")
    return [check_int(s, "each of level_seeds", minimum=0, maximum=maximum) for s in items]
