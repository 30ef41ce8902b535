"""Leaderboard: rules on hand-computed values, golden markdown/CSV/HTML, determinism, errors, CLI.

Fixture results: tests/fixtures/results/leaderboard (regenerate with make_fixtures.py there).
Golden files: tests/golden/leaderboard.{md,csv,html}; regenerate after an intended change with
``JINAVDR_UPDATE_GOLDEN=1 python -m pytest tests/test_leaderboard.py`` and review the diff.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import shutil
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jinavdr.errors import DataError, ResultsError, UnknownNameError
from jinavdr.report.leaderboard import (
    DatasetInfo,
    LeaderboardOptions,
    build_leaderboard,
    collection_datasets,
    infer_collection,
    loaded_results,
)
from jinavdr.report.references import (
    auto_reference,
    load_references,
    pairing,
    parse_reference_mappings,
)
from jinavdr.report.render import render
from jinavdr.report.render.markdown import escape
from jinavdr.results.frame import FRAME_COLUMNS

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "results" / "leaderboard"
GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("JINAVDR_UPDATE_GOLDEN") == "1"

DATASETS = (
    DatasetInfo("airbnb-synthetic", ("de", "en", "jp"), "Housing", "Tables", True),
    DatasetInfo("docvqa", ("default",), "Mixed", "Scans"),
    DatasetInfo("jdocqa", ("default",), "News", "Digital Docs"),
    DatasetInfo("stanford-slide", ("default",), "Education", "Slides"),
    DatasetInfo("tabfquad", ("default",), "Mixed", "Tables"),
)
JINA = "jina-v4"


@pytest.fixture(scope="module")
def results():
    return loaded_results([FIXTURES])


@pytest.fixture(scope="module")
def board(results):
    return build_leaderboard(results, DATASETS, collection="fixture")


@pytest.fixture(scope="module")
def references():
    from jinavdr.report.leaderboard import catalogue_namer

    return load_references(rename=catalogue_namer())


@pytest.fixture(scope="module")
def board_refs(results, references):
    return build_leaderboard(results, DATASETS, collection="fixture", references=references)


def _col(board, label):
    return next(i for i, c in enumerate(board.columns) if c.label == label)


def _cell(board, table, row_label, col_label):
    row = next(r for r in getattr(board, table) if r.label == row_label)
    return row.cells[_col(board, col_label)]


def _summary(board, label):
    return next(r for r in board.summary if board.columns[r.column].label == label)


# --------------------------------------------------------------------------------------------------
# Published references
# --------------------------------------------------------------------------------------------------


def test_paper_means_reproduce_table3(references):
    single = references["jina-embeddings-v4 (single-vector)"]
    multi = references["jina-embeddings-v4 (multi-vector)"]
    assert len(single.datasets) == len(multi.datasets) == 43
    assert f"{single.benchmark_mean() * 100:.2f}" == "73.98"
    assert f"{multi.benchmark_mean() * 100:.2f}" == "80.55"
    # the renamed datasets are exactly the catalogue's jinavdr collection
    jinavdr = {d.name for d in collection_datasets("jinavdr")}
    assert set(single.datasets) == jinavdr
    # ... and the published averages of the multilingual datasets agree with their languages
    langs = [k for k in single.subsets if k[0] == "airbnb-synthetic"]
    assert len(langs) == 10
    mean = sum(single.subsets[k] for k in langs) / 10
    assert abs(mean - single.datasets["airbnb-synthetic"]) < 0.00005


def test_reference_table_errors(tmp_path):
    bad = tmp_path / "refs.csv"
    bad.write_text("dataset,subset,model,ndcg_at_5,source\ntabfquad,default,m,123,x\n")
    with pytest.raises(DataError, match=r"refs.csv:2: ndcg_at_5 123.0 is outside \[0, 100\]"):
        load_references(bad)
    bad.write_text("dataset,model,score\n")
    with pytest.raises(DataError, match="expected the columns dataset,subset,model,ndcg_at_5,source"):
        load_references(bad)
    with pytest.raises(DataError, match="reference table not found"):
        load_references(tmp_path / "missing.csv")


def _settings(name: str, **options) -> dict:
    """What a result file records for ``name`` (the spec's settings plus what adapters resolve)."""
    from jinavdr.models.registry import resolve

    resolved_dtype = options.pop("resolved_dtype", None)
    out = resolve(name, **options).settings()
    if resolved_dtype is not None:  # dtype=None (auto) is recorded as the dtype it resolved to
        out["dtype"] = resolved_dtype
    return out


def test_pairing_needs_the_published_method():
    bm25_default = {**_settings("bm25"), "idf": "ln(1+(N-n+0.5)/(n+0.5))"}
    assert pairing("bm25", bm25_default) == (
        None, "measured with its own settings, not profile 'paper' (-o profile=paper)")
    assert auto_reference("bm25", bm25_default) is None  # never paired with "BM25 + OCR"
    assert pairing("bm25", {**_settings("bm25", profile="paper"), "idf_formula": "..."}) == ("bm25+ocr", "")
    ref, why = pairing("bm25", _settings("bm25", profile="paper", k1=1.2))
    assert ref is None and why == "settings differ from the published method's: k1=1.2 (published: 1.5)"
    assert pairing("jina-v3", _settings("jina-v3")) == ("jina-embeddings-v3+ocr", "")
    ref, why = pairing("jina-v3", _settings("jina-v3", model_id="org/finetuned-v3"))
    assert ref is None and why.startswith("measured on org/finetuned-v3@None, not the pinned default checkpoint "
                                          "jinaai/jina-embeddings-v3@215a6e12")
    ref, why = pairing("colpali-v1.2", _settings("colpali-v1.2", profile="mteb"))
    assert ref is None and why == "measured with profile 'mteb', not profile 'paper' (-o profile=paper)"
    assert pairing("colpali-v1.2", _settings("colpali-v1.2")) == ("colpali-v1.2", "")
    assert pairing("dse-qwen2", _settings("dse-qwen2")) == ("dse-qwen2-2b-mrl-v1", "")
    single = _settings("jina-v4", resolved_dtype="bfloat16")
    assert pairing("jina-v4", single) == ("jina-embeddings-v4 (single-vector)", "")
    assert pairing("jina-v4", {**single, "vector": "multi"}) == ("jina-embeddings-v4 (multi-vector)", "")
    ref, why = pairing("jina-v4", {**single, "dtype": "float32"})  # a CPU run
    assert ref is None and "dtype='float32' (published: 'bfloat16')" in why
    assert pairing("siglip", _settings("siglip")) == (None, "")  # no published row in the paper's tables
    assert pairing("minilm", _settings("minilm")) == (None, "")


def test_parse_reference_mappings():
    known = ["bm25+ocr", "jina-embeddings-v4 (single-vector)"]
    got = parse_reference_mappings(["jina-v4=jina-embeddings-v4 (single-vector) [paper]"], known)
    assert got == {"jina-v4": "jina-embeddings-v4 (single-vector)"}
    with pytest.raises(UnknownNameError, match="Did you mean: bm25\\+ocr"):
        parse_reference_mappings(["x=bm25+oc"], known)
    with pytest.raises(DataError, match="not of the form MODEL=REFERENCE"):
        parse_reference_mappings(["jina-v4"], known)


# --------------------------------------------------------------------------------------------------
# Rules on values (all numbers hand-computed from make_fixtures.py)
# --------------------------------------------------------------------------------------------------


def test_ranking_on_common_subset(board):
    # jina-v4 covers 3 of 5 datasets (>= ceil(0.5 * 5)): everyone ranked on those 3
    assert board.common == ("docvqa", "stanford-slide", "tabfquad")
    assert [board.columns[r.column].label for r in board.summary] == [JINA, "bm25", "minilm", "mteb:e5"]
    assert [r.rank for r in board.summary] == [1, 2, 3, None]
    jina, bm25, minilm, e5 = (_summary(board, x) for x in (JINA, "bm25", "minilm", "mteb:e5"))
    assert jina.score.value == pytest.approx((0.875 + 1.0 + 0.6875) / 3)
    assert bm25.score.value == pytest.approx((0.875 + 0.85 + 0.75) / 3)
    assert minilm.score.value == pytest.approx((5.5 / 12 + 0.75 + 0.75) / 3)
    # own means: over every covered dataset (bm25: all five)
    assert bm25.own.value == pytest.approx((0.875 + 0.85 + 0.75 + 0.9 + 0.5) / 5)
    assert (jina.covered, bm25.covered, e5.covered) == (3, 5, 1)
    assert jina.ranked_on_common and not e5.ranked_on_common
    assert e5.score.value == pytest.approx(0.6) and e5.ci is None
    assert jina.score.best and not bm25.score.best


def test_min_coverage_leaves_partial_models_unranked(results):
    board = build_leaderboard(results, DATASETS, options=LeaderboardOptions(min_coverage=0.8))
    # need ceil(0.8 * 5) = 4 datasets: jina-v4 (3) is unranked, the common set is all five
    assert board.common == tuple(d.name for d in DATASETS)
    ranks = {board.columns[r.column].label: r.rank for r in board.summary}
    assert ranks == {"bm25": 1, "minilm": 2, JINA: None, "mteb:e5": None}
    assert _summary(board, "bm25").score.value == pytest.approx((0.875 + 0.85 + 0.75 + 0.9 + 0.5) / 5)


def test_equal_shown_scores_share_a_rank(results):
    # stanford-slide alone: bm25 and minilm have identical per-query values (75.00 each)
    only = (DATASETS[3],)
    board = build_leaderboard(results, only)
    ranks = {board.columns[r.column].label: r.rank for r in board.summary}
    assert ranks == {"bm25": 1, "minilm": 1, JINA: 3, "mteb:e5": None}


def test_bold_marks_every_tied_best(board):
    tab = {c: _cell(board, "dataset_rows", "tabfquad", c) for c in (JINA, "bm25", "minilm")}
    assert tab[JINA].best and tab["bm25"].best and not tab["minilm"].best  # 87.50 twice
    slide = {c: _cell(board, "dataset_rows", "stanford-slide", c) for c in (JINA, "bm25", "minilm")}
    assert slide["bm25"].best and slide["minilm"].best and not slide[JINA].best  # 75.00 twice


def test_significance_markers_on_exact_p_values(board):
    # tabfquad: minilm is 0.5 lower on 10 of 12 queries -> exact p = 2 / 2**10, significant
    minilm = _cell(board, "dataset_rows", "tabfquad", "minilm")
    assert minilm.p_value == pytest.approx(2 / 1024) and not minilm.tied
    # docvqa: jina-v4 best; bm25 differs on 2 queries (p = 2/4), minilm on 3 (p = 2/8); Holm -> 0.5, 0.5
    for label in ("bm25", "minilm"):
        cell = _cell(board, "dataset_rows", "docvqa", label)
        assert cell.p_value == pytest.approx(0.5) and cell.tied
    # jdocqa: minilm 4 queries lower (p = 2/16 = 0.125): a large gap but not significant
    assert _cell(board, "dataset_rows", "jdocqa", "minilm").p_value == pytest.approx(0.125)
    # the MTEB import has no per-query values: no test, no marker
    e5 = _cell(board, "dataset_rows", "jdocqa", "mteb:e5")
    assert e5.p_value is None and not e5.tied and e5.value == pytest.approx(0.6)


def test_multilingual_test_weights_languages_equally(board):
    # airbnb-synthetic: minilm best (61.11); bm25 differs on one query per language by 0.5, 0.5, 1
    # -> weighted differences -0.5, -0.5, -1 (each / 18); exact p = 2/8
    cell = _cell(board, "dataset_rows", "airbnb-synthetic", "bm25")
    assert cell.value == pytest.approx(0.5) and cell.p_value == pytest.approx(0.25) and cell.tied
    best = _cell(board, "dataset_rows", "airbnb-synthetic", "minilm")
    assert best.best and best.value == pytest.approx((7 / 12 + 11 / 12 + 2 / 6) / 3)


def _exact_p(diffs: list[Fraction]) -> Fraction:
    observed = abs(sum(diffs))
    hits = sum(
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed
        for signs in itertools.product((1, -1), repeat=len(diffs))
    )
    return Fraction(hits, 2 ** len(diffs))


def test_benchmark_level_test_matches_brute_force(board):
    # rank 1 (jina-v4) vs the others over the common set; weight 1/(3 datasets x n queries of the dataset)
    tab, doc, slide = Fraction(1, 36), Fraction(1, 30), Fraction(1, 24)
    half = Fraction(1, 2)
    bm25 = _exact_p([-half * tab, half * tab, -half * doc, -doc, half * slide])
    minilm = _exact_p([-half * tab] * 10 + [-half * doc, -doc, -doc, half * slide])
    # Holm over the two comparisons
    assert minilm < bm25
    holm_minilm, holm_bm25 = min(1, 2 * minilm), min(1, max(2 * minilm, bm25))
    row_bm25, row_minilm = _summary(board, "bm25"), _summary(board, "minilm")
    assert row_bm25.score.p_value == pytest.approx(float(holm_bm25))
    assert row_minilm.score.p_value == pytest.approx(float(holm_minilm))
    assert row_bm25.score.tied and not row_minilm.score.tied


def test_partial_dataset_is_shown_but_not_counted(board):
    cell = _cell(board, "dataset_rows", "airbnb-synthetic", JINA)
    assert (cell.value, cell.n, cell.expected, cell.best) == (1.0, 1, 3, False)
    # Tables = airbnb-synthetic + tabfquad: jina-v4 has only tabfquad complete
    tables = _cell(board, "format_means", "Tables", JINA)
    assert (tables.value, tables.n, tables.expected) == (0.875, 1, 2)


def test_language_tables(board):
    assert [r.label for r in board.language_means] == ["de", "en", "jp"]
    en = _cell(board, "language_means", "en", JINA)
    assert en.value == 1.0 and en.best
    assert _cell(board, "language_rows", "airbnb-synthetic / jp", "minilm").value == pytest.approx(2 / 6)


def test_confidence_interval_brackets_the_score(board):
    for label in (JINA, "bm25", "minilm"):
        row = _summary(board, label)
        lo, hi = row.ci
        assert lo <= row.score.value <= hi and hi - lo > 0


def test_comparisons_with_published_numbers(board_refs, references):
    comps = {board_refs.columns[c.column].label: c for c in board_refs.comparisons}
    assert set(comps) == {JINA}  # the default BM25 is not the paper's "BM25 + OCR": no pair, a note
    assert ("bm25 is not paired with a published number: measured with its own settings, not profile "
            "'paper' (-o profile=paper).") in board_refs.notes
    jina = comps[JINA]
    assert board_refs.columns[jina.reference].label == "jina-embeddings-v4 (single-vector) [paper]"
    assert [r.dataset for r in jina.rows] == ["docvqa", "stanford-slide", "tabfquad"]
    ref = references["jina-embeddings-v4 (single-vector)"]
    assert jina.rows[0].published == ref.datasets["docvqa"]
    # references take no rank and are placed by their score on the common set
    ref_rows = [r for r in board_refs.summary if board_refs.columns[r.column].is_reference]
    assert all(r.rank is None for r in ref_rows) and len(ref_rows) == 7


def test_explicit_reference_mapping(results, references):
    board = build_leaderboard(
        results, DATASETS, references=references, reference_map={"minilm": "jina-clip-v2"}
    )
    comps = {board.columns[c.column].label: board.columns[c.reference].model for c in board.comparisons}
    assert comps["minilm"] == "jina-clip-v2"
    with pytest.raises(UnknownNameError, match="unknown measured model 'nope'"):
        build_leaderboard(results, DATASETS, references=references, reference_map={"nope": "jina-clip-v2"})


# --------------------------------------------------------------------------------------------------
# Golden files and determinism
# --------------------------------------------------------------------------------------------------


def md_rows(text: str) -> list[list[str]]:
    """The cells of every markdown table row (header and alignment rows included), stripped."""
    return [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in text.splitlines()
            if line.startswith("|")]


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.is_file(), f"missing golden file {path}; run with JINAVDR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; review, then JINAVDR_UPDATE_GOLDEN=1"


def test_golden_markdown(board_refs):
    from jinavdr.report.charts import chart_paths

    _golden("leaderboard.md", render(board_refs, "md", chart_paths("README.md")))


def test_golden_csv(board_refs):
    _golden("leaderboard.csv", render(board_refs, "csv"))


def test_golden_html(board_refs):
    _golden("leaderboard.html", render(board_refs, "html"))


def test_rendering_is_deterministic(tmp_path, references):
    # copy the fixtures into two folders and read them in different orders
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(FIXTURES, a)
    shutil.copytree(FIXTURES, b)
    first = loaded_results([a])
    second = loaded_results(list(reversed(sorted(p for p in b.iterdir() if p.is_dir()))))
    random.Random(0).shuffle(second)
    outputs = []
    for loaded in (first, second):
        board = build_leaderboard(loaded, DATASETS, collection="fixture", references=references)
        outputs.append(tuple(render(board, fmt).encode() for fmt in ("md", "csv", "html")))
    assert outputs[0] == outputs[1]


def test_charts_are_byte_stable(tmp_path, board):
    pytest.importorskip("matplotlib")
    from jinavdr.report.charts import write_charts

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_charts(board, tmp_path / "one" / "README.md")
    second = write_charts(board, tmp_path / "two" / "README.md")
    assert set(first) == {"means", "languages"}
    for kind in first:
        data = first[kind].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"Software" not in data and b"matplotlib" not in data
        assert data == second[kind].read_bytes()


def test_markdown_escapes_names():
    assert escape("a|b*c <x>") == "a\\|b\\*c \\<x\\>"
    assert escape("docqa_energy [paper]") == "docqa_energy [paper]"  # readable in a diff
    assert escape("[x](http://y)") == "[x\\](http://y)"  # no link injection
    assert escape("run `a|b`") == "run `a\\|b`"


def test_html_escapes_names(tmp_path):
    data = json.loads((FIXTURES / "bm25" / "docvqa.json").read_text())
    data["model"] = "<script>alert(1)</script>"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(data))
    board = build_leaderboard(loaded_results([path]), DATASETS)
    html = render(board, "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --------------------------------------------------------------------------------------------------
# Errors and collections
# --------------------------------------------------------------------------------------------------


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "m" / "tabfquad.json"
    bad.parent.mkdir()
    bad.write_text('{"schema_version": 1, "model": ')
    with pytest.raises(ResultsError, match=r"result file .*m/tabfquad.json is not valid JSON"):
        loaded_results([tmp_path])
    bad.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ResultsError, match=r"schema version 99"):
        loaded_results([tmp_path])


def test_no_results_is_an_error(tmp_path):
    with pytest.raises(ResultsError, match="no result files"):
        loaded_results([tmp_path])


def test_conflicting_duplicates_name_both_files(tmp_path):
    data = json.loads((FIXTURES / "bm25" / "docvqa.json").read_text())
    data["subsets"]["default"]["per_query"] = None  # its mean would no longer match the edited score
    for name, score in (("a", 0.85), ("b", 0.5)):
        data["subsets"]["default"]["metrics"]["ndcg_at_5"] = score
        (tmp_path / name).mkdir()
        (tmp_path / name / "docvqa.json").write_text(json.dumps(data))
    with pytest.raises(
        ResultsError,
        match=r"docvqa/default of model 'bm25' appears with different scores in .*a/docvqa.json and .*b/docvqa.json",
    ):
        build_leaderboard(loaded_results([tmp_path]), DATASETS)


def test_out_of_range_score_is_refused(tmp_path):
    data = json.loads((FIXTURES / "bm25" / "docvqa.json").read_text())
    data["subsets"]["default"]["metrics"]["ndcg_at_5"] = 85.0
    (tmp_path / "x.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="outside \\[0, 1\\] \\(scores are stored as fractions\\)"):
        build_leaderboard(loaded_results([tmp_path]), DATASETS)


def test_results_outside_the_collection_are_noted(results):
    board = build_leaderboard(results, DATASETS[1:])
    assert any("airbnb-synthetic" in n and "Ignored" in n for n in board.notes)


def test_collection_inference(results):
    assert infer_collection(results) == "jinavdr"
    observed = collection_datasets("results", results)
    assert [d.name for d in observed] == [d.name for d in DATASETS]
    assert observed[0].subsets == ("de", "en", "jp") and observed[0].domain == "Housing"


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def _cli(*args: str):
    from jinavdr.cli import app

    return CliRunner().invoke(app, ["leaderboard", *args])


def test_cli_writes_markdown_and_charts(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "lb" / "README.md"
    res = _cli(str(FIXTURES), "-c", "results", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.parent.iterdir()} == {"README.md", "means.png", "languages.png"}
    text = out.read_text()
    assert "![Benchmark means with confidence intervals](means.png)" in text
    assert ["1", "jina-v4", "single-vector", "**85.42**"] in [r[:4] for r in md_rows(text)]
    assert "[paper]" not in text  # references are off outside the jinavdr collection


def test_cli_csv_to_stdout_and_references_on_for_jinavdr():
    res = _cli(str(FIXTURES), "--format", "csv")
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(io.StringIO(res.stdout), keep_default_na=False)
    assert tuple(frame.columns) == FRAME_COLUMNS
    row = frame[(frame.model == "jina-v4") & (frame.dataset == "tabfquad") & (frame.metric == "ndcg_at_5")]
    assert row.value.tolist() == [0.875] and row.reference.tolist() == [False]  # fractions, not x100
    ref = frame[(frame.model == "jina-embeddings-v4 (multi-vector) [paper]") & (frame.subset == "average")
                & (frame.dataset == "airbnb-synthetic")]
    assert f"{ref.value.item() * 100:.2f}" == "37.51" and ref.reference.item()


def test_cli_reports_errors_without_traceback(tmp_path):
    (tmp_path / "x.json").write_text("not json")
    res = _cli(str(tmp_path))
    assert res.exit_code == 2
    assert "error: result file" in res.output and "Traceback" not in res.output
    res = _cli(str(FIXTURES), "--format", "pdf")
    assert res.exit_code == 2 and "unknown format 'pdf'" in res.output


def test_leaderboard_reproduces_paper_means_on_the_jinavdr_collection(results, references):
    board = build_leaderboard(results, collection_datasets("jinavdr"), references=references)
    shown = {board.columns[r.column].label: (r.score.value, r.covered) for r in board.summary}
    single, covered = shown["jina-embeddings-v4 (single-vector) [paper]"]
    assert f"{single * 100:.2f}" == "73.98" and covered == 43
    assert f"{shown['jina-embeddings-v4 (multi-vector) [paper]'][0] * 100:.2f}" == "80.55"
    # nobody measured covers half of the 43 datasets: no rank, every measured model flagged unranked
    assert all(r.rank is None for r in board.summary)


def test_cli_html_is_self_contained(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "index.html"
    res = _cli(str(FIXTURES), "-c", "results", "-o", str(out))
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert html.count('src="data:image/png;base64,') == 2
    # nothing is loaded from elsewhere (links to a pinned Hub commit are plain anchors, not resources)
    assert "<script" not in html and 'src="http' not in html and "<link" not in html and "url(http" not in html


def test_references_without_data_for_the_collection_are_left_out(tmp_path, references):
    data = json.loads((FIXTURES / "bm25" / "docvqa.json").read_text())
    data["dataset"] = "my-docs"
    (tmp_path / "my-docs.json").write_text(json.dumps(data))
    datasets = (DatasetInfo("my-docs", ("default",)),)
    board = build_leaderboard(loaded_results([tmp_path]), datasets, collection="results", references=references)
    assert [c.label for c in board.columns] == ["bm25"]
    assert any("published numbers cover none of the datasets of 'results'" in n for n in board.notes)
