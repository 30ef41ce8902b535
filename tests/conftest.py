"""Shared fixtures. Tests never reach the network: the Hub is switched to offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference facts not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled offline sample collection (Hub BEIR layout)."""
    path = REPO / "jinavdr" / "assets" / "sample"
    assert path.is_dir(), f"sample collection missing at {path}; run scripts/make_sample.py"
    return path
