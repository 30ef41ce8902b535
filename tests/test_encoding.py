"""The cached, batched encoding loop with fake encoders (and MiniLM for batch-size independence)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from jinavdr.catalogue.dataset import Corpus, PageDecodeError, Queries
from jinavdr.engine.cache import EmbeddingCache, adapter_key
from jinavdr.engine.encoding import encode_pages, encode_queries
from jinavdr.errors import DataError, JinaVDRError
from jinavdr.models.base import Encoder, Page
from jinavdr.models.embeddings import Embeddings


def _vec(text: str) -> torch.Tensor:
    """A deterministic 3-d vector of a string."""
    h = sum(ord(c) * (i + 1) for i, c in enumerate(text))
    return torch.tensor([len(text), h % 97, h % 13], dtype=torch.float32)


class CountingEncoder:
    """Dense fake: records every call; pages embed their doc id (image) or text."""

    similarity = "dot"

    def __init__(self, page_input: str = "image", oom_above: int | None = None, multi: bool = False) -> None:
        self.page_input = page_input
        self.oom_above = oom_above
        self.multi = multi
        self.calls: list[tuple[str, int]] = []

    def settings(self) -> dict[str, Any]:
        return {"adapter": "fake", "page_input": self.page_input, "multi": self.multi}

    def _emb(self, keys: Sequence[str]) -> Embeddings:
        if self.multi:  # item i has len(key) % 3 token vectors (0 tokens allowed)
            rows = [_vec(k + str(t)).unsqueeze(0) for k in keys for t in range(len(k) % 3)]
            lengths = torch.tensor([len(k) % 3 for k in keys])
            offsets = torch.zeros(len(keys) + 1, dtype=torch.int64)
            offsets[1:] = lengths.cumsum(0)
            return Embeddings(torch.cat(rows) if rows else torch.empty(0, 3), offsets)
        return Embeddings(torch.stack([_vec(k) for k in keys]))

    def _check(self, n: int) -> None:
        assert torch.is_inference_mode_enabled()
        if self.oom_above is not None and n > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        self._check(len(texts))
        self.calls.append(("query", len(texts)))
        return self._emb(list(texts))

    def encode_pages(self, pages: Sequence[Page], *, batch_size: int) -> Embeddings:
        self._check(len(pages))
        self.calls.append(("page", len(pages)))
        keys = []
        for p in pages:
            if "image" in self.page_input:
                assert p.image.size == (4, 4)
                keys.append(p.doc_id)
            else:
                with pytest.raises(ValueError):
                    _ = p.image  # text-only encoders get no image
                keys.append(p.text)
        return self._emb(keys)


class _Loader:
    """A picklable page loader (decoding workers are spawned, so the loader travels by pickle)."""

    def __init__(self, broken: set[int], decode_log: list[int] | None) -> None:
        self.broken, self.decode_log = broken, decode_log

    def __call__(self, i: int) -> Image.Image:
        if self.decode_log is not None:
            self.decode_log.append(i)
        if i in self.broken:
            raise OSError("truncated PNG")
        return Image.new("RGB", (4, 4), (i, 0, 0))


def _corpus(n: int = 7, *, texts: bool = True, broken: set[int] = frozenset(), sizes: bool = True,
            hashes: bool = True, decode_log: list[int] | None = None) -> Corpus:
    return Corpus(
        ids=[f"doc{i}" for i in range(n)],
        load_image=_Loader(set(broken), decode_log),
        texts=[f"text number {i}" if i != 3 else None for i in range(n)] if texts else None,
        sizes=[(10 * ((i * 5) % n + 1), 10) for i in range(n)] if sizes else None,
        dataset="toy",
        hashes=[f"h{i}" for i in range(n)] if hashes else None,
    )


def _expected_pages(corpus: Corpus) -> torch.Tensor:
    return torch.stack([_vec(d) for d in corpus.ids])


def test_fake_encoder_satisfies_protocol() -> None:
    assert isinstance(CountingEncoder(), Encoder)


def test_pages_sorted_by_size_returned_in_corpus_order() -> None:
    corpus = _corpus()
    enc = CountingEncoder()
    emb, stats = encode_pages(enc, corpus, batch_size=3)
    assert torch.equal(emb.data, _expected_pages(corpus))
    assert [n for _, n in enc.calls] == [3, 3, 1]
    assert (stats.encoded, stats.cached, stats.oom_retries) == (7, 0, 0)


def test_cache_hit_makes_zero_model_calls(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    corpus, queries = _corpus(), Queries(["q1", "q2"], ["first query", "second"])
    enc = CountingEncoder()
    first, s1 = encode_pages(enc, corpus, cache=cache, batch_size=4)
    q1, qs1 = encode_queries(enc, queries, cache=cache, batch_size=4)
    assert (s1.encoded, s1.cached, qs1.encoded, qs1.cached) == (7, 0, 2, 0)
    again = CountingEncoder()
    log: list[int] = []
    second, s2 = encode_pages(again, _corpus(decode_log=log), cache=cache, batch_size=2)
    q2, qs2 = encode_queries(again, queries, cache=cache, batch_size=2)
    assert again.calls == [] and log == []  # no model call, no image decoded
    assert (s2.encoded, s2.cached, qs2.encoded, qs2.cached) == (0, 7, 0, 2)
    assert torch.equal(first.data, second.data) and torch.equal(q1.data, q2.data)


def test_partial_cache_encodes_only_missing(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    enc = CountingEncoder()
    encode_queries(enc, ["a", "bb"], cache=cache, batch_size=8)
    emb, stats = encode_queries(enc, ["ccc", "a", "dddd", "bb"], cache=cache, batch_size=8)
    assert enc.calls == [("query", 2), ("query", 2)]
    assert (stats.encoded, stats.cached) == (2, 2)
    assert torch.equal(emb.data, torch.stack([_vec(t) for t in ["ccc", "a", "dddd", "bb"]]))


def test_same_page_content_shared_across_tasks(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    enc = CountingEncoder(page_input="text")
    a = Corpus(["x1", "x2"], lambda i: None, texts=["shared page", "only in a"], dataset="a")
    b = Corpus(["y1"], lambda i: None, texts=["shared page"], dataset="b")
    encode_pages(enc, a, cache=cache)
    _, stats = encode_pages(enc, b, cache=cache)
    assert stats.cached == 1 and stats.encoded == 0


def test_duplicates_encoded_once() -> None:
    enc = CountingEncoder()
    emb, stats = encode_queries(enc, ["same", "other", "same"], batch_size=8)
    assert enc.calls == [("query", 2)] and stats.duplicates == 1
    assert torch.equal(emb.item(2), emb.item(0))


def test_ragged_embeddings_order_and_cache(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    corpus = _corpus(8)
    emb, _ = encode_pages(CountingEncoder(multi=True), corpus, cache=cache, batch_size=3)
    assert emb.is_multi
    assert emb.lengths().tolist() == [len(d) % 3 for d in corpus.ids]
    for i, d in enumerate(corpus.ids):
        expected = [_vec(d + str(t)) for t in range(len(d) % 3)]
        assert torch.equal(emb.item(i), torch.stack(expected) if expected else torch.empty(0, 3))
    again = CountingEncoder(multi=True)
    cached, stats = encode_pages(again, corpus, cache=cache, batch_size=5)
    assert again.calls == [] and stats.cached == 8
    assert torch.equal(cached.data, emb.data) and torch.equal(cached.offsets, emb.offsets)


def test_oom_halves_batch_and_retries() -> None:
    corpus = _corpus(9)
    enc = CountingEncoder(oom_above=2)
    emb, stats = encode_pages(enc, corpus, batch_size=8)
    assert torch.equal(emb.data, _expected_pages(corpus))
    assert stats.oom_retries == 2  # 8 -> 4 -> 2
    assert stats.final_batch_size == 2
    assert max(n for _, n in enc.calls) == 2


def test_oom_on_single_item_is_a_clear_error() -> None:
    with pytest.raises(JinaVDRError, match="out of GPU memory encoding a single query"):
        encode_queries(CountingEncoder(oom_above=0), ["q"], batch_size=4)


def test_text_encoder_never_decodes_images() -> None:
    log: list[int] = []
    corpus = _corpus(decode_log=log, broken={0, 1, 2})
    emb, stats = encode_pages(CountingEncoder(page_input="text"), corpus, batch_size=4, num_workers=2)
    assert log == []
    assert stats.empty_texts == 1  # doc3 has no OCR text: encoded as ""
    assert torch.equal(emb.item(3), _vec(""))
    assert torch.equal(emb.item(5), _vec("text number 5"))


def test_text_encoder_needs_ocr_text() -> None:
    with pytest.raises(DataError, match="dataset 'toy' has no OCR text"):
        encode_pages(CountingEncoder(page_input="text"), _corpus(texts=False))


def test_undecodable_page_names_doc_and_dataset() -> None:
    with pytest.raises(PageDecodeError, match="page 'doc4' of dataset 'toy'.*truncated PNG"):
        encode_pages(CountingEncoder(), _corpus(broken={4}), batch_size=2)


def test_decoding_in_worker_processes() -> None:
    corpus = _corpus(6, sizes=False)
    emb, _ = encode_pages(CountingEncoder(), corpus, batch_size=2, num_workers=2)
    assert torch.equal(emb.data, _expected_pages(corpus))
    with pytest.raises(PageDecodeError, match="page 'doc5' of dataset 'toy'"):
        encode_pages(CountingEncoder(), _corpus(6, broken={5}), batch_size=2, num_workers=2)


def test_image_keys_without_loader_hashes(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    corpus = _corpus(4, hashes=False)
    encode_pages(CountingEncoder(), corpus, cache=cache)
    again = CountingEncoder()
    _, stats = encode_pages(again, _corpus(4, hashes=False), cache=cache)
    assert again.calls == [] and stats.cached == 4


def test_wrong_number_of_embeddings_is_an_error() -> None:
    class Short(CountingEncoder):
        def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
            return self._emb(list(texts)[:-1])

    with pytest.raises(JinaVDRError, match="encoder returned 1 embeddings for a batch of 2 query inputs"):
        encode_queries(Short(), ["a", "b"], batch_size=2)


def test_cache_described_with_settings_and_slug(tmp_path: Path) -> None:
    from jinavdr.models import registry

    cache = EmbeddingCache(tmp_path)
    spec = registry.resolve("bm25", k1=1.2)
    encode_queries(CountingEncoder(), ["a"], cache=cache, model=spec)
    (info,) = cache.info()
    # the key covers the spec and the settings the encoder declares (adapter_key)
    assert info.key == adapter_key(spec.cache_key("cpu"), CountingEncoder().settings()) != spec.key()
    assert info.slug == spec.slug()
    assert info.settings == {**spec.settings(), **CountingEncoder().settings()}
    assert info.entries == {"query": 1, "page": 0}
    # a plain key string: the encoder's settings are recorded, without a slug
    encode_queries(CountingEncoder(), ["a"], cache=cache, model="e" * 64)
    described = {i.key: i for i in cache.info()}["e" * 64]
    assert described.slug is None and described.settings == CountingEncoder().settings()


def test_minilm_embeddings_independent_of_batch_size() -> None:
    from jinavdr.models import registry

    enc = registry.load(registry.resolve("minilm"), device="cpu")
    texts = ["short", "a much longer query about the annual revenue of the company in 2023",
             "medium length text here", "x", "tables and figures of a scanned invoice page"]
    ref, _ = encode_queries(enc, texts, batch_size=1)
    for bs in (2, 5, 16):
        emb, _ = encode_queries(enc, texts, batch_size=bs)
        assert torch.allclose(emb.data, ref.data, atol=1e-5, rtol=0), bs
        assert torch.equal((emb.data @ ref.data.T).argmax(1), torch.arange(len(texts)))
