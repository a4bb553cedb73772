"""Training: what every trainer shares (``common``), then one subpackage per algorithm
(``ppo``, ``dagger``), and recipes by name (``recipes``)."""
