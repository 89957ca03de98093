#!/usr/bin/env bash
# credo on a machine with GPUs, in under 5 minutes: install the `gpu` extra, then
#   1. the seed workflow (the tutorial end to end, credo alone) on one GPU,
#   2. the scaling table (benchmarks/scaling.py) on 1 and on all the GPUs,
#   3. the UCI benchmark on one split of each data set.
# Usage (from the repository root):  bash benchmarks/gpu.sh [OUT_DIR]
# Each step has a time limit, so a slow step cannot take the whole budget; the
# figures go to OUT_DIR (default bench-gpu/) as Markdown and JSON, with
# nvidia-smi's description of the machine. Put them in BENCHMARKS.md with the
# machine named.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench-gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python}

{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1; } | tee "$OUT/machine.txt"
"$PY" -m pip install -q -e ".[gpu]" 2>&1 | tail -2 || echo "pip failed: using the installed jax"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import jax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/machine.txt"
NDEV=$("$PY" -c "import jax; print(jax.device_count())")

echo "== seed workflow (credo, 1 GPU)"
timeout 60 "$PY" benchmarks/credo_tutorial.py --n 50000 --no-progress | tee "$OUT/seed_workflow.json"

echo "== scaling: 1 and $NDEV GPUs"
timeout 120 "$PY" benchmarks/scaling.py --platform default --devices 1 "$NDEV" --rows 1e4 1e6 1e7 \
    --full-max 1e7 --stream-rows 1e6 --seconds 2 --json "$OUT/scaling.json" | tee "$OUT/scaling.md"

echo "== UCI, one split per data set"
timeout 90 "$PY" benchmarks/uci.py --splits 1 --json "$OUT/uci.json" | tee "$OUT/uci.md"
echo "figures in $OUT/"
