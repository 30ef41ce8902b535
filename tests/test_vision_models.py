"""Vision-language and HF text adapters, each loaded through its real ``from_pretrained`` code from a
tiny checkpoint (or fake remote-code folder) built once per session by ``tests/tiny_models.py``."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from jinavdr.errors import JinaVDRError, MissingDependencyError, UnknownNameError
from jinavdr.models.adapters import qwen_vision
from jinavdr.models.base import Encoder, Page
from jinavdr.models.embeddings import Embeddings
from jinavdr.models.registry import ModelSpec, import_factory, load, resolve
from tests import tiny_models

JINA_V4 = "jinavdr.models.adapters.jina:JinaV4Encoder"
JINA_V3 = "jinavdr.models.adapters.jina:JinaV3Encoder"
CLIP = "jinavdr.models.adapters.clip:JinaClipV2Encoder"
SIGLIP = "jinavdr.models.adapters.clip:SiglipEncoder"
DSE = "jinavdr.models.adapters.dse:DSEEncoder"
COLVISION = "jinavdr.models.adapters.colvision:ColVisionEncoder"
BGE_M3 = "jinavdr.models.adapters.hf_text:BGEM3Encoder"

QUERIES = ["what is the revenue in 2023", "x", "a much longer query about the chart on page two"]


# --------------------------------------------------------------------------------------------------
# Fixtures: tiny checkpoints (built once), pages, specs
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "qwen2vl": tiny_models.build_qwen2vl(root / "qwen2vl"),
        "colqwen2": tiny_models.build_colqwen2(root / "colqwen2"),
        "colpali": tiny_models.build_colpali(root / "colpali"),
        "siglip": tiny_models.build_siglip(root / "siglip"),
        "xlmr": tiny_models.build_xlmr(root / "xlmr"),
        "jina_v4": tiny_models.build_fake_remote(root / "fake_jina_v4", "FakeJinaV4", hidden_size=256),
        "jina_v3": tiny_models.build_fake_remote(root / "fake_jina_v3", "FakeJinaV3"),
        "jina_clip": tiny_models.build_fake_remote(root / "fake_jina_clip", "FakeJinaClip"),
    }


@pytest.fixture(scope="session")
def pages() -> list[Page]:
    """Three pages of different sizes and PIL modes (RGB, greyscale, RGBA) with OCR text."""
    return [
        Page("p1", Image.new("RGB", (60, 90), (200, 10, 10)), "annual report revenue 2023"),
        Page("p2", Image.new("L", (56, 56), 128), "chart"),
        Page("p3", Image.new("RGBA", (90, 40), (1, 2, 250, 40)), "a longer page of text about the quarterly table"),
    ]


def make_spec(factory: str, path: Path, **options: object) -> ModelSpec:
    return ModelSpec(name="tiny", adapter="tiny", factory=factory, family="test", model_id=str(path),
                     revision=None, options={"dtype": "float32", **options}, trust_remote_code=True)


_CACHE: dict[tuple, object] = {}


def encoder(factory: str, path: Path, **options: object):
    """The adapter for ``factory`` on ``path`` (built once per distinct options)."""
    key = (factory, str(path), tuple(sorted(options.items())))
    if key not in _CACHE:
        _CACHE[key] = import_factory(factory)(make_spec(factory, path, **options), "cpu")
    return _CACHE[key]


def assert_unit_rows(x: torch.Tensor) -> None:
    assert x.dtype == torch.float32 and x.device.type == "cpu"
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(x.shape[0]), atol=1e-5, rtol=0)


def assert_batch_independent(enc, pages: list[Page]) -> None:
    for encode, items in ((enc.encode_queries, QUERIES), (enc.encode_pages, pages)):
        one, three = encode(items, batch_size=1), encode(items, batch_size=3)
        assert one.is_multi == three.is_multi
        if one.is_multi:
            assert torch.equal(one.offsets, three.offsets)
        torch.testing.assert_close(one.data, three.data, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------------------
# jina-embeddings-v4 (fake remote code following the documented API)
# --------------------------------------------------------------------------------------------------


def test_jina_v4_single_vector_calls_and_outputs(tiny, pages):
    enc = encoder(JINA_V4, tiny["jina_v4"])
    assert isinstance(enc, Encoder) and enc.similarity == "dot" and enc.page_input == "image"
    enc.model.calls.clear()
    queries = enc.encode_queries(QUERIES, batch_size=2)
    assert not queries.is_multi and queries.data.shape == (3, 256)
    assert_unit_rows(queries.data)
    assert enc.model.calls == [
        dict(method="encode_text", n=2, task="retrieval", max_length=32768, batch_size=2,
             return_multivector=False, truncate_dim=None, prompt_name="query"),
        dict(method="encode_text", n=1, task="retrieval", max_length=32768, batch_size=1,
             return_multivector=False, truncate_dim=None, prompt_name="query"),
    ]
    # the adapter passes the remote code's vectors through unchanged
    direct = enc.model.encode_text(texts=[QUERIES[1]], task="retrieval", prompt_name="query")[0]
    torch.testing.assert_close(queries.item(1), direct.float())

    enc.model.calls.clear()
    docs = enc.encode_pages(pages, batch_size=3)  # greyscale and RGBA pages arrive as RGB
    assert docs.data.shape == (3, 256)
    assert_unit_rows(docs.data)
    assert enc.model.calls == [dict(method="encode_image", n=3, task="retrieval", batch_size=3,
                                    return_multivector=False, truncate_dim=None, max_pixels=37788800)]


def test_jina_v4_multi_vector_is_ragged_maxsim(tiny, pages):
    enc = encoder(JINA_V4, tiny["jina_v4"], vector="multi", max_pixels=28 * 28 * 2)
    assert enc.similarity == "maxsim"
    enc.model.calls.clear()
    queries = enc.encode_queries(QUERIES, batch_size=3)
    assert queries.is_multi and queries.dim == 8
    # one vector per byte of "Query: <text>" (the remote code's prefix), no padding
    assert queries.lengths().tolist() == [len(f"Query: {q}".encode()) for q in QUERIES]
    assert_unit_rows(queries.data)
    assert enc.model.calls[0]["return_multivector"] is True and enc.model.calls[0]["prompt_name"] == "query"

    docs = enc.encode_pages(pages, batch_size=2)
    assert enc.model.calls[-1]["max_pixels"] == 28 * 28 * 2
    assert docs.is_multi and len(docs) == 3
    assert max(docs.lengths().tolist()) <= 2  # the pixel budget reached the remote code
    full = encoder(JINA_V4, tiny["jina_v4"], vector="multi").encode_pages(pages, batch_size=3)
    assert full.lengths().tolist() == [6, 4, 3]  # 28 x 28 tiles at the paper budget


def test_jina_v4_truncate_dim_is_matryoshka(tiny, pages):
    full = encoder(JINA_V4, tiny["jina_v4"])
    short = encoder(JINA_V4, tiny["jina_v4"], truncate_dim=128)
    short.model.calls.clear()
    q = short.encode_queries(QUERIES, batch_size=3)
    assert q.data.shape == (3, 128) and short.model.calls[0]["truncate_dim"] == 128
    expected = torch.nn.functional.normalize(full.encode_queries(QUERIES, batch_size=3).data[:, :128], dim=-1)
    torch.testing.assert_close(q.data, expected, atol=1e-6, rtol=0)
    assert short.encode_pages(pages, batch_size=2).data.shape == (3, 128)
    assert short.settings()["truncate_dim"] == 128


def test_jina_v4_settings_record_every_score_moving_option(tiny):
    settings = encoder(JINA_V4, tiny["jina_v4"], vector="multi").settings()
    assert settings == {
        "adapter": "tiny", "model_id": str(tiny["jina_v4"]), "revision": None,
        "dtype": "float32", "vector": "multi", "attn_implementation": "sdpa", "truncate_dim": None,
        "max_pixels": 37788800, "max_length": 32768, "task": "retrieval", "query_prompt_name": "query",
        "similarity": "maxsim", "page_input": "image",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vector": "both"}, "vector='both'"),
        ({"truncate_dim": 100}, "truncate_dim=100"),
        ({"vector": "multi", "truncate_dim": 128}, "vector=single only"),
        ({"dtype": "int8"}, "unknown dtype 'int8'"),
        ({"attn_implementation": "flash_attention_2"}, "needs a CUDA device"),
        ({"attn_implementation": "xformers"}, "unknown attn_implementation 'xformers'"),
    ],
)
def test_jina_v4_bad_options_are_clear_errors(tiny, options, message):
    with pytest.raises(JinaVDRError, match=message):
        import_factory(JINA_V4)(make_spec(JINA_V4, tiny["jina_v4"], **options), "cpu")


def test_jina_v4_batch_independent(tiny, pages):
    assert_batch_independent(encoder(JINA_V4, tiny["jina_v4"], vector="multi"), pages)


# --------------------------------------------------------------------------------------------------
# jina-embeddings-v3 and jina-clip-v2 (fake remote code)
# --------------------------------------------------------------------------------------------------


def test_jina_v3_tasks_on_ocr_text(tiny, pages):
    enc = encoder(JINA_V3, tiny["jina_v3"])
    assert enc.page_input == "text" and enc.similarity == "cosine"
    enc.model.calls.clear()
    q = enc.encode_queries(QUERIES, batch_size=3)
    d = enc.encode_pages(pages, batch_size=3)
    assert q.data.shape == d.data.shape == (3, 32)
    assert_unit_rows(q.data)
    assert [(c["task"], c["max_length"], c["normalize_embeddings"]) for c in enc.model.calls] == [
        ("retrieval.query", 8192, True), ("retrieval.passage", 8192, True)]
    direct = enc.model.encode([pages[0].text], task="retrieval.passage", convert_to_tensor=True)[0]
    torch.testing.assert_close(d.item(0), direct)
    assert_batch_independent(enc, pages)


def test_text_adapter_reads_a_page_without_ocr_text_as_empty(tiny):
    enc = encoder(BGE_M3, tiny["xlmr"])
    missing = enc.encode_pages([Page("p9", None, None)], batch_size=1)  # no image is decoded either
    empty = enc.encode_pages([Page("p9", None, "")], batch_size=1)
    torch.testing.assert_close(missing.data, empty.data)


def test_jina_clip_v2_text_and_image_towers(tiny, pages):
    enc = encoder(CLIP, tiny["jina_clip"])
    assert enc.similarity == "dot"
    enc.model.calls.clear()
    q = enc.encode_queries(QUERIES, batch_size=2)
    d = enc.encode_pages(pages, batch_size=3)
    assert q.data.shape == d.data.shape == (3, 32)
    assert_unit_rows(d.data)
    assert [c["method"] for c in enc.model.calls] == ["encode_text", "encode_text", "encode_image"]
    assert enc.model.calls[0]["task"] is None and enc.model.calls[0]["max_length"] == 512
    with_task = encoder(CLIP, tiny["jina_clip"], query_task="retrieval.query")
    assert not torch.allclose(with_task.encode_queries(QUERIES, batch_size=3).data, q.data)
    assert with_task.settings()["query_task"] == "retrieval.query"
    assert_batch_independent(enc, pages)


# --------------------------------------------------------------------------------------------------
# SigLIP
# --------------------------------------------------------------------------------------------------


def test_siglip_pads_text_to_max_length(tiny, pages):
    enc = encoder(SIGLIP, tiny["siglip"])
    q = enc.encode_queries(QUERIES, batch_size=3)
    d = enc.encode_pages(pages, batch_size=3)
    assert q.data.shape == d.data.shape == (3, 16)
    assert_unit_rows(q.data)
    assert_unit_rows(d.data)
    ids = enc.tokenizer([QUERIES[1]], padding="max_length", max_length=16, truncation=True,
                        return_tensors="pt")["input_ids"]
    assert ids.shape == (1, 16)
    with torch.inference_mode():
        expected = torch.nn.functional.normalize(enc.model.get_text_features(input_ids=ids), dim=-1)[0]
    torch.testing.assert_close(q.item(1), expected)
    assert enc.settings()["max_length"] == 16 and enc.settings()["image_processor"] == "SiglipImageProcessor"
    assert_batch_independent(enc, pages)


# --------------------------------------------------------------------------------------------------
# DSE (Qwen2-VL) and the Qwen input helpers
# --------------------------------------------------------------------------------------------------


def test_qwen_smart_resize_goldens():
    assert qwen_vision.smart_resize(1, 1) == (56, 56)  # the card's 1x1 dummy query image
    assert qwen_vision.smart_resize(90, 60) == (84, 56)
    assert qwen_vision.smart_resize(1000, 1000, max_pixels=28 * 28 * 16) == (112, 112)
    h, w = qwen_vision.smart_resize(2200, 1700, max_pixels=1024 * 28 * 28)
    assert h % 28 == w % 28 == 0 and h * w <= 1024 * 28 * 28 and (h, w) == (1008, 784)
    assert qwen_vision.fetch_resize(Image.new("RGB", (60, 90))).size == (56, 84)


def test_qwen_expand_image_tokens():
    grid = torch.tensor([[1, 4, 6], [1, 2, 2]])
    out = qwen_vision.expand_image_tokens(["a<|image_pad|>b", "<|image_pad|>"], grid, merge_size=2)
    assert out == ["a" + "<|image_pad|>" * 6 + "b", "<|image_pad|>"]
    with pytest.raises(ValueError, match="2 images but 1"):
        qwen_vision.expand_image_tokens(["<|image_pad|>"], grid, merge_size=2)


def test_dse_query_matches_model_card_recipe(tiny):
    enc = encoder(DSE, tiny["qwen2vl"], truncate_dim=16)
    assert enc.similarity == "cosine"
    q = enc.encode_queries(QUERIES, batch_size=3)
    assert q.data.shape == (3, 16)
    assert_unit_rows(q.data)
    # by hand: the exact chat prompt, a 56x56 black dummy image, last token, first 16 dims, L2
    prompt = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
              "<|vision_start|><|image_pad|><|vision_end|>Query: x<|im_end|>\n<|im_start|>assistant\n"
              "<|endoftext|>")
    vision = enc.image_processor(images=[Image.new("RGB", (56, 56))], return_tensors="pt")
    assert vision["image_grid_thw"].tolist() == [[1, 4, 4]]
    ids = enc.tokenizer([prompt.replace("<|image_pad|>", "<|image_pad|>" * 4)], return_tensors="pt")
    with torch.inference_mode():
        hidden = enc.model.model(**ids, pixel_values=vision["pixel_values"],
                                 image_grid_thw=vision["image_grid_thw"]).last_hidden_state
    expected = torch.nn.functional.normalize(hidden[0, -1, :16], dim=-1)
    torch.testing.assert_close(q.item(1), expected, atol=1e-5, rtol=0)


def test_dse_pages_and_budget(tiny, pages):
    enc = encoder(DSE, tiny["qwen2vl"], truncate_dim=None)
    d = enc.encode_pages(pages, batch_size=2)
    assert d.data.shape == (3, 32)  # no truncation: the full hidden size
    assert_unit_rows(d.data)
    assert enc.settings()["max_pixels"] == 1024 * 28 * 28
    small = encoder(DSE, tiny["qwen2vl"], truncate_dim=None, max_pixels=28 * 28)
    assert not torch.allclose(small.encode_pages(pages, batch_size=3).data, d.data)
    assert_batch_independent(encoder(DSE, tiny["qwen2vl"], truncate_dim=16), pages)


def test_dse_truncate_dim_beyond_hidden_size_is_an_error(tiny):
    with pytest.raises(JinaVDRError, match="truncate_dim=1536 is outside 1..32"):
        import_factory(DSE)(make_spec(DSE, tiny["qwen2vl"], truncate_dim=1536), "cpu")


# --------------------------------------------------------------------------------------------------
# ColVision
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "key", "prefix"), [("colqwen2", "colqwen2", "Query: "),
                                                     ("colpali", "colpali", "Question: ")])
def test_colvision_ragged_without_padding(tiny, pages, arch, key, prefix):
    enc = encoder(COLVISION, tiny[key], arch=arch)
    assert enc.similarity == "maxsim" and isinstance(enc, Encoder)
    q = enc.encode_queries(QUERIES, batch_size=3)
    batch = enc.processor.process_queries(QUERIES)
    assert q.is_multi and q.dim == 16
    assert q.lengths().tolist() == batch["attention_mask"].sum(1).tolist()
    assert len(set(q.lengths().tolist())) > 1  # different lengths: the padding was removed
    assert_unit_rows(q.data)
    d = enc.encode_pages(pages, batch_size=3)
    assert d.is_multi and len(d) == 3
    assert_unit_rows(d.data)
    settings = enc.settings()
    assert settings["query_prefix"] == prefix and settings["arch"] == arch
    assert settings["image_processor"].endswith("ImageProcessor")  # the slow, PIL-based processor
    assert_batch_independent(enc, pages)


def test_colqwen2_max_pixels_option(tiny, pages):
    default = encoder(COLVISION, tiny["colqwen2"], arch="colqwen2")
    small = encoder(COLVISION, tiny["colqwen2"], arch="colqwen2", max_pixels=28 * 28 * 4)
    assert default.settings()["max_pixels"] == 28 * 28 * 16 and small.settings()["max_pixels"] == 28 * 28 * 4
    big, few = default.encode_pages(pages, batch_size=3), small.encode_pages(pages, batch_size=3)
    assert few.lengths()[0] < big.lengths()[0]


def test_colvision_errors(tiny):
    with pytest.raises(UnknownNameError, match="unknown ColVision arch 'colbert'"):
        import_factory(COLVISION)(make_spec(COLVISION, tiny["colpali"], arch="colbert"), "cpu")
    with pytest.raises(JinaVDRError, match="max_pixels applies to Qwen-based"):
        import_factory(COLVISION)(make_spec(COLVISION, tiny["colpali"], arch="colpali", max_pixels=1000), "cpu")


@pytest.mark.parametrize("arch", ["colqwen2_5", "colidefics3"])
def test_colpali_engine_archs(tmp_path, arch):
    if importlib.util.find_spec("colpali_engine") is not None:
        pytest.skip(f"{arch}: colpali-engine is installed; no tiny {arch} checkpoint can be built offline")
    with pytest.raises(MissingDependencyError, match=r'pip install "jinavdr\[colpali\]"') as info:
        import_factory(COLVISION)(make_spec(COLVISION, tmp_path, arch=arch), "cpu")
    assert info.value.extra == "colpali"


def test_colpali_engine_models_not_exercised_here():
    if importlib.util.find_spec("colpali_engine") is None:
        pytest.skip("ColQwen2.5 and ColSmol (colpali-engine classes) are not run: colpali-engine is not "
                    "installed (it needs torchvision, which this project's environment must not install)")
    pytest.skip("colpali-engine is installed, but no tiny ColQwen2.5/ColSmol checkpoint is built offline")


# --------------------------------------------------------------------------------------------------
# BGE-M3
# --------------------------------------------------------------------------------------------------


def test_bge_m3_cls_pooling(tiny, pages):
    enc = encoder(BGE_M3, tiny["xlmr"])
    assert enc.page_input == "text"
    q = enc.encode_queries(QUERIES, batch_size=3)
    d = enc.encode_pages(pages, batch_size=3)
    assert q.data.shape == d.data.shape == (3, 32)
    assert_unit_rows(q.data)
    tokens = enc.tokenizer([QUERIES[0]], return_tensors="pt")
    assert tokens["input_ids"][0, 0].item() == enc.tokenizer.cls_token_id
    with torch.inference_mode():
        hidden = enc.model(**tokens).last_hidden_state
    torch.testing.assert_close(q.item(0), torch.nn.functional.normalize(hidden[0, 0], dim=-1), atol=1e-6, rtol=0)
    assert_batch_independent(enc, pages)


# --------------------------------------------------------------------------------------------------
# Shared behaviour and registry integration
# --------------------------------------------------------------------------------------------------


def test_empty_inputs_keep_the_dimension(tiny):
    dense = encoder(BGE_M3, tiny["xlmr"]).encode_queries([], batch_size=4)
    multi = encoder(COLVISION, tiny["colqwen2"], arch="colqwen2").encode_pages([], batch_size=4)
    assert isinstance(dense, Embeddings) and dense.data.shape == (0, 32)
    assert multi.is_multi and len(multi) == 0 and multi.dim == 16


def test_cuda_asked_for_but_absent(tiny):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the missing-CUDA error cannot be triggered")
    with pytest.raises(JinaVDRError, match="device 'cuda' was asked for but CUDA is not available"):
        import_factory(BGE_M3)(make_spec(BGE_M3, tiny["xlmr"]), "cuda")


def test_dtype_defaults_to_float32_on_cpu(tiny):
    spec = make_spec(BGE_M3, tiny["xlmr"])
    spec = ModelSpec(name=spec.name, adapter=spec.adapter, factory=spec.factory, family=spec.family,
                     model_id=spec.model_id, revision=None, options={})
    enc = import_factory(BGE_M3)(spec, "cpu")
    assert enc.settings()["dtype"] == "float32" and next(enc.model.parameters()).dtype == torch.float32


def test_weights_are_cast_when_remote_code_ignores_the_dtype(tiny):
    enc = encoder(BGE_M3, tiny["xlmr"])
    enc.dtype = torch.bfloat16
    model = enc.finish_loading(torch.nn.Linear(2, 2))  # as if loaded in float32 despite dtype=bfloat16
    assert model.weight.dtype == torch.bfloat16 and not model.training


def test_bfloat16_option_reaches_the_weights(tiny, pages):
    enc = import_factory(JINA_V4)(make_spec(JINA_V4, tiny["jina_v4"], dtype="bfloat16"), "cpu")
    assert next(enc.model.parameters()).dtype == torch.bfloat16
    assert enc.settings()["dtype"] == "bfloat16"
    out = enc.encode_pages(pages[:1], batch_size=1)
    assert out.data.dtype == torch.float32  # embeddings always come back as float32 on the CPU


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(JinaVDRError, match="could not load the model of 'tiny' from"):
        import_factory(BGE_M3)(make_spec(BGE_M3, tmp_path / "nowhere"), "cpu")


@pytest.mark.parametrize(
    ("name", "key", "options"),
    [
        ("jina-v4", "jina_v4", {}),
        ("jina-v3", "jina_v3", {}),
        ("jina-clip-v2", "jina_clip", {}),
        ("siglip", "siglip", {}),
        ("dse-qwen2", "qwen2vl", {"truncate_dim": 16}),
        ("bge-m3", "xlmr", {}),
        ("colpali-v1.3-hf", "colpali", {}),
        ("colqwen2-hf", "colqwen2", {}),
    ],
)
def test_registry_entries_build_these_adapters(tiny, pages, name, key, options):
    spec = resolve(name, model_id=str(tiny[key]), dtype="float32", **options)
    # the fake remote code needs none of the real models' packages (peft, einops, timm)
    enc = load(dataclasses.replace(spec, requires=("transformers",)), device="cpu")
    assert isinstance(enc, Encoder)
    out = enc.encode_pages(pages, batch_size=2)
    assert len(out) == 3 and out.is_multi == (enc.similarity == "maxsim")
    assert math.isfinite(float(out.data.sum()))
    assert enc.settings()["model_id"] == str(tiny[key])


# --------------------------------------------------------------------------------------------------
# Reference profiles: the calls each profile makes (settings pinned in test_profiles.py)
# --------------------------------------------------------------------------------------------------


def profile_encoder(name: str, path: Path, **options: object):
    spec = resolve(name, model_id=str(path), **options)
    return load(dataclasses.replace(spec, requires=("transformers",)), device="cpu")


def test_siglip_paper_profile_scores_raw_fp32_dot_products_mteb_cosine(tiny, pages):
    paper = profile_encoder("siglip", tiny["siglip"])
    mteb = profile_encoder("siglip", tiny["siglip"], profile="mteb")
    assert (paper.similarity, mteb.similarity) == ("dot", "cosine")
    assert next(paper.model.parameters()).dtype == torch.float32 == next(mteb.model.parameters()).dtype
    ids = paper.tokenizer(QUERIES, padding="max_length", max_length=16, truncation=True, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        raw = paper.model.get_text_features(input_ids=ids)
    q_paper, q_mteb = paper.encode_queries(QUERIES, batch_size=3), mteb.encode_queries(QUERIES, batch_size=3)
    torch.testing.assert_close(q_paper.data, raw)  # unnormalised features, as jina-vdr keeps them
    assert not torch.allclose(q_paper.data.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(q_mteb.data, torch.nn.functional.normalize(raw, dim=-1))
    d_paper = paper.encode_pages(pages, batch_size=3)
    assert d_paper.data.dtype == torch.float32
    settings = paper.settings()
    assert (settings["profile"], settings["normalize"], settings["similarity"], settings["dtype"]) == (
        "paper", False, "dot", "float32")


def test_bge_m3_mteb_profile_runs_in_float16(tiny, pages):
    enc = profile_encoder("bge-m3", tiny["xlmr"])
    assert next(enc.model.parameters()).dtype == torch.float16
    assert enc.settings()["dtype"] == "float16" and enc.settings()["profile"] == "mteb"
    assert enc.encode_queries(QUERIES[:1], batch_size=1).data.dtype == torch.float32


class _FakeColModel(torch.nn.Module):
    """Stands in for colpali-engine's ColPali / ColQwen2 (records how it is loaded)."""

    calls: list = []

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(32, 4)
        self.dim = 4

    @classmethod
    def from_pretrained(cls, model_id, **kwargs):
        cls.calls.append((model_id, kwargs))
        dtype = kwargs.get("dtype", kwargs.get("torch_dtype"))
        return cls().to(dtype)

    def forward(self, input_ids, attention_mask):
        return self.embed(input_ids)


class _FakeColProcessor:
    calls: list = []

    def __init__(self) -> None:
        self.image_processor = type("FakeImageProcessor", (), {})()
        self.query_prefix = "Query: "

    @classmethod
    def from_pretrained(cls, model_id, **kwargs):
        cls.calls.append((model_id, kwargs))
        return cls()

    def _batch(self, lengths):
        ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, n in enumerate(lengths):
            ids[i, :n] = torch.arange(1, n + 1)
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def process_queries(self, texts):
        return self._batch([min(len(t.split()) + 1, 31) for t in texts])

    def process_images(self, images):
        return self._batch([3] * len(images))


@pytest.fixture()
def fake_colpali_engine(monkeypatch):
    import types

    models = types.ModuleType("colpali_engine.models")
    for name in ("ColPali", "ColQwen2"):
        setattr(models, name, _FakeColModel)
        setattr(models, f"{name}Processor", _FakeColProcessor)
    package = types.ModuleType("colpali_engine")
    package.models = models
    monkeypatch.setitem(sys.modules, "colpali_engine", package)
    monkeypatch.setitem(sys.modules, "colpali_engine.models", models)
    _FakeColModel.calls.clear()
    _FakeColProcessor.calls.clear()
    return models


@pytest.mark.parametrize(("profile", "dtype"), [("paper", torch.bfloat16), ("mteb", torch.float16)])
def test_colpali_v12_profiles_load_the_pinned_lora_checkpoint(fake_colpali_engine, pages, profile, dtype):
    spec = resolve("colpali-v1.2", profile=profile)
    enc = import_factory(spec.factory)(spec, "cpu")
    (model_id, kwargs), = _FakeColModel.calls
    assert model_id == "vidore/colpali-v1.2"
    # the adapter is pinned; its base model loads as MTEB loads it (recorded as base_revision=None)
    assert kwargs["revision"] is None and kwargs["adapter_kwargs"] == {"revision": "6b89bc63c16809af4d111bfe412e2ac6bc3c9451"}
    assert kwargs.get("dtype", kwargs.get("torch_dtype")) == dtype and kwargs["attn_implementation"] == "sdpa"
    assert _FakeColProcessor.calls == [("vidore/colpali-v1.2", {"revision": "6b89bc63c16809af4d111bfe412e2ac6bc3c9451"})]
    out = enc.encode_queries(QUERIES, batch_size=2)
    assert out.is_multi and [len(out.item(i)) for i in range(3)] == [7, 2, 11]
    assert enc.settings()["profile"] == profile and enc.settings()["dtype"] == str(dtype).removeprefix("torch.")


def test_jina_v4_loads_weights_code_and_adapters_from_the_pinned_snapshot(tiny, monkeypatch, tmp_path):
    import shutil

    from jinavdr import hub

    commit = "4a58ca57710c49f51896e4bc820e202fbf64904b"
    folder = tmp_path / "snapshots" / commit  # the Hugging Face cache names a snapshot folder by its commit
    shutil.copytree(tiny["jina_v4"], folder)
    calls = []

    def snapshot(repo, repo_type, revision, patterns=None, ignore=()):
        calls.append((repo, repo_type, revision, ignore))
        return folder  # the remote code then reads <folder>/adapters, same commit

    monkeypatch.setattr(hub, "snapshot", snapshot)
    spec = resolve("jina-v4", dtype="float32")
    enc = import_factory(spec.factory)(spec, "cpu")
    assert calls == [("jinaai/jina-embeddings-v4", "model", commit, hub.MODEL_IGNORE)]
    settings = enc.settings()
    assert settings["model_id"] == "jinaai/jina-embeddings-v4"
    assert settings["adapters_revision"] == settings["commit"] == "4a58ca57710c49f51896e4bc820e202fbf64904b"
