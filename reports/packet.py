"""A nominee's promotion packet, following the seed's "Promotion Packet Template" (pure).

:func:`build_packet` gathers, from the canonical frames and a date (no I/O,
no clock), everything the template asks for:

* **Nominee information**: name, current role, proposed role, time in the
  current role. The canonical members table has a role but no date the role
  began, so the time in role is "not recorded" (the packet gives the time in
  the current development-track stage beside it, which the table does keep);
* **Leadership evidence**, with links, grouped as the template groups it:
  technical, people (mentoring), operational and communication leadership.
  A signal is people leadership when its indicator is about mentoring,
  coaching, onboarding, hiring or feedback (:data:`PEOPLE_WORDS`), else it
  goes by its signal type; the check-ins where the nominee is the mentor are
  people leadership too;
* **Async communication examples**: the communication signals with an
  evidence link, highest impact and most recent first;
* **Impact metrics**: the leadership score, its rank, percentile and change,
  signals by impact, evidence rate, breadth, milestones of the current stage,
  sprints led, mentees and check-ins held, project-lead experiments led by
  kind and outcome and the next rung (:func:`leadsync.analytics.assess_projects`),
  and the success metrics of the projects led; the projects themselves, with
  their outcomes and evidence links, are listed under operational leadership;
* **The decision matrix** with the seed's weights (Technical Excellence 20 %,
  Leadership Behaviors 30 %, Business Impact 25 %, Cultural Contribution
  15 %, Growth Trajectory 10 %), what evidence each criterion requires, the
  review's score per criterion, each weighted part and the weighted total
  (:func:`leadsync.analytics.assess_promotions`);
* **Consensus**: the approvers, which of them are senior leaders, and
  whether the seed's "at least three senior leaders" is met;
* **Mentor observations** from the check-ins where the nominee is the mentee;
* **360 feedback summary**: the canonical tables have no 360 feedback, so it
  is "not recorded" unless a ``feedback`` frame is passed (``member_id``,
  ``source``, ``summary``).

Anything the workspace does not hold says "not recorded" explicitly.
:func:`open_nominations` lists the reviews still open (the ``--all`` of
``leadsync packet``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from leadsync import analytics
from leadsync.analytics.promotion import CRITERIA, DECISION_WEIGHTS
from leadsync.tables import IMPACT_LEVELS, SIGNAL_TYPES, empty_frame

from .model import RowLink, month_label

__all__ = [
    "CRITERION_LABELS",
    "EVIDENCE_GROUPS",
    "EVIDENCE_REQUIRED",
    "NOT_RECORDED",
    "PEOPLE_WORDS",
    "PromotionPacket",
    "build_packet",
    "open_nominations",
]

#: What the packet says where the workspace holds nothing.
NOT_RECORDED = "not recorded"

#: The decision matrix's criteria as the seed names them.
CRITERION_LABELS: Mapping[str, str] = MappingProxyType({
    "technical_excellence": "Technical Excellence",
    "leadership_behaviors": "Leadership Behaviors",
    "business_impact": "Business Impact",
    "cultural_contribution": "Cultural Contribution",
    "growth_trajectory": "Growth Trajectory",
})

#: The seed's "Evidence Required" column.
EVIDENCE_REQUIRED: Mapping[str, str] = MappingProxyType({
    "technical_excellence": "Code quality, architecture decisions",
    "leadership_behaviors": "Mentorship, initiative, communication",
    "business_impact": "Project delivery, metrics moved",
    "cultural_contribution": "Team health, documentation, process",
    "growth_trajectory": "Velocity of development",
})

#: The template's groups of leadership evidence, in its order.
EVIDENCE_GROUPS: Mapping[str, str] = MappingProxyType({
    "technical": "Technical leadership",
    "people": "People leadership (mentoring)",
    "operational": "Operational leadership",
    "communication": "Communication leadership",
})

#: Words that make an indicator people leadership.
PEOPLE_WORDS: tuple[str, ...] = ("mentor", "coach", "onboard", "hire", "hiring", "feedback",
                                 "teach", "pair")
_PEOPLE = re.compile(r"\b(" + "|".join(PEOPLE_WORDS) + r")", re.IGNORECASE)

#: Async communication examples shown.
ASYNC_EXAMPLES = 5
#: Check-ins shown as mentor observations.
OBSERVATIONS = 12
#: A review is open while its decision is one of these (or not recorded).
OPEN_DECISIONS = ("Pending",)


@dataclass(frozen=True, eq=False)
class PromotionPacket:
    """One nominee's packet as of a date; every frame has names beside ids."""

    as_of: pd.Timestamp
    member_id: str
    name: str
    #: ``members.role``, or None when the workspace does not record one.
    current_role: str | None
    proposed_role: str | None
    timezone: str | None
    #: The development track, its stage and when the stage began (None: not on a track).
    track: str | None
    stage: str | None
    stage_started: pd.Timestamp | None
    #: The review the packet is for (its ``review_id``), None when there is none.
    review_id: str | None
    decision: str | None
    decided_on: pd.Timestamp | None
    #: One row per criterion: ``criterion`` (label), ``weight`` (0-1), ``required``,
    #: ``score`` (the review's), ``weighted`` (weight × score), ``signals`` (evidence
    #: counted for it; for growth, the trend).
    matrix: pd.DataFrame
    #: Σ weight × score over the weights (None without a review).
    weighted_total: float | None
    #: ``status`` of :func:`~leadsync.analytics.assess_promotions`, or "not reviewed".
    status: str
    #: ``member_id``, ``name``, ``senior`` (a leader other than the nominee).
    approvers: pd.DataFrame
    min_senior_approvers: int
    #: The nominee's signals in the window: ``group`` (a key of :data:`EVIDENCE_GROUPS`),
    #: ``date``, ``signal_type``, ``indicator``, ``impact``, ``evidence`` (URL or NA),
    #: ``row_url``; highest impact first, then newest.
    evidence: pd.DataFrame
    #: Check-ins the nominee held as mentor: ``date``, ``mentee_id``, ``name``
    #: (the mentee's), ``focus_area``, ``progress``.
    mentoring: pd.DataFrame
    #: Check-ins of the nominee as mentee: ``date``, ``mentor_id``, ``name`` (the
    #: mentor's), ``focus_area``, ``observation``, ``progress``; newest first.
    observations: pd.DataFrame
    #: ``metric``, ``value`` (display text), the impact metrics in order.
    metrics: pd.DataFrame
    #: ``source``, ``summary`` (None: not recorded).
    feedback: pd.DataFrame | None
    evidence_days: int = 365
    notes: list[str] = field(default_factory=list)
    #: The project-lead experiments the nominee led, started by ``as_of``: ``name``,
    #: ``kind``, ``started_on``, ``ended_on``, ``status``, ``outcome``, ``sponsor``
    #: (name), ``success_metrics``, ``evidence`` (URL or NA), ``row_url``; by start.
    #: None when the workspace tracks no projects table.
    projects: pd.DataFrame | None = None

    @property
    def month(self) -> str:
        return f"{self.as_of:%Y-%m}"

    @property
    def key(self) -> str:
        """``2026-10/m022``: what the workspace writers key the packet by."""
        return f"{self.month}/{self.member_id}"

    @property
    def title(self) -> str:
        return f"Promotion packet: {self.name}"

    def __repr__(self) -> str:
        return (f"<PromotionPacket {self.name} ({self.member_id}), {self.month}: "
                f"{self.status}>")


def _utc(value: object) -> pd.Timestamp:
    when = pd.Timestamp(value)  # type: ignore[arg-type]
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def _text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _names(members: pd.DataFrame) -> dict[str, str]:
    return {str(m): str(n) for m, n in zip(members["member_id"], members["name"], strict=True)
            if pd.notna(m) and pd.notna(n)}


def open_nominations(reviews: pd.DataFrame) -> list[str]:
    """The nominees of every open review (decision Pending or not recorded), in review order."""
    if reviews is None or reviews.empty:
        return []
    ordered = reviews.sort_values("review_id", kind="stable")
    decision = ordered["decision"].astype("object")
    open_ = decision.isna() | decision.isin(OPEN_DECISIONS)
    ids = ordered.loc[open_, "nominee_id"].dropna().astype(str)
    return list(dict.fromkeys(ids))


def _review_for(reviews: pd.DataFrame, member_id: str,
                review_id: str | None) -> pd.Series | None:
    mine = reviews[reviews["nominee_id"].astype("object") == member_id]
    if review_id is not None:
        mine = mine[mine["review_id"].astype("object") == review_id]
    if mine.empty:
        return None
    decision = mine["decision"].astype("object")
    open_ = (decision.isna() | decision.isin(OPEN_DECISIONS)).to_numpy()
    ranked = mine.assign(_open=open_, _when=mine["decided_on"]).sort_values(
        ["_open", "_when", "review_id"], ascending=[False, False, False], kind="stable",
        na_position="first")
    row: pd.Series = ranked.iloc[0]
    return row


def _group(indicator: object, signal_type: object) -> str:
    if isinstance(indicator, str) and _PEOPLE.search(indicator):
        return "people"
    return str(signal_type).lower() if isinstance(signal_type, str) else "technical"


def _months(start: pd.Timestamp, end: pd.Timestamp) -> float:
    return (end - start).total_seconds() / 86_400 / 30.44


def _evidence(signals: pd.DataFrame, member_id: str, start: pd.Timestamp,
              end: pd.Timestamp, row_url: RowLink | None) -> pd.DataFrame:
    mine = signals[(signals["member_id"].astype("object") == member_id)
                   & signals["date"].notna() & (signals["date"] > start)
                   & (signals["date"] <= end)]
    rank = mine["impact"].astype("object").map(
        {level: n for n, level in enumerate(IMPACT_LEVELS)}).fillna(-1)
    mine = mine.assign(_rank=rank).sort_values(["_rank", "date", "signal_id"],
                                               ascending=[False, False, True], kind="stable")
    links = [row_url("signals", str(s)) if row_url is not None and pd.notna(s) else None
             for s in mine["source_id"]]
    return pd.DataFrame({
        "group": pd.Series([_group(i, t) for i, t in zip(mine["indicator"],
                                                          mine["signal_type"], strict=True)],
                           dtype="string"),
        "date": pd.Series(mine["date"].to_numpy(), dtype=signals["date"].dtype),
        "signal_type": pd.Categorical(mine["signal_type"].astype("object"),
                                      categories=list(SIGNAL_TYPES), ordered=True),
        "indicator": pd.Series(mine["indicator"].to_numpy(), dtype="string"),
        "impact": pd.Categorical(mine["impact"].astype("object"),
                                 categories=list(IMPACT_LEVELS), ordered=True),
        "evidence": pd.Series(mine["evidence"].to_numpy(), dtype="string"),
        "row_url": pd.Series(links, dtype="string"),
    })


def _checkins(checkins: pd.DataFrame, column: str, member_id: str, other: str,
              names: Mapping[str, str], start: pd.Timestamp, end: pd.Timestamp,
              keep: Sequence[str]) -> pd.DataFrame:
    mine = checkins[(checkins[column].astype("object") == member_id) & checkins["date"].notna()
                    & (checkins["date"] > start) & (checkins["date"] <= end)]
    mine = mine.sort_values("date", ascending=False, kind="stable")
    out = pd.DataFrame({"date": pd.Series(mine["date"].to_numpy(),
                                          dtype=checkins["date"].dtype)})
    out[other] = pd.Series(mine[other].to_numpy(), dtype="string")
    out["name"] = pd.Series([names.get(str(m)) if pd.notna(m) else None for m in mine[other]],
                            dtype="string")
    for column_name in keep:
        out[column_name] = pd.Series(mine[column_name].to_numpy(), dtype="string")
    return out


def _projects(projects: pd.DataFrame, members: pd.DataFrame, member_id: str,
              when: pd.Timestamp, names: Mapping[str, str],
              row_url: RowLink | None) -> pd.DataFrame:
    """The project-lead experiments ``member_id`` led, started by ``when``, with links."""
    listed = analytics.assess_projects(projects, members, as_of=when).projects
    mine = listed[listed["lead_id"].astype("object") == member_id].reset_index(drop=True)
    sources = dict(zip(projects["project_id"].astype("object"),
                       projects["source_id"].astype("object"), strict=True))
    links = [row_url("projects", str(sources[p])) if row_url is not None
             and pd.notna(sources.get(p)) else None for p in mine["project_id"]]
    return pd.DataFrame({
        "name": mine["name"], "kind": mine["kind"], "started_on": mine["started_on"],
        "ended_on": mine["ended_on"], "status": mine["status"], "outcome": mine["outcome"],
        "sponsor": pd.Series([names.get(str(s)) if pd.notna(s) else None
                              for s in mine["sponsor_id"]], dtype="string"),
        "success_metrics": mine["success_metrics"], "evidence": mine["evidence"],
        "row_url": pd.Series(links, dtype="string"),
    })


def _project_metrics(projects: pd.DataFrame | None, members: pd.DataFrame, member_id: str,
                     when: pd.Timestamp, led: pd.DataFrame | None) -> list[tuple[str, str]]:
    label = "Project-lead experiments led (shadow / pilot / improvement)"
    if projects is None or led is None:
        return [(label, f"{NOT_RECORDED} (no projects table is tracked)")]
    per = analytics.assess_projects(projects, members, as_of=when).members
    row = per[per["member_id"].astype("object") == member_id]
    if row.empty:
        return [(label, "0 / 0 / 0")]
    r = row.iloc[0]
    step = r["next_step"]
    return [
        (label, f"{int(r['shadow'])} / {int(r['pilot'])} / {int(r['improvement'])}"),
        ("Projects finished: succeeded / partly / did not",
         f"{int(r['succeeded'])} / {int(r['partly'])} / {int(r['did_not'])}"),
        ("Next rung on the project ladder", str(step) if pd.notna(step) else NOT_RECORDED),
    ]


def _fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None or pd.isna(value):
        return NOT_RECORDED
    text = f"{abs(value):.{digits}f}" if sign else f"{value:.{digits}f}"
    if sign:
        return ("+" if value > 0 else "\u2212" if value < 0 else "") + text
    return text


def build_packet(
    frames: Mapping[str, pd.DataFrame],
    member_id: str,
    *,
    as_of: object,
    review_id: str | None = None,
    row_url: RowLink | None = None,
    impact_weights: Mapping[str, float] | None = None,
    half_life_days: float = 90.0,
    evidence_days: int = 365,
    min_senior_approvers: int = 3,
    feedback: pd.DataFrame | None = None,
) -> PromotionPacket:
    """``member_id``'s packet as of ``as_of`` from canonical ``frames`` (see the module doc).

    The review is ``review_id``, else the nominee's open review, else their
    latest; without one the matrix and consensus say "not recorded".
    Evidence is the ``evidence_days`` up to ``as_of``. Raises ``KeyError``
    for a member not in ``frames["members"]``.
    """
    when = _utc(as_of)
    members = frames["members"]
    signals = frames["signals"]
    signals = signals[signals["date"].isna() | (signals["date"] <= when)]
    row = members[members["member_id"].astype("object") == member_id]
    if row.empty:
        raise KeyError(member_id)
    member = row.iloc[0]
    names = _names(members)
    reviews = frames.get("reviews")
    if reviews is None:
        reviews = empty_frame("reviews")
    checkins = frames.get("checkins")
    if checkins is None:
        checkins = empty_frame("checkins")
    milestones = frames.get("milestones")
    if milestones is None:
        milestones = empty_frame("milestones")
    rotations = frames.get("rotations")
    if rotations is None:
        rotations = empty_frame("rotations")
    projects = frames.get("projects")
    notes: list[str] = []
    start = when - pd.Timedelta(days=evidence_days)

    review = _review_for(reviews, member_id, review_id)
    assessed = None
    if review is not None:
        promotions = analytics.assess_promotions(
            reviews, signals, members, as_of=when, min_senior_approvers=min_senior_approvers,
            evidence_days=float(evidence_days)).frame
        found = promotions[promotions["review_id"].astype("object") == review["review_id"]]
        assessed = found.iloc[0] if len(found) else None
        if assessed is None:
            notes.append(f"review {review['review_id']} could not be scored (a criterion is "
                         "missing or not a number); its matrix is not recorded")
    else:
        notes.append("no promotion review records this nominee: the decision matrix and "
                     "the consensus are not recorded")

    leader = members.set_index(members["member_id"].astype("object"))["is_leader"]
    matrix_rows = []
    for criterion in CRITERIA:
        score = float(review[criterion]) if review is not None and pd.notna(
            review[criterion]) else None
        weight = DECISION_WEIGHTS[criterion]
        signals_for = (int(assessed[f"evidence_{criterion}"]) if assessed is not None
                       else None)
        matrix_rows.append({"criterion": CRITERION_LABELS[criterion], "weight": weight,
                            "required": EVIDENCE_REQUIRED[criterion], "score": score,
                            "weighted": None if score is None else weight * score,
                            "signals": signals_for})
    matrix = pd.DataFrame(matrix_rows)
    matrix["criterion"] = matrix["criterion"].astype("string")
    matrix["required"] = matrix["required"].astype("string")
    for column in ("weight", "score", "weighted"):
        matrix[column] = matrix[column].astype("Float64")
    matrix["signals"] = matrix["signals"].astype("Int64")
    total = float(assessed["weighted_score"]) if assessed is not None else None

    listed = review["approvers"] if review is not None else None
    approver_ids = list(dict.fromkeys(str(a) for a in listed)) if isinstance(
        listed, (tuple, list)) else []
    approvers = pd.DataFrame({
        "member_id": pd.Series(approver_ids, dtype="string"),
        "name": pd.Series([names.get(a) for a in approver_ids], dtype="string"),
        "senior": pd.Series([bool(leader.get(a, False)) if pd.notna(leader.get(a, False))
                             and a != member_id else False for a in approver_ids],
                            dtype="boolean"),
    })

    evidence = _evidence(signals, member_id, start, when, row_url)
    mentoring = _checkins(checkins, "mentor_id", member_id, "mentee_id", names, start, when,
                          ["focus_area", "progress"])
    observations = _checkins(checkins, "mentee_id", member_id, "mentor_id", names, start,
                             when, ["focus_area", "observation", "progress"])

    # Impact metrics.
    weights = dict(impact_weights or analytics.DEFAULT_IMPACT_WEIGHTS)
    scored = analytics.score_members(signals, members, as_of=when, impact_weights=weights,
                                     half_life_days=half_life_days).frame
    mine = scored[scored["member_id"].astype("object") == member_id]
    earlier = when.tz_localize(None).to_period("M") - 3
    before = (earlier + 1).start_time.tz_localize("UTC") - pd.Timedelta(microseconds=1)
    old = analytics.score_members(signals[signals["date"].isna() | (signals["date"] <= before)],
                                  members, as_of=before, impact_weights=weights,
                                  half_life_days=half_life_days).frame
    old_mine = old[old["member_id"].astype("object") == member_id]
    metrics: list[tuple[str, str]] = []
    if len(mine):
        s = mine.iloc[0]
        metrics += [
            ("Leadership score (0–100)", _fmt(float(s["score"]))),
            ("Rank in the team", f"{int(s['rank'])} of {len(scored)}"),
            ("Percentile in the team", _fmt(float(s["percentile"]), 0)),
            ("Change over 1 month", _fmt(float(s["score_change"])
                                         if pd.notna(s["score_change"]) else None, sign=True)),
            ("Change over 3 months", _fmt(float(s["score"]) - float(old_mine.iloc[0]["score"])
                                          if len(old_mine) and pd.notna(
                                              old_mine.iloc[0]["score"]) else None, sign=True)),
            ("Breadth over signal types (0–1)", _fmt(float(s["breadth"]), 2)),
        ]
    counts = evidence["impact"].value_counts()
    linked = int(evidence["evidence"].notna().sum())
    metrics += [
        (f"Signals in the last {evidence_days} days", f"{len(evidence)}"),
        ("of which High / Medium / Low impact",
         " / ".join(str(int(counts.get(level, 0))) for level in reversed(IMPACT_LEVELS))),
        ("Signals with an evidence link",
         f"{linked} ({linked / len(evidence) * 100:.0f}%)" if len(evidence) else "0"),
    ]
    stage = _text(member.get("stage"))
    if stage is not None:
        in_stage = milestones[(milestones["member_id"].astype("object") == member_id)
                              & (milestones["stage"].astype("object") == stage)]
        done = int(in_stage["completed_on"].notna().sum())
        metrics.append((f"Milestones of the {stage.replace('_', ' ')} stage",
                        f"{done} of {len(in_stage)}" if len(in_stage) else NOT_RECORDED))
    led = int((rotations["lead_id"].astype("object") == member_id).sum()) if len(rotations) \
        else 0
    metrics.append(("Sprints led", f"{led}" if len(rotations) else NOT_RECORDED))
    metrics.append(("Mentees in check-ins, last year",
                    f"{mentoring['mentee_id'].nunique()} ({len(mentoring)} check-ins)"
                    if len(checkins) else NOT_RECORDED))
    led_projects = (_projects(projects, members, member_id, when, names, row_url)
                    if projects is not None else None)
    metrics += _project_metrics(projects, members, member_id, when, led_projects)
    metric_frame = pd.DataFrame({"metric": pd.Series([m for m, _ in metrics], dtype="string"),
                                 "value": pd.Series([v for _, v in metrics], dtype="string")})

    started = member.get("stage_started")
    stage_started = _utc(started) if started is not None and pd.notna(started) else None
    status = str(assessed["status"]) if assessed is not None else "not reviewed"
    decided = review["decided_on"] if review is not None else None
    mine_feedback = None
    if feedback is not None and len(feedback):
        rows = feedback[feedback["member_id"].astype("object") == member_id]
        if len(rows):
            mine_feedback = pd.DataFrame({
                "source": pd.Series(rows["source"].to_numpy(), dtype="string"),
                "summary": pd.Series(rows["summary"].to_numpy(), dtype="string")})
    return PromotionPacket(
        as_of=when, member_id=member_id, name=_text(member["name"]) or member_id,
        current_role=_text(member.get("role")),
        proposed_role=_text(review["proposed_role"]) if review is not None else None,
        timezone=_text(member.get("timezone")), track=_text(member.get("track")), stage=stage,
        stage_started=stage_started,
        review_id=str(review["review_id"]) if review is not None else None,
        decision=_text(review["decision"]) if review is not None else None,
        decided_on=_utc(decided) if decided is not None and pd.notna(decided) else None,
        matrix=matrix, weighted_total=total, status=status, approvers=approvers,
        min_senior_approvers=min_senior_approvers, evidence=evidence, mentoring=mentoring,
        observations=observations.head(OBSERVATIONS), metrics=metric_frame,
        feedback=mine_feedback, evidence_days=evidence_days, notes=notes,
        projects=led_projects)


def months_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Months (of 30.44 days) from ``start`` to ``end``."""
    return _months(start, end)


def label(when: pd.Timestamp | dt.date) -> str:
    """``"October 2026"``."""
    return month_label(when)
