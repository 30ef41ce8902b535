"""Jina embedding models through their own remote code (``trust_remote_code=True``).

- :class:`JinaV4Encoder`: jina-embeddings-v4 on page images. Queries go through
  ``model.encode_text(task="retrieval", prompt_name="query", ...)`` (the remote code prepends
  ``"Query: "``), pages through ``model.encode_image(task="retrieval", max_pixels=..., ...)``.
  ``vector="single"``: one 2048-d L2-normalised vector per input, dot product; ``truncate_dim``
  (128/256/512/1024) is passed to the remote code, which truncates and re-normalises.
  ``vector="multi"``: 128-d vectors per token, padding removed by the remote code, MaxSim.
- :class:`JinaV3Encoder`: jina-embeddings-v3 on the OCR text with ``task="retrieval.query"`` /
  ``"retrieval.passage"`` (the remote code adds each task's instruction and LoRA adapter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from jinavdr.errors import JinaVDRError
from jinavdr.models.adapters._hf import HFEncoder, load_pretrained, matryoshka, rows

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.models.registry import ModelSpec

V4_MATRYOSHKA = (128, 256, 512, 1024)
#: the image budget of the paper's runs (48,200 vision tokens of 28 x 28 pixels).
PAPER_MAX_PIXELS = 37_788_800


def _load_remote(encoder: HFEncoder, spec: ModelSpec) -> Any:
    from transformers import AutoModel

    model = load_pretrained(AutoModel.from_pretrained, spec, **encoder.model_kwargs(trust_remote_code=True))
    return encoder.finish_loading(model)


class JinaV4Encoder(HFEncoder):
    page_input = "image"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        vector = self.option("vector")
        if vector not in ("single", "multi"):
            raise JinaVDRError(f"jina-v4 option vector={vector!r}: use single (dot product) or multi (MaxSim)")
        self.multi = vector == "multi"
        truncate = self.option("truncate_dim")
        if truncate is not None:
            if self.multi:
                raise JinaVDRError("jina-v4 truncate_dim applies to vector=single only (multi-vectors are 128-d)")
            if int(truncate) not in V4_MATRYOSHKA:
                raise JinaVDRError(f"jina-v4 truncate_dim={truncate}: use one of {V4_MATRYOSHKA}")
        self.truncate_dim = None if truncate is None else int(truncate)
        self.similarity = "maxsim" if self.multi else "dot"
        self.model = _load_remote(self, spec)
        config = self.model.config
        if self.multi:
            self.dim = int(getattr(config, "multi_vector_projector_dim", 128))
        else:
            self.dim = self.truncate_dim or int(config.get_text_config().hidden_size)

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        out = self.model.encode_text(
            texts=texts,
            task=self.option("task"),
            prompt_name=self.option("query_prompt_name"),
            return_multivector=self.multi,
            truncate_dim=self.truncate_dim,
            max_length=int(self.option("max_length")),
            batch_size=len(texts),
        )
        return self._finish(out)

    def _embed_pages(self, items: list[Image]) -> list[torch.Tensor]:
        max_pixels = self.option("max_pixels")
        out = self.model.encode_image(
            images=items,
            task=self.option("task"),
            max_pixels=None if max_pixels is None else int(max_pixels),
            return_multivector=self.multi,
            truncate_dim=self.truncate_dim,
            batch_size=len(items),
        )
        return self._finish(out)

    def _finish(self, out: Any) -> list[torch.Tensor]:
        vectors = rows(out)
        if self.multi or self.truncate_dim is None:
            return vectors
        # the remote code truncates and re-normalises itself; guard against a revision that does not
        return [v if v.shape[-1] == self.truncate_dim else matryoshka(v, self.truncate_dim) for v in vectors]


class JinaV3Encoder(HFEncoder):
    similarity = "cosine"
    page_input = "text"
    uses_attention_option = False  # the remote XLM-R code picks flash attention itself

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        self.model = _load_remote(self, spec)
        truncate = self.option("truncate_dim")
        self.dim = int(truncate) if truncate is not None else int(self.model.config.hidden_size)

    def _encode_texts(self, texts: list[str], task: str) -> list[torch.Tensor]:
        truncate = self.option("truncate_dim")
        out = self.model.encode(
            texts,
            task=task,
            batch_size=len(texts),
            max_length=int(self.option("max_length")),
            truncate_dim=None if truncate is None else int(truncate),
            normalize_embeddings=True,
            convert_to_tensor=True,
        )
        return rows(out)

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        return self._encode_texts(texts, str(self.option("query_task")))

    def _embed_pages(self, items: list[str]) -> list[torch.Tensor]:
        return self._encode_texts(items, str(self.option("passage_task")))
