"""Helpers for the push tests: configs for an emulator, the pushed page read back as sections,
the local HTML render read the same way, so the two can be compared."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import pandas as pd
from leadsync.reports import LeadershipReport, build_report, month_end
from report_sample import MONTH, SYNC, row_url, sample_frames

from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator

MEMBERS = 20
NOTION_DB = "11111111-2222-4333-8444-555555555555"


def notion_config(emu: Emulator, **report: str) -> Config:
    """A Notion config pointing at ``emu``, reports going under its root page."""
    return parse_config({
        "workspace": {"kind": "notion", "notion_base_url": emu.url},
        "tables": {"signals": {"notion_database": NOTION_DB},
                   "members": {"notion_database": NOTION_DB}},
        "limits": {"notion_rps": 1000.0},
        "report": {"notion_parent_page": emu.notion.root_page_id, **report},
    })


def airtable_config(emu: Emulator, base: str, *, members_table: str = "tblMembers00000000",
                    **report: str) -> Config:
    """An Airtable config pointing at ``emu``, reports going into ``base``."""
    return parse_config({
        "workspace": {"kind": "airtable", "airtable_endpoint_url": emu.url},
        "tables": {"signals": {"airtable_base": base, "airtable_table": "Signals"},
                   "members": {"airtable_base": base, "airtable_table": members_table}},
        "limits": {"airtable_rps": 1000.0},
        "report": {"airtable_base": base, **report},
    })


@functools.cache
def frames_of(members: int = MEMBERS) -> dict[str, pd.DataFrame]:
    return sample_frames(members=members)


def report_of(frames: Mapping[str, pd.DataFrame]) -> LeadershipReport:
    return build_report(frames, as_of=month_end(MONTH), sync=SYNC, row_url=row_url)


@functools.cache
def base_report() -> LeadershipReport:
    return report_of(frames_of())


@functools.cache
def changed_report() -> LeadershipReport:
    """The base report after one more High signal for its lowest-scored member."""
    member = str(base_report().scores["member_id"].iloc[-1])
    return report_of(with_signal(frames_of(), member))


def with_signal(frames: Mapping[str, pd.DataFrame], member_id: str,
                impact: str = "High") -> dict[str, pd.DataFrame]:
    """``frames`` with one more signal for ``member_id`` in the reported month."""
    signals = frames["signals"].copy()
    quarantine = signals.attrs.get("quarantine")
    signals.attrs = {}
    extra = signals.iloc[[0]].copy()
    extra["signal_id"] = pd.Series(["SIG-NEW"], dtype=signals["signal_id"].dtype,
                                   index=extra.index)
    extra["source_id"] = pd.Series(["SIG-NEW"], dtype=signals["source_id"].dtype,
                                   index=extra.index)
    extra["member_id"] = pd.Series([member_id], dtype=signals["member_id"].dtype,
                                   index=extra.index)
    extra["impact"] = pd.Categorical([impact], dtype=signals["impact"].dtype)
    extra["date"] = pd.Series([pd.Timestamp("2026-10-30T00:00Z")],
                              dtype=signals["date"].dtype, index=extra.index)
    grown = pd.concat([signals, extra], ignore_index=True)
    grown.attrs["quarantine"] = quarantine
    return {**frames, "signals": grown}


def renamed(frames: Mapping[str, pd.DataFrame], names: Mapping[int, str]
            ) -> dict[str, pd.DataFrame]:
    """``frames`` with the members at those positions renamed."""
    members = frames["members"].copy()
    members["name"] = members["name"].astype("object")
    for position, name in names.items():
        members.loc[members.index[position], "name"] = name
    members["name"] = members["name"].astype("string")
    return {**frames, "members": members}


# ---------------------------------------------------------------------------
# Reading a page back


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def rich(items: list[dict[str, Any]]) -> str:
    return "".join(str(i.get("plain_text", "")) for i in items)


def block_text(block: Mapping[str, Any]) -> str:
    data = block[block["type"]]
    return rich(data.get("rich_text") or data.get("caption") or [])


def page_sections(tree: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The page's blocks split at its headings: title -> paragraphs, tables (rows of cell
    texts, header first), bullets, images (captions). The part before the first heading
    is under ""."""
    out: dict[str, dict[str, Any]] = {}
    current = _empty(out, "")
    for block in tree:
        kind = block["type"]
        if kind == "heading_2":
            current = _empty(out, block_text(block))
        elif kind in ("paragraph", "callout"):
            current["paragraphs"].append(flat(block_text(block)))
        elif kind == "bulleted_list_item":
            current["bullets"].append(flat(block_text(block)))
        elif kind == "table":
            current["tables"].append([[flat(rich(cell)) for cell in row["table_row"]["cells"]]
                                      for row in block["children"]])
        elif kind == "image":
            current["images"].append(flat(block_text(block)))
    return out


def _empty(out: dict[str, dict[str, Any]], title: str) -> dict[str, Any]:
    out[title] = {"paragraphs": [], "bullets": [], "tables": [], "images": []}
    return out[title]


class HtmlSections(HTMLParser):
    """The local HTML render read the same way: per ``<h2>``, its paragraphs and callouts,
    list items, tables (rows of cell texts, header first), figures (alt texts)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, dict[str, Any]] = {}
        self.current = _empty(self.sections, "")
        self._text: list[str] | None = None
        self._where = ""
        self._row: list[str] | None = None
        self._table: list[list[str]] | None = None
        self._in_figures = False
        self._depth_div_callout = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        if tag == "ul" and "figures" in classes:
            self._in_figures = True
            self._table = [["Figure", "Value"]]
        if (tag in ("h2", "p", "li", "caption", "figcaption") or (
                tag == "div" and "callout" in classes)) and self._text is None:
            self._text, self._where = [], tag if tag != "div" else "callout"
        if tag == "table":
            self._table = []
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._text, self._where = [], "cell"
        if tag == "img":
            self.current["images"].append(flat(attr.get("alt") or ""))
        if tag == "span" and self._in_figures and self._text is not None:
            self._text.append("\x00")

    def handle_endtag(self, tag: str) -> None:
        text = flat("".join(self._text)) if self._text is not None else ""
        if tag in ("td", "th") and self._row is not None and self._text is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.current["tables"].append(self._table)
            self._table = None
        elif tag == "ul" and self._in_figures and self._table is not None:
            self.current["tables"].append(self._table)
            self._table, self._in_figures = None, False
        elif (self._text is not None and tag == self._where) or (
                tag == "div" and self._where == "callout" and self._text is not None):
            raw = "".join(self._text)
            if tag == "h2":
                self.current = _empty(self.sections, text)
            elif tag == "li" and self._in_figures and self._table is not None:
                value, label = (flat(p) for p in raw.split("\x00")[1:3])
                self._table.append([label, value])
            elif tag == "li":
                self.current["bullets"].append(text)
            elif tag in ("p", "caption", "figcaption", "div"):
                cleaned = re.sub(r"^(Note|Warning):\s*", "", text)
                if cleaned:
                    self.current["paragraphs"].append(cleaned)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def html_sections(html: str) -> dict[str, dict[str, Any]]:
    parser = HtmlSections()
    parser.feed(html)
    return parser.sections
