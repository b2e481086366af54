"""The column-wise decoders give today's frames and quarantines, cell for cell.

Today's decoder is the per-row path: ``decode_page`` / ``decode_record`` into
records, then the builder as it was (frozen in :mod:`.oracle`). The new path
is ``gather_pages`` / ``gather_records`` into batches, built by
:class:`leadsync.frames.FrameBuilder` (what ``pull_frame`` and ``iter_pages``
do). Both run on the real payloads in ``tests/fixtures`` under every mapping
hypothesis draws, and on generated pages and records (:mod:`.generators`),
well formed and not. A decoder that raises must raise the same error both
ways.

One difference is deliberate: the per-row builder first made a frame of all
rows, so the rest of a column could change a cell (a number in a text column
became ``"2.0"`` when another row was empty; a bad value showed as
``np.float64(inf)``); the column-wise builder converts each cell as itself.
The comparisons run the oracle with that switch (``per_cell=True``);
:func:`test_each_cell_is_converted_as_itself` pins the difference, and
:func:`test_the_real_signals_mappings_of_both_fixtures` shows the two agree
where a workspace's columns hold one kind of value each.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadsync.connectors.airtable_decode import (
    AirtableTable,
    decode_base_schema,
    decode_record,
    find_table,
    gather_records,
    plan_columns,
)
from leadsync.connectors.base import FieldRef
from leadsync.connectors.notion_decode import decode_page, gather_pages

from leadsync.frames import CellBatch, FrameBuilder
from leadsync.records import Record, latest_records, records_to_frame
from leadsync.tables import TABLES, MemberRef, Validated, build_frame, member_index

from . import oracle
from .generators import airtable_batches, members_frame, notion_batches

MEMBERS = members_frame()
INDEX = member_index(MEMBERS)


def assert_same(old: Validated, new: Validated) -> None:
    pd.testing.assert_frame_equal(new.frame, old.frame)
    pd.testing.assert_frame_equal(new.quarantine, old.quarantine)


def outcome(build: Callable[[], Validated]) -> Validated | tuple[type, str]:
    try:
        return build()
    except (ValueError, TypeError) as exc:
        return type(exc), str(exc)


def compare(old: Callable[[], Validated], new: Callable[[], Validated]) -> None:
    a, b = outcome(old), outcome(new)
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert_same(a, b)


def split(items: Sequence[Any], cuts: Sequence[int]) -> list[list[Any]]:
    """``items`` cut into consecutive batches at ``cuts`` (positions, any order)."""
    bounds = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [list(items[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


def built(table: str, batches: Sequence[CellBatch], members: Any) -> Validated:
    builder = FrameBuilder(table, members=members)
    for batch in batches:
        builder.add(batch)
    return builder.result()


def notion_both(table: str, pages: Sequence[dict[str, Any]], fields: dict[str, FieldRef],
                members: Any, cuts: Sequence[int] = ()) -> None:
    compare(
        lambda: oracle.records_to_frame(
            table, latest_records(decode_page(p, fields, table) for p in pages),
            members=members),
        lambda: built(table, [gather_pages(b, fields, table) for b in split(pages, cuts)],
                      members))


def airtable_both(table: str, records: Sequence[dict[str, Any]], plans: Any, edited: Any,
                  members: Any, cuts: Sequence[int] = ()) -> None:
    compare(
        lambda: oracle.records_to_frame(
            table, latest_records(decode_record(r, plans, edited_field=edited)
                                  for r in records), members=members),
        lambda: built(table, [gather_records(b, plans, table, edited_field=edited)
                              for b in split(records, cuts)], members))


# ---------------------------------------------------------------------------
# The real payloads, under every mapping


NOTION_FIXTURES = ["notion/data_source_query_2025-09-03_all_property_types.json",
                   "notion/data_source_query_2026-03-11_many_props.json",
                   "notion/data_source_query_2026-03-11_rollup_relation.json"]


@pytest.fixture(scope="module")
def notion_pages(load_fixture: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    for name in NOTION_FIXTURES:
        pages.extend(load_fixture(name)["results"])
    return pages


@pytest.fixture(scope="module")
def airtable_table(load_fixture: Any) -> AirtableTable:
    return find_table(decode_base_schema(load_fixture("airtable/base_schema_meta_api.json")),
                      "All", base="app21Qak1T4cGoiP7")


@pytest.fixture(scope="module")
def airtable_records(load_fixture: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = load_fixture(
        "airtable/list_records_all_field_types.json")["records"]
    return records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_notion_pages_under_any_mapping(notion_pages: list[dict[str, Any]],
                                             data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(sorted(TABLES)))
    spec = TABLES[table]
    for source in ({p["id"]: p for p in notion_pages}.values(),):
        pages = list(source)
    # each fixture has its own properties: map from one page's, decode the pages that have them
    page = data.draw(st.sampled_from(pages))
    available = [FieldRef(p["id"], name, p["type"]) for name, p in page["properties"].items()]
    fields = {c.name: data.draw(st.sampled_from(available)) for c in spec.columns
              if data.draw(st.booleans())}
    same_schema = [p for p in pages if set(p["properties"]) == set(page["properties"])]
    members = data.draw(st.sampled_from([None, INDEX]))
    cuts = data.draw(st.lists(st.integers(0, 10), max_size=2))
    notion_both(table, same_schema, fields, members, cuts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_real_airtable_records_under_any_mapping(airtable_table: AirtableTable,
                                                 airtable_records: list[dict[str, Any]],
                                                 data: st.DataObject) -> None:
    table = data.draw(st.sampled_from(sorted(TABLES)))
    spec = TABLES[table]
    fields = {c.name: data.draw(st.sampled_from(airtable_table.fields)) for c in spec.columns
              if data.draw(st.booleans())}
    plans = plan_columns(table, fields)
    edited = data.draw(st.sampled_from([None, airtable_table.last_modified_field()]))
    members = data.draw(st.sampled_from([None, INDEX]))
    cuts = data.draw(st.lists(st.integers(0, 3), max_size=2))
    airtable_both(table, airtable_records, plans, edited, members, cuts)


def test_the_real_signals_mappings_of_both_fixtures(notion_pages: list[dict[str, Any]],
                                                    airtable_table: AirtableTable,
                                                    airtable_records: list[dict[str, Any]]
                                                    ) -> None:
    """The mappings the decoder tests use, with and without members."""
    page = notion_pages[0]
    refs = {name: FieldRef(p["id"], name, p["type"]) for name, p in page["properties"].items()}
    same = [p for p in notion_pages if set(p["properties"]) == set(page["properties"])]
    fields = {"member_id": refs["UserTitle"], "signal_type": refs["SelectTitle"],
              "date": refs["DateTitle"], "evidence": refs["UrlTitle"],
              "impact": refs["StatusTitle"], "notes": refs["TextTitle"],
              "signal_id": refs["ID"], "observed_by": refs["CreatedByTitle"]}
    for members in (None, INDEX):
        notion_both("signals", same, fields, members)
        decoded = [decode_page(p, fields, "signals") for p in same]
        assert_same(oracle.records_to_frame("signals", decoded, members=members, per_cell=False),
                    records_to_frame("signals", decoded, members=members))
    plans = plan_columns("signals", {
        "member_id": airtable_table.field("f_singleCollaborator"),
        "signal_type": airtable_table.field("f_singleSelect"),
        "date": airtable_table.field("f_dateTime"), "evidence": airtable_table.field("f_url"),
        "notes": airtable_table.field("f_multilineText"),
        "observed_by": airtable_table.field("f_createdBy"),
        "indicator": airtable_table.field("f_multipleSelects")})
    for members in (None, INDEX):
        airtable_both("signals", airtable_records, plans, airtable_table.last_modified_field(),
                      members)
        decoded = [decode_record(r, plans, edited_field=airtable_table.last_modified_field())
                   for r in airtable_records]
        assert_same(oracle.records_to_frame("signals", decoded, members=members, per_cell=False),
                    records_to_frame("signals", decoded, members=members))


# ---------------------------------------------------------------------------
# Generated payloads


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=notion_batches(), members=st.sampled_from([None, "index", "frame"]),
       cuts=st.lists(st.integers(0, 30), max_size=3))
def test_generated_notion_pages(batch: Any, members: str | None, cuts: list[int]) -> None:
    resolve = {None: None, "index": INDEX, "frame": MEMBERS}[members]
    notion_both(batch.table, batch.pages, batch.fields, resolve, cuts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=airtable_batches(), members=st.sampled_from([None, "index", "frame"]),
       cuts=st.lists(st.integers(0, 30), max_size=3))
def test_generated_airtable_records(batch: Any, members: str | None, cuts: list[int]) -> None:
    resolve = {None: None, "index": INDEX, "frame": MEMBERS}[members]
    airtable_both(batch.table, batch.records, batch.plans, batch.edited, resolve, cuts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=notion_batches(table="signals"), rows=st.integers(1, 12))
def test_pages_split_into_frames_as_iter_pages_cuts_them(batch: Any, rows: int) -> None:
    """``iter_pages``: each frame of ``rows`` rows is today's frame of those rows.

    A row id that comes twice within one frame (an Airtable listing restarted
    after its offset expired) is in it once, with its last values, as in
    ``pull_frame`` (``latest_records``), rather than quarantined as its own
    duplicate."""
    decoded = [decode_page(p, batch.fields, "signals") for p in batch.pages] if all(
        isinstance(outcome(lambda p=p: Validated(
            pd.DataFrame(), pd.DataFrame()) if decode_page(p, batch.fields, "signals") else None),
            Validated) for p in batch.pages) else None
    if decoded is None:
        return  # a page today's decoder refuses (compared above)
    pending: CellBatch | None = None
    frames: list[Validated] = []
    for page_batch in [gather_pages([p], batch.fields, "signals") for p in batch.pages]:
        pending = page_batch if pending is None else CellBatch.concat(
            [pending.prepare(), page_batch.prepare()])
        while pending.rows >= rows:
            head, pending = pending.split(rows)
            frames.append(built("signals", [head], INDEX))
    if pending is not None and pending.rows:
        frames.append(built("signals", [pending], INDEX))
    expected = [oracle.records_to_frame("signals", latest_records(decoded[i:i + rows]),
                                        members=INDEX)
                for i in range(0, len(decoded), rows)]
    assert len(frames) == len(expected)
    for got, want in zip(frames, expected, strict=True):
        assert_same(want, got)


# ---------------------------------------------------------------------------
# Records, as the store and the sync hand them to build_frame

cells = {
    "text": st.one_of(st.none(), st.text(max_size=6), st.sampled_from([" ", "  x  ", "\t"])),
    "category": st.one_of(st.none(), st.sampled_from(["High", "high ", "LOW", "Huge", "",
                                                      "Technical", "operational", "x"])),
    "timestamp": st.one_of(st.none(), st.dates(), st.datetimes(timezones=st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=5))])), st.datetimes(),
        st.sampled_from(["2026-04-03", "2026-04-03T09:00:00Z", "nope", "2026-02-30",
                         "Nov 1 2026", " 2026-01-01 "]),
        st.builds(pd.Timestamp, st.datetimes(timezones=st.just(dt.UTC)))),
    "boolean": st.one_of(st.none(), st.booleans(), st.sampled_from(
        ["yes", "No", "x", "maybe", "checked", ""])),
    "number": st.one_of(st.none(), st.floats(-5, 5, allow_nan=False), st.sampled_from(
        ["3", "x", "1e3", " 4 "])),
    "member": st.one_of(st.none(), st.sampled_from([
        MemberRef("relation", "p-1"), MemberRef("person", "m-ana"), MemberRef("text", "Bo Chen"),
        MemberRef("text", "bo@example.org"), MemberRef("relation", "nope"), "Ana Lima", "",
        (MemberRef("person", "m-ana"), MemberRef("person", "m-bo")), 5, ["Ana Lima"]])),
}


def kind_cells(kind: str) -> st.SearchStrategy[Any]:
    if kind in ("member", "members"):
        return cells["member"]
    if kind in ("timestamp", "boolean", "number", "category"):
        return cells[kind]
    if kind == "url":
        return st.one_of(st.none(), st.sampled_from(["https://x.example/a", "nope", " "]))
    if kind == "email":
        return st.one_of(st.none(), st.sampled_from(["a@b.org", "a@b", "x"]))
    if kind == "timezone":
        return st.one_of(st.none(), st.sampled_from(["Europe/Berlin", "Nowhere", "UTC"]))
    if kind == "hours":
        return st.one_of(st.none(), st.sampled_from(["09:00-17:00", "9-5", "22:00 - 06:00"]))
    return cells["text"]


@st.composite
def record_batches(draw: st.DrawFn) -> tuple[str, list[Record]]:
    table = draw(st.sampled_from(sorted(TABLES)))
    spec = TABLES[table]
    records = []
    for n in range(draw(st.integers(0, 20))):
        values = {c.name: draw(kind_cells(c.kind)) for c in spec.columns
                  if draw(st.integers(0, 6))}
        problem = "bad row" if draw(st.integers(0, 15)) == 0 else None
        records.append(Record(draw(st.sampled_from([f"s{n}", "s1", "s2", " "])),
                              draw(st.one_of(st.none(), st.datetimes(timezones=st.just(dt.UTC)))),
                              None, values, problem))
    return table, records


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=record_batches(), members=st.sampled_from([None, "index"]))
def test_records_build_as_today(batch: tuple[str, list[Record]], members: str | None) -> None:
    table, records = batch
    resolve = INDEX if members else None
    compare(lambda: oracle.records_to_frame(table, records, members=resolve),
            lambda: records_to_frame(table, records, members=resolve))
    rows = [r.row() for r in records if not r.problem]
    compare(lambda: oracle.build_frame(table, rows, members=resolve),
            lambda: build_frame(table, rows, members=resolve))


def test_a_date_nanoseconds_cannot_hold_is_quarantined_not_raised() -> None:
    """Notion allows year 1; the pull used to end with ``OutOfBoundsDatetime``."""
    rows = [{"source_id": "a", "member_id": "m-ana", "signal_type": "Technical", "impact": "High",
             "date": "0001-01-04T00:00:00Z"},
            {"source_id": "b", "member_id": "m-ana", "signal_type": "Technical", "impact": "High",
             "date": dt.date(1, 1, 4)},
            {"source_id": "c", "member_id": "m-ana", "signal_type": "Technical", "impact": "High",
             "date": "2026-04-03"}]
    got = build_frame("signals", rows)
    assert got.frame["source_id"].tolist() == ["c"]
    assert got.quarantine["source_id"].tolist() == ["a", "b"]
    assert all(r.startswith("date ") for r in got.quarantine["reason"])
    assert_same(oracle.build_frame("signals", rows), got)


def test_each_cell_is_converted_as_itself() -> None:
    """The deliberate difference: a number in a text column stays itself."""
    rows = [{"source_id": "a", "name": "Ana", "role": 2}, {"source_id": "b", "name": "Bo"}]
    old = oracle.build_frame("members", rows, per_cell=False).frame["role"].tolist()
    new = build_frame("members", rows).frame["role"].tolist()
    assert old[0] == "2.0"  # the per-row builder saw a column of floats
    assert new[0] == "2"
    reviews = [{"source_id": "a", "technical_excellence": float("inf")},
               {"source_id": "b", "technical_excellence": 3.0}]
    assert "np.float64(inf)" in oracle.build_frame("reviews", reviews, per_cell=False
                                                   ).quarantine["reason"][0]
    reason = "technical_excellence inf is not a number; nominee_id is missing"
    assert oracle.build_frame("reviews", reviews).quarantine["reason"][0] == reason
    assert build_frame("reviews", reviews).quarantine["reason"][0] == reason
