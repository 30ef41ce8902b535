"""``jinavdr merge``: combine the result folders of ``--shard i/n`` jobs into one results folder."""

from __future__ import annotations

from pathlib import Path

import typer

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.cli._common import fail


def merge_command(
    shard_dirs: list[Path] = typer.Argument(..., help="Results folders written by the shard jobs."),
    out: Path = typer.Option(..., "--out", "-o", help="Results root to merge into (files there are kept and "
                             "extended)."),
    tasks: list[str] = typer.Option([], "--tasks", "-t", help="The task selection the shards split, to list "
                                    "missing subsets (default: each dataset's subsets in the catalogue)."),
    languages: list[str] = typer.Option([], "--languages", help="Language filter the shards used."),
    domains: list[str] = typer.Option([], "--domains", help="Domain filter the shards used."),
    formats: list[str] = typer.Option([], "--formats", help="Format filter the shards used."),
    protocol: str = typer.Option(DEFAULT_PROTOCOL, "--protocol", help="Protocol the shards used (beir or paper)."),
    require_complete: bool = typer.Option(False, "--require-complete", help="Exit with code 1 when a selected "
                                          "subset is missing."),
) -> None:
    """Merge shard result folders; refuses mixed settings and reports missing subsets."""
    from rich.console import Console
    from rich.markup import escape

    from jinavdr.errors import JinaVDRError
    from jinavdr.execution.shards import merge

    console = Console(highlight=False)
    try:
        expected = None
        if tasks:
            from jinavdr.api import work_units

            expected = work_units(tasks, protocol=protocol, languages=languages or None, domains=domains or None,
                                  formats=formats or None)
        report = merge(shard_dirs, out, expected=expected)
    except JinaVDRError as exc:
        fail(exc)
    for path in report.written:
        console.print(f"wrote {escape(str(path))}")
    console.print(f"{report.subsets} subset(s) in {len(report.written)} file(s) from {report.inputs} input file(s)"
                  + (f"; {report.duplicates} duplicate subset(s) with equal scores kept once" if report.duplicates
                     else ""))
    if report.missing:
        console.print(f"[yellow]{len(report.missing)} subset(s) missing[/yellow] (rerun their shard with the same "
                      "command; finished subsets are skipped):")
        for key in report.missing:
            console.print(f"  {escape(key)}")
        if require_complete:
            raise typer.Exit(1)
    else:
        console.print("complete: no selected subset is missing")


def register(app: typer.Typer) -> None:
    app.command("merge")(merge_command)
