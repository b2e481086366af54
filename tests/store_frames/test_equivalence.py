"""Frames read from the typed columns equal the frames of the per-row read path (the oracle).

Stores are generated two ways: by real syncs from a :class:`FakeWorkspace`
(inserts, edits, deletions, restores, undecodable rows, values that do not
fit), and by writing rows of every kind of cell straight through the store's
write path (``write_batch``, ``reconcile``): member references of each kind
and some that match no member, members added after the signals that name
them, blank and padded source ids, missing and duplicate keys, a key column
some rows carry and some do not, empty and missing cells, times outside what
nanoseconds hold, equal creation times. Each store is read in each state the
columns can be in: just written, with rows changed since (merged at read),
missing, and written by another leadsync.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leadsync import open_store, store_frames
from leadsync.store import PreparedRow, Store
from leadsync.store_codec import encode_time, encode_values
from leadsync.sync import run_sync
from leadsync.tables import TABLES, MemberRef, schema
from leadsync.testing import FAKE_TOKEN, FakeWorkspace

from .oracle import oracle_frame, oracle_validated

ENV = {"NOTION_TOKEN": FAKE_TOKEN}
T0 = dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC)


def assert_reads_like_the_oracle(path: Path, tables: tuple[str, ...] = tuple(TABLES), *,
                                 quarantine: bool = True) -> None:
    """Every table's frame (live and with tombstones) and, with ``quarantine``, its validated
    result (frame and quarantine) equal the oracle's."""
    with open_store(path) as store:
        for table in tables:
            for include_deleted in (False, True):
                got = store.frame(table, include_deleted=include_deleted)
                want = oracle_frame(path, table, include_deleted=include_deleted)
                pd.testing.assert_frame_equal(got, want, check_exact=True, obj=table)
            if not quarantine:
                continue
            got_v = store.validated(table, include_deleted=True)
            want_v, _ = oracle_validated(path, table, include_deleted=True)
            pd.testing.assert_frame_equal(got_v.frame, want_v.frame, check_exact=True)
            pd.testing.assert_frame_equal(got_v.quarantine, want_v.quarantine, check_exact=True)


def kept(path: Path) -> dict[str, tuple[str, int]]:
    """``table -> (format, rows)`` of the columns the store keeps, and the pending changes."""
    conn = sqlite3.connect(path)
    try:
        return {t: (f, n) for t, f, n in conn.execute(
            "SELECT table_name, format, rows FROM frames")}
    finally:
        conn.close()


def pending(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM frame_changes").fetchone()[0])
    finally:
        conn.close()


def each_state(path: Path) -> Iterator[str]:
    """Put the store's columns in each state a reader can meet; yields its name."""
    yield "as written"
    conn = sqlite3.connect(path)
    conn.execute("UPDATE frames SET format = 'another leadsync'")
    conn.commit()
    yield "of another leadsync"
    conn.execute("DELETE FROM frames")
    conn.commit()
    conn.close()
    yield "missing"


# ---------------------------------------------------------------------------
# Stores filled by real syncs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synced_stores_read_like_the_oracle(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ws = FakeWorkspace.sample(members=8, signals=300, seed=seed, bad_rate=0.1)
    path = tmp_path / "leadsync.db"
    config = ws.config(path, full_every_days=0)
    run_sync(config, sources=ws.open_source, env=ENV, progress=False)
    assert set(kept(path)) == {"members", "signals"}
    assert pending(path) == 0
    assert_reads_like_the_oracle(path, ("members", "signals"))

    ws.tick(minutes=5)
    touched = ws.mutate(rng, inserts=20, edits=30, deletes=15, tables=("members", "signals"))
    ws.restore("signals", touched["deleted"][-1])
    ws.set_problem("signals", touched["edited"][-1], "Date: a date range cannot be read")
    ws.tick(minutes=1)
    run_sync(config, sources=ws.open_source, env=ENV, progress=False)
    assert pending(path) == 0
    for state in each_state(path):
        assert_reads_like_the_oracle(path, ("members", "signals"),
                                     quarantine=state == "as written")


def test_rows_written_since_the_columns_are_merged_at_read(tmp_path: Path) -> None:
    """A sync killed before a table's end leaves changes the columns do not hold yet:
    a reader merges them (here the store is written without ending the table)."""
    ws = FakeWorkspace.sample(members=6, signals=200, seed=4)
    path = tmp_path / "leadsync.db"
    run_sync(ws.config(path), sources=ws.open_source, env=ENV, progress=False)
    before = kept(path)
    with Store.open(path, writable=True) as store:
        sids = sorted(ws.live_ids("signals"))
        rows = [row(sid, {"member_id": MemberRef("relation", sorted(ws.live_ids("members"))[0]),
                          "signal_type": "Operational", "date": dt.date(2026, 9, 1),
                          "impact": "Low", "notes": "edited"}, created=T0 - dt.timedelta(days=3))
                for sid in sids[:5]]
        rows += [row(f"sig-new-{i}", {"member_id": MemberRef("relation", "nobody"),
                                      "signal_type": "Technical", "date": dt.date(2026, 9, 2),
                                      "impact": "High"}, created=T0 + dt.timedelta(minutes=i))
                 for i in range(3)]
        rows += [row("sig-first", {"impact": "Huge"}, created=None)]
        store.write_batch("signals", rows, quarantine=None, members_changed=False, now=T0)
        store.reconcile("members", set(), members_changed=True, now=T0)  # every member goes
    assert kept(path)["signals"] == before["signals"]  # not rewritten: merged at read
    assert pending(path) == 9
    assert_reads_like_the_oracle(path, ("members", "signals"))


# ---------------------------------------------------------------------------
# Stores written row by row, every kind of cell


def row(source_id: str, values: dict[str, Any], *, created: dt.datetime | None = T0,
        edited: dt.datetime | None = T0, problem: str | None = None) -> PreparedRow:
    return PreparedRow(source_id, encode_values(values), problem, encode_time(created),
                       encode_time(edited))


MEMBER_NAMES = ["Ana Lima", "Bo Chen", "Bo Chen", "Chidi Okafor", "Dana Noor"]
ZONES = ["Europe/Berlin", " America/Sao_Paulo ", "Mars/Olympus", "", None, "UTC"]


def member_values(rng: random.Random, i: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": rng.choice([*MEMBER_NAMES, None, "  "]),
        "email": rng.choice([f"m{i}@example.org", f" M{i}@Example.org ", "not-an-email", None]),
        "role": rng.choice(["Engineer", 2, None, ""]),
        "is_leader": rng.choice([True, False, None, "yes", "maybe", 1]),
        "timezone": rng.choice(ZONES),
        "working_hours": rng.choice(["09:00-17:00", "9-5", " 08:30 - 16:30 ", None]),
        "stage": rng.choice(["early_leadership", "Emerging_Leader", "boss", None]),
        "stage_started": rng.choice([dt.date(2026, 1, 5), "2026-02-01T10:00:00+02:00",
                                     "soon", None, dt.date(1, 1, 1)]),
        "mentor_id": rng.choice([MemberRef("relation", f"mem-{rng.randrange(12)}"),
                                 MemberRef("text", rng.choice(MEMBER_NAMES)), None,
                                 [MemberRef("relation", "mem-1"),
                                  MemberRef("relation", "mem-2")]]),
    }
    if rng.random() < 0.3:
        values["member_id"] = rng.choice([f"M{i % 9}", None, " ", f"M{i}"])
    return values


def member_cell(rng: random.Random) -> Any:
    return rng.choice([
        MemberRef("relation", f"mem-{rng.randrange(14)}"),
        MemberRef("person", "user-1", "Ana Lima", f"m{rng.randrange(12)}@example.org"),
        MemberRef("text", rng.choice([*MEMBER_NAMES, "m3@example.org", "Nobody"])),
        f" mem-{rng.randrange(12)} ", None, "", 42,
        [MemberRef("relation", "mem-3"), MemberRef("relation", "mem-4")],
        (MemberRef("relation", "mem-5"),), [],
    ])


def cell(rng: random.Random, table: str, name: str) -> Any:
    column = schema(table).column(name)
    kind = column.kind
    if kind in ("member", "members"):
        return member_cell(rng)
    if kind == "category":
        return rng.choice([*column.vocabulary, column.vocabulary[0].lower(), "Huge", None, ""])
    if kind == "timestamp":
        return rng.choice([dt.date(2026, 3, rng.randint(1, 28)),
                           dt.datetime(2026, 4, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(
                               hours=-3))),
                           pd.Timestamp("2026-05-01T00:00:00.000000001Z"),
                           "2026-06-01", "not a date", None, dt.date(9999, 12, 31)])
    if kind == "number":
        return rng.choice([3, 4.5, "2.5", "high", float("inf"), None, True])
    if kind == "url":
        return rng.choice(["https://git.example.org/pr/1", "ftp://x", " https://x.org ", None])
    if kind == "boolean":
        return rng.choice([True, None, "no", "perhaps"])
    if kind == "id":
        return rng.choice([f"K{rng.randrange(25)}", None, "  ", f" K{rng.randrange(5)} "])
    return rng.choice(["text", " padded ", "", None, 7, 2.0, "ünïcödé ✓", "line\nbreak"])


def values_of(rng: random.Random, table: str, with_key: bool) -> dict[str, Any]:
    spec = schema(table)
    values = {c.name: cell(rng, table, c.name) for c in spec.columns[1:]
              if rng.random() < 0.85}
    if with_key:
        values[spec.key] = cell(rng, table, spec.key)
    return values


def source_id(rng: random.Random, table: str, i: int) -> str:
    sid = f"{table[:3]}-{i:04d}"
    return rng.choices([sid, f" {sid} ", "   ", f"{sid}\t", "<NA>"], [90, 3, 1, 3, 1])[0]


def written_store(path: Path, seed: int) -> None:
    """Every canonical table written through the store's write path, in a few syncs' worth
    of batches, with tombstones, revivals, and members arriving after their signals."""
    rng = random.Random(seed)
    now = T0
    with Store.open(path, create=True, writable=True) as store:
        def write(table: str, rows: list[PreparedRow], *, finish: bool) -> None:
            for start in range(0, len(rows), 40):
                store.write_batch(table, rows[start:start + 40], quarantine=None,
                                  members_changed=table == "members", now=now)
            store.commit_cursor(table, since=now, lag=dt.timedelta(minutes=2), field_ids=None,
                                field_names=None, finish=finish, now=now)

        def times(i: int) -> tuple[dt.datetime | None, dt.datetime | None]:
            if rng.random() < 0.05:
                return None, None
            created = T0 + dt.timedelta(minutes=rng.randrange(30))  # many equal times
            return created, created + dt.timedelta(minutes=rng.randrange(90))

        def rows_of(table: str, n: int, offset: int, with_key: bool) -> list[PreparedRow]:
            out = []
            for i in range(offset, offset + n):
                created, edited = times(i)
                values = member_values(rng, i) if table == "members" else \
                    values_of(rng, table, with_key and rng.random() < 0.8)
                problem = "the row could not be read" if rng.random() < 0.05 else None
                out.append(row(source_id(rng, table, i), values, created=created,
                               edited=edited, problem=problem))
            return out

        # Signals and the rest first, naming members that do not exist yet.
        for table in TABLES:
            if table != "members":
                write(table, rows_of(table, 70, 0, with_key=table != "signals"), finish=True)
        write("members", [row(f"mem-{i}", member_values(rng, i)) for i in range(6)],
              finish=True)
        now += dt.timedelta(hours=1)
        # Members added after the signals that name them, more rows, edits, tombstones.
        write("members", [row(f"mem-{i}", member_values(rng, i)) for i in range(4, 12)],
              finish=True)
        for table in TABLES:
            if table != "members":
                write(table, rows_of(table, 40, 60, with_key=True), finish=False)
                known = sorted(store.known_ids(table))
                live = set(rng.sample(known, len(known) * 4 // 5))
                store.reconcile(table, live, members_changed=False, now=now)
                store.reconcile(table, live | set(known[:3]), members_changed=False, now=now)


@pytest.mark.parametrize("seed", [11, 12])
def test_every_kind_of_cell_reads_like_the_oracle(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "leadsync.db"
    written_store(path, seed)
    assert set(kept(path)) == set(TABLES)
    for state in each_state(path):
        assert_reads_like_the_oracle(path, quarantine=state == "as written")


def test_a_member_added_after_its_signals_resolves_at_read(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    with Store.open(path, create=True, writable=True) as store:
        store.write_batch("members", [row("mem-1", {"name": "Ana Lima"})], quarantine=None,
                          members_changed=True, now=T0)
        store.commit_cursor("members", since=T0, lag=dt.timedelta(0), field_ids=None,
                            field_names=None, finish=True, now=T0)
        store.write_batch("signals", [row(f"sig-{i}", {
            "member_id": MemberRef("relation", "mem-2"), "signal_type": "Technical",
            "date": dt.date(2026, 9, 30), "impact": "High"}) for i in range(3)],
            quarantine=None, members_changed=False, now=T0)
        store.commit_cursor("signals", since=T0, lag=dt.timedelta(0), field_ids=None,
                            field_names=None, finish=True, now=T0)
    with open_store(path) as store:
        assert store.frame("signals").empty  # mem-2 matches no member yet
    assert_reads_like_the_oracle(path, ("members", "signals"))
    with Store.open(path, writable=True) as store:
        store.write_batch("members", [row("mem-2", {"name": "Bo Chen"})], quarantine=None,
                          members_changed=True, now=T0)
    # The signals' columns were not touched: resolution is at read time.
    with open_store(path) as store:
        assert list(store.frame("signals")["member_id"]) == ["mem-2"] * 3
    assert_reads_like_the_oracle(path, ("members", "signals"))


def test_a_zone_database_change_is_seen_at_read(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns built where "Mars/Olympus" was a zone and "Europe/Berlin" was not read as
    this machine's zone database says, like the per-row path."""
    from leadsync import canonical

    path = tmp_path / "leadsync.db"
    real = canonical._valid_zone
    with monkeypatch.context() as patched:
        def other_world(name: str) -> bool:
            return name == "Mars/Olympus" or (real(name) and name != "Europe/Berlin")

        patched.setattr("leadsync.frames._valid_zone", other_world)
        patched.setattr("leadsync.store_frames._valid_zone", other_world)
        with Store.open(path, create=True, writable=True) as store:
            store.write_batch("members", [
                row("mem-1", {"name": "Ana", "timezone": "Mars/Olympus"}),
                row("mem-2", {"name": "Bo", "timezone": "Europe/Berlin"}),
                row("mem-3", {"name": "Chidi", "timezone": "Asia/Tokyo"})],
                quarantine=None, members_changed=True, now=T0)
            store.commit_cursor("members", since=T0, lag=dt.timedelta(0), field_ids=None,
                                field_names=None, finish=True, now=T0)
            assert list(store.frame("members")["name"]) == ["Ana", "Chidi"]
    assert pending(path) == 0
    with open_store(path) as store:
        assert list(store.frame("members")["name"]) == ["Bo", "Chidi"]
    assert_reads_like_the_oracle(path, ("members",))


def test_rows_the_columns_cannot_order_are_read_row_by_row(tmp_path: Path) -> None:
    """Creation times not in the store's own form (written by hand) cannot be merged by
    their order key: the table keeps no columns and reads exactly from its rows."""
    path = tmp_path / "leadsync.db"
    written_store(path, 21)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE records SET created_time = '2026-10-01 08:00:00+02:00' "
                 "WHERE table_name = 'signals' AND source_id LIKE '%3'")
    conn.commit()
    conn.close()
    assert pending(path) > 0
    assert_reads_like_the_oracle(path, ("signals",))
    with Store.open(path, writable=True) as store:
        assert store.refresh_frame("signals")
    assert "signals" not in kept(path)
    assert pending(path) == 0
    assert_reads_like_the_oracle(path, ("signals",))


def test_an_empty_table_reads_like_the_oracle(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    Store.open(path, create=True, writable=True).close()
    assert_reads_like_the_oracle(path)
    with open_store(path) as store:
        assert store.frame("signals").empty


def test_the_columns_hold_every_stored_row(tmp_path: Path) -> None:
    path = tmp_path / "leadsync.db"
    written_store(path, 31)
    conn = sqlite3.connect(path)
    counts = dict(conn.execute("SELECT table_name, count(*) FROM records GROUP BY table_name"))
    conn.close()
    assert {t: n for t, (_, n) in kept(path).items()} == counts
    assert {f for f, _ in kept(path).values()} == {store_frames.frame_format()}


def test_a_key_carried_only_by_tombstoned_rows(tmp_path: Path) -> None:
    """The key falls back to the source id when no row of the frame carries it: the live
    frame's rows do not, the frame with tombstones has one that does."""
    path = tmp_path / "leadsync.db"
    signal = {"member_id": MemberRef("text", "x"), "signal_type": "Technical",
              "date": dt.date(2026, 9, 30), "impact": "High"}
    with Store.open(path, create=True, writable=True) as store:
        store.write_batch("signals", [row("sig-1", {**signal, "signal_id": "S1"}),
                                      row("sig-2", signal), row("sig-3", signal),
                                      row("sig-4", {"signal_id": "S4"}, problem="unreadable")],
                          quarantine=None, members_changed=False, now=T0)
        store.commit_cursor("signals", since=T0, lag=dt.timedelta(0), field_ids=None,
                            field_names=None, finish=True, now=T0)
        store.reconcile("signals", {"sig-2", "sig-3", "sig-4"}, members_changed=False, now=T0)
    with open_store(path) as store:
        assert list(store.frame("signals")["signal_id"]) == ["sig-2", "sig-3"]
        assert store.frame("signals", include_deleted=True)["signal_id"].tolist() == ["S1"]
    assert_reads_like_the_oracle(path, ("signals",))
