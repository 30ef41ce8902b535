"""TREC run files: ``qid Q0 docid rank score tag``, one line per retrieved page, ranks from 1.

Scores are written with 9 significant digits, which round-trips float32 exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from jinavdr.models.ranking import Run

_SPACE = re.compile(r"\s")


def _check_id(kind: str, value: str) -> str:
    if not value or _SPACE.search(value):
        raise ValueError(f"{kind} {value!r} cannot be written to a TREC run file (empty or contains whitespace)")
    return value


def run_lines(run: Run, tag: str) -> Iterator[str]:
    """The lines of ``run`` in TREC format, in the run's rank order (descending score)."""
    tag = _check_id("run tag", tag)
    for qi, qid in enumerate(run.query_ids):
        _check_id("query id", qid)
        rank = 0
        for idx, score in zip(run.indices[qi], run.scores[qi], strict=True):
            if idx < 0:
                continue
            rank += 1
            doc = _check_id("document id", run.doc_ids[int(idx)])
            yield f"{qid} Q0 {doc} {rank} {float(score):.9g} {tag}"


def write_run(path: Path, run: Run, tag: str) -> Path:
    """Write ``run`` as a TREC run file at ``path`` (atomically; folders are created)."""
    from jinavdr.results.store import write_atomic

    path = Path(path)
    write_atomic(path, "".join(line + "\n" for line in run_lines(run, tag)))
    return path


def read_run(path: Path) -> dict[str, dict[str, float]]:
    """Read a TREC run file into ``{qid: {docid: score}}``."""
    out: dict[str, dict[str, float]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise ValueError(f"{path}:{n}: expected 6 columns (qid Q0 docid rank score tag), got {len(parts)}")
        out.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return out
