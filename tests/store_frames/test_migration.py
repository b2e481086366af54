"""A store written before typed columns (schema 4) is upgraded on first open and reads the same."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from leadsync import open_store, store_frames
from leadsync.errors import StoreError
from leadsync.store import Store
from leadsync.store_schema import SCHEMA_VERSION, V4_SCHEMA
from leadsync.sync import run_sync
from leadsync.testing import FAKE_TOKEN, FakeWorkspace

from .oracle import oracle_frame
from .test_equivalence import assert_reads_like_the_oracle, kept, pending, written_store

ENV = {"NOTION_TOKEN": FAKE_TOKEN}


def schema_of(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                        "ORDER BY name").fetchall()
    conn.close()
    return rows


def as_schema_4(path: Path) -> None:
    """Turn a store into the one leadsync wrote at schema 4: the same rows, cursors, runs
    and quarantine, no typed columns (checked against :data:`V4_SCHEMA`)."""
    conn = sqlite3.connect(path)
    for name in ("records_changed_insert", "records_changed_update", "records_changed_delete"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE frames")
    conn.execute("DROP TABLE frame_changes")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    reference = path.with_name("v4-reference.db")
    ddl = sqlite3.connect(reference)
    for statement in V4_SCHEMA:
        ddl.execute(statement)
    ddl.commit()
    ddl.close()
    assert schema_of(path) == schema_of(reference)


def test_a_schema_4_store_is_upgraded_on_open_and_reads_the_same(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=8, signals=250, seed=5, bad_rate=0.1)
    path = tmp_path / "leadsync.db"
    config = ws.config(path, full_every_days=0)
    run_sync(config, sources=ws.open_source, env=ENV, progress=False)
    ws.tick(minutes=3)
    ws.mutate(random.Random(5), inserts=10, edits=20, deletes=10, tables=("members", "signals"))
    run_sync(config, sources=ws.open_source, env=ENV, progress=False)
    before = {t: oracle_frame(path, t, include_deleted=True) for t in ("members", "signals")}
    as_schema_4(path)

    with open_store(path) as store:  # a reader's first open migrates
        for table, frame in before.items():
            assert store.frame(table, include_deleted=True).equals(frame)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert "migrated_from_4" in dict(conn.execute("SELECT key, value FROM meta"))
    stored = dict(conn.execute("SELECT table_name, count(*) FROM records GROUP BY table_name"))
    conn.close()
    # The columns were built by the migration: every stored row, nothing pending.
    assert kept(path) == {t: (store_frames.frame_format(), n) for t, n in stored.items()}
    assert pending(path) == 0
    assert_reads_like_the_oracle(path, ("members", "signals"))
    fresh = tmp_path / "fresh.db"
    Store.open(fresh, create=True, writable=True).close()
    assert schema_of(path) == schema_of(fresh)

    # The next sync after the upgrade keeps the columns current.
    ws.tick(minutes=3)
    ws.mutate(random.Random(6), inserts=5, edits=5, deletes=5, tables=("members", "signals"))
    run_sync(config, sources=ws.open_source, env=ENV, progress=False)
    assert_reads_like_the_oracle(path, ("members", "signals"))


def test_every_table_of_a_schema_4_store_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    written_store(path, 41)
    tables = set(kept(path))
    as_schema_4(path)
    with open_store(path):
        pass
    assert set(kept(path)) == tables
    assert_reads_like_the_oracle(path)


def test_a_dry_run_leaves_a_schema_4_store_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    written_store(path, 42)
    as_schema_4(path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="needs an upgrade"):
        Store.open(path, upgrade=False)
    assert path.read_bytes() == before
