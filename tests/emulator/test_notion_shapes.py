"""Conformance: the emulator answers with the same structure as the real Notion API.

Each real payload in ``tests/fixtures/notion`` is compared with the
emulator's answer for the same kind of object by a structural comparator:
dict keys, JSON types, list element shapes, and, for page properties, the
value shape per property type (every value the emulator gives for a type
must match one of the real values seen for that type).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client

from leadsync.emulator import Emulator, Fault, FrozenClock, Limits

FIXTURES = "notion/"
QUERY_FIXTURES = (
    "data_source_query_2025-09-03_all_property_types.json",
    "data_source_query_2026-03-11_many_props.json",
    "data_source_query_2026-03-11_rollup_relation.json",
)

# ---------------------------------------------------------------------------
# The comparator

Shape = Any


def shape(value: Any) -> Shape:
    """A hashable description of a JSON value's structure."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ("list", frozenset(shape(v) for v in value))
    assert isinstance(value, dict), value
    return ("dict", tuple(sorted((k, shape(v)) for k, v in value.items())))


def compatible(ours: Shape, real: Shape) -> bool:
    """Does our shape fit the real one?

    Same keys and JSON types; an empty list fits any list; each element of
    our list must fit some element of the real one; a real ``null`` fits a
    ``null`` or a scalar (the real payload just had no value there).
    """
    if ours == real:
        return True
    if real == "null":
        return ours in ("string", "number", "bool")
    if isinstance(ours, tuple) and isinstance(real, tuple) and ours[0] == real[0]:
        if ours[0] == "list":
            return all(any(compatible(o, r) for r in real[1]) for o in ours[1])
        ours_keys = dict(ours[1])
        real_keys = dict(real[1])
        return ours_keys.keys() == real_keys.keys() and all(
            compatible(ours_keys[k], real_keys[k]) for k in ours_keys)
    return False


def assert_fits(ours: Any, real: Any, where: str = "") -> None:
    """Fail with the first difference when ``ours`` does not fit ``real``."""
    a, b = shape(ours), shape(real)
    if compatible(a, b):
        return
    if isinstance(ours, dict) and isinstance(real, dict):
        assert ours.keys() == real.keys(), (where, sorted(ours.keys() ^ real.keys()))
        for key in ours:
            assert_fits(ours[key], real[key], f"{where}.{key}")
    if isinstance(ours, list) and isinstance(real, list) and real:
        for n, item in enumerate(ours):
            assert any(compatible(shape(item), shape(r)) for r in real), (
                f"{where}[{n}]", item, real[0])
        return
    pytest.fail(f"{where}: {json.dumps(ours)[:300]} does not fit {json.dumps(real)[:300]}")


def real_property_values(load_fixture: Any) -> dict[str, list[dict[str, Any]]]:
    """Every real property value in the fixtures, by type (formula/rollup by result type)."""
    found: dict[str, list[dict[str, Any]]] = {}
    names = [*QUERY_FIXTURES, "page_retrieve_relation_has_more_2026-03-11.json"]
    for name in names:
        payload = load_fixture(FIXTURES + name)
        pages = payload["results"] if payload["object"] == "list" else [payload]
        for page in pages:
            for value in page["properties"].values():
                found.setdefault(_kind(value), []).append(value)
    return found


def _kind(value: dict[str, Any]) -> str:
    kind: str = value["type"]
    if kind in ("formula", "rollup"):
        return f"{kind}:{value[kind]['type']}"
    return kind


def test_the_comparator_can_fail() -> None:
    real = {"a": [{"x": 1}], "b": None, "c": "s"}
    assert compatible(shape({"a": [], "b": "t", "c": "u"}), shape(real))
    assert not compatible(shape({"a": [{"x": "1"}], "b": None, "c": "s"}), shape(real))
    assert not compatible(shape({"a": [], "b": None}), shape(real))
    assert not compatible(shape({"a": [], "b": {}, "c": "s"}), shape(real))
    assert not compatible(shape({"a": [{"x": 1, "y": 2}], "b": None, "c": "s"}), shape(real))


# ---------------------------------------------------------------------------
# A data source with every property type the fixtures hold


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, limits=Limits.unlimited(), clock=FrozenClock()) as emulator:
        yield emulator


def client(emu: Emulator, version: str = "2025-09-03", **kwargs: Any) -> Client:
    return Client(auth=emu.notion_token, base_url=emu.url, notion_version=version,
                  logger=logging.getLogger("test.notion"), **kwargs)


@pytest.fixture(scope="module")
def every_type(emu: Emulator) -> dict[str, Any]:
    """A target data source and one holding every type, with a full and an empty row."""
    notion = client(emu)
    root = emu.notion.root_page_id
    target_db = notion.databases.create(
        parent={"type": "page_id", "page_id": root},
        title=[{"type": "text", "text": {"content": "Items"}}],
        initial_data_source={"properties": {
            "Name": {"title": {}}, "Score": {"number": {}}, "When": {"date": {}},
            "Tags": {"multi_select": {"options": [{"name": "Tag 1", "color": "brown"}]}},
        }},
    )
    target = target_db["data_sources"][0]["id"]
    items = [notion.pages.create(parent={"type": "data_source_id", "data_source_id": target},
                                 properties={
                                     "Name": {"title": [{"text": {"content": f"Item {n}"}}]},
                                     "Score": {"number": 42 + n * 30},
                                     "When": {"date": {"start": f"2024-11-2{n}T14:08:00Z"}},
                                     "Tags": {"multi_select": [{"name": "Tag 1"}]},
                                 })["id"] for n in range(2)]
    db = notion.databases.create(
        parent={"type": "page_id", "page_id": root},
        title=[{"type": "text", "text": {"content": "Every type"}}],
        initial_data_source={"properties": {
            "Title": {"title": {}},
            "Text": {"rich_text": {}},
            "Number": {"number": {"format": "number"}},
            "Select": {"select": {"options": [{"name": "Select 3", "color": "purple"}]}},
            "Multi": {"multi_select": {"options": [{"name": "A"}, {"name": "B"}]}},
            "Status": {"status": {}},
            "Date": {"date": {}},
            "People": {"people": {}},
            "Relation": {"relation": {"data_source_id": target, "type": "single_property",
                                      "single_property": {}}},
            "Rollup Titles": {"rollup": {"relation_property_name": "Relation",
                                         "rollup_property_name": "Name",
                                         "function": "show_original"}},
            "Rollup Tags": {"rollup": {"relation_property_name": "Relation",
                                       "rollup_property_name": "Tags",
                                       "function": "show_original"}},
            "Rollup Numbers": {"rollup": {"relation_property_name": "Relation",
                                          "rollup_property_name": "Score",
                                          "function": "show_original"}},
            "Rollup Dates": {"rollup": {"relation_property_name": "Relation",
                                        "rollup_property_name": "When",
                                        "function": "show_original"}},
            "Rollup Max": {"rollup": {"relation_property_name": "Relation",
                                      "rollup_property_name": "Score", "function": "max"}},
            "Rollup Earliest": {"rollup": {"relation_property_name": "Relation",
                                           "rollup_property_name": "When",
                                           "function": "earliest_date"}},
            "Formula Date": {"formula": {"expression": (
                'if(empty(prop("Date")), now(), dateAdd(prop("Date"), 1, "days"))')}},
            "Formula Text": {"formula": {"expression": 'concat(prop("Title"), "!")'}},
            "Checkbox": {"checkbox": {}},
            "URL": {"url": {}},
            "Email": {"email": {}},
            "Phone": {"phone_number": {}},
            "Created time": {"created_time": {}},
            "Last edited time": {"last_edited_time": {}},
            "Created by": {"created_by": {}},
            "Last edited by": {"last_edited_by": {}},
            "ID": {"unique_id": {"prefix": "ST"}},
            "Files": {"files": {}},
            "Button": {"button": {}},
            "Place": {"place": {}},
        }},
    )
    ds = db["data_sources"][0]["id"]
    person = emu.notion.ws.users  # the bot is the only user; add a person for People
    from leadsync.emulator.notion_model import User

    with emu.lock:
        person["2200a911-6a96-44bb-bd38-6bfb1e01b9f6"] = User(
            "2200a911-6a96-44bb-bd38-6bfb1e01b9f6", "Ada Okafor", "person",
            "ada@example.com", "https://example.com/ada.png")
    full = notion.pages.create(parent={"type": "data_source_id", "data_source_id": ds},
                               properties={
        "Title": {"title": [{"type": "text", "text": {"content": "MNO"}}]},
        "Text": {"rich_text": [{"text": {"content": "new text"}}]},
        "Number": {"number": 3.1415926535},
        "Select": {"select": {"name": "Select 3"}},
        "Multi": {"multi_select": [{"name": "B"}]},
        "Status": {"status": {"name": "In progress"}},
        "Date": {"date": {"start": "2022-03-14"}},
        "People": {"people": [{"object": "user",
                               "id": "2200a911-6a96-44bb-bd38-6bfb1e01b9f6"}]},
        "Relation": {"relation": [{"id": i} for i in items]},
        "Checkbox": {"checkbox": True},
        "URL": {"url": "https://www.google.com/"},
        "Email": {"email": "hk@example.com"},
        "Phone": {"phone_number": "zz-zzzz-zzzz"},
        "Files": {"files": [{"name": "logo.png", "type": "external",
                             "external": {"url": "https://example.com/logo.png"}}]},
    })
    empty = notion.pages.create(parent={"data_source_id": ds}, properties={})
    return {"ds": ds, "db": db["id"], "target": target, "full": full["id"],
            "empty": empty["id"], "items": items}


def test_query_envelope_and_pages_fit_the_2025_fixture(emu: Emulator, every_type: dict[str, Any],
                                                       load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + QUERY_FIXTURES[0])
    ours = client(emu).data_sources.query(data_source_id=every_type["ds"], page_size=1)
    assert ours["has_more"] is True
    assert ours["next_cursor"]
    assert list(ours) == list(real)  # same keys, same order
    envelope = {k: v for k, v in ours.items() if k != "results"}
    assert_fits(envelope, {k: v for k, v in real.items() if k != "results"})
    our_page, real_page = ours["results"][0], real["results"][1]
    # That workspace is published; an unpublished page has public_url null (2026 fixtures).
    real_page = {**real_page, "public_url": None}
    assert list(our_page) == list(real_page)
    assert_fits({k: v for k, v in our_page.items() if k != "properties"},
                {k: v for k, v in real_page.items() if k != "properties"})


def test_pages_fit_the_2026_fixtures_when_asked_for_2026(emu: Emulator,
                                                          every_type: dict[str, Any],
                                                          load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + QUERY_FIXTURES[1])["results"][0]
    ours = client(emu, "2026-03-11").pages.retrieve(page_id=every_type["full"])
    ours.pop("request_id")
    assert "archived" not in ours
    assert list(ours) == list(real)
    assert_fits({k: v for k, v in ours.items() if k != "properties"},
                {k: v for k, v in real.items() if k != "properties"})


def test_every_property_value_fits_a_real_value_of_its_type(emu: Emulator,
                                                             every_type: dict[str, Any],
                                                             load_fixture: Any) -> None:
    real = real_property_values(load_fixture)
    pages = client(emu).data_sources.query(data_source_id=every_type["ds"])["results"]
    assert len(pages) == 2
    covered = set()
    for page in pages:
        for name, value in page["properties"].items():
            kind = _kind(value)
            covered.add(kind)
            assert kind in real, f"{name}: no real example of {kind}"
            assert any(compatible(shape(value), shape(r)) for r in real[kind]), (
                name, value, real[kind][0])
    assert covered >= set(real), sorted(set(real) - covered)


def test_non_empty_values_carry_what_the_fixtures_carry(emu: Emulator,
                                                        every_type: dict[str, Any]) -> None:
    page = client(emu).pages.retrieve(page_id=every_type["full"])
    props = page["properties"]
    assert props["Title"]["id"] == "title"
    item = props["Text"]["rich_text"][0]
    assert item == {"type": "text", "text": {"content": "new text", "link": None},
                    "annotations": {"bold": False, "italic": False, "strikethrough": False,
                                    "underline": False, "code": False, "color": "default"},
                    "plain_text": "new text", "href": None}
    assert props["People"]["people"][0]["person"] == {"email": "ada@example.com"}
    assert props["Relation"]["has_more"] is False
    assert [r["number"] for r in props["Rollup Numbers"]["rollup"]["array"]] == [42, 72]
    assert props["Rollup Max"]["rollup"] == {"type": "number", "number": 72, "function": "max"}
    assert props["Rollup Earliest"]["rollup"]["date"]["start"] == "2024-11-20T14:08:00.000+00:00"
    assert props["Formula Date"]["formula"]["date"]["start"] == "2022-03-15"
    assert props["Formula Text"]["formula"] == {"type": "string", "string": "MNO!"}
    assert props["ID"]["unique_id"] == {"prefix": "ST", "number": 1}
    assert props["Status"]["status"]["name"] == "In progress"
    assert props["Created by"]["created_by"]["type"] == "bot"
    assert props["Button"]["button"] == {}
    assert props["Place"]["place"] is None


def test_database_retrieve_fits_the_fixture(emu: Emulator, every_type: dict[str, Any],
                                            load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + "database_retrieve_2025-09-03.json")
    ours = client(emu).databases.retrieve(database_id=every_type["db"])
    assert list(ours) == list(real)
    assert_fits(ours, real)
    assert ours["data_sources"] == [{"id": every_type["ds"], "name": "Every type"}]
    assert "properties" not in ours


def test_page_with_a_long_relation_fits_the_fixture(emu: Emulator, every_type: dict[str, Any],
                                                    load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + "page_retrieve_relation_has_more_2026-03-11.json")
    target = every_type["target"]
    more = emu.notion.create_data_source_rows(target, [{"Name": f"Extra {n}"}
                                                       for n in range(28)])
    page = emu.notion.create_data_source_rows(every_type["ds"], [{
        "Title": "Customer 1", "Relation": [*every_type["items"], *more]}])[0]
    ours = client(emu, "2026-03-11").pages.retrieve(page_id=page)
    relation = ours["properties"]["Relation"]
    assert len(relation["relation"]) == 25
    assert relation["has_more"] is True
    real_relation = next(v for v in real["properties"].values() if v["type"] == "relation")
    assert_fits(relation, real_relation)
    assert list(ours) == list(real)


def test_property_item_list_fits_the_fixture(emu: Emulator, every_type: dict[str, Any],
                                             load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + "page_property_item_relation_list_2026-03-11.json")
    prop_id = client(emu).data_sources.retrieve(
        data_source_id=every_type["ds"])["properties"]["Relation"]["id"]
    ours = client(emu).pages.properties.retrieve(page_id=every_type["full"],
                                                 property_id=prop_id)
    assert list(ours) == list(real)
    assert_fits(ours, real)
    assert ours["results"][0]["id"] == prop_id


@pytest.mark.parametrize(("name", "path", "version"), [
    ("error_400_validation_error.json", "/v1/data_sources/AAA", "2025-09-03"),
    ("error_404_object_not_found_page.json",
     "/v1/pages/00000000-0000-0000-0000-000000000000", "2025-09-03"),
    ("error_404_object_not_found_data_source.json",
     "/v1/data_sources/00da364baaca4b3b94f521db691d804a", "2025-09-03"),
    ("error_404_object_not_found_additional_data_2026-03-11.json",
     "/v1/pages/7855b161-f63e-4683-b7c7-8ca6e97ee266", "2026-03-11"),
])
def test_error_bodies_match_the_real_ones(emu: Emulator, load_fixture: Any, name: str,
                                          path: str, version: str) -> None:
    real = load_fixture(FIXTURES + name)
    response = httpx.get(emu.url + path, headers={"Authorization": f"Bearer {emu.notion_token}",
                                                  "Notion-Version": version})
    ours = response.json()
    assert response.status_code == real["status"]
    assert list(ours) == list(real)
    assert_fits(ours, real)
    if "additional_data" in real:
        assert ours["message"].startswith(real["message"].split(" shared with")[0])
        assert ours["additional_data"] == {"integration_id": emu.notion.bot_id}
    else:
        assert ours["message"] == real["message"]


def test_rate_limit_body_and_header_match_the_docs(load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + "error_429_rate_limited_docs_example.json")
    with Emulator(seed=1, limits=Limits(notion_rps=0.5, notion_burst=1),
                  clock=FrozenClock()) as emu:  # no token comes back between the calls
        notion = client(emu, retry=False)
        notion.users.me()
        with pytest.raises(APIResponseError) as caught:
            notion.users.me()
    error = caught.value
    assert error.status == 429
    assert error.code == "rate_limited"
    assert int(error.headers["retry-after"]) == 2
    ours = json.loads(error.body)
    assert ours.pop("request_id")
    assert ours == real


def test_503_body_fits_the_docs_example(load_fixture: Any) -> None:
    real = load_fixture(FIXTURES + "error_503_service_unavailable_docs_example.json")
    with Emulator(seed=1, limits=Limits.unlimited()) as emu:
        emu.faults.add(Fault("error", route="notion.data_sources.query", status=503, limit=1))
        response = httpx.post(f"{emu.url}/v1/data_sources/{'0' * 32}/query",
                              headers={"Authorization": f"Bearer {emu.notion_token}",
                                       "Notion-Version": "2025-09-03"}, json={})
    ours = response.json()
    assert response.status_code == 503
    assert ours["code"] == real["code"]
    assert ours["status"] == real["status"]
    # additional_data is optional in Notion's error bodies; everything else is there.
    assert set(ours) == (set(real) - {"additional_data"}) | {"request_id"}


def test_file_upload_create_and_send_fit_the_fixtures(emu: Emulator, load_fixture: Any) -> None:
    notion = client(emu)
    created = notion.file_uploads.create(mode="single_part", filename="test_file_small.txt",
                                         content_type="text/plain")
    real_created = load_fixture(FIXTURES + "file_upload_create_2025-09-03.json")
    assert list(created) == list(real_created)
    assert_fits(created, real_created)
    assert created["upload_url"] == f"{emu.url}/v1/file_uploads/{created['id']}/send"
    body = io.BytesIO(b"This is a test file.\nbye\n")
    body.name = "test_file_small.txt"
    sent = notion.file_uploads.send(file_upload_id=created["id"], file=body)
    real_sent = load_fixture(FIXTURES + "file_upload_send_2025-09-03.json")
    assert list(sent) == list(real_sent)
    assert_fits(sent, real_sent)
    assert sent["status"] == "uploaded"
    assert sent["content_length"] == 25

