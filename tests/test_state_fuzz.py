"""Every state the codec accepts is safe for the engine: corrupted states either raise
MazeStateError or load and step without killing the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("seed", [11, 12])
def test_accepted_corrupt_states_never_crash_the_engine(seed):
    result = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_engine", str(seed), "600"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"engine crashed:\n{result.stdout[-500:]}{result.stderr[-2000:]}"
    accepted = int(result.stdout.split()[1])
    assert accepted > 100  # the fuzz reached the engine, not only the parser
