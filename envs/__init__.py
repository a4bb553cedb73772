"""Environment variants (TOML), shipped as ``mazepolicy.resources.envs``."""
