"""Records: atomic batch writes, upserts, deletes, and listing with server-side iterators.

A write runs in two phases so that a batch with one bad record writes
nothing (as the recorded 422 in ``error_422_invalid_value_for_column.json``
shows): :func:`prepare` normalises every record's fields (raising the 422),
then :func:`commit_context` / :func:`create_records` / :func:`update_record`
apply them. Link fields keep their inverse field in the linked table in
step, and a write that changes a non-computed cell stamps the record's last
modification (time and user); writing the value a cell already holds
changes nothing. Deleted records disappear from links lazily: readers skip
ids that no longer exist.

Listing takes a snapshot of the ordered record ids when a list starts
(:func:`select`), and :class:`Iterators` hands it out page by page under an
``itr…/rec…`` offset that expires after a period of inactivity.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.emulator.airtable_errors import AirtableError, bad_request, unknown_field
from leadsync.emulator.airtable_formula import CompiledFormula
from leadsync.emulator.airtable_model import Base, Field, Record, Table
from leadsync.emulator.airtable_values import CellReader, RecordScope, WriteContext, normalise

__all__ = [
    "MERGE_TYPES",
    "Iterators",
    "commit_context",
    "create_records",
    "delete_records",
    "prepare",
    "select",
    "too_many",
    "update_record",
    "upsert_plan",
]

#: Field types ``fieldsToMergeOn`` may name ("number, text, long text, single select,
#: multiple select, date" in the docs; email, URL and phone are text to Airtable).
MERGE_TYPES = frozenset({
    "singleLineText", "multilineText", "email", "url", "phoneNumber", "number", "percent",
    "currency", "singleSelect", "multipleSelects", "date", "dateTime",
})


def too_many(count: int, verb: str, limit: int) -> AirtableError:
    """422 INVALID_RECORDS, worded as pyairtable's maintainer saw it (pyairtable #144)."""
    return AirtableError(
        422, "INVALID_RECORDS",
        f"A maximum of {limit} records can be {verb} per request but you have provided {count}.",
    )


# ---------------------------------------------------------------------------
# Writes


def prepare(ctx: WriteContext, fields: Any, current: Record | None = None) -> dict[str, Any]:
    """The stored form of one record's written fields, by field id (None clears)."""
    if not isinstance(fields, dict):
        raise bad_request("Each record needs a fields object.")
    table = ctx.table
    out: dict[str, Any] = {}
    for key, value in fields.items():
        f = table.field(key)
        if f is None:
            raise unknown_field(key)
        out[f.id] = normalise(ctx, f, value, current.cells.get(f.id) if current else None)
    return out


def _stamp(record: Record, field_id: str, now: dt.datetime, user: str) -> None:
    record.modified = now
    record.modified_by = user
    record.field_times[field_id] = now


def _relink(base: Base, record: Record, f: Field, old: list[str] | None,
            new: list[str] | None, now: dt.datetime, user: str) -> None:
    """Keep the inverse link field in the linked table in step."""
    inverse = f.options.get("inverseLinkFieldId")
    linked = base.tables.get(f.options.get("linkedTableId", ""))
    if not inverse or linked is None:
        return
    before, after = set(old or ()), set(new or ())
    for other_id in before - after:
        other = linked.records.get(other_id)
        if other is not None:
            kept = [i for i in other.cells.get(inverse, []) if i != record.id]
            if kept:
                other.cells[inverse] = kept
            else:
                other.cells.pop(inverse, None)
            _stamp(other, inverse, now, user)
    for other_id in (new or []):
        if other_id in before:
            continue
        other = linked.records.get(other_id)
        if other is not None and record.id not in other.cells.get(inverse, ()):
            other.cells[inverse] = [*other.cells.get(inverse, []), record.id]
            _stamp(other, inverse, now, user)


def commit_context(ctx: WriteContext, now: dt.datetime, user: str) -> None:
    """Apply what typecast writes create: new select options, linked records by name."""
    for field_id, choices in ctx.new_choices.items():
        f = ctx.table.field_by_id(field_id)
        f.options["choices"] = [*f.options.get("choices", []), *choices]
    ctx.new_choices = {}
    for (table_id, text), record_id in ctx.new_links.items():
        target = ctx.base.tables[table_id]
        _new_record(target, record_id, {target.primary_field_id: text}, now, user)
    ctx.new_links = {}


def _new_record(table: Table, record_id: str, cells: dict[str, Any], now: dt.datetime,
                user: str) -> Record:
    record = Record(record_id, now, user, table.next_autonumber, cells, now, user)
    table.next_autonumber += 1
    table.records[record_id] = record
    return record


def create_records(ctx: WriteContext, prepared: list[dict[str, Any]], now: dt.datetime,
                   user: str, new_id: Any) -> list[Record]:
    """Create records from prepared cells (in order); inverse links are added in bulk."""
    commit_context(ctx, now, user)
    table, base = ctx.table, ctx.base
    links = [f for f in table.fields
             if f.type == "multipleRecordLinks" and f.options.get("inverseLinkFieldId")]
    additions: dict[tuple[str, str], list[str]] = {}
    created: list[Record] = []
    for cells in prepared:
        record = _new_record(table, new_id("rec"),
                             {k: v for k, v in cells.items() if v is not None}, now, user)
        created.append(record)
        for f in links:
            for other_id in record.cells.get(f.id, ()):
                additions.setdefault((f.id, other_id), []).append(record.id)
    for (field_id, other_id), ids in additions.items():
        f = table.field_by_id(field_id)
        linked = base.tables[f.options["linkedTableId"]]
        inverse = f.options["inverseLinkFieldId"]
        other = linked.records.get(other_id)
        if other is None:
            continue
        present = other.cells.get(inverse, [])
        fresh = [i for i in ids if i not in present] if present else ids
        other.cells[inverse] = [*present, *fresh]
        _stamp(other, inverse, now, user)
    return created


def update_record(ctx: WriteContext, record: Record, cells: Mapping[str, Any], *,
                  replace: bool, now: dt.datetime, user: str) -> bool:
    """Apply prepared cells (PATCH merges; PUT also clears every unsent editable field).

    Returns whether anything changed; only a change stamps the record.
    """
    table = ctx.table
    changes = dict(cells)
    if replace:
        for f in table.fields:
            if not f.computed and f.id not in changes:
                changes[f.id] = None
    changed = False
    for field_id, new in changes.items():
        old = record.cells.get(field_id)
        if old == new:
            continue
        if new is None:
            del record.cells[field_id]
        else:
            record.cells[field_id] = new
        f = table.field_by_id(field_id)
        if f.type == "multipleRecordLinks":
            _relink(ctx.base, record, f, old, new, now, user)
        _stamp(record, field_id, now, user)
        changed = True
    return changed


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def upsert_plan(ctx: WriteContext, merge_on: Any, records: list[Any]
                ) -> list[tuple[Record | None, dict[str, Any]]]:
    """For each record of an upsert: the record it updates (None: create) and its cells.

    Records with an ``id`` ignore the merge fields; no match creates, one match
    updates, several matches fail the whole request (AT-docs).
    """
    table = ctx.table
    if (not isinstance(merge_on, list) or not 1 <= len(merge_on) <= 3
            or not all(isinstance(k, str) for k in merge_on)):
        raise bad_request("fieldsToMergeOn must list one to three field names or ids.")
    merge_fields: list[Field] = []
    for key in merge_on:
        f = table.field(key)
        if f is None:
            raise unknown_field(key)
        if f.type not in MERGE_TYPES:
            raise bad_request(f'Field "{f.name}" ({f.type}) cannot be used in fieldsToMergeOn.')
        merge_fields.append(f)
    index: dict[tuple[Any, ...], list[str]] | None = None
    plan: list[tuple[Record | None, dict[str, Any]]] = []
    for item in records:
        if not isinstance(item, dict) or set(item) - {"id", "fields"}:
            raise bad_request("Each record may only have an id and fields.")
        if "id" in item:
            record = table.records.get(item["id"]) if isinstance(item["id"], str) else None
            if record is None:
                raise _row_missing(item["id"])
            plan.append((record, prepare(ctx, item.get("fields"), record)))
            continue
        cells = prepare(ctx, item.get("fields"))
        missing = [f.name for f in merge_fields if f.id not in cells]
        if missing:
            raise bad_request(f"Record is missing fieldsToMergeOn field(s): {', '.join(missing)}.")
        if index is None:
            index = {}
            for existing in table.records.values():
                key = tuple(_hashable(existing.cells.get(f.id)) for f in merge_fields)
                index.setdefault(key, []).append(existing.id)
        matches = index.get(tuple(_hashable(cells[f.id]) for f in merge_fields), [])
        if len(matches) > 1:
            raise AirtableError(
                422, "INVALID_RECORDS",
                f"Cannot upsert: {len(matches)} records match the fieldsToMergeOn values; "
                "they must identify at most one record.")
        plan.append((table.records[matches[0]] if matches else None, cells))
    return plan


def _row_missing(record_id: Any) -> AirtableError:
    """422 ROW_DOES_NOT_EXIST, as the live API answers an update of a missing record."""
    return AirtableError(422, "ROW_DOES_NOT_EXIST",
                         f"Record ID {record_id} does not exist in this table")


def existing(table: Table, ids: Iterable[Any]) -> list[Record]:
    """The records an update names; 422 ROW_DOES_NOT_EXIST for the first missing one."""
    out: list[Record] = []
    for record_id in ids:
        record = table.records.get(record_id) if isinstance(record_id, str) else None
        if record is None:
            raise _row_missing(record_id)
        out.append(record)
    return out


def delete_records(table: Table, ids: list[str]) -> None:
    for record_id in ids:
        table.records.pop(record_id, None)


# ---------------------------------------------------------------------------
# Listing


def select(reader: CellReader, table: Table, formula: CompiledFormula | None,
           sort: list[tuple[Field, bool]]) -> list[str]:
    """Record ids in creation order, filtered, then sorted (stable; blanks first
    ascending, last descending)."""
    records: list[Record] = list(table.records.values())
    if formula is not None:
        records = [r for r in records if formula.matches(RecordScope(reader, table, r))]
    for f, descending in reversed(sort):
        records.sort(key=reader.sort_key(table, f), reverse=descending)
    return [r.id for r in records]


@dataclass
class _Iterator:
    id: str
    table_id: str
    ids: list[str]
    touched: dt.datetime
    #: the record id ending each page handed out -> where the next page starts
    resume_at: dict[str, int]


_ALNUM = string.ascii_letters + string.digits


class Iterators:
    """Server-side list iterators behind ``offset`` tokens (``itr<14>/rec<id>``).

    An offset names the iterator and the last record of its page, so asking
    for the same offset twice (a retry after a lost answer) gives the same
    next page. Iterators live until they idle out (or, past :attr:`MAX_LIVE`,
    the least recently used goes first).
    """

    #: Snapshots kept at once; the least recently used is dropped beyond this.
    MAX_LIVE = 64

    def __init__(self, seed: int | str):
        self._rng = random.Random(f"airtable-iterators:{seed}")
        self._live: dict[str, _Iterator] = {}

    def page(self, table: Table, ids: list[str], start: int, size: int, now: dt.datetime,
             iterator: _Iterator | None = None) -> tuple[list[Record], str | None]:
        """The records of one page from ``ids[start:]`` and the next offset (None: done)."""
        out: list[Record] = []
        position = start
        while position < len(ids) and len(out) < size:
            record = table.records.get(ids[position])
            position += 1
            if record is not None:  # deleted since the list started
                out.append(record)
        if position >= len(ids) or not out:
            return out, None
        if iterator is None:
            iterator = _Iterator(self._new_id(), table.id, ids, now, {})
            self._live[iterator.id] = iterator
            while len(self._live) > self.MAX_LIVE:
                oldest = min(self._live.values(), key=lambda it: it.touched)
                del self._live[oldest.id]
        iterator.resume_at[out[-1].id] = position
        iterator.touched = now
        return out, f"{iterator.id}/{out[-1].id}"

    def resume(self, offset: str, table: Table, now: dt.datetime, ttl: float,
               expire: bool) -> tuple[_Iterator, int]:
        """The iterator an offset names and where its next page starts; 422
        LIST_RECORDS_ITERATOR_NOT_AVAILABLE when it is unknown, belongs to another
        table, idled longer than ``ttl``, or ``expire`` (a fault) says so."""
        self.sweep(now, ttl)
        iterator_id, _, last = offset.partition("/")
        iterator = self._live.get(iterator_id)
        if (iterator is None or iterator.table_id != table.id or expire
                or last not in iterator.resume_at):
            if iterator is not None and expire:
                self._live.pop(iterator.id, None)
            raise AirtableError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")
        iterator.touched = now
        return iterator, iterator.resume_at[last]

    def sweep(self, now: dt.datetime, ttl: float) -> None:
        """Forget iterators idle for longer than ``ttl`` seconds."""
        cutoff = now - dt.timedelta(seconds=ttl)
        for key in [k for k, it in self._live.items() if it.touched < cutoff]:
            del self._live[key]

    def clear(self) -> None:
        self._live.clear()

    def __len__(self) -> int:
        return len(self._live)

    def _new_id(self) -> str:
        return "itr" + "".join(self._rng.choices(_ALNUM, k=14))
