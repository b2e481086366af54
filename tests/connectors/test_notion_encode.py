"""Encoding values into Notion property payloads: round trips through decoding, and limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadsync.connectors.base import FieldRef
from leadsync.connectors.notion_decode import DateRange, PageId, decode_property
from leadsync.connectors.notion_encode import (
    ARRAY_MAX,
    TEXT_ITEM_MAX,
    WRITABLE_TYPES,
    encode_properties,
    encode_property,
    plain_value,
    split_text,
)

from leadsync.errors import DataValidationError
from leadsync.tables import MemberRef

UTC = dt.UTC
USER = "2200a911-6a96-44bb-bd38-6bfb1e01b9f6"


def round_trip(ptype: str, value: Any) -> Any:
    return decode_property({"type": ptype, **encode_property(ptype, value, name="P")})


@pytest.mark.parametrize(("ptype", "value", "expected"), [
    ("title", "Quarterly review", "Quarterly review"),
    ("rich_text", "Led the incident review ✅", "Led the incident review ✅"),
    ("rich_text", None, None),
    ("number", 4.5, 4.5),
    ("number", 3, 3),
    ("number", None, None),
    ("select", "High", "High"),
    ("select", None, None),
    ("status", "Approved", "Approved"),
    ("multi_select", ("Technical", "Operational"), ("Technical", "Operational")),
    ("multi_select", [], ()),
    ("date", dt.date(2026, 3, 1), DateRange(dt.date(2026, 3, 1))),
    ("date", dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
     DateRange(dt.datetime(2026, 3, 1, 14, 30, tzinfo=UTC))),
    ("date", DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 4)),
     DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 4))),
    ("date", None, None),
    ("people", (MemberRef("person", USER, "Hiro", "h@example.com"),),
     (MemberRef("person", USER),)),
    ("people", USER, (MemberRef("person", USER),)),
    ("relation", (PageId("p-1"), "p-2"), ("p-1", "p-2")),
    ("relation", MemberRef("relation", "p-9"), ("p-9",)),
    ("checkbox", True, True),
    ("checkbox", False, False),
    ("url", "https://github.com/acme/web-app/pull/42", "https://github.com/acme/web-app/pull/42"),
    ("email", "ada@example.com", "ada@example.com"),
    ("phone_number", "+44 20 7946 0000", "+44 20 7946 0000"),
    ("files", ("https://docs.acme.example/adr/0007.pdf",), ("https://docs.acme.example/adr/0007.pdf",)),
])
def test_every_writable_type_round_trips(ptype: str, value: Any, expected: Any) -> None:
    assert round_trip(ptype, value) == expected


def test_what_decodes_from_real_payloads_encodes_back_to_the_same(load_fixture: Any) -> None:
    checked: set[str] = set()
    for name in ("data_source_query_2025-09-03_all_property_types.json",
                 "data_source_query_2026-03-11_many_props.json",
                 "data_source_query_2026-03-11_rollup_relation.json"):
        for page in load_fixture(f"notion/{name}")["results"]:
            for prop in page["properties"].values():
                if prop["type"] not in WRITABLE_TYPES:
                    continue
                value = decode_property(prop)
                assert round_trip(prop["type"], value) == (
                    value if prop["type"] != "people"
                    else tuple(MemberRef("person", m.key) for m in value)), prop
                checked.add(prop["type"])
    assert checked == WRITABLE_TYPES


def test_payload_shapes_match_the_documented_request_forms() -> None:
    assert encode_property("select", "Open") == {"select": {"name": "Open"}}
    assert encode_property("people", USER) == {"people": [{"object": "user", "id": USER}]}
    assert encode_property("relation", ["dd456007"]) == {"relation": [{"id": "dd456007"}]}
    assert encode_property("date", dt.date(2023, 2, 23)) == {
        "date": {"start": "2023-02-23", "end": None}}
    assert encode_property("rich_text", "hi") == {
        "rich_text": [{"type": "text", "text": {"content": "hi"}}]}
    assert encode_property("rich_text", "") == {"rich_text": []}
    assert encode_property("files", ["https://x.example/a/logo.png"]) == {"files": [
        {"name": "logo.png", "type": "external", "external": {"url": "https://x.example/a/logo.png"}}]}


def test_pandas_and_numpy_values_are_plain_before_encoding() -> None:
    assert plain_value(pd.NA) is None
    assert plain_value(pd.NaT) is None
    assert plain_value(np.float64("nan")) is None
    assert plain_value(float("nan")) is None
    assert plain_value(np.int64(3)) == 3
    assert type(plain_value(np.int64(3))) is int
    assert plain_value(pd.Timestamp("2026-01-01T10:00Z")) == dt.datetime(2026, 1, 1, 10,
                                                                          tzinfo=UTC)
    assert encode_property("number", np.float64(2.5)) == {"number": 2.5}
    assert encode_property("rich_text", pd.NA) == {"rich_text": []}
    assert encode_property("checkbox", np.bool_(True)) == {"checkbox": True}


# ---------------------------------------------------------------------------
# Limits


def test_long_text_is_split_into_items_of_at_most_2000() -> None:
    text = ("Facilitated the async design review across four time zones. " * 120).strip()
    assert len(text) > 3 * TEXT_ITEM_MAX
    items = encode_property("rich_text", text)["rich_text"]
    assert len(items) == 4
    assert all(len(i["text"]["content"]) <= TEXT_ITEM_MAX for i in items)
    assert "".join(i["text"]["content"] for i in items) == text
    assert round_trip("rich_text", text) == text


def test_splitting_counts_utf16_units_and_never_cuts_a_character() -> None:
    text = "a" + "😀" * 1500  # 3001 UTF-16 units
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(len(p.encode("utf-16-le")) // 2 <= TEXT_ITEM_MAX for p in pieces)
    assert len(pieces) == 2


@given(st.text(min_size=0, max_size=6000))
def test_split_text_keeps_every_character_within_the_limit(text: str) -> None:
    pieces = split_text(text, limit=500)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-16-le")) // 2 <= 500 for p in pieces)


def test_text_needing_more_than_100_items_is_refused_naming_the_property() -> None:
    with pytest.raises(DataValidationError, match=r"property 'Notes': text of 200001 characters "
                                                  r"needs 101 rich text items"):
        encode_property("rich_text", "x" * (ARRAY_MAX * TEXT_ITEM_MAX + 1), name="Notes")
    assert len(encode_property("rich_text", "x" * ARRAY_MAX * TEXT_ITEM_MAX)["rich_text"]) == 100


@pytest.mark.parametrize("ptype", ["multi_select", "people", "relation", "files"])
def test_arrays_over_100_are_refused_naming_the_property(ptype: str) -> None:
    values = [f"https://x.example/{i}" if ptype == "files" else f"v{i}" for i in range(101)]
    with pytest.raises(DataValidationError, match=r"property 'Tags': 101 items; Notion takes "
                                                  r"at most 100"):
        encode_property(ptype, values, name="Tags")
    assert len(encode_property(ptype, values[:100], name="Tags")[ptype]) == 100


def test_other_limits_and_read_only_types_are_refused() -> None:
    with pytest.raises(DataValidationError, match="contains a comma"):
        encode_property("select", "High, urgent", name="Impact")
    with pytest.raises(DataValidationError, match="no time zone"):
        encode_property("date", dt.datetime(2026, 1, 1, 9), name="Date")
    with pytest.raises(DataValidationError, match="a URL of 2001 characters"):
        encode_property("url", "https://" + "x" * 1993, name="Evidence")
    with pytest.raises(DataValidationError, match="an email of 201 characters"):
        encode_property("email", "a" * 189 + "@example.com", name="Email")
    for ptype in ("formula", "rollup", "created_time", "last_edited_by", "unique_id", "button"):
        with pytest.raises(DataValidationError, match="read-only"):
            encode_property(ptype, 1, name="X")
    with pytest.raises(DataValidationError, match="is not a number"):
        encode_property("number", "many", name="Score")


def test_encode_properties_keys_by_id_and_reports_every_problem_at_once() -> None:
    ok = encode_properties({FieldRef("title", "Name", "title"): "Ada",
                            FieldRef("zE%7C%3F", "Impact", "select"): "High"})
    assert ok == {"title": {"title": [{"type": "text", "text": {"content": "Ada"}}]},
                  "zE%7C%3F": {"select": {"name": "High"}}}
    with pytest.raises(DataValidationError) as info:
        encode_properties({FieldRef("a", "Impact", "select"): "a,b",
                           FieldRef("b", "Tags", "multi_select"): [str(i) for i in range(101)]})
    assert "'Impact'" in str(info.value)
    assert "'Tags'" in str(info.value)
