"""ColVision late-interaction retrievers (ColPali, ColQwen2, ColQwen2.5, ColSmol): one adapter,
parameterised by the ``arch`` option.

Each arch names a model class and a processor class and the library that provides them:

- the checkpoints MTEB and jina-vdr run (``vidore/colpali-v1.2``, ``vidore/colpali-v1.3``,
  ``vidore/colqwen2-v1.0``, ColQwen2.5, ColSmol) are LoRA adapters for colpali-engine's ``ColPali``,
  ``ColQwen2``, ``ColQwen2_5`` and ``ColIdefics3`` classes (archs ``colpali_lora``,
  ``colqwen2_lora``, ``colqwen2_5``, ``colidefics3``), which need ``pip install "jinavdr[colpali]"``
  (colpali-engine, which also pulls in torchvision);
- transformers ships ``ColPaliForRetrieval`` / ``ColQwen2ForRetrieval`` for the merged ``-hf``
  conversions (archs ``colpali`` and ``colqwen2``; entries ``colpali-v1.3-hf``, ``colqwen2-hf``).

Queries and pages go through the checkpoint's processor (``process_queries`` adds the query prefix
and the 10 augmentation tokens; ``process_images`` the visual prompt). Every token the attention
mask keeps becomes one vector; padding is removed, so scores do not depend on batch composition.
Image processors are always the slow, PIL-based ones, so preprocessing does not change with
whether torchvision happens to be installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from jinavdr.errors import JinaVDRError, MissingDependencyError, UnknownNameError
from jinavdr.models.adapters import qwen_vision
from jinavdr.models.adapters._hf import HFEncoder, load_pretrained, to_device, unpad

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.models.registry import ModelSpec


@dataclass(frozen=True)
class ColArch:
    """Where a ColVision family's classes live and how its images are budgeted."""

    library: str  # "transformers" or "colpali_engine.models"
    model_class: str
    processor_class: str
    qwen_pixels: bool  # the image budget is a Qwen2-VL pixel count (max_pixels)


ARCHS: dict[str, ColArch] = {
    "colpali": ColArch("transformers", "ColPaliForRetrieval", "ColPaliProcessor", qwen_pixels=False),
    "colqwen2": ColArch("transformers", "ColQwen2ForRetrieval", "ColQwen2Processor", qwen_pixels=True),
    "colpali_lora": ColArch("colpali_engine.models", "ColPali", "ColPaliProcessor", qwen_pixels=False),
    "colqwen2_lora": ColArch("colpali_engine.models", "ColQwen2", "ColQwen2Processor", qwen_pixels=True),
    "colqwen2_5": ColArch("colpali_engine.models", "ColQwen2_5", "ColQwen2_5_Processor", qwen_pixels=True),
    "colidefics3": ColArch("colpali_engine.models", "ColIdefics3", "ColIdefics3Processor", qwen_pixels=False),
}


def _import_library(arch_name: str, arch: ColArch, spec: ModelSpec) -> Any:
    try:
        return importlib.import_module(arch.library)
    except ImportError as exc:
        if arch.library == "transformers":
            raise
        raise MissingDependencyError(
            f"model {spec.name!r} (arch {arch_name}, class {arch.model_class})", "colpali", "colpali-engine"
        ) from exc


class ColVisionEncoder(HFEncoder):
    similarity = "maxsim"
    page_input = "image"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        super().__init__(spec, device)
        name = str(self.option("arch"))
        if name not in ARCHS:
            raise UnknownNameError("ColVision arch", name, ARCHS)
        self.arch = ARCHS[name]
        library = _import_library(name, self.arch, spec)
        model_cls = getattr(library, self.arch.model_class)
        processor_cls = getattr(library, self.arch.processor_class)
        if self.arch.library == "transformers":
            model = load_pretrained(model_cls.from_pretrained, spec, **self.model_kwargs())
            self.dim = int(model.config.embedding_dim)
        else:
            # a LoRA adapter: the revision pins the adapter; its base model loads at the Hub's main
            # branch (as MTEB does), recorded as base_revision=None
            model = model_cls.from_pretrained(
                spec.model_id, revision=None, adapter_kwargs={"revision": spec.revision}, **self.model_kwargs()
            )
            self.dim = int(model.dim)
            self.resolved["base_revision"] = None
        self.model = self.finish_loading(model)
        self.processor = load_pretrained(processor_cls.from_pretrained, spec, "processor")
        self._configure_processor(spec)

    def _configure_processor(self, spec: ModelSpec) -> None:
        if self.arch.library == "transformers":
            from transformers import AutoImageProcessor

            self.processor.image_processor = load_pretrained(
                AutoImageProcessor.from_pretrained, spec, "image processor", use_fast=False
            )
        image_processor = self.processor.image_processor
        max_pixels = self.option("max_pixels")
        if max_pixels is not None:
            if not self.arch.qwen_pixels:
                raise JinaVDRError(f"max_pixels applies to Qwen-based ColVision archs, not {self.option('arch')}")
            qwen_vision.set_pixel_budget(image_processor, max_pixels=int(max_pixels))
        if self.option("query_prefix") is not None:
            self.processor.query_prefix = str(self.option("query_prefix"))
        self.resolved.update(
            query_prefix=getattr(self.processor, "query_prefix", None),
            visual_prompt_prefix=getattr(self.processor, "visual_prompt_prefix", None),
            image_processor=type(image_processor).__name__,
        )
        if self.arch.qwen_pixels:
            self.resolved["max_pixels"] = int(image_processor.max_pixels)

    def _forward(self, batch: Any) -> list[torch.Tensor]:
        inputs = to_device(batch, self.device, self.dtype)
        out = self.model(**inputs)
        embeddings = out.embeddings if hasattr(out, "embeddings") else out
        return unpad(embeddings, inputs["attention_mask"])

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        return self._forward(self.processor.process_queries(texts))

    def _embed_pages(self, items: list[Image]) -> list[torch.Tensor]:
        return self._forward(self.processor.process_images(items))
