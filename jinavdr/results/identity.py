"""Settings identity: what makes two runs comparable. The one rule used by resume, merge and compare.

A run's identity is a flat mapping ``name -> value`` read from its manifest (:func:`identity`):

- the *evaluation* settings: ``protocol``, ``dataset_repo`` (machine-independent, :func:`portable_repo`),
  ``dataset_revision``, ``dtype``, every model option ``settings.<key>`` and every run option
  ``run_options.<key>`` except the informational ones (:data:`UNCOMPARED_RUN_OPTIONS`);
- with ``model=True`` also the *model* identity: ``adapter``, ``model_id``, ``model_revision`` and the
  settings keys that name a checkpoint (:data:`MODEL_IDENTITY_KEYS`).

Resume and merge (:func:`jinavdr.results.store.check_compatible`) compare the full identity: only the
same model with the same settings may extend a file. The gate (:mod:`jinavdr.report.compare`)
compares the evaluation settings only (:func:`evaluation_settings`): two models, one evaluation.
Everything else in a manifest (versions, hostname, device, batch sizes, dates) describes the
environment and never counts. Values are compared after a JSON round trip (:func:`normalised`), so a
tuple equals a list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinavdr.catalogue.loaders import is_content_revision
from jinavdr.results.schema import Manifest, ResultFile

__all__ = [
    "ABSENT",
    "EVALUATION_FIELDS",
    "IDENTITY_FIELDS",
    "LOCAL_DATA",
    "MODEL_FIELDS",
    "MODEL_IDENTITY_KEYS",
    "UNCOMPARED_RUN_OPTIONS",
    "differences",
    "evaluation_settings",
    "identity",
    "normalised",
    "portable_repo",
]

#: Manifest fields that name the model (compared by resume and merge, never by the gate).
MODEL_FIELDS: tuple[str, ...] = ("adapter", "model_id", "model_revision")
#: Manifest fields compared as a whole by every check (``settings`` and ``run_options`` go key by key).
EVALUATION_FIELDS: tuple[str, ...] = ("protocol", "dataset_repo", "dataset_revision", "dtype")
#: Every identity field in the order differences are listed by resume and merge.
IDENTITY_FIELDS: tuple[str, ...] = (
    "adapter", "model_id", "model_revision", "settings", "dtype", "dataset_repo", "dataset_revision",
    "protocol", "run_options",
)
#: Keys of ``manifest.settings`` that name the model rather than how it is evaluated
#: (``commit``, ``resolved_revision``, ``base_revision``: the checkpoint revisions adapters resolve).
MODEL_IDENTITY_KEYS: frozenset[str] = frozenset(
    {"adapter", "model_id", "revision", "model_revision", "commit", "resolved_revision", "base_revision"}
)
#: ``run_options`` keys recorded for information only, never compared: ``scoring`` (the scorer's
#: block grid and device, :func:`jinavdr.engine.scoring.scoring_settings`) differs between a CPU and a
#: GPU run of one model, which agree up to the last float bit, so a run may resume on another device.
UNCOMPARED_RUN_OPTIONS: frozenset[str] = frozenset({"scoring"})
#: ``dataset_repo`` as compared for local data with a content revision: the folder may be anywhere.
LOCAL_DATA = "local folder"
#: The value shown for a setting one side does not record.
ABSENT = "<absent>"


def portable_repo(repo: str, revision: str | None = None, *, by_folder_name: bool = True) -> str:
    """``dataset_repo`` as compared: what identifies the data independently of the machine.

    Local data with a content revision (``sha256:...``) is :data:`LOCAL_DATA`: its path depends on
    the machine (a CI checkout is elsewhere than a developer's) and the revision already proves the
    content equal. A Hub id is kept as is; a local folder recorded without a content revision (older
    files) is compared by its folder name (``by_folder_name``, the gate) or by its full path (resume).
    """
    if is_content_revision(revision):
        return LOCAL_DATA
    return f"local:{Path(repo).name}" if by_folder_name and Path(repo).is_absolute() else repo


def identity(manifest: Manifest, *, model: bool = True, by_folder_name: bool = False) -> dict[str, Any]:
    """The compared settings of a manifest as flat names (see the module rules), values as recorded."""
    out: dict[str, Any] = {}
    for name in IDENTITY_FIELDS:
        value = getattr(manifest, name)
        if name in MODEL_FIELDS and not model:
            continue
        if name == "dataset_repo":
            out[name] = portable_repo(value, manifest.dataset_revision, by_folder_name=by_folder_name)
        elif name in ("settings", "run_options"):
            skip = UNCOMPARED_RUN_OPTIONS if name == "run_options" else frozenset() if model else MODEL_IDENTITY_KEYS
            for key in sorted(value, key=str):
                if key not in skip:
                    out[f"{name}.{key}"] = value[key]
        else:
            out[name] = value
    return out


def evaluation_settings(result: ResultFile) -> dict[str, Any]:
    """What must match between a gate's baseline and candidate (flat names, normalised values)."""
    out = {"main_metric": result.main_metric, **identity(result.manifest, model=False, by_folder_name=True)}
    return {key: normalised(value) for key, value in out.items()}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(name, old value, new value)`` for each identity entry that differs, in identity order.

    A name one side lacks shows :data:`ABSENT` on that side and equals a recorded None (an option
    recorded as None is an option not set).
    """
    def order(name: str) -> tuple[int, str]:
        field = name.partition(".")[0]
        return (IDENTITY_FIELDS.index(field) if field in IDENTITY_FIELDS else -1, name)

    return [
        (name, old.get(name, ABSENT), new.get(name, ABSENT))
        for name in sorted(set(old) | set(new), key=order)
        if normalised(old.get(name)) != normalised(new.get(name))
    ]


def normalised(value: Any) -> Any:
    """JSON round trip, so tuples equal lists and values compare as they are stored."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
