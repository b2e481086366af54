"""Overlap windows, pairwise overlap, meeting slots and the meeting rotation, across DST."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from leadsync.analytics import (
    compute_overlap,
    compute_pairwise_overlap,
    plan_meeting_rotation,
    rank_meeting_slots,
)
from leadsync.errors import DataValidationError

from .factories import members

NINE_TO_FIVE = "09:00-17:00"


def team(**zones: str) -> pd.DataFrame:
    return members(*({"member_id": k, "timezone": v, "working_hours": NINE_TO_FIVE}
                     for k, v in zones.items()))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def intervals(on: str, frame: pd.DataFrame) -> list[tuple[str, str]]:
    overlap = compute_overlap(frame, on=on)
    return [(a.strftime("%H:%M"), "24:00" if b.date() > a.date() else b.strftime("%H:%M"))
            for a, b in zip(overlap.team["start_utc"], overlap.team["end_utc"], strict=True)]


NY_LONDON = {"ny": "America/New_York", "lon": "Europe/London"}


@pytest.mark.parametrize(
    ("on", "expected", "hours"),
    [
        # Both on winter time: NY 14:00–22:00 UTC (EST, −5), London 09:00–17:00 UTC.
        ("2026-03-02", [("14:00", "17:00")], 3.0),
        # Between the US switch (03-08) and the EU one (03-29): NY 13:00–21:00 (EDT, −4).
        ("2026-03-16", [("13:00", "17:00")], 4.0),
        # After both: London 08:00–16:00 (BST, +1).
        ("2026-04-06", [("13:00", "16:00")], 3.0),
        # EU back on 10-25, US not until 11-01: an hour more again.
        ("2026-10-27", [("13:00", "17:00")], 4.0),
        ("2026-11-03", [("14:00", "17:00")], 3.0),
    ],
)
def test_new_york_london_overlap_moves_with_each_dst_switch(
    on: str, expected: list[tuple[str, str]], hours: float
) -> None:
    frame = team(**NY_LONDON)
    assert intervals(on, frame) == expected
    assert compute_overlap(frame, on=on).hours == hours


def test_local_view_of_the_overlap() -> None:
    overlap = compute_overlap(team(**NY_LONDON), on="2026-03-16")
    local = overlap.local.set_index("member_id")
    # 13:00–17:00 UTC is 09:00–13:00 in New York (EDT) and 13:00–17:00 in London (GMT).
    assert local.loc["ny", "start_local"] == pd.Timestamp("2026-03-16 09:00")
    assert local.loc["ny", "end_local"] == pd.Timestamp("2026-03-16 13:00")
    assert local.loc["ny", "utc_offset"] == -4
    assert local.loc["lon", "start_local"] == pd.Timestamp("2026-03-16 13:00")
    assert local.loc["lon", "utc_offset"] == 0
    assert (local["start_utc"] == utc("2026-03-16 13:00")).all()


LA_SYDNEY = {"la": "America/Los_Angeles", "syd": "Australia/Sydney"}


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        # LA PST (−8): 17:00–01:00 UTC; Sydney AEDT (+11): 22:00–06:00 UTC.
        # Both windows span midnight UTC, so the day holds two pieces: 3 h.
        ("2026-03-02", [("00:00", "01:00"), ("22:00", "24:00")]),
        # LA on PDT (−7) from 03-08: 16:00–24:00; Sydney unchanged: 2 h.
        ("2026-03-16", [("22:00", "24:00")]),
        # Sydney falls back to AEST (+10) on 04-05 while LA stays on PDT: 1 h.
        ("2026-04-06", [("23:00", "24:00")]),
        # Southern spring: Sydney still AEST on 10-01 (1 h), AEDT from 10-04 (2 h).
        ("2026-10-01", [("23:00", "24:00")]),
        ("2026-10-05", [("22:00", "24:00")]),
    ],
)
def test_southern_hemisphere_switches_the_other_way(
    on: str, expected: list[tuple[str, str]]
) -> None:
    assert intervals(on, team(**LA_SYDNEY)) == expected


def test_local_dates_of_an_overlap_across_midnight() -> None:
    local = compute_overlap(team(**LA_SYDNEY), on="2026-03-16").local.set_index("member_id")
    # 22:00–24:00 UTC on the 16th: Monday afternoon in LA, Tuesday morning in Sydney.
    assert local.loc["la", "start_local"] == pd.Timestamp("2026-03-16 15:00")
    assert local.loc["syd", "start_local"] == pd.Timestamp("2026-03-17 09:00")
    assert local.loc["syd", "end_local"] == pd.Timestamp("2026-03-17 11:00")


def test_a_shift_spanning_the_dst_switch_is_an_hour_shorter() -> None:
    # 22:00 EST on 03-07 is 03:00 UTC on 03-08; 06:00 EDT on 03-08 is 10:00 UTC: 7 hours.
    night = members({"member_id": "n", "timezone": "America/New_York",
                     "working_hours": "22:00-06:00"})
    assert intervals("2026-03-08", night) == [("03:00", "10:00")]
    assert compute_pairwise_overlap(night, on="2026-03-08").frame.loc["n", "n"] == 7.0
    # A week later the same shift is 02:00–10:00 UTC, 8 hours.
    assert intervals("2026-03-15", night) == [("02:00", "10:00")]


def test_pairwise_overlap_matrix() -> None:
    frame = team(ny="America/New_York", lon="Europe/London", sg="Asia/Singapore")
    matrix = compute_pairwise_overlap(frame, on="2026-03-16").frame
    assert list(matrix.index) == ["lon", "ny", "sg"]
    assert list(matrix.columns) == ["lon", "ny", "sg"]
    assert matrix.loc["ny", "lon"] == matrix.loc["lon", "ny"] == 4.0
    # Singapore (+8) works 01:00–09:00 UTC: London starts at 09:00, no overlap.
    assert matrix.loc["sg", "lon"] == 0.0
    assert matrix.loc["sg", "ny"] == 0.0
    assert list(pd.Series([matrix.loc[k, k] for k in matrix.index])) == [8.0, 8.0, 8.0]
    # Nepal (+5:45) against London: 03:15–11:15 UTC and 09:00–17:00: 2 h 15 min.
    nepal = team(ktm="Asia/Kathmandu", lon="Europe/London")
    assert compute_pairwise_overlap(nepal, on="2026-03-16").frame.loc["ktm", "lon"] == 2.25


def test_empty_and_one_member_teams() -> None:
    empty = compute_overlap(members(), on="2026-03-16")
    assert empty.team.empty
    assert empty.local.empty
    assert empty.hours == 0
    assert compute_pairwise_overlap(members(), on="2026-03-16").frame.shape == (0, 0)
    slots = rank_meeting_slots(members(), on="2026-03-16").frame
    assert len(slots) == 48
    assert (slots["available"] == 0).all()
    assert plan_meeting_rotation(members(), start="2026-03-16", weeks=2).burden.empty

    solo = team(tok="Asia/Tokyo")
    # 09:00–17:00 JST (+9) is 00:00–08:00 UTC.
    assert intervals("2026-03-16", solo) == [("00:00", "08:00")]


def test_members_who_cannot_be_placed_are_quarantined() -> None:
    frame = members(
        {"member_id": "ok", "timezone": "Europe/Paris", "working_hours": NINE_TO_FIVE},
        {"member_id": "no-zone", "working_hours": NINE_TO_FIVE},
        {"member_id": "no-hours", "timezone": "Europe/Paris"},
        {"member_id": "bad-zone", "timezone": "Europe/Paris", "working_hours": NINE_TO_FIVE},
        {"member_id": "bad-hours", "timezone": "Europe/Paris", "working_hours": NINE_TO_FIVE},
    )
    hand_made = frame.copy()
    hand_made.loc[hand_made["member_id"] == "bad-zone", "timezone"] = "Europe/Atlantis"
    hand_made.loc[hand_made["member_id"] == "bad-hours", "working_hours"] = "09:00-09:00"
    result = compute_overlap(hand_made, on="2026-03-16")
    assert list(result.local["member_id"]) == ["ok"]
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons == {
        "src-no-zone": "timezone is missing",
        "src-no-hours": "working_hours is missing",
        "src-bad-zone": "timezone 'Europe/Atlantis' is not an IANA time zone",
        "src-bad-hours": "working_hours '09:00-09:00' is not like \"09:00-17:00\" "
                         "(start and end must differ)",
    }
    # With default hours, the member without hours takes them.
    filled = compute_overlap(hand_made, on="2026-03-16", default_hours="10:00-18:00")
    assert set(filled.local["member_id"]) == {"ok", "no-hours"}
    with pytest.raises(DataValidationError, match="default_hours"):
        compute_overlap(frame, on="2026-03-16", default_hours="9 to 5")


def test_meeting_slots_are_ranked_by_members_available_then_burden() -> None:
    slots = rank_meeting_slots(team(**NY_LONDON), on="2026-03-16").frame
    # Both are in for a one-hour meeting starting 13:00 … 16:00 UTC: seven starts.
    best = slots[slots["available"] == 2]
    assert list(best["start_utc"].dt.strftime("%H:%M")) == [
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00",
    ]
    assert list(best["rank"]) == [1, 2, 3, 4, 5, 6, 7]
    # 12:30–13:30: London in; New York half an hour before its 09:00.
    early = slots.set_index(slots["start_utc"].dt.strftime("%H:%M")).loc["12:30"]
    assert early["available"] == 1
    assert early["total_burden_hours"] == 0.5
    assert early["max_burden_hours"] == 0.5
    assert early["rank"] == 8
    with pytest.raises(DataValidationError, match="slot_minutes"):
        rank_meeting_slots(team(**NY_LONDON), on="2026-03-16", slot_minutes=7)


def test_rotation_shares_the_burden_when_nobody_overlaps() -> None:
    frame = team(ny="America/New_York", ind="Asia/Kolkata")
    rotation = plan_meeting_rotation(frame, start="2026-03-16", weeks=4)
    # Kolkata (+5:30) works 03:30–11:30 UTC, New York (EDT) 13:00–21:00: a 90-minute gap.
    # 11:30–12:30: Kolkata 1 h late, New York 1.5 h early (peak 1.5).
    # 12:00–13:00: Kolkata 1.5 h late, New York 1 h early (peak 1.5).
    # Week 1 takes the earlier; then the other keeps the worst cumulative burden lowest.
    assert list(rotation.schedule["start_utc"].dt.strftime("%H:%M")) == [
        "11:30", "12:00", "11:30", "12:00",
    ]
    assert list(rotation.schedule["max_burden_hours"]) == [1.5, 1.5, 1.5, 1.5]
    burden = rotation.burden.set_index("member_id")
    assert burden.loc["ny", "burden_hours"] == burden.loc["ind", "burden_hours"] == 5.0
    assert burden.loc["ny", "out_of_hours_meetings"] == 4
    assert burden.loc["ind", "worst_burden_hours"] == 1.5


def test_rotation_follows_the_dst_switch() -> None:
    rotation = plan_meeting_rotation(team(**NY_LONDON), start="2026-03-02", weeks=3)
    # The earliest slot inside both days: 14:00 UTC in EST weeks, 13:00 once NY is on EDT.
    assert list(rotation.schedule["start_utc"]) == [
        utc("2026-03-02 14:00"), utc("2026-03-09 13:00"), utc("2026-03-16 13:00"),
    ]
    assert list(rotation.schedule["week"]) == [1, 2, 3]
    assert (rotation.burden["burden_hours"] == 0).all()


def test_meeting_arguments_are_checked() -> None:
    with pytest.raises(DataValidationError, match="weeks"):
        plan_meeting_rotation(team(**NY_LONDON), start="2026-03-02", weeks=0)
    with pytest.raises(DataValidationError, match="duration_minutes"):
        rank_meeting_slots(team(**NY_LONDON), on=dt.date(2026, 3, 2), duration_minutes=0)
    with pytest.raises(DataValidationError, match="on 'someday' is not a date"):
        compute_overlap(team(**NY_LONDON), on="someday")


def test_slots_and_rotation_for_one_member() -> None:
    solo = team(tok="Asia/Tokyo")  # 00:00–08:00 UTC
    slots = rank_meeting_slots(solo, on="2026-03-16").frame
    # One-hour meetings starting 00:00 … 07:00 fit: 15 half-hour starts, all ranked first.
    assert list(slots["available"][:15]) == [1] * 15
    assert slots.loc[0, "start_utc"] == utc("2026-03-16 00:00")
    assert slots.loc[15, "available"] == 0
    # 07:30–08:30 reaches 30 minutes past 17:00 JST.
    late = slots.set_index(slots["start_utc"].dt.strftime("%H:%M")).loc["07:30"]
    assert late["max_burden_hours"] == 0.5
    rotation = plan_meeting_rotation(solo, start="2026-03-16", weeks=2)
    assert list(rotation.schedule["start_utc"].dt.strftime("%H:%M")) == ["00:00", "00:00"]
    assert rotation.burden.loc[0, "burden_hours"] == 0
