"""The dlt source into DuckDB (embedded, a real engine): loads equal the store,
deletions follow, a load with nothing new loads nothing.

Every store here is written by the real sync against the emulated Notion
workspace; upstream inserts, edits and deletions are made in the emulator and
synced before the next load, as cron would run ``leadsync sync`` then
``leadsync load``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement

from leadsync import open_store
from leadsync.cli import main
from leadsync.config import Config, load_config
from leadsync.dlt import REMOVED_COLUMN, LoadSummary, columns, load_store
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.errors import exit_code_for
from leadsync.sync import run_sync
from leadsync.tables import TABLES, schema


@pytest.fixture(autouse=True)
def arrow_strings() -> Iterator[None]:
    """Strings stored in Arrow, as pandas does wherever the extra (pyarrow) is installed."""
    with pd.option_context("mode.string_storage", "pyarrow"):
        yield

class Workspace:
    """The emulated Notion workspace, its config and store, and the changes made to it."""

    def __init__(self, emu: Emulator, config: Config, tmp: Path):
        self.emu, self.config, self.tmp = emu, config, tmp
        self.notion = emu.notion
        clock = emu.clock
        assert isinstance(clock, FrozenClock)
        self.clock = clock
        self.edits = 0

    def sync(self) -> None:
        self.clock.advance(minutes=1)
        run_sync(self.config, env={"NOTION_TOKEN": self.emu.notion_token}, progress=False)

    def ids(self, table: str) -> list[str]:
        return sorted(p["id"] for p in self.notion.pages(self.notion.data_source_ids[table]))

    def insert_signal(self, n: int) -> str:
        person = sorted(self.notion.member_user_ids.values())[n % 3]
        return self.notion.create_data_source_rows(self.notion.data_source_ids["signals"], [{
            "Summary": f"inserted {n}", "Signal Type": "Technical",
            "Indicator": "Documents decision rationale", "Impact": "High",
            "Evidence": f"https://github.com/acme/web-app/pull/{n}",
            "Team Member": [person], "Date": dt.date(2026, 10, 5)}])[0]

    def edit(self, page_id: str, **values: Any) -> None:
        self.edits += 1
        self.notion.edit_page(page_id, values or {"Summary": f"edited {self.edits}"})

    def load(self, **kwargs: Any) -> LoadSummary:
        return load_store(self.config.store.path, "duckdb", pipelines_dir=self.tmp / "dlt",
                          **kwargs)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-home"))
    org = SampleOrg.generate(seed=3, members=10, signals=240)
    with Emulator(seed=3, limits=Limits.unlimited(), clock=FrozenClock(), sample=org,
                  workspaces=("notion",)) as emu:
        config_file = tmp_path / "leadsync.toml"
        config_file.write_text(
            emu.config_toml("notion", store_path=str(tmp_path / "leadsync.db"))
            + "\n[sync]\nfull_every_days = 0\n\n[limits]\nnotion_rps = 1000.0\n",
            encoding="utf-8")
        ws = Workspace(emu, load_config(config_file), tmp_path)
        ws.sync()
        yield ws


def warehouse(ws: Workspace, table: str, *, dataset: str = "leadership") -> pd.DataFrame:
    """A DuckDB table as a canonical frame (dlt's own columns checked, then dropped)."""
    with duckdb.connect(str(ws.tmp / "warehouse.duckdb"), read_only=True) as con:
        frame = con.sql(f"SELECT * FROM {dataset}.{table}").df()
    assert frame[REMOVED_COLUMN].isna().all()  # only ever set on rows sent to be deleted
    frame = frame.drop(columns=[REMOVED_COLUMN, "_dlt_load_id", "_dlt_id"], errors="ignore")
    for column in schema(table).columns:
        values = frame[column.name]
        if column.kind == "category":
            frame[column.name] = pd.Categorical(values.astype("object").where(values.notna(),
                                                                                None),
                                                categories=column.vocabulary, ordered=True)
        elif column.kind == "members":
            frame[column.name] = [tuple(json.loads(v)) if isinstance(v, str) else ()
                                  for v in values]
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return frame


def assert_warehouse_equals_store(ws: Workspace, *, flagged: bool = False) -> None:
    """The warehouse holds the store's frames (``flagged``: and its tombstones)."""
    with open_store(ws.config.store.path) as store:
        for table in TABLES:
            want = store.frame(table)
            if flagged:
                live = want.assign(deleted_at=pd.Series(pd.NaT, index=want.index,
                                                        dtype="datetime64[ns, UTC]"))
                want = pd.concat([live, store.tombstones(table)], ignore_index=True)
            got = warehouse(ws, table)[list(want.columns)]
            want = want.sort_values("source_id", ignore_index=True)
            got = got.sort_values("source_id", ignore_index=True)
            got = got.astype({c: want[c].dtype for c in want.columns
                              if not isinstance(want[c].dtype, pd.CategoricalDtype)})
            pd.testing.assert_frame_equal(got, want, check_exact=True, obj=table)


def test_loads_follow_the_store_inserts_edits_and_deletions(workspace: Workspace) -> None:
    ws = workspace
    first = ws.load()
    with open_store(ws.config.store.path) as store:
        sizes = {t: len(store.frame(t)) for t in TABLES}
    assert first.loaded == sizes  # dlt's own count of rows loaded, per table
    assert_warehouse_equals_store(ws)

    ws.clock.advance(hours=3)
    signals = ws.ids("signals")
    inserted = [ws.insert_signal(n) for n in range(2)]
    for page in signals[:3]:
        ws.edit(page)
    deleted = signals[10]
    ws.notion.trash_page(deleted)
    ws.edit(sorted(ws.notion.member_page_ids.values())[0], **{"Working hours": "07:00-15:00"})
    ws.sync()
    second = ws.load()
    assert second.loaded == {"members": 1, "signals": 6, "milestones": 0, "checkins": 0,
                             "rotations": 0, "reviews": 0, "projects": 0}
    assert (second.sent["signals"].changed, second.sent["signals"].removed) == (5, 1)
    assert_warehouse_equals_store(ws)
    gone = warehouse(ws, "signals")
    assert deleted not in set(gone["source_id"])
    assert set(inserted) <= set(gone["source_id"])

    third = ws.load()
    assert third.rows == 0
    assert third.loaded == dict.fromkeys(TABLES, 0)
    assert "loaded 0 rows" in third.describe()
    assert_warehouse_equals_store(ws)


def test_flagged_deletions_stay_with_deleted_at(workspace: Workspace) -> None:
    ws = workspace
    ws.load(deletions="flag")
    deleted = ws.ids("signals")[5]
    ws.clock.advance(hours=1)
    ws.notion.trash_page(deleted)
    ws.sync()
    second = ws.load(deletions="flag")
    assert second.loaded["signals"] == 1
    assert second.sent["signals"].flagged == 1
    assert_warehouse_equals_store(ws, flagged=True)
    row = warehouse(ws, "signals").set_index("source_id").loc[deleted]
    with open_store(ws.config.store.path) as store:
        tomb = store.tombstones("signals").set_index("source_id").loc[deleted]
    assert row["deleted_at"] == tomb["deleted_at"]
    assert ws.load(deletions="flag").rows == 0


def test_a_row_that_moves_to_the_quarantine_leaves_and_comes_back(workspace: Workspace) -> None:
    ws = workspace
    ws.load()
    page = ws.ids("signals")[7]
    ws.clock.advance(hours=1)
    ws.edit(page, Impact=None)  # impact is required: the row no longer fits
    ws.sync()
    with open_store(ws.config.store.path) as store:
        assert page in set(store.quarantine("signals")["source_id"])
    second = ws.load()
    assert second.sent["signals"].removed == 1
    assert page not in set(warehouse(ws, "signals")["source_id"])
    assert_warehouse_equals_store(ws)
    ws.clock.advance(hours=1)
    ws.edit(page, Impact="Medium")
    ws.sync()
    ws.load()
    assert page in set(warehouse(ws, "signals")["source_id"])
    assert_warehouse_equals_store(ws)


def test_a_full_load_sends_everything_again_without_duplicates(workspace: Workspace) -> None:
    ws = workspace
    ws.load()
    full = ws.load(full=True)
    with open_store(ws.config.store.path) as store:
        assert full.loaded["signals"] == len(store.frame("signals")) + len(
            store.quarantine("signals"))
    assert_warehouse_equals_store(ws)


def test_column_types_are_declared_from_the_canonical_tables(workspace: Workspace) -> None:
    ws = workspace
    ws.load()
    with duckdb.connect(str(ws.tmp / "warehouse.duckdb"), read_only=True) as con:
        types = {(t, c): d for t, c, d in con.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'leadership'").fetchall()}
    assert types["signals", "date"] == "TIMESTAMP WITH TIME ZONE"
    assert types["signals", "impact"] == "VARCHAR"
    assert types["members", "is_leader"] == "BOOLEAN"
    assert types["reviews", "technical_excellence"] == "DOUBLE"
    assert types["reviews", "approvers"] == "JSON"
    for table in TABLES:
        declared = columns(table)
        for name, hint in declared.items():
            expected = {"text": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE",
                        "bool": "BOOLEAN", "double": "DOUBLE", "json": "JSON"}
            assert types[table, name] == expected[str(hint["data_type"])], (table, name)
        for column in schema(table).columns:
            assert column.name in declared
    assert columns("signals")["impact"]["description"] == "one of Low < Medium < High"
    assert columns("signals")["source_id"]["primary_key"] is True
    assert columns("signals", deletions="flag")["deleted_at"]["data_type"] == "timestamp"


# ---------------------------------------------------------------------------
# The command


def test_leadsync_load_from_cron(workspace: Workspace) -> None:
    ws = workspace
    runner = CliRunner()
    args = ["-c", str(ws.config.source), "load", "--destination", "duckdb"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("loaded 353 rows into duckdb dataset leadership in ")
    again = runner.invoke(main, [*args, "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert summary["rows"] == 0
    assert summary["loaded"]["signals"] == 0
    assert_warehouse_equals_store(ws)


def test_leadsync_load_without_dlt_says_how_to_install_it(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlt", None)  # as if the extra were not installed
    monkeypatch.delitem(sys.modules, "leadsync.dlt", raising=False)
    result = CliRunner().invoke(main, ["-c", str(workspace.config.source), "load",
                                       "--destination", "duckdb"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "leadsync: error: leadsync load needs dlt: pip install 'leadsync[dlt]'"]


def test_bad_destinations_are_one_line_and_exit_2(workspace: Workspace) -> None:
    runner = CliRunner()
    for destination in ("nowhere", "postgres"):  # unknown; known but not configured
        result = runner.invoke(main, ["-c", str(workspace.config.source), "load",
                                      "--destination", destination])
        assert result.exit_code == 2, (destination, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("leadsync: error: ")
        assert "internal error" not in lines[0]


# ---------------------------------------------------------------------------
# Packaging


def test_installing_leadsync_without_the_extra_does_not_pull_in_dlt() -> None:
    requirements = [Requirement(r) for r in importlib.metadata.requires("leadsync") or []]
    heavy = {"dlt", "duckdb"}
    plain = [r for r in requirements if r.marker is None]
    assert plain, "leadsync has base requirements"
    assert not [r.name for r in plain if r.name in heavy]
    # pyarrow is a base requirement: every reader of the store needs it (its typed columns
    # are Arrow, issue 16); the dlt and parquet extras still name it.
    assert "pyarrow" in {r.name for r in plain}
    for requirement in requirements:
        if requirement.name in heavy:
            assert requirement.marker is not None
            extras = {e for e in ("dlt", "parquet", "test")
                      if requirement.marker.evaluate({"extra": e})}
            assert extras, requirement
            assert not requirement.marker.evaluate({"extra": ""}), requirement
    dlt_extra = [r for r in requirements if r.marker and r.marker.evaluate({"extra": "dlt"})]
    assert {r.name for r in dlt_extra} >= {"dlt", "pyarrow"}
    assert any("duckdb" in r.extras for r in dlt_extra if r.name == "dlt")


def test_the_incremental_uses_the_syncs_lag(workspace: Workspace) -> None:
    """An edit the sync picks up late, stamped before the newest edit already loaded
    but inside the lag, still reaches the warehouse."""
    ws = workspace
    with open_store(ws.config.store.path) as store:
        cursor = store.cursor("signals")
    assert cursor is not None
    assert cursor.lag.total_seconds() == ws.config.sync.overlap_seconds == 120
    ws.clock.advance(hours=1)
    ws.edit(ws.ids("signals")[19])
    ws.sync()
    ws.load()
    with open_store(ws.config.store.path) as store:
        newest = store.frame("signals")["last_edited_time"].max()
    page = ws.ids("signals")[20]
    late = (newest - pd.Timedelta(seconds=60)).to_pydatetime()
    ws.notion.edit_page(page, {"Summary": "a late edit"}, when=late)
    ws.sync()
    with open_store(ws.config.store.path) as store:
        row = store.frame("signals").set_index("source_id").loc[page]
    assert row["notes"] == "a late edit"
    assert row["last_edited_time"] < newest
    second = ws.load()
    assert second.loaded["signals"] == 1
    assert_warehouse_equals_store(ws)


def test_destination_failures_map_to_exit_codes_without_secrets() -> None:
    from dlt.common.destination.exceptions import (
        DestinationTerminalException,
        DestinationTransientException,
    )

    from leadsync.dlt import WarehouseError, WarehouseTransientError, _translate

    try:
        try:
            raise DestinationTransientException(
                "connection to postgresql://loader:hunter2@db.internal/dwh refused")
        except DestinationTransientException as inner:
            raise RuntimeError("pipeline step failed") from inner
    except RuntimeError as outer:
        transient = _translate(outer, "postgres")
    assert isinstance(transient, WarehouseTransientError)
    assert exit_code_for(transient) == 75
    assert "hunter2" not in str(transient)
    assert "postgresql://loader:***@db.internal/dwh" in str(transient)
    terminal = _translate(DestinationTerminalException("relation is read-only"), "postgres")
    assert type(terminal) is WarehouseError
    assert exit_code_for(terminal) == 1
