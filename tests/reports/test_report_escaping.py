"""Workspace text is inert in every rendering: HTML, Markdown, text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from leadsync.reports import (
    LeadershipReport,
    build_report,
    month_end,
    render_html,
    render_markdown,
    render_text,
)
from report_sample import MONTH, sample_frames

from leadsync.inert import (
    defuse_formula,
    markdown_cell,
    markdown_text,
    markdown_url,
    one_line,
    safe_url,
)

HOSTILE = '<script>alert(1)</script> | =HYPERLINK("x")\nsecond line'
HOSTILE_LINK = "[l](javascript:alert(1))"


@pytest.fixture(scope="module")
def hostile() -> LeadershipReport:
    """The sample with its top member renamed to markup, a pipe, a formula and a newline."""
    frames = sample_frames()
    members = frames["members"].copy()
    members["name"] = members["name"].astype("object")
    members.loc[members.index[0], "name"] = HOSTILE
    members.loc[members.index[1], "name"] = HOSTILE_LINK
    members.loc[members.index[2], "name"] = "+1 (555) 0100"
    members.loc[members.index[3], "name"] = "@everyone - really"
    members["name"] = members["name"].astype("string")
    frames["members"] = members
    signals = frames["signals"].copy()
    signals["evidence"] = signals["evidence"].astype("object")
    signals.loc[signals["member_id"] == members["member_id"].iloc[0], "evidence"] = (
        "javascript:alert(2)")
    signals["evidence"] = signals["evidence"].astype("string")
    frames["signals"] = signals
    return build_report(frames, as_of=month_end(MONTH))


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_has_no_script_and_shows_the_name_as_text(hostile: LeadershipReport) -> None:
    page = render_html(hostile)
    parsed = _Elements()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert any("<script>alert(1)</script>" in t for t in parsed.text)  # decoded: the name
    assert not any(h.lower().startswith("javascript:") for h in parsed.hrefs)
    assert all(h.startswith(("data:image/png;base64,", "https://", "#")) for h in parsed.hrefs)
    assert "Content-Security-Policy" in page


def _cells(line: str) -> list[str]:
    """A pipe-table row's cells, split on unescaped pipes (GFM's rule)."""
    inner = line.strip()[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def test_markdown_rows_keep_their_columns_and_no_cell_is_a_formula(
        hostile: LeadershipReport) -> None:
    markdown = render_markdown(hostile)
    lines = markdown.splitlines()
    tables = 0
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[:\- |]+\|$",
                                                                    lines[i + 1]):
            tables += 1
            width = len(_cells(line))
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                cells = _cells(lines[j])
                assert len(cells) == width, lines[j]
                for cell in cells:
                    assert not cell.startswith(("=", "+", "-", "@")), lines[j]
                j += 1
    assert tables >= 10
    assert "<script>" not in markdown
    assert "&lt;script&gt;" in markdown
    assert not re.search(r"(?<!\\)\]\(javascript:", markdown)
    assert "\\[l\\](javascript:alert(1))" in markdown
    assert "'=HYPERLINK" not in markdown  # the name does not start with "="...
    assert "'+1 (555) 0100" in markdown  # ...these do: a spreadsheet's text mark
    assert "'@everyone" in markdown
    assert "second line" in markdown


def test_text_rows_stay_on_one_line(hostile: LeadershipReport) -> None:
    text = render_text(hostile)
    row = next(line for line in text.splitlines() if "<script>" in line)
    assert "second line" in row
    assert "\x1b" not in text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_a_markdown_cell_never_splits_or_breaks(text: str) -> None:
    cell = markdown_cell(text)
    assert "\n" not in cell
    assert "\r" not in cell
    assert not re.search(r"(?<!\\)\|", cell)
    assert not cell.startswith(("=", "+", "-", "@"))
    assert "<" not in cell
    assert not re.search(r"(?<!\\)[\[\]]", cell)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_one_line_has_no_control_characters(text: str) -> None:
    flat = one_line(text)
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in flat)


def test_inert_helpers_by_hand() -> None:
    assert defuse_formula("=1+1") == "'=1+1"
    assert defuse_formula("  @SUM(A1)") == "'  @SUM(A1)"
    assert defuse_formula("Ada") == "Ada"
    assert markdown_text("- a list?") == "\\- a list?"
    assert markdown_text("1. first") == "1\\. first"
    assert markdown_text("**bold** _it_") == "\\*\\*bold\\*\\* \\_it\\_"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:text/html,<b>") is None
    assert safe_url("https://x.example/a b") is None
    assert safe_url("https://github.com/acme/app/pull/7") == "https://github.com/acme/app/pull/7"
    assert markdown_url("https://x.example/a_(b)|c") == "https://x.example/a_%28b%29%7Cc"


def test_numbers_use_a_true_minus_sign() -> None:
    from leadsync.reports.document import Column, format_value

    assert format_value(-1.25, Column("x", "x", "change")) == "\u22121.2"
    assert format_value(2.0, Column("x", "x", "change")) == "+2.0"
    assert format_value(pd.NA, Column("x", "x", "number")) == "–"
    assert format_value(0.256, Column("x", "x", "percent")) == "26%"
