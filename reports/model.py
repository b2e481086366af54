"""The leadership-sync report model: every analysis the monthly sync looks at, as frames.

:func:`build_report` is pure: canonical frames and a date in, a
:class:`LeadershipReport` out, no I/O and no clock. Renderers
(:mod:`leadsync.reports.render`) turn it into text or Markdown. Tables a
workspace does not track (milestones, check-ins, rotations, reviews) leave
their section empty with a note saying which table would fill it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from leadsync import analytics
from leadsync.tables import empty_frame

__all__ = ["OPTIONAL_SECTIONS", "LeadershipReport", "build_report"]

#: The table each optional section needs.
OPTIONAL_SECTIONS: Mapping[str, str] = {
    "tracks": "milestones",
    "mentorship": "checkins",
    "rotation": "rotations",
    "promotions": "reviews",
}


@dataclass
class LeadershipReport:
    """One month's leadership sync, as frames (names joined in for reading)."""

    as_of: pd.Timestamp
    members: int
    signals: int
    scores: pd.DataFrame
    representation: pd.DataFrame
    overlap_hours: float
    best_slots: pd.DataFrame
    tracks: pd.DataFrame
    mentorship: pd.DataFrame
    quiet: pd.DataFrame
    rotation: pd.DataFrame
    promotions: pd.DataFrame
    quarantine: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _named(frame: pd.DataFrame, members: pd.DataFrame, column: str = "member_id") -> pd.DataFrame:
    names = members.set_index("member_id")["name"]
    out = frame.copy()
    out.insert(0, "name", out[column].map(names).astype("string"))
    return out


def build_report(
    frames: Mapping[str, pd.DataFrame],
    *,
    as_of: object,
    impact_weights: Mapping[str, float] | None = None,
    half_life_days: float = 90.0,
    quarantine: pd.DataFrame | None = None,
) -> LeadershipReport:
    """The report for ``as_of`` from canonical ``frames`` (``signals`` and ``members`` required).

    ``quarantine`` is the rows that did not fit the canonical tables (from a
    pull or the store), shown as a data-quality section.
    """
    members = frames["members"]
    signals = frames["signals"]
    when = pd.Timestamp(as_of)  # type: ignore[arg-type]
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    notes: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    for section, table in OPTIONAL_SECTIONS.items():
        given = frames.get(table)
        if given is None:
            notes.append(f"{section}: add the {table} table to the config to see this section")
            given = empty_frame(table)
        tables[table] = given

    scored = analytics.score_members(signals, members, as_of=when,
                                     impact_weights=impact_weights, half_life_days=half_life_days)
    representation = analytics.assess_representation(
        members, signals, scored.frame, as_of=when, publishable=True
    ).frame
    overlap = analytics.compute_overlap(members, on=when.date())
    slots = analytics.rank_meeting_slots(members, on=when.date()).frame.head(3)
    tracks = analytics.assess_tracks(members, tables["milestones"], as_of=when).frame
    mentorship = analytics.assess_mentorship(members, tables["checkins"], as_of=when).frame
    quiet = analytics.find_quiet_members(signals, members, as_of=when).frame
    rotations = tables["rotations"]
    # The rotation's pool is whoever takes turns; without a roster, those who have led.
    pool = sorted(rotations["lead_id"].dropna().unique()) if len(rotations) else None
    rotation = analytics.assess_sprint_rotation(rotations, members, as_of=when, pool=pool).members
    promotions = analytics.assess_promotions(tables["reviews"], signals, members,
                                             as_of=when).frame
    return LeadershipReport(
        as_of=when,
        members=len(members),
        signals=int((signals["date"] <= when).sum()),
        scores=_named(scored.frame, members),
        representation=representation,
        overlap_hours=float(overlap.team["hours"].sum()) if len(overlap.team) else 0.0,
        best_slots=slots,
        tracks=_named(tracks, members),
        mentorship=_named(mentorship, members),
        quiet=_named(quiet[quiet["quiet"].fillna(False).astype(bool)], members),
        rotation=_named(rotation, members),
        promotions=_named(promotions, members, "nominee_id"),
        quarantine=quarantine if quarantine is not None else pd.DataFrame(
            columns=["table", "source_id", "reason", "record"]),
        notes=notes,
    )


def month_label(when: pd.Timestamp | dt.date) -> str:
    return pd.Timestamp(when).strftime("%B %Y")
