#!/usr/bin/env python
"""Generate the offline sample collection ``sample`` shipped in ``jinavdr/assets/sample/``.

The collection is fully synthetic: every name, number and sentence is invented here from a fixed
seed, rendered to page images, and read back with Tesseract OCR to fill ``text_description``. It uses
the Hugging Face BEIR layout of the Jina-VDR ``*_beir`` copies, one folder per dataset::

    <out>/<dataset>/<subset>/{queries,corpus,qrels}/test-00000-of-00001.parquet

so ``datasets.load_dataset(f"{out}/{dataset}", data_dir=f"{subset}/queries", split="test")`` reads
it (and ``/corpus``, ``/qrels``). ``subset`` is ``default`` for single-language datasets, else the
language code (Japanese is ``jp``, as in the Jina-VDR data).

Requirements
------------
Debian packages (fonts and OCR)::

    apt-get install -y fonts-noto-core fonts-noto-cjk fonts-dejavu-core \
        tesseract-ocr tesseract-ocr-ara tesseract-ocr-chi-sim tesseract-ocr-jpn \
        tesseract-ocr-rus tesseract-ocr-deu

Python: pillow built with libraqm (Arabic shaping and right-to-left layout; the PyPI wheels have
it), matplotlib, numpy, datasets, fonttools (a matplotlib dependency; used to check glyph coverage).

Usage::

    python scripts/make_sample.py                 # writes jinavdr/assets/sample/
    python scripts/make_sample.py --out /tmp/s    # elsewhere
    python scripts/make_sample.py --no-ocr        # no Tesseract: source text as text_description

The output is deterministic for a given set of fonts, Pillow/matplotlib and Tesseract versions (the
seed is fixed; OCR runs in a process pool but results are collected in page order).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20250611
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "jinavdr" / "assets" / "sample"
PARQUET_NAME = "test-00000-of-00001.parquet"
FONT_DIRS = [Path(p) for p in os.environ.get("JINAVDR_FONT_DIRS", "").split(os.pathsep) if p] + [
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".fonts",
]

# --------------------------------------------------------------------------------------------------
# Fonts
# --------------------------------------------------------------------------------------------------

FONT_FILES = {
    "sans": ("NotoSans-Regular.ttf", 0),
    "sans-bold": ("NotoSans-Bold.ttf", 0),
    "serif": ("NotoSerif-Regular.ttf", 0),
    "serif-bold": ("NotoSerif-Bold.ttf", 0),
    "serif-italic": ("NotoSerif-Italic.ttf", 0),
    "arabic": ("NotoNaskhArabic-Regular.ttf", 0),
    "arabic-bold": ("NotoNaskhArabic-Bold.ttf", 0),
    # Noto Sans CJK collection: face 0 is JP, face 2 is SC.
    "jp": ("NotoSansCJK-Regular.ttc", 0),
    "jp-bold": ("NotoSansCJK-Bold.ttc", 0),
    "zh": ("NotoSansCJK-Regular.ttc", 2),
    "zh-bold": ("NotoSansCJK-Bold.ttc", 2),
}


def _find_font_file(name: str) -> Path:
    for base in FONT_DIRS:
        if base.is_dir():
            hits = sorted(base.rglob(name))
            if hits:
                return hits[0]
    raise SystemExit(
        f"font {name} not found under {', '.join(map(str, FONT_DIRS))}. Install the Debian packages "
        "fonts-noto-core fonts-noto-cjk (or point JINAVDR_FONT_DIRS at a folder holding the Noto fonts)."
    )


class Font:
    """A PIL font plus its character map, so that missing glyphs fail loudly instead of drawing boxes."""

    _cmaps: dict[tuple[str, int], set[int]] = {}

    def __init__(self, key: str, size: int):
        from PIL import ImageFont

        filename, index = FONT_FILES[key]
        path = _find_font_file(filename)
        self.key = key
        self.size = size
        self.pil = ImageFont.truetype(str(path), size, index=index)
        cache_key = (str(path), index)
        if cache_key not in Font._cmaps:
            from fontTools.ttLib import TTFont

            tt = TTFont(str(path), fontNumber=index, lazy=True)
            Font._cmaps[cache_key] = set(tt.getBestCmap())
        self.cmap = Font._cmaps[cache_key]

    def check(self, text: str) -> None:
        missing = sorted({ch for ch in text if not ch.isspace() and ord(ch) not in self.cmap})
        if missing:
            raise ValueError(f"font {self.key} has no glyph for {missing!r} (in {text!r})")

    def length(self, text: str, rtl: bool = False) -> float:
        if rtl:
            return self.pil.getlength(text, direction="rtl", language="ar")
        return self.pil.getlength(text)


_FONT_CACHE: dict[tuple[str, int], Font] = {}


def font(key: str, size: int) -> Font:
    if (key, size) not in _FONT_CACHE:
        _FONT_CACHE[(key, size)] = Font(key, size)
    return _FONT_CACHE[(key, size)]


# --------------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------------

CJK_RE = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


class Canvas:
    """A page being drawn; remembers the text it drew (the OCR fallback and the facts' source)."""

    def __init__(self, width: int, height: int, bg: tuple[int, int, int] = (255, 255, 255)):
        from PIL import Image, ImageDraw

        self.img = Image.new("RGB", (width, height), bg)
        self.draw = ImageDraw.Draw(self.img)
        self.width = width
        self.height = height
        self.lines: list[str] = []

    def text(
        self,
        xy: tuple[float, float],
        s: str,
        fnt: Font,
        fill: tuple[int, int, int] = (20, 20, 20),
        anchor: str = "la",
        rtl: bool = False,
    ) -> None:
        fnt.check(s)
        kwargs = {"direction": "rtl", "language": "ar"} if rtl else {}
        self.draw.text(xy, s, font=fnt.pil, fill=fill, anchor=anchor, **kwargs)
        self.lines.append(s)

    def rect(self, box: Sequence[float], fill=None, outline=None, width: int = 1) -> None:
        self.draw.rectangle(list(box), fill=fill, outline=outline, width=width)

    def line(self, points: Sequence[float], fill=(0, 0, 0), width: int = 1) -> None:
        self.draw.line(list(points), fill=fill, width=width)

    def source_text(self) -> str:
        return "\n".join(self.lines)


def wrap(text: str, fnt: Font, width: float, rtl: bool = False) -> list[str]:
    """Greedy line breaking by pixel width; CJK text breaks between characters."""
    if CJK_RE.search(text):
        units, joiner = list(text), ""
    else:
        units, joiner = text.split(), " "
    lines: list[str] = []
    current = ""
    for unit in units:
        candidate = unit if not current else current + joiner + unit
        if current and fnt.length(candidate, rtl) > width:
            lines.append(current)
            current = unit.lstrip() if joiner == "" else unit
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def paragraph(
    cv: Canvas,
    x: float,
    y: float,
    width: float,
    text: str,
    fnt: Font,
    leading: float,
    rtl: bool = False,
    **kw,
) -> float:
    """Draw a wrapped paragraph starting at (x, y); with rtl, x is the right edge. Returns the next y."""
    for ln in wrap(text, fnt, width, rtl):
        cv.text((x, y), ln, fnt, anchor="ra" if rtl else "la", rtl=rtl, **kw)
        y += leading
    return y


def draw_table(
    cv: Canvas,
    x0: float,
    y0: float,
    col_widths: Sequence[float],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    fnt: Font,
    head_fnt: Font,
    row_h: float,
    head_fill: tuple[int, int, int],
    head_text: tuple[int, int, int] = (255, 255, 255),
    zebra: tuple[int, int, int] | None = (238, 242, 247),
    rtl: bool = False,
) -> float:
    """A simple ruled table. The first column is aligned to the reading start, the others centred.

    With ``rtl`` the columns run from the right edge (``x0`` + total width) to the left. Returns the y
    below the table.
    """
    total = sum(col_widths)
    # Column boxes in reading order.
    boxes: list[tuple[float, float]] = []
    if rtl:
        right = x0 + total
        for w in col_widths:
            boxes.append((right - w, right))
            right -= w
    else:
        left = x0
        for w in col_widths:
            boxes.append((left, left + w))
            left += w
    pad = 8
    head_lines = [wrap(h, head_fnt, w - 2 * pad, rtl) for h, w in zip(header, col_widths, strict=True)]
    n_head = max(len(h) for h in head_lines)
    head_h = row_h + (n_head - 1) * (head_fnt.size + 4)
    cv.rect((x0, y0, x0 + total, y0 + head_h), fill=head_fill)
    for (a, b), lines in zip(boxes, head_lines, strict=True):
        ty = y0 + (head_h - len(lines) * (head_fnt.size + 4)) / 2 + head_fnt.size / 2 + 2
        for ln in lines:
            cv.text(((a + b) / 2, ty), ln, head_fnt, fill=head_text, anchor="mm", rtl=rtl)
            ty += head_fnt.size + 4
    y = y0 + head_h
    for r, row in enumerate(rows):
        if zebra and r % 2 == 1:
            cv.rect((x0, y, x0 + total, y + row_h), fill=zebra)
        for c, ((a, b), cell) in enumerate(zip(boxes, row, strict=True)):
            cy = y + row_h / 2
            if c == 0:
                if rtl:
                    cv.text((b - pad, cy), cell, fnt, anchor="rm", rtl=True)
                else:
                    cv.text((a + pad, cy), cell, fnt, anchor="lm")
            else:
                cv.text(((a + b) / 2, cy), cell, fnt, anchor="mm", rtl=rtl)
        y += row_h
        cv.line((x0, y, x0 + total, y), fill=(200, 205, 212))
    cv.rect((x0, y0, x0 + total, y), outline=(120, 125, 135))
    return y


# --------------------------------------------------------------------------------------------------
# Collection model
# --------------------------------------------------------------------------------------------------


@dataclass
class Page:
    key: str
    image: object  # PIL.Image.Image (RGB)
    source_text: str
    ocr_lang: str
    psm: int = 3
    colors: int = 16


@dataclass
class Query:
    text: str
    rels: dict[str, int]  # page key -> graded relevance


@dataclass
class Subset:
    pages: list[Page] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


@dataclass
class DatasetSpec:
    name: str
    description: str
    domain: str
    document_format: str
    query_format: str
    build: Callable[[random.Random], dict[str, Subset]]


# --------------------------------------------------------------------------------------------------
# Synthetic vocabulary
# --------------------------------------------------------------------------------------------------

# fmt: off
ONSETS = [
    "Ar", "Bel", "Bram", "Cor", "Dal", "Dun", "Es", "Fen", "Gar", "Hal", "Is", "Kel", "Kes", "Lor",
    "Mar", "Nor", "Os", "Pel", "Quen", "Ros", "Sel", "Tor", "Ul", "Var", "Wen", "Yar", "Zel", "Thorn",
    "Ash", "Brin", "Cald", "Elm", "Gris", "Hav", "Lin", "Mor", "Sten", "Tal", "Vel", "Wyn",
]
MIDS = ["", "a", "e", "i", "o", "an", "er", "in", "or", "ul", "ven", "ster"]
ENDS = [
    "by", "dale", "ford", "holt", "mere", "ton", "wick", "stead", "moor", "gate", "ham", "well",
    "brook", "field", "more", "thorpe", "haven", "crest", "burn", "ley",
]
REGION_ENDS = ["ia", "ora", "and", "esh", "ovia", "aria", "enna", "ador", "ulia", "eth"]
FIRST_NAMES = [
    "Anika", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko",
    "Lars", "Mira", "Nils", "Olga", "Pavel", "Rosa", "Sven", "Tomas", "Una", "Viktor", "Wanda",
    "Yusuf", "Zora", "Agnes", "Bastian", "Cyril", "Delia", "Emil", "Freya",
]
LAST_NAMES = [
    "Albrecht", "Brennan", "Castell", "Dorsey", "Eklund", "Falk", "Garrow", "Hartig", "Imber",
    "Jorgensen", "Kovacs", "Lindqvist", "Marlow", "Novak", "Osterhout", "Pryce", "Quist", "Rasmussen",
    "Stroud", "Thorne", "Ulrich", "Vance", "Whitlock", "Yates", "Zeller", "Ashdown", "Blackwood",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
]
# fmt: on


def unique_names(
    rng: random.Random, n: int, make: Callable[[random.Random], str], taken: set[str]
) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        name = make(rng)
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def place_name(rng: random.Random) -> str:
    name = rng.choice(ONSETS) + rng.choice(MIDS) + rng.choice(ENDS)
    return name[0].upper() + name[1:].lower()


def region_name(rng: random.Random) -> str:
    name = rng.choice(ONSETS) + rng.choice(["", "a", "e", "o", "in", "er"]) + rng.choice(REGION_ENDS)
    return name[0].upper() + name[1:].lower()


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def fmt_int(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------------------------------
# Dataset 1: statistics-tables (district statistics bulletins)
# --------------------------------------------------------------------------------------------------


def build_statistics_tables(rng: random.Random) -> dict[str, Subset]:
    taken: set[str] = set()
    n_single, n_double = 44, 8
    regions = unique_names(rng, n_single + n_double, region_name, taken)
    editions: list[tuple[str, int, list[str]]] = []  # (region, year, districts)
    for i, region in enumerate(regions):
        districts = unique_names(rng, 8, place_name, taken)
        if i < n_single:
            editions.append((region, rng.randint(2014, 2023), districts))
        else:
            y = rng.randint(2015, 2020)
            editions.append((region, y, districts))
            editions.append((region, y + 3, districts))
    head = font("sans-bold", 13)
    cell = font("sans", 13)
    title = font("sans-bold", 20)
    body = font("serif", 13)
    small = font("sans", 11)
    sub = Subset()
    facts: dict[tuple[str, int], dict[str, dict[str, int | float]]] = {}
    base_pop = {d: rng.randint(8_000, 420_000) for _, _, ds in editions for d in ds}
    base_area = {d: rng.randint(40, 2_400) for _, _, ds in editions for d in ds}
    for k, (region, year, districts) in enumerate(editions):
        key = f"{region}-{year}"
        cv = Canvas(680, 880)
        cv.rect((0, 0, 680, 46), fill=(24, 56, 99))
        cv.text(
            (30, 23),
            f"Regional Statistics Bulletin {year}",
            font("sans-bold", 15),
            fill=(255, 255, 255),
            anchor="lm",
        )
        cv.text((650, 23), f"No. {rng.randint(10, 99)}/{year}", small, fill=(220, 228, 240), anchor="rm")
        y = paragraph(cv, 30, 70, 620, f"Province of {region}: district indicators, {year}", title, 28)
        y = paragraph(
            cv,
            30,
            y + 8,
            620,
            f"Table {k % 9 + 1}. Key indicators for the {len(districts)} districts of {region} as of 31 December "
            f"{year}. Population and households are register counts; income figures are provisional.",
            body,
            19,
        )
        rows = []
        per = {}
        for d in districts:
            growth = 1 + (year - 2014) * rng.uniform(-0.004, 0.012)
            pop = int(base_pop[d] * growth)
            hh = int(pop / rng.uniform(1.9, 2.7))
            unemp = round(rng.uniform(2.1, 14.8), 1)
            income = rng.randint(180, 520) * 100
            per[d] = {
                "population": pop,
                "area": base_area[d],
                "households": hh,
                "unemployment": unemp,
                "income": income,
            }
            rows.append(
                [d, fmt_int(pop), fmt_int(base_area[d]), fmt_int(hh), f"{unemp:.1f}", fmt_int(income)]
            )
        facts[(region, year)] = per
        y = draw_table(
            cv,
            30,
            y + 14,
            [130, 95, 85, 100, 105, 105],
            ["District", "Population", "Area (km²)", "Households", "Unemployment (%)", "Median income (EUR)"],
            rows,
            cell,
            head,
            30,
            head_fill=(24, 56, 99),
        )
        notes = [
            f"Notes: District boundaries follow the {year - rng.randint(2, 6)} administrative reform.",
            "Unemployment is the registered rate among residents aged 15 to 64.",
            f"Median income refers to gross annual household income in {year}.",
        ]
        y += 18
        for ln in notes:
            y = paragraph(cv, 30, y, 620, ln, font("serif", 12), 17)
        cv.line((30, 840, 650, 840), fill=(150, 150, 150))
        cv.text((30, 850), f"Source: {region} Statistical Office", small, fill=(90, 90, 90))
        cv.text((650, 850), f"page {rng.randint(3, 40)}", small, fill=(90, 90, 90), anchor="ra")
        sub.pages.append(Page(key, cv.img, cv.source_text(), "eng", psm=6, colors=6))

    # Queries: most single editions get one; the two-year regions get a change query over both pages.
    singles = [e for e in editions[:n_single]]
    queried = rng.sample(range(n_single), 36)
    for i in sorted(queried):
        region, year, districts = singles[i]
        key = f"{region}-{year}"
        d = rng.choice(districts)
        kind = rng.choice(["population", "area", "households", "unemployment", "max_income", "min_unemp"])
        if kind == "population":
            q = f"What was the population of {d} district in {year}?"
        elif kind == "area":
            q = f"How large is {d} in {region} in square kilometres?"
        elif kind == "households":
            q = f"How many households were registered in {d} at the end of {year}?"
        elif kind == "unemployment":
            q = f"What unemployment rate did {d} report in {year}?"
        elif kind == "max_income":
            q = f"Which district of {region} had the highest median income in {year}?"
        else:
            q = f"Which district in the province of {region} had the lowest unemployment in {year}?"
        sub.queries.append(Query(q, {key: 1}))
    doubles = editions[n_single:]
    for j in range(0, len(doubles), 2):
        (region, y1, districts), (_, y2, _) = doubles[j], doubles[j + 1]
        d = rng.choice(districts)
        sub.queries.append(
            Query(
                f"How did the population of {d} change between {y1} and {y2}?",
                {f"{region}-{y1}": 1, f"{region}-{y2}": 1},
            )
        )
        d2 = rng.choice([x for x in districts if x != d])
        yq = rng.choice([y1, y2])
        sub.queries.append(Query(f"What was the median income in {d2} in {yq}?", {f"{region}-{yq}": 1}))
    return {"default": sub}


# --------------------------------------------------------------------------------------------------
# Dataset 2: company-charts (matplotlib bar and line charts)
# --------------------------------------------------------------------------------------------------

# fmt: off
INDUSTRIES = ["Foods", "Logistics", "Textiles", "Robotics", "Pharma", "Energy", "Ceramics", "Shipping", "Software", "Mining", "Optics", "Brewing"]
CATEGORIES = ["bicycle", "coffee machine", "running shoe", "e-reader", "garden tool", "headphone", "frozen pizza", "mattress", "sunscreen", "pet food"]
SHORT_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# fmt: on


def _figure_to_image(fig) -> object:
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _chart_text(title: str, labels: Sequence[str], values: Sequence[str], axis: str) -> str:
    return "\n".join([title, axis, " ".join(labels), " ".join(values)])


def build_company_charts(rng: random.Random) -> dict[str, Subset]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"font.family": "DejaVu Sans", "font.size": 10, "svg.hashsalt": "jinavdr", "axes.titlesize": 12}
    )
    taken: set[str] = set()
    sub = Subset()
    palette = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b"]

    # Revenue bar charts; some companies also have a head-count line chart.
    companies = [
        f"{n} {ind}"
        for n, ind in zip(
            unique_names(rng, 14, place_name, taken), rng.sample(INDUSTRIES * 2, 14), strict=True
        )
    ]
    revenue: dict[str, dict[int, float]] = {}
    for c_i, company in enumerate(companies):
        y0 = rng.randint(2012, 2016)
        years = list(range(y0, y0 + 8))
        v = rng.uniform(40, 900)
        vals = []
        for _ in years:
            v *= rng.uniform(0.9, 1.22)
            vals.append(round(v, 1))
        revenue[company] = dict(zip(years, vals, strict=True))
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        bars = ax.bar([str(y) for y in years], vals, color=palette[c_i % len(palette)])
        ax.bar_label(bars, labels=[f"{x:.1f}" for x in vals], fontsize=8.5, padding=2)
        title = f"{company}: annual revenue {years[0]}-{years[-1]}"
        ax.set_title(title)
        ax.set_ylabel("Revenue (million EUR)")
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_ylim(0, max(vals) * 1.15)
        fig.tight_layout()
        src = _chart_text(title, [str(y) for y in years], [f"{x:.1f}" for x in vals], "Revenue (million EUR)")
        sub.pages.append(Page(f"rev-{company}", _figure_to_image(fig), src, "eng", psm=11, colors=12))
    headcount: dict[str, dict[int, int]] = {}
    for company in companies[:8]:
        years = sorted(revenue[company])
        h = rng.randint(120, 6000)
        vals = []
        for _ in years:
            h = int(h * rng.uniform(0.93, 1.15))
            vals.append(h)
        headcount[company] = dict(zip(years, vals, strict=True))
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        ax.plot([str(y) for y in years], vals, marker="o", color="#444444")
        for xi, val in enumerate(vals):
            ax.annotate(
                fmt_int(val), (xi, val), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8.5
            )
        title = f"{company}: number of employees {years[0]}-{years[-1]}"
        ax.set_title(title)
        ax.set_ylabel("Employees (year end)")
        ax.set_ylim(min(vals) * 0.85, max(vals) * 1.12)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        src = _chart_text(title, [str(y) for y in years], [fmt_int(x) for x in vals], "Employees (year end)")
        sub.pages.append(Page(f"emp-{company}", _figure_to_image(fig), src, "eng", psm=11, colors=12))

    # City temperature line charts.
    cities = unique_names(rng, 18, place_name, taken)
    temps: dict[str, tuple[int, list[float]]] = {}
    for city in cities:
        year = rng.randint(2010, 2023)
        base, amp = rng.uniform(-2, 18), rng.uniform(4, 12)
        peak = rng.choice([6, 7, 0, 1])  # July/August in the north, January/February in the south
        vals = [
            round(base + amp * math.cos(2 * math.pi * (m - peak) / 12) + rng.uniform(-1.0, 1.0), 1)
            for m in range(12)
        ]
        temps[city] = (year, vals)
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        ax.plot(SHORT_MONTHS, vals, marker="s", color=rng.choice(palette))
        for xi, val in enumerate(vals):
            ax.annotate(
                f"{val:.1f}", (xi, val), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8
            )
        title = f"Average monthly temperature in {city}, {year}"
        ax.set_title(title)
        ax.set_ylabel("Temperature (°C)")
        ax.set_ylim(min(vals) - 3, max(vals) + 3)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        src = _chart_text(title, SHORT_MONTHS, [f"{v:.1f}" for v in vals], "Temperature (°C)")
        sub.pages.append(Page(f"temp-{city}", _figure_to_image(fig), src, "eng", psm=11, colors=12))

    # Market share horizontal bar charts.
    markets: list[tuple[str, str, int, list[tuple[str, float]]]] = []
    regions = unique_names(rng, 20, region_name, taken)
    for r_i, region in enumerate(regions):
        category = CATEGORIES[r_i % len(CATEGORIES)]
        year = rng.randint(2015, 2024)
        brands = unique_names(
            rng,
            6,
            lambda g: g.choice(ONSETS) + g.choice(["ix", "ora", "eon", "umo", "ava", "ello", "ant"]),
            taken,
        )
        raw = [rng.uniform(3, 30) for _ in brands]
        total = sum(raw) / rng.uniform(0.82, 0.95)
        shares = sorted(
            ((b, round(100 * x / total, 1)) for b, x in zip(brands, raw, strict=True)), key=lambda t: t[1]
        )
        markets.append((region, category, year, shares))
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        bars = ax.barh([b for b, _ in shares], [s for _, s in shares], color=palette[r_i % len(palette)])
        ax.bar_label(bars, labels=[f"{s:.1f}%" for _, s in shares], fontsize=9, padding=3)
        title = f"Market share of {category} brands in {region}, {year}"
        ax.set_title(title)
        ax.set_xlabel("Share of unit sales (%)")
        ax.set_xlim(0, max(s for _, s in shares) * 1.2)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        src = _chart_text(
            title, [b for b, _ in shares], [f"{s:.1f}%" for _, s in shares], "Share of unit sales (%)"
        )
        sub.pages.append(Page(f"share-{region}", _figure_to_image(fig), src, "eng", psm=11, colors=12))

    # Queries.
    for company in companies[8:] + companies[:4]:  # revenue questions
        year = rng.choice(sorted(revenue[company]))
        q = rng.choice(
            [
                f"What was the revenue of {company} in {year}?",
                f"How much revenue did {company} report for {year}?",
            ]
        )
        sub.queries.append(Query(q, {f"rev-{company}": 1}))
    for company in companies[4:8]:  # head-count questions
        year = rng.choice(sorted(headcount[company]))
        sub.queries.append(
            Query(f"How many employees did {company} have at the end of {year}?", {f"emp-{company}": 1})
        )
    for company in companies[:6]:  # answers on two charts
        year = rng.choice(sorted(headcount[company]))
        sub.queries.append(
            Query(
                f"What were the revenue and the number of employees of {company} in {year}?",
                {f"rev-{company}": 1, f"emp-{company}": 1},
            )
        )
    for city in cities[:13]:
        year, vals = temps[city]
        if rng.random() < 0.5:
            m = rng.randrange(12)
            q = f"What was the average temperature in {city} in {MONTHS[m]} {year}?"
        else:
            q = rng.choice(
                [
                    f"Which month was the warmest in {city} in {year}?",
                    f"Which was the coldest month of {year} in {city}?",
                ]
            )
        sub.queries.append(Query(q, {f"temp-{city}": 1}))
    for region, category, year, shares in markets[:14]:
        brand, _ = rng.choice(shares)
        q = rng.choice(
            [
                f"What share of the {category} market in {region} did {brand} hold in {year}?",
                f"Which {category} brand led the market in {region} in {year}?",
            ]
        )
        sub.queries.append(Query(q, {f"share-{region}": 1}))
    return {"default": sub}


# --------------------------------------------------------------------------------------------------
# Dataset 3: agency-reports (text-heavy three-page annual reports, graded multi-page qrels)
# --------------------------------------------------------------------------------------------------

ORG_TYPES = [
    "Water Authority",
    "Regional Transit Board",
    "Energy Cooperative",
    "Port Authority",
    "Public Library Trust",
    "Health Board",
    "Housing Association",
    "Forestry Commission",
    "Waste Management Agency",
]
FACILITIES = [
    "Treatment Plant",
    "Bridge Renovation",
    "Solar Array",
    "Depot Expansion",
    "Pumping Station",
    "Digital Archive",
    "Community Clinic",
    "Ferry Terminal",
    "Recycling Centre",
    "Tram Extension",
    "Reservoir Upgrade",
    "Data Centre",
    "Flood Barrier",
    "Visitor Centre",
    "Heat Network",
    "Cycle Bridge",
]
CONTRACTOR_ENDS = ["Construction", "Engineering", "Builders", "Infrastructure", "Civil Works", "& Partners"]

FILLER = [
    "The board met {n1} times during the year and approved {n2} new operating policies.",
    "Staff turnover fell to {p1} percent, the lowest level recorded since the current reporting format was introduced.",
    "An independent audit of the accounts was completed without qualifications in the autumn.",
    "Customer satisfaction surveys were sent to {n3} households, of which {p2} percent responded.",
    "The {org} continued to publish its meeting minutes and procurement notices online.",
    "Training hours per employee rose to {n4}, reflecting the new safety certification programme.",
    "Energy use in administrative buildings was reduced by {p3} percent compared with the previous year.",
    "Several smaller maintenance contracts were retendered to widen the pool of local suppliers.",
    "A revised complaints procedure came into force, and the average response time dropped to {n5} days.",
    "The {org} also reviewed its risk register and updated the emergency response plan.",
    "Volunteers contributed an estimated {n6} hours to community programmes across the region.",
    "Capital spending remained within the limits set by the multi-year investment framework.",
    "Partnerships with two universities produced joint studies on long-term demand and resilience.",
    "Procurement rules were simplified for purchases below the statutory threshold.",
    "The annual open day attracted about {n7} visitors despite poor weather.",
    "Insurance premiums rose moderately, mainly because of higher replacement values.",
    "Sick leave averaged {n8} days per employee, in line with the sector benchmark.",
    "Work on the new asset management system is expected to continue for another two years.",
    "The {org} thanks its staff, partners and residents for their continued support.",
    "Detailed financial statements are published in a separate volume of this report.",
]


def _fill(rng: random.Random, org: str, k: int, used: set[int]) -> list[str]:
    """k filler sentences, none of which was used before on the same page (tracked in ``used``)."""
    nums = {
        "n1": rng.randint(6, 14),
        "n2": rng.randint(2, 9),
        "n3": fmt_int(rng.randint(2, 40) * 500),
        "n4": rng.randint(12, 40),
        "n5": rng.randint(4, 21),
        "n6": fmt_int(rng.randint(3, 90) * 100),
        "n7": fmt_int(rng.randint(8, 60) * 100),
        "n8": rng.randint(5, 12),
        "p1": rng.randint(3, 11),
        "p2": rng.randint(18, 64),
        "p3": rng.randint(2, 15),
        "org": org,
    }
    picks = rng.sample([i for i in range(len(FILLER)) if i not in used], k)
    used.update(picks)
    return [FILLER[i].format(**nums) for i in picks]


def _report_page(
    org: str, year: int, num: int, heading: str, paras: list[str], first: bool = False
) -> Canvas:
    """One A4-like report page; paragraphs starting with "## " are sub-headings."""
    W, H, X, TW, LEAD = 640, 830, 56, 528, 19
    h1, h2 = font("sans-bold", 21), font("sans-bold", 15)
    body, small = font("serif", 13), font("sans", 11)
    cv = Canvas(W, H)
    cv.text((X, 36), f"{org} | Annual Report {year}", small, fill=(110, 110, 110))
    cv.line((X, 56, X + TW, 56), fill=(170, 170, 170))
    y = 74
    if first:
        y = paragraph(cv, X, y, TW, org, h1, 30)
        cv.text((X, y), f"Annual Report {year}", font("sans", 15), fill=(70, 70, 70))
        y += 36
    y = paragraph(cv, X, y, TW, heading, h2, 24) + 6
    for p in paras:
        if p.startswith("## "):
            y = paragraph(cv, X, y + 8, TW, p[3:], h2, 24) + 6
        else:
            y = paragraph(cv, X, y, TW, p, body, LEAD) + 10
    cv.text((X + TW / 2, H - 34), f"- {num} -", small, fill=(110, 110, 110), anchor="ma")
    return cv


def _project_paras(rng: random.Random, org: str, p: dict, used: set[int]) -> list[str]:
    """The three fact paragraphs of one project, interleaved with filler."""
    facts = [
        f"Construction of the {p['name']} began in {p['start']}. The main contract was awarded to "
        f"{p['contractor']} after an open tender.",
        f"The project was led by chief engineer {p['engineer']}. The works took {p['months']} months and the "
        f"{p['name']} was completed in {p['end']}, creating about {p['jobs']} jobs during construction.",
        f"The total cost of the {p['name']} was {p['cost']} million euros, funded from the capital budget "
        "and a regional development grant.",
    ]
    filler = _fill(rng, org, 7, used)
    return [facts[0], " ".join(filler[:3]), facts[1], " ".join(filler[3:5]), facts[2], " ".join(filler[5:])]


def build_agency_reports(rng: random.Random) -> dict[str, Subset]:
    taken: set[str] = set()
    sub = Subset()
    org_names = unique_names(rng, 18, place_name, taken)
    for r_i, oname in enumerate(org_names):
        org = f"{oname} {ORG_TYPES[r_i % len(ORG_TYPES)]}"
        year = rng.randint(2016, 2024)
        facs = rng.sample(FACILITIES, 2)
        sites = unique_names(rng, 2, place_name, taken)
        projects = []
        for fac, site in zip(facs, sites, strict=True):
            start_m, start_y = rng.randrange(12), year - rng.randint(1, 3)
            dur = rng.randint(14, 34)
            end_total = start_y * 12 + start_m + dur
            projects.append(
                {
                    "name": f"{site} {fac}",
                    "start": f"{MONTHS[start_m]} {start_y}",
                    "end": f"{MONTHS[end_total % 12]} {end_total // 12}",
                    "months": dur,
                    "cost": round(rng.uniform(3, 140), 1),
                    "contractor": f"{rng.choice(LAST_NAMES)} {rng.choice(CONTRACTOR_ENDS)}",
                    "engineer": person_name(rng),
                    "jobs": rng.randint(20, 400),
                }
            )
        staff, budget, chair = rng.randint(60, 2400), round(rng.uniform(8, 600), 1), person_name(rng)
        p1, p2 = projects
        keys = [f"{org}-p{i}" for i in (1, 2, 3)]

        used: set[int] = set()
        overview = [
            f"The {org} serves the communities of the {rng.choice(['northern', 'southern', 'eastern', 'western', 'central'])} "
            f"region. At the end of {year} it employed {fmt_int(staff)} staff and managed an operating budget of "
            f"{budget} million euros. The board is chaired by {chair}.",
            " ".join(_fill(rng, org, 4, used)),
            f"Highlights of the year included progress on the {p1['name']} and the {p2['name']}, which are "
            "described in sections 2 and 3 of this report.",
            " ".join(_fill(rng, org, 5, used)),
        ]
        used3: set[int] = set()
        page3 = _project_paras(rng, org, p2, used3)[:4] + [
            "## 4. Outlook",
            " ".join(_fill(rng, org, 3, used3)),
        ]
        cvs = [
            _report_page(org, year, 1, "1. Overview", overview, first=True),
            _report_page(org, year, 2, f"2. {p1['name']}", _project_paras(rng, org, p1, set())),
            _report_page(org, year, 3, f"3. {p2['name']}", page3),
        ]
        for key, cv in zip(keys, cvs, strict=True):
            sub.pages.append(Page(key, cv.img.convert("L"), cv.source_text(), "eng", psm=3, colors=4))

        def project_q(p: dict) -> str:
            return rng.choice(
                [
                    f"When did construction of the {p['name']} start?",
                    f"Which company was the main contractor for the {p['name']}?",
                    f"Who was the chief engineer of the {p['name']} project?",
                    f"When was the {p['name']} completed?",
                    f"How many months did the works on the {p['name']} take?",
                ]
            )

        sub.queries.append(Query(project_q(p1), {keys[1]: 2, keys[0]: 1}))
        sub.queries.append(Query(project_q(p2), {keys[2]: 2, keys[0]: 1}))
        if r_i % 2 == 0:
            # The answer needs both project pages (each start date is on its own page).
            sub.queries.append(
                Query(
                    f"When did construction start on the {p1['name']} and on the {p2['name']}?",
                    {keys[1]: 2, keys[2]: 2, keys[0]: 1},
                )
            )
        else:
            q = rng.choice(
                [f"How many staff did the {org} employ in {year}?", f"Who chairs the board of the {org}?"]
            )
            sub.queries.append(Query(q, {keys[0]: 2}))
    return {"default": sub}


# --------------------------------------------------------------------------------------------------
# Dataset 4: botany-slides (lecture slides about invented plant species)
# --------------------------------------------------------------------------------------------------

# fmt: off
SPECIES_PREFIX = ["Silver", "Amber", "Frost", "Dusk", "Copper", "Moss", "Ember", "Pale", "Velvet", "Storm", "Ivory", "Rust"]
SPECIES_PART = ["crest", "leaf", "bell", "thorn", "wing", "spur", "veil", "crown"]
SPECIES_TYPE = ["fern", "orchid", "sedge", "lily", "heather", "saxifrage", "gentian", "campion"]
LATIN_GENUS = {
    "fern": "Pteridella", "orchid": "Orchidula", "sedge": "Caricella", "lily": "Liliopsis", "heather": "Ericastrum",
    "saxifrage": "Saxifragella", "gentian": "Gentianopsis", "campion": "Silenella",
}
LATIN_EPITHET = ["argentea", "ambrosia", "glacialis", "vespertina", "cuprea", "muscosa", "ignea", "pallida", "velutina",
                 "procellaris", "eburnea", "ferruginea", "montana", "borealis", "palustris", "saxatilis", "littoralis",
                 "minor", "elegans", "hirsuta"]
HABITATS = [
    "damp limestone cliffs", "coastal dunes", "alpine meadows above 1,800 m", "raised peat bogs", "shaded riverbanks",
    "dry pine forests", "salt marshes", "volcanic scree slopes", "wet beech woodland", "chalk grassland",
]
FLOWER_COLOURS = ["white", "pale yellow", "deep violet", "pink", "crimson", "sky blue", "greenish", "orange"]
STATUSES = ["Least concern", "Near threatened", "Vulnerable", "Endangered"]
# fmt: on


def build_botany_slides(rng: random.Random) -> dict[str, Subset]:
    sub = Subset()
    W, H = 720, 405
    combos = [(a, b, c) for a in SPECIES_PREFIX for b in SPECIES_PART for c in SPECIES_TYPE]
    chosen = rng.sample(combos, 32)
    epithets = rng.sample(LATIN_EPITHET, len(LATIN_EPITHET))
    used_latin: set[str] = set()
    courses = ["Field Botany 201", "Plants of Wet Habitats", "Mountain Flora", "Coastal Ecology"]
    accent = [(46, 105, 72), (40, 80, 140), (120, 60, 110), (150, 85, 30)]

    def frame(course_i: int, lecture: int, title: str) -> Canvas:
        cv = Canvas(W, H, bg=(250, 250, 246))
        cv.rect((0, 0, W, 8), fill=accent[course_i])
        cv.text((36, 26), f"{courses[course_i]} - Lecture {lecture}", font("sans", 12), fill=(100, 100, 100))
        cv.text((36, 50), title, font("sans-bold", 26), fill=accent[course_i])
        return cv

    facts = []
    for s_i, (a, b, c) in enumerate(chosen):
        common = f"{a}-{b} {c}" if a[-1] == b[0] else f"{a}{b} {c}"  # "Moss-spur", not "Mossspur"
        latin = f"{LATIN_GENUS[c]} {epithets[s_i % len(epithets)]}"
        if latin in used_latin:
            latin = f"{LATIN_GENUS[c]} {epithets[(s_i + 7) % len(epithets)]}"
        used_latin.add(latin)
        lo = rng.randint(3, 60)
        f = {
            "common": common,
            "latin": latin,
            "habitat": rng.choice(HABITATS),
            "height": f"{lo}-{lo + rng.randint(5, 40)} cm",
            "colour": rng.choice(FLOWER_COLOURS),
            "m1": rng.randint(2, 7),
            "year": rng.randint(1780, 1990),
            "by": person_name(rng),
            "status": rng.choice(STATUSES),
        }
        f["m2"] = f["m1"] + rng.randint(1, 3)
        facts.append(f)
        ci = s_i % len(courses)
        cv = frame(ci, 2 + s_i // 8, common)
        cv.text((36, 92), latin, font("serif-italic", 17), fill=(70, 70, 70))
        bullets = [
            f"Habitat: {f['habitat']}",
            f"Typical height: {f['height']}",
            f"Flowers: {f['colour']}, {MONTHS[f['m1']]} to {MONTHS[f['m2']]}",
            f"First described in {f['year']} by {f['by']}",
            f"Conservation status: {f['status']}",
        ]
        y = 140
        for bl in bullets:
            cv.draw.ellipse((40, y + 7, 48, y + 15), fill=accent[ci])
            cv.text((60, y), bl, font("sans", 17))
            y += 38
        # A "leaf" illustration on the right.
        cx, cy = 600, 250
        cv.draw.ellipse(
            (cx - 55, cy - 90, cx + 55, cy + 90), fill=tuple(min(255, v + 90) for v in accent[ci])
        )
        cv.line((cx, cy - 90, cx, cy + 110), fill=accent[ci], width=3)
        sub.pages.append(Page(f"sp-{s_i}", cv.img, cv.source_text(), "eng", psm=3, colors=12))
    # Distractor slides: outlines and key terms.
    for d_i in range(8):
        ci = d_i % len(courses)
        if d_i % 2 == 0:
            cv = frame(ci, 2 + d_i, "Outline")
            items = [
                f"{i + 1}. {t}"
                for i, t in enumerate(
                    rng.sample(
                        [
                            "Recap of last week",
                            "Field identification keys",
                            "Soil and water chemistry",
                            "Pollination strategies",
                            "Seed dispersal",
                            "Threats and conservation",
                            "Herbarium practice",
                            "Excursion planning",
                        ],
                        5,
                    )
                )
            ]
        else:
            cv = frame(ci, 2 + d_i, "Key terms")
            items = rng.sample(
                [
                    "Rhizome: horizontal underground stem",
                    "Calcicole: plant of lime-rich soils",
                    "Perennial: lives for more than two years",
                    "Sorus: cluster of spore cases",
                    "Endemic: restricted to one area",
                    "Pioneer species: first to colonise bare ground",
                    "Mycorrhiza: root-fungus partnership",
                ],
                5,
            )
        y = 110
        for it in items:
            cv.text((48, y), it, font("sans", 18))
            y += 44
        sub.pages.append(Page(f"extra-{d_i}", cv.img, cv.source_text(), "eng", psm=3, colors=12))
    # Queries for 30 of the 32 species slides.
    for s_i in rng.sample(range(len(facts)), 30):
        f = facts[s_i]
        q = rng.choice(
            [
                f"How tall does the {f['common'].lower()} typically grow?",
                f"In which habitat does {f['latin']} grow?",
                f"Who first described the {f['common'].lower()}, and in which year?",
                f"What colour are the flowers of the {f['common'].lower()}?",
                f"What is the conservation status of {f['latin']}?",
                f"In which months does the {f['common'].lower()} flower?",
            ]
        )
        sub.queries.append(Query(q, {f"sp-{s_i}": 1}))
    return {"default": sub}


# --------------------------------------------------------------------------------------------------
# Dataset 5: shop-catalogues (multilingual product catalogue pages)
# --------------------------------------------------------------------------------------------------

# fmt: off
LANGS: dict[str, dict] = {
    "en": {
        "ocr": "eng", "font": "sans", "rtl": False, "cur": "USD", "price_scale": 1, "decimal": ".",
        "items": ["kettle", "desk lamp", "backpack", "umbrella", "teapot", "wool blanket", "folding chair",
                  "coffee mug", "scarf", "alarm clock", "flower vase", "picnic basket"],
        "models": ["Aurora", "Birch", "Cascade", "Dune", "Ember", "Fjord", "Glacier", "Harbor", "Iris", "Juniper",
                   "Lagoon", "Meadow"],
        "product": "{model} {item}",
        "shop_a": ["Maple", "Oakridge", "Willow", "Copper", "Bluebell"],
        "shop_b": ["Home Goods", "Trading Co.", "Emporium", "Market", "Outfitters"],
        "shop": "{a} {b}",
        "subtitle": "{season} catalogue {year}", "seasons": ["Spring", "Summer", "Autumn", "Winter"],
        "intro": "All prices include sales tax. Delivery within {n} working days.",
        "headers": ["Product", "Price (USD)", "Weight", "In stock"], "yes": "yes", "no": "no",
        "weight": "{w} kg", "page": "Page {n}",
        "q_price": ["How much does the {product} cost at {shop}?", "What is the price of the {product} sold by {shop}?"],
        "q_weight": ["How much does the {product} from {shop} weigh?"],
    },
    "de": {
        "ocr": "deu", "font": "sans", "rtl": False, "cur": "EUR", "price_scale": 1, "decimal": ",",
        "items": ["Wasserkocher", "Schreibtischlampe", "Rucksack", "Regenschirm", "Teekanne", "Wolldecke", "Klappstuhl",
                  "Kaffeebecher", "Schal", "Wecker", "Blumenvase", "Picknickkorb"],
        "articles": ["der", "die", "der", "der", "die", "die", "der", "der", "der", "der", "die", "der"],
        "models": ["Polarlicht", "Birke", "Wasserfall", "Düne", "Glut", "Fjord", "Gletscher", "Hafen", "Iris",
                   "Wacholder", "Lagune", "Wiese"],
        "product": "{item} „{model}“",
        "shop_a": ["Linden", "Eichen", "Birken", "Tannen", "Ahorn"],
        "shop_b": ["haus", "markt", "laden", "kontor", "hof"],
        "shop": "{a}{b}",
        "subtitle": "Katalog {season} {year}", "seasons": ["Frühjahr", "Sommer", "Herbst", "Winter"],
        "intro": "Alle Preise inkl. MwSt. Lieferung innerhalb von {n} Werktagen.",
        "headers": ["Artikel", "Preis (EUR)", "Gewicht", "Lieferbar"], "yes": "ja", "no": "nein",
        "weight": "{w} kg", "page": "Seite {n}",
        "q_price": ["Wie viel kostet {art} {product} bei {shop}?", "Was kostet {art} {product} im {shop}?"],
        "q_weight": ["Wie schwer ist {art} {product} von {shop}?"],
    },
    "ru": {
        "ocr": "rus", "font": "sans", "rtl": False, "cur": "RUB", "price_scale": 90, "decimal": ",",
        "items": ["Чайник", "Настольная лампа", "Рюкзак", "Зонт", "Заварочный чайник", "Плед", "Складной стул",
                  "Кофейная кружка", "Шарф", "Будильник", "Ваза для цветов", "Корзина для пикника"],
        "models": ["Сияние", "Берёза", "Каскад", "Дюна", "Уголёк", "Фьорд", "Ледник", "Гавань", "Ирис",
                   "Можжевельник", "Лагуна", "Луг"],
        "product": "{item} «{model}»",
        "shop_a": ["Золотой", "Северный", "Тихий", "Весёлый", "Старый"],
        "shop_b": ["Сад", "Двор", "Ряд", "Мост", "Базар"],
        "shop": "«{a} {b}»",
        "subtitle": "Каталог: {season} {year}", "seasons": ["весна", "лето", "осень", "зима"],
        "intro": "Все цены указаны с НДС. Доставка в течение {n} рабочих дней.",
        "headers": ["Товар", "Цена (руб.)", "Вес", "В наличии"], "yes": "да", "no": "нет",
        "weight": "{w} кг", "page": "Страница {n}",
        "q_price": ["Сколько стоит {product_lc} в магазине {shop}?", "Какова цена товара {product_lc} в магазине {shop}?"],
        "q_weight": ["Сколько весит {product_lc} из магазина {shop}?"],
    },
    "ar": {
        "ocr": "ara", "font": "arabic", "rtl": True, "cur": "SAR", "price_scale": 4, "decimal": ".", "whole_prices": True,
        "items": ["غلاية", "مصباح مكتب", "حقيبة ظهر", "مظلة", "إبريق شاي", "بطانية صوف", "كرسي قابل للطي",
                  "كوب قهوة", "وشاح", "منبه", "مزهرية", "سلة نزهة"],
        "models": ["الفجر", "البتولا", "الشلال", "الكثبان", "الجمرة", "الخليج", "الجليد", "المرفأ", "السوسن",
                   "العرعر", "البحيرة", "المرج"],
        "product": "{item} «{model}»",
        "shop_a": ["متجر", "سوق", "دار", "بيت", "معرض"],
        "shop_b": ["النخيل", "الياسمين", "الأندلس", "القمر", "الواحة"],
        "shop": "{a} {b}",
        "subtitle": "كتالوج {season} {year}", "seasons": ["الربيع", "الصيف", "الخريف", "الشتاء"],
        "intro": "جميع الأسعار تشمل ضريبة القيمة المضافة. التوصيل خلال {n} أيام عمل.",
        "headers": ["المنتج", "السعر بالريال", "الوزن", "متوفر"], "yes": "نعم", "no": "لا",
        "weight": "{w} كغ", "page": "صفحة {n}",
        "q_price": ["كم سعر {product} في {shop}؟", "ما هو سعر {product} المعروض في {shop}؟"],
        "q_weight": ["كم يبلغ وزن {product} من {shop}؟"],
    },
    "zh": {
        "ocr": "chi_sim", "font": "zh", "rtl": False, "cur": "CNY", "price_scale": 7, "decimal": ".",
        "items": ["电热水壶", "台灯", "双肩包", "雨伞", "茶壶", "羊毛毯", "折叠椅", "咖啡杯", "围巾", "闹钟", "花瓶", "野餐篮"],
        "models": ["极光", "白桦", "飞瀑", "沙丘", "余烬", "峡湾", "冰川", "港湾", "鸢尾", "杜松", "泻湖", "草甸"],
        "product": "「{model}」{item}",
        "shop_a": ["金桥", "青松", "白云", "明月", "长河"],
        "shop_b": ["百货", "商行", "家居", "商店", "杂货铺"],
        "shop": "{a}{b}",
        "subtitle": "{year}年{season}季商品目录", "seasons": ["春", "夏", "秋", "冬"],
        "intro": "所有价格均含增值税。{n}个工作日内送达。",
        "headers": ["商品", "价格（元）", "重量", "有货"], "yes": "有", "no": "无",
        "weight": "{w}公斤", "page": "第{n}页",
        "q_price": ["{shop}的{product}多少钱？", "在{shop}买{product}要花多少钱？"],
        "q_weight": ["{shop}的{product}有多重？"],
    },
    "jp": {
        "ocr": "jpn", "font": "jp", "rtl": False, "cur": "JPY", "price_scale": 150, "decimal": ".",
        "items": ["電気ケトル", "デスクライト", "リュックサック", "傘", "ティーポット", "ウールブランケット", "折りたたみ椅子",
                  "マグカップ", "マフラー", "目覚まし時計", "花瓶", "ピクニックバスケット"],
        "models": ["オーロラ", "白樺", "滝", "砂丘", "炎", "フィヨルド", "氷河", "港", "アイリス", "ジュニパー", "ラグーン", "草原"],
        "product": "{item}「{model}」",
        "shop_a": ["さくら", "みどり", "あおば", "ひかり", "つばさ"],
        "shop_b": ["商店", "雑貨店", "百貨店", "マート", "堂"],
        "shop": "{a}{b}",
        "subtitle": "{year}年 {season}のカタログ", "seasons": ["春", "夏", "秋", "冬"],
        "intro": "表示価格はすべて税込みです。{n}営業日以内にお届けします。",
        "headers": ["商品", "価格（円）", "重さ", "在庫"], "yes": "あり", "no": "なし",
        "weight": "{w} kg", "page": "{n}ページ",
        "q_price": ["{shop}の{product}はいくらですか？", "{shop}で売っている{product}の値段を教えてください。"],
        "q_weight": ["{shop}の{product}の重さはどのくらいですか？"],
    },
}
# fmt: on
CATALOGUE_LANGS = ["ar", "de", "en", "jp", "ru", "zh"]
ISO_OF_SUBSET = {"default": "en", "jp": "ja"}  # subset folder name -> ISO 639-1 code


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def build_shop_catalogues(rng: random.Random) -> dict[str, Subset]:
    out: dict[str, Subset] = {}
    # Typical price (USD) and weight (kg) of the twelve items, in the order of LANGS[*]["items"].
    base_prices = [45, 38, 60, 22, 30, 55, 48, 12, 25, 18, 28, 40]
    base_weights = [1.2, 1.8, 0.9, 0.5, 0.8, 1.6, 3.5, 0.35, 0.2, 0.3, 1.1, 2.4]
    accents = [(166, 48, 48), (32, 96, 120), (60, 110, 50), (110, 70, 140), (180, 110, 20)]
    del rng  # each language draws from its own seed, so that adding a language leaves the others unchanged
    for lang in CATALOGUE_LANGS:
        L = LANGS[lang]
        lrng = random.Random(f"{SEED}-{lang}")
        rtl = L["rtl"]
        fk = L["font"]
        f_body, f_bold = font(fk, 15), font(f"{fk}-bold", 15)
        f_title, f_sub = font(f"{fk}-bold", 28), font(fk, 17)
        f_small = font(fk, 12)
        shops = [L["shop"].format(a=a, b=b) for a in L["shop_a"] for b in L["shop_b"]]
        lrng.shuffle(shops)
        shops = shops[:22]
        sub = Subset()
        pages_items: list[tuple[str, list[tuple[int, int, str, str, str]]]] = []
        W, H, X = 640, 760, 40
        for p_i, shop in enumerate(shops):
            cv = Canvas(W, H)
            acc = accents[p_i % len(accents)]
            tint = tuple(int(c + (255 - c) * 0.85) for c in acc)
            cv.rect((0, 0, W, 120), fill=tint)
            cv.rect((0, 120, W, 126), fill=acc)
            season = lrng.choice(L["seasons"])
            year = lrng.randint(2019, 2025)
            tx = W - X if rtl else X
            anchor = "ra" if rtl else "la"
            cv.text((tx, 26), shop, f_title, fill=acc, anchor=anchor, rtl=rtl)
            cv.text(
                (tx, 76),
                L["subtitle"].format(season=season, year=year),
                f_sub,
                fill=(60, 60, 60),
                anchor=anchor,
                rtl=rtl,
            )
            y = paragraph(
                cv, tx, 146, W - 2 * X, L["intro"].format(n=lrng.randint(2, 9)), f_body, 26, rtl=rtl
            )
            item_ids = lrng.sample(range(12), 6)
            rows, items = [], []
            for it in item_ids:
                m = lrng.randrange(12)
                product = L["product"].format(item=L["items"][it], model=L["models"][m])
                price = base_prices[it] * lrng.uniform(0.75, 1.4) * L["price_scale"]
                if L["price_scale"] >= 50:  # roubles and yen: whole tens, space as thousands separator
                    price_s = fmt_int(int(round(price, -1))).replace(",", " ")
                elif L.get("whole_prices"):
                    price_s = str(int(round(price)))
                else:
                    price_s = f"{price:.2f}"
                if L["decimal"] == ",":
                    price_s = price_s.replace(".", ",")
                wv = base_weights[it] * lrng.uniform(0.8, 1.3)
                w = f"{wv:.2f}" if wv < 1 else f"{wv:.1f}"
                if L["decimal"] == ",":
                    w = w.replace(".", ",")
                stock = L["yes"] if lrng.random() < 0.8 else L["no"]
                rows.append([product, price_s, L["weight"].format(w=w), stock])
                items.append((it, m, product, price_s, w))
            y = draw_table(
                cv,
                X,
                y + 16,
                [270, 120, 90, 80],
                L["headers"],
                rows,
                f_body,
                f_bold,
                46,
                head_fill=tint,
                head_text=(30, 30, 30),
                zebra=None,
                rtl=rtl,
            )
            cv.text(
                (W / 2, H - 40),
                L["page"].format(n=p_i + 2),
                f_small,
                fill=(120, 120, 120),
                anchor="ma",
                rtl=rtl,
            )
            sub.pages.append(Page(f"{lang}-{p_i}", cv.img, cv.source_text(), L["ocr"], psm=6, colors=10))
            pages_items.append((shop, items))
        for p_i in lrng.sample(range(len(shops)), 15):
            shop, items = pages_items[p_i]
            it, m, product, _, _ = lrng.choice(items)
            template = lrng.choice(L["q_price"] + L["q_weight"])
            q = template.format(
                product=product,
                product_lc=_lower_first(product),
                shop=shop,
                art=L.get("articles", [""] * 12)[it],
            )
            q = q[:1].upper() + q[1:]
            sub.queries.append(Query(q, {f"{lang}-{p_i}": 1}))
        out[lang] = sub
    return out


# --------------------------------------------------------------------------------------------------
# Dataset registry
# --------------------------------------------------------------------------------------------------

DATASETS = [
    DatasetSpec(
        "statistics-tables",
        "Synthetic regional statistics bulletins: one table of district indicators per page; questions ask for a figure or a comparison.",
        "Government",
        "Tables",
        "Question",
        build_statistics_tables,
    ),
    DatasetSpec(
        "company-charts",
        "Synthetic bar and line charts (company revenue and head count, city temperatures, market shares) rendered with matplotlib.",
        "Mixed",
        "Charts",
        "Question",
        build_company_charts,
    ),
    DatasetSpec(
        "agency-reports",
        "Synthetic three-page annual reports of public agencies (text-heavy pages); graded and multi-page relevance.",
        "Government",
        "Digital Docs",
        "Question",
        build_agency_reports,
    ),
    DatasetSpec(
        "botany-slides",
        "Synthetic lecture slides describing invented plant species, plus outline and glossary slides as distractors.",
        "Education",
        "Slides",
        "Question",
        build_botany_slides,
    ),
    DatasetSpec(
        "shop-catalogues",
        "Synthetic shop catalogue pages with product, price and weight tables in six languages and four scripts.",
        "Marketing",
        "Catalog",
        "Question",
        build_shop_catalogues,
    ),
]


# --------------------------------------------------------------------------------------------------
# Encoding and OCR (run in worker processes)
# --------------------------------------------------------------------------------------------------

_SPACE_BETWEEN_CJK = re.compile(
    r"(?<=[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])[ \t]+(?=[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])"
)


def encode_png(img, colors: int) -> bytes:
    from PIL import Image

    if img.mode == "L":
        q = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    else:
        q = img.convert("RGB").quantize(
            colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    buf = io.BytesIO()
    q.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def clean_ocr(text: str) -> str:
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.replace("\f", "\n").splitlines()]
    lines = [_SPACE_BETWEEN_CJK.sub("", ln) for ln in lines if ln]
    return "\n".join(lines)


def run_tesseract(png: bytes, lang: str, psm: int) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    proc = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", lang, "--psm", str(psm)],
        input=png,
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}"
        )
    return proc.stdout.decode("utf-8", errors="replace")


def process_page(args: tuple) -> tuple[bytes, str, bool]:
    """Encode one page and OCR the encoded image. Returns (png, text, used_fallback)."""
    img, colors, lang, psm, source_text, do_ocr = args
    png = encode_png(img, colors)
    if not do_ocr:
        return png, source_text, True
    text = clean_ocr(run_tesseract(png, lang, psm))
    if sum(not ch.isspace() for ch in text) < 3:
        return png, source_text, True
    return png, text, False


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def write_subset(folder: Path, queries, corpus, qrels) -> None:
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage

    parts = {
        "queries": (queries, Features({"query-id": Value("string"), "query": Value("string")})),
        "corpus": (
            corpus,
            Features({"corpus-id": Value("string"), "image": HFImage(), "text_description": Value("string")}),
        ),
        "qrels": (
            qrels,
            Features({"query-id": Value("string"), "corpus-id": Value("string"), "score": Value("int64")}),
        ),
    }
    for part, (data, features) in parts.items():
        target = folder / part
        target.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(data, features=features).to_parquet(str(target / PARQUET_NAME))


def tesseract_version() -> str | None:
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return (out.stdout or out.stderr).splitlines()[0].strip()


def write_card(out: Path, counts: dict, catalogue: list[dict], meta: dict) -> None:
    lines = [
        "# jinavdr sample collection (`sample`)",
        "",
        "A small, fully synthetic visual-document-retrieval collection that ships with jinavdr so that the",
        "pipeline, the metrics and the text baselines can be run offline. Every entity, number and sentence is",
        "invented by `scripts/make_sample.py` from a fixed seed; page images are rendered with Pillow and",
        "matplotlib, and `text_description` is Tesseract OCR of the stored page image.",
        "",
        "Scores on this collection say nothing about a model's quality on real documents: it is a smoke test",
        "and a fixture, not a benchmark.",
        "",
        "## Layout",
        "",
        "Same as the Hugging Face BEIR copies of Jina-VDR (`jinaai/<name>_beir`), one folder per dataset:",
        "",
        "    <dataset>/<subset>/queries/test-00000-of-00001.parquet   query-id (str), query (str)",
        "    <dataset>/<subset>/corpus/test-00000-of-00001.parquet    corpus-id (str), image (Image), text_description (str)",
        "    <dataset>/<subset>/qrels/test-00000-of-00001.parquet     query-id (str), corpus-id (str), score (int64)",
        "",
        "`subset` is `default` for single-language datasets, else the language code (Japanese is `jp`, as in the",
        "Jina-VDR data). Load a part with",
        "",
        '    datasets.load_dataset("jinavdr/assets/sample/<dataset>", data_dir="<subset>/corpus", split="test")',
        "",
        "Images are palette-mode (`P`) PNGs with 4 to 12 colours to keep the files small; convert to RGB before",
        'use (`image.convert("RGB")`). Pages are 640-720 px wide.',
        "Relevance is graded in `agency-reports` (2 = page holding the answer, 1 = page that only mentions the",
        "subject) and several queries there, in `statistics-tables` and in `company-charts` need two pages.",
        "`counts.json` holds the counts below in machine-readable form, `catalogue.json` the dataset metadata",
        "(name, description, domain, document format, query format, subsets and their ISO 639-1 languages).",
        "",
        "## Datasets",
        "",
        "| dataset | domain | document format | query format | subsets | description |",
        "|---|---|---|---|---|---|",
    ]
    for c in catalogue:
        lines.append(
            f"| {c['name']} | {c['domain']} | {c['document_format']} | {c['query_format']} | "
            f"{' '.join(c['languages'])} | {c['description']} |"
        )
    lines += [
        "",
        "## Counts",
        "",
        "| dataset | subset | queries | documents | qrels | max relevant per query |",
        "|---|---|---|---|---|---|",
    ]
    tq = td = tr = 0
    for ds, subsets in counts.items():
        for sname, c in subsets.items():
            lines.append(
                f"| {ds} | {sname} | {c['queries']} | {c['documents']} | {c['qrels']} | {c['max_rel_per_query']} |"
            )
            tq, td, tr = tq + c["queries"], td + c["documents"], tr + c["qrels"]
    lines += [
        f"| **total** | {sum(len(s) for s in counts.values())} subsets | {tq} | {td} | {tr} | |",
        "",
        "## How it was made",
        "",
        f"- Generator: `python scripts/make_sample.py` (seed {SEED}).",
        f"- OCR: {meta['ocr']}.",
        f"- Pages whose OCR came back empty and got the rendered source text instead: {meta['fallbacks']}.",
        "- Fonts: Noto Sans / Serif / Naskh Arabic / Sans CJK (Debian `fonts-noto-core`, `fonts-noto-cjk`) and",
        "  DejaVu Sans (charts, bundled with matplotlib). Arabic is shaped and laid out right to left by libraqm.",
        "- The same script, fonts and Tesseract version give the same files; other versions may move OCR",
        "  text and image bytes slightly but not the queries, ids or qrels.",
        "",
        "To regenerate (needs the Debian packages listed at the top of the script):",
        "",
        "    apt-get install -y fonts-noto-core fonts-noto-cjk tesseract-ocr tesseract-ocr-ara \\",
        "        tesseract-ocr-chi-sim tesseract-ocr-jpn tesseract-ocr-rus tesseract-ocr-deu",
        "    python scripts/make_sample.py",
        "",
        "## License",
        "",
        "Synthetic data made for jinavdr, distributed under the package's license (Apache-2.0). It contains no",
        "third-party text or images; any resemblance of invented names to real places, firms or people is",
        "accidental. The rendered glyphs come from fonts under the SIL Open Font License (Noto) and the",
        "Bitstream Vera license (DejaVu).",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes for PNG encoding and OCR"
    )
    ap.add_argument("--no-ocr", action="store_true", help="skip Tesseract; text_description = rendered text")
    args = ap.parse_args(argv)

    from PIL import features

    if not features.check("raqm"):
        raise SystemExit(
            "Pillow was built without libraqm: Arabic would not be shaped. Use the PyPI wheel of Pillow."
        )
    do_ocr = not args.no_ocr
    if do_ocr and shutil.which("tesseract") is None:
        raise SystemExit(
            "tesseract not found: install tesseract-ocr and the language packs, or pass --no-ocr"
        )

    t0 = time.perf_counter()
    built: list[tuple[DatasetSpec, dict[str, Subset]]] = []
    for d_i, spec in enumerate(DATASETS):
        rng = random.Random(SEED * 100 + d_i)
        built.append((spec, spec.build(rng)))
        print(
            f"rendered {spec.name}: {sum(len(s.pages) for s in built[-1][1].values())} pages", file=sys.stderr
        )
    t_render = time.perf_counter() - t0

    jobs = [
        (page.image, page.colors, page.ocr_lang, page.psm, page.source_text, do_ocr)
        for _, subsets in built
        for sub in subsets.values()
        for page in sub.pages
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(process_page, jobs, chunksize=4))
    t_ocr = time.perf_counter() - t0 - t_render
    print(f"encoded and OCRed {len(jobs)} pages in {t_ocr:.1f}s", file=sys.stderr)

    out: Path = args.out
    for spec in DATASETS:
        if (out / spec.name).exists():
            shutil.rmtree(out / spec.name)
    out.mkdir(parents=True, exist_ok=True)

    counts: dict[str, dict[str, dict[str, int]]] = {}
    catalogue: list[dict] = []
    fallbacks: list[str] = []
    r_i = 0
    for spec, subsets in built:
        counts[spec.name] = {}
        for sname in sorted(subsets):
            sub = subsets[sname]
            srng = random.Random(f"{SEED}-{spec.name}-{sname}")
            # Shuffle pages and queries so that ids carry no hint of which page answers which query.
            order = list(range(len(sub.pages)))
            srng.shuffle(order)
            key_to_id: dict[str, str] = {}
            corpus = {"corpus-id": [], "image": [], "text_description": []}
            page_results = results[r_i : r_i + len(sub.pages)]
            r_i += len(sub.pages)
            for new_i, old_i in enumerate(order):
                page = sub.pages[old_i]
                png, text, fell_back = page_results[old_i]
                doc_id = f"d-{new_i + 1:04d}"
                if page.key in key_to_id:
                    raise ValueError(f"duplicate page key {page.key} in {spec.name}/{sname}")
                key_to_id[page.key] = doc_id
                corpus["corpus-id"].append(doc_id)
                corpus["image"].append({"bytes": png, "path": None})
                corpus["text_description"].append(text)
                if fell_back and do_ocr:
                    fallbacks.append(f"{spec.name}/{sname}/{doc_id}")
            q_order = list(range(len(sub.queries)))
            srng.shuffle(q_order)
            queries = {"query-id": [], "query": []}
            qrels = {"query-id": [], "corpus-id": [], "score": []}
            seen_text: set[str] = set()
            for new_i, old_i in enumerate(q_order):
                q = sub.queries[old_i]
                if q.text in seen_text:
                    raise ValueError(f"duplicate query text in {spec.name}/{sname}: {q.text}")
                seen_text.add(q.text)
                qid = f"q-{new_i + 1:04d}"
                queries["query-id"].append(qid)
                queries["query"].append(q.text)
                for key, grade in sorted(q.rels.items(), key=lambda kv: key_to_id[kv[0]]):
                    qrels["query-id"].append(qid)
                    qrels["corpus-id"].append(key_to_id[key])
                    qrels["score"].append(int(grade))
            write_subset(out / spec.name / sname, queries, corpus, qrels)
            counts[spec.name][sname] = {
                "queries": len(queries["query-id"]),
                "documents": len(corpus["corpus-id"]),
                "qrels": len(qrels["query-id"]),
                "max_rel_per_query": max(len(q.rels) for q in sub.queries),
            }
        catalogue.append(
            {
                "name": spec.name,
                "description": spec.description,
                "domain": spec.domain,
                "document_format": spec.document_format,
                "query_format": spec.query_format,
                "languages": sorted(subsets),
                # ISO 639-1 language(s) of each subset; "default" subsets are English.
                "subset_languages": {name: [ISO_OF_SUBSET.get(name, name)] for name in sorted(subsets)},
            }
        )
    (out / "counts.json").write_text(
        json.dumps(counts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "catalogue.json").write_text(
        json.dumps(catalogue, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    ocr_desc = (
        f"{tesseract_version()} (`--psm 3` text pages and slides, `--psm 6` tables and catalogues, `--psm 11` charts; "
        "spaces Tesseract puts between CJK characters removed)"
        if do_ocr
        else "none (generated with --no-ocr: text_description is the rendered source text)"
    )
    write_card(out, counts, catalogue, {"ocr": ocr_desc, "fallbacks": ", ".join(fallbacks) or "none"})
    total = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(
        f"wrote {out}: {sum(len(s) for s in counts.values())} subsets, {size / 1e6:.2f} MB, "
        f"render {t_render:.1f}s, total {total:.1f}s, OCR fallbacks: {len(fallbacks)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
