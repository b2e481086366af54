"""Decoding real Notion payloads (../shared/fixtures/notion) to values, records and frames."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pandas as pd
import pytest
from leadsync.connectors.base import FieldRef, records_to_frame
from leadsync.connectors.notion_decode import (
    DateRange,
    PageId,
    Unsupported,
    column_value,
    decode_page,
    decode_property,
    decode_property_items,
    decode_timestamp,
    field_refs,
    needs_expansion,
)

from leadsync.tables import MemberRef

UTC = dt.UTC
HKOB = "2200a911-6a96-44bb-bd38-6bfb1e01b9f6"
BOT = "40673a87-d8ed-41e0-aa55-7f0e8ace24cd"


def props(page: dict[str, Any]) -> dict[str, Any]:
    return {name: decode_property(p) for name, p in page["properties"].items()}


def refs(page: dict[str, Any]) -> dict[str, FieldRef]:
    """The page's properties as the schema would list them, by name."""
    return {name: FieldRef(p["id"], name, p["type"]) for name, p in page["properties"].items()}


@pytest.fixture(scope="module")
def all_types(load_fixture: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = load_fixture(
        "notion/data_source_query_2025-09-03_all_property_types.json")["results"]
    return results


@pytest.fixture(scope="module")
def many_props(load_fixture: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = load_fixture(
        "notion/data_source_query_2026-03-11_many_props.json")["results"]
    return results


@pytest.fixture(scope="module")
def rollups(load_fixture: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = load_fixture(
        "notion/data_source_query_2026-03-11_rollup_relation.json")["results"]
    return results


# ---------------------------------------------------------------------------
# Every property type to its Python value


def test_every_property_type_of_the_2025_payload(all_types: list[dict[str, Any]]) -> None:
    page = next(p for p in all_types if p["id"].startswith("206ffaa2"))
    values = props(page)
    assert values["Title"] == "MNO"
    assert values["TextTitle"] == "new text"
    assert values["NumberTitle"] == pytest.approx(3.1415926535)
    assert values["SelectTitle"] == "Select 3"
    assert values["MultiSelectTitle"] == ("Multi Select 2",)
    assert values["StatusTitle"] == "Design"  # option id "F<XA" is not a UUID; only the name counts
    assert values["DateTitle"] == DateRange(dt.date(2022, 3, 14))
    assert values["DateTitle"].all_day
    assert values["UserTitle"] == (
        MemberRef("person", HKOB, "Hiroyuki KOBAYASHI", "hkob@metro-cit.ac.jp"),)
    assert values["UrlTitle"] == "https://www.google.com/"
    assert values["MailTitle"] == "hkobhkob@gmail.com"
    assert values["TelTitle"] == "zz-zzzz-zzzz"
    assert values["RelationTitle"] == ("860753bb-6d1f-48de-9621-1fa6e0e31f82",)
    assert all(isinstance(v, PageId) for v in values["RelationTitle"])
    assert values["RollupTitle"] == (("Tag 1",),)  # an array of multi_select values
    assert values["FormulaTitle"] == DateRange(dt.datetime(2025, 9, 8, 3, 52, tzinfo=UTC))
    assert values["CheckboxTitle"] is True
    assert values["CreatedTimeTitle"] == dt.datetime(2022, 3, 10, 4, 13, tzinfo=UTC)
    assert values["LastEditedTimeTitle"] == dt.datetime(2025, 9, 2, 4, 15, tzinfo=UTC)
    assert values["CreatedByTitle"] == MemberRef("person", HKOB, "Hiroyuki KOBAYASHI",
                                                 "hkob@metro-cit.ac.jp")
    assert values["LastEditedByTitle"] == MemberRef("person", BOT, "input_tasks", None)  # a bot
    assert values["ID"] == "ST-5"
    assert values["File&MediaTitle"] == (
        "https://img.icons8.com/ios-filled/250/000000/mac-os.png",)


def test_empty_values_of_the_2025_payload(all_types: list[dict[str, Any]]) -> None:
    page = next(p for p in all_types if p["id"].startswith("11f2b80c"))
    values = props(page)
    assert values["Title"] == "JKL"
    for name in ("TextTitle", "NumberTitle", "SelectTitle", "DateTitle", "UrlTitle",
                 "MailTitle", "TelTitle"):
        assert values[name] is None, name
    for name in ("MultiSelectTitle", "UserTitle", "RelationTitle", "File&MediaTitle",
                 "RollupTitle"):
        assert values[name] == (), name
    assert values["CheckboxTitle"] is False
    assert values["StatusTitle"] == "Not started"
    assert values["ID"] == "ST-4"


def test_the_2026_page_shape(many_props: list[dict[str, Any]]) -> None:
    values = props(many_props[0])
    assert values["Title"] == "Item 2"
    assert values["Text"] == "Text 2"
    assert values["Number"] == 2
    assert isinstance(values["Number"], int)
    assert values["ID"] == "3"  # unique_id without a prefix
    assert values["Rollup"] == 0  # a count rollup is a number
    assert values["Formula"] is None  # a string formula with no result
    assert values["Status"] == "Not started"
    assert values["AI summary"] is None  # UI-generated "AI" properties are rich_text
    assert values["Created by"] == MemberRef("person", "00000000-0000-4000-8000-0000000000f1",
                                             "Ultimate Notion Tests", None)
    assert values["Created time"] == dt.datetime(2026, 6, 26, 13, 45, tzinfo=UTC)
    assert values["Files"] == ()
    assert values["People"] == ()
    # types leadsync does not read decode to Unsupported, which only matters when mapped
    assert isinstance(values["Button"], Unsupported)
    assert isinstance(values["Place"], Unsupported)


def test_rollups_and_relations(rollups: list[dict[str, Any]]) -> None:
    item3, item2, item1 = (props(p) for p in rollups)
    assert item3["Title"] == "Item 3"
    assert item3["Relation"] == ("38c9ce7b-60a4-817b-84ae-e63702a6c78e",
                                 "38c9ce7b-60a4-81cd-82bf-d6b143c14ce5")
    assert item3["Rollup Number"] == 72
    assert item3["Rollup Date"] == DateRange(dt.datetime(1981, 11, 23, 7, 2, tzinfo=UTC))
    assert item3["Rollup Title"] == ("Item 1", "Item 2")
    assert item3["Rollup Number Array"] == (42, 72)
    assert item3["Rollup Date Array"] == (
        DateRange(dt.datetime(2024, 11, 25, 14, 8, tzinfo=UTC)),
        DateRange(dt.datetime(1981, 11, 23, 7, 2, tzinfo=UTC)),
    )
    assert item1["Rollup Number"] is None
    assert item1["Rollup Date"] is None
    assert item1["Rollup Title"] == ()
    assert item2["Date"] == DateRange(dt.datetime(1981, 11, 23, 7, 2, tzinfo=UTC))


def test_long_relation_is_rebuilt_from_the_property_item_pages(load_fixture: Any) -> None:
    page = load_fixture("notion/page_retrieve_relation_has_more_2026-03-11.json")
    items = load_fixture("notion/page_property_item_relation_list_2026-03-11.json")
    prop = page["properties"]["Items Purchased"]
    assert len(prop["relation"]) == 25
    assert needs_expansion(prop)
    assert not needs_expansion(page["properties"]["Name"])
    full = decode_property(decode_property_items(prop, items["results"]))
    assert len(full) == 30
    assert len(set(full)) == 30
    assert full[:25] == decode_property(prop)  # the page showed the first 25, in order


# ---------------------------------------------------------------------------
# Shapes the fixtures lack, built from the documented forms


def test_mentions_and_equations_join_into_the_plain_text() -> None:
    prop = {"id": "flUp", "type": "rich_text", "rich_text": [
        {"type": "text", "text": {"content": "Reviewed by "}, "plain_text": "Reviewed by "},
        {"type": "mention", "mention": {"type": "user", "user": {"object": "user", "id": HKOB}},
         "plain_text": "@Hiroyuki KOBAYASHI"},
        {"type": "text", "text": {"content": " on "}, "plain_text": " on "},
        {"type": "mention", "mention": {"type": "date", "date": {"start": "2026-01-05"}},
         "plain_text": "January 5, 2026"},
        {"type": "equation", "equation": {"expression": "e=mc^2"}, "plain_text": "e=mc^2"},
    ]}
    assert decode_property(prop) == "Reviewed by @Hiroyuki KOBAYASHI on January 5, 2026e=mc^2"


def test_offsets_are_honoured_and_ranges_keep_their_end() -> None:
    prop = {"type": "date", "date": {"start": "2026-03-01T09:30:00.000-05:00",
                                     "end": "2026-03-01T17:00:00.000+05:30", "time_zone": None}}
    value = decode_property(prop)
    assert value.start == dt.datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    assert value.end == dt.datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    assert value.start.utcoffset() == dt.timedelta(0)
    assert decode_property({"type": "date", "date": {"start": "2022-02-11", "end": "2022-02-12",
                                                     "time_zone": None}}) == \
        DateRange(dt.date(2022, 2, 11), dt.date(2022, 2, 12))
    # a write-side value with a time zone and no offset is read in that zone
    assert decode_timestamp("2026-07-01T09:00:00", "Europe/Berlin") == \
        dt.datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_formula_and_rollup_result_types() -> None:
    def formula(kind: str, value: Any) -> Any:
        return decode_property({"type": "formula", "formula": {"type": kind, kind: value}})

    assert formula("number", 9) == 9
    assert formula("string", "High") == "High"
    assert formula("boolean", True) is True
    assert formula("date", {"start": "2026-01-02", "end": None}) == DateRange(dt.date(2026, 1, 2))
    assert isinstance(decode_property({"type": "rollup", "rollup": {
        "type": "incomplete", "incomplete": {}, "function": "sum"}}), Unsupported)
    assert isinstance(decode_property({"type": "rollup", "rollup": {
        "type": "unsupported", "unsupported": {}, "function": "x"}}), Unsupported)
    people_rollup = decode_property({"type": "rollup", "rollup": {"type": "array", "array": [
        {"type": "people", "people": [{"object": "user", "id": HKOB}]}]}})
    assert column_value("member", people_rollup) == MemberRef("person", HKOB)


def test_hosted_files_decode_to_their_url() -> None:
    prop = {"type": "files", "files": [
        {"name": "nr.png", "type": "file",
         "file": {"url": "https://prod-files-secure.s3.us-west-2.amazonaws.com/x/nr.png",
                  "expiry_time": "2025-09-08T05:52:02.616Z"}},
        {"name": "notes.txt", "type": "file_upload", "file_upload": {"id": "abc"}}]}
    assert decode_property(prop) == (
        "https://prod-files-secure.s3.us-west-2.amazonaws.com/x/nr.png", "notes.txt")


def test_member_references_from_a_person_a_relation_or_text() -> None:
    person = MemberRef("person", HKOB, "Hiroyuki", "h@example.com")
    assert column_value("member", (person,)) == person
    assert column_value("member", (PageId("p-1"),)) == MemberRef("relation", "p-1")
    assert column_value("member", "Ada Okafor") == MemberRef("text", "Ada Okafor")
    assert column_value("member", ()) is None
    assert column_value("members", (PageId("p-1"), PageId("p-2"))) == (
        MemberRef("relation", "p-1"), MemberRef("relation", "p-2"))
    assert column_value("members", ("Ada", "Bo")) == (MemberRef("text", "Ada"),
                                                       MemberRef("text", "Bo"))


# ---------------------------------------------------------------------------
# Records and canonical frames: the right value and the right dtype


def test_reviews_frame_from_the_2025_payload(all_types: list[dict[str, Any]]) -> None:
    r = refs(all_types[0])
    fields = {"review_id": r["ID"], "nominee_id": r["UserTitle"], "approvers": r["UserTitle"],
              "proposed_role": r["SelectTitle"], "technical_excellence": r["NumberTitle"],
              "decided_on": r["FormulaTitle"]}
    records = [decode_page(p, fields, "reviews") for p in all_types]
    assert all(rec.problem is None for rec in records)
    members = pd.DataFrame({"member_id": ["m001"], "name": ["Hiroyuki KOBAYASHI"],
                            "email": ["hkob@metro-cit.ac.jp"],
                            "source_id": ["page-of-hkob"]})
    result = records_to_frame("reviews", records, members=members)
    frame = result.frame
    assert list(frame["source_id"]) == ["206ffaa2-7774-4a99-baf5-93e28730240c"]
    row = frame.iloc[0]
    assert row["review_id"] == "ST-5"
    assert row["nominee_id"] == "m001"  # the person resolved through the email
    assert row["approvers"] == ("m001",)
    assert row["proposed_role"] == "Select 3"
    assert row["technical_excellence"] == pytest.approx(3.1415926535)
    assert row["decided_on"] == pd.Timestamp("2025-09-08T03:52:00Z")
    assert row["created_time"] == pd.Timestamp("2022-03-10T04:13:00Z")
    assert row["last_edited_time"] == pd.Timestamp("2025-09-02T04:15:00Z")
    assert frame["review_id"].dtype == "string"
    assert frame["nominee_id"].dtype == "string"
    assert frame["approvers"].dtype == object
    assert frame["technical_excellence"].dtype == "Float64"
    assert str(frame["decided_on"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["created_time"].dtype) == "datetime64[ns, UTC]"
    # the other page has nobody in the people property: quarantined, not dropped
    assert list(result.quarantine["source_id"]) == ["11f2b80c-db82-4282-bb14-a1536c592708"]
    assert "nominee_id is missing" in result.quarantine["reason"].iloc[0]


def test_members_frame_from_the_2025_payload(all_types: list[dict[str, Any]]) -> None:
    r = refs(all_types[0])
    fields = {"member_id": r["UserTitle"], "name": r["Title"], "email": r["MailTitle"],
              "is_leader": r["CheckboxTitle"], "stage_started": r["DateTitle"],
              "role": r["StatusTitle"], "track": r["MultiSelectTitle"]}
    page = next(p for p in all_types if p["id"].startswith("206ffaa2"))
    record = decode_page(page, fields, "members")
    assert record.values["member_id"] == HKOB  # an id column takes the person's user id
    result = records_to_frame("members", [record])
    frame = result.frame
    row = frame.iloc[0]
    assert row["name"] == "MNO"
    assert row["email"] == "hkobhkob@gmail.com"
    assert bool(row["is_leader"]) is True
    assert frame["is_leader"].dtype == "boolean"
    assert row["stage_started"] == pd.Timestamp("2022-03-14T00:00:00Z")  # a date: midnight UTC
    assert str(frame["stage_started"].dtype) == "datetime64[ns, UTC]"
    assert row["track"] == "Multi Select 2"
    assert row["role"] == "Design"
    assert frame["email"].dtype == "string"
    assert frame["member_id"].dtype == "string"
    assert result.ok


def test_signals_frame_with_relation_members_and_rollups(rollups: list[dict[str, Any]]) -> None:
    r = refs(rollups[0])
    fields = {"notes": r["Title"], "member_id": r["Relation"], "date": r["Rollup Date"],
              "indicator": r["Rollup Title"], "signal_type": r["Title"],
              "impact": r["Title"]}
    records = [decode_page(p, fields, "signals") for p in rollups]
    members = pd.DataFrame({
        "member_id": ["m1", "m2"], "name": ["One", "Two"], "email": [None, None],
        "source_id": ["38c9ce7b-60a4-817b-84ae-e63702a6c78e",
                      "38c9ce7b-60a4-81cd-82bf-d6b143c14ce5"]})
    result = records_to_frame("signals", records, members=members)
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    # two related pages in a one-member column is reported, not guessed
    assert "names 2 people" in reasons["38c9ce7b-60a4-81b5-8bc5-e6cffd3d060f"]
    assert "signal_type 'Item 2' is not one of" in reasons["38c9ce7b-60a4-81cd-82bf-d6b143c14ce5"]
    # the relation resolved to the member whose page it points at
    record = next(rec for rec in records if rec.source_id.startswith("38c9ce7b-60a4-81cd"))
    assert record.values["member_id"] == MemberRef("relation",
                                                   "38c9ce7b-60a4-817b-84ae-e63702a6c78e")
    assert record.values["date"] == dt.datetime(2024, 11, 25, 14, 8, tzinfo=UTC)
    assert record.values["indicator"] == "Item 1"


def test_a_mapped_unsupported_property_quarantines_the_row_with_the_reason(
        many_props: list[dict[str, Any]]) -> None:
    r = refs(many_props[0])
    fields = {"name": r["Title"], "role": r["Button"]}
    records = [decode_page(p, fields, "members") for p in many_props]
    assert all(rec.problem == "role: 'Button' property type 'button' is not supported"
               for rec in records)
    result = records_to_frame("members", records)
    assert result.frame.empty
    assert len(result.quarantine) == 2
    # unmapped, the same button is simply ignored
    records = [decode_page(p, {"name": r["Title"]}, "members") for p in many_props]
    assert all(rec.problem is None for rec in records)


def test_incomplete_rollup_when_mapped_is_a_clear_problem(rollups: list[dict[str, Any]]) -> None:
    page = copy.deepcopy(rollups[0])
    page["properties"]["Rollup Number"]["rollup"] = {"type": "incomplete", "incomplete": {},
                                                     "function": "max"}
    r = refs(page)
    record = decode_page(page, {"review_id": r["Title"],
                                "technical_excellence": r["Rollup Number"],
                                "nominee_id": r["Relation"]}, "reviews")
    assert record.problem == ("technical_excellence: 'Rollup Number' rollup is incomplete "
                              "(Notion could not compute it)")


def test_properties_are_found_by_id_after_a_rename(all_types: list[dict[str, Any]]) -> None:
    page = copy.deepcopy(all_types[1])
    page["properties"]["Renamed number"] = page["properties"].pop("NumberTitle")
    fields = {"review_id": FieldRef("%7BGE%7C", "ID", "unique_id"),
              "technical_excellence": FieldRef("swq%5C", "NumberTitle", "number"),
              "nominee_id": FieldRef("_x%3E%3D", "UserTitle", "people")}
    record = decode_page(page, fields, "reviews")
    assert record.values["technical_excellence"] == pytest.approx(3.1415926535)


def test_a_property_missing_from_the_page_is_a_problem(all_types: list[dict[str, Any]]) -> None:
    fields = {"name": FieldRef("gone", "Old name", "title")}
    assert "property 'Old name' (gone) is not on the page" in (
        decode_page(all_types[0], fields, "members").problem or "")


def test_schema_properties_become_field_refs() -> None:
    schema = {"Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
              "Due": {"id": "SPrp", "name": "Due", "type": "date", "date": {}}}
    assert field_refs(schema) == [FieldRef("title", "Name", "title"),
                                  FieldRef("SPrp", "Due", "date")]
