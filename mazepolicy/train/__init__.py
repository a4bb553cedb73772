"""Training: what every trainer shares (``common``), then one subpackage per algorithm
(``ppo``, ``dagger``), and recipes by name (``recipes``)."""

from mazepolicy.extras import require

require("torch", "mazepolicy.train")
