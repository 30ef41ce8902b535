"""Reference profiles (``-o profile=paper|mteb``): the settings each one pins, identity, and pinning
of every default checkpoint. The calls each profile makes on tiny models are in test_vision_models.py
and the BM25 paper profile's in test_bm25_paper.py."""

from __future__ import annotations

import re

import pytest

from jinavdr.errors import JinaVDRError, UnknownNameError
from jinavdr.models import registry

SHA = re.compile(r"^[0-9a-f]{40}$")

#: model -> {profile: the options that profile pins}; None = the default profile
EXPECTED = {
    "jina-v3": {"paper": {"dtype": "float32"}},
    "jina-clip-v2": {"paper": {"dtype": "float32"}},
    "siglip": {"paper": {"dtype": "float32", "normalize": False}, "mteb": {"dtype": "float32", "normalize": True}},
    "dse-qwen2": {"paper": {"dtype": "bfloat16"}},
    "colpali-v1.2": {"paper": {"dtype": "bfloat16"}, "mteb": {"dtype": "float16"}},
    "colpali-v1.3": {"mteb": {"dtype": "float16"}},
    "colqwen2": {"mteb": {"dtype": "float16"}},
    "colqwen2.5": {"mteb": {"dtype": "float16"}},
    "colsmol": {"mteb": {"dtype": "float16"}},
    "bge-m3": {"mteb": {"dtype": "float16"}},
    "bm25": {"paper": {"tokenizer": "nltk-english", "idf": "okapi", "epsilon": 0.25}},
}
DEFAULT_PROFILE = {"jina-v3": "paper", "jina-clip-v2": "paper", "siglip": "paper", "dse-qwen2": "paper",
                   "colpali-v1.2": "paper", "colpali-v1.3": "mteb", "colqwen2": "mteb", "colqwen2.5": "mteb",
                   "colsmol": "mteb", "bge-m3": "mteb", "bm25": None}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_profile_pins_its_settings(name):
    for profile, pinned in EXPECTED[name].items():
        spec = registry.resolve(name, profile=profile)
        assert {k: spec.options[k] for k in pinned} == pinned
        assert spec.options["profile"] == profile and spec.settings()["profile"] == profile
    entry = registry.get_entry(name)
    assert entry.default_profile == DEFAULT_PROFILE[name]
    assert sorted(p.name for p in entry.profiles) == sorted(EXPECTED[name])


def test_the_default_profile_keeps_the_plain_slug_and_another_profile_gets_its_own():
    paper, mteb = registry.resolve("siglip"), registry.resolve("siglip", profile="mteb")
    assert paper.slug() == "siglip" and paper.options["profile"] == "paper"
    assert mteb.slug().startswith("siglip__normalize-True__profile-mteb__")
    assert paper.key() != mteb.key()  # never share cached embeddings or a result folder
    # the user's options win over the profile's, and are recorded next to it
    custom = registry.resolve("siglip", profile="mteb", dtype="bfloat16")
    assert custom.options["dtype"] == "bfloat16" and custom.options["profile"] == "mteb"


def test_models_without_profiles_record_none_and_refuse_one():
    assert "profile" not in registry.resolve("jina-v4").settings()  # jina-v4 stays bf16 on GPU (dtype auto)
    assert registry.resolve("jina-v4").options["dtype"] is None
    with pytest.raises(JinaVDRError, match="model 'jina-v4' has no reference profiles; leave out the profile option"):
        registry.resolve("jina-v4", profile="paper")
    with pytest.raises(UnknownNameError, match="unknown profile of model 'siglip' 'papr'. Did you mean: paper"):
        registry.resolve("siglip", profile="papr")


def test_default_bm25_settings_are_unchanged():
    """The committed gate baselines record exactly these settings (results/baseline/bm25)."""
    assert registry.resolve("bm25").settings() == {
        "adapter": "bm25", "model_id": "bm25", "revision": None, "b": 0.75, "k1": 1.5, "tokenizer": "multilingual",
    }
    with pytest.raises(UnknownNameError, match="unknown option of model 'bm25' 'idf'"):
        registry.resolve("bm25", idf="okapi")  # only the paper profile reads it
    paper = registry.resolve("bm25", profile="paper")
    assert paper.slug().startswith("bm25__epsilon-0.25__idf-okapi__profile-paper__tokenizer-nltk-english__")


def test_every_default_checkpoint_is_pinned_or_says_why_not():
    for entry in registry.ENTRIES:
        if "/" not in entry.model_id:  # bm25: code only, no checkpoint
            continue
        pinned = entry.revision is not None and SHA.match(entry.revision)
        assert pinned or entry.revision_note.startswith(("not pinned:", "weights bundled")), entry.name


def test_colvision_defaults_are_the_checkpoints_mteb_pins():
    mteb = pytest.importorskip("mteb")
    for name, hub in (("colpali-v1.2", "vidore/colpali-v1.2"), ("colpali-v1.3", "vidore/colpali-v1.3"),
                      ("colqwen2", "vidore/colqwen2-v1.0")):
        spec = registry.resolve(name)
        assert (spec.model_id, spec.revision) == (hub, mteb.get_model_meta(hub).revision)
        assert spec.options["arch"] in ("colpali_lora", "colqwen2_lora") and spec.extra == "colpali"
    # the transformers-native conversions stay available, explicitly
    assert registry.resolve("colpali-v1.3-hf").model_id == "vidore/colpali-v1.3-hf"
    assert registry.resolve("colqwen2-hf").options["arch"] == "colqwen2"


def test_resume_and_compare_refuse_to_mix_profiles(tmp_path):
    from pathlib import Path

    from jinavdr.errors import ResultsError
    from jinavdr.report.compare import setting_differences
    from jinavdr.results.store import check_compatible, read_result_file

    baseline = read_result_file(Path(__file__).resolve().parents[1] / "results/baseline/bm25/agency-reports.json")
    paper_settings = {**registry.resolve("bm25", profile="paper").settings(), "idf_formula": "..."}
    paper = baseline.model_copy(update={"manifest": baseline.manifest.model_copy(update={"settings": paper_settings})})
    with pytest.raises(ResultsError, match=r"profile: '<absent>' in the file, 'paper' now"):
        check_compatible(baseline, paper.manifest, tmp_path / "agency-reports.json")
    assert ("settings.profile", "<absent>", "paper") in setting_differences(baseline, paper)
