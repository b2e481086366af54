"""Both connectors keep one contract (leadsync.sources.Source), checked the same way.

Every test runs once against the emulated Notion and once against the emulated
Airtable, through the real clients over HTTP, and asks only what the contract
promises: open, fetch from a cursor, list ids, the watermark, the field ids,
the schema snapshot, the stats, and the notebook pair with the same ``attrs``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import leadsync
from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.records import Cursor
from leadsync.sources import (
    FrameReader,
    SchemaCache,
    Source,
    concat_frames,
    connector,
    open_source,
)

ORG = SampleOrg.generate(seed=4, members=8, signals=150)
#: What attrs["source"] names besides the service and the table.
IDENTITY = {"notion": {"database_id", "data_source_id"}, "airtable": {"base_id", "table_id"}}


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(kind: str) -> Iterator[Emulator]:
    with Emulator(seed=4, limits=Limits.unlimited(), clock=FrozenClock(), sample=ORG,
                  workspaces=(kind,)) as emulator:
        yield emulator


@pytest.fixture
def config(emu: Emulator, kind: str) -> Config:
    data = tomllib.loads(emu.config_toml(kind))
    data["limits"] = {"notion_rps": 1000.0, "airtable_rps": 1000.0}
    return parse_config(data, "emu.toml")


def env(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


def made(config: Config, emu: Emulator, **kwargs: Any) -> Source:
    """The source of the signals table, made by the connector's factory, not opened."""
    return connector(config.workspace.kind)(config, "signals", env=env(emu), **kwargs)


def edit(emu: Emulator, kind: str, row_id: str, text: str) -> None:
    if kind == "notion":
        emu.notion.edit_page(row_id, {"Summary": text})
    else:
        emu.airtable.edit_record(emu.airtable.sample_base_id,
                                 emu.airtable.sample_table_ids["signals"], row_id,
                                 {"Summary": text}, typecast=True)


def delete(emu: Emulator, kind: str, row_id: str) -> None:
    if kind == "notion":
        emu.notion.trash_page(row_id)
    else:
        emu.airtable.delete_records(emu.airtable.sample_base_id,
                                    emu.airtable.sample_table_ids["signals"], [row_id])


def test_a_made_source_sends_nothing_until_it_is_opened(
        config: Config, emu: Emulator, kind: str) -> None:
    source = made(config, emu)
    assert source.service == kind
    assert source.table == "signals"
    assert source.schema_snapshot is None
    assert emu.stats.total() == 0
    source.open()
    opened = emu.stats.total()
    assert opened > 0
    source.open()  # once
    assert emu.stats.total() == opened
    assert source.stats.requests == opened
    assert set(source.field_ids) == set(config.tables["signals"].fields)
    assert all(isinstance(v, str) and v for v in source.field_ids.values())
    identity = source.identity
    assert identity["service"] == kind
    assert identity["table"] == "signals"
    assert IDENTITY[kind] <= set(identity)
    assert isinstance(source.schema_snapshot, dict)
    source.close()


def test_open_source_gives_an_opened_source(config: Config, emu: Emulator) -> None:
    source = open_source(config, "signals", env=env(emu))
    sent = emu.stats.total()
    assert sent > 0
    source.open()
    assert emu.stats.total() == sent


def test_fetch_reads_every_row_once_then_only_what_changed(
        config: Config, emu: Emulator, kind: str) -> None:
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(minutes=10)  # the sample was created at the clock's start
    source = open_source(config, "signals", env=env(emu))
    assert source.watermark is None
    records = list(source.fetch())
    ids = [r.source_id for r in records]
    assert len(ids) == len(set(ids)) == len(ORG.signals)
    assert source.stats.rows == len(ORG.signals)
    assert source.stats.requests >= 3  # open, then two pages of 100
    watermark = source.watermark
    assert watermark is not None
    assert watermark <= emu.clock.now()

    emu.clock.advance(minutes=10)
    edited = sorted(ids)[7]
    edit(emu, kind, edited, "edited after the first pull")
    changed = list(source.fetch(Cursor(watermark, lag=dt.timedelta(0))))
    assert [r.source_id for r in changed] == [edited]
    assert changed[0].values["notes"] == "edited after the first pull"
    assert source.watermark is not None
    assert source.watermark > watermark


def test_list_ids_is_every_live_row(config: Config, emu: Emulator, kind: str) -> None:
    source = open_source(config, "signals", env=env(emu))
    ids = {r.source_id for r in source.fetch()}
    assert source.list_ids() == ids
    gone = sorted(ids)[3]
    delete(emu, kind, gone)
    assert source.list_ids() == ids - {gone}


def test_a_schema_snapshot_opens_the_next_source_without_a_request(
        config: Config, emu: Emulator) -> None:
    first = open_source(config, "signals", env=env(emu))
    snapshot = first.schema_snapshot
    assert snapshot is not None
    before = emu.stats.total()
    second = made(config, emu, schema_cache=snapshot, schemas=SchemaCache())
    second.open()
    assert emu.stats.total() == before
    assert second.field_ids == first.field_ids
    assert second.schema_snapshot == snapshot
    assert len(list(second.fetch())) == len(ORG.signals)


def test_both_give_the_notebook_pair_with_the_same_attrs(
        config: Config, emu: Emulator, kind: str) -> None:
    source = open_source(config, "signals", env=env(emu))
    assert isinstance(source, FrameReader)
    frame = source.pull_frame()
    assert {"quarantine", "field_ids", "source"} <= set(frame.attrs)
    assert frame.attrs["field_ids"] == source.field_ids
    assert frame.attrs["source"] == source.identity
    assert len(frame) + len(frame.attrs["quarantine"]) == len(ORG.signals)

    pages = list(source.iter_pages(page_rows=60))
    assert [len(p) + len(p.attrs["quarantine"]) for p in pages] == [60, 60, 30]
    for page in pages:
        assert page.attrs["field_ids"] == source.field_ids
        assert page.attrs["source"] == source.identity
    whole = concat_frames(pages)
    pd.testing.assert_frame_equal(whole, frame)
    pd.testing.assert_frame_equal(whole.attrs["quarantine"], frame.attrs["quarantine"])
    assert whole.attrs["source"] == frame.attrs["source"]


def test_the_module_functions_give_the_same_pair(config: Config, emu: Emulator,
                                                 kind: str) -> None:
    spec = config.tables["signals"]
    if kind == "notion":
        assert spec.notion_database is not None
        frame = leadsync.read_notion(spec.notion_database, token=emu.notion_token,
                                     base_url=emu.url, progress=False)
        pages = list(leadsync.iter_notion(spec.notion_database, token=emu.notion_token,
                                          base_url=emu.url, progress=False))
    else:
        assert spec.airtable_base is not None
        assert spec.airtable_table is not None
        frame = leadsync.read_airtable(spec.airtable_base, spec.airtable_table,
                                       token=emu.airtable_token, endpoint_url=emu.url,
                                       progress=False, rps=None)
        pages = list(leadsync.iter_airtable(spec.airtable_base, spec.airtable_table,
                                            token=emu.airtable_token, endpoint_url=emu.url,
                                            progress=False, rps=None))
    assert [len(p) + len(p.attrs["quarantine"]) for p in pages] == [100, 50]
    assert frame.attrs["source"]["service"] == kind
    for page in pages:
        assert page.attrs["source"] == frame.attrs["source"]
        assert page.attrs["field_ids"] == frame.attrs["field_ids"]
