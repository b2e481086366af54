"""Writing pages idempotently on a key (respx with a small page store)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from leadsync.connectors.base import RateLimiter, RetryPolicy
from leadsync.connectors.notion import NotionAPI, NotionWriter, open_data_source

from leadsync.errors import DataValidationError, SchemaError

BASE = "https://api.notion.com"
DS = "a2db53d6-be98-4b59-a4d3-befc6a77a739"
SCHEMA = {
    "Name": {"id": "title", "type": "title"},
    "Report key": {"id": "k%3Ey", "type": "rich_text"},
    "Score": {"id": "sc%7Cr", "type": "number"},
    "Notes": {"id": "nOte", "type": "rich_text"},
    "Tags": {"id": "tAgs", "type": "multi_select"},
    "Reviewer notes": {"id": "rEvw", "type": "rich_text"},  # a human's column
    "Points": {"id": "pTs", "type": "formula"},
}
BY_ID = {p["id"]: (name, p["type"]) for name, p in SCHEMA.items()}


def read_shape(ptype: str, value: Any) -> Any:
    """A request value as Notion answers it (rich text gains plain_text)."""
    if ptype in ("title", "rich_text"):
        return [{**item, "plain_text": item["text"]["content"]} for item in value]
    return value


class Store:
    """The pages of one data source, answering query, create and update like Notion."""

    def __init__(self) -> None:
        self.pages: dict[str, dict[str, Any]] = {}
        self.ids = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
        self.lose_next_create_answer = False
        self.rate_limit_next_create = False
        self.creates = 0
        self.updates: list[dict[str, Any]] = []

    def add(self, **values: Any) -> str:
        page_id = next(self.ids)
        props: dict[str, Any] = {}
        for name, (pid, ptype) in {n: (p["id"], p["type"]) for n, p in SCHEMA.items()}.items():
            empty: Any = [] if ptype in ("title", "rich_text", "multi_select") else None
            props[name] = {"id": pid, "type": ptype, ptype: empty}
        self.pages[page_id] = {"object": "page", "id": page_id, "in_trash": False,
                               "created_time": "2026-05-01T00:00:00.000Z",
                               "last_edited_time": "2026-05-01T00:00:00.000Z",
                               "properties": props}
        self.set(page_id, values)
        return page_id

    def set(self, page_id: str, values: dict[str, Any]) -> None:
        props = self.pages[page_id]["properties"]
        for key, payload in values.items():
            name, ptype = BY_ID.get(key, (key, SCHEMA.get(key, {}).get("type")))
            assert ptype is not None, f"unknown property {key}"
            props[name][ptype] = read_shape(ptype, payload[ptype])

    def key_of(self, page: dict[str, Any]) -> str:
        return "".join(i["plain_text"] for i in page["properties"]["Report key"]["rich_text"])

    def query(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        flt = body.get("filter", {})
        clauses = flt.get("or", [flt])
        keys = {c["rich_text"]["equals"] for c in clauses}
        assert all(c["property"] == "k%3Ey" for c in clauses)
        found = [p for p in self.pages.values() if self.key_of(p) in keys]
        return httpx.Response(200, json={"object": "list", "results": found, "has_more": False,
                                         "next_cursor": None})

    def create(self, request: httpx.Request) -> httpx.Response:
        self.creates += 1
        if self.rate_limit_next_create:
            self.rate_limit_next_create = False
            return httpx.Response(429, headers={"Retry-After": "0"}, json={
                "object": "error", "status": 429, "code": "rate_limited", "message": "slow"})
        body = json.loads(request.content)
        assert body["parent"] == {"type": "data_source_id", "data_source_id": DS}
        page_id = self.add()
        self.set(page_id, body["properties"])
        if self.lose_next_create_answer:  # committed, then the answer is lost
            self.lose_next_create_answer = False
            return httpx.Response(503, json={"object": "error", "status": 503,
                                             "code": "service_unavailable", "message": "x"})
        return httpx.Response(200, json=self.pages[page_id])

    def update(self, request: httpx.Request, page_id: str) -> httpx.Response:
        body = json.loads(request.content)
        self.updates.append(body["properties"])
        self.set(page_id, body["properties"])
        return httpx.Response(200, json=self.pages[page_id])


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.get(f"{BASE}/v1/databases/{DS}").respond(404, json={
            "object": "error", "status": 404, "code": "object_not_found", "message": "no"})
        router.get(f"{BASE}/v1/data_sources/{DS}").respond(200, json={
            "object": "data_source", "id": DS,
            "title": [{"type": "text", "text": {"content": "Reports"}, "plain_text": "Reports"}],
            "properties": {n: {**p, "name": n} for n, p in SCHEMA.items()}})
        router.post(f"{BASE}/v1/data_sources/{DS}/query").mock(side_effect=store.query)
        router.post(f"{BASE}/v1/pages").mock(side_effect=store.create)
        router.patch(url__regex=rf"{BASE}/v1/pages/(?P<page_id>[0-9a-f-]+)").mock(
            side_effect=store.update)
        yield store


@pytest.fixture
def writer(store: Store) -> Iterator[NotionWriter]:
    with NotionAPI("ntn_test_token_abcdef", base_url=BASE, limiter=RateLimiter(10_000),
                   policy=RetryPolicy(backoff_initial=0.001, backoff_max=0.01)) as api:
        yield NotionWriter(open_data_source(api, DS))


def text(value: str) -> dict[str, Any]:
    return {"rich_text": [{"type": "text", "text": {"content": value}}]}


ROWS = [
    {"Report key": "2026-05|payments|score", "Name": "Payments", "Score": 7.5, "Notes": "ok"},
    {"Report key": "2026-05|web|score", "Name": "Web", "Score": 4.0, "Notes": "quiet month"},
]


def test_a_rerun_creates_nothing(writer: NotionWriter, store: Store) -> None:
    first = writer.write_rows(ROWS, key="Report key")
    assert len(first.created) == 2
    assert first.ok
    second = writer.write_rows(ROWS, key="Report key")
    assert second.created == []
    assert second.updated == []
    assert sorted(second.unchanged) == sorted(first.created)
    assert len(store.pages) == 2
    assert store.updates == []  # nothing was sent for unchanged rows


def test_only_changed_owned_properties_are_sent(writer: NotionWriter, store: Store) -> None:
    page_id = store.add(**{"k%3Ey": text("2026-05|web|score"), "title": {"title": [
        {"type": "text", "text": {"content": "Web"}}]}, "sc%7Cr": {"number": 3.0},
        "nOte": text("quiet month"), "rEvw": text("Discussed with Ada; keep an eye on this")})
    result = writer.write_rows(ROWS, key="Report key", owned=["Name", "Score", "Notes"])
    assert result.updated == [page_id]
    assert store.updates == [{"sc%7Cr": {"number": 4.0}}]
    reviewer = store.pages[page_id]["properties"]["Reviewer notes"]["rich_text"]
    assert reviewer[0]["plain_text"] == "Discussed with Ada; keep an eye on this"


def test_properties_not_owned_are_never_sent(writer: NotionWriter, store: Store) -> None:
    rows = [{**ROWS[0], "Reviewer notes": "overwrite me"}]
    writer.write_rows(rows, key="Report key", owned=["Name", "Score"])
    (page,) = store.pages.values()
    assert page["properties"]["Reviewer notes"]["rich_text"] == []
    assert page["properties"]["Notes"]["rich_text"] == []  # in the row, but not owned


def test_a_create_whose_answer_was_lost_is_not_repeated(writer: NotionWriter,
                                                        store: Store) -> None:
    store.lose_next_create_answer = True
    result = writer.write_rows(ROWS[:1], key="Report key")
    assert len(store.pages) == 1
    assert store.creates == 1
    assert result.created == list(store.pages)
    again = writer.write_rows(ROWS[:1], key="Report key")
    assert again.created == []
    assert len(store.pages) == 1


def test_a_rate_limited_create_is_retried_once_it_may(writer: NotionWriter, store: Store) -> None:
    store.rate_limit_next_create = True
    result = writer.write_rows(ROWS[:1], key="Report key")
    assert store.creates == 2
    assert len(store.pages) == 1
    assert len(result.created) == 1


def test_long_text_is_split_and_oversized_arrays_refused(writer: NotionWriter,
                                                         store: Store) -> None:
    notes = "Facilitated the async design review across four time zones. " * 70
    rows = [{"Report key": "long", "Notes": notes},
            {"Report key": "tags", "Tags": [f"t{i}" for i in range(101)]}]
    result = writer.write_rows(rows, key="Report key")
    assert len(result.created) == 1
    (failed_row, reason), = result.failed
    assert failed_row["Report key"] == "tags"
    assert "property 'Tags': 101 items; Notion takes at most 100" in reason
    (page,) = store.pages.values()
    items = page["properties"]["Notes"]["rich_text"]
    assert len(items) == 3
    assert all(len(i["text"]["content"]) <= 2000 for i in items)
    assert "".join(i["plain_text"] for i in items) == notes
    # a rerun compares the joined text and finds nothing to do
    assert writer.write_rows(rows[:1], key="Report key").unchanged == [page["id"]]


def test_rows_without_a_key_or_twice_the_same_key_are_refused(writer: NotionWriter,
                                                              store: Store) -> None:
    result = writer.write_rows([{"Report key": None, "Score": 1},
                                {"Report key": "a", "Score": 1},
                                {"Report key": "a", "Score": 2}], key="Report key")
    assert len(result.created) == 1
    assert [reason for _, reason in result.failed] == [
        "no value for the key property 'Report key'",
        "key 'a' appears more than once in the rows"]


def test_dry_run_writes_nothing(writer: NotionWriter, store: Store) -> None:
    result = writer.write_rows(ROWS, key="Report key", dry_run=True)
    assert result.created == ["(new) 2026-05|payments|score", "(new) 2026-05|web|score"]
    assert store.pages == {}


def test_read_only_and_unknown_properties_are_refused_up_front(writer: NotionWriter,
                                                               store: Store) -> None:
    with pytest.raises(DataValidationError, match="read-only properties: 'Points' \\(formula\\)"):
        writer.write_rows([{"Report key": "a", "Points": 3}], key="Report key")
    with pytest.raises(SchemaError, match="'Reviewer notes' \\(rich_text\\)"):
        writer.write_rows([{"Report key": "a", "Colour": "red"}], key="Report key")
    assert store.creates == 0


def test_rows_can_be_a_dataframe(writer: NotionWriter, store: Store) -> None:
    import pandas as pd

    frame = pd.DataFrame(ROWS).astype({"Score": "Float64"})
    frame.loc[1, "Score"] = pd.NA
    result = writer.write_rows(frame, key="Report key")
    assert len(result.created) == 2
    web = next(p for p in store.pages.values() if store.key_of(p) == "2026-05|web|score")
    assert web["properties"]["Score"]["number"] is None
