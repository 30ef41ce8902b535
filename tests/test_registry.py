"""Model registry: names, options, slugs, prefixes, entry points, availability and loading rules."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from jinavdr.errors import JinaVDRError, MissingDependencyError, UnknownNameError
from jinavdr.models import registry
from jinavdr.models.registry import ModelEntry, ModelSpec


class FakeEncoder:
    """Follows the adapter contract: ``Class(spec, device)``."""

    similarity = "cosine"
    page_input = "text"

    def __init__(self, spec: ModelSpec, device: str) -> None:
        self.spec, self.device = spec, device

    def encode_queries(self, texts: Any, *, batch_size: int) -> Any: ...

    def encode_pages(self, pages: Any, *, batch_size: int) -> Any: ...

    def settings(self) -> dict[str, Any]:
        return self.spec.settings()


class NotAnAdapter:
    def __init__(self, spec: ModelSpec, device: str) -> None:
        pass


FAKE_ENTRY = ModelEntry(
    name="ignored", factory="tests.test_registry:FakeEncoder", family="plugin", model_id="org/plugin-model",
    revision="a" * 40, extra="text", options={"size": 3}, page_input="text",
)

REQUIRED = ["jina-v4", "jina-v3", "jina-clip-v2", "dse-qwen2", "siglip", "bge-m3", "colpali-v1.2",
            "colpali-v1.3", "colqwen2", "colqwen2.5", "colsmol", "bm25", "minilm"]


def test_all_required_names_are_registered() -> None:
    assert set(REQUIRED) <= {e.name for e in registry.list_models()}


def test_named_defaults() -> None:
    spec = registry.resolve("jina-v4")
    assert spec.adapter == "jina-v4"
    assert spec.factory == "jinavdr.models.adapters.jina:JinaV4Encoder"
    assert spec.model_id == "jinaai/jina-embeddings-v4"
    assert spec.revision == "4a58ca57710c49f51896e4bc820e202fbf64904b"
    assert spec.trust_remote_code
    assert spec.options["max_pixels"] == 37788800
    assert spec.is_default and spec.slug() == "jina-v4"


def test_aliases_resolve_to_the_same_settings() -> None:
    a, b = registry.resolve("jina-embeddings-v4"), registry.resolve("JINA-V4")
    assert a.name == "jina-embeddings-v4"  # kept as typed
    assert a == b and a.key() == b.key() and a.slug() == b.slug() == "jina-v4"


def test_string_options_are_typed_like_defaults() -> None:
    spec = registry.resolve("jina-v4", vector="multi", max_pixels="602112", truncate_dim="128")
    assert spec.options["max_pixels"] == 602112 and spec.options["truncate_dim"] == 128
    assert registry.resolve("dse-qwen2", fetch_resize="false").options["fetch_resize"] is False
    assert registry.resolve("bm25", k1="1.2").options["k1"] == 1.2
    with pytest.raises(JinaVDRError, match="option 'fetch_resize'.*true or false"):
        registry.resolve("dse-qwen2", fetch_resize="maybe")


def test_slug_names_non_default_options_and_is_stable() -> None:
    spec = registry.resolve("jina-v4", vector="multi", max_pixels=602112)
    slug = spec.slug()
    assert slug.startswith("jina-v4__max_pixels-602112__vector-multi__")
    assert len(slug.rsplit("__", 1)[1]) == 8
    assert registry.resolve("jina-v4", max_pixels="602112", vector="multi").slug() == slug
    # an option equal to its default is the default spec
    assert registry.resolve("jina-v4", vector="single").slug() == "jina-v4"


def test_slugs_unique_per_settings() -> None:
    specs = [
        registry.resolve("jina-v4"),
        registry.resolve("jina-v4", vector="multi"),
        registry.resolve("jina-v4", vector="multi", max_pixels=602112),
        registry.resolve("jina-v4", revision="b" * 40),
        registry.resolve("jina-v4", model_id="/ckpts/run1"),
        registry.resolve("jina-v4", model_id="/other/run1"),
        registry.resolve("bm25"),
        registry.resolve("bm25", k1=1.2),
        registry.resolve("st:org/model"),
        registry.resolve("st:org/model", revision="c" * 40),
        registry.resolve("st:other/model"),
        registry.resolve("mteb:org/model"),
    ]
    slugs = [s.slug() for s in specs]
    assert len(set(slugs)) == len(slugs)
    assert len({s.key() for s in specs}) == len(specs)
    assert all(s.replace("-", "").replace("_", "").replace(".", "").isalnum() for s in slugs)


def test_checkpoint_override() -> None:
    spec = registry.resolve("jina-v4", model_id="/ckpts/my-run")
    assert spec.model_id == "/ckpts/my-run" and spec.revision is None  # the pinned commit is not the run's
    assert spec.slug().startswith("jina-v4__my-run__")
    assert registry.resolve("jina-v4", revision="main").revision == "main"
    pinned = registry.resolve("jina-v4", model_id="org/fork", revision="d" * 40)
    assert (pinned.model_id, pinned.revision) == ("org/fork", "d" * 40)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as err:
        registry.resolve("jina-v5")
    assert err.value.close_matches[0] == "jina-v4"
    assert "Did you mean: jina-v4" in str(err.value)
    assert "st:<hub id or path>" in str(err.value)


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: max_pixels"):
        registry.resolve("jina-v4", max_pixel=1)


def test_prefix_specs() -> None:
    st = registry.resolve("st:org/model", max_length="128")
    assert (st.adapter, st.factory, st.model_id, st.extra) == (
        "st", "jinavdr.models.adapters.text:SentenceTransformerEncoder", "org/model", "text")
    assert st.options == {"max_length": 128}
    assert st.slug().startswith("st-model__max_length-128__")
    mt = registry.resolve("mteb:org/model", model_id="/local/ckpt")
    assert mt.model_id == "/local/ckpt" and mt.options["mteb_model"] == "org/model"
    assert mt.slug().startswith("mteb-model__")
    py = registry.resolve("python:tests.test_registry:FakeEncoder", model_id="x/y", size="2")
    assert (py.adapter, py.factory, py.model_id, py.options["size"]) == (
        "python:tests.test_registry:FakeEncoder", "tests.test_registry:FakeEncoder", "x/y", 2)
    with pytest.raises(JinaVDRError, match="python:package.module:Class"):
        registry.resolve("python:nomodule")
    with pytest.raises(JinaVDRError, match="names no model"):
        registry.resolve("st:")


def test_python_adapter_loads_with_spec_and_device() -> None:
    spec = registry.resolve("python:tests.test_registry:FakeEncoder")
    enc = registry.load(spec, device="cpu")
    assert isinstance(enc, FakeEncoder) and enc.spec is spec and enc.device == "cpu"


def test_python_adapter_errors() -> None:
    with pytest.raises(JinaVDRError, match="neither an Encoder"):
        registry.load(registry.resolve("python:tests.test_registry:NotAnAdapter"), device="cpu")
    with pytest.raises(JinaVDRError, match="module 'no_such_pkg.mod' not found"):
        registry.load(registry.resolve("python:no_such_pkg.mod:X"), device="cpu")
    with pytest.raises(JinaVDRError, match="'Missing' not found in module 'tests.test_registry'"):
        registry.load(registry.resolve("python:tests.test_registry:Missing"), device="cpu")


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    eps = [EntryPoint(name=n, value=v, group=registry.ENTRY_POINT_GROUP) for n, v in targets.items()]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else [])


def test_entry_point_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, myenc="tests.test_registry:FakeEncoder")
    spec = registry.resolve("myenc", model_id="org/m")
    assert spec.adapter == "entry-point:myenc" and spec.factory == "tests.test_registry:FakeEncoder"
    assert isinstance(registry.load(spec, device="cpu"), FakeEncoder)
    assert "myenc" in [e.name for e in registry.list_models()]
    with pytest.raises(UnknownNameError, match="Did you mean: myenc"):
        registry.resolve("myen")


def test_entry_point_model_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, plugin="tests.test_registry:FAKE_ENTRY")
    spec = registry.resolve("plugin")
    assert (spec.adapter, spec.model_id, spec.revision, dict(spec.options)) == (
        "plugin", "org/plugin-model", "a" * 40, {"size": 3})
    assert spec.slug() == "plugin"
    assert registry.resolve("plugin", size="4").options["size"] == 4
    with pytest.raises(UnknownNameError):
        registry.resolve("plugin", colour="red")


def test_missing_dependency_names_extra_and_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(registry.importlib.util, "find_spec",
                        lambda name, *a: None if name == "peft" else real(name, *a))
    spec = registry.resolve("jina-v4")
    ok, reason, cmd = registry.available(spec)
    assert not ok and reason == "missing package(s): peft" and cmd.startswith('pip install "jinavdr[jina]" "torch==')
    with pytest.raises(MissingDependencyError) as err:
        registry.load(spec, device="cpu")
    import torch

    assert str(err.value) == (
        "model 'jina-v4' needs an optional dependency (package 'peft') that is not installed. "
        f'Run: pip install "jinavdr[jina]" "torch=={torch.__version__.split("+")[0]}"'
    )


def test_import_error_inside_adapter_becomes_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: ModelSpec, device: str) -> None:
        raise ModuleNotFoundError("No module named 'timm'", name="timm")

    monkeypatch.setattr(registry, "import_factory", lambda path: broken)
    spec = dataclasses.replace(registry.resolve("jina-clip-v2"), requires=())
    with pytest.raises(MissingDependencyError, match=r"package 'timm'.*pip install \"jinavdr\[clip\]\""):
        registry.load(spec, device="cpu")


def test_remote_code_needs_a_pinned_revision(tmp_path: Any) -> None:
    fake = "tests.test_registry:FakeEncoder"
    unpinned = dataclasses.replace(registry.resolve("jina-v4", revision="main"), requires=(), factory=fake)
    with pytest.raises(JinaVDRError, match="only runs at a pinned 40-hex commit, but the revision is 'main'"):
        registry.load(unpinned, device="cpu")
    assert isinstance(registry.load(unpinned, device="cpu", allow_unpinned=True), FakeEncoder)
    pinned = dataclasses.replace(registry.resolve("jina-v4"), requires=(), factory=fake)
    assert isinstance(registry.load(pinned, device="cpu"), FakeEncoder)
    local = dataclasses.replace(registry.resolve("jina-v4", model_id=str(tmp_path)), requires=(), factory=fake)
    assert local.revision is None and isinstance(registry.load(local, device="cpu"), FakeEncoder)
    # models without remote code may run unpinned
    st = registry.resolve("python:tests.test_registry:FakeEncoder")
    assert isinstance(registry.load(st, device="cpu"), FakeEncoder)


def test_cuda_requested_but_absent() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    spec = registry.resolve("python:tests.test_registry:FakeEncoder")
    with pytest.raises(JinaVDRError, match="device 'cuda' was asked for but CUDA is not available"):
        registry.load(spec, device="cuda")


def test_parse_options() -> None:
    assert registry.parse_options(["vector=multi", " max_pixels = 10 "]) == {"vector": "multi", "max_pixels": "10"}
    with pytest.raises(JinaVDRError, match="not of the form key=value"):
        registry.parse_options(["vector"])


def test_adapter_defaults_are_declared_once_in_the_registry_entry() -> None:
    """No adapter class declares option defaults of its own: they come from the registry entry."""
    checked = 0
    for entry in registry.ENTRIES:
        module_name, _, cls_name = entry.factory.partition(":")
        if importlib.util.find_spec(module_name) is None:
            continue
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except ImportError:
            continue
        assert "defaults" not in vars(cls) and "defaults" not in getattr(cls, "__annotations__", {}), entry.name
        checked += 1
    assert checked >= 2  # bm25 and minilm import everywhere
    dse = registry.factory_defaults("jinavdr.models.adapters.dse:DSEEncoder")
    assert dse["query_template"] == "Query: {query}" and dse["truncate_dim"] == 1536
    assert registry.factory_defaults("jinavdr.models.adapters.text:BM25Searcher") == {
        "k1": 1.5, "b": 0.75, "tokenizer": "multilingual"}
    assert registry.factory_defaults("no.such:Adapter") == {}


def test_registry_import_is_light() -> None:
    code = "import sys, jinavdr.models.registry; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_models_cli_lists_adapters() -> None:
    from typer.testing import CliRunner

    from jinavdr.cli import app

    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    import json

    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["bm25"]["runnable"] is True and rows["bm25"]["page_input"] == "text"
    assert rows["jina-v4"]["revision"] == "4a58ca57710c49f51896e4bc820e202fbf64904b"
    for r in rows.values():
        assert r["runnable"] or r["missing"]


def test_local_checkpoint_fingerprint_changes_key_when_weights_change(tmp_path):
    from jinavdr.models.registry import resolve

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"a": 1}')
    (ckpt / "model.safetensors").write_bytes(b"\0" * 5_000_000)
    first = resolve("minilm", model_id=str(ckpt))
    assert first.fingerprint and first.settings()["checkpoint_sha256"] == first.fingerprint
    assert resolve("minilm", model_id=str(ckpt)).key() == first.key()  # stable
    blob = bytearray(b"\0" * 5_000_000)
    blob[-10] = 1  # a change in the last MiB of a large file
    (ckpt / "model.safetensors").write_bytes(bytes(blob))
    second = resolve("minilm", model_id=str(ckpt))
    assert second.key() != first.key() and second.slug() != first.slug()
    assert resolve("minilm").fingerprint is None  # Hub ids are identified by their revision


def test_cache_key_resolves_automatic_dtype_per_device():
    from jinavdr.models.registry import resolve

    auto = resolve("jina-v4")
    assert auto.options["dtype"] is None
    assert auto.cache_key("cpu") != auto.cache_key("cuda:0")
    assert auto.cache_key("cuda") == auto.cache_key("cuda:1")
    # an explicit dtype is the same embedding on any device, and shares entries with "auto" where
    # auto resolves to it
    explicit = resolve("jina-v4", dtype="bfloat16")
    assert explicit.cache_key("cpu") == explicit.key() == auto.cache_key("cuda")
    assert resolve("jina-v4", dtype="float32").cache_key("cuda") == auto.cache_key("cpu")
    bm25 = resolve("bm25")
    assert "dtype" not in bm25.options and bm25.cache_key("cuda") == bm25.key()


def test_bm25_on_cpu_never_imports_torch() -> None:
    """The device check accepts "cpu" without torch, so the lexical baseline stays light."""
    code = ("import sys; from jinavdr.models import registry; "
            "registry.load(registry.resolve('bm25'), device='cpu'); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------------
# One remote-code rule for every adapter and id
# --------------------------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("st:someone/custom-model", {"trust_remote_code": "true"}),
        ("python:tests.test_registry:FakeEncoder", {"trust_remote_code": "yes"}),
        ("jina-v4", {"model_id": "someone/fine-tuned-v4"}),  # another id: the entry's pin does not apply
    ],
)
def test_remote_code_rule_applies_to_every_adapter_and_id(name: str, options: dict[str, str]) -> None:
    spec = dataclasses.replace(registry.resolve(name, **options), requires=(), factory="tests.test_registry:FakeEncoder")
    assert registry.runs_remote_code(spec) and not registry.is_pinned(spec)
    with pytest.raises(JinaVDRError, match=r"only runs at a pinned 40-hex commit, but the revision is None.*--allow-unpinned"):
        registry.load(spec, device="cpu")
    assert isinstance(registry.load(spec, device="cpu", allow_unpinned=True), FakeEncoder)
    pinned = dataclasses.replace(registry.resolve(name, revision=SHA, **options), requires=(),
                                 factory="tests.test_registry:FakeEncoder")
    assert isinstance(registry.load(pinned, device="cpu"), FakeEncoder)


def test_trust_remote_code_false_is_not_remote_code() -> None:
    assert not registry.runs_remote_code(registry.resolve("st:someone/model", trust_remote_code="false"))
    assert not registry.runs_remote_code(registry.resolve("st:someone/model"))


# --------------------------------------------------------------------------------------------------
# Outside adapters: their source is part of the cache key, never of the slug
# --------------------------------------------------------------------------------------------------


def test_python_adapter_code_changes_the_cache_key_not_the_slug(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "my_adapter_mod.py"
    module.write_text("class Enc:\n    scale = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = registry.resolve("python:my_adapter_mod:Enc")
    assert first.code_fingerprint is not None and first.cache_key("cpu") != first.key()
    module.write_text("class Enc:\n    scale = 2.0\n")  # an edited adapter
    second = registry.resolve("python:my_adapter_mod:Enc")
    assert second.code_fingerprint != first.code_fingerprint
    assert second.cache_key("cpu") != first.cache_key("cpu")
    assert second.slug() == first.slug() and second.key() == first.key()
    assert registry.resolve("bm25").code_fingerprint is None  # jinavdr's own adapters: versioned with it
