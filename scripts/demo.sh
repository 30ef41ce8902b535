#!/usr/bin/env bash
# The offline demo: install, then run the main job on the embedded default: the bundled sample
# collection with the BM25 and MiniLM baselines, and print the leaderboard of what was measured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/jinavdr run --model bm25 --tasks sample "$@"
.venv/bin/jinavdr run --model minilm --tasks sample "$@"
.venv/bin/jinavdr leaderboard results/bm25 results/minilm --collection sample --no-charts
