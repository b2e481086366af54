"""The sync end to end: the real connectors over HTTP against the emulated Notion and Airtable.

For each service: the first sync makes the store equal to the workspace; after
random inserts, edits and deletions upstream the next sync makes them equal
again (ids, values, typed frames, quarantine), with deletions as tombstones; a
property renamed after the first sync keeps mapping; and bad input (a wrong
token, a deleted database, an unreachable API, a field that never mapped, a
corrupt store) is one clear line, the right exit code, and an untouched store.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from leadsync.connectors.base import Record, records_to_frame

from leadsync import open_store
from leadsync.cli import main
from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, Fault, FrozenClock, Limits, SampleOrg
from leadsync.sources import open_source
from leadsync.sync import run_sync, tables_to_sync
from leadsync.tables import INDICATORS


@pytest.fixture(params=["notion", "airtable"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu(kind: str) -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=3, members=10, signals=240)
    with Emulator(seed=3, limits=Limits.unlimited(), clock=FrozenClock(), sample=org,
                  workspaces=(kind,)) as emulator:
        yield emulator


def config_data(emu: Emulator, kind: str, tmp_path: Path, **sync: int) -> dict[str, Any]:
    data = tomllib.loads(emu.config_toml(kind, store_path=str(tmp_path / "leadsync.db")))
    data["sync"] = {"full_every_days": 7, **sync}
    data["limits"] = {"notion_rps": 1000.0, "airtable_rps": 1000.0}  # no client-side pacing
    return data


def make_config(emu: Emulator, kind: str, tmp_path: Path, **sync: int) -> Config:
    return parse_config(config_data(emu, kind, tmp_path, **sync), source="<test>")


def tokens(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


class Upstream:
    """Edits the emulated workspace directly, as its users would."""

    def __init__(self, emu: Emulator, kind: str):
        self.emu, self.kind = emu, kind
        self.rng = random.Random(kind)
        self.edits = 0
        self.names: dict[str, str] = {}  # renamed fields: old name -> new

    def _table(self, table: str) -> str:
        if self.kind == "notion":
            return self.emu.notion.data_source_ids[table]
        return str(self.emu.airtable.sample_table_ids[table])

    def ids(self, table: str) -> set[str]:
        if self.kind == "notion":
            return {p["id"] for p in self.emu.notion.pages(self._table(table))}
        return {r["id"] for r in self.emu.airtable.get_records(
            self.emu.airtable.sample_base_id, self._table(table))}

    def insert_signal(self) -> str:
        indicator = self.rng.choice(sorted(INDICATORS))
        row: dict[str, Any] = {
            "Summary": f"inserted {self.rng.randrange(10**6)}",
            "Signal Type": INDICATORS[indicator], "Indicator": indicator,
            "Evidence": f"https://github.com/acme/web-app/pull/{self.rng.randrange(9999)}",
            "Impact": self.rng.choice(["Low", "Medium", "High"]),
        }
        if self.kind == "notion":
            person = self.rng.choice(sorted(self.emu.notion.member_user_ids.values()))
            row |= {"Team Member": [person], "Date": dt.date(2026, 10, 5)}
            return self.emu.notion.create_data_source_rows(self._table("signals"), [row])[0]
        member = self.rng.choice(sorted(self.emu.airtable.member_record_ids.values()))
        row |= {"Team Member": [member], "Date": "2026-10-05T00:00:00.000Z"}
        return self.emu.airtable.insert_records(self.emu.airtable.sample_base_id,
                                                self._table("signals"), [row],
                                                typecast=True)[0]

    def edit(self, table: str, row_id: str) -> None:
        self.edits += 1  # a unique value: writing a cell's current value is no edit
        impact = self.names.get("Impact", "Impact")
        values = ({"Summary": f"edited {self.edits}",
                   impact: self.rng.choice(["Low", "Medium", "High"])} if table == "signals"
                  else {"Working hours": f"0{self.rng.randint(7, 9)}:{self.edits % 60:02d}"
                                         "-17:00"})
        if self.kind == "notion":
            self.emu.notion.edit_page(row_id, values)
        else:
            self.emu.airtable.edit_record(self.emu.airtable.sample_base_id, self._table(table),
                                          row_id, values, typecast=True)

    def delete(self, table: str, row_id: str) -> None:
        if self.kind == "notion":
            self.emu.notion.trash_page(row_id)
        else:
            self.emu.airtable.delete_records(self.emu.airtable.sample_base_id,
                                             self._table(table), [row_id])

    def rename(self, table: str, old: str, new: str) -> None:
        self.names[old] = new
        if self.kind == "notion":
            self.emu.notion.rename_property(self._table(table), old, new)
        else:
            self.emu.airtable.rename_field(self.emu.airtable.sample_base_id, self._table(table),
                                           old, new)


def assert_store_equals_workspace(config: Config, emu: Emulator,
                                  deleted: frozenset[str] | set[str] = frozenset()) -> None:
    """The store holds what a live pull returns now: ids, values, frames, quarantine."""
    members = None
    with open_store(config.store.path) as store:
        for table in tables_to_sync(config):
            records = list(open_source(config, table, env=tokens(emu)).fetch())
            live = records_to_frame(table, records, members=members)
            if table == "members":
                members = live.frame

            def by_id(rows: list[Record]) -> dict[str, Record]:
                return {r.source_id: r for r in rows}

            stored = store.records(table)
            assert len(stored) == len(by_id(stored)), f"{table}: an id stored twice"
            assert by_id(stored) == by_id(records), f"{table}: rows differ from the workspace"
            got = store.frame(table).sort_values("source_id", ignore_index=True)
            want = live.frame.sort_values("source_id", ignore_index=True)
            assert got.equals(want), f"{table}: the frame differs from a live pull"
            assert set(store.quarantine(table)["source_id"]) == \
                set(live.quarantine["source_id"]), f"{table}: quarantine differs"
            known = store.known_ids(table)  # every stored id -> tombstoned or not
            tombs = {sid for sid, gone in known.items() if gone}
            assert tombs == {d for d in deleted if d in known}, table
            assert set(store.tombstones(table)["source_id"]) <= tombs


def test_the_first_sync_makes_the_store_equal_to_the_workspace(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = make_config(emu, kind, tmp_path)
    summary = run_sync(config, env=tokens(emu), progress=False)
    assert [t.table for t in summary.tables][:2] == ["members", "signals"]
    assert summary.tables[1].added == 240
    assert summary.tables[1].full_read
    assert summary.totals["rate_limited"] == 0
    assert_store_equals_workspace(config, emu)
    with open_store(config.store.path) as store:
        assert not store.quarantine("signals").empty  # the sample's malformed signals


def test_random_changes_upstream_are_followed_exactly(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = make_config(emu, kind, tmp_path, full_every_days=0)
    upstream = Upstream(emu, kind)
    clock = emu.clock
    assert isinstance(clock, FrozenClock)
    run_sync(config, env=tokens(emu), progress=False)
    rng = random.Random(11)
    deleted: set[str] = set()
    for _ in range(3):
        clock.advance(minutes=rng.randint(3, 90))
        for _ in range(rng.randint(1, 8)):
            upstream.insert_signal()
        signals = sorted(upstream.ids("signals"))
        for row_id in rng.sample(signals, 12):
            upstream.edit("signals", row_id)
        for row_id in rng.sample(sorted(upstream.ids("members")), 2):
            upstream.edit("members", row_id)
        gone = rng.sample(sorted(upstream.ids("signals")), rng.randint(1, 6))
        for row_id in gone:
            upstream.delete("signals", row_id)
        deleted |= set(gone)
        clock.advance(minutes=1)
        summary = run_sync(config, env=tokens(emu), progress=False)
        signals_summary = summary.tables[1]
        assert signals_summary.deleted == len(gone)
        assert signals_summary.reconciled
        assert_store_equals_workspace(config, emu, deleted)


def test_an_incremental_night_reads_only_the_changes(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = make_config(emu, kind, tmp_path)
    upstream = Upstream(emu, kind)
    clock = emu.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(hours=1)
    upstream.edit("signals", min(upstream.ids("signals")))  # the workspace is in use
    full = run_sync(config, env=tokens(emu), progress=False)
    clock.advance(days=1)
    for row_id in sorted(upstream.ids("signals"))[:5]:
        upstream.edit("signals", row_id)
    night = run_sync(config, env=tokens(emu), progress=False)
    signals = night.tables[1]
    assert (signals.updated, signals.added, signals.reconciled) == (5, 0, False)
    assert signals.unchanged <= 1  # the previous newest edit, inside the overlap
    assert night.totals["requests"] < full.totals["requests"]
    assert_store_equals_workspace(config, emu)


def test_a_property_renamed_after_the_first_sync_keeps_mapping(
        emu: Emulator, kind: str, tmp_path: Path) -> None:
    config = make_config(emu, kind, tmp_path)
    upstream = Upstream(emu, kind)
    clock = emu.clock
    assert isinstance(clock, FrozenClock)
    run_sync(config, env=tokens(emu), progress=False)
    upstream.rename("signals", "Impact", "Impact level")
    clock.advance(minutes=30)
    row_id = min(upstream.ids("signals"))
    upstream.edit("signals", row_id)
    summary = run_sync(config, env=tokens(emu), progress=False)  # config still says "Impact"
    assert summary.tables[1].updated == 1
    with open_store(config.store.path) as store:
        frame = store.frame("signals").set_index("source_id")
        assert frame.loc[row_id, "impact"] in ("Low", "Medium", "High")
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.field_names["impact"] == "Impact"


# ---------------------------------------------------------------------------
# Bad input, through the command


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("LEADSYNC_CRASH_AT", raising=False)
    return CliRunner()


def write_config(path: Path, data: dict[str, Any]) -> None:
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f'{k} = {value(x)}' for k, x in v.items()) + " }"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return str(v).lower() if isinstance(v, bool) else str(v)

    lines: list[str] = []
    for section in ("workspace", "store", "sync", "limits"):
        lines += [f"[{section}]", *(f"{k} = {value(v)}" for k, v in data[section].items()), ""]
    for table, spec in data["tables"].items():
        lines += [f"[tables.{table}]", *(f"{k} = {value(v)}" for k, v in spec.items()), ""]
    path.write_text("\n".join(lines))


def invoke(runner: CliRunner, config: Path, emu: Emulator, *args: str,
           env: dict[str, str] | None = None) -> Result:
    return runner.invoke(main, ["--config", str(config), "sync", *args],
                         env=env if env is not None else tokens(emu))


def one_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("leadsync: error: ")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0]
    assert "Traceback" not in result.stderr
    return errors[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_input_is_one_line_the_right_code_and_an_untouched_store(
        emu: Emulator, kind: str, tmp_path: Path, runner: CliRunner) -> None:
    data = config_data(emu, kind, tmp_path)
    config = tmp_path / "leadsync.toml"
    write_config(config, data)
    store = tmp_path / "leadsync.db"
    assert invoke(runner, config, emu).exit_code == 0
    before = store.read_bytes()
    upstream = Upstream(emu, kind)
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(minutes=10)
    upstream.edit("signals", min(upstream.ids("signals")))  # must not land
    variable = "NOTION_TOKEN" if kind == "notion" else "AIRTABLE_TOKEN"

    # a wrong token
    result = invoke(runner, config, emu, env={**tokens(emu), variable: "ntn_wrong_token_1234"})
    assert result.exit_code == 1, result.stderr
    assert "ntn_wrong_token_1234" not in result.stderr
    assert f"{kind}: " in one_error(result)
    assert store.read_bytes() == before

    # a deleted database / table
    broken = {**data, "tables": {**data["tables"]}}
    if kind == "notion":
        broken["tables"]["signals"] = {**data["tables"]["signals"],
                                       "notion_database": "0f0e0d0c0b0a49f8a7b6c5d4e3f2a1b0"}
    else:
        broken["tables"]["signals"] = {**data["tables"]["signals"],
                                       "airtable_table": "tblDeletedTable00"}
    write_config(config, broken)
    result = invoke(runner, config, emu)
    assert result.exit_code == 1, result.stderr
    message = one_error(result).lower()
    assert any(words in message for words in ("could not find", "not found", "has no table"))
    assert store.read_bytes() == before

    # a mapped field that never existed
    broken = {**data, "tables": {**data["tables"]}}
    broken["tables"]["signals"] = {**data["tables"]["signals"],
                                   "fields": {**data["tables"]["signals"]["fields"],
                                              "impact": "Impakt"}}
    write_config(config, broken)
    result = invoke(runner, config, emu)
    assert result.exit_code == 1, result.stderr
    assert "Impakt" in one_error(result)
    assert store.read_bytes() == before

    # an unreachable API: transient, cron may retry
    url_key = "notion_base_url" if kind == "notion" else "airtable_endpoint_url"
    unreachable = {**data, "workspace": {**data["workspace"],
                                         url_key: f"http://127.0.0.1:{closed_port()}"}}
    write_config(config, unreachable)
    result = invoke(runner, config, emu)
    assert result.exit_code == 75, result.stderr
    one_error(result)
    assert store.read_bytes() == before

    # a corrupt store
    write_config(config, data)
    damaged = bytearray(before)
    damaged[4096:3 * 4096] = b"\x13\x37" * 4096
    store.write_bytes(bytes(damaged))
    result = invoke(runner, config, emu)
    assert result.exit_code == 1
    assert f"{store}: the store is damaged" in one_error(result)
    assert store.read_bytes() == bytes(damaged)


@pytest.mark.parametrize("kind", ["airtable"])
def test_an_airtable_listing_whose_offset_keeps_expiring_exits_75(
        emu: Emulator, kind: str, tmp_path: Path, runner: CliRunner) -> None:
    """Issue 15, defect 1: an iterator that keeps expiring is transient upstream trouble."""
    config = tmp_path / "leadsync.toml"
    write_config(config, config_data(emu, kind, tmp_path))
    emu.faults.add(Fault("expire_offset", route="airtable.*", rate=1.0))
    result = invoke(runner, config, emu)
    assert result.exit_code == 75, result.stderr
    line = one_error(result)
    assert "offset expired" in line
    assert "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" in line
    with open_store(tmp_path / "leadsync.db") as store:
        assert store.runs()["status"].iloc[0] == "failed"
        assert store.cursor("signals") is None  # nothing claims the table was read

    # the iterator comes back: the next run (cron's retry) syncs it all
    emu.faults.clear()
    result = invoke(runner, config, emu)
    assert result.exit_code == 0, result.stderr
    with open_store(tmp_path / "leadsync.db") as store:
        assert len(store.frame("signals")) + len(store.quarantine("signals")) == 240


@pytest.mark.parametrize("point", ["batch-mid:signals", "cursor-before-commit:signals",
                                   "reconcile-mid:signals"])
def test_a_sync_killed_mid_way_resumes_exactly(emu: Emulator, kind: str, tmp_path: Path,
                                               point: str) -> None:
    """SIGKILL inside a real ``leadsync sync`` talking to the emulator, then a rerun."""
    data = config_data(emu, kind, tmp_path, full_every_days=0)
    config_file = tmp_path / "leadsync.toml"
    write_config(config_file, data)
    config = parse_config(data, source="<test>")
    run_sync(config, env=tokens(emu), progress=False)
    upstream = Upstream(emu, kind)
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(minutes=30)
    for _ in range(3):
        upstream.insert_signal()
    rng = random.Random(point)
    for row_id in rng.sample(sorted(upstream.ids("signals")), 10):
        upstream.edit("signals", row_id)
    gone = set(rng.sample(sorted(upstream.ids("signals")), 4))
    for row_id in gone:
        upstream.delete("signals", row_id)
    leadsync = shutil.which("leadsync", path=str(Path(sys.executable).parent))
    assert leadsync is not None
    child = subprocess.run([leadsync, "-c", str(config_file), "sync"], capture_output=True,
                           text=True, timeout=120,
                           env={**os.environ, **tokens(emu), "LEADSYNC_CRASH_AT": point})
    assert child.returncode == -signal.SIGKILL, child.stderr
    run_sync(config, env=tokens(emu), progress=False)
    assert_store_equals_workspace(config, emu, gone)
    with open_store(config.store.path) as store:
        assert list(store.runs()["status"]) == ["ok", "interrupted", "ok"]
