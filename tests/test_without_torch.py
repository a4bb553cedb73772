"""The environments work without the torch extra, and what needs it says so in one line."""

from __future__ import annotations

import json
import subprocess
import sys

EXTRA_MODULES = ("torch", "stable_baselines3", "safetensors", "tensorboard")

IMPORTS = f"""
import sys, json
import gymnasium as gym
import numpy as np
import mazepolicy
from mazepolicy.envs import MazeVecEnv, TopRightRegion
from mazepolicy.agents import make_agent
import mazepolicy.envs.geometry, mazepolicy.eval.evaluate, mazepolicy.viz.render
env = gym.make("mazepolicy/maze-topright-5-v0")
env.reset(seed=0)
env.step(7)
vec = gym.make_vec("mazepolicy/maze-anywhere-v0", num_envs=2)
obs, info = vec.reset(seed=0)
vec.step(make_agent("cheese-walker").act(obs, vec))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {EXTRA_MODULES!r})))
"""

BLOCK = f"import sys\nfor m in {EXTRA_MODULES!r}: sys.modules[m] = None\n"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_envs_gymnasium_ids_scripted_agents_and_the_evaluator_import_no_torch():
    result = run_python(IMPORTS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_they_work_with_torch_blocked():
    result = run_python(BLOCK + IMPORTS)
    assert result.returncode == 0, result.stderr[-2000:]


def cli(*args: str) -> subprocess.CompletedProcess:
    return run_python(BLOCK + f"from mazepolicy.cli import main\nsys.exit(main({list(args)!r}))")


def test_evaluating_a_scripted_agent_needs_no_torch(tmp_path):
    out = tmp_path / "eval.json"
    result = cli("evaluate", "--policy", "cheese-walker", "--env", "maze-anywhere-easy",
                 "--episodes", "4", "--no-progress", "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(out.read_text())["summary"]["cheese_rate"] == 1.0


def test_commands_and_imports_that_need_torch_say_so_in_one_line():
    for args in (("evaluate", "--policy", "maze-topright-5_impala-s1", "--episodes", "2"),
                 ("steer", "--policy", "maze-topright-5_impala-s1", "--json", "unused.json"),
                 ("train", "--agent", "dagger-tiny", "--out", "unused")):
        result = cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
        assert "needs the torch extra" in lines[0] and "pip install 'mazepolicy[torch]'" in lines[0]
    result = run_python(BLOCK + "import mazepolicy.models")
    assert result.stderr.strip().splitlines()[-1] == (
        "mazepolicy.extras.MissingExtra: mazepolicy.models needs the torch extra (torch is "
        "not installed): pip install 'mazepolicy[torch]'")
