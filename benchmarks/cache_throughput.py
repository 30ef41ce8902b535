"""Embedding-cache throughput: write N items in shards as the encoding loop does, then read them all.

    python benchmarks/cache_throughput.py --items 70000 --dim 2048 --dtype bfloat16
    python benchmarks/cache_throughput.py --items 70000 --dim 128 --tokens 64   # multi-vector

Prints seconds and items/s for writing, building the index (a fresh process's first lookup) and
reading every item back in a shuffled order.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import torch

from jinavdr.engine.cache import EmbeddingCache
from jinavdr.models.embeddings import Embeddings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=70_000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--tokens", type=int, default=0, help="mean tokens per item (0 = dense)")
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--shard", type=int, default=512, help="items per shard (the loop flushes every 512)")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    keys = [f"{i:032x}" for i in range(args.items)]
    with tempfile.TemporaryDirectory() as root:
        cache = EmbeddingCache(root)
        model = "0" * 64
        t0 = time.perf_counter()
        for lo in range(0, args.items, args.shard):
            n = min(args.shard, args.items - lo)
            if args.tokens:
                lengths = torch.randint(1, 2 * args.tokens, (n,))
                offsets = torch.zeros(n + 1, dtype=torch.int64)
                offsets[1:] = lengths.cumsum(0)
                emb = Embeddings(torch.randn(int(offsets[-1]), args.dim).to(dtype), offsets)
            else:
                emb = Embeddings(torch.randn(n, args.dim).to(dtype))
            cache.put(model, "page", keys[lo : lo + n], emb)
        write = time.perf_counter() - t0
        fresh = EmbeddingCache(root)
        t0 = time.perf_counter()
        assert all(fresh.contains(model, "page", keys[:1]))
        index = time.perf_counter() - t0
        order = keys[:]
        random.Random(0).shuffle(order)
        t0 = time.perf_counter()
        found, emb = fresh.get(model, "page", order)
        read = time.perf_counter() - t0
        assert len(found) == args.items and emb is not None
        size = sum(i.bytes for i in fresh.info())
        print(f"{args.items} items, dim {args.dim}, {args.dtype}, "
              f"{'multi ~' + str(args.tokens) + ' tokens' if args.tokens else 'dense'}, {size / 1e6:.0f} MB")
        print(f"write {write:.2f} s ({args.items / write:,.0f} items/s)")
        print(f"index {index:.2f} s (fresh process, {len(fresh._shard_files(model, 'page'))} shards)")
        print(f"read  {read:.2f} s ({args.items / read:,.0f} items/s)")


if __name__ == "__main__":
    main()
