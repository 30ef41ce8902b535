"""``jinavdr prefetch``: download what a run needs (datasets and checkpoint at the pinned revisions)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from jinavdr.cli._common import fail


def prefetch_command(
    model: str | None = typer.Option(None, "--model", "-m", help="Model whose checkpoint to fetch "
                                      "(`jinavdr models`, st:<id>); leave out for datasets only."),
    tasks: list[str] = typer.Option([], "--tasks", "-t", help="Tasks, collections or NAME:LANG, as for run "
                                    "(leave out for the checkpoint only)."),
    option: list[str] = typer.Option([], "--option", "-o", help="Model option key=value (model_id, "
                                     "revision, ...), as for run."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what is missing from the cache."),
    to: Path | None = typer.Option(None, "--to", help="Download into this folder (used as HF_HOME) "
                                   "instead of the Hugging Face cache."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Download every dataset and checkpoint a run needs, so that HF_HUB_OFFLINE=1 runs work."""
    if to is not None:  # before huggingface_hub is imported: its cache paths are read at import time
        os.environ["HF_HOME"] = str(to.expanduser().resolve())
        os.environ.pop("HF_HUB_CACHE", None)
    from rich.console import Console

    from jinavdr import hub
    from jinavdr.catalogue.tasks import select
    from jinavdr.errors import JinaVDRError
    from jinavdr.execution import prefetch
    from jinavdr.models import registry

    console = Console(stderr=as_json)
    try:
        names = [t for arg in tasks for t in arg.split(",") if t.strip()]
        if not names and not model:
            raise JinaVDRError("nothing to prefetch: give --model, --tasks or both")
        selected = select(names) if names else []
        spec = registry.resolve(model, **registry.parse_options(option)) if model else None
        items = prefetch.plan(spec, selected)
        todo = prefetch.missing(items)
        if todo and not dry_run:
            status = hub.probe()
            if not status.reachable:
                raise JinaVDRError(f"cannot download {len(todo)} item(s): {status.reason}. Run prefetch "
                                   "on a machine with internet access (unset HF_HUB_OFFLINE), then copy the "
                                   "cache (HF_HOME) here.")
            prefetch.estimate_sizes(todo)
    except JinaVDRError as exc:
        fail(exc)
    if as_json and dry_run:
        typer.echo(json.dumps([i.to_json() for i in items], indent=1))
        raise typer.Exit(0 if not todo else 1)
    for item in items:
        state = "cached" if item.cached else "missing"
        console.print(f"{state:8} {item.label}  ({len(item.used_by)} use(s): {', '.join(item.used_by[:3])}"
                      f"{' ...' if len(item.used_by) > 3 else ''})", highlight=False)
    if not todo:
        console.print(f"everything is cached ({len(items)} item(s)): HF_HUB_OFFLINE=1 runs will find it")
        raise typer.Exit(0)
    if dry_run:
        console.print(f"{len(todo)} of {len(items)} item(s) missing; download with the same command without "
                      "--dry-run")
        raise typer.Exit(1)
    sizes = [i.size for i in todo]
    total = prefetch.format_size(sum(sizes) if all(s is not None for s in sizes) else None)
    console.print(f"downloading {len(todo)} item(s), {total} in all")
    try:
        commits = prefetch.fetch(todo, lambda i, it: console.print(
            f"[{i + 1}/{len(todo)}] {it.label}: {prefetch.format_size(it.size)}", highlight=False))
    except JinaVDRError as exc:
        fail(exc)
    for item, commit in zip(todo, commits, strict=True):
        if item.revision is None:
            console.print(f"note: {item.repo} is unpinned; fetched main = {commit}")
    home = f"HF_HOME={os.environ['HF_HOME']} " if to is not None else ""
    console.print(f"done. Offline runs: {home}HF_HUB_OFFLINE=1 jinavdr run ...", highlight=False)
    if as_json:
        typer.echo(json.dumps([i.to_json() for i in items], indent=1))


def register(app: typer.Typer) -> None:
    app.command("prefetch")(prefetch_command)
