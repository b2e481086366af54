"""Renderers: a :class:`~leadsync.reports.model.LeadershipReport` as text or Markdown.

Pure functions of the report; saving or pushing the result is a writer's job.
Scores are framed as calibration input, never as a ranking to act on alone,
and groups under the minimum size are already pooled by the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from leadsync.reports.model import LeadershipReport, month_label

__all__ = ["render_markdown", "render_text"]

TOP = 10


def _missing(value: object) -> bool:
    if value is None or isinstance(value, (str, tuple, list)):
        return False
    return bool(pd.isna(value))  # type: ignore[call-overload]


def _fmt(value: object, digits: int = 1) -> str:
    if value is None or _missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _pct(value: object) -> str:
    return "–" if value is None or _missing(value) else f"{float(value) * 100:.0f}%"  # type: ignore[arg-type]


def _flagged(value: object) -> bool:
    return value is not None and not _missing(value) and bool(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> list[str]:
    if not rows:
        return ["(none)"]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return lines
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def _sections(report: LeadershipReport, markdown: bool) -> list[str]:
    h1, h2 = ("# ", "## ") if markdown else ("", "")
    out: list[str] = []

    def section(title: str) -> None:
        out.extend(["", f"{h2}{title}" if markdown else title,
                    "" if markdown else "=" * len(title)])

    out.append(f"{h1}Leadership sync, {month_label(report.as_of)} "
               f"(as of {report.as_of:%Y-%m-%d})")
    out.append(f"{report.members} members, {report.signals} signals on record.")

    section(f"Leadership scores (top {TOP}, calibration input, not a ranking)")
    top = report.scores.nsmallest(TOP, "rank")
    out += _table(
        ["#", "name", "score", "Δ month", "signals", "evidence", "breadth"],
        [[_fmt(r.rank), _fmt(r.name), _fmt(r.score), _fmt(r.score_change, 1),
          _fmt(r.signals), _pct(r.evidence_rate), _fmt(r.breadth, 2)]
         for r in top.itertuples()],
        markdown,
    )

    section("Time-zone representation by region (four-fifths rule)")
    regions = report.representation[report.representation["grouping"] == "region"]
    out += _table(
        ["region", "team", "leaders", "pipeline", "top scored", "signals/member", "flag"],
        [[_fmt(r.group), _pct(r.team_share), _pct(r.leaders_share), _pct(r.pipeline_share),
          _pct(r.top_scored_share), _fmt(r.signals_per_member),
          ", ".join(n for n, f in (("leaders", r.leaders_flag), ("pipeline", r.pipeline_flag),
                                   ("top", r.top_scored_flag)) if _flagged(f)) or "–"]
         for r in regions.itertuples()],
        markdown,
    )

    section("Meeting overlap")
    if report.overlap_hours > 0:
        out.append(f"Everyone overlaps {report.overlap_hours:.1f} h on {report.as_of:%Y-%m-%d}.")
    else:
        out.append("No hour works for everyone; the least costly slots (UTC):")
    out += _table(
        ["slot (UTC)", "in hours", "out of hours", "burden h"],
        [[f"{r.start_utc:%H:%M}-{r.end_utc:%H:%M}", _fmt(r.available), _fmt(r.out_of_hours),
          _fmt(r.total_burden_hours)] for r in report.best_slots.itertuples()],
        markdown,
    )

    section("Development tracks: needs support")
    support = report.tracks[report.tracks["status"] == "needs support"]
    out += _table(
        ["name", "stage", "months in stage", "expected", "milestones"],
        [[_fmt(r.name), _fmt(r.stage), _fmt(r.months_in_stage), _fmt(r.expected_months, 0),
          f"{r.milestones_done}/{r.milestones_total}"] for r in support.itertuples()],
        markdown,
    )

    section("Promotion readiness")
    out += _table(
        ["name", "proposed role", "weighted", "evidence", "senior approvers", "status"],
        [[_fmt(r.name), _fmt(r.proposed_role), _fmt(r.weighted_score, 2), _fmt(r.evidence_links),
          _fmt(r.senior_approvers), _fmt(r.status)] for r in report.promotions.itertuples()],
        markdown,
    )

    section("Mentorship: overdue check-ins")
    overdue = report.mentorship[report.mentorship["status"] != "on time"]
    out += _table(
        ["name", "last check-in", "days since", "status"],
        [[_fmt(r.name), _fmt(r.last_checkin), _fmt(r.days_since), _fmt(r.status)]
         for r in overdue.sort_values("days_since", ascending=False).itertuples()],
        markdown,
    )

    section("Gone quiet (well below their own baseline)")
    out += _table(
        ["name", "per week before", "per week lately", "last signal"],
        [[_fmt(r.name), _fmt(r.baseline_per_week, 2), _fmt(r.recent_per_week, 2),
          _fmt(r.last_signal)] for r in report.quiet.itertuples()],
        markdown,
    )

    section("Sprint-lead rotation: next up")
    due = report.rotation.sort_values("queue_position").head(3)
    out += _table(
        ["name", "sprints led", "last led"],
        [[_fmt(r.name), _fmt(r.sprints_led), _fmt(r.last_led)] for r in due.itertuples()],
        markdown,
    )

    section("Data quality")
    if report.quarantine.empty:
        out.append("Every row fitted the canonical tables.")
    else:
        counts = report.quarantine.groupby(["table", "reason"]).size().sort_values(
            ascending=False)
        out.append(f"{len(report.quarantine)} rows were quarantined; fix them in the workspace:")
        out += _table(["table", "reason", "rows"],
                      [[t, r, str(n)] for (t, r), n in counts.head(10).items()], markdown)
    for note in report.notes:
        out.append(f"Note: {note}")
    return out


def render_text(report: LeadershipReport) -> str:
    """The report for a terminal or a log."""
    return "\n".join(_sections(report, markdown=False)) + "\n"


def render_markdown(report: LeadershipReport) -> str:
    """The report as Markdown (for a file, a wiki, or a Notion import)."""
    return "\n".join(_sections(report, markdown=True)) + "\n"
