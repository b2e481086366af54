"""Reports: the monthly leadership-sync report, installed as ``leadsync.reports``.

The flow, pure until the last step::

    frames ──build_report──► LeadershipReport ──.document──► Document ──render_*──► text
                                                                   └──write_report──► files

* :func:`build_report` (:mod:`.report`, over :func:`build_model` in
  :mod:`.model`): canonical frames and a date in, every analysis of the month
  out, as frames with member names;
* :attr:`LeadershipReport.document` (:mod:`.compose`, :mod:`.document`): the
  report as renderer-neutral sections, tables (typed frames), notes, links
  and charts (PNG bytes with a title and alt text, :mod:`.charts`), which a
  workspace writer can walk;
* renderers: :func:`render_html` (one self-contained page; also the
  notebook's ``_repr_html_``), :func:`render_markdown`, :func:`render_text`;
* :func:`write_report` (:mod:`.write`): the files, atomically, owner-only;
* :func:`build_packet` (:mod:`.packet_display`, over :mod:`.packet`): a
  nominee's promotion packet, shown inline in a notebook as its HTML page;
  :func:`open_nominations` lists the nominees of the open reviews, and
  :func:`render_packet_html` / :func:`render_packet_markdown` render a packet;
* :func:`run_report` (:mod:`.job`): the ``leadsync report`` command's job,
  from the store to the files.
"""

from __future__ import annotations

from leadsync.reports.compose import compose
from leadsync.reports.document import (
    Callout,
    Chart,
    Column,
    Document,
    Figure,
    Link,
    LinkList,
    Paragraph,
    Section,
    Table,
)
from leadsync.reports.html import render_html
from leadsync.reports.job import ReportRun, run_report
from leadsync.reports.links import row_links
from leadsync.reports.markdown import render_markdown
from leadsync.reports.model import (
    ReportModel,
    SyncStamp,
    build_model,
    last_complete_month,
    month_end,
)
from leadsync.reports.packet import PromotionPacket, open_nominations
from leadsync.reports.packet_compose import render_packet_html, render_packet_markdown
from leadsync.reports.packet_display import PacketView, build_packet
from leadsync.reports.report import LeadershipReport, build_report
from leadsync.reports.text import render_text
from leadsync.reports.write import WrittenReport, write_report

__all__ = [
    "Callout",
    "Chart",
    "Column",
    "Document",
    "Figure",
    "LeadershipReport",
    "Link",
    "LinkList",
    "PacketView",
    "Paragraph",
    "PromotionPacket",
    "ReportModel",
    "ReportRun",
    "Section",
    "SyncStamp",
    "Table",
    "WrittenReport",
    "build_model",
    "build_packet",
    "build_report",
    "compose",
    "last_complete_month",
    "month_end",
    "open_nominations",
    "render_html",
    "render_markdown",
    "render_packet_html",
    "render_packet_markdown",
    "render_text",
    "row_links",
    "run_report",
    "write_report",
]
