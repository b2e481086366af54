"""The store's read path before typed columns, kept as the tests' oracle.

Until issue 16 ``Store.frame`` and ``Store.validated`` decoded every stored
row's JSON into a :class:`~leadsync.records.Record` and built the frame with
:func:`~leadsync.records.records_to_frame`, members resolved against the
members frame built the same way. This module is that code, reading the store
file with a connection of its own: what the typed columns must reproduce,
cell for cell.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from leadsync.records import Record, records_to_frame
from leadsync.store_codec import decode_time, decode_values
from leadsync.tables import Validated, schema


def _records(conn: sqlite3.Connection, table: str, *,
             include_deleted: bool) -> list[tuple[Record, str | None]]:
    sql = ("SELECT source_id, values_json, problem, created_time, last_edited_time, "
           "deleted_at FROM records WHERE table_name = ?")
    if not include_deleted:
        sql += " AND deleted_at IS NULL"
    sql += " ORDER BY created_time, source_id"
    return [(Record(source_id, decode_time(created), decode_time(edited),
                    decode_values(values), problem), deleted)
            for source_id, values, problem, created, edited, deleted in conn.execute(sql, (table,))]


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")


def oracle_validated(path: Path, table: str, *, include_deleted: bool = False
                     ) -> tuple[Validated, dict[str, str | None]]:
    """``Store.validated`` as it was: the frame and quarantine, and each row's tombstone."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = _records(conn, table, include_deleted=include_deleted)
        members: pd.DataFrame | None = None
        if table != "members" and schema(table).member_columns and conn.execute(
                "SELECT 1 FROM cursors WHERE table_name = 'members'").fetchone():
            member_rows = _records(conn, "members", include_deleted=include_deleted)
            members = records_to_frame("members", [r for r, _ in member_rows]).frame
    finally:
        conn.close()
    validated = records_to_frame(table, [r for r, _ in rows], members=members)
    return validated, {r.source_id: deleted for r, deleted in rows}


def oracle_frame(path: Path, table: str, *, include_deleted: bool = False) -> pd.DataFrame:
    """``Store.frame`` as it was."""
    validated, deleted = oracle_validated(path, table, include_deleted=include_deleted)
    frame = validated.frame
    if include_deleted:
        frame = frame.copy()
        frame["deleted_at"] = _utc(frame["source_id"].map(lambda s: deleted.get(str(s))))
    return frame
