"""pandas values to Airtable cells: blanks, numpy scalars, times, lists, computed fields."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from leadsync.connectors.airtable_decode import AirtableField
from leadsync.connectors.airtable_encode import EncodeError, encode_fields, encode_value, is_blank

from leadsync.tables import MemberRef


def fld(kind: str, name: str | None = None) -> AirtableField:
    return AirtableField(f"fld{kind[:10]:>014}", name or kind, kind)


@pytest.mark.parametrize("blank", [None, float("nan"), np.nan, np.float64("nan"), pd.NA, pd.NaT,
                                   np.datetime64("NaT")])
@pytest.mark.parametrize("kind", ["singleLineText", "number", "dateTime", "date",
                                  "singleSelect", "singleCollaborator"])
def test_blanks_clear_the_cell(blank: Any, kind: str) -> None:
    assert is_blank(blank)
    assert encode_value(fld(kind), blank) is None


def test_a_blank_checkbox_is_unchecked() -> None:
    assert encode_value(fld("checkbox"), pd.NA) is False
    assert encode_value(fld("checkbox"), np.bool_(True)) is True
    assert type(encode_value(fld("checkbox"), np.bool_(False))) is bool
    assert encode_value(fld("checkbox"), 1) is True


def test_numpy_scalars_become_python_numbers() -> None:
    value = encode_value(fld("number"), np.int64(42))
    assert value == 42
    assert type(value) is int
    value = encode_value(fld("currency"), np.float32(1.5))
    assert value == 1.5
    assert type(value) is float
    assert encode_value(fld("percent"), 0.25) == 0.25  # a fraction: 25 %
    assert encode_value(fld("number"), Decimal("2.5")) == 2.5
    assert encode_value(fld("rating"), np.int64(4)) == 4
    assert encode_value(fld("duration"), dt.timedelta(minutes=83)) == 4980.0
    assert encode_value(fld("duration"), pd.Timedelta(seconds=56)) == 56.0
    # everything encoded is plain JSON (requests refuses NaN and numpy types)
    json.dumps(encode_fields([(fld("number"), np.int64(1)), (fld("checkbox"), np.bool_(True)),
                              (fld("singleLineText"), np.str_("x"))]), allow_nan=False)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, "forty", True, [1, 2]])
def test_numbers_refuse_what_is_not_a_finite_number(bad: Any) -> None:
    with pytest.raises(EncodeError, match="'number' \\(number\\) cannot take"):
        encode_value(fld("number"), bad)


def test_typecast_lets_strings_through_for_airtable_to_convert() -> None:
    assert encode_value(fld("number"), "42", typecast=True) == "42"
    assert encode_value(fld("singleSelect"), "New choice", typecast=True) == "New choice"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.Timestamp("2024-03-01 09:30:00.123456", tz="UTC"), "2024-03-01T09:30:00.123Z"),
        (pd.Timestamp("2024-03-01 10:30", tz="Europe/Berlin"), "2024-03-01T09:30:00.000Z"),
        (pd.Timestamp("2024-03-01 09:30"), "2024-03-01T09:30:00.000Z"),  # naive: taken as UTC
        (dt.datetime(2024, 3, 1, 4, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
         "2024-03-01T09:30:00.000Z"),
        (dt.datetime(2024, 3, 1, 9, 30), "2024-03-01T09:30:00.000Z"),
        (np.datetime64("2024-03-01T09:30:00"), "2024-03-01T09:30:00.000Z"),
        (dt.date(2024, 3, 1), "2024-03-01T00:00:00.000Z"),
        ("2024-03-01T10:30:00+01:00", "2024-03-01T09:30:00.000Z"),
    ],
)
def test_date_times_are_iso_utc_with_z(value: Any, expected: str) -> None:
    assert encode_value(fld("dateTime"), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2024, 3, 1), "2024-03-01"),
        (pd.Timestamp("2024-03-01", tz="UTC"), "2024-03-01"),
        (pd.Timestamp("2024-03-01 23:30", tz="America/New_York"), "2024-03-02"),  # UTC day
        (pd.Timestamp("2024-03-01 12:00"), "2024-03-01"),
        ("2024-03-01", "2024-03-01"),
    ],
)
def test_dates_are_year_month_day(value: Any, expected: str) -> None:
    assert encode_value(fld("date"), value) == expected


def test_lists_links_collaborators_attachments() -> None:
    assert encode_value(fld("multipleSelects"), ("Red", np.str_("Green"))) == ["Red", "Green"]
    assert encode_value(fld("multipleSelects"), "Red") == ["Red"]
    assert encode_value(fld("multipleSelects"), np.array(["a", "b"])) == ["a", "b"]
    assert encode_value(fld("multipleSelects"), []) == []
    assert encode_value(fld("multipleRecordLinks"),
                        [MemberRef("relation", "recAAAAAAAAAAAAAA"), "recBBBBBBBBBBBBBB"]) == [
        "recAAAAAAAAAAAAAA", "recBBBBBBBBBBBBBB"]
    person = MemberRef("person", "usrPnLezZNh82BzJC", "Brian", "b@example.com")
    assert encode_value(fld("singleCollaborator"), person) == {"id": "usrPnLezZNh82BzJC"}
    assert encode_value(fld("singleCollaborator"), "ada@example.com") == {
        "email": "ada@example.com"}
    assert encode_value(fld("multipleCollaborators"), [person, {"email": "x@example.com"}]) == [
        {"id": "usrPnLezZNh82BzJC"}, {"email": "x@example.com"}]
    assert encode_value(fld("multipleAttachments"), ["https://example.com/a.png"]) == [
        {"url": "https://example.com/a.png"}]
    assert encode_value(fld("barcode"), 123) == {"text": "123"}
    with pytest.raises(EncodeError):
        encode_value(fld("singleCollaborator"), [person, person])


def test_text_fields_take_text() -> None:
    assert encode_value(fld("singleLineText"), np.int64(7)) == "7"
    assert encode_value(fld("email"), MemberRef("text", "x", "X", "x@example.com")) == (
        "x@example.com")
    with pytest.raises(EncodeError):
        encode_value(fld("singleLineText"), {"a": 1})


@pytest.mark.parametrize("kind", ["formula", "rollup", "multipleLookupValues", "count",
                                  "autoNumber", "createdTime", "lastModifiedTime", "createdBy",
                                  "lastModifiedBy", "button"])
def test_computed_fields_are_refused(kind: str) -> None:
    with pytest.raises(EncodeError, match="computed by Airtable"):
        encode_value(fld(kind, "Impact points"), 1)


def test_encode_fields_keys_by_field_id() -> None:
    name = AirtableField("fldNAME0000000001", "Name", "singleLineText")
    score = AirtableField("fldSCORE000000001", "Score", "number")
    assert encode_fields([(name, "Ada"), (score, np.float64("nan"))]) == {
        "fldNAME0000000001": "Ada", "fldSCORE000000001": None}
