"""Reports: the report model, renderers and (later) writers, installed as ``leadsync.reports``.

``build_report(frames, as_of=...)`` gathers every analysis of the monthly
leadership sync; ``render_text`` and ``render_markdown`` turn it into text.
"""

from __future__ import annotations

from .model import LeadershipReport, build_report
from .render import render_markdown, render_text

__all__ = ["LeadershipReport", "build_report", "render_markdown", "render_text"]
