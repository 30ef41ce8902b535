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
