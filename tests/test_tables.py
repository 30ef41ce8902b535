"""The table layer: the tidy DataFrame, pivots, the API facade, honest charts, argument errors.

Values are checked against the committed sample baselines (results/baseline) and the leaderboard
fixtures, whose numbers are fixed files; hand-derived expectations are noted where they are used.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import jinavdr.api as jv
from jinavdr.errors import ArgumentError, UnknownNameError, cli_message
from jinavdr.report.leaderboard import (
    build_leaderboard,
    catalogue_namer,
    collection_datasets,
    loaded_results,
)
from jinavdr.report.references import load_references
from jinavdr.results.frame import FRAME_COLUMNS, results_frame
from jinavdr.results.store import read_result_file
from tests.test_leaderboard import DATASETS, FIXTURES  # the fixture catalogue, declared once

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "results" / "baseline"


@pytest.fixture(scope="module")
def references():
    return load_references(rename=catalogue_namer())


@pytest.fixture(scope="module")
def fixture_board(references):
    return build_leaderboard(loaded_results([FIXTURES]), DATASETS, collection="fixture", references=references)


@pytest.fixture(scope="module")
def jinavdr_board(references):
    """The issue's case: a jina-v4 run of 3 of the 43 datasets next to the paper's full means."""
    return build_leaderboard(loaded_results([FIXTURES]), collection_datasets("jinavdr"), collection="jinavdr",
                             references=references)


# --------------------------------------------------------------------------------------------------
# The tidy frame
# --------------------------------------------------------------------------------------------------


def test_results_frame_schema_and_values():
    frame = jv.results_frame(BASELINE)
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert str(frame["value"].dtype) == "float64" and str(frame["reference"].dtype) == "bool"
    assert str(frame["n_queries"].dtype) == "Int64" and str(frame["coverage"].dtype) == "float64"
    # 2 models x 10 subsets (4 single-subset datasets + 6 languages of shop-catalogues) x 36 metrics
    assert len(frame) == 2 * 10 * 36
    assert not frame.duplicated(["model", "dataset", "subset", "metric"]).any()
    assert frame["value"].between(0, 1).all() and (frame["coverage"] == 1.0).all() and not frame["reference"].any()
    # the value is the stored fraction, exactly
    stored = read_result_file(BASELINE / "minilm" / "botany-slides.json").subsets["default"]
    row = frame.query("model == 'minilm' and dataset == 'botany-slides' and metric == 'ndcg_at_5'")
    assert row["value"].item() == stored.metrics["ndcg_at_5"] and row["n_queries"].item() == stored.n_queries
    assert row[["language", "domain", "format", "source"]].values.tolist() == [["en", "Education", "Slides", "jinavdr"]]
    # ISO language codes while the subset stays the data id
    jp = frame.query("dataset == 'shop-catalogues' and subset == 'jp'")
    assert set(jp["language"]) == {"ja"}
    # deterministic order
    keys = list(zip(frame.model, frame.protocol, frame.dataset, frame.subset, frame.metric, strict=True))
    assert keys == sorted(keys)


def test_results_frame_coverage_and_metric_filter():
    files = [read_result_file(p) for p in sorted((BASELINE / "bm25").glob("*.json"))]
    shop = next(f for f in files if f.dataset == "shop-catalogues")
    partial = shop.model_copy(deep=True)
    for name in ("ru", "zh", "ar"):
        del partial.subsets[name]
    frame = results_frame([partial], metrics=["ndcg_at_5"])
    assert frame["subset"].tolist() == ["de", "en", "jp"] and set(frame["metric"]) == {"ndcg_at_5"}
    assert frame["coverage"].tolist() == [0.5, 0.5, 0.5]  # 3 of the 6 expected subsets


def test_run_report_to_pandas(tmp_path):
    from tests.run_fakes import SEARCHER, make_dataset

    data = make_dataset(tmp_path / "data", "multi", ["en", "fr"], seed=1)
    report = jv.run(SEARCHER, [str(data)], results_dir=tmp_path / "r", device="cpu", progress=False)
    frame = report.to_pandas(metrics=["ndcg_at_5"])
    assert frame["subset"].tolist() == ["en", "fr"] and frame["language"].tolist() == ["en", "fr"]
    mean, complete, selected = report.mean()
    assert (complete, selected) == (1, 1)
    assert frame["value"].mean() == pytest.approx(mean)  # the run's mean is a fraction too


def test_run_draws_progress_when_asked(tmp_path, capsys):
    from jinavdr.execution.progress import wants_progress
    from tests.run_fakes import SEARCHER, make_dataset

    data = make_dataset(tmp_path / "data", "multi", ["en", "fr"], seed=1)
    jv.run(SEARCHER, [str(data)], results_dir=tmp_path / "r", device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "subset" in err  # tqdm's bar over the two subsets
    jv.run(SEARCHER, [str(data)], results_dir=tmp_path / "s", device="cpu", progress=False)
    assert "2/2" not in capsys.readouterr().err
    assert wants_progress(None) is False  # pytest's stderr is no terminal and no notebook runs here


def test_leaderboard_frame_and_pivot(fixture_board):
    frame = fixture_board.to_pandas()
    assert tuple(frame.columns) == FRAME_COLUMNS
    jina = frame.query("model == 'jina-v4' and metric == 'ndcg_at_5'")
    assert jina["dataset"].tolist() == ["airbnb-synthetic", "docvqa", "stanford-slide", "tabfquad"]
    assert jina["coverage"].tolist() == pytest.approx([1 / 3, 1.0, 1.0, 1.0])  # airbnb: en only of de/en/jp
    refs = frame[frame["reference"]]
    assert set(refs["metric"]) == {"ndcg_at_5"} and refs["model"].str.endswith("[paper]").all()
    average = refs.query("dataset == 'airbnb-synthetic' and subset == 'average'")
    assert len(average) == 7 and set(average["language"]) == {""}
    assert set(frame.query("subset == 'jp'")["language"]) == {"ja"}

    pivot = fixture_board.pivot("dataset")
    assert pivot.index.name == "dataset" and list(pivot.columns) == [c.label for c in fixture_board.columns]
    assert pivot.loc["tabfquad", "jina-v4"] == pytest.approx(0.875)
    assert math.isnan(pivot.loc["airbnb-synthetic", "jina-v4"])  # partial: counts nowhere
    assert math.isnan(pivot.loc["jdocqa", "jina-v4"])  # not run
    languages = fixture_board.pivot("language")
    assert list(languages.index) == ["de", "en", "ja"]
    with pytest.raises(UnknownNameError, match="unknown leaderboard table 'models'"):
        fixture_board.pivot("models")


def test_api_leaderboard_and_compare():
    board = jv.leaderboard(BASELINE)
    assert board.collection == "sample"
    assert board.pivot().loc["botany-slides", "bm25"] == 1.0
    gate = jv.compare(BASELINE / "bm25", BASELINE / "bm25", exact=True)
    assert gate.passed and gate.overall.delta_points == 0.0
    frame = gate.to_pandas()
    assert len(frame) == 10 and (frame["delta"] == 0.0).all() and frame["baseline"].between(0, 1).all()
    assert set(frame.query("subset == 'jp'")["language"]) == {"ja"}
    worse = jv.compare(BASELINE / "bm25", BASELINE / "minilm", force=True, max_drop_points=30.0)
    frame = worse.to_pandas()
    row = frame.query("dataset == 'botany-slides'")
    assert row["delta"].item() == pytest.approx(row["candidate"].item() - row["baseline"].item())
    assert worse.overall.delta_points == pytest.approx((worse.overall.candidate - worse.overall.baseline) * 100)


def test_api_errors_name_arguments_and_the_cli_names_flags():
    with pytest.raises(ArgumentError, match=r"^max_drop_points must be >= 0 points, got -1\.0\.$") as info:
        jv.compare(BASELINE / "bm25", BASELINE / "bm25", max_drop_points=-1.0)
    assert cli_message(info.value) == "--max-drop must be >= 0 points, got -1.0."
    with pytest.raises(ArgumentError, match=r"^k must be at least 1, got 0$") as info:
        jv.plan("bm25", "sample", k=0)
    assert cli_message(info.value) == "--k must be at least 1, got 0"
    with pytest.raises(ArgumentError, match=r"^min_coverage must lie in \[0, 1\], got 1\.5$"):
        jv.leaderboard(BASELINE, min_coverage=1.5)


# --------------------------------------------------------------------------------------------------
# Charts: never means over different datasets on one axis
# --------------------------------------------------------------------------------------------------


def test_means_panels_on_partial_coverage(jinavdr_board):
    from jinavdr.report.charts import means_panels

    board = jinavdr_board
    panels = means_panels(board)
    labels = {c.label: i for i, c in enumerate(board.columns)}
    for panel in panels:
        for bar in panel.bars:  # every bar is the model's mean over exactly the panel's datasets
            name = bar.label.rsplit(" (", 1)[0]
            assert set(panel.datasets) <= set(board.covered(labels[name]))
            assert bar.value == pytest.approx(board.mean_over(labels[name], panel.datasets))
    jina = next(p for p in panels if p.title.startswith("Unranked jina-v4"))
    assert jina.datasets == ("docvqa", "stanford-slide", "tabfquad")
    shown = {b.label: round(b.value * 100, 2) for b in jina.bars}
    assert shown["jina-v4 (3/43)"] == 85.42
    # the paper's single-vector model is compared on the same 3 datasets, not by its 43-dataset 73.98
    assert shown["jina-embeddings-v4 (single-vector) [paper] (43/43)"] == 92.88
    full = next(p for p in panels if p.title == "Published references on all 43 datasets")
    assert all(b.reference for b in full.bars)  # no partial measured model on the full-benchmark axis
    assert {b.label: round(b.value * 100, 2) for b in full.bars}[
        "jina-embeddings-v4 (multi-vector) [paper] (43/43)"] == 80.55


def test_means_chart_legends_only_where_they_tell_bars_apart(tmp_path, fixture_board):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from jinavdr.report.charts import _draw_panel, means_panels

    sample = jv.leaderboard(BASELINE)
    [only] = means_panels(sample)
    assert [b.label for b in only.bars] == ["bm25 (5/5)", "minilm (5/5)"]
    ax = Figure().add_subplot()
    _draw_panel(ax, only, sample)
    assert ax.get_legend() is None  # all bars measured: a legend would say nothing
    mixed = means_panels(fixture_board)[0]
    ax = Figure().add_subplot()
    _draw_panel(ax, mixed, fixture_board)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["measured", "published [paper]"]


# --------------------------------------------------------------------------------------------------
# Rendering details
# --------------------------------------------------------------------------------------------------


def test_wide_tables_are_split_and_pipe_cells_escaped():
    from jinavdr.report.render.document import _chunks
    from jinavdr.report.render.markdown import pipe_table

    assert [len(r) for r in _chunks(12)] == [6, 6]
    assert [len(r) for r in _chunks(13)] == [5, 4, 4]
    assert [len(r) for r in _chunks(6)] == [6]
    lines = pipe_table(["a", "b"], [["x \\| y", "1.00"]], [False, True])
    assert lines == ["| a      |    b |", "|:-------|-----:|", "| x \\| y | 1.00 |"]


def test_markdown_models_table_and_settings_details(fixture_board):
    from jinavdr.report.render import render

    text = render(fixture_board, "md")
    rows = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in text.splitlines()
            if line.startswith("| jina-v4 ") and "jinaai/" in line]
    [row] = rows
    # the fixture records the published method's settings (pinned commit, bf16), so it pairs with the paper
    assert row[1:8] == ["jinaai/jina-embeddings-v4",
                        "[4a58ca57](https://huggingface.co/jinaai/jina-embeddings-v4/tree/"
                        "4a58ca57710c49f51896e4bc820e202fbf64904b)", "3.8B", "single-vector, 2048 d",
                        "37,788,800 px, 32,768 tokens", "bfloat16", "beir"]
    assert "<details><summary>jina-v4: full settings (JSON)</summary>" in text
    assert "*Models 1–6 of 11*" in text and "*Models 7–11 of 11*" in text
    assert "| ja " in text and "/ ja " in text and "/ jp " not in text


def test_frame_round_trips_through_csv(fixture_board):
    import io

    from jinavdr.report.render import render

    back = pd.read_csv(io.StringIO(render(fixture_board, "csv")), keep_default_na=False)
    frame = fixture_board.to_pandas()
    assert len(back) == len(frame)
    merged = frame.merge(back, on=["model", "dataset", "subset", "metric"], suffixes=("", "_csv"))
    assert len(merged) == len(frame) and (merged["value"] == merged["value_csv"]).all()  # exact floats


# --------------------------------------------------------------------------------------------------
# Model cards: the Hub's model-index, validated with huggingface_hub
# --------------------------------------------------------------------------------------------------


def test_export_model_index_reads_back_with_huggingface_hub(tmp_path):
    from huggingface_hub import ModelCard, metadata_eval_result
    from huggingface_hub.repocard_data import model_index_to_eval_results
    from typer.testing import CliRunner

    from jinavdr.cli import app

    res = CliRunner().invoke(app, ["export", str(BASELINE / "minilm"), "--out", str(tmp_path), "--format",
                                   "model-index", "--metric", "ndcg_at_5", "--metric", "recall_at_5"])
    assert res.exit_code == 0, res.output
    card = ModelCard.load(tmp_path / "minilm" / "README.md")
    name, results = model_index_to_eval_results(card.data.to_dict()["model-index"])
    assert name == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(results) == 10 * 2  # 10 subsets x 2 metrics
    assert card.data.eval_results is not None and len(card.data.eval_results) == 20
    stored = read_result_file(BASELINE / "minilm" / "shop-catalogues.json").subsets["jp"].metrics
    jp = {r.metric_type: r for r in results if r.dataset_config == "jp"}
    assert jp["ndcg_at_5"].metric_value == round(stored["ndcg_at_5"] * 100, 2)
    assert jp["recall_at_5"].metric_value == round(stored["recall_at_5"] * 100, 2)
    r = jp["ndcg_at_5"]
    assert (r.task_type, r.dataset_type, r.dataset_name, r.dataset_split) == (
        "visual-document-retrieval", "jinavdr-sample/shop-catalogues", "shop-catalogues (ja)", "test")
    assert r.dataset_revision.startswith("sha256:") and r.metric_name == "nDCG@5 (×100)" and r.verified is False
    # huggingface_hub's own single-result helper builds the same entry
    expected = metadata_eval_result(
        model_pretty_name=name, task_pretty_name="Visual document retrieval", task_id="visual-document-retrieval",
        metrics_pretty_name="nDCG@5 (×100)", metrics_id="ndcg_at_5", metrics_value=r.metric_value,
        dataset_pretty_name="shop-catalogues (ja)", dataset_id="jinavdr-sample/shop-catalogues",
        dataset_config="jp", dataset_split="test", dataset_revision=r.dataset_revision,
    )
    _, [same] = model_index_to_eval_results(expected["model-index"])
    assert same == r
    assert "| shop-catalogues (ja) | jp " in card.text


def test_export_model_index_refuses_bad_input(tmp_path):
    from typer.testing import CliRunner

    from jinavdr.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["export", str(BASELINE), "--out", str(tmp_path), "--format", "model-index",
                              "--model-name", "x"])
    assert res.exit_code == 2 and "--model-name names one model, but the results hold 2: bm25, minilm" in res.output
    res = runner.invoke(app, ["export", str(BASELINE / "bm25"), "--out", str(tmp_path), "--format", "model-index",
                              "--metric", "ndcg_at_7"])
    assert res.exit_code == 2 and "has no 'ndcg_at_7' metric to export" in res.output
    res = runner.invoke(app, ["export", str(BASELINE / "bm25"), "--out", str(tmp_path), "--format", "yaml"])
    assert res.exit_code == 2 and "unknown export format 'yaml'" in res.output
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_summary_never_puts_a_partial_mean_in_the_full_benchmark_column(jinavdr_board):
    from jinavdr.report.render import render

    text = render(jinavdr_board, "md")
    rows = {r[1]: r for r in ([c.strip() for c in line.strip().strip("|").split(" | ")]
                              for line in text.split("## Per dataset")[0].splitlines()
                              if line.startswith("|") and " | " in line)}
    assert rows["Model"][3:6] == ["nDCG@5 on all 43 datasets", "95% CI", "nDCG@5 on own datasets"]
    assert rows["jina-v4"][3:7] == ["—", "—", "85.42 (75.00–93.75)", "3/43"]
    assert rows["jina-embeddings-v4 (multi-vector) [paper]"][3:7] == ["80.55", "—", "80.55", "43/43"]


def test_pinned_revision_is_linked_to_the_hub():
    from jinavdr.report.render.document import _hub_link
    from jinavdr.report.render.html import _body
    from jinavdr.report.render.markdown import _cell

    rev = "4a58ca57710c49f51896e4bc820e202fbf64904b"
    link = _hub_link("jinaai/jina-embeddings-v4", rev)
    assert _cell(link) == f"[4a58ca57](https://huggingface.co/jinaai/jina-embeddings-v4/tree/{rev})"
    assert _body(link) == f'<a href="https://huggingface.co/jinaai/jina-embeddings-v4/tree/{rev}">4a58ca57</a>'
    assert _cell(_hub_link("/models/local-ckpt", rev)) == "4a58ca57"  # a local path: no link
    assert _cell(_hub_link("org/model", None)) == "— (unpinned)"


def test_leaderboard_cli_names_flags_for_bad_options():
    from typer.testing import CliRunner

    from jinavdr.cli import app

    res = CliRunner().invoke(app, ["leaderboard", str(BASELINE), "--min-coverage", "2"])
    assert res.exit_code == 2 and "--min-coverage must lie in [0, 1], got 2.0" in res.output
    res = CliRunner().invoke(app, ["leaderboard", str(BASELINE), "--n-bootstrap", "0"])
    assert res.exit_code == 2 and "--n-bootstrap must be at least 1, got 0" in res.output


def test_language_heatmap_colours_only_means_over_the_same_datasets(jinavdr_board, fixture_board):
    from jinavdr.report.charts import heatmap_cells

    models, languages, cells = heatmap_cells(jinavdr_board)
    assert "ja" in languages and "jp" not in languages
    row = dict(zip(languages, cells[models.index("jina-v4")], strict=True))
    # jina-v4 has 1 of the 4 multilingual datasets with English: a count, not a mean next to full means
    assert row["en"] == "1/4" and row["de"] is None
    paper = dict(zip(languages, cells[models.index("jina-embeddings-v4 (multi-vector) [paper]")], strict=True))
    assert all(isinstance(v, float) for v in paper.values())
    models, languages, cells = heatmap_cells(fixture_board)  # one multilingual dataset: 1/1 is complete
    assert languages == ["de", "en", "ja"]
    assert cells[models.index("jina-v4")] == [None, pytest.approx(100.0), None]


def test_reference_mapping_without_references_names_the_argument_or_the_flag():
    from typer.testing import CliRunner

    from jinavdr.cli import app

    with pytest.raises(ArgumentError, match=r"^references need the published numbers: leave with_references on\.$"):
        jv.leaderboard(FIXTURES, with_references=False, references={"bm25": "bm25+ocr"})
    res = CliRunner().invoke(app, ["leaderboard", str(FIXTURES), "--no-with-references", "--reference",
                                   "bm25=bm25+ocr"])
    assert res.exit_code == 2
    assert "--reference needs the published numbers: drop --no-with-references." in res.output
