"""assess_projects: experiences by kind and outcome, the next rung, fairness by group, checks.

Every figure here is worked out by hand in the comments beside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from leadsync.analytics import POOLED_GROUP, assess_projects
from leadsync.errors import DataValidationError

from .factories import frame, members, shuffled

JULY = "2026-07-15"       # US daylight time: Denver is UTC-6
DECEMBER = "2026-12-15"   # standard time: Denver is UTC-7
TRACK = "technical_leadership"

AMERICAS_EAST = "UTC-06:00 to UTC-02:00"
AMERICAS_WEST = "UTC-12:00 to UTC-06:00"
SOUTH_ASIA = "UTC+04:00 to UTC+07:00"
EAST_ASIA = "UTC+07:00 to UTC+10:00"


def team() -> pd.DataFrame:
    """Six on the track (three in the Americas, three in Asia) and one leader in London."""
    on_track = {"track": TRACK, "stage": "emerging_leader"}
    return members(
        {"member_id": "a", "timezone": "America/New_York", **on_track},
        {"member_id": "b", "timezone": "America/Chicago", **on_track},
        {"member_id": "c", "timezone": "America/Denver", **on_track},
        {"member_id": "d", "timezone": "Asia/Kolkata", **on_track},
        {"member_id": "e", "timezone": "Asia/Tokyo", **on_track},
        {"member_id": "f", "timezone": "Asia/Singapore", **on_track},
        {"member_id": "L", "timezone": "Europe/London", "is_leader": True},
    )


def project(project_id: str, kind: str, lead: str, started: str | None, ended: str | None,
            outcome: str | None, **extra: Any) -> dict[str, Any]:
    return {"project_id": project_id, "name": f"Project {project_id}", "kind": kind,
            "lead_id": lead, "started_on": started, "ended_on": ended, "outcome": outcome,
            **extra}


def projects() -> pd.DataFrame:
    """The Americas lead every pilot; Asia shadows and owns one improvement."""
    return frame(
        "projects",
        project("P1", "Shadow", "a", "2026-01-10", "2026-02-20", "Succeeded"),
        project("P2", "Pilot", "a", "2026-03-01", "2026-05-31", "Partly", sponsor_id="L",
                evidence="https://docs.example/p2"),
        project("P3", "Improvement", "a", "2026-06-01", "2026-09-30", "Ongoing",
                success_metrics="p50 CI under 10 minutes"),
        project("P4", "Pilot", "b", "2026-04-01", "2026-06-30", "Did not", sponsor_id="L"),
        project("P5", "Pilot", "c", "2026-05-01", "2026-07-10", None),
        project("P6", "Shadow", "d", "2026-02-01", "2026-03-01", "Succeeded"),
        project("P7", "Improvement", "e", "2026-07-01", "2026-08-31", "Ongoing"),
        project("P8", "Shadow", "f", "2026-08-01", "2026-09-15", None),  # not started in July
    )


def test_each_members_experiences_by_kind_and_outcome_and_the_next_rung() -> None:
    result = assess_projects(projects(), team(), as_of=JULY)
    assert result.quarantine.empty
    out = result.members.set_index("member_id")
    assert list(out.index) == ["L", "a", "b", "c", "d", "e", "f"]
    # a: shadow P1 (Succeeded), pilot P2 (Partly), improvement P3 (running to September).
    assert out.loc["a", ["shadow", "pilot", "improvement"]].tolist() == [1, 1, 1]
    assert out.loc["a", ["succeeded", "partly", "did_not", "in_progress", "no_outcome"]
                   ].tolist() == [1, 1, 0, 1, 0]
    # The highest rung done well is the pilot (Partly counts), so the improvement is next.
    assert out.loc["a", "reached"] == "Pilot"
    assert out.loc["a", "next_step"] == "Improvement"
    # b's only pilot did not work: practice, not a rung; the ladder starts at Shadow.
    assert out.loc["b", ["pilot", "did_not"]].tolist() == [1, 1]
    assert pd.isna(out.loc["b", "reached"])
    assert out.loc["b", "next_step"] == "Shadow"
    # c's pilot ended on 10 July with no outcome: past its end, not in progress.
    assert out.loc["c", ["pilot", "in_progress", "no_outcome"]].tolist() == [1, 0, 1]
    # d shadowed successfully: a pilot is next.
    assert out.loc["d", "reached"] == "Shadow"
    assert out.loc["d", "next_step"] == "Pilot"
    # e's improvement is under way; nothing reached yet.
    assert out.loc["e", ["improvement", "in_progress"]].tolist() == [1, 1]
    assert out.loc["e", "next_step"] == "Shadow"
    # f's shadowing starts in August: in July f has had no experience.
    assert out.loc["f", ["shadow", "pilot", "improvement"]].tolist() == [0, 0, 0]
    # The leader sponsors P2 and P4 and is not climbing the ladder.
    assert out.loc["L", "sponsored"] == 2
    assert pd.isna(out.loc["L", "next_step"])
    assert out["pipeline"].tolist() == [False, True, True, True, True, True, True]
    assert str(out["next_step"].dtype) == "category"


def test_the_projects_started_by_as_of_with_their_status() -> None:
    listed = assess_projects(projects(), team(), as_of=JULY).projects
    # P8 starts in August: a plan in July. Ordered by start.
    assert listed["project_id"].tolist() == ["P1", "P6", "P2", "P4", "P5", "P3", "P7"]
    status = dict(zip(listed["project_id"], listed["status"].astype(str), strict=True))
    assert status == {"P1": "finished", "P6": "finished", "P2": "finished", "P4": "finished",
                      "P5": "past end, no outcome", "P3": "in progress", "P7": "in progress"}
    assert listed.loc[listed["project_id"] == "P2", "sponsor_id"].item() == "L"


def test_an_outcome_recorded_for_a_later_end_is_not_known_yet() -> None:
    # Seen from 1 May, P2 (ends 31 May, recorded Partly) was still running.
    listed = assess_projects(projects(), team(), as_of="2026-05-01").projects
    assert listed.set_index("project_id").loc["P2", "status"] == "in progress"
    out = assess_projects(projects(), team(), as_of="2026-05-01").members.set_index("member_id")
    assert out.loc["a", "partly"] == 0
    assert out.loc["a", "next_step"] == "Pilot"


def test_the_fairness_flag_when_one_region_leads_every_pilot() -> None:
    fair = assess_projects(projects(), team(), as_of=JULY).fairness
    region = fair[fair["grouping"] == "region"].set_index("group")
    # The pipeline: a, b, c in America; d, e, f in Asia (the leader is not in it).
    assert region.loc["America", "pipeline"] == 3
    assert region.loc["Asia", "pipeline"] == 3
    assert region.loc["America", "pipeline_share"] == 0.5
    # Pilots: a, b and c led one each; nobody in Asia did.
    assert region.loc["America", "pilot_leads"] == 3
    assert region.loc["Asia", "pilot_leads"] == 0
    assert region.loc["America", "pilot_leads_share"] == 1.0
    assert region.loc["America", "pilot_leads_ratio"] == 2.0          # 1.0 / 0.5
    assert region.loc["Asia", "pilot_leads_impact_ratio"] == 0.0      # (0/3) / (3/3)
    assert bool(region.loc["Asia", "pilot_leads_flag"]) is True
    assert bool(region.loc["America", "pilot_leads_flag"]) is False
    # Improvements: a (P3) and e (P7): one of three on each side, no flag.
    assert region.loc["America", "improvement_leads"] == 1
    assert region.loc["Asia", "improvement_leads_share"] == 0.5
    assert region.loc["Asia", "improvement_leads_impact_ratio"] == 1.0
    assert not region["improvement_leads_flag"].any()
    assert region.loc["America", "pilots"] == 3
    assert region.loc["Asia", "improvements"] == 1


def test_group_assignment_follows_daylight_saving_time() -> None:
    # In July Denver is UTC-6, in the band with New York (UTC-4) and Chicago (UTC-5).
    july = assess_projects(projects(), team(), as_of=JULY).fairness
    bands = july[july["grouping"] == "offset_band"].set_index("group")
    assert bands.loc[AMERICAS_EAST, "pipeline"] == 3
    assert bands.loc[AMERICAS_EAST, "pilot_leads"] == 3
    assert AMERICAS_WEST not in bands.index
    # In December Denver is UTC-7: it moves to the western band and takes its pilot along.
    december = assess_projects(projects(), team(), as_of=DECEMBER).fairness
    bands = december[december["grouping"] == "offset_band"].set_index("group")
    assert bands.loc[AMERICAS_WEST, "pipeline"] == 1
    assert bands.loc[AMERICAS_WEST, "pilot_leads"] == 1
    assert bands.loc[AMERICAS_EAST, "pipeline"] == 2
    assert bands.loc[AMERICAS_EAST, "pilot_leads"] == 2
    # Kolkata (UTC+5:30) and Tokyo/Singapore (UTC+9/+8) have no DST: same bands all year.
    assert bands.loc[SOUTH_ASIA, "pipeline"] == 1
    assert bands.loc[EAST_ASIA, "pipeline"] == 2


def test_small_groups_are_suppressed_or_pooled_as_in_the_representation_audit() -> None:
    manager = assess_projects(projects(), team(), as_of=JULY).fairness
    bands = manager[manager["grouping"] == "offset_band"].set_index("group")
    # Kolkata alone (1) and Tokyo + Singapore (2) are under three: shown, marked suppressed.
    assert bands["suppressed"].to_dict() == {AMERICAS_EAST: False, SOUTH_ASIA: True,
                                             EAST_ASIA: True}
    published = assess_projects(projects(), team(), as_of=JULY, publishable=True).fairness
    bands = published[published["grouping"] == "offset_band"].set_index("group")
    # Pooled: 1 + 2 = 3 members, no pilot lead, one improvement lead (e).
    assert list(bands.index) == [AMERICAS_EAST, POOLED_GROUP]
    assert bands.loc[POOLED_GROUP, "pipeline"] == 3
    assert bands.loc[POOLED_GROUP, "pilot_leads"] == 0
    assert bands.loc[POOLED_GROUP, "improvement_leads"] == 1
    assert bool(bands.loc[POOLED_GROUP, "pilot_leads_flag"]) is True
    assert bool(bands.loc[POOLED_GROUP, "suppressed"]) is True
    # Under the minimum even when pooled, a team publishes nothing it could be read from.
    tiny = assess_projects(projects(), team(), as_of=JULY, publishable=True,
                           min_group_size=7).fairness
    assert tiny["pipeline"].isna().all()
    assert tiny["pilot_leads_flag"].isna().all()


def test_the_window_counts_projects_running_in_it() -> None:
    # 30 days to 15 July: from 15 June. P2 (a's pilot) ended 31 May: out; P4 and P5 in.
    fair = assess_projects(projects(), team(), as_of=JULY, window_days=30).fairness
    region = fair[fair["grouping"] == "region"].set_index("group")
    assert region.loc["America", "pilot_leads"] == 2
    # Rates 2/3 and 0/3: Asia's impact ratio is 0.
    assert region.loc["Asia", "pilot_leads_impact_ratio"] == 0.0
    with pytest.raises(DataValidationError, match="window_days"):
        assess_projects(projects(), team(), as_of=JULY, window_days=0)


def test_the_data_quality_checks() -> None:
    rows = frame(
        "projects",
        project("Q1", "Pilot", "a", "2026-03-01", "2026-06-01", "Succeeded"),   # no sponsor
        project("Q2", "Improvement", "b", "2026-03-01", "2026-09-01", "Ongoing",
                success_metrics="   "),                                        # blank metrics
        project("Q3", "Shadow", "c", "2026-02-01", "2026-07-14", "Ongoing"),  # past end
        project("Q4", "Shadow", "d", "2026-05-01", "2026-04-01", "Succeeded"),  # ends first
        project("Q5", "Pilot", "e", None, None, None),            # no start, no sponsor
        project("Q6", "Pilot", "f", "2026-06-01", "2026-07-15", None, sponsor_id="L"),
        project("Q7", "Improvement", "a", "2026-08-01", "2026-10-01", None),  # a plan
    )
    problems = assess_projects(rows, team(), as_of=JULY).problems
    assert list(zip(problems["project_id"], problems["problem"], strict=True)) == [
        ("Q1", "pilot has no sponsor"),
        ("Q2", "improvement has no success metrics"),
        ("Q3", "past its end date without an outcome"),
        ("Q4", "ends before it starts"),
        ("Q5", "pilot has no sponsor"),
        ("Q5", "has no start date"),
        # Q6 ends on as_of's own day: not past it yet. Q7 starts later but is checked now.
        ("Q7", "improvement has no success metrics"),
    ]
    assert problems.loc[0, "lead_id"] == "a"
    assert problems.loc[0, "name"] == "Project Q1"


def test_bad_rows_are_quarantined_with_their_reasons() -> None:
    good = projects()
    bad = pd.DataFrame({
        "project_id": ["X1", "X2"], "name": ["Hack week", ""], "kind": ["Hackathon", "Pilot"],
        "lead_id": ["a", "zz"], "sponsor_id": [None, "nobody"],
        "started_on": ["2026-03-01", "soon"], "ended_on": [None, None],
        "success_metrics": [None, None], "outcome": ["Done", None], "evidence": [None, None],
        "source_id": ["rec1", "rec2"],
    })
    mixed = pd.concat([good.astype("object"), bad], ignore_index=True)
    result = assess_projects(mixed, team(), as_of=JULY)
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons["rec1"] == ("kind 'Hackathon' is not one of Shadow, Pilot, Improvement; "
                               "outcome 'Done' is not one of Succeeded, Partly, Did not, "
                               "Ongoing")
    assert reasons["rec2"] == ("name is missing; lead_id 'zz' matches no member; "
                               "sponsor_id 'nobody' matches no member; "
                               "started_on 'soon' is not a date")
    # The good rows are counted as before.
    assert len(result.projects) == 7


def test_input_order_changes_nothing_and_inputs_are_not_modified() -> None:
    rows, people = projects(), team()
    before = rows.copy()
    first = assess_projects(rows, people, as_of=JULY)
    again = assess_projects(shuffled(rows, 3), shuffled(people, 4), as_of=JULY)
    pd.testing.assert_frame_equal(first.members, again.members)
    pd.testing.assert_frame_equal(first.fairness, again.fairness)
    pd.testing.assert_frame_equal(first.projects, again.projects)
    pd.testing.assert_frame_equal(first.problems, again.problems)
    pd.testing.assert_frame_equal(rows, before)


def test_no_projects_gives_empty_experience_and_a_fair_table_without_flags() -> None:
    result = assess_projects(frame("projects"), team(), as_of=JULY)
    assert result.projects.empty
    assert result.problems.empty
    assert (result.members["next_step"].astype(object).fillna("-").tolist()
            == ["-", "Shadow", "Shadow", "Shadow", "Shadow", "Shadow", "Shadow"])
    assert not result.fairness["pilot_leads_flag"].fillna(False).any()
    assert "<table" in result._repr_html_()


def test_a_pipeline_member_without_a_time_zone_is_named_not_dropped() -> None:
    people = team()
    people.loc[people["member_id"] == "f", "timezone"] = pd.NA
    result = assess_projects(projects(), people, as_of=JULY)
    assert "timezone is missing" in set(result.quarantine["reason"])
    region = result.fairness[result.fairness["grouping"] == "region"].set_index("group")
    assert region.loc["Asia", "pipeline"] == 2
    # Still in the per-member table.
    assert "f" in set(result.members["member_id"])


def test_a_projects_frame_that_cannot_be_analysed_raises_naming_why() -> None:
    with pytest.raises(DataValidationError, match=r"projects frame has no column.*'kind'"):
        assess_projects(projects().drop(columns=["kind"]), team(), as_of=JULY)
    twice = pd.concat([projects(), projects()], ignore_index=True)
    with pytest.raises(DataValidationError, match="projects has duplicate project_id 'P1'"):
        assess_projects(twice, team(), as_of=JULY)
