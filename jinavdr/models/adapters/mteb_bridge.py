"""``mteb:<name>``: any model of MTEB's registry, loaded by MTEB's own loader, as an Encoder.

MTEB 2.x models encode a ``DataLoader`` over a ``datasets.Dataset`` (batches are dicts with a ``text``
or ``image`` list; wrappers read ``loader.dataset.features``) and need
the task metadata (for prompt selection), split, subset and prompt type. This bridge builds those
from our queries and pages:

- queries: ``{"text": [...]}`` with ``prompt_type=query``;
- pages: ``{"id", "image"}`` for models with the image modality, else ``{"id", "text"}`` (OCR)
  with ``prompt_type=document``; option ``page_input=text`` forces the OCR text.

Options: ``task`` (an MTEB task name whose metadata is passed, so task-specific prompts apply;
default: a neutral copy of a Jina-VDR task's metadata named ``JinaVDR``), ``page_input``, and
``mteb_model`` (set by the registry when ``model_id`` points the MTEB implementation at another
checkpoint, e.g. a local folder). Without ``revision``, MTEB's pinned revision is used and recorded.
Multi-vector outputs (padded [N, T, D]) become ragged embeddings with all-zero padding rows removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jinavdr.errors import JinaVDRError, UnknownNameError

if TYPE_CHECKING:
    from jinavdr.models.base import Page
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.registry import ModelSpec

_REFERENCE_TASK = "JinaVDRAirbnbSyntheticRetrieval"


def _task_metadata(task: str | None) -> Any:
    import mteb

    if task:
        try:
            return mteb.get_task(task).metadata
        except KeyError as exc:
            raise JinaVDRError(f"unknown MTEB task {task!r} (option task): {exc}") from None
    meta = mteb.get_task(_REFERENCE_TASK).metadata
    return meta.model_copy(update={"name": "JinaVDR", "prompt": None, "description": "jinavdr"})


class MTEBEncoder:
    """Wraps an MTEB model (``mteb.get_model_meta(name).load_model()``) as our Encoder."""

    def __init__(self, spec: ModelSpec, device: str = "cpu") -> None:
        import mteb

        self.spec = spec
        opts = dict(spec.options)
        self.mteb_name = opts.get("mteb_model") or spec.model_id
        try:
            meta = mteb.get_model_meta(self.mteb_name)
        except KeyError as exc:
            valid = [m.name for m in mteb.get_model_metas() if m.name]
            raise UnknownNameError("MTEB model", self.mteb_name, valid) from exc
        own_checkpoint = spec.model_id == self.mteb_name
        self.revision = spec.revision or (meta.revision if own_checkpoint else None)
        if not own_checkpoint:  # another checkpoint with MTEB's implementation
            meta = meta.model_copy(update={"name": spec.model_id, "revision": spec.revision})
        elif spec.revision and spec.revision != meta.revision:
            meta = meta.model_copy(update={"revision": spec.revision})
        self.meta = meta
        self.model = meta.load_model(device=device)
        modalities = list(meta.modalities or ["text"])
        self.page_input = opts.get("page_input") or ("image" if "image" in modalities else "text")
        if self.page_input not in ("image", "text"):
            raise JinaVDRError(f"option page_input must be 'image' or 'text', got {self.page_input!r}")
        fn = str(getattr(meta.similarity_fn_name, "value", meta.similarity_fn_name) or "cosine").lower()
        self.similarity = {"cosine": "cosine", "dot": "dot", "maxsim": "maxsim"}.get(fn)
        if self.similarity is None:
            raise JinaVDRError(f"MTEB model {self.mteb_name!r} uses {fn} similarity; not supported")
        self.task = opts.get("task")
        self.task_metadata = _task_metadata(self.task)

    def settings(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            **self.spec.settings(),
            "mteb_model": self.mteb_name,
            "resolved_revision": self.revision,
            "similarity": self.similarity,
            "page_input": self.page_input,
            "task": self.task or "JinaVDR",
            "mteb": version("mteb"),
        }

    def _run(self, column: str, values: list[Any], prompt: str, batch_size: int) -> Embeddings:
        from datasets import Dataset
        from mteb.types import PromptType
        from torch.utils.data import DataLoader

        rows = Dataset.from_dict({"id": [str(i) for i in range(len(values))], column: values})
        loader = DataLoader(
            rows,
            batch_size=batch_size,
            shuffle=False,
            collate_fn=lambda items: {k: [it[k] for it in items] for k in items[0]},
        )
        out = self.model.encode(
            loader,
            task_metadata=self.task_metadata,
            hf_split="test",
            hf_subset="default",
            prompt_type=PromptType.query if prompt == "query" else PromptType.document,
            batch_size=batch_size,
            show_progress_bar=False,
        )
        return _to_embeddings(out, self.similarity)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        return self._run("text", list(texts), "query", batch_size)

    def encode_pages(self, pages: Sequence[Page], *, batch_size: int) -> Embeddings:
        if self.page_input == "image":
            return self._run("image", [p.image for p in pages], "document", batch_size)
        return self._run("text", [p.text or "" for p in pages], "document", batch_size)


def _to_embeddings(out: Any, similarity: str) -> Embeddings:
    import numpy as np
    import torch

    from jinavdr.models.embeddings import Embeddings

    if isinstance(out, (list, tuple)):  # per-item arrays: 1-D vectors (dense) or ragged token matrices
        items = [torch.as_tensor(np.asarray(x.float().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32))
                 for x in out]
        if not items or items[0].ndim == 2:
            return Embeddings.from_list([t[t.abs().sum(-1) > 0] for t in items])
        out = torch.stack(items)
    tensor = torch.as_tensor(out.float().cpu() if isinstance(out, torch.Tensor) else np.asarray(out, dtype=np.float32))
    if tensor.ndim == 3:
        return Embeddings.from_list([t[t.abs().sum(-1) > 0] for t in tensor])
    if similarity == "cosine":
        tensor = torch.nn.functional.normalize(tensor, dim=-1)
    return Embeddings(tensor.to(torch.float32))
