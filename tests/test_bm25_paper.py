"""BM25 profile ``paper``: the paper's "BM25 + OCR" as jina-vdr ran it (rank_bm25's BM25Okapi with its
epsilon-floored IDF over NLTK English tokens without English stopwords).

NLTK's data (punkt_tab, stopwords) cannot be downloaded in this project's environment, so the
tokenisation is pinned on fixtures: NLTK's Treebank word tokenizer on single-sentence texts (where
punkt's sentence split changes nothing) and the stopwords the fixture needs. With the data installed,
``test_real_nltk_data_tokenisation`` also pins the full pipeline.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from jinavdr.catalogue.dataset import Corpus, Queries
from jinavdr.errors import JinaVDRError
from jinavdr.models import registry
from jinavdr.models.adapters import text
from jinavdr.models.adapters.text import BM25Index, okapi_idf
from jinavdr.models.adapters.tokenize import english_word_tokens

nltk = pytest.importorskip("nltk")
TREEBANK = partial(nltk.word_tokenize, preserve_line=True)  # no punkt data needed for one sentence
STOP = frozenset({"the", "is", "it", "s", "a", "of", "in"})  # entries of NLTK's English list


def test_tokens_are_nltk_words_alnum_only_lowercased_without_stopwords():
    raw = "The U.S. isn't 3.5% bigger, it's state-of-the-art! 東京タワー 2024年 Ünïcode"
    assert TREEBANK(raw) == ["The", "U.S.", "is", "n't", "3.5", "%", "bigger", ",", "it", "'s", "state-of-the-art",
                             "!", "東京タワー", "2024年", "Ünïcode"]
    # U.S., n't, 3.5, state-of-the-art are not alphanumeric and are dropped; a CJK run is one token
    assert english_word_tokens(raw, TREEBANK, STOP) == ["bigger", "東京タワー", "2024年", "ünïcode"]
    assert english_word_tokens(None, TREEBANK, STOP) == [] == english_word_tokens("", TREEBANK, STOP)


def test_okapi_idf_floors_negative_values_at_epsilon_times_the_mean():
    # N = 5; document frequencies 1, 2, 4, 1
    idf = okapi_idf(5, np.array([1.0, 2.0, 4.0, 1.0]), 0.25)
    mean = (math.log(3) + math.log(1.4) - math.log(3) + math.log(3)) / 4
    np.testing.assert_allclose(idf, [math.log(3), math.log(1.4), 0.25 * mean, math.log(3)], rtol=1e-12)


def test_okapi_index_golden_score():
    docs = [["x", "y", "z"], ["y", "z"], ["z"], ["z"], ["w"]]  # avgdl 8/5; z in 4 of 5 pages
    index = BM25Index(docs, idf="okapi")
    eps = 0.25 * (math.log(3) + math.log(3) + math.log(1.4) - math.log(3)) / 4
    expected = eps * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 1 / 1.6))  # query "z" on page 2 (one token)
    assert index.scores([["z"]])[0, 2] == pytest.approx(expected, rel=1e-12)
    default = BM25Index(docs)  # the default (Lucene) IDF is unchanged: ln(1 + 1.5/4.5)
    assert default.idf[default.vocab["z"]] == pytest.approx(math.log(1 + 1.5 / 4.5), rel=1e-12)


def test_okapi_index_equals_rank_bm25():
    rank_bm25 = pytest.importorskip("rank_bm25")
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(12)]
    docs = [list(rng.choice(vocab, size=rng.integers(1, 9))) for _ in range(30)]
    queries = [list(rng.choice(vocab, size=rng.integers(1, 4))) + ["unseen"] for _ in range(10)]
    reference = rank_bm25.BM25Okapi(docs)
    ours = BM25Index(docs, idf="okapi").scores(queries)
    np.testing.assert_allclose(ours, [reference.get_scores(q) for q in queries], rtol=1e-10, atol=1e-12)


def test_paper_profile_searcher_ranks_like_jina_vdr(monkeypatch):
    rank_bm25 = pytest.importorskip("rank_bm25")
    monkeypatch.setattr(text, "nltk_english", lambda: (TREEBANK, STOP, "fixture tokenizer"))
    searcher = registry.load(registry.resolve("bm25", profile="paper"), device="cpu")
    pages = ["The revenue of the company in 2023.", "Revenue grew; costs fell.", None, "Costs, costs and costs!"]
    corpus = Corpus(["p0", "p1", "p2", "p3"], lambda i: None, texts=pages, dataset="toy")
    queries = Queries(["q0", "q1"], ["What is the revenue?", "costs"])
    run = searcher.search(queries, corpus, k=None)
    docs = [english_word_tokens(t, TREEBANK, STOP) for t in pages]
    assert docs[0] == ["revenue", "company", "2023"] and docs[2] == []
    reference = rank_bm25.BM25Okapi(docs)
    for qi, query in enumerate(queries.texts):
        expected = reference.get_scores(english_word_tokens(query, TREEBANK, STOP))
        got = dict(run.ranking(qi))
        np.testing.assert_allclose([got[p] for p in corpus.ids], expected.astype(np.float32), rtol=1e-6)
    settings = searcher.settings()
    assert settings["profile"] == "paper" and settings["tokenizer"] == "nltk-english"
    assert settings["idf"] == "okapi" and settings["idf_formula"].startswith("ln(N-n+0.5)-ln(n+0.5)")
    assert settings["tokenizer_data"] == "fixture tokenizer"


def test_missing_nltk_data_is_a_clear_error():
    try:
        nltk.data.find("tokenizers/punkt_tab")
        nltk.data.find("corpora/stopwords")
    except LookupError:
        with pytest.raises(JinaVDRError, match=r"NLTK's data is not installed: run `python -m nltk.downloader "
                                               r"punkt_tab stopwords`"):
            registry.load(registry.resolve("bm25", profile="paper"), device="cpu")
    else:
        pytest.skip("NLTK's data is installed here")


def test_real_nltk_data_tokenisation():
    try:
        word_tokenize, stopwords, info = text.nltk_english()
    except JinaVDRError:
        pytest.skip("NLTK's punkt_tab/stopwords data is not installed (cannot be downloaded here)")
    assert len(stopwords) >= 179 and info.startswith("nltk ")
    # punkt splits the sentences, so each sentence's final period is its own (dropped) token
    assert english_word_tokens("Revenue grew in 2023. Costs fell. It is over.", word_tokenize, stopwords) == [
        "revenue", "grew", "2023", "costs", "fell"]
