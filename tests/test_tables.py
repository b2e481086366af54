"""The canonical tables: dtypes, vocabularies, member resolution, and quarantine."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from leadsync.errors import DataValidationError
from leadsync.tables import (
    IMPACT_LEVELS,
    QUARANTINE_COLUMNS,
    SIGNAL_TYPES,
    TABLES,
    MemberRef,
    build_frame,
    empty_frame,
    schema,
)


@pytest.fixture
def members() -> pd.DataFrame:
    result = build_frame(
        "members",
        [
            {"source_id": "page-ada", "member_id": "u-ada", "name": "Ada Lovelace",
             "email": "ada@example.org", "timezone": "Europe/London", "is_leader": True},
            {"source_id": "page-bo", "member_id": "u-bo", "name": "Bo Chen",
             "email": "bo@example.org", "timezone": "Asia/Singapore",
             "mentor_id": MemberRef("relation", "page-ada")},
        ],
    )
    assert result.ok
    return result.frame


@pytest.mark.parametrize("table", sorted(TABLES))
def test_empty_frame_has_every_column_and_canonical_dtypes(table: str) -> None:
    frame = empty_frame(table)
    spec = schema(table)
    assert list(frame.columns) == list(spec.column_names)
    for column in spec.columns:
        dtype = frame[column.name].dtype
        if column.kind == "timestamp":
            assert str(dtype) == "datetime64[ns, UTC]"
        elif column.kind == "category":
            assert isinstance(dtype, pd.CategoricalDtype)
            assert dtype.ordered
            assert tuple(dtype.categories) == column.vocabulary
        elif column.kind == "boolean":
            assert str(dtype) == "boolean"
        elif column.kind == "number":
            assert str(dtype) == "Float64"
        elif column.kind == "members":
            assert dtype is pd.api.types.pandas_dtype(object)
        else:
            assert str(dtype) == "string", (column.name, dtype)
    for meta in ("created_time", "last_edited_time"):
        assert str(frame[meta].dtype) == "datetime64[ns, UTC]"


def test_vocabularies_are_the_seed_values() -> None:
    assert SIGNAL_TYPES == ("Technical", "Operational", "Communication")
    assert IMPACT_LEVELS == ("Low", "Medium", "High")


def test_dates_become_utc_and_date_only_is_midnight() -> None:
    result = build_frame(
        "signals",
        [
            {"source_id": "a", "member_id": "x", "signal_type": "Technical", "impact": "Low",
             "date": "2026-03-29"},
            {"source_id": "b", "member_id": "x", "signal_type": "Technical", "impact": "Low",
             "date": "2026-03-29T01:30:00.000+02:00"},
            {"source_id": "c", "member_id": "x", "signal_type": "Technical", "impact": "Low",
             "date": dt.date(2026, 3, 30)},
        ],
    )
    assert result.ok
    dates = list(result.frame["date"])
    assert dates[0] == pd.Timestamp("2026-03-29T00:00:00Z")
    assert dates[1] == pd.Timestamp("2026-03-28T23:30:00Z")
    assert dates[2] == pd.Timestamp("2026-03-30T00:00:00Z")


def test_a_number_in_a_date_column_is_quarantined_not_read_as_an_epoch() -> None:
    # pandas deprecates parsing numbers with a format (pandas 4 would read 42 as
    # 42 ns after 1970): the suite makes that warning an error, so this fails
    # if a number ever reaches the column-wise parse.
    records = [
        {"source_id": "n", "member_id": "x", "signal_type": "Technical", "impact": "Low",
         "date": 42},
        {"source_id": "ok", "member_id": "x", "signal_type": "Technical", "impact": "Low",
         "date": "2026-03-29"},
    ]
    result = build_frame("signals", records)
    assert list(result.frame["source_id"]) == ["ok"]
    assert "date 42 is not a date from 1678 to 2261" in result.quarantine["reason"].iloc[0]


def test_vocabulary_matching_ignores_case_and_separators() -> None:
    result = build_frame(
        "members",
        [{"source_id": "p", "name": "A", "stage": "Emerging Leader"}],
    )
    assert result.frame["stage"].iloc[0] == "emerging_leader"


def test_every_bad_row_is_reported_at_once_with_all_its_reasons(members: pd.DataFrame) -> None:
    records = [
        {"source_id": "good", "member_id": MemberRef("person", "u-ada"),
         "signal_type": "Technical", "impact": "High", "date": "2026-01-02",
         "evidence": "https://github.com/org/repo/pull/1"},
        {"source_id": "bad-impact", "member_id": MemberRef("person", "u-ada"),
         "signal_type": "Technical", "impact": "Huge", "date": "2026-01-02",
         "evidence": "slack thread"},
        {"source_id": "no-date", "member_id": MemberRef("relation", "page-bo"),
         "signal_type": "Chatty", "impact": "Low", "date": None},
        {"source_id": "ghost", "member_id": MemberRef("person", "u-nobody", email="no@x.org"),
         "signal_type": "Operational", "impact": "Low", "date": "2026-01-03"},
    ]
    result = build_frame("signals", records, members=members)
    assert list(result.frame["source_id"]) == ["good"]
    assert list(result.quarantine.columns) == list(QUARANTINE_COLUMNS)
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert set(reasons) == {"bad-impact", "no-date", "ghost"}
    assert "impact 'Huge' is not one of Low, Medium, High" in reasons["bad-impact"]
    assert "evidence 'slack thread' is not an http(s) link" in reasons["bad-impact"]
    assert "date is missing" in reasons["no-date"]
    assert "signal_type 'Chatty'" in reasons["no-date"]
    assert "matches no member" in reasons["ghost"]
    # the raw record is kept, so nothing is lost
    assert '"impact": "Huge"' in result.quarantine.set_index("source_id").at["bad-impact", "record"]


def test_member_references_resolve_from_person_relation_and_text(members: pd.DataFrame) -> None:
    base = {"signal_type": "Communication", "impact": "Medium", "date": "2026-02-01"}
    result = build_frame(
        "signals",
        [
            {**base, "source_id": "1", "member_id": MemberRef("person", "u-bo")},
            {**base, "source_id": "2", "member_id": MemberRef("relation", "page-bo")},
            {**base, "source_id": "3", "member_id": "bo chen"},
            {**base, "source_id": "4", "member_id": "BO@example.org"},
            {**base, "source_id": "5", "member_id": MemberRef("person", "u-other",
                                                              email="bo@example.org")},
        ],
        members=members,
    )
    assert result.ok, result.quarantine
    assert set(result.frame["member_id"]) == {"u-bo"}


def test_members_mentor_resolves_within_the_same_table(members: pd.DataFrame) -> None:
    assert members.set_index("member_id").at["u-bo", "mentor_id"] == "u-ada"


def test_two_people_in_a_single_member_column_is_quarantined(members: pd.DataFrame) -> None:
    result = build_frame(
        "signals",
        [{"source_id": "1", "signal_type": "Technical", "impact": "Low", "date": "2026-01-01",
          "member_id": [MemberRef("person", "u-ada"), MemberRef("person", "u-bo")]}],
        members=members,
    )
    assert "names 2 people, expected one" in result.quarantine["reason"].iloc[0]


def test_approvers_are_a_tuple_of_member_ids(members: pd.DataFrame) -> None:
    result = build_frame(
        "reviews",
        [{"source_id": "r1", "nominee_id": MemberRef("relation", "page-bo"),
          "approvers": [MemberRef("person", "u-ada"), MemberRef("relation", "page-bo")],
          "technical_excellence": 4, "decision": "approved"}],
        members=members,
    )
    assert result.ok
    row = result.frame.iloc[0]
    assert row["approvers"] == ("u-ada", "u-bo")
    assert row["decision"] == "Approved"
    assert row["technical_excellence"] == 4.0


def test_key_defaults_to_source_id_and_duplicates_are_quarantined() -> None:
    rows = [
        {"source_id": "a", "name": "A"},
        {"source_id": "b", "name": "B"},
    ]
    assert list(build_frame("members", rows).frame["member_id"]) == ["a", "b"]
    dup = build_frame(
        "members",
        [{"source_id": "a", "member_id": "m1", "name": "A"},
         {"source_id": "b", "member_id": "m1", "name": "B"}],
    )
    assert list(dup.frame["source_id"]) == ["a"]
    assert "duplicate member_id 'm1' (kept source a)" in dup.quarantine["reason"].iloc[0]


def test_bad_time_zone_and_working_hours() -> None:
    result = build_frame(
        "members",
        [{"source_id": "a", "name": "A", "timezone": "Mars/Olympus", "working_hours": "9-5"},
         {"source_id": "b", "name": "B", "timezone": "America/Sao_Paulo",
          "working_hours": "08:30 - 16:30"}],
    )
    assert list(result.frame["working_hours"]) == ["08:30-16:30"]
    reason = result.quarantine["reason"].iloc[0]
    assert "timezone 'Mars/Olympus' is not an IANA time zone" in reason
    assert "working_hours '9-5'" in reason


def test_raise_if_bad_lists_every_row() -> None:
    result = build_frame("members", [{"source_id": "a"}, {"source_id": "b"}])
    with pytest.raises(DataValidationError, match=r"2 row\(s\)") as info:
        result.raise_if_bad()
    assert "a: name is missing" in str(info.value)
    assert "b: name is missing" in str(info.value)


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(DataValidationError, match="signals, milestones"):
        schema("signalz")


def test_projects_decode_kinds_outcomes_and_every_kind_of_member_reference(
        members: pd.DataFrame) -> None:
    result = build_frame("projects", [
        {"source_id": "p1", "project_id": "PRJ-1", "name": "Shadow planning", "kind": "shadow",
         "lead_id": MemberRef("person", "u-bo"), "started_on": dt.date(2026, 9, 1),
         "outcome": "succeeded"},
        {"source_id": "p2", "project_id": "PRJ-2", "name": "Release train pilot",
         "kind": "Pilot", "lead_id": MemberRef("text", "Bo Chen"),
         "sponsor_id": MemberRef("relation", "page-ada"), "started_on": "2026-09-15",
         "ended_on": "2026-12-01", "outcome": "did not", "evidence": "https://x.example/1"},
        {"source_id": "p3", "project_id": "PRJ-3", "name": "Cut CI time", "kind": "Hackathon",
         "lead_id": MemberRef("person", "u-nobody"), "outcome": "Done"},
        {"source_id": "p4", "project_id": "PRJ-4", "name": "Faster onboarding",
         "kind": "Improvement", "success_metrics": "first PR in a week"},
    ], members=members)
    frame = result.frame.set_index("project_id")
    assert list(frame.index) == ["PRJ-1", "PRJ-2"]
    assert frame.loc["PRJ-1", "kind"] == "Shadow"
    assert frame.loc["PRJ-1", "outcome"] == "Succeeded"
    assert frame.loc["PRJ-2", "outcome"] == "Did not"
    assert frame.loc["PRJ-1", "lead_id"] == "u-bo"
    assert frame.loc["PRJ-2", "lead_id"] == "u-bo"        # a name typed as text
    assert frame.loc["PRJ-2", "sponsor_id"] == "u-ada"    # a relation to the member's page
    assert frame.loc["PRJ-2", "ended_on"] == pd.Timestamp("2026-12-01T00:00Z")
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"],
                       strict=True))
    assert reasons["p3"] == ("kind 'Hackathon' is not one of Shadow, Pilot, Improvement; "
                             "outcome 'Done' is not one of Succeeded, Partly, Did not, Ongoing; "
                             "lead_id person u-nobody matches no member")
    assert reasons["p4"] == "lead_id is missing"
