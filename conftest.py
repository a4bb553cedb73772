"""Collection rules for the whole suite (tests/ and the package's doctests).

Without the torch extra (``pip install -e ".[test]"``, e.g. a Python 3.13 run of the
environments), files that need it are not collected: test files that import it, or a
mazepolicy part that needs it, at their top level or in a doctest, and the package's
torch-only modules. A test that needs torch only inside its body uses
``pytest.importorskip``.
"""

from __future__ import annotations

import importlib.util
import re

HAS_TORCH = importlib.util.find_spec("torch") is not None
NEEDS_TORCH = re.compile(
    r"^(?:\s*>>> )?(?:import|from) (?:torch|stable_baselines3|safetensors|tensorboard|"
    r"mazepolicy\.(?:models|train|interp|report|explore|commands\.(?!common\b)\w+)|"
    r"mazepolicy\.agents\.(?:policy|steered|sampling)|mazepolicy\.envs\.sb3|"
    r"tests\.test_\w+)\b",
    re.MULTILINE)
TORCH_PACKAGES = ("models", "train", "interp", "report", "commands", "explore")
TORCH_MODULES = ("policy.py", "steered.py", "sampling.py", "sb3.py")


def pytest_ignore_collect(collection_path, config):
    if HAS_TORCH or collection_path.suffix != ".py":
        return None
    parts = collection_path.parts
    if "mazepolicy" in parts:
        inner = parts[parts.index("mazepolicy") + 1:]
        if inner and (inner[0] in TORCH_PACKAGES or inner[-1] in TORCH_MODULES):
            return True
    return bool(NEEDS_TORCH.search(collection_path.read_text())) or None
