"""``jinavdr compare``: the regression gate (exit 0 pass, 1 regression, 2 usage or settings error).

The terminal gets a readable table; the markdown report is written only to ``--report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from jinavdr.report.compare import Comparison


def compare_command(
    baseline: Path = typer.Argument(..., help="Baseline result file or folder (e.g. results/baseline/bm25)."),
    candidate: Path = typer.Argument(..., help="Candidate result file or folder."),
    max_drop: float = typer.Option(0.5, "--max-drop", help="Largest tolerated drop of the mean, in points (x100)."),
    per_dataset: bool = typer.Option(False, "--per-dataset", help="Apply --max-drop to each dataset too."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (Holm-adjusted across datasets)."),
    min_effect: float = typer.Option(
        0.0, "--min-effect", help="Ignore significant drops smaller than this many points."
    ),
    exact: bool = typer.Option(
        False, "--exact", help="Fail on any change (either way) of any metric, per-query value or count."
    ),
    tolerance: float = typer.Option(1e-6, "--tolerance", help="What --exact counts as a change (fraction scale)."),
    require_complete: bool = typer.Option(
        False, "--require-complete", help="Fail when the candidate lacks a subset of the baseline."
    ),
    force: bool = typer.Option(False, "--force", help="Compare even when evaluation settings differ."),
    report: Path | None = typer.Option(
        None, "--report", help="Write the markdown report (for a pull-request comment) to this file."
    ),
    n_resamples: int = typer.Option(10_000, "--n-resamples", help="Resamples of the randomisation test."),
    seed: int = typer.Option(0, "--seed", help="Seed of the randomisation test."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the verdict line."),
) -> None:
    """Compare a candidate's results with a baseline's; exit 1 on a regression.

    Fails on a drop of the mean beyond --max-drop points (with --per-dataset, of any dataset) or on a
    significant drop (paired randomisation test on per-query nDCG@5). Refuses (exit 2) to compare
    results evaluated with different settings (protocol, dataset revision, ranking depth, model options
    such as max_pixels or vector type, dtype) unless --force; model id and revision may differ.
    """
    from jinavdr.errors import JinaVDRError, cli_message
    from jinavdr.report.compare import GateOptions, compare
    from jinavdr.report.format import metric_label, points, signed
    from jinavdr.report.render.gate import render_markdown, render_refusal
    from jinavdr.results.store import load_results

    try:
        options = GateOptions(
            max_drop_points=max_drop,
            alpha=alpha,
            per_dataset=per_dataset,
            min_effect_points=min_effect,
            exact=exact,
            tolerance=tolerance,
            require_complete=require_complete,
            force=force,
            n_resamples=n_resamples,
            seed=seed,
        )
        comparison = compare(load_results(baseline), load_results(candidate), options)
    except JinaVDRError as exc:
        message = cli_message(exc)
        typer.echo(f"error: {message}", err=True)
        if report is not None:
            _write_report(report, render_refusal(message))
        raise typer.Exit(exc.exit_code) from None
    if report is not None:
        _write_report(report, render_markdown(comparison))
    if quiet:
        o = comparison.overall
        verdict = "PASS" if comparison.passed else "FAIL"
        typer.echo(
            f"{verdict}: mean {metric_label(comparison.main_metric)} over {len(comparison.datasets)} datasets "
            f"{points(o.baseline)} -> {points(o.candidate)} ({signed(o.delta_points)} points)"
        )
    else:
        print_comparison(comparison, report)
    for failure in comparison.failures:
        typer.echo(f"regression: {failure}", err=True)
    raise typer.Exit(comparison.exit_code)


def print_comparison(comparison: Comparison, report: Path | None) -> None:
    """The verdict and the dataset table as a rich table for the terminal (markdown goes to --report)."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jinavdr.report.format import metric_label
    from jinavdr.report.render.gate import dataset_rows

    console = Console(highlight=False)
    metric = metric_label(comparison.main_metric)
    colour = "green" if comparison.passed else "red"
    title = "no regression" if comparison.passed else "regression"
    table = Table(title=f"[{colour}]{metric} ×100: {title}[/{colour}]", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  caption="n: subsets compared; p: Holm-adjusted across datasets", caption_justify="left")
    for header, right in (("dataset", False), ("n", True), ("baseline", True), ("candidate", True),
                          ("Δ", True), ("p", True), ("verdict", False)):
        table.add_column(header, justify="right" if right else "left", no_wrap=header != "verdict")
    rows = dataset_rows(comparison)
    for i, (dataset, subsets, _queries, base, cand, delta, p, verdict) in enumerate(rows):
        last = i == len(rows) - 1
        table.add_row(escape(dataset), subsets, base, cand, delta, p, escape(verdict),
                      style="bold" if last else None, end_section=i == len(rows) - 2)
    console.print(table)
    for name in comparison.baseline_only:
        console.print(f"in the baseline only (not compared): {escape(name)}")
    for name in comparison.candidate_only:
        console.print(f"in the candidate only (not compared): {escape(name)}")
    for difference in comparison.forced_differences:
        console.print(f"[yellow]compared despite different settings[/yellow]: {escape(difference.describe())}")
    where = f"the full report is in {escape(str(report))}" if report else "--report FILE writes the full markdown report"
    console.print(f"[dim]{where}[/dim]")


def _write_report(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write the report to {path} ({exc.strerror or exc}).", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
