"""The store's SQL schema, its version, and the forward migrations.

The version lives in ``PRAGMA user_version``; ``PRAGMA application_id`` holds
:data:`APPLICATION_ID` so a leadsync store is told apart from any other
SQLite file. Opening a store of an older version runs every migration step
from its version to :data:`SCHEMA_VERSION` in one transaction (SQLite DDL is
transactional, ``user_version`` included), so a crash mid-migration leaves
the old version intact and the next open migrates again.

Current schema (version 4)
--------------------------

``records``
    One row per workspace row ever seen, keyed by ``(table_name, source_id)``:
    the decoded canonical values as lossless JSON (:mod:`leadsync.store_codec`),
    the connector's decode ``problem`` (if any), the server's ``created_time``
    and ``last_edited_time``, when the store first saw the row and last changed
    it, and ``deleted_at``: the tombstone. NULL is live; a row deleted upstream
    keeps its values and gets ``deleted_at``; a row that reappears is revived.
``cursors``
    Per table: ``since``, the newest server edit time committed, and the
    ``lag`` the pull used; ``field_ids``/``field_names``, the ids the field
    mapping resolved to and the configured names they were resolved from
    (reused while the names are unchanged, so an upstream rename keeps
    mapping); ``reconciled_at``, the last id reconciliation;
    ``quarantine_stale``, set when members changed so the table's quarantine is
    recomputed; and ``schema_snapshot``, JSON: the table's schema as the
    connector resolved it (``source.schema_snapshot``) and the table's
    configuration it was resolved under, reused while no reconciliation is due
    and that configuration is unchanged.
``runs``
    The run log: start, finish, status (``running``, ``ok``, ``failed``,
    ``interrupted``: a run that died; marked by the next run), pid, counts,
    requests, 429s met, seconds, error message, and the per-table summary as JSON.
``quarantine``
    Rows that did not decode or do not fit the canonical table, with the
    reason, the record and when it was seen; one entry per ``(table_name, source_id)``.
``meta``
    Free key/value facts: the leadsync version that created the store, migrations.
``pushes``
    What each push of a report or a promotion packet into the workspace wrote,
    one row per ``(service, kind, key, location)`` (e.g. ``notion``,
    ``report``, ``2026-10``, the parent page id): ``status`` (``creating``: a
    page is being created, its id not known yet; ``writing``: content is being
    written; ``done``), ``content_hash`` of the last complete push,
    ``object_id`` (the Notion page, the Airtable record of the month) and
    ``state``, JSON the writer owns (the block ids and hashes leadsync owns on
    the page, the record ids it upserted, the attachments it uploaded).
    Kept in its own table with its own migration step (3 to 4), so that it
    can be renumbered without touching the other steps.

Version 3 (before pushes): no ``pushes`` table; :data:`V3_SCHEMA` is its DDL.

Version 2 (before schema snapshots): ``cursors`` had no ``schema_snapshot``;
:data:`V2_SCHEMA` is its DDL.

Version 1 (leadsync before the tombstone rework, kept here for the migration):
tombstones lived in their own ``tombstones`` table (the row was removed from
``records``), records had no ``problem``/``first_seen``/``deleted_at``,
cursors had only ``since``, the run log had no ``interrupted`` status and
fewer counters, and the quarantine had no key. :data:`V1_SCHEMA` is its DDL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA", "SCHEMA_VERSION", "V1_SCHEMA",
           "V2_SCHEMA", "V3_SCHEMA", "create_schema", "migrate"]

#: ``PRAGMA application_id`` of every leadsync store ("LSYN").
APPLICATION_ID = 0x4C53594E
#: The schema version this leadsync writes.
SCHEMA_VERSION = 4

_RECORDS = """
CREATE TABLE records (
    table_name       TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    values_json      TEXT NOT NULL,
    problem          TEXT,
    created_time     TEXT,
    last_edited_time TEXT,
    first_seen       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT,
    PRIMARY KEY (table_name, source_id)
) WITHOUT ROWID
"""

_CURSORS_V2 = """
CREATE TABLE cursors (
    table_name       TEXT PRIMARY KEY,
    since            TEXT,
    lag_seconds      REAL NOT NULL DEFAULT 0,
    field_ids        TEXT,
    field_names      TEXT,
    reconciled_at    TEXT,
    quarantine_stale INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL
) WITHOUT ROWID
"""

# Version 3: schema_snapshot comes last, where ALTER TABLE ADD COLUMN puts it.
_CURSORS = """
CREATE TABLE cursors (
    table_name       TEXT PRIMARY KEY,
    since            TEXT,
    lag_seconds      REAL NOT NULL DEFAULT 0,
    field_ids        TEXT,
    field_names      TEXT,
    reconciled_at    TEXT,
    quarantine_stale INTEGER NOT NULL DEFAULT 0,
    updated_at       TEXT NOT NULL,
    schema_snapshot  TEXT
) WITHOUT ROWID
"""

_RUNS = """
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL
                 CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    pid          INTEGER NOT NULL,
    full         INTEGER NOT NULL DEFAULT 0,
    tables       TEXT,
    added        INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0,
    revived      INTEGER NOT NULL DEFAULT 0,
    quarantined  INTEGER NOT NULL DEFAULT 0,
    requests     INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    seconds      REAL,
    error        TEXT,
    summary      TEXT
)
"""

_QUARANTINE = """
CREATE TABLE quarantine (
    table_name TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    record     TEXT,
    seen_at    TEXT NOT NULL,
    PRIMARY KEY (table_name, source_id)
) WITHOUT ROWID
"""

_META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"

_PUSHES = """
CREATE TABLE pushes (
    service      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    location     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('creating', 'writing', 'done')),
    content_hash TEXT,
    object_id    TEXT,
    state        TEXT NOT NULL DEFAULT '{}',
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (service, kind, key, location)
) WITHOUT ROWID
"""

_INDEXES = (
    "CREATE INDEX records_by_state ON records (table_name, deleted_at)",
)

#: Every statement of the current schema, in order.
SCHEMA: tuple[str, ...] = (_META, _RECORDS, _CURSORS, _RUNS, _QUARANTINE, *_INDEXES, _PUSHES)

#: The DDL of schema version 3 (for the migration's test): version 4 without ``pushes``.
V3_SCHEMA: tuple[str, ...] = (_META, _RECORDS, _CURSORS, _RUNS, _QUARANTINE, *_INDEXES)

#: The DDL of schema version 2 (for the migration's test): version 3 without
#: ``cursors.schema_snapshot``.
V2_SCHEMA: tuple[str, ...] = (_META, _RECORDS, _CURSORS_V2, _RUNS, _QUARANTINE, *_INDEXES)

#: The DDL of schema version 1 (for the migration and its test).
V1_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE records (
        table_name TEXT NOT NULL, source_id TEXT NOT NULL, values_json TEXT NOT NULL,
        created_time TEXT, last_edited_time TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (table_name, source_id))""",
    """CREATE TABLE tombstones (
        table_name TEXT NOT NULL, source_id TEXT NOT NULL, values_json TEXT NOT NULL,
        created_time TEXT, last_edited_time TEXT, deleted_at TEXT NOT NULL,
        PRIMARY KEY (table_name, source_id))""",
    "CREATE TABLE cursors (table_name TEXT PRIMARY KEY, since TEXT, updated_at TEXT NOT NULL)",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
        pid INTEGER NOT NULL, added INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, error TEXT)""",
    """CREATE TABLE quarantine (
        table_name TEXT NOT NULL, source_id TEXT, reason TEXT NOT NULL, record TEXT,
        seen_at TEXT NOT NULL)""",
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the current schema in an empty database (inside the caller's transaction)."""
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Tombstones move into ``records.deleted_at``; cursors, runs and quarantine gain columns.

    Each table is rebuilt (create new, copy, drop old, rename), the procedure
    SQLite documents for changes ALTER TABLE cannot make, so a migrated store
    has exactly the schema of a new one.
    """
    conn.execute(_RECORDS.replace("CREATE TABLE records", "CREATE TABLE records_v2"))
    conn.execute(
        """INSERT INTO records_v2 (table_name, source_id, values_json, problem, created_time,
                                   last_edited_time, first_seen, updated_at, deleted_at)
           SELECT table_name, source_id, values_json, NULL, created_time, last_edited_time,
                  updated_at, updated_at, NULL
           FROM records"""
    )
    # A v1 tombstone whose id is live again in records was revived; the live row wins.
    conn.execute(
        """INSERT INTO records_v2 (table_name, source_id, values_json, problem, created_time,
                                   last_edited_time, first_seen, updated_at, deleted_at)
           SELECT t.table_name, t.source_id, t.values_json, NULL, t.created_time,
                  t.last_edited_time, t.deleted_at, t.deleted_at, t.deleted_at
           FROM tombstones AS t
           WHERE NOT EXISTS (SELECT 1 FROM records AS r
                             WHERE r.table_name = t.table_name AND r.source_id = t.source_id)"""
    )
    conn.execute("DROP TABLE records")
    conn.execute("DROP TABLE tombstones")
    conn.execute("ALTER TABLE records_v2 RENAME TO records")

    # v1 never recorded a reconciliation: the first v2 run reconciles every table,
    # and recomputes every quarantine (v1 kept no key to maintain it by).
    conn.execute(_CURSORS_V2.replace("CREATE TABLE cursors", "CREATE TABLE cursors_v2"))
    conn.execute(
        """INSERT INTO cursors_v2 (table_name, since, lag_seconds, field_ids, field_names,
                                   reconciled_at, quarantine_stale, updated_at)
           SELECT table_name, since, 0, NULL, NULL, NULL, 1, updated_at FROM cursors"""
    )
    conn.execute("DROP TABLE cursors")
    conn.execute("ALTER TABLE cursors_v2 RENAME TO cursors")

    # The migration runs under the sync lock, so a v1 'running' run is a dead one.
    conn.execute(_RUNS.replace("CREATE TABLE runs", "CREATE TABLE runs_v2"))
    conn.execute(
        """INSERT INTO runs_v2 (id, started_at, finished_at, status, pid, added, updated,
                                deleted, error)
           SELECT id, started_at, finished_at,
                  CASE status WHEN 'running' THEN 'interrupted' ELSE status END,
                  pid, added, updated, deleted, error
           FROM runs"""
    )
    conn.execute("DROP TABLE runs")
    conn.execute("ALTER TABLE runs_v2 RENAME TO runs")

    conn.execute(_QUARANTINE.replace("CREATE TABLE quarantine", "CREATE TABLE quarantine_v2"))
    conn.execute(
        """INSERT INTO quarantine_v2 (table_name, source_id, reason, record, seen_at)
           SELECT table_name, source_id, reason, record, MAX(seen_at)
           FROM quarantine WHERE source_id IS NOT NULL
           GROUP BY table_name, source_id"""
    )
    conn.execute("DROP TABLE quarantine")
    conn.execute("ALTER TABLE quarantine_v2 RENAME TO quarantine")

    conn.execute("CREATE TABLE meta_v2 (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    conn.execute("INSERT INTO meta_v2 SELECT key, value FROM meta")
    conn.execute("DROP TABLE meta")
    conn.execute("ALTER TABLE meta_v2 RENAME TO meta")
    for statement in _INDEXES:
        conn.execute(statement)


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    """Cursors gain ``schema_snapshot`` (empty: each table's next run reads its schema)."""
    conn.execute("ALTER TABLE cursors ADD COLUMN schema_snapshot TEXT")


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    """The ``pushes`` table (empty: nothing was pushed before it existed)."""
    conn.execute(_PUSHES)


#: ``MIGRATIONS[n]`` turns a version ``n`` store into version ``n + 1``.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def migrate(conn: sqlite3.Connection, from_version: int,
            checkpoint: Callable[[str], None] | None = None) -> None:
    """Run every step from ``from_version`` to :data:`SCHEMA_VERSION` (inside the
    caller's transaction), then set ``user_version``."""
    for version in range(from_version, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
        if checkpoint is not None:
            checkpoint("migrate-mid")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
