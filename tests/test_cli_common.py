"""The shared CLI error path: message intact (no markup eaten), exit code from the error."""

from __future__ import annotations

import pytest
import typer

from jinavdr.cli._common import fail
from jinavdr.errors import MissingDependencyError


def test_fail_prints_brackets_intact_and_uses_the_exit_code(capsys):
    with pytest.raises(typer.Exit) as info:
        fail(MissingDependencyError("model 'jina-v4'", "jina"))
    assert info.value.exit_code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert 'error: model \'jina-v4\' needs an optional dependency that is not installed. Run: pip install "jinavdr[jina]"' in err


def test_fail_defaults_to_exit_code_2_for_plain_errors(capsys):
    with pytest.raises(typer.Exit) as info:
        fail(ValueError("bad [value]"))
    assert info.value.exit_code == 2 and "bad [value]" in capsys.readouterr().err
