"""Fake Jina remote code for offline tests: the documented ``encode_*`` APIs of jina-embeddings-v4,
jina-embeddings-v3 and jina-clip-v2 over a tiny deterministic byte/pixel encoder.

Every ``encode_*`` call is appended to ``model.calls`` so tests can check what an adapter asked for.
Text tokens are the UTF-8 bytes of the (prefixed) text; image tokens are 28 x 28 tiles of the image
after shrinking it to at most ``max_pixels`` pixels (so the pixel budget changes the token count).
"""

import math

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel

from .configuration_fake_jina import FakeJinaConfig

V4_PREFIX = {"query": "Query", "passage": "Passage"}
DEFAULT_MAX_PIXELS = 768 * 28 * 28


class _FakeBase(PreTrainedModel):
    config_class = FakeJinaConfig
    base_model_prefix = "fake"

    def __init__(self, config: FakeJinaConfig) -> None:
        super().__init__(config)
        self.bytes = nn.Embedding(256, config.hidden_size)
        self.pixels = nn.Linear(3, config.hidden_size)
        self.projector = nn.Linear(config.hidden_size, config.multi_vector_projector_dim)
        self.calls = []
        self.post_init()

    def _init_weights(self, module) -> None:
        if isinstance(module, (nn.Embedding, nn.Linear)):
            module.weight.data.normal_(0.0, 1.0)
            if getattr(module, "bias", None) is not None:
                module.bias.data.normal_(0.0, 1.0)

    def _text_tokens(self, text: str) -> torch.Tensor:
        ids = torch.tensor(list(text.encode("utf-8")) or [0], device=self.device)
        return self.bytes(ids)

    def _image_tokens(self, image, max_pixels: int) -> torch.Tensor:
        if image.mode != "RGB":
            raise ValueError(f"fake remote code expects RGB images, got {image.mode}")
        width, height = image.size
        if width * height > max_pixels:
            scale = math.sqrt(max_pixels / (width * height))
            width, height = max(28, int(width * scale)), max(28, int(height * scale))
            image = image.resize((width, height))
        array = np.asarray(image, dtype=np.float32) / 255.0
        tiles = []
        for top in range(0, max(1, height - 27), 28):
            for left in range(0, max(1, width - 27), 28):
                tiles.append(array[top : top + 28, left : left + 28].reshape(-1, 3).mean(0))
        return self.pixels(torch.tensor(np.stack(tiles), device=self.device, dtype=self.dtype))

    @staticmethod
    def _dense(tokens: torch.Tensor, truncate_dim, normalize: bool = True) -> torch.Tensor:
        vector = tokens.mean(0)
        if truncate_dim:
            vector = vector[:truncate_dim]
        return nn.functional.normalize(vector, dim=-1) if normalize else vector


class FakeJinaV4(_FakeBase):
    """encode_text / encode_image as in jina-embeddings-v4's remote code."""

    _supports_sdpa = True  # like its Qwen2.5-VL base: the adapter passes attn_implementation

    def _validate(self, task, truncate_dim):
        if task not in self.config.task_names:
            raise ValueError(f"Invalid task: {task}. Must be one of {self.config.task_names}.")
        if truncate_dim is not None and truncate_dim not in self.config.matryoshka_dims:
            raise ValueError(f"Invalid truncate_dim: {truncate_dim}.")

    def _embed(self, tokens, return_multivector, truncate_dim):
        if return_multivector:
            return nn.functional.normalize(self.projector(tokens), dim=-1)
        return self._dense(tokens, truncate_dim)

    def encode_text(self, texts, task=None, max_length=32768, batch_size=8, return_multivector=False,
                    return_numpy=False, truncate_dim=None, prompt_name=None):
        self.calls.append(dict(method="encode_text", n=len(texts), task=task, max_length=max_length,
                               batch_size=batch_size, return_multivector=return_multivector,
                               truncate_dim=truncate_dim, prompt_name=prompt_name))
        self._validate(task, truncate_dim)
        prefix = V4_PREFIX[prompt_name or "query"]
        items = [texts] if isinstance(texts, str) else texts
        out = [self._embed(self._text_tokens(f"{prefix}: {t}")[:max_length], return_multivector, truncate_dim)
               for t in items]
        return out if isinstance(texts, list) else out[0]

    def encode_image(self, images, task=None, batch_size=8, return_multivector=False, return_numpy=False,
                     truncate_dim=None, max_pixels=None):
        self.calls.append(dict(method="encode_image", n=len(images), task=task, batch_size=batch_size,
                               return_multivector=return_multivector, truncate_dim=truncate_dim,
                               max_pixels=max_pixels))
        self._validate(task, truncate_dim)
        budget = max_pixels or DEFAULT_MAX_PIXELS
        items = images if isinstance(images, list) else [images]
        out = [self._embed(self._image_tokens(i, budget), return_multivector, truncate_dim) for i in items]
        return out if isinstance(images, list) else out[0]


def _convert(vectors, convert_to_tensor, convert_to_numpy):
    if convert_to_tensor:
        return torch.stack(vectors)
    if convert_to_numpy:
        return np.asarray([v.float().cpu().numpy() for v in vectors])
    return vectors


class FakeJinaV3(_FakeBase):
    """encode as in jina-embeddings-v3's remote code (task instruction prepended)."""

    def encode(self, sentences, task=None, batch_size=32, convert_to_numpy=True, convert_to_tensor=False,
               normalize_embeddings=True, truncate_dim=None, **tokenizer_kwargs):
        self.calls.append(dict(method="encode", n=len(sentences), task=task, batch_size=batch_size,
                               truncate_dim=truncate_dim, normalize_embeddings=normalize_embeddings,
                               convert_to_tensor=convert_to_tensor, **tokenizer_kwargs))
        if task is not None and task not in self.config.task_instructions:
            raise ValueError(f"Unsupported task '{task}'")
        instruction = self.config.task_instructions.get(task, "") if task else ""
        max_length = tokenizer_kwargs.get("max_length", 8192)
        vectors = [self._dense(self._text_tokens(instruction + s)[:max_length], truncate_dim, normalize_embeddings)
                   for s in sentences]
        return _convert(vectors, convert_to_tensor, convert_to_numpy)


class FakeJinaClip(_FakeBase):
    """encode_text / encode_image as in jina-clip-v2's remote code."""

    def encode_text(self, sentences, task=None, batch_size=32, show_progress_bar=None, convert_to_numpy=True,
                    convert_to_tensor=False, device=None, normalize_embeddings=True, truncate_dim=None,
                    **tokenizer_kwargs):
        self.calls.append(dict(method="encode_text", n=len(sentences), task=task, batch_size=batch_size,
                               truncate_dim=truncate_dim, normalize_embeddings=normalize_embeddings,
                               convert_to_tensor=convert_to_tensor, **tokenizer_kwargs))
        instruction = self.config.task_instructions.get(task, "") if task else ""
        vectors = [self._dense(self._text_tokens(instruction + s), truncate_dim, normalize_embeddings)
                   for s in sentences]
        return _convert(vectors, convert_to_tensor, convert_to_numpy)

    def encode_image(self, images, batch_size=32, show_progress_bar=None, convert_to_numpy=True,
                     convert_to_tensor=False, device=None, normalize_embeddings=True, truncate_dim=None):
        self.calls.append(dict(method="encode_image", n=len(images), batch_size=batch_size,
                               truncate_dim=truncate_dim, normalize_embeddings=normalize_embeddings,
                               convert_to_tensor=convert_to_tensor))
        vectors = [self._dense(self._image_tokens(i, DEFAULT_MAX_PIXELS), truncate_dim, normalize_embeddings)
                   for i in images]
        return _convert(vectors, convert_to_tensor, convert_to_numpy)
