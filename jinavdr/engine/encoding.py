"""The cached, batched encoding loop: only items missing from the cache reach the model.

- Items are keyed by content (:func:`jinavdr.engine.cache.query_key`, :func:`jinavdr.engine.cache.page_key`);
  identical items in one call are encoded once.
- Pages are sorted by pixel count (``Corpus.sizes``) or text length, largest first, batched, and
  returned in the corpus order. Images are decoded in torch ``DataLoader`` workers, and only when
  the encoder reads images (``page_input``); text-only models never decode an image.
- A CUDA out-of-memory error halves the batch size and retries the same items (the smaller size
  is kept for the rest of the call); :class:`EncodeStats` records how often.
- Every model call runs under ``torch.inference_mode()``; embeddings are returned on the CPU.
- Scores do not depend on the batch size: batches only group items, and items are re-ordered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinavdr.catalogue.dataset import Corpus, PageDecodeError, Queries
from jinavdr.engine.cache import EmbeddingCache, image_digest, page_key, query_key, take
from jinavdr.errors import DataError, JinaVDRError

if TYPE_CHECKING:
    from jinavdr.models.base import Encoder, Page
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.registry import ModelSpec


@dataclass
class EncodeStats:
    """What one encoding call did."""

    encoded: int = 0  # items sent to the model
    cached: int = 0  # items read from the cache
    duplicates: int = 0  # items whose content equals an earlier item of the same call
    oom_retries: int = 0  # times a batch was halved after CUDA ran out of memory
    final_batch_size: int = 0
    empty_texts: int = 0  # pages without OCR text, encoded as ""
    seconds: float = 0.0  # wall time spent in the model (decoding included)

    @property
    def items_per_second(self) -> float | None:
        return self.encoded / self.seconds if self.encoded and self.seconds > 0 else None


def model_key_of(encoder: Encoder) -> str:
    """Cache key from ``encoder.settings()`` (used when the caller passes no ``ModelSpec``)."""
    import hashlib
    import json

    blob = json.dumps(encoder.settings(), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _cache_key(encoder: Encoder, cache: EmbeddingCache | None, model: ModelSpec | str | None) -> str | None:
    """The cache key: ``model`` itself (a key string), ``ModelSpec.key()``, or, without ``model``, a
    digest of ``encoder.settings()``. The settings (and slug) are recorded for ``jinavdr cache info``."""
    if cache is None:
        return None
    settings = dict(encoder.settings())
    if model is None:
        key, slug = model_key_of(encoder), None
    elif isinstance(model, str):
        key, slug = model, None
    else:
        key, slug = model.key(), model.slug()
        settings = {**model.settings(), **settings}
    cache.describe(key, settings, slug)
    return key


def query_keys(texts: Sequence[str]) -> list[str]:
    return [query_key(t) for t in texts]


def _reads_text(page_input: str) -> bool:
    return "text" in page_input


def _reads_image(page_input: str) -> bool:
    return "image" in page_input


def _page_texts(corpus: Corpus, page_input: str) -> list[str] | None:
    if not _reads_text(page_input):
        return None
    if corpus.texts is None:
        raise DataError(
            f"the model reads the OCR text of pages, but dataset {corpus.dataset!r} has no OCR text "
            "(column text_description). Choose an image model or a dataset with OCR text."
        )
    return [t or "" for t in corpus.texts]


def page_keys(corpus: Corpus, page_input: str) -> list[str]:
    """Content key per page from what the encoder reads (``Corpus.hashes`` or the decoded image)."""
    texts = _page_texts(corpus, page_input)
    out = []
    for i in range(len(corpus)):
        image_hash = None
        if _reads_image(page_input):
            image_hash = corpus.hashes[i] if corpus.hashes is not None else image_digest(corpus.image(i))
        out.append(page_key(image_hash, None if texts is None else texts[i]))
    return out


# ---- progress ----------------------------------------------------------------------------------------


@contextmanager
def _progress(enabled: bool, total: int, label: str, unit: str) -> Iterator[Callable[[int], None]]:
    if not enabled or total == 0:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.1f} {unit}/s" if task.speed else f"- {unit}/s")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


# ---- batching with out-of-memory back-off ----------------------------------------------------------


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class _Batcher:
    """Calls ``fn(items, batch_size=n)`` in chunks of at most ``batch_size``, halving on OOM."""

    def __init__(self, fn: Callable[..., Embeddings], batch_size: int, stats: EncodeStats, what: str):
        if batch_size < 1:
            raise JinaVDRError(f"batch size must be at least 1, got {batch_size}")
        self.fn, self.batch_size, self.stats, self.what = fn, batch_size, stats, what

    def __call__(self, items: Sequence[Any]) -> list[Embeddings]:
        import torch

        from jinavdr.models.embeddings import Embeddings

        out: list[Embeddings] = []
        start = 0
        while start < len(items):
            size = min(self.batch_size, len(items) - start)
            chunk = items[start : start + size]
            try:
                with torch.inference_mode():
                    emb = self.fn(chunk, batch_size=size)
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                if size == 1:
                    raise JinaVDRError(
                        f"out of GPU memory encoding a single {self.what}: lower the image budget "
                        "(for example max_pixels) or use a GPU with more memory"
                    ) from exc
                self.batch_size = max(1, size // 2)
                self.stats.oom_retries += 1
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            if not isinstance(emb, Embeddings) or len(emb) != size:
                got = len(emb) if isinstance(emb, Embeddings) else type(emb).__name__
                raise JinaVDRError(f"encoder returned {got} embeddings for a batch of {size} {self.what} inputs")
            out.append(emb.to("cpu"))
            start += size
        self.stats.final_batch_size = self.batch_size
        return out


# ---- assembly ------------------------------------------------------------------------------------------


def _assemble(n: int, parts: list[tuple[list[int], Embeddings]], alias: dict[int, int]) -> Embeddings:
    """Items in original order from parts (positions, embeddings); ``alias`` maps dup -> original."""
    import torch

    from jinavdr.models.embeddings import Embeddings

    parts = [(pos, emb) for pos, emb in parts if pos]
    if not parts:
        return Embeddings(torch.empty(0, 0))
    allemb = Embeddings.concat([emb for _, emb in parts])
    row_of: dict[int, int] = {}
    base = 0
    for positions, _ in parts:
        for j, p in enumerate(positions):
            row_of[p] = base + j
        base += len(positions)
    rows = [row_of[alias.get(i, i)] for i in range(n)]
    if rows == list(range(len(allemb))):
        return allemb
    return take(allemb, rows)


def _split_cached(keys: list[str], cache: EmbeddingCache | None, model_key: str | None, role: str,
                  stats: EncodeStats) -> tuple[list[int], list[tuple[list[int], Embeddings]], dict[int, int]]:
    """(positions to encode, cached parts, duplicate -> first position)."""
    n = len(keys)
    parts: list[tuple[list[int], Embeddings]] = []
    found: set[int] = set()
    if cache is not None and model_key is not None:
        positions, emb = cache.get(model_key, role, keys)
        if emb is not None:
            parts.append((positions, emb))
            found = set(positions)
            stats.cached = len(positions)
    first: dict[str, int] = {}
    alias: dict[int, int] = {}
    todo: list[int] = []
    for i in range(n):
        if i in found:
            continue
        if keys[i] in first:
            alias[i] = first[keys[i]]
            stats.duplicates += 1
        else:
            first[keys[i]] = i
            todo.append(i)
    return todo, parts, alias


# ---- public API ----------------------------------------------------------------------------------------


def encode_queries(
    encoder: Encoder,
    queries: Queries | Sequence[str],
    *,
    cache: EmbeddingCache | None = None,
    model: ModelSpec | str | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> tuple[Embeddings, EncodeStats]:
    """Embed query texts in order; cached queries are not re-encoded.

    Cache entries are keyed by ``model``: a :class:`ModelSpec` (its ``key()``) or a key string;
    without it, by a digest of ``encoder.settings()``. ``cache=None`` disables the cache
    (``--no-cache``).
    """
    texts = list(queries.texts if isinstance(queries, Queries) else queries)
    stats = EncodeStats()
    model_key = _cache_key(encoder, cache, model)
    keys = query_keys(texts)
    todo, parts, alias = _split_cached(keys, cache, model_key, "query", stats)
    todo.sort(key=lambda i: (-len(texts[i]), i))
    batcher = _Batcher(lambda items, batch_size: encoder.encode_queries(items, batch_size=batch_size),
                       batch_size, stats, "query")
    t0 = time.perf_counter()
    with _maybe_writer(cache, model_key, "query") as writer, _progress(progress, len(todo), "queries",
                                                                         "queries") as advance:
        for lo in range(0, len(todo), batch_size):
            positions = todo[lo : lo + batch_size]
            start = 0
            for emb in batcher([texts[i] for i in positions]):
                pos = positions[start : start + len(emb)]
                start += len(emb)
                parts.append((pos, emb))
                if writer is not None:
                    writer.add([keys[i] for i in pos], emb)
                advance(len(emb))
    stats.seconds = time.perf_counter() - t0
    stats.encoded = len(todo)
    return _assemble(len(texts), parts, alias), stats


@dataclass(frozen=True)
class _DecodeFailure:
    doc_id: str
    dataset: str
    message: str


class _PageDataset:
    """Builds the :class:`Page` objects of ``order`` (decoding images only when needed)."""

    def __init__(self, corpus: Corpus, order: list[int], texts: list[str] | None, images: bool) -> None:
        self.corpus, self.order, self.texts, self.images = corpus, order, texts, images

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, j: int) -> Page | _DecodeFailure:
        from jinavdr.models.base import Page

        i = self.order[j]
        image = None
        if self.images:
            try:
                image = self.corpus.image(i)
            except PageDecodeError as exc:  # re-raised in the main process with its doc id
                return _DecodeFailure(exc.doc_id, exc.dataset, str(exc.__cause__ or exc))
        return Page(self.corpus.ids[i], image, None if self.texts is None else self.texts[i])


def _collate(items: list[Any]) -> list[Any]:
    return items


def _page_order(corpus: Corpus, todo: list[int], texts: list[str] | None, images: bool) -> list[int]:
    if images and corpus.sizes is not None:
        sizes = corpus.sizes
        return sorted(todo, key=lambda i: (-(sizes[i][0] * sizes[i][1]), i))
    if texts is not None:
        return sorted(todo, key=lambda i: (-len(texts[i]), i))
    return list(todo)


def encode_pages(
    encoder: Encoder,
    corpus: Corpus,
    *,
    cache: EmbeddingCache | None = None,
    model: ModelSpec | str | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    progress: bool = False,
) -> tuple[Embeddings, EncodeStats]:
    """Embed the pages of ``corpus`` in corpus order; cached pages are not re-encoded or decoded.

    Raises :class:`~jinavdr.catalogue.dataset.PageDecodeError` (doc id and dataset) for an undecodable page.
    """
    from torch.utils.data import DataLoader

    stats = EncodeStats()
    page_input = encoder.page_input
    texts = _page_texts(corpus, page_input)
    if texts is not None:
        stats.empty_texts = sum(1 for t in texts if not t)
    images = _reads_image(page_input)
    model_key = _cache_key(encoder, cache, model)
    if cache is not None:
        keys = page_keys(corpus, page_input)
        todo, parts, alias = _split_cached(keys, cache, model_key, "page", stats)
    else:
        keys, todo, parts, alias = None, list(range(len(corpus))), [], {}
    order = _page_order(corpus, todo, texts, images)
    loader = DataLoader(_PageDataset(corpus, order, texts, images), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers if images else 0, collate_fn=_collate)
    batcher = _Batcher(lambda items, batch_size: encoder.encode_pages(items, batch_size=batch_size),
                       batch_size, stats, "page")
    t0 = time.perf_counter()
    done = 0
    with _maybe_writer(cache, model_key, "page") as writer, _progress(progress, len(order), "pages",
                                                                        "pages") as advance:
        for batch in loader:
            for item in batch:
                if isinstance(item, _DecodeFailure):
                    raise PageDecodeError(item.doc_id, item.dataset, RuntimeError(item.message))
            positions = order[done : done + len(batch)]
            done += len(batch)
            start = 0
            for emb in batcher(batch):
                pos = positions[start : start + len(emb)]
                start += len(emb)
                parts.append((pos, emb))
                if writer is not None and keys is not None:
                    writer.add([keys[i] for i in pos], emb)
                advance(len(emb))
    stats.seconds = time.perf_counter() - t0
    stats.encoded = len(order)
    return _assemble(len(corpus), parts, alias), stats


@contextmanager
def _maybe_writer(cache: EmbeddingCache | None, model_key: str | None, role: str) -> Iterator[Any]:
    if cache is None or model_key is None:
        yield None
        return
    with cache.writer(model_key, role) as writer:
        yield writer
