#!/usr/bin/env bash
# The sweep runner's CUDA path, checked in one short run on a machine with an NVIDIA GPU.
#
# Needs torch built for CUDA (pip install -e ".[sweep]"); Ray (".[ray]") for step 4.
# About 5 minutes on one GPU. Prints everything; writes its store and logs under $OUT
# (default: a new temporary folder). Exits non-zero at the first failing step.
#
#   bash benchmarks/gpu_check.sh            # from the repository root
#   OUT=/tmp/gpu PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh
#
# 1. the CUDA tests: bf16 autocast, fused AdamW, MFU, torch.compile (inductor), resume;
# 2. speed: the trainer against a plain PyTorch loop (both bf16) on a 6 x 384 model,
#    eager and compiled, with MFU against the GPU's peak and the cost of checkpoints;
# 3. a short sweep on the GPU (compiled) into a store, whose tokens/s and MFU it prints;
# 4. the same sweep through a local Ray instance, two runs sharing the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-$(mktemp -d)}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
echo "== output in $OUT"

echo "== 0. the device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no GPU'; \
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

echo "== 1. CUDA tests"
"$PY" -m pytest tests/test_sweep_devices.py tests/test_sweep_train.py -q -rs -k cuda \
    -p no:cacheprovider

echo "== 2. speed: trainer vs a plain loop (bf16), eager then compiled"
SPEED=(--device cuda --n-layer 6 --d-model 384 --head-dim 64 --seq-len 256 --batch-size 64
       --steps 200 --rounds 3 --skip-flops)
"$PY" benchmarks/train_speed.py "${SPEED[@]}" --checkpoint-every 50
"$PY" benchmarks/train_speed.py "${SPEED[@]}" --compile

echo "== 3. a sweep on the GPU"
"$PY" -m scalinglaws.sweep design --budgets 1e13,2e13 --sizes-per-budget 2 --spread 2 \
    --data devils-dictionary --seq-len 256 --head-dim 32 --aspect-ratio 64 \
    --tokens-per-param 40 --n-evals 4 -o "$OUT/gpu.toml" --force
"$PY" -m scalinglaws.sweep run "$OUT/gpu.toml" --store "$OUT/gpu.db" --device cuda \
    --compile --checkpoint-every 100 --quiet
"$PY" - "$OUT/gpu.db" <<'EOF'
import sys
from scalinglaws.sweep import read_runs
runs = read_runs(sys.argv[1])
print(runs[["n_params", "n_tokens", "loss", "tokens_per_second", "mfu", "peak_flops",
            "device_name", "compiled"]].to_string())
assert (runs["device"] == "cuda").all() and runs["loss"].notna().all()
EOF

echo "== 4. the same sweep through Ray, two runs sharing the GPU"
if "$PY" -c "import ray" 2>/dev/null; then
    "$PY" -m scalinglaws.sweep run "$OUT/gpu.toml" --store "$OUT/gpu_ray.db" --device cuda \
        --backend ray --workers 2 --gpus-per-run 0.5 --quiet
else
    echo "skipped: ray is not installed"
fi
echo "== done: every step passed"
