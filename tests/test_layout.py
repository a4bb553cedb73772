"""The package's layout: layers import downward only, and the wheel lists every
subpackage and ships the data folders."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mazepolicy"
# Each layer may import itself and the layers before it (mazepolicy.io and
# mazepolicy.resources are shared helpers below every layer).
LAYERS = ["envs", "models", "agents", "eval", "train", "interp", "viz", "report", "explore",
          "commands"]
ALLOWED = {
    "envs": {"envs"},
    "models": {"envs", "models"},
    "agents": {"envs", "models", "agents"},
    "eval": {"envs", "models", "agents", "eval"},
    "train": {"envs", "models", "agents", "eval", "train"},
    "interp": {"envs", "models", "agents", "eval", "interp"},
    "viz": {"envs", "models", "agents", "eval", "interp", "viz"},
    "report": {"envs", "models", "agents", "eval", "interp", "viz", "report"},
    "explore": {"envs", "models", "agents", "eval", "interp", "viz", "explore"},
    "commands": set(LAYERS),
}


def _imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mazepolicy" and len(parts) > 1 and parts[1] in LAYERS:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_import_downward_only(layer):
    bad = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        upward = _imported_layers(path) - ALLOWED[layer]
        if upward:
            bad[str(path.relative_to(ROOT))] = sorted(upward)
    assert not bad, f"{layer} imports layers above it: {bad}"


def test_pyproject_lists_every_subpackage_and_the_data_folders():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    data = {"mazepolicy.resources.envs": "envs", "mazepolicy.resources.agents": "agents",
            "mazepolicy.resources.checkpoints": "checkpoints"}
    assert set(config["packages"]) == found | set(data)
    assert config["package-dir"] == data
    for package, folder in data.items():
        patterns = config["package-data"][package]
        shipped = {p.name for pattern in patterns for p in (ROOT / folder).glob(pattern)}
        assert shipped == {p.name for p in (ROOT / folder).iterdir()
                           if p.suffix in (".toml", ".safetensors", ".json")}


def test_shipped_files_are_found_through_importlib_resources():
    from mazepolicy.resources import checkpoint_files, recipe_files, variant_files

    assert {p.name for p in variant_files().values()} == {
        p.name for p in (ROOT / "envs").glob("*.toml")}
    assert {p.name for p in recipe_files().values()} == {
        p.name for p in (ROOT / "agents").glob("*.toml")}
    assert {p.name for p in checkpoint_files().values()} == {
        p.name for p in (ROOT / "checkpoints").glob("*.safetensors")}
    for weights in (ROOT / "checkpoints").glob("*.safetensors"):
        assert weights.with_suffix(".json").is_file(), f"{weights.name} has no card"
