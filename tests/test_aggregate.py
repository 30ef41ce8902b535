"""Aggregation: subset -> dataset -> benchmark means, group means, explicit coverage."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest

from jinavdr.errors import ResultsError
from jinavdr.evaluation.aggregate import (
    Mean,
    benchmark_mean,
    comparable,
    dataset_means,
    difference,
    group_means,
    mean_of,
)
from jinavdr.report.format import mean_label

SUBSETS = {
    "tabfquad": {"default": 0.9},
    "airbnb": {"en": 0.2, "de": 0.4, "fr": 0.3},  # multilingual: counts once, as its mean 0.3
    "arxivqa": {"default": 0.6},
}
EXPECTED = {"tabfquad": ["default"], "airbnb": ["en", "de", "fr"], "arxivqa": ["default"]}


def test_subset_to_dataset_to_benchmark_is_unweighted():
    datasets = dataset_means(SUBSETS, EXPECTED)
    assert datasets["airbnb"].value == pytest.approx(0.3) and datasets["airbnb"].complete
    bench = benchmark_mean(datasets, EXPECTED)
    assert bench.value == pytest.approx((0.9 + 0.3 + 0.6) / 3)  # not (0.9 + 0.2 + 0.4 + 0.3 + 0.6) / 5
    assert bench.complete and mean_label(bench) == "60.00"


def test_partial_coverage_is_labelled_and_propagates():
    partial = {"tabfquad": {"default": 0.9}, "airbnb": {"en": 0.2, "de": 0.4}}  # fr and arxivqa missing
    datasets = dataset_means(partial, EXPECTED)
    assert mean_label(datasets["airbnb"]) == "30.00 (2/3)" and datasets["airbnb"].missing == ["fr"]
    assert mean_label(datasets["arxivqa"]) == "n/a (0/1)" and datasets["arxivqa"].value is None
    bench = benchmark_mean(datasets, EXPECTED)
    # a dataset with a missing language counts as missing one level up
    assert bench.covered == {"tabfquad"} and mean_label(bench) == "90.00 (1/3)"
    assert bench.missing == ["airbnb", "arxivqa"]


def test_mean_label_and_plain_scores():
    m = mean_of({"a": 0.7398, "b": 0.5}, expected=["a", "b", "c"])
    assert (m.n, m.n_expected, m.complete) == (2, 3, False)
    assert mean_label(m) == "61.99 (2/3)"
    assert mean_label(mean_of({"x": 0.1, "y": 0.3})) == "20.00"
    assert mean_of({"x": 0.1, "other": 1.0}, expected=["x"]).value == pytest.approx(0.1)  # extras ignored


def test_group_means_with_mapping_callable_and_multi_membership():
    scores = {"tabfquad": 0.9, "airbnb": 0.3, "arxivqa": 0.6}
    domain = {"tabfquad": "Mixed", "airbnb": "Housing", "arxivqa": "Science"}
    by_domain = group_means(scores, domain)
    assert {g: m.value for g, m in by_domain.items()} == {"Housing": 0.3, "Mixed": 0.9, "Science": 0.6}
    formats = {"tabfquad": ["Tables"], "airbnb": ["Tables"], "arxivqa": ["Mixed", "Charts"], "table-vqa": ["Tables"]}
    by_format = group_means(scores, formats.__getitem__, expected=formats)
    assert by_format["Tables"].value == pytest.approx(0.6) and mean_label(by_format["Tables"]) == "60.00 (2/3)"
    assert by_format["Charts"].value == 0.6 and by_format["Mixed"].complete
    # per language at subset level, keys "dataset:subset"
    subsets = {"airbnb:en": 0.2, "airbnb:de": 0.4, "tabfquad:default": 0.9}
    lang = group_means(subsets, lambda key: "fr" if key == "tabfquad:default" else key.split(":")[1])
    assert {g: m.value for g, m in lang.items()} == {"de": 0.4, "en": 0.2, "fr": 0.9}


def test_group_expected_members_make_partial_groups_visible():
    scores = {"tabfquad": 0.9}
    groups = {"tabfquad": "Tables", "table-vqa": "Tables"}
    assert mean_label(group_means(scores, groups, expected=groups)["Tables"]) == "90.00 (1/2)"


def test_comparison_refuses_different_coverage():
    full = mean_of({"a": 0.8, "b": 0.6})
    same = mean_of({"a": 0.7, "b": 0.5})
    assert comparable(full, same) and difference(full, same) == pytest.approx(0.1)
    partial = mean_of({"a": 0.9}, expected=["a", "b"])
    assert not comparable(full, partial)
    with pytest.raises(ResultsError, match=r"cannot compare a mean over 2 of 2 items with one over 1 of 2: they average different items "
                       r"\(only in the first: b; only in the second: none\)"):  # fmt: skip
        difference(full, partial)
    assert not comparable(Mean(None, frozenset(), frozenset()), Mean(None, frozenset(), frozenset()))


def test_paper_benchmark_means_are_reproduced():
    """Table 3 of the paper: 43-dataset means 73.98 (single-vector) and 80.55 (multi-vector)."""
    from jinavdr.report.references import DEFAULT_REFERENCES_PATH

    rows = list(csv.DictReader(DEFAULT_REFERENCES_PATH.open(encoding="utf-8")))
    for model, expected in (("jina-embeddings-v4 (single-vector)", "73.98"), ("jina-embeddings-v4 (multi-vector)", "80.55")):
        subsets: dict[str, dict[str, float]] = defaultdict(dict)
        for row in rows:
            if row["model"] == model and row["subset"] != "average":  # languages, not the paper's averages
                subsets[row["dataset"]][row["subset"]] = float(row["ndcg_at_5"]) / 100
        datasets = dataset_means(subsets)
        assert len(datasets) == 43
        assert mean_label(benchmark_mean(datasets)) == expected
        partial = benchmark_mean({k: v for k, v in datasets.items() if k != "arxivqa"}, expected=datasets)
        assert mean_label(partial).endswith("(42/43)")
