"""Trained policies (safetensors + JSON card), shipped as ``mazepolicy.resources.checkpoints``."""
