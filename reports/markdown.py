"""The report as Markdown (GitHub-flavoured), its charts as image files beside it.

Pure: a report in, text out (:func:`render_markdown`); the chart PNGs the
text links to are :attr:`Document.charts`, saved by
:func:`leadsync.reports.write_report` under their ``filename`` next to the
Markdown file. Tables go through ``tabulate`` (pipe format). Every piece of
workspace text is made inert by :mod:`leadsync.inert`: in a table cell, a
``|`` or a line break cannot add a column or a row, HTML shows as text, link
and image syntax is escaped, and a cell never starts with a live ``=``,
``+``, ``-`` or ``@`` (spreadsheet formula injection). Numbers the report
computes use a true minus sign, which no spreadsheet reads as a formula.
"""

from __future__ import annotations

from leadsync.reports.compose import document_of
from leadsync.reports.document import (
    Block,
    Callout,
    Document,
    LinkList,
    Paragraph,
    Table,
)
from leadsync.reports.model import ReportModel
from tabulate import tabulate

from leadsync.inert import markdown_cell, markdown_text, markdown_url

__all__ = ["markdown_table", "render_markdown"]


def _figure(text: str) -> str:
    """A figure the report computed: digits, separators, a true minus sign, or a "+"
    that is escaped so no cell starts with a live formula character."""
    return "\\" + text if text.startswith(("+", "=", "-", "@")) else text


def markdown_table(table: Table) -> list[str]:
    """A :class:`Table` as pipe-table lines, every cell escaped."""
    headers = [markdown_cell(c.label) for c in table.columns]
    rows = []
    for cells in table.cells():
        row = []
        for (text, url), column in zip(cells, table.columns, strict=True):
            if url is not None:
                row.append(f"[{markdown_cell(text)}]({markdown_url(url)})")
            elif column.numeric:
                row.append(_figure(text))
            else:
                row.append(markdown_cell(text))
        rows.append(row)
    if not rows:
        return [markdown_text(table.empty)]
    align = ["right" if c.numeric else "left" for c in table.columns]
    lines = tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True,
                     colalign=align).splitlines()
    if table.caption:
        lines += ["", f"*{markdown_text(table.caption)}*"]
    return lines


def _block(block: Block, image_prefix: str) -> list[str]:
    if isinstance(block, Paragraph):
        return [markdown_text(block.text)]
    if isinstance(block, Callout):
        label = "Warning" if block.tone == "warning" else "Note"
        return [f"> **{label}:** {markdown_text(block.text)}"]
    if isinstance(block, Table):
        return markdown_table(block)
    if isinstance(block, LinkList):
        lines = [f"**{markdown_text(block.title)}**", ""]
        lines += [f"- [{markdown_text(link.text)}]({markdown_url(link.url)})"
                  + (f" {markdown_text(link.note)}" if link.note else "")
                  for link in block.links]
        return lines
    chart = block.chart
    lines = [f"![{markdown_text(chart.alt)}]({markdown_url(image_prefix + chart.filename)})"]
    if block.caption:
        lines += ["", f"*{markdown_text(block.caption)}*"]
    return lines


def render_document(document: Document, *, image_prefix: str = "") -> str:
    """A :class:`Document` as Markdown; images are linked as ``image_prefix + filename``."""
    out = [f"# {markdown_text(document.title)}", "", f"*{markdown_text(document.byline)}*"]
    for callout in document.lead:
        out += ["", *_block(callout, image_prefix)]
    out += ["", "**Contents:** " + " · ".join(
        markdown_text(s.title) for s in document.sections)]
    for section in document.sections:
        out += ["", f"## {markdown_text(section.title)}"]
        for block in section.blocks:
            out += ["", *_block(block, image_prefix)]
    return "\n".join(out) + "\n"


def render_markdown(report: ReportModel, *, image_prefix: str = "") -> str:
    """The report as Markdown, linking each chart as ``image_prefix + chart.filename``.

    With the default prefix the images are expected beside the Markdown
    file, which is where :func:`leadsync.reports.write_report` puts them.
    """
    return render_document(document_of(report), image_prefix=image_prefix)
