"""Benchmark: page and query encoding throughput of jina-embeddings-v4's shape, against a batch-1 path.

A model of jina-embeddings-v4's exact shape (Qwen2.5-VL-3B: 36-layer 2048-d language model, 32-layer
1280-d vision tower; 128-d multi-vector projector; 3.75 B parameters) is built from a config with
random weights (nothing is downloaded) and wrapped by the real adapter through its documented seam,
:meth:`jinavdr.models.adapters.jina.JinaV4Encoder.from_model`. Synthetic pages (PNG-encoded, with a
document-like layout) follow the real page-size distribution: a subset is drawn with probability
proportional to its page count, and a size around its mean width and height (clipped to its maximum),
from the image statistics of the 96 Jina-VDR subsets (``benchmarks/data/jinavdr-subsets.csv``).

Two paths encode the same pages in the same run:

* **ours**: :func:`jinavdr.engine.encoding.encode_pages` with the embedding cache: pages sorted by
  vision tokens, batches bounded by a token budget, decoding and preprocessing in spawned worker
  processes (pinned memory, prefetch), the vision tower's variable-length packing, no LM head;
* **batch 1**: what the jina-vdr and MTEB harnesses do: one page per model call, decoded and
  preprocessed in the calling process just before it (``encoder.encode_pages([page], batch_size=1)``).

Printed: pages/s, vision tokens/s, model FLOP utilisation against the measured dense matmul peak (and
the datasheet peak of a known GPU), peak memory, seconds per stage (decode, preprocess: summed over
workers; wait for data, host-to-device, vision tower, language model, pooling, cache write), the
agreement of the two paths' embeddings, and the projected time of the full benchmark (70,615 pages,
104.7 M vision tokens at the paper's image budget, 55,776 queries) from the measured per-token rate.

Usage::

    python benchmarks/encode_throughput.py --reduced            # CPU, tiny config: seconds (CI runs it)
    python benchmarks/encode_throughput.py --pages 256 --workers 12 --batch-size 64   # GPU, full size

The pages are cut into ``--subsets`` subsets encoded one after the other through one preparation pool,
as a run does: the workers start once, and each subset waits for its first prepared batch. Rates
leave those waits out; the projection adds the workers' start-up once and one first-batch wait per
subset (and, for comparison, a start-up per subset: the workers of a pool per call). The last line reads ``pages_per_s=<x>
speedup_vs_batch1=<y> projected_full_h=<z>``; ``--json PATH`` writes every figure.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jinavdr.catalogue.dataset import Corpus
from jinavdr.engine.cache import EmbeddingCache
from jinavdr.engine.encoding import encode_pages, encode_queries
from jinavdr.models.adapters.jina import (
    PAPER_MAX_PIXELS,
    V4_MIN_PIXELS,
    JinaV4Architecture,
    JinaV4Encoder,
    v4_page_tokens,
)
from jinavdr.models.adapters.qwen_vision import smart_resize, vision_attention
from jinavdr.models.base import Page
from jinavdr.models.registry import ModelSpec

SUBSETS_CSV = Path(__file__).parent / "data" / "jinavdr-subsets.csv"
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>"]
WORDS = ("revenue table chart figure page report total annual quarter growth market share population "
         "energy price index survey rate country region year value average number percent sales cost").split()
#: dense bf16 peak by the vendor datasheets (no sparsity), FLOP/s, for GPUs a result may name.
DATASHEET_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12}
FULL_QUERIES = 55_776


# --- the page-size distribution -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubsetStats:
    name: str
    pages: int
    queries: int
    avg_w: int
    avg_h: int
    max_w: int
    max_h: int


def read_subsets(path: Path = SUBSETS_CSV) -> list[SubsetStats]:
    """Image statistics per Jina-VDR subset (the reference facts kept in ``benchmarks/data``)."""
    with path.open(encoding="utf-8") as fh:
        return [SubsetStats(f"{r['mteb_task']}:{r['subset']}", int(r["documents"]), int(r["queries"]),
                            int(r["avg_w"]), int(r["avg_h"]), int(r["max_w"]), int(r["max_h"]))
                for r in csv.DictReader(fh)]


def sample_sizes(subsets: list[SubsetStats], n: int, seed: int, scale: float = 1.0) -> list[tuple[int, int]]:
    """``n`` page sizes (width, height): subsets drawn by page count, sizes jittered around the mean
    (log-normal, sigma 0.15, same factor on both sides) and clipped to the subset's maximum;
    ``scale`` shrinks every side (the reduced CPU run)."""
    rng = random.Random(seed)
    weights = [s.pages for s in subsets]
    out = []
    for s in rng.choices(subsets, weights=weights, k=n):
        f = math.exp(rng.gauss(0.0, 0.15))
        w, h = min(s.max_w, round(s.avg_w * f)), min(s.max_h, round(s.avg_h * f))
        out.append((max(28, round(w * scale)), max(28, round(h * scale))))
    return out


def full_benchmark_tokens(subsets: list[SubsetStats], max_pixels: int) -> int:
    """Vision tokens of the whole benchmark: pages x tokens of the subset's mean page size."""
    return sum(s.pages * v4_page_tokens(s.avg_w, s.avg_h, max_pixels) for s in subsets)


class EncodedPages:
    """``load_image`` of the synthetic corpus: decodes page ``i`` from its PNG bytes (picklable, so
    spawned decoding workers get it)."""

    def __init__(self, blobs: list[bytes]) -> None:
        self.blobs = blobs

    def __call__(self, i: int) -> Any:
        from PIL import Image

        image = Image.open(io.BytesIO(self.blobs[i]))
        image.load()
        return image


def document_png(width: int, height: int, seed: int) -> bytes:
    """A white page with dark text-like lines and a grey figure block, PNG-encoded."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    line = max(6, height // 60)
    for top in range(line * 2, height - line * 2, line * 2):
        x = line * 2
        while x < width - line * 2:
            word = rng.randint(line, line * 6)
            draw.rectangle([x, top, min(width - line * 2, x + word), top + line], fill=(20, 20, 20))
            x += word + line
    fw, fh = width // 3, height // 5
    fx, fy = rng.randint(0, width - fw), rng.randint(0, height - fh)
    draw.rectangle([fx, fy, fx + fw, fy + fh], fill=(rng.randint(60, 200),) * 3)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def synthetic_corpus(sizes: list[tuple[int, int]], seed: int) -> Corpus:
    blobs = [document_png(w, h, seed + i) for i, (w, h) in enumerate(sizes)]
    return Corpus(ids=[f"page-{i}" for i in range(len(sizes))], load_image=EncodedPages(blobs), sizes=list(sizes),
                  dataset="synthetic", hashes=[f"synthetic-{seed}-{i}" for i in range(len(sizes))])


def synthetic_queries(n: int, seed: int) -> list[str]:
    """Query texts of 4 to 30 words, mean about 12 (Jina-VDR questions are one sentence)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=max(4, min(30, round(rng.gauss(12, 4)))))) + "?" for _ in range(n)]


# --- the model ----------------------------------------------------------------------------------------


def qwen_tokenizer() -> Any:
    """A byte-level BPE tokenizer with Qwen2-VL's special tokens, trained here (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=QWEN_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator([" ".join(WORDS), "Query: Describe the image. user assistant"] * 4, trainer)
    return Qwen2TokenizerFast(tokenizer_object=raw, unk_token=None, bos_token=None, eos_token="<|im_end|>",
                              pad_token="<|endoftext|>")


def jina_v4_config(tokenizer: Any, reduced: bool) -> Any:
    """Qwen2.5-VL-3B-Instruct's dimensions (jina-embeddings-v4's backbone), or a tiny reduced copy."""
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIALS}
    if reduced:
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=1024, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]})
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      fullatt_block_indexes=[1])
    else:
        text = dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                    num_key_value_heads=2, vocab_size=151936,
                    rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]})
        vision = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                      fullatt_block_indexes=[7, 15, 23, 31])
    text.update(max_position_embeddings=128000, rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                hidden_act="silu")
    vision.update(patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112, in_chans=3,
                  hidden_act="silu", tokens_per_second=2)
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=True)


def build_encoder(device: str, dtype: str, reduced: bool, max_pixels: int, vector: str, attention: str | None
                  ) -> tuple[JinaV4Encoder, float]:
    """The adapter around a config-built model (random weights), and the seconds it took."""
    from transformers import Qwen2VLImageProcessor

    from jinavdr.models.adapters._hf import resolve_attention, resolve_dtype
    from jinavdr.models.device import resolve_device

    t0 = time.perf_counter()
    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    dev = resolve_device(device)
    attn = resolve_attention(attention, dev)
    config = jina_v4_config(tokenizer, reduced)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(resolve_dtype(dtype, dev))  # initialise in the target dtype, on the device
    try:
        with dev:
            model = JinaV4Architecture.from_config(config, attn_implementation=attn,
                                                   vision_attention=vision_attention(dev, attn))
    finally:
        torch.set_default_dtype(previous)
    processor = Qwen2VLImageProcessor(min_pixels=V4_MIN_PIXELS, max_pixels=max_pixels)
    spec = ModelSpec(name="jina-v4-shape", adapter="jina-v4-shape", factory="jinavdr.models.adapters.jina:JinaV4Encoder",
                     family="jina", model_id="config:qwen2.5-vl-3b" + ("-reduced" if reduced else ""), revision=None,
                     options={"dtype": dtype, "max_pixels": max_pixels, "vector": vector, "attn_implementation": attn})
    encoder = JinaV4Encoder.from_model(spec, device, model=model, tokenizer=tokenizer, image_processor=processor)
    return encoder, time.perf_counter() - t0


# --- FLOPs and peaks ----------------------------------------------------------------------------------


def page_flops(config: Any, grid: tuple[int, int, int], text_tokens: int) -> float:
    """Forward FLOPs (2 per multiply-add) of one page: vision tower (window and full attention),
    patch merger, language model over its tokens (causal attention), no LM head."""
    v, t = config.vision_config, config.get_text_config()
    patches = grid[0] * grid[1] * grid[2]
    d, inter = v.hidden_size, v.intermediate_size
    window = min(patches, (v.window_size // v.patch_size) ** 2)
    full = len(v.fullatt_block_indexes)
    vision = v.depth * patches * (4 * d * d + 3 * d * inter)
    vision += patches * 2 * d * (full * patches + (v.depth - full) * window)
    merged = patches // v.spatial_merge_size**2
    md = d * v.spatial_merge_size**2
    vision += merged * (md * md + md * v.out_hidden_size)
    h, kv = t.hidden_size, t.num_key_value_heads * (t.hidden_size // t.num_attention_heads)
    tokens = merged + text_tokens
    lm = t.num_hidden_layers * tokens * (2 * h * h + 2 * h * kv + 3 * h * t.intermediate_size)
    lm += t.num_hidden_layers * 2 * h * tokens * (tokens + 1) // 2
    return 2.0 * (vision + lm)


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """Best FLOP/s of a large square matmul in ``dtype`` on ``device`` (the practical peak)."""
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b
    sync()
    best = 0.0
    for _ in range(5 if device.type == "cuda" else 2):
        t0 = time.perf_counter()
        for _ in range(3):
            a @ b
        sync()
        best = max(best, 3 * 2 * n**3 / (time.perf_counter() - t0))
    return best


def datasheet_peak(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return "cpu", None
    name = torch.cuda.get_device_name(device)
    return name, next((v for k, v in DATASHEET_BF16.items() if k in name), None)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the two paths ------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Offset:
    """``load_image`` of a slice of a corpus: page ``i`` of the slice is page ``start + i`` (picklable)."""

    def __init__(self, load: Any, start: int) -> None:
        self.load, self.start = load, start

    def __call__(self, i: int) -> Any:
        return self.load(self.start + i)


def split_corpus(corpus: Corpus, parts: int) -> list[Corpus]:
    """``corpus`` cut into ``parts`` consecutive slices: the "subsets" one run goes through."""
    n = len(corpus)
    bounds = [round(j * n / parts) for j in range(parts + 1)]
    assert corpus.sizes is not None and corpus.hashes is not None
    return [Corpus(ids=corpus.ids[a:b], load_image=Offset(corpus.load_image, a), sizes=corpus.sizes[a:b],
                   dataset=f"synthetic-{j}", hashes=corpus.hashes[a:b])
            for j, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)) if b > a]


@dataclass
class OursRun:
    """What the batched path did over the subsets of one run."""

    embeddings: Any
    seconds: float  # all subsets, wall
    first_batch_s: list[float]  # per subset: waiting for its first prepared batch
    tokens: int
    padded_tokens: int
    token_budget: int | None
    stages: dict[str, float]
    oom_retries: int
    pool_starts: int


def run_ours(encoder: JinaV4Encoder, corpora: list[Corpus], batch_size: int, workers: int) -> OursRun:
    """Encode every corpus (a subset each) as a run does: one embedding cache, one preparation pool
    whose workers start once (with ``workers`` 0, everything in this process)."""
    from contextlib import nullcontext

    from jinavdr.engine.workers import PreparationPool
    from jinavdr.models.embeddings import Embeddings

    parts, firsts, stages = [], [], {}
    tokens = padded = oom = 0
    budget = None
    with tempfile.TemporaryDirectory() as tmp, (PreparationPool(workers) if workers else nullcontext()) as pool:
        cache = EmbeddingCache(Path(tmp))
        sync(encoder.device)
        t0 = time.perf_counter()
        for corpus in corpora:
            emb, stats = encode_pages(encoder, corpus, cache=cache, model="bench", batch_size=batch_size, pool=pool)
            parts.append(emb)
            firsts.append(stats.stages.get("first_batch", 0.0))
            tokens, padded, oom, budget = tokens + stats.tokens, padded + stats.padded_tokens, oom + stats.oom_retries, stats.token_budget
            for k, v in stats.stages.items():
                if k != "first_batch":
                    stages[k] = stages.get(k, 0.0) + v
        sync(encoder.device)
        seconds = time.perf_counter() - t0
        starts = pool.starts if pool is not None else 0
    stages["first_batch"] = sum(firsts)
    return OursRun(Embeddings.concat(parts), seconds, firsts, tokens, padded, budget, stages, oom, starts)


def run_batch1(encoder: JinaV4Encoder, corpus: Corpus, harness: bool = False) -> tuple[list[torch.Tensor], float]:
    """One page per call in corpus order, decoded and preprocessed just before its model call.

    ``harness=True`` also does what the remote code under the jina-vdr and MTEB harnesses does on
    top: the vision tower on ``sdpa`` (one attention call per window, as transformers runs it without
    flash attention) and the LM head's logits over every token (the remote code calls the
    generation model's forward); both are undone afterwards."""
    out = []
    visual_config = encoder.model.visual.config
    attention = visual_config._attn_implementation
    hook = None
    if harness:
        visual_config._attn_implementation = "sdpa"
        head = encoder.model.backbone.get_input_embeddings().weight  # tied LM head

        def logits(module: Any, args: Any, result: Any) -> None:
            result.last_hidden_state @ head.T  # computed and dropped, as a generation forward would

        hook = encoder.model.backbone.register_forward_hook(logits)
    try:
        sync(encoder.device)
        t0 = time.perf_counter()
        for i in range(len(corpus)):
            emb = encoder.encode_pages([Page(corpus.ids[i], corpus.image(i))], batch_size=1)
            out.append(emb.item(0))
        sync(encoder.device)
        return out, time.perf_counter() - t0
    finally:
        visual_config._attn_implementation = attention
        if hook is not None:
            hook.remove()


def agreement(ours: Any, batch1: list[torch.Tensor]) -> float:
    """Smallest cosine between the two paths' embedding of a page (multi-vectors: per token)."""
    worst = 1.0
    for i, ref in enumerate(batch1):
        got = ours.item(i)
        cos = torch.nn.functional.cosine_similarity(got.reshape(-1, ref.shape[-1]), ref.reshape(-1, ref.shape[-1]), dim=-1)
        worst = min(worst, float(cos.min()))
    return worst


def grid_of(encoder: JinaV4Encoder, size: tuple[int, int]) -> tuple[int, int, int]:
    h, w = smart_resize(size[1], size[0], 28, V4_MIN_PIXELS, encoder._max_pixels())
    return (1, h // 14, w // 14)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reduced", action="store_true", help="tiny config and small pages (CPU, seconds)")
    ap.add_argument("--device", default=None, help="cpu, cuda (default: cuda when available)")
    ap.add_argument("--dtype", default=None, help="default: bfloat16 on a GPU, float32 on the CPU")
    ap.add_argument("--pages", type=int, default=None, help="pages encoded by each path (default 256, reduced 12)")
    ap.add_argument("--batch1-pages", type=int, default=None, help="pages of the batch-1 path (default: all)")
    ap.add_argument("--harness-pages", type=int, default=None,
                    help="pages of the harness-like batch-1 path (default: those of the batch-1 path)")
    ap.add_argument("--queries", type=int, default=None, help="queries encoded (default 512, reduced 16)")
    ap.add_argument("--batch-size", type=int, default=None, help="pages per batch at most (default 64, reduced 4)")
    ap.add_argument("--workers", type=int, default=None, help="preparation workers (default: cores - 2, reduced 1)")
    ap.add_argument("--subsets", type=int, default=None,
                    help="subsets the pages are cut into, encoded one after the other through one preparation "
                         "pool as a run does (default 4, reduced 2)")
    ap.add_argument("--max-pixels", type=int, default=None, help="image budget (default: the paper's)")
    ap.add_argument("--vector", default="multi", choices=("single", "multi"))
    ap.add_argument("--attention", default=None, help="attn_implementation (default: fastest available)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write every figure to this file")
    args = ap.parse_args()
    import os

    reduced = args.reduced
    n_pages = args.pages or (12 if reduced else 256)
    n_queries = args.queries or (16 if reduced else 512)
    batch_size = args.batch_size or (4 if reduced else 64)
    workers = args.workers if args.workers is not None else (1 if reduced else max(1, (os.cpu_count() or 2) - 2))
    n_subsets = max(1, min(n_pages, args.subsets or (2 if reduced else 4)))
    max_pixels = args.max_pixels or (28 * 28 * 64 if reduced else PAPER_MAX_PIXELS)
    dtype = args.dtype or ("float32" if reduced else None)

    encoder, build_s = build_encoder(args.device or "auto", dtype or "auto", reduced, max_pixels, args.vector, args.attention)
    dev = encoder.device
    config = encoder.model.config
    params = sum(p.numel() for p in encoder.model.parameters())
    subsets = read_subsets()
    # reduced: pages shrunk so the tiny budget still sees the real aspect ratios
    sizes = sample_sizes(subsets, n_pages + 2, args.seed, scale=0.25 if reduced else 1.0)
    corpus = synthetic_corpus(sizes[2:], args.seed)
    warm = synthetic_corpus(sizes[:2], args.seed + 10_000)
    queries = synthetic_queries(n_queries, args.seed)
    print(f"torch {torch.__version__}, device {dev} ({datasheet_peak(dev)[0]}), dtype {encoder.dtype}, "
          f"attention {encoder.attn_implementation} (vision tower {encoder.resolved.get('vision_attention')}), {'reduced' if reduced else 'full-size'} model "
          f"{params / 1e9:.3f} B parameters built in {build_s:.1f} s; {len(corpus)} pages, {len(queries)} queries, "
          f"batch <= {batch_size} pages, {workers} workers, max_pixels {max_pixels}")

    with torch.inference_mode():  # warm-up: kernels, allocator, first-call costs of both paths
        encoder.encode_pages([Page("w", warm.image(0))], batch_size=1)
        encoder.encode_queries(queries[:2], batch_size=2)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    ours = run_ours(encoder, split_corpus(corpus, n_subsets), batch_size, workers)
    emb, ours_s = ours.embeddings, ours.seconds
    peak_mib = peak_memory_mib(dev)
    n_b1 = min(len(corpus), args.batch1_pages or len(corpus))
    b1_corpus = Corpus(ids=corpus.ids[:n_b1], load_image=corpus.load_image, sizes=corpus.sizes[:n_b1], dataset="synthetic")
    with torch.inference_mode():
        b1, b1_s = run_batch1(encoder, b1_corpus)
        n_h = min(n_b1, args.harness_pages or n_b1)
        harness_corpus = Corpus(ids=corpus.ids[:n_h], load_image=corpus.load_image, sizes=corpus.sizes[:n_h],
                                dataset="synthetic")
        _, harness_s = run_batch1(encoder, harness_corpus, harness=True)
    worst_cos = agreement(emb, b1)

    with tempfile.TemporaryDirectory() as tmp:
        sync(dev)
        t0 = time.perf_counter()
        _, q_stats = encode_queries(encoder, queries, cache=EmbeddingCache(Path(tmp)), model="bench", batch_size=64)
        sync(dev)
        query_s = time.perf_counter() - t0

    text_tokens = 20  # prompt tokens around the image
    flops = sum(page_flops(config, grid_of(encoder, s), text_tokens) for s in corpus.sizes)
    peak = matmul_peak(dev, encoder.dtype)
    gpu_name, sheet = datasheet_peak(dev)
    # the first subset waits for the workers to start and for its first batch; later subsets only for
    # their first batch (the pool's workers are running)
    start_s = ours.first_batch_s[0]
    warm_first_s = (sum(ours.first_batch_s[1:]) / (len(ours.first_batch_s) - 1) if len(ours.first_batch_s) > 1
                    else start_s)
    steady_s = ours_s - sum(ours.first_batch_s)
    pages_per_s = len(corpus) / steady_s
    b1_pages_per_s = n_b1 / b1_s
    tokens_per_s = ours.tokens / steady_s
    full_tokens = full_benchmark_tokens(subsets, encoder._max_pixels())
    per_query = query_s / len(queries)
    steady_full_s = full_tokens / tokens_per_s + FULL_QUERIES * per_query
    # as the code runs: the workers start once per run, each subset waits for its first batch
    projected_s = steady_full_s + start_s + (len(subsets) - 1) * warm_first_s
    projected_restart_s = steady_full_s + len(subsets) * start_s  # workers started again for every subset
    projected_steady_s = steady_full_s  # no wait at all between subsets
    b1_tokens = sum(encoder.page_tokens(*s) for s in b1_corpus.sizes)
    projected_b1_s = full_tokens / (b1_tokens / b1_s) + FULL_QUERIES * per_query
    figures = {
        "device": str(dev), "gpu": gpu_name, "dtype": str(encoder.dtype), "attention": encoder.attn_implementation,
        "reduced": reduced, "parameters": params, "pages": len(corpus), "batch1_pages": n_b1, "queries": len(queries),
        "batch_size": batch_size, "workers": workers, "max_pixels": max_pixels, "vector": args.vector,
        "token_budget": ours.token_budget, "vision_tokens": ours.tokens, "padded_tokens": ours.padded_tokens,
        "subsets": n_subsets, "pool_starts": ours.pool_starts, "first_batch_s": ours.first_batch_s,
        "ours_s": ours_s, "start_s": start_s, "warm_first_batch_s": warm_first_s, "steady_s": steady_s,
        "pages_per_s": pages_per_s,
        "pages_per_s_incl_start": len(corpus) / ours_s, "vision_tokens_per_s": tokens_per_s,
        "batch1_s": b1_s, "batch1_pages_per_s": b1_pages_per_s, "speedup_vs_batch1": pages_per_s / b1_pages_per_s,
        "harness_pages": n_h, "harness_s": harness_s, "harness_pages_per_s": n_h / harness_s,
        "speedup_vs_harness": pages_per_s / (n_h / harness_s),
        "model_flops": flops, "mfu_vs_measured_matmul": flops / steady_s / peak, "matmul_peak_flops": peak,
        "mfu_vs_datasheet": None if sheet is None else flops / steady_s / sheet, "datasheet_peak_flops": sheet,
        "peak_memory_mib": peak_mib, "stages_s": ours.stages, "oom_retries": ours.oom_retries,
        "query_s": query_s, "queries_per_s": len(queries) / query_s, "min_cosine_vs_batch1": worst_cos,
        "full_benchmark_tokens": full_tokens, "projected_full_h": projected_s / 3600,
        "projected_restart_h": projected_restart_s / 3600, "projected_steady_h": projected_steady_s / 3600,
        "projected_full_batch1_h": projected_b1_s / 3600, "cpu_count": os.cpu_count(),
    }
    report(figures, q_stats)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    print(f"pages_per_s={pages_per_s:.3f} speedup_vs_batch1={figures['speedup_vs_batch1']:.2f} "
          f"projected_full_h={figures['projected_full_h']:.3f} speedup_vs_harness={figures['speedup_vs_harness']:.2f} "
          f"projected_steady_h={figures['projected_steady_h']:.3f}")


def report(f: dict[str, Any], q_stats: Any) -> None:
    waits = ", ".join(f"{s:.2f}" for s in f["first_batch_s"])
    print(f"ours   : {f['pages']} pages in {f['subsets']} subsets through one pool of {f['workers']} workers "
          f"(started {f['pool_starts']}x) in {f['ours_s']:.2f} s; waiting for each subset's first batch: {waits} s "
          f"(the first includes the workers' start-up); otherwise {f['pages_per_s']:.2f} pages/s "
          f"({f['pages_per_s_incl_start']:.2f} with the waits), "
          f"{f['vision_tokens_per_s']:.0f} vision tokens/s ({f['vision_tokens']} tokens, padding "
          f"{f['padded_tokens'] / max(1, f['vision_tokens']) - 1:.1%}, token budget {f['token_budget']}), "
          f"peak memory {f['peak_memory_mib']:.0f} MiB, OOM retries {f['oom_retries']}")
    print(f"batch 1: {f['batch1_pages']} pages in {f['batch1_s']:.2f} s = {f['batch1_pages_per_s']:.2f} pages/s; "
          f"speed-up {f['speedup_vs_batch1']:.2f}x; smallest cosine between the paths' embeddings "
          f"{f['min_cosine_vs_batch1']:.5f}")
    print(f"harness: {f['harness_pages']} pages in {f['harness_s']:.2f} s = {f['harness_pages_per_s']:.2f} pages/s "
          f"(batch 1 as under jina-vdr/MTEB: per-window sdpa in the vision tower, LM-head logits); "
          f"speed-up {f['speedup_vs_harness']:.2f}x")
    sheet = "" if f["mfu_vs_datasheet"] is None else f", {f['mfu_vs_datasheet']:.1%} of the datasheet bf16 peak"
    print(f"MFU    : {f['model_flops'] / f['steady_s'] / 1e12:.1f} TFLOP/s = {f['mfu_vs_measured_matmul']:.1%} of the "
          f"measured matmul peak ({f['matmul_peak_flops'] / 1e12:.1f} TFLOP/s){sheet}")
    stages = ", ".join(f"{k} {v:.2f}" for k, v in sorted(f["stages_s"].items(), key=lambda kv: -kv[1]))
    print(f"stages : {stages} (seconds; decode and preprocess summed over {max(1, f['workers'])} process(es))")
    prep = f["stages_s"].get("decode", 0.0) + f["stages_s"].get("preprocess", 0.0)
    if prep:
        per_core = f["pages"] / prep
        print(f"data   : {per_core:.2f} pages/s per CPU core for decode + preprocess; "
              f"{math.ceil(f['pages_per_s'] / per_core)} workers keep up with the measured rate")
    print(f"queries: {f['queries']} in {f['query_s']:.2f} s = {f['queries_per_s']:.0f} queries/s "
          f"(cache: {q_stats.encoded} encoded)")
    print(f"project: full Jina-VDR ({f['full_benchmark_tokens'] / 1e6:.1f} M vision tokens, {FULL_QUERIES} queries) "
          f"{f['projected_full_h']:.2f} h on this device ({f['gpu']}; workers started once, each of the 96 subsets "
          f"waiting {f['warm_first_batch_s']:.2f} s for its first batch); {f['projected_restart_h']:.2f} h with the "
          f"workers started again for every subset; {f['projected_steady_h']:.2f} h without any wait; "
          f"batch-1 path {f['projected_full_batch1_h']:.2f} h")


if __name__ == "__main__":
    main()
