#!/usr/bin/env bash
# jinavdr's own model-quality gate: score the offline sample collection with the CPU baselines and
# compare with the committed results under results/baseline/. Scores on the sample are deterministic
# on CPU, so the gate is exact: ANY change of a metric, a per-query value or a count (either way,
# beyond 1e-6) fails, and a change that moves scores must update the baseline on purpose.
#
# Usage:
#   scripts/ci_gate.sh                     # gate: exit 0 unchanged, 1 scores moved, 2 not comparable
#   scripts/ci_gate.sh --update-baseline   # rewrite results/baseline/ from this checkout; commit it
#
# Environment: JINAVDR_GATE_MODELS (default "bm25 minilm"), JINAVDR_GATE_TASKS (default "sample"),
# JINAVDR_GATE_BASELINE (default results/baseline), JINAVDR_GATE_REPORTS (a folder to keep the
# markdown reports in; default: a temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE_DIR=${JINAVDR_GATE_BASELINE:-results/baseline}
read -r -a MODELS <<< "${JINAVDR_GATE_MODELS:-bm25 minilm}"
TASKS=${JINAVDR_GATE_TASKS:-sample}

update=0
case "${1:-}" in
  "") ;;
  --update-baseline) update=1 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "usage: $0 [--update-baseline]" >&2; exit 2 ;;
esac

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A fresh embedding cache: every embedding is recomputed, so a change in encoding code is seen.
export JINAVDR_CACHE="$work/cache"
reports=${JINAVDR_GATE_REPORTS:-$work/reports}
mkdir -p "$reports"

for model in "${MODELS[@]}"; do
  echo "== jinavdr run --model $model --tasks $TASKS"
  if ! jinavdr run --model "$model" --tasks "$TASKS" --device cpu --results-dir "$work/results"; then
    echo "FAIL: jinavdr run --model $model did not finish; nothing was compared." >&2
    exit 2
  fi
done

if [ "$update" = 1 ]; then
  mkdir -p "$BASELINE_DIR"
  for dir in "$work/results"/*/; do
    slug=$(basename "$dir")
    rm -rf "${BASELINE_DIR:?}/$slug"
    mkdir -p "$BASELINE_DIR/$slug"
    # Result files only (no run files, no lock sidecars).
    find "$dir" -maxdepth 1 -name '*.json' ! -name '.*' -exec cp {} "$BASELINE_DIR/$slug/" \;
    echo "updated $BASELINE_DIR/$slug ($(find "$BASELINE_DIR/$slug" -name '*.json' | wc -l) files)"
  done
  echo "Review the score changes (git diff $BASELINE_DIR) and commit them with the change that caused them."
  exit 0
fi

status=0
for dir in "$work/results"/*/; do
  slug=$(basename "$dir")
  if [ ! -d "$BASELINE_DIR/$slug" ]; then
    echo "FAIL: no baseline for model '$slug' under $BASELINE_DIR; create it with: $0 --update-baseline" >&2
    status=2
    continue
  fi
  echo "== jinavdr compare $BASELINE_DIR/$slug (exact)"
  code=0
  jinavdr compare "$BASELINE_DIR/$slug" "$dir" --exact --require-complete \
    --report "$reports/$slug.md" --quiet || code=$?
  if [ "$code" != 0 ]; then
    cat "$reports/$slug.md" >&2 || true
    [ "$code" -gt "$status" ] && status=$code
  fi
done

if [ "$status" != 0 ]; then
  echo "Model-quality gate failed (exit $status). If the change in scores is intended, run" >&2
  echo "  scripts/ci_gate.sh --update-baseline" >&2
  echo "and commit results/baseline/ with the change that caused it." >&2
fi
exit "$status"
