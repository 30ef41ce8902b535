"""Dual encoders with a text tower and an image tower.

- :class:`JinaClipV2Encoder`: jina-clip-v2 through its remote code (``encode_text`` /
  ``encode_image``, L2-normalised, dot product). ``query_task`` (default None, as MTEB runs it) can be
  set to ``retrieval.query`` to prepend the model's query instruction.
- :class:`SiglipEncoder`: SigLIP through transformers (``get_text_features`` /
  ``get_image_features``). Texts are padded to ``max_length`` (64 for so400m) as SigLIP was trained,
  and only ``input_ids`` reach the text tower (SigLIP uses no attention mask). ``normalize=True``
  (profile ``mteb``): L2-normalised features, cosine; ``normalize=False`` (profile ``paper``, as
  jina-vdr's SigLIPRetriever): the raw features, scored by dot product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from jinavdr.models.adapters._hf import HFEncoder, l2_normalize, load_pretrained, rows

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.models.registry import ModelSpec


class JinaClipV2Encoder(HFEncoder):
    similarity = "dot"
    page_input = "image"
    uses_attention_option = False  # the remote code picks its own attention kernels

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        from transformers import AutoModel

        model = load_pretrained(AutoModel.from_pretrained, spec, **self.model_kwargs(trust_remote_code=True))
        self.model = self.finish_loading(model)
        truncate = self.option("truncate_dim")
        self.truncate_dim = None if truncate is None else int(truncate)
        self.dim = self.truncate_dim or int(self.model.config.projection_dim)

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        out = self.model.encode_text(
            texts,
            task=self.option("query_task"),
            batch_size=len(texts),
            truncate_dim=self.truncate_dim,
            normalize_embeddings=True,
            convert_to_tensor=True,
            max_length=int(self.option("max_length")),
        )
        return rows(out)

    def _embed_pages(self, items: list[Image]) -> list[torch.Tensor]:
        out = self.model.encode_image(
            items,
            batch_size=len(items),
            truncate_dim=self.truncate_dim,
            normalize_embeddings=True,
            convert_to_tensor=True,
        )
        return rows(out)


class SiglipEncoder(HFEncoder):
    similarity = "cosine"
    page_input = "image"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.normalize = bool(self.option("normalize"))
        self.similarity = "cosine" if self.normalize else "dot"

        self.model = self.finish_loading(load_pretrained(AutoModel.from_pretrained, spec, **self.model_kwargs()))
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer")
        self.image_processor = load_pretrained(
            AutoImageProcessor.from_pretrained, spec, "image processor", use_fast=False
        )
        text_config = self.model.config.text_config
        self.max_length = int(self.option("max_length") or text_config.max_position_embeddings)
        self.resolved["max_length"] = self.max_length
        self.resolved["image_processor"] = type(self.image_processor).__name__
        self.dim = int(getattr(text_config, "projection_size", None) or text_config.hidden_size)

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        tokens = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        features = self.model.get_text_features(input_ids=tokens["input_ids"].to(self.device))
        return list(self._finish(features).unbind(0))

    def _embed_pages(self, items: list[Image]) -> list[torch.Tensor]:
        pixels = self.image_processor(images=items, return_tensors="pt")["pixel_values"]
        features = self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype))
        return list(self._finish(features).unbind(0))

    def _finish(self, features: torch.Tensor) -> torch.Tensor:
        return l2_normalize(features) if self.normalize else features.float()
