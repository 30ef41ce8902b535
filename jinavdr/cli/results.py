"""``jinavdr export --format mteb`` and ``jinavdr import``: MTEB TaskResult files in and out."""

from __future__ import annotations

from pathlib import Path

import typer

from jinavdr.cli._common import fail


def export_command(
    results: list[Path] = typer.Argument(..., help="Result files or folders (a model folder or a results root)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write <model>/<revision>/<Task>.json into "
                             "(MTEB's results/ layout, e.g. ~/.cache/mteb/results)."),
    fmt: str = typer.Option("mteb", "--format", help="Output format; only 'mteb' exists."),
    model_name: str | None = typer.Option(None, "--model-name", help="MTEB model name (default: the model id "
                                          "in the manifest)."),
) -> None:
    """Write result files as MTEB TaskResult JSON (beir protocol only)."""
    from rich.console import Console
    from rich.markup import escape

    from jinavdr.errors import JinaVDRError
    from jinavdr.results.mteb_io import export_mteb
    from jinavdr.results.store import load_results

    console = Console(highlight=False)
    try:
        if fmt != "mteb":
            raise JinaVDRError(f"unknown export format {fmt!r}; the only format is 'mteb'")
        files = load_results(results)
        written = export_mteb(files, out, model_name=model_name)
    except JinaVDRError as exc:
        fail(exc)
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    console.print(f"{len(written)} MTEB result file(s) under {escape(str(out))}")


def import_command(
    paths: list[Path] = typer.Argument(..., help="MTEB result files, or folders searched for them."),
    out: Path = typer.Option(Path("results"), "--out", "-o", help="Results root to write into."),
    model_name: str | None = typer.Option(None, "--model-name", help="Model name to record (default: "
                                          "model_meta.json's name, or the folder name)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace result files of the same model made "
                                   "with other settings (kept as .bak)."),
) -> None:
    """Read MTEB TaskResult files into jinavdr result files (no per-query values)."""
    from rich.console import Console
    from rich.markup import escape

    from jinavdr.errors import JinaVDRError
    from jinavdr.results.mteb_io import import_mteb

    console = Console(highlight=False)
    try:
        written, skipped = import_mteb(paths, out, model_name=model_name, overwrite=overwrite)
    except JinaVDRError as exc:
        fail(exc)
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    for note in skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(note)}")
    console.print(f"{len(written)} result file(s) imported; per-query values are not in MTEB files, so "
                  "significance tests are unavailable for them.")
    if not written:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
    app.command("import")(import_command)
