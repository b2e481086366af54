"""Data source queries: filters, sorts, cursors, limits, trash and minute-rounded times."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from notion_client import APIResponseError, Client, collect_paginated_api

from leadsync.emulator import Emulator, FrozenClock, Limits
from leadsync.emulator.notion_query import QueryCache

START = dt.datetime(2026, 11, 1, 9, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=3, limits=Limits.unlimited(), clock=FrozenClock(START)) as emulator:
        yield emulator


@pytest.fixture
def notion(emu: Emulator) -> Client:
    return Client(auth=emu.notion_token, base_url=emu.url, logger=logging.getLogger("test"))


@pytest.fixture
def signals(emu: Emulator, notion: Client) -> str:
    db = notion.databases.create(
        parent={"page_id": emu.notion.root_page_id},
        title=[{"text": {"content": "Signals"}}],
        initial_data_source={"properties": {
            "Summary": {"title": {}}, "Notes": {"rich_text": {}}, "Points": {"number": {}},
            "Impact": {"select": {"options": [{"name": "Low"}, {"name": "Medium"},
                                              {"name": "High"}]}},
            "Stage": {"status": {}}, "Date": {"date": {}}, "Done": {"checkbox": {}},
            "Tags": {"multi_select": {}}, "Evidence": {"url": {}},
            "Big": {"formula": {"expression": 'prop("Points") > 2'}},
        }},
    )
    ds: str = db["data_sources"][0]["id"]
    emu.notion.create_data_source_rows(ds, [
        {"Summary": "Reviewed PRs", "Notes": "Async review", "Points": 3, "Impact": "Medium",
         "Date": dt.date(2026, 10, 1), "Tags": ["infra"], "Evidence": "https://x/1"},
        {"Summary": "Wrote ADR", "Notes": "", "Points": 9, "Impact": "High",
         "Stage": "Done", "Date": dt.datetime(2026, 10, 2, 23, 30, tzinfo=dt.timezone(
             dt.timedelta(hours=-4))), "Done": True, "Tags": ["docs", "infra"]},
        {"Summary": "Mentored Jun", "Points": 1, "Impact": "Low", "Date": dt.date(2026, 10, 3),
         "Stage": "In progress"},
        {"Summary": "Coordinated hand-off", "Points": None, "Impact": None, "Date": None},
    ])
    return ds


def names(answer: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    rows = answer["results"] if isinstance(answer, dict) else answer
    return [r["properties"]["Summary"]["title"][0]["plain_text"] for r in rows]


@pytest.mark.parametrize(("filter_", "expected"), [
    ({"property": "Summary", "title": {"equals": "Wrote ADR"}}, ["Wrote ADR"]),
    ({"property": "Summary", "title": {"does_not_equal": "Wrote ADR"}},
     ["Reviewed PRs", "Mentored Jun", "Coordinated hand-off"]),
    ({"property": "Summary", "title": {"contains": "RE"}}, ["Reviewed PRs", "Mentored Jun"]),
    ({"property": "Summary", "title": {"does_not_contain": "re"}},
     ["Wrote ADR", "Coordinated hand-off"]),
    ({"property": "Summary", "title": {"starts_with": "wro"}}, ["Wrote ADR"]),
    ({"property": "Summary", "title": {"ends_with": "jun"}}, ["Mentored Jun"]),
    ({"property": "Notes", "rich_text": {"is_empty": True}},
     ["Wrote ADR", "Mentored Jun", "Coordinated hand-off"]),
    ({"property": "Notes", "rich_text": {"is_not_empty": True}}, ["Reviewed PRs"]),
    ({"property": "Impact", "select": {"equals": "High"}}, ["Wrote ADR"]),
    ({"property": "Impact", "select": {"does_not_equal": "High"}},
     ["Reviewed PRs", "Mentored Jun", "Coordinated hand-off"]),
    ({"property": "Impact", "select": {"is_empty": True}}, ["Coordinated hand-off"]),
    ({"property": "Stage", "status": {"equals": "Done"}}, ["Wrote ADR"]),
    ({"property": "Stage", "status": {"equals": "Not started"}},
     ["Reviewed PRs", "Coordinated hand-off"]),
    # 23:30 at -04:00 is 03:30 UTC the next day: date-only values compare UTC days.
    ({"property": "Date", "date": {"equals": "2026-10-03"}}, ["Wrote ADR", "Mentored Jun"]),
    ({"property": "Date", "date": {"before": "2026-10-03"}}, ["Reviewed PRs"]),
    ({"property": "Date", "date": {"on_or_after": "2026-10-03"}}, ["Wrote ADR", "Mentored Jun"]),
    ({"property": "Date", "date": {"after": "2026-10-03T03:00:00Z"}}, ["Wrote ADR"]),
    ({"property": "Date", "date": {"on_or_before": "2026-10-01"}}, ["Reviewed PRs"]),
    ({"property": "Date", "date": {"is_empty": True}}, ["Coordinated hand-off"]),
    ({"property": "Date", "date": {"is_not_empty": True}},
     ["Reviewed PRs", "Wrote ADR", "Mentored Jun"]),
    ({"property": "Points", "number": {"greater_than": 2}}, ["Reviewed PRs", "Wrote ADR"]),
    ({"property": "Done", "checkbox": {"equals": True}}, ["Wrote ADR"]),
    ({"property": "Big", "formula": {"checkbox": {"equals": True}}},
     ["Reviewed PRs", "Wrote ADR"]),
    ({"property": "Tags", "multi_select": {"contains": "infra"}}, ["Reviewed PRs", "Wrote ADR"]),
    ({"property": "Evidence", "url": {"is_empty": True}},
     ["Wrote ADR", "Mentored Jun", "Coordinated hand-off"]),
    ({"and": [{"property": "Points", "number": {"is_not_empty": True}},
              {"or": [{"property": "Impact", "select": {"equals": "Low"}},
                      {"property": "Impact", "select": {"equals": "High"}}]}]},
     ["Wrote ADR", "Mentored Jun"]),
    ({"or": [{"property": "Summary", "title": {"contains": "PR"}},
             {"timestamp": "created_time", "created_time": {"after": "2030-01-01"}}]},
     ["Reviewed PRs"]),
])
def test_filters(notion: Client, signals: str, filter_: dict[str, Any],
                 expected: list[str]) -> None:
    assert names(notion.data_sources.query(data_source_id=signals, filter=filter_)) == expected


def test_filters_and_sorts_take_property_ids_too(notion: Client, signals: str) -> None:
    schema = notion.data_sources.retrieve(data_source_id=signals)["properties"]
    impact, points = schema["Impact"]["id"], schema["Points"]["id"]
    answer = notion.data_sources.query(
        data_source_id=signals, filter={"property": impact, "select": {"is_not_empty": True}},
        sorts=[{"property": points, "direction": "ascending"}])
    assert names(answer) == ["Mentored Jun", "Reviewed PRs", "Wrote ADR"]


def test_sorts_earlier_entries_take_precedence_and_empties_go_last(notion: Client,
                                                                   signals: str,
                                                                   emu: Emulator) -> None:
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(seconds=1)  # same shown minute; timestamp sorts use the exact time
    emu.notion.create_data_source_rows(signals, [{"Summary": "Another low", "Impact": "Low",
                                                  "Points": 5}])
    by_select_then_points = notion.data_sources.query(data_source_id=signals, sorts=[
        {"property": "Impact", "direction": "ascending"},
        {"property": "Points", "direction": "descending"}])
    # select sorts follow the option order (Low, Medium, High), not the alphabet
    assert names(by_select_then_points) == ["Another low", "Mentored Jun", "Reviewed PRs",
                                            "Wrote ADR", "Coordinated hand-off"]
    descending = notion.data_sources.query(data_source_id=signals, sorts=[
        {"property": "Date", "direction": "descending"}])
    assert names(descending)[-2:] == ["Coordinated hand-off", "Another low"]  # no dates
    assert names(descending)[:3] == ["Wrote ADR", "Mentored Jun", "Reviewed PRs"]  # instants
    by_time = notion.data_sources.query(data_source_id=signals, sorts=[
        {"timestamp": "created_time", "direction": "descending"}])
    assert names(by_time)[0] == "Another low"


def test_filter_properties_trims_properties_by_name_or_id(notion: Client,
                                                          signals: str) -> None:
    schema = notion.data_sources.retrieve(data_source_id=signals)["properties"]
    answer = notion.data_sources.query(data_source_id=signals, page_size=1,
                                       filter_properties=[schema["Impact"]["id"], "Points"])
    assert set(answer["results"][0]["properties"]) == {"Impact", "Points"}
    one = notion.pages.retrieve(page_id=answer["results"][0]["id"], filter_properties=["title"])
    assert set(one["properties"]) == {"Summary"}


def test_page_size_over_100_is_a_validation_error(notion: Client, signals: str) -> None:
    with pytest.raises(APIResponseError) as refused:
        notion.data_sources.query(data_source_id=signals, page_size=101)
    assert refused.value.status == 400
    assert refused.value.code == "validation_error"
    assert str(refused.value) == ("body failed validation: body.page_size should be ≤ `100`, "
                                  "instead was `101`.")


@pytest.mark.parametrize(("body", "message"), [
    ({"filter": None}, "body.filter should be an object or `undefined`, instead was `null`."),
    ({"filter": {"property": "Nope", "rich_text": {"equals": "x"}}},
     "Could not find property with name or id: Nope"),
    ({"filter": {"property": "Impact", "rich_text": {"equals": "x"}}},
     "database property select does not match filter rich_text"),
    ({"sorts": [{"property": "Nope", "direction": "ascending"}]},
     "Could not find sort property with name or id: Nope"),
    ({"filter": {"or": [{"and": [{"or": [
        {"property": "Points", "number": {"equals": 1}}]}]}]}}, "nest at most 2 levels"),
    ({"filter": {"property": "Stage", "status": {"equals": "Shipped"}}},
     "Invalid status filter option"),
    ({"start_cursor": "AAA"}, "body.start_cursor should be a valid uuid"),
    ({"start_cursor": "00000000-0000-4000-8000-000000000000"},
     "start_cursor provided is invalid"),
])
def test_bad_queries_are_validation_errors(notion: Client, signals: str, body: dict[str, Any],
                                           message: str) -> None:
    with pytest.raises(APIResponseError) as refused:
        notion.data_sources.query(data_source_id=signals, **body)
    assert refused.value.status == 400
    assert refused.value.code == "validation_error"
    assert message in str(refused.value)


def test_trashed_pages_are_absent_from_queries_but_retrievable(notion: Client, signals: str,
                                                               emu: Emulator) -> None:
    first = notion.data_sources.query(data_source_id=signals)["results"][0]["id"]
    emu.notion.trash_page(first)
    assert first not in {r["id"] for r in notion.data_sources.query(
        data_source_id=signals)["results"]}
    assert notion.pages.retrieve(page_id=first)["in_trash"] is True
    only_trash = notion.data_sources.query(data_source_id=signals, in_trash=True)
    assert [r["id"] for r in only_trash["results"]] == [first]


def test_times_are_rounded_down_to_the_minute_and_filters_compare_the_shown_minute(
        notion: Client, signals: str, emu: Emulator) -> None:
    clock = emu.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(seconds=15)  # 09:00:45
    page = notion.pages.create(parent={"data_source_id": signals}, properties={
        "Summary": {"title": [{"text": {"content": "Late"}}]}})
    assert page["created_time"] == "2026-11-01T09:00:00.000Z"
    clock.advance(seconds=20)  # 09:01:05
    edited = notion.pages.update(page_id=page["id"], properties={"Points": {"number": 2}})
    assert edited["created_time"] == "2026-11-01T09:00:00.000Z"
    assert edited["last_edited_time"] == "2026-11-01T09:01:00.000Z"
    shown = edited["last_edited_time"]

    def edited_since(op: str, when: str) -> list[str]:
        return names(notion.data_sources.query(data_source_id=signals, filter={
            "timestamp": "last_edited_time", "last_edited_time": {op: when}}))
    assert edited_since("equals", shown) == ["Late"]
    assert edited_since("on_or_after", shown) == ["Late"]
    assert edited_since("after", shown) == []  # the rest of that minute is skipped
    assert edited_since("after", "2026-11-01T09:00:59Z") == ["Late"]
    assert "Late" not in edited_since("before", shown)
    assert edited_since("on_or_after", "2026-11-01") == names(
        notion.data_sources.query(data_source_id=signals))
    assert edited_since("after", "2026-11-01") == []  # a date compares whole (UTC) days


def test_paging_computes_the_order_once_and_cursors_survive_edits(notion: Client,
                                                                  emu: Emulator) -> None:
    db = notion.databases.create(parent={"page_id": emu.notion.root_page_id},
                                 title=[{"text": {"content": "Big"}}],
                                 initial_data_source={"properties": {"Name": {"title": {}},
                                                                     "N": {"number": {}}}})
    ds = db["data_sources"][0]["id"]
    ids = emu.notion.create_data_source_rows(ds, [{"Name": f"r{n}", "N": n}
                                                  for n in range(1000)])
    before = emu.notion.queries.computed
    sorts = [{"property": "N", "direction": "ascending"}]
    rows = collect_paginated_api(notion.data_sources.query, data_source_id=ds, sorts=sorts)
    assert [r["id"] for r in rows] == ids
    assert emu.notion.queries.computed - before == 1  # ten pages, one filter-and-sort

    first = notion.data_sources.query(data_source_id=ds, sorts=sorts, page_size=10)
    cursor = first["next_cursor"]
    assert cursor == ids[10]  # like Notion: the cursor is the next page's id
    emu.notion.trash_page(cursor)  # the cursor's own page leaves the results
    resumed = notion.data_sources.query(data_source_id=ds, sorts=sorts, page_size=10,
                                        start_cursor=cursor)
    assert [r["id"] for r in resumed["results"]] == ids[11:21]


def test_query_cap_is_configurable() -> None:
    with Emulator(seed=1, limits=Limits(notion_rps=None, notion_query_cap=25)) as emu:
        notion = Client(auth=emu.notion_token, base_url=emu.url, logger=logging.getLogger("t"))
        db = notion.databases.create(parent={"page_id": emu.notion.root_page_id},
                                     title=[], initial_data_source={"properties": {
                                         "Name": {"title": {}}}})
        ds = db["data_sources"][0]["id"]
        emu.notion.create_data_source_rows(ds, [{"Name": str(n)} for n in range(30)])
        first = notion.data_sources.query(data_source_id=ds, page_size=20)
        second = notion.data_sources.query(data_source_id=ds, page_size=20,
                                           start_cursor=first["next_cursor"])
    assert len(second["results"]) == 5
    assert second["has_more"] is False
    assert second["request_status"]["incomplete_reason"] == "query_result_limit_reached"


@pytest.mark.parametrize("cache", [QueryCache(size=2), QueryCache(max_ids=5)])
def test_the_order_cache_is_bounded(notion: Client, signals: str, emu: Emulator,
                                    cache: QueryCache) -> None:
    emu.notion.queries = cache
    sorts = [[{"property": name, "direction": "ascending"}] for name in ("Points", "Date")]
    for sort in sorts:
        notion.data_sources.query(data_source_id=signals, sorts=sort)
    computed = cache.computed
    notion.data_sources.query(data_source_id=signals, sorts=sorts[1])  # the newest stays
    assert cache.computed == computed
    notion.data_sources.query(data_source_id=signals, sorts=[
        {"property": "Impact", "direction": "ascending"}])
    notion.data_sources.query(data_source_id=signals, sorts=sorts[0])  # evicted: recomputed
    assert cache.computed == computed + 2
