"""A renderer-neutral document: what a report says, without saying how it looks.

The HTML, Markdown and text renderers, and the workspace writers (a Notion
page of native blocks, an Airtable row), all walk the same
:class:`Document`: a title, a lead, then :class:`Section` s, each a list of
blocks:

* :class:`Paragraph` and :class:`Callout` (a note or a warning): plain text;
* :class:`Table`: a typed frame and the :class:`Column` s to show, each with
  a label and a :data:`Format` (so a writer can keep numbers as numbers);
* :class:`LinkList`: :class:`Link` s (evidence, rows in the workspace);
* :class:`Figure`: a :class:`Chart` (PNG bytes, a title, alt text).

Every string here is plain text, possibly typed by someone in the workspace.
Nothing is pre-escaped: each renderer makes it inert in its own format
(Jinja2 autoescaping for HTML, :mod:`leadsync.inert` for Markdown, text,
spreadsheets). A link's URL is always an absolute http(s) URL
(:func:`leadsync.inert.safe_url`), or the link is not made.

:func:`format_value` turns a typed cell into display text the same way for
every renderer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from leadsync.inert import safe_url, url_host

__all__ = [
    "Block",
    "Callout",
    "Chart",
    "Column",
    "Document",
    "Figure",
    "Format",
    "Link",
    "LinkList",
    "Paragraph",
    "Section",
    "Table",
    "format_value",
]

#: How a column's values are shown. ``text``: as is; ``int``; ``number``
#: (``digits`` decimals); ``change`` (a signed number, a true minus sign for
#: negatives); ``percent`` (a 0-1 share); ``date``; ``link`` (an http(s) URL
#: shown as ``link_text``); ``flag`` (a boolean shown as ``link_text`` or
#: nothing).
Format = Literal["text", "int", "number", "change", "percent", "date", "link", "flag"]

#: What a missing value shows as.
MISSING = "–"
#: U+2212: a minus sign a spreadsheet does not read as the start of a formula.
MINUS = "\u2212"


@dataclass(frozen=True)
class Column:
    """One shown column of a :class:`Table`: the frame's ``key``, a ``label``, a format."""

    key: str
    label: str
    format: Format = "text"
    digits: int = 1
    #: For ``link``: the text of the link (default: the URL's host); for
    #: ``flag``: what a true value shows.
    link_text: str = ""
    #: Long free text (an indicator, a reason): may wrap over lines.
    wrap: bool = False

    @property
    def numeric(self) -> bool:
        return self.format in ("int", "number", "change", "percent")


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Callout:
    """A note the reader should not miss; ``tone`` is ``note`` or ``warning``."""

    text: str
    tone: Literal["note", "warning"] = "note"


@dataclass(frozen=True, eq=False)
class Table:
    """A typed frame and how to show it. ``frame`` keeps its dtypes (numbers stay numbers)."""

    key: str
    frame: pd.DataFrame
    columns: tuple[Column, ...]
    caption: str = ""
    #: What to show instead of an empty table.
    empty: str = "None."

    def _columns(self) -> list[list[tuple[str, str | None]]]:
        out = []
        for column in self.columns:
            values = self.frame[column.key].tolist()
            if column.format == "link":  # each URL checked once, for its text and its link
                links = [safe_url(v) for v in values]
                texts = [(column.link_text or url_host(u)) if u is not None
                         else format_value(v, column) for v, u in zip(values, links, strict=True)]
            else:
                links = [None] * len(values)
                texts = [format_value(v, column) for v in values]
            out.append(list(zip(texts, links, strict=True)))
        return out

    def rows(self) -> Iterator[list[str]]:
        """Each row's display text, column by column (see :func:`format_value`)."""
        for row in zip(*self._columns(), strict=True):
            yield [text for text, _ in row]

    def cells(self) -> Iterator[list[tuple[str, str | None]]]:
        """Each row as (display text, link URL or None) per column."""
        for row in zip(*self._columns(), strict=True):
            yield list(row)


@dataclass(frozen=True)
class Link:
    """A link: its ``text`` and an absolute http(s) ``url``; ``note`` is text after it."""

    text: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class LinkList:
    title: str
    links: tuple[Link, ...]


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart as a PNG: ``key`` names its file, ``alt`` describes it for who cannot see it."""

    key: str
    title: str
    alt: str
    png: bytes = field(repr=False)
    #: Pixels of the PNG, and the resolution it was drawn at (dots per inch).
    width: int
    height: int
    dpi: int = 128

    @property
    def filename(self) -> str:
        return f"chart-{self.key}.png"

    def _repr_png_(self) -> bytes:
        """The chart itself when a notebook shows it."""
        return self.png

    @property
    def css_size(self) -> tuple[int, int]:
        """The size to show it at, in CSS pixels (96 a inch), so its text matches the page's."""
        return round(self.width * 96 / self.dpi), round(self.height * 96 / self.dpi)


@dataclass(frozen=True)
class Figure:
    chart: Chart
    caption: str = ""


Block = Paragraph | Callout | Table | LinkList | Figure


@dataclass(frozen=True)
class Section:
    """A titled part of the document; ``key`` is stable across months (for writers)."""

    key: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, eq=False)
class Document:
    """A whole report: ``title``, a ``lead`` (callouts at the top), then ``sections``.

    ``made`` says when the rendering was made (``"made 2026-11-02 08:00 UTC"``);
    it is kept apart from ``subtitle`` because it changes on every run while
    the content does not: a workspace writer leaves it out, so that pushing
    the same month twice finds nothing changed. :attr:`byline` is both.
    """

    title: str
    subtitle: str
    lead: tuple[Callout, ...]
    sections: tuple[Section, ...]
    headline: dict[str, float | int | str] = field(default_factory=dict)
    made: str = ""

    @property
    def byline(self) -> str:
        """The subtitle, then when it was made (if said)."""
        return f"{self.subtitle} · {self.made}" if self.made else self.subtitle

    @property
    def charts(self) -> list[Chart]:
        """Every chart, in document order."""
        return [b.chart for s in self.sections for b in s.blocks if isinstance(b, Figure)]

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def format_value(value: object, column: Column) -> str:
    """``value`` as display text for ``column`` (plain text, not escaped)."""
    if column.format == "flag":
        return (column.link_text or "yes") if not _missing(value) and bool(value) else ""
    if _missing(value):
        return MISSING
    kind = column.format
    if kind == "int":
        return f"{int(value):,}"  # type: ignore[call-overload]
    if kind == "number":
        return f"{float(value):,.{column.digits}f}".replace("-", MINUS)  # type: ignore[arg-type]
    if kind == "change":
        number = round(float(value), column.digits)  # type: ignore[arg-type]
        if number == 0:
            return f"{0:.{column.digits}f}"
        text = f"{abs(number):,.{column.digits}f}"
        return f"{MINUS}{text}" if number < 0 else f"+{text}"
    if kind == "percent":
        return f"{float(value) * 100:.0f}%"  # type: ignore[arg-type]
    if kind == "date":
        if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
            return f"{value:%Y-%m-%d}"
        return str(value)
    if kind == "link":
        url = safe_url(value)
        if url is None:
            return str(value)
        return column.link_text or url_host(url)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)
