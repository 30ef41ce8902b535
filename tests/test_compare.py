"""Tests for the regression gate: jinavdr.report.compare, its markdown report and `jinavdr compare`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from jinavdr.cli import app
from jinavdr.errors import ResultsError
from jinavdr.evaluation.stats import holm_bonferroni, paired_randomization_test
from jinavdr.report.compare import SettingsMismatchError, compare
from jinavdr.report.render.gate import render_markdown
from jinavdr.results.schema import Manifest, PerQuery, ResultFile, SubsetResult
from jinavdr.results.store import dump_result_file, load_results

FIXTURES = Path(__file__).parent / "fixtures" / "results" / "compare" / "baseline" / "bm25"
NOW = "2025-01-01T00:00:00+00:00"


# --- helpers ------------------------------------------------------------------------------------


def baseline() -> list[ResultFile]:
    return load_results(FIXTURES)


def by_name(files: Sequence[ResultFile], dataset: str) -> ResultFile:
    return next(f for f in files if f.dataset == dataset)


def doctor(
    files: Sequence[ResultFile], dataset: str, subset: str, change: Callable[[np.ndarray], np.ndarray]
) -> list[ResultFile]:
    """Copies of ``files`` where one subset's per-query values (and its mean metric) are changed."""
    out = [f.model_copy(deep=True) for f in files]
    sub = by_name(out, dataset).subsets[subset]
    assert sub.per_query is not None
    values = np.clip(change(np.array(sub.per_query.values)), 0.0, 1.0)
    sub.per_query.values = [float(v) for v in values]
    sub.metrics["ndcg_at_5"] = float(values.mean())
    return out


def with_manifest(files: Sequence[ResultFile], **changes: object) -> list[ResultFile]:
    out = []
    for f in files:
        m = f.manifest.model_copy(deep=True, update=changes)
        out.append(f.model_copy(deep=True, update={"manifest": m, "protocol": m.protocol}))
    return out


def make_file(dataset: str, subsets: dict[str, list[float] | None], **manifest: object) -> ResultFile:
    """A result file whose subsets have the given per-query nDCG@5 values (None: no per-query)."""
    results = {}
    for name, values in subsets.items():
        vals = values if values is not None else [0.5, 0.5]
        results[name] = SubsetResult(
            subset=name,
            metrics={"ndcg_at_5": float(np.mean(vals))},
            per_query=None if values is None else PerQuery(query_ids=[f"q{i}" for i in range(len(vals))], values=vals),
            n_queries=len(vals),
            n_pages=10,
            n_qrels=len(vals),
            finished_at=NOW,
        )
    fields: dict[str, object] = {
        "model_id": "m", "adapter": "toy", "dataset_repo": f"local/{dataset}", "protocol": "beir", "created_at": NOW,
    }
    fields.update(manifest)
    return ResultFile(model="toy", model_slug="toy", dataset=dataset, subsets=results, manifest=Manifest(**fields))


def write_folder(files: Sequence[ResultFile], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f"{f.dataset}.json").write_text(dump_result_file(f), encoding="utf-8")
    return folder


# --- the gate -----------------------------------------------------------------------------------


def test_identical_results_pass() -> None:
    c = compare(baseline(), baseline())
    assert c.passed and c.exit_code == 0 and c.failures == []
    assert [d.dataset for d in c.datasets] == ["alpha", "beta", "gamma"]
    assert all(d.verdict.label == "unchanged" and d.verdict.delta_points == 0.0 for d in c.datasets)
    assert c.overall.p_value == 1.0
    assert c.baseline_only == () and c.candidate_only == ()


def test_means_follow_the_documented_aggregation() -> None:
    files = baseline()
    c = compare(files, files)
    beta = by_name(files, "beta")
    expected_beta = (beta.subsets["en"].metrics["ndcg_at_5"] + beta.subsets["fr"].metrics["ndcg_at_5"]) / 2
    assert c.datasets[1].verdict.baseline == pytest.approx(expected_beta)
    dataset_means = [f.main_score() for f in files]
    assert c.overall.baseline == pytest.approx(sum(dataset_means) / 3)


def test_doctored_regression_fails_naming_dataset_and_delta() -> None:
    base = baseline()
    cand = doctor(base, "alpha", "default", lambda v: v - 0.2)
    c = compare(base, cand)
    assert not c.passed and c.exit_code == 1
    alpha = c.datasets[0]
    expected = (by_name(cand, "alpha").main_score() - by_name(base, "alpha").main_score()) * 100
    assert alpha.verdict.delta_points == pytest.approx(expected)
    assert alpha.verdict.delta_points < -5
    assert alpha.verdict.status == "fail" and alpha.verdict.label == "significant drop"
    assert alpha.verdict.p_adjusted is not None and alpha.verdict.p_adjusted < 0.05
    # The headline drop is a third of the dataset's (mean over 3 datasets) and beyond 0.5 points.
    assert c.overall.delta_points == pytest.approx(expected / 3)
    assert any(f.startswith("mean over 3 datasets: drop of") for f in c.failures)
    md = render_markdown(c)
    assert "❌ Model quality (nDCG@5): regression" in md
    row = next(r for r in md_rows(md) if r[0] == "alpha")
    assert row[5] == f"{expected:+.2f}" and row[7] == "❌ significant drop"
    assert c.datasets[1].verdict.status == "pass"  # beta untouched


def test_drop_beyond_tolerance_per_dataset_only_with_flag() -> None:
    # A drop in one small subset: not significant, the mean moves by less than the tolerance.
    base = baseline()
    cand = doctor(base, "beta", "fr", lambda v: np.where(np.arange(v.size) == np.argmax(v), 0.0, v))
    drop = -(by_name(cand, "beta").main_score() - by_name(base, "beta").main_score()) * 100
    assert drop > 1.0  # beta drops beyond a 1-point tolerance
    loose = compare(base, cand, max_drop_points=1.0)
    beta = loose.datasets[1].verdict
    assert loose.passed and beta.status == "warn" and beta.label == "drop beyond tolerance, not significant"
    strict = compare(base, cand, max_drop_points=1.0, per_dataset=True)
    assert not strict.passed
    assert strict.failures == [f"beta: drop of {drop:.2f} points exceeds the tolerance of 1.00 points"]


def test_significant_but_small_drop_is_flagged_and_fails() -> None:
    rng = np.random.default_rng(0)
    values = list(rng.uniform(0.2, 0.8, 400))
    base = [make_file("big", {"default": values})]
    cand = [make_file("big", {"default": [v - 0.003 for v in values]})]  # -0.3 points on every query
    c = compare(base, cand, max_drop_points=0.5)
    v = c.datasets[0].verdict
    assert v.delta_points == pytest.approx(-0.3)
    assert v.label == "significant drop (small)" and v.status == "fail"
    assert c.overall.label == "significant drop (small)"
    assert not c.passed
    assert "significant drop (small)" in render_markdown(c)
    # --min-effect lets a team ignore significant drops smaller than a given size.
    relaxed = compare(base, cand, max_drop_points=0.5, min_effect_points=0.5)
    assert relaxed.passed
    assert relaxed.datasets[0].verdict.label == "significant drop below --min-effect (ignored)"
    assert relaxed.datasets[0].verdict.status == "warn"


def test_significant_gain_passes() -> None:
    values = [0.1 * (i % 10) for i in range(100)]
    c = compare([make_file("d", {"default": values})], [make_file("d", {"default": [v + 0.05 for v in values]})])
    assert c.passed and c.datasets[0].verdict.label == "significant gain"


def test_dataset_test_weights_queries_as_the_reported_mean() -> None:
    # Subset s1: 3 queries each +0.1; subset s2: 1 query -0.1. The dataset mean (over subsets) does not
    # move, so the weighted test gives p = 1; pooling unweighted would give 10/16.
    base = [make_file("d", {"s1": [0.5, 0.5, 0.5], "s2": [0.5]})]
    cand = [make_file("d", {"s1": [0.6, 0.6, 0.6], "s2": [0.4]})]
    c = compare(base, cand)
    v = c.datasets[0].verdict
    assert v.delta_points == pytest.approx(0.0, abs=1e-9)
    assert v.p_value == 1.0
    assert paired_randomization_test([0.5] * 4, [0.6, 0.6, 0.6, 0.4]) == pytest.approx(10 / 16)


def test_dataset_p_values_are_holm_adjusted() -> None:
    rng = np.random.default_rng(1)
    base, cand = [], []
    for i, shift in enumerate((0.01, 0.02, 0.0)):
        values = list(rng.uniform(0.2, 0.8, 60))
        noise = rng.normal(0, 0.05, 60)
        base.append(make_file(f"d{i}", {"default": values}))
        cand.append(make_file(f"d{i}", {"default": list(np.array(values) - shift + noise)}))
    c = compare(base, cand, max_drop_points=100)
    raw = [d.verdict.p_value for d in c.datasets]
    assert [d.verdict.p_adjusted for d in c.datasets] == pytest.approx(holm_bonferroni(raw))


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"protocol": "paper"}, "protocol: 'beir' (baseline) vs 'paper' (candidate)"),
        ({"dataset_revision": "f" * 40}, f"dataset_revision: '{'0123456789abcdef' * 2 + '01234567'}' (baseline) vs '{'f' * 40}'"),
        ({"run_options": {"k": 1000}}, "run_options.k: 100 (baseline) vs 1000 (candidate)"),
        ({"dtype": "bfloat16"}, "dtype: None (baseline) vs 'bfloat16' (candidate)"),
    ],
)
def test_settings_mismatch_is_refused(changes: dict[str, object], needle: str) -> None:
    base = baseline()
    with pytest.raises(SettingsMismatchError) as info:
        compare(base, with_manifest(base, **changes))
    message = str(info.value)
    assert needle in message
    assert "[all 3 datasets]" in message and "pass force=True" in message  # the API's argument
    assert "pass --force" in info.value.cli_message()  # the command line's flag
    assert info.value.exit_code == 2


def test_settings_mismatch_names_the_datasets_concerned() -> None:
    base = baseline()
    cand = [f.model_copy(deep=True) for f in base]
    by_name(cand, "beta").manifest.dataset_revision = "e" * 40
    with pytest.raises(SettingsMismatchError, match=f"vs '{'e' * 40}' \\(candidate\\) \\[beta\\]"):
        compare(base, cand)


def test_model_option_mismatch_is_refused_but_model_identity_is_not() -> None:
    base = baseline()
    settings = dict(by_name(base, "alpha").manifest.settings)
    # A new checkpoint: model id and revision differ, which is the point of the comparison.
    checkpoint = with_manifest(
        base, model_id="./checkpoint", model_revision="abc",
        settings={**settings, "model_id": "./checkpoint", "revision": "abc", "commit": "f" * 40},
    )
    assert compare(base, checkpoint).passed
    changed = with_manifest(base, settings={**settings, "k1": 1.2})
    with pytest.raises(SettingsMismatchError, match=r"settings\.k1: 1\.5 \(baseline\) vs 1\.2 \(candidate\)"):
        compare(base, changed)
    added = with_manifest(base, settings={**settings, "max_pixels": 602112})
    with pytest.raises(SettingsMismatchError, match=r"settings\.max_pixels: '<absent>' \(baseline\) vs 602112"):
        compare(base, added)


CONTENT_A, CONTENT_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def local_file(dataset: str, path: str, revision: str | None) -> list[ResultFile]:
    return [make_file(dataset, {"default": [0.5, 1.0]}, dataset_repo=path, dataset_revision=revision)]


def test_local_data_with_the_same_content_is_comparable_from_any_path() -> None:
    base = local_file("d", "/home/dev/my-docs", CONTENT_A)
    for path in ("/runner/work/my-docs", "/mnt/data/renamed-copy", "jinavdr-sample/d"):
        c = compare(base, local_file("d", path, CONTENT_A), exact=True)
        assert c.passed and c.forced_differences == ()


def test_changed_local_content_is_refused_naming_dataset_and_both_revisions(tmp_path: Path) -> None:
    base = [*local_file("d", "/home/dev/d", CONTENT_A), *local_file("e", "/home/dev/e", CONTENT_A)]
    cand = [*local_file("d", "/runner/d", CONTENT_B), *local_file("e", "/runner/e", CONTENT_A)]
    with pytest.raises(SettingsMismatchError) as info:
        compare(base, cand)
    message = str(info.value)
    assert f"dataset_revision: '{CONTENT_A}' (baseline) vs '{CONTENT_B}' (candidate) [d]" in message
    assert "The local data of d differs between the two runs" in message
    assert "dataset_repo" not in message  # the paths differ too, but content decides
    assert info.value.exit_code == 2
    result = CliRunner().invoke(app, ["compare", str(write_folder(base, tmp_path / "b")), str(write_folder(cand, tmp_path / "c"))])
    assert result.exit_code == 2 and CONTENT_B in result.output


def test_local_data_is_not_comparable_with_a_hub_repo() -> None:
    hub = [make_file("d", {"default": [0.5, 1.0]}, dataset_repo="jinaai/d_beir", dataset_revision="f" * 40)]
    with pytest.raises(SettingsMismatchError) as info:
        compare(local_file("d", "/home/dev/d", CONTENT_A), hub)
    assert "dataset_repo: 'local folder' (baseline) vs 'jinaai/d_beir' (candidate) [d]" in str(info.value)
    assert f"dataset_revision: '{CONTENT_A}' (baseline) vs '{'f' * 40}' (candidate) [d]" in str(info.value)
    assert "The local data of" not in str(info.value)


def test_local_folders_without_a_content_revision_are_compared_by_name() -> None:
    """Files written before content revisions: the folder name is all there is to compare."""
    base = local_file("d", "/home/dev/jinavdr/assets/sample/d", None)
    assert compare(base, local_file("d", "/runner/work/jinavdr/assets/sample/d", None)).passed
    with pytest.raises(SettingsMismatchError, match="dataset_repo: 'local:d' \\(baseline\\) vs 'local:other-folder'"):
        compare(base, local_file("d", "/runner/work/other-folder", None))
    with pytest.raises(SettingsMismatchError, match=f"dataset_revision: None \\(baseline\\) vs '{CONTENT_A}'"):
        compare(base, local_file("d", "/runner/work/jinavdr/assets/sample/d", CONTENT_A))


def test_force_compares_and_reports_the_differences() -> None:
    base = baseline()
    c = compare(base, with_manifest(base, protocol="paper"), force=True)
    assert c.passed
    assert [d.name for d in c.forced_differences] == ["protocol"]
    md = render_markdown(c)
    assert "Compared despite different evaluation settings (--force)" in md
    assert ["protocol", "`beir`", "`paper`", "⚠️ differs (--force)"] in md_rows(md)


# --- coverage -----------------------------------------------------------------------------------


def test_non_overlapping_subsets_are_reported() -> None:
    base = baseline()
    cand = [f.model_copy(deep=True) for f in base if f.dataset != "gamma"]
    del by_name(cand, "beta").subsets["fr"]
    cand.append(make_file("delta", {"default": [0.5]}, model_id="bm25", adapter="bm25"))
    c = compare(base, cand, force=True)
    assert c.baseline_only == ("gamma", "beta:fr")
    assert c.candidate_only == ("delta",)
    assert [d.dataset for d in c.datasets] == ["alpha", "beta"]
    assert [s.subset for s in c.datasets[1].subsets] == ["en"]
    assert c.passed
    md = render_markdown(c)
    assert "⚠️ In the baseline only (not compared): `gamma`, `beta:fr`" in md
    assert "In the candidate only (not compared): `delta`" in md
    exact = compare(base, cand, force=True, exact=True)
    assert "delta: in the candidate but not in the baseline" in exact.failures
    assert "❌ In the candidate only (not compared): `delta`" in render_markdown(exact)
    strict = compare(base, cand, force=True, require_complete=True)
    assert strict.exit_code == 1
    assert strict.failures == [
        "gamma: in the baseline but missing from the candidate",
        "beta:fr: in the baseline but missing from the candidate",
    ]


def test_results_without_per_query_values_are_compared_but_not_tested() -> None:
    base = baseline()
    cand = [f.model_copy(deep=True) for f in base]
    by_name(cand, "gamma").subsets["default"].metrics["ndcg_at_5"] -= 0.02  # -2 points, no per-query
    c = compare(base, cand, max_drop_points=5)
    gamma = c.datasets[2]
    assert gamma.subsets[0].paired is None and gamma.subsets[0].p_value is None
    assert gamma.subsets[0].untested_reason == "no per-query values in the baseline"
    assert gamma.verdict.p_value is None and gamma.verdict.label == "drop within tolerance (not tested)"
    assert gamma.verdict.delta_points == pytest.approx(-2.0)
    assert c.passed
    assert "No significance test for 1 of 4 subsets: `gamma:default` (no per-query values in the baseline)" in (
        render_markdown(c)
    )
    # The headline test covers the tested datasets only.
    assert c.overall.n_tested_queries == 90


def test_query_ids_are_paired_by_id() -> None:
    base = [make_file("d", {"default": [0.1, 0.2, 0.3, 0.4]})]
    cand = make_file("d", {"default": [0.4, 0.3, 0.2]})
    pq = cand.subsets["default"].per_query
    assert pq is not None
    pq.query_ids = ["q3", "q2", "q1"]  # reordered, q0 missing
    c = compare(base, [cand])
    paired = c.datasets[0].subsets[0].paired
    assert paired is not None
    assert paired.query_ids == ("q1", "q2", "q3")
    assert list(paired.differences) == pytest.approx([0.0, 0.0, 0.0])
    assert (paired.a_only, paired.b_only) == (1, 0)
    assert "query ids differ (1 only in baseline, 0 only in candidate)" in render_markdown(c)


def test_nothing_in_common_is_an_error() -> None:
    with pytest.raises(ResultsError, match="no subset in common"):
        compare([make_file("a", {"x": [0.1]})], [make_file("b", {"x": [0.1]})])


def test_two_files_for_one_dataset_are_refused() -> None:
    base = baseline()
    twin = by_name(base, "alpha").model_copy(update={"model_slug": "minilm"})
    with pytest.raises(ResultsError, match="more than one result file for dataset 'alpha' \\(models: bm25, minilm\\)"):
        compare([*base, twin], base)


# --- exact mode ---------------------------------------------------------------------------------


def test_exact_mode_fails_on_any_change_either_way() -> None:
    base = baseline()
    assert compare(base, base, exact=True).passed
    up = [f.model_copy(deep=True) for f in base]
    by_name(up, "alpha").subsets["default"].metrics["map_at_5"] += 1e-4  # an increase, not the main metric
    c = compare(base, up, exact=True)
    assert not c.passed and c.datasets[0].verdict.label == "changed"
    assert c.failures[0].startswith("alpha: changed (default: map_at_5 ")
    tiny = [f.model_copy(deep=True) for f in base]
    by_name(tiny, "alpha").subsets["default"].metrics["map_at_5"] += 1e-8  # below the tolerance
    assert compare(base, tiny, exact=True).passed
    assert compare(base, up).passed  # without --exact a map change is no regression


def test_exact_mode_sees_per_query_changes_and_counts() -> None:
    base = baseline()
    swapped = doctor(base, "beta", "en", lambda v: v[::-1])  # same mean, other per-query values
    c = compare(base, swapped, exact=True)
    assert not c.passed
    assert "per-query ndcg_at_5 of" in c.failures[0]
    counted = [f.model_copy(deep=True) for f in base]
    by_name(counted, "gamma").subsets["default"].n_pages += 1
    assert compare(base, counted, exact=True).failures == ["gamma: changed (default: n_pages 75 -> 76)"]


# --- loading and CLI ----------------------------------------------------------------------------


def test_load_results_reads_folders_and_files() -> None:
    assert sorted(f.dataset for f in load_results(FIXTURES)) == ["alpha", "beta", "gamma"]
    assert [f.dataset for f in load_results(FIXTURES / "beta.json")] == ["beta"]
    with pytest.raises(ResultsError, match="does not exist"):
        load_results(FIXTURES / "nope")


runner = CliRunner()


def md_rows(text: str) -> list[list[str]]:
    """The stripped cells of every markdown table row."""
    return [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in text.splitlines()
            if line.startswith("|")]


def test_cli_identical_exit_zero_with_report(tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.md"
    result = runner.invoke(app, ["compare", str(FIXTURES), str(FIXTURES), "--report", str(report)])
    assert result.exit_code == 0, result.output
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!-- jinavdr-compare -->\n### ✅ Model quality (nDCG@5): no regression")
    assert ["**mean**", "4", "90"] in [row[:3] for row in md_rows(text)]
    # the terminal gets a table for people; the markdown goes only to --report
    assert "<!--" not in result.output and "|" not in result.output
    assert "no regression" in result.output
    mean = next(line.split() for line in result.output.splitlines() if line.strip().startswith("mean"))
    assert mean[:2] == ["mean", "4"] and mean[-2:] == ["✅", "unchanged"]


def test_cli_regression_exit_one(tmp_path: Path) -> None:
    cand = write_folder(doctor(baseline(), "alpha", "default", lambda v: v - 0.2), tmp_path / "cand")
    report = tmp_path / "report.md"
    result = runner.invoke(app, ["compare", str(FIXTURES), str(cand), "--report", str(report), "--quiet"])
    assert result.exit_code == 1
    drop = (by_name(baseline(), "alpha").main_score() - by_name(load_results(cand), "alpha").main_score()) * 100 / 3
    assert result.output.startswith(f"FAIL: mean nDCG@5 over 3 datasets 37.54 -> {37.54 - drop:.2f} ({-drop:+.2f} points)")
    assert "regression: alpha: significant drop of" in result.output
    assert ["alpha", "1", "40"] in [row[:3] for row in md_rows(report.read_text(encoding="utf-8"))]


def test_cli_settings_mismatch_exit_two_and_force(tmp_path: Path) -> None:
    cand = write_folder(with_manifest(baseline(), run_options={"k": 10}), tmp_path / "cand")
    report = tmp_path / "report.md"
    refused = runner.invoke(app, ["compare", str(FIXTURES), str(cand), "--report", str(report)])
    assert refused.exit_code == 2
    assert "run_options.k: 100 (baseline) vs 10 (candidate)" in refused.output
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!-- jinavdr-compare -->\n### ❌ Model quality: not compared")
    assert "run_options.k: 100 (baseline) vs 10 (candidate) [all 3 datasets]" in text
    forced = runner.invoke(app, ["compare", str(FIXTURES), str(cand), "--force", "--quiet"])
    assert forced.exit_code == 0, forced.output


def test_cli_bad_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["compare", str(FIXTURES), str(FIXTURES), "--alpha", "2"])
    assert result.exit_code == 2
    assert "--alpha must be strictly between 0 and 1, got 2.0" in result.output


# --- the project's own gate (scripts/ci_gate.sh) ------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def run_gate(tmp_path: Path, baseline_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JINAVDR_GATE_MODELS": "bm25",
        "JINAVDR_GATE_BASELINE": str(baseline_dir),
        "JINAVDR_GATE_REPORTS": str(tmp_path / "reports"),
    }
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "ci_gate.sh")], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_ci_gate_script_passes_on_the_baseline_and_fails_on_a_moved_score(tmp_path: Path) -> None:
    committed = REPO / "results" / "baseline" / "bm25"
    assert committed.is_dir(), "committed baseline missing: run scripts/ci_gate.sh --update-baseline"
    baseline_dir = tmp_path / "baseline"
    shutil.copytree(committed, baseline_dir / "bm25")
    ok = run_gate(tmp_path, baseline_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS: mean nDCG@5 over 5 datasets" in ok.stdout

    path = baseline_dir / "bm25" / "statistics-tables.json"
    doctored = doctor(load_results(path), "statistics-tables", "default", lambda v: v + 0.001)
    path.write_text(dump_result_file(doctored[0]), encoding="utf-8")
    moved = run_gate(tmp_path, baseline_dir)
    assert moved.returncode == 1, moved.stdout + moved.stderr
    assert "regression: statistics-tables: changed (default: " in moved.stderr
    assert "scripts/ci_gate.sh --update-baseline" in moved.stderr
    report = (tmp_path / "reports" / "bm25.md").read_text(encoding="utf-8")
    assert "❌ Model quality (nDCG@5): regression" in report


def test_results_built_in_memory_are_validated_too():
    """The gate never passes a NaN, whether it came from a file or from Python."""
    import math

    from jinavdr.results.validate import ResultValueError

    base = load_results(FIXTURES)
    bad = [rf.model_copy(deep=True) for rf in base]
    sub = next(iter(bad[0].subsets.values()))
    sub.metrics["ndcg_at_5"] = math.nan
    with pytest.raises(ResultValueError, match=r"metrics.ndcg_at_5 is nan, not a finite number"):
        compare(base, bad, exact=True)
