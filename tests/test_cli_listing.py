"""Listing commands: `jinavdr models` says which part of "runs here" is missing and what fixes it;
--json on every listing; readable at 80 columns; --version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinavdr import __version__
from jinavdr.cli import app
from jinavdr.cli.models import model_status
from jinavdr.models import registry

runner = CliRunner()


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    return tmp_path


def _cache_model(cache: Path, repo: str, revision: str) -> None:
    folder = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / revision
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")


def test_weights_missing_and_hub_unreachable_names_the_prefetch_command(hub_cache: Path) -> None:
    status = model_status(registry.get_entry("jina-v4"), lambda: False, "cuda", 80.0)
    assert status["weights"] == {"ok": False, "detail": "not cached, Hub unreachable",
                                 "fix": "jinavdr prefetch --model jina-v4 (on a machine with internet access)"}
    assert "weights" in status["missing"] and not status["runnable"]


def test_weights_cached_or_hub_reachable_count_as_present(hub_cache: Path) -> None:
    entry = registry.get_entry("jina-v4")
    assert model_status(entry, lambda: True, "cuda", 80.0)["weights"]["detail"] == (
        "downloaded on first run (Hub reachable)")
    _cache_model(hub_cache, entry.model_id, entry.revision)
    status = model_status(entry, lambda: False, "cuda", 80.0)
    assert status["weights"] == {"ok": True, "detail": "cached", "fix": ""}


def test_device_too_small_is_reported_with_the_need(hub_cache: Path) -> None:
    status = model_status(registry.get_entry("jina-v4"), lambda: True, "cpu", 16.0)
    assert status["device"] == {"ok": False, "detail": "needs ~22 GB, cpu has 16 GB",
                                "fix": "use a GPU with more memory"}
    assert "device" in status["missing"] and not status["runnable"]
    fits = model_status(registry.get_entry("jina-v4"), lambda: True, "cuda", 80.0)["device"]
    assert fits == {"ok": True, "detail": "~11.2 GB of 80 GB cuda", "fix": ""}  # 3.75e9 x 2 B x 1.5


def test_bm25_runs_anywhere(hub_cache: Path) -> None:
    status = model_status(registry.get_entry("bm25"), lambda: False, "cpu", 1.0)
    assert status["runnable"] and status["weights"]["detail"] == "not from the Hub"


def test_missing_package_names_the_extra_and_keeps_torch(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = registry.importlib.util.find_spec
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda n, *a: None if n == "timm" else real(n, *a))
    status = model_status(registry.get_entry("jina-clip-v2"), lambda: True, "cuda", 80.0)
    assert status["packages"]["detail"] == "missing package(s): timm"
    assert status["packages"]["fix"].startswith('pip install "jinavdr[clip]" "torch==')


def test_models_table_fits_80_columns_and_json_parses(hub_cache: Path) -> None:
    result = runner.invoke(app, ["models"], env={"COLUMNS": "80", "HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "bm25" in result.output and "jina-v4" in result.output
    rows = json.loads(runner.invoke(app, ["models", "--json"], env={"HF_HUB_OFFLINE": "1"}).output)
    assert {r["name"] for r in rows} >= {"jina-v4", "bm25"}
    assert {"packages", "weights", "device", "missing", "runnable"} <= set(rows[0])


def test_tasks_and_cache_info_have_json(tmp_path: Path) -> None:
    tasks = json.loads(runner.invoke(app, ["tasks", "sample", "--json"]).output)
    assert [t["name"] for t in tasks][:2] == ["statistics-tables", "company-charts"]
    shown = json.loads(runner.invoke(app, ["tasks", "show", "tabfquad", "--json"]).output)
    assert shown["revision"] == "42f9ba0b1f1dd0a6b82be6e9547367e2fb555e21"
    info = json.loads(runner.invoke(app, ["cache", "info", "--root", str(tmp_path), "--json"]).output)
    assert info == {"root": str(tmp_path), "settings": []}


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"jinavdr {__version__}"
