"""The local store: file safety, the writer's lock, lossless values, schema migration."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync import open_store
from leadsync.errors import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    exit_code_for,
    is_transient,
)
from leadsync.store import Store, SyncLock
from leadsync.store_codec import decode_values, encode_values
from leadsync.store_schema import APPLICATION_ID, SCHEMA_VERSION, V2_SCHEMA
from leadsync.sync import run_sync
from leadsync.tables import MemberRef
from leadsync.testing import FAKE_TOKEN, FakeWorkspace

ENV = {"NOTION_TOKEN": FAKE_TOKEN}


def synced_store(tmp_path: Path, **sample: int) -> tuple[FakeWorkspace, Path]:
    ws = FakeWorkspace.sample(**sample)
    path = tmp_path / "leadsync.db"
    run_sync(ws.config(path), sources=ws.open_source, env=ENV, progress=False)
    return ws, path


# ---------------------------------------------------------------------------
# Values


def test_every_kind_of_value_survives_the_store() -> None:
    values = {
        "member": MemberRef("relation", "abc", "Ana", "ana@example.org"),
        "person": MemberRef("person", "u-1"),
        "aware": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        "naive": dt.datetime(2026, 3, 29, 1, 30, 15, 123456),
        "day": dt.date(2026, 2, 28),
        "stamp": pd.Timestamp("2026-01-01T00:00:00.000000001Z"),
        "approvers": (MemberRef("text", "Bo"), MemberRef("person", "u-2", email="b@x.org")),
        "list": [1, "two", None, 3.5],
        "mapping": {"$dt": "not a tag", "n": 1},
        "money": decimal.Decimal("1.10"),
        "flag": True, "count": 3, "none": None, "text": "ünïcödé ✓",
    }
    text = encode_values(values)
    back = decode_values(text)
    assert back == values
    assert isinstance(back["member"], MemberRef)
    assert isinstance(back["approvers"], tuple)
    assert back["stamp"].nanosecond == 1
    assert back["aware"].utcoffset() == dt.timedelta(hours=5)
    assert encode_values(back) == text  # canonical: the comparison the sync relies on


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(),
    st.floats(allow_nan=False), st.dates(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-3))])),
    st.builds(MemberRef, st.sampled_from(["person", "relation", "text"]), st.text(),
              st.none() | st.text(), st.none() | st.text()),
)


@given(st.dictionaries(st.text(), st.one_of(_scalars, st.lists(_scalars, max_size=3),
                                            st.tuples(_scalars, _scalars))))
def test_values_round_trip_exactly(values: dict[str, object]) -> None:
    text = encode_values(values)
    assert decode_values(text) == values
    assert encode_values(decode_values(text)) == text


# ---------------------------------------------------------------------------
# The file


def test_a_new_store_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical umask would give 0644
    try:
        _, path = synced_store(tmp_path)
        with Store.open(path, writable=True) as store:
            store.begin_run(full=False, tables=["signals"], now=dt.datetime.now(dt.UTC))
            reader = open_store(path)
            assert len(reader.frame("signals")) > 0
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")]
            for file in files:
                assert file.exists(), file
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
            reader.close()
    finally:
        os.umask(old)


def test_the_store_is_wal_with_full_sync(tmp_path: Path) -> None:
    _, path = synced_store(tmp_path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_open_store_without_a_store_says_to_sync(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store here yet; run `leadsync sync`"):
        open_store(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("content", [b"hello, this is a CSV,1,2\n" * 50, b"\x00" * 4096,
                                     b"SQLite format 2\x00" + b"x" * 5000])
def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "leadsync.db"
    path.write_bytes(content)
    for opener in (lambda: Store.open(path, create=True, writable=True, check=True),
                   lambda: open_store(path)):
        with pytest.raises(StoreCorruptError, match=f"{path}: not a leadsync store"):
            opener()
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leadsync.db"]


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreCorruptError, match="an SQLite database of another application"):
        Store.open(path, create=True, writable=True, check=True)
    assert path.read_bytes() == before


def test_a_damaged_store_is_refused_untouched(tmp_path: Path) -> None:
    _, path = synced_store(tmp_path, signals=400)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[3 * page:5 * page] = os.urandom(2 * page)  # two pages of b-tree garbage
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=f"{path}: the store is damaged"):
        Store.open(path, create=True, writable=True, check=True)
    assert path.read_bytes() == bytes(data)


def test_a_store_from_a_newer_leadsync_is_refused(tmp_path: Path) -> None:
    _, path = synced_store(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="written by a newer leadsync"):
        open_store(path)


def test_a_reader_cannot_write(tmp_path: Path) -> None:
    _, path = synced_store(tmp_path)
    with open_store(path) as reader:
        with pytest.raises(StoreError, match="read-only"):
            reader.begin_run(full=False, tables=[], now=dt.datetime.now(dt.UTC))
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM records")


# ---------------------------------------------------------------------------
# The lock


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    with SyncLock(path):
        with pytest.raises(StoreLockedError) as info:
            SyncLock(path).acquire()
        message = str(info.value)
        assert message.startswith(f"another leadsync sync is running (pid {os.getpid()}, "
                                  "started ")
        assert message.endswith("Z); exiting")
        assert exit_code_for(info.value) == 75
        assert is_transient(info.value)
    with SyncLock(path):  # released on exit
        pass


def test_a_killed_holder_never_blocks_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from leadsync.store import SyncLock; "
         "SyncLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)",
         str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockedError, match=f"pid {holder.pid}"):
            SyncLock(path).acquire()
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 10
        while True:  # the kernel drops the lock as the process goes
            try:
                SyncLock(path).acquire().release()
                break
            except StoreLockedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------------------
# Reading


def test_frames_tombstones_and_runs_read_back(tmp_path: Path) -> None:
    ws, path = synced_store(tmp_path, signals=50)
    gone = sorted(ws.live_ids("signals"))[:2]
    for sid in gone:
        ws.delete("signals", sid)
    run_sync(ws.config(path), sources=ws.open_source, env=ENV, progress=False, full=True)
    with open_store(path) as store:
        live = store.frame("signals")
        assert not set(gone) & set(live["source_id"])
        everything = store.frame("signals", include_deleted=True)
        assert len(everything) == len(live) + 2
        assert str(everything["deleted_at"].dtype) == "datetime64[ns, UTC]"
        tomb = store.tombstones("signals")
        assert sorted(tomb["source_id"]) == gone
        assert tomb["deleted_at"].notna().all()
        assert list(store.runs()["status"]) == ["ok", "ok"]
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.since is not None
        assert cursor.field_ids["member_id"].startswith("fld")
        assert store.cursor("reviews") is None
        assert "signals 48 rows (2 deleted" in repr(store)


# ---------------------------------------------------------------------------
# Migration


def make_v1_store(path: Path) -> None:
    """A store as leadsync wrote schema 1, by raw SQL."""
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 1;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE records (
            table_name TEXT NOT NULL, source_id TEXT NOT NULL, values_json TEXT NOT NULL,
            created_time TEXT, last_edited_time TEXT, updated_at TEXT NOT NULL,
            PRIMARY KEY (table_name, source_id));
        CREATE TABLE tombstones (
            table_name TEXT NOT NULL, source_id TEXT NOT NULL, values_json TEXT NOT NULL,
            created_time TEXT, last_edited_time TEXT, deleted_at TEXT NOT NULL,
            PRIMARY KEY (table_name, source_id));
        CREATE TABLE cursors (table_name TEXT PRIMARY KEY, since TEXT, updated_at TEXT NOT NULL);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
            status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
            pid INTEGER NOT NULL, added INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, error TEXT);
        CREATE TABLE quarantine (
            table_name TEXT NOT NULL, source_id TEXT, reason TEXT NOT NULL, record TEXT,
            seen_at TEXT NOT NULL);
        INSERT INTO meta VALUES ('created_by', '0.0.9');
    """)
    t0 = "2026-10-01T08:00:00.000000+00:00"
    member = encode_values({"name": "Ana Lima", "email": "ana@example.org",
                            "timezone": "America/Sao_Paulo", "is_leader": True})
    signal = encode_values({"member_id": MemberRef("relation", "mem-1"),
                            "signal_type": "Technical", "date": dt.date(2026, 9, 30),
                            "impact": "High", "evidence": "https://git.example.org/pr/1"})
    old_signal = encode_values({"member_id": MemberRef("relation", "mem-1"),
                                "signal_type": "Operational", "date": dt.date(2026, 1, 5),
                                "impact": "Low"})
    conn.executemany("INSERT INTO records VALUES ('members', ?, ?, ?, ?, ?)",
                     [("mem-1", member, t0, t0, t0)])
    conn.executemany("INSERT INTO records VALUES ('signals', ?, ?, ?, ?, ?)",
                     [("sig-1", signal, t0, t0, t0), ("sig-3", signal, t0, t0, t0)])
    conn.executemany("INSERT INTO tombstones VALUES ('signals', ?, ?, ?, ?, ?)",
                     [("sig-2", old_signal, t0, t0, "2026-10-02T03:00:00.000000+00:00"),
                      ("sig-3", old_signal, t0, t0, "2026-09-02T03:00:00.000000+00:00")])
    conn.executemany("INSERT INTO cursors VALUES (?, ?, ?)",
                     [("members", t0, t0), ("signals", t0, t0)])
    conn.executemany("INSERT INTO runs (started_at, finished_at, status, pid, added) "
                     "VALUES (?, ?, ?, ?, ?)",
                     [(t0, t0, "ok", 11, 3), (t0, None, "running", 12, 0)])
    conn.executemany("INSERT INTO quarantine VALUES ('signals', 'sig-9', ?, '{}', ?)",
                     [("impact 'Huge' is not one of Low, Medium, High", t0),
                      ("impact 'Huge' is not one of Low, Medium, High",
                       "2026-10-02T00:00:00.000000+00:00")])
    conn.commit()
    conn.close()


def schema_of(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    out = {name: conn.execute(f"PRAGMA index_xinfo({name})").fetchall()
           if name.endswith("_state") else conn.execute(f"PRAGMA table_xinfo({name})").fetchall()
           for name in names}
    conn.close()
    return out


def test_a_v1_store_is_migrated_on_open_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_v1_store(path)
    with open_store(path) as store:
        members = store.frame("members")
        assert list(members["name"]) == ["Ana Lima"]
        signals = store.frame("signals", include_deleted=True).set_index("source_id")
        assert sorted(signals.index) == ["sig-1", "sig-2", "sig-3"]
        assert signals.loc["sig-1", "member_id"] == "mem-1"  # resolved against members
        assert pd.isna(signals.loc["sig-1", "deleted_at"])
        assert signals.loc["sig-2", "deleted_at"] == pd.Timestamp("2026-10-02T03:00Z")
        assert signals.loc["sig-2", "impact"] == "Low"  # the tombstone keeps its values
        assert pd.isna(signals.loc["sig-3", "deleted_at"])  # live again: the live row wins
        assert signals.loc["sig-3", "impact"] == "High"
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.since == dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
        assert cursor.reconciled_at is None  # the first v2 run reconciles
        assert cursor.quarantine_stale
        runs = store.runs()
        assert list(runs["status"]) == ["interrupted", "ok"]
        assert list(runs["added"]) == [0, 3]
        quarantine = store.quarantine()
        assert list(quarantine["source_id"]) == ["sig-9"]
        assert quarantine["seen_at"][0] == pd.Timestamp("2026-10-02T00:00Z")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert dict(conn.execute("SELECT key, value FROM meta"))["created_by"] == "0.0.9"
    conn.close()
    fresh = tmp_path / "fresh.db"
    Store.open(fresh, create=True, writable=True).close()
    assert schema_of(path) == schema_of(fresh)


def make_v2_store(path: Path) -> None:
    """A store as leadsync wrote it before schema snapshots (schema 2), by raw SQL."""
    conn = sqlite3.connect(path)
    for statement in V2_SCHEMA:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    t0, t1 = "2026-10-01T08:00:00.000000+00:00", "2026-10-02T03:00:00.000000+00:00"
    member = encode_values({"name": "Ana Lima", "email": "ana@example.org",
                            "timezone": "America/Sao_Paulo", "is_leader": True})
    signal = encode_values({"member_id": MemberRef("relation", "mem-1"),
                            "signal_type": "Technical", "date": dt.date(2026, 9, 30),
                            "impact": "High", "evidence": "https://git.example.org/pr/1"})
    conn.execute("INSERT INTO meta VALUES ('created_by', '0.1.0')")
    conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        ("members", "mem-1", member, None, t0, t0, t0, t0, None),
        ("signals", "sig-1", signal, None, t0, t1, t0, t1, None),
        ("signals", "sig-2", signal, None, t0, t0, t0, t1, t1),
    ])
    conn.executemany("INSERT INTO cursors VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        ("members", t0, 120.0, '{"name": "fldN"}', '{"name": "Name"}', t0, 0, t0),
        ("signals", t1, 120.0, '{"impact": "fldI"}', '{"impact": "Impact"}', t0, 1, t1),
    ])
    conn.execute("INSERT INTO runs (started_at, finished_at, status, pid, added, requests) "
                 "VALUES (?, ?, 'ok', 7, 3, 9)", (t0, t0))
    conn.execute("INSERT INTO quarantine VALUES ('signals', 'sig-9', 'bad impact', '{}', ?)",
                 (t0,))
    conn.commit()
    conn.close()


def test_a_v2_store_is_migrated_on_open_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    make_v2_store(path)
    with open_store(path) as store:
        assert list(store.frame("members")["name"]) == ["Ana Lima"]
        signals = store.frame("signals", include_deleted=True).set_index("source_id")
        assert signals.loc["sig-1", "member_id"] == "mem-1"
        assert signals.loc["sig-2", "deleted_at"] == pd.Timestamp("2026-10-02T03:00Z")
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.since == dt.datetime(2026, 10, 2, 3, tzinfo=dt.UTC)
        assert cursor.lag == dt.timedelta(minutes=2)
        assert (cursor.field_ids, cursor.field_names) == ({"impact": "fldI"},
                                                          {"impact": "Impact"})
        assert cursor.reconciled_at == dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)
        assert cursor.quarantine_stale
        assert cursor.schema_snapshot is None  # the next run reads the schema
        assert list(store.runs()["requests"]) == [9]
        assert list(store.quarantine()["source_id"]) == ["sig-9"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "migrated_from_2" in dict(conn.execute("SELECT key, value FROM meta"))
    conn.close()
    fresh = tmp_path / "fresh.db"
    Store.open(fresh, create=True, writable=True).close()
    assert schema_of(path) == schema_of(fresh)


def test_a_schema_snapshot_is_kept_with_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    make_v2_store(path)
    snapshot = {"pin": {"kind": "airtable"}, "schema": {"fields": [{"id": "fldI"}]}}
    now = dt.datetime(2026, 10, 3, tzinfo=dt.UTC)
    with Store.open(path, writable=True) as store:
        store.commit_cursor("signals", since=now, lag=dt.timedelta(minutes=2),
                            field_ids={"impact": "fldI"}, field_names={"impact": "Impact"},
                            finish=False, now=now, schema_snapshot=snapshot)
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.schema_snapshot == snapshot
        # a connector that gives no snapshot leaves the last one
        store.commit_cursor("signals", since=now, lag=dt.timedelta(minutes=2),
                            field_ids=None, field_names=None, finish=False, now=now)
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.schema_snapshot == snapshot
        assert cursor.field_ids == {"impact": "fldI"}


def test_a_migration_cut_short_leaves_the_old_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_v1_store(path)

    def boom(name: str, table: str | None = None) -> None:
        if name == "migrate-mid":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        Store.open(path, writable=True, checkpoint=boom)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 2
    conn.close()
    with open_store(path) as store:
        assert len(store.tombstones("signals")) == 1


def test_a_dry_run_never_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    make_v1_store(path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="needs an upgrade"):
        Store.open(path, upgrade=False)
    assert path.read_bytes() == before
