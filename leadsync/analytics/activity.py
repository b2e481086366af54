"""Quiet members: who used to be active and has gone noticeably quiet.

Owns the baseline-versus-recent comparison. Seed 001: "If someone who used to
be active in threads and reviews goes noticeably quiet, check in." The
measure is each member against their own past, never against the team.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from leadsync.analytics._checks import (
    NAT,
    check_members,
    id_index,
    merge_quarantines,
    utc_timestamp,
)
from leadsync.analytics._signals import NS_PER_DAY, prepare_signals
from leadsync.analytics.display import member_names
from leadsync.errors import DataValidationError
from leadsync.tables import Validated

__all__ = ["find_quiet_members"]


def find_quiet_members(
    signals: pd.DataFrame,
    members: pd.DataFrame,
    *,
    as_of: object,
    recent_days: float = 28.0,
    baseline_days: float = 182.0,
    threshold: float = 0.5,
    min_expected: float = 4.0,
) -> Validated:
    """Every member's recent signal rate against their own baseline; the quiet ones flagged.

    Activity is the signals recorded about the member. The recent window is
    the ``recent_days`` (default 28) up to ``as_of``; the baseline is the
    ``baseline_days`` (default 182) before that. ``expected_recent`` is the
    baseline rate carried over the recent window. A member is *quiet* when
    they used to be active, ``expected_recent ≥ min_expected`` (default 4
    signals, so chance lulls of the barely active are not flagged), and
    their recent rate is below ``threshold`` (default 0.5) times the
    baseline rate.

    Returns :class:`~leadsync.tables.Validated`; ``quarantine`` holds bad
    member and signal rows. Raises on missing columns, duplicate ids or bad
    windows.

    Columns of ``frame`` (one row per member: quiet first, then lowest
    ``activity_ratio``, then ``member_id``): ``member_id`` (string);
    ``baseline_signals`` (Int64); ``baseline_per_week`` (Float64);
    ``recent_signals`` (Int64); ``recent_per_week`` (Float64);
    ``expected_recent`` (Float64); ``activity_ratio`` (Float64, recent rate ÷
    baseline rate; NA when the baseline has no signals); ``last_signal``
    (datetime64[ns, UTC]; NaT when the member has none); ``quiet`` (boolean).
    """
    at = utc_timestamp(as_of)
    for name, value in (("recent_days", recent_days), ("baseline_days", baseline_days),
                        ("threshold", threshold)):
        if not (math.isfinite(value) and value > 0):
            raise DataValidationError(f"{name} must be a positive number, not {value!r}")
    if not (math.isfinite(min_expected) and min_expected >= 0):
        raise DataValidationError(
            f"min_expected must be a non-negative number, not {min_expected!r}"
        )
    issues = check_members(members, [])
    ids = id_index(members["member_id"])
    arrays, signal_quarantine = prepare_signals(signals, ids, at)
    n = len(ids)
    recent_start = at.value - int(recent_days * NS_PER_DAY)
    baseline_start = recent_start - int(baseline_days * NS_PER_DAY)
    in_recent = arrays.time > recent_start
    in_baseline = ~in_recent & (arrays.time > baseline_start)
    recent = np.bincount(arrays.member[in_recent], minlength=n)
    baseline = np.bincount(arrays.member[in_baseline], minlength=n)
    last = np.full(n, NAT, dtype=np.int64)
    np.maximum.at(last, arrays.member, arrays.time)

    baseline_rate = baseline / baseline_days  # per day
    recent_rate = recent / recent_days
    expected = baseline_rate * recent_days
    has_baseline = baseline > 0
    ratio = np.where(has_baseline, recent_rate / np.where(has_baseline, baseline_rate, 1.0),
                     np.nan)
    quiet = has_baseline & (expected >= min_expected) & (recent_rate < threshold * baseline_rate)
    frame = pd.DataFrame({
        "member_id": pd.Series(ids.to_numpy(), dtype="string"),
        "baseline_signals": pd.Series(baseline, dtype="Int64"),
        "baseline_per_week": pd.Series(np.round(baseline_rate * 7, 9), dtype="Float64"),
        "recent_signals": pd.Series(recent, dtype="Int64"),
        "recent_per_week": pd.Series(np.round(recent_rate * 7, 9), dtype="Float64"),
        "expected_recent": pd.Series(np.round(expected, 9), dtype="Float64"),
        "activity_ratio": pd.Series(np.round(ratio, 9), dtype="Float64"),
        "last_signal": pd.Series(pd.to_datetime(last, utc=True), dtype="datetime64[ns, UTC]"),
        "quiet": pd.Series(quiet, dtype="boolean"),
    })
    frame = (
        frame.assign(_ratio=np.where(has_baseline, ratio, np.inf))
        .sort_values(["quiet", "_ratio", "member_id"], ascending=[False, True, True],
                     kind="stable")
        .drop(columns="_ratio")
        .reset_index(drop=True)
    )
    return Validated(frame, merge_quarantines(issues.quarantine(), signal_quarantine),
                     member_names(members))
