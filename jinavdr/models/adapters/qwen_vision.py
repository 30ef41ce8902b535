"""Qwen2-VL style inputs without ``Qwen2VLProcessor`` (whose video half needs torchvision).

The slow, PIL-based ``Qwen2VLImageProcessor`` turns images into patches (``pixel_values``) and
``image_grid_thw``; this module expands each ``<|image_pad|>`` placeholder of a prompt to the number of
merged patches of its image and tokenises, exactly as ``Qwen2VLProcessor.__call__`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE_TOKEN = "<|image_pad|>"
#: an image placeholder as Qwen2-VL chat templates write it.
VISION_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
#: pixel budget of ``qwen_vl_utils.fetch_image`` (what model cards run before the processor).
FETCH_MIN_PIXELS = 4 * 28 * 28
FETCH_MAX_PIXELS = 16384 * 28 * 28


def chat_prompt(content: str) -> str:
    """One user turn with an image, as Qwen2-VL's chat template renders it with
    ``add_generation_prompt=True`` (default system prompt included)."""
    return (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{VISION_PLACEHOLDER}{content}<|im_end|>\n<|im_start|>assistant\n"
    )


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = FETCH_MIN_PIXELS,
                 max_pixels: int = FETCH_MAX_PIXELS) -> tuple[int, int]:
    """Height and width rounded to multiples of ``factor`` with the pixel count in
    [min_pixels, max_pixels], keeping the aspect ratio (the Qwen2-VL resizing rule)."""
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def fetch_resize(image: Image, height: int | None = None, width: int | None = None) -> Image:
    """What ``qwen_vl_utils.fetch_image`` does to a PIL image before the processor sees it: resize
    (bicubic) to :func:`smart_resize` of its size, or of an explicit ``height`` x ``width``."""
    from PIL import Image as PILImage

    if height is None or width is None:
        width, height = image.size
    h, w = smart_resize(height, width)
    if (w, h) == image.size:
        return image
    return image.resize((w, h), resample=PILImage.Resampling.BICUBIC)


def expand_image_tokens(prompts: Sequence[str], grid_thw: Any, merge_size: int) -> list[str]:
    """Repeat each ``<|image_pad|>`` once per merged patch of its image (images in prompt order)."""
    out: list[str] = []
    index = 0
    for prompt in prompts:
        parts = prompt.split(IMAGE_TOKEN)
        text = parts[0]
        for part in parts[1:]:
            count = int(grid_thw[index].prod()) // (merge_size**2)
            text += IMAGE_TOKEN * count + part
            index += 1
        out.append(text)
    if index != len(grid_thw):
        raise ValueError(f"{len(grid_thw)} images but {index} {IMAGE_TOKEN} placeholders in the prompts")
    return out


def build_inputs(tokenizer: Any, image_processor: Any, prompts: Sequence[str], images: Sequence[Image],
                 *, min_pixels: int, max_pixels: int) -> dict[str, Any]:
    """Tokenised prompts (image tokens expanded, padded per the tokenizer's padding side) plus
    ``pixel_values`` and ``image_grid_thw``; one image per prompt."""
    vision = image_processor(images=list(images), min_pixels=min_pixels, max_pixels=max_pixels,
                             return_tensors="pt")
    texts = expand_image_tokens(prompts, vision["image_grid_thw"], image_processor.merge_size)
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    return {
        "input_ids": tokens["input_ids"],
        "attention_mask": tokens["attention_mask"],
        "pixel_values": vision["pixel_values"],
        "image_grid_thw": vision["image_grid_thw"],
    }


def set_pixel_budget(image_processor: Any, *, max_pixels: int | None = None, min_pixels: int | None = None) -> None:
    """Change a Qwen2-VL image processor's pixel budget (its attributes and, when a dict, its ``size``)."""
    size = getattr(image_processor, "size", None)
    size = dict(size) if isinstance(size, dict) else None
    if max_pixels is not None:
        image_processor.max_pixels = int(max_pixels)
        if size is not None:
            size["longest_edge"] = int(max_pixels)
    if min_pixels is not None:
        image_processor.min_pixels = int(min_pixels)
        if size is not None:
            size["shortest_edge"] = int(min_pixels)
    if size is not None:
        image_processor.size = size


# --------------------------------------------------------------------------------------------------
# Variable-length attention for the vision tower
# --------------------------------------------------------------------------------------------------

#: the attention implementation name under which :func:`varlen_attention` is registered with
#: transformers ("flash" in the name routes Qwen2.5-VL's vision tower to its cu_seqlens path).
VARLEN_ATTENTION = "jinavdr_flash_varlen"


def varlen_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None,
                     dropout: float = 0.0, cu_seq_lens_q: Any = None, cu_seq_lens_k: Any = None,
                     max_length_q: Any = None, max_length_k: Any = None, **kwargs: Any) -> tuple[Any, None]:
    """Non-causal attention over packed sequences (``cu_seq_lens``): one ``torch.nn.attention.varlen``
    flash call on CUDA for all windows of all images of a batch, instead of one SDPA call per window.
    ``query`` [1, heads, tokens, dim]; returns ([1, tokens, heads, dim], None) as transformers expects.
    On the CPU (tests) it runs SDPA per sequence."""
    import torch

    q, k, v = (x.squeeze(0).transpose(0, 1).contiguous() for x in (query, key, value))
    if q.is_cuda:
        from torch.nn.attention.varlen import varlen_attn

        cu_q, cu_k = cu_seq_lens_q.to(torch.int32), cu_seq_lens_k.to(torch.int32)
        out = varlen_attn(q, k, v, cu_q, cu_k, int(max_length_q), int(max_length_k), scale=scaling)
    else:
        bounds = cu_seq_lens_q.tolist()
        parts = [torch.nn.functional.scaled_dot_product_attention(
                     q[a:b].transpose(0, 1), k[a:b].transpose(0, 1), v[a:b].transpose(0, 1), scale=scaling
                 ).transpose(0, 1) for a, b in zip(bounds, bounds[1:], strict=False)]
        out = torch.cat(parts, 0)
    return out.unsqueeze(0), None


def vision_attention(device: Any, default: str) -> str:
    """The vision tower's attention: :data:`VARLEN_ATTENTION` (registered here) on CUDA when torch has
    ``torch.nn.attention.varlen`` and transformers >= 5 routes "flash" names to the packed path; else
    ``default``."""
    import importlib.util

    import transformers

    if getattr(device, "type", str(device)) != "cuda" or importlib.util.find_spec("torch.nn.attention.varlen") is None:
        return default
    if int(transformers.__version__.split(".")[0]) < 5 or not _varlen_works(device):
        return default
    register_varlen_attention()
    return VARLEN_ATTENTION


def _varlen_works(device: Any) -> bool:
    """One tiny packed call (two sequences, bf16) on ``device``: False if this torch build refuses it."""
    import torch

    try:
        x = torch.randn(1, 2, 24, 80, device=device, dtype=torch.bfloat16)
        cu = torch.tensor([0, 8, 24], device=device, dtype=torch.int32)
        out, _ = varlen_attention(None, x, x, x, None, scaling=0.1, cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                                  max_length_q=16, max_length_k=16)
        return tuple(out.shape) == (1, 24, 2, 80)
    except Exception:  # noqa: BLE001 - any failure means: use the default attention
        return False


def register_varlen_attention() -> None:
    """Make :data:`VARLEN_ATTENTION` known to transformers (idempotent)."""
    from transformers import AttentionInterface

    AttentionInterface.register(VARLEN_ATTENTION, varlen_attention)
