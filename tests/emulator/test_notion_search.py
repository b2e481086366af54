"""``POST /v1/search`` through the real notion-client: titles, the object filter, pagination."""

from __future__ import annotations

from collections.abc import Iterator

import notion_client
import pytest
from notion_client.errors import APIResponseError

from leadsync.emulator import Emulator, Limits, SampleOrg


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=2, members=6, signals=20)
    with Emulator(seed=2, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Iterator[notion_client.Client]:
    client = notion_client.Client(auth=emu.notion_token, base_url=emu.url)
    yield client
    client.close()


def titles(results: list[dict[str, object]]) -> list[str]:
    out = []
    for item in results:
        if item["object"] == "data_source":
            out.append("".join(t["plain_text"] for t in item["title"]))
        else:
            props = item["properties"].values()
            title = next(p for p in props if p["type"] == "title")["title"]
            out.append("".join(t["plain_text"] for t in title))
    return out


def test_a_data_source_is_found_by_a_word_of_its_title(
        emu: Emulator, client: notion_client.Client) -> None:
    answer = client.search(query="signals",
                           filter={"property": "object", "value": "data_source"})
    assert answer["object"] == "list"
    assert answer["type"] == "page_or_data_source"
    assert answer["page_or_data_source"] == {}
    assert answer["has_more"] is False
    assert answer["next_cursor"] is None
    (found,) = answer["results"]
    assert found["object"] == "data_source"
    assert found["id"] == emu.notion.data_source_ids["signals"]
    assert found["parent"] == {"type": "database_id",
                               "database_id": emu.notion.sample_ids["signals"]}
    assert "properties" in found


def test_pages_by_title_and_the_root_page(emu: Emulator, client: notion_client.Client) -> None:
    answer = client.search(query="Leadership", filter={"property": "object", "value": "page"})
    assert all(item["object"] == "page" for item in answer["results"])
    assert emu.notion.root_page_id in {item["id"] for item in answer["results"]}


def test_every_object_is_found_once_across_pages(
        emu: Emulator, client: notion_client.Client) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        answer = client.search(page_size=7, **({"start_cursor": cursor} if cursor else {}))
        assert len(answer["results"]) <= 7
        seen += [item["id"] for item in answer["results"]]
        if not answer["has_more"]:
            break
        cursor = answer["next_cursor"]
    pages = len(emu.notion.ws.pages)
    sources = len(emu.notion.ws.data_sources)
    assert len(seen) == len(set(seen)) == pages + sources


def test_most_recently_edited_first_unless_asked(client: notion_client.Client,
                                                  emu: Emulator) -> None:
    down = client.search(filter={"property": "object", "value": "data_source"})["results"]
    up = client.search(filter={"property": "object", "value": "data_source"},
                       sort={"direction": "ascending", "timestamp": "last_edited_time"})
    assert [r["id"] for r in up["results"]] == [r["id"] for r in reversed(down)]
    assert len(titles(down)) == len(emu.notion.ws.data_sources) > 0  # the sample's tables
    assert "Leadership Signals" in titles(down)


@pytest.mark.parametrize("body", [
    {"filter": {"property": "object", "value": "database"}},  # gone since 2025-09-03
    {"filter": {"property": "title", "value": "page"}},
    {"sort": {"direction": "sideways", "timestamp": "last_edited_time"}},
    {"query": 3},
    {"page_size": 101},
])
def test_a_bad_search_is_a_400_validation_error(client: notion_client.Client,
                                                body: dict[str, object]) -> None:
    with pytest.raises(APIResponseError) as caught:
        client.search(**body)
    assert caught.value.status == 400
    assert caught.value.code == "validation_error"
