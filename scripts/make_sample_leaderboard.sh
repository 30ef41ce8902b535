#!/usr/bin/env bash
# Regenerate the committed sample leaderboard (leaderboard/README.md, means.png, languages.png) from
# the committed CPU baselines of the offline sample collection (results/baseline/, refreshed by
# `scripts/ci_gate.sh --update-baseline`), so the published table and the CI gate share one source.
set -euo pipefail
cd "$(dirname "$0")/.."
jinavdr leaderboard results/baseline/bm25 results/baseline/minilm --collection sample -o leaderboard/README.md
