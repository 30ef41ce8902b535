"""User-facing errors: each says what was wrong, where, and what to do.

The CLI prints them without a traceback and exits with ``exit_code``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class JinaVDRError(Exception):
    """Base class for errors shown to users as a message, not a traceback."""

    exit_code = 2


class UnknownNameError(JinaVDRError, KeyError):
    """An unknown task, collection, language or model name; lists close matches."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], hint: str = "") -> None:
        valid = sorted(set(valid))
        close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
        msg = f"unknown {kind} {name!r}."
        if close:
            msg += f" Did you mean: {', '.join(close)}?"
        shown = ", ".join(valid[:60]) + (" ..." if len(valid) > 60 else "")
        msg += f" Valid {kind}s: {shown}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)
        self.kind, self.name, self.close_matches = kind, name, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def install_hint(extra: str) -> str:
    """The pip command that adds ``extra`` and keeps the installed torch (pinned in the same resolve)."""
    from importlib.metadata import PackageNotFoundError, version

    target = f'"jinavdr[{extra}]"' if extra else "jinavdr"
    try:
        pin = f' "torch=={version("torch").split("+")[0]}"'
    except PackageNotFoundError:
        pin = ""
    return f"pip install {target}{pin}"


class MissingDependencyError(JinaVDRError, ImportError):
    """An optional dependency is absent; names the extra to install."""

    def __init__(self, what: str, extra: str, package: str | None = None) -> None:
        cmd = install_hint(extra)
        pkg = f" (package {package!r})" if package else ""
        super().__init__(f"{what} needs an optional dependency{pkg} that is not installed. Run: {cmd}")
        self.extra = extra


class DataError(JinaVDRError):
    """A dataset or local folder is missing parts, inconsistent, or unreachable."""


class ResultsError(JinaVDRError):
    """A results folder or file is unusable (unwritable, corrupt, unknown schema, mixed settings)."""


class ArgumentError(JinaVDRError, ValueError):
    """A bad argument value, named as the Python API spells it (``k``, ``max_drop_points``).

    :meth:`cli_message` says the same with the command-line flag (``--k``, ``--max-drop``), which the
    CLI prints instead; ``problem`` is the rest of the sentence and names no flag.
    """

    def __init__(self, argument: str, problem: str, *, flag: str | None = None, cli: str | None = None) -> None:
        self.argument, self.problem = argument, problem
        self.flag = flag or "--" + argument.replace("_", "-")
        self._cli = cli  # a whole sentence for the command line, where "<flag> <problem>" reads badly
        super().__init__(f"{argument} {problem}")

    def cli_message(self) -> str:
        return self._cli or f"{self.flag} {self.problem}"


def cli_message(exc: BaseException) -> str:
    """What the command line shows for ``exc``: flags rather than argument names where it knows them."""
    method = getattr(exc, "cli_message", None)
    return method() if callable(method) else str(exc)
