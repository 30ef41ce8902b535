"""The ``jinavdr`` command: a thin typer layer over the library API.

Each command group lives in its own module and registers itself on ``app``; heavy imports
(torch, datasets, transformers) happen inside commands, never at import time.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="jinavdr",
    help="Benchmark visual document retrieval models on Jina-VDR, ViDoRe and your own collections.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Modules under jinavdr.cli that define ``register(app)``; a missing one is skipped.
_COMMAND_MODULES = ("tasks", "models", "run", "prefetch", "results", "leaderboard", "compare", "shards")


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"jinavdr.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"jinavdr.cli.{name}":
                continue
            raise
        module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from jinavdr import __version__

        typer.echo(f"jinavdr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Benchmark visual document retrieval models."""


def main() -> None:
    """Entry point: user errors print as one message and an exit code, never a traceback."""
    from jinavdr.errors import JinaVDRError

    try:
        app()
    except JinaVDRError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(exc.exit_code) from None


_register_all()
