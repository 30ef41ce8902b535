"""The preparation pool: workers started once and reused across calls, batches split between workers
and joined exactly, failures (undecodable page, preparer error, dead worker, unpicklable corpus)
reported by name without breaking the next call, and the run's pool closed when the run ends."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from jinavdr.catalogue.dataset import Corpus, PageDecodeError
from jinavdr.engine.workers import (
    DecodeFailure,
    PreparationPool,
    PreparedBatch,
    chunks,
    collate,
    decoded_pages,
    prepare_locally,
)
from jinavdr.errors import JinaVDRError

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


class _Loader:
    """Picklable: page ``i`` is a 4x4 image whose red value is ``i``; ``broken`` pages fail to decode."""

    def __init__(self, broken: frozenset[int] = frozenset()) -> None:
        self.broken = broken

    def __call__(self, i: int) -> Image.Image:
        if i in self.broken:
            raise OSError("truncated PNG")
        return Image.new("RGB", (4, 4), (i, 0, 0))


class _Tagger:
    """A preparer that records which process prepared each page; it can collate, so batches split."""

    def __init__(self, die_on: str | None = None, fail_on: str | None = None) -> None:
        self.die_on, self.fail_on = die_on, fail_on

    def __call__(self, pages: list) -> dict:
        for p in pages:
            if p.doc_id == self.die_on:
                os._exit(7)
            if p.doc_id == self.fail_on:
                raise ValueError(f"bad page {p.doc_id}")
        return {"ids": [p.doc_id for p in pages], "red": [p.image.getpixel((0, 0))[0] for p in pages],
                "pids": [os.getpid()] * len(pages)}

    def collate(self, parts: list[dict]) -> dict:
        return {k: [x for p in parts for x in p[k]] for k in ("ids", "red", "pids")}


def _corpus(n: int, prefix: str = "doc", broken: frozenset[int] = frozenset()) -> Corpus:
    return Corpus(ids=[f"{prefix}{i}" for i in range(n)], load_image=_Loader(broken), dataset="toy")


def _prepare(pool: PreparationPool, corpus: Corpus, batches: list[list[int]], preparer=None) -> list:
    return list(pool.prepare(corpus, batches, preparer or _Tagger(), None, True))


def test_chunks_split_a_batch_per_worker_only_when_the_preparer_collates():
    assert chunks([1, 2, 3, 4, 5, 6, 7], 3, _Tagger()) == [[1, 2], [3, 4, 5], [6, 7]]
    assert chunks([1, 2], 4, _Tagger()) == [[1], [2]]
    assert chunks([1, 2, 3], 3, decoded_pages) == [[1], [2], [3]]
    assert chunks([1, 2, 3], 3, lambda pages: pages) == [[1, 2, 3]]  # cannot be joined: one task
    assert chunks([1, 2, 3], 1, _Tagger()) == [[1, 2, 3]]


def test_collate_joins_parts_in_order_and_sums_stage_seconds():
    parts = [PreparedBatch([4, 5], {"ids": ["a", "b"], "red": [4, 5], "pids": [1, 1]}, {"decode": 0.5}),
             PreparedBatch([6], {"ids": ["c"], "red": [6], "pids": [2]}, {"decode": 0.25, "preprocess": 1.0})]
    joined = collate(_Tagger(), parts)
    assert joined.positions == [4, 5, 6] and joined.inputs["ids"] == ["a", "b", "c"]
    assert joined.seconds == {"decode": 0.75, "preprocess": 1.0}
    pages = collate(decoded_pages, [PreparedBatch([0], ["p0"]), PreparedBatch([1], ["p1", "p2"])])
    assert pages.inputs == ["p0", "p1", "p2"]


def test_pool_starts_once_and_serves_every_call_like_local_preparation():
    batches = [[5, 4, 3, 2], [1, 0], [6]]
    with PreparationPool(2) as pool:
        seen_pids: set[int] = set()
        for prefix in ("a", "b", "c"):  # three "subsets"
            corpus = _corpus(7, prefix)
            got = _prepare(pool, corpus, batches)
            want = list(prepare_locally(corpus, batches, _Tagger(), None, True))
            assert [g.positions for g in got] == batches
            assert [g.inputs["ids"] for g in got] == [w.inputs["ids"] for w in want]
            assert [g.inputs["red"] for g in got] == [[5, 4, 3, 2], [1, 0], [6]]
            seen_pids |= {pid for g in got for pid in g.inputs["pids"]}
        assert pool.starts == 1
        assert seen_pids and seen_pids <= set(pool.pids)  # the pool's workers (which ones: their race)
        assert os.getpid() not in seen_pids
        assert 1 <= pool.most_ahead <= 3
    assert pool.pids == []


def test_undecodable_page_is_reported_and_the_pool_serves_the_next_call():
    with PreparationPool(2) as pool:
        got = _prepare(pool, _corpus(4, broken=frozenset({2})), [[0, 1], [2, 3]])
        assert isinstance(got[1], DecodeFailure) and got[1].doc_id == "doc2"
        with pytest.raises(PageDecodeError, match="page 'doc2' of dataset 'toy'.*truncated PNG"):
            got[1].raise_()
        # a call abandoned after its first batch, then a fresh call: only the fresh call's pages come back
        first = next(iter(pool.prepare(_corpus(6, "x"), [[0], [1], [2], [3]], _Tagger(), None, True)))
        assert first.inputs["ids"] == ["x0"]
        again = _prepare(pool, _corpus(3, "y"), [[2, 1, 0]])
        assert again[0].inputs["ids"] == ["y2", "y1", "y0"]
        assert pool.starts == 1


def test_preparer_error_names_the_pages_and_workers_ignore_ctrl_c():
    with PreparationPool(1) as pool:
        with pytest.raises(JinaVDRError, match=r"preparing pages at positions 1, 2 failed in a worker process: "
                                               r"ValueError: bad page doc2"):
            _prepare(pool, _corpus(3), [[0], [1, 2]], _Tagger(fail_on="doc2"))
        os.kill(pool.pids[0], signal.SIGINT)  # Ctrl-C reaches the whole process group: workers leave it to us
        assert _prepare(pool, _corpus(2), [[1, 0]])[0].inputs["red"] == [1, 0]
        assert pool.starts == 1


def test_a_dead_worker_is_reported_and_the_pool_restarts():
    with PreparationPool(2) as pool:
        with pytest.raises(JinaVDRError, match=r"page preparation worker jinavdr-prepare-\d \(pid \d+\) exited "
                                               r"with code 7 .*lower --num-workers"):
            _prepare(pool, _corpus(4), [[0, 1], [2, 3]], _Tagger(die_on="doc3"))
        assert _prepare(pool, _corpus(2), [[0, 1]])[0].inputs["ids"] == ["doc0", "doc1"]
        assert pool.starts == 2


def test_a_corpus_that_cannot_travel_is_refused_with_the_fix():
    corpus = Corpus(ids=["a"], load_image=lambda i: Image.new("RGB", (4, 4)), dataset="lambda-set")
    with PreparationPool(1) as pool, pytest.raises(JinaVDRError, match="pages of lambda-set or the model's page "
                                                                       "preparer cannot be sent to worker processes "
                                                                       ".*or use --num-workers 0"):
        _prepare(pool, corpus, [[0]])


def test_bad_pool_sizes_are_refused():
    with pytest.raises(JinaVDRError, match="at least 1 worker, got 0"):
        PreparationPool(0)
    with pytest.raises(JinaVDRError, match="ahead must be at least 1 batch, got 0"):
        PreparationPool(2, ahead=0)


def test_v4_collate_equals_preparing_the_batch_at_once():
    from jinavdr.models.adapters.jina import V4PagePreparer
    from jinavdr.models.base import Page
    from tests.tiny_models import qwen_image_processor, qwen_tokenizer

    pages = [Page(f"p{i}", Image.new("RGB", (28 * (i + 1), 56), (10 * i, 20, 30))) for i in range(5)]
    for side in ("right", "left"):
        tokenizer = qwen_tokenizer()
        tokenizer.padding_side = side
        for dtype in (None, torch.bfloat16):
            prep = V4PagePreparer(tokenizer, qwen_image_processor(), 28 * 28, 28 * 28 * 16, dtype)
            whole = prep(pages)
            joined = prep.collate([prep(pages[:2]), prep(pages[2:3]), prep(pages[3:])])
            assert set(joined) == set(whole)
            for key in whole:
                assert torch.equal(joined[key], whole[key]), (side, dtype, key)
            assert whole["pixel_values"].dtype == (dtype or torch.float32)


def test_run_level_pool_gives_the_same_embeddings_and_starts_once(monkeypatch):
    """The split page path of jina-v4's shape (tiny config): two corpora through one pool of two
    workers (each batch split between them) give exactly the embeddings of preparing in-process."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import encode_throughput as bench

    from jinavdr.engine.encoding import encode_pages

    encoder, _ = bench.build_encoder("cpu", "float32", True, 28 * 28 * 64, "multi", None)
    corpora = [bench.synthetic_corpus(bench.sample_sizes(bench.read_subsets(), 5, seed, 0.25), seed) for seed in (1, 2)]
    with PreparationPool(2) as pool:
        for corpus in corpora:
            ours, stats = encode_pages(encoder, corpus, batch_size=4, pool=pool)
            local, _ = encode_pages(encoder, corpus, batch_size=4, num_workers=0)
            assert torch.equal(ours.data, local.data) and torch.equal(ours.offsets, local.offsets)
            assert stats.stages["preprocess"] > 0 and "first_batch" in stats.stages
        assert pool.starts == 1


def test_runner_backend_keeps_one_pool_and_closes_it():
    from jinavdr.execution.runner import DefaultBackend, RunOptions
    from jinavdr.models import registry

    backend = DefaultBackend(registry.resolve("bm25"), device="cpu")
    assert backend.workers(RunOptions(num_workers=0)) is None
    pool = backend.workers(RunOptions(num_workers=1))
    assert pool is not None and backend.workers(RunOptions(num_workers=1)) is pool
    assert _prepare(pool, _corpus(2), [[0, 1]])[0].inputs["ids"] == ["doc0", "doc1"]
    procs = list(pool._procs)
    backend.close()
    assert pool.pids == [] and not any(p.is_alive() for p in procs)


def test_a_subsets_image_column_is_memory_mapped_by_the_workers_not_copied():
    """A loaded corpus (Arrow image column of 8 noisy PNGs, > 1 MiB) travels as a small pickle plus an
    Arrow file the workers map; they decode exactly the pages this process decodes."""
    import io

    import numpy as np
    import pyarrow as pa

    from jinavdr.catalogue.loaders import _corpus
    from jinavdr.engine.workers import MAP_BYTES

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(8):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(buf, format="PNG")
        blobs.append(buf.getvalue())
    images = pa.array([{"bytes": b, "path": None} for b in blobs],
                      type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    table = pa.table({"corpus-id": [f"p{i}" for i in range(8)], "image": images})
    corpus = _corpus(table, [f"p{i}" for i in range(8)], dataset="mapped", base_dir=None)
    assert images.nbytes > MAP_BYTES
    with PreparationPool(2) as pool:
        prepared = pool.prepare(corpus, [[7, 6, 5], [4, 3, 2, 1, 0]], decoded_pages, None, True)
        first = next(prepared)
        (folder,) = [p for p in pool._dir.iterdir() if p.is_dir()]
        assert (folder / "context.pkl").stat().st_size < 64 * 1024  # the images are not in the pickle
        assert sorted(p.name for p in folder.glob("*.arrow")) == ["array-0.arrow"]
        batches = [first, *prepared]
        assert pool.mapped_bytes == images.nbytes
    got = [page for b in batches for page in b.inputs]
    assert [p.doc_id for p in got] == [f"p{i}" for i in (7, 6, 5, 4, 3, 2, 1, 0)]
    for page in got:
        assert page.image.tobytes() == corpus.image(int(page.doc_id[1:])).tobytes()


def test_a_run_starts_its_workers_once_and_scores_as_without_them(tmp_path, monkeypatch):
    """``jinavdr run`` of an image model (tiny SigLIP) over three sample subsets with 2 workers: the
    pool starts once for the run, stops at its end, and every metric and per-query value equals the
    run without workers."""
    from jinavdr import api
    from jinavdr.engine import workers
    from tests import tiny_models

    model = tiny_models.build_siglip(tmp_path / "siglip")
    starts, closes = [], []
    start, close = workers.PreparationPool._start, workers.PreparationPool.close
    monkeypatch.setattr(workers.PreparationPool, "_start", lambda self: (starts.append(1), start(self))[1])
    monkeypatch.setattr(workers.PreparationPool, "close", lambda self: (closes.append(list(self.pids)), close(self))[1])
    reports = {}
    for n in (2, 0):
        reports[n] = api.run("siglip", ["shop-catalogues"], languages=["ar", "de", "en"], results_dir=tmp_path / f"r{n}",
                             device="cpu", num_workers=n, use_cache=False, allow_unpinned=True, progress=False,
                             model_id=str(model))
    assert len(starts) == 1  # the 2-worker run: once for its three subsets
    assert any(len(pids) == 2 for pids in closes)  # ...and closed with its two workers when the run ended
    (with_workers,), (without,) = reports[2].datasets, reports[0].datasets
    files = [json.loads(d.path.read_text(encoding="utf-8"))["subsets"] for d in (with_workers, without)]
    assert sorted(files[0]) == sorted(files[1]) == ["ar", "de", "en"]
    for name, result in files[0].items():
        assert result["metrics"] == files[1][name]["metrics"]
        assert result["per_query"] == files[1][name]["per_query"]


def test_auto_workers_none_on_cpu_a_share_of_the_cores_on_a_gpu():
    from jinavdr.engine.workers import auto_workers

    assert auto_workers("cpu", cores=64) == 0
    assert auto_workers("cuda", cores=16, ranks_per_node=1) == 8  # capped
    assert auto_workers("cuda:1", cores=32, ranks_per_node=8) == 2  # 4 cores per rank, less 2
    assert auto_workers("cuda", cores=2, ranks_per_node=1) == 1  # at least one


def test_run_request_num_workers_auto_numbers_and_refusals():
    from jinavdr.errors import ArgumentError
    from jinavdr.execution.request import RunRequest

    assert RunRequest("bm25").num_workers == "auto" and RunRequest("bm25").workers("cpu") == 0
    assert RunRequest("bm25", num_workers="AUTO").workers("cpu") == 0
    assert RunRequest("bm25", num_workers="3").workers("cuda") == 3 and RunRequest("bm25", num_workers=2).workers() == 2
    for bad in (-1, "many", 1.5, True):
        with pytest.raises(ArgumentError, match=r"num_workers.*must be a number of processes \(0 or more\) or 'auto'"):
            RunRequest("bm25", num_workers=bad).run_options()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
