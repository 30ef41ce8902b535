"""The one device resolver: which torch device a model encodes and a ranking is scored on.

``None`` or ``"auto"`` picks CUDA when available, else the CPU; ``"cpu"``, ``"cuda"`` and ``"cuda:N"``
are checked, so a GPU asked for on a machine without one is a clear :class:`~jinavdr.errors.JinaVDRError`
before any model is loaded, never a failure deep inside torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinavdr.errors import JinaVDRError

if TYPE_CHECKING:
    import torch

__all__ = ["check_device", "resolve_device"]


def check_device(device: str) -> None:
    """Refuse a device that is not there (:func:`resolve_device`); ``"cpu"`` is accepted without
    importing torch, so a CPU-only searcher (BM25) never loads it."""
    if device != "cpu":
        resolve_device(device)


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device for ``device`` (None/"auto": cuda when available, else cpu), checked to exist."""
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise JinaVDRError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise JinaVDRError(
                f"device {str(device)!r} was asked for but CUDA is not available here "
                f"(torch {torch.__version__}, cuda build: {torch.version.cuda}). "
                "Use --device cpu, or install a CUDA build of torch on a machine with a GPU."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise JinaVDRError(f"device {str(device)!r} does not exist: {torch.cuda.device_count()} GPU(s) visible")
    return dev
