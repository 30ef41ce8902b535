#!/usr/bin/env bash
# The test command: install (idempotent), lint, run the test suite offline.
# The Hub tests (tests/test_hub.py) start a real Hub-compatible server, olah, on 127.0.0.1; it needs
# huggingface_hub >= 1, which jinavdr's transformers < 5 refuses, so it lives in its own .venv-hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -x .venv-hub/bin/olah-cli ]; then
  "${PYTHON:-python3}" -m venv .venv-hub
  .venv-hub/bin/python -m pip install -q "olah==0.5.4" \
    || { echo "warning: olah could not be installed: the Hub tests will be skipped" >&2
         [ "${CI:-}" != true ] || { echo "CI must run the Hub tests: olah did not install" >&2; exit 1; }; }
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check jinavdr tests benchmarks scripts
.venv/bin/python -m pytest -q "$@"
