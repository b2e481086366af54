"""The leadership-sync report model: every analysis the monthly sync looks at, as frames.

:func:`build_model` is pure: canonical frames and a date in, a
:class:`ReportModel` out; no I/O, no environment, no clock (the time of
the run and the sync it reflects come in as arguments). Its frames carry
member names beside ids, for reading. Layout (:mod:`leadsync.reports.compose`)
and rendering build on it; :class:`~leadsync.reports.report.LeadershipReport`,
what :func:`~leadsync.reports.build_report` returns, is this model with its
document and notebook display.

Tables a workspace does not track (milestones, check-ins, rotations,
reviews, projects) leave their section empty with a note saying which table
would fill it. Groups of members under ``min_group_size`` are pooled in every
representation table and chart (:func:`leadsync.analytics.assess_representation`
with ``publishable=True``), since the report leaves the manager's hands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leadsync import analytics
from leadsync.analytics.timezones import POOLED_GROUP
from leadsync.tables import IMPACT_LEVELS, QUARANTINE_COLUMNS, SIGNAL_TYPES, empty_frame

__all__ = [
    "CALIBRATION_NOTE",
    "OPTIONAL_SECTIONS",
    "TERCILES",
    "ReportModel",
    "RowLink",
    "SyncStamp",
    "build_model",
    "last_complete_month",
    "month_end",
    "month_label",
]

#: The table each optional section needs.
OPTIONAL_SECTIONS: Mapping[str, str] = {
    "tracks": "milestones",
    "mentorship": "checkins",
    "rotation": "rotations",
    "promotions": "reviews",
    "projects": "projects",
}

#: What the scores are for, said at the top of every rendering.
CALIBRATION_NOTE = (
    "This report is input to a calibration discussion, not a ranking. Scores summarise the "
    "signals people chose to record; read them with the evidence behind them, the "
    "representation audit and what the team knows that no table holds."
)

#: Tercile labels of the talent matrix, low to high.
TERCILES: tuple[str, ...] = ("lower third", "middle third", "upper third")

#: (table, source_id) -> the row's URL in the workspace, or None.
RowLink = Callable[[str, str], str | None]


@dataclass(frozen=True)
class SyncStamp:
    """The sync a report reflects: the store's last successful run."""

    run_id: int
    finished_at: pd.Timestamp


def month_end(month: str | pd.Period) -> pd.Timestamp:
    """The last microsecond of ``month`` (``"2026-10"`` or a Period), in UTC."""
    period = pd.Period(month, freq="M")
    start = (period + 1).start_time.tz_localize("UTC")
    return start - pd.Timedelta(microseconds=1)


def last_complete_month(now: dt.datetime | pd.Timestamp) -> pd.Period:
    """The calendar month before the one ``now`` (UTC) falls in."""
    when = pd.Timestamp(now)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    return when.tz_localize(None).to_period("M") - 1


def month_label(when: pd.Timestamp | dt.date) -> str:
    """``"October 2026"``."""
    return pd.Timestamp(when).strftime("%B %Y")


@dataclass(frozen=True, eq=False)
class ReportModel:
    """One month's leadership sync, as frames (names joined in for reading).

    Every frame with a ``member_id`` also has ``name``. Columns are those of
    the analytics function named, plus what is said here. Pure data:
    :class:`~leadsync.reports.report.LeadershipReport` adds the layout and the
    notebook display on top.
    """

    #: The report's date: the end of the month it covers, UTC.
    as_of: pd.Timestamp
    #: Members on the team, and signals recorded up to ``as_of``.
    members: int
    signals: int
    #: :func:`~leadsync.analytics.score_members` plus ``name``, ``change_3m``
    #: (score minus the score three months earlier, NA without that history),
    #: ``score_tercile`` and ``trajectory_tercile`` (labels of :data:`TERCILES`).
    scores: pd.DataFrame
    #: One row per member (``member_id``, ``name``), one column per month end,
    #: oldest first (labels ``"2026-05"`` …): the score at that date.
    trend: pd.DataFrame
    #: Signals per calendar month over the last 12 months: ``month`` (string
    #: ``"2026-10"``), one column per signal type, ``total``.
    activity: pd.DataFrame
    #: The signals that contribute most to each member's score: ``member_id``,
    #: ``name``, ``signal_id``, ``date``, ``signal_type``, ``indicator``,
    #: ``impact``, ``contribution`` (weight × decay at ``as_of``),
    #: ``share`` (of the member's weighted impact), ``evidence`` (URL or NA),
    #: ``row_url`` (the signal's row in the workspace, or NA).
    evidence: pd.DataFrame
    #: The 3 × 3 talent matrix: ``trajectory_tercile``, ``score_tercile``,
    #: ``members`` (count), ``names`` (tuple of names), every box present.
    ninebox: pd.DataFrame
    representation: pd.DataFrame
    #: The day meetings are looked at (the first Wednesday after ``as_of``).
    meeting_day: dt.date
    overlap_hours: float
    best_slots: pd.DataFrame
    #: Members inside working hours for each whole UTC hour of ``meeting_day``,
    #: by region: ``region`` (regions under the minimum size pooled into
    #: :data:`~leadsync.analytics.POOLED_GROUP`, left out when even the pool
    #: is too small), ``members``, then ``00`` … ``23``.
    overlap_by_region: pd.DataFrame
    #: :func:`~leadsync.analytics.plan_meeting_rotation` for the next quarter.
    meeting_rotation: pd.DataFrame
    meeting_burden: pd.DataFrame
    #: The rotation is proven optimal; else no plan can put less than
    #: ``meeting_bound_hours`` on its worst-off member.
    meeting_optimal: bool
    meeting_bound_hours: float
    tracks: pd.DataFrame
    mentorship: pd.DataFrame
    quiet: pd.DataFrame
    rotation: pd.DataFrame
    promotions: pd.DataFrame
    #: The projects led this quarter (running at some point between the quarter's
    #: start and ``as_of``): :func:`~leadsync.analytics.assess_projects`' ``projects``
    #: (``name`` is the project's) plus ``lead`` and ``sponsor`` (names), by start.
    projects_quarter: pd.DataFrame
    #: Its ``members`` for the pipeline, plus ``name`` and ``stage``.
    project_ladder: pd.DataFrame
    #: Its ``fairness``, publishable (groups under ``min_group_size`` pooled).
    project_fairness: pd.DataFrame
    #: Its ``problems`` plus ``lead`` (the lead's name).
    project_problems: pd.DataFrame
    #: Rows that did not fit the canonical tables (columns of
    #: :data:`leadsync.tables.QUARANTINE_COLUMNS`).
    quarantine: pd.DataFrame
    #: Per member with signals lacking an evidence link in the 12 months:
    #: ``member_id``, ``name``, ``without_evidence``, ``signals``.
    missing_evidence: pd.DataFrame
    #: Members who cannot be placed in a time zone: ``member_id``, ``name``, ``reason``.
    missing_timezone: pd.DataFrame
    #: Signals recorded in the month ``as_of`` ends.
    signals_in_month: int = 0
    sync: SyncStamp | None = None
    generated_at: pd.Timestamp | None = None
    min_group_size: int = 3
    notes: list[str] = field(default_factory=list)
    #: Things the reader must know before trusting the figures (a stale store).
    warnings: list[str] = field(default_factory=list)
    #: The optional tables the frames did not include (their sections are empty).
    untracked: tuple[str, ...] = ()
    #: The first day of the quarter ``as_of`` falls in (UTC).
    quarter_start: pd.Timestamp | None = None

    @property
    def month(self) -> str:
        """``"2026-10"``: the month the report covers."""
        return f"{self.as_of:%Y-%m}"

    @property
    def title(self) -> str:
        return f"Leadership sync: {month_label(self.as_of)}"

    @property
    def headline(self) -> dict[str, float | int | str]:
        """The month's figures at a glance (for a summary row or a page's top)."""
        scores = self.scores["score"].astype("Float64")
        with_signals = self.scores[self.scores["signals"].astype("Int64") > 0]
        rate = with_signals["evidence_rate"].astype("Float64").mean()
        flagged = self.representation[self.representation["grouping"] == "region"]
        flags = 0
        for outcome in ("leaders", "pipeline", "top_scored"):
            flags += int(flagged[f"{outcome}_flag"].fillna(False).astype(bool).sum())
        return {
            "month": self.month,
            "as_of": self.as_of.isoformat(),
            "members": self.members,
            "signals_in_month": self.signals_in_month,
            "signals_12_months": int(self.activity["total"].sum()) if len(self.activity) else 0,
            "median_score": round(float(scores.median()), 1) if len(scores) else 0.0,
            "evidence_rate": round(float(rate), 3) if pd.notna(rate) else 0.0,
            "representation_flags": flags,
            "quarantined_rows": len(self.quarantine),
            "sync_run": self.sync.run_id if self.sync else 0,
        }

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.month}: {self.members} members, "
                f"{self.signals} signals>")


# ---------------------------------------------------------------------------
# Building


def _utc(value: object) -> pd.Timestamp:
    when = pd.Timestamp(value)  # type: ignore[arg-type]
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def _names(members: pd.DataFrame) -> pd.Series:
    with_id = members[members["member_id"].notna()].drop_duplicates("member_id")
    return pd.Series(with_id["name"].astype("string").to_numpy(),
                     index=with_id["member_id"].astype("object").to_numpy())


def _named(frame: pd.DataFrame, names: pd.Series, column: str = "member_id") -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, "name", pd.Series(
        out[column].astype("object").map(names).to_numpy(), dtype="string", index=out.index))
    return out


def _labelled(frame: pd.DataFrame, names: pd.Series, column: str, label: str) -> pd.DataFrame:
    """``frame`` with ``label``, the name of the member in ``column``, right after it."""
    out = frame.copy()
    out.insert(list(out.columns).index(column) + 1, label, pd.Series(
        out[column].astype("object").map(names).to_numpy(), dtype="string", index=out.index))
    return out


def _trend_points(as_of: pd.Timestamp, months: int) -> list[pd.Timestamp]:
    """``as_of`` and the same point in each of the ``months - 1`` months before, oldest first."""
    period = as_of.tz_localize(None).to_period("M")
    if as_of == month_end(period):
        points = [month_end(period - k) for k in range(months)]
    else:
        points = [as_of - pd.DateOffset(months=k) for k in range(months)]
    return points[::-1]


def _terciles(values: pd.Series) -> pd.Series:
    """Each value's third of the team: by rank, ties sharing the lower third they reach."""
    n = len(values)
    if n == 0:
        return pd.Series([], dtype="string", index=values.index)
    rank = values.astype("Float64").fillna(0.0).rank(method="min").to_numpy(dtype=float)
    which = np.minimum(np.floor(3 * (rank - 1) / n), 2).astype(int)
    return pd.Series(np.array(TERCILES, dtype=object)[which], dtype="string", index=values.index)


def _activity(signals: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    period = as_of.tz_localize(None).to_period("M")
    months = pd.period_range(period - 11, period, freq="M")
    start = months[0].start_time.tz_localize("UTC")
    dated = signals[(signals["date"] >= start) & (signals["date"] <= as_of)
                    & signals["signal_type"].notna()]
    month = dated["date"].dt.tz_localize(None).dt.to_period("M")
    table = pd.crosstab(month, dated["signal_type"].astype("string"))
    table = table.reindex(index=months, columns=list(SIGNAL_TYPES), fill_value=0)
    out = pd.DataFrame({"month": pd.Series([str(m) for m in months], dtype="string")})
    for kind in SIGNAL_TYPES:
        out[kind] = pd.Series(table[kind].to_numpy(), dtype="Int64")
    out["total"] = pd.Series(table.sum(axis=1).to_numpy(), dtype="Int64")
    return out


def _evidence(
    signals: pd.DataFrame,
    names: pd.Series,
    as_of: pd.Timestamp,
    weights: Mapping[str, float],
    half_life_days: float,
    per_member: int,
    row_url: RowLink | None,
) -> pd.DataFrame:
    known = signals["member_id"].astype("object").isin(names.index)
    usable = signals[known & signals["date"].notna() & (signals["date"] <= as_of)
                     & signals["impact"].notna() & signals["signal_type"].notna()]
    age_days = (as_of - usable["date"]).dt.total_seconds().to_numpy() / 86_400.0
    weight = usable["impact"].astype("object").map(dict(weights)).astype(float).to_numpy()
    contribution = weight * 0.5 ** (age_days / half_life_days)
    table = pd.DataFrame({
        "member_id": usable["member_id"].astype("string").to_numpy(),
        "signal_id": usable["signal_id"].astype("string").to_numpy(),
        "date": usable["date"].to_numpy(),
        "signal_type": usable["signal_type"].to_numpy(),
        "indicator": usable["indicator"].astype("string").to_numpy(),
        "impact": usable["impact"].to_numpy(),
        "contribution": contribution,
        "evidence": usable["evidence"].astype("string").to_numpy(),
        "source_id": usable["source_id"].astype("string").to_numpy(),
    })
    totals = table.groupby("member_id")["contribution"].transform("sum")
    table["share"] = np.where(totals > 0, table["contribution"] / totals.where(totals > 0), 0.0)
    table = table.sort_values(["member_id", "contribution", "date", "signal_id"],
                              ascending=[True, False, False, True], kind="stable")
    top = table.groupby("member_id", sort=False).head(per_member).reset_index(drop=True)
    top["date"] = pd.Series(top["date"].to_numpy(), dtype=signals["date"].dtype)
    top["signal_type"] = pd.Categorical(top["signal_type"], categories=list(SIGNAL_TYPES),
                                        ordered=True)
    top["impact"] = pd.Categorical(top["impact"], categories=list(IMPACT_LEVELS), ordered=True)
    top["contribution"] = top["contribution"].round(3).astype("Float64")
    top["share"] = top["share"].astype("Float64")
    links = [row_url("signals", str(s)) if row_url is not None and pd.notna(s) else None
             for s in top["source_id"]]
    top["row_url"] = pd.Series(links, dtype="string")
    top = top.drop(columns=["source_id"])
    return _named(top, names)


def _ninebox(scores: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for trajectory in reversed(TERCILES):
        for score in TERCILES:
            inside = scores[(scores["trajectory_tercile"] == trajectory)
                            & (scores["score_tercile"] == score)]
            rows.append({"trajectory_tercile": trajectory, "score_tercile": score,
                         "members": len(inside),
                         "names": tuple(sorted(str(n) for n in inside["name"].fillna("")))})
    out = pd.DataFrame(rows)
    out["trajectory_tercile"] = out["trajectory_tercile"].astype("string")
    out["score_tercile"] = out["score_tercile"].astype("string")
    out["members"] = out["members"].astype("Int64")
    return out


def _overlap_by_region(members: pd.DataFrame, representation: pd.DataFrame,
                       as_of: pd.Timestamp, day: dt.date, min_group_size: int) -> pd.DataFrame:
    groups = analytics.compute_timezone_groups(members, as_of=as_of).frame
    regions = representation[representation["grouping"] == "region"]
    shown = [str(g) for g, s in zip(regions["group"], regions["suppressed"], strict=True)
             if not bool(s)]
    pooled = groups[~groups["region"].isin(shown)]
    parts: list[tuple[str, pd.Series]] = [
        (region, groups["member_id"][groups["region"] == region]) for region in shown]
    if len(pooled) >= min_group_size:
        parts.append((POOLED_GROUP, pooled["member_id"]))
    hours = [f"{h:02d}" for h in range(24)]
    rows = []
    by_id = members[members["member_id"].notna()].set_index(
        members["member_id"][members["member_id"].notna()].astype("object"))
    for region, ids in parts:
        subset = by_id.loc[ids.astype("object").to_numpy()].reset_index(drop=True)
        slots = analytics.rank_meeting_slots(subset, on=day, duration_minutes=60,
                                             slot_minutes=60,
                                             default_hours="09:00-17:00").frame
        slots = slots.sort_values("start_utc")
        rows.append({"region": region, "members": len(ids),
                     **dict(zip(hours, slots["available"].astype(int).tolist(), strict=True))})
    out = pd.DataFrame(rows, columns=["region", "members", *hours])
    out["region"] = out["region"].astype("string")
    for column in ["members", *hours]:
        out[column] = out[column].astype("Int64")
    return out


def _first_wednesday_after(when: pd.Timestamp) -> dt.date:
    day = when.date() + dt.timedelta(days=1)
    return day + dt.timedelta(days=(2 - day.weekday()) % 7)


def _gather_quarantine(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The quarantine a notebook pull keeps in ``frame.attrs["quarantine"]``, every table's."""
    parts = []
    for frame in frames.values():
        found = frame.attrs.get("quarantine")
        if isinstance(found, pd.DataFrame) and len(found):
            parts.append(found)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def build_model(
    frames: Mapping[str, pd.DataFrame],
    *,
    as_of: object,
    impact_weights: Mapping[str, float] | None = None,
    half_life_days: float = 90.0,
    quarantine: pd.DataFrame | None = None,
    sync: SyncStamp | None = None,
    generated_at: object = None,
    stale_after: dt.timedelta = dt.timedelta(days=3),
    row_url: RowLink | None = None,
    min_group_size: int = 3,
    trend_months: int = 6,
    evidence_per_member: int = 3,
    rotation_weeks: int = 13,
    rotation_nodes: int = 50,
) -> ReportModel:
    """The report as of ``as_of`` from canonical ``frames`` (``signals`` and ``members`` required).

    ``as_of`` is usually :func:`month_end` of the month reported on.
    ``quarantine``: the rows that did not fit the canonical tables (the
    store's :meth:`~leadsync.store.Store.quarantine`); by default, the
    ``attrs["quarantine"]`` a notebook pull leaves on each frame.
    ``sync`` is the sync the frames come from and ``generated_at`` when the
    report is made: a sync older than ``stale_after`` then is warned about.
    ``row_url`` links a signal to its row in the workspace
    (:func:`leadsync.reports.row_links`). The meeting rotation is planned for
    ``rotation_weeks`` weeks from the first Wednesday after ``as_of``, its
    solver's stages limited to ``rotation_nodes`` nodes each (well under a
    second; the report says whether the plan is proven optimal).
    """
    members = frames["members"]
    signals = frames["signals"]
    when = _utc(as_of)
    weights = dict(impact_weights or analytics.DEFAULT_IMPACT_WEIGHTS)
    names = _names(members)
    notes: list[str] = []
    warnings: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    untracked: list[str] = []
    for section, table in OPTIONAL_SECTIONS.items():
        given = frames.get(table)
        if given is None:
            notes.append(f"{section}: add the {table} table to the config to see this section")
            untracked.append(table)
            given = empty_frame(table)
        tables[table] = given

    # Signals dated after a point are not late rows to quarantine, just not yet
    # recorded: each analysis sees the signals up to its date.
    dated = signals["date"].notna()
    signals = signals[~dated | (signals["date"] <= when)]

    def score_at(point: pd.Timestamp) -> pd.DataFrame:
        upto = signals[~dated.loc[signals.index] | (signals["date"] <= point)]
        return analytics.score_members(upto, members, as_of=point, impact_weights=weights,
                                       half_life_days=half_life_days).frame

    points = _trend_points(when, max(trend_months, 4))
    scored = score_at(points[-1])
    # Each scoring also gives the score a month before (score_members' own
    # previous_score), so every other month end comes for free.
    by_point: dict[pd.Timestamp, pd.Series] = {}
    for point in reversed(points):
        if point in by_point:
            continue
        frame = scored if point == points[-1] else score_at(point)
        keyed = frame.set_index("member_id")
        by_point[point] = keyed["score"]
        by_point.setdefault(point - pd.DateOffset(months=1), keyed["previous_score"])
    trend = pd.DataFrame({"member_id": scored["member_id"]})
    for point in points[-trend_months:]:
        values = by_point[point]
        trend[f"{point:%Y-%m}"] = scored["member_id"].map(values).astype("Float64").to_numpy()
    trend = _named(trend, names)
    three_months = by_point[points[-4]]
    earlier = scored["member_id"].map(three_months).astype("Float64")
    history = (signals["date"] <= points[-4]).any() if len(signals) else False
    scores = _named(scored, names)
    scores["change_3m"] = (scored["score"] - earlier).round(1) if history else pd.Series(
        pd.NA, index=scored.index, dtype="Float64")
    scores["score_tercile"] = _terciles(scores["score"])
    scores["trajectory_tercile"] = _terciles(scores["change_3m"])

    representation = analytics.assess_representation(
        members, signals, scored, as_of=when, min_group_size=min_group_size,
        publishable=True).frame
    day = _first_wednesday_after(when)
    overlap = analytics.compute_overlap(members, on=day, default_hours="09:00-17:00")
    slots = analytics.rank_meeting_slots(members, on=day,
                                         default_hours="09:00-17:00").frame.head(3)
    meeting = analytics.plan_meeting_rotation(members, start=day, weeks=rotation_weeks,
                                              default_hours="09:00-17:00",
                                              max_nodes=rotation_nodes)
    tracks = analytics.assess_tracks(members, tables["milestones"], as_of=when).frame
    mentorship = analytics.assess_mentorship(members, tables["checkins"], as_of=when).frame
    quiet = analytics.find_quiet_members(signals, members, as_of=when).frame
    rotations = tables["rotations"]
    # The rotation's pool is whoever takes turns; without a roster, those who have led.
    pool = sorted(rotations["lead_id"].dropna().unique()) if len(rotations) else None
    sprint = analytics.assess_sprint_rotation(rotations, members, as_of=when, pool=pool).members
    promotions = analytics.assess_promotions(tables["reviews"], signals, members,
                                             as_of=when).frame
    quarter_start = when.tz_localize(None).to_period("Q").start_time.tz_localize("UTC")
    experiments = analytics.assess_projects(tables["projects"], members, as_of=when,
                                            min_group_size=min_group_size, publishable=True)
    listed = experiments.projects
    this_quarter = listed[listed["ended_on"].isna() | (listed["ended_on"] >= quarter_start)]
    this_quarter = _labelled(_labelled(this_quarter, names, "lead_id", "lead"), names,
                             "sponsor_id", "sponsor")
    with_id = members[members["member_id"].notna()].drop_duplicates("member_id")
    stages = pd.Series(with_id["stage"].astype("string").to_numpy(),
                       index=with_id["member_id"].astype("object").to_numpy())
    ladder = experiments.members[experiments.members["pipeline"].fillna(False).astype(bool)]
    ladder = _named(ladder, names).reset_index(drop=True)
    ladder.insert(2, "stage", pd.Series(ladder["member_id"].astype("object").map(stages)
                                        .astype("string").to_numpy(), dtype="string"))

    year_start = (when.tz_localize(None).to_period("M") - 11).start_time.tz_localize("UTC")
    month_start = when.tz_localize(None).to_period("M").start_time.tz_localize("UTC")
    recorded = signals[signals["date"] <= when]
    in_year = recorded[recorded["date"] >= year_start]
    missing = in_year.assign(_none=in_year["evidence"].isna()).groupby(
        in_year["member_id"].astype("object"))["_none"].agg(["sum", "size"])
    missing = missing[missing["sum"] > 0].reset_index(names="member_id")
    missing_evidence = pd.DataFrame({
        "member_id": pd.Series(missing["member_id"].to_numpy(), dtype="string"),
        "without_evidence": pd.Series(missing["sum"].to_numpy(), dtype="Int64"),
        "signals": pd.Series(missing["size"].to_numpy(), dtype="Int64"),
    }).sort_values(["without_evidence", "member_id"], ascending=[False, True],
                   kind="stable").reset_index(drop=True)
    placed = analytics.compute_timezone_groups(members, as_of=when)
    unplaced = placed.quarantine
    missing_timezone = pd.DataFrame({
        "member_id": pd.Series(unplaced["source_id"].to_numpy(), dtype="string"),
        "reason": pd.Series(unplaced["reason"].to_numpy(), dtype="string"),
    })
    # The quarantine names members by source id; map it to the member id.
    by_source = members.set_index(members["source_id"].astype("object"))["member_id"]
    missing_timezone["member_id"] = missing_timezone["member_id"].astype("object").map(
        by_source).astype("string").fillna(missing_timezone["member_id"])

    generated = _utc(generated_at) if generated_at is not None else None
    if sync is not None and generated is not None and generated - sync.finished_at > stale_after:
        age = (generated - sync.finished_at).days
        warnings.append(
            f"The store's last successful sync (run {sync.run_id}) finished "
            f"{sync.finished_at:%Y-%m-%d %H:%M} UTC, {age} days before this report was made: "
            "edits since then are not in it. Run `leadsync sync` and report again.")

    return ReportModel(
        as_of=when,
        members=len(members),
        signals=len(recorded),
        signals_in_month=int((recorded["date"] >= month_start).sum()),
        scores=scores,
        trend=trend,
        activity=_activity(signals, when),
        evidence=_evidence(signals, names, when, weights, half_life_days,
                           evidence_per_member, row_url),
        ninebox=_ninebox(scores),
        representation=representation,
        meeting_day=day,
        overlap_hours=overlap.hours if len(overlap.team) else 0.0,
        best_slots=slots,
        overlap_by_region=_overlap_by_region(members, representation, when, day,
                                             min_group_size),
        meeting_rotation=meeting.schedule,
        meeting_burden=_named(meeting.burden, names),
        meeting_optimal=meeting.optimal,
        meeting_bound_hours=meeting.bound_hours,
        tracks=_named(tracks, names),
        mentorship=_named(mentorship, names),
        quiet=_named(quiet[quiet["quiet"].fillna(False).astype(bool)], names),
        rotation=_named(sprint, names),
        promotions=_named(promotions, names, "nominee_id"),
        projects_quarter=this_quarter.reset_index(drop=True),
        project_ladder=ladder,
        project_fairness=experiments.fairness,
        project_problems=_labelled(experiments.problems, names, "lead_id", "lead"),
        quarantine=quarantine if quarantine is not None else _gather_quarantine(frames),
        missing_evidence=_named(missing_evidence, names),
        missing_timezone=_named(missing_timezone, names),
        sync=sync,
        generated_at=generated,
        min_group_size=min_group_size,
        notes=notes,
        warnings=warnings,
        untracked=tuple(untracked),
        quarter_start=quarter_start,
    )
