"""assess_tracks: milestones against the stage's list, time in stage, pace status."""

from __future__ import annotations

import pandas as pd
import pytest

from leadsync.analytics import PACE_STATUSES, TECHNICAL_LEADERSHIP_TRACK, assess_tracks
from leadsync.errors import DataValidationError

from .factories import frame, members

AS_OF = "2026-03-02"
TRACK = "technical_leadership"
EARLY = list(TECHNICAL_LEADERSHIP_TRACK["early_leadership"]["milestones"])
EMERGING = list(TECHNICAL_LEADERSHIP_TRACK["emerging_leader"]["milestones"])
ESTABLISHED = list(TECHNICAL_LEADERSHIP_TRACK["established_leader"]["milestones"])
MONTH = 365.25 / 12


def on_track(member_id: str, stage: str, started: str, **extra: object) -> dict[str, object]:
    return {"member_id": member_id, "track": TRACK, "stage": stage, "stage_started": started,
            **extra}


def done(member_id: str, *names: str, on: str = "2026-02-15") -> list[dict[str, object]]:
    return [{"member_id": member_id, "milestone": n, "completed_on": on} for n in names]


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    team = members(
        on_track("a", "early_leadership", "2026-01-01"),
        on_track("b", "early_leadership", "2026-01-01"),
        on_track("c", "emerging_leader", "2025-06-01"),
        on_track("d", "established_leader", "2026-02-01"),
        on_track("e", "early_leadership", "2025-12-01"),
        on_track("f", "early_leadership", "2025-09-01"),
        on_track("h", "established_leader", "2026-02-01"),
        {"member_id": "off"},
    )
    rows = [
        *done("a", *EARLY[:3]),
        *done("b", *EARLY),
        *done("c", EMERGING[0]),
        *done("e", EARLY[0]),
        *done("f", *EARLY),
        *done("h", *ESTABLISHED[:2]),
        # Not counted: another stage's milestone, one not completed, one not on the list.
        *done("a", EMERGING[0]),
        {"member_id": "d", "milestone": ESTABLISHED[0]},
        *done("d", "Organised the offsite"),
    ]
    return team, frame("milestones", *rows)


def test_pace_by_hand() -> None:
    team, milestones = example()
    result = assess_tracks(team, milestones, as_of=AS_OF)
    assert result.ok
    out = result.frame.set_index("member_id")
    assert list(out.index) == ["a", "b", "c", "d", "e", "f", "h"]  # "off" is on no track

    # a: 60 days into a 3-month stage: 60 / 30.4375 = 1.971 months, 0.657 of the time;
    # 3 of 4 milestones (0.75): pace 0.75 − 0.657 = 0.093 → on pace.
    assert out.loc["a", "months_in_stage"] == pytest.approx(60 / MONTH)
    assert out.loc["a", "time_used"] == pytest.approx(60 / MONTH / 3)
    assert out.loc["a", "milestones_done"] == 3
    assert out.loc["a", "milestones_total"] == 4
    assert out.loc["a", "milestones_missing"] == (EARLY[3],)
    assert out.loc["a", "pace"] == pytest.approx(0.75 - 60 / MONTH / 3)
    assert out.loc["a", "status"] == "on pace"
    # b: all four within the expected time → ahead.
    assert out.loc["b", "status"] == "ahead"
    # c: 274 days into 6 months (1.5 of the time), 1 of 4: pace ≈ −1.25 → needs support.
    assert out.loc["c", "time_used"] == pytest.approx(274 / MONTH / 6)
    assert out.loc["c", "status"] == "needs support"
    # d: 29 days into 12 months, nothing done yet (0.079 of the time): on pace.
    assert out.loc["d", "milestones_done"] == 0
    assert out.loc["d", "status"] == "on pace"
    # e: 91 days (0.997 of the time) with 1 of 4: pace ≈ −0.75 → needs support.
    assert out.loc["e", "pace"] == pytest.approx(0.25 - 91 / MONTH / 3)
    assert out.loc["e", "status"] == "needs support"
    # f: twice the expected time but every milestone done: never "needs support".
    assert out.loc["f", "time_used"] > 1.9
    assert out.loc["f", "status"] == "on pace"
    # h: 2 of 4 (0.5) with 0.079 of the time used: pace 0.42 ≥ 0.25 → ahead.
    assert out.loc["h", "status"] == "ahead"
    assert list(result.frame["status"].cat.categories) == list(PACE_STATUSES)


def test_margins_are_the_room_for_individual_pacing() -> None:
    team, milestones = example()
    lenient = assess_tracks(team, milestones, as_of=AS_OF, behind_margin=1.5).frame
    assert (lenient["status"] != "needs support").all()


def test_milestone_text_matches_ignoring_case_and_spacing_and_track_names_normalise() -> None:
    team = members({"member_id": "a", "track": "Technical Leadership",
                    "stage": "early_leadership", "stage_started": "2026-02-01"})
    milestones = frame("milestones", *done("a", "  mentored 2+ junior ENGINEERS  through "
                                                "complete features"))
    out = assess_tracks(team, milestones, as_of=AS_OF).frame
    assert out.loc[0, "milestones_done"] == 1
    assert out.loc[0, "track"] == "Technical Leadership"


def test_custom_tracks() -> None:
    tracks = {"management": {"new_manager": {"duration_months": 2,
                                             "milestones": ["Ran 1:1s", "Hired"]}}}
    team = members({"member_id": "m", "track": "management", "stage": None,
                    "stage_started": "2026-01-01"})
    # The canonical stage vocabulary is the seed's; a custom track reads the column as text.
    hand_made = team.astype({"stage": "string"})
    hand_made.loc[0, "stage"] = "new_manager"
    milestones = frame("milestones", *done("m", "Ran 1:1s"))
    out = assess_tracks(hand_made, milestones, as_of=AS_OF, tracks=tracks).frame
    # 60 days of 2 months: 0.986 of the time, half done: pace −0.486 → on pace.
    assert out.loc[0, "expected_months"] == 2
    assert out.loc[0, "progress"] == 0.5
    assert out.loc[0, "status"] == "on pace"
    with pytest.raises(DataValidationError, match="duration_months"):
        assess_tracks(team, milestones, as_of=AS_OF,
                      tracks={"x": {"s": {"duration_months": 0, "milestones": ["a"]}}})


def test_rows_that_do_not_fit_are_quarantined() -> None:
    team = members(
        on_track("ok", "early_leadership", "2026-01-01"),
        {"member_id": "mgmt", "track": "Management", "stage": "early_leadership",
         "stage_started": "2026-01-01"},
        on_track("nostart", "early_leadership", None),
        on_track("future", "early_leadership", "2026-05-01"),
        {"member_id": "nostage", "track": TRACK},
    )
    milestones = frame(
        "milestones",
        *done("ok", EARLY[0], on="2026-04-01"),
        *done("ghost", EARLY[0]),
    )
    result = assess_tracks(team, milestones, as_of=AS_OF)
    assert list(result.frame["member_id"]) == ["ok"]
    assert result.frame.loc[0, "milestones_done"] == 0  # completed after as_of
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons == {
        "src-mgmt": "track 'Management' is not configured; known: technical_leadership",
        "src-nostart": "stage_started is missing",
        "src-future": "stage_started 2026-05-01T00:00:00+00:00 is after as_of "
                      "2026-03-02T00:00:00+00:00",
        "src-nostage": "track is set but stage is missing",
        "src-mil-0": "completed_on 2026-04-01T00:00:00+00:00 is after as_of "
                     "2026-03-02T00:00:00+00:00",
        "src-mil-1": "member_id 'ghost' matches no member",
    }


def test_a_stage_the_track_does_not_have_is_quarantined() -> None:
    tracks = {TRACK: {"early_leadership": TECHNICAL_LEADERSHIP_TRACK["early_leadership"]}}
    team = members(on_track("x", "emerging_leader", "2026-01-01"))
    result = assess_tracks(team, frame("milestones"), as_of=AS_OF, tracks=tracks)
    assert result.frame.empty
    assert list(result.quarantine["reason"]) == [
        "stage 'emerging_leader' is not a stage of track 'technical_leadership'"
    ]


def test_empty_and_one_member_teams() -> None:
    empty = assess_tracks(members(), frame("milestones"), as_of=AS_OF)
    assert empty.frame.empty
    assert "status" in empty.frame.columns
    one = assess_tracks(members(on_track("a", "early_leadership", AS_OF)), frame("milestones"),
                        as_of=AS_OF).frame
    assert one.loc[0, "months_in_stage"] == 0
    assert one.loc[0, "status"] == "on pace"
