"""``jinavdr leaderboard``: result files -> a deterministic markdown / HTML / CSV leaderboard."""

from __future__ import annotations

from pathlib import Path

import typer

from jinavdr.cli._common import fail


def leaderboard_command(
    results: list[Path] = typer.Argument(None, help="Result files or folders (default: results/)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here (e.g. leaderboard/README.md); default: print to stdout."
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="md, html or csv (default: from the --output suffix, else md)."
    ),
    collection: str | None = typer.Option(
        None,
        "--collection",
        "-c",
        help="Expected datasets for coverage: jinavdr, vidore-v1, vidore-v2, sample, or 'results' (the "
        "datasets found). Default: the smallest collection holding every result's dataset.",
    ),
    with_references: bool | None = typer.Option(
        None,
        "--with-references/--no-with-references",
        help="Show the paper's published numbers (default: on for the jinavdr collection).",
    ),
    references: Path | None = typer.Option(
        None, "--references", help="Reference table (default: leaderboard/paper-scores.csv)."
    ),
    reference: list[str] = typer.Option(
        [],
        "--reference",
        help="Compare a measured model with a published one: MODEL=REFERENCE, e.g. "
        "'jina-v4=jina-embeddings-v4 (single-vector)'. Repeatable; known adapters map automatically.",
    ),
    charts: bool = typer.Option(
        True, "--charts/--no-charts", help="Write PNG charts next to --output (md and html only)."
    ),
    min_coverage: float = typer.Option(
        0.5, "--min-coverage", help="Fraction of the collection's datasets a model needs to be ranked."
    ),
    alpha: float = typer.Option(
        0.05, "--alpha", help="Significance level of the tie markers (Holm-adjusted)."
    ),
    n_resamples: int = typer.Option(10_000, "--n-resamples", help="Resamples of the randomisation tests."),
    n_bootstrap: int = typer.Option(1_000, "--n-bootstrap", help="Resamples of the bootstrap intervals."),
    seed: int = typer.Option(0, "--seed", help="Seed of the tests and intervals."),
) -> None:
    """Build the leaderboard of result files: summary, per dataset, per language, domain and format.

    The same inputs give byte-identical output. Models covering fewer datasets are ranked on the
    datasets every ranked model shares (see docs/leaderboard.md for every rule).
    """
    from jinavdr.errors import JinaVDRError
    from jinavdr.report.leaderboard import LeaderboardOptions, leaderboard_from_paths
    from jinavdr.report.render import FORMATS, format_for, render, write_output

    try:
        if fmt is not None and fmt not in FORMATS:
            from jinavdr.errors import UnknownNameError

            raise UnknownNameError("format", fmt, FORMATS)
        options = LeaderboardOptions(  # bad values raise ArgumentError, shown with their flags
            min_coverage=min_coverage,
            alpha=alpha,
            n_resamples=n_resamples,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
        board = leaderboard_from_paths(
            results or [Path("results")],
            collection=collection,
            with_references=with_references,
            references_path=references,
            reference_pairs=reference,
            options=options,
        )
        if output is None:
            typer.echo(render(board, fmt or "md"), nl=False)
            return
        written = write_output(board, output, fmt or format_for(output), charts=charts)
    except JinaVDRError as exc:
        fail(exc)
    ranked = sum(1 for r in board.summary if r.rank is not None)
    typer.echo(
        f"leaderboard of {len(board.measured)} models ({ranked} ranked) on {len(board.datasets)} datasets "
        f"of '{board.collection}': " + ", ".join(str(p) for p in written),
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("leaderboard")(leaderboard_command)
