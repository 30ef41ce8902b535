"""The public Python API: run a model on tasks, plan a run, read result files.

::

    import jinavdr.api as jv

    report = jv.run("bm25", "sample")                      # encode/search, score, evaluate, write
    report = jv.run("jina-v4", ["tabfquad", "arxivqa"], vector="single", batch_size=4)
    print(report.mean())                                   # (mean nDCG@5 in [0, 1], #complete, #selected)
    report.to_pandas()                                     # the tidy frame of its result files
    plan = jv.plan("minilm", "sample")                     # what a run would do; nothing is encoded
    files = jv.load_results("results/bm25")                # every ResultFile under a folder
    df = jv.results_frame("results")                       # model x dataset x subset x metric rows
    board = jv.leaderboard("results")                      # board.to_pandas(), board.pivot("dataset")
    gate = jv.compare("results/baseline/bm25", "results/bm25")   # gate.passed, gate.to_pandas()

A run whose subsets fail raises :class:`SubsetsFailedError` (``exc.report`` is the partial report)
unless ``allow_failures=True``. Scores are fractions in [0, 1] in every object and frame (a field in
points says so: ``delta_points``, ``max_drop_points``); rendered tables show them x100. Errors name
arguments as spelled here (:class:`~jinavdr.errors.ArgumentError`).

Keyword arguments of :func:`run` that are not run options are model options and go to the
model registry (``resolve(name, **options)``): ``vector``, ``max_pixels``, ``truncate_dim``,
``dtype``, ``model_id``, ``revision``, ... A model accepts only the options it declares.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.errors import ArgumentError, JinaVDRError
from jinavdr.execution import distributed
from jinavdr.execution.progress import TqdmEvents, wants_progress
from jinavdr.execution.request import RunRequest
from jinavdr.execution.runner import (
    DefaultBackend,
    Events,
    ModelInfo,
    Runner,
    RunOptions,
    RunReport,
    SubsetsFailedError,
    WorkUnit,
    model_info_from_spec,
)
from jinavdr.execution.shards import select_shard
from jinavdr.models.device import resolve_device
from jinavdr.results.manifest import Environment
from jinavdr.results.store import ResultStore, load_results

if TYPE_CHECKING:
    import pandas as pd

    from jinavdr.catalogue.dataset import Subset
    from jinavdr.models.registry import ModelSpec
    from jinavdr.report.compare import Comparison as GateComparison
    from jinavdr.report.leaderboard import Leaderboard

__all__ = [
    "ArgumentError",
    "PlannedUnit",
    "RunPlan",
    "RunReport",
    "RunRequest",
    "SubsetsFailedError",
    "compare",
    "leaderboard",
    "load_results",
    "plan",
    "plan_request",
    "results_frame",
    "run",
    "run_request",
]


# --------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """What :func:`run` and :func:`plan` both derive from a request before doing anything."""

    spec: ModelSpec
    options: RunOptions
    units: list[WorkUnit]
    store: ResultStore
    device: str


def _prepare(request: RunRequest) -> _Prepared:
    """Check the options, resolve the model, select the units (and shard), open the store."""
    from jinavdr.models.registry import is_pinned, runs_remote_code

    device = request.device or str(resolve_device(None))
    options = request.run_options(device)
    spec = _resolve_model(request.model, dict(request.model_options))
    unpinned = request.allow_unpinned and runs_remote_code(spec) and not is_pinned(spec)
    options = dataclasses.replace(options, unpinned_remote_code=unpinned)  # a copy: the request is unchanged
    units = work_units(request.tasks, protocol=options.protocol, languages=request.languages,
                       domains=request.domains, formats=request.formats)
    units = select_shard(units, request.shard)
    return _Prepared(spec, options, units, ResultStore(request.results_dir), device)


def _resolve_model(model: str, model_options: dict[str, Any]) -> ModelSpec:
    from jinavdr.models.registry import resolve

    options = {k: v for k, v in model_options.items() if v is not None}
    return resolve(model, **options)


def work_units(
    tasks: str | Iterable[str] | None,
    *,
    protocol: str = DEFAULT_PROTOCOL,
    languages: str | Iterable[str] | None = None,
    domains: str | Iterable[str] | None = None,
    formats: str | Iterable[str] | None = None,
) -> list[WorkUnit]:
    """The (dataset, subset) units a task selection names, in catalogue order."""
    from jinavdr.catalogue.tasks import select
    from jinavdr.evaluation.protocols import get_protocol

    selected = select(tasks, languages=languages, domains=domains, formats=formats)
    proto = get_protocol(protocol)
    proto.check_tasks(task for task, _ in selected)
    units = []
    for task, subsets in selected:
        # What result files record (a folder: its content revision, so resuming checks the data early).
        repo, revision = proto.recorded_source(task)
        for sub in subsets:
            units.append(
                WorkUnit(
                    dataset=task.name, subset=sub.name, task=task, subset_spec=sub,
                    repo=repo, revision=revision,
                    expected_queries=sub.queries, expected_pages=sub.pages,
                )
            )
    return units


# --------------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------------


def run(
    model: str,
    tasks: str | Sequence[str] | None = "jinavdr",
    *,
    results_dir: str | Path = "results",
    protocol: str = DEFAULT_PROTOCOL,
    k: int | None = None,
    batch_size: int | None = None,
    query_batch_size: int | None = None,
    num_workers: int | str = "auto",
    device: str | None = None,
    allow_unpinned: bool = False,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    strict: bool = False,
    languages: str | Iterable[str] | None = None,
    domains: str | Iterable[str] | None = None,
    formats: str | Iterable[str] | None = None,
    shard: str | tuple[int, int] | None = None,
    overwrite: bool = False,
    save_run: bool = False,
    events: Events | None = None,
    progress: bool | None = None,
    allow_failures: bool = False,
    **model_options: Any,
) -> RunReport:
    """Evaluate ``model`` on ``tasks``, writing ``<results_dir>/<model-slug>/<dataset>.json``.

    Finished subsets are skipped unless ``overwrite``; each subset is written as soon as it is done.
    A failing subset does not stop the others; when any failed, :class:`SubsetsFailedError` is raised
    at the end, naming each failure and carrying the report as ``exc.report``. With
    ``allow_failures=True`` the report is returned instead (see ``report.failures``).
    ``progress`` draws a tqdm bar (a widget in notebooks); default: in a notebook or on a terminal.
    Scores in the report are fractions in [0, 1] (``report.mean()``, ``report.to_pandas()``).
    Raises :class:`~jinavdr.errors.JinaVDRError` (before any encoding) for bad options, unknown
    names, an unwritable results folder, or result files that are corrupt or hold other settings.
    ``k`` is the ranking depth (default: the protocol's, 100 for ``beir``; ``paper`` ranks all pages).
    ``num_workers`` page preparation processes serve the whole run (started once); ``"auto"``: none on
    the CPU, on a GPU the cores less two, at most 8 (:func:`jinavdr.engine.workers.auto_workers`).
    ``shard="i/n"`` runs only part ``i`` of ``n`` of the selected subsets (:mod:`jinavdr.execution.shards`).
    Under ``torchrun`` every process encodes a share and rank 0 writes (:mod:`jinavdr.execution.distributed`).
    """
    request = RunRequest(
        model, tasks, results_dir=Path(results_dir), protocol=protocol, k=k, batch_size=batch_size,
        query_batch_size=query_batch_size, num_workers=num_workers, device=device, allow_unpinned=allow_unpinned,
        use_cache=use_cache, cache_dir=Path(cache_dir) if cache_dir else None, strict=strict, languages=languages,
        domains=domains, formats=formats, shard=shard, overwrite=overwrite, save_run=save_run,
        model_options=model_options,
    )  # fmt: skip
    return run_request(request, events=events, progress=progress, allow_failures=allow_failures)


def run_request(
    request: RunRequest, *, events: Events | None = None, progress: bool | None = None, allow_failures: bool = False
) -> RunReport:
    """:func:`run` for a :class:`~jinavdr.execution.request.RunRequest` (what the CLI calls)."""
    p = _prepare(request)
    p.store.ensure_writable(p.spec.slug())
    # one bar per job: under torchrun only rank 0 draws it
    bar = TqdmEvents() if events is None and wants_progress(progress) and distributed.is_main_process() else None
    try:
        if distributed.launched():  # torchrun: every rank encodes a share, rank 0 scores and writes
            report = distributed.run_units(p.spec, p.units, p.store, p.options, device=p.device,
                                           allow_unpinned=request.allow_unpinned, events=events or bar)
        else:
            backend = DefaultBackend(p.spec, device=p.device, allow_unpinned=request.allow_unpinned)
            runner = Runner(model_info_from_spec(p.spec), backend, p.store, p.options,
                            env=Environment.capture(p.device), events=events or bar)
            report = runner.run(p.units)
    finally:
        if bar is not None:
            bar.close()
    if report.failures and not allow_failures:
        raise SubsetsFailedError(report)
    return report


# --------------------------------------------------------------------------------------------------
# plan (dry run)
# --------------------------------------------------------------------------------------------------


@dataclass
class PlannedUnit:
    unit: WorkUnit
    status: Literal["done", "todo"]
    n_queries: int | None  # expected (Hub tasks) or loaded (local tasks)
    n_pages: int | None
    cached_queries: int | None = None  # None: unknown without downloading, or the model encodes nothing
    cached_pages: int | None = None


@dataclass
class RunPlan:
    model: str
    model_slug: str
    results_dir: Path
    protocol: str
    k: int | None
    units: list[PlannedUnit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def todo(self) -> list[PlannedUnit]:
        return [u for u in self.units if u.status == "todo"]


def _page_input(spec: ModelSpec) -> str | None:
    """What pages the model reads, from the registry (None: unknown before loading, or a searcher)."""
    from jinavdr.models.registry import get_entry, import_factory

    if spec.adapter == "st":
        return "text"
    if spec.adapter.startswith(("python:", "entry-point:")):  # the user's class: read its attributes
        try:
            cls = import_factory(spec.factory)
        except (JinaVDRError, ImportError):
            return None
        encodes = hasattr(cls, "encode_pages")
        return getattr(cls, "page_input", None) if encodes else None
    try:
        entry = get_entry(spec.adapter)
    except JinaVDRError:
        return None
    return None if entry.similarity == "bm25" else entry.page_input


def _cached_counts(
    spec: ModelSpec, page_input: str, subset: Subset, cache_dir: Path | None, device: str
) -> tuple[int, int]:
    from jinavdr.engine.cache import EmbeddingCache
    from jinavdr.engine.encoding import page_keys, query_keys

    cache = EmbeddingCache(cache_dir)
    keys = cache.keys_for(spec.cache_key(device))  # the adapter's own settings are known after loading
    if not keys:
        return 0, 0
    key = keys[0]
    q = sum(cache.contains(key, "query", query_keys(subset.queries.texts)))
    p = sum(cache.contains(key, "page", page_keys(subset.corpus, page_input)))
    return q, p


def plan(
    model: str,
    tasks: str | Sequence[str] | None = "jinavdr",
    *,
    results_dir: str | Path = "results",
    protocol: str = DEFAULT_PROTOCOL,
    k: int | None = None,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    strict: bool = False,
    languages: str | Iterable[str] | None = None,
    domains: str | Iterable[str] | None = None,
    formats: str | Iterable[str] | None = None,
    shard: str | tuple[int, int] | None = None,
    overwrite: bool = False,
    device: str | None = None,
    **model_options: Any,
) -> RunPlan:
    """What :func:`run` would do, without loading the model or encoding anything.

    Hub tasks are not downloaded: their counts are the task files' expected counts and their cache
    status is unknown. Local tasks (folders, the sample) are read to count cached embeddings.
    """
    request = RunRequest(
        model, tasks, results_dir=Path(results_dir), protocol=protocol, k=k, device=device, use_cache=use_cache,
        cache_dir=Path(cache_dir) if cache_dir else None, strict=strict, languages=languages, domains=domains,
        formats=formats, shard=shard, overwrite=overwrite, model_options=model_options,
    )  # fmt: skip
    return plan_request(request)


def plan_request(request: RunRequest) -> RunPlan:
    """:func:`plan` for a :class:`~jinavdr.execution.request.RunRequest` (what ``jinavdr run --dry-run`` calls)."""
    p = _prepare(request)
    spec, options, units, store, device = p.spec, p.options, p.units, p.store, p.device
    model, use_cache = request.model, request.use_cache
    info: ModelInfo = model_info_from_spec(spec)
    runner = Runner(info, DefaultBackend(spec, device="cpu"), store, options, env=Environment.capture("cpu"))
    todo, _done = runner.plan(units)
    todo_keys = {u.key for u in todo}
    page_input = _page_input(spec) if use_cache else None
    out = RunPlan(model=model, model_slug=spec.slug(), results_dir=store.root, protocol=options.protocol,
                  k=options.k)
    from jinavdr.evaluation.protocols import get_protocol

    counts_known = get_protocol(options.protocol).counts_from_task_files
    if not counts_known:
        out.notes.append(f"counts are the task files' (BEIR copies); the QA copies that protocol "
                         f"{options.protocol!r} reads hold one row per (query, page) and differ")
    for unit in units:
        status: Literal["done", "todo"] = "todo" if unit.key in todo_keys else "done"
        planned = PlannedUnit(unit, status, unit.expected_queries, unit.expected_pages)
        if status == "done":
            existing = store.read(info.slug, unit.dataset)
            if existing is not None and unit.subset in existing.subsets:
                finished = existing.subsets[unit.subset]
                planned.n_queries, planned.n_pages = finished.n_queries, finished.n_pages
        if status == "todo" and unit.task.is_local and counts_known:
            try:
                subset = runner.backend.load_subset(unit, options)
                planned.n_queries, planned.n_pages = len(subset.queries), len(subset.corpus)
                if page_input is not None:
                    planned.cached_queries, planned.cached_pages = _cached_counts(
                        spec, page_input, subset, options.cache_dir, device
                    )
            except JinaVDRError as exc:
                out.notes.append(f"{unit.key}: {exc}")
        out.units.append(planned)
    return out


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def results_frame(
    paths: str | Path | Sequence[str | Path], *, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """The tidy frame of the result files under ``paths`` (files or folders): one row per model x
    dataset x subset x metric, values as fractions (:mod:`jinavdr.results.frame`)."""
    from jinavdr.results.frame import results_frame as _frame

    return _frame(load_results(paths), metrics=metrics)


def leaderboard(
    paths: str | Path | Sequence[str | Path] = "results",
    *,
    collection: str | None = None,
    with_references: bool | None = None,
    references_path: str | Path | None = None,
    references: Mapping[str, str] | None = None,
    min_coverage: float = 0.5,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    n_bootstrap: int = 1_000,
    seed: int = 0,
) -> Leaderboard:
    """The leaderboard of the result files under ``paths`` (what ``jinavdr leaderboard`` renders).

    ``references`` maps a measured model to a published one (``{"jina-v4": "jina-embeddings-v4
    (single-vector)"}``). Render it with :func:`jinavdr.report.render.render`; read it with
    ``.to_pandas()`` (tidy) or ``.pivot("dataset")`` (datasets x models, fractions).
    """
    from jinavdr.report.leaderboard import LeaderboardOptions, leaderboard_from_paths

    options = LeaderboardOptions(min_coverage=min_coverage, alpha=alpha, n_resamples=n_resamples,
                                 n_bootstrap=n_bootstrap, seed=seed)
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    pairs = [f"{k}={v}" for k, v in (references or {}).items()]
    return leaderboard_from_paths(items, collection=collection, with_references=with_references,
                                  references_path=references_path, reference_pairs=pairs, options=options)


def compare(
    baseline: str | Path | Sequence[str | Path],
    candidate: str | Path | Sequence[str | Path],
    *,
    max_drop_points: float = 0.5,
    per_dataset: bool = False,
    alpha: float = 0.05,
    min_effect_points: float = 0.0,
    exact: bool = False,
    tolerance: float = 1e-6,
    require_complete: bool = False,
    force: bool = False,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> GateComparison:
    """The regression gate (what ``jinavdr compare`` runs): candidate result files vs baseline's.

    Drops are in points (nDCG@5 x100): ``max_drop_points=0.5`` tolerates a drop of 0.5 points of the
    mean. Returns the comparison (``.passed``, ``.failures``, ``.to_pandas()``); raises
    :class:`~jinavdr.report.compare.SettingsMismatchError` when the settings differ, unless ``force``.
    """
    from jinavdr.report.compare import compare as _compare
    return _compare(
        load_results(baseline), load_results(candidate), max_drop_points=max_drop_points, alpha=alpha,
        per_dataset=per_dataset, min_effect_points=min_effect_points, exact=exact, tolerance=tolerance,
        require_complete=require_complete, force=force, n_resamples=n_resamples, seed=seed,
    )
