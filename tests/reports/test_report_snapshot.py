"""The Markdown report of the sample organisation, compared with a stored snapshot.

Fixed seed (0), fixed as-of date (the end of October 2026), fixed sync stamp
and time of making. When a change to the report is intended, regenerate it
with ``LEADSYNC_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest
tests/reports/test_report_snapshot.py`` and review the diff. The meeting
rotation's ties are broken by the solver (HiGHS, through SciPy): a new SciPy
may pick another of several equally good plans, which shows here first.
"""

from __future__ import annotations

import os
from pathlib import Path

from leadsync.reports import render_markdown
from report_sample import sample_report

SNAPSHOT = Path(__file__).parent / "snapshots" / "sample-2026-10.md"


def test_markdown_matches_the_snapshot() -> None:
    markdown = render_markdown(sample_report())
    if os.environ.get("LEADSYNC_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(markdown, encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert markdown.splitlines() == expected.splitlines()


def test_the_snapshot_links_every_chart_beside_it() -> None:
    report = sample_report()
    markdown = SNAPSHOT.read_text(encoding="utf-8")
    for chart in report.document.charts:
        assert f"]({chart.filename})" in markdown
