"""Shared base for transformers-based adapters: device, dtype, attention, loading, pooling helpers.

An adapter subclasses :class:`HFEncoder`, loads its model in ``__init__`` and implements two methods
that embed one batch: ``_embed_queries(texts)`` and ``_embed_pages(items)``, each returning one tensor
per input (``[D]`` for a dense model, ``[tokens, D]`` for a multi-vector one). The base class does the
rest: sub-batching by ``batch_size``, ``torch.inference_mode``, RGB conversion of page images,
packing into :class:`~jinavdr.models.embeddings.Embeddings` (float32, CPU) and :meth:`settings`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from jinavdr.errors import JinaVDRError
from jinavdr.models.device import resolve_device
from jinavdr.models.embeddings import Embeddings

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.models.base import Page, PageInput, Similarity
    from jinavdr.models.registry import ModelSpec

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}
ATTENTION = ("sdpa", "eager", "flash_attention_2")


# --------------------------------------------------------------------------------------------------
# Device, dtype, attention
# --------------------------------------------------------------------------------------------------


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    """The ``dtype`` option: float32/bfloat16/float16, or None/"auto" (bfloat16 on GPU, float32 on CPU)."""
    if name is None or str(name).lower() == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype = _DTYPES.get(str(name).lower())
    if dtype is None:
        raise JinaVDRError(f"unknown dtype {name!r}: use one of auto, float32, bfloat16, float16")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def fastest_attention(device: torch.device) -> str:
    """flash_attention_2 on CUDA when the flash-attn package is installed, else sdpa."""
    if device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def resolve_attention(name: str | None, device: torch.device) -> str:
    """The ``attn_implementation`` option: None/"auto" picks :func:`fastest_attention`; sdpa, eager, or
    flash_attention_2 (CUDA + flash-attn) as given. The result is recorded in the settings."""
    name = fastest_attention(device) if name in (None, "auto") else name
    if name not in ATTENTION:
        raise JinaVDRError(f"unknown attn_implementation {name!r}: use one of {', '.join(ATTENTION)}")
    if name == "flash_attention_2":
        if device.type != "cuda":
            raise JinaVDRError("attn_implementation=flash_attention_2 needs a CUDA device; use sdpa on CPU")
        if importlib.util.find_spec("flash_attn") is None:
            raise JinaVDRError(
                "attn_implementation=flash_attention_2 needs the flash-attn package: pip install flash-attn "
                "--no-build-isolation, or use attn_implementation=sdpa"
            )
    return name


def dtype_kwargs(dtype: torch.dtype) -> dict[str, Any]:
    """``from_pretrained`` keyword for the dtype: ``dtype`` on transformers >= 4.56, else ``torch_dtype``."""
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def load_pretrained(loader: Callable[..., Any], spec: ModelSpec, what: str = "model", **kwargs: Any) -> Any:
    """Call ``loader(spec.model_id, revision=spec.revision, **kwargs)``; a missing checkpoint, revision
    or file becomes a :class:`JinaVDRError` that says what to check."""
    from huggingface_hub.errors import HFValidationError

    try:
        return loader(spec.model_id, revision=spec.revision, **kwargs)
    except (OSError, HFValidationError) as exc:
        raise JinaVDRError(
            f"could not load the {what} of {spec.name!r} from {spec.model_id!r} at revision "
            f"{spec.revision!r}: {exc}. Check the Hub id or local path and the revision; offline runs "
            "need the checkpoint in the Hugging Face cache (HF_HUB_OFFLINE=1)."
        ) from exc


# --------------------------------------------------------------------------------------------------
# Tensors and inputs
# --------------------------------------------------------------------------------------------------


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` scaled to unit L2 norm, in float32."""
    return torch.nn.functional.normalize(x.float(), p=2, dim=-1)


def matryoshka(x: torch.Tensor, dim: int | None) -> torch.Tensor:
    """Keep the first ``dim`` dimensions and re-normalise (no-op when ``dim`` is None)."""
    return x if dim is None else l2_normalize(x[..., :dim])


def unpad(embeddings: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """[B, T, D] token embeddings and a [B, T] attention mask -> B tensors of the real tokens."""
    keep = mask.to(embeddings.device).bool()
    return [embeddings[i][keep[i]] for i in range(embeddings.shape[0])]


def rows(output: Any) -> list[torch.Tensor]:
    """Remote-code outputs (tensor, numpy array, or a list of either) -> a list of per-item tensors."""
    import numpy as np

    if isinstance(output, np.ndarray):
        output = torch.from_numpy(output)
    if isinstance(output, torch.Tensor):
        return list(output.unbind(0))
    return [torch.as_tensor(o) if isinstance(o, np.ndarray) else o for o in output]


def to_rgb(image: Image) -> Image:
    """Page images in any PIL mode become RGB (models are trained on RGB)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def to_device(batch: Mapping[str, Any], device: torch.device, dtype: torch.dtype, *,
              non_blocking: bool = False) -> dict[str, Any]:
    """Move a processor batch to ``device``; floating tensors (pixel values) also take the model dtype.
    ``non_blocking`` overlaps the copy of pinned host tensors with other work."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            if value.is_floating_point():
                value = value.to(device, non_blocking=non_blocking).to(dtype)
            else:
                value = value.to(device, non_blocking=non_blocking)
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------------
# Base adapter
# --------------------------------------------------------------------------------------------------


class HFEncoder:
    """Base of the transformers adapters (see the module docstring for what a subclass implements)."""

    similarity: Similarity = "cosine"
    page_input: PageInput = "image"
    #: whether ``attn_implementation`` is passed to ``from_pretrained`` (False for remote code that
    #: picks its own attention).
    uses_attention_option: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, device: str) -> None:
        from jinavdr.models.registry import factory_defaults

        self.spec = spec
        #: option defaults: the registry entry's (``spec.defaults``, or the entry naming this factory).
        self.defaults: Mapping[str, Any] = spec.defaults or factory_defaults(spec.factory)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(self.option("dtype"), self.device)
        self.attn_implementation: str | None = (
            resolve_attention(self.option("attn_implementation"), self.device)
            if self.uses_attention_option
            else None
        )
        #: output dimension (set by the subclass once the model is loaded; used for empty inputs).
        self.dim = 0
        #: settings resolved at load time (effective prompts, processor classes, commit...).
        self.resolved: dict[str, Any] = {}

    # -- options and settings ------------------------------------------------------------------

    def option(self, key: str) -> Any:
        if key in self.spec.options:
            return self.spec.options[key]
        return self.defaults.get(key)

    def model_kwargs(self, *, trust_remote_code: bool = False) -> dict[str, Any]:
        """``from_pretrained`` keywords: dtype, attention implementation, trust_remote_code."""
        kwargs: dict[str, Any] = {**dtype_kwargs(self.dtype), "trust_remote_code": trust_remote_code}
        if self.attn_implementation is not None:
            kwargs["attn_implementation"] = self.attn_implementation
        return kwargs

    def finish_loading(self, model: Any) -> Any:
        """Move to the device, switch to eval mode, and record the commit and attention actually used.

        Remote code may swallow the dtype keyword (jina-v3 copies known keys into its config): a
        model whose weights did not load in the requested dtype is cast to it.
        """
        model = model.to(self.device)
        loaded = next((p.dtype for p in model.parameters() if p.is_floating_point()), self.dtype)
        if loaded != self.dtype:
            model = model.to(self.dtype)
        model = model.eval()
        config = getattr(model, "config", None)
        commit = getattr(config, "_commit_hash", None)
        if commit:
            self.resolved["commit"] = commit
        attn = getattr(config, "_attn_implementation", None)
        if self.attn_implementation is not None and isinstance(attn, str):
            self.attn_implementation = attn
        return model

    def settings(self) -> dict[str, Any]:
        out = self.spec.settings()
        out.update({key: self.option(key) for key in self.defaults})
        out["dtype"] = dtype_name(self.dtype)
        out["attn_implementation"] = self.attn_implementation or "model default"
        out["similarity"] = self.similarity
        out["page_input"] = self.page_input
        out.update(self.resolved)
        return out

    # -- encoding ------------------------------------------------------------------------------

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        return self._encode(list(texts), batch_size, self._embed_queries)

    def encode_pages(self, pages: Sequence[Page], *, batch_size: int) -> Embeddings:
        return self._encode([self._page_item(p) for p in pages], batch_size, self._embed_pages)

    def _page_item(self, page: Page) -> Any:
        if self.page_input == "text":
            # a page without OCR text is the empty string (as for the other text models); a dataset
            # without the OCR column is refused before encoding (jinavdr.engine.encoding)
            return page.text or ""
        return to_rgb(page.image)

    def _encode(self, items: list[Any], batch_size: int, embed: Callable[[list[Any]], list[torch.Tensor]]
                ) -> Embeddings:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out: list[torch.Tensor] = []
        with torch.inference_mode():
            for chunk in chunks(items, batch_size):
                vectors = embed(list(chunk))
                if len(vectors) != len(chunk):
                    raise JinaVDRError(
                        f"model {self.spec.name!r} returned {len(vectors)} embeddings for {len(chunk)} inputs"
                    )
                out.extend(v.detach().to("cpu", torch.float32) for v in vectors)
        return self._pack(out)

    def _pack(self, vectors: list[torch.Tensor]) -> Embeddings:
        if self.similarity == "maxsim":
            return Embeddings.from_list(vectors, dim=self.dim, dtype=torch.float32)
        if not vectors:
            return Embeddings(torch.empty(0, self.dim, dtype=torch.float32))
        return Embeddings(torch.stack([v.reshape(-1) for v in vectors]))

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        raise NotImplementedError

    def _embed_pages(self, items: list[Any]) -> list[torch.Tensor]:
        raise NotImplementedError
