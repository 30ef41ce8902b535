"""``jinavdr run``: evaluate one model on tasks, with progress, a score table and resumable results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.cli._common import fail

if TYPE_CHECKING:
    from rich.console import Console

    from jinavdr.api import RunPlan
    from jinavdr.execution.runner import RunReport

_PANEL = "Model options (recorded in the result; they change the model slug)"
_DATA = "Task selection"
_RUN = "Run"


def _model_options(
    options: list[str], *, dtype: str | None, vector_type: str | None, max_pixels: int | None,
    truncate_dim: int | None, attn: str | None, model_id: str | None, revision: str | None,
) -> dict[str, Any]:
    """Flags and ``--option key=value`` pairs as registry options (unset flags are left out)."""
    from jinavdr.models.registry import parse_options

    out: dict[str, Any] = dict(parse_options(options))
    flags = {"dtype": dtype, "vector": vector_type, "max_pixels": max_pixels, "truncate_dim": truncate_dim,
             "attn_implementation": attn, "model_id": model_id, "revision": revision}
    out.update({k: v for k, v in flags.items() if v is not None})
    return out


# --------------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------------


def _progress_events(console: Console) -> Any:
    """Runner events drawn with rich: subsets done, the current stage's items, rate and ETA."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from jinavdr.execution.runner import Events
    from jinavdr.report.format import points

    class RichEvents(Events):
        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=console, transient=True,
            )
            self.overall: Any = None
            self.current: Any = None
            self.stage_name = ""
            self.started = 0.0

        def __enter__(self) -> RichEvents:
            self.progress.start()
            return self

        def __exit__(self, *exc: object) -> None:
            self.progress.stop()

        def planned(self, todo, done) -> None:
            if done:
                console.print(f"[dim]{len(done)} finished subset(s) already in the results: skipped[/dim]")
            if not todo:
                console.print("Nothing to run: every selected subset is finished (use --overwrite to rerun).")
                return
            self.overall = self.progress.add_task("subsets", total=len(todo), rate="")

        def model_loading(self, name: str) -> None:
            console.print(f"Loading model [bold]{escape(name)}[/bold] …")

        def unit_started(self, unit, index: int, total: int) -> None:
            self.started = time.perf_counter()
            self.stage_name = ""
            if self.current is not None:
                self.progress.remove_task(self.current)
            self.current = self.progress.add_task(f"  {escape(unit.key)} loading", total=None, rate="")

        def stage(self, unit, stage: str, done: int, total: int) -> None:
            if self.current is None:
                return
            if stage != self.stage_name:
                self.stage_name = stage
                self.progress.reset(self.current, total=total, completed=0,
                                    description=f"  {escape(unit.key)} {stage}", rate="")
            task = self.progress.tasks[self.progress.task_ids.index(self.current)]
            rate = f"{task.speed:.1f} {stage}/s" if task.speed and stage in ("queries", "pages") else ""
            self.progress.update(self.current, completed=done, total=total, rate=rate)

        def unit_finished(self, unit, result) -> None:
            seconds = time.perf_counter() - self.started
            extra = ""
            if result.timings.pages_per_second:
                extra = f", {result.timings.pages_per_second:.1f} pages/s"
            console.print(
                f"[green]✓[/green] {escape(unit.key)}  nDCG@5 {points(result.main_score)}  "
                f"[dim]({result.n_queries} queries, {result.n_pages} pages, {seconds:.1f}s{extra})[/dim]",
                highlight=False,
            )
            self._advance()

        def unit_failed(self, unit, failure) -> None:
            console.print(f"[red]✗[/red] {escape(unit.key)}  {escape(failure.error)}: {escape(failure.message)}",
                          highlight=False)
            self._advance()

        def _advance(self) -> None:
            if self.overall is not None:
                self.progress.advance(self.overall)

    return RichEvents()


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def _score(value: float | None) -> str:
    from jinavdr.report.format import points

    return "-" if value is None else points(value)


def print_report(console: Console, report: RunReport, *, verbose: bool = False) -> None:
    """The final table (nDCG@5 x100 per dataset, the mean and its coverage) and the failures."""
    from rich.markup import escape
    from rich.table import Table

    console.print(f"[bold]{escape(report.model)}[/bold]: results in "
                  f"{escape(str(report.results_dir / report.model_slug))}/")
    table = Table()
    table.add_column("dataset")
    table.add_column("subsets", justify="right")
    table.add_column("nDCG@5", justify="right")
    for d in report.datasets:
        mark = "" if d.complete else " *"
        table.add_row(escape(d.dataset), f"{d.finished}/{d.total}", _score(d.score) + mark)
    mean, covered, total = report.mean()
    table.add_section()
    table.add_row(f"mean over {covered}/{total} datasets", "", _score(mean))
    console.print(table)
    if any(not d.complete for d in report.datasets):
        console.print("[dim]* partial: not every selected subset is finished; left out of the mean[/dim]")
    console.print(f"[dim]{len(report.completed)} subset(s) run, {len(report.skipped)} already finished, "
                  f"{report.seconds:.1f}s[/dim]")
    if report.failures:
        console.print(f"[red]{len(report.failures)} subset(s) failed[/red] (finished ones are saved; fix the "
                      "cause and rerun the same command to run only the missing subsets):")
        for f in report.failures:
            console.print(f"  [red]✗[/red] {escape(str(f))}", highlight=False)
            if verbose:
                console.print(escape(f.traceback), highlight=False)


def print_plan(console: Console, plan: RunPlan) -> None:
    from rich.markup import escape
    from rich.table import Table

    def count(v: int | None) -> str:
        return "?" if v is None else f"{v:,}"

    def cached(c: int | None, n: int | None) -> str:
        return "-" if c is None else f"{c:,}/{count(n)}"

    depth = "all pages" if plan.k is None else f"top {plan.k}"
    console.print(f"[bold]dry run[/bold]: {escape(plan.model)} (slug {escape(plan.model_slug)}), protocol "
                  f"{plan.protocol}, ranking {depth}")
    table = Table()
    for col, justify in (("dataset", "left"), ("subset", "left"), ("status", "left"), ("queries", "right"),
                         ("pages", "right"), ("cached queries", "right"), ("cached pages", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for u in plan.units:
        table.add_row(escape(u.unit.dataset), escape(u.unit.subset), u.status, count(u.n_queries), count(u.n_pages),
                      cached(u.cached_queries, u.n_queries), cached(u.cached_pages, u.n_pages))
    console.print(table)
    todo = plan.todo
    pages = [u.n_pages for u in todo]
    queries = [u.n_queries for u in todo]
    total_p = "?" if any(p is None for p in pages) else f"{sum(p for p in pages if p):,}"
    total_q = "?" if any(q is None for q in queries) else f"{sum(q for q in queries if q):,}"
    console.print(f"{len(todo)} of {len(plan.units)} subset(s) to run: {total_q} queries, {total_p} pages. "
                  f"Results: {escape(str(plan.results_dir / plan.model_slug))}/")
    console.print("[dim]cached: embeddings already in the cache (-: not known without downloading the data, "
                  "or the model encodes nothing)[/dim]")
    for note in plan.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def run_command(
    model: str = typer.Option(..., "--model", "-m", help="Model name (`jinavdr models`), st:<id>, mteb:<name> or python:mod:Class."),
    tasks: list[str] = typer.Option(..., "--tasks", "-t", help="Tasks, collections (jinavdr, vidore-v1, sample), NAME:LANG or folders; repeat or comma-separate.", rich_help_panel=_DATA),
    languages: list[str] = typer.Option([], "--languages", help="Keep only these language subsets.", rich_help_panel=_DATA),
    domains: list[str] = typer.Option([], "--domains", help="Keep only datasets of these domains.", rich_help_panel=_DATA),
    formats: list[str] = typer.Option([], "--formats", help="Keep only datasets of these document formats.", rich_help_panel=_DATA),
    shard: str | None = typer.Option(None, "--shard", help="Run only part i of n (0-based, e.g. 3/8) of the selected subsets, balanced by expected page pixels: for job arrays.", rich_help_panel=_DATA),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", help="Results root; files go to <root>/<model-slug>/<dataset>.json.", rich_help_panel=_RUN),
    protocol: str = typer.Option(DEFAULT_PROTOCOL, "--protocol", help="beir (MTEB's, BEIR copies) or paper (jina-vdr's, QA copies).", rich_help_panel=_RUN),
    k: int | None = typer.Option(None, "--k", help="Ranking depth per query (default 100; paper ranks every page).", rich_help_panel=_RUN),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Pages per model call (default 8 for image models, 32 for text models).", rich_help_panel=_RUN),
    query_batch_size: int | None = typer.Option(None, "--query-batch-size", help="Queries per model call (default 32).", rich_help_panel=_RUN),
    num_workers: str = typer.Option("auto", "--num-workers", help="Page decoding and preparation processes, started once per run; auto: none on the CPU, on a GPU the cores less 2 (at most 8).", rich_help_panel=_RUN),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: cuda when available).", rich_help_panel=_RUN),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the embedding cache.", rich_help_panel=_RUN),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache folder (default $JINAVDR_CACHE or ~/.cache/jinavdr/embeddings).", rich_help_panel=_RUN),
    strict: bool = typer.Option(False, "--strict", help="Fail when loaded counts differ from the task file.", rich_help_panel=_RUN),
    overwrite: bool = typer.Option(False, "--overwrite", help="Rerun finished subsets; replace files with other settings (kept as .bak).", rich_help_panel=_RUN),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (subsets, counts, cached) and exit; nothing is encoded.", rich_help_panel=_RUN),
    save_run: bool = typer.Option(False, "--save-run", help="Also write TREC run files to <slug>/runs/<dataset>__<subset>.trec.", rich_help_panel=_RUN),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks of failed subsets.", rich_help_panel=_RUN),
    dtype: str | None = typer.Option(None, "--dtype", help="Model dtype (bfloat16, float16, float32).", rich_help_panel=_PANEL),
    vector_type: str | None = typer.Option(None, "--vector-type", help="single or multi (models with both).", rich_help_panel=_PANEL),
    max_pixels: int | None = typer.Option(None, "--max-pixels", help="Image budget per page.", rich_help_panel=_PANEL),
    truncate_dim: int | None = typer.Option(None, "--truncate-dim", help="Matryoshka truncation of single vectors.", rich_help_panel=_PANEL),
    attn: str | None = typer.Option(None, "--attn", help="Attention implementation (models that declare it).", rich_help_panel=_PANEL),
    model_id: str | None = typer.Option(None, "--model-id", help="Another checkpoint: Hub id or local folder.", rich_help_panel=_PANEL),
    revision: str | None = typer.Option(None, "--revision", help="Hub commit, branch or tag of the checkpoint.", rich_help_panel=_PANEL),
    option: list[str] = typer.Option([], "--option", "-o", help="Any model option as key=value (repeatable).", rich_help_panel=_PANEL),
    allow_unpinned: bool = typer.Option(False, "--allow-unpinned", help="Run remote model code at an unpinned revision.", rich_help_panel=_PANEL),
) -> None:
    """Evaluate a model on tasks; finished subsets are kept and skipped on a rerun."""
    from rich.console import Console

    from jinavdr.errors import JinaVDRError
    from jinavdr.execution.distributed import is_main_process

    console = Console(highlight=False, quiet=not is_main_process())  # torchrun: only rank 0 prints progress
    err = Console(stderr=True, highlight=False)
    _quiet_libraries()
    try:
        model_options = _model_options(
            option, dtype=dtype, vector_type=vector_type, max_pixels=max_pixels, truncate_dim=truncate_dim,
            attn=attn, model_id=model_id, revision=revision,
        )
        from jinavdr import api
        from jinavdr.execution.request import RunRequest

        request = RunRequest(
            model, tuple(tasks), results_dir=results_dir, protocol=protocol, k=k,
            batch_size=batch_size, query_batch_size=query_batch_size, num_workers=num_workers, device=device,
            allow_unpinned=allow_unpinned, use_cache=not no_cache, cache_dir=cache_dir, strict=strict,
            languages=languages or None, domains=domains or None, formats=formats or None, shard=shard,
            overwrite=overwrite, save_run=save_run, model_options=model_options,
        )  # fmt: skip
        if dry_run:
            print_plan(console, api.plan_request(request))
            return
        with _progress_events(console) as events:
            report = api.run_request(request, events=events, allow_failures=True)
    except JinaVDRError as exc:
        fail(exc, err)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: finished subsets are saved; rerun the same command to resume.")
        raise typer.Exit(130) from None
    print_report(console, report, verbose=verbose)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _quiet_libraries() -> None:
    """No per-file progress bars from datasets under our own progress display."""
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover - datasets is a core dependency
        pass


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
