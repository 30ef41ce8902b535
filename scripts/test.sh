#!/usr/bin/env bash
# The test command: install (idempotent), lint, run the test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check jinavdr tests benchmarks scripts
.venv/bin/python -m pytest -q "$@"
