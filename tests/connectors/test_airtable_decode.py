"""Decoding real Airtable payloads (../shared/fixtures/airtable): schema, cells, records, frames."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from leadsync.connectors.airtable_decode import (
    AirtableField,
    AirtableTable,
    CellError,
    cell_fits,
    decode_base_schema,
    decode_cell,
    decode_frame,
    decode_record,
    find_table,
    plan_columns,
)
from leadsync.connectors.base import records_to_frame

from leadsync.errors import NotFoundError
from leadsync.tables import MemberRef

UTC = dt.UTC
Loader = Callable[[str], Any]

BRIAN, EVAN, ANDY = "recDCLl2MjOofQMju", "recEjj4zohJilvDBd", "recLMEx5YvFeoHr2T"


@pytest.fixture(scope="module")
def tables(load_fixture: Loader) -> tuple[AirtableTable, ...]:
    return decode_base_schema(load_fixture("airtable/base_schema_meta_api.json"))


@pytest.fixture(scope="module")
def table_all(tables: tuple[AirtableTable, ...]) -> AirtableTable:
    return find_table(tables, "All", base="app21Qak1T4cGoiP7")


@pytest.fixture(scope="module")
def records(load_fixture: Loader) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = load_fixture("airtable/list_records_all_field_types.json")[
        "records"]
    return records


@pytest.fixture(scope="module")
def frame(table_all: AirtableTable, records: list[dict[str, Any]]) -> pd.DataFrame:
    return decode_frame(table_all, records)


# ---------------------------------------------------------------------------
# Schema


def test_schema_lists_every_table_with_its_primary_field(tables: tuple[AirtableTable, ...]) -> None:
    assert [t.name for t in tables] == [
        "📣 Campaigns", "💼 Ad sets", "📈 Results", "All", "Empty"]
    table = find_table(tables, "tbl2dYOTFAzBLHXTr", base="app")
    assert table.name == "All"
    assert table.primary_field.name == "Name"
    assert table.field("f_singleSelect").options["choices"][0]["name"] == "Blue"
    assert table.field("fldsNCKa6kZWCsfnD").type == "lastModifiedTime"
    # the recorded schema gives computed fields no options: the field tracks every field
    assert table.last_modified_field() == table.field("f_lastModifiedTime")
    assert table.stable_sort_field() == table.field("f_createdTime")


def test_table_lookup_by_case_folded_name_and_clear_error(
        tables: tuple[AirtableTable, ...]) -> None:
    assert find_table(tables, "all", base="app").id == "tbl2dYOTFAzBLHXTr"
    with pytest.raises(NotFoundError) as err:
        find_table(tables, "Signals", base="app21Qak1T4cGoiP7")
    assert "'All' (tbl2dYOTFAzBLHXTr)" in str(err.value)
    assert "app21Qak1T4cGoiP7" in str(err.value)


def test_official_schema_example_with_options(load_fixture: Loader) -> None:
    tables = decode_base_schema(load_fixture("airtable/base_schema_official_docs_example.json"))
    link = tables[0].field("District")
    assert link.type == "multipleRecordLinks"
    assert link.options["linkedTableId"] == "tblK6MZHez0ZvBChZ"
    assert not link.computed
    assert tables[0].last_modified_field() is None
    assert tables[0].stable_sort_field() is None


# ---------------------------------------------------------------------------
# Every field type: value and dtype


EXPECTED: dict[str, tuple[str, list[Any]]] = {
    # field: (dtype, values for Brian, Evan, Andy); None = omitted by the API
    "Name": ("string", ["Brian", "Evan", "Andy"]),
    "f_singleLineText": ("string", ["one", "two here", "three"]),
    "f_multilineText": ("string", ["here is a \nnew line", None, "look below\n\nhere"]),
    "f_richText": ("string", ["# header\nparagraph\n", None,
                              "> quote\n- bullet one\n- bullet two\n"]),
    "f_email": ("string", ["brian@example.com", "evan@example.com", "andy@example.com"]),
    "f_url": ("string", [None, None, "https://www.grouparoo.com"]),
    "f_phoneNumber": ("string", ["(650) 555-1234", None, "(617) 555-9876"]),
    "f_number": ("Float64", [42.1, 0.5, None]),
    "f_currency": ("Float64", [6.0, 6.5, None]),
    "f_percent": ("Float64", [0.0, 1.23, 0.01]),  # a fraction: 0.01 is 1 %
    "f_duration": ("Float64", [None, 4980.0, 3360.0]),  # seconds
    "f_rating": ("Int64", [4, 5, 2]),
    "f_count": ("Int64", [1, 0, 2]),  # zero is a value, not an empty cell
    "f_autoNumber": ("Int64", [1, 2, 3]),
    "f_checkbox": ("boolean", [True, False, True]),  # omitted means unchecked
    "f_barcode": ("string", ["A234567", "B654321", "C567890"]),
    "f_button": ("string", ["https://www.grouparoo.com"] * 3),
    "f_formula": ("string", ["Brian1", "Evan2", "Andy3"]),
    "f_multipleSelects": ("object", [None, ("Blue",), ("Red", "Green")]),
    "f_multipleRecordLinks": ("object", [("reciZf9ja4HaHKJfI",), None,
                                         ("rec6Xv62zheVeZ7y6", "recAWTHc8LA2hae8H")]),
    "f_multipleLookupValues": ("object", [(497699,), None, (2083333, 4285248)]),
    "f_lastModifiedBy": ("object", [None, None, None]),  # in the schema, in no record
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_field_decodes_to_value_and_dtype(frame: pd.DataFrame, name: str) -> None:
    dtype, values = EXPECTED[name]
    column = frame[name]
    assert str(column.dtype) == dtype
    got = [None if (not isinstance(v, tuple) and pd.isna(v)) else v for v in column]
    assert got == values


def test_single_select_is_categorical_with_the_schema_choices(frame: pd.DataFrame) -> None:
    column = frame["f_singleSelect"]
    assert isinstance(column.dtype, pd.CategoricalDtype)
    assert list(column.cat.categories) == ["Blue", "Green", "Red"]
    assert column.isna().tolist() == [True, False, False]  # omitted for Brian
    assert column.tolist()[1:] == ["Blue", "Red"]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("f_date", [dt.datetime(2021, 12, 1, tzinfo=UTC), None,
                    dt.datetime(2021, 12, 20, tzinfo=UTC)]),
        ("f_dateTime", [dt.datetime(2021, 12, 2, 19, 30, tzinfo=UTC),
                        dt.datetime(2021, 11, 2, 5, 0, tzinfo=UTC), None]),
        ("f_createdTime", [dt.datetime(2021, 12, 28, 19, 0, 56, tzinfo=UTC)] * 3),
        ("f_lastModifiedTime", [dt.datetime(2021, 12, 28, 21, 6, 26, tzinfo=UTC),
                                dt.datetime(2021, 12, 28, 21, 6, 30, tzinfo=UTC),
                                dt.datetime(2021, 12, 28, 21, 6, 30, tzinfo=UTC)]),
        ("created_time", [dt.datetime(2021, 12, 28, 19, 0, 56, tzinfo=UTC)] * 3),
    ],
)
def test_times_are_aware_utc(frame: pd.DataFrame, name: str, values: list[Any]) -> None:
    column = frame[name]
    assert isinstance(column.dtype, pd.DatetimeTZDtype)
    assert str(column.dtype.tz) == "UTC"
    got = [None if pd.isna(v) else v.to_pydatetime() for v in column]
    assert got == values


def test_rollup_nan_special_value_stays_nan_in_a_float_column(frame: pd.DataFrame) -> None:
    column = frame["f_rollup"]
    assert column.dtype == "float64"
    assert column.iloc[0] == pytest.approx(540.8333333333334)
    assert math.isnan(column.iloc[1])  # {"specialValue": "NaN"}
    assert column.iloc[2] == pytest.approx(28.807773109243698)


def test_collaborators_become_person_references(frame: pd.DataFrame) -> None:
    brian = MemberRef("person", "usrPnLezZNh82BzJC", "Brian Leonard",
                      "brian.leonard@grouparoo.com")
    assert frame.at[ANDY, "f_singleCollaborator"] == brian
    assert frame.at[EVAN, "f_multipleCollaborators"] == (brian,)
    assert frame.at[BRIAN, "f_singleCollaborator"] is None
    assert frame.at[BRIAN, "f_createdBy"] == MemberRef(
        "person", "usrhlQNsalTkImrLc", "Brandon Segal", "bsegal@spotify.com")


def test_attachments_become_their_urls(frame: pd.DataFrame) -> None:
    assert frame.at[EVAN, "f_multipleAttachments"] == (
        "https://dl.airtable.com/.attachments/dff5ff7fc0a8eabd6b411e9e394f91b9/1836ab21/"
        "ScreenShot2021-12-28at11_32_36AM.png",)
    assert frame.at[BRIAN, "f_multipleAttachments"] is None


def test_frame_columns_come_from_the_schema(table_all: AirtableTable,
                                            frame: pd.DataFrame) -> None:
    assert list(frame.columns) == [f.name for f in table_all.fields] + ["created_time"]
    assert list(frame.index) == [BRIAN, EVAN, ANDY]
    assert frame.attrs["cell_errors"] == []


def test_fields_keyed_by_id_decode_the_same(table_all: AirtableTable,
                                            records: list[dict[str, Any]],
                                            frame: pd.DataFrame) -> None:
    by_id = [
        {**r, "fields": {table_all.field(k).id: v for k, v in r["fields"].items()}}
        for r in records
    ]
    pd.testing.assert_frame_equal(decode_frame(table_all, by_id), frame)


def test_error_cells_are_empty_and_listed(table_all: AirtableTable,
                                          records: list[dict[str, Any]]) -> None:
    broken = [dict(r, fields=dict(r["fields"])) for r in records]
    broken[0]["fields"]["f_formula"] = {"error": "#ERROR!"}
    broken[2]["fields"]["f_multipleLookupValues"] = [1, {"error": "#ERROR!"}]
    frame = decode_frame(table_all, broken)
    assert pd.isna(frame.at[BRIAN, "f_formula"])
    assert frame.at[EVAN, "f_formula"] == "Evan2"
    assert frame.attrs["cell_errors"] == [
        (BRIAN, "f_formula", "Airtable could not compute it (#ERROR!)"),
        (ANDY, "f_multipleLookupValues", "Airtable could not compute it (#ERROR!)"),
    ]


# ---------------------------------------------------------------------------
# One cell, as Python values


def test_cells_as_python_values(table_all: AirtableTable,
                                records: list[dict[str, Any]]) -> None:
    andy = records[2]["fields"]

    def cell(name: str) -> Any:
        return decode_cell(table_all.field(name), andy.get(name))

    assert cell("f_date") == dt.date(2021, 12, 20)
    assert type(cell("f_date")) is dt.date
    assert cell("f_createdTime") == dt.datetime(2021, 12, 28, 19, 0, 56, tzinfo=UTC)
    assert cell("f_createdTime").tzinfo is UTC
    assert cell("f_rating") == 2
    assert type(cell("f_rating")) is int
    assert cell("f_multipleSelects") == ("Red", "Green")
    assert cell("f_checkbox") is True
    assert cell("f_currency") is None  # omitted
    assert decode_cell(table_all.field("f_checkbox"), None) is False
    assert math.isnan(decode_cell(table_all.field("f_rollup"), {"specialValue": "NaN"}))
    with pytest.raises(CellError, match="#ERROR!"):
        decode_cell(table_all.field("f_formula"), {"error": "#ERROR!"})
    with pytest.raises(CellError):
        decode_cell(table_all.field("f_number"), "forty-two")


def test_formula_with_a_date_result_decodes_to_a_time() -> None:
    f = AirtableField("fldF", "Due", "formula", {"result": {"type": "dateTime"}})
    assert decode_cell(f, "2024-03-01T09:30:00.000Z") == dt.datetime(2024, 3, 1, 9, 30,
                                                                     tzinfo=UTC)
    assert decode_cell(f, {"specialValue": "NaN"}) is not None


def test_newer_cell_shapes() -> None:
    ai = AirtableField("fldA", "Summary", "aiText")
    assert decode_cell(ai, {"state": "generated", "isStale": False, "value": "ok"}) == "ok"
    with pytest.raises(CellError, match="AI"):
        decode_cell(ai, {"state": "error", "errorType": "timeout", "isStale": False,
                         "value": None})
    unknown = AirtableField("fldU", "Future", "someNewType")
    assert decode_cell(unknown, {"x": 1}) == {"x": 1}


def test_records_with_empty_fields_and_text_numbers(load_fixture: Loader) -> None:
    page = load_fixture("airtable/list_records_page_with_offset.json")
    fields = tuple(AirtableField(f"fld{n}", n, "singleLineText")
                   for n in ("movement", "session", "sets", "reps", "weight", "rpe"))
    table = AirtableTable("tblW", "Workouts", "fldmovement", fields)
    frame = decode_frame(table, page["records"])
    assert len(frame) == 3  # "fields": {} records are still rows
    assert frame.loc["recnvVWaFprUD9PFV"].tolist()[:6] == [
        "Bench Press", "Upper Body", "2", "1", "245", "9"]
    assert frame.loc["rec61WVTa6Mf8zriA", "movement"] is pd.NA
    assert page["offset"] == "itrrkjNENEhXpK0jU/recNJDXlY17QbGhrN"


@pytest.mark.parametrize("payload", ["create_records_response.json",
                                     "upsert_response_official_docs_example.json"])
def test_write_responses_decode(load_fixture: Loader, table_all: AirtableTable,
                                payload: str) -> None:
    body = load_fixture(f"airtable/{payload}")
    if payload.startswith("create"):
        frame = decode_frame(table_all, body["records"])
        row = frame.loc["recUH5O6ACAG4vP41"]
        # written as epoch ms, read back as an ISO time (write normalisation)
        assert row["f_dateTime"] == pd.Timestamp("2021-12-26T12:00:00Z")
        assert row["f_percent"] == pytest.approx(33.3)
        assert math.isnan(row["f_rollup"])
        assert row["f_lastModifiedTime"] == row["f_createdTime"]
    else:
        fields = (AirtableField("fldN", "Name", "singleLineText"),
                  AirtableField("fldA", "Address", "singleLineText"),
                  AirtableField("fldV", "Visited", "checkbox"))
        frame = decode_frame(AirtableTable("tblP", "Parks", "fldN", fields), body["records"])
        assert frame["Visited"].tolist() == [True, True]
        assert frame.at["recsHMqsp3GEm3lEi", "Address"] is pd.NA
        assert body["createdRecords"] == ["recsHMqsp3GEm3lEi"]
        assert body["updatedRecords"] == ["rec560UJdUtocSouk"]


# ---------------------------------------------------------------------------
# Shapes: does a value fit its (possibly out-of-date) type?


@pytest.mark.parametrize("payload", ["list_records_all_field_types.json",
                                     "create_records_response.json"])
def test_every_real_cell_fits_its_type(load_fixture: Loader, table_all: AirtableTable,
                                       payload: str) -> None:
    """No false alarm: a snapshot that is up to date never costs a schema read."""
    checked = set()
    for record in load_fixture(f"airtable/{payload}")["records"]:
        for key, value in record["fields"].items():
            f = table_all.field(key)
            assert cell_fits(f, value), (f.name, f.type, value)
            checked.add(f.type)
    assert len(checked) >= 10


USER = {"id": "usrAAAAAAAAAAAAAA", "email": "a@example.com", "name": "A"}
#: (the cached type, a value in the shape of the type the field has now)
CHANGED: list[tuple[str, Any]] = [
    ("singleSelect", ["High"]),                          # -> multipleSelects
    ("singleSelect", 3),                                 # -> number
    ("singleLineText", True),                            # -> checkbox
    ("singleLineText", ["recAAAAAAAAAAAAAA"]),           # -> link
    ("singleLineText", "2026-10-05"),                    # -> date (text that reads as one)
    ("multilineText", "2026-10-05T14:30:00.000Z"),       # -> dateTime
    ("date", "2026-10-05T14:30:00.000Z"),                # -> dateTime: would lose the time
    ("date", "5 October"),                               # -> text
    ("dateTime", "soon"),                                # -> text
    ("number", "12"),                                    # -> text
    ("number", True),                                    # -> checkbox
    ("checkbox", 1),                                     # -> number
    ("multipleSelects", "High"),                         # -> singleSelect
    ("multipleRecordLinks", ["Ana Lima"]),               # -> multipleSelects of names
    ("multipleRecordLinks", "recAAAAAAAAAAAAAA"),        # -> text
    ("singleCollaborator", [USER]),                      # -> multipleCollaborators
    ("singleCollaborator", "Ana Lima"),                  # -> text
    ("multipleCollaborators", USER),                     # -> singleCollaborator
    ("multipleCollaborators", [{"id": "attA", "url": "https://x/a.png"}]),  # -> attachments
    ("multipleAttachments", [USER]),                     # -> collaborators
    ("barcode", "A234567"),                              # -> text
    ("rating", "4"),                                     # -> text
]


@pytest.mark.parametrize(("cached", "value"), CHANGED)
def test_a_value_of_another_types_shape_does_not_fit(cached: str, value: Any) -> None:
    assert not cell_fits(AirtableField("fldX", "X", cached), value)


def test_formula_results_fit_their_declared_type() -> None:
    number = AirtableField("fldF", "F", "formula", {"result": {"type": "number"}})
    assert cell_fits(number, 9)
    assert cell_fits(number, {"specialValue": "NaN"})
    assert cell_fits(number, {"error": "#ERROR!"})
    assert not cell_fits(number, "2026-10-05")  # its formula returns dates now
    assert cell_fits(AirtableField("fldF", "F", "formula"), "anything")  # result unknown
    assert cell_fits(AirtableField("fldN", "N", "aNewType"), {"whatever": 1})
    assert cell_fits(AirtableField("fldT", "T", "singleLineText"), None)  # omitted


# ---------------------------------------------------------------------------
# Canonical records


def _plan(table: AirtableTable, mapping: dict[str, str], canonical: str = "signals") -> Any:
    return plan_columns(canonical, {c: table.field(n) for c, n in mapping.items()})


def test_record_decodes_to_canonical_columns(table_all: AirtableTable,
                                             records: list[dict[str, Any]]) -> None:
    plans = _plan(table_all, {
        "member_id": "f_singleCollaborator", "signal_type": "f_singleSelect",
        "date": "f_dateTime", "evidence": "f_url", "notes": "f_multilineText",
        "observed_by": "f_createdBy", "indicator": "f_multipleSelects",
    })
    record = decode_record(records[2], plans,
                           edited_field=table_all.last_modified_field())
    assert record.source_id == ANDY
    assert record.problem is None
    assert record.created_time == dt.datetime(2021, 12, 28, 19, 0, 56, tzinfo=UTC)
    assert record.last_edited_time == dt.datetime(2021, 12, 28, 21, 6, 30, tzinfo=UTC)
    assert record.values["member_id"] == MemberRef(
        "person", "usrPnLezZNh82BzJC", "Brian Leonard", "brian.leonard@grouparoo.com")
    assert record.values["signal_type"] == "Red"
    assert record.values["date"] is None  # omitted
    assert record.values["evidence"] == "https://www.grouparoo.com"
    assert record.values["observed_by"].key == "usrhlQNsalTkImrLc"
    # a multi-valued cell into a single-valued column is kept whole for build_frame to judge
    assert record.values["indicator"] == ", ".join(("Red", "Green"))


def test_without_an_edit_time_field_the_created_time_stands_in(
        table_all: AirtableTable, records: list[dict[str, Any]]) -> None:
    record = decode_record(records[0], _plan(table_all, {"notes": "Name"}))
    assert record.last_edited_time == record.created_time


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("f_singleCollaborator", MemberRef("person", "usrPnLezZNh82BzJC", "Brian Leonard",
                                           "brian.leonard@grouparoo.com")),
        ("Name", MemberRef("text", "Andy")),
        ("f_email", MemberRef("text", "andy@example.com")),
        ("f_multipleRecordLinks", [MemberRef("relation", "rec6Xv62zheVeZ7y6"),
                                   MemberRef("relation", "recAWTHc8LA2hae8H")]),
    ],
)
def test_member_reference_from_every_kind_of_field(table_all: AirtableTable,
                                                   records: list[dict[str, Any]],
                                                   field: str, expected: Any) -> None:
    record = decode_record(records[2], _plan(table_all, {"member_id": field}))
    assert record.values["member_id"] == expected


def test_a_single_member_column_with_several_links_is_quarantined(
        table_all: AirtableTable, records: list[dict[str, Any]]) -> None:
    plans = _plan(table_all, {"member_id": "f_multipleRecordLinks", "signal_type": "Name",
                              "impact": "Name", "date": "f_createdTime"})
    result = records_to_frame("signals", [decode_record(records[2], plans)])
    assert "member_id names 2 people, expected one" in result.quarantine["reason"].iloc[0]


def test_single_link_and_lookup_and_multi_member_columns(
        table_all: AirtableTable, records: list[dict[str, Any]]) -> None:
    brian = decode_record(records[0], _plan(table_all, {"member_id": "f_multipleRecordLinks"}))
    assert brian.values["member_id"] == MemberRef("relation", "reciZf9ja4HaHKJfI")
    evan = decode_record(records[1], _plan(
        table_all, {"approvers": "f_multipleCollaborators"}, "reviews"))
    assert evan.values["approvers"] == (MemberRef(
        "person", "usrPnLezZNh82BzJC", "Brian Leonard", "brian.leonard@grouparoo.com"),)
    lookup = AirtableField("fldL", "Member email", "multipleLookupValues")
    names = {"id": "recX", "createdTime": "2024-01-01T00:00:00.000Z",
             "fields": {"fldL": ["ada@example.com"]}}
    record = decode_record(names, plan_columns("signals", {"member_id": lookup}))
    assert record.values["member_id"] == MemberRef("text", "ada@example.com")


def test_members_resolve_through_records_to_frame(table_all: AirtableTable,
                                                  records: list[dict[str, Any]]) -> None:
    members = pd.DataFrame({
        "member_id": pd.Series(["m1", "m2"], dtype="string"),
        "name": pd.Series(["Brian Leonard", "Andy"], dtype="string"),
        "email": pd.Series(["brian.leonard@grouparoo.com", "andy@example.com"],
                           dtype="string"),
        "source_id": pd.Series(["usrPnLezZNh82BzJC", "rec6Xv62zheVeZ7y6"], dtype="string"),
    })
    plans = _plan(table_all, {"member_id": "f_singleCollaborator", "signal_type": "Name",
                              "impact": "Name", "date": "f_date"})
    decoded = [decode_record(r, plans) for r in records]
    result = records_to_frame("signals", decoded, members=members)
    # Andy's row resolves; Brian's and Evan's have no collaborator (member missing)
    # and names that are not signal types: all reasons are reported at once
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"],
                       strict=True))
    assert "member_id is missing" in reasons[BRIAN]
    assert "signal_type 'Brian'" in reasons[BRIAN]
    assert ANDY in reasons  # "Andy" is not a signal type either


def test_nan_special_value_kept_for_numbers_else_empty_with_a_note(
        table_all: AirtableTable, records: list[dict[str, Any]]) -> None:
    notes: list[str] = []
    number = decode_record(records[1], _plan(
        table_all, {"technical_excellence": "f_rollup"}, "reviews"), notes=notes)
    assert math.isnan(number.values["technical_excellence"])
    assert notes == []
    text = decode_record(records[1], _plan(table_all, {"notes": "f_rollup"}), notes=notes)
    assert text.values["notes"] is None
    assert notes == ["notes: 'f_rollup' held NaN; read as empty"]


def test_error_cell_in_a_mapped_field_quarantines_the_row(
        table_all: AirtableTable, records: list[dict[str, Any]]) -> None:
    raw = dict(records[0], fields={**records[0]["fields"], "f_formula": {"error": "#ERROR!"}})
    mapped = decode_record(raw, _plan(table_all, {"notes": "f_formula"}))
    assert mapped.problem == "notes ('f_formula'): Airtable could not compute it (#ERROR!)"
    result = records_to_frame("signals", [mapped])
    assert result.quarantine["reason"].tolist() == [mapped.problem]
    unmapped = decode_record(raw, _plan(table_all, {"notes": "Name"}))
    assert unmapped.problem is None
