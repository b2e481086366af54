"""The one error policy, across every function: whole-frame problems raise, naming them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import leadsync.analytics as la
from leadsync.errors import DataValidationError

from .factories import frame, members, signal, signals

AS_OF = "2026-03-31"


def calls(team: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    sig = signals(signal("a", "2026-03-01"))
    scores = pd.DataFrame({"member_id": ["a"], "score": [1.0]})
    return {
        "score_members": lambda: la.score_members(sig, team, as_of=AS_OF),
        "compute_timezone_groups": lambda: la.compute_timezone_groups(team, as_of=AS_OF),
        "assess_representation": lambda: la.assess_representation(team, sig, scores,
                                                                  as_of=AS_OF),
        "compute_overlap": lambda: la.compute_overlap(team, on=AS_OF),
        "compute_pairwise_overlap": lambda: la.compute_pairwise_overlap(team, on=AS_OF),
        "rank_meeting_slots": lambda: la.rank_meeting_slots(team, on=AS_OF),
        "plan_meeting_rotation": lambda: la.plan_meeting_rotation(team, start=AS_OF, weeks=1),
        "assess_tracks": lambda: la.assess_tracks(team, frame("milestones"), as_of=AS_OF),
        "assess_promotions": lambda: la.assess_promotions(frame("reviews"), sig, team,
                                                          as_of=AS_OF),
        "assess_mentorship": lambda: la.assess_mentorship(team, frame("checkins"), as_of=AS_OF),
        "find_quiet_members": lambda: la.find_quiet_members(sig, team, as_of=AS_OF),
        "assess_sprint_rotation": lambda: la.assess_sprint_rotation(frame("rotations"), team,
                                                                    as_of=AS_OF),
        "assess_projects": lambda: la.assess_projects(frame("projects"), team, as_of=AS_OF),
    }


NAMES = list(calls(members()))


@pytest.mark.parametrize("name", NAMES)
def test_duplicate_member_ids_raise_naming_them(name: str) -> None:
    team = members({"member_id": "a", "timezone": "Europe/Oslo", "working_hours": "09:00-17:00"})
    twice = pd.concat([team, team], ignore_index=True)
    with pytest.raises(DataValidationError, match="members has duplicate member_id 'a'"):
        calls(twice)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_member_id_column_raises(name: str) -> None:
    team = members({"member_id": "a", "timezone": "Europe/Oslo"}).drop(columns=["member_id"])
    with pytest.raises(DataValidationError, match=r"members frame has no column.*'member_id'"):
        calls(team)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_a_member_without_an_id_is_quarantined_not_dropped(name: str) -> None:
    team = members({"member_id": "a", "timezone": "Europe/Oslo", "working_hours": "09:00-17:00"},
                   {"member_id": "b", "timezone": "Europe/Oslo", "working_hours": "09:00-17:00"})
    team.loc[1, "member_id"] = pd.NA
    result = calls(team)[name]()
    assert "member_id is missing" in set(result.quarantine["reason"])


def test_a_frame_that_is_not_a_frame_is_an_error() -> None:
    with pytest.raises(DataValidationError, match="members must be a pandas DataFrame"):
        la.compute_timezone_groups([{"member_id": "a"}], as_of=AS_OF)  # type: ignore[arg-type]
