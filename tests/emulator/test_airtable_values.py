"""What each Airtable field type accepts on write, and how it reads back."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.emulator import Emulator, FrozenClock, Limits
from leadsync.emulator.airtable_errors import AirtableError

FIELDS: list[dict[str, Any]] = [
    {"name": "Name", "type": "singleLineText"},
    {"name": "Notes", "type": "multilineText"},
    {"name": "Rich", "type": "richText"},
    {"name": "Count", "type": "number", "options": {"precision": 0}},
    {"name": "Share", "type": "percent"},
    {"name": "Price", "type": "currency"},
    {"name": "Stars", "type": "rating", "options": {"max": 5}},
    {"name": "Took", "type": "duration"},
    {"name": "Done", "type": "checkbox"},
    {"name": "Color", "type": "singleSelect", "options": {"choices": ["Red", "Blue"]}},
    {"name": "Tags", "type": "multipleSelects", "options": {"choices": ["a", "b"]}},
    {"name": "Day", "type": "date"},
    {"name": "At", "type": "dateTime", "options": {"timeZone": "America/New_York"}},
    {"name": "UtcAt", "type": "dateTime"},
    {"name": "Owner", "type": "singleCollaborator"},
    {"name": "Team", "type": "multipleCollaborators"},
    {"name": "Files", "type": "multipleAttachments"},
    {"name": "Code", "type": "barcode"},
    {"name": "Auto", "type": "autoNumber"},
]


@pytest.fixture
def emu() -> Emulator:
    return Emulator(seed=8, limits=Limits.unlimited(), clock=FrozenClock())


@pytest.fixture
def table(emu: Emulator) -> tuple[str, str]:
    at = emu.airtable
    base_id = at.create_base("Values")
    return base_id, at.create_table(base_id, "Things", FIELDS)


def write(emu: Emulator, table: tuple[str, str], fields: dict[str, Any],
          typecast: bool = False) -> dict[str, Any]:
    base_id, table_id = table
    record_id = emu.airtable.insert_records(base_id, table_id, [fields], typecast=typecast)[0]
    found = [r for r in emu.airtable.get_records(base_id, table_id) if r["id"] == record_id]
    fields_out: dict[str, Any] = found[0]["fields"]
    return fields_out


def refused(emu: Emulator, table: tuple[str, str], fields: dict[str, Any],
            typecast: bool = False) -> AirtableError:
    with pytest.raises(AirtableError) as exc:
        write(emu, table, fields, typecast)
    return exc.value


@pytest.mark.parametrize(("fields", "expected"), [
    ({"Name": "x", "Notes": "a\nb"}, {"Name": "x", "Notes": "a\nb"}),
    ({"Rich": "# t\n* one\n* two"}, {"Rich": "# t\n- one\n- two\n"}),
    ({"Count": 3, "Share": 0.5, "Price": 6.5, "Took": 4980}, {"Count": 3, "Share": 0.5,
                                                              "Price": 6.5, "Took": 4980}),
    ({"Stars": 4}, {"Stars": 4}),
    ({"Stars": 0}, {}),
    ({"Done": True}, {"Done": True}),
    ({"Done": False}, {}),
    ({"Color": "Red", "Tags": ["b", "a", "b"]}, {"Color": "Red", "Tags": ["b", "a"]}),
    ({"Day": "2021-12-01"}, {"Day": "2021-12-01"}),
    ({"UtcAt": "2021-12-02T19:30:00Z"}, {"UtcAt": "2021-12-02T19:30:00.000Z"}),
    ({"UtcAt": "2021-12-02T21:30:00+02:00"}, {"UtcAt": "2021-12-02T19:30:00.000Z"}),
    ({"UtcAt": 1640520000000}, {"UtcAt": "2021-12-26T12:00:00.000Z"}),
    ({"UtcAt": "2021-12-02T19:30:00"}, {"UtcAt": "2021-12-02T19:30:00.000Z"}),
    ({"At": "2021-12-02T14:30:00"}, {"At": "2021-12-02T19:30:00.000Z"}),  # the field's zone
    ({"At": "2021-07-02"}, {"At": "2021-07-02T04:00:00.000Z"}),
    ({"Code": {"text": "A234567"}}, {"Code": {"text": "A234567"}}),
    ({"Code": {"text": "B1", "type": "upce"}}, {"Code": {"text": "B1", "type": "upce"}}),
    ({"Name": "", "Tags": [], "Files": []}, {}),
])
def test_values_are_stored_and_read_back(emu: Emulator, table: tuple[str, str],
                                         fields: dict[str, Any],
                                         expected: dict[str, Any]) -> None:
    got = write(emu, table, fields)
    assert got["Auto"] == 1
    del got["Auto"]
    assert got == expected


@pytest.mark.parametrize("fields", [
    {"Name": 5}, {"Count": "5"}, {"Count": True}, {"Stars": 6}, {"Stars": 2.5},
    {"Done": "yes"}, {"Color": 1}, {"Tags": "a"}, {"Day": "2021-12-01T10:00:00Z"},
    {"Day": "12/01/2021"}, {"UtcAt": "soon"}, {"Owner": "usrNobody"},
    {"Owner": {"email": "nobody@example.com"}}, {"Team": [{"id": "usrNobody"}]},
    {"Files": [{"url": "not a url"}]}, {"Files": [{"id": "attUnknown"}]}, {"Code": "x"},
])
def test_wrong_values_are_refused_naming_the_field(emu: Emulator, table: tuple[str, str],
                                                   fields: dict[str, Any]) -> None:
    error = refused(emu, table, fields)
    assert error.status == 422
    assert error.type == "INVALID_VALUE_FOR_COLUMN"
    assert error.message == f'Field "{next(iter(fields))}" cannot accept the provided value'


def test_computed_and_unknown_fields(emu: Emulator, table: tuple[str, str]) -> None:
    error = refused(emu, table, {"Auto": 3})
    assert error.type == "INVALID_VALUE_FOR_COLUMN"
    assert error.message == 'Field "Auto" cannot accept a value because the field is computed'
    error = refused(emu, table, {"Nope": 3})
    assert (error.type, error.message) == ("UNKNOWN_FIELD_NAME", 'Unknown field name: "Nope"')


def test_select_options_are_created_only_with_typecast(emu: Emulator,
                                                       table: tuple[str, str]) -> None:
    error = refused(emu, table, {"Color": "Green"})
    assert error.type == "INVALID_MULTIPLE_CHOICE_OPTIONS"
    assert "Green" in str(error.message)
    assert write(emu, table, {"Color": "Green", "Tags": "a, c"}, typecast=True) == {
        "Color": "Green", "Tags": ["a", "c"], "Auto": 1}
    base_id, table_id = table
    f = emu.airtable.table(base_id, table_id).field("Color")
    assert f is not None
    assert [c["name"] for c in f.options["choices"]] == ["Red", "Blue", "Green"]
    assert all(c["id"].startswith("sel") for c in f.options["choices"])


def test_a_refused_batch_adds_no_select_option(emu: Emulator, table: tuple[str, str]) -> None:
    base_id, table_id = table
    with pytest.raises(AirtableError):
        emu.airtable.insert_records(base_id, table_id, [{"Color": "Green"}, {"Count": "x"}],
                                    typecast=True)
    f = emu.airtable.table(base_id, table_id).field("Color")
    assert f is not None
    assert [c["name"] for c in f.options["choices"]] == ["Red", "Blue"]
    assert emu.airtable.get_records(base_id, table_id) == []


@pytest.mark.parametrize(("fields", "expected"), [
    ({"Name": 12.5}, {"Name": "12.5"}),
    ({"Count": "1,234", "Price": "$6.50", "Share": "50%"},
     {"Count": 1234, "Price": 6.5, "Share": 0.5}),
    ({"Took": "1:23"}, {"Took": 4980}),
    ({"Done": "yes"}, {"Done": True}),
    ({"Day": "2021-12-01T10:00:00Z"}, {"Day": "2021-12-01"}),
    ({"Day": "12/01/2021"}, {"Day": "2021-12-01"}),
    ({"Code": "x1"}, {"Code": {"text": "x1"}}),
])
def test_typecast_converts_strings(emu: Emulator, table: tuple[str, str],
                                   fields: dict[str, Any], expected: dict[str, Any]) -> None:
    got = write(emu, table, fields, typecast=True)
    del got["Auto"]
    assert got == expected


def test_collaborators_by_id_or_email(emu: Emulator, table: tuple[str, str]) -> None:
    user = emu.airtable.add_user("Brian Leonard", "brian@example.com")
    got = write(emu, table, {"Owner": {"email": "BRIAN@example.com"}, "Team": [user]})
    person = {"id": user, "email": "brian@example.com", "name": "Brian Leonard"}
    assert got["Owner"] == person
    assert got["Team"] == [person]


def test_attachments_by_url_then_kept_by_id(emu: Emulator, table: tuple[str, str]) -> None:
    base_id, table_id = table
    got = write(emu, table, {"Files": [{"url": "https://example.com/x/report.pdf"}]})
    attachment = got["Files"][0]
    assert attachment["filename"] == "report.pdf"
    assert attachment["type"] == "application/pdf"
    assert set(attachment) == {"id", "url", "filename", "size", "type"}
    record = emu.airtable.get_records(base_id, table_id)[0]["id"]
    emu.airtable.edit_record(base_id, table_id, record, {"Files": [
        {"id": attachment["id"]}, {"url": "https://example.com/b.png", "filename": "b.png"}]})
    files = emu.airtable.get_records(base_id, table_id)[0]["fields"]["Files"]
    assert files[0] == attachment
    assert files[1]["type"] == "image/png"


def test_links_typecast_by_primary_value(emu: Emulator) -> None:
    at = emu.airtable
    base_id = at.create_base("L")
    people = at.create_table(base_id, "People", [{"name": "Name", "type": "singleLineText"}])
    notes = at.create_table(base_id, "Notes", [
        {"name": "Title", "type": "singleLineText"},
        {"name": "Who", "type": "multipleRecordLinks", "options": {"linkedTableId": people}}])
    ada = at.insert_records(base_id, people, [{"Name": "Ada"}])[0]
    with pytest.raises(AirtableError, match="cannot accept"):
        at.insert_records(base_id, notes, [{"Who": ["Ada"]}])
    with pytest.raises(AirtableError, match="cannot accept"):
        at.insert_records(base_id, notes, [{"Who": "recAAAAAAAAAAAAAA"}])
    note = at.insert_records(base_id, notes, [{"Who": ["Ada", "Bo"]}], typecast=True)[0]
    listed = {r["fields"]["Name"]: r for r in at.get_records(base_id, people)}
    assert set(listed) == {"Ada", "Bo"}  # Bo was created, as typecast does
    assert at.get_records(base_id, notes)[0]["fields"]["Who"] == [ada, listed["Bo"]["id"]]
    assert listed["Bo"]["fields"]["Notes"] == [note]


def test_formula_and_rollup_results(emu: Emulator) -> None:
    at = emu.airtable
    base_id = at.create_base("F")
    items = at.create_table(base_id, "Items", [
        {"name": "Name", "type": "singleLineText"}, {"name": "Cost", "type": "number"}])
    orders = at.create_table(base_id, "Orders", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Items", "type": "multipleRecordLinks", "options": {"linkedTableId": items}},
        {"name": "Broken", "type": "formula", "options": {"formula": "1 + {Name}"}},
        {"name": "Label", "type": "formula", "options": {"formula": "UPPER({Name}) & '!'"}},
        {"name": "Flag", "type": "formula", "options": {"formula": "{Name} = 'a'"}},
        {"name": "Total", "type": "rollup", "options": {
            "recordLinkFieldId": "Items", "fieldIdInLinkedTable": "Cost",
            "formula": "SUM(values)"}},
        {"name": "Most", "type": "rollup", "options": {
            "recordLinkFieldId": "Items", "fieldIdInLinkedTable": "Cost",
            "formula": "MAX(values)"}},
        {"name": "Names", "type": "rollup", "options": {
            "recordLinkFieldId": "Items", "fieldIdInLinkedTable": "Name",
            "formula": "ARRAYJOIN(values, '+')"}},
        {"name": "Filled", "type": "rollup", "options": {
            "recordLinkFieldId": "Items", "fieldIdInLinkedTable": "Cost",
            "formula": "COUNTA(values)"}},
    ])
    pen, ink = at.insert_records(base_id, items, [{"Name": "pen", "Cost": 2.5},
                                                  {"Name": "ink", "Cost": 4}])
    at.insert_records(base_id, orders, [{"Name": "a", "Items": [pen, ink]}, {"Name": "b"}])
    first, second = (r["fields"] for r in at.get_records(base_id, orders))
    assert first["Broken"] == {"error": "#ERROR!"}
    assert first["Label"] == "A!"
    assert first["Flag"] is True
    assert "Flag" not in second  # false is empty
    assert (first["Total"], first["Most"], first["Names"], first["Filled"]) == (
        6.5, 4, "pen+ink", 2)
    assert (second["Total"], second["Most"], second["Filled"]) == (0, 0, 0)
    assert "Names" not in second
    schema = {f["name"]: f for f in at.table(base_id, orders).schema()["fields"]}
    assert schema["Label"]["options"]["formula"].startswith("UPPER({fld")
    assert schema["Label"]["options"]["result"] == {"type": "singleLineText"}
    assert schema["Total"]["options"]["result"]["type"] == "number"
