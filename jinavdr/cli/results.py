"""``jinavdr export`` (MTEB TaskResult files, or model cards with a ``model-index``) and ``jinavdr import``."""

from __future__ import annotations

from pathlib import Path

import typer

from jinavdr.cli._common import fail


def export_command(
    results: list[Path] = typer.Argument(..., help="Result files or folders (a model folder or a results root)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write into: mteb writes <model>/<revision>/"
                             "<Task>.json (MTEB's results/ layout); model-index writes <model-slug>/README.md."),
    fmt: str = typer.Option("mteb", "--format", help="mteb (MTEB TaskResult JSON) or model-index (a Hub model "
                            "card whose YAML holds the evaluation results)."),
    model_name: str | None = typer.Option(None, "--model-name", help="Model name (default: the model id "
                                          "in the manifest)."),
    metric: list[str] = typer.Option([], "--metric", help="model-index: metric to export (repeatable; default "
                                     "ndcg_at_5)."),
) -> None:
    """Write result files as MTEB TaskResult JSON (beir protocol only) or as model-card metadata."""
    from rich.console import Console
    from rich.markup import escape

    from jinavdr.errors import JinaVDRError, UnknownNameError
    from jinavdr.results.store import load_results

    console = Console(highlight=False)
    try:
        if fmt not in EXPORT_FORMATS:
            raise UnknownNameError("export format", fmt, EXPORT_FORMATS)
        files = load_results(results)
        if fmt == "model-index":
            from jinavdr.catalogue.tasks import MAIN_METRIC
            from jinavdr.report.model_index import write_model_cards

            written = write_model_cards(files, out, model_name=model_name, metrics=metric or [MAIN_METRIC])
        else:
            from jinavdr.results.mteb_io import export_mteb

            written = export_mteb(files, out, model_name=model_name)
    except JinaVDRError as exc:
        fail(exc)
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    what = "model card(s) with a model-index" if fmt == "model-index" else "MTEB result file(s)"
    console.print(f"{len(written)} {what} under {escape(str(out))}")


EXPORT_FORMATS = ("mteb", "model-index")


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
