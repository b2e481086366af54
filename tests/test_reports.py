"""The report model and its renderers, on the sample organisation."""

from __future__ import annotations

import pandas as pd
import pytest
from leadsync.reports.model import LeadershipReport, build_report
from leadsync.reports.render import render_markdown, render_text

from leadsync.emulator.sample import SampleOrg
from leadsync.tables import TABLES, build_frame


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    org = SampleOrg.generate(seed=0)
    members = build_frame("members", [{**m, "source_id": m["member_id"]} for m in org.members])
    out = {"members": members.frame}
    for name, records in org.tables.items():
        if name != "members":
            key = TABLES[name].key
            out[name] = build_frame(name, [{**r, "source_id": r[key]} for r in records],
                                    members=members.frame).frame
    return out


@pytest.fixture(scope="module")
def report(frames: dict[str, pd.DataFrame]) -> LeadershipReport:
    return build_report(frames, as_of="2026-11-01")


def test_report_joins_names_and_keeps_every_member(report: LeadershipReport,
                                                   frames: dict[str, pd.DataFrame]) -> None:
    assert report.members == 60
    assert set(report.scores["member_id"]) == set(frames["members"]["member_id"])
    assert report.scores["name"].notna().all()
    assert report.notes == []


def test_text_report_has_every_section_and_the_flags(report: LeadershipReport) -> None:
    text = render_text(report)
    for title in ("Leadership scores", "Time-zone representation", "Meeting overlap",
                  "Development tracks", "Promotion readiness", "Mentorship", "Gone quiet",
                  "Sprint-lead rotation", "Data quality"):
        assert title in text
    asia = next(line for line in text.splitlines() if line.startswith("Asia"))
    assert "leaders" in asia  # no leader in Asia while a third of the team is there
    top = report.scores.nsmallest(1, "rank")["name"].iloc[0]
    assert top in text


def test_markdown_report_uses_tables(report: LeadershipReport) -> None:
    markdown = render_markdown(report)
    assert markdown.startswith("# Leadership sync, November 2026")
    assert "| # | name | score |" in markdown


def test_missing_optional_tables_are_noted_not_fatal(frames: dict[str, pd.DataFrame]) -> None:
    small = {"members": frames["members"], "signals": frames["signals"]}
    report = build_report(small, as_of="2026-11-01")
    assert report.promotions.empty
    text = render_text(report)
    assert "add the reviews table to the config" in text
    assert "add the checkins table to the config" in text


def test_quarantined_rows_are_counted_by_reason(frames: dict[str, pd.DataFrame]) -> None:
    quarantine = pd.DataFrame({
        "table": ["signals", "signals", "members"],
        "source_id": ["a", "b", "c"],
        "reason": ["impact 'Huge' is not one of Low, Medium, High"] * 2 + ["name is missing"],
        "record": ["{}"] * 3,
    })
    text = render_text(build_report(frames, as_of="2026-11-01", quarantine=quarantine))
    assert "3 rows were quarantined" in text
    assert "impact 'Huge'" in text
