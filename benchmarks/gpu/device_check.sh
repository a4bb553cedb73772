#!/usr/bin/env bash
# The GPU checks in one command, for a machine with a CUDA GPU and no network: the GPU
# tests, the trainer benchmark at the paper's settings (ours vs SB3, with the compute
# bound) and the env benchmark on all host cores. Needs .whl/ from fetch_wheels.sh.
# Logs and JSON go to $OUT (default gpu-out/); each step has a time limit (9 minutes in all).
#
#     bash benchmarks/gpu/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-gpu-out}"
mkdir -p "$out"
python3 -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1

# run NAME SECONDS COMMAND...: COMMAND under a time limit, its output in $out/NAME.log
run() {
    local name=$1 limit=$2
    shift 2
    echo "== $name"
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    local status=$?
    tail -n 25 "$out/$name.log"
    echo "== $name: exit $status"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/gpu.txt"
python3 -c "import numpy, torch; print('numpy', numpy.__version__, 'torch', torch.__version__)" \
    >> "$out/gpu.txt"
cat "$out/gpu.txt"
run gpu_tests 180 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py
run trainer_benchmark 270 python3 benchmarks/trainer_throughput.py --num-envs 256 \
    --num-steps 256 --epochs 3 --minibatches 8 --device cuda --env-groups 2 --bf16 \
    --compile --repeats 2 --iterations 1 --json "$out/trainer_gpu.json"
run env_benchmark 90 python3 benchmarks/env_throughput.py --num-envs 256 \
    --threads "$(nproc)" --steps 500 --repeats 2 --json "$out/env_gpu_host.json"
