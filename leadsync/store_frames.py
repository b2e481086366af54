"""Each stored table as typed columns: what lets :meth:`Store.frame` read at memory speed.

A frame of the store is the frame a live pull returns: the same columns,
dtypes and values, members resolved against the store's live members when it
is read, the same rows left out. :mod:`leadsync.frames` builds a frame in two
steps, and the store keeps the result of the costly one:

1. every row's cells converted to the canonical dtypes
   (:func:`~leadsync.frames.coerce_cells`): it depends on the row alone, so it
   is done once, when the row is written, and kept;
2. the rules across rows: the key falls back to ``source_id`` when no row
   carries it, member references resolve to ``member_id``, duplicate keys keep
   the first row. They depend on the other rows and on the members table as it
   is *now*, so they run at every read, vectorised here (:func:`build_frame`),
   or through :func:`~leadsync.frames.finish` itself when the quarantine is
   asked for too (:func:`coerced`).

**The columns.** Per table, every stored row (live, tombstoned and
undecodable ones) in the store's order (``created_time``, then
``source_id``), as an Arrow table (:func:`arrow_schema`): the converted cells
of each canonical column (text as Arrow strings, which are what pandas'
``string`` dtype holds, so a frame's text columns are the very buffers read;
vocabularies as their category codes; times as UTC nanoseconds), each member
cell as the store's own JSON of it (dictionary-encoded: each distinct
reference is resolved once per read), and the row's facts: its
``source_id``, decode problem, tombstone, whether a cell did not fit, whether
it carries the key column, and ``_order``, its ``created_time`` in
microseconds (the sort key the merge below needs).

**Where they live.** In the store file itself, one row per table in the
``frames`` table (:mod:`leadsync.store_schema`): an Arrow IPC stream,
zstd-compressed (15 MB for 1,000,000 signals), stamped with
:func:`frame_format`. Rows written since (``records`` changes) are listed in
``frame_changes`` by SQLite triggers, in the transaction that writes them, so
a reader's snapshot of the store always has columns and changes that agree:
it reads the columns, then decodes only the changed rows from their JSON and
merges them in (:func:`merge`). The sync rewrites the columns of a table
(:meth:`Store.refresh_frame`) in the transaction that ends the table's sync,
which empties its changes. Columns stamped by another leadsync, pandas or
pyarrow are never used: such a table is read from its JSON rows (as when
there are no columns yet) until the next sync rebuilds them.

**Why this design (issue 16, measured on the project's 2-core machine under
load).** For 1,000,000 signals: SQLite's own row-by-row reading is the
floor of every "typed columns in SQLite" design: ``fetchall`` of twelve
typed columns took 3.4 CPU s without the ``ORDER BY`` and 6.1 s with it,
ADBC's Arrow reader 2.2 s and 4.0 s; a ``json_group_array`` per column
6.3 s. The Arrow stream above reads and decompresses in 0.2 to 0.5 s, and
the whole ``Store.frame`` takes 0.7 s (0.46 CPU s, 618 MB for the whole
process; ``benchmarks/store_read.py``), against 70.8 s and 2.4 GB row by row. A Parquet file beside
the store took 1.9 s to read, an uncompressed Arrow file beside it 0.06 s
(memory-mapped): kept inside SQLite, the columns cost a little more to read
but share the store's transactions, so they can never disagree with the rows
after a crash or while a sync writes, need no second file to lock, sync,
make owner-only, back up or clean away, and ``sqlite3 .backup`` keeps them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import json
import zoneinfo
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from leadsync.canonical import (
    MemberIndex,
    MemberRef,
    TableSchema,
    _valid_zone,
    member_index,
    schema,
)
from leadsync.frames import Coerced, _decode_cell, _resolve_cell, _texts, coerce_cells
from leadsync.store_codec import _encode, decode_time, decode_values

__all__ = [
    "ROW_COLUMNS",
    "Columns",
    "StoredRow",
    "arrow_schema",
    "build_frame",
    "coerced",
    "columns_from_rows",
    "columns_from_values",
    "concat",
    "deserialize",
    "frame_format",
    "in_store_order",
    "merge",
    "only",
    "serialize",
    "without",
    "zone_flips",
]

#: The layout of the columns; bumped whenever it changes.
LAYOUT = 1
#: Buffers compressed with zstd: a third of lz4's size here, and faster to read back.
COMPRESSION = "zstd"

#: A stored row as the store selects it: :data:`ROW_COLUMNS` of ``records``.
StoredRow = tuple[str, str, "str | None", "str | None", "str | None", "str | None"]
ROW_COLUMNS = "source_id, values_json, problem, created_time, last_edited_time, deleted_at"

SID = "_sid"                  # records.source_id, as stored
SID_NULL = "_sid_null"        # the frame's source_id is missing (a blank id)
SOURCE_KEY = "_source_key"    # the key taken from the source id, where it is not the id itself
PROBLEM = "_problem"          # records.problem: the row could not be decoded
DELETED = "_deleted"          # records.deleted_at, as stored (NULL: live)
ORDER = "_order"              # created_time in microseconds: the first sort key
BAD = "_bad"                  # a cell that does not fit, or a required one missing
KEY_PRESENT = "_key_present"  # the record carries the key column

#: ``_order`` of a row without ``created_time`` (SQLite sorts NULL first).
_FIRST = np.iinfo(np.int64).min
#: ``created_time`` as the store writes it (``encode_time``): text order is time order.
_STORE_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"
_TS = pa.timestamp("ns", tz="UTC")
_CELLS = pa.dictionary(pa.int32(), pa.large_string())


def zone_column(name: str) -> str:
    """The column keeping the texts of ``name`` (a time-zone column) that were no zone."""
    return f"_zone:{name}"


def _arrow_type(kind: str) -> pa.DataType:
    if kind == "category":
        return pa.int8()
    if kind == "timestamp":
        return _TS
    if kind == "boolean":
        return pa.bool_()
    if kind == "number":
        return pa.float64()
    if kind in ("member", "members"):
        return _CELLS
    return pa.large_string()


@functools.cache
def arrow_schema(table: str) -> pa.Schema:
    """The columns kept for ``table``: the row's facts, then its canonical columns."""
    spec = schema(table)
    fields = [
        pa.field(SID, pa.large_string(), nullable=False),
        pa.field(SID_NULL, pa.bool_(), nullable=False),
        pa.field(SOURCE_KEY, pa.large_string()),
        pa.field(PROBLEM, pa.large_string()),
        pa.field(DELETED, pa.large_string()),
        pa.field(ORDER, pa.int64(), nullable=False),
        pa.field(BAD, pa.bool_(), nullable=False),
        pa.field(KEY_PRESENT, pa.bool_(), nullable=False),
    ]
    for column in spec.columns:
        fields.append(pa.field(column.name, _arrow_type(column.kind)))
        if column.kind == "timezone":
            fields.append(pa.field(zone_column(column.name), pa.large_string()))
    fields += [pa.field("created_time", _TS), pa.field("last_edited_time", _TS)]
    return pa.schema(fields)


@functools.cache
def frame_format() -> str:
    """The stamp of columns this very code would build.

    Columns built by anything else (another layout, another version of the
    modules that convert cells, of pandas or of pyarrow) are not used: the
    cells would not necessarily convert the same way now.
    """
    import leadsync
    from leadsync import canonical, frames, store_codec

    digest = hashlib.sha256()
    digest.update(f"{LAYOUT}|{leadsync.__version__}|{pd.__version__}|{pa.__version__}".encode())
    for source in (canonical.__file__, frames.__file__, store_codec.__file__, __file__):
        try:
            digest.update(Path(str(source)).read_bytes())
        except OSError:  # pragma: no cover - no source beside the bytecode
            digest.update(str(source).encode())
    return f"{LAYOUT}:{digest.hexdigest()[:20]}"


@dataclass(frozen=True)
class Columns:
    """Stored rows of one table as typed columns (:func:`arrow_schema`), in the store's order.

    ``mergeable``: every row's ``created_time`` is empty or in the store's own
    form, so ``_order`` sorts the rows as the store does and changed rows can
    be merged in (:func:`merge`). Columns that are not can still be read, but
    are not kept.
    """

    table: str
    data: pa.Table
    mergeable: bool = True

    def __len__(self) -> int:
        return int(self.data.num_rows)


# ---------------------------------------------------------------------------
# Building columns from stored rows


def _cell_text(cell: Any) -> str | None:
    """A member cell as the store writes it (the JSON of :mod:`leadsync.store_codec`)."""
    if cell is None:
        return None
    encoded = _encode(cell)
    if encoded is None:
        return None
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cell_texts(cells: Sequence[Any]) -> list[str | None]:
    """:func:`_cell_text` of every cell, once per distinct reference."""
    seen: dict[MemberRef, str | None] = {}
    out: list[str | None] = []
    for cell in cells:
        if cell.__class__ is MemberRef:
            text = seen.get(cell, _UNSEEN)
            if text is _UNSEEN:
                text = seen[cell] = _cell_text(cell)
            out.append(text)
        else:
            out.append(_cell_text(cell))
    return out


_UNSEEN = "\x00unseen"


def _spread(values: pa.Array, where: pa.Array | None) -> pa.Array:
    """``values`` of the good rows placed at every row (None where a row is not good)."""
    return values if where is None else values.take(where)


def _to_arrow(series: pd.Series, kind: str) -> pa.Array:
    if kind == "category":
        return pa.array(series.cat.codes.to_numpy().astype(np.int8))
    if kind == "timestamp":
        return pa.array(series.array, type=_TS)
    if kind == "boolean":
        return pa.array(series.array, type=pa.bool_())
    if kind == "number":
        return pa.array(series.array, type=pa.float64())
    return pa.array(series.array, type=pa.large_string())


def _order(created: Sequence[str | None]) -> tuple[pa.Array, bool]:
    """``_order`` of rows with these stored ``created_time`` texts, and whether it sorts
    them as the store does (every text empty or in the store's own form)."""
    texts = pa.array(created, type=pa.large_string())
    own = pc.match_substring_regex(texts, _STORE_TIME)
    if pc.all(pc.or_kleene(own, pc.is_null(texts))).as_py() is False:
        return pa.array(np.full(len(created), _FIRST, dtype=np.int64)), False
    try:
        micros = pc.cast(pc.utf8_slice_codeunits(texts, 0, 26), pa.timestamp("us"))
    except pa.ArrowInvalid:  # a date that is no date (the row itself fails to read)
        return pa.array(np.full(len(created), _FIRST, dtype=np.int64)), False
    return pc.fill_null(micros.cast(pa.int64()), _FIRST), True


def columns_from_rows(table: str, rows: Sequence[StoredRow]) -> Columns:
    """The columns of ``rows`` (in the order given), each decoded from its JSON and converted
    exactly as :func:`~leadsync.frames.records_to_frame` converts a
    :class:`~leadsync.pulls.Record` of it."""
    return _build(table, rows, [decode_values(r[1]) for r in rows])


#: Classes of values that come back from the store's JSON as an equal value of the same
#: class, so that they convert exactly as the stored value does.
_ROUND_TRIP = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime})
_STR = frozenset({str})
_ROUND_TRIP_OR_REF = _ROUND_TRIP | {MemberRef}


def _round_trips(value: Any) -> bool:
    cls = value.__class__
    if cls in _ROUND_TRIP:
        return True
    if cls is MemberRef:
        return all(v is None or v.__class__ is str for v in value)
    if cls is list or cls is tuple:
        return all(_round_trips(v) for v in value)
    return False


def _row_round_trips(values: Mapping[str, Any]) -> bool:
    if not {k.__class__ for k in values} <= _STR:
        return False
    classes = {v.__class__ for v in values.values()}
    if classes <= _ROUND_TRIP:
        return True
    if classes <= _ROUND_TRIP_OR_REF:
        return all(_round_trips(v) for v in values.values() if v.__class__ is MemberRef)
    return all(_round_trips(v) for v in values.values())


def columns_from_values(table: str, rows: Sequence[StoredRow],
                        values: Sequence[Mapping[str, Any]]) -> Columns:
    """:func:`columns_from_rows` of rows whose values are at hand (the ones their JSON was
    written from, say): a row whose values would not all come back from the JSON as
    themselves is decoded from it after all, so the result is the same."""
    exact: list[Mapping[str, Any]] = []
    for stored, held in zip(rows, values, strict=True):
        if _row_round_trips(held):
            exact.append(held)
        else:
            exact.append(decode_values(stored[1]))
    return _build(table, rows, exact)


def _build(table: str, rows: Sequence[StoredRow],
           values: Sequence[Mapping[str, Any]]) -> Columns:
    spec = schema(table)
    n = len(rows)
    if n == 0:
        return Columns(table, arrow_schema(table).empty_table())
    sids = [r[0] for r in rows]
    created = [decode_time(r[3]) for r in rows]
    edited = [decode_time(r[4]) for r in rows]
    good = np.fromiter((not r[2] for r in rows), dtype=bool, count=n)
    at = np.flatnonzero(good).tolist()
    where = None if len(at) == n else pa.array(
        np.where(good, np.cumsum(good) - 1, 0), mask=~good)

    cells: dict[str, list[Any]] = {
        c.name: [values[i].get(c.name) for i in at] for c in spec.columns}
    cells["source_id"] = [sids[i] for i in at]
    cells["created_time"] = [created[i] for i in at]
    cells["last_edited_time"] = [edited[i] for i in at]
    key_present = np.fromiter((spec.key in values[i] for i in at), dtype=bool, count=len(at))
    converted = coerce_cells(table, cells, len(at), key_present)

    stripped = [s.strip() for s in sids]
    bad = np.zeros(n, dtype=bool)
    bad[good] = converted.bad
    present = np.zeros(n, dtype=bool)
    present[good] = converted.key_present
    order, mergeable = _order([r[3] for r in rows])
    arrays: dict[str, pa.Array] = {
        SID: pa.array(sids, type=pa.large_string()),
        SID_NULL: pa.array([not s for s in stripped], type=pa.bool_()),
        SOURCE_KEY: pa.array([s if s and s != sid else None
                              for s, sid in zip(stripped, sids, strict=True)],
                             type=pa.large_string()),
        PROBLEM: pa.array([r[2] or None for r in rows], type=pa.large_string()),
        DELETED: pa.array([r[5] for r in rows], type=pa.large_string()),
        ORDER: order,
        BAD: pa.array(bad),
        KEY_PRESENT: pa.array(present),
    }
    for column in spec.columns:
        name = column.name
        if column.kind in ("member", "members"):
            texts = pa.array(_cell_texts(cells[name]), type=pa.large_string())
            arrays[name] = _spread(texts, where).dictionary_encode()
            continue
        typed = _spread(_to_arrow(converted.typed[name], column.kind), where)
        if column.kind == "category":
            typed = pc.fill_null(typed, -1)
        arrays[name] = typed
        if column.kind == "timezone":
            texts, _ = _texts(cells[name])
            no_zone = [t if t is not None and v is pd.NA else None
                       for t, v in zip(texts, converted.typed[name], strict=True)]
            arrays[zone_column(name)] = _spread(
                pa.array(no_zone, type=pa.large_string()), where)
    for name in ("created_time", "last_edited_time"):
        arrays[name] = _spread(_to_arrow(converted.typed[name], "timestamp"), where)
    data = pa.Table.from_arrays([arrays[f.name] for f in arrow_schema(table)],
                                schema=arrow_schema(table))
    return Columns(table, data, mergeable)


def in_store_order(columns: Columns) -> Columns | None:
    """``columns`` sorted as the store sorts its rows; None when they cannot be."""
    if not columns.mergeable:
        return None
    data = columns.data.sort_by([(ORDER, "ascending"), (SID, "ascending")])
    return Columns(columns.table, data.combine_chunks())


def without(columns: Columns, ids: Collection[str]) -> Columns:
    """``columns`` less the rows of these source ids."""
    if not ids or not len(columns):
        return columns
    gone = pc.is_in(columns.data[SID], value_set=pa.array(list(ids), type=pa.large_string()))
    if not pc.any(gone).as_py():
        return columns
    return Columns(columns.table, columns.data.filter(pc.invert(gone)), columns.mergeable)


def only(columns: Columns, ids: Collection[str]) -> Columns:
    """The rows of ``columns`` with these source ids."""
    if not len(columns):
        return columns
    kept = pc.is_in(columns.data[SID], value_set=pa.array(list(ids), type=pa.large_string()))
    return Columns(columns.table, columns.data.filter(kept), columns.mergeable)


def concat(table: str, parts: Iterable[Columns]) -> Columns:
    """Columns of consecutive runs of rows, as one."""
    listed = list(parts)
    if not listed:
        return Columns(table, arrow_schema(table).empty_table())
    if len(listed) == 1:
        return listed[0]
    data = pa.concat_tables([p.data for p in listed]).unify_dictionaries()
    return Columns(table, data, all(p.mergeable for p in listed))


# ---------------------------------------------------------------------------
# Changed rows merged in


class _Ids(Sequence[str]):
    """Source ids of an Arrow array, read one at a time (what ``bisect`` asks for)."""

    def __init__(self, array: pa.Array):
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i: Any) -> Any:
        return self._array[i].as_py()


def merge(columns: Columns, changed: Collection[str], fresh: Columns) -> Columns | None:
    """``columns`` less the rows whose source id is in ``changed``, plus ``fresh`` (those
    rows as stored now, in the store's order), in the store's order.

    None when the rows cannot be ordered by ``_order`` (see :class:`Columns`).
    """
    data = without(columns, changed).data
    if not len(fresh):
        return Columns(columns.table, data, columns.mergeable)
    if not (columns.mergeable and fresh.mergeable):
        return None
    orders = data[ORDER].to_numpy()
    sids = data[SID].combine_chunks() if data.num_rows else pa.array([], pa.large_string())
    places: list[int] = []
    for order, sid in zip(fresh.data[ORDER].to_pylist(), fresh.data[SID].to_pylist(),
                          strict=True):
        lo = int(np.searchsorted(orders, order, side="left"))
        hi = int(np.searchsorted(orders, order, side="right"))
        places.append(lo + bisect.bisect_left(_Ids(sids.slice(lo, hi - lo)), sid))
    both = pa.concat_tables([data, fresh.data]).unify_dictionaries()
    n = data.num_rows
    if places and min(places) == n:  # new rows after every kept one: the usual night
        return Columns(columns.table, both.combine_chunks())
    taken = np.insert(np.arange(n), places, n + np.arange(len(fresh)))
    return Columns(columns.table, both.take(pa.array(taken)).combine_chunks())


def _is_zone(name: str) -> bool:
    """:func:`~leadsync.canonical._valid_zone`, asking the zone itself first (a zone that
    loads is valid), so that the list of every zone is read only for a text that is none."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return _valid_zone(name)
    return True


def zone_flips(columns: Columns) -> list[str]:
    """Source ids of rows whose time-zone cell was judged against another zone database.

    A zone kept as valid that this machine does not know, or a text kept as
    no zone that it does: those rows are converted again.
    """
    spec = schema(columns.table)
    data = columns.data
    flipped: list[pa.Array] = []
    for column in spec.columns:
        if column.kind != "timezone" or not data.num_rows:
            continue
        kept = data[column.name]
        refused = data[zone_column(column.name)]
        lost = [z for z in pc.unique(kept.drop_null()).to_pylist() if not _is_zone(z)]
        found = [z for z in pc.unique(refused.drop_null()).to_pylist() if _is_zone(z)]
        mask = pc.or_(pc.is_in(kept, value_set=pa.array(lost, type=pa.large_string())),
                      pc.is_in(refused, value_set=pa.array(found, type=pa.large_string())))
        if lost or found:
            flipped.append(data[SID].filter(mask).combine_chunks())
    return [s for array in flipped for s in array.to_pylist()]


# ---------------------------------------------------------------------------
# Kept in the store


def serialize(columns: Columns) -> bytes:
    """The Arrow IPC stream the store keeps."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
    with pa.ipc.new_stream(sink, columns.data.schema, options=options) as writer:
        writer.write_table(columns.data)
    return bytes(sink.getvalue())


def deserialize(table: str, data: bytes | bytearray | memoryview) -> Columns:
    """Columns from the stream :func:`serialize` wrote."""
    read = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    if read.schema != arrow_schema(table):
        raise ValueError(f"{table}: the stored columns do not have this leadsync's layout")
    return Columns(table, read.combine_chunks())


# ---------------------------------------------------------------------------
# Frames


def _np(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _strings(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array], type=array.type)
    return pd.Series(pd.arrays.ArrowStringArray(array), copy=False)


def _to_series(spec: TableSchema, name: str, array: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A kept column as the canonical frame holds it."""
    kind = {"source_id": "id", "created_time": "timestamp",
            "last_edited_time": "timestamp"}.get(name) or spec.column(name).kind
    if kind == "category":
        vocabulary = spec.column(name).vocabulary
        dtype = pd.CategoricalDtype(list(vocabulary), ordered=True)
        return pd.Series(pd.Categorical.from_codes(_np(array), dtype=dtype), copy=False)
    if kind == "timestamp":  # UTC nanoseconds, NaT where null
        naive = _np(array).astype("datetime64[ns]", copy=False)
        return pd.Series(naive, copy=False).dt.tz_localize("UTC")
    if kind == "boolean":
        mask = _np(pc.is_null(array))
        return pd.Series(pd.arrays.BooleanArray(_np(pc.fill_null(array, False)), mask),
                         copy=False)
    if kind == "number":
        mask = _np(pc.is_null(array))
        return pd.Series(pd.arrays.FloatingArray(
            _np(pc.fill_null(array, 0.0)).astype(np.float64), mask), copy=False)
    return _strings(array)


def _source_ids(data: pa.Table) -> pa.ChunkedArray:
    """The frame's ``source_id``: the stored id, missing where it is blank."""
    blank = data[SID_NULL]
    if not pc.any(blank).as_py():
        return data[SID]
    return pc.if_else(blank, pa.scalar(None, pa.large_string()), data[SID])


def _source_keys(data: pa.Table) -> pa.ChunkedArray:
    """The key each row has when the key falls back to the source id."""
    ids = _source_ids(data)
    if data[SOURCE_KEY].null_count == data.num_rows:
        return ids
    return pc.coalesce(data[SOURCE_KEY], ids)


@dataclass
class _Rows:
    """Step 2's facts for the rows of a view: which rows are built, and which fail."""

    good: np.ndarray       # in the view and decoded
    from_source: bool       # the key falls back to the source id
    key: pa.ChunkedArray    # the key column as built
    bad: np.ndarray         # a cell does not fit or a required one is missing (good rows)


def _rows(spec: TableSchema, data: pa.Table, in_view: np.ndarray) -> _Rows:
    good = in_view & _np(pc.is_null(data[PROBLEM]))
    from_source = bool(good.any()) and not bool((_np(data[KEY_PRESENT]) & good).any())
    key = _source_keys(data) if from_source else data[spec.key]
    bad = _np(data[BAD]) & good
    if spec.column(spec.key).required:
        bad |= _np(pc.is_null(key)) & good
    return _Rows(good, from_source, key, bad)


def _index(spec: TableSchema, data: pa.Table, rows: _Rows,
           members: MemberIndex | None) -> MemberIndex | None:
    """What member references resolve against (see :func:`~leadsync.frames.finish`)."""
    if spec.name != "members" or members is not None:
        return members
    kept = pa.array(rows.good)
    return member_index(pd.DataFrame({
        "member_id": _strings(rows.key.filter(kept)),
        "name": _strings(data["name"].filter(kept)),
        "email": _strings(data["email"].filter(kept)),
        "source_id": _strings(_source_ids(data).filter(kept)),
    }))


@dataclass
class _Resolved:
    """A member column resolved: one result per distinct cell, and each row's cell."""

    many: bool
    results: list[tuple[Any, bool]]  # per distinct cell, then the empty cell
    codes: np.ndarray                # each row's distinct cell (the last entry: empty)

    def failed(self, good: np.ndarray) -> np.ndarray:
        bad = np.fromiter((r[1] for r in self.results), dtype=bool, count=len(self.results))
        failed: np.ndarray = bad[self.codes] & good
        return failed

    def series(self, keep: np.ndarray) -> pd.Series:
        """The resolved column of the rows kept, as the frame holds it."""
        codes = self.codes[keep]
        if self.many:
            objects = np.empty(len(self.results), dtype=object)
            for i, (value, _) in enumerate(self.results):
                objects[i] = value if value is not None else ()
            return pd.Series(objects[codes], dtype="object")
        values = [r[0] for r in self.results]
        if all(v is None for v in values):
            return _strings(pa.nulls(len(codes), type=pa.large_string()))
        ids = pa.array(values, type=pa.large_string())
        return _strings(ids.take(pa.array(codes)))


def _resolve(spec: TableSchema, name: str, cells: pa.ChunkedArray,
             index: MemberIndex | None) -> _Resolved:
    """A member column resolved, each distinct cell once (as
    :func:`~leadsync.frames.finish` resolves the store's encoded cells)."""
    column = spec.column(name)
    many = column.kind == "members"
    encoded = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
    texts = encoded.dictionary.to_pylist()
    results = [_resolve_cell(_decode_cell(t), index, many, column.required) for t in texts]
    results.append(_resolve_cell(None, index, many, column.required))  # an empty cell
    return _Resolved(many, results, _np(pc.fill_null(encoded.indices, len(texts))))


def _duplicates(key: pa.ChunkedArray, good: np.ndarray) -> np.ndarray:
    """Good rows whose key a good row before them has."""
    codes = _np(pc.fill_null(pc.dictionary_encode(key).combine_chunks().indices, -1))
    counted = good & (codes >= 0)
    at = np.flatnonzero(counted)
    dup = np.zeros(len(good), dtype=bool)
    if len(at):
        _, first = np.unique(codes[at], return_index=True)
        repeated = np.ones(len(at), dtype=bool)
        repeated[first] = False
        dup[at[repeated]] = True
    return dup


def build_frame(columns: Columns, in_view: np.ndarray,
                members: MemberIndex | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The canonical frame of the rows ``in_view`` (step 2, vectorised), and which rows it holds.

    ``members`` as :func:`~leadsync.frames.finish` takes it (None for the
    members table: its ``mentor_id`` resolves against its own rows). The
    frame equals ``finish(...).frame`` of the same rows: rows with a problem
    are left out, in the order they come.
    """
    spec = schema(columns.table)
    data = columns.data
    rows = _rows(spec, data, in_view)
    bad = rows.bad
    index = _index(spec, data, rows, members) if spec.member_columns else None
    resolved: dict[str, _Resolved] = {}
    for name in spec.member_columns:
        resolved[name] = _resolve(spec, name, data[name], index)
        bad = bad | resolved[name].failed(rows.good)
    if not (rows.from_source and data[SOURCE_KEY].null_count == data.num_rows):
        bad = bad | _duplicates(rows.key, rows.good)
    # (else the keys are the stored source ids, which the store keeps unique)
    keep = rows.good & ~bad
    mask = None if keep.all() else pa.array(keep)
    out: dict[str, pd.Series] = {}
    for name in spec.column_names:
        if name in resolved:
            out[name] = resolved[name].series(keep)
            continue
        if name == spec.key:
            array = rows.key
        elif name == "source_id":
            array = _source_ids(data)
        else:
            array = data[name]
        if mask is not None:
            array = array.filter(mask)
        out[name] = _to_series(spec, name, array)
    return pd.DataFrame(out, copy=False), keep


def coerced(columns: Columns, in_view: np.ndarray) -> tuple[Coerced, np.ndarray, np.ndarray]:
    """Step 1 of the rows ``in_view`` as :func:`~leadsync.frames.finish` takes it (member
    cells as the store's JSON), the positions of those rows, and of the undecodable ones."""
    spec = schema(columns.table)
    data = columns.data
    good = in_view & _np(pc.is_null(data[PROBLEM]))
    broken = in_view & ~good
    kept = data.filter(pa.array(good))
    typed: dict[str, pd.Series] = {}
    refs: dict[str, Any] = {}
    for column in spec.columns:
        if column.kind in ("member", "members"):
            cells = kept[column.name].combine_chunks()
            refs[column.name] = _strings(cells.dictionary_decode()
                                         if isinstance(cells, pa.DictionaryArray) else cells)
        else:
            typed[column.name] = _to_series(spec, column.name, kept[column.name])
    typed["source_id"] = _strings(_source_ids(kept))
    for name in ("created_time", "last_edited_time"):
        typed[name] = _to_series(spec, name, kept[name])
    result = Coerced(columns.table, typed, _np(kept[BAD]).copy(),
                     _np(kept[KEY_PRESENT]).copy(), refs)
    return result, np.flatnonzero(good), np.flatnonzero(broken)


def deleted_at(columns: Columns, keep: np.ndarray) -> pd.Series:
    """The ``deleted_at`` column of a frame of all rows (UTC, NaT for live rows).

    Each row's own tombstone; a row whose source id is blank (missing in the
    frame) takes, as a frame keyed by source id would, that of a row whose id
    reads ``<NA>``, if there is one.
    """
    data = columns.data
    texts = data[DELETED].filter(pa.array(keep))
    blank = data[SID_NULL].filter(pa.array(keep))
    if pc.any(blank).as_py():
        named = pc.index(data[SID], "<NA>").as_py()
        stand_in = data[DELETED][named].as_py() if named >= 0 else None
        texts = pc.if_else(blank, pa.scalar(stand_in, pa.large_string()), texts)
    present = np.flatnonzero(_np(pc.is_valid(texts)))
    out = np.full(len(texts), np.datetime64("NaT", "ns"))
    if len(present):
        parsed = pd.to_datetime(pd.Series(texts.take(pa.array(present)).to_pylist()),
                                utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
        out[present] = parsed.dt.tz_localize(None).to_numpy()
    column: pd.Series = pd.Series(out, copy=False).dt.tz_localize("UTC")
    return column


def exact_rows(rows: Mapping[str, StoredRow], ids: Sequence[str]) -> list[dict[str, Any]]:
    """``Record.row()`` of each stored row named, from its JSON."""
    out: list[dict[str, Any]] = []
    for sid in ids:
        _, values, _, created, edited, _ = rows[sid]
        out.append({**decode_values(values), "source_id": sid,
                    "created_time": decode_time(created),
                    "last_edited_time": decode_time(edited)})
    return out

