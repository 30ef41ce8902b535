"""Multilingual tokenisation for lexical retrieval (BM25) over OCR text.

The default tokeniser needs no language detection and no third-party package:

1. NFKC normalisation, then case folding (``str.casefold``).
2. Word runs are maximal runs of letters, combining marks and digits (Unicode categories ``L*``,
   ``M*``, ``N*``), so a Hindi or Arabic word is not split at its vowel signs or diacritics.
   Everything else (spaces, punctuation, symbols, ``_``) separates tokens.
3. Runs of scripts written without spaces are turned into character n-grams:
   Han, Hiragana, Katakana and Hangul (CJK) give unigrams and bigrams; Thai, Lao, Khmer and Myanmar
   give bigrams and trigrams (a run of one character gives itself). Runs of other scripts are one
   token each. A word mixing scripts (``ai模型``) is split at the script change.

No stop words and no stemming: both are language specific. With ``chinese="jieba"`` (extra
``cjk``), Han runs are segmented with ``jieba.cut_for_search`` instead of n-grams; Kana and Hangul
keep the n-gram rule.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

# Scripts written without spaces between words (code point ranges).
_HAN = [(0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)]
_KANA_HANGUL = [(0x1100, 0x11FF), (0x3040, 0x30FF), (0x3130, 0x318F), (0x31F0, 0x31FF),
                (0xA960, 0xA97F), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF), (0xFF66, 0xFF9F)]
_SOUTHEAST_ASIAN = [(0x0E00, 0x0E7F), (0x0E80, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF),
                    (0x19E0, 0x19FF), (0xAA60, 0xAA7F)]

ChineseMode = Literal["ngram", "jieba"]


def _ranges_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" if a != b else re.escape(chr(a))
                   for a, b in ranges)


def _in(ranges: list[tuple[int, int]], cp: int) -> bool:
    return any(a <= cp <= b for a, b in ranges)


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(other-script word runs, CJK runs, south-east Asian runs); built once, on first use."""
    special = _HAN + _KANA_HANGUL + _SOUTHEAST_ASIAN
    word_ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(sys.maxunicode + 1):
        ok = unicodedata.category(chr(cp))[0] in "LMN" and not (
            0x0E00 <= cp <= 0x3134F and _in(special, cp)
        )
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            word_ranges.append((start, cp - 1))
            start = None
    if start is not None:
        word_ranges.append((start, sys.maxunicode))
    cjk = _ranges_class(_HAN + _KANA_HANGUL)
    sea = _ranges_class(_SOUTHEAST_ASIAN)
    token = re.compile(f"(?P<cjk>[{cjk}]+)|(?P<sea>[{sea}]+)|(?P<word>[{_ranges_class(word_ranges)}]+)")
    han = re.compile(f"[{_ranges_class(_HAN)}]+")
    return token, han, re.compile(f"[{sea}]")


def ngrams(run: str, sizes: tuple[int, ...]) -> list[str]:
    """Character n-grams of ``run`` for each size (a run shorter than all sizes gives itself)."""
    out = [run[i : i + n] for n in sizes for i in range(len(run) - n + 1)]
    return out or [run]


def _jieba_cut(run: str) -> list[str]:
    try:
        import jieba
    except ImportError as exc:
        from jinavdr.errors import MissingDependencyError

        raise MissingDependencyError("tokenizer 'jieba' for Chinese", "cjk", "jieba") from exc
    return [w for w in jieba.cut_for_search(run) if w.strip()]


def _cjk_tokens(run: str, chinese: ChineseMode) -> list[str]:
    if chinese == "ngram":
        return ngrams(run, (1, 2))
    _, han, _ = _patterns()
    out: list[str] = []
    pos = 0
    for m in han.finditer(run):
        if m.start() > pos:
            out += ngrams(run[pos : m.start()], (1, 2))
        out += _jieba_cut(m.group())
        pos = m.end()
    if pos < len(run):
        out += ngrams(run[pos:], (1, 2))
    return out


def tokenize(text: str | None, *, chinese: ChineseMode = "ngram") -> list[str]:
    """Tokens of ``text`` for lexical matching (see the module docstring); ``None`` -> ``[]``."""
    if not text:
        return []
    token_re, _, _ = _patterns()
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for m in token_re.finditer(text):
        kind = m.lastgroup
        run = m.group()
        if kind == "word":
            out.append(run)
        elif kind == "cjk":
            out += _cjk_tokens(run, chinese)
        else:
            out += ngrams(run, (2, 3))
    return out


# --------------------------------------------------------------------------------------------------
# The paper's BM25 tokenisation (jina-vdr's BM25Retriever.preprocess_text), profile ``paper``
# --------------------------------------------------------------------------------------------------

#: the nltk data packages jina-vdr's tokenisation reads
NLTK_DATA = ("punkt_tab", "stopwords")


def english_word_tokens(
    text: str | None, word_tokenize: Callable[[str], list[str]], stopwords: frozenset[str]
) -> list[str]:
    """jina-vdr's BM25 tokens: NLTK ``word_tokenize`` on the text as it is, keep the tokens for which
    ``str.isalnum()`` holds and whose lower case is not an English stopword, lower-cased. Every
    language goes through this English pipeline (so CJK runs are single tokens). No text: no token."""
    if not text:
        return []
    return [w.lower() for w in word_tokenize(text) if w.isalnum() and w.lower() not in stopwords]


def nltk_english() -> tuple[Callable[[str], list[str]], frozenset[str], str]:
    """NLTK's ``word_tokenize`` and English stopwords, and a description of them for the settings.

    Needs the ``nltk`` package (extra ``bm25-paper``) and its ``punkt_tab`` and ``stopwords`` data.
    """
    try:
        import nltk
        from nltk.corpus import stopwords
        from nltk.tokenize import word_tokenize
    except ImportError as exc:
        from jinavdr.errors import MissingDependencyError

        raise MissingDependencyError("bm25 tokenizer 'nltk-english' (profile paper)", "bm25-paper", "nltk") from exc
    try:
        words = frozenset(stopwords.words("english"))
        word_tokenize("probe.")
    except LookupError:
        from jinavdr.errors import JinaVDRError

        raise JinaVDRError(
            "bm25 tokenizer 'nltk-english' (profile paper) tokenises as jina-vdr does, with NLTK's "
            f"word_tokenize and English stopwords, but NLTK's data is not installed: run "
            f"`python -m nltk.downloader {' '.join(NLTK_DATA)}` (or point NLTK_DATA at a folder holding it)"
        ) from None
    import hashlib

    digest = hashlib.sha256("\n".join(sorted(words)).encode()).hexdigest()[:12]
    return word_tokenize, words, f"nltk {nltk.__version__} word_tokenize; english stopwords ({len(words)}, sha256 {digest})"
