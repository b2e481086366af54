"""assess_sprint_rotation: who has led, who is due next, exposure by time-zone group."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.analytics import assess_sprint_rotation
from leadsync.errors import DataValidationError

from .factories import frame, members

AS_OF = "2026-03-31"


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    team = members(
        {"member_id": "a", "timezone": "America/New_York"},
        {"member_id": "b", "timezone": "America/Chicago"},
        {"member_id": "c", "timezone": "Europe/London"},
        {"member_id": "d", "timezone": "Europe/Berlin"},
        {"member_id": "e", "timezone": "Europe/Madrid"},
        {"member_id": "f"},  # no time zone
    )
    rotations = frame(
        "rotations",
        *({"sprint": f"S{i}", "starts_on": day, "lead_id": lead} for i, (day, lead) in
          enumerate([("2026-01-05", "a"), ("2026-01-19", "c"), ("2026-02-02", "a"),
                     ("2026-02-16", "d"), ("2026-03-02", "b"), ("2026-03-16", "c"),
                     ("2026-04-13", "e")])),
    )
    return team, rotations


def test_queue_by_hand() -> None:
    team, rotations = example()
    result = assess_sprint_rotation(rotations, team, as_of=AS_OF)
    queue = result.members
    # f never led and has nothing scheduled → due next; then longest since their last
    # sprint: a (02-02), d (02-16), b (03-02), c (03-16); e is already scheduled (04-13).
    assert list(queue["member_id"]) == ["f", "a", "d", "b", "c", "e"]
    assert list(queue["queue_position"]) == [1, 2, 3, 4, 5, 6]
    assert list(queue["due_next"]) == [True, False, False, False, False, False]
    row = queue.set_index("member_id")
    assert row.loc["a", "sprints_led"] == 2
    assert row.loc["a", "last_led"] == pd.Timestamp("2026-02-02", tz="UTC")
    assert row.loc["e", "sprints_led"] == 0
    assert row.loc["e", "next_scheduled"] == pd.Timestamp("2026-04-13", tz="UTC")
    assert pd.isna(row.loc["f", "last_led"])


def test_exposure_by_region_by_hand() -> None:
    team, rotations = example()
    result = assess_sprint_rotation(rotations, team, as_of=AS_OF)
    region = result.exposure[result.exposure["grouping"] == "region"].set_index("group")
    # America: a, b (both led, 3 sprints); Europe: c, d, e (two led, 3 sprints); f unplaced.
    assert list(region["members"]) == [2, 3]
    assert list(region["have_led"]) == [2, 2]
    assert list(region["sprints_led"]) == [3, 3]
    # Sprint share 0.5 each against member shares 0.4 and 0.6.
    assert list(region["sprints_led_ratio"]) == pytest.approx([1.25, 0.5 / 0.6])
    # Four-fifths on having led: America's 1.0 is from a group under 3, so Europe's 2/3
    # is the reference: 1.5 and 1.0, no flag.
    assert list(region["have_led_impact_ratio"]) == pytest.approx([1.5, 1.0])
    assert not region["have_led_flag"].any()
    assert list(region["suppressed"]) == [True, False]
    assert list(result.quarantine["reason"]) == ["timezone is missing"]


def test_pool_and_bad_rows() -> None:
    team, rotations = example()
    pooled = assess_sprint_rotation(rotations, team, as_of=AS_OF, pool=["c", "a"])
    assert list(pooled.members["member_id"]) == ["a", "c"]
    with pytest.raises(DataValidationError, match=r"pool names member.*'zed'"):
        assess_sprint_rotation(rotations, team, as_of=AS_OF, pool=["a", "zed"])
    bad = frame("rotations", {"starts_on": "2026-01-05", "lead_id": "ghost"},
                {"starts_on": "2026-01-19", "lead_id": "a"})
    result = assess_sprint_rotation(bad, team, as_of=AS_OF)
    assert "lead_id 'ghost' matches no member" in set(result.quarantine["reason"])
    assert result.members.set_index("member_id").loc["a", "sprints_led"] == 1


def test_empty_and_one_member_teams() -> None:
    empty = assess_sprint_rotation(frame("rotations"), members(), as_of=AS_OF)
    assert empty.members.empty
    assert empty.exposure.empty
    one = assess_sprint_rotation(frame("rotations"), members(
        {"member_id": "solo", "timezone": "Asia/Tokyo"}), as_of=AS_OF)
    assert list(one.members["due_next"]) == [True]
    assert list(one.exposure["members"]) == [1, 1]
