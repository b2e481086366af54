"""Making workspace text inert in every output leadsync writes.

A member's name, an indicator, a note or an evidence link is text anyone
with edit access to the workspace typed. Wherever leadsync puts such text
(a terminal, an HTML report, Markdown, a CSV or spreadsheet cell, a Notion
block, an Airtable cell) it must stay text: it cannot break the layout it
sits in, run as markup or script, become a link it was not, or start a
spreadsheet formula. This module owns the small, pure helpers each output
uses; HTML escaping itself is left to Jinja2's autoescaping, the one engine
the HTML report goes through.

* :func:`one_line`: control characters and line breaks become spaces, so a
  name cannot break a table row or send terminal escape sequences.
* :func:`defuse_formula`: a leading ``=``, ``+``, ``-``, ``@`` (or a tab or
  carriage return) gets a ``'`` in front, the OWASP advice against CSV and
  spreadsheet formula injection. Text a person reads keeps every character.
* :func:`markdown_text` / :func:`markdown_cell`: Markdown's active
  characters escaped (emphasis, code, links and images, HTML, table pipes),
  so the rendered text is exactly the workspace's text.
* :func:`safe_url`: only an absolute ``http(s)`` URL becomes a link; anything
  else (``javascript:``, ``data:``, relative paths) is shown as text.
"""

from __future__ import annotations

import re

__all__ = [
    "FORMULA_PREFIXES",
    "defuse_formula",
    "markdown_cell",
    "markdown_text",
    "markdown_url",
    "one_line",
    "safe_url",
    "spreadsheet_cell",
    "url_host",
]

#: First characters that make Excel, LibreOffice or Google Sheets read a cell
#: as a formula (OWASP "CSV Injection"), tab and carriage return included.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

# C0 and C1 controls (ESC starts terminal sequences), DEL, and the Unicode
# line and paragraph separators some renderers treat as line breaks.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

# Markdown's inline syntax: backslash escapes, code, emphasis, strikethrough,
# links and images, and a table cell's pipe. A backslash before any ASCII
# punctuation is an escape in CommonMark, so these are safe to escape anywhere.
_INLINE = str.maketrans({
    **{c: "\\" + c for c in "\\`*_[]|~!#"},
    "&": "&amp;", "<": "&lt;", ">": "&gt;",
})
# At the start of a line: a list marker, a setext underline, an ordered-list number.
_BLOCK_MARK = re.compile(r"^([-+=])")
_ORDERED = re.compile(r"^(\d+)([.)])")


def one_line(text: object) -> str:
    """``text`` as one line: each run of control characters or line breaks is one space."""
    flat = str(text)
    if flat.isprintable():  # no control character, no line or paragraph separator
        return flat.strip()
    return _BREAKS.sub(" ", flat).strip()


def defuse_formula(text: str) -> str:
    """``text`` with a ``'`` in front when a spreadsheet would read it as a formula.

    Leading spaces do not hide a formula from every spreadsheet, so they are
    looked past. The apostrophe is the spreadsheets' own "this is text" mark.
    """
    if text.lstrip(" ").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def spreadsheet_cell(text: object) -> str:
    """A value for a CSV or spreadsheet cell: line breaks kept, formulas defused."""
    return defuse_formula(str(text))


def _inline(text: object) -> str:
    return one_line(text).translate(_INLINE)


def markdown_text(text: object) -> str:
    """Workspace text for a Markdown paragraph or list item: rendered, it shows as typed.

    HTML characters become entities (so ``<script>`` shows as text), and
    emphasis, code, link, image, heading, list and table syntax is
    backslash-escaped. Line breaks become spaces.
    """
    flat = _BLOCK_MARK.sub(r"\\\1", _inline(text))
    return _ORDERED.sub(r"\1\\\2", flat)


def markdown_cell(text: object) -> str:
    """Workspace text for a Markdown table cell: one line, escaped, no live formula.

    A cell holds inline text only, so list and heading markers need no escape
    there; a leading formula character gets the spreadsheets' ``'``.
    """
    return _inline(defuse_formula(one_line(text)))


_URL_UNSAFE = str.maketrans({c: f"%{ord(c):02X}" for c in '<>()|\\" `'})


def markdown_url(url: str) -> str:
    """A :func:`safe_url` for a Markdown link destination, in a table cell or not.

    The characters that could end the destination, split a table cell or
    open a code span are percent-encoded.
    """
    return url.translate(_URL_UNSAFE)


_HTTP_URL = re.compile(r"^(?:https?)://(?:[^/?#\s@]*@)?([^/?#\s:@]+)(?::\d*)?(?:[/?#]\S*)?$",
                       re.IGNORECASE)


def safe_url(url: object) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no whitespace; else None."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text or not text.isprintable() or not _HTTP_URL.match(text):
        return None
    return text


def url_host(url: str) -> str:
    """The host of a :func:`safe_url` (what a link shows when it has no text)."""
    match = _HTTP_URL.match(url)
    return match.group(1) if match else url
