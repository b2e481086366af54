"""The store into any warehouse: a dlt source, and the load ``leadsync load`` runs.

Needs the ``dlt`` extra (``pip install 'leadsync[dlt]'``): dlt, pyarrow and
DuckDB. A destination other than DuckDB needs dlt's own extra for it
(``pip install 'dlt[postgres]'``, ``'dlt[bigquery]'``…), and its
credentials the dlt way (``.dlt/secrets.toml`` or ``DESTINATION__…``
environment variables), never in ``leadsync.toml``.

Why the source reads the store rather than the workspace
    The store already holds what a warehouse should get: rows decoded,
    validated and typed, members resolved, bad rows in quarantine, and the
    deletions, which an API only reveals by listing every id (the sync's
    reconciliation). Reading it makes the warehouse rows *the store's rows* by
    construction (one decoder, one set of rules), costs the workspace no
    request and no rate limit (the load runs after ``leadsync sync`` in the
    same cron job), and needs no workspace token on the loading side.

What a load sends, per table (one dlt resource each, ``merge`` on ``source_id``)
    - rows of :meth:`Store.frame` edited since the last load: incremental on
      ``last_edited_time`` (``dlt.sources.incremental``) with the sync's own
      lag (the table's stored cursor lag, ``[sync] overlap_seconds``); the
      rows re-read inside that lag are sent only when their values changed
      (a hash per row in the resource's state), so a load with nothing new
      sends nothing;
    - rows that left the frame since the last load (tombstoned upstream, or
      moved to the quarantine): with ``deletions="delete"`` they are removed
      from the destination through dlt's ``hard_delete`` column
      ``_leadsync_removed`` (NULL on every row you see); with
      ``deletions="flag"`` a tombstoned row stays, as :meth:`Store.tombstones`
      has it (its last values, ``deleted_at`` set), and a quarantined one is
      removed;
    - rows that came back (revived, or out of the quarantine), whatever their
      edit time.

The resource state keeps the ids of the removed rows (tombstoned or in
quarantine) and a hash of each row edited within the lag of the newest edit:
usually a few kilobytes (a bulk import stamping thousands of rows in the same
minute keeps that many hashes until later edits move the window on). With ``full=True`` every row is
sent again (a merge, so nothing is duplicated).

Known limit: a value that changes in the frame without an edit of its row
(a member's ``member_id`` changed, so the ``member_id`` of their signals
resolves to the new one) reaches the warehouse with the row's next edit or
with a full load (``leadsync load --full``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# dlt sends anonymous usage data unless told not to; a leadsync load does not,
# unless RUNTIME__DLTHUB_TELEMETRY is set (to true) in the environment.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
import pandas as pd
import pyarrow as pa
from dlt.common.exceptions import DltException, MissingDependencyException, TransientException
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.extract import DltResource, DltSource

from leadsync.errors import ConfigError, LeadsyncError, Transient
from leadsync.export import arrow_schema, choose_tables, to_arrow
from leadsync.secrets import scrub
from leadsync.store import Store, open_store
from leadsync.tables import Column, schema

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_LAG_SECONDS",
    "PIPELINE_NAME",
    "REMOVED_COLUMN",
    "Deletions",
    "LoadSummary",
    "WarehouseError",
    "WarehouseTransientError",
    "columns",
    "leadsync_source",
    "load_store",
]

Deletions = Literal["delete", "flag"]

#: dlt's ``hard_delete`` column: a row sent with it set is deleted from the destination.
REMOVED_COLUMN = "_leadsync_removed"
#: The lag when the store has no cursor to take it from (``[sync] overlap_seconds``' default).
DEFAULT_LAG_SECONDS = 120.0
PIPELINE_NAME = "leadsync"
#: Where a resource keeps its removed ids and lag-window hashes in its dlt state.
STATE_KEY = "leadsync"
DEFAULT_DATASET = "leadership"


class WarehouseError(LeadsyncError):
    """A load into the warehouse failed (the destination refused it, or dlt did)."""


class WarehouseTransientError(WarehouseError, Transient):
    """The destination could not be reached or answered with a temporary failure."""


# ---------------------------------------------------------------------------
# Column types, declared from the canonical tables


def _column(column: Column) -> TColumnSchema:
    if column.kind == "timestamp":
        hint: TColumnSchema = {"data_type": "timestamp", "timezone": True}
    elif column.kind == "boolean":
        hint = {"data_type": "bool"}
    elif column.kind == "number":
        hint = {"data_type": "double"}
    elif column.kind == "members":
        hint = {"data_type": "json"}
    else:
        hint = {"data_type": "text"}
    hint["nullable"] = True
    doc = column.doc
    if column.kind == "category":
        doc = "one of " + " < ".join(column.vocabulary)
    if doc:
        hint["description"] = doc
    return hint


def columns(table: str, *, deletions: Deletions = "delete") -> TTableSchemaColumns:
    """The dlt column schema of ``table``: every canonical column typed from
    :mod:`leadsync.tables`, ``source_id`` the primary key, ``deleted_at`` with
    ``deletions="flag"``, and the ``hard_delete`` marker :data:`REMOVED_COLUMN`."""
    spec = schema(table)
    out: TTableSchemaColumns = {c.name: _column(c) for c in spec.columns}
    out["source_id"] = {"data_type": "text", "nullable": False, "primary_key": True,
                        "description": "the page or record id in the workspace"}
    for name in ("created_time", "last_edited_time"):
        out[name] = {"data_type": "timestamp", "timezone": True, "nullable": True}
    if deletions == "flag":
        out["deleted_at"] = {"data_type": "timestamp", "timezone": True, "nullable": True,
                             "description": "when leadsync found the row deleted upstream"}
    out[REMOVED_COLUMN] = {"data_type": "bool", "nullable": True, "hard_delete": True,
                           "description": "dlt's delete marker; NULL on every stored row"}
    return out


# ---------------------------------------------------------------------------
# What one load sends for one table (pure, given the store's frames and the state)


@dataclass
class TableCounts:
    """Rows a resource sent: changed (new or edited), came back, flagged, removed."""

    changed: int = 0
    returned: int = 0
    flagged: int = 0
    removed: int = 0

    @property
    def sent(self) -> int:
        return self.changed + self.returned + self.flagged + self.removed


def _hashes(frame: pd.DataFrame) -> pd.Series:
    """A hash of each row's values (member lists joined), as hex text keyed by source_id."""
    plain = frame.copy()
    for name in plain.columns:
        if plain[name].dtype == object:
            plain[name] = plain[name].map(
                lambda v: "\x1f".join(v) if isinstance(v, tuple) else v).astype("string")
    hashed = pd.util.hash_pandas_object(plain, index=False)
    return pd.Series([f"{int(h):016x}" for h in hashed], index=plain["source_id"].astype(str))


@dataclass
class _Plan:
    rows: pd.DataFrame
    #: tombstoned ids to send as flagged rows (``deletions="flag"``), read only when needed
    flag_ids: set[str]
    removed: list[str]
    counts: TableCounts
    state: dict[str, Any]
    advance_to: dt.datetime | None


def _plan(live: pd.DataFrame, deleted: set[str], quarantined: set[str],
          state: Mapping[str, Any], start: dt.datetime | None, lag: float,
          deletions: Deletions, full: bool) -> _Plan:
    """What to send, and the state to keep, from the store's live frame, its
    tombstoned and quarantined ids, and the last load's state.

    ``start`` is the incremental's lower bound (the last load's newest edit less
    the lag; None on a first load).
    """
    loaded_before = "removed" in state
    prev_removed = set(state.get("removed", ())) if loaded_before else set()
    window: Mapping[str, str] = state.get("window", {}) if loaded_before and not full else {}
    cursor = live["last_edited_time"]
    candidates = live if full or start is None else live[cursor >= pd.Timestamp(start)]
    hashes = _hashes(candidates)
    changed = candidates[[window.get(str(sid)) != h for sid, h in hashes.items()]]
    removed_now = deleted | quarantined
    came_back = (prev_removed - removed_now) - set(changed["source_id"].astype(str))
    back = live[live["source_id"].isin(came_back)]
    rows = pd.concat([changed, back], ignore_index=True) if len(back) else changed
    if full:
        newly = removed_now  # removing a row the destination lacks is a no-op
    elif loaded_before:
        newly = removed_now - prev_removed
    else:
        newly = set()  # a first load: the destination holds none of them
    flag_ids: set[str] = set()
    if deletions == "flag":
        # A first (or full) load sends every tombstone, as the row was when deleted.
        flag_ids = deleted if full or not loaded_before else newly & deleted
        newly = newly - flag_ids
    removed = sorted(newly)
    # The next load's window: the rows inside the lag of the newest edit seen so far.
    seen = [pd.Timestamp(state["last_edited_time"])] if state.get("last_edited_time") else []
    if len(cursor) and not pd.isna(cursor.max()):
        seen.append(cursor.max())
    advance_to = max(seen) if seen else None
    new_window: dict[str, str] = {}
    if advance_to is not None:
        new_window = dict(_hashes(live[cursor >= advance_to - pd.Timedelta(seconds=lag)]))
    counts = TableCounts(changed=len(changed), returned=len(back), removed=len(removed))
    new_state = {"removed": sorted(removed_now), "window": new_window,
                 "last_edited_time": advance_to.isoformat() if advance_to is not None else None}
    return _Plan(rows, flag_ids, removed, counts, new_state,
                 advance_to.to_pydatetime() if advance_to is not None else None)


def _removal_rows(table: str, ids: Sequence[str], deletions: Deletions) -> pa.Table:
    """Rows that only say "delete ``source_id``" (every other column null)."""
    target = arrow_schema(table, deleted_at=deletions == "flag")
    data = [pa.array(list(ids), type=pa.string()) if f.name == "source_id"
            else pa.nulls(len(ids), type=f.type) for f in target]
    return _with_marker(pa.Table.from_arrays(data, schema=target), True)


def _with_marker(arrow: pa.Table, removed: bool) -> pa.Table:
    marker = pa.array([True if removed else None] * arrow.num_rows, type=pa.bool_())
    return arrow.append_column(pa.field(REMOVED_COLUMN, pa.bool_()), marker)


# ---------------------------------------------------------------------------
# The source


def _store_lag(store: Store, table: str) -> float:
    cursor = store.cursor(table)
    return cursor.lag.total_seconds() if cursor is not None and cursor.lag else \
        DEFAULT_LAG_SECONDS


def _resource(path: Path, table: str, *, deletions: Deletions, full: bool, lag: float,
              counts: dict[str, TableCounts]) -> DltResource:
    cursor: dlt.sources.incremental[dt.datetime] = dlt.sources.incremental(
        "last_edited_time", lag=lag)

    def rows(updated: dlt.sources.incremental[dt.datetime] = cursor) -> Iterator[pa.Table]:
        # dlt keeps the incremental's own state beside ours in the resource state
        state = dlt.current.resource_state().setdefault(STATE_KEY, {})
        start, _ = updated.get_current_range()
        with open_store(path) as store:
            live = store.frame(table)
            deleted = {sid for sid, gone in store.known_ids(table).items() if gone}
            quarantined = set(store.quarantine(table)["source_id"].dropna().astype(str))
            plan = _plan(live, deleted, quarantined, state, start, lag, deletions, full)
            # Tombstones are decoded only when some are to be sent (flag mode).
            flagged = store.tombstones(table) if plan.flag_ids else None
        if flagged is not None:
            flagged = flagged[flagged["source_id"].isin(plan.flag_ids)]
            plan.counts.flagged = len(flagged)
        state.clear()
        state.update(plan.state)
        updated.advance(plan.advance_to)  # type: ignore[arg-type]
        counts[table] = plan.counts
        flag = deletions == "flag"
        if len(plan.rows):
            frame = plan.rows
            if flag:
                frame = frame.assign(deleted_at=pd.Series(pd.NaT, index=frame.index,
                                                          dtype="datetime64[ns, UTC]"))
            yield _with_marker(to_arrow(frame, table, deleted_at=flag), False)
        if flagged is not None and len(flagged):
            yield _with_marker(to_arrow(flagged, table, deleted_at=True), False)
        if plan.removed:
            yield _removal_rows(table, plan.removed, deletions)

    return dlt.resource(rows, name=table, primary_key="source_id", write_disposition="merge",
                        columns=columns(table, deletions=deletions))


def leadsync_source(store: str | os.PathLike[str], *, tables: Sequence[str] | None = None,
                    deletions: Deletions = "delete", full: bool = False,
                    counts: dict[str, TableCounts] | None = None) -> DltSource:
    """A dlt source of the store at ``store``: one ``merge`` resource per synced table.

    ``tables`` defaults to every table the store has synced. ``deletions``:
    ``"delete"`` removes rows deleted upstream from the destination;
    ``"flag"`` keeps them with ``deleted_at`` set. ``full`` sends every row
    again. ``counts``, when given, receives what each resource sent.

    >>> pipeline = dlt.pipeline("leadsync", destination="duckdb", dataset_name="leadership")
    >>> pipeline.run(leadsync_source("leadsync.db"))  # doctest: +SKIP
    """
    if deletions not in ("delete", "flag"):
        raise ConfigError(f"deletions must be 'delete' or 'flag', not {deletions!r}")
    path = Path(store)
    with open_store(path) as opened:
        chosen = choose_tables(opened, tables)
        lags = {t: _store_lag(opened, t) for t in chosen}
    sink = counts if counts is not None else {}

    @dlt.source(name="leadsync", max_table_nesting=0)
    def source() -> list[DltResource]:
        return [_resource(path, t, deletions=deletions, full=full, lag=lags[t], counts=sink)
                for t in chosen]

    return source()


# ---------------------------------------------------------------------------
# The load ``leadsync load`` runs


@dataclass
class LoadSummary:
    """What a load did: rows dlt loaded per table, and what leadsync sent per table."""

    destination: str
    dataset: str
    seconds: float
    #: dlt's own count of rows normalized and loaded, per table (``last_normalize_info``)
    loaded: dict[str, int]
    sent: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.loaded.values())

    def describe(self) -> str:
        parts = []
        for table, c in self.sent.items():
            detail = [f"{c.changed} changed"]
            if c.returned:
                detail.append(f"{c.returned} back")
            if c.flagged:
                detail.append(f"{c.flagged} flagged deleted")
            if c.removed:
                detail.append(f"{c.removed} removed")
            parts.append(f"{table} {self.loaded.get(table, 0)} ({', '.join(detail)})")
        return (f"loaded {self.rows} rows into {self.destination} dataset {self.dataset} in "
                f"{self.seconds:.1f}s: " + "; ".join(parts))

    def to_dict(self) -> dict[str, Any]:
        return {"destination": self.destination, "dataset": self.dataset,
                "seconds": round(self.seconds, 3), "rows": self.rows, "loaded": self.loaded,
                "sent": {t: {"changed": c.changed, "returned": c.returned,
                             "flagged": c.flagged, "removed": c.removed}
                         for t, c in self.sent.items()}}


_DSN_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return scrub(_DSN_PASSWORD.sub(r"\1***@", text))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _translate(exc: BaseException, destination: str) -> LeadsyncError:
    from dlt.common.configuration.exceptions import ConfigFieldMissingException
    from dlt.common.destination.exceptions import (
        InvalidDestinationReference,
        UnknownDestinationModule,
    )

    for inner in _chain(exc):
        if isinstance(inner, (UnknownDestinationModule, InvalidDestinationReference)):
            return ConfigError(f"unknown dlt destination {destination!r}")
        if isinstance(inner, MissingDependencyException):
            return ConfigError(f"the {destination} destination needs more packages: "
                               f"pip install 'dlt[{destination}]'")
        if isinstance(inner, ConfigFieldMissingException):
            fields = ", ".join(inner.fields) if getattr(inner, "fields", None) else "credentials"
            return ConfigError(
                f"the {destination} destination is missing {fields}: set them the dlt way, "
                f"in .dlt/secrets.toml or DESTINATION__{destination.upper()}__CREDENTIALS")
    for inner in _chain(exc):
        if isinstance(inner, TransientException):
            return WarehouseTransientError(f"{destination}: {_one_line(inner)}")
    last = list(_chain(exc))[-1]
    return WarehouseError(f"{destination}: {_one_line(last)}")


def load_store(store: str | os.PathLike[str], destination: str, *,
               dataset: str = DEFAULT_DATASET, tables: Sequence[str] | None = None,
               deletions: Deletions = "delete", full: bool = False,
               pipeline_name: str = PIPELINE_NAME,
               pipelines_dir: str | os.PathLike[str] | None = None) -> LoadSummary:
    """Load the store into ``destination`` (a dlt destination name: ``duckdb``,
    ``postgres``, ``bigquery``…) with a dlt pipeline named ``pipeline_name``.

    Credentials are dlt's business (``.dlt/secrets.toml``, ``DESTINATION__…``
    variables); a DuckDB destination without any is the file
    ``<pipeline_name>.duckdb`` in the working directory. Raises
    :class:`ConfigError` (a missing or unknown destination, missing
    credentials), :class:`WarehouseTransientError` (the destination is
    unreachable: retry later) or :class:`WarehouseError`.
    """
    started = time.perf_counter()
    sent: dict[str, TableCounts] = {}
    source = leadsync_source(store, tables=tables, deletions=deletions, full=full, counts=sent)
    try:
        options: dict[str, Any] = {"pipelines_dir": str(pipelines_dir)} if pipelines_dir else {}
        pipeline = dlt.pipeline(pipeline_name=pipeline_name, destination=destination,
                                dataset_name=dataset, **options)
        pipeline.run(source)
    except LeadsyncError:
        raise
    except (DltException, OSError, ImportError) as exc:
        raise _translate(exc, destination) from exc
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info if trace is not None else None
    counts = dict(normalized.row_counts) if normalized is not None else {}
    loaded = {t: int(counts.get(t, 0)) for t in sent}
    return LoadSummary(destination, dataset, time.perf_counter() - started, loaded, sent)
