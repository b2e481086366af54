"""Analytics: pure functions from the canonical frames to decision-ready frames.

Owns everything leadsync computes about the team: leadership scores
(:func:`score_members`), time-zone groups and the representation audit
(:func:`compute_timezone_groups`, :func:`assess_representation`), overlap
windows and meeting rotation (:func:`compute_overlap`,
:func:`compute_pairwise_overlap`, :func:`rank_meeting_slots`,
:func:`plan_meeting_rotation`), development tracks (:func:`assess_tracks`),
promotion readiness (:func:`assess_promotions`), mentorship cadence
(:func:`assess_mentorship`), quiet members (:func:`find_quiet_members`) and
the sprint-lead rotation (:func:`assess_sprint_rotation`) and the project-lead
experiments (:func:`assess_projects`). The domain comes
from ``seeds/000`` and ``seeds/001``.

Conventions every function keeps:

* **Pure.** No I/O, no environment, no clock: time comes in as ``as_of``
  (or ``on``/``start`` for a calendar day), a ``datetime``/``Timestamp``
  (naive read as UTC), a ``date`` (midnight UTC) or an ISO string,
  normalised to UTC. Inputs are never modified.
* **Frames in, frames out.** Inputs are canonical frames as
  :func:`leadsync.tables.build_frame` makes them; only the columns a
  function needs must be present. Outputs are new frames with documented
  columns and dtypes, in a deterministic order, so shuffling input rows
  changes no result. Thresholds and weights are keyword arguments with
  defaults; the score's defaults are :class:`leadsync.config.ScoringConfig`'s.
* **One error policy.** When the input as a whole cannot be analysed (a
  missing column, a duplicate id, a keyword out of range) a
  :class:`~leadsync.errors.DataValidationError` names what is wrong. When a
  row does not fit (a value outside the vocabulary, a missing value, a date
  after ``as_of``, an unknown member, a missing or unknown time zone) it is
  left out and listed in the result's ``quarantine`` (the columns of
  :data:`leadsync.tables.QUARANTINE_COLUMNS`) with every reason. No row
  disappears silently, and no NaN appears but where a column's doc says NA.

Single-frame results are :class:`leadsync.tables.Validated` (``frame``,
``quarantine``, ``raise_if_bad()``); :class:`Overlap`,
:class:`MeetingRotation` and :class:`SprintRotation` carry several frames.
Each keeps the members' names for display: in a notebook a result shows as
HTML tables with a name beside every member id
(:mod:`leadsync.analytics.display`).
"""

from __future__ import annotations

from leadsync.analytics.activity import find_quiet_members
from leadsync.analytics.mentorship import (
    CADENCE_STATUSES,
    DEFAULT_CADENCE_DAYS,
    assess_mentorship,
)
from leadsync.analytics.overlap import (
    MeetingRotation,
    Overlap,
    compute_overlap,
    compute_pairwise_overlap,
    plan_meeting_rotation,
    rank_meeting_slots,
)
from leadsync.analytics.projects import (
    NEXT_STEPS,
    PROJECT_PROBLEMS,
    PROJECT_STATUSES,
    ProjectExperiments,
    assess_projects,
)
from leadsync.analytics.promotion import (
    CRITERIA,
    DECISION_WEIGHTS,
    EVIDENCE_BY_INDICATOR,
    EVIDENCE_BY_SIGNAL_TYPE,
    PROMOTION_STATUSES,
    assess_promotions,
)
from leadsync.analytics.rotation import SprintRotation, assess_sprint_rotation
from leadsync.analytics.scores import (
    DEFAULT_IMPACT_WEIGHTS,
    DEFAULT_PRIOR_STRENGTH,
    score_members,
)
from leadsync.analytics.timezones import (
    DEFAULT_OFFSET_EDGES,
    DEFAULT_REGIONS,
    POOLED_GROUP,
    assess_representation,
    compute_timezone_groups,
)
from leadsync.analytics.tracks import (
    DEFAULT_TRACKS,
    PACE_STATUSES,
    TECHNICAL_LEADERSHIP_TRACK,
    assess_tracks,
)

__all__ = [
    "CADENCE_STATUSES",
    "CRITERIA",
    "DECISION_WEIGHTS",
    "DEFAULT_CADENCE_DAYS",
    "DEFAULT_IMPACT_WEIGHTS",
    "DEFAULT_OFFSET_EDGES",
    "DEFAULT_PRIOR_STRENGTH",
    "DEFAULT_REGIONS",
    "DEFAULT_TRACKS",
    "EVIDENCE_BY_INDICATOR",
    "EVIDENCE_BY_SIGNAL_TYPE",
    "NEXT_STEPS",
    "PACE_STATUSES",
    "POOLED_GROUP",
    "PROJECT_PROBLEMS",
    "PROJECT_STATUSES",
    "PROMOTION_STATUSES",
    "TECHNICAL_LEADERSHIP_TRACK",
    "MeetingRotation",
    "Overlap",
    "ProjectExperiments",
    "SprintRotation",
    "assess_mentorship",
    "assess_projects",
    "assess_promotions",
    "assess_representation",
    "assess_sprint_rotation",
    "assess_tracks",
    "compute_overlap",
    "compute_pairwise_overlap",
    "compute_timezone_groups",
    "find_quiet_members",
    "plan_meeting_rotation",
    "rank_meeting_slots",
    "score_members",
]
