"""What every command shares: printing a user error and exiting with its code."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console


def fail(exc: Exception, console: Console | None = None) -> NoReturn:
    """Print ``error: <message>`` on stderr (markup-escaped: ``jinavdr[jina]`` stays intact), then exit
    with the error's ``exit_code`` (2 when it has none)."""
    from rich.console import Console
    from rich.markup import escape

    from jinavdr.errors import cli_message

    (console or Console(stderr=True)).print(f"[red]error:[/red] {escape(cli_message(exc))}", highlight=False)
    raise typer.Exit(getattr(exc, "exit_code", 2))
