"""The local store: one SQLite file the nightly sync writes and notebooks read.

Layout and versioning are in :mod:`leadsync.store_schema`; values are kept as
lossless JSON (:mod:`leadsync.store_codec`). This module owns opening the file
safely, the writer's lock, and every SQL statement the sync and readers run.

Why rows are kept as decoded values, not typed SQL columns
    A frame is built at read time with
    :func:`~leadsync.records.records_to_frame`, from the very
    :class:`~leadsync.records.Record` values a live pull would have
    decoded, with members resolved against the store's live members. So
    ``open_store(path).frame("signals")`` is the frame a live pull returns
    (same columns, dtypes, member resolution, quarantine rules), and resolution
    stays current when a member is added after the signals that name them. The
    cost, decoding JSON on read, is small at leadership-tracker scale (50,000
    rows read in about a second).

File safety
    - A new store is created owner-only (0600) before SQLite touches it, and
      the first connection runs under ``umask 077`` so ``-wal`` and ``-shm``
      are 0600 too. An existing store (and its ``-wal``/``-shm``) that others
      can read is made 0600 when a sync opens it, with a WARNING line saying so:
      it holds people's names and scores.
    - ``journal_mode=WAL``: readers see the last committed state and never
      block the writer, nor the writer them. ``synchronous=FULL``: a commit
      reaches the disk before the sync moves on, so after a power cut the run
      log and cursor are what was last reported. (NORMAL would also keep the
      store consistent, since WAL loses only a suffix of commits and a cursor
      is always committed after its rows; FULL costs one fsync per batch, a
      few hundred a night, and keeps the run log exact.)
    - A file that is not a leadsync store, is damaged, or was written by a
      newer leadsync raises :class:`~leadsync.errors.StoreCorruptError` /
      :class:`~leadsync.errors.StoreError` naming the file, before anything
      is written to it: the bytes stay as they were.
    - A store of an older schema is migrated on open, under the sync lock.

One writer
    :class:`SyncLock` takes ``flock(LOCK_EX | LOCK_NB)`` on ``<store>.lock``.
    The kernel drops it when the holder dies, however it dies, so a killed run
    never blocks the next one; a second run meanwhile gets
    :class:`~leadsync.errors.StoreLockedError` (exit 75) naming the holder's
    pid and start time, which the holder writes into the lock file.

Reading
    :func:`open_store` opens a read-only connection (``query_only``); every
    read is one short transaction, a consistent snapshot even while a sync
    commits batches.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from leadsync.config import Config
from leadsync.errors import ConfigError, StoreCorruptError, StoreError, StoreLockedError
from leadsync.records import Record, records_to_frame
from leadsync.store_codec import decode_time, decode_values, encode_time
from leadsync.store_schema import APPLICATION_ID, SCHEMA_VERSION, create_schema, migrate
from leadsync.tables import QUARANTINE_COLUMNS, MemberIndex, Validated, member_index, schema

__all__ = [
    "BatchCounts",
    "PreparedRow",
    "PushEntry",
    "QuarantineEntry",
    "Store",
    "StoredCursor",
    "SyncLock",
    "open_store",
    "store_path",
]

log = logging.getLogger("leadsync.store")

#: How long a statement waits for another connection's lock before failing.
BUSY_TIMEOUT_SECONDS = 30.0
_MAGIC = b"SQLite format 3\x00"

Checkpoint = Callable[..., None]


def _no_checkpoint(name: str, table: str | None = None) -> None:
    return None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------
# The writer's lock


class SyncLock:
    """The one-writer lock of a store: ``flock`` on ``<store>.lock``.

    Use as a context manager. :meth:`acquire` never waits: when another
    process holds the lock it raises :class:`StoreLockedError` naming it.
    ``activity`` names another lock of the same kind beside it
    (``activity="push"``: ``<store>.push.lock``, so that two pushes never
    write into the workspace at once, while a sync may run).
    """

    def __init__(self, store_path: str | os.PathLike[str], *, activity: str = "sync"):
        path = Path(store_path)
        suffix = ".lock" if activity == "sync" else f".{activity}.lock"
        self.path = path.with_name(path.name + suffix)
        self.activity = activity
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> SyncLock:
        if self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            folder = self.path.parent
            if isinstance(exc, (FileNotFoundError, NotADirectoryError)) \
                    and not folder.is_dir():
                store = self.path.with_name(self.path.name.removesuffix(".lock"))
                raise StoreError(
                    f"{store}: the folder {folder} does not exist; create it, or point "
                    "[store] path elsewhere") from None
            raise StoreError(f"{self.path}: cannot open the {self.activity} lock: "
                             f"{exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StoreLockedError(f"another leadsync {self.activity} is running{holder}; "
                                   "exiting") from None
        started = _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        info = json.dumps({"pid": os.getpid(), "started": started}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with suppress(OSError):
            os.ftruncate(fd, 0)  # no stale holder for the next reader of the file
        os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> SyncLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, started = int(info["pid"]), str(info["started"])
    except (ValueError, KeyError, TypeError, OSError):
        return ""  # the holder has not written its details yet
    today = _utcnow().strftime("%Y-%m-%d")
    shown = started[11:] if started.startswith(today) else started.replace("T", " ")
    return f" (pid {pid}, started {shown})"


# ---------------------------------------------------------------------------
# Values handed between the sync and the store


@dataclass(frozen=True)
class PreparedRow:
    """A fetched record ready to store: values already encoded."""

    source_id: str
    values_json: str
    problem: str | None
    created_time: str | None
    last_edited_time: str | None

    @property
    def content(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.values_json, self.problem, self.created_time, self.last_edited_time)


@dataclass(frozen=True)
class QuarantineEntry:
    reason: str
    record: str | None


@dataclass
class BatchCounts:
    """What a batch write did (or, in a dry run, would do)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    revived: int = 0
    #: source ids added, updated or revived
    changed_ids: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.revived


@dataclass(frozen=True)
class StoredCursor:
    """Where a table's last sync left off (``cursors`` row)."""

    table: str
    since: dt.datetime | None
    lag: dt.timedelta
    field_ids: dict[str, str]
    field_names: dict[str, str]
    reconciled_at: dt.datetime | None
    quarantine_stale: bool
    updated_at: dt.datetime | None
    #: what the sync stored with the schema snapshot (see ``leadsync.sync``); None: none yet
    schema_snapshot: dict[str, Any] | None = None


@dataclass(frozen=True)
class PushEntry:
    """What a push of a report or packet wrote into the workspace (``pushes`` row).

    ``service`` is ``notion`` or ``airtable``; ``kind`` ``report`` or
    ``packet``; ``key`` the month (``2026-10``) or month and member
    (``2026-10/m001``); ``location`` where it went (the parent page, the
    base). ``status``: ``creating`` (a page may exist whose id is not known
    yet), ``writing`` (content half written), ``done``. ``state`` is the
    writer's own JSON (what it owns on the page or in the tables).
    """

    service: str
    kind: str
    key: str
    location: str
    status: str
    content_hash: str | None
    object_id: str | None
    state: dict[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None = None


# ---------------------------------------------------------------------------
# Opening


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the store: {exc.strerror}") from None
    if head and head != _MAGIC:
        raise StoreCorruptError(
            f"{path}: not a leadsync store (not an SQLite database); it was left untouched. "
            "Point [store] path elsewhere or move the file aside"
        )


def _connect(path: Path) -> sqlite3.Connection:
    old = os.umask(0o077)  # -wal and -shm are created with the connection's umask
    try:
        return sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS,
                               check_same_thread=False)
    finally:
        os.umask(old)


def _damaged(path: Path, detail: object) -> StoreCorruptError:
    detail = " ".join(str(detail).split())  # quick_check answers in lines; errors are one
    return StoreCorruptError(
        f"{path}: the store is damaged ({detail}); it was left untouched. Restore it from a "
        "backup, or move it aside and run `leadsync sync` to rebuild it from the workspace"
    )


class Store:
    """An open leadsync store. Readers get one from :func:`open_store`;
    the sync opens it with :meth:`open` (``writable=True``) while holding
    :class:`SyncLock`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool,
                 checkpoint: Checkpoint = _no_checkpoint):
        self._conn = conn
        self.path = path
        self.writable = writable
        self._checkpoint = checkpoint

    # -- opening ------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False,
             writable: bool = False, check: bool = False, lock: SyncLock | None = None,
             upgrade: bool = True, checkpoint: Checkpoint = _no_checkpoint) -> Store:
        """Open (and with ``create``, make) the store at ``path``.

        ``check`` runs ``PRAGMA quick_check`` first (the sync does, before
        writing). A store that needs a migration is migrated under ``lock``,
        or under a lock taken for the purpose; with ``upgrade=False`` it is
        refused instead (a dry run writes nothing). Raises
        :class:`StoreCorruptError` or :class:`StoreError`, never leaving a
        half-opened connection.
        """
        path = Path(path)
        if not path.exists():
            if not create:
                raise StoreError(f"{path}: no store here yet; run `leadsync sync` to create it")
            if not path.parent.is_dir():
                raise StoreError(f"{path}: the directory {path.parent} does not exist")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
            except FileExistsError:
                pass  # someone made it meanwhile; open what is there
            except OSError as exc:
                raise StoreError(f"{path}: cannot create the store: {exc.strerror}") from None
            checkpoint("store-created")
        _check_header(path)
        conn = _connect(path)
        try:
            store = cls(conn, path, writable=writable, checkpoint=checkpoint)
            store._prepare(create=create, check=check, lock=lock, upgrade=upgrade)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _damaged(path, exc) from None
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def memory(cls) -> Store:
        """An empty store in memory (what a dry run compares against when there is no file)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        store = cls(conn, Path(":memory:"), writable=True)
        with store._write():
            create_schema(conn)
        return store

    def _prepare(self, *, create: bool, check: bool, lock: SyncLock | None,
                 upgrade: bool) -> None:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        if app_id != APPLICATION_ID:
            if has_tables:
                raise StoreCorruptError(
                    f"{self.path}: not a leadsync store (an SQLite database of another "
                    "application); it was left untouched"
                )
            version = 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer leadsync (store schema {version}; this "
                f"leadsync reads up to {SCHEMA_VERSION}); upgrade leadsync"
            )
        if version == 0 and not create:
            raise StoreError(f"{self.path}: the store is empty; run `leadsync sync` first")
        if 0 < version < SCHEMA_VERSION and not upgrade:
            raise StoreError(
                f"{self.path}: the store has schema {version} and needs an upgrade to "
                f"{SCHEMA_VERSION}, which writes; run `leadsync sync` without --dry-run"
            )
        if check:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _damaged(self.path, "; ".join(problems))
        if self.writable or version < SCHEMA_VERSION:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("%s: WAL is not available here (journal mode %s); readers may "
                            "wait for the sync", self.path, mode)
            conn.execute("PRAGMA synchronous=FULL")
            if self.writable:
                self._make_private()
        conn.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:
            self._upgrade(version, lock)
        if not self.writable:
            conn.execute("PRAGMA query_only=1")

    def _upgrade(self, version: int, lock: SyncLock | None) -> None:
        own = lock is None or not lock.held
        held = SyncLock(self.path) if own else lock
        assert held is not None
        if own:
            try:
                held.acquire()
            except StoreLockedError as exc:
                raise StoreLockedError(
                    f"{self.path}: the store needs an upgrade but {exc}"
                ) from None
        try:
            with self._write():
                # Re-read under the write lock: another process may have done it.
                now_version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
                if app_id != APPLICATION_ID:
                    create_schema(self._conn)
                    self._conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('created_by', ?), "
                        "('created_at', ?)", (_leadsync_version(), encode_time(_utcnow())))
                    self._checkpoint("schema-mid")
                elif now_version < SCHEMA_VERSION:
                    log.info("%s: migrating the store from schema %d to %d", self.path,
                             now_version, SCHEMA_VERSION)
                    migrate(self._conn, now_version, self._checkpoint)
                    self._conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        (f"migrated_from_{now_version}", encode_time(_utcnow())))
        finally:
            if own:
                held.release()

    def _make_private(self) -> None:
        """Make the store and its ``-wal``/``-shm`` owner-only, saying so when they were not."""
        for path in (self.path, *(Path(f"{self.path}{s}") for s in ("-wal", "-shm"))):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError:
                continue  # no -wal or -shm (yet)
            if not mode & 0o077:
                continue
            try:
                path.chmod(0o600)
            except OSError as exc:
                log.warning("%s is readable by other users (mode %o) and could not be made "
                            "owner-only (%s); `chmod 600` it", path, mode, exc.strerror)
            else:
                log.warning("%s was readable by other users (mode %o); made it owner-only "
                            "(0600): it holds people's names and scores", path, mode)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        if conn.in_transaction:  # already inside a write: see its own changes
            yield conn
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None
        try:
            yield conn
        except sqlite3.DatabaseError as exc:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise _damaged(self.path, exc) from None
        except BaseException:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _need_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"{self.path}: opened read-only")

    # -- reading ------------------------------------------------------------

    def _records(self, conn: sqlite3.Connection, table: str, *,
                 include_deleted: bool) -> list[tuple[Record, str | None]]:
        sql = ("SELECT source_id, values_json, problem, created_time, last_edited_time, "
               "deleted_at FROM records WHERE table_name = ?")
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        sql += " ORDER BY created_time, source_id"
        out: list[tuple[Record, str | None]] = []
        for source_id, values, problem, created, edited, deleted in conn.execute(sql, (table,)):
            out.append((Record(source_id, decode_time(created), decode_time(edited),
                               decode_values(values), problem), deleted))
        return out

    def records(self, table: str, *, include_deleted: bool = False) -> list[Record]:
        """The stored rows of ``table`` as the connector decoded them (before validation)."""
        schema(table)
        with self._read() as conn:
            return [r for r, _ in self._records(conn, table, include_deleted=include_deleted)]

    def _validated(self, conn: sqlite3.Connection, table: str, *,
                   include_deleted: bool = False) -> tuple[Validated, dict[str, str | None]]:
        rows = self._records(conn, table, include_deleted=include_deleted)
        members: pd.DataFrame | None = None
        if table != "members" and schema(table).member_columns and conn.execute(
                "SELECT 1 FROM cursors WHERE table_name = 'members'").fetchone():
            member_rows = self._records(conn, "members", include_deleted=include_deleted)
            members = records_to_frame("members", [r for r, _ in member_rows]).frame
        validated = records_to_frame(table, [r for r, _ in rows], members=members)
        return validated, {r.source_id: deleted for r, deleted in rows}

    def validated(self, table: str, *, include_deleted: bool = False) -> Validated:
        """The table's frame and the quarantine of its stored rows, as a live pull builds them."""
        schema(table)
        with self._read() as conn:
            validated, _ = self._validated(conn, table, include_deleted=include_deleted)
        return validated

    def frame(self, table: str, *, include_deleted: bool = False) -> pd.DataFrame:
        """The canonical typed frame of ``table``: the same frame a live pull returns.

        Rows deleted upstream are left out; with ``include_deleted=True`` they
        are in, and a ``deleted_at`` column (UTC, NaT for live rows) says which.
        Rows that do not fit the canonical table are left out, as in a live
        pull; :meth:`quarantine` lists them.
        """
        schema(table)
        with self._read() as conn:
            validated, deleted = self._validated(conn, table, include_deleted=include_deleted)
        frame = validated.frame
        if include_deleted:
            frame = frame.copy()
            frame["deleted_at"] = _utc(frame["source_id"].map(lambda s: deleted.get(str(s))))
        return frame

    def tombstones(self, table: str) -> pd.DataFrame:
        """Rows of ``table`` deleted upstream, with their last values and ``deleted_at``.

        Like every frame, it holds the rows that fit the canonical table; a
        deleted row that never did is in ``records(table, include_deleted=True)``
        and :meth:`known_ids`.
        """
        frame = self.frame(table, include_deleted=True)
        return frame[frame["deleted_at"].notna()].reset_index(drop=True)

    def quarantine(self, table: str | None = None) -> pd.DataFrame:
        """Rows the sync could not turn into canonical rows, with the reason and when seen."""
        sql = "SELECT table_name, source_id, reason, record, seen_at FROM quarantine"
        args: tuple[str, ...] = ()
        if table is not None:
            schema(table)
            sql += " WHERE table_name = ?"
            args = (table,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY table_name, source_id", args).fetchall()
        columns = [*QUARANTINE_COLUMNS, "seen_at"]
        frame = pd.DataFrame(rows, columns=columns)
        for column in QUARANTINE_COLUMNS:
            frame[column] = frame[column].astype("string")
        frame["seen_at"] = _utc(frame["seen_at"])
        return frame

    def runs(self, limit: int = 20) -> pd.DataFrame:
        """The run log, newest first."""
        with self._read() as conn:
            cursor = conn.execute(
                "SELECT id, started_at, finished_at, status, pid, full, added, updated, "
                "unchanged, deleted, revived, quarantined, requests, rate_limited, seconds, "
                "error FROM runs ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cursor.description]
            frame = pd.DataFrame(cursor.fetchall(), columns=names)
        for column in ("started_at", "finished_at"):
            frame[column] = _utc(frame[column])
        frame["full"] = frame["full"].astype(bool)
        return frame

    def cursor(self, table: str) -> StoredCursor | None:
        """Where the last sync of ``table`` left off; None before its first sync."""
        with self._read() as conn:
            return self._cursor(conn, table)

    def _cursor(self, conn: sqlite3.Connection, table: str) -> StoredCursor | None:
        row = conn.execute(
            "SELECT since, lag_seconds, field_ids, field_names, reconciled_at, "
            "quarantine_stale, updated_at, schema_snapshot FROM cursors WHERE table_name = ?",
            (table,)
        ).fetchone()
        if row is None:
            return None
        since, lag, ids, names, reconciled, stale, updated, snapshot = row
        return StoredCursor(table, decode_time(since), dt.timedelta(seconds=lag or 0),
                            json.loads(ids) if ids else {}, json.loads(names) if names else {},
                            decode_time(reconciled), bool(stale), decode_time(updated),
                            json.loads(snapshot) if snapshot else None)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per table: live rows, tombstones, and rows in quarantine."""
        out: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for table, live, deleted in conn.execute(
                    "SELECT table_name, sum(deleted_at IS NULL), sum(deleted_at IS NOT NULL) "
                    "FROM records GROUP BY table_name"):
                out[table] = {"live": int(live), "deleted": int(deleted), "quarantined": 0}
            for table, n in conn.execute(
                    "SELECT table_name, count(*) FROM quarantine GROUP BY table_name"):
                out.setdefault(table, {"live": 0, "deleted": 0, "quarantined": 0})
                out[table]["quarantined"] = int(n)
        return out

    def __repr__(self) -> str:
        try:
            parts = [f"{t} {c['live']} rows ({c['deleted']} deleted, {c['quarantined']} "
                     "quarantined)" for t, c in self.counts().items()]
        except (StoreError, sqlite3.Error):
            parts = ["closed"]
        return f"<Store {self.path}: {'; '.join(parts) or 'empty'}>"

    # -- the sync's writes ----------------------------------------------------

    def begin_run(self, *, full: bool, tables: Sequence[str], now: dt.datetime) -> int:
        """Log a new run as ``running``; runs a dead process left ``running`` become
        ``interrupted`` (the caller holds the lock, so none is really running)."""
        self._need_writable()
        with self._write() as conn:
            conn.execute("UPDATE runs SET status = 'interrupted', error = coalesce(error, "
                         "'the process ended before the run finished') "
                         "WHERE status = 'running'")
            cur = conn.execute(
                "INSERT INTO runs (started_at, status, pid, full, tables) "
                "VALUES (?, 'running', ?, ?, ?)",
                (encode_time(now), os.getpid(), int(full), json.dumps(list(tables))))
            run_id = cur.lastrowid
        assert run_id is not None
        return run_id

    def finish_run(self, run_id: int, *, status: str, totals: Mapping[str, float],
                   summary: Mapping[str, Any], error: str | None, now: dt.datetime) -> None:
        self._need_writable()
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, added = ?, updated = ?, "
                "unchanged = ?, deleted = ?, revived = ?, quarantined = ?, requests = ?, "
                "rate_limited = ?, seconds = ?, error = ?, summary = ? WHERE id = ?",
                (encode_time(now), status, *(int(totals.get(k, 0)) for k in (
                    "added", "updated", "unchanged", "deleted", "revived", "quarantined",
                    "requests", "rate_limited")),
                 float(totals.get("seconds", 0.0)), error, json.dumps(summary), run_id))

    def stored_content(self, table: str, ids: Sequence[str]
                       ) -> dict[str, tuple[tuple[str, str | None, str | None, str | None],
                                            bool]]:
        """``source_id -> (content, deleted)`` for the stored rows among ``ids``."""
        out = {}
        with self._read() as conn:
            for chunk_start in range(0, len(ids), 500):
                chunk = list(ids[chunk_start:chunk_start + 500])
                marks = ",".join("?" * len(chunk))
                for sid, values, problem, created, edited, deleted in conn.execute(
                        "SELECT source_id, values_json, problem, created_time, "
                        "last_edited_time, deleted_at FROM records WHERE table_name = ? "
                        f"AND source_id IN ({marks})", (table, *chunk)):
                    out[sid] = ((values, problem, created, edited), deleted is not None)
        return out

    def write_batch(self, table: str, rows: Sequence[PreparedRow], *,
                    quarantine: Mapping[str, QuarantineEntry | None] | None,
                    members_changed: bool, now: dt.datetime) -> BatchCounts:
        """Upsert ``rows`` by source id in one transaction; unchanged rows are not rewritten.

        ``quarantine`` sets (entry) or clears (None) the quarantine of the given
        ids; without it (None), a batch that changed rows marks the table's
        quarantine stale, to be recomputed whole when the table's sync
        finishes: either way a crash cannot leave a committed row with a wrong
        quarantine. With
        ``members_changed`` (a members batch), a batch that changed anything
        marks every table's quarantine stale.
        """
        self._need_writable()
        stamp = encode_time(now)
        counts = BatchCounts()
        checkpoint = self._checkpoint
        with self._write() as conn:
            checkpoint("batch-begin", table)
            existing = self.stored_content(table, [r.source_id for r in rows])
            half = max(1, len(rows) // 2)
            for i, row in enumerate(rows):
                old = existing.get(row.source_id)
                if old is None:
                    conn.execute(
                        "INSERT INTO records (table_name, source_id, values_json, problem, "
                        "created_time, last_edited_time, first_seen, updated_at, deleted_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        (table, row.source_id, *row.content, stamp, stamp))
                    counts.added += 1
                    counts.changed_ids.append(row.source_id)
                elif old[1] or old[0] != row.content:
                    conn.execute(
                        "UPDATE records SET values_json = ?, problem = ?, created_time = ?, "
                        "last_edited_time = ?, updated_at = ?, deleted_at = NULL "
                        "WHERE table_name = ? AND source_id = ?",
                        (*row.content, stamp, table, row.source_id))
                    if old[1]:
                        counts.revived += 1
                    else:
                        counts.updated += 1
                    counts.changed_ids.append(row.source_id)
                else:
                    counts.unchanged += 1
                existing[row.source_id] = (row.content, False)  # an id twice in one batch
                if i + 1 == half:
                    checkpoint("batch-mid", table)
            if quarantine is not None:
                self._set_quarantine(conn, table, quarantine, stamp)
            elif counts.changed:
                # Unchanged rows cannot change their quarantine (members changes
                # mark every table stale on their own).
                conn.execute("UPDATE cursors SET quarantine_stale = 1 WHERE table_name = ?",
                             (table,))
            if members_changed and counts.changed:
                conn.execute("UPDATE cursors SET quarantine_stale = 1")
            checkpoint("batch-before-commit", table)
        checkpoint("batch-after-commit", table)
        return counts

    @staticmethod
    def _set_quarantine(conn: sqlite3.Connection, table: str,
                        entries: Mapping[str, QuarantineEntry | None], stamp: str | None) -> None:
        for sid, entry in entries.items():
            if entry is None:
                conn.execute("DELETE FROM quarantine WHERE table_name = ? AND source_id = ?",
                             (table, sid))
            else:
                conn.execute(
                    "INSERT INTO quarantine (table_name, source_id, reason, record, seen_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (table_name, source_id) DO UPDATE SET "
                    "seen_at = CASE WHEN reason = excluded.reason THEN seen_at "
                    "ELSE excluded.seen_at END, reason = excluded.reason, "
                    "record = excluded.record",
                    (table, sid, entry.reason, entry.record, stamp))

    def commit_cursor(self, table: str, *, since: dt.datetime | None, lag: dt.timedelta,
                      field_ids: Mapping[str, str] | None, field_names: Mapping[str, str] | None,
                      finish: bool, now: dt.datetime,
                      schema_snapshot: Mapping[str, Any] | None = None) -> None:
        """Move ``table``'s cursor (and remember its resolved field ids and schema
        snapshot, when given) in one transaction.

        With ``finish`` (no reconciliation follows), the table's quarantine is
        recomputed here when it is stale.
        """
        self._need_writable()
        stamp = encode_time(now)
        with self._write() as conn:
            conn.execute(
                # A table's first cursor marks its quarantine stale: the first
                # finish computes it whole, even after a crash mid-way.
                "INSERT INTO cursors (table_name, since, lag_seconds, field_ids, field_names, "
                "quarantine_stale, updated_at, schema_snapshot) VALUES (?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (table_name) DO UPDATE SET "
                "since = excluded.since, lag_seconds = excluded.lag_seconds, "
                "field_ids = coalesce(excluded.field_ids, field_ids), "
                "field_names = coalesce(excluded.field_names, field_names), "
                "schema_snapshot = coalesce(excluded.schema_snapshot, schema_snapshot), "
                "updated_at = excluded.updated_at",
                (table, encode_time(since), lag.total_seconds(),
                 json.dumps(dict(field_ids), sort_keys=True) if field_ids else None,
                 json.dumps(dict(field_names), sort_keys=True) if field_ids and field_names
                 else None, stamp,
                 json.dumps(dict(schema_snapshot), sort_keys=True) if schema_snapshot
                 else None))
            if finish:
                self._finish_quarantine(conn, table, False, stamp)
            self._checkpoint("cursor-before-commit", table)
        self._checkpoint("cursor-after-commit", table)

    def known_ids(self, table: str) -> dict[str, bool]:
        """``source_id -> deleted`` for every row of ``table`` the store holds."""
        with self._read() as conn:
            return {sid: deleted is not None for sid, deleted in conn.execute(
                "SELECT source_id, deleted_at FROM records WHERE table_name = ?", (table,))}

    def reconcile(self, table: str, live_ids: set[str], *, members_changed: bool,
                  now: dt.datetime) -> tuple[list[str], list[str]]:
        """Tombstone the live rows missing from ``live_ids``, revive the tombstoned
        ones in it, and record the reconciliation, in one transaction.

        Returns the ids deleted and revived. The tombstoned rows keep their
        values (history is kept) and leave the quarantine.
        """
        self._need_writable()
        stamp = encode_time(now)
        checkpoint = self._checkpoint
        with self._write() as conn:
            known = self.known_ids(table)
            gone = sorted(s for s, deleted in known.items() if not deleted and s not in live_ids)
            back = sorted(s for s, deleted in known.items() if deleted and s in live_ids)
            half = max(1, len(gone) // 2)
            for i, sid in enumerate(gone):
                conn.execute("UPDATE records SET deleted_at = ?, updated_at = ? "
                             "WHERE table_name = ? AND source_id = ?", (stamp, stamp, table, sid))
                conn.execute("DELETE FROM quarantine WHERE table_name = ? AND source_id = ?",
                             (table, sid))
                if i + 1 == half:
                    checkpoint("reconcile-mid", table)
            for sid in back:
                conn.execute("UPDATE records SET deleted_at = NULL, updated_at = ? "
                             "WHERE table_name = ? AND source_id = ?", (stamp, table, sid))
            if members_changed and (gone or back):
                conn.execute("UPDATE cursors SET quarantine_stale = 1")
            conn.execute("UPDATE cursors SET reconciled_at = ? WHERE table_name = ?",
                         (stamp, table))
            # A revived row's quarantine entry went with its tombstone: recompute.
            self._finish_quarantine(conn, table, bool(back), stamp)
            checkpoint("reconcile-before-commit", table)
        checkpoint("reconcile-after-commit", table)
        return gone, back

    def _finish_quarantine(self, conn: sqlite3.Connection, table: str, recompute: bool,
                           stamp: str | None) -> None:
        row = conn.execute("SELECT quarantine_stale FROM cursors WHERE table_name = ?",
                           (table,)).fetchone()
        if not recompute and not (row and row[0]):
            return
        validated, _ = self._validated(conn, table)
        entries: dict[str, QuarantineEntry | None] = {
            sid: None for (sid,) in conn.execute(
                "SELECT source_id FROM quarantine WHERE table_name = ?", (table,))}
        for item in validated.quarantine.itertuples(index=False):
            if isinstance(item.source_id, str):
                record = item.record
                entries[item.source_id] = QuarantineEntry(
                    str(item.reason), record if isinstance(record, str) else None)
        self._checkpoint("quarantine-mid", table)
        self._set_quarantine(conn, table, entries, stamp)
        conn.execute("UPDATE cursors SET quarantine_stale = 0 WHERE table_name = ?", (table,))

    def member_index(self) -> MemberIndex | None:
        """The index member references resolve against: the live members frame,
        or None while ``members`` has never been synced (references keep their keys)."""
        with self._read() as conn:
            if not conn.execute("SELECT 1 FROM cursors WHERE table_name = 'members'").fetchone():
                return None
            validated, _ = self._validated(conn, "members")
        return member_index(validated.frame)

    def compare_batch(self, table: str, rows: Sequence[PreparedRow]) -> BatchCounts:
        """What :meth:`write_batch` would do with ``rows``, writing nothing."""
        counts = BatchCounts()
        existing = self.stored_content(table, [r.source_id for r in rows])
        for row in rows:
            old = existing.get(row.source_id)
            if old is None:
                counts.added += 1
            elif old[1]:
                counts.revived += 1
            elif old[0] != row.content:
                counts.updated += 1
            else:
                counts.unchanged += 1
                continue
            counts.changed_ids.append(row.source_id)
            existing[row.source_id] = (row.content, False)
        return counts

    def compare_reconcile(self, table: str, live_ids: set[str]) -> tuple[list[str], list[str]]:
        """The ids :meth:`reconcile` would tombstone and revive, writing nothing."""
        known = self.known_ids(table)
        return (sorted(s for s, deleted in known.items() if not deleted and s not in live_ids),
                sorted(s for s, deleted in known.items() if deleted and s in live_ids))

    def quarantine_ids(self, table: str) -> set[str]:
        with self._read() as conn:
            return {sid for (sid,) in conn.execute(
                "SELECT source_id FROM quarantine WHERE table_name = ?", (table,))}

    # -- what pushes wrote into the workspace (leadsync.reports.writers) ------------

    _PUSH_COLUMNS = ("service, kind, key, location, status, content_hash, object_id, state, "
                     "started_at, finished_at")

    @staticmethod
    def _push_entry(row: Sequence[Any]) -> PushEntry:
        service, kind, key, location, status, digest, object_id, state, started, done = row
        return PushEntry(service, kind, key, location, status, digest, object_id,
                         json.loads(state or "{}"), dt.datetime.fromisoformat(started),
                         decode_time(done))

    def push_entry(self, service: str, kind: str, key: str, location: str) -> PushEntry | None:
        """What the last push of ``kind`` ``key`` to ``location`` recorded, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {self._PUSH_COLUMNS} FROM pushes WHERE service = ? AND kind = ? "
                "AND key = ? AND location = ?", (service, kind, key, location)).fetchone()
        return None if row is None else self._push_entry(row)

    def push_entries(self, kind: str | None = None) -> list[PushEntry]:
        """Every recorded push (of ``kind``), newest first."""
        sql = f"SELECT {self._PUSH_COLUMNS} FROM pushes"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY started_at DESC, key", args).fetchall()
        return [self._push_entry(r) for r in rows]

    def save_push(self, entry: PushEntry) -> None:
        """Record ``entry`` (replacing what was recorded for its key), committed at once."""
        self._need_writable()
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO pushes ({self._PUSH_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.service, entry.kind, entry.key, entry.location, entry.status,
                 entry.content_hash, entry.object_id,
                 json.dumps(entry.state, sort_keys=True, separators=(",", ":")),
                 encode_time(entry.started_at),
                 encode_time(entry.finished_at) if entry.finished_at else None))

    def forget_push(self, service: str, kind: str, key: str, location: str) -> None:
        """Drop what was recorded for a push (its page or rows are gone upstream)."""
        self._need_writable()
        with self._write() as conn:
            conn.execute("DELETE FROM pushes WHERE service = ? AND kind = ? AND key = ? "
                         "AND location = ?", (service, kind, key, location))


def _utc(values: pd.Series) -> pd.Series:
    """Stored ISO times as the canonical tables' dtype (tz-aware UTC, nanoseconds)."""
    return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")


def _leadsync_version() -> str:
    from leadsync import __version__

    return __version__


def store_path(config: Config) -> Path:
    """Where ``config``'s store lives: ``[store] path``, taken relative to the
    directory of the config file it was read from (so ``leadsync -c
    /srv/leadsync/leadsync.toml sync`` works from any directory)."""
    try:
        path = Path(config.store.path).expanduser()
    except RuntimeError as exc:  # "~someone" with no such user, or no home directory
        raise ConfigError(f"store.path: {exc}", path=config.source) from None
    if path.is_absolute() or config.source.startswith("<"):
        return path
    return Path(config.source).resolve().parent / path


def open_store(path: str | os.PathLike[str] = "leadsync.db") -> Store:
    """Open the store a sync wrote, for reading (a notebook, the report job).

    ``open_store("leadsync.db").frame("signals")`` is the typed frame a live
    pull returns; it can be read while a sync writes. A store written by an
    older leadsync is migrated first. Raises :class:`StoreError` when there is
    no store yet and :class:`StoreCorruptError` when the file is not a leadsync
    store or is damaged.
    """
    return Store.open(path, create=False, writable=False)
