"""The encode path's batching plan (token-bounded batches, plan/assemble API) and the throughput
benchmark in its reduced CPU configuration (a tiny Qwen2.5-VL built from a config, seconds)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from jinavdr.catalogue.dataset import Corpus
from jinavdr.engine.encoding import page_batches, plan_pages, plan_queries
from jinavdr.errors import JinaVDRError

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_page_batches_bound_pages_tokens_and_padding():
    order, costs = [5, 1, 2, 3, 4, 0], [100, 90, 50, 48, 47, 10]
    assert page_batches(order, costs, 8) == [[5, 1], [2, 3, 4], [0]]  # padding <= 10 % of real tokens
    assert page_batches(order, costs, 2, max_padding=10.0) == [[5, 1], [2, 3], [4, 0]]
    assert page_batches(order, costs, 8, token_budget=150, max_padding=10.0) == [[5], [1], [2, 3, 4], [0]]
    assert page_batches(order, costs, 8, token_budget=10, max_padding=10.0) == [[p] for p in order]  # too big: alone
    assert page_batches([], [], 4) == []
    with pytest.raises(JinaVDRError, match="batch size must be at least 1, got 0"):
        page_batches(order, costs, 0)
    with pytest.raises(JinaVDRError, match="token budget must be at least 1, got 0"):
        page_batches(order, costs, 4, token_budget=0)


def _corpus() -> Corpus:
    return Corpus(ids=["a", "b", "c", "d"], load_image=lambda i: None, sizes=[(28, 28), (280, 28), (56, 56), (28, 280)],
                  dataset="toy", hashes=["h1", "h2", "h1", "h3"], texts=["x", "yy", "x", "zzz"])


def test_plan_pages_orders_by_tokens_then_pixels_and_assembles_in_item_order(tmp_path):
    from jinavdr.engine.cache import EmbeddingCache
    from jinavdr.models.embeddings import Embeddings

    cache = EmbeddingCache(tmp_path)
    plan = plan_pages(_corpus(), "image", cache=cache, model_key="m", tokens=lambda w, h: (w // 28) * (h // 28))
    # "c" has the content of "a" (hash h1); by tokens: b=10, d=10 (same pixels: position), a=1
    assert plan.order == [1, 3, 0] and plan.alias == {2: 0} and plan.stats.duplicates == 1
    plan.add([1, 3], Embeddings(torch.tensor([[1.0], [3.0]])))
    plan.add([0], Embeddings(torch.tensor([[0.5]])))
    assert plan.assemble().data.flatten().tolist() == [0.5, 1.0, 0.5, 3.0]
    with pytest.raises(JinaVDRError, match="2 embeddings for 1 positions"):
        plan.add([2], Embeddings(torch.zeros(2, 1)))
    by_pixels = plan_pages(_corpus(), "image")
    assert by_pixels.order == [1, 3, 2, 0] and by_pixels.keys is None  # without a cache: every page


def test_plan_queries_longest_first_once_per_text():
    plan = plan_queries(["bb", "a", "bb", "ccc"])
    assert plan.order == [3, 0, 1] and plan.alias == {2: 0}


def test_reduced_benchmark_runs_the_real_path_and_prints_its_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import encode_throughput

    out = tmp_path / "figures.json"
    monkeypatch.setattr(sys, "argv", ["encode_throughput.py", "--reduced", "--pages", "5", "--queries", "4",
                                      "--json", str(out)])
    encode_throughput.main()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    fields = dict(item.split("=") for item in last.split())
    assert list(fields)[:3] == ["pages_per_s", "speedup_vs_batch1", "projected_full_h"]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["pages"] == 5 and figures["batch1_pages"] == 5 and figures["queries"] == 4
    assert float(fields["pages_per_s"]) == pytest.approx(figures["pages_per_s"], rel=1e-3)
    assert figures["vision_tokens"] > 0 and figures["padded_tokens"] >= figures["vision_tokens"]
    assert figures["min_cosine_vs_batch1"] > 0.9999  # fp32 on the CPU: batching does not move embeddings
    assert {"vision_tower", "language_model", "preprocess", "decode"} <= set(figures["stages_s"])
    assert figures["full_benchmark_tokens"] > 0 and figures["projected_full_h"] > 0
    # two subsets through one pool of one worker: started once; only the first subset waits for it
    assert figures["subsets"] == 2 and figures["workers"] == 1 and figures["pool_starts"] == 1
    assert len(figures["first_batch_s"]) == 2 and figures["first_batch_s"][0] > figures["first_batch_s"][1]
    assert figures["projected_restart_h"] > figures["projected_full_h"] >= figures["projected_steady_h"]


def test_full_benchmark_tokens_from_the_subset_facts():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import encode_throughput
    finally:
        sys.path.remove(str(BENCHMARKS))
    subsets = encode_throughput.read_subsets()
    assert len(subsets) == 96 and sum(s.pages for s in subsets) == 70_615
    # 104.7 M vision tokens at the paper's budget (native resolution for practically every page)
    assert encode_throughput.full_benchmark_tokens(subsets, 37_788_800) == 104_670_137


def test_prepare_benchmark_prints_the_per_core_rate_and_the_workers_a_gpu_needs(monkeypatch, capsys):
    import math

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import prepare_throughput

    monkeypatch.setattr(sys, "argv", ["prepare_throughput.py", "--pages", "6", "--batch-size", "2", "--workers", "1",
                                      "--scale", "0.25"])
    prepare_throughput.main()
    out = capsys.readouterr().out.strip().splitlines()
    fields = dict(item.split("=") for item in out[-1].split())
    assert list(fields) == ["pages_per_s_per_core", "workers_for_h200", "workers_for_1h"]
    per_core = float(fields["pages_per_s_per_core"])
    assert per_core > 0
    for key, rate in (("workers_for_h200", prepare_throughput.H200_PAGES_PER_S), ("workers_for_1h", 70_615 / 3600)):
        # the printed rate is rounded to 3 decimals: the count lies between the counts at either end
        lo, hi = math.ceil(rate / (per_core + 0.0005)), math.ceil(rate / max(1e-9, per_core - 0.0005))
        assert lo <= int(fields[key]) <= hi
    assert any(line.startswith("pool of 1: ") for line in out)
