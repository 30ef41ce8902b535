#!/usr/bin/env bash
# The offline demo: install, then benchmark the bundled sample collection with BM25 and MiniLM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/jinavdr run --model bm25 --tasks sample "$@"
.venv/bin/jinavdr run --model minilm --tasks sample "$@"
.venv/bin/jinavdr leaderboard results/ --collection sample --no-charts
