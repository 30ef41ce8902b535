"""The run request: one frozen object that carries a run's options from the CLI and the API to the runner.

:class:`RunRequest` holds what was asked for (model and its options, task selection, protocol, depth,
batching, cache, results folder, shard, device); :meth:`RunRequest.run_options` checks the evaluation
options against the protocol and returns the runner's :class:`~jinavdr.execution.runner.RunOptions`.
Both are frozen: nothing downstream changes what the user asked for (the runner derives what it needs,
e.g. a text model's page batch, into copies). ``jinavdr.api.run`` and ``jinavdr.api.plan`` build one
and share its preparation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinavdr.catalogue.tasks import DEFAULT_PROTOCOL
from jinavdr.errors import ArgumentError
from jinavdr.execution.runner import RunOptions

__all__ = ["RunRequest"]

Selection = str | tuple[str, ...] | None


def _selection(value: Any) -> Selection:
    """A name, or names as a tuple (so the request stays hashable and immutable)."""
    if value is None or isinstance(value, str):
        return value
    return tuple(value)


@dataclass(frozen=True)
class RunRequest:
    """Everything a run (or a dry run) is asked for; see :func:`jinavdr.api.run` for each option."""

    model: str
    tasks: Selection = "jinavdr"
    results_dir: Path = Path("results")
    protocol: str = DEFAULT_PROTOCOL
    k: int | None = None
    batch_size: int | None = None
    query_batch_size: int | None = None
    #: page preparation processes, or "auto" (none on the CPU; on a GPU, see
    #: :func:`jinavdr.engine.workers.auto_workers`)
    num_workers: int | str = "auto"
    device: str | None = None
    allow_unpinned: bool = False
    use_cache: bool = True
    cache_dir: Path | None = None
    strict: bool = False
    languages: Selection = None
    domains: Selection = None
    formats: Selection = None
    shard: str | tuple[int, int] | None = None
    overwrite: bool = False
    save_run: bool = False
    #: model options for the registry (``vector``, ``max_pixels``, ...); None values are dropped.
    model_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tasks", "languages", "domains", "formats"):
            object.__setattr__(self, name, _selection(getattr(self, name)))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        options = {k: v for k, v in self.model_options.items() if v is not None}
        object.__setattr__(self, "model_options", MappingProxyType(options))

    def workers(self, device: str = "cpu") -> int:
        """``num_workers`` as a number of processes (``"auto"`` resolved for ``device``)."""
        value = self.num_workers
        if isinstance(value, str) and value.strip().lower() == "auto":
            from jinavdr.engine.workers import auto_workers

            return auto_workers(device)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ArgumentError("num_workers", f"must be a number of processes (0 or more) or 'auto', got {value!r}")
        return value

    def run_options(self, device: str = "cpu") -> RunOptions:
        """The runner's evaluation options, checked: depth against the protocol, sizes >= 1; the
        workers for ``device``."""
        from jinavdr.evaluation.protocols import get_protocol

        proto = get_protocol(self.protocol)
        if proto.depth is None and self.k is not None:
            raise ArgumentError(
                "k", f"does not apply to protocol {self.protocol!r}: it ranks the whole corpus. Leave it out."
            )
        depth = proto.depth if self.k is None else self.k
        if depth is not None and depth < 1:
            raise ArgumentError("k", f"must be at least 1, got {self.k}")
        for name, value in (("batch_size", self.batch_size), ("query_batch_size", self.query_batch_size)):
            if value is not None and value < 1:
                raise ArgumentError(name, f"must be at least 1, got {value}")
        return RunOptions(
            protocol=proto.name, k=depth, batch_size=self.batch_size, query_batch_size=self.query_batch_size,
            num_workers=self.workers(device), use_cache=self.use_cache, cache_dir=self.cache_dir,
            strict=self.strict, overwrite=self.overwrite, save_run=self.save_run,
        )  # fmt: skip
