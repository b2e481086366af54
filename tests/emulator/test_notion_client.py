"""The real ``notion-client`` 3.1 drives the emulator over real HTTP, end to end."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client, collect_paginated_api, iterate_paginated_api

from leadsync.emulator import Emulator, FrozenClock, Limits


def make_client(emu: Emulator, **kwargs: Any) -> Client:
    return Client(auth=emu.notion_token, base_url=emu.url,
                  logger=logging.getLogger("test.notion"), **kwargs)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=2, limits=Limits.unlimited(), clock=FrozenClock()) as emulator:
        yield emulator


@pytest.fixture
def notion(emu: Emulator) -> Client:
    return make_client(emu)


def new_data_source(notion: Client, emu: Emulator, properties: dict[str, Any],
                    title: str = "Table") -> str:
    db = notion.databases.create(
        parent={"type": "page_id", "page_id": emu.notion.root_page_id},
        title=[{"type": "text", "text": {"content": title}}],
        initial_data_source={"properties": properties},
    )
    ds_id: str = db["data_sources"][0]["id"]
    return ds_id


def test_create_database_then_discover_its_data_source(notion: Client, emu: Emulator) -> None:
    db = notion.databases.create(
        parent={"type": "page_id", "page_id": emu.notion.root_page_id},
        title=[{"type": "text", "text": {"content": "Leadership Signals"}}],
        initial_data_source={"properties": {"Summary": {"title": {}},
                                            "Impact": {"select": {"options": [
                                                {"name": "Low"}, {"name": "High"}]}}}},
    )
    again = notion.databases.retrieve(database_id=db["id"].replace("-", ""))
    assert again["data_sources"] == [{"id": db["data_sources"][0]["id"],
                                      "name": "Leadership Signals"}]
    schema = notion.data_sources.retrieve(data_source_id=again["data_sources"][0]["id"])
    assert schema["object"] == "data_source"
    assert schema["parent"] == {"type": "database_id", "database_id": db["id"]}
    assert schema["properties"]["Summary"]["id"] == "title"
    assert [o["name"] for o in schema["properties"]["Impact"]["select"]["options"]] == [
        "Low", "High"]
    children = notion.blocks.children.list(block_id=emu.notion.root_page_id)["results"]
    assert [c["type"] for c in children] == ["child_database"]
    assert children[0]["child_database"] == {"title": "Leadership Signals"}


def test_database_and_data_source_ids_are_not_interchangeable(notion: Client,
                                                              emu: Emulator) -> None:
    db = notion.databases.create(parent={"page_id": emu.notion.root_page_id},
                                 title=[{"text": {"content": "T"}}])
    ds = db["data_sources"][0]["id"]
    with pytest.raises(APIResponseError) as wrong_way:
        notion.data_sources.query(data_source_id=db["id"])
    assert wrong_way.value.status == 404
    assert wrong_way.value.code == "object_not_found"
    assert str(wrong_way.value).startswith(f"Could not find database with ID: {db['id']}.")
    with pytest.raises(APIResponseError) as other_way:
        notion.databases.retrieve(database_id=ds)
    assert other_way.value.status == 404


def test_collect_pages_to_the_end_of_a_250_row_table(notion: Client, emu: Emulator) -> None:
    ds = new_data_source(notion, emu, {"Name": {"title": {}}, "N": {"number": {}}})
    emu.notion.create_data_source_rows(ds, [{"Name": f"row {n}", "N": n} for n in range(250)])
    calls_before = emu.stats.count("notion.data_sources.query")
    rows = collect_paginated_api(notion.data_sources.query, data_source_id=ds,
                                 sorts=[{"property": "N", "direction": "descending"}])
    assert [r["properties"]["N"]["number"] for r in rows] == list(range(249, -1, -1))
    assert emu.stats.count("notion.data_sources.query") - calls_before == 3
    small = list(iterate_paginated_api(notion.data_sources.query, data_source_id=ds,
                                       page_size=7))
    assert len({r["id"] for r in small}) == 250


@pytest.mark.soak  # the real cap; test_notion_query's scaled cap runs always
def test_a_query_stops_at_10000_results_with_request_status(notion: Client,
                                                            emu: Emulator) -> None:
    ds = new_data_source(notion, emu, {"Name": {"title": {}}})
    emu.notion.create_data_source_rows(ds, [{"Name": f"r{n}"} for n in range(10_001)])
    cursor: str | None = None
    pages = 0
    seen: set[str] = set()
    while True:
        answer = notion.data_sources.query(data_source_id=ds, page_size=100,
                                           **({"start_cursor": cursor} if cursor else {}))
        pages += 1
        seen.update(r["id"] for r in answer["results"])
        if not answer["has_more"]:
            break
        assert "request_status" not in answer
        cursor = answer["next_cursor"]
    assert len(seen) == 10_000
    assert pages == 100
    assert answer["next_cursor"] is None
    assert answer["request_status"] == {"type": "incomplete",
                                        "incomplete_reason": "query_result_limit_reached"}
    # The client's helper ignores request_status and just stops: the pitfall leadsync handles.
    assert len(collect_paginated_api(notion.data_sources.query, data_source_id=ds)) == 10_000
    narrowed = notion.data_sources.query(
        data_source_id=ds, filter={"property": "Name", "title": {"equals": "r10000"}})
    assert len(narrowed["results"]) == 1
    assert "request_status" not in narrowed


def test_a_60_item_relation_reads_in_full_through_the_property_item_endpoint(
        notion: Client, emu: Emulator) -> None:
    target = new_data_source(notion, emu, {"Name": {"title": {}}}, "Targets")
    targets = emu.notion.create_data_source_rows(target, [{"Name": f"t{n}"} for n in range(60)])
    ds = new_data_source(notion, emu, {"Name": {"title": {}}, "Links": {"relation": {
        "data_source_id": target, "type": "single_property", "single_property": {}}}})
    page = notion.pages.create(parent={"data_source_id": ds}, properties={
        "Name": {"title": [{"text": {"content": "hub"}}]},
        "Links": {"relation": [{"id": t} for t in targets[:50]]},
    })
    page = notion.pages.update(page_id=page["id"], properties={
        "Links": {"relation": [{"id": t} for t in targets]}})  # writes take ≤ 100
    shown = page["properties"]["Links"]
    assert len(shown["relation"]) == 25
    assert shown["has_more"] is True
    items = collect_paginated_api(notion.pages.properties.retrieve, page_id=page["id"],
                                  property_id=shown["id"], page_size=25)
    assert [i["relation"]["id"] for i in items] == targets
    first = notion.pages.properties.retrieve(page_id=page["id"], property_id=shown["id"],
                                             page_size=25)
    assert first["has_more"] is True
    assert first["property_item"]["next_url"].startswith(emu.url)


def test_create_update_retrieve_and_trash_pages_with_every_writable_type(
        notion: Client, emu: Emulator) -> None:
    target = new_data_source(notion, emu, {"Name": {"title": {}}}, "Members")
    member = emu.notion.create_data_source_rows(target, [{"Name": "Ada"}])[0]
    ds = new_data_source(notion, emu, {
        "Name": {"title": {}}, "Notes": {"rich_text": {}}, "Score": {"number": {}},
        "Impact": {"select": {"options": [{"name": "Low"}]}},
        "Tags": {"multi_select": {}}, "Stage": {"status": {}}, "When": {"date": {}},
        "Owner": {"people": {}}, "Member": {"relation": {"data_source_id": target,
                                                         "type": "single_property",
                                                         "single_property": {}}},
        "Done": {"checkbox": {}}, "Evidence": {"url": {}}, "Email": {"email": {}},
        "Phone": {"phone_number": {}}, "Files": {"files": {}},
        "Points": {"formula": {"expression": 'if(prop("Impact") == "High", 9, 1)'}},
        "Key": {"unique_id": {"prefix": "SIG"}},
    })
    bot = notion.users.me()["id"]
    page = notion.pages.create(parent={"type": "data_source_id", "data_source_id": ds},
                               properties={
        "Name": {"title": [{"text": {"content": "Led the incident review"}}]},
        "Notes": {"rich_text": [
            {"text": {"content": "with "}},
            {"type": "mention", "mention": {"type": "user", "user": {"id": bot}}},
            {"text": {"content": " link", "link": {"url": "https://example.com"}},
             "annotations": {"bold": True}},
        ]},
        "Score": {"number": 4.5},
        "Impact": {"select": {"name": "High"}},  # unknown: added to the schema
        "Tags": {"multi_select": [{"name": "infra"}, {"name": "async"}]},
        "Stage": {"status": {"name": "In progress"}},
        "When": {"date": {"start": "2026-03-04T09:15:00", "time_zone": "America/New_York"}},
        "Owner": {"people": [{"object": "user", "id": bot}]},
        "Member": {"relation": [{"id": member}]},
        "Done": {"checkbox": True},
        "Evidence": {"url": "https://github.com/acme/infra/pull/1"},
        "Email": {"email": "ada@example.com"},
        "Phone": {"phone_number": "+44 20 7946 0000"},
        "Files": {"files": [{"name": "doc", "external": {"url": "https://example.com/d.pdf"}}]},
    })
    props = page["properties"]
    assert [i["plain_text"] for i in props["Notes"]["rich_text"]] == ["with ", "@leadsync",
                                                                       " link"]
    assert props["Notes"]["rich_text"][2]["href"] == "https://example.com"
    assert props["When"]["date"] == {"start": "2026-03-04T09:15:00.000-05:00", "end": None,
                                     "time_zone": None}
    assert props["Points"]["formula"] == {"type": "number", "number": 9}
    assert props["Key"]["unique_id"] == {"prefix": "SIG", "number": 1}
    assert props["Member"]["relation"] == [{"id": member}]
    schema = notion.data_sources.retrieve(data_source_id=ds)["properties"]
    assert [o["name"] for o in schema["Impact"]["select"]["options"]] == ["Low", "High"]
    assert {o["name"] for o in schema["Tags"]["multi_select"]["options"]} == {"infra", "async"}

    updated = notion.pages.update(page_id=page["id"], properties={
        "Impact": {"select": {"name": "Low"}}, "Score": {"number": None},
        "When": {"date": None}, "Tags": {"multi_select": []}, "Evidence": {"url": None},
        schema["Done"]["id"]: {"checkbox": False},  # by property id
    })
    props = updated["properties"]
    assert props["Points"]["formula"]["number"] == 1
    assert props["Score"]["number"] is None
    assert props["When"]["date"] is None
    assert props["Tags"]["multi_select"] == []
    assert props["Done"]["checkbox"] is False
    assert notion.pages.retrieve(page_id=page["id"])["properties"] == props

    trashed = notion.pages.update(page_id=page["id"], in_trash=True)
    assert trashed["in_trash"] is True
    assert trashed["archived"] is True
    assert notion.data_sources.query(data_source_id=ds)["results"] == []
    assert notion.pages.retrieve(page_id=page["id"])["in_trash"] is True
    with pytest.raises(APIResponseError) as locked:
        notion.pages.update(page_id=page["id"], properties={"Score": {"number": 1}})
    assert "archived" in str(locked.value)
    restored = notion.pages.update(page_id=page["id"], archived=False)  # the 2025 alias
    assert restored["in_trash"] is False
    assert len(notion.data_sources.query(data_source_id=ds)["results"]) == 1


def test_data_source_update_renames_adds_and_retitles(notion: Client, emu: Emulator) -> None:
    ds = new_data_source(notion, emu, {"Name": {"title": {}}, "Impact": {"select": {}}})
    emu.notion.create_data_source_rows(ds, [{"Name": "a", "Impact": "High"}])
    before = notion.data_sources.retrieve(data_source_id=ds)["properties"]["Impact"]["id"]
    after = notion.data_sources.update(data_source_id=ds, title=[{"text": {"content": "New"}}],
                                       properties={"Impact": {"name": "Effect"},
                                                   "Notes": {"rich_text": {}}})
    assert after["properties"]["Effect"]["id"] == before
    assert "Notes" in after["properties"]
    assert after["title"][0]["plain_text"] == "New"
    row = notion.data_sources.query(data_source_id=ds, filter_properties=[before])["results"][0]
    assert list(row["properties"]) == ["Effect"]
    assert row["properties"]["Effect"]["select"]["name"] == "High"
    removed = notion.data_sources.update(data_source_id=ds, properties={"Notes": None})
    assert "Notes" not in removed["properties"]
    with pytest.raises(APIResponseError) as keep_title:
        notion.data_sources.update(data_source_id=ds, properties={"Name": None})
    assert keep_title.value.code == "validation_error"


def test_a_database_parent_works_while_it_has_one_data_source(notion: Client,
                                                              emu: Emulator) -> None:
    db = notion.databases.create(parent={"page_id": emu.notion.root_page_id},
                                 title=[{"text": {"content": "One"}}])
    page = notion.pages.create(parent={"database_id": db["id"]}, properties={
        "Name": {"title": [{"text": {"content": "row"}}]}})
    assert page["parent"] == {"type": "data_source_id",
                              "data_source_id": db["data_sources"][0]["id"],
                              "database_id": db["id"]}


def test_append_after_a_given_block(notion: Client, emu: Emulator) -> None:
    def para(text: str) -> dict[str, Any]:
        return {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": text}}]}}
    page = emu.notion.root_page_id
    first, _last = notion.blocks.children.append(block_id=page, children=[
        para("first"), para("last")])["results"]
    notion.blocks.children.append(block_id=page, children=[para("middle")], after=first["id"])
    notion.blocks.children.append(block_id=page, children=[para("top")],
                                  position={"type": "start"})
    texts = [b["paragraph"]["rich_text"][0]["plain_text"]
             for b in notion.blocks.children.list(block_id=page)["results"]
             if b["type"] == "paragraph"]
    assert texts == ["top", "first", "middle", "last"]


def test_append_list_and_delete_blocks(notion: Client, emu: Emulator) -> None:
    report = notion.pages.create(
        parent={"page_id": emu.notion.root_page_id},
        properties={"title": {"title": [{"text": {"content": "November report"}}]}},
        children=[{"type": "heading_1", "heading_1": {"rich_text": [
            {"type": "text", "text": {"content": "Leadership sync"}}]}}],
    )
    rows = [{"type": "table_row", "table_row": {"cells": [
        [{"type": "text", "text": {"content": f"r{n}"}}], [{"text": {"content": str(n)}}]]}}
        for n in range(3)]
    appended = notion.blocks.children.append(block_id=report["id"], children=[
        {"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "Body"}}]}},
        {"type": "bulleted_list_item", "bulleted_list_item": {"rich_text": [
            {"text": {"content": "point"}}]}},
        {"type": "numbered_list_item", "numbered_list_item": {"rich_text": []}},
        {"type": "callout", "callout": {"rich_text": [{"text": {"content": "Note"}}],
                                        "icon": {"type": "emoji", "emoji": "✅"},
                                        "color": "blue_background"}},
        {"type": "divider", "divider": {}},
        {"type": "quote", "quote": {"rich_text": [{"text": {"content": "q"}}]}},
        {"type": "code", "code": {"rich_text": [{"text": {"content": "x = 1"}}],
                                  "language": "python"}},
        {"type": "toggle", "toggle": {"rich_text": [{"text": {"content": "More"}}], "children": [
            {"type": "paragraph", "paragraph": {"rich_text": [], "children": [
                {"type": "paragraph", "paragraph": {"rich_text": []}}]}}]}},
        {"type": "table", "table": {"table_width": 2, "has_column_header": True,
                                    "children": rows}},
        {"type": "image", "image": {"type": "external",
                                    "external": {"url": "https://example.com/chart.png"}}},
    ])
    kinds = [b["type"] for b in appended["results"]]
    assert kinds == ["paragraph", "bulleted_list_item", "numbered_list_item", "callout",
                     "divider", "quote", "code", "toggle", "table", "image"]
    table = appended["results"][8]
    assert table["has_children"] is True
    assert table["table"] == {"table_width": 2, "has_column_header": True,
                              "has_row_header": False}
    listed = collect_paginated_api(notion.blocks.children.list, block_id=report["id"],
                                   page_size=4)
    assert [b["type"] for b in listed] == ["heading_1", *kinds]
    table_rows = notion.blocks.children.list(block_id=table["id"])["results"]
    assert [r["table_row"]["cells"][0][0]["plain_text"] for r in table_rows] == ["r0", "r1",
                                                                                "r2"]
    more_rows = notion.blocks.children.append(block_id=table["id"], children=rows[:1])
    assert more_rows["results"][0]["parent"] == {"type": "block_id", "block_id": table["id"]}

    too_many = [{"type": "paragraph", "paragraph": {"rich_text": []}}] * 101
    with pytest.raises(APIResponseError) as refused:
        notion.blocks.children.append(block_id=report["id"], children=too_many)
    assert refused.value.code == "validation_error"
    assert "body.children.length should be ≤ `100`, instead was `101`." in str(refused.value)
    long_table = [{"type": "table", "table": {"table_width": 2, "children": rows[:1] * 101}}]
    with pytest.raises(APIResponseError) as long_refused:
        notion.blocks.children.append(block_id=report["id"], children=long_table)
    assert ("body.children[0].table.children.length should be ≤ `100`, instead was `101`."
            in str(long_refused.value))
    too_deep = [{"type": "toggle", "toggle": {"rich_text": [], "children": [
        {"type": "toggle", "toggle": {"rich_text": [], "children": [
            {"type": "toggle", "toggle": {"rich_text": [], "children": [
                {"type": "paragraph", "paragraph": {"rich_text": []}}]}}]}}]}}]
    with pytest.raises(APIResponseError) as nested:
        notion.blocks.children.append(block_id=report["id"], children=too_deep)
    assert "children should be not present" in str(nested.value)

    deleted = notion.blocks.delete(block_id=appended["results"][0]["id"])
    assert deleted["in_trash"] is True
    assert deleted["archived"] is True
    remaining = collect_paginated_api(notion.blocks.children.list, block_id=report["id"])
    assert appended["results"][0]["id"] not in {b["id"] for b in remaining}
    assert notion.blocks.retrieve(block_id=appended["results"][0]["id"])["in_trash"] is True
    as_block = notion.blocks.retrieve(block_id=report["id"])
    assert as_block["type"] == "child_page"
    assert as_block["child_page"] == {"title": "November report"}


def test_file_upload_then_image_block_and_files_property(notion: Client, emu: Emulator) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    upload = notion.file_uploads.create(mode="single_part", filename="chart.png",
                                        content_type="image/png")
    assert upload["status"] == "pending"
    sent = notion.file_uploads.send(file_upload_id=upload["id"],
                                    file=("chart.png", io.BytesIO(png), "image/png"))
    assert sent["status"] == "uploaded"
    assert sent["content_length"] == len(png)
    with pytest.raises(APIResponseError) as again:
        notion.file_uploads.send(file_upload_id=upload["id"],
                                 file=("chart.png", io.BytesIO(png), "image/png"))
    assert again.value.status == 409
    assert again.value.code == "conflict_error"

    page = notion.pages.create(parent={"page_id": emu.notion.root_page_id},
                               properties={"title": {"title": [{"text": {"content": "R"}}]}})
    block = notion.blocks.children.append(block_id=page["id"], children=[
        {"type": "image", "image": {"type": "file_upload", "file_upload": {"id": upload["id"]},
                                    "caption": []}}])["results"][0]
    image = block["image"]
    assert image["type"] == "file"
    assert set(image["file"]) == {"url", "expiry_time"}
    assert httpx.get(image["file"]["url"]).content == png
    assert notion.file_uploads.retrieve(file_upload_id=upload["id"])["expiry_time"] is None

    ds = new_data_source(notion, emu, {"Name": {"title": {}}, "Files": {"files": {}}})
    row = notion.pages.create(parent={"data_source_id": ds}, properties={
        "Files": {"files": [{"type": "file_upload", "file_upload": {"id": upload["id"]},
                             "name": "chart.png"}]}})
    stored = row["properties"]["Files"]["files"][0]
    assert stored["name"] == "chart.png"
    assert stored["type"] == "file"
    expiry = dt.datetime.fromisoformat(stored["file"]["expiry_time"])
    assert expiry == emu.clock.now() + dt.timedelta(hours=1)


def test_an_upload_that_was_never_sent_cannot_be_attached(notion: Client,
                                                          emu: Emulator) -> None:
    upload = notion.file_uploads.create(mode="single_part", filename="a.png")
    with pytest.raises(APIResponseError) as refused:
        notion.blocks.children.append(block_id=emu.notion.root_page_id, children=[
            {"type": "image", "image": {"type": "file_upload",
                                        "file_upload": {"id": upload["id"]}}}])
    assert refused.value.code == "validation_error"
    assert "pending" in str(refused.value)


def test_users_list_retrieve_and_me() -> None:
    with Emulator(seed=4, limits=Limits.unlimited(), sample=True,
                  workspaces=("notion",)) as emu:
        notion = make_client(emu)
        users = collect_paginated_api(notion.users.list, page_size=10)
        me = notion.users.me()
    assert len(users) == 61  # the bot and one person per member
    assert me["type"] == "bot"
    assert me["bot"]["workspace_name"] == "Leadership"
    people = [u for u in users if u["type"] == "person"]
    assert {u["person"]["email"] for u in people} == {m["email"] for m in emu.sample.members}


def test_rate_limit_answers_429_with_retry_after_to_the_client() -> None:
    with Emulator(seed=1, limits=Limits(notion_rps=1.0, notion_burst=3),
                  clock=FrozenClock()) as emu:  # no token comes back between the calls
        notion = make_client(emu, retry=False)
        statuses = []
        refusals: list[APIResponseError] = []
        for _ in range(6):
            try:
                notion.users.me()
                statuses.append(200)
            except APIResponseError as exc:
                statuses.append(exc.status)
                refusals.append(exc)
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert {e.code for e in refusals} == {"rate_limited"}
    assert all(int(e.headers["Retry-After"]) == 1 for e in refusals)
