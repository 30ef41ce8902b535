"""Typed containers for one retrieval subset: queries, a corpus of pages and relevance judgements.

Loading lives in :mod:`jinavdr.catalogue.loaders`; these classes only hold data and never touch the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image


class PageDecodeError(ValueError):
    """A page image could not be decoded; names the document and dataset."""

    def __init__(self, doc_id: str, dataset: str, cause: BaseException) -> None:
        super().__init__(
            f"page {doc_id!r} of dataset {dataset!r} could not be decoded as an image: {cause}. "
            "Check the corpus parquet for that row (re-download the dataset or fix the file)."
        )
        self.doc_id = doc_id
        self.dataset = dataset


@dataclass(frozen=True)
class Queries:
    """Query ids and texts, aligned by position."""

    ids: list[str]
    texts: list[str]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.texts):
            raise ValueError(f"{len(self.ids)} query ids but {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Corpus:
    """Pages of one subset. Images are decoded lazily through ``load_image(i)``.

    ``texts`` holds the OCR text (``text_description``) when the dataset has it, else ``None``.
    ``sizes`` optionally holds (width, height) per page, used to batch pages by pixel count.
    """

    ids: list[str]
    load_image: Callable[[int], Image]
    texts: list[str] | None = None
    sizes: list[tuple[int, int]] | None = None
    dataset: str = ""
    #: content hash per page (for the embedding cache); filled by the loader when known.
    hashes: list[str] | None = field(default=None, repr=False)
    #: QA layout (paper protocol) only: the document each page row counts as (``image_filename``);
    #: several rows may share one, and their scores merge by max. ``None``: each id is its own document.
    group_ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> Image:
        """Decode page ``i``; a failure raises :class:`PageDecodeError` naming its doc id."""
        try:
            return self.load_image(i)
        except PageDecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure is reported with its doc id
            raise PageDecodeError(self.ids[i], self.dataset, exc) from exc

    def images(self, indices: Sequence[int] | None = None) -> Iterator[Image]:
        for i in range(len(self)) if indices is None else indices:
            yield self.image(i)


@dataclass(frozen=True)
class Qrels:
    """Graded relevance: query id -> page id -> grade (int, > 0 means relevant)."""

    relevance: dict[str, dict[str, int]]

    def __len__(self) -> int:
        return sum(len(v) for v in self.relevance.values())

    @property
    def query_ids(self) -> list[str]:
        return list(self.relevance)


@dataclass
class Subset:
    """One (dataset, language subset) unit: queries are ranked only against this subset's corpus."""

    dataset: str
    name: str  # "default" or a language code
    queries: Queries
    corpus: Corpus
    qrels: Qrels
    repo: str = ""
    revision: str | None = None  # the revision actually loaded (pinned or resolved)
    dropped_queries: int = 0  # queries without any relevant page, removed on load
    duplicate_qrels: int = 0  # qrels rows repeating a (query, page) pair with the same grade, counted once

    @property
    def key(self) -> str:
        return f"{self.dataset}:{self.name}"
