"""The sync against the in-memory workspace: equality, increments, deletions, quarantine."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from leadsync import open_store
from leadsync.config import Config
from leadsync.errors import ConfigError, SchemaError, UpstreamError
from leadsync.sync import SyncSummary, run_sync
from leadsync.tables import MemberRef
from leadsync.testing import FAKE_TOKEN, FakeWorkspace, compare_store

ENV = {"NOTION_TOKEN": FAKE_TOKEN}


class Clock:
    """The local clock the sync stamps with (reconciliation schedule)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 3, 17, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def sync(ws: FakeWorkspace, path: Path, clock: Clock | None = None, *,
         config: Config | None = None, full_every_days: int = 7, **kwargs: Any) -> SyncSummary:
    """``run_sync`` from ``ws`` (with a config mapping its current field names by default)."""
    config = config or ws.config(path, full_every_days=full_every_days)
    return run_sync(config, sources=ws.open_source, env=ENV, progress=False,
                    clock=clock or Clock(), **kwargs)


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_the_first_sync_makes_the_store_equal_to_the_workspace(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=8, signals=450, seed=3)
    path = tmp_path / "leadsync.db"
    summary = sync(ws, path)
    with open_store(path) as store:
        assert compare_store(store, ws) == []
        assert len(store.quarantine("signals")) > 0  # the sample has bad rows
    signals = summary.tables[1]
    assert (signals.table, signals.added, signals.full_read, signals.reconciled) == \
        ("signals", 450, True, True)
    assert signals.requests == 1 + 5  # the schema, then 450 rows in pages of 100
    assert summary.totals["added"] == 458
    assert summary.status == "ok"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_upstream_changes_are_followed_exactly(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ws = FakeWorkspace.sample(members=6, signals=300, seed=seed)
    path = tmp_path / "leadsync.db"
    sync(ws, path, full_every_days=0)
    ever_deleted: set[str] = set()
    for _ in range(4):
        ws.tick(minutes=rng.randint(0, 30), seconds=rng.randint(0, 59))
        touched = ws.mutate(rng, inserts=rng.randint(0, 15), edits=rng.randint(0, 25),
                            deletes=rng.randint(0, 10), tables=("members", "signals"))
        ever_deleted |= set(touched["deleted"])
        summary = sync(ws, path, full_every_days=0)
        with open_store(path) as store:
            assert compare_store(store, ws) == []
            assert set(store.tombstones("signals")["source_id"]) | set(
                store.tombstones("members")["source_id"]) <= ever_deleted
        assert summary.totals["deleted"] == len({
            sid for sid in touched["deleted"] if sid not in touched["inserted"]})


def test_an_incremental_run_reads_only_what_changed(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=6, signals=1000, seed=4)
    path = tmp_path / "leadsync.db"
    clock = Clock()
    full = sync(ws, path, clock)
    ws.tick(minutes=30)
    ws.mutate(random.Random(1), inserts=1, edits=2, deletes=0)
    clock.now += dt.timedelta(days=1)
    incremental = sync(ws, path, clock)
    signals = incremental.tables[1]
    assert (signals.added, signals.updated) == (1, 2)
    assert signals.unchanged < 20  # only the rows inside the overlap are read again
    assert not signals.reconciled
    assert incremental.totals["requests"] == 4  # schema + one page, per table
    assert full.totals["requests"] == 2 + 11
    with open_store(path) as store:
        assert compare_store(store, ws) == []


def test_unchanged_rows_are_not_rewritten(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=50, seed=5)
    path = tmp_path / "leadsync.db"
    sync(ws, path)
    before = raw(path, "SELECT source_id, updated_at FROM records ORDER BY 1")
    summary = sync(ws, path, full=True)
    assert summary.totals["unchanged"] == 56
    assert summary.totals["added"] + summary.totals["updated"] == 0
    assert raw(path, "SELECT source_id, updated_at FROM records ORDER BY 1") == before


def test_an_edit_later_in_the_cursors_minute_is_not_missed(tmp_path: Path) -> None:
    """Notion rounds edit times down to the minute: the overlap re-reads that minute."""
    ws = FakeWorkspace.sample(signals=20, seed=6)
    path = tmp_path / "leadsync.db"
    ws.now = ws.now.replace(second=5)
    sid = ws.insert("signals", {**ws.tables["signals"].rows[min(ws.live_ids("signals"))].values})
    sync(ws, path)
    ws.tick(seconds=40)  # same minute: the edit carries the cursor's own time
    ws.edit("signals", sid, impact="Low", notes="edited in the same minute")
    summary = sync(ws, path)
    assert summary.tables[1].updated == 1
    with open_store(path) as store:
        assert compare_store(store, ws) == []


def test_a_late_commit_inside_the_lag_is_caught(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=20, seed=7)
    path = tmp_path / "leadsync.db"
    sync(ws, path)
    late = ws.insert("signals", {**ws.tables["signals"].rows[min(ws.live_ids("signals"))].values})
    ws.tables["signals"].rows[late].last_edited_time -= dt.timedelta(seconds=90)
    assert sync(ws, path).tables[1].added == 1  # within the 120 s overlap
    with open_store(path) as store:
        assert compare_store(store, ws) == []


def test_a_row_the_cursor_missed_is_found_by_reconciliation(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=150, seed=8)
    path = tmp_path / "leadsync.db"
    sync(ws, path)
    ws.tick(minutes=20)
    old = ws.insert("signals", {**ws.tables["signals"].rows[min(ws.live_ids("signals"))].values})
    ws.tables["signals"].rows[old].last_edited_time -= dt.timedelta(days=3)
    first = sync(ws, path)
    assert first.tables[1].added == 0  # too old for the cursor, and no reconciliation due
    summary = sync(ws, path, full_every_days=0)
    signals = summary.tables[1]
    assert (signals.added, signals.reconciled, signals.full_read) == (1, True, True)
    with open_store(path) as store:
        assert compare_store(store, ws) == []


def test_deletions_wait_for_the_reconciliation_schedule(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=60, seed=9)
    path = tmp_path / "leadsync.db"
    clock = Clock()
    sync(ws, path, clock)
    gone = min(ws.live_ids("signals"))
    ws.delete("signals", gone)
    for day in range(1, 7):
        clock.now += dt.timedelta(days=1)
        summary = sync(ws, path, clock)
        assert not summary.tables[1].reconciled, day
        assert summary.tables[1].deleted == 0
    clock.now += dt.timedelta(days=1) - dt.timedelta(minutes=5)  # cron started a bit early
    summary = sync(ws, path, clock)
    assert summary.tables[1].reconciled
    assert summary.tables[1].deleted == 1
    with open_store(path) as store:
        tomb = store.tombstones("signals")
        assert list(tomb["source_id"]) == [gone]
        assert tomb["deleted_at"][0] == clock.now
        assert compare_store(store, ws) == []


def test_a_deleted_row_that_comes_back_is_revived(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=30, seed=10)
    path = tmp_path / "leadsync.db"
    sync(ws, path)
    a, b = sorted(ws.live_ids("signals"))[:2]
    ws.delete("signals", a)
    ws.delete("signals", b)
    assert sync(ws, path, full=True).tables[1].deleted == 2
    ws.tick(minutes=10)
    ws.restore("signals", a)  # restored with a new edit time: the pull brings it back
    ws.restore("signals", b, touch=False)  # restored silently: only the listing shows it
    summary = sync(ws, path, full_every_days=0)
    assert summary.tables[1].revived == 2
    with open_store(path) as store:
        assert store.tombstones("signals").empty
        assert compare_store(store, ws) == []


def test_a_member_added_late_releases_the_signals_that_named_them(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=3, signals=10, seed=11, bad_rate=0)
    path = tmp_path / "leadsync.db"
    orphan = ws.insert("signals", {**ws.tables["signals"].rows[min(ws.live_ids("signals"))]
                                   .values, "member_id": MemberRef("relation", "mem-new")})
    sync(ws, path)
    with open_store(path) as store:
        (reason,) = store.quarantine("signals")["reason"]
        assert "matches no member" in reason
        assert orphan not in set(store.frame("signals")["source_id"])
    ws.tick(minutes=5)
    ws.insert("members", {"name": "Late Joiner", "email": "late@example.org"},
              source_id="mem-new")
    summary = sync(ws, path)
    assert summary.tables[1].added + summary.tables[1].updated == 0  # signals untouched
    with open_store(path) as store:
        assert store.quarantine("signals").empty
        frame = store.frame("signals").set_index("source_id")
        assert frame.loc[orphan, "member_id"] == "mem-new"
        assert compare_store(store, ws) == []


def test_a_renamed_field_keeps_mapping_through_its_stored_id(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=40, seed=12)
    path = tmp_path / "leadsync.db"
    config = ws.config(path)
    sync(ws, path, config=config)
    ws.rename_field("signals", "impact", "Impact (1-3)")
    ws.tick(minutes=5)
    sid = min(ws.live_ids("signals"))
    ws.edit("signals", sid, impact="Medium")
    summary = sync(ws, path, config=config)  # the config still says "Impact"
    assert summary.tables[1].updated == 1
    with open_store(path) as store:
        assert compare_store(store, ws) == []
        cursor = store.cursor("signals")
        assert cursor is not None
        assert cursor.field_names["impact"] == "Impact"


def test_a_mapped_field_that_never_resolved_fails_and_writes_nothing(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=40, seed=13)
    path = tmp_path / "leadsync.db"
    config = ws.config(path)
    ws.rename_field("signals", "impact", "Impact (1-3)")
    with pytest.raises(SchemaError, match=r"mapped field.* not found: impact -> 'Impact'"):
        sync(ws, path, config=config)
    with open_store(path) as store:  # every source is opened before anything is written
        assert store.cursor("members") is None
        assert len(store.records("members")) == 0
        assert store.runs().empty


def test_a_failure_mid_pull_keeps_committed_batches_and_the_cursor(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=450, seed=14)
    path = tmp_path / "leadsync.db"
    ws.failure = UpstreamError("Notion encountered an unexpected error.", service="notion",
                               status=503)
    ws.fail_after = 6  # members (2), signals schema and 3 pages
    with pytest.raises(UpstreamError):
        sync(ws, path)
    with open_store(path) as store:
        assert len(store.records("signals")) == 200  # the one batch committed
        assert store.cursor("signals") is None  # the pull never ended
        assert store.runs()["status"][0] == "failed"
    ws.failure = None
    summary = sync(ws, path)
    assert (summary.tables[1].added, summary.tables[1].unchanged) == (250, 200)
    with open_store(path) as store:
        assert compare_store(store, ws) == []


def test_a_dry_run_writes_nothing_and_says_what_would_change(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=80, seed=15)
    path = tmp_path / "leadsync.db"
    first = sync(ws, path, dry_run=True)
    assert not path.exists()
    assert not (tmp_path / "leadsync.db.lock").exists()
    assert (first.dry_run, first.run_id, first.totals["added"]) == (True, None, 86)
    sync(ws, path)
    before = path.read_bytes()
    ws.tick(minutes=10)
    touched = {k: set(v) for k, v in
               ws.mutate(random.Random(3), inserts=4, edits=5, deletes=3).items()}
    expected = (len(touched["inserted"] - touched["deleted"]),
                len(touched["edited"] - touched["deleted"]),
                len(touched["deleted"] - touched["inserted"]))
    assert expected[2] > 0
    summary = sync(ws, path, dry_run=True, full_every_days=0)
    signals = summary.tables[1]
    assert (signals.added, signals.updated, signals.deleted) == expected
    assert path.read_bytes() == before
    with open_store(path) as store:
        assert len(store.runs()) == 1
    real = sync(ws, path, full_every_days=0)
    assert (real.tables[1].added, real.tables[1].updated, real.tables[1].deleted) == expected


def test_only_the_named_tables_sync_members_first(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=10, seed=16)
    path = tmp_path / "leadsync.db"
    summary = sync(ws, path, tables=["signals"])
    assert [t.table for t in summary.tables] == ["signals"]
    summary = sync(ws, path, tables=["signals", "members"])
    assert [t.table for t in summary.tables] == ["members", "signals"]
    with pytest.raises(ConfigError, match="--table reviews: not configured"):
        sync(ws, path, tables=["reviews"])


def test_the_run_log_and_summary_agree(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(signals=30, seed=17)
    path = tmp_path / "leadsync.db"
    summary = sync(ws, path)
    data = summary.as_dict()
    for key in ("added", "updated", "deleted", "quarantined", "requests", "rate_limited",
                "seconds", "tables", "run_id", "status"):
        assert key in data
    assert set(data["tables"]) == {"members", "signals"}
    with open_store(path) as store:
        run = store.runs().iloc[0]
        assert run["id"] == summary.run_id
        assert (run["status"], run["added"], run["requests"]) == \
            ("ok", data["added"], data["requests"])
        assert run["finished_at"] >= run["started_at"]


def test_the_quarantine_follows_rows_fixed_and_broken_upstream(tmp_path: Path) -> None:
    ws = FakeWorkspace.sample(members=5, signals=120, seed=18, bad_rate=0)
    path = tmp_path / "leadsync.db"
    first, second, third = sorted(ws.live_ids("signals"))[:3]
    ws.edit("signals", first, impact="Enormous")
    ws.set_problem("signals", second, "Date: a date range cannot be read")
    sync(ws, path)
    with open_store(path) as store:
        assert set(store.quarantine("signals")["source_id"]) == {first, second}
        assert store.cursor("signals").quarantine_stale is False  # type: ignore[union-attr]
    ws.tick(minutes=10)
    ws.edit("signals", first, impact="High")  # fixed upstream
    ws.set_problem("signals", second, None)  # fixed upstream
    ws.edit("signals", third, signal_type="Diplomatic")  # broken upstream
    summary = sync(ws, path)  # incremental, members unchanged: kept row by row
    assert (summary.tables[1].updated, summary.tables[1].quarantined) == (3, 1)
    with open_store(path) as store:
        quarantine = store.quarantine("signals")
        assert list(quarantine["source_id"]) == [third]
        assert "signal_type 'Diplomatic' is not one of" in quarantine["reason"][0]
        assert compare_store(store, ws) == []


def test_a_bar_on_a_terminal_log_lines_in_cron(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                caplog: pytest.LogCaptureFixture) -> None:
    ws = FakeWorkspace.sample(signals=30, seed=19)
    caplog.set_level("INFO", logger="leadsync")
    run_sync(ws.config(tmp_path / "a.db"), sources=ws.open_source, env=ENV, progress=True)
    assert "sync signals" in capsys.readouterr().err  # tqdm's bar, on stderr
    caplog.clear()
    run_sync(ws.config(tmp_path / "b.db"), sources=ws.open_source, env=ENV, progress=False)
    assert "sync signals" not in capsys.readouterr().err
    lines = [r.getMessage() for r in caplog.records if r.name == "leadsync.sync"]
    assert lines[0].startswith("sync started: members, signals into ")
    assert [line.split(":")[0] for line in lines[1:]] == ["members", "signals"]
