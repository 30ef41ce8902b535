#!/usr/bin/env bash
# Regenerate the committed sample leaderboard: leaderboard/README.md, means.png, languages.png.
#
# Runs the two CPU baselines on the bundled offline sample collection, then builds the leaderboard
# from exactly those two models' result folders (other results under results/ are left out).
# Usage: scripts/make_sample_leaderboard.sh   (from anywhere; RESULTS=dir to use another results root)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-results}"

jinavdr run --model bm25 --tasks sample --results-dir "$RESULTS"
jinavdr run --model minilm --tasks sample --results-dir "$RESULTS"
jinavdr leaderboard "$RESULTS/bm25" "$RESULTS/minilm" --collection sample -o leaderboard/README.md
