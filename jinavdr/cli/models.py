"""``jinavdr models`` (list adapters) and ``jinavdr cache info|clear`` (the embedding cache)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from jinavdr.cli._common import fail

cache_app = typer.Typer(help="Inspect or clear the embedding cache.", no_args_is_help=True)


#: Approximate parameters (billions) of each named model's default checkpoint, for the device check.
PARAMS_B = {"jina-v4": 3.75, "jina-v3": 0.57, "jina-clip-v2": 0.87, "siglip": 0.88, "dse-qwen2": 2.2,
            "bge-m3": 0.57, "colpali-v1.2": 2.9, "colpali-v1.3": 2.9, "colqwen2": 2.2, "colqwen2.5": 3.8,
            "colsmol": 0.26, "bm25": 0.0, "minilm": 0.023}


def _memory_gb() -> tuple[str, float | None]:
    """(device, memory in GB) that a model would use here: the first GPU's, else the machine's RAM."""
    import os

    try:
        import torch

        if torch.cuda.is_available():
            return "cuda", torch.cuda.get_device_properties(0).total_memory / 1e9
    except ImportError:
        pass
    try:
        return "cpu", os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return "cpu", None


def _device_check(name: str, device: str, memory: float | None) -> tuple[bool, str]:
    """Whether the weights fit: bf16 on a GPU, fp32 on CPU, plus 50% for activations."""
    params = PARAMS_B.get(name)
    if params is None or memory is None:
        return True, "unknown size"
    need = params * (2 if device == "cuda" else 4) * 1.5
    if need > memory:
        return False, f"needs ~{need:.0f} GB, {device} has {memory:.0f} GB"
    slow = " (CPU: slow)" if device == "cpu" and params > 1 else ""
    return True, f"~{need:.1f} GB of {memory:.0f} GB {device}{slow}"


def model_status(entry, reachable: Callable[[], bool], device: str, memory: float | None) -> dict:
    """The three parts of "runs here" for one entry: packages, weights, device; and what fixes each."""
    from jinavdr.execution.prefetch import model_item
    from jinavdr.models import registry

    spec = registry.resolve(entry.name)
    ok_pkgs, reason, install = registry.available(spec)
    item = model_item(spec) if entry.family != "entry-point" else None
    if item is None:
        weights, weights_ok, weights_fix = "not from the Hub", True, ""
    elif item.cached:
        weights, weights_ok, weights_fix = "cached", True, ""
    elif reachable():
        weights, weights_ok, weights_fix = "downloaded on first run (Hub reachable)", True, ""
    else:
        weights, weights_ok = "not cached, Hub unreachable", False
        weights_fix = f"jinavdr prefetch --model {entry.name} (on a machine with internet access)"
    fits, device_note = _device_check(entry.name, device, memory)
    missing = [part for part, ok in (("packages", ok_pkgs), ("weights", weights_ok), ("device", fits)) if not ok]
    return {
        "name": entry.name, "family": entry.family, "model_id": entry.model_id, "revision": entry.revision,
        "revision_note": entry.revision_note, "similarity": entry.similarity, "page_input": entry.page_input,
        "runnable": not missing, "missing": missing,
        "packages": {"ok": ok_pkgs, "detail": reason, "fix": install},
        "weights": {"ok": weights_ok, "detail": weights, "fix": weights_fix},
        "device": {"ok": fits, "detail": device_note, "fix": "" if fits else "use a GPU with more memory"},
        "description": entry.description,
        "profiles": [p.name for p in entry.profiles], "default_profile": entry.default_profile,
    }


def models_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List model adapters and whether each runs here: packages import, weights cached (or the Hub
    reachable) and the device has the memory; for each missing part, the command that fixes it."""
    import functools
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jinavdr import hub
    from jinavdr.models import registry

    reachable = functools.cache(lambda: hub.probe(timeout=3).reachable)
    device, memory = _memory_gb()
    rows = [model_status(entry, reachable, device, memory) for entry in registry.list_models()]
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    console = Console()
    table = Table(title="jinavdr models", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("checkpoint", overflow="fold")
    table.add_column("input")
    table.add_column("profiles")
    table.add_column("runs here")
    fixes: list[str] = []
    for r in rows:
        rev = f"@{r['revision'][:8]}" if r["revision"] else _unpinned(r["model_id"], r["revision_note"])
        profiles = ", ".join(f"{p}*" if p == r["default_profile"] else p for p in r["profiles"]) or "-"
        runs = "[green]yes[/green]" if r["runnable"] else f"[yellow]no[/yellow]: {', '.join(r['missing'])}"
        table.add_row(r["name"], escape(f"{r['model_id']}{rev}"), r["page_input"], profiles, runs)
        for part in r["missing"]:
            fix = r[part]["fix"] or r[part]["detail"]
            fixes.append(f"{r['name']}: {part}: {r[part]['detail']}; fix: {fix}")
    console.print(table)
    console.print("Also: st:<hub id or path>, mteb:<name>, python:module:Class. * = default profile. "
                  "Details: --json.", highlight=False)
    for line in fixes:
        console.print(escape(line), highlight=False)


def _unpinned(model_id: str, note: str) -> str:
    """What the listing says of a checkpoint without a pinned revision (a Hub id: why not pinned)."""
    if "/" not in model_id:
        return ""  # no checkpoint (bm25)
    return f" ({note})" if note else " (unpinned)"


def cache_info(
    root: Path | None = typer.Option(None, "--root", help="Cache folder (default $JINAVDR_CACHE or "
                                      "~/.cache/jinavdr/embeddings)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Size and entries per model settings."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from jinavdr.engine.cache import EmbeddingCache

    cache = EmbeddingCache(root)
    infos = cache.info()
    if as_json:
        import json

        typer.echo(json.dumps({"root": str(cache.root), "settings": [
            {"key": i.key, "slug": i.slug, "settings": i.settings, "entries": dict(i.entries), "shards": i.shards,
             "bytes": i.bytes} for i in infos]}, indent=1, default=str))
        return
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
