"""``jinavdr models`` (list adapters) and ``jinavdr cache info|clear`` (the embedding cache)."""

from __future__ import annotations

from pathlib import Path

import typer

from jinavdr.cli._common import fail

cache_app = typer.Typer(help="Inspect or clear the embedding cache.", no_args_is_help=True)


def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List model adapters: default checkpoint, similarity, page input, and whether they run here."""
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jinavdr.models import registry

    rows = []
    for entry in registry.list_models():
        spec = registry.resolve(entry.name)
        ok, reason, cmd = registry.available(spec)
        rows.append(
            {
                "name": entry.name,
                "family": entry.family,
                "model_id": entry.model_id,
                "revision": entry.revision,
                "revision_note": entry.revision_note,
                "similarity": entry.similarity,
                "page_input": entry.page_input,
                "runnable": ok,
                "missing": reason,
                "install": cmd,
                "description": entry.description,
                "profiles": [p.name for p in entry.profiles],
                "default_profile": entry.default_profile,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="jinavdr models (also: st:<hub id or path>, mteb:<name>, python:module:Class)")
    for col in ("name", "family", "default checkpoint", "profiles (* default)", "similarity", "page input",
                "runs here"):
        table.add_column(col)
    for r in rows:
        rev = f"@{r['revision'][:8]}" if r["revision"] else _unpinned(r["model_id"], r["revision_note"])
        runs = "[green]yes[/green]" if r["runnable"] else f"[yellow]no[/yellow]: {escape(r['install'] or r['missing'])}"
        profiles = ", ".join(f"{p}*" if p == r["default_profile"] else p for p in r["profiles"]) or "-"
        table.add_row(r["name"], r["family"], escape(f"{r['model_id']}{rev}"), profiles, r["similarity"],
                      r["page_input"], runs)
    Console().print(table)


def _unpinned(model_id: str, note: str) -> str:
    """What the listing says of a checkpoint without a pinned revision (a Hub id: why not pinned)."""
    if "/" not in model_id:
        return ""  # no checkpoint (bm25)
    return f" ({note})" if note else " (unpinned)"


def cache_info(
    root: Path | None = typer.Option(None, "--root", help="Cache folder (default $JINAVDR_CACHE or "
                                      "~/.cache/jinavdr/embeddings)."),
) -> None:
    """Size and entries per model settings."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jinavdr.engine.cache import EmbeddingCache

    cache = EmbeddingCache(root)
    infos = cache.info()
    console = Console()
    if not infos:
        console.print(f"cache {cache.root} is empty")
        return
    table = Table(title=f"embedding cache {cache.root}")
    for col in ("key", "model", "settings", "queries", "pages", "shards", "MB"):
        table.add_column(col)
    for info in infos:
        settings = {k: v for k, v in info.settings.items() if k not in ("adapter", "model_id")}
        table.add_row(
            info.key[:12],
            info.slug or str(info.settings.get("adapter", "?")),
            f"{info.settings.get('model_id', '?')} {settings}",
            str(info.entries.get("query", 0)),
            str(info.entries.get("page", 0)),
            str(info.shards),
            f"{info.bytes / 1e6:.1f}",
        )
    console.print(table)
    console.print(f"total: {sum(i.bytes for i in infos) / 1e6:.1f} MB in {len(infos)} model setting(s)")
    for info in infos:
        for damage in info.damaged:
            console.print(f"[yellow]damaged shard[/yellow] {escape(info.key[:12])}/{escape(damage)} "
                          "(set aside and re-encoded by the next run that needs it)", highlight=False)
        if info.quarantined:
            console.print(f"{info.key[:12]}: {info.quarantined} damaged shard(s) in "
                          f"{escape(str(cache.model_dir(info.key) / 'quarantine'))} (safe to delete)", highlight=False)


def cache_clear(
    model: str | None = typer.Option(None, "--model", help="Only this model: a name (all its cached "
                                     "settings, narrowed by --option), or a slug or key prefix from "
                                     "`jinavdr cache info`."),
    option: list[str] = typer.Option([], "--option", "-o", help="Model option key=value (with --model)."),
    root: Path | None = typer.Option(None, "--root", help="Cache folder."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Clear the whole cache without asking (for scripts)."),
) -> None:
    """Remove cached embeddings (all, or one model's). Clearing everything asks first unless --yes."""
    from jinavdr.engine.cache import EmbeddingCache
    from jinavdr.errors import JinaVDRError
    from jinavdr.models import registry

    cache = EmbeddingCache(root)
    try:
        if model is None:
            if not yes and not _confirm(f"Delete every cached embedding under {cache.root}?"):
                raise JinaVDRError("nothing removed: confirm the prompt, or pass --yes to clear the whole cache "
                                   "(--model clears one model's entries)")
            n = cache.clear()
        elif not model.strip():
            raise JinaVDRError("--model is empty: name a model, slug or key prefix, or leave out --model "
                               "to clear the whole cache")
        else:
            infos = cache.info()
            keys = [] if option else [i.key for i in infos if model == i.slug or i.key.startswith(model)]
            if not keys:  # a model name: every cached setting of that adapter matching --option
                spec = registry.resolve(model, **registry.parse_options(option))
                given = {k: spec.options[k] for k in registry.parse_options(option)}
                keys = [
                    i.key for i in infos
                    if i.settings.get("adapter") == spec.adapter
                    and i.settings.get("model_id") == spec.model_id
                    and all(i.settings.get(k) == v for k, v in given.items())
                ]
            n = sum(cache.clear(k) for k in keys)
    except JinaVDRError as exc:
        fail(exc)
    typer.echo(f"removed {n} model setting(s) from {cache.root}")


def _confirm(question: str) -> bool:
    """Ask on the terminal; no answer (end of input, as in a script without --yes) means no."""
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        return False


def register(app: typer.Typer) -> None:
    app.command("models")(models_command)
    cache_app.command("info")(cache_info)
    cache_app.command("clear")(cache_clear)
    app.add_typer(cache_app, name="cache")
