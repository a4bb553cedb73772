"""Seeds mixed from a run's seed and a stream name, so each random stream of a run
(env levels, action sampling, minibatch shuffling, ...) is independent and reproducible."""

from __future__ import annotations

import numpy as np


def derived_seed(*words: int) -> int:
    """A seed in [0, 2**31) mixed from ints (run seed, rank, stream, ...).

    Example:
        >>> derived_seed(0, 1) == derived_seed(0, 1) != derived_seed(1, 0)
        True
    """
    return int(np.random.SeedSequence(list(words)).generate_state(1)[0] & 0x7FFFFFFF)
