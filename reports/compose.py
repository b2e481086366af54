"""Lay a :class:`~leadsync.reports.model.ReportModel` out as a :class:`Document`.

Owns what the report says and in which order: the sections, their
explanations, which columns each table shows and how, and where each chart
goes. Pure: the charts are rendered to PNG bytes here (matplotlib, no I/O).
Every renderer and writer starts from :func:`compose`'s document, so the
HTML, the Markdown, the text and a workspace page say the same thing.
"""

from __future__ import annotations

import weakref

import pandas as pd
from leadsync.reports.charts import render_charts
from leadsync.reports.document import (
    Block,
    Callout,
    Column,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
)
from leadsync.reports.model import CALIBRATION_NOTE, ReportModel, month_label

from leadsync.analytics.timezones import POOLED_GROUP

__all__ = ["SECTION_TITLES", "compose", "document_of"]

#: Section keys and titles, in order (stable across months, for writers).
SECTION_TITLES: dict[str, str] = {
    "summary": "At a glance",
    "scores": "Leadership scores",
    "trend": "Score trend, last six months",
    "evidence": "Evidence behind each score",
    "ninebox": "Talent matrix (9-box)",
    "activity": "Team activity",
    "representation": "Time-zone representation",
    "meetings": "Overlap and the meeting rotation",
    "tracks": "Development tracks: needs support",
    "promotions": "Promotion readiness",
    "mentorship": "Mentorship: overdue check-ins",
    "quiet": "Gone quiet",
    "sprint_rotation": "Sprint-lead rotation: next up",
    "projects": "Project-lead experiments",
    "data_quality": "Data quality",
}

#: Names listed in a 9-box cell before "and N more".
BOX_NAMES = 12


def _section(key: str, *blocks: Block | None) -> Section:
    return Section(key, SECTION_TITLES[key], tuple(b for b in blocks if b is not None))


def _summary(report: ReportModel) -> Section:
    head = report.headline
    figures = pd.DataFrame({
        "figure": pd.Series([
            "Members", f"Signals in {month_label(report.as_of)}", "Signals, last 12 months",
            "Median score", "Signals with evidence", "Representation flags",
            "Rows in quarantine",
        ], dtype="string"),
        "value": pd.Series([
            f"{head['members']:,}", f"{head['signals_in_month']:,}",
            f"{head['signals_12_months']:,}", f"{float(head['median_score']):.1f}",
            f"{float(head['evidence_rate']) * 100:.0f}%", f"{head['representation_flags']}",
            f"{head['quarantined_rows']:,}",
        ], dtype="string"),
    })
    return _section("summary", Table("figures", figures, (
        Column("figure", "Figure"), Column("value", "Value"))))


def _scores(report: ReportModel, charts: dict[str, Figure]) -> Section:
    frame = report.scores
    explain = Paragraph(
        "Each signal counts by its impact (Low 1, Medium 3, High 9 by default) and fades "
        "with a 90-day half-life; a member's average is pulled toward the team's until "
        "they have several signals, and a record spread over technical, operational and "
        "communication work counts up to 1.5 times. 0–100; 50 is about one Medium signal "
        "every two weeks. Sorted by score, highest first: read each line with its evidence "
        "below.")
    table = Table("scores", frame, (
        Column("name", "Name"),
        Column("score", "Score", "number"),
        Column("score_change", "Change, 1 month", "change"),
        Column("change_3m", "Change, 3 months", "change"),
        Column("signals", "Signals", "int"),
        Column("evidence_rate", "With evidence", "percent"),
        Column("breadth", "Breadth", "number", digits=2),
    ), empty="No members.")
    return _section("scores", explain, table, charts.get("score-distribution"))


def _trend(report: ReportModel) -> Section:
    months = [c for c in report.trend.columns if c not in ("member_id", "name")]
    columns = (Column("name", "Name"), *(
        Column(m, pd.Period(m, freq="M").strftime("%b %Y"), "number") for m in months))
    return _section("trend", Paragraph(
        "Each member's score at the end of each month, same order as above."),
        Table("trend", report.trend, columns, empty="No members."))


def _evidence(report: ReportModel) -> Section:
    order = {m: i for i, m in enumerate(report.scores["member_id"])}
    frame = report.evidence.assign(_order=report.evidence["member_id"].map(order)).sort_values(
        ["_order", "contribution"], ascending=[True, False], kind="stable")
    return _section("evidence", Paragraph(
        "The signals that weigh most in each score today (impact weight × recency), the "
        "share of the member's weighted impact each one carries, and links to the evidence "
        "and to the row in the workspace."),
        Table("evidence", frame.drop(columns="_order"), (
            Column("name", "Name"),
            Column("date", "Date", "date"),
            Column("signal_type", "Type"),
            Column("indicator", "Indicator", wrap=True),
            Column("impact", "Impact"),
            Column("share", "Share of score", "percent"),
            Column("evidence", "Evidence", "link", link_text="evidence"),
            Column("row_url", "Row", "link", link_text="open row"),
        ), empty="No signals yet."))


def _ninebox(report: ReportModel, charts: dict[str, Figure]) -> Section:
    box = report.ninebox.copy()
    box["listed"] = pd.Series([
        ", ".join(n[:BOX_NAMES]) + (f" and {len(n) - BOX_NAMES} more" if len(n) > BOX_NAMES
                                    else "")
        for n in box["names"]], dtype="string")
    return _section("ninebox", Paragraph(
        "Members placed by their score's third of the team (columns) and by the third "
        "their three-month change falls in (rows). A prompt for calibration: a box says "
        "where to look, never what to decide."),
        charts.get("ninebox"),
        Table("ninebox", box, (
            Column("trajectory_tercile", "Trajectory"),
            Column("score_tercile", "Score"),
            Column("members", "Members", "int"),
            Column("listed", "Who", wrap=True),
        ), caption=f"{int(box['members'].sum())} members scored."))


def _activity(report: ReportModel, charts: dict[str, Figure]) -> Section:
    frame = report.activity.assign(
        label=[pd.Period(m, freq="M").strftime("%b %Y") for m in report.activity["month"]])
    return _section("activity", charts.get("signals-by-type"), Table("activity", frame, (
        Column("label", "Month"), Column("Technical", "Technical", "int"),
        Column("Operational", "Operational", "int"),
        Column("Communication", "Communication", "int"), Column("total", "Total", "int"))))


def _representation_table(frame: pd.DataFrame, grouping: str, label: str) -> Table:
    rows = frame[frame["grouping"] == grouping].copy()
    rows["flags"] = pd.Series([
        ", ".join(n for n, f in (("leaders", a), ("pipeline", b), ("top-scored", c))
                  if pd.notna(f) and bool(f)) or ("withheld" if pd.isna(m) else "")
        for a, b, c, m in zip(rows["leaders_flag"], rows["pipeline_flag"],
                              rows["top_scored_flag"], rows["members"], strict=True)],
        dtype="string", index=rows.index)
    return Table(f"representation_{grouping}", rows, (
        Column("group", label),
        Column("members", "Members", "int"),
        Column("team_share", "Team", "percent"),
        Column("leaders_share", "Leaders", "percent"),
        Column("pipeline_share", "Pipeline", "percent"),
        Column("top_scored_share", "Top-scored", "percent"),
        Column("signals_per_member", "Signals per member, 90 days", "number"),
        Column("flags", "Below four-fifths", wrap=True),
    ))


def _representation(report: ReportModel, charts: dict[str, Figure]) -> Section:
    return _section("representation", Paragraph(
        f"Each group's share of the team, of its leaders, of its pipeline (members on a "
        f"development track) and of its top-scored fifth. A group is flagged when its rate "
        f"is under four-fifths of the best group's. Groups under {report.min_group_size} "
        f"members are pooled into \"{POOLED_GROUP}\" so no one can be singled out; a pool "
        f"still under {report.min_group_size} is withheld. Signals per member are the last "
        f"90 days: a low figure can mean fewer observers, not less leadership."),
        _representation_table(report.representation, "region", "Region"),
        charts.get("representation"),
        _representation_table(report.representation, "offset_band", "UTC offset"))


def _meetings(report: ReportModel, charts: dict[str, Figure]) -> Section:
    day = f"{report.meeting_day:%A %-d %B %Y}"
    if report.overlap_hours > 0:
        overlap = (f"On {day} everyone is in working hours at once for "
                   f"{report.overlap_hours:.1f} h.")
    else:
        overlap = (f"On {day} no hour is inside everyone's working hours; the least "
                   "costly slots are below.")
    slots = report.best_slots.assign(
        slot=[f"{a:%H:%M}–{b:%H:%M}" for a, b in zip(report.best_slots["start_utc"],
                                                     report.best_slots["end_utc"], strict=True)])
    schedule = report.meeting_rotation.assign(
        day=[f"{a:%a %-d %b}" for a in report.meeting_rotation["start_utc"]],
        slot=[f"{a:%H:%M}–{b:%H:%M}" for a, b in zip(
            report.meeting_rotation["start_utc"], report.meeting_rotation["end_utc"],
            strict=True)])
    burden = report.meeting_burden
    worst = float(burden["burden_hours"].max()) if len(burden) else 0.0
    weeks = len(schedule)
    return _section(
        "meetings",
        Paragraph(overlap + " Members without working hours are taken as 09:00–17:00."),
        charts.get("overlap"),
        Table("best_slots", slots, (
            Column("slot", "Slot (UTC)"), Column("available", "In hours", "int"),
            Column("out_of_hours", "Out of hours", "int"),
            Column("total_burden_hours", "Burden, hours", "number"),
        ), caption="The three least costly one-hour slots."),
        Paragraph(
            f"A weekly one-hour meeting for the next {weeks} weeks, planned so that the "
            f"member who carries most out-of-hours time carries as little as possible "
            f"({worst:.1f} h over the {weeks} weeks), then so the team's total is least; "
            f"the times take turns. " + (
                "No plan does better (proven)." if report.meeting_optimal else
                f"The solver stopped at its work limit: no plan can go below "
                f"{report.meeting_bound_hours:.1f} h.")),
        Table("meeting_rotation", schedule, (
            Column("week", "Week", "int"), Column("day", "Day"), Column("slot", "UTC"),
            Column("available", "In hours", "int"),
            Column("out_of_hours", "Out of hours", "int"),
            Column("max_burden_hours", "Furthest outside anyone's hours, h", "number"),
        )),
        Table("meeting_burden", burden.head(10), (
            Column("name", "Name"), Column("timezone", "Time zone"),
            Column("out_of_hours_meetings", "Out-of-hours meetings", "int"),
            Column("burden_hours", "Hours outside, total", "number"),
            Column("worst_burden_hours", "Worst meeting, h", "number"),
        ), caption="Who carries most of it (the ten heaviest)."),
    )


def _tracks(report: ReportModel) -> Section:
    rows = report.tracks[report.tracks["status"] == "needs support"].assign(
        done=lambda f: [f"{a}/{b}" for a, b in zip(f["milestones_done"], f["milestones_total"],
                                                   strict=True)])
    return _section("tracks", Table("tracks", rows, (
        Column("name", "Name"), Column("stage", "Stage"),
        Column("months_in_stage", "Months in stage", "number"),
        Column("expected_months", "Expected", "number", digits=0),
        Column("done", "Milestones"),
    ), empty="Nobody on a track needs support."))


def _promotions(report: ReportModel) -> Section:
    return _section("promotions", Table("promotions", report.promotions, (
        Column("name", "Name"), Column("proposed_role", "Proposed role"),
        Column("weighted_score", "Weighted score", "number", digits=2),
        Column("evidence_links", "Evidence links", "int"),
        Column("senior_approvers", "Senior approvers", "int"),
        Column("status", "Status"),
    ), empty="No open nominations."))


def _mentorship(report: ReportModel) -> Section:
    rows = report.mentorship[report.mentorship["status"] != "on time"].sort_values(
        "days_since", ascending=False)
    return _section("mentorship", Table("mentorship", rows, (
        Column("name", "Name"), Column("last_checkin", "Last check-in", "date"),
        Column("days_since", "Days since", "int"), Column("status", "Status"),
    ), empty="Every mentee's check-ins are on time."))


def _quiet(report: ReportModel) -> Section:
    return _section("quiet", Paragraph(
        "Members whose recent signals are well under their own earlier rate: a reason to "
        "check in, not a judgement."), Table("quiet", report.quiet, (
            Column("name", "Name"),
            Column("baseline_per_week", "Per week before", "number", digits=2),
            Column("recent_per_week", "Per week lately", "number", digits=2),
            Column("last_signal", "Last signal", "date"),
        ), empty="Nobody has gone quiet."))


def _sprint(report: ReportModel) -> Section:
    due = report.rotation.sort_values("queue_position").head(3)
    return _section("sprint_rotation", Table("sprint_rotation", due, (
        Column("name", "Name"), Column("sprints_led", "Sprints led", "int"),
        Column("last_led", "Last led", "date"),
    ), empty="No sprint rotation recorded."))


def _project_fairness_table(frame: pd.DataFrame, grouping: str, label: str) -> Table:
    rows = frame[frame["grouping"] == grouping].copy()
    rows["flags"] = pd.Series([
        ", ".join(n for n, f in (("pilots", a), ("improvements", b)) if pd.notna(f) and bool(f))
        or ("withheld" if pd.isna(m) else "")
        for a, b, m in zip(rows["pilot_leads_flag"], rows["improvement_leads_flag"],
                           rows["pipeline"], strict=True)], dtype="string", index=rows.index)
    return Table(f"project_fairness_{grouping}", rows, (
        Column("group", label),
        Column("pipeline", "Members", "int"),
        Column("pipeline_share", "Pipeline", "percent"),
        Column("pilot_leads_share", "Pilot leads", "percent"),
        Column("improvement_leads_share", "Improvement leads", "percent"),
        Column("flags", "Below four-fifths", wrap=True),
    ), empty="Nobody is on a development track.")


def _projects(report: ReportModel, charts: dict[str, Figure]) -> Section:
    if "projects" in report.untracked:
        return _section("projects", Callout(
            "No projects table is tracked, so this section is empty. Add the projects table "
            "(the seed's project-lead experiments: shadow, pilot and improvement projects, "
            "each with its lead) under [tables.projects] in leadsync.toml (`leadsync init` "
            "writes its fields with the seed's names; `leadsync bootstrap` creates the table "
            "in an empty workspace) and sync."))
    quarter = report.quarter_start
    since = f"{quarter:%-d %B %Y}" if quarter is not None else "the quarter's start"
    shown = report.projects_quarter.assign(state=pd.Series([
        str(outcome) if str(status) == "finished" else str(status)
        for status, outcome in zip(report.projects_quarter["status"],
                                   report.projects_quarter["outcome"], strict=True)],
        dtype="string", index=report.projects_quarter.index))
    led = Table("projects_quarter", shown, (
        Column("name", "Project", wrap=True),
        Column("kind", "Kind"),
        Column("lead", "Lead"),
        Column("sponsor", "Sponsor"),
        Column("started_on", "Started", "date"),
        Column("ended_on", "Ends", "date"),
        Column("state", "Outcome"),
        Column("evidence", "Evidence", "link", link_text="evidence"),
    ), caption=f"Projects running at any time from {since} to "
               f"{report.as_of:%-d %B %Y}, by start.",
        empty="No project ran this quarter.")
    ladder = report.project_ladder.sort_values(["name", "member_id"], kind="stable")
    tried = ladder[["shadow", "pilot", "improvement"]].astype("Int64").sum(axis=1) > 0
    untried = ladder[~tried.to_numpy(dtype=bool)]
    waiting = Paragraph(
        f"{len(untried)} of {len(ladder)} members on a development track have led no "
        "project yet; the seed's ladder starts with shadowing a senior lead"
        + (":" if len(untried) else "."))
    climbing = ladder[tried.to_numpy(dtype=bool)]
    problems = report.project_problems
    fair = report.project_fairness
    return _section(
        "projects",
        Paragraph(
            "The seed's project-lead experiments: shadow projects (observe a senior lead "
            "in planning), pilot projects (lead a small cross-team initiative with an "
            "executive sponsor) and improvement initiatives (own a process improvement "
            "with success metrics). Each gives a different experience and evidence for "
            "promotion."),
        led,
        waiting,
        Table("projects_untried", untried, (
            Column("name", "Name"), Column("stage", "Stage"),
        )) if len(untried) else None,
        Table("project_ladder", climbing, (
            Column("name", "Name"),
            Column("stage", "Stage"),
            Column("shadow", "Shadow", "int"),
            Column("pilot", "Pilot", "int"),
            Column("improvement", "Improvement", "int"),
            Column("in_progress", "Under way", "int"),
            Column("reached", "Highest done well"),
            Column("next_step", "Next step"),
        ), caption="The rest of the pipeline: projects led by kind, and the next rung "
                   "(Shadow, then Pilot, then Improvement; a project that did not work or "
                   "is under way does not climb).") if len(climbing) else None,
        Paragraph(
            "Who gets the pilots and improvements, over the last 12 months: each group's "
            "members on a development track, its share of the pipeline, and its share of "
            "the pipeline members who led a pilot or an improvement. A group is "
            "flagged when its rate is under four-fifths of the best group's. Groups under "
            f"{report.min_group_size} pipeline members are pooled into \"{POOLED_GROUP}\"; "
            f"a pool still under {report.min_group_size} is withheld."),
        _project_fairness_table(fair, "region", "Region"),
        charts.get("project-leads"),
        _project_fairness_table(fair, "offset_band", "UTC offset"),
        Paragraph("Rows the seed's rules say need fixing in the workspace:"
                  if len(problems) else
                  "Every pilot has a sponsor, every improvement its success metrics, and "
                  "no project is past its end without an outcome."),
        Table("project_problems", problems, (
            Column("name", "Project", wrap=True), Column("kind", "Kind"),
            Column("lead", "Lead"), Column("problem", "Problem", wrap=True),
        )) if len(problems) else None,
    )


def _data_quality(report: ReportModel) -> Section:
    blocks: list[Block] = []
    quarantine = report.quarantine
    if quarantine.empty:
        blocks.append(Paragraph("Every row fitted the canonical tables."))
    else:
        counts = (quarantine.groupby(["table", "reason"], dropna=False).size()
                  .sort_values(ascending=False).head(15).rename("rows").reset_index())
        blocks.append(Paragraph(f"{len(quarantine):,} rows did not fit the canonical tables "
                                "and are left out until they are fixed in the workspace."))
        blocks.append(Table("quarantine", counts, (
            Column("table", "Table"), Column("reason", "Reason", wrap=True),
            Column("rows", "Rows", "int"))))
    missing = report.missing_evidence
    total = int(missing["without_evidence"].sum()) if len(missing) else 0
    blocks.append(Paragraph(
        f"{total:,} signals in the last 12 months have no evidence link"
        + (", most of them for:" if total else ".")))
    if total:
        blocks.append(Table("missing_evidence", missing.head(10), (
            Column("name", "Name"), Column("without_evidence", "Without evidence", "int"),
            Column("signals", "Signals", "int"))))
    unplaced = report.missing_timezone
    if unplaced.empty:
        blocks.append(Paragraph("Every member has a valid time zone."))
    else:
        blocks.append(Paragraph(f"{len(unplaced)} members cannot be placed in a time zone, "
                                "so the representation and meeting figures leave them out:"))
        blocks.append(Table("missing_timezone", unplaced, (
            Column("name", "Name"), Column("reason", "Reason", wrap=True))))
    blocks += [Callout(note) for note in report.notes]
    return _section("data_quality", *blocks)


def _lead(report: ReportModel) -> tuple[Callout, ...]:
    when = f"{report.as_of:%-d %B %Y}"
    if report.sync is not None:
        sync = (f"It reflects the store as of sync run {report.sync.run_id}, finished "
                f"{report.sync.finished_at:%Y-%m-%d %H:%M} UTC.")
    else:
        sync = "It was built from frames passed in directly, not from a synced store."
    lead = [Callout(CALIBRATION_NOTE),
            Callout(f"As of {when}, end of day UTC: signals dated later are not counted. "
                    + sync)]
    lead += [Callout(w, "warning") for w in report.warnings]
    return tuple(lead)


def compose(report: ReportModel, *, charts: bool = True) -> Document:
    """The report as a :class:`~leadsync.reports.document.Document`.

    With ``charts=False`` no chart is rendered and the figures are left out
    (the text renderer's case: matplotlib is the slow part).
    """
    figures = ({key: Figure(chart) for key, chart in render_charts(report).items()}
               if charts else {})
    subtitle = (f"{report.members:,} members, {report.signals:,} signals on record, "
                f"as of {report.as_of:%-d %B %Y}")
    made = (f"made {report.generated_at:%Y-%m-%d %H:%M} UTC"
            if report.generated_at is not None else "")
    sections = (
        _summary(report), _scores(report, figures), _trend(report), _evidence(report),
        _ninebox(report, figures), _activity(report, figures),
        _representation(report, figures), _meetings(report, figures), _tracks(report),
        _promotions(report), _mentorship(report), _quiet(report), _sprint(report),
        _projects(report, figures), _data_quality(report),
    )
    return Document(report.title, subtitle, _lead(report), sections, report.headline, made)


#: Documents already laid out, per report (charts are the slow part, and the
#: HTML, the Markdown and a workspace writer all start from the same one).
_documents: weakref.WeakKeyDictionary[ReportModel, Document] = weakref.WeakKeyDictionary()


def document_of(report: ReportModel) -> Document:
    """:func:`compose` with its charts, laid out once per report."""
    document = _documents.get(report)
    if document is None:
        document = _documents[report] = compose(report)
    return document
