"""Overlap windows: when a distributed team's working hours meet, and who pays for meetings.

Owns the minute-by-minute availability of members on a date (from their IANA
time zone and local working hours, DST-aware), the team-wide overlap, the
pairwise overlap matrix, the ranking of meeting slots, and a rotation of a
recurring meeting that shares the out-of-hours burden optimally.

Seed 001: "identify and protect your overlap window" and "rotate meeting
times … rotating the inconvenience".

Conventions, all documented on the functions:

* a *day* is a UTC calendar day, [00:00, 24:00) UTC; a window that spans
  midnight UTC shows as two intervals, one ending at 24:00 and one starting
  at 00:00;
* every local date is a working day (pick a mid-week date);
* working hours ``"HH:MM-HH:MM"`` are local wall-clock times; an end at or
  before the start crosses midnight (``"22:00-06:00"``); each local day's
  hours are placed on the UTC line with that day's offset, so a shift that
  spans a DST change is an hour shorter or longer, and a wall time skipped
  by a spring-forward change is read with the offset before it (PEP 495,
  ``fold=0``);
* times are kept to the minute (every current IANA offset is a whole number
  of minutes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from leadsync.analytics._checks import (
    check_members,
    check_timezones,
    parse_hours,
    utc_date,
    zone,
)
from leadsync.analytics._minmax import DEFAULT_MAX_NODES, WeekGroup, optimal_slot_counts
from leadsync.analytics.display import member_names, result_html, result_repr
from leadsync.errors import DataValidationError
from leadsync.tables import Validated

__all__ = [
    "MeetingRotation",
    "Overlap",
    "compute_overlap",
    "compute_pairwise_overlap",
    "plan_meeting_rotation",
    "rank_meeting_slots",
]

_DAY = 24 * 60
#: Availability is laid out from the day before to the day after (UTC), so
#: a meeting near midnight and the distance to the next working minute are seen.
_SPAN = 3 * _DAY
_UTC = dt.UTC

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


# ---------------------------------------------------------------------------
# Members → profiles (a time zone and working hours) → availability


@dataclass(frozen=True)
class _Team:
    """The members that can be placed on the UTC line, grouped by identical profile."""

    member_ids: list[str]  # sorted
    timezones: list[str]  # per member
    profile: npt.NDArray[np.int64]  # per member: index into profiles
    profiles: list[tuple[str, int, int]]  # (zone, start minute, end minute)
    quarantine: pd.DataFrame

    @property
    def weights(self) -> npt.NDArray[np.int64]:
        """Members per profile."""
        return np.bincount(self.profile, minlength=len(self.profiles)).astype(np.int64)


def _team(members: pd.DataFrame, default_hours: str | None) -> _Team:
    issues = check_members(members, ["timezone", "working_hours"])
    if default_hours is not None and parse_hours(default_hours) is None:
        raise DataValidationError(
            f'default_hours {default_hours!r} is not working hours like "09:00-17:00"'
        )
    names = check_timezones(members, issues)
    hours_text = members["working_hours"].astype("string").str.strip()
    if default_hours is not None:
        hours_text = hours_text.fillna(default_hours)
    issues.flag(hours_text.isna().to_numpy(), "working_hours is missing")
    parsed = {h: parse_hours(h) for h in pd.unique(hours_text.dropna())}
    issues.flag(hours_text.map(lambda h: parsed[h] is None, na_action="ignore")
                .astype("boolean").fillna(False).to_numpy(dtype=bool),
                lambda i: f'working_hours {hours_text.iat[i]!r} is not like "09:00-17:00" '
                "(start and end must differ)")
    ok = issues.ok
    table = pd.DataFrame({
        "member_id": members["member_id"][ok].astype(str).to_numpy(),
        "timezone": names[ok].astype(str).to_numpy(),
        "hours": hours_text[ok].astype(str).to_numpy(),
    }).sort_values("member_id", kind="stable")
    keys = list(zip(table["timezone"], table["hours"], strict=True))
    profiles: list[tuple[str, int, int]] = []
    seen: dict[tuple[str, str], int] = {}
    codes = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        if key not in seen:
            seen[key] = len(profiles)
            start, end = parsed[key[1]] or (0, 0)
            profiles.append((key[0], start, end))
        codes[i] = seen[key]
    return _Team(
        table["member_id"].tolist(), table["timezone"].tolist(), codes, profiles,
        issues.quarantine(),
    )


def _availability(profile: tuple[str, int, int], day: dt.date) -> BoolArray:
    """Working minutes from ``day``−1 00:00 UTC to ``day``+2 00:00 UTC."""
    name, start, end = profile
    info = zone(name)
    assert info is not None  # checked in _team
    origin = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(0), tzinfo=_UTC)
    length = end - start if end > start else end + _DAY - start
    mask = np.zeros(_SPAN, dtype=bool)
    for shift in range(-2, 3):
        midnight = dt.datetime.combine(day + dt.timedelta(days=shift), dt.time(0), tzinfo=info)
        # Adding a timedelta to an aware datetime moves the wall clock, so each
        # end is read with the offset in force at that wall time.
        begin = midnight + dt.timedelta(minutes=start)
        finish = midnight + dt.timedelta(minutes=start + length)
        a = round((begin - origin).total_seconds() / 60)
        b = round((finish - origin).total_seconds() / 60)
        mask[max(a, 0):max(min(b, _SPAN), 0)] = True
    return mask


def _availabilities(team: _Team, day: dt.date) -> BoolArray:
    """(profiles, _SPAN) availability matrix."""
    if not team.profiles:
        return np.zeros((0, _SPAN), dtype=bool)
    return np.stack([_availability(p, day) for p in team.profiles])


def _distances(available: BoolArray) -> FloatArray:
    """Per profile and minute: minutes to the nearest working minute (0 inside hours)."""
    minutes = np.arange(_SPAN)
    out = np.empty(available.shape, dtype=np.float64)
    for row, mask in enumerate(available):
        working = np.flatnonzero(mask)
        if working.size == 0:
            out[row] = np.inf
            continue
        after = np.searchsorted(working, minutes)
        nxt = working[np.minimum(after, working.size - 1)]
        prv = working[np.maximum(after - 1, 0)]
        out[row] = np.minimum(np.abs(nxt - minutes), np.abs(minutes - prv))
    return out


def _burdens(available: BoolArray, duration: int, slot: int) -> FloatArray:
    """(profiles, slots) hours the meeting reaches outside each profile's working hours.

    For a meeting starting at each ``slot``-minute step of the day and lasting
    ``duration`` minutes: the largest distance, over its minutes, to the
    profile's nearest working minute (0 when the whole meeting is inside).
    """
    distance = _distances(available)
    segment = distance[:, _DAY : 2 * _DAY + duration - 1]
    windows = np.lib.stride_tricks.sliding_window_view(segment, duration, axis=1)
    hours: FloatArray = windows.max(axis=2)[:, ::slot] / 60.0
    return hours


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) minute runs where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _instant(day: dt.date, minute: int) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(0), tzinfo=_UTC)) + pd.Timedelta(
        minutes=minute
    )


def _check_meeting(duration_minutes: int, slot_minutes: int) -> None:
    if not (isinstance(duration_minutes, int) and 1 <= duration_minutes <= _DAY):
        raise DataValidationError(
            f"duration_minutes must be a whole number of minutes from 1 to 1440, "
            f"not {duration_minutes!r}"
        )
    if not (isinstance(slot_minutes, int) and 1 <= slot_minutes <= _DAY
            and _DAY % slot_minutes == 0):
        raise DataValidationError(
            f"slot_minutes must divide a day (e.g. 15, 30, 60), not {slot_minutes!r}"
        )


# ---------------------------------------------------------------------------
# Team overlap


@dataclass(frozen=True)
class Overlap:
    """The team-wide overlap on one day: ``team`` in UTC, ``local`` per member, ``quarantine``."""

    team: pd.DataFrame
    local: pd.DataFrame
    quarantine: pd.DataFrame
    #: ``member_id`` → name, for display (a notebook shows names beside ids).
    names: pd.Series | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        return result_html({"team": self.team, "local": self.local}, self.quarantine,
                           self.names)

    def __repr__(self) -> str:
        return result_repr("Overlap", {"team": self.team, "local": self.local},
                           self.quarantine)

    @property
    def hours(self) -> float:
        """Total team-wide overlap on the day, in hours."""
        return float(self.team["hours"].sum())


def compute_overlap(
    members: pd.DataFrame, *, on: object, default_hours: str | None = None
) -> Overlap:
    """When every member is inside working hours on the UTC day ``on``.

    ``default_hours`` (e.g. ``"09:00-17:00"``) stands in for a missing
    ``working_hours``; without it such a member is quarantined. A member with
    no or an unknown time zone is quarantined. An empty team has no overlap;
    a one-member team's overlap is that member's own hours.

    ``team`` columns (one row per interval, in time order): ``start_utc``,
    ``end_utc`` (datetime64[ns, UTC]); ``hours`` (Float64).

    ``local`` columns (one row per member and interval, ordered by
    ``member_id`` then ``start_utc``): ``member_id``, ``timezone`` (string);
    ``start_utc``, ``end_utc`` (datetime64[ns, UTC]); ``start_local``,
    ``end_local`` (datetime64[ns], the member's wall clock); ``utc_offset``
    (Float64, hours east of UTC at the interval's start).
    """
    day = utc_date(on, "on")
    team = _team(members, default_hours)
    available = _availabilities(team, day)[:, _DAY : 2 * _DAY]
    common: BoolArray = (
        np.asarray(available.all(axis=0), dtype=bool) if len(team.profiles)
        else np.zeros(_DAY, dtype=bool)
    )
    runs = _runs(common)
    starts = [_instant(day, a) for a, _ in runs]
    ends = [_instant(day, b) for _, b in runs]
    team_frame = pd.DataFrame({
        "start_utc": pd.Series(starts, dtype="datetime64[ns, UTC]"),
        "end_utc": pd.Series(ends, dtype="datetime64[ns, UTC]"),
        "hours": pd.Series([(b - a) / 60 for a, b in runs], dtype="Float64"),
    })
    local = _local_view(team, starts, ends)
    return Overlap(team_frame, local, team.quarantine, member_names(members))


def _local_view(team: _Team, starts: list[pd.Timestamp], ends: list[pd.Timestamp]) -> pd.DataFrame:
    """One row per member and interval; wall-clock times worked out once per time zone."""
    zones = sorted(set(team.timezones))
    count = len(starts)
    local_start = np.empty((len(zones), count), dtype="datetime64[ns]")
    local_end = np.empty((len(zones), count), dtype="datetime64[ns]")
    offset = np.empty((len(zones), count), dtype=np.float64)
    for row, name in enumerate(zones):
        info = zone(name)
        for col, (start, end) in enumerate(zip(starts, ends, strict=True)):
            wall = start.tz_convert(info)
            local_start[row, col] = wall.tz_localize(None).to_datetime64()
            local_end[row, col] = end.tz_convert(info).tz_localize(None).to_datetime64()
            offset[row, col] = (wall.utcoffset() or dt.timedelta(0)).total_seconds() / 3600
    which = np.searchsorted(np.array(zones, dtype=object), np.array(team.timezones, dtype=object))
    members = len(team.member_ids)
    rows = np.repeat(which, count)
    cols = np.tile(np.arange(count), members)
    return pd.DataFrame({
        "member_id": pd.Series(np.repeat(np.array(team.member_ids, dtype=object), count),
                               dtype="string"),
        "timezone": pd.Series(np.repeat(np.array(team.timezones, dtype=object), count),
                              dtype="string"),
        "start_utc": _tiled(starts, members),
        "end_utc": _tiled(ends, members),
        "start_local": pd.Series(local_start[rows, cols], dtype="datetime64[ns]"),
        "end_local": pd.Series(local_end[rows, cols], dtype="datetime64[ns]"),
        "utc_offset": pd.Series(offset[rows, cols], dtype="Float64"),
    })


def _tiled(instants: list[pd.Timestamp], times: int) -> pd.Series:
    ns = pd.DatetimeIndex(instants, dtype="datetime64[ns, UTC]").asi8
    return pd.Series(pd.to_datetime(np.tile(ns, times), utc=True), dtype="datetime64[ns, UTC]")


def compute_pairwise_overlap(
    members: pd.DataFrame, *, on: object, default_hours: str | None = None
) -> Validated:
    """Hours each pair of members is both inside working hours on the UTC day ``on``.

    ``frame`` is square: index and columns are the ``member_id`` of every
    placeable member, sorted (index name ``member_id``, columns name
    ``with``); values are hours (float32, exact for whole and quarter hours
    and within 1e-6 h otherwise, which keeps a 10,000-member matrix at
    400 MB). The diagonal is each member's own working hours within the day.
    ``quarantine`` as in :func:`compute_overlap`.
    """
    day = utc_date(on, "on")
    team = _team(members, default_hours)
    available = _availabilities(team, day)[:, _DAY : 2 * _DAY].astype(np.float32)
    minutes = available @ available.T
    matrix = np.take(np.take(minutes / np.float32(60), team.profile, axis=0),
                     team.profile, axis=1)
    ids = pd.Index(team.member_ids, dtype="string", name="member_id")
    frame = pd.DataFrame(matrix, index=ids, columns=ids.rename("with"), copy=False)
    return Validated(frame, team.quarantine, member_names(members))


# ---------------------------------------------------------------------------
# Meeting slots and the rotation


def rank_meeting_slots(
    members: pd.DataFrame,
    *,
    on: object,
    duration_minutes: int = 60,
    slot_minutes: int = 30,
    default_hours: str | None = None,
) -> Validated:
    """Every meeting start on the UTC day ``on``, best first.

    Candidate starts are every ``slot_minutes`` from 00:00 UTC; a meeting
    lasts ``duration_minutes``. A member's *burden* for a meeting is how far
    it reaches outside their working hours, in hours (0 when it sits inside;
    0.5 for a 09:00–17:00 member in a meeting from 08:30). Ranked by members
    available (inside hours for the whole meeting), most first; then total
    burden, least first; then start time.

    Columns of ``frame`` (one row per start): ``rank`` (Int64, 1 = best);
    ``start_utc``, ``end_utc`` (datetime64[ns, UTC]); ``available`` (Int64);
    ``available_share`` (Float64, of the placeable members; 0 for an empty
    team); ``out_of_hours`` (Int64); ``total_burden_hours`` (Float64);
    ``max_burden_hours`` (Float64, the worst-off member's burden; 0 for an
    empty team). ``quarantine`` as in :func:`compute_overlap`.
    """
    _check_meeting(duration_minutes, slot_minutes)
    day = utc_date(on, "on")
    team = _team(members, default_hours)
    burden = _burdens(_availabilities(team, day), duration_minutes, slot_minutes)
    frame = _slot_table(team, burden, day, duration_minutes, slot_minutes)
    frame = frame.sort_values(
        ["available", "total_burden_hours", "start_utc"], ascending=[False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    frame.insert(0, "rank", pd.Series(np.arange(1, len(frame) + 1), dtype="Int64"))
    return Validated(frame, team.quarantine)


def _slot_table(
    team: _Team, burden: FloatArray, day: dt.date, duration: int, slot: int
) -> pd.DataFrame:
    weights = team.weights
    total = int(weights.sum())
    starts = np.arange(0, _DAY, slot)
    inside = (burden == 0).astype(np.int64)
    available = weights @ inside if total else np.zeros(starts.size, dtype=np.int64)
    total_burden = weights.astype(np.float64) @ burden if total else np.zeros(starts.size)
    worst = burden.max(axis=0) if total else np.zeros(starts.size)
    origin = _instant(day, 0)
    start_utc = origin + pd.to_timedelta(starts, unit="min")
    return pd.DataFrame({
        "start_utc": pd.Series(start_utc, dtype="datetime64[ns, UTC]"),
        "end_utc": pd.Series(start_utc + pd.Timedelta(minutes=duration),
                             dtype="datetime64[ns, UTC]"),
        "available": pd.Series(available, dtype="Int64"),
        "available_share": pd.Series(available / max(total, 1), dtype="Float64"),
        "out_of_hours": pd.Series(total - available, dtype="Int64"),
        "total_burden_hours": pd.Series(np.round(total_burden, 9), dtype="Float64"),
        "max_burden_hours": pd.Series(worst, dtype="Float64"),
    })


@dataclass(frozen=True)
class MeetingRotation:
    """A recurring meeting's slot per week, each member's burden, and the quarantine.

    ``optimal`` is True when the plan is proven to put the least possible
    out-of-hours time on its worst-off member and then on the team;
    ``bound_hours`` is the proven least possible largest burden (the plan's
    own largest burden when ``optimal``).
    """

    schedule: pd.DataFrame
    burden: pd.DataFrame
    quarantine: pd.DataFrame
    optimal: bool = True
    bound_hours: float = 0.0
    #: ``member_id`` → name, for display (a notebook shows names beside ids).
    names: pd.Series | None = field(default=None, repr=False, compare=False)

    def _repr_html_(self) -> str:
        proof = ("proven optimal" if self.optimal else
                 f"not proven optimal; no plan can go below {self.bound_hours:.1f} h")
        return (f"<p><small>Largest burden: the plan is {proof}.</small></p>"
                + result_html({"schedule": self.schedule, "burden": self.burden},
                              self.quarantine, self.names))

    def __repr__(self) -> str:
        held = result_repr("MeetingRotation",
                           {"schedule": self.schedule, "burden": self.burden}, self.quarantine)
        proof = "proven optimal" if self.optimal else f"bound {self.bound_hours:g} h"
        return f"{held[:-1]}; {proof}>"


def plan_meeting_rotation(
    members: pd.DataFrame,
    *,
    start: object,
    weeks: int,
    duration_minutes: int = 60,
    slot_minutes: int = 30,
    default_hours: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> MeetingRotation:
    """A weekly meeting's time for ``weeks`` weeks from the UTC day ``start``, sharing the burden.

    Each week (``start``, ``start`` + 7 days, …, each day's own DST offsets)
    the meeting takes one slot (burden as in :func:`rank_meeting_slots`). The
    plan is optimal over all the weeks at once, not week by week: it
    minimises the largest cumulative burden of any member; among the plans
    that do, the total burden of the team; then the worst single meeting any
    member sits through (plans still tied are told apart by the solver,
    deterministically). It is solved as an integer program (HiGHS, through
    SciPy; see :mod:`leadsync.analytics._minmax`), each of its stages
    stopping after ``max_nodes`` branch-and-bound nodes: small and typical
    teams are proven optimal; for a team spread round the clock the proof
    can need more, and the result's ``optimal`` and ``bound_hours`` say how
    close the plan is. Weeks that take different slots alternate, so the
    inconvenience rotates rather than coming in runs.

    ``schedule`` columns (one row per week): ``week`` (Int64, from 1);
    ``start_utc``, ``end_utc`` (datetime64[ns, UTC]); ``available``,
    ``out_of_hours`` (Int64); ``total_burden_hours``, ``max_burden_hours``
    (Float64).

    ``burden`` columns (one row per member, heaviest first then
    ``member_id``): ``member_id``, ``timezone`` (string);
    ``out_of_hours_meetings`` (Int64); ``burden_hours`` (Float64, summed over
    the weeks); ``worst_burden_hours`` (Float64, the worst single meeting).
    """
    _check_meeting(duration_minutes, slot_minutes)
    if not (isinstance(weeks, int) and 1 <= weeks <= 520):
        raise DataValidationError(f"weeks must be a whole number from 1 to 520, not {weeks!r}")
    first = utc_date(start, "start")
    team = _team(members, default_hours)
    weights = team.weights
    profiles = len(team.profiles)
    days = [first + dt.timedelta(days=7 * week) for week in range(weeks)]
    # Weeks between two DST changes have the same burdens: one group each.
    group_of: list[int] = []
    groups: list[WeekGroup] = []
    burdens: list[FloatArray] = []
    seen: dict[bytes, int] = {}
    for day in days:
        burden = _burdens(_availabilities(team, day), duration_minutes, slot_minutes)
        key = burden.tobytes()
        if key not in seen:
            seen[key] = len(groups)
            groups.append(WeekGroup(0, np.rint(burden * 60).astype(np.int64)))
            burdens.append(burden)
        index = seen[key]
        groups[index] = WeekGroup(groups[index].weeks + 1, groups[index].burden)
        group_of.append(index)
    if not (isinstance(max_nodes, int) and max_nodes >= 1):
        raise DataValidationError(f"max_nodes must be a positive integer, not {max_nodes!r}")
    plan = optimal_slot_counts(groups, weights, max_nodes=max_nodes)
    queues = [_alternating(c) for c in plan.counts]
    cumulative = np.zeros(profiles)
    meetings_out = np.zeros(profiles, dtype=np.int64)
    worst = np.zeros(profiles)
    weekly: list[pd.DataFrame] = []
    for day, index in zip(days, group_of, strict=True):
        chosen = queues[index].pop(0)
        burden = burdens[index]
        table = _slot_table(team, burden, day, duration_minutes, slot_minutes)
        if profiles:
            cumulative += burden[:, chosen]
            meetings_out += burden[:, chosen] > 0
            worst = np.maximum(worst, burden[:, chosen])
        weekly.append(table.iloc[[chosen]])
    schedule = pd.concat(weekly, ignore_index=True)
    schedule.insert(0, "week", pd.Series(np.arange(1, weeks + 1), dtype="Int64"))
    burden_frame = pd.DataFrame({
        "member_id": pd.Series(team.member_ids, dtype="string"),
        "timezone": pd.Series(team.timezones, dtype="string"),
        "out_of_hours_meetings": pd.Series(meetings_out[team.profile], dtype="Int64"),
        "burden_hours": pd.Series(np.round(cumulative[team.profile], 9), dtype="Float64"),
        "worst_burden_hours": pd.Series(worst[team.profile], dtype="Float64"),
    })
    burden_frame = burden_frame.sort_values(
        ["burden_hours", "member_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    return MeetingRotation(schedule, burden_frame, team.quarantine, plan.optimal,
                           round(plan.bound_minutes / 60, 9), member_names(members))


def _alternating(counts: dict[int, int]) -> list[int]:
    """Slots in turn (earliest first each round) until each is used its number of weeks."""
    left = dict(sorted(counts.items()))
    order: list[int] = []
    while left:
        for slot in list(left):
            order.append(slot)
            left[slot] -= 1
            if not left[slot]:
                del left[slot]
    return order
