"""assess_mentorship: bi-weekly cadence, who is overdue and by how long."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.analytics import CADENCE_STATUSES, assess_mentorship
from leadsync.errors import DataValidationError

from .factories import frame, members

AS_OF = "2026-03-31"


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    team = members(
        {"member_id": "L", "is_leader": True},
        {"member_id": "X", "is_leader": True},
        {"member_id": "m1", "mentor_id": "L"},
        {"member_id": "m2", "mentor_id": "L"},
        {"member_id": "m3", "mentor_id": "L"},
        {"member_id": "m4", "mentor_id": "L"},
        {"member_id": "m5", "mentor_id": "L"},
    )
    checkins = frame(
        "checkins",
        {"mentee_id": "m1", "mentor_id": "L", "date": "2026-02-20"},
        {"mentee_id": "m1", "mentor_id": "L", "date": "2026-03-10"},
        {"mentee_id": "m2", "mentor_id": "L", "date": "2026-03-20"},
        {"mentee_id": "m4", "mentor_id": "L", "date": "2026-03-17"},
        {"mentee_id": "m5", "mentor_id": "X", "date": "2026-03-25"},  # the previous mentor
    )
    return team, checkins


def test_cadence_by_hand() -> None:
    team, checkins = example()
    result = assess_mentorship(team, checkins, as_of=AS_OF)
    assert result.ok
    out = result.frame
    # No check-ins first, then the most overdue, then by id.
    assert list(out["member_id"]) == ["m3", "m1", "m2", "m4", "m5"]
    row = out.set_index("member_id")
    # m1: last 03-10, 21 days before 03-31: 7 days past the 14-day cadence.
    assert row.loc["m1", "checkins"] == 2
    assert row.loc["m1", "last_checkin"] == pd.Timestamp("2026-03-10", tz="UTC")
    assert (row.loc["m1", "days_since"], row.loc["m1", "overdue_days"]) == (21, 7)
    assert row.loc["m1", "status"] == "overdue"
    # m2: 11 days; m4: exactly 14 days is on time.
    assert (row.loc["m2", "days_since"], row.loc["m2", "overdue_days"]) == (11, 0)
    assert (row.loc["m4", "days_since"], row.loc["m4", "status"]) == (14, "on time")
    # m3: never met: since when is unknown, so NA rather than a number.
    assert row.loc["m3", "status"] == "no check-ins"
    assert pd.isna(row.loc["m3", "days_since"])
    assert pd.isna(row.loc["m3", "overdue_days"])
    # m5's history with a previous mentor still counts.
    assert row.loc["m5", "days_since"] == 6
    assert list(out["status"].cat.categories) == list(CADENCE_STATUSES)


def test_days_are_calendar_days_and_the_cadence_is_configurable() -> None:
    team, checkins = example()
    late_in_the_day = assess_mentorship(team, checkins, as_of="2026-03-31T23:30:00Z").frame
    assert late_in_the_day.set_index("member_id").loc["m1", "days_since"] == 21
    weekly = assess_mentorship(team, checkins, as_of=AS_OF, cadence_days=7).frame
    assert weekly.set_index("member_id").loc["m2", "overdue_days"] == 4
    with pytest.raises(DataValidationError, match="cadence_days"):
        assess_mentorship(team, checkins, as_of=AS_OF, cadence_days=0)


def test_rows_that_do_not_fit_are_quarantined() -> None:
    team = members(
        {"member_id": "L", "is_leader": True},
        {"member_id": "ok", "mentor_id": "L"},
        {"member_id": "self", "mentor_id": "self"},
        {"member_id": "lost", "mentor_id": "L"},
    )
    # build_frame would already refuse an unknown mentor; a hand-made frame can have one.
    team.loc[team["member_id"] == "lost", "mentor_id"] = "gone"
    checkins = frame(
        "checkins",
        {"mentee_id": "ok", "date": "2026-04-02"},
        {"mentee_id": "nobody", "date": "2026-03-02"},
    )
    result = assess_mentorship(team, checkins, as_of=AS_OF)
    assert list(result.frame["member_id"]) == ["ok"]
    assert result.frame.loc[0, "status"] == "no check-ins"  # the future one is not counted
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons == {
        "src-self": "mentor_id is the member themself",
        "src-lost": "mentor_id 'gone' matches no member",
        "src-che-0": "date 2026-04-02T00:00:00+00:00 is after as_of 2026-03-31T00:00:00+00:00",
        "src-che-1": "mentee_id 'nobody' matches no member",
    }


def test_empty_and_one_member_teams() -> None:
    assert assess_mentorship(members(), frame("checkins"), as_of=AS_OF).frame.empty
    one = assess_mentorship(members({"member_id": "solo"}), frame("checkins"), as_of=AS_OF)
    assert one.frame.empty  # nobody has a mentor
    assert one.ok
