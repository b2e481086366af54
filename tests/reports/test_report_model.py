"""The report model on the sample organisation: trend, evidence, 9-box, quality, privacy."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from leadsync.reports import (
    LeadershipReport,
    SyncStamp,
    build_report,
    last_complete_month,
    month_end,
)
from leadsync.reports.model import TERCILES
from report_sample import MONTH, SYNC, row_url, sample_frames, sample_report

import leadsync
from leadsync.analytics import POOLED_GROUP


@pytest.fixture(scope="module")
def report() -> LeadershipReport:
    return sample_report()


def test_reports_are_reachable_from_import_leadsync() -> None:
    assert leadsync.reports.build_report is build_report


def test_month_end_and_the_last_complete_month() -> None:
    assert month_end("2026-10") == pd.Timestamp("2026-10-31T23:59:59.999999Z")
    assert month_end("2024-02") == pd.Timestamp("2024-02-29T23:59:59.999999Z")
    assert str(last_complete_month(dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC))) == "2026-11"
    assert str(last_complete_month(pd.Timestamp("2027-01-01T00:00Z"))) == "2026-12"


def test_the_report_says_what_it_is_and_what_it_reflects(report: LeadershipReport) -> None:
    lead = [c.text for c in report.document.lead]
    assert "input to a calibration discussion, not a ranking" in lead[0]
    assert "As of 31 October 2026" in lead[1]
    assert "sync run 2, finished 2026-11-01 03:17 UTC" in lead[1]
    assert report.warnings == []


def test_every_member_is_scored_with_a_name(report: LeadershipReport) -> None:
    frames = sample_frames()
    assert report.members == 60
    assert set(report.scores["member_id"]) == set(frames["members"]["member_id"])
    assert report.scores["name"].notna().all()
    assert report.notes == []


def test_trend_holds_six_month_ends(report: LeadershipReport) -> None:
    months = [c for c in report.trend.columns if c not in ("member_id", "name")]
    assert months == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    current = report.trend.set_index("member_id")["2026-10"]
    scores = report.scores.set_index("member_id")["score"]
    assert (current.loc[scores.index] == scores).all()
    # The month before is score_members' own previous month.
    previous = report.trend.set_index("member_id")["2026-09"]
    assert (previous.loc[scores.index].round(6)
            == report.scores.set_index("member_id")["previous_score"].round(6)).all()
    # Signals per month, by type, for the last 12 months.
    assert report.activity["month"].iloc[0] == "2025-11"
    assert report.activity["month"].iloc[-1] == "2026-10"
    parts = report.activity[["Technical", "Operational", "Communication"]].sum(axis=1)
    assert (parts == report.activity["total"]).all()


def test_evidence_behind_each_score_links_the_signal_and_its_row(
        report: LeadershipReport) -> None:
    evidence = report.evidence
    assert evidence.groupby("member_id").size().max() == 3
    scored = set(report.scores.loc[report.scores["signals"] > 0, "member_id"])
    assert set(evidence["member_id"]) == scored
    assert (evidence["date"] <= report.as_of).all()
    first = evidence.iloc[0]
    assert first["row_url"] == row_url("signals", first["signal_id"])
    # The most contributing first, for each member.
    for _, rows in evidence.groupby("member_id"):
        assert list(rows["contribution"]) == sorted(rows["contribution"], reverse=True)
    assert ((evidence["share"] > 0) & (evidence["share"] <= 1)).all()


def test_the_nine_box_places_every_scored_member_once(report: LeadershipReport) -> None:
    box = report.ninebox
    assert len(box) == 9
    assert set(box["score_tercile"]) == set(TERCILES) == set(box["trajectory_tercile"])
    assert int(box["members"].sum()) == len(report.scores)
    assert sum(len(n) for n in box["names"]) == len(report.scores)
    high = report.scores[(report.scores["score_tercile"] == "upper third")
                         & (report.scores["trajectory_tercile"] == "upper third")]
    cell = box[(box["score_tercile"] == "upper third")
               & (box["trajectory_tercile"] == "upper third")]
    assert int(cell["members"].iloc[0]) == len(high)


def test_small_groups_are_pooled_in_every_representation_view(
        report: LeadershipReport) -> None:
    minimum = report.min_group_size
    shown = report.representation[report.representation["members"].notna()]
    assert (shown["members"] >= minimum).all()
    assert POOLED_GROUP in set(report.representation["group"])
    regions = report.overlap_by_region
    assert (regions["members"] >= minimum).all()
    allowed = set(report.representation.loc[
        report.representation["grouping"] == "region", "group"])
    assert set(regions["region"]) <= allowed
    # Each row of the overlap heatmap counts within its group.
    hours = [f"{h:02d}" for h in range(24)]
    assert (regions[hours].max(axis=1) <= regions["members"]).all()


def test_a_team_too_small_to_publish_draws_no_group() -> None:
    frames = sample_frames(seed=3, members=8)
    keep = frames["members"]["member_id"].head(2)
    tiny = {"members": frames["members"][frames["members"]["member_id"].isin(keep)],
            "signals": frames["signals"][frames["signals"]["member_id"].isin(keep)]}
    report = build_report(tiny, as_of=month_end(MONTH))
    region = report.representation[report.representation["grouping"] == "region"]
    assert region["members"].isna().all()  # one pooled row, numbers withheld
    assert report.overlap_by_region.empty
    assert "no region large enough" in report.document.section("representation").blocks[2]\
        .chart.alt  # type: ignore[union-attr]


def test_data_quality_comes_from_the_frames_without_being_passed(
        report: LeadershipReport) -> None:
    frames = sample_frames()
    expected = sum(len(f.attrs["quarantine"]) for f in frames.values())
    assert expected > 0
    assert len(report.quarantine) == expected
    missing = report.missing_evidence
    assert int(missing["without_evidence"].sum()) > 0
    assert (missing["without_evidence"] <= missing["signals"]).all()


def test_members_without_a_time_zone_are_named() -> None:
    frames = sample_frames()
    members = frames["members"].copy()
    members.loc[members.index[0], "timezone"] = pd.NA
    frames["members"] = members
    report = build_report(frames, as_of=month_end(MONTH))
    assert list(report.missing_timezone["name"]) == [members["name"].iloc[0]]
    assert report.missing_timezone["reason"].str.contains("timezone").all()


def test_a_stale_store_is_warned_about_in_the_report() -> None:
    old = SyncStamp(7, pd.Timestamp("2026-11-01T03:00Z"))
    report = build_report(sample_frames(), as_of=month_end(MONTH), sync=old,
                          generated_at="2026-11-05T03:01Z")
    assert len(report.warnings) == 1
    assert "run 7" in report.warnings[0]
    assert "4 days before" in report.warnings[0]
    assert [c.tone for c in report.document.lead][-1] == "warning"
    fresh = build_report(sample_frames(), as_of=month_end(MONTH), sync=SYNC,
                         generated_at="2026-11-02T03:00Z")
    assert fresh.warnings == []


def test_missing_optional_tables_are_noted_not_fatal() -> None:
    frames = sample_frames()
    report = build_report({"members": frames["members"], "signals": frames["signals"]},
                          as_of=month_end(MONTH))
    assert report.promotions.empty
    assert any("add the reviews table to the config" in n for n in report.notes)


def test_the_meeting_rotation_covers_the_next_quarter(report: LeadershipReport) -> None:
    assert report.meeting_day == dt.date(2026, 11, 4)  # the first Wednesday after
    assert len(report.meeting_rotation) == 13
    largest = float(report.meeting_burden["burden_hours"].max())
    assert report.meeting_bound_hours <= largest
    assert report.meeting_optimal == (report.meeting_bound_hours == largest)


def test_the_headline_figures(report: LeadershipReport) -> None:
    head = report.headline
    assert head["month"] == "2026-10"
    assert head["members"] == 60
    assert head["signals_12_months"] == int(report.activity["total"].sum())
    assert head["quarantined_rows"] == len(report.quarantine)
    assert head["sync_run"] == 2


def test_a_notebook_shows_the_report_inline(report: LeadershipReport) -> None:
    markup = report._repr_html_()
    assert markup.startswith("<style>")
    assert '<div class="leadsync-report">' in markup
    assert "<html" not in markup  # a fragment for the output cell, not a page
    assert 'id="ls-2026-10-scores"' in markup  # ids per month: two reports can share a notebook
    assert markup.count("data:image/png;base64,") == 6
    assert repr(report) == "<LeadershipReport 2026-10: 60 members, 1973 signals>"


def test_a_notebook_shows_each_chart_as_its_png(report: LeadershipReport) -> None:
    charts = [block for section in report.document.sections for block in section.blocks
              if isinstance(block, leadsync.reports.Figure)]
    assert charts
    for figure in charts:
        png = figure.chart._repr_png_()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert png == figure.chart.png
        assert "PNG" not in repr(figure.chart)  # the bytes are not dumped as text
