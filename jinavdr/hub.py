"""The Hugging Face Hub seen from jinavdr: offline mode, one reachability probe, cached snapshots.

Everything that downloads goes through ``huggingface_hub`` at a pinned revision, so the endpoint is
whatever ``HF_ENDPOINT`` names (the Hub, a mirror, or the local test server) and the files land in the
Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``), where ``HF_HUB_OFFLINE=1`` runs find them.

:func:`probe` asks the endpoint once per process (a few seconds at most), so a run without the Hub
fails every affected subset at once instead of waiting for retries per subset; :func:`offline_help`
is the one message that says what to do.
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from jinavdr.errors import JinaVDRError

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "true", "yes", "on"}
#: Files of a model repository that no adapter loads (other frameworks' weights).
MODEL_IGNORE = ("onnx/*", "*.onnx", "*.gguf", "*.h5", "*.msgpack", "*.ot", "*.tflite", "openvino/*")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def offline_mode() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``HF_DATASETS_OFFLINE`` / ``TRANSFORMERS_OFFLINE``) is set."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


@dataclass(frozen=True)
class HubStatus:
    reachable: bool
    reason: str  # why not ("" when reachable)


@functools.lru_cache(maxsize=4)
def _probe(url: str, offline: bool, timeout: float) -> HubStatus:
    if offline:
        return HubStatus(False, "offline mode is on (HF_HUB_OFFLINE=1)")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # the server answered: reachable (a 404 or 401 on the bare endpoint is normal)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return HubStatus(False, f"{url} is unreachable ({reason})")
    return HubStatus(True, "")


def probe(timeout: float = 5.0) -> HubStatus:
    """Whether the Hub endpoint answers at all: asked once per process per endpoint (cached)."""
    return _probe(endpoint(), offline_mode(), timeout)


def offline_help(missing: list[str], prefetch_cmd: str, status: HubStatus) -> str:
    """The one message for work that needs the Hub when it cannot be had."""
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return (
        f"{len(missing)} item(s) are not in the Hugging Face cache and the Hub cannot be used: "
        f"{status.reason}. Missing: {shown}. Download them on a machine with internet access:\n"
        f"  {prefetch_cmd}\n"
        "then copy the cache (HF_HOME, default ~/.cache/huggingface) to this machine, or run the command "
        "here once the Hub is reachable; runs with HF_HUB_OFFLINE=1 then read only the cache."
    )


# -------------------------------------------------------------------------------------------------
# Cached snapshots
# -------------------------------------------------------------------------------------------------


def cached_snapshot(repo: str, repo_type: str, revision: str) -> Path | None:
    """The cache folder of ``repo`` at the 40-hex ``revision``, or None when nothing of it is cached."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{repo.replace('/', '--')}" / "snapshots" / revision
    return folder if folder.is_dir() else None


def snapshot(repo: str, repo_type: str, revision: str | None, patterns: list[str] | None = None,
             ignore: tuple[str, ...] = ()) -> Path:
    """Download (or, offline, find) ``repo`` at ``revision`` into the Hugging Face cache; the folder.

    Resumable: a file interrupted half-way is continued from its ``.incomplete`` part on the next call.
    Errors from the Hub propagate unchanged; callers turn them into messages.
    """
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo, repo_type=repo_type, revision=revision, allow_patterns=patterns,
                                  ignore_patterns=list(ignore) or None))


def require_pinned(repo: str, revision: str | None) -> str:
    if revision is None or len(revision) != 40:
        raise JinaVDRError(f"{repo}: a revision pinned to a 40-hex commit is needed to prefetch it, "
                           f"got {revision!r}")
    return revision
