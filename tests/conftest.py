"""Shared fixtures. Tests never reach the network: the Hub is switched to offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
#: The public facts the task files are made from, kept in the repository (nothing outside it is read).
REFERENCE = REPO / "tasks" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    assert REFERENCE.is_dir(), f"reference facts missing at {REFERENCE}"
    return REFERENCE


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled offline sample collection (Hub BEIR layout)."""
    path = REPO / "jinavdr" / "assets" / "sample"
    assert path.is_dir(), f"sample collection missing at {path}; run scripts/make_sample.py"
    return path
