"""A :class:`~leadsync.reports.document.Document` as Notion blocks (pure).

Walks the same document the HTML, Markdown and text renderers walk (never
their output) and lays it out as native blocks:

* a ``table_of_contents`` block first (it never changes, so a changed push
  always has a block of its own to insert after), the subtitle, the lead as
  callouts (ℹ️ notes, ⚠️ warnings);
* each section as a ``heading_2`` and its blocks: paragraphs, callouts,
  tables as ``table`` + ``table_row`` blocks with a header row (a caption
  follows as an italic paragraph, an empty table is its "None." line), link
  lists as a bold paragraph and ``bulleted_list_item`` s, charts as ``image``
  blocks whose caption is the chart's title and its alt text (the upload id
  is filled in by the writer, :class:`NotionBlock.chart`);
* tables named in :data:`BULLETED` become one bulleted item per member (the
  evidence: each signal's date, type, indicator, impact and share, with links
  to the evidence and to the row), one block a member instead of three table
  rows; sections in :data:`SKIPPED` are left out (the six-month trend: the
  member table carries the one- and three-month change). Both keep the page
  small: free workspaces cap the blocks they may ever hold.

Every piece of text goes in as plain ``text`` rich text: never parsed as a
mention, a link or Markdown, at most :data:`~leadsync.connectors.notion_encode.TEXT_ITEM_MAX`
characters an item (longer text is split), on one line in a table cell. A
link is made only from a URL :func:`~leadsync.inert.safe_url` accepted (the
document's own links), with its own text.

Each top-level block carries a digest of what it shows, which the writer
compares with what it wrote last time: a block whose digest is unchanged is
left in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadsync.connectors.notion_encode import ARRAY_MAX, TEXT_ITEM_MAX, split_text

from leadsync.inert import one_line

from ..document import (
    Block,
    Callout,
    Chart,
    Document,
    Figure,
    LinkList,
    Paragraph,
    Table,
)

__all__ = [
    "APPEND_MAX",
    "BULLETED",
    "REQUEST_BLOCKS_MAX",
    "SKIPPED",
    "NotionBlock",
    "document_blocks",
    "document_digest",
    "iter_text",
    "page_title",
    "plain_text",
    "rich_text",
]

#: Children in one append request, and in any one array of blocks (Notion's limit).
APPEND_MAX = 100
#: Blocks in one request, every level counted (Notion's limit).
REQUEST_BLOCKS_MAX = 1000
#: Sections left off the page (kept in the HTML and Markdown).
SKIPPED: frozenset[str] = frozenset({"trend"})
#: Tables written as one bulleted item per value of their first column.
BULLETED: frozenset[str] = frozenset({"evidence"})

_ICONS = {"note": "ℹ️", "warning": "⚠️"}
_COLORS = {"note": "gray_background", "warning": "yellow_background"}


def rich_text(text: str, *, link: str | None = None, bold: bool = False,
              italic: bool = False) -> list[dict[str, Any]]:
    """``text`` as plain ``text`` rich-text items of at most 2,000 characters each.

    Notion stores ``text.content`` as typed: no mention, link or Markdown is
    parsed out of it. ``link`` (an absolute http(s) URL) links every piece.
    """
    items = []
    annotations = {"bold": True} if bold else {}
    if italic:
        annotations["italic"] = True
    for piece in split_text(text, TEXT_ITEM_MAX):
        item: dict[str, Any] = {"type": "text",
                                "text": {"content": piece, "link": {"url": link} if link
                                         else None}}
        if annotations:
            item["annotations"] = dict(annotations)
        items.append(item)
    return items


def plain_text(items: Iterable[dict[str, Any]]) -> str:
    """The text of rich-text items as Notion shows it (their ``plain_text`` or content)."""
    out = []
    for item in items:
        if "plain_text" in item:
            out.append(str(item["plain_text"]))
        else:
            out.append(str((item.get("text") or {}).get("content", "")))
    return "".join(out)


@dataclass(frozen=True)
class NotionBlock:
    """One top-level block: its type, its body (without children), its children, its digest.

    ``children`` are sent with the block up to :data:`APPEND_MAX`, the rest
    appended to it afterwards. ``chart``: an ``image`` block's picture,
    uploaded by the writer, whose upload id goes into ``body`` when sent.
    """

    type: str
    body: dict[str, Any]
    children: tuple[dict[str, Any], ...] = ()
    chart: Chart | None = field(default=None, compare=False)
    digest: str = ""

    def payload(self, upload_id: str | None = None, *,
                children: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The block as sent in an append: ``children`` (default: the first 100)."""
        body = dict(self.body)
        if self.type == "image":
            if upload_id is None:
                raise ValueError("an image block needs its upload id")
            body = {"type": "file_upload", "file_upload": {"id": upload_id},
                    "caption": body["caption"]}
        sent = list(self.children[:APPEND_MAX] if children is None else children)
        if sent:
            body["children"] = sent
        return {"type": self.type, self.type: body}

    @property
    def size(self) -> int:
        """Blocks this one costs on the page: itself and its children."""
        return 1 + len(self.children)

    @property
    def text(self) -> str:
        """What it says, plain (for tests and dry runs)."""
        parts = [plain_text(self.body.get("rich_text") or self.body.get("caption") or [])]
        for child in self.children:
            data = child[child["type"]]
            if "cells" in data:
                parts.append(" | ".join(plain_text(c) for c in data["cells"]))
        return "\n".join(p for p in parts if p)


def _digest(kind: str, body: dict[str, Any], children: Sequence[dict[str, Any]],
            chart: Chart | None) -> str:
    content = {"type": kind, "body": body, "children": list(children),
               "chart": hashlib.sha256(chart.png).hexdigest() if chart is not None else None}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _block(kind: str, body: dict[str, Any], children: Sequence[dict[str, Any]] = (),
           chart: Chart | None = None) -> NotionBlock:
    return NotionBlock(kind, body, tuple(children), chart, _digest(kind, body, children, chart))


def _paragraph(text: str, *, italic: bool = False) -> NotionBlock:
    return _block("paragraph", {"rich_text": rich_text(one_line(text), italic=italic)})


def _callout(callout: Callout) -> NotionBlock:
    return _block("callout", {
        "rich_text": rich_text(one_line(callout.text)),
        "icon": {"type": "emoji", "emoji": _ICONS[callout.tone]},
        "color": _COLORS[callout.tone]})


def _cell(text: str, url: str | None) -> list[dict[str, Any]]:
    return rich_text(one_line(text), link=url)


def _row(cells: Sequence[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"type": "table_row", "table_row": {"cells": list(cells)}}


def _table(table: Table) -> list[NotionBlock]:
    if table.frame.empty:
        return [_paragraph(table.empty)]
    header = _row([rich_text(one_line(c.label), bold=True) for c in table.columns])
    rows = [_row([_cell(text, url) for text, url in cells]) for cells in table.cells()]
    out = [_block("table", {"table_width": len(table.columns), "has_column_header": True,
                            "has_row_header": False}, [header, *rows])]
    if table.caption:
        out.append(_paragraph(table.caption, italic=True))
    return out


def _bullets(table: Table) -> list[NotionBlock]:
    """One bulleted item per value of the table's first column, its rows after it."""
    if table.frame.empty:
        return [_paragraph(table.empty)]
    groups: dict[str, list[list[tuple[str, str | None]]]] = {}
    for cells in table.cells():
        groups.setdefault(cells[0][0], []).append(cells[1:])
    out = []
    for who, rows in groups.items():
        items = rich_text(one_line(who), bold=True) + rich_text(": ")
        for n, cells in enumerate(rows):
            if n:
                items += rich_text("; ")
            for m, (text, url) in enumerate(cells):
                if m:
                    items += rich_text(" · ")
                items += _cell(text, url)
        out.extend(_group_items(items))
    return out


def _group_items(items: list[dict[str, Any]]) -> list[NotionBlock]:
    """Bulleted items holding ``items``, at most :data:`ARRAY_MAX` rich-text items each."""
    return [_block("bulleted_list_item", {"rich_text": items[start:start + ARRAY_MAX]})
            for start in range(0, len(items), ARRAY_MAX)]


def _links(block: LinkList) -> list[NotionBlock]:
    out = [_block("paragraph", {"rich_text": rich_text(one_line(block.title), bold=True)})]
    for link in block.links:
        items = rich_text(one_line(link.text), link=link.url)
        if link.note:
            items += rich_text(" " + one_line(link.note))
        out.append(_block("bulleted_list_item", {"rich_text": items}))
    return out


def _figure(figure: Figure) -> NotionBlock:
    chart = figure.chart
    caption = rich_text(one_line(chart.title), bold=True) + rich_text(": " + one_line(chart.alt))
    if figure.caption:
        caption += rich_text(" " + one_line(figure.caption))
    return _block("image", {"caption": caption}, chart=chart)


def _blocks(block: Block) -> list[NotionBlock]:
    if isinstance(block, Paragraph):
        return [_paragraph(block.text)]
    if isinstance(block, Callout):
        return [_callout(block)]
    if isinstance(block, Table):
        return _bullets(block) if block.key in BULLETED else _table(block)
    if isinstance(block, LinkList):
        return _links(block)
    return [_figure(block)]


def page_title(document: Document) -> list[dict[str, Any]]:
    """The page's ``title`` property value."""
    return rich_text(one_line(document.title))


def document_blocks(document: Document, *, skipped: Iterable[str] = SKIPPED
                    ) -> list[NotionBlock]:
    """The page's top-level blocks, in order (see the module doc)."""
    leave_out = set(skipped)
    out = [_block("table_of_contents", {"color": "default"})]
    out.append(_paragraph(document.subtitle, italic=True))
    out += [_callout(c) for c in document.lead]
    for section in document.sections:
        if section.key in leave_out:
            continue
        out.append(_block("heading_2", {"rich_text": rich_text(one_line(section.title)),
                                        "is_toggleable": False}))
        for block in section.blocks:
            out += _blocks(block)
    return out


def document_digest(title: Sequence[dict[str, Any]], blocks: Sequence[NotionBlock]) -> str:
    """One digest of a whole page: its title and every block's digest, in order."""
    text = json.dumps([list(title), [b.digest for b in blocks]], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iter_text(blocks: Iterable[NotionBlock]) -> Iterator[str]:
    """Each block's plain text (for a dry run's summary and tests)."""
    for block in blocks:
        yield block.text
