"""Writes are validated like Notion's: limits, read-only types, options, ids, error bodies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client

from leadsync.emulator import Emulator, FrozenClock, Limits
from leadsync.emulator.notion_model import User


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=6, limits=Limits.unlimited(), clock=FrozenClock()) as emulator:
        with emulator.lock:
            for n in range(30):
                user_id = f"00000000-0000-4000-8000-{n:012d}"
                emulator.notion.ws.users[user_id] = User(user_id, f"Person {n}", "person",
                                                         f"p{n}@example.com")
        yield emulator


@pytest.fixture(scope="module")
def notion(emu: Emulator) -> Client:
    return Client(auth=emu.notion_token, base_url=emu.url, logger=logging.getLogger("test"))


@pytest.fixture(scope="module")
def ds(emu: Emulator, notion: Client) -> str:
    targets = notion.databases.create(
        parent={"page_id": emu.notion.root_page_id}, title=[{"text": {"content": "Targets"}}],
        initial_data_source={"properties": {"Name": {"title": {}}}})
    target = targets["data_sources"][0]["id"]
    db = notion.databases.create(
        parent={"page_id": emu.notion.root_page_id}, title=[{"text": {"content": "W"}}],
        initial_data_source={"properties": {
            "Name": {"title": {}}, "Notes": {"rich_text": {}}, "Score": {"number": {}},
            "Impact": {"select": {"options": [{"name": "Low"}]}}, "Tags": {"multi_select": {}},
            "Stage": {"status": {}}, "When": {"date": {}}, "Owner": {"people": {}},
            "Links": {"relation": {"data_source_id": target, "type": "single_property",
                                   "single_property": {}}},
            "Site": {"url": {}}, "Mail": {"email": {}}, "Phone": {"phone_number": {}},
            "Files": {"files": {}}, "Points": {"formula": {"expression": "1 + 1"}},
            "Created": {"created_time": {}}, "Key": {"unique_id": {"prefix": None}},
        }})
    ds_id: str = db["data_sources"][0]["id"]
    emu.notion.create_data_source_rows(target, [{"Name": f"t{n}"} for n in range(101)])
    return ds_id


def create(notion: Client, ds: str, properties: dict[str, Any]) -> dict[str, Any]:
    page: dict[str, Any] = notion.pages.create(parent={"data_source_id": ds},
                                               properties=properties)
    return page


def refused(notion: Client, ds: str, properties: dict[str, Any]) -> APIResponseError:
    with pytest.raises(APIResponseError) as caught:
        create(notion, ds, properties)
    assert caught.value.status == 400
    assert caught.value.code == "validation_error"
    return caught.value


def text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]


def target_ids(emu: Emulator, ds: str) -> list[str]:
    links = emu.notion.ws.data_sources[ds].properties["Links"].config["data_source_id"]
    return list(emu.notion.ws.data_sources[links].page_ids)


@pytest.mark.parametrize(("properties", "message"), [
    ({"Notes": {"rich_text": text("x" * 2500)}},
     "body failed validation: body.properties.Notes.rich_text[0].text.content.length should "
     "be ≤ `2000`, instead was `2500`."),
    ({"Name": {"title": text("a") * 101}},
     "body failed validation: body.properties.Name.title.length should be ≤ `100`, instead "
     "was `101`."),
    ({"Tags": {"multi_select": [{"name": f"t{n}"} for n in range(101)]}},
     "body.properties.Tags.multi_select.length should be ≤ `100`, instead was `101`."),
    ({"Files": {"files": [{"name": "f", "external": {"url": "https://x"}}] * 101}},
     "body.properties.Files.files.length should be ≤ `100`, instead was `101`."),
    ({"Site": {"url": "https://x/" + "a" * 2000}},
     "body.properties.Site.url.length should be ≤ `2000`, instead was `2010`."),
    ({"Mail": {"email": "a" * 190 + "@example.com"}},
     "body.properties.Mail.email.length should be ≤ `200`, instead was `202`."),
    ({"Phone": {"phone_number": "1" * 201}},
     "body.properties.Phone.phone_number.length should be ≤ `200`, instead was `201`."),
    ({"Notes": {"rich_text": [{"text": {"content": "x", "link": {"url": "h" * 2001}}}]}},
     "body.properties.Notes.rich_text[0].text.link.url.length should be ≤ `2000`"),
    ({"Points": {"formula": {"number": 3}}}, "body.properties.Points.formula should be not "
                                             "present"),
    ({"Created": {"created_time": "2026-01-01T00:00:00Z"}},
     "body.properties.Created.created_time should be not present"),
    ({"Key": {"unique_id": {"number": 7}}}, "Key is a unique_id property"),
    ({"Nope": {"rich_text": []}}, "Nope is not a property that exists."),
    ({"Score": {"rich_text": text("3")}},
     "body failed validation: body.properties.Score.number should be defined, instead was "
     "`undefined`."),
    ({"Score": {"number": "3"}}, "body.properties.Score.number should be a number"),
    ({"When": {"date": {"start": "2026-03-04T09:00:00+01:00", "time_zone": "Europe/Berlin"}}},
     "should not carry a UTC offset when time_zone is set"),
    ({"When": {"date": {"start": "04/03/2026"}}}, "should be a valid ISO 8601 date"),
    ({"Stage": {"status": {"name": "Shipped"}}}, "Invalid status option 'Shipped'"),
    ({"Owner": {"people": [{"id": "nope"}]}},
     "body.properties.Owner.people[0].id should be a valid uuid, instead was `\"nope\"`."),
])
def test_invalid_writes_answer_notion_style_messages(notion: Client, ds: str,
                                                     properties: dict[str, Any],
                                                     message: str) -> None:
    assert message in str(refused(notion, ds, properties))


def test_arrays_of_references_are_limited_to_100(notion: Client, emu: Emulator,
                                                 ds: str) -> None:
    ids = target_ids(emu, ds)
    assert len(ids) == 101
    message = str(refused(notion, ds, {"Links": {"relation": [{"id": i} for i in ids]}}))
    assert "body.properties.Links.relation.length should be ≤ `100`, instead was `101`." in message
    people = [{"object": "user", "id": emu.notion.bot_id}] * 101
    assert "people.length should be ≤ `100`" in str(refused(notion, ds, {"Owner": {
        "people": people}}))


def test_unknown_select_options_are_added_but_status_options_are_not(notion: Client,
                                                                     ds: str) -> None:
    create(notion, ds, {"Impact": {"select": {"name": "Critical"}},
                        "Tags": {"multi_select": [{"name": "new-tag"}]}})
    schema = notion.data_sources.retrieve(data_source_id=ds)["properties"]
    assert "Critical" in [o["name"] for o in schema["Impact"]["select"]["options"]]
    assert "new-tag" in [o["name"] for o in schema["Tags"]["multi_select"]["options"]]
    refused(notion, ds, {"Stage": {"status": {"name": "Shipped"}}})
    schema = notion.data_sources.retrieve(data_source_id=ds)["properties"]
    assert [o["name"] for o in schema["Stage"]["status"]["options"]] == [
        "Not started", "In progress", "Done"]
    assert [g["name"] for g in schema["Stage"]["status"]["groups"]] == [
        "To-do", "In progress", "Complete"]


def test_relation_and_people_in_page_objects_stop_at_25(notion: Client, emu: Emulator,
                                                        ds: str) -> None:
    people = [{"object": "user", "id": f"00000000-0000-4000-8000-{n:012d}"} for n in range(30)]
    links = [{"id": i} for i in target_ids(emu, ds)[:30]]
    page = create(notion, ds, {"Owner": {"people": people}, "Links": {"relation": links}})
    assert len(page["properties"]["Owner"]["people"]) == 25
    assert "has_more" not in page["properties"]["Owner"]  # like the fixtures: relation only
    assert len(page["properties"]["Links"]["relation"]) == 25
    assert page["properties"]["Links"]["has_more"] is True
    owners = notion.pages.properties.retrieve(page_id=page["id"],
                                              property_id=page["properties"]["Owner"]["id"])
    assert len(owners["results"]) == 30
    assert owners["results"][29]["people"]["name"] == "Person 29"


def test_mentions_in_text_stop_at_25_in_page_objects(notion: Client, ds: str) -> None:
    mention = {"type": "mention", "mention": {"type": "user", "user": {
        "id": "00000000-0000-4000-8000-000000000001"}}}
    page = create(notion, ds, {"Notes": {"rich_text": [mention, *text(" and "), mention] * 15}})
    shown = page["properties"]["Notes"]["rich_text"]
    assert sum(item["type"] == "mention" for item in shown) == 25
    assert shown[0]["plain_text"] == "@Person 1"
    full = notion.pages.properties.retrieve(page_id=page["id"],
                                            property_id=page["properties"]["Notes"]["id"])
    assert sum(r["rich_text"]["type"] == "mention" for r in full["results"]) == 30


def test_simple_property_items_are_single_objects(notion: Client, ds: str) -> None:
    page = create(notion, ds, {"Score": {"number": 7}, "Name": {"title": text("T")}})
    score = page["properties"]["Score"]["id"]
    item = notion.pages.properties.retrieve(page_id=page["id"], property_id=score)
    assert {k: item[k] for k in ("object", "type", "id", "number")} == {
        "object": "property_item", "type": "number", "id": score, "number": 7}
    title = notion.pages.properties.retrieve(page_id=page["id"], property_id="title")
    assert title["results"][0]["title"]["plain_text"] == "T"


def test_ids_are_accepted_with_or_without_dashes(notion: Client, ds: str) -> None:
    page = create(notion, ds.replace("-", ""), {"Name": {"title": text("compact")}})
    assert page["parent"]["data_source_id"] == ds
    assert notion.pages.retrieve(page_id=page["id"].replace("-", ""))["id"] == page["id"]


def test_bad_ids_are_400_and_unknown_ids_404(notion: Client, emu: Emulator) -> None:
    with pytest.raises(APIResponseError) as bad:
        notion.pages.create(parent={"data_source_id": "AAA"}, properties={})
    assert bad.value.status == 400
    assert str(bad.value) == ("body failed validation: body.parent.data_source_id should be a "
                              "valid uuid, instead was `\"AAA\"`.")
    missing = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(APIResponseError) as gone:
        notion.pages.retrieve(page_id=missing)
    assert gone.value.status == 404
    assert str(gone.value) == (f"Could not find page with ID: {missing}. Make sure the "
                               "relevant pages and databases are shared with your integration.")
    with pytest.raises(APIResponseError) as page_as_source:
        notion.data_sources.retrieve(data_source_id=emu.notion.root_page_id)
    assert page_as_source.value.status == 404
    assert str(page_as_source.value).startswith("Could not find database with ID")


def test_request_level_errors(emu: Emulator) -> None:
    url = f"{emu.url}/v1/pages"
    auth = {"Authorization": f"Bearer {emu.notion_token}", "Notion-Version": "2025-09-03"}
    bad_json = httpx.post(url, headers={**auth, "Content-Type": "application/json"},
                          content=b"{not json")
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "invalid_json"
    no_version = httpx.get(f"{emu.url}/v1/users", headers={"Authorization": auth[
        "Authorization"]})
    assert no_version.status_code == 400
    assert no_version.json()["code"] == "missing_version"
    wrong_token = httpx.get(f"{emu.url}/v1/users", headers={**auth,
                                                           "Authorization": "Bearer ntn_x"})
    assert wrong_token.status_code == 401
    assert wrong_token.json()["code"] == "unauthorized"
    for response in (bad_json, no_version, wrong_token):
        assert response.json()["request_id"]


def test_2026_version_rejects_archived_and_answers_the_2026_page_shape(emu: Emulator,
                                                                       ds: str) -> None:
    notion = Client(auth=emu.notion_token, base_url=emu.url, notion_version="2026-03-11",
                    logger=logging.getLogger("test"))
    page = create(notion, ds, {})
    assert {"in_trash", "is_archived", "is_locked"} <= set(page)
    assert "archived" not in page
    with pytest.raises(APIResponseError) as caught:
        notion.pages.update(page_id=page["id"], archived=True)
    assert "body.archived should be not present" in str(caught.value)
    assert notion.pages.update(page_id=page["id"], in_trash=True)["in_trash"] is True


def test_report_pages_under_a_page_take_only_a_title(emu: Emulator, notion: Client) -> None:
    with pytest.raises(APIResponseError) as caught:
        notion.pages.create(parent={"page_id": emu.notion.root_page_id},
                            properties={"title": {"title": text("R")}, "Score": {"number": 1}})
    assert str(caught.value) == "Score is not a property that exists."
    page = notion.pages.create(parent={"type": "page_id", "page_id": emu.notion.root_page_id},
                               properties={"title": {"title": text("Report")}},
                               icon={"type": "emoji", "emoji": "📈"})
    assert page["parent"] == {"type": "page_id", "page_id": emu.notion.root_page_id}
    assert page["icon"] == {"type": "emoji", "emoji": "📈"}
    assert list(page["properties"]) == ["title"]
    assert page["url"].startswith("https://www.notion.so/Report-")


def test_direct_helpers_validate_like_the_api(emu: Emulator, ds: str) -> None:
    with pytest.raises(ValueError, match="Nope is not a property that exists"):
        emu.notion.create_data_source_rows(ds, [{"Nope": 1}])
    with pytest.raises(ValueError, match="Invalid status option"):
        emu.notion.create_data_source_rows(ds, [{"Stage": "Shipped"}])
    page = emu.notion.create_data_source_rows(ds, [{"Name": "x", "Score": 2}])[0]
    emu.notion.edit_page(page, {"Score": 3, "Impact": {"select": {"name": "Low"}}})
    row = next(p for p in emu.notion.pages(ds) if p["id"] == page)
    assert row["properties"]["Score"]["number"] == 3
    assert row["properties"]["Impact"]["select"]["name"] == "Low"
    emu.notion.rename_property(ds, "Score", "Rating")
    row = next(p for p in emu.notion.pages(ds) if p["id"] == page)
    assert row["properties"]["Rating"]["number"] == 3
    emu.notion.rename_property(ds, "Rating", "Score")
