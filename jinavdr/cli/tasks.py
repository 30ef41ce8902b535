"""``jinavdr tasks``: list the task catalogue (with filters) or show one task in full."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from jinavdr.cli._common import fail

if TYPE_CHECKING:
    from rich.console import Console

    from jinavdr.catalogue.tasks import Selected, TaskSpec

_MAX_LANGS = 8


def _count(values: list[int | None]) -> str:
    return "?" if any(v is None for v in values) else f"{sum(v for v in values if v is not None):,}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _languages(langs: tuple[str, ...] | list[str]) -> str:
    if not langs:
        return "-"
    if len(langs) <= _MAX_LANGS:
        return " ".join(langs)
    return " ".join(langs[:_MAX_LANGS]) + f" … ({len(langs)})"


def _print_list(console: Console, selection: list[Selected]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False)
    for header, justify in (
        ("name", "left"), ("collection", "left"), ("domain", "left"), ("format", "left"),
        ("languages", "left"), ("subsets", "right"), ("queries", "right"), ("pages", "right"),
    ):  # fmt: skip
        table.add_column(header, justify=justify, no_wrap=header == "name")  # type: ignore[arg-type]
    for task, subsets in selection:
        langs = list(dict.fromkeys(lang for s in subsets for lang in (s.languages or ("?",))))
        table.add_row(
            escape(task.name),
            task.collection,
            escape(task.domain),
            escape(task.document_format),
            _languages(langs),
            str(len(subsets)),
            _count([s.queries for s in subsets]),
            _count([s.pages for s in subsets]),
        )
    console.print(table)
    subsets = [s for _, ss in selection for s in ss]
    queries, pages = _count([s.queries for s in subsets]), _count([s.pages for s in subsets])
    unknown = " ('?': not known)" if "?" in (queries, pages) else ""
    console.print(
        f"{_plural(len(selection), 'task')}, {_plural(len(subsets), 'subset')}, {queries} queries, "
        f"{pages} pages{unknown}",
        highlight=False,
    )


def _print_task(console: Console, task: TaskSpec) -> None:
    from rich.markup import escape
    from rich.table import Table

    fields = {
        "name": task.name,
        "description": task.description,
        "aliases": ", ".join(task.aliases) or "-",
        "collections": ", ".join(task.collections) or "-",
        "repo": task.repo + (" (local folder)" if task.is_local else ""),
        "revision": task.revision or "-",
        "layout": task.layout,
        "QA copy": task.qa_repo or "-",
        "domain": task.domain,
        "document format": task.document_format,
        "query format": task.query_format,
        "languages": " ".join(task.languages) or "-",
        "multilingual": "yes" if task.multilingual else "no",
        "MTEB task": task.mteb_name or "-",
        "MTEB domains": ", ".join(task.mteb_domains) or "-",
        "main metric": task.main_metric,
    }
    width = max(map(len, fields))
    for key, value in fields.items():
        console.print(f"[bold]{key:<{width}}[/bold]  {escape(value)}", highlight=False)
    table = Table(title=f"{task.name}: {len(task.subsets)} subsets")
    for header in ("subset", "languages", "data_dir", "queries", "pages", "qrels", "max rel/query", "avg size"):
        table.add_column(header, justify="left" if header in ("subset", "languages", "data_dir") else "right")
    for s in task.subsets:
        table.add_row(
            escape(s.name),
            " ".join(s.languages) or "-",
            escape(s.data_dir or "."),
            _count([s.queries]),
            _count([s.pages]),
            _count([s.qrels]),
            _count([s.max_rel_per_query]),
            f"{s.images.avg_w}x{s.images.avg_h}" if s.images else "?",
        )
    console.print(table)


def tasks_command(
    names: list[str] | None = typer.Argument(
        None,
        help="Collections (jinavdr/all, vidore-v1, vidore-v2, sample), task names, NAME:LANG or folder paths. "
        "Default: every collection. `jinavdr tasks show NAME` shows one task in full.",
        show_default=False,
    ),
    languages: str | None = typer.Option(
        None, "--languages", "-l", help="Keep subsets in these languages, comma-separated (ja = jp)."
    ),
    domains: str | None = typer.Option(None, "--domains", "-d", help="Keep tasks of these domains, comma-separated."),
    formats: str | None = typer.Option(
        None, "--formats", "-f", help="Keep tasks of these document formats, comma-separated."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the task catalogue, or show one task with `jinavdr tasks show NAME`."""
    from rich.console import Console

    from jinavdr.catalogue.tasks import get_task, load_catalogue
    from jinavdr.errors import JinaVDRError

    console = Console()
    try:
        if names and names[0] == "show":
            if len(names) != 2:
                raise typer.BadParameter("usage: jinavdr tasks show NAME")
            task = get_task(names[1])
            if as_json:
                typer.echo(json.dumps(task.model_dump(mode="json"), indent=1))
            else:
                _print_task(console, task)
            return
        catalogue = load_catalogue()
        chosen = names or [c for c in ("jinavdr", "vidore-v1", "vidore-v2", "sample") if c in catalogue.collections]
        selection = catalogue.select(chosen, languages=languages, domains=domains, formats=formats)
    except JinaVDRError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([_task_json(task, subsets) for task, subsets in selection], indent=1))
        return
    _print_list(console, selection)


def _task_json(task: TaskSpec, subsets: list) -> dict:
    return {"name": task.name, "collection": task.collection, "domain": task.domain,
            "document_format": task.document_format, "repo": task.repo, "revision": task.revision,
            "subsets": [{"name": s.name, "languages": list(s.languages), "queries": s.queries, "pages": s.pages}
                        for s in subsets]}


def register(app: typer.Typer) -> None:
    app.command("tasks")(tasks_command)
