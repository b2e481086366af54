"""The nightly sync: every configured table, incrementally, into the local store.

:func:`run_sync` is what ``leadsync sync`` runs. For each table, ``members``
first (the others resolve their member references against it):

1. **Open the source** (a :class:`~leadsync.sources.Source`, from
   :func:`leadsync.sources.open_source` or the ``sources`` factory), reusing the
   field ids the mapping resolved to last time, so an upstream rename keeps
   mapping. When no reconciliation is due (step 5), the source also gets the
   schema snapshot the table's last run stored (``source.schema_snapshot``), if
   it was taken under the table's current configuration (location, mapping,
   service URL): the connector then opens without reading the schema, checks
   the snapshot against what the service answers and reads the schema again
   when it is out of date. A reconciliation always reads the schema. All
   sources of a run share one :class:`~leadsync.sources.SchemaCache`,
   so a schema that serves several tables (an Airtable base's) is read once.
2. **Pull**: ``source.fetch(Cursor(since, lag))``, every row edited at or
   after the stored cursor minus ``sync.overlap_seconds`` (both services round
   edit times); without a cursor (first run) or with ``--full``, every row.
3. **Upsert** the rows by source id in batches of :data:`BATCH_SIZE`, each in
   its own transaction. A row is compared with the stored one first: unchanged
   rows are not rewritten, a tombstoned row that comes back is revived. On an
   incremental pull the batch's quarantine entries (rows that do not fit the
   canonical table, members resolved against the store) are set in the same
   transaction; on a full read, for ``members`` (whose changes can change
   every table's member resolution) and for a table already marked stale, the
   batch instead marks the table's quarantine stale, and it is recomputed whole
   from the stored rows in the table's last transaction.
4. **Move the cursor**, after the pull has ended, in one transaction, to the
   source's ``watermark`` (a minute or two before the server's time when the
   pull began, from its answers' ``Date``) and no further, or, for a source
   that reports none, to the newest server edit time seen
   (:meth:`Cursor.advanced`); with the resolved field ids and the schema
   snapshot (:func:`_next_cursor`). Not past the pull's start: a row read early
   and edited while the pull went on must come back next time. The watermark
   is also what lets a quiet table cost one query: rows that carry no newer
   edit time (a bulk import, an Airtable table with no last-modified field)
   are not read again each night.
5. **Reconcile** when due (``--full``, the first run, or ``sync.full_every_days``
   elapsed since the table's last reconciliation; 0 means every run): the ids
   of every live row (``source.list_ids()``, or the ids a full pull just saw)
   are compared with the store: live rows missing upstream get a tombstone
   (``deleted_at``; values kept), tombstoned ids present again are revived.
   If the listing holds ids the store has never seen (a row the cursor
   missed), the table is re-read in full first. One transaction.

Why a crash loses and duplicates nothing
    Every write is a transaction, and the order of commits is the guarantee:
    a batch is committed before the cursor that covers it, and the cursor is
    committed only after the whole pull. A process killed anywhere (SIGKILL,
    power cut: ``synchronous=FULL``) leaves earlier batches committed, the
    current one rolled back, and the cursor where it was; the next run pulls
    again from that cursor and upserts by source id, so rows already committed
    compare unchanged, and the rest are written. Rows are keyed by
    ``(table, source_id)``, so nothing can be stored twice. A reconciliation
    interrupted before its commit is still due next run. The quarantine is
    recomputed whole whenever a table's ``quarantine_stale`` flag is set,
    which a members change sets durably in its own batch. The ``running``
    entry a killed run leaves in the run log becomes ``interrupted``.

Nothing is written before every table has been opened, and opened means the
service answered: a source opened from a snapshot sends no request, so its
pull starts right away and its first answer is awaited before anything is
written. A wrong token, a deleted database or table, or a mapped field gone
since the snapshot therefore still fail with the store untouched.

Only one run writes: the store's :class:`~leadsync.store.SyncLock` is taken
before the store is opened, and a second run exits at once with
:class:`~leadsync.errors.StoreLockedError` (exit 75), having touched nothing.

``dry_run=True`` pulls and compares, and writes nothing at all: no rows, no
cursor, no run log, no lock, and no store file when there is none yet.

Testing hook: ``LEADSYNC_CRASH_AT`` kills the process at a named checkpoint
(:mod:`leadsync.store_hooks`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leadsync.config import Config
from leadsync.errors import ConfigError
from leadsync.progress import Progress, interactive
from leadsync.records import Cursor, PullStats, Record, records_to_frame
from leadsync.secrets import scrub
from leadsync.sources import SchemaCache, Source, SourceFactory, open_source
from leadsync.store import (
    PreparedRow,
    QuarantineEntry,
    Store,
    StoredCursor,
    SyncLock,
    store_path,
)
from leadsync.store_codec import UnstorableValueError, encode_time, encode_values
from leadsync.store_hooks import CrashPoints
from leadsync.tables import MemberIndex

__all__ = ["BATCH_SIZE", "SyncSummary", "TableSummary", "run_sync"]

log = logging.getLogger("leadsync.sync")

#: Rows upserted per transaction: small enough that a crash redoes little,
#: large enough that fsyncs (one per commit) stay a small share of the time.
BATCH_SIZE = 200
#: A reconciliation counts as due this long before ``full_every_days`` have
#: fully passed, so a nightly job that starts a few seconds earlier than last
#: week still reconciles on the seventh night.
RECONCILE_SLACK = dt.timedelta(hours=1)

_COUNTS = ("added", "updated", "unchanged", "deleted", "revived", "quarantined",
           "in_quarantine", "requests", "rate_limited")


@dataclass
class TableSummary:
    """What a run did to one table (in a dry run: what it would do)."""

    table: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    revived: int = 0
    #: rows added, updated or revived this run that went to the quarantine
    quarantined: int = 0
    #: rows of the table in the quarantine after the run
    in_quarantine: int = 0
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    full_read: bool = False
    reconciled: bool = False
    cursor: str | None = None

    def describe(self, dry_run: bool = False) -> str:
        verbs = ("would add", "would update", "would delete", "would revive") if dry_run else \
            ("added", "updated", "deleted", "revived")
        how = " (full read)" if self.full_read else ""
        how += ", reconciled" if self.reconciled else ""
        return (f"{self.table}: {self.added} {verbs[0]}, {self.updated} {verbs[1]}, "
                f"{self.deleted} {verbs[2]}, {self.revived} {verbs[3]}, {self.unchanged} "
                f"unchanged, {self.quarantined} quarantined ({self.in_quarantine} in "
                f"quarantine); {self.requests} requests, {self.rate_limited} rate-limited, "
                f"{self.seconds:.1f}s{how}")


@dataclass
class SyncSummary:
    """A whole run: per-table summaries and their totals; ``--json`` prints :meth:`as_dict`."""

    store: str
    dry_run: bool
    full: bool
    started_at: str
    status: str = "ok"
    run_id: int | None = None
    seconds: float = 0.0
    tables: list[TableSummary] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {name: sum(getattr(t, name) for t in self.tables) for name in _COUNTS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "dry_run": self.dry_run, "full": self.full,
            "run_id": self.run_id, "store": self.store, "started_at": self.started_at,
            "seconds": round(self.seconds, 3), **self.totals,
            "tables": {t.table: {k: round(v, 3) if isinstance(v, float) else v
                                 for k, v in asdict(t).items() if k != "table"}
                       for t in self.tables},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def describe(self, *, tables: bool = False) -> str:
        """One line of totals (what ``leadsync sync`` prints); ``tables`` adds a line each."""
        t = self.totals
        head = "dry run, nothing written" if self.dry_run else f"run {self.run_id}"
        verb = "would change" if self.dry_run else "synced"
        lines = [f"{verb} {self.store} in {self.seconds:.1f}s ({head}): {t['added']} added, "
                 f"{t['updated']} updated, {t['deleted']} deleted, {t['revived']} revived, "
                 f"{t['quarantined']} quarantined; {t['requests']} requests, "
                 f"{t['rate_limited']} rate-limited"]
        if tables:
            lines += [f"  {s.describe(self.dry_run)}" for s in self.tables]
        return "\n".join(lines)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def tables_to_sync(config: Config, tables: Sequence[str] | None = None) -> list[str]:
    """The tables a run syncs, ``members`` first, then in config order."""
    configured = list(config.tables)
    if tables:
        unknown = [t for t in tables if t not in configured]
        if unknown:
            raise ConfigError(
                f"--table {', '.join(unknown)}: not configured; the configured tables are "
                f"{', '.join(configured)}", path=config.source)
        configured = [t for t in configured if t in tables]
    return sorted(configured, key=lambda t: t != "members")


def _prepare(record: Record) -> tuple[Record, PreparedRow]:
    try:
        values = encode_values(record.values)
    except UnstorableValueError as exc:
        record = Record(record.source_id, record.created_time, record.last_edited_time, {},
                        problem=str(exc))
        values = encode_values({})
    return record, PreparedRow(record.source_id, values, record.problem,
                               encode_time(record.created_time),
                               encode_time(record.last_edited_time))


def _batch_quarantine(table: str, records: Sequence[Record], members: MemberIndex | None
                      ) -> dict[str, QuarantineEntry | None]:
    """Quarantine entries for a batch: set for rows that do not fit, cleared for the rest."""
    validated = records_to_frame(table, records, members=members)
    bad = {str(q.source_id): QuarantineEntry(str(q.reason),
                                             q.record if isinstance(q.record, str) else None)
           for q in validated.quarantine.itertuples(index=False)
           if isinstance(q.source_id, str)}
    return {r.source_id: bad.get(r.source_id) for r in records}


class _NoBar:
    def update(self, count: int = 1) -> None:
        return None

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _batches(records: Iterable[Record], size: int, crash: CrashPoints, table: str
             ) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        crash("fetched", table)
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Run:
    """What one table's sync needs from the run."""

    config: Config
    store: Store
    factory: SourceFactory
    env: Mapping[str, str] | None
    full: bool
    dry_run: bool
    crash: CrashPoints
    progress: bool | None
    batch_size: int
    clock: Callable[[], dt.datetime]
    #: schema reads shared by this run's sources
    schemas: SchemaCache = field(default_factory=SchemaCache)

    @functools.cached_property
    def members(self) -> MemberIndex | None:
        """The index member references resolve against, built once a run: first
        asked for by the first table after ``members``, which is synced first and
        not written again in the run."""
        return self.store.member_index()


def _reconcile_due(run: _Run, stored_reconciled: dt.datetime | None, full_read: bool) -> bool:
    if full_read or stored_reconciled is None:
        return True
    days = run.config.sync.full_every_days
    if days == 0:
        return True
    return run.clock() - stored_reconciled >= dt.timedelta(days=days) - RECONCILE_SLACK


def _pull(run: _Run, table: str, fetched: Iterable[Record],
          members: MemberIndex | None, summary: TableSummary, changed: set[str],
          seen: set[str], start: Cursor, whole_quarantine: bool) -> Cursor:
    """Upsert (or compare, in a dry run) the ``fetched`` records; returns the advanced cursor.

    With ``whole_quarantine`` (a full read, a stale quarantine, the members
    table), batches leave the quarantine to be recomputed whole at the end
    instead of maintaining it row by row.
    """
    store = run.store
    advanced = start
    label = f"{'dry run: ' if run.dry_run else ''}sync {table}"
    # A bar on a terminal or in a notebook; in cron the connectors' own log lines
    # tell the pull's progress, and one line per table follows the pull.
    show = interactive() if run.progress is None else run.progress
    with Progress(label, unit="rows", show=True, logger=log) if show else _NoBar() as bar:
        for batch in _batches(fetched, run.batch_size, run.crash, table):
            prepared = [_prepare(r) for r in batch]
            records = [r for r, _ in prepared]
            rows = [p for _, p in prepared]
            advanced = advanced.advanced(records)
            entries = None
            if run.dry_run or (table != "members" and not whole_quarantine):
                entries = _batch_quarantine(table, records, members)
            if run.dry_run:
                counts = store.compare_batch(table, rows)
                summary.quarantined += sum(1 for sid in counts.changed_ids
                                           if (entries or {}).get(sid))
            else:
                counts = store.write_batch(table, rows, quarantine=entries,
                                           members_changed=table == "members", now=run.clock(),
                                           values=[r.values for r in records])
                changed.update(counts.changed_ids)
            seen.update(r.source_id for r in rows)
            summary.added += counts.added
            summary.updated += counts.updated
            summary.unchanged += counts.unchanged
            summary.revived += counts.revived
            bar.update(len(batch))
    return advanced


def _next_cursor(start: Cursor, pulled: Cursor, source: Source) -> Cursor:
    """Where the table's cursor moves after a pull that began at ``start``.

    When the source reports a ``watermark`` (the server's time when the pull
    began, from the ``Date`` of its answers, a little before it), the cursor
    moves there and no further: a row read early in a long pull and edited
    while the pull went on is in the store with its old values, and a cursor
    taken from a later row's newer edit time would start the next query after
    that edit. Every row edited after the watermark comes back next time,
    whether or not any row read carries a newer edit time (so a table whose
    records only carry creation times is not read again each night).

    Without a watermark, ``pulled``: the newest edit time the rows carried.
    The cursor never moves back.
    """
    watermark = source.watermark
    if watermark is None:
        return pulled
    if start.since is not None and start.since >= watermark:
        return start
    return Cursor(watermark, start.lag)


@dataclass
class _Opened:
    """A table's source, opened before anything is written."""

    table: str
    source: Source
    seconds: float
    #: the pull reads everything (first run, ``--full``)
    full_read: bool
    #: a reconciliation follows the pull
    due: bool
    #: the pull, when opening had to start it (see :func:`_open_table`)
    records: Iterator[Record] | None = None


def _schema_pin(config: Config, table: str) -> dict[str, Any]:
    """What a stored schema snapshot is valid for: the table's configured location
    and mapping, and the service it was read from."""
    kind = config.workspace.kind
    url = config.workspace.notion_base_url if kind == "notion" else \
        config.workspace.airtable_endpoint_url
    return {"kind": kind, "url": url, **config.tables[table].model_dump(mode="json")}


def _stored_snapshot(config: Config, table: str, stored: StoredCursor | None
                     ) -> dict[str, Any] | None:
    """The schema snapshot stored for ``table``, if it was taken under its current config."""
    kept = stored.schema_snapshot if stored is not None else None
    if not kept or kept.get("pin") != _schema_pin(config, table):
        return None
    snapshot = kept.get("schema")
    return snapshot if isinstance(snapshot, dict) else None


def _open_table(run: _Run, table: str) -> _Opened:
    """Open ``table``'s source, reusing the field ids its mapping resolved to last time,
    and its schema snapshot when no reconciliation is due.

    Every table is opened before the run writes anything, so a wrong token, a
    missing database or an unmapped field fails with the store untouched. A
    source opened from a snapshot has sent nothing yet, so its pull starts
    here, up to its first record: that first answer is what proves the token,
    the data source and the mapping.
    """
    started = time.monotonic()
    stored = run.store.cursor(table)
    mapping = run.config.tables[table].fields
    reuse = {} if stored is None else {
        column: stored.field_ids[column] for column, name in mapping.items()
        if column in stored.field_ids and stored.field_names.get(column) == name}
    since = stored.since if stored else None
    full_read = run.full or since is None
    due = _reconcile_due(run, stored.reconciled_at if stored else None, full_read)
    snapshot = None if due else _stored_snapshot(run.config, table, stored)
    source = run.factory(run.config, table, env=run.env, field_ids=reuse or None,
                         stats=PullStats(), schema_cache=snapshot, schemas=run.schemas)
    source.open()
    records: Iterator[Record] | None = None
    if snapshot is not None:
        lag = dt.timedelta(seconds=run.config.sync.overlap_seconds)
        pull = source.fetch(None if full_read else Cursor(since, lag))
        first = next(pull, None)
        records = itertools.chain([first] if first is not None else [], pull)
    return _Opened(table, source, time.monotonic() - started, full_read, due, records)


def _sync_table(run: _Run, opened: _Opened) -> TableSummary:
    started = time.monotonic() - opened.seconds
    config, store, crash = run.config, run.store, run.crash
    table, source = opened.table, opened.source
    summary = TableSummary(table)
    stored = store.cursor(table)
    mapping = config.tables[table].fields
    crash("table-start", table)

    lag = dt.timedelta(seconds=config.sync.overlap_seconds)
    since = stored.since if stored else None
    full_read, due = opened.full_read, opened.due
    start = Cursor(since, lag)
    members = None if table == "members" else run.members
    changed: set[str] = set()
    seen: set[str] = set()
    summary.full_read = full_read
    whole = full_read or (stored is not None and stored.quarantine_stale)
    records = opened.records if opened.records is not None else \
        source.fetch(None if full_read else start)
    cursor = _next_cursor(
        start, _pull(run, table, records, members, summary, changed, seen, start, whole), source)
    crash("fetch-done", table)

    resolved = _field_ids(source)
    names = {c: mapping[c] for c in resolved if c in mapping} if resolved else None
    snapshot = _snapshot(config, table, source)
    if not run.dry_run:
        store.commit_cursor(table, since=cursor.since, lag=lag, field_ids=resolved,
                            field_names=names, finish=not due, now=run.clock(),
                            schema_snapshot=snapshot)
    if due:
        live = seen if full_read else set(source.list_ids())
        if not full_read:
            crash("listed", table)
            unknown = live - store.known_ids(table).keys() - seen  # seen: pulled now
            if unknown:
                log.warning("%s: %d row(s) upstream were never pulled (edited before the "
                            "cursor?); re-reading the whole table", table, len(unknown))
                if run.dry_run:
                    summary.added += len(unknown)
                else:
                    seen = set()
                    summary.full_read = True
                    cursor = _next_cursor(
                        cursor, _pull(run, table, source.fetch(None), members, summary,
                                      changed, seen, cursor, True), source)
                    store.commit_cursor(table, since=cursor.since, lag=lag,
                                        field_ids=resolved, field_names=names, finish=False,
                                        now=run.clock(), schema_snapshot=snapshot)
                    live = seen
        if run.dry_run:
            gone, back = store.compare_reconcile(table, live)
            back = [b for b in back if b not in seen]  # fetched ones were counted already
        else:
            gone, back = store.reconcile(table, live, members_changed=table == "members",
                                         now=run.clock())
        summary.deleted = len(gone)
        summary.revived += len(back)
        summary.reconciled = True

    if not run.dry_run:
        in_quarantine = store.quarantine_ids(table)
        summary.in_quarantine = len(in_quarantine)
        summary.quarantined = len(in_quarantine & changed)
    else:
        summary.in_quarantine = len(store.quarantine_ids(table))
    summary.cursor = encode_time(cursor.since)
    summary.requests = source.stats.requests
    summary.rate_limited = source.stats.rate_limited
    summary.seconds = time.monotonic() - started
    log.info("%s%s", "dry run: " if run.dry_run else "", summary.describe(run.dry_run))
    crash("table-done", table)
    return summary


def _snapshot(config: Config, table: str, source: Source) -> dict[str, Any] | None:
    """The source's schema snapshot (when it has one) with the config it is valid for."""
    snapshot = source.schema_snapshot
    if not snapshot:
        return None
    return {"pin": _schema_pin(config, table), "schema": dict(snapshot)}


def _field_ids(source: Source) -> dict[str, str] | None:
    """The source's resolved ``{column: field id}`` (None when it resolved none)."""
    return dict(source.field_ids) or None


def run_sync(
    config: Config,
    *,
    full: bool = False,
    dry_run: bool = False,
    tables: Sequence[str] | None = None,
    sources: SourceFactory | None = None,
    env: Mapping[str, str] | None = None,
    progress: bool | None = None,
    batch_size: int = BATCH_SIZE,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> SyncSummary:
    """Sync the configured tables (or ``tables``) into the store at ``[store] path``.

    ``full`` re-reads every row and reconciles deletions now; ``dry_run``
    compares and writes nothing. ``sources`` replaces
    :func:`~leadsync.sources.open_source` (tests, embedding); ``env`` is where
    tokens are read (default ``os.environ``); ``progress`` forces the progress
    bar on or off (default: on a terminal). Raises the connector's errors,
    :class:`~leadsync.errors.StoreLockedError` when another run holds the
    store, :class:`~leadsync.errors.StoreCorruptError` for a damaged store.
    """
    names = tables_to_sync(config, tables)
    crash = CrashPoints.from_env(env if env is not None and CrashPoints.VARIABLE in env
                                 else os.environ)
    path = store_path(config)
    summary = SyncSummary(str(path), dry_run, full, started_at=encode_time(clock()) or "")
    started = time.monotonic()

    def run_for(store: Store, sources_open: contextlib.ExitStack
                ) -> tuple[_Run, list[_Opened]]:
        run = _Run(config, store, sources or open_source, env, full, dry_run, crash, progress,
                   batch_size, clock)
        opened = []
        for table in names:
            opened.append(_open_table(run, table))
            sources_open.callback(opened[-1].source.close)
        return run, opened

    if dry_run:
        store = Store.open(path, writable=False, upgrade=False) if _has_store(path) else \
            Store.memory()
        with store, contextlib.ExitStack() as sources_open:
            run, opened = run_for(store, sources_open)
            for table in opened:
                summary.tables.append(_sync_table(run, table))
        summary.seconds = time.monotonic() - started
        log.info("dry run: nothing written")
        return summary

    with SyncLock(path) as lock:
        crash("lock-acquired")
        log.info("sync started: %s into %s%s", ", ".join(names), path,
                 " (full)" if full else "")
        with Store.open(path, create=True, writable=True, check=True, lock=lock,
                        checkpoint=crash) as store, contextlib.ExitStack() as sources_open:
            run, opened = run_for(store, sources_open)
            summary.run_id = store.begin_run(full=full, tables=names, now=clock())
            crash("run-started")
            try:
                for table in opened:
                    summary.tables.append(_sync_table(run, table))
            except BaseException as exc:
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                summary.status = status
                summary.seconds = time.monotonic() - started
                try:
                    store.finish_run(summary.run_id, status=status,
                                     totals={**summary.totals, "seconds": summary.seconds},
                                     summary=summary.as_dict(),
                                     error=scrub(str(exc) or type(exc).__name__),
                                     now=clock())
                except Exception:  # the original error matters more
                    log.debug("could not log the failed run", exc_info=True)
                raise
            crash("run-before-finish")
            summary.seconds = time.monotonic() - started
            store.finish_run(summary.run_id, status="ok",
                             totals={**summary.totals, "seconds": summary.seconds},
                             summary=summary.as_dict(), error=None, now=clock())
            crash("run-after-finish")
    return summary


def _has_store(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False
