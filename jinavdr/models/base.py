"""The model contract: every adapter is an :class:`Encoder` or a :class:`Searcher`.

The evaluator never special-cases a model class: it only reads ``similarity`` and ``page_input``
and calls these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL.Image import Image

    from jinavdr.catalogue.dataset import Corpus, Queries
    from jinavdr.models.embeddings import Embeddings
    from jinavdr.models.ranking import Run

Similarity = Literal["dot", "cosine", "maxsim"]
PageInput = Literal["image", "text", "image+text"]


class Page:
    """What an encoder sees of one page: its image (decoded on demand) and its OCR text."""

    __slots__ = ("doc_id", "_image", "text")

    def __init__(self, doc_id: str, image: Image | None = None, text: str | None = None) -> None:
        self.doc_id = doc_id
        self._image = image
        self.text = text

    @property
    def image(self) -> Image:
        if self._image is None:
            raise ValueError(f"page {self.doc_id!r} has no image")
        return self._image


@runtime_checkable
class Encoder(Protocol):
    """Embeds queries and pages; the scorer compares them with ``similarity``."""

    #: "dot", "cosine" or "maxsim" (multi-vector late interaction).
    similarity: Similarity
    #: which part of a page the encoder reads.
    page_input: PageInput

    def encode_queries(self, texts: Sequence[str], *, batch_size: int) -> Embeddings:
        """Embed query texts: dense [N, D] or ragged multi-vector."""
        ...

    def encode_pages(self, pages: Sequence[Page], *, batch_size: int) -> Embeddings:
        """Embed pages, in order: dense [N, D] or ragged multi-vector."""
        ...

    def settings(self) -> dict[str, Any]:
        """Every setting that can move a score (model id, revision, dtype, max_pixels, ...)."""
        ...


@runtime_checkable
class Searcher(Protocol):
    """Ranks a corpus for each query directly (lexical retrieval such as BM25)."""

    page_input: PageInput

    def search(self, queries: Queries, corpus: Corpus, *, k: int) -> Run:
        """Top-``k`` pages per query."""
        ...

    def settings(self) -> dict[str, Any]:
        ...
