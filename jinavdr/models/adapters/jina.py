"""Jina embedding models through their own remote code (``trust_remote_code=True``).

- :class:`JinaV4Encoder`: jina-embeddings-v4 on page images. Queries go through
  ``model.encode_text(task="retrieval", prompt_name="query", ...)`` (the remote code prepends
  ``"Query: "``), pages through ``model.encode_image(task="retrieval", max_pixels=..., ...)``.
  ``vector="single"``: one 2048-d L2-normalised vector per input, dot product; ``truncate_dim``
  (128/256/512/1024) is passed to the remote code, which truncates and re-normalises.
  ``vector="multi"``: 128-d vectors per token, padding removed by the remote code, MaxSim.
  :meth:`JinaV4Encoder.from_model` wraps a model already built in memory instead (the seam the
  throughput benchmark uses: jina-embeddings-v4's architecture, :class:`JinaV4Architecture`, built
  from a config with random weights). That path is split for throughput (see
  :mod:`jinavdr.engine.encoding`): pages are prepared on the host (resize, patches, prompt tokens;
  :class:`V4PagePreparer`, picklable, run in worker processes) and embedded by
  :meth:`JinaV4Encoder.embed_prepared` (vision tower with its variable-length packing, language
  model without its LM head, pooling), batched by vision-token count (:meth:`JinaV4Encoder.page_tokens`)
  within a token budget from free GPU memory (:meth:`JinaV4Encoder.token_budget`).
- :class:`JinaV3Encoder`: jina-embeddings-v3 on the OCR text with ``task="retrieval.query"`` /
  ``"retrieval.passage"`` (the remote code adds each task's instruction and LoRA adapter).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from jinavdr.errors import JinaVDRError
from jinavdr.models.adapters._hf import (
    HFEncoder,
    l2_normalize,
    load_pretrained,
    matryoshka,
    rows,
    to_device,
    to_rgb,
    unpad,
)
from jinavdr.models.adapters.qwen_vision import build_inputs, smart_resize

if TYPE_CHECKING:

    from PIL.Image import Image

    from jinavdr.models.base import Page
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.registry import ModelSpec

V4_MATRYOSHKA = (128, 256, 512, 1024)
#: the image budget of the paper's runs (48,200 vision tokens of 28 x 28 pixels).
PAPER_MAX_PIXELS = 37_788_800


#: jina-embeddings-v4's page prompt and query prefix, as its processor writes them (one image per page).
V4_PAGE_PROMPT = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|>\n"
V4_QUERY_PREFIX = "Query: "
#: Qwen2.5-VL's smallest image (its image processor's min_pixels).
V4_MIN_PIXELS = 56 * 56
#: bytes of GPU memory that one padded vision token may need in flight (vision tower: 4 patches of
#: 1280-d with a 3420-d MLP; language model: 2048-d with an 11008-d MLP; bf16, with headroom).
V4_BYTES_PER_TOKEN = 256 * 1024
#: the largest token budget worth using: beyond it batches only cost memory.
V4_MAX_TOKEN_BUDGET = 262_144


def v4_page_tokens(width: int, height: int, max_pixels: int = PAPER_MAX_PIXELS) -> int:
    """Vision tokens of a ``width`` x ``height`` page for jina-embeddings-v4 at the ``max_pixels``
    budget (28 x 28 pixels each after the 2 x 2 merge)."""
    h, w = smart_resize(height, width, factor=28, min_pixels=V4_MIN_PIXELS, max_pixels=max_pixels)
    return (h // 28) * (w // 28)


class JinaV4Architecture(torch.nn.Module):
    """jina-embeddings-v4's encoder: a Qwen2.5-VL backbone (vision tower + language model, no LM
    head) and the multi-vector projector (hidden size -> 128). Single vectors mean-pool the last
    hidden states (over the image span for pages, all tokens for queries); multi-vectors project
    each token. The task LoRA adapters of the released checkpoint are not part of it."""

    def __init__(self, backbone: Any, projector_dim: int = 128) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        hidden = int(self.config.get_text_config().hidden_size)
        self.multi_vector_projector = torch.nn.Linear(hidden, projector_dim)

    @classmethod
    def from_config(cls, config: Any, projector_dim: int = 128, attn_implementation: str = "sdpa",
                    vision_attention: str | None = None) -> JinaV4Architecture:
        """Random weights of ``config`` (a ``Qwen2_5_VLConfig``); nothing is downloaded.
        ``vision_attention`` (default: ``attn_implementation``) is the vision tower's, e.g.
        :data:`~jinavdr.models.adapters.qwen_vision.VARLEN_ATTENTION`."""
        from transformers import Qwen2_5_VLModel

        from jinavdr.models.adapters.qwen_vision import VARLEN_ATTENTION, register_varlen_attention

        vision_attention = vision_attention or attn_implementation
        varlen = vision_attention == VARLEN_ATTENTION
        for cfg in (config, getattr(config, "text_config", None), config.vision_config):
            cfg._attn_implementation = "sdpa" if varlen and cfg is config.vision_config else attn_implementation
        model = cls(Qwen2_5_VLModel(config), projector_dim)
        if varlen:  # set after construction: transformers would look for a flash-attn package by that name
            register_varlen_attention()
            model.backbone.visual.config._attn_implementation = VARLEN_ATTENTION
        return model

    @property
    def visual(self) -> torch.nn.Module:
        return self.backbone.visual

    def hidden_states(self, **inputs: Any) -> torch.Tensor:
        """Last hidden states [B, T, hidden] of a tokenised batch (with ``pixel_values`` for pages)."""
        return self.backbone(**inputs, use_cache=False, return_dict=True).last_hidden_state


class V4PagePreparer:
    """Host-side page preparation (picklable, so it runs in worker processes): RGB, resize to the
    pixel budget, patches (``pixel_values``, ``image_grid_thw``) and the prompt with its image tokens.

    ``pixel_dtype`` (the model's dtype) converts the patches where they are made: the model would
    convert them on the GPU to the same values, so bf16 halves what travels (shared memory, pinned
    copy, host-to-device) without changing an embedding. :meth:`collate` joins batches prepared
    apart exactly as if they had been prepared together (the workers split a batch between them)."""

    def __init__(self, tokenizer: Any, image_processor: Any, min_pixels: int, max_pixels: int,
                 pixel_dtype: torch.dtype | None = None) -> None:
        self.tokenizer, self.image_processor = tokenizer, image_processor
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.pixel_dtype = pixel_dtype

    def __call__(self, pages: list[Page]) -> dict[str, Any]:
        images = [to_rgb(p.image) for p in pages]
        inputs = build_inputs(self.tokenizer, self.image_processor, [V4_PAGE_PROMPT] * len(images), images,
                              min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        if self.pixel_dtype is not None:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.pixel_dtype)
        return inputs

    def collate(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """One batch from consecutive prepared parts: patches and grids concatenated, prompts padded to
        the longest with the tokenizer's pad token on its padding side (as one call would pad them)."""
        width = max(int(p["input_ids"].shape[1]) for p in parts)
        pad_id = self.tokenizer.pad_token_id
        left = self.tokenizer.padding_side == "left"

        def padded(t: torch.Tensor, value: int) -> torch.Tensor:
            extra = t.new_full((t.shape[0], width - t.shape[1]), value)
            return torch.cat([extra, t] if left else [t, extra], dim=1)

        return {
            "input_ids": torch.cat([padded(p["input_ids"], pad_id) for p in parts]),
            "attention_mask": torch.cat([padded(p["attention_mask"], 0) for p in parts]),
            "pixel_values": torch.cat([p["pixel_values"] for p in parts]),
            "image_grid_thw": torch.cat([p["image_grid_thw"] for p in parts]),
        }


class _StageClock:
    """Marks stage boundaries (CUDA events on a GPU, so nothing waits) and sums the spans into a dict."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: list[tuple[str, Any]] = []

    def mark(self, stage: str) -> None:
        """Stage ``stage`` starts now (and the previous one ends)."""
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append((stage, event))
        else:
            import time

            self.marks.append((stage, time.perf_counter()))

    def add_to(self, timings: dict[str, float]) -> None:
        """Add each span's seconds to ``timings`` (call once the work has finished)."""
        for (stage, start), (_, end) in zip(self.marks, self.marks[1:], strict=False):
            seconds = start.elapsed_time(end) / 1000 if self.cuda else end - start
            timings[stage] = timings.get(stage, 0.0) + seconds


def _load_remote(encoder: HFEncoder, spec: ModelSpec) -> Any:
    from transformers import AutoModel

    model = load_pretrained(AutoModel.from_pretrained, spec, **encoder.model_kwargs(trust_remote_code=True))
    return encoder.finish_loading(model)


def _pinned_folder(spec: ModelSpec) -> ModelSpec:
    """jina-embeddings-v4's remote code fetches its LoRA adapters (``adapters/``) with
    ``snapshot_download`` and no revision unless the model is a local folder. So the whole checkpoint is
    taken at the pinned revision (the Hugging Face cache; offline, found there) and loaded from that
    folder: adapters and weights come from the same commit, and offline runs need nothing else."""
    from dataclasses import replace

    from jinavdr import hub

    if Path(spec.model_id).expanduser().exists():
        return spec
    try:
        folder = hub.snapshot(spec.model_id, "model", spec.revision, ignore=hub.MODEL_IGNORE)
    except Exception as exc:  # noqa: BLE001 - every Hub failure becomes one actionable message
        raise JinaVDRError(
            f"could not fetch {spec.model_id!r} at revision {spec.revision!r} for {spec.name!r}: "
            f"{type(exc).__name__}: {exc}. Offline, prefetch it first: jinavdr prefetch --model {spec.name} "
            f"-o model_id={spec.model_id} -o revision={spec.revision} --tasks <tasks>"
        ) from exc
    return replace(spec, model_id=str(folder))


class JinaV4Encoder(HFEncoder):
    page_input = "image"

    def __init__(self, spec: ModelSpec, device: str, *, model: JinaV4Architecture | None = None,
                 tokenizer: Any = None, image_processor: Any = None) -> None:
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
        self.native = model is not None
        if model is None:
            source = _pinned_folder(spec)
            self.model = _load_remote(self, source)
            if source is not spec:  # loaded from the cached snapshot folder, whose name is the commit
                self.resolved["commit"] = Path(source.model_id).name
                self.resolved["adapters_revision"] = self.resolved["commit"]  # <snapshot>/adapters, same commit
            config = self.model.config
        else:
            if tokenizer is None or image_processor is None:
                raise JinaVDRError("JinaV4Encoder.from_model needs the model's tokenizer and image processor")
            self.tokenizer, self.image_processor = tokenizer, image_processor
            self.model = self.finish_loading(model)
            config = self.model.config
            self.resolved["backend"] = "in-memory model (split page path)"
            self.resolved["vision_attention"] = getattr(config.vision_config, "_attn_implementation", None)
            self._clock: _StageClock | None = None
            self.model.visual.register_forward_pre_hook(lambda *_: self._mark("vision_tower"))
            self.model.visual.register_forward_hook(lambda *_: self._mark("language_model"))
        if self.multi:
            self.dim = int(getattr(config, "multi_vector_projector_dim", 128))
        else:
            self.dim = self.truncate_dim or int(config.get_text_config().hidden_size)

    @classmethod
    def from_model(cls, spec: ModelSpec, device: str, *, model: JinaV4Architecture, tokenizer: Any,
                   image_processor: Any) -> JinaV4Encoder:
        """The adapter around a model already in memory (jina-embeddings-v4's architecture, e.g.
        :meth:`JinaV4Architecture.from_config`), its tokenizer and its Qwen2-VL image processor.
        The model is moved to ``device`` and the ``dtype`` option; options work as for the Hub model."""
        return cls(spec, device, model=model, tokenizer=tokenizer, image_processor=image_processor)

    # -- the split page path (in-memory model) ----------------------------------------------------

    def _max_pixels(self) -> int:
        max_pixels = self.option("max_pixels")
        return PAPER_MAX_PIXELS if max_pixels is None else int(max_pixels)

    def page_tokens(self, width: int, height: int) -> int:
        """Vision tokens (28 x 28 pixels each after the 2 x 2 merge) of a ``width`` x ``height`` page."""
        return v4_page_tokens(width, height, self._max_pixels())

    def page_preparer(self) -> V4PagePreparer | None:
        """The host-side page preparation; None for the remote-code model (it prepares its own inputs)."""
        if not self.native:
            return None
        pixel_dtype = self.dtype if self.dtype != torch.float32 else None
        return V4PagePreparer(self.tokenizer, self.image_processor, V4_MIN_PIXELS, self._max_pixels(), pixel_dtype)

    def token_budget(self) -> int | None:
        """Padded vision tokens per batch: half the free GPU memory at :data:`V4_BYTES_PER_TOKEN`
        each, at most :data:`V4_MAX_TOKEN_BUDGET`; None (batch size alone) on the CPU."""
        if self.device.type != "cuda":
            return None
        free, _ = torch.cuda.mem_get_info(self.device)
        return max(1, min(V4_MAX_TOKEN_BUDGET, int(free * 0.5) // V4_BYTES_PER_TOKEN))

    def _mark(self, stage: str) -> None:
        if self._clock is not None:
            self._clock.mark(stage)

    def embed_prepared(self, inputs: dict[str, Any], timings: dict[str, float] | None = None) -> Embeddings:
        """Embed one prepared batch of pages; adds seconds per stage (host_to_device, vision_tower,
        language_model, pooling) to ``timings``."""
        if not self.native:
            raise JinaVDRError("embed_prepared needs the split page path (JinaV4Encoder.from_model)")
        self._clock = clock = _StageClock(self.device)
        try:
            clock.mark("host_to_device")
            batch = to_device(inputs, self.device, self.dtype, non_blocking=True)
            hidden = self.model.hidden_states(**batch)
            clock.mark("pooling")
            vectors = [v.to("cpu", torch.float32) for v in self._pool(hidden, batch, image_span=True)]
            clock.mark("end")
        finally:
            self._clock = None
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()
        if timings is not None:
            clock.add_to(timings)
        return self._pack(vectors)

    def _pool(self, hidden: torch.Tensor, batch: dict[str, Any], *, image_span: bool) -> list[torch.Tensor]:
        """Per item: normalised projected tokens (multi, padding removed) or the normalised mean of the
        last hidden states over the image span (pages) or all tokens (queries)."""
        mask = batch["attention_mask"]
        if self.multi:  # rounded to the model dtype, as the remote code returns them
            return unpad(l2_normalize(self.model.multi_vector_projector(hidden)).to(hidden.dtype), mask)
        if image_span:
            ids = batch["input_ids"]
            config = self.model.config
            first = (ids == config.vision_start_token_id).int().argmax(1).tolist()
            last = (ids == config.vision_end_token_id).int().argmax(1).tolist()
            spans = [hidden[i, a : b + 1] for i, (a, b) in enumerate(zip(first, last, strict=True))]
        else:
            spans = unpad(hidden, mask)
        return [matryoshka(l2_normalize(x.float().mean(0)), self.truncate_dim) for x in spans]

    def _native_queries(self, texts: list[str]) -> list[torch.Tensor]:
        tokens = self.tokenizer([V4_QUERY_PREFIX + t for t in texts], padding=True, truncation=True,
                                max_length=int(self.option("max_length")), return_tensors="pt")
        batch = to_device(dict(tokens), self.device, self.dtype)
        hidden = self.model.hidden_states(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return self._pool(hidden, batch, image_span=False)

    def _native_pages(self, items: list[Image]) -> list[torch.Tensor]:
        from jinavdr.models.base import Page

        preparer = self.page_preparer()
        assert preparer is not None
        inputs = preparer([Page(str(i), image) for i, image in enumerate(items)])
        batch = to_device(inputs, self.device, self.dtype)
        return self._pool(self.model.hidden_states(**batch), batch, image_span=True)

    # -- the remote-code model ------------------------------------------------------------------

    def _embed_queries(self, texts: list[str]) -> list[torch.Tensor]:
        if self.native:
            return self._native_queries(texts)
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
        if self.native:
            return self._native_pages(items)
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
