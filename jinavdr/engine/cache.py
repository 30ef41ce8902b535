"""The on-disk embedding cache: (model settings, role, content hash) -> embedding.

Layout under the root (``$JINAVDR_CACHE`` or ``~/.cache/jinavdr/embeddings``)::

    v1/<model key[:24]>/spec.json                 # the model settings, for `jinavdr cache info`
    v1/<model key[:24]>/<role>/<shard>.safetensors  # role: "query" or "page"

A shard holds many items: ``data`` [T, D] (any dtype, bf16 included), ``offsets`` [N + 1] for
multi-vector items (absent for dense [N, D]) and, in the safetensors header, the items' content
keys. Shards are written to a temporary name and renamed into place, and never modified after, so
any number of processes (ranks of a torchrun job included) can write concurrently without locks:
two writers of the same key produce two shards holding equal vectors, and readers use the first
one they index. Reading builds an in-memory index key -> (shard, row) from the shard headers only.

Content keys are computed by :func:`query_key` and :func:`page_key`, so the same page in two
tasks is one entry. The model key (``ModelSpec.key()``) covers adapter, checkpoint, revision and
every option. A local checkpoint folder is keyed by its path: after retraining into the same
folder, pass a new ``revision`` or clear the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinavdr.results.store import write_atomic

if TYPE_CHECKING:
    import torch

    from jinavdr.models.embeddings import Embeddings

FORMAT = "v1"
ROLES = ("query", "page")
_SUFFIX = ".safetensors"


def take(emb: Embeddings, rows: Sequence[int]) -> Embeddings:
    """Items ``rows`` of ``emb`` in that order (vectorised; multi-vector items may have 0 tokens)."""
    import torch

    from jinavdr.models.embeddings import Embeddings

    index = torch.as_tensor(list(rows), dtype=torch.int64)
    if emb.offsets is None:
        return Embeddings(_gather(emb.data, index))
    lengths = (emb.offsets[1:] - emb.offsets[:-1])[index]
    offsets = torch.zeros(len(index) + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    return Embeddings(_gather(emb.data, _token_index(emb.offsets[:-1][index], lengths)), offsets)


def _token_index(starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Row indices ``starts[i] .. starts[i] + lengths[i] - 1`` for every item, concatenated."""
    import torch

    total = int(lengths.sum())
    first = torch.zeros_like(lengths)
    first[1:] = torch.cumsum(lengths, 0)[:-1]
    return torch.arange(total, dtype=torch.int64) + torch.repeat_interleave(starts - first, lengths, output_size=total)


def _int_view(t: torch.Tensor) -> torch.Tensor:
    import torch

    as_int = {2: torch.int16, 4: torch.int32, 8: torch.int64}.get(t.element_size())
    if as_int is None or t.is_complex() or not t.is_contiguous() or not t.is_floating_point():
        return t
    return t.view(as_int)


def _scatter(out: torch.Tensor, index: torch.Tensor, rows: torch.Tensor) -> None:
    """``out[index] = rows``, bit-exact, through integer views."""
    _int_view(out).index_copy_(0, index, _int_view(rows))


def _gather(data: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``data[index]`` along rows, bit-exact; copies through an integer view (faster on CPU)."""
    import torch

    view = _int_view(data)
    return torch.index_select(view, 0, index).view(data.dtype)


def default_root() -> Path:
    """``$JINAVDR_CACHE`` if set, else ``~/.cache/jinavdr/embeddings``."""
    env = os.environ.get("JINAVDR_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "jinavdr" / "embeddings"


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()[:32]


def query_key(text: str) -> str:
    """Content key of a query text."""
    return _sha(b"query", text.encode("utf-8"))


def image_digest(image: Any) -> str:
    """Digest of a decoded PIL image (mode, size, pixels); used when the loader gave no hash."""
    return _sha(str(image.mode).encode(), repr(image.size).encode(), image.tobytes())


def page_key(image_hash: str | None, text: str | None) -> str:
    """Content key of a page from what the encoder reads: its image digest and/or its OCR text."""
    return _sha(
        b"page",
        b"-" if image_hash is None else b"i" + image_hash.encode(),
        b"-" if text is None else b"t" + text.encode("utf-8"),
    )


@dataclass
class _Index:
    shards: frozenset[str] = frozenset()
    rows: dict[str, tuple[str, int]] = field(default_factory=dict)
    multi: bool | None = None


@dataclass(frozen=True)
class ModelCacheInfo:
    key: str
    settings: dict[str, Any]
    slug: str | None
    entries: dict[str, int]  # role -> unique items
    shards: int
    bytes: int


class EmbeddingCache:
    """A content-addressed store of embeddings, shared by all tasks and processes."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._indexes: dict[tuple[str, str], _Index] = {}

    # ---- paths -----------------------------------------------------------------------------------

    def model_dir(self, model_key: str) -> Path:
        return self.root / FORMAT / model_key[:24]

    def _role_dir(self, model_key: str, role: str) -> Path:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.model_dir(model_key) / role

    # ---- writing -----------------------------------------------------------------------------------

    def describe(self, model_key: str, settings: dict[str, Any], slug: str | None = None) -> None:
        """Record the model settings next to its entries (for ``cache info``); idempotent."""
        path = self.model_dir(model_key) / "spec.json"
        if path.exists():
            return
        payload = {"key": model_key, "slug": slug, "settings": settings}
        write_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str).encode())

    def put(self, model_key: str, role: str, keys: Sequence[str], embeddings: Embeddings) -> Path | None:
        """Store ``embeddings`` (item i under ``keys[i]``) as one new shard; returns its path."""
        import torch
        from safetensors.torch import save

        if len(keys) != len(embeddings):
            raise ValueError(f"{len(keys)} keys for {len(embeddings)} embeddings")
        if not keys:
            return None
        tensors = {"data": embeddings.data.detach().to("cpu").contiguous()}
        if embeddings.offsets is not None:
            tensors["offsets"] = embeddings.offsets.detach().to("cpu", torch.int64).contiguous()
        meta = {"keys": json.dumps(list(keys)), "kind": "multi" if embeddings.is_multi else "dense"}
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{_SUFFIX}"
        path = self._role_dir(model_key, role) / name
        write_atomic(path, save(tensors, metadata=meta))
        return path

    def writer(self, model_key: str, role: str, *, flush_items: int = 512,
               flush_seconds: float = 60.0) -> CacheWriter:
        """A buffer that writes a shard every ``flush_items`` items or ``flush_seconds`` seconds."""
        return CacheWriter(self, model_key, role, flush_items=flush_items, flush_seconds=flush_seconds)

    # ---- reading -----------------------------------------------------------------------------------

    def _shard_files(self, model_key: str, role: str) -> list[str]:
        folder = self._role_dir(model_key, role)
        try:
            return sorted(n for n in os.listdir(folder) if n.endswith(_SUFFIX) and not n.startswith("."))
        except FileNotFoundError:
            return []

    def _index(self, model_key: str, role: str) -> _Index:
        """Index of every key in the role's shards; only shards not seen before are read."""
        from safetensors import safe_open

        names = self._shard_files(model_key, role)
        idx = self._indexes.get((model_key, role)) or _Index()
        if idx.shards == frozenset(names):
            return idx
        if not idx.shards.issubset(names):  # shards were removed: rebuild
            idx = _Index()
        rows, multi = dict(idx.rows), idx.multi
        folder = self._role_dir(model_key, role)
        for name in names:  # the first shard read wins for a key written twice (equal vectors)
            if name in idx.shards:
                continue
            try:
                with safe_open(str(folder / name), framework="pt") as f:
                    meta = f.metadata() or {}
            except FileNotFoundError:  # removed by a concurrent `cache clear`
                continue
            kind_multi = meta.get("kind") == "multi"
            if multi is None:
                multi = kind_multi
            elif multi != kind_multi:
                raise ValueError(f"cache folder {folder} mixes dense and multi-vector shards; clear it")
            for row, key in enumerate(json.loads(meta.get("keys", "[]"))):
                rows.setdefault(key, (name, row))
        idx = _Index(frozenset(names), rows, multi)
        self._indexes[(model_key, role)] = idx
        return idx

    def contains(self, model_key: str, role: str, keys: Sequence[str]) -> list[bool]:
        rows = self._index(model_key, role).rows
        return [k in rows for k in keys]

    def get(self, model_key: str, role: str, keys: Sequence[str]) -> tuple[list[int], Embeddings | None]:
        """Cached items among ``keys``: (their positions in ``keys``, their embeddings in that order).

        Each needed shard is read once and its rows are copied straight into the output tensor.
        """
        import torch
        from safetensors import safe_open

        from jinavdr.models.embeddings import Embeddings

        idx = self._index(model_key, role)
        found = [i for i, k in enumerate(keys) if k in idx.rows]
        if not found:
            return [], None
        by_shard: dict[str, tuple[list[int], list[int]]] = {}  # shard -> (output items, shard rows)
        for j, i in enumerate(found):
            name, row = idx.rows[keys[i]]
            dest, rows = by_shard.setdefault(name, ([], []))
            dest.append(j)
            rows.append(row)
        folder = self._role_dir(model_key, role)
        handles = {name: safe_open(str(folder / name), framework="pt") for name in by_shard}
        try:
            if not idx.multi:
                out: torch.Tensor | None = None
                for name, (dest, rows) in by_shard.items():
                    data = handles[name].get_tensor("data")
                    if out is None:
                        out = torch.empty(len(found), data.shape[1], dtype=data.dtype)
                    _scatter(out, torch.tensor(dest), _gather(data, torch.tensor(rows)))
                assert out is not None
                return found, Embeddings(out)
            lengths = torch.zeros(len(found), dtype=torch.int64)
            shard_offsets = {}
            for name, (dest, rows) in by_shard.items():
                offs = shard_offsets[name] = handles[name].get_tensor("offsets")
                r = torch.tensor(rows)
                lengths[torch.tensor(dest)] = offs[r + 1] - offs[r]
            offsets = torch.zeros(len(found) + 1, dtype=torch.int64)
            offsets[1:] = torch.cumsum(lengths, 0)
            out = None
            for name, (dest, rows) in by_shard.items():
                data = handles[name].get_tensor("data")
                if out is None:
                    out = torch.empty(int(offsets[-1]), data.shape[1], dtype=data.dtype)
                d, r = torch.tensor(dest), torch.tensor(rows)
                src = _token_index(shard_offsets[name][r], lengths[d])
                dst = _token_index(offsets[d], lengths[d])
                _scatter(out, dst, _gather(data, src))
            assert out is not None
            return found, Embeddings(out, offsets)
        finally:
            handles.clear()

    # ---- maintenance -------------------------------------------------------------------------------

    def _model_dirs(self) -> Iterator[Path]:
        base = self.root / FORMAT
        if base.is_dir():
            yield from sorted(p for p in base.iterdir() if p.is_dir())

    def info(self) -> list[ModelCacheInfo]:
        """Per model: settings, unique entries per role, shard count and bytes on disk."""
        out = []
        for folder in self._model_dirs():
            spec_file = folder / "spec.json"
            spec = json.loads(spec_file.read_text()) if spec_file.exists() else {}
            key = spec.get("key", folder.name)
            entries, shards, size = {}, 0, 0
            for role in ROLES:
                files = self._shard_files(key, role)
                shards += len(files)
                size += sum((folder / role / n).stat().st_size for n in files)
                entries[role] = len(self._index(key, role).rows)
            out.append(ModelCacheInfo(key, spec.get("settings", {}), spec.get("slug"), entries, shards, size))
        return out

    def clear(self, model_key: str | None = None) -> int:
        """Remove one model's entries (by key or key prefix) or everything; returns folders removed."""
        removed = 0
        for folder in list(self._model_dirs()):
            if model_key is None or folder.name.startswith(model_key[:24]) or model_key.startswith(folder.name):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        self._indexes.clear()
        return removed


class CacheWriter:
    """Buffers (key, embedding) pairs and writes them as shards; use as a context manager."""

    def __init__(self, cache: EmbeddingCache, model_key: str, role: str, *, flush_items: int,
                 flush_seconds: float) -> None:
        self.cache, self.model_key, self.role = cache, model_key, role
        self.flush_items, self.flush_seconds = flush_items, flush_seconds
        self._keys: list[str] = []
        self._parts: list[Embeddings] = []
        self._since = time.monotonic()

    def add(self, keys: Sequence[str], embeddings: Embeddings) -> None:
        self._keys += list(keys)
        self._parts.append(embeddings.to("cpu"))
        if len(self._keys) >= self.flush_items or time.monotonic() - self._since >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        from jinavdr.models.embeddings import Embeddings

        if self._keys:
            self.cache.put(self.model_key, self.role, self._keys, Embeddings.concat(self._parts))
        self._keys, self._parts, self._since = [], [], time.monotonic()

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()  # keep finished work even when encoding failed part-way
