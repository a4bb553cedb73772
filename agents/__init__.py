"""Training recipes (TOML), shipped as ``mazepolicy.resources.agents``."""
