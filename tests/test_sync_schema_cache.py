"""Schema snapshots in the sync, against the emulated Notion and Airtable (real connectors).

An incremental night with a stored snapshot reads no schema at all, only the
rows that changed; reconciliations, a changed config and a stale snapshot read
it again; and a snapshot that no longer matches the workspace (a rename, a
deleted property or field, a changed type, a replaced data source, a deleted
table) never costs correctness: the run ends as it would without a snapshot.
Requests are counted by the emulator (``emu.stats``), per route.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from leadsync.connectors.notion import NotionAPI

from leadsync import open_store
from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.errors import NotFoundError, SchemaError
from leadsync.sources import open_source
from leadsync.sync import run_sync

SCHEMA_ROUTES = {
    "notion": ("notion.databases.retrieve", "notion.data_sources.retrieve"),
    "airtable": ("airtable.meta.schema",),
}
QUERY_ROUTE = {"notion": "notion.data_sources.query", "airtable": "airtable.records.list"}


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(kind: str) -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=5, members=10, signals=240)
    with Emulator(seed=5, limits=Limits.unlimited(), clock=FrozenClock(), sample=org,
                  workspaces=(kind,)) as emulator:
        yield emulator


def config_data(emu: Emulator, kind: str, tmp_path: Path, **sync: int) -> dict[str, Any]:
    data = tomllib.loads(emu.config_toml(kind, store_path=str(tmp_path / "leadsync.db")))
    data["sync"] = {"full_every_days": 7, **sync}
    data["limits"] = {"notion_rps": 1000.0, "airtable_rps": 1000.0}
    return data


def tokens(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


class Workspace:
    """The emulated workspace of one kind, edited directly as its users would."""

    def __init__(self, emu: Emulator, kind: str):
        self.emu, self.kind = emu, kind
        self.edits = 0

    @property
    def clock(self) -> FrozenClock:
        assert isinstance(self.emu.clock, FrozenClock)
        return self.emu.clock

    def table_id(self, table: str) -> str:
        if self.kind == "notion":
            return self.emu.notion.data_source_ids[table]
        return self.emu.airtable.sample_table_ids[table]

    def row_ids(self, table: str) -> list[str]:
        if self.kind == "notion":
            return sorted(p["id"] for p in self.emu.notion.pages(self.table_id(table)))
        return sorted(r["id"] for r in self.emu.airtable.get_records(
            self.emu.airtable.sample_base_id, self.table_id(table)))

    def edit(self, table: str, row_id: str, values: dict[str, Any] | None = None) -> None:
        """Change a row (its title unless ``values`` say otherwise)."""
        self.edits += 1
        title = {"members": "Name", "signals": "Summary", "milestones": "Milestone",
                 "checkins": "Check-in", "rotations": "Sprint", "reviews": "Review"}[table]
        values = values if values is not None else {title: f"edited {self.edits}"}
        if self.kind == "notion":
            self.emu.notion.edit_page(row_id, values)
        else:
            self.emu.airtable.edit_record(self.emu.airtable.sample_base_id,
                                          self.table_id(table), row_id, values, typecast=True)

    def in_use(self) -> None:
        """One row of every table edited an hour after the import: each cursor then
        passes the import, and a night reads only what changed (see the benchmark)."""
        self.clock.advance(hours=1)
        for table in ("members", "signals", "milestones", "checkins", "rotations", "reviews"):
            self.edit(table, self.row_ids(table)[0])

    def rename(self, table: str, old: str, new: str) -> None:
        if self.kind == "notion":
            self.emu.notion.rename_property(self.table_id(table), old, new)
        else:
            self.emu.airtable.rename_field(self.emu.airtable.sample_base_id,
                                           self.table_id(table), old, new)

    def delete_field(self, table: str, name: str) -> None:
        """Delete a property (Notion: through the API) or a field (Airtable: its web API
        cannot, so the emulator's base is changed as the Airtable UI would)."""
        if self.kind == "notion":
            notion_api(self.emu).client.data_sources.update(
                data_source_id=self.table_id(table), properties={name: None})
            return
        with self.emu.lock:
            target = self.emu.airtable.table(self.emu.airtable.sample_base_id,
                                             self.table_id(table))
            gone = target.field(name)
            assert gone is not None
            target.fields.remove(gone)
            target.reindex()
            for record in target.records.values():
                record.cells.pop(gone.id, None)

    def count(self, *routes: str) -> int:
        return sum(self.emu.stats.count(route) for route in routes)

    def schema_reads(self) -> int:
        return self.count(*SCHEMA_ROUTES[self.kind])

    def queries(self) -> int:
        return self.count(QUERY_ROUTE[self.kind])


def notion_api(emu: Emulator) -> NotionAPI:
    return NotionAPI(emu.notion_token, base_url=emu.url, rps=1000.0)


def sync(config: Config, emu: Emulator, **kwargs: Any) -> Any:
    emu.stats.reset()
    return run_sync(config, env=tokens(emu), progress=False, **kwargs)


def stored(config: Config, table: str) -> dict[str, Any]:
    """The row values of ``table`` in the store, by source id."""
    with open_store(config.store.path) as store:
        return {r.source_id: dict(r.values) for r in store.records(table)}


def stored_snapshot(config: Config, table: str) -> dict[str, Any]:
    with open_store(config.store.path) as store:
        cursor = store.cursor(table)
    assert cursor is not None
    assert cursor.schema_snapshot is not None
    return cursor.schema_snapshot


def snapshot_fields(kind: str, snapshot: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """name -> (id, type) of every property/field in a stored snapshot."""
    schema = snapshot["schema"]
    if kind == "notion":
        return {name: (pid, ptype) for pid, name, ptype in schema["properties"]}
    return {f["name"]: (f["id"], f["type"]) for f in schema["schema"]["fields"]}


@pytest.fixture
def synced(emu: Emulator, kind: str, tmp_path: Path) -> tuple[Workspace, Config]:
    """The workspace in use and synced once (a reconciliation: the schema is read)."""
    ws = Workspace(emu, kind)
    ws.in_use()
    config = parse_config(config_data(emu, kind, tmp_path), source="<test>")
    sync(config, emu)
    ws.clock.advance(days=1)
    return ws, config


# ---------------------------------------------------------------------------
# What a night costs


def test_a_night_with_a_snapshot_reads_no_schema_only_one_query_per_table(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    changed = ws.row_ids("signals")[3:8]
    for row_id in changed:
        ws.edit("signals", row_id)
    summary = sync(config, ws.emu)
    assert ws.schema_reads() == 0
    if kind == "notion":
        assert ws.count("notion.databases.retrieve", "notion.data_sources.retrieve") == 0
    else:
        assert ws.count("airtable.meta.schema") == 0
    assert ws.queries() == len(config.tables)  # one request a table: the query
    assert summary.totals["requests"] == len(config.tables)
    assert summary.tables[1].updated == len(changed)
    assert not any(t.reconciled for t in summary.tables)
    values = stored(config, "signals")
    assert all(values[row_id]["notes"].startswith("edited") for row_id in changed)


def test_reconciliations_read_the_schema_and_refresh_the_snapshot(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    ws = Workspace(emu, kind)
    ws.in_use()
    config = parse_config(config_data(emu, kind, tmp_path, full_every_days=0), source="<t>")
    sync(config, emu)
    assert ws.schema_reads() > 0
    ws.rename("signals", "Impact", "Impact level")
    ws.clock.advance(days=1)
    summary = sync(config, emu)  # due every run: never from the snapshot
    assert all(t.reconciled for t in summary.tables)
    if kind == "notion":  # per table: its database, then its data source
        assert ws.count("notion.databases.retrieve") == len(config.tables)
        assert ws.count("notion.data_sources.retrieve") == len(config.tables)
    else:  # one base: one read for all its tables
        assert ws.count("airtable.meta.schema") == 1
    assert "Impact level" in snapshot_fields(kind, stored_snapshot(config, "signals"))

    weekly = parse_config(config_data(emu, kind, tmp_path), source="<t>")
    sync(weekly, emu)  # incremental: from the refreshed snapshot
    assert ws.schema_reads() == 0
    sync(weekly, emu, full=True)  # --full reconciles: read again
    assert ws.schema_reads() == (2 * len(config.tables) if kind == "notion" else 1)


@pytest.mark.parametrize("kind", ["airtable"])
def test_a_first_run_reads_a_base_schema_once_for_all_its_tables(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = parse_config(config_data(emu, kind, tmp_path), source="<t>")
    summary = sync(config, emu)
    assert len(summary.tables) == 7
    assert emu.stats.count("airtable.meta.schema") == 1


@pytest.mark.parametrize("change", ["location", "mapping"])
def test_a_changed_table_config_ignores_the_snapshot(
        synced: tuple[Workspace, Config], kind: str, change: str) -> None:
    ws, config = synced
    data = config.model_dump(mode="json")
    spec = data["tables"]["signals"]
    if change == "location":  # the same table, named another way
        if kind == "notion":
            spec["notion_database"] = "https://www.notion.so/acme/Signals-" + \
                spec["notion_database"].replace("-", "")
        else:
            spec["airtable_table"] = "Signals"
    else:
        del spec["fields"]["indicator"]
    changed = parse_config(data, source="<t>")
    row_id = ws.row_ids("signals")[5]
    ws.edit("signals", row_id)
    summary = sync(changed, ws.emu)
    assert summary.tables[1].updated >= 1  # the edit (and, with less mapped, the overlap)
    assert stored(changed, "signals")[row_id]["notes"].startswith("edited")
    if kind == "notion":  # signals alone was opened from Notion
        assert ws.count("notion.databases.retrieve") == 1
        assert ws.count("notion.data_sources.retrieve") == 1
    else:
        assert ws.count("airtable.meta.schema") == 1
    with open_store(changed.store.path) as store:
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.schema_snapshot is not None
        assert cursor.schema_snapshot["pin"]["fields"] == spec["fields"]
    sync(changed, ws.emu)  # the new snapshot serves the next night
    assert ws.schema_reads() == 0


# ---------------------------------------------------------------------------
# A snapshot that no longer matches the workspace


def test_a_rename_upstream_keeps_mapping_from_the_snapshot(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    ws.rename("signals", "Impact", "Impact level")
    row_id = ws.row_ids("signals")[7]
    ws.edit("signals", row_id, {"Impact level": "Low"})
    summary = sync(config, ws.emu)
    assert summary.tables[1].updated == 1
    assert ws.schema_reads() == 0  # ids still match: nothing to read
    assert stored(config, "signals")[row_id]["impact"] == "Low"


def test_a_deleted_mapped_field_ends_in_the_clear_schema_error_with_the_store_untouched(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    ws.delete_field("signals", "Impact")
    ws.edit("signals", ws.row_ids("signals")[2])
    store = Path(config.store.path)
    before = store.read_bytes()
    with pytest.raises(SchemaError) as cached:
        sync(config, ws.emu)
    # the snapshot was caught out by the first answer and the schema read once
    assert ws.schema_reads() == 1
    assert ws.count("notion.databases.retrieve") == 0
    assert store.read_bytes() == before
    with pytest.raises(SchemaError) as fresh:
        sync(config, ws.emu, full=True)  # the same run without a snapshot
    assert str(cached.value) == str(fresh.value)
    assert "The fields that exist are:" in str(cached.value)
    assert "'Signal Type'" in str(cached.value)
    assert store.read_bytes() == before


@pytest.mark.parametrize("kind", ["notion", "airtable"])  # both stream page by page
def test_a_property_deleted_during_a_pull_moves_no_cursor(
        synced: tuple[Workspace, Config], kind: str) -> None:
    """Staleness met mid-table: the batches before it stay, the cursor stays."""
    ws, config = synced
    rows = ws.row_ids("signals")
    for row_id in rows[:150]:
        ws.edit("signals", row_id)
    with open_store(config.store.path) as store:
        before = store.cursor("signals")
    assert before is not None

    def factory(config: Config, table: str, **kwargs: Any) -> Any:
        source = open_source(config, table, **kwargs)
        if table == "signals":
            pull = source.fetch

            def fetch(cursor: Any = None) -> Iterator[Any]:
                for n, record in enumerate(pull(cursor)):
                    if n == 99:  # the last row of the first page of results
                        ws.delete_field("signals", "Impact")
                    yield record
            source.fetch = fetch
        return source

    with pytest.raises(SchemaError, match="impact"):
        sync(config, ws.emu, sources=factory, batch_size=50)
    assert ws.schema_reads() == 1  # the one read that found the field gone
    with open_store(config.store.path) as store:
        after = store.cursor("signals")
        runs = store.runs()
    assert after is not None
    assert after.since == before.since
    assert after.schema_snapshot == before.schema_snapshot
    assert runs["status"].iloc[0] == "failed"
    values = stored(config, "signals")
    # two batches of 50 were committed before the second page, all decoded correctly
    edited = [values[r] for r in rows[:150] if values[r]["notes"].startswith("edited")]
    assert len(edited) == 100
    assert all("impact" in v for v in edited)


def change_airtable_type(emu: Emulator, table: str, name: str, new_type: str,
                         options: dict[str, Any], convert: Callable[[Any], Any]) -> None:
    """Change a field's type as the Airtable UI would (the web API cannot)."""
    at = emu.airtable
    with emu.lock:
        target = at.table(at.sample_base_id, at.sample_table_ids[table])
        f = target.field(name)
        assert f is not None
        f.type, f.options = new_type, options
        for record in target.records.values():
            if f.id in record.cells:
                record.cells[f.id] = convert(record.cells[f.id])


@pytest.mark.parametrize("kind", ["notion"])
def test_a_notion_type_change_reads_the_schema_and_decodes_the_new_type(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    notion_api(ws.emu).client.data_sources.update(
        data_source_id=ws.table_id("signals"), properties={"Impact": {"rich_text": {}}})
    row_id = ws.row_ids("signals")[4]
    ws.edit("signals", row_id, {"Impact": "High"})
    summary = sync(config, ws.emu)
    assert summary.tables[1].updated >= 1  # the edit, and the overlap's row lost its value
    assert ws.count("notion.data_sources.retrieve") == 1  # the snapshot said select
    assert ws.count("notion.databases.retrieve") == 0
    assert stored(config, "signals")[row_id]["impact"] == "High"
    fields = snapshot_fields(kind, stored_snapshot(config, "signals"))
    assert fields["Impact"][1] == "rich_text"
    sync(config, ws.emu)
    assert ws.schema_reads() == 0  # the refreshed snapshot holds


@pytest.mark.parametrize(("table", "name", "new_type", "convert", "column", "expected"), [
    # a select turned multi-select: read as the old type, every value is "not text"
    ("signals", "Signal Type", "multipleSelects", lambda v: [v], "signal_type", "Operational"),
    # a date turned date-time: read as the old type, the time would be lost silently
    ("members", "Stage started", "dateTime", lambda v: f"{v}T14:30:00.000Z", "stage_started",
     dt.datetime(2026, 3, 4, 14, 30, tzinfo=dt.UTC)),
])
@pytest.mark.parametrize("kind", ["airtable"])
def test_an_airtable_type_change_is_noticed_and_decoded_with_the_new_type(
        synced: tuple[Workspace, Config], kind: str, table: str, name: str, new_type: str,
        convert: Callable[[Any], Any], column: str, expected: Any) -> None:
    ws, config = synced
    old = next(f for f in ws.emu.airtable.table(
        ws.emu.airtable.sample_base_id, ws.table_id(table)).fields if f.name == name)
    options = dict(old.options)
    if new_type == "dateTime":
        options = {"timeZone": "utc", "dateFormat": {"format": "YYYY-MM-DD", "name": "iso"},
                   "timeFormat": {"format": "HH:mm", "name": "24hour"}}
    change_airtable_type(ws.emu, table, name, new_type, options, convert)
    row_id = ws.row_ids(table)[1]
    value = [expected] if new_type == "multipleSelects" else "2026-03-04T14:30:00.000Z"
    ws.edit(table, row_id, {name: value})
    summary = sync(config, ws.emu)
    assert ws.count("airtable.meta.schema") == 1
    synced_table = next(t for t in summary.tables if t.table == table)
    assert synced_table.updated >= 1
    assert stored(config, table)[row_id][column] == expected
    with open_store(config.store.path) as store:
        assert row_id not in store.quarantine_ids(table)
    fields = snapshot_fields(kind, stored_snapshot(config, table))
    assert fields[name][1] == new_type


@pytest.mark.parametrize("kind", ["notion"])
def test_a_replaced_notion_data_source_is_found_again_through_its_database(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    svc = ws.emu.notion
    old_id = svc.data_source_ids["signals"]
    new_id = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    with ws.emu.lock:  # the same rows under a new data source id, as after a re-import
        ds = svc.ws.data_sources.pop(old_id)
        ds.id = new_id
        svc.ws.data_sources[new_id] = ds
        database = svc.ws.databases[ds.database_id]
        database.data_source_ids = [new_id]
        for page_id in ds.page_ids:
            svc.ws.pages[page_id].ds_id = new_id
    signal = next(p["id"] for p in svc.pages(new_id))
    ws.edit("signals", signal)
    summary = sync(config, ws.emu)
    assert summary.tables[1].updated == 1
    assert ws.count("notion.data_sources.query") == len(config.tables) + 1
    assert ws.emu.stats.count("notion.data_sources.query", 404) == 1
    # the configured database, resolved afresh: it and its (new) data source
    assert ws.count("notion.databases.retrieve") == 1
    assert ws.count("notion.data_sources.retrieve") == 1
    assert stored_snapshot(config, "signals")["schema"]["data_source_id"] == new_id


def test_a_deleted_table_is_not_found_as_without_a_snapshot(
        synced: tuple[Workspace, Config], kind: str) -> None:
    ws, config = synced
    with ws.emu.lock:
        if kind == "notion":
            svc = ws.emu.notion
            ds = svc.ws.data_sources.pop(svc.data_source_ids["signals"])
            svc.ws.databases.pop(ds.database_id)
        else:
            at = ws.emu.airtable
            at.bases[at.sample_base_id].tables.pop(at.sample_table_ids["signals"])
    store = Path(config.store.path)
    before = store.read_bytes()
    with pytest.raises(NotFoundError) as cached:
        sync(config, ws.emu)
    # the query's 404, then the schema read once more
    assert ws.emu.stats.count(QUERY_ROUTE[kind], 404) == 1
    with pytest.raises(NotFoundError) as fresh:
        sync(config, ws.emu, full=True)
    assert without_request_id(cached.value) == without_request_id(fresh.value)
    assert store.read_bytes() == before


def without_request_id(exc: BaseException) -> str:
    return re.sub(r", request id [^),]+", "", str(exc))
