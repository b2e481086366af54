"""Reading a data source (respx): discovery, mapping, the result cap, long relations."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
import respx
from leadsync.connectors.base import Cursor, RateLimiter, RetryPolicy
from leadsync.connectors.notion import NotionAPI, NotionSource, open_data_source, read_notion

from leadsync.errors import ConfigError, ConnectorError, NotFoundError, SchemaError
from leadsync.tables import MemberRef

BASE = "https://api.notion.com"
TOKEN = "ntn_test_token_abcdef"
DB = "14fa890e-c173-4ffa-80a2-fedb26fc2614"
DS = "a2db53d6-be98-4b59-a4d3-befc6a77a739"
QUERY = f"{BASE}/v1/data_sources/{DS}/query"


def schema_of(page: dict[str, Any], ds: str = DS, title: str = "Signals") -> dict[str, Any]:
    """A data source object whose schema has the page's properties."""
    return {
        "object": "data_source", "id": ds,
        "title": [{"type": "text", "text": {"content": title}, "plain_text": title}],
        "parent": {"type": "database_id", "database_id": DB},
        "properties": {name: {"id": p["id"], "name": name, "type": p["type"], p["type"]: {}}
                       for name, p in page["properties"].items()},
    }


def listing(pages: list[dict[str, Any]], *, has_more: bool = False, cursor: str | None = None,
            incomplete: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {"object": "list", "results": pages, "next_cursor": cursor,
                              "has_more": has_more, "type": "page_or_data_source",
                              "page_or_data_source": {}}
    if incomplete:
        answer["request_status"] = {"type": "incomplete",
                                    "incomplete_reason": "query_result_limit_reached"}
    return answer


def row(n: int, created: str) -> dict[str, Any]:
    return {"object": "page", "id": f"00000000-0000-4000-8000-{n:012d}", "created_time": created,
            "last_edited_time": created, "in_trash": False,
            "properties": {"Name": {"id": "title", "type": "title", "title": [
                {"type": "text", "text": {"content": f"row {n}"}, "plain_text": f"row {n}"}]}}}


@pytest.fixture
def api() -> Iterator[NotionAPI]:
    with NotionAPI(TOKEN, base_url=BASE, limiter=RateLimiter(10_000),
                   policy=RetryPolicy(max_attempts=3, backoff_initial=0.001)) as notion:
        yield notion


@pytest.fixture
def mock(load_fixture: Any) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{BASE}/v1/databases/{DB}").respond(
            200, json=load_fixture("notion/database_retrieve_2025-09-03.json"))
        yield router


# ---------------------------------------------------------------------------
# From a database URL to a data source


def test_a_database_url_resolves_to_its_data_source(api: NotionAPI, mock: respx.MockRouter,
                                                    load_fixture: Any) -> None:
    page = load_fixture("notion/data_source_query_2025-09-03_all_property_types.json")[
        "results"][0]
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    ds = open_data_source(api, f"https://www.notion.so/acme/Test-{DB.replace('-', '')}?v=1234")
    assert ds.id == DS
    assert ds.database_id == DB
    assert ds.title == "Signals"
    assert ds.field("NumberTitle").id == "swq%5C"
    assert ds.title_property.id == "title"


def test_a_data_source_id_is_accepted_too(api: NotionAPI, mock: respx.MockRouter,
                                          load_fixture: Any) -> None:
    page = load_fixture("notion/data_source_query_2025-09-03_all_property_types.json")[
        "results"][0]
    mock.get(f"{BASE}/v1/databases/{DS}").mock(return_value=httpx.Response(404, json=load_fixture(
        "notion/error_404_object_not_found_data_source.json")))
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    assert open_data_source(api, DS.replace("-", "")).id == DS


def test_an_unshared_database_says_to_share_it(api: NotionAPI, mock: respx.MockRouter,
                                               load_fixture: Any) -> None:
    other = "00da364b-aaca-4b3b-94f5-21db691d804a"
    body = load_fixture("notion/error_404_object_not_found_data_source.json")
    mock.get(f"{BASE}/v1/databases/{other}").respond(404, json=body)
    mock.get(f"{BASE}/v1/data_sources/{other}").respond(404, json=body)
    with pytest.raises(NotFoundError, match="Share the database with the integration"):
        open_data_source(api, other)


def test_several_data_sources_need_a_name(api: NotionAPI, mock: respx.MockRouter,
                                          load_fixture: Any) -> None:
    database = load_fixture("notion/database_retrieve_2025-09-03.json")
    database["data_sources"].append({"id": "bbbbbbbb-be98-4b59-a4d3-befc6a77a739",
                                     "name": "Archive"})
    mock.get(f"{BASE}/v1/databases/{DB}").respond(200, json=database)
    with pytest.raises(ConfigError) as info:
        open_data_source(api, DB)
    assert "2 data sources" in str(info.value)
    assert "'Archive' (bbbbbbbb-be98-4b59-a4d3-befc6a77a739)" in str(info.value)
    page = row(1, "2026-01-01T00:00:00.000Z")
    mock.get(f"{BASE}/v1/data_sources/bbbbbbbb-be98-4b59-a4d3-befc6a77a739").respond(
        200, json=schema_of(page, "bbbbbbbb-be98-4b59-a4d3-befc6a77a739", "Archive"))
    assert open_data_source(api, DB, data_source="Archive").title == "Archive"


# ---------------------------------------------------------------------------
# Mapping


def test_a_gone_property_is_a_schema_error_listing_those_that_exist(
        api: NotionAPI, mock: respx.MockRouter, load_fixture: Any) -> None:
    page = load_fixture("notion/data_source_query_2025-09-03_all_property_types.json")[
        "results"][0]
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    source = NotionSource(api, DB, "members", mapping={"name": "Title", "email": "E-mail"})
    with pytest.raises(SchemaError) as info:
        source.connect()
    text = str(info.value)
    assert "email -> 'E-mail'" in text
    assert "'MailTitle' (email)" in text
    assert "'NumberTitle' (number)" in text


def test_unmapped_required_columns_are_a_schema_error(api: NotionAPI, mock: respx.MockRouter,
                                                      load_fixture: Any) -> None:
    page = load_fixture("notion/data_source_query_2025-09-03_all_property_types.json")[
        "results"][0]
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    with pytest.raises(SchemaError, match="the signals table needs member_id, signal_type, "
                                          "date, impact mapped"):
        NotionSource(api, DB, "signals", mapping={"notes": "Title"}).connect()
    # the key column may stay unmapped: the page id is the key then
    source = NotionSource(api, DB, "members", mapping={"name": "Title"})
    source.connect()
    assert source.field_ids == {"name": "title"}


# ---------------------------------------------------------------------------
# Queries: sort, incremental filter, the 10,000-result cap


def test_the_cap_is_passed_with_created_time_windows(api: NotionAPI,
                                                     mock: respx.MockRouter) -> None:
    first = [row(n, f"2026-01-01T00:{n // 10:02d}:00.000Z") for n in range(100)]
    # the second window starts at the last created_time seen and reads that minute again
    second = [row(n, f"2026-01-01T00:{n // 10:02d}:00.000Z") for n in range(90, 150)]
    route = mock.post(QUERY).mock(side_effect=[
        httpx.Response(200, json=listing(first, incomplete=True)),
        httpx.Response(200, json=listing(second))])
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(first[0]))
    ds = open_data_source(api, DB)
    pages = list(ds.iter_pages())
    ids = [p["id"] for p in pages]
    assert len(ids) == 150
    assert len(set(ids)) == 150
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies[0]["sorts"] == [{"timestamp": "created_time", "direction": "ascending"}]
    assert "filter" not in bodies[0]
    assert bodies[1]["filter"] == {"timestamp": "created_time",
                                   "created_time": {"on_or_after": "2026-01-01T00:09:00.000Z"}}


def test_more_rows_than_the_cap_in_one_minute_fail_loudly(api: NotionAPI,
                                                          mock: respx.MockRouter) -> None:
    same = [row(n, "2026-01-01T00:00:00.000Z") for n in range(100)]
    mock.post(QUERY).respond(200, json=listing(same, incomplete=True))
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(same[0]))
    ds = open_data_source(api, DB)
    with pytest.raises(ConnectorError, match="cannot page past them without missing rows"):
        list(ds.iter_pages())


def test_incremental_pull_filters_on_last_edited_time_minus_the_lag(
        api: NotionAPI, mock: respx.MockRouter) -> None:
    import datetime as dt

    pages = [row(1, "2026-01-01T10:00:00.000Z")]
    route = mock.post(QUERY).respond(200, json=listing(pages))
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(pages[0]))
    source = NotionSource(api, DB, "members", mapping={"name": "Name"})
    cursor = Cursor(dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.UTC), dt.timedelta(minutes=2))
    records = list(source.fetch(cursor))
    assert [r.values["name"] for r in records] == ["row 1"]
    body = json.loads(route.calls.last.request.content)
    assert body["filter"] == {"timestamp": "last_edited_time",
                              "last_edited_time": {"on_or_after": "2026-01-01T09:58:00.000Z"}}


def test_list_ids_asks_for_the_title_only(api: NotionAPI, mock: respx.MockRouter) -> None:
    pages = [row(n, "2026-01-01T10:00:00.000Z") for n in range(3)]

    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("start_cursor") == "c2":
            return httpx.Response(200, json=listing(pages[2:]))
        return httpx.Response(200, json=listing(pages[:2], has_more=True, cursor="c2"))

    route = mock.post(QUERY).mock(side_effect=answer)
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(pages[0]))
    source = NotionSource(api, DB, "members", mapping={"name": "Name"})
    assert source.list_ids() == {p["id"] for p in pages}
    assert route.calls[0].request.url.params.get_list("filter_properties") == ["title"]
    assert json.loads(route.calls[1].request.content)["start_cursor"] == "c2"
    assert source.fetch_deleted({pages[0]["id"], "gone-page"}) == {"gone-page"}


# ---------------------------------------------------------------------------
# Long relations are expanded through the property item endpoint


def test_relations_past_25_are_complete(api: NotionAPI, mock: respx.MockRouter,
                                        load_fixture: Any) -> None:
    page = load_fixture("notion/page_retrieve_relation_has_more_2026-03-11.json")
    items = load_fixture("notion/page_property_item_relation_list_2026-03-11.json")
    results = items["results"]
    mock.post(QUERY).respond(200, json=listing([page]))
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    prop_url = f"{BASE}/v1/pages/{page['id']}/properties/o_yF"
    pages_route = mock.get(prop_url).mock(side_effect=[
        httpx.Response(200, json={**items, "results": results[:20], "has_more": True,
                                  "next_cursor": "next"}),
        httpx.Response(200, json={**items, "results": results[20:]})])
    source = NotionSource(api, DB, "reviews", mapping={"review_id": "Name",
                                                       "nominee_id": "Name",
                                                       "approvers": "Items Purchased"})
    record = next(source.fetch())
    approvers = record.values["approvers"]
    assert len(approvers) == 30
    assert approvers[0] == MemberRef("relation", "38c9ce7b-60a4-810e-83a3-d2934e2180fe")
    assert pages_route.call_count == 2
    assert pages_route.calls[1].request.url.params["start_cursor"] == "next"


def test_an_unmapped_long_relation_costs_nothing(api: NotionAPI, mock: respx.MockRouter,
                                                 load_fixture: Any) -> None:
    page = load_fixture("notion/page_retrieve_relation_has_more_2026-03-11.json")
    mock.post(QUERY).respond(200, json=listing([page]))
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
    source = NotionSource(api, DB, "members", mapping={"name": "Name"})
    assert [r.values["name"] for r in source.fetch()] == ["Customer 1"]
    assert source.stats.requests == 3  # database, data source, one query


# ---------------------------------------------------------------------------
# One call from a notebook


def test_read_notion_returns_a_frame_with_quarantine_and_ids(
        mock: respx.MockRouter, load_fixture: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    answer = load_fixture("notion/data_source_query_2025-09-03_all_property_types.json")
    pages = answer["results"]
    mock.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(pages[0]))
    mock.post(QUERY).respond(200, json=listing(pages))
    monkeypatch.setenv("NOTION_TOKEN", TOKEN)
    with caplog.at_level(logging.WARNING):
        frame = read_notion(
            DB, table="reviews", progress=False,
            mapping={"review_id": "ID", "nominee_id": "UserTitle",
                     "technical_excellence": "NumberTitle"})
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["review_id"]) == ["ST-5"]
    assert frame["nominee_id"].iloc[0] == "2200a911-6a96-44bb-bd38-6bfb1e01b9f6"  # unresolved
    quarantine = frame.attrs["quarantine"]
    assert list(quarantine["source_id"]) == [pages[0]["id"]]
    assert frame.attrs["source"]["data_source_id"] == DS
    assert frame.attrs["field_ids"] == {
        "review_id": "%7BGE%7C", "nominee_id": "_x%3E%3D", "technical_excellence": "swq%5C"}
    assert "notion" not in frame.attrs  # the same attrs as Airtable's, no more
    assert list(quarantine.columns) == ["table", "source_id", "url", "reason", "record"]
    assert quarantine["url"].iloc[0] == \
        f"https://www.notion.so/{pages[0]['id'].replace('-', '')}"
    assert "1 row(s) did not fit the reviews table" in caplog.text
    assert TOKEN not in caplog.text


def test_read_notion_without_a_token_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTION_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="NOTION_TOKEN is not set"):
        read_notion(DB)


def test_from_config_uses_the_config_and_persisted_ids(load_fixture: Any) -> None:
    from leadsync.config import parse_config

    config = parse_config({
        "workspace": {"kind": "notion", "notion_base_url": BASE},
        "tables": {"signals": {"notion_database": DB, "fields": {"notes": "Summary"}},
                   "members": {"notion_database": DB, "notion_data_source": DS}},
        "limits": {"notion_rps": 2.0},
        "sync": {"max_wait_seconds": 120.0},
    })
    source = NotionSource.from_config(config, "signals", env={"NOTION_TOKEN": TOKEN},
                                      field_ids={"notes": "title"})
    assert source.mapping == {"notes": "title"}
    assert source.api.limiter.rate == 2.0
    assert source.api.policy.max_wait == 120.0
    assert source.api.base_url == BASE
    members = NotionSource.from_config(config, "members", env={"NOTION_TOKEN": TOKEN})
    assert members.data_source_name == DS
    with pytest.raises(ConfigError, match="NOTION_TOKEN"):
        NotionSource.from_config(config, "signals", env={})
    page = copy.deepcopy(row(1, "2026-01-01T00:00:00.000Z"))
    with respx.mock() as router:
        router.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json=schema_of(page))
        assert members.connect().id == DS  # a configured data source id needs no discovery
