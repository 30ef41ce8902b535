#!/usr/bin/env bash
# Create (or reuse) .venv with everything jinavdr needs for the offline demo and the tests.
# torch is installed first, and only when the venv has none: on a CPU box TORCH (default torch==2.13.0)
# is a CPU build, whereas a bare `torch` requirement in an empty environment pulls a multi-GB CUDA build;
# on a GPU box install your CUDA build into the venv first and it is kept. jinavdr is then installed
# with the installed torch pinned in the same resolve, so no extra can replace it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${JINAVDR_EXTRAS:-dev,text,cjk,vision,jina,mteb,plots}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
VERSION_OF_TORCH="from importlib.metadata import version; print(version('torch').split('+')[0])"
"$VENV/bin/python" -c "$VERSION_OF_TORCH" >/dev/null 2>&1 || "$VENV/bin/python" -m pip install -q "${TORCH:-torch==2.13.0}"
TORCH_PIN="torch==$("$VENV/bin/python" -c "$VERSION_OF_TORCH")"
"$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]" "$TORCH_PIN"
