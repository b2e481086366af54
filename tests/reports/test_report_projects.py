"""The report's project-lead experiments section: who led what, who has not, fairness, checks."""

from __future__ import annotations

import pandas as pd
import pytest
from leadsync.reports import (
    LeadershipReport,
    build_report,
    month_end,
    render_html,
    render_markdown,
)
from leadsync.reports.document import Callout, Figure, Table
from report_sample import MONTH, sample_frames, sample_report

from leadsync.analytics import POOLED_GROUP
from leadsync.tables import build_frame


@pytest.fixture(scope="module")
def report() -> LeadershipReport:
    return sample_report()


def test_the_section_lists_this_quarters_projects_with_names(report: LeadershipReport) -> None:
    quarter = report.projects_quarter
    assert report.quarter_start == pd.Timestamp("2026-10-01T00:00Z")
    assert len(quarter) > 0
    # Each ran some time in October (the quarter so far), none started after the report.
    assert (quarter["started_on"] <= report.as_of).all()
    assert (quarter["ended_on"].isna() | (quarter["ended_on"] >= report.quarter_start)).all()
    assert quarter["lead"].notna().all()
    pilots = quarter[quarter["kind"] == "Pilot"]
    assert (pilots["sponsor"].notna() == pilots["sponsor_id"].notna()).all()
    section = report.document.section("projects")
    tables = {b.key: b for b in section.blocks if isinstance(b, Table)}
    assert set(tables) >= {"projects_quarter", "project_fairness_region",
                           "project_fairness_offset_band", "project_problems"}
    assert [c.label for c in tables["projects_quarter"].columns][:3] == ["Project", "Kind",
                                                                        "Lead"]
    assert any(isinstance(b, Figure) and b.chart.key == "project-leads" for b in section.blocks)


def test_pipeline_members_with_no_experience_are_named(report: LeadershipReport) -> None:
    ladder = report.project_ladder
    assert ladder["pipeline"].all()
    untried = ladder[ladder[["shadow", "pilot", "improvement"]].sum(axis=1) == 0]
    assert 0 < len(untried) < len(ladder)
    assert (untried["next_step"] == "Shadow").all()
    section = report.document.section("projects")
    table = next(b for b in section.blocks if isinstance(b, Table)
                 and b.key == "projects_untried")
    assert sorted(r[0] for r in table.rows()) == sorted(untried["name"])
    markdown = render_markdown(report)
    assert f"{len(untried)} of {len(ladder)} members on a development track have led no " \
           "project yet" in markdown


def test_the_fairness_table_is_published_pooled(report: LeadershipReport) -> None:
    fair = report.project_fairness
    shown = fair[~fair["suppressed"].astype(bool)]
    assert (shown["pipeline"] >= report.min_group_size).all()
    region = fair[fair["grouping"] == "region"].set_index("group")
    # The sample's pilots drift to the leaders' region: America leads, the rest are flagged.
    assert bool(region.loc["America", "pilot_leads_flag"]) is False
    assert region["pilot_leads_flag"].fillna(False).sum() >= 1
    if POOLED_GROUP in region.index:
        assert bool(region.loc[POOLED_GROUP, "suppressed"]) is True


def test_the_data_quality_checks_are_in_the_section(report: LeadershipReport) -> None:
    assert set(report.project_problems["problem"]) == {
        "pilot has no sponsor", "improvement has no success metrics",
        "past its end date without an outcome"}
    assert report.project_problems["lead"].notna().all()
    assert "projects" in set(report.quarantine["table"])  # the sample's "Hackathon" row


def test_a_workspace_without_the_table_says_which_table_would_fill_it() -> None:
    frames = sample_frames()
    frames.pop("projects")
    report = build_report(frames, as_of=month_end(MONTH))
    assert report.untracked == ("projects",)
    assert report.projects_quarter.empty
    assert report.project_problems.empty
    section = report.document.section("projects")
    assert len(section.blocks) == 1
    callout = section.blocks[0]
    assert isinstance(callout, Callout)
    assert "[tables.projects]" in callout.text
    assert "leadsync init" in callout.text
    assert "project-leads" not in {c.key for c in report.document.charts}
    assert any("add the projects table to the config" in n for n in report.notes)
    assert "No projects table is tracked" in render_markdown(report)


def test_an_empty_projects_table_shows_everyone_waiting() -> None:
    frames = sample_frames()
    frames["projects"] = build_frame("projects", []).frame
    report = build_report(frames, as_of=month_end(MONTH))
    assert report.untracked == ()
    ladder = report.project_ladder
    assert (ladder[["shadow", "pilot", "improvement"]].sum(axis=1) == 0).all()
    markdown = render_markdown(report)
    assert "No project ran this quarter." in markdown
    assert (f"{len(ladder)} of {len(ladder)} members on a development track have led no "
            "project yet") in markdown
    assert "Every pilot has a sponsor" in markdown


def test_workspace_text_in_a_project_is_inert(report: LeadershipReport) -> None:
    frames = sample_frames()
    hostile = frames["projects"].copy()
    hostile["name"] = hostile["name"].astype("object")
    shown = hostile["project_id"] == report.projects_quarter["project_id"].iloc[0]
    hostile.loc[shown, "name"] = "<script>alert(1)</script> | =cmd"
    hostile["name"] = hostile["name"].astype("string")
    frames["projects"] = hostile
    built = build_report(frames, as_of=month_end(MONTH))
    html = render_html(built)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; | =cmd" in html
    markdown = render_markdown(built)
    assert "<script>" not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| =cmd" in markdown
