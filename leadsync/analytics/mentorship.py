"""Mentorship cadence: which mentor pairings are overdue for a check-in, and by how long.

Owns the cadence rule. Seed 000: "Schedule these async check-ins bi-weekly".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leadsync.analytics._checks import (
    NAT,
    Issues,
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
from leadsync.analytics.display import member_names
from leadsync.errors import DataValidationError
from leadsync.tables import Validated

__all__ = ["CADENCE_STATUSES", "DEFAULT_CADENCE_DAYS", "assess_mentorship"]

#: Bi-weekly, as the seed schedules the async check-ins.
DEFAULT_CADENCE_DAYS = 14

#: ``status`` categories, worst first.
CADENCE_STATUSES: tuple[str, ...] = ("no check-ins", "overdue", "on time")


def assess_mentorship(
    members: pd.DataFrame,
    checkins: pd.DataFrame,
    *,
    as_of: object,
    cadence_days: float = DEFAULT_CADENCE_DAYS,
) -> Validated:
    """For every member with a mentor: the last check-in and how overdue the next one is.

    A mentee is a member with a ``mentor_id``. Their check-ins are the
    ``checkins`` rows with them as ``mentee_id`` dated at or before
    ``as_of`` (with any mentor, so a change of mentor keeps the history).
    Days are whole UTC calendar days: ``days_since = as_of's date − the last
    check-in's date``. ``overdue_days = max(0, days_since − cadence_days)``.
    Status: ``on time`` when not overdue; ``overdue`` when it is;
    ``no check-ins`` when there has been none (then ``last_checkin``,
    ``days_since`` and ``overdue_days`` are NA: since when is unknown).

    Returns :class:`~leadsync.tables.Validated`; ``quarantine`` holds members
    whose mentor is unknown or themself, and check-ins with a missing or
    unknown mentee or dated after ``as_of``. Raises on missing columns,
    duplicate ids, or a cadence that is not positive.

    Columns of ``frame`` (one row per mentee: those with no check-ins first,
    then the most overdue, then by ``member_id``): ``member_id``, ``mentor_id``
    (string); ``checkins`` (Int64, all check-ins up to ``as_of``);
    ``last_checkin`` (datetime64[ns, UTC]); ``days_since`` (Int64);
    ``overdue_days`` (Int64); ``status`` (ordered categorical of
    :data:`CADENCE_STATUSES`).
    """
    at = utc_timestamp(as_of)
    if not (math.isfinite(cadence_days) and cadence_days > 0):
        raise DataValidationError(f"cadence_days must be a positive number, not {cadence_days!r}")
    issues = check_members(members, ["mentor_id"])
    all_ids = id_index(members["member_id"])
    has_mentor = members["mentor_id"].notna().to_numpy()
    mentor = all_ids.get_indexer(pd.Index(members["mentor_id"].astype("object")))
    issues.flag(has_mentor & (mentor < 0),
                lambda i: f"mentor_id {members['mentor_id'].iat[i]!r} matches no member")
    issues.flag(has_mentor & (members["mentor_id"] == members["member_id"])
                .fillna(False).to_numpy(dtype=bool), "mentor_id is the member themself")
    mentees = members[has_mentor & issues.ok]
    ids = id_index(mentees["member_id"])

    require_columns(checkins, "checkins", ["checkin_id", "mentee_id", "date"])
    require_unique(checkins, "checkins", "checkin_id")
    checkin_issues = Issues("checkins", checkins, "checkin_id")
    checkin_issues.flag(checkins["checkin_id"].isna().to_numpy(), "checkin_id is missing")
    who = member_codes(checkins, "mentee_id", all_ids, checkin_issues, required=True)
    when = timestamps_ns(checkins, "date", checkin_issues, required=True, not_after=at)
    ok = checkin_issues.ok
    # Check-ins of members who are not (or no longer) mentees are valid rows, just not counted.
    mentee_of = ids.get_indexer(all_ids[who[ok]]) if ok.any() else np.zeros(0, dtype=np.int64)
    counted = mentee_of >= 0
    position = mentee_of[counted]
    dates = when[ok][counted]
    count = np.bincount(position, minlength=len(ids))
    last = np.full(len(ids), NAT, dtype=np.int64)
    np.maximum.at(last, position, dates)

    today = at.normalize().value
    seen = last != NAT
    last_day = np.where(seen, (last // NS_PER_DAY) * NS_PER_DAY, today)
    days = (today - last_day) // NS_PER_DAY
    overdue = np.maximum(0, np.ceil(days - cadence_days)).astype(np.int64)
    status = np.where(~seen, "no check-ins", np.where(overdue > 0, "overdue", "on time"))
    frame = pd.DataFrame({
        "member_id": pd.Series(ids.to_numpy(), dtype="string"),
        "mentor_id": pd.Series(mentees["mentor_id"].to_numpy(), dtype="string"),
        "checkins": pd.Series(count, dtype="Int64"),
        "last_checkin": pd.Series(pd.to_datetime(np.where(seen, last, NAT), utc=True),
                                  dtype="datetime64[ns, UTC]"),
        "days_since": pd.Series(days, dtype="Int64").where(seen),
        "overdue_days": pd.Series(overdue, dtype="Int64").where(seen),
        "status": pd.Categorical(status, categories=list(CADENCE_STATUSES), ordered=True),
    })
    frame = (
        frame.assign(_seen=seen, _overdue=overdue)
        .sort_values(["_seen", "_overdue", "member_id"], ascending=[True, False, True],
                     kind="stable")
        .drop(columns=["_seen", "_overdue"])
        .reset_index(drop=True)
    )
    return Validated(frame, merge_quarantines(issues.quarantine(), checkin_issues.quarantine()),
                     member_names(members))
