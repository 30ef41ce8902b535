"""``jinavdr run``, ``jinavdr export`` and ``jinavdr import`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jinavdr.cli import app
from jinavdr.results.schema import Manifest, PerQuery, ResultFile, SubsetResult
from jinavdr.results.store import ResultStore, dump_result_file, read_result_file
from tests.run_fakes import SEARCHER, make_dataset

runner = CliRunner(env={"COLUMNS": "400"})  # no line wrapping in messages


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("cli-data")
    return [str(make_dataset(root, "alpha", ["en", "fr"], seed=2)), str(make_dataset(root, "beta", seed=4))]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_args(tasks: list[str], results: Path, *extra: str) -> list[str]:
    return ["run", "--model", SEARCHER, "--tasks", tasks[0], "--tasks", tasks[1], "--results-dir",
            str(results), "--device", "cpu", *extra]


def test_run_prints_scores_x100_and_mean_then_resumes(tmp_path: Path, tasks):
    result = invoke(*run_args(tasks, tmp_path, "--save-run"))
    assert result.exit_code == 0, result.output
    files = {p.stem: read_result_file(p) for p in tmp_path.glob("*/*.json")}
    assert sorted(files) == ["alpha", "beta"]
    alpha, beta = files["alpha"].main_score(), files["beta"].main_score()
    out = result.output
    assert f"{100 * alpha:.2f}" in out and f"{100 * beta:.2f}" in out
    assert "mean over 2/2 datasets" in out and f"{100 * (alpha + beta) / 2:.2f}" in out
    assert "✓ alpha:en" in out and "3 subset(s) run, 0 already finished" in out
    assert len(list(tmp_path.glob("*/runs/*.trec"))) == 3

    again = invoke(*run_args(tasks, tmp_path))
    assert again.exit_code == 0, again.output
    assert "Nothing to run" in again.output and "0 subset(s) run, 3 already finished" in again.output


def test_failed_task_is_summarised_with_nonzero_exit(tmp_path: Path, tasks, monkeypatch):
    monkeypatch.setenv("JINAVDR_FAKE_FAIL", "beta")
    result = invoke(*run_args(tasks, tmp_path))
    assert result.exit_code == 1
    out = result.output
    assert "1 subset(s) failed" in out
    assert "beta:default: RuntimeError: simulated failure on beta" in out
    assert "mean over 1/2 datasets" in out
    assert "Traceback" not in out
    verbose = invoke(*run_args(tasks, tmp_path, "--verbose"))
    assert verbose.exit_code == 1 and "Traceback" in verbose.output  # only asked for


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--model", "no-such-model", "--tasks", "x"], "unknown model 'no-such-model'"),
        (["run", "--model", "bm25", "--tasks", "no-such-task"], "unknown task 'no-such-task'"),
        (["run", "--model", "bm25", "--tasks", "sample", "--protocol", "trec"], "unknown protocol 'trec'"),
        (["run", "--model", "bm25", "--tasks", "sample", "--batch-size", "0"], "--batch-size must be at least 1"),
        (["run", "--model", "bm25", "--tasks", "sample", "--dtype", "float16"], "unknown option of model 'bm25' 'dtype'"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path, args, message):
    result = invoke(*args, "--results-dir", str(tmp_path))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_unwritable_corrupt_and_mismatched_results_are_refused(tmp_path: Path, tasks):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    result = invoke(*run_args(tasks, blocker / "results"))
    assert result.exit_code == 2
    assert f"cannot write results to {blocker / 'results'}" in result.output

    ok = invoke(*run_args(tasks, tmp_path / "r"))
    assert ok.exit_code == 0, ok.output
    mismatch = invoke(*run_args(tasks, tmp_path / "r", "--k", "10"))
    assert mismatch.exit_code == 2
    assert "run_options.k: 100 in the file, 10 now" in " ".join(mismatch.output.split())

    [path] = list((tmp_path / "r").glob("*/beta.json"))
    path.write_text('{"schema_version": 99}')
    corrupt = invoke(*run_args(tasks, tmp_path / "r"))
    assert corrupt.exit_code == 2
    assert "schema version 99" in " ".join(corrupt.output.split())
    assert "Traceback" not in corrupt.output


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, tasks):
    result = invoke(*run_args(tasks, tmp_path / "r", "--dry-run"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dry run" in out and out.count("todo") == 3
    assert "3 of 3 subset(s) to run: 24 queries, 36 pages" in " ".join(out.split())
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------------
# export / import
# ---------------------------------------------------------------------------------------------------


def _catalogue_result(results: Path) -> Path:
    manifest = Manifest(model_id="org/m", model_revision="a" * 40, adapter="x", dataset_repo="jinaai/tabfquad_beir",
                        dataset_revision="42f9ba0b1f1dd0a6b82be6e9547367e2fb555e21", protocol="beir",
                        created_at="2025-01-01T00:00:00+00:00")
    sub = SubsetResult(subset="default", metrics={"ndcg_at_5": 0.625, "recall_at_10": 0.9},
                       per_query=PerQuery(query_ids=["q"], values=[0.625]), n_queries=1, n_pages=1, n_qrels=1,
                       finished_at="2025-01-01T00:00:00+00:00")
    res = ResultFile(model="m", model_slug="m", dataset="tabfquad", subsets={"default": sub}, manifest=manifest)
    path = ResultStore(results).path("m", "tabfquad")
    path.parent.mkdir(parents=True)
    path.write_text(dump_result_file(res))
    return path


def test_export_then_import_through_the_cli(tmp_path: Path):
    _catalogue_result(tmp_path / "results")
    exported = invoke("export", "--format", "mteb", tmp_path / "results", "-o", tmp_path / "mteb")
    assert exported.exit_code == 0, exported.output
    mteb_file = tmp_path / "mteb" / "org__m" / ("a" * 40) / "JinaVDRTabFQuadRetrieval.json"
    data = json.loads(mteb_file.read_text())
    assert data["scores"]["test"][0]["main_score"] == 0.625

    imported = invoke("import", tmp_path / "mteb", "-o", tmp_path / "back")
    assert imported.exit_code == 0, imported.output
    back = read_result_file(tmp_path / "back" / "mteb-org__m" / "tabfquad.json")
    assert back.subsets["default"].metrics == {"ndcg_at_5": 0.625, "recall_at_10": 0.9}
    assert back.subsets["default"].per_query is None
    assert "significance tests are unavailable" in " ".join(imported.output.split())


def test_export_errors_are_messages(tmp_path: Path):
    bad = invoke("export", "--format", "csv", tmp_path, "-o", tmp_path / "o")
    assert bad.exit_code == 2 and "unknown export format 'csv'" in bad.output
    missing = invoke("export", tmp_path / "nope", "-o", tmp_path / "o")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "r" / "m").mkdir(parents=True)
    (tmp_path / "r" / "m" / "x.json").write_text("{")
    corrupt = invoke("export", tmp_path / "r", "-o", tmp_path / "o")
    assert corrupt.exit_code == 2 and "is not valid JSON" in corrupt.output and "Traceback" not in corrupt.output


# ---------------------------------------------------------------------------------------------------
# The offline demo
# ---------------------------------------------------------------------------------------------------


def test_bm25_on_the_sample_collection_end_to_end(tmp_path: Path, sample_dir):
    result = invoke("run", "--model", "bm25", "--tasks", "sample", "--results-dir", tmp_path)
    assert result.exit_code == 0, result.output
    files = {p.stem: read_result_file(p) for p in (tmp_path / "bm25").glob("*.json")}
    catalogue = json.loads((sample_dir / "catalogue.json").read_text())
    counts = json.loads((sample_dir / "counts.json").read_text())
    assert sorted(files) == sorted(e["name"] for e in catalogue)
    for name, res in files.items():
        assert sorted(res.subsets) == sorted(counts[name])
        for sub_name, sub in res.subsets.items():
            assert sub.n_queries + sub.dropped_queries == counts[name][sub_name]["queries"]
            assert sub.n_pages == counts[name][sub_name]["documents"]
            assert len(sub.per_query.values) == sub.n_queries
        assert res.manifest.adapter == "bm25" and res.manifest.settings["tokenizer"] == "multilingual"
        assert f"{100 * res.main_score():.2f}" in result.output
    mean = sum(r.main_score() for r in files.values()) / len(files)
    assert f"mean over {len(files)}/{len(files)} datasets" in result.output
    assert f"{100 * mean:.2f}" in result.output
