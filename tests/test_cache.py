"""Embedding cache: round trips, index refresh, concurrent writers, info/clear and the CLI."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest
import torch

from jinavdr.engine.cache import EmbeddingCache, default_root, page_key, query_key
from jinavdr.models.embeddings import Embeddings

KEY = "f" * 64


def _ragged(lengths: list[int], dim: int = 4, seed: int = 0) -> Embeddings:
    g = torch.Generator().manual_seed(seed)
    offsets = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int64)
    return Embeddings(torch.randn(sum(lengths), dim, generator=g), offsets)


def test_dense_round_trip_subset_and_order(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    data = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    cache.put(KEY, "page", ["a", "b", "c", "d"], Embeddings(data))
    found, emb = cache.get(KEY, "page", ["d", "x", "b", "a"])
    assert found == [0, 2, 3]
    assert emb is not None and not emb.is_multi
    assert torch.equal(emb.data, data[[3, 1, 0]])
    assert cache.get(KEY, "query", ["a"]) == ([], None)  # roles are separate


def test_bfloat16_is_kept(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    data = torch.randn(3, 8).to(torch.bfloat16)
    cache.put(KEY, "query", ["a", "b", "c"], Embeddings(data))
    _, emb = cache.get(KEY, "query", ["c", "a"])
    assert emb is not None and emb.data.dtype == torch.bfloat16 and torch.equal(emb.data, data[[2, 0]])


def test_ragged_round_trip_across_shards(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    first, second = _ragged([2, 5, 1], seed=1), _ragged([3, 0, 4], seed=2)
    cache.put(KEY, "page", ["a", "b", "c"], first)
    cache.put(KEY, "page", ["d", "e", "f"], second)
    found, emb = cache.get(KEY, "page", ["f", "a", "e", "b"])
    assert found == [0, 1, 2, 3] and emb is not None and emb.is_multi
    assert emb.lengths().tolist() == [4, 2, 0, 5]
    assert torch.equal(emb.item(0), second.item(2))
    assert torch.equal(emb.item(1), first.item(0))
    assert torch.equal(emb.item(3), first.item(1))


def test_index_sees_new_shards_and_other_instances(tmp_path: Path) -> None:
    reader, writer = EmbeddingCache(tmp_path), EmbeddingCache(tmp_path)
    assert reader.contains(KEY, "page", ["a"]) == [False]
    writer.put(KEY, "page", ["a"], Embeddings(torch.ones(1, 2)))
    assert reader.contains(KEY, "page", ["a", "b"]) == [True, False]
    writer.put(KEY, "page", ["b"], Embeddings(torch.zeros(1, 2)))
    assert reader.contains(KEY, "page", ["a", "b"]) == [True, True]


def test_models_are_separate(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("a" * 64, "page", ["x"], Embeddings(torch.ones(1, 2)))
    assert cache.contains("b" * 64, "page", ["x"]) == [False]


def test_writer_flushes_by_count_and_on_error(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    with pytest.raises(RuntimeError), cache.writer(KEY, "page", flush_items=2) as w:
        w.add(["a"], Embeddings(torch.ones(1, 2)))
        assert cache.contains(KEY, "page", ["a"]) == [False]  # buffered
        w.add(["b"], Embeddings(torch.ones(1, 2)))
        assert cache.contains(KEY, "page", ["a", "b"]) == [True, True]  # flushed at 2 items
        w.add(["c"], Embeddings(torch.ones(1, 2)))
        raise RuntimeError("encoder crashed")
    assert cache.contains(KEY, "page", ["c"]) == [True]  # finished work is kept


def test_content_keys() -> None:
    assert query_key("q") == query_key("q") != query_key("q ")
    assert page_key("img1", None) == page_key("img1", None)
    assert page_key("img1", None) != page_key("img1", "") != page_key(None, "")
    assert page_key(None, "text") != page_key("text", None)
    assert len(query_key("q")) == 32


def test_default_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JINAVDR_CACHE", str(tmp_path / "c"))
    assert default_root() == tmp_path / "c"
    assert EmbeddingCache().root == tmp_path / "c"
    monkeypatch.delenv("JINAVDR_CACHE")
    assert default_root() == Path.home() / ".cache" / "jinavdr" / "embeddings"


def _value(key: str) -> torch.Tensor:
    return torch.full((1, 4), float(int(key)))


def _write_many(root: str, keys: list[str]) -> None:
    cache = EmbeddingCache(root)
    for lo in range(0, len(keys), 3):
        chunk = keys[lo : lo + 3]
        cache.put(KEY, "page", chunk, Embeddings(torch.cat([_value(k) for k in chunk])))


def test_concurrent_writers_overlapping_keys(tmp_path: Path) -> None:
    keys_a = [str(i) for i in range(0, 60)]
    keys_b = [str(i) for i in range(30, 90)]  # 30 keys written by both processes
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), ks)) for ks in (keys_a, keys_b)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = EmbeddingCache(tmp_path)
    wanted = [str(i) for i in range(90)]
    found, emb = cache.get(KEY, "page", wanted)
    assert found == list(range(90)) and emb is not None
    assert torch.equal(emb.data[:, 0], torch.arange(90, dtype=torch.float32))
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []
    (info,) = cache.info()
    assert info.entries == {"query": 0, "page": 90} and info.settings == {}  # no spec.json written


def test_info_and_clear(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    k1, k2 = "1" * 64, "2" * 64
    cache.describe(k1, {"adapter": "bm25", "model_id": "bm25"}, "bm25")
    cache.put(k1, "query", ["q1", "q2"], Embeddings(torch.ones(2, 2)))
    cache.put(k1, "page", ["p1"], Embeddings(torch.ones(1, 2)))
    cache.put(k1, "page", ["p1", "p2"], Embeddings(torch.ones(2, 2)))  # duplicate key p1
    cache.describe(k2, {"adapter": "minilm", "model_id": "m"}, "minilm")
    cache.put(k2, "page", ["p1"], Embeddings(torch.ones(1, 2)))
    infos = {i.slug: i for i in cache.info()}
    assert infos["bm25"].entries == {"query": 2, "page": 2}
    assert infos["bm25"].shards == 3 and infos["bm25"].bytes > 0
    assert infos["minilm"].settings == {"adapter": "minilm", "model_id": "m"}
    assert cache.clear(k1) == 1
    assert [i.slug for i in cache.info()] == ["minilm"]
    assert cache.contains(k1, "page", ["p1"]) == [False]
    assert cache.clear() == 1 and cache.info() == []


def test_cache_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from jinavdr.cli import app

    cache = EmbeddingCache(tmp_path)
    k1, k2 = "1" * 64, "2" * 64
    cache.describe(k1, {"adapter": "bm25", "model_id": "bm25", "k1": 1.5}, "bm25")
    cache.put(k1, "page", ["p1"], Embeddings(torch.ones(1, 2)))
    cache.describe(k2, {"adapter": "minilm", "model_id": "sentence-transformers/all-MiniLM-L6-v2"}, "minilm")
    cache.put(k2, "page", ["p1"], Embeddings(torch.ones(1, 2)))
    runner = CliRunner()
    out = runner.invoke(app, ["cache", "info", "--root", str(tmp_path)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "bm25" in out.output and "minilm" in out.output and "2 model setting(s)" in out.output
    out = runner.invoke(app, ["cache", "clear", "--model", "minilm", "--root", str(tmp_path)])
    assert out.exit_code == 0 and "removed 1 model setting(s)" in out.output
    assert [i.slug for i in cache.info()] == ["bm25"]
    out = runner.invoke(app, ["cache", "clear", "--model", "bm25", "-o", "k1=2", "--root", str(tmp_path)])
    assert "removed 0 model setting(s)" in out.output  # other settings of bm25 are kept
    out = runner.invoke(app, ["cache", "clear", "--model", " ", "--root", str(tmp_path)])
    assert out.exit_code == 2 and "--model is empty" in out.output  # never a silent clear-all
    assert [i.slug for i in cache.info()] == ["bm25"]
    out = runner.invoke(app, ["cache", "clear", "--root", str(tmp_path)])  # no answer: nothing removed
    assert out.exit_code == 2 and "nothing removed" in out.output and "--yes" in out.output
    assert [i.slug for i in cache.info()] == ["bm25"]
    out = runner.invoke(app, ["cache", "clear", "--root", str(tmp_path)], input="n\n")
    assert out.exit_code == 2 and [i.slug for i in cache.info()] == ["bm25"]
    out = runner.invoke(app, ["cache", "clear", "--root", str(tmp_path)], input="y\n")
    assert out.exit_code == 0 and "removed 1 model setting(s)" in out.output and cache.info() == []
    cache.put(k1, "page", ["p1"], Embeddings(torch.ones(1, 2)))
    out = runner.invoke(app, ["cache", "clear", "--yes", "--root", str(tmp_path)])
    assert out.exit_code == 0 and "removed 1 model setting(s)" in out.output and cache.info() == []


# --------------------------------------------------------------------------------------------------
# Integrity: damaged shards are named, quarantined and re-encoded, never fatal
# --------------------------------------------------------------------------------------------------


def _one_shard(tmp_path: Path) -> tuple[EmbeddingCache, Path]:
    cache = EmbeddingCache(tmp_path)
    cache.put("k" * 64, "page", ["good"], Embeddings(torch.ones(1, 4)))
    path = cache.put("k" * 64, "page", ["p1", "p2"], Embeddings(torch.arange(8, dtype=torch.float32).view(2, 4)))
    assert path is not None
    return cache, path


def test_a_flipped_byte_is_caught_by_the_checksum_and_quarantined(tmp_path: Path) -> None:
    from jinavdr.engine.cache import CacheWarning

    cache, path = _one_shard(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # inside the data of p2: the header still parses
    path.write_bytes(bytes(raw))
    fresh = EmbeddingCache(tmp_path)
    with pytest.warns(CacheWarning, match=rf"damaged cache shard .*{path.name}: checksum mismatch"):
        found, emb = fresh.get("k" * 64, "page", ["p1", "good", "p2"])
    assert found == [1] and emb is not None and torch.equal(emb.data, torch.ones(1, 4))
    assert not path.exists()
    assert (tmp_path / "v1" / ("k" * 24) / "quarantine" / f"page-{path.name}").exists()
    assert fresh.contains("k" * 64, "page", ["p1", "good"]) == [False, True]


def test_a_truncated_shard_is_quarantined_and_its_items_re_encoded(tmp_path: Path) -> None:
    from jinavdr.engine.cache import CacheWarning
    from jinavdr.engine.encoding import encode_queries
    from tests.test_encoding import CountingEncoder

    cache = EmbeddingCache(tmp_path)
    encoder = CountingEncoder()
    ref, _ = encode_queries(encoder, ["a", "b"], cache=cache, model="q" * 64)
    (shard,) = (tmp_path / "v1" / ("q" * 24) / "query").glob("*.safetensors")
    shard.write_bytes(shard.read_bytes()[:-5])
    again = CountingEncoder()
    with pytest.warns(CacheWarning, match=rf"{shard.name}: unreadable header"):
        emb, stats = encode_queries(again, ["a", "b"], cache=EmbeddingCache(tmp_path), model="q" * 64)
    assert stats.encoded == 2 and stats.cached == 0 and torch.equal(emb.data, ref.data)


def test_cache_info_works_on_a_damaged_cache_without_changing_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from jinavdr.cli import app

    cache, path = _one_shard(tmp_path)
    path.write_bytes(b"not a safetensors file")
    (tmp_path / "v1" / ("k" * 24) / "spec.json").write_text("{truncated")
    (info,) = cache.info()
    assert info.entries == {"query": 0, "page": 1} and len(info.damaged) == 1
    assert info.damaged[0].startswith(f"page/{path.name}: ") and path.exists()
    out = CliRunner().invoke(app, ["cache", "info", "--root", str(tmp_path)], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert "damaged shard" in out.output and path.name in out.output.replace("\n", "")


def test_shards_without_checksums_are_still_read(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = tmp_path / "v1" / ("o" * 24) / "page"
    folder.mkdir(parents=True)
    save_file({"data": torch.ones(1, 2)}, str(folder / "0-old.safetensors"), metadata={"keys": '["p"]', "kind": "dense"})
    found, emb = EmbeddingCache(tmp_path).get("o" * 64, "page", ["p"])
    assert found == [0] and emb is not None and torch.equal(emb.data, torch.ones(1, 2))


def test_adapter_key_covers_declared_settings() -> None:
    from jinavdr.engine.cache import adapter_key

    assert adapter_key("b" * 64, {"max_length": 512}) == adapter_key("b" * 64, {"max_length": 512})
    assert adapter_key("b" * 64, {"max_length": 512}) != adapter_key("b" * 64, {"max_length": 256})
    assert adapter_key("b" * 64, {}) != adapter_key("c" * 64, {})


def test_a_failed_shard_write_warns_with_the_path_and_is_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import jinavdr.engine.cache as cache_mod
    from jinavdr.engine.cache import CacheWarning

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod, "write_atomic", full)
    cache = EmbeddingCache(tmp_path)
    with pytest.warns(CacheWarning, match=rf"cannot write cache shard {tmp_path}/v1/k+/page/.*\.safetensors \(No space left"):
        assert cache.put("k" * 64, "page", ["p"], Embeddings(torch.ones(1, 2))) is None


def test_a_damaged_shard_that_cannot_be_moved_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jinavdr.engine.cache import CacheWarning

    cache, path = _one_shard(tmp_path)
    path.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))
    real = os.replace

    def refuse(src: object, dst: object) -> None:
        if "quarantine" in str(dst):
            raise PermissionError(13, "Permission denied")
        real(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    fresh = EmbeddingCache(tmp_path)
    with pytest.warns(CacheWarning, match=r"could not be moved aside .*it is skipped; delete it by hand"):
        found, _ = fresh.get("k" * 64, "page", ["p1", "good"])
    assert found == [1] and path.exists()
    assert fresh.contains("k" * 64, "page", ["p1", "good"]) == [False, True]
