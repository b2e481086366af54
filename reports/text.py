"""The report as plain text, for a terminal or a log (what ``leadsync demo`` prints).

Pure: a report in, text out. The same document as the HTML and Markdown,
without the charts and the long per-member tables (the score trend and the
evidence; the scores table is cut to the first :data:`TEXT_ROWS`). Tables go
through ``tabulate``; every cell is one line with control characters
removed (:func:`leadsync.inert.one_line`), so a name with a line break or a
terminal escape sequence cannot break a row or the terminal.
"""

from __future__ import annotations

from leadsync.reports.compose import compose
from leadsync.reports.document import Callout, Document, LinkList, Paragraph, Table
from leadsync.reports.model import ReportModel
from tabulate import tabulate

from leadsync.inert import one_line

__all__ = ["TEXT_ROWS", "render_text"]

#: Rows of a table shown in text before "… and N more".
TEXT_ROWS = 10
#: Sections left out of the text (long per-member tables the HTML has).
SKIPPED = ("trend", "evidence")


def _table(table: Table) -> list[str]:
    rows = [[one_line(text) for text in row] for row in table.rows()]
    if not rows:
        return [one_line(table.empty)]
    shown = rows[:TEXT_ROWS]
    align = ["right" if c.numeric else "left" for c in table.columns]
    lines = tabulate(shown, headers=[c.label for c in table.columns], tablefmt="simple",
                     disable_numparse=True, colalign=align).splitlines()
    if len(rows) > len(shown):
        lines.append(f"… and {len(rows) - len(shown)} more (see the HTML or Markdown report)")
    if table.caption:
        lines.append(one_line(table.caption))
    return lines


def render_document_text(document: Document) -> str:
    out = [one_line(document.title), one_line(document.byline)]
    for callout in document.lead:
        out.append(("Warning: " if callout.tone == "warning" else "") + one_line(callout.text))
    for section in document.sections:
        if section.key in SKIPPED:
            continue
        title = one_line(section.title)
        out += ["", title, "=" * len(title)]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                out.append(one_line(block.text))
            elif isinstance(block, Callout):
                out.append(("Warning: " if block.tone == "warning" else "Note: ")
                           + one_line(block.text))
            elif isinstance(block, Table):
                out += _table(block)
            elif isinstance(block, LinkList):
                out += [f"- {one_line(link.text)}: {link.url}" for link in block.links]
    return "\n".join(out) + "\n"


def render_text(report: ReportModel) -> str:
    """The report for a terminal or a log (no charts are rendered for it)."""
    return render_document_text(compose(report, charts=False))
