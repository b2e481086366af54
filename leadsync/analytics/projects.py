"""Project-lead experiments: who has had which experience, what comes next, and who gets them.

Owns the seed's third-stage "Project Lead Experiments" (seed 000): *shadow
projects* (observe a senior lead in planning without formal responsibility),
*pilot projects* (lead a small cross-team initiative with executive
sponsorship) and *improvement initiatives* (own a process improvement with
defined success metrics). "Each project type provides different leadership
experiences and creates evidence for promotion decisions."

:func:`assess_projects` gives, as of a date: the projects under way or done,
each member's experiences by kind and outcome and the next rung of the
ladder Shadow → Pilot → Improvement; per time-zone group, the pipeline's
share of pilot and improvement leads against its share of the pipeline,
with the four-fifths flag and the small-group suppression of
:func:`~leadsync.analytics.assess_representation` (the seed warns that
leadership opportunities drift to the leaders' region); and the rows that
break the seed's own rules (a pilot with no sponsor, an improvement with no
success metrics, a project past its end with no outcome).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.analytics._checks import (
    NAT,
    Issues,
    category_codes,
    check_members,
    id_index,
    member_codes,
    merge_quarantines,
    require_columns,
    require_unique,
    timestamps_ns,
    utc_timestamp,
)
from leadsync.analytics._signals import NS_PER_DAY
from leadsync.analytics.display import member_names, result_html
from leadsync.analytics.timezones import (
    DEFAULT_OFFSET_EDGES,
    compute_timezone_groups,
    summarise_groups,
)
from leadsync.errors import DataValidationError
from leadsync.tables import PROJECT_KINDS, PROJECT_OUTCOMES

__all__ = [
    "NEXT_STEPS",
    "PROJECT_PROBLEMS",
    "PROJECT_STATUSES",
    "ProjectExperiments",
    "assess_projects",
]

#: The next rung for a member: a kind of project, or a promotion review once an
#: improvement initiative has gone well.
NEXT_STEPS: tuple[str, ...] = (*PROJECT_KINDS, "Promotion review")
#: Where a project stands at ``as_of``.
PROJECT_STATUSES: tuple[str, ...] = ("in progress", "finished", "past end, no outcome")
#: What the data-quality checks find, in the order they are listed.
PROJECT_PROBLEMS: tuple[str, ...] = (
    "pilot has no sponsor",
    "improvement has no success metrics",
    "past its end date without an outcome",
    "ends before it starts",
    "has no start date",
)

_FINAL = tuple(o for o in PROJECT_OUTCOMES if o != "Ongoing")
#: Outcomes that climb the ladder (a pilot that did not work is practice, not a rung).
_CLIMBS = ("Succeeded", "Partly")

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ProjectExperiments:
    """:func:`assess_projects`'s result: ``projects``, ``members``, ``fairness``, ``problems``."""

    projects: pd.DataFrame
    members: pd.DataFrame
    fairness: pd.DataFrame
    problems: pd.DataFrame
    quarantine: pd.DataFrame
    #: ``member_id`` → name, for display (a notebook shows names beside ids).
    names: pd.Series | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        return result_html({"projects": self.projects, "members": self.members,
                            "fairness": self.fairness, "problems": self.problems},
                           self.quarantine, self.names)


def _categorical(codes: npt.NDArray[np.int8], vocabulary: Sequence[str]) -> pd.Categorical:
    """Codes (-1: missing) as an ordered categorical of ``vocabulary``."""
    labels = np.array([*vocabulary, None], dtype=object)[codes.astype(np.int64)]
    return pd.Categorical(labels, categories=list(vocabulary), ordered=True)


def _times(values: IntArray) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")


def assess_projects(
    projects: pd.DataFrame,
    members: pd.DataFrame,
    *,
    as_of: object,
    window_days: float = 365.0,
    offset_edges: Sequence[float] = DEFAULT_OFFSET_EDGES,
    regions: Mapping[str, str] | None = None,
    min_group_size: int = 3,
    threshold: float = 0.8,
    publishable: bool = False,
) -> ProjectExperiments:
    """Project-lead experiments at ``as_of``: per project, per member, per time-zone group.

    A project counts once it has started (``started_on`` at or before
    ``as_of``); one starting later is a plan, and one with no start date is
    not counted (the problems say so). Its status at ``as_of``:
    *finished* when its outcome is Succeeded, Partly or Did not and it has no
    end date or one at or before ``as_of``; *past end, no outcome* when its
    end date is before ``as_of``'s day and its outcome is missing or Ongoing;
    otherwise *in progress* (an outcome recorded for an end still to come is
    not known yet at ``as_of``).

    Columns of ``projects`` (the projects started by ``as_of``, by start then
    ``project_id``): ``project_id``, ``name`` (string); ``kind`` (ordered
    categorical of :data:`~leadsync.tables.PROJECT_KINDS`); ``lead_id``,
    ``sponsor_id`` (string); ``started_on``, ``ended_on`` (datetime64[ns,
    UTC]); ``outcome`` (ordered categorical of
    :data:`~leadsync.tables.PROJECT_OUTCOMES`, as recorded); ``status``
    (ordered categorical of :data:`PROJECT_STATUSES`); ``success_metrics``,
    ``evidence`` (string).

    Columns of ``members`` (one row per member with an id, by ``member_id``):
    ``member_id`` (string); ``is_leader``, ``pipeline`` (boolean: on a
    development track); ``shadow``, ``pilot``, ``improvement`` (Int64:
    projects of that kind led, started by ``as_of``); ``succeeded``,
    ``partly``, ``did_not`` (Int64: finished projects led, by outcome);
    ``in_progress``, ``no_outcome`` (Int64: led projects in those statuses);
    ``sponsored`` (Int64: projects sponsored); ``reached`` (ordered
    categorical of kinds: the highest kind of project the member led to a
    Succeeded or Partly outcome, NA when none); ``next_step`` (ordered
    categorical of :data:`NEXT_STEPS`: the kind after ``reached`` on the
    seed's ladder Shadow → Pilot → Improvement, Shadow when nothing is
    reached, "Promotion review" after an improvement; NA for current
    leaders, who are not climbing it).

    Columns of ``fairness`` (one row per grouping and group, as in
    :func:`~leadsync.analytics.assess_representation`): the population is
    the pipeline (members on a development track, placed with
    :func:`~leadsync.analytics.compute_timezone_groups` at ``as_of``, so
    DST moves a member between offset bands); a project counts when it was
    running at some point in the ``window_days`` up to ``as_of``.
    ``grouping``, ``group`` (string); ``pipeline`` (the group's pipeline
    members), ``pipeline_share`` (of the whole pipeline); for
    ``pilot_leads`` and ``improvement_leads`` (pipeline members who led at
    least one such project): the count, ``_share`` (of all such leads),
    ``_ratio`` (share ÷ pipeline share), ``_impact_ratio`` (the group's rate
    ÷ the best rate among groups of at least ``min_group_size``) and
    ``_flag`` (boolean: impact ratio below ``threshold``, the four-fifths
    rule); ``pilots``, ``improvements`` (projects led); ``suppressed``
    (boolean). Counts are Float64. ``publishable`` pools groups under
    ``min_group_size`` exactly as the representation audit does.

    Columns of ``problems`` (one row per project and problem, by
    ``project_id`` then the order of :data:`PROJECT_PROBLEMS`):
    ``project_id``, ``name`` (string); ``kind`` (categorical); ``lead_id``
    (string); ``problem`` (string, one of :data:`PROJECT_PROBLEMS`).
    Projects starting after ``as_of`` are checked too (a pilot should have
    its sponsor before it starts).

    ``quarantine``: projects with no id, name, kind or lead, a kind or
    outcome outside the vocabulary, a lead or sponsor who matches no member,
    a date that does not parse; members without an id; pipeline members
    without a valid time zone (left out of ``fairness`` only).
    """
    at = utc_timestamp(as_of)
    if not (np.isfinite(window_days) and window_days > 0):
        raise DataValidationError(f"window_days must be a positive number, not {window_days!r}")
    member_issues = check_members(members, ["name", "is_leader", "track", "timezone"])
    all_ids = id_index(members["member_id"])
    require_columns(projects, "projects", ["project_id", "name", "kind", "lead_id",
                                           "sponsor_id", "started_on", "ended_on",
                                           "success_metrics", "outcome", "evidence"])
    require_unique(projects, "projects", "project_id")
    issues = Issues("projects", projects, "project_id")
    issues.flag(projects["project_id"].isna().to_numpy(), "project_id is missing")
    name_text = projects["name"].astype("string").str.strip()
    issues.flag((name_text.isna() | (name_text == "")).fillna(True).to_numpy(dtype=bool),
                "name is missing")
    kind = category_codes(projects, "kind", PROJECT_KINDS, issues, required=True)
    outcome = category_codes(projects, "outcome", PROJECT_OUTCOMES, issues, required=False)
    lead = member_codes(projects, "lead_id", all_ids, issues, required=True)
    sponsor = member_codes(projects, "sponsor_id", all_ids, issues, required=False)
    started = timestamps_ns(projects, "started_on", issues, required=False)
    ended = timestamps_ns(projects, "ended_on", issues, required=False)

    ok = issues.ok
    good = projects[ok].reset_index(drop=True)
    kind, outcome, lead, sponsor = kind[ok], outcome[ok], lead[ok], sponsor[ok]
    started, ended = started[ok], ended[ok]
    metrics = good["success_metrics"].astype("string").str.strip()
    no_metrics = (metrics.isna() | (metrics == "")).fillna(True).to_numpy(dtype=bool)

    day = at.normalize().value
    has_start, has_end = started != NAT, ended != NAT
    begun = has_start & (started <= at.value)
    final = np.isin(outcome, [PROJECT_OUTCOMES.index(o) for o in _FINAL])
    finished = final & (~has_end | (ended <= at.value))
    overdue = ~final & has_end & (ended < day)
    status = np.where(finished, 1, np.where(overdue, 2, 0)).astype(np.int8)

    problems = _problems(good, kind, sponsor, no_metrics, overdue, has_start, has_end,
                         started, ended)

    # -- projects under way or done ------------------------------------------------
    shown = good[begun]
    order = np.lexsort((shown["project_id"].astype(str).to_numpy(), started[begun]))
    listed = pd.DataFrame({
        "project_id": pd.Series(shown["project_id"].to_numpy(), dtype="string"),
        "name": pd.Series(shown["name"].astype("string").str.strip().to_numpy(),
                          dtype="string"),
        "kind": pd.Series(_categorical(kind[begun], PROJECT_KINDS)),
        "lead_id": pd.Series(all_ids[lead[begun]].to_numpy(), dtype="string"),
        "sponsor_id": pd.Series([all_ids[s] if s >= 0 else None for s in sponsor[begun]],
                                dtype="string"),
        "started_on": _times(started[begun]),
        "ended_on": _times(ended[begun]),
        "outcome": pd.Series(_categorical(outcome[begun], PROJECT_OUTCOMES)),
        "status": pd.Series(_categorical(status[begun], PROJECT_STATUSES)),
        "success_metrics": pd.Series(metrics[begun].to_numpy(), dtype="string"),
        "evidence": pd.Series(shown["evidence"].astype("string").to_numpy(), dtype="string"),
    }).iloc[order].reset_index(drop=True)

    # -- per member ----------------------------------------------------------------
    n = len(all_ids)

    def per_member(mask: BoolArray, who: IntArray = lead) -> pd.Series:
        chosen = mask & (who >= 0)
        return pd.Series(np.bincount(who[chosen], minlength=n), dtype="Int64")

    with_id = members[members["member_id"].notna()]
    by_id = with_id.set_index(with_id["member_id"].astype("object"))
    leader = by_id["is_leader"].reindex(all_ids).astype("boolean").fillna(False)
    track = by_id["track"].reindex(all_ids).astype("string").str.strip()
    in_pipeline = (track.notna() & (track != "")).fillna(False).to_numpy(dtype=bool)
    climbed = begun & finished & np.isin(outcome, [PROJECT_OUTCOMES.index(o) for o in _CLIMBS])
    reached = np.full(n, -1, dtype=np.int64)
    np.maximum.at(reached, lead[climbed], kind[climbed].astype(np.int64))
    next_step = np.where(leader.to_numpy(dtype=bool), -1, reached + 1)
    per = pd.DataFrame({
        "member_id": pd.Series(all_ids.to_numpy(), dtype="string"),
        "is_leader": pd.Series(leader.to_numpy(), dtype="boolean"),
        "pipeline": pd.Series(in_pipeline, dtype="boolean"),
    })
    for position, name in enumerate(PROJECT_KINDS):
        per[name.lower()] = per_member(begun & (kind == position))
    for name in _FINAL:
        per[name.lower().replace(" ", "_")] = per_member(
            begun & finished & (outcome == PROJECT_OUTCOMES.index(name)))
    per["in_progress"] = per_member(begun & (status == 0))
    per["no_outcome"] = per_member(begun & (status == 2))
    per["sponsored"] = per_member(begun, sponsor)
    per["reached"] = pd.Series(_categorical(reached.astype(np.int8), PROJECT_KINDS))
    per["next_step"] = pd.Series(_categorical(next_step.astype(np.int8), NEXT_STEPS))
    per = per.sort_values("member_id", kind="stable").reset_index(drop=True)

    # -- fairness over the pipeline, by time-zone group ------------------------------
    window_start = at.value - int(window_days * NS_PER_DAY)
    running = begun & (~has_end | (ended >= window_start))
    pipeline_members = members[members["member_id"].isin(
        list(all_ids[in_pipeline])).fillna(False)]
    grouped = compute_timezone_groups(pipeline_members, as_of=at, offset_edges=offset_edges,
                                      regions=regions)
    groups = grouped.frame
    where = all_ids.get_indexer(pd.Index(groups["member_id"].astype("object")))
    pilots = per_member(running & (kind == PROJECT_KINDS.index("Pilot"))).to_numpy(
        dtype=np.int64)[where]
    improvements = per_member(running & (kind == PROJECT_KINDS.index("Improvement"))).to_numpy(
        dtype=np.int64)[where]
    counts = {"pilot_leads": (pilots > 0).astype(np.int64),
              "improvement_leads": (improvements > 0).astype(np.int64),
              "pilots": pilots, "improvements": improvements}
    fairness = summarise_groups(groups, counts, outcomes=("pilot_leads", "improvement_leads"),
                                min_group_size=min_group_size, threshold=threshold,
                                publishable=publishable)
    fairness = fairness.rename(columns={"members": "pipeline", "team_share": "pipeline_share"})

    return ProjectExperiments(
        listed, per, fairness, problems,
        merge_quarantines(member_issues.quarantine(), issues.quarantine(), grouped.quarantine),
        member_names(members),
    )


def _problems(good: pd.DataFrame, kind: npt.NDArray[np.int8], sponsor: IntArray,
              no_metrics: BoolArray, overdue: BoolArray, has_start: BoolArray,
              has_end: BoolArray, started: IntArray, ended: IntArray) -> pd.DataFrame:
    checks: list[tuple[str, BoolArray]] = [
        (PROJECT_PROBLEMS[0], (kind == PROJECT_KINDS.index("Pilot")) & (sponsor < 0)),
        (PROJECT_PROBLEMS[1], (kind == PROJECT_KINDS.index("Improvement")) & no_metrics),
        (PROJECT_PROBLEMS[2], overdue),
        (PROJECT_PROBLEMS[3], has_start & has_end & (ended < started)),
        (PROJECT_PROBLEMS[4], ~has_start),
    ]
    rows = [(position, rank, problem) for rank, (problem, mask) in enumerate(checks)
            for position in np.flatnonzero(mask).tolist()]
    ids = good["project_id"].astype(str).to_numpy()
    rows.sort(key=lambda r: (ids[r[0]], r[1]))
    positions = [r[0] for r in rows]
    picked = good.iloc[positions]
    return pd.DataFrame({
        "project_id": pd.Series(picked["project_id"].to_numpy(), dtype="string"),
        "name": pd.Series(picked["name"].astype("string").str.strip().to_numpy(),
                          dtype="string"),
        "kind": pd.Series(_categorical(kind[positions], PROJECT_KINDS)),
        "lead_id": pd.Series(picked["lead_id"].astype("string").to_numpy(), dtype="string"),
        "problem": pd.Series([r[2] for r in rows], dtype="string"),
    })
