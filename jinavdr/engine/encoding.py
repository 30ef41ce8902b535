"""The cached, batched encoding loop: only items missing from the cache reach the model.

- Items are keyed by content (:func:`jinavdr.engine.cache.query_key`, :func:`jinavdr.engine.cache.page_key`);
  identical items in one call are encoded once.
- The work of a call is an :class:`EncodePlan` (:func:`plan_queries`, :func:`plan_pages`): the items
  missing from the cache in encoding order; any backend encodes them and :meth:`EncodePlan.assemble`
  puts the embeddings back in item order (the distributed backend uses the same plan).
- Pages are sorted by vision-token count when the encoder can tell it (``page_tokens``), else by
  pixel count (``Corpus.sizes``) or text length, largest first, batched, and returned in the corpus
  order. Images are decoded only when the encoder reads images (``page_input``); text-only models
  never decode an image.
- An encoder with a split page path (``page_preparer`` / ``embed_prepared``, :func:`prepares_pages`)
  gets batches bounded by a token budget (padding counted), prepared (decoded, resized, patchified,
  tokenised) in spawned worker processes into pinned memory, a few batches ahead of the model.
  Other encoders get decoded pages (decoded in the worker processes when there are any). The
  workers are a :class:`~jinavdr.engine.workers.PreparationPool`: a run passes one pool to every
  call, so its processes start once per run, not once per subset.
- A CUDA out-of-memory error halves the batch size and retries the same items (the smaller size
  is kept for the rest of the call); :class:`EncodeStats` records how often.
- Every model call runs under ``torch.inference_mode()``; embeddings are returned on the CPU.
- Scores do not depend on the batch size: batches only group items, and items are re-ordered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinavdr.catalogue.dataset import Corpus, Queries
from jinavdr.engine.cache import EmbeddingCache, adapter_key, image_digest, page_key, query_key, take
from jinavdr.engine.workers import (
    DecodeFailure,
    PreparationPool,
    PreparedBatch,
    Preparer,
    decoded_pages,
    prepare_batch,
    prepare_locally,
)
from jinavdr.errors import DataError, JinaVDRError

if TYPE_CHECKING:
    from jinavdr.models.base import Encoder
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
    #: split page path only: vision tokens of the encoded pages, the same with batch padding, and
    #: the token budget per batch that was used (None: no budget)
    tokens: int = 0
    padded_tokens: int = 0
    token_budget: int | None = None
    #: seconds per stage: decode and preprocess (summed over worker processes), first_batch (waiting
    #: for the first prepared batch: worker start-up included), wait_for_data (waiting for later
    #: batches), the encoder's own stages, cache_write
    stages: dict[str, float] = field(default_factory=dict)

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
    """The cache key: ``model`` itself (a key string), :func:`~jinavdr.engine.cache.adapter_key` of
    ``ModelSpec.cache_key(encoder.device)`` and ``encoder.settings()``, or, without ``model``, a
    digest of ``encoder.settings()``. The settings (and slug) are recorded for ``jinavdr cache info``."""
    if cache is None:
        return None
    settings = dict(encoder.settings())
    if model is None:
        key, slug = model_key_of(encoder), None
    elif isinstance(model, str):
        key, slug = model, None
    else:
        base = model.cache_key(str(getattr(encoder, "device", "cpu")))
        key, slug = adapter_key(base, settings), model.slug()
        cache.describe(key, {**model.settings(), **settings}, slug, base=base)
        return key
    cache.describe(key, settings, slug)
    return key


def query_keys(texts: Sequence[str]) -> list[str]:
    return [query_key(t) for t in texts]


def _reads_text(page_input: str) -> bool:
    return "text" in page_input


def reads_images(page_input: str) -> bool:
    """Whether an encoder with this ``page_input`` needs the page images decoded."""
    return "image" in page_input


def page_texts(corpus: Corpus, page_input: str) -> list[str] | None:
    """The OCR text per page (``""`` when a page has none) if the encoder reads text, else None.

    Raises :class:`DataError` when the encoder reads text and the dataset has no OCR text column.
    """
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
    texts = page_texts(corpus, page_input)
    out = []
    for i in range(len(corpus)):
        image_hash = None
        if reads_images(page_input):
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
            _check_finite(emb, start, self.what)
            out.append(emb.to("cpu"))
            start += size
        self.stats.final_batch_size = self.batch_size
        return out


def _check_finite(emb: Embeddings, start: int, what: str, positions: Sequence[int] | None = None) -> None:
    """Refuse NaN or inf in a batch before it is cached or scored (a cached NaN would poison reruns)."""
    import torch

    data = emb.data
    if not data.is_floating_point() or bool(torch.isfinite(data).all()):
        return
    rows = (~torch.isfinite(data)).any(dim=1).nonzero().flatten()
    token = int(rows[0])
    item = token if emb.offsets is None else int(torch.searchsorted(emb.offsets, token, right=True)) - 1
    item = item if positions is None else positions[item] - start
    raise JinaVDRError(
        f"encoder returned NaN or inf values for {what} input {start + item} (of this call); nothing of the "
        "batch was cached. Check the model (dtype, weights) and its inputs."
    )


# ---- plans: what a call encodes, and assembly in order ------------------------------------------------


@dataclass
class EncodePlan:
    """The work of one encoding call over ``n`` items.

    ``order`` lists the positions to encode, in encoding order (cached items and repeated content
    are left out); ``parts`` holds (positions, embeddings) pairs already known (cache hits, then
    whatever :meth:`add` receives); ``alias`` maps a repeated item to the first one with its content.
    Any backend (the local loop, the distributed ranks) encodes ``order`` in any grouping, hands each
    result to :meth:`add`, and calls :meth:`assemble` for the embeddings in item order.
    """

    n: int
    keys: list[str] | None
    order: list[int]
    parts: list[tuple[list[int], Embeddings]] = field(default_factory=list)
    alias: dict[int, int] = field(default_factory=dict)
    stats: EncodeStats = field(default_factory=EncodeStats)

    def add(self, positions: Sequence[int], embeddings: Embeddings) -> None:
        """Record the embeddings of ``positions`` (one row or item per position, in that order)."""
        if len(positions) != len(embeddings):
            raise JinaVDRError(f"{len(embeddings)} embeddings for {len(positions)} positions")
        self.parts.append((list(positions), embeddings))

    def assemble(self) -> Embeddings:
        """Every item's embeddings in item order (repeated content shares its first item's rows)."""
        return _assemble(self.n, self.parts, self.alias)


def _assemble(n: int, parts: list[tuple[list[int], Embeddings]], alias: dict[int, int]) -> Embeddings:
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


def _plan(keys: list[str] | None, n: int, cache: EmbeddingCache | None, model_key: str | None,
          role: str) -> EncodePlan:
    """Positions to encode (unordered), cached parts and duplicates; without keys, every position."""
    plan = EncodePlan(n=n, keys=keys, order=[])
    if keys is None:
        plan.order = list(range(n))
        return plan
    found: set[int] = set()
    if cache is not None and model_key is not None:
        positions, emb = cache.get(model_key, role, keys)
        if emb is not None:
            plan.parts.append((positions, emb))
            found = set(positions)
            plan.stats.cached = len(positions)
    first: dict[str, int] = {}
    for i in range(n):
        if i in found:
            continue
        if keys[i] in first:
            plan.alias[i] = first[keys[i]]
            plan.stats.duplicates += 1
        else:
            first[keys[i]] = i
            plan.order.append(i)
    return plan


def query_order(texts: Sequence[str], todo: Sequence[int]) -> list[int]:
    """Queries to encode, longest first (ties: position)."""
    return sorted(todo, key=lambda i: (-len(texts[i]), i))


def plan_queries(texts: Sequence[str], *, cache: EmbeddingCache | None = None,
                 model_key: str | None = None) -> EncodePlan:
    """What :func:`encode_queries` would encode: queries missing from the cache, once per text,
    longest first."""
    plan = _plan(query_keys(texts), len(texts), cache, model_key, "query")
    plan.order = query_order(texts, plan.order)
    return plan


#: the most padding a batch of pages may carry, as a share of its real tokens (the language model
#: runs padded sequences; the vision tower packs them).
PAGE_PADDING = 0.1
#: vision tokens of a page from its (width, height); an encoder that knows offers ``page_tokens``.
TokenCount = Callable[[int, int], int]


def page_tokens_of(encoder: Any) -> TokenCount | None:
    """The encoder's ``page_tokens(width, height)`` when it has one (vision-token count per page)."""
    fn = getattr(encoder, "page_tokens", None)
    return fn if callable(fn) else None


def page_order(corpus: Corpus, todo: Sequence[int], page_input: str, tokens: TokenCount | None = None) -> list[int]:
    """Pages to encode, largest first: by vision tokens when ``tokens`` is given, then pixel count
    (``Corpus.sizes``), then position; pages of a text model by text length. Neighbours in this order
    batch with little padding."""
    texts = page_texts(corpus, page_input)
    if reads_images(page_input) and corpus.sizes is not None:
        sizes = corpus.sizes
        if tokens is None:
            return sorted(todo, key=lambda i: (-(sizes[i][0] * sizes[i][1]), i))
        return sorted(todo, key=lambda i: (-tokens(*sizes[i]), -(sizes[i][0] * sizes[i][1]), i))
    if texts is not None:
        return sorted(todo, key=lambda i: (-len(texts[i]), i))
    return list(todo)


def plan_pages(corpus: Corpus, page_input: str, *, cache: EmbeddingCache | None = None,
               model_key: str | None = None, tokens: TokenCount | None = None) -> EncodePlan:
    """What :func:`encode_pages` would encode: pages missing from the cache (keyed by what the
    encoder reads), once per content, in :func:`page_order`.

    Raises :class:`DataError` for a text model on a dataset without OCR text.
    """
    texts = page_texts(corpus, page_input)
    keys = page_keys(corpus, page_input) if cache is not None else None
    plan = _plan(keys, len(corpus), cache, model_key, "page")
    if texts is not None:
        plan.stats.empty_texts = sum(1 for t in texts if not t)
    plan.order = page_order(corpus, plan.order, page_input, tokens)
    return plan


def page_batches(order: Sequence[int], costs: Sequence[int], batch_size: int,
                 token_budget: int | None = None, max_padding: float = PAGE_PADDING) -> list[list[int]]:
    """Consecutive groups of ``order`` (largest first): at most ``batch_size`` pages, at most
    ``token_budget`` tokens counting padding (pages x the largest page of the group), and padding at
    most ``max_padding`` of the group's real tokens; a page that breaks a bound starts the next group
    (a page larger than the budget goes alone). ``costs[j]`` is the token count of ``order[j]``."""
    if batch_size < 1:
        raise JinaVDRError(f"batch size must be at least 1, got {batch_size}")
    if token_budget is not None and token_budget < 1:
        raise JinaVDRError(f"token budget must be at least 1, got {token_budget}")
    out: list[list[int]] = []
    group: list[int] = []
    widest = real = 0
    for pos, cost in zip(order, costs, strict=True):
        if group:
            _wider, padded = max(widest, cost), (len(group) + 1) * max(widest, cost)
            if (len(group) >= batch_size or (token_budget is not None and padded > token_budget)
                    or padded > (1 + max_padding) * (real + cost)):
                out.append(group)
                group, widest, real = [], 0, 0
        group.append(pos)
        widest, real = max(widest, cost), real + cost
    if group:
        out.append(group)
    return out


# ---- queries -------------------------------------------------------------------------------------------


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
    model_key = _cache_key(encoder, cache, model)
    plan = plan_queries(texts, cache=cache, model_key=model_key)
    stats, todo, keys = plan.stats, plan.order, plan.keys
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
                plan.add(pos, emb)
                if writer is not None and keys is not None:
                    writer.add([keys[i] for i in pos], emb)
                advance(len(emb))
    stats.seconds = time.perf_counter() - t0
    stats.encoded = len(todo)
    return plan.assemble(), stats


# ---- pages ---------------------------------------------------------------------------------------------


def prepares_pages(encoder: Any) -> bool:
    """Whether the encoder splits page encoding into host preparation (``page_preparer()``, a
    picklable callable run in worker processes; None when the encoder cannot) and the model step
    (``embed_prepared(inputs, timings)``), with ``page_tokens(width, height)`` for batching."""
    names = ("page_preparer", "embed_prepared", "page_tokens")
    return all(callable(getattr(encoder, n, None)) for n in names) and encoder.page_preparer() is not None


def encode_pages(
    encoder: Encoder,
    corpus: Corpus,
    *,
    cache: EmbeddingCache | None = None,
    model: ModelSpec | str | None = None,
    batch_size: int = 8,
    num_workers: int = 0,
    pool: PreparationPool | None = None,
    token_budget: int | None = None,
    progress: bool = False,
) -> tuple[Embeddings, EncodeStats]:
    """Embed the pages of ``corpus`` in corpus order; cached pages are not re-encoded or decoded.

    An encoder with a split page path (:func:`prepares_pages`) gets batches of at most ``batch_size``
    pages and ``token_budget`` padded vision tokens (default: the encoder's ``token_budget()``, sized
    from free GPU memory), prepared in worker processes into pinned memory, a few batches ahead.
    Other encoders get ``batch_size`` decoded pages per call (decoded in the workers).
    The workers: ``pool`` (a :class:`~jinavdr.engine.workers.PreparationPool` kept for a whole run,
    so its processes start once), else ``num_workers`` processes started for this call alone
    (0: everything in this process).

    Raises :class:`~jinavdr.catalogue.dataset.PageDecodeError` (doc id and dataset) for an undecodable page.
    """
    if num_workers < 0:
        raise JinaVDRError(f"num_workers must be >= 0, got {num_workers}")
    model_key = _cache_key(encoder, cache, model)
    plan = plan_pages(corpus, encoder.page_input, cache=cache, model_key=model_key, tokens=page_tokens_of(encoder))
    t0 = time.perf_counter()
    with _call_pool(pool, num_workers) as workers, _maybe_writer(cache, model_key, "page") as writer, \
            _progress(progress, len(plan.order), "pages", "pages") as advance:
        def done(pos: list[int], emb: Embeddings) -> None:
            plan.add(pos, emb)
            if writer is not None and plan.keys is not None:
                t = time.perf_counter()
                writer.add([plan.keys[i] for i in pos], emb)
                _tick(plan.stats, "cache_write", time.perf_counter() - t)
            advance(len(emb))

        if prepares_pages(encoder):
            _encode_prepared(encoder, corpus, plan, done, batch_size=batch_size, workers=workers,
                             token_budget=token_budget)
        else:
            _encode_plain(encoder, corpus, plan, done, batch_size=batch_size, workers=workers)
    plan.stats.seconds = time.perf_counter() - t0
    plan.stats.encoded = len(plan.order)
    return plan.assemble(), plan.stats


def _tick(stats: EncodeStats, stage: str, seconds: float) -> None:
    stats.stages[stage] = stats.stages.get(stage, 0.0) + seconds


@contextmanager
def _call_pool(pool: PreparationPool | None, num_workers: int) -> Iterator[PreparationPool | None]:
    """The caller's pool; else a pool of ``num_workers`` for this call alone (closed after it); else
    None (everything in this process)."""
    if pool is not None or num_workers == 0:
        yield pool
        return
    with PreparationPool(num_workers) as own:
        yield own


def _prepared(pool: PreparationPool | None, corpus: Corpus, batches: Sequence[Sequence[int]], preparer: Preparer,
              texts: list[str] | None, images: bool, *, pin: bool = False) -> Iterator[PreparedBatch | DecodeFailure]:
    """The prepared ``batches`` in order: by ``pool``'s workers, or in this process without one."""
    if pool is None:
        return prepare_locally(corpus, batches, preparer, texts, images)
    return pool.prepare(corpus, batches, preparer, texts, images, pin=pin)


def _timed(items: Iterator[PreparedBatch | DecodeFailure], stats: EncodeStats) -> Iterator[PreparedBatch]:
    """``items`` with the waits (``first_batch``: worker start-up included; ``wait_for_data``) and the
    workers' stage seconds added to ``stats``; a decode failure is raised with its doc id."""
    waited = time.perf_counter()
    for b, item in enumerate(items):
        _tick(stats, "wait_for_data" if b else "first_batch", time.perf_counter() - waited)
        if isinstance(item, DecodeFailure):
            item.raise_()
        for stage, seconds in item.seconds.items():
            _tick(stats, stage, seconds)
        yield item
        waited = time.perf_counter()


def _encode_plain(encoder: Encoder, corpus: Corpus, plan: EncodePlan, done: Callable[[list[int], Embeddings], None],
                  *, batch_size: int, workers: PreparationPool | None) -> None:
    texts, images = page_texts(corpus, encoder.page_input), reads_images(encoder.page_input)
    order = plan.order
    groups = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
    batcher = _Batcher(lambda items, batch_size: encoder.encode_pages(items, batch_size=batch_size),
                       batch_size, plan.stats, "page")
    with closing(_prepared(workers if images else None, corpus, groups, decoded_pages, texts, images)) as prepared:
        for item in _timed(prepared, plan.stats):
            start = 0
            for emb in batcher(item.inputs):
                done(item.positions[start : start + len(emb)], emb)
                start += len(emb)


def _encode_prepared(encoder: Any, corpus: Corpus, plan: EncodePlan, done: Callable[[list[int], Embeddings], None],
                     *, batch_size: int, workers: PreparationPool | None, token_budget: int | None) -> None:
    import torch

    stats = plan.stats
    texts, images = page_texts(corpus, encoder.page_input), reads_images(encoder.page_input)
    sizes = corpus.sizes
    costs = [encoder.page_tokens(*sizes[i]) if sizes is not None else 1 for i in plan.order]
    stats.tokens = sum(costs)
    if token_budget is None and sizes is not None:
        budget = getattr(encoder, "token_budget", None)
        token_budget = budget() if callable(budget) else None
    stats.token_budget = token_budget
    batches = page_batches(plan.order, costs, batch_size, token_budget)
    cost_of = dict(zip(plan.order, costs, strict=True))
    stats.padded_tokens = sum(len(b) * max(cost_of[i] for i in b) for b in batches)
    preparer = encoder.page_preparer()
    pin = getattr(getattr(encoder, "device", None), "type", "cpu") == "cuda" and torch.cuda.is_available()
    with closing(_prepared(workers, corpus, batches, preparer, texts, images, pin=pin)) as prepared:
        for item in _timed(prepared, stats):
            for positions, emb in _embed_with_backoff(encoder, corpus, item, preparer, texts, images, stats):
                done(positions, emb)
            stats.final_batch_size = max(stats.final_batch_size, len(item.positions))


def _embed_with_backoff(encoder: Any, corpus: Corpus, item: PreparedBatch, preparer: Preparer,
                        texts: list[str] | None, images: bool, stats: EncodeStats) -> list[tuple[list[int], Embeddings]]:
    """Embed one prepared batch; on CUDA out-of-memory, prepare and embed each half in turn."""
    import torch

    from jinavdr.models.embeddings import Embeddings

    try:
        with torch.inference_mode():
            emb = encoder.embed_prepared(item.inputs, stats.stages)
    except Exception as exc:
        if not _is_oom(exc):
            raise
        if len(item.positions) == 1:
            raise JinaVDRError(
                "out of GPU memory encoding a single page: lower the image budget (for example "
                "max_pixels) or use a GPU with more memory"
            ) from exc
        stats.oom_retries += 1
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(item.positions) // 2
        out = []
        for part in (item.positions[:half], item.positions[half:]):
            sub = prepare_batch(corpus, part, preparer, texts, images)
            if isinstance(sub, DecodeFailure):
                sub.raise_()
            out.extend(_embed_with_backoff(encoder, corpus, sub, preparer, texts, images, stats))  # type: ignore[arg-type]
        return out
    if not isinstance(emb, Embeddings) or len(emb) != len(item.positions):
        got = len(emb) if isinstance(emb, Embeddings) else type(emb).__name__
        raise JinaVDRError(f"encoder returned {got} embeddings for a batch of {len(item.positions)} page inputs")
    _check_finite(emb, 0, "page", item.positions)
    return [(item.positions, emb.to("cpu"))]


@contextmanager
def _maybe_writer(cache: EmbeddingCache | None, model_key: str | None, role: str) -> Iterator[Any]:
    if cache is None or model_key is None:
        yield None
        return
    with cache.writer(model_key, role) as writer:
        yield writer
