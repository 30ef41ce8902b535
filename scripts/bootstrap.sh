#!/usr/bin/env bash
# Create (or reuse) .venv with everything jinavdr needs for the offline demo and the tests.
# torch 2.13.0 is installed first: on this kind of machine it is a CPU build from local disk,
# whereas a bare `torch` requirement in an empty environment pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${JINAVDR_EXTRAS:-dev,text,cjk,vision,mteb,plots}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
