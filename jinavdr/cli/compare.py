"""``jinavdr compare``: the regression gate (exit 0 pass, 1 regression, 2 usage or settings error)."""

from __future__ import annotations

from pathlib import Path

import typer


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
    report: Path | None = typer.Option(None, "--report", help="Write the markdown report to this file."),
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
    from jinavdr.errors import JinaVDRError
    from jinavdr.report.compare import GateOptions, compare
    from jinavdr.report.format import metric_label, points, signed
    from jinavdr.report.render.gate import render_markdown, render_refusal
    from jinavdr.results.store import load_results

    try:
        options = GateOptions(
            max_drop=max_drop,
            alpha=alpha,
            per_dataset=per_dataset,
            min_effect=min_effect,
            exact=exact,
            tolerance=tolerance,
            require_complete=require_complete,
            force=force,
            n_resamples=n_resamples,
            seed=seed,
        )
        comparison = compare(load_results(baseline), load_results(candidate), options)
    except JinaVDRError as exc:
        typer.echo(f"error: {exc}", err=True)
        if report is not None:
            _write_report(report, render_refusal(str(exc)))
        raise typer.Exit(exc.exit_code) from None
    markdown = render_markdown(comparison)
    if report is not None:
        _write_report(report, markdown)
    if quiet:
        o = comparison.overall
        verdict = "PASS" if comparison.passed else "FAIL"
        typer.echo(
            f"{verdict}: mean {metric_label(comparison.main_metric)} over {len(comparison.datasets)} datasets "
            f"{points(o.baseline)} -> {points(o.candidate)} ({signed(o.delta)} points)"
        )
    else:
        typer.echo(markdown, nl=False)
    for failure in comparison.failures:
        typer.echo(f"regression: {failure}", err=True)
    raise typer.Exit(comparison.exit_code)


def _write_report(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write the report to {path} ({exc.strerror or exc}).", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
