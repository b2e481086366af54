"""Connectors give back what they resolved and open from it without a request.

Against the emulator (real notion-client and pyairtable over HTTP): a
snapshot survives JSON, opens a source with no schema read, is ignored when
it describes another table or is not a snapshot at all, and gives way to a
fresh read when the mapping does not resolve against it. Airtable sources
given one :class:`SchemaCache` read a base's schema once; a new cache (the
next run, the next notebook call) reads it again and sees a rename.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from leadsync.connectors.airtable import AirtableClient, AirtableSource, read_airtable
from leadsync.connectors.base import SchemaCache
from leadsync.connectors.notion import NotionAPI, NotionSource

from leadsync.emulator import AIRTABLE_TOKEN, Emulator, Limits, SampleOrg
from leadsync.errors import SchemaError


@pytest.fixture(scope="module")
def org() -> SampleOrg:
    return SampleOrg.generate(seed=9, members=12, signals=150)


@pytest.fixture
def emu(org: SampleOrg) -> Iterator[Emulator]:
    with Emulator(seed=9, limits=Limits.unlimited(), sample=org) as emulator:
        yield emulator


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------------------
# Notion


def notion(emu: Emulator, table: str = "signals", **kwargs: Any) -> NotionSource:
    api = NotionAPI(emu.notion_token, base_url=emu.url, rps=1000.0)
    return NotionSource(api, emu.notion.sample_ids[table], table, progress=False, **kwargs)


def notion_schema_reads(emu: Emulator) -> int:
    return (emu.stats.count("notion.databases.retrieve")
            + emu.stats.count("notion.data_sources.retrieve"))


def test_a_notion_snapshot_opens_a_source_without_a_request(emu: Emulator) -> None:
    first = notion(emu)
    pulled = {r.source_id: r for r in first.fetch()}
    snapshot = json_round_trip(first.schema_snapshot)
    assert snapshot["data_source_id"] == emu.notion.data_source_ids["signals"]
    assert [name for _, name, _ in snapshot["properties"]].count("Impact") == 1
    emu.stats.reset()

    second = notion(emu, schema_cache=snapshot)
    second.connect()
    assert emu.stats.total() == 0
    assert second.cached
    again = {r.source_id: r for r in second.fetch()}
    assert again == pulled
    assert notion_schema_reads(emu) == 0
    assert emu.stats.count("notion.data_sources.query") == 2  # 150 rows: two pages
    assert second.field_ids == first.field_ids
    assert second.schema_snapshot == snapshot


@pytest.mark.parametrize("spoil", ["other table", "not a snapshot", "newer layout"])
def test_a_snapshot_of_something_else_is_ignored(emu: Emulator, spoil: str) -> None:
    members = notion(emu, "members")
    members.connect()
    snapshot = json_round_trip(members.schema_snapshot)
    if spoil == "not a snapshot":
        snapshot = {"service": "notion", "version": 1, "properties": "?"}
    elif spoil == "newer layout":
        snapshot = json_round_trip(notion_snapshot(emu))
        snapshot["version"] = 2
    emu.stats.reset()
    source = notion(emu, schema_cache=snapshot)
    source.connect()
    assert not source.cached
    assert notion_schema_reads(emu) == 2
    assert source.data_source_id == emu.notion.data_source_ids["signals"]


def notion_snapshot(emu: Emulator) -> dict[str, Any] | None:
    source = notion(emu)
    source.connect()
    return source.schema_snapshot


def test_a_mapping_the_notion_snapshot_cannot_resolve_is_resolved_afresh(emu: Emulator) -> None:
    snapshot = notion_snapshot(emu)
    api = NotionAPI(emu.notion_token, base_url=emu.url, rps=1000.0)
    api.client.data_sources.update(data_source_id=emu.notion.data_source_ids["signals"],
                                   properties={"Reviewer notes": {"rich_text": {}}})
    emu.stats.reset()
    mapping = {"member_id": "Team Member", "signal_type": "Signal Type", "date": "Date",
               "impact": "Impact", "notes": "Reviewer notes"}
    source = notion(emu, schema_cache=snapshot, mapping=mapping)
    source.connect()  # the property is newer than the snapshot
    assert notion_schema_reads(emu) == 2
    assert not source.cached
    assert source.fields["notes"].name == "Reviewer notes"

    emu.stats.reset()
    with pytest.raises(SchemaError, match=r"'Impakt'.*The fields that exist are:.*'Impact'"):
        notion(emu, schema_cache=snapshot, mapping={**mapping, "impact": "Impakt"}).connect()
    assert notion_schema_reads(emu) == 2  # said only after a fresh read


# ---------------------------------------------------------------------------
# Airtable


def airtable(emu: Emulator, table: str = "signals", **kwargs: Any) -> AirtableSource:
    client = AirtableClient(AIRTABLE_TOKEN, endpoint_url=emu.url, rps=None)
    return AirtableSource(client, emu.airtable.sample_base_id,
                          emu.airtable.sample_table_ids[table], canonical=table,
                          progress=False, **kwargs)


def test_an_airtable_snapshot_opens_a_source_without_a_request(emu: Emulator) -> None:
    first = airtable(emu)
    pulled = {r.source_id: r for r in first.fetch()}
    snapshot = json_round_trip(first.schema_snapshot)
    emu.stats.reset()

    second = airtable(emu, schema_cache=snapshot)
    assert second.field_ids == first.field_ids
    assert emu.stats.total() == 0
    assert second.cached
    again = {r.source_id: r for r in second.fetch()}
    assert again == pulled  # every cell fitted its cached type: no schema read
    assert emu.stats.count("airtable.meta.schema") == 0
    assert second.schema_snapshot == snapshot
    assert second.fetch_schema() == first.fetch_schema()

    other = airtable(emu, "members", schema_cache=snapshot)  # a snapshot of signals
    other.open()
    assert not other.cached
    assert emu.stats.count("airtable.meta.schema") == 1


def test_sources_sharing_a_schema_cache_read_a_base_once(emu: Emulator) -> None:
    run = SchemaCache()
    for table in ("members", "milestones", "signals"):
        ids = airtable(emu, table, schemas=run).field_ids
    assert emu.stats.count("airtable.meta.schema") == 1

    at = emu.airtable
    at.rename_field(at.sample_base_id, at.sample_table_ids["signals"], "Impact", "Impact level")
    stale = airtable(emu, schemas=run, mapping=ids)  # this run's schema, read before
    assert stale.fields["impact"].name == "Impact"
    fresh = airtable(emu, schemas=SchemaCache(), mapping=ids)  # the next run reads again
    assert fresh.fields["impact"].name == "Impact level"
    assert emu.stats.count("airtable.meta.schema") == 2


def test_a_notebook_reads_the_schema_on_every_call(emu: Emulator) -> None:
    at = emu.airtable
    base, table = at.sample_base_id, at.sample_table_ids["rotations"]
    read_airtable(base, table, canonical="rotations", token=AIRTABLE_TOKEN,
                  endpoint_url=emu.url, rps=None, progress=False)
    at.rename_field(base, table, "Lead", "Sprint lead")
    frame = read_airtable(base, table, raw=True, token=AIRTABLE_TOKEN,
                          endpoint_url=emu.url, rps=None, progress=False)
    assert "Sprint lead" in frame.columns
    assert emu.stats.count("airtable.meta.schema") == 2


def test_a_mapping_the_airtable_snapshot_cannot_resolve_is_resolved_afresh(
        emu: Emulator) -> None:
    first = airtable(emu)
    first.open()
    snapshot = first.schema_snapshot
    at = emu.airtable
    at.add_field(at.sample_base_id, at.sample_table_ids["signals"],
                 {"name": "Reviewer notes", "type": "multilineText"})
    emu.stats.reset()
    mapping = {**first.field_ids, "notes": "Reviewer notes"}
    source = airtable(emu, schema_cache=snapshot, mapping=mapping)
    assert source.fields["notes"].name == "Reviewer notes"  # newer than the snapshot
    assert not source.cached
    assert emu.stats.count("airtable.meta.schema") == 1

    emu.stats.reset()
    with pytest.raises(SchemaError, match=r"'Impakt'.*The fields that exist are:.*'Impact'"):
        airtable(emu, schema_cache=snapshot, mapping={**mapping, "impact": "Impakt"}).open()
    assert emu.stats.count("airtable.meta.schema") == 1  # said only after a fresh read
