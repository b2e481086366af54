"""The store's record of pushes (schema 4): the 3-to-4 migration and the ledger's round trip."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from leadsync import open_store
from leadsync.errors import StoreError
from leadsync.store import PushEntry, Store
from leadsync.store_schema import APPLICATION_ID, SCHEMA_VERSION, V3_SCHEMA

T0 = "2026-10-01T08:00:00.000000+00:00"


def schema_of(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                        "ORDER BY name").fetchall()
    conn.close()
    return rows


def make_v3_store(path: Path) -> None:
    """A store as leadsync wrote it before pushes were recorded (schema 3), by raw SQL."""
    conn = sqlite3.connect(path)
    for statement in V3_SCHEMA:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO meta VALUES ('created_by', '0.2.0')")
    conn.execute("INSERT INTO records VALUES ('members', 'mem-1', ?, NULL, ?, ?, ?, ?, NULL)",
                 ('{"name": "Ana Lima"}', T0, T0, T0, T0))
    conn.execute("INSERT INTO runs (started_at, finished_at, status, pid, added, requests) "
                 "VALUES (?, ?, 'ok', 7, 1, 2)", (T0, T0))
    conn.commit()
    conn.close()


def test_a_v3_store_gains_the_pushes_table_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    make_v3_store(path)
    with open_store(path) as store:
        assert list(store.frame("members")["name"]) == ["Ana Lima"]
        assert list(store.runs()["requests"]) == [2]
        assert store.push_entries() == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert "migrated_from_3" in dict(conn.execute("SELECT key, value FROM meta"))
    conn.close()
    fresh = tmp_path / "fresh.db"
    Store.open(fresh, create=True, writable=True).close()
    assert schema_of(path) == schema_of(fresh)


def test_a_push_entry_round_trips_and_is_replaced_by_key(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    started = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    entry = PushEntry("notion", "report", "2026-10", "page-1", "creating", None, None,
                      {"blocks": []}, started)
    with Store.open(path, create=True, writable=True) as store:
        store.save_push(entry)
        done = PushEntry("notion", "report", "2026-10", "page-1", "done", "abc", "page-2",
                         {"blocks": [["b1", "h1"]], "bot": "u1"}, started,
                         started + dt.timedelta(seconds=5))
        store.save_push(done)
        store.save_push(PushEntry("airtable", "report", "2026-10", "app1", "writing", None,
                                  "rec1", {}, started))
    with open_store(path) as store:
        assert store.push_entry("notion", "report", "2026-10", "page-1") == done
        assert store.push_entry("notion", "report", "2026-09", "page-1") is None
        assert store.push_entry("notion", "report", "2026-10", "elsewhere") is None
        assert len(store.push_entries("report")) == 2
        with pytest.raises(StoreError, match="read-only"):
            store.save_push(entry)
    with Store.open(path, writable=True) as store:
        store.forget_push("notion", "report", "2026-10", "page-1")
        assert store.push_entry("notion", "report", "2026-10", "page-1") is None
        assert [e.service for e in store.push_entries()] == ["airtable"]


def test_a_status_outside_the_three_is_refused_by_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    started = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    with Store.open(path, create=True, writable=True) as store, \
            pytest.raises(sqlite3.IntegrityError):
        store.save_push(PushEntry("notion", "report", "2026-10", "p", "half", None, None, {},
                                  started))
