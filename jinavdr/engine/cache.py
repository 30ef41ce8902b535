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
tasks is one entry. The model key (:func:`adapter_key`) covers everything that changes embeddings:
``ModelSpec.cache_key(device)`` (adapter, checkpoint, revision, every option, the resolved dtype, a
local checkpoint's content digest and, for ``python:`` and entry-point adapters, a digest of the
adapter's source files) and the settings the loaded adapter declares (``adapter.settings()``).

Integrity: each shard's header carries a sha256 of its keys and tensor bytes. A shard whose header
cannot be read, whose shapes disagree with its keys, or whose bytes do not match the checksum is
moved to ``<model key[:24]>/quarantine/`` with a :class:`CacheWarning` naming it, and its items
are encoded again; it never stops a run. Shards written before checksums existed are read unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinavdr.errors import ResultsError
from jinavdr.results.store import write_atomic

if TYPE_CHECKING:
    import torch

    from jinavdr.models.embeddings import Embeddings

FORMAT = "v1"
ROLES = ("query", "page")
_SUFFIX = ".safetensors"
QUARANTINE = "quarantine"


class CacheWarning(UserWarning):
    """A damaged cache shard was found and moved aside (its items are encoded again)."""


def adapter_key(base_key: str, settings: Mapping[str, Any]) -> str:
    """The cache's model key: ``base_key`` (``ModelSpec.cache_key(device)``) combined with the
    settings the loaded adapter declares, so a setting resolved at load time (a commit, a processor,
    a library version) that changes embeddings also changes the key."""
    blob = json.dumps(dict(settings), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{base_key}\0{blob}".encode()).hexdigest()


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    import torch

    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else memoryview(b"")


def shard_checksum(keys_json: str, tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over a shard's keys and its tensors' names, dtypes, shapes and bytes."""
    h = hashlib.sha256(keys_json.encode())
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"\0{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


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
    verified: set[str] = field(default_factory=set)  # shards whose checksum matched
    damaged: list[tuple[str, str]] = field(default_factory=list)  # (shard, why) skipped, not moved


@dataclass(frozen=True)
class ModelCacheInfo:
    key: str
    settings: dict[str, Any]
    slug: str | None
    entries: dict[str, int]  # role -> unique items
    shards: int
    bytes: int
    damaged: tuple[str, ...] = ()  # "<role>/<shard>: why" of unreadable shards (left in place)
    quarantined: int = 0  # shards already moved to quarantine/


class EmbeddingCache:
    """A content-addressed store of embeddings, shared by all tasks and processes."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self._indexes: dict[tuple[str, str], _Index] = {}
        #: damaged shards that could not be moved to quarantine: (model key, role, shard name)
        self._skipped: set[tuple[str, str, str]] = set()

    # ---- paths -----------------------------------------------------------------------------------

    def model_dir(self, model_key: str) -> Path:
        return self.root / FORMAT / model_key[:24]

    def _role_dir(self, model_key: str, role: str) -> Path:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.model_dir(model_key) / role

    # ---- writing -----------------------------------------------------------------------------------

    def describe(self, model_key: str, settings: dict[str, Any], slug: str | None = None,
                 base: str | None = None) -> None:
        """Record the model settings next to its entries (for ``cache info``); idempotent.
        ``base``: the spec's key before the adapter's settings were added (see :meth:`keys_for`)."""
        path = self.model_dir(model_key) / "spec.json"
        if path.exists():
            return
        payload = {"key": model_key, "slug": slug, "settings": settings, **({"base": base} if base else {})}
        try:
            write_atomic(path, json.dumps(payload, indent=1, sort_keys=True, default=str).encode())
        except (OSError, ResultsError) as exc:
            warnings.warn(f"cannot write {path} ({exc.strerror or exc}); `jinavdr cache info` will not show these "
                          "settings", CacheWarning, stacklevel=2)

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
        keys_json = json.dumps(list(keys))
        meta = {"keys": keys_json, "kind": "multi" if embeddings.is_multi else "dense",
                "sha256": shard_checksum(keys_json, tensors)}
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{_SUFFIX}"
        path = self._role_dir(model_key, role) / name
        try:
            write_atomic(path, save(tensors, metadata=meta))
        except (OSError, ResultsError) as exc:  # disk full, read-only: the run goes on, these items are encoded next time
            warnings.warn(f"cannot write cache shard {path} ({exc.strerror or exc}); {len(keys)} embeddings are not "
                          "cached. Free space, or use --cache-dir / --no-cache.", CacheWarning, stacklevel=2)
            return None
        return path

    def writer(self, model_key: str, role: str, *, flush_items: int = 512,
               flush_seconds: float = 60.0) -> CacheWriter:
        """A buffer that writes a shard every ``flush_items`` items or ``flush_seconds`` seconds."""
        return CacheWriter(self, model_key, role, flush_items=flush_items, flush_seconds=flush_seconds)

    # ---- reading -----------------------------------------------------------------------------------

    def _shard_files(self, model_key: str, role: str) -> list[str]:
        folder = self._role_dir(model_key, role)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if n.endswith(_SUFFIX) and not n.startswith(".")
                      and (model_key, role, n) not in self._skipped)

    def _index(self, model_key: str, role: str, *, repair: bool = True) -> _Index:
        """Index of every key in the role's shards; only shards not seen before are read.

        A shard whose header is unreadable or inconsistent is quarantined (``repair``) or, for a
        read-only look (``cache info``), skipped and listed in ``damaged``.
        """
        names = self._shard_files(model_key, role)
        idx = self._indexes.get((model_key, role)) or _Index()
        if idx.shards == frozenset(names):
            return idx
        if not idx.shards.issubset(names):  # shards were removed: rebuild
            idx = _Index()
        rows, multi, verified = dict(idx.rows), idx.multi, set(idx.verified)
        damaged: list[tuple[str, str]] = []
        folder = self._role_dir(model_key, role)
        for name in names:  # the first shard read wins for a key written twice (equal vectors)
            if name in idx.shards:
                continue
            try:
                keys, kind_multi = _read_header(folder / name)
            except FileNotFoundError:  # removed by a concurrent `cache clear`
                continue
            except Exception as exc:  # noqa: BLE001 - any damage: set the shard aside, encode again
                damaged.append((name, f"{type(exc).__name__}: {exc}"))
                if repair:
                    self.quarantine(model_key, role, name, f"unreadable header ({type(exc).__name__}: {exc})")
                continue
            if multi is None:
                multi = kind_multi
            elif multi != kind_multi:
                raise ValueError(f"cache folder {folder} mixes dense and multi-vector shards; clear it")
            for row, key in enumerate(keys):
                rows.setdefault(key, (name, row))
        bad = {n for n, _ in damaged}
        idx = _Index(frozenset(n for n in names if n not in bad), rows, multi, verified, damaged)
        if repair:
            self._indexes[(model_key, role)] = idx
        return idx

    def quarantine(self, model_key: str, role: str, name: str, why: str) -> Path | None:
        """Move a damaged shard to ``<model dir>/quarantine/`` and warn, naming it and why."""
        source = self._role_dir(model_key, role) / name
        target = self.model_dir(model_key) / QUARANTINE / f"{role}-{name}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except FileNotFoundError:
            return None  # another process moved it first
        except OSError as exc:
            self._skipped.add((model_key, role, name))  # left in place, never read again by this process
            self._indexes.pop((model_key, role), None)
            warnings.warn(f"damaged cache shard {source} ({why}) could not be moved aside ({exc}); "
                          "it is skipped; delete it by hand", CacheWarning, stacklevel=3)
            return None
        self._indexes.pop((model_key, role), None)
        warnings.warn(f"damaged cache shard {source}: {why}; moved to {target}, its items are encoded again",
                      CacheWarning, stacklevel=3)
        return target

    def _verify(self, model_key: str, role: str, name: str, handle: Any) -> bool:
        """True when the shard's bytes match its header checksum (or it predates checksums)."""
        idx = self._indexes.get((model_key, role))
        if idx is not None and name in idx.verified:
            return True
        meta = handle.metadata() or {}
        expected = meta.get("sha256")
        if expected is not None:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
            actual = shard_checksum(meta.get("keys", "[]"), tensors)
            if actual != expected:
                self.quarantine(model_key, role, name, f"checksum mismatch (header {expected[:12]}, bytes {actual[:12]})")
                return False
        if idx is not None:
            idx.verified.add(name)
        return True

    def contains(self, model_key: str, role: str, keys: Sequence[str]) -> list[bool]:
        rows = self._index(model_key, role).rows
        return [k in rows for k in keys]

    def get(self, model_key: str, role: str, keys: Sequence[str]) -> tuple[list[int], Embeddings | None]:
        """Cached items among ``keys``: (their positions in ``keys``, their embeddings in that order).

        Each needed shard is read once and its rows are copied straight into the output tensor.
        """
        import torch

        from jinavdr.models.embeddings import Embeddings

        while True:  # a damaged shard is quarantined and the lookup redone without it
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
            handles = self._open_verified(model_key, role, list(by_shard))
            if handles is not None:
                break
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

    def _open_verified(self, model_key: str, role: str, names: list[str]) -> dict[str, Any] | None:
        """Open and check each shard; None when one was damaged (and quarantined)."""
        from safetensors import safe_open

        folder = self._role_dir(model_key, role)
        handles: dict[str, Any] = {}
        for name in names:
            try:
                handle = safe_open(str(folder / name), framework="pt")
                ok = self._verify(model_key, role, name, handle)
            except Exception as exc:  # noqa: BLE001 - unreadable data: set the shard aside
                self.quarantine(model_key, role, name, f"unreadable data ({type(exc).__name__}: {exc})")
                ok = False
            if not ok:
                return None
            handles[name] = handle
        return handles

    # ---- maintenance -------------------------------------------------------------------------------

    def _model_dirs(self) -> Iterator[Path]:
        base = self.root / FORMAT
        if base.is_dir():
            yield from sorted(p for p in base.iterdir() if p.is_dir())

    def info(self) -> list[ModelCacheInfo]:
        """Per model: settings, unique entries per role, shard count and bytes on disk.

        Read-only and tolerant: a damaged ``spec.json`` or shard is reported (``damaged``), not fatal.
        """
        out = []
        for folder in self._model_dirs():
            spec = _read_spec(folder / "spec.json")
            key = str(spec.get("key") or folder.name)
            if not key.startswith(folder.name):
                key = folder.name
            entries, shards, size, damaged = {}, 0, 0, []
            for role in ROLES:
                files = self._shard_files(key, role)
                shards += len(files)
                size += sum(_size(folder / role / n) for n in files)
                idx = self._index(key, role, repair=False)
                entries[role] = len(idx.rows)
                damaged += [f"{role}/{name}: {why}" for name, why in idx.damaged]
            quarantined = len(list((folder / QUARANTINE).glob("*"))) if (folder / QUARANTINE).is_dir() else 0
            settings = spec.get("settings") if isinstance(spec.get("settings"), dict) else {}
            out.append(ModelCacheInfo(key, settings, spec.get("slug"), entries, shards, size, tuple(damaged),
                                      quarantined))
        return out

    def keys_for(self, base: str) -> list[str]:
        """Model keys recorded for the spec key ``base``, most recently described first (a dry run
        knows the spec but not yet the loaded adapter's settings)."""
        found = []
        for folder in self._model_dirs():
            spec = _read_spec(folder / "spec.json")
            if spec.get("base") == base and isinstance(spec.get("key"), str):
                found.append((_mtime(folder / "spec.json"), spec["key"]))
        return [key for _, key in sorted(found, reverse=True)]

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


def _read_header(path: Path) -> tuple[list[str], bool]:
    """A shard's item keys and whether it is multi-vector; raises on any inconsistency."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        keys = json.loads(meta.get("keys", "[]"))
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("its header keys are not a list of strings")
        multi = meta.get("kind") == "multi"
        rows = f.get_slice("data").get_shape()[0]
        if multi:
            offsets = f.get_slice("offsets").get_shape()
            if list(offsets) != [len(keys) + 1]:
                raise ValueError(f"{len(keys)} keys but offsets of shape {list(offsets)}")
        elif rows != len(keys):
            raise ValueError(f"{len(keys)} keys but {rows} rows of data")
    return keys, multi


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
