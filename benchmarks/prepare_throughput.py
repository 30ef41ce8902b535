"""Benchmark: can the host keep a GPU fed? Page decoding and preparation for jina-embeddings-v4, per core.

Real-size synthetic pages (the page-size distribution of the 96 Jina-VDR subsets, PNG-encoded, see
``encode_throughput.py``) are decoded and prepared exactly as the split page path does it
(:class:`jinavdr.models.adapters.jina.V4PagePreparer`: RGB, resize to the paper's pixel budget,
14-pixel patches, prompt tokens; bf16 patches as for a bf16 model), with the image processor that the
installed transformers provides. Measured side by side in one run:

* **in this process**, one page at a time: seconds per page for decoding and for preparation;
* **through a preparation pool** (:class:`jinavdr.engine.workers.PreparationPool`) of each size in
  ``--workers`` (default 1 to the cores), batches of ``--batch-size`` pages split between them: pages/s after the workers started.

Printed: pages/s per core, and how many workers a GPU needs at the rate measured on an H200
(9.82 pages/s, ``docs/scale-out.md``) and at the rate a one-hour full benchmark needs (70,615 pages in
3,600 s of encoding: 19.6 pages/s). The last line reads
``pages_per_s_per_core=<x> workers_for_h200=<n> workers_for_1h=<m>``.

Usage::

    python benchmarks/prepare_throughput.py                   # 48 real-size pages, 1..cores workers
    python benchmarks/prepare_throughput.py --pages 6 --batch-size 2 --workers 1 --scale 0.25   # seconds (CI)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import encode_throughput as bench  # noqa: E402  (same folder: page sizes, synthetic pages, tokenizer)

from jinavdr.engine.workers import PreparationPool, page_of  # noqa: E402
from jinavdr.models.adapters.jina import (  # noqa: E402
    PAPER_MAX_PIXELS,
    V4_MIN_PIXELS,
    V4PagePreparer,
    v4_page_tokens,
)

#: pages/s of jina-embeddings-v4's shape on one H200 (docs/scale-out.md) and of a one-hour full run
H200_PAGES_PER_S = 9.82
ONE_HOUR_PAGES_PER_S = 70_615 / 3600


def preparer(max_pixels: int) -> V4PagePreparer:
    from transformers import Qwen2VLImageProcessor

    return V4PagePreparer(bench.qwen_tokenizer(), Qwen2VLImageProcessor(min_pixels=V4_MIN_PIXELS, max_pixels=max_pixels),
                          V4_MIN_PIXELS, max_pixels, torch.bfloat16)


def in_process(corpus: bench.Corpus, prep: V4PagePreparer) -> tuple[float, float]:
    """Seconds per page: decoding, then preparing (one page at a time, in this process)."""
    decode = preprocess = 0.0
    for i in range(len(corpus)):
        t0 = time.perf_counter()
        page = page_of(corpus, i, None, True)
        t1 = time.perf_counter()
        prep([page])
        decode, preprocess = decode + t1 - t0, preprocess + time.perf_counter() - t1
    return decode / len(corpus), preprocess / len(corpus)


def through_pool(corpus: bench.Corpus, prep: V4PagePreparer, workers: int, batch_size: int) -> tuple[float, float]:
    """(pages/s once the workers run, seconds of the start-up and first batch) through a pool."""
    batches = [list(range(lo, min(len(corpus), lo + batch_size))) for lo in range(0, len(corpus), batch_size)]
    with PreparationPool(workers) as pool:
        t0 = time.perf_counter()
        items = pool.prepare(corpus, batches, prep, None, True)
        first = next(items)
        t1 = time.perf_counter()
        rest = sum(len(item.positions) for item in items)
        t2 = time.perf_counter()
    del first
    return (rest / (t2 - t1) if rest else float("nan")), t1 - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8, help="pages per batch (split between the workers)")
    ap.add_argument("--workers", default=None, help="pool sizes to measure, comma-separated (default: 1 to the cores)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink every page side (1.0: real size)")
    ap.add_argument("--max-pixels", type=int, default=PAPER_MAX_PIXELS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import transformers

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    sizes_of_pools = [int(w) for w in args.workers.split(",")] if args.workers else list(range(1, cores + 1))
    sizes = bench.sample_sizes(bench.read_subsets(), args.pages, args.seed, scale=args.scale)
    corpus = bench.synthetic_corpus(sizes, args.seed)
    prep = preparer(args.max_pixels)
    mp = sum(w * h for w, h in sizes) / len(sizes) / 1e6
    tokens = sum(v4_page_tokens(w, h, args.max_pixels) for w, h in sizes) / len(sizes)
    print(f"{len(corpus)} pages, mean {mp:.2f} MP ({tokens:.0f} vision tokens), max_pixels {args.max_pixels}; "
          f"transformers {transformers.__version__} ({type(prep.image_processor).__name__}), {cores} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    prep([page_of(corpus, 0, None, True)])  # warm-up
    decode_s, preprocess_s = in_process(corpus, prep)
    per_core = 1.0 / (decode_s + preprocess_s)
    print(f"in process: decode {decode_s * 1000:.0f} ms + prepare {preprocess_s * 1000:.0f} ms per page = "
          f"{per_core:.2f} pages/s per core")
    for workers in sizes_of_pools:
        rate, first_s = through_pool(corpus, prep, workers, args.batch_size)
        print(f"pool of {workers}: {rate:.2f} pages/s after the first batch ({first_s:.2f} s: start-up and first "
              f"batch), {rate / workers:.2f} per worker")
    need_h200 = math.ceil(H200_PAGES_PER_S / per_core)
    need_1h = math.ceil(ONE_HOUR_PAGES_PER_S / per_core)
    print(f"workers needed at {H200_PAGES_PER_S} pages/s (measured H200): {need_h200}; at {ONE_HOUR_PAGES_PER_S:.1f} "
          f"pages/s (the full benchmark in one hour): {need_1h}")
    print(f"pages_per_s_per_core={per_core:.3f} workers_for_h200={need_h200} workers_for_1h={need_1h}")


if __name__ == "__main__":
    main()
