"""Work units and the encode -> score -> evaluate loop.

A work unit is one (model spec, dataset, subset). The runner:

1. plans: reads each dataset's result file, skips finished subsets (unless ``overwrite``) and
   refuses files made with other settings, all before the model is loaded;
2. loads the model only when there is work, checks every file again with the adapter's full
   settings, then runs each unit: load the subset, encode (through the embedding cache) or search,
   rank, evaluate, and merge the subset into its result file right away (atomic, locked);
3. isolates failures: an exception in one unit is recorded with its cause and the next unit runs.

Everything outside the loop (loading data, encoding, ranking, evaluating) is reached through a
:class:`Backend`, so tests can inject fakes.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jinavdr.catalogue.dataset import Subset
from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL, MAIN_METRIC
from jinavdr.errors import DataError, JinaVDRError, ResultsError
from jinavdr.models.ranking import Run
from jinavdr.results.manifest import Environment, PeakMemory, build_manifest, now_iso
from jinavdr.results.schema import (
    CacheStats,
    Manifest,
    PerQuery,
    ResultFile,
    SubsetResult,
    Timings,
)
from jinavdr.results.store import ResultStore, check_compatible

if TYPE_CHECKING:
    from jinavdr.catalogue.tasks import SubsetSpec, TaskSpec
    from jinavdr.engine.workers import PreparationPool
    from jinavdr.models.base import Encoder, Searcher
    from jinavdr.models.registry import ModelSpec

    #: What a backend loads: an encoder (embeddings scored here) or a searcher (ranks by itself).
    Adapter = Encoder | Searcher

if TYPE_CHECKING:
    import pandas as pd

# --------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkUnit:
    """One (dataset, subset) of a task, for one model."""

    dataset: str
    subset: str
    task: TaskSpec
    subset_spec: SubsetSpec
    repo: str = ""
    revision: str | None = None
    expected_queries: int | None = None
    expected_pages: int | None = None

    @property
    def key(self) -> str:
        return f"{self.dataset}:{self.subset}"


@dataclass
class Failure:
    """A unit that raised: what, where, and the cause."""

    dataset: str
    subset: str
    error: str  # exception type name
    message: str
    traceback: str = ""

    def __str__(self) -> str:
        return f"{self.dataset}:{self.subset}: {self.error}: {self.message}"


#: pages per model call when not given: image models hold large inputs, text models small ones.
DEFAULT_PAGE_BATCH = {"image": 8, "text": 32}
DEFAULT_QUERY_BATCH = 32


@dataclass(frozen=True)
class RunOptions:
    """Evaluation options of one run (adapter options live in the model spec); built by
    :meth:`jinavdr.execution.request.RunRequest.run_options` and never changed afterwards."""

    protocol: str = DEFAULT_PROTOCOL
    k: int | None = 100  # ranking depth; None = the whole corpus
    batch_size: int | None = None  # pages
    query_batch_size: int | None = None
    num_workers: int = 0
    use_cache: bool = True
    cache_dir: Path | None = None
    strict: bool = False
    overwrite: bool = False
    save_run: bool = False
    #: metric cutoffs; None = the protocol's own (:attr:`EvaluationProtocol.k_values`)
    k_values: tuple[int, ...] | None = None
    #: the model runs remote code at an unpinned revision (``--allow-unpinned``); recorded when True
    unpinned_remote_code: bool = False

    def run_options(self) -> dict[str, Any]:
        """The options recorded in (and compared by) the manifest."""
        recorded: dict[str, Any] = {"k": self.k, "strict": self.strict}
        if self.unpinned_remote_code:
            recorded["unpinned_remote_code"] = True
        return recorded

    @property
    def page_batch(self) -> int:
        return self.batch_size or DEFAULT_PAGE_BATCH["image"]

    @property
    def query_batch(self) -> int:
        return self.query_batch_size or DEFAULT_QUERY_BATCH

    def batch_sizes(self) -> dict[str, int]:
        """Batch sizes used (recorded; scores do not depend on them)."""
        return {"pages": self.page_batch, "queries": self.query_batch}


@dataclass
class ModelInfo:
    """What the runner knows of a model before and after loading it."""

    name: str  # as the user typed it
    slug: str
    adapter: str
    model_id: str
    revision: str | None
    settings: dict[str, Any]
    dtype: str | None = None
    cache_key: str = ""


# --------------------------------------------------------------------------------------------------
# Backend: the functions the loop calls (DefaultBackend below; fakes in tests)
# --------------------------------------------------------------------------------------------------


class Backend(Protocol):
    def load_model(self) -> tuple[Any, ModelInfo]:
        """Build the adapter; returns it with the model info completed by ``adapter.settings()``."""
        ...

    def load_subset(self, unit: WorkUnit, options: RunOptions) -> Subset:
        ...

    def encode(
        self, model: Adapter, subset: Subset, options: RunOptions, timings: Timings, cache: CacheStats,
        progress: Callable[[str, int, int], None],
    ) -> Run:
        """Encode (or search) and rank; fills ``timings`` (encoding, scoring) and ``cache``."""
        ...

    def evaluate(self, run: Run, subset: Subset, options: RunOptions) -> tuple[dict[str, float], dict[str, float]]:
        """``(mean metrics, per-query main metric)``."""
        ...


# --------------------------------------------------------------------------------------------------
# Events (progress display); the default does nothing
# --------------------------------------------------------------------------------------------------


class Events:
    """Callbacks the runner makes; the CLI overrides them to draw progress."""

    def planned(self, todo: Sequence[WorkUnit], done: Sequence[WorkUnit]) -> None: ...

    def model_loading(self, name: str) -> None: ...

    def unit_started(self, unit: WorkUnit, index: int, total: int) -> None: ...

    def stage(self, unit: WorkUnit, stage: str, done: int, total: int) -> None:
        """``stage`` is ``queries``/``pages``/``scoring``/``evaluation``; ``done`` of ``total`` items."""

    def unit_finished(self, unit: WorkUnit, result: SubsetResult) -> None: ...

    def unit_failed(self, unit: WorkUnit, failure: Failure) -> None: ...


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


@dataclass
class DatasetScore:
    dataset: str
    score: float | None  # mean main metric over finished subsets
    finished: int  # selected subsets in the file
    total: int  # selected subsets
    path: Path | None = None

    @property
    def complete(self) -> bool:
        return self.finished == self.total and self.score is not None


@dataclass
class RunReport:
    """The outcome of one ``run``: what ran, what was skipped, scores and failures."""

    model: str
    model_slug: str
    results_dir: Path
    completed: list[WorkUnit] = field(default_factory=list)
    skipped: list[WorkUnit] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    datasets: list[DatasetScore] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def mean(self) -> tuple[float | None, int, int]:
        """``(mean main score over complete datasets, #complete, #selected)``."""
        scores = [d.score for d in self.datasets if d.complete and d.score is not None]
        mean = sum(scores) / len(scores) if scores else None
        return mean, len(scores), len(self.datasets)

    def to_pandas(self, *, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """The tidy frame (:func:`jinavdr.results.frame.results_frame`) of this run's result files:
        every subset they hold (also those finished by earlier runs), values as fractions."""
        from jinavdr.results.frame import results_frame
        from jinavdr.results.store import read_result_file

        files = [read_result_file(d.path) for d in self.datasets if d.path is not None and Path(d.path).is_file()]
        return results_frame(files, metrics=metrics)


class SubsetsFailedError(JinaVDRError):
    """Some subsets of a run failed; ``report`` holds everything (finished subsets are saved).

    The message names each failed subset and its error. Exit code 1, as a run with failures.
    """

    exit_code = 1

    def __init__(self, report: RunReport) -> None:
        self.report = report
        self.failures = list(report.failures)
        total = len(report.completed) + len(report.failures)
        lines = "\n  ".join(str(f) for f in self.failures)
        super().__init__(
            f"{len(self.failures)} of {total} subsets failed for model {report.model!r} "
            f"(the {len(report.completed)} finished ones are saved under {report.results_dir}):\n  {lines}\n"
            "Run it again to retry only the failed subsets; the exception's .report holds the partial "
            "report (or pass allow_failures=True to get it returned)."
        )


# --------------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------------


class Runner:
    """Runs work units for one model, writing each finished subset to the store."""

    def __init__(
        self,
        model: ModelInfo,
        backend: Backend,
        store: ResultStore,
        options: RunOptions,
        *,
        env: Environment,
        events: Events | None = None,
    ) -> None:
        self.model = model
        self.backend = backend
        self.store = store
        self.options = options
        self.env = env
        self.events = events or Events()
        #: ``{"scoring": ...}`` once the model is loaded (see :func:`scoring_record`)
        self.scoring: dict[str, Any] = {}

    # -- manifests ---------------------------------------------------------------------------

    def manifest(self, unit: WorkUnit, subset: Subset | None = None) -> Manifest:
        repo = (subset.repo if subset is not None and subset.repo else unit.repo) or ""
        revision = subset.revision if subset is not None and subset.revision else unit.revision
        return build_manifest(
            env=self.env,
            model_id=self.model.model_id,
            model_revision=self.model.revision,
            adapter=self.model.adapter,
            settings=self.model.settings,
            dataset_repo=repo,
            dataset_revision=revision,
            protocol=self.options.protocol,
            dtype=self.model.dtype,
            batch_sizes=self.options.batch_sizes(),
            run_options=self.options.run_options() | self.scoring,
        )

    def _check_files(self, units: Sequence[WorkUnit], *, partial: bool) -> None:
        """Refuse (before any encoding) files whose settings differ from this run's."""
        seen: set[str] = set()
        for unit in units:
            if unit.dataset in seen:
                continue
            seen.add(unit.dataset)
            existing = self._existing(unit.dataset)
            if existing is None:
                continue
            manifest = self.manifest(unit)
            if unit.revision is None:  # resolved when the subset loads (the QA copies); add_subset compares it
                manifest = manifest.model_copy(update={"dataset_revision": existing.manifest.dataset_revision})
            check_compatible(existing, manifest, self.store.path(self.model.slug, unit.dataset), partial=partial)

    def _existing(self, dataset: str) -> ResultFile | None:
        try:
            return self.store.read(self.model.slug, dataset)
        except ResultsError:
            if self.options.overwrite:
                return None  # replaced (and backed up) on the first write
            raise

    # -- planning ------------------------------------------------------------------------------

    def plan(self, units: Sequence[WorkUnit]) -> tuple[list[WorkUnit], list[WorkUnit]]:
        """Split ``units`` into (to run, already finished). Raises on unusable files."""
        if self.options.overwrite:
            return list(units), []
        self._check_files(units, partial=True)
        finished: dict[str, set[str]] = {}
        todo, done = [], []
        for unit in units:
            if unit.dataset not in finished:
                existing = self._existing(unit.dataset)
                finished[unit.dataset] = set(existing.subsets) if existing else set()
            (done if unit.subset in finished[unit.dataset] else todo).append(unit)
        return todo, done

    # -- running -------------------------------------------------------------------------------

    def run(self, units: Sequence[WorkUnit]) -> RunReport:
        """Run every unfinished unit; returns the report (failures included, never raised)."""
        start = time.perf_counter()
        report = RunReport(model=self.model.name, model_slug=self.model.slug, results_dir=self.store.root)
        self.store.ensure_writable(self.model.slug)
        todo, report.skipped = self.plan(units)
        self.events.planned(todo, report.skipped)
        if todo:
            check = getattr(self.backend, "check_sources", None)
            if check is not None:  # without the Hub: every missing item at once, before any loading
                check(self.model.name, todo, self.options)
            try:
                adapter = self._load_model()
                if not self.options.overwrite:
                    self._check_files(todo, partial=False)
                self._run_units(adapter, todo, report)
            finally:  # worker processes live as long as the run
                close = getattr(self.backend, "close", None)
                if close is not None:
                    close()
        report.datasets = self._scores(units)
        report.seconds = time.perf_counter() - start
        return report

    def _load_model(self) -> Any:
        self.events.model_loading(self.model.name)
        try:
            adapter, self.model = self.backend.load_model()
        except JinaVDRError:
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter's own failure, shown as a message
            raise JinaVDRError(f"model {self.model.name!r} could not be loaded: {type(exc).__name__}: {exc}") from exc
        if self.options.batch_size is None and getattr(adapter, "page_input", "") == "text":
            # the runner's own copy: the caller's options are never changed
            self.options = dataclasses.replace(self.options, batch_size=DEFAULT_PAGE_BATCH["text"])
        self.scoring = scoring_record(adapter, self.env.device)
        return adapter

    def _run_units(self, adapter: Adapter, todo: Sequence[WorkUnit], report: RunReport) -> None:
        written: set[str] = set()  # datasets written by this run (an --overwrite replaces a file once)
        for i, unit in enumerate(todo):
            self.events.unit_started(unit, i, len(todo))
            try:
                result = self._run_unit(adapter, unit, replace=unit.dataset not in written)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - isolate the unit, report the cause at the end
                failure = Failure(
                    dataset=unit.dataset, subset=unit.subset, error=type(exc).__name__,
                    message=str(exc) or repr(exc), traceback=traceback.format_exc(),
                )
                report.failures.append(failure)
                self.events.unit_failed(unit, failure)
                continue
            written.add(unit.dataset)
            report.completed.append(unit)
            self.events.unit_finished(unit, result)

    def _run_unit(self, adapter: Adapter, unit: WorkUnit, *, replace: bool) -> SubsetResult:
        opts = self.options
        timings = Timings()
        cache = CacheStats()
        memory = PeakMemory(self.env.device)

        def progress(stage: str, n: int, total: int) -> None:
            self.events.stage(unit, stage, n, total)

        with memory.measure():
            subset = self.backend.load_subset(unit, opts)
            run = self.backend.encode(adapter, subset, opts, timings, cache, progress)
            t0 = time.perf_counter()
            progress("evaluation", 0, 1)
            metrics, per_query = self.backend.evaluate(run, subset, opts)
            timings.evaluation = time.perf_counter() - t0
            progress("evaluation", 1, 1)
        if timings.pages_per_second is None and timings.page_encoding > 0 and cache.pages_encoded:
            timings.pages_per_second = cache.pages_encoded / timings.page_encoding
        run_file = None
        if opts.save_run:
            from jinavdr.engine.trec import write_run

            path = self.store.run_file_path(self.model.slug, unit.dataset, unit.subset)
            write_run(path, run, tag=self.model.slug)
            run_file = str(path.relative_to(self.store.root / self.model.slug))
        qids = list(per_query)
        result = SubsetResult(
            subset=unit.subset,
            metrics=dict(sorted(metrics.items())),
            per_query=PerQuery(metric=MAIN_METRIC, query_ids=qids, values=[float(per_query[q]) for q in qids]),
            n_queries=len(subset.queries),
            n_pages=len(subset.corpus),
            n_qrels=len(subset.qrels),
            dropped_queries=subset.dropped_queries,
            duplicate_qrels=getattr(subset, "duplicate_qrels", 0),
            timings=timings,
            cache=cache,
            peak_memory_mb=None if memory.peak_mb is None else round(memory.peak_mb, 1),
            run_file=run_file,
            finished_at=now_iso(),
        )
        self.store.add_subset(
            model=self.model.name,
            model_slug=self.model.slug,
            dataset=unit.dataset,
            manifest=self.manifest(unit, subset),
            result=result,
            replace_incompatible=opts.overwrite and replace,
        )
        return result

    def _scores(self, units: Sequence[WorkUnit]) -> list[DatasetScore]:
        by_dataset: dict[str, list[str]] = {}
        for unit in units:
            by_dataset.setdefault(unit.dataset, []).append(unit.subset)
        out = []
        for dataset, subsets in by_dataset.items():
            path = self.store.path(self.model.slug, dataset)
            try:
                existing = self.store.read(self.model.slug, dataset)
            except JinaVDRError:
                existing = None
            if existing is None:
                out.append(DatasetScore(dataset, None, 0, len(subsets)))
                continue
            vals = [existing.subsets[s].metrics[MAIN_METRIC] for s in subsets if s in existing.subsets]
            score = sum(vals) / len(vals) if vals else None
            out.append(DatasetScore(dataset, score, len(vals), len(subsets), path))
        return out


# --------------------------------------------------------------------------------------------------
# The real backend: registry, data loaders, embedding cache, scoring, protocols
# --------------------------------------------------------------------------------------------------

def model_info_from_spec(spec: ModelSpec) -> ModelInfo:
    """What is known of a :class:`~jinavdr.models.registry.ModelSpec` before loading it."""
    settings = spec.settings()
    if getattr(spec, "code_fingerprint", None):
        settings[CODE_SETTING] = spec.code_fingerprint
    return ModelInfo(
        name=spec.name, slug=spec.slug(), adapter=spec.adapter, model_id=spec.model_id,
        revision=spec.revision, settings=settings, dtype=spec.options.get("dtype"),
        cache_key=spec.key(),
    )


#: manifest setting holding the sha256 of an outside adapter's source (python:, entry points)
CODE_SETTING = "adapter_code_sha256"


def scoring_record(adapter: Adapter, device: str) -> dict[str, Any]:
    """``{"scoring": scoring_settings(...)}`` for an adapter whose embeddings :func:`jinavdr.engine.scoring.rank`
    scores on ``device``; ``{}`` for a searcher that ranks by itself. Recorded in the manifest's
    ``run_options`` for information, never compared (:data:`jinavdr.results.identity.UNCOMPARED_RUN_OPTIONS`)."""
    from jinavdr.engine.scoring import scoring_settings
    from jinavdr.models.base import Searcher

    similarity = getattr(adapter, "similarity", None)
    if similarity is None or (isinstance(adapter, Searcher) and not hasattr(adapter, "encode_pages")):
        return {}
    return {"scoring": scoring_settings(similarity, device)}


def complete_model_info(info: ModelInfo, adapter: Adapter) -> ModelInfo:
    """``info`` with the adapter's own ``settings()`` (which may add what it resolved at load time)."""
    settings = dict(adapter.settings())
    if CODE_SETTING in info.settings:
        settings[CODE_SETTING] = info.settings[CODE_SETTING]
    revision = settings.get("revision") or info.revision
    dtype = settings.get("dtype", info.dtype)
    return ModelInfo(
        name=info.name, slug=info.slug, adapter=info.adapter, model_id=info.model_id,
        revision=revision, settings=settings, dtype=None if dtype is None else str(dtype),
        cache_key=info.cache_key,
    )


class _CountingEncoder:
    """Forwards to an encoder and reports each encoded batch (for progress bars)."""

    def __init__(self, inner: Any, report: Callable[[str, int], None]) -> None:
        self.inner, self.report = inner, report
        self.similarity = inner.similarity
        self.page_input = inner.page_input

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Any:
        out = self.inner.encode_queries(texts, batch_size=batch_size)
        self.report("queries", len(texts))
        return out

    def encode_pages(self, pages: Sequence[Any], *, batch_size: int) -> Any:
        out = self.inner.encode_pages(pages, batch_size=batch_size)
        self.report("pages", len(pages))
        return out

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def __getattr__(self, name: str) -> Any:
        """The optional split page path (``page_tokens``, ``page_preparer``, ``token_budget``) of the
        wrapped encoder; ``embed_prepared`` below also reports progress."""
        if name in ("page_tokens", "page_preparer", "token_budget", "device"):
            return getattr(self.inner, name)
        raise AttributeError(name)

    def embed_prepared(self, inputs: Any, timings: dict[str, float] | None = None) -> Any:
        if not callable(getattr(self.inner, "embed_prepared", None)):
            raise AttributeError("embed_prepared")
        out = self.inner.embed_prepared(inputs, timings)
        self.report("pages", len(out))
        return out


def protocol_depth(options: RunOptions) -> int | None:
    """Pages ranked per query: ``options.k``, or the whole corpus for a protocol without a depth."""
    from jinavdr.evaluation.protocols import get_protocol

    return None if get_protocol(options.protocol).depth is None else options.k


def effective_k_values(options: RunOptions) -> tuple[int, ...]:
    """Metric cutoffs that the ranking depth supports (all of them for a full-corpus ranking)."""
    from jinavdr.evaluation.protocols import get_protocol

    protocol = get_protocol(options.protocol)
    depth = protocol_depth(options)
    ks = protocol.k_values if options.k_values is None else options.k_values
    return tuple(k for k in ks if depth is None or k <= depth)


def is_lexical(adapter: Any) -> bool:
    """A searcher that ranks by itself, without embeddings (BM25): protocols may treat it apart."""
    from jinavdr.models.base import Searcher

    return isinstance(adapter, Searcher) and not hasattr(adapter, "encode_pages")


class DefaultBackend:
    """The backend ``jinavdr run`` uses: registry adapters, the task loaders, cache and scorer."""

    def __init__(self, spec: ModelSpec, *, device: str, allow_unpinned: bool = False) -> None:
        self.spec = spec
        self.device = device
        self.allow_unpinned = allow_unpinned
        self._cache: Any = None
        self._pool: PreparationPool | None = None
        #: the loaded model ranks by itself from text (a lexical searcher such as BM25)
        self._lexical = False

    def load_model(self) -> tuple[Any, ModelInfo]:
        from jinavdr.models.registry import load

        adapter = load(self.spec, device=self.device, allow_unpinned=self.allow_unpinned)
        self._lexical = is_lexical(adapter)
        return adapter, complete_model_info(model_info_from_spec(self.spec), adapter)

    def check_sources(self, model_name: str, todo: Sequence[WorkUnit], options: RunOptions) -> None:
        """Fail at once, with one message, when the run needs Hub files that are not cached and the
        Hub cannot be reached (one probe), instead of failing each subset after its retries."""
        from jinavdr import hub
        from jinavdr.catalogue.loaders import subset_cached
        from jinavdr.execution.prefetch import model_item

        needed = [] if options.protocol == "paper" else [
            u.key for u in todo if not u.task.is_local and not subset_cached(u.task, u.subset_spec)]
        model = model_item(self.spec)
        if model is not None and not model.cached:
            needed.append(model.label)
        if not needed:
            return
        status = hub.probe()
        if status.reachable:
            return
        datasets = ",".join(dict.fromkeys(u.dataset for u in todo))
        options_text = "".join(f" -o {k}={v}" for k, v in (("model_id", self.spec.model_id),
                                                            ("revision", self.spec.revision))
                               if not self.spec.is_default and v is not None)
        cmd = f"jinavdr prefetch --model {model_name}{options_text} --tasks {datasets}"
        raise JinaVDRError(hub.offline_help(needed, cmd, status))

    def load_subset(self, unit: WorkUnit, options: RunOptions) -> Subset:
        from jinavdr.evaluation.protocols import get_protocol

        return get_protocol(options.protocol).load_subset(unit.task, unit.subset_spec, strict=options.strict)

    def cache(self, options: RunOptions) -> Any:
        if not options.use_cache:
            return None
        if self._cache is None:
            from jinavdr.engine.cache import EmbeddingCache

            self._cache = EmbeddingCache(options.cache_dir)
        return self._cache

    def workers(self, options: RunOptions) -> PreparationPool | None:
        """The run's page preparation workers (``options.num_workers`` spawned processes, started on
        first use and kept for every subset until :meth:`close`); None without workers."""
        if options.num_workers == 0:
            return None
        if self._pool is None:
            from jinavdr.engine.workers import PreparationPool

            self._pool = PreparationPool(options.num_workers)
        return self._pool

    def close(self) -> None:
        """Stop the preparation workers (the runner calls it when a run ends, however it ends)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def model_key(self, adapter: Any, cache: Any) -> str:
        """The embedding cache key of ``adapter`` (:func:`jinavdr.engine.cache.adapter_key`), described
        in ``cache`` (settings, slug, base key) for ``jinavdr cache info`` and ``plan``."""
        from jinavdr.engine.cache import adapter_key

        base = self.spec.cache_key(self.device)
        settings = dict(adapter.settings())
        key = adapter_key(base, settings)
        if cache is not None:
            cache.describe(key, {**self.spec.settings(), **settings}, self.spec.slug(), base=base)
        return key

    def encoders(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The query and page encoding functions (a distributed run shares them across ranks)."""
        from jinavdr.engine.encoding import encode_pages, encode_queries

        return encode_queries, encode_pages

    def encode(
        self, model: Adapter, subset: Subset, options: RunOptions, timings: Timings, cache: CacheStats,
        progress: Callable[[str, int, int], None],
    ) -> Run:
        depth = protocol_depth(options)
        if is_lexical(model):
            n = len(subset.corpus)
            progress("scoring", 0, 1)
            t0 = time.perf_counter()
            run = model.search(subset.queries, subset.corpus, k=n if depth is None else min(depth, n))
            timings.scoring = time.perf_counter() - t0
            progress("scoring", 1, 1)
            return run
        return self._encode_and_rank(model, subset, options, timings, cache, progress, depth)

    def _encode_and_rank(
        self, model: Adapter, subset: Subset, options: RunOptions, timings: Timings, cache: CacheStats,
        progress: Callable[[str, int, int], None], depth: int | None,
    ) -> Run:
        from jinavdr.engine.scoring import rank

        if not len(subset.queries):  # nothing to rank: fail before encoding every page
            raise DataError(
                f"{subset.key}: no query has a relevant page (score > 0) in the qrels, so there is nothing to "
                f"evaluate ({subset.dropped_queries} queries were dropped); check the qrels of this subset"
            )
        encode_queries, encode_pages = self.encoders()
        totals = {"queries": len(subset.queries), "pages": len(subset.corpus)}
        done = {"queries": 0, "pages": 0}

        def report(stage: str, n: int) -> None:
            done[stage] += n
            progress(stage, done[stage], totals[stage])

        counting = _CountingEncoder(model, report)
        store = self.cache(options)
        key = self.model_key(model, store)
        t0 = time.perf_counter()
        progress("queries", 0, totals["queries"])
        q_emb, q_stats = encode_queries(
            counting, subset.queries, cache=store, model=key,
            batch_size=options.query_batch,
        )
        timings.query_encoding = time.perf_counter() - t0
        t0 = time.perf_counter()
        progress("pages", 0, totals["pages"])
        p_emb, p_stats = encode_pages(
            counting, subset.corpus, cache=store, model=key,
            batch_size=options.page_batch, num_workers=options.num_workers, pool=self.workers(options),
        )
        timings.page_encoding = time.perf_counter() - t0
        if p_stats.encoded and p_stats.seconds > 0:
            timings.pages_per_second = p_stats.encoded / p_stats.seconds
        cache.queries_encoded, cache.queries_cached = q_stats.encoded, q_stats.cached + q_stats.duplicates
        cache.pages_encoded, cache.pages_cached = p_stats.encoded, p_stats.cached + p_stats.duplicates
        t0 = time.perf_counter()
        progress("scoring", 0, 1)
        run = rank(subset.queries.ids, subset.corpus.ids, q_emb, p_emb, similarity=model.similarity, k=depth,
                   device=self.device)
        timings.scoring = time.perf_counter() - t0
        progress("scoring", 1, 1)
        return run

    def evaluate(self, run: Run, subset: Subset, options: RunOptions) -> tuple[dict[str, float], dict[str, float]]:
        from jinavdr.evaluation.protocols import get_protocol

        evaluation = get_protocol(options.protocol).evaluate(
            run, subset.qrels, corpus=subset.corpus, queries=subset.queries, k_values=effective_k_values(options),
            lexical=self._lexical,
        )
        return dict(evaluation.metrics), evaluation.values(MAIN_METRIC)


__all__ = [
    "Backend",
    "DefaultBackend",
    "DatasetScore",
    "Events",
    "Failure",
    "ModelInfo",
    "RunOptions",
    "RunReport",
    "Runner",
    "WorkUnit",
]
