"""DSE (Document Screenshot Embedding) on Qwen2-VL: ``MrLight/dse-qwen2-2b-mrl-v1``.

As on the model card: a query is ``"Query: {q}"`` next to a dummy image, a page is its image next to
``"What is shown in this image?"``; both are one chat turn followed by ``<|endoftext|>``, left padded;
the embedding is the last token's final hidden state, first ``truncate_dim`` (1536) dimensions,
L2-normalised. Images first pass through ``qwen_vl_utils.fetch_image``'s rounding (as the card's
pipeline does), then the image processor's pixel budget (``max_pixels`` = 1024 image tokens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from jinavdr.errors import JinaVDRError
from jinavdr.models.adapters import qwen_vision
from jinavdr.models.adapters._hf import HFEncoder, l2_normalize, load_pretrained, to_device

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.models.registry import ModelSpec


class DSEEncoder(HFEncoder):
    similarity = "cosine"
    page_input = "image"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        from transformers import AutoTokenizer, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor

        if "{query}" not in str(self.option("query_template")):
            raise JinaVDRError(f"query_template {self.option('query_template')!r} must contain {{query}}")
        model = load_pretrained(Qwen2VLForConditionalGeneration.from_pretrained, spec, **self.model_kwargs())
        self.model = self.finish_loading(model)
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, spec, "tokenizer")
        self.tokenizer.padding_side = "left"  # the last position is every row's last real token
        self.image_processor = load_pretrained(Qwen2VLImageProcessor.from_pretrained, spec, "image processor")
        hidden = int(self.model.config.get_text_config().hidden_size)
        truncate = self.option("truncate_dim")
        if truncate is not None and not 1 <= int(truncate) <= hidden:
            raise JinaVDRError(f"truncate_dim={truncate} is outside 1..{hidden} for {spec.model_id}")
        self.dim = hidden if truncate is None else int(truncate)
        size = int(self.option("query_image_size"))
        from PIL import Image as PILImage

        self._dummy = PILImage.new("RGB", (size, size))

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        template = str(self.option("query_template"))
        prompts = [qwen_vision.chat_prompt(template.format(query=t)) for t in texts]
        return self._embed(prompts, [self._dummy] * len(texts))

    def _embed_pages(self, items: list[Image]) -> list[torch.Tensor]:
        if self.option("fetch_resize"):
            items = [qwen_vision.fetch_resize(image) for image in items]
        prompt = qwen_vision.chat_prompt(str(self.option("page_prompt")))
        return self._embed([prompt] * len(items), items)

    def _embed(self, prompts: list[str], images: list[Image]) -> list[torch.Tensor]:
        suffix = str(self.option("prompt_suffix"))
        batch = qwen_vision.build_inputs(
            self.tokenizer, self.image_processor, [p + suffix for p in prompts], images,
            min_pixels=int(self.option("min_pixels")), max_pixels=int(self.option("max_pixels")),
        )
        batch = to_device(batch, self.device, self.dtype)
        hidden = self.model.model(**batch, use_cache=False, return_dict=True).last_hidden_state
        last = hidden[:, -1]  # left padding: the final position is the last real token of every row
        return list(l2_normalize(last[:, : self.dim]).unbind(0))
