"""Text encoders over the OCR text loaded with plain transformers.

:class:`BGEM3Encoder`: BGE-M3's dense retrieval vector, i.e. the final hidden state of the first
(``<s>``, CLS) token, L2-normalised; queries and passages take no instruction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from jinavdr.models.adapters._hf import HFEncoder, l2_normalize, load_pretrained, to_device

if TYPE_CHECKING:
    from jinavdr.models.registry import ModelSpec


class BGEM3Encoder(HFEncoder):
    similarity = "cosine"
    page_input = "text"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        from transformers import AutoModel, AutoTokenizer

        self.model = self.finish_loading(load_pretrained(
            AutoModel.from_pretrained, spec, add_pooling_layer=False, **self.model_kwargs()
        ))
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer")
        self.tokenizer.padding_side = "right"  # the CLS token stays at position 0
        self.dim = int(self.model.config.hidden_size)

    def _cls(self, texts: list[str]) -> list[torch.Tensor]:
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=int(self.option("max_length")),
                                return_tensors="pt")
        batch = to_device(tokens, self.device, self.dtype)
        hidden = self.model(**batch, return_dict=True).last_hidden_state
        return list(l2_normalize(hidden[:, 0]).unbind(0))

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        return self._cls(texts)

    def _embed_pages(self, items: list[str]) -> list[torch.Tensor]:
        return self._cls(items)
