#!/usr/bin/env bash
# Before a GPU session, on a machine that reaches PyPI: download what the GPU machine
# lacks (it has Python 3.12, torch with CUDA, numpy 2 and most scientific packages, and
# no network) as Python 3.12 x86-64 wheels into .whl/ (git-ignored, about 50 MB).
# procgen-mirror's numpy<2 pin is skipped there (--no-deps): the engine's Python side
# runs on numpy 2 (the env and trainer tests pass with numpy 2.4).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl \
    procgen-mirror==0.10.7 gym3==0.3.3 cffi pycparser glfw moderngl glcontext \
    gym_notices gymnasium farama-notifications stable-baselines3
python3 -m pip wheel --quiet --no-deps -w .whl gym==0.26.2  # an sdist only on PyPI
du -sh .whl
