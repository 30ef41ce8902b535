#!/usr/bin/env bash
# The GPU measurements of the throughput figures in docs/scale-out.md, in one run (about 5 minutes on
# an H100 or H200; nothing is downloaded). Figures go to $OUT (default: gpu-figures/):
#   env.txt       GPU, driver, torch, transformers, triton, cores
#   scoring.txt   benchmarks/scoring.py --device cuda (MaxSim bf16 kernel, share of the bf16 peak)
#   prepare.txt   benchmarks/prepare_throughput.py (pages/s per core, workers a GPU needs)
#   encode.txt    benchmarks/encode_throughput.py full size (pages/s, MFU, stages, batch-1 ratios,
#   encode.json   projected full-benchmark time), 256 pages in 4 subsets through one preparation pool
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-figures}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PYTHON:-python3}
CORES=$(nproc)
WORKERS=${WORKERS:-$(( CORES > 10 ? CORES - 2 : (CORES > 2 ? CORES - 1 : 1) ))}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/env.txt"
$PY -c "import os, torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cores', os.cpu_count())" | tee -a "$OUT/env.txt"
$PY -c "import triton; print('triton', triton.__version__)" 2>&1 | tee -a "$OUT/env.txt" || true
timeout 150 $PY benchmarks/scoring.py --device cuda 2>&1 | tee "$OUT/scoring.txt"
timeout 200 $PY benchmarks/prepare_throughput.py --pages 64 --batch-size 16 --workers "1,4,$WORKERS" 2>&1 | tee "$OUT/prepare.txt"
timeout 400 $PY benchmarks/encode_throughput.py --pages 256 --subsets 4 --batch1-pages 32 --harness-pages 32 \
    --workers "$WORKERS" --batch-size 64 --json "$OUT/encode.json" 2>&1 | grep -v "Model config" | tee "$OUT/encode.txt"
