"""What a result file records about how it was produced: versions, git commit, machine, memory.

Every function here is cheap and safe to call without a GPU; torch is imported only when a CUDA
device is named.
"""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from jinavdr import __version__
from jinavdr.results.schema import Manifest

#: Distribution names whose versions are recorded (import name -> candidate distribution names).
_PACKAGES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "datasets": ("datasets",),
    "pytrec_eval": ("pytrec-eval-terrier", "pytrec_eval", "pytrec-eval"),
    "numpy": ("numpy",),
    "sentence_transformers": ("sentence-transformers",),
    "pillow": ("pillow", "Pillow"),
}


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds (``2025-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can move a score (absent ones are left out)."""
    out = {"jinavdr": __version__, "python": sys.version.split()[0]}
    for name, dists in _PACKAGES.items():
        for dist in dists:
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def git_commit(path: Path | None = None) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git checkout holding ``path`` (default: the jinavdr package).

    ``(None, None)`` outside a git checkout, without git, or before the first commit.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--verify", "-q", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        if head.returncode != 0 or not head.stdout.strip():
            return None, None
        status = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


def environment_versions() -> dict[str, str]:
    """Package versions plus ``git_commit`` / ``git_dirty`` when jinavdr runs from a git checkout."""
    versions = package_versions()
    commit, dirty = git_commit()
    if commit:
        versions["git_commit"] = commit
        if dirty is not None:
            versions["git_dirty"] = str(dirty).lower()
    return versions


def gpu_name(device: str) -> str | None:
    """The CUDA device's name for a ``cuda``/``cuda:N`` device, else None."""
    if not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return str(torch.cuda.get_device_name(torch.device(device)))


@dataclass(frozen=True)
class Environment:
    """Facts about this process, gathered once per run."""

    versions: dict[str, str]
    device: str
    gpu_name: str | None
    hostname: str

    @classmethod
    def capture(cls, device: str) -> Environment:
        return cls(
            versions=environment_versions(),
            device=device,
            gpu_name=gpu_name(device),
            hostname=socket.gethostname(),
        )


def build_manifest(
    *,
    env: Environment,
    model_id: str,
    model_revision: str | None,
    adapter: str,
    settings: Mapping[str, Any],
    dataset_repo: str,
    dataset_revision: str | None,
    protocol: str,
    dtype: str | None,
    batch_sizes: Mapping[str, int],
    run_options: Mapping[str, Any],
) -> Manifest:
    """A :class:`Manifest` for one (model, dataset) from the run's settings and environment."""
    return Manifest(
        model_id=model_id,
        model_revision=model_revision,
        adapter=adapter,
        settings=_json_safe(dict(settings)),
        dataset_repo=dataset_repo,
        dataset_revision=dataset_revision,
        protocol=protocol,
        versions=dict(env.versions),
        device=env.device,
        gpu_name=env.gpu_name,
        dtype=dtype,
        batch_sizes=dict(batch_sizes),
        run_options=_json_safe(dict(run_options)),
        created_at=now_iso(),
        hostname=env.hostname,
    )


def _json_safe(value: Any) -> Any:
    """Settings as JSON stores them (tuples -> lists, unknown objects -> str)."""
    import json

    return json.loads(json.dumps(value, sort_keys=True, default=str))


# --------------------------------------------------------------------------------------------------
# Peak memory
# --------------------------------------------------------------------------------------------------


def _max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


class PeakMemory:
    """Peak memory over a block: CUDA ``max_memory_allocated`` on a GPU, else the process max RSS.

    The CPU figure is the process's high-water mark since it started (the OS offers no reset), so
    it never decreases from one subset to the next.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_mb: float | None = None

    def _cuda(self) -> Any | None:
        if not self.device.startswith("cuda"):
            return None
        import torch

        return torch.cuda if torch.cuda.is_available() else None

    @contextlib.contextmanager
    def measure(self) -> Iterator[PeakMemory]:
        cuda = self._cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats(self.device)
        try:
            yield self
        finally:
            if cuda is not None:
                self.peak_mb = cuda.max_memory_allocated(self.device) / (1024 * 1024)
            else:
                self.peak_mb = _max_rss_mb()
