"""The report as one self-contained HTML file, and the notebook view of it.

Pure: a report in, text out (:func:`render_html`). The page is built by
Jinja2 from ``report.html.j2`` (styles in ``report.css``) with autoescaping on, so every piece
of workspace text (names, indicators, reasons) is escaped by the engine, and
nothing in the template marks it safe. Everything is in the one file: the
styles inline, the charts as ``data:`` PNGs, no script, no font, no fetch of
any kind; a Content-Security-Policy in the page forbids one anyway. It reads
at a phone's width (tables scroll sideways in their own box) and prints
(print styles: no scroll boxes, no breaks inside rows or charts).

The tables are written by the template's own macro rather than pandas'
Styler or great_tables: the document already holds each cell's display text
(:func:`~leadsync.reports.document.format_value`, shared with the Markdown
and text renderers and the workspace writers), so a second formatting layer
would only add a way for the renderings to disagree, and Styler takes
seconds on the 6,000-row evidence table of a 2,000-member team.
"""

from __future__ import annotations

import base64
import functools

import jinja2
from leadsync.reports.compose import document_of
from leadsync.reports.document import Callout, Document, Figure, LinkList, Paragraph, Table
from leadsync.reports.model import ReportModel

__all__ = ["render_document_html", "render_html"]


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leadsync.reports", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    env.tests["paragraph"] = lambda b: isinstance(b, Paragraph)
    env.tests["callout"] = lambda b: isinstance(b, Callout)
    env.tests["table"] = lambda b: isinstance(b, Table)
    env.tests["linklist"] = lambda b: isinstance(b, LinkList)
    env.tests["figure"] = lambda b: isinstance(b, Figure)
    env.globals["zip"] = zip
    return env


def render_document_html(document: Document, *, fragment: bool = False,
                         anchor: str = "ls") -> str:
    """A :class:`Document` as a whole HTML page, or (``fragment``) a ``<div>`` with its styles.

    ``anchor`` prefixes the ids of the sections (several reports in one notebook).
    """
    template = _environment().get_template("report.html.j2")
    return template.render(doc=document, fragment=fragment, anchor=anchor)


def render_html(report: ReportModel, *, fragment: bool = False) -> str:
    """The report as one self-contained HTML page (or, ``fragment``, for a notebook cell)."""
    return render_document_html(document_of(report), fragment=fragment,
                                anchor=f"ls-{report.month}")
