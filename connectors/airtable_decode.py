"""Airtable JSON to Python values: the base schema, one cell, one record, one frame. Pure.

Everything here is a function of the API's JSON (``GET /v0/meta/bases/{base}/tables``
and ``GET /v0/{base}/{table}`` with ``cellFormat=json``); nothing does I/O.

How each field type decodes (:func:`decode_cell`):

=========================================  ==============================================
Airtable type                              Python value
=========================================  ==============================================
singleLineText, multilineText, richText,   ``str``
email, url, phoneNumber, singleSelect
barcode                                    ``str`` (its ``text``)
button                                     ``str`` (its ``url``, else its ``label``)
aiText                                     ``str`` (its ``value``; an AI error is a cell error)
number, currency, duration                 the API's number (``int`` or ``float``);
                                           duration in seconds
percent                                    the API's number as a fraction: ``0.5`` is 50 %
rating, count, autoNumber                  ``int``
checkbox                                   ``bool``; an omitted cell is ``False``
date                                       ``datetime.date``
dateTime, createdTime, lastModifiedTime    aware UTC ``datetime`` (a ``date`` when the field
                                           is set to show a date only)
multipleSelects                            ``tuple[str, ...]``
multipleRecordLinks                        ``tuple[str, ...]`` of record ids
singleCollaborator, createdBy,             :class:`~leadsync.tables.MemberRef` ``("person",
lastModifiedBy                             usr id, name, email)``
multipleCollaborators                      ``tuple[MemberRef, ...]``
multipleAttachments                        ``tuple[str, ...]`` of URLs (they expire two hours
                                           after the API returned them; ``decode_frame``
                                           keeps them the same way)
formula, rollup                            the result: number, ``str``, ``bool``, or a tuple
                                           for array results
multipleLookupValues                       ``tuple`` of the looked-up values, each decoded
                                           by its shape
anything newer                             the JSON value as is
=========================================  ==============================================

Empty cells are omitted by the API; an omitted cell is ``None`` (``False`` for a
checkbox). ``{"specialValue": "NaN"}`` (a formula or rollup dividing by zero)
decodes to ``math.nan`` and ``"Infinity"``/``"-Infinity"`` to infinities;
:func:`decode_record` keeps a NaN only for a canonical number column and reads it
as empty elsewhere, with a note. ``{"error": "#ERROR!"}`` (also as an element of
a lookup) raises :class:`CellError`; :func:`decode_record` turns it into the
record's ``problem`` when that field is mapped, so the row is quarantined with
the reason.

Values do not say their type, so decoding follows the schema. When that schema
is a snapshot from an earlier run, :func:`cell_fits` tells whether a value has
the JSON shape Airtable gives the field's (cached) type; the connector reads
the schema again when one does not (see ``AirtableSource``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from leadsync.errors import NotFoundError
from leadsync.tables import MemberRef, schema

from .base import FieldRef, Record

if TYPE_CHECKING:
    from leadsync.frames import CellBatch

__all__ = [
    "COMPUTED_TYPES",
    "MERGEABLE_TYPES",
    "AirtableField",
    "AirtableTable",
    "CellError",
    "ColumnPlan",
    "cell_fits",
    "decode_base_schema",
    "decode_cell",
    "decode_frame",
    "decode_record",
    "decode_time",
    "find_table",
    "gather_records",
    "plan_columns",
]

#: Field types whose value Airtable computes; they can be read but never written.
COMPUTED_TYPES: frozenset[str] = frozenset({
    "autoNumber", "button", "count", "createdBy", "createdTime", "formula",
    "lastModifiedBy", "lastModifiedTime", "multipleLookupValues", "rollup", "aiText",
    "externalSyncSource",
})

#: Field types ``performUpsert.fieldsToMergeOn`` accepts (AT-docs update-multiple-records).
MERGEABLE_TYPES: frozenset[str] = frozenset({
    "number", "singleLineText", "multilineText", "singleSelect", "multipleSelects", "date",
    # the docs say "text": email, url and phone numbers are text fields in Airtable's model
    "email", "url", "phoneNumber",
})

_TEXT_TYPES = frozenset({
    "singleLineText", "multilineText", "richText", "email", "url", "phoneNumber",
    "singleSelect", "externalSyncSource",
})
_FLOAT_TYPES = frozenset({"number", "currency", "percent", "duration"})
_INT_TYPES = frozenset({"rating", "count", "autoNumber"})
_TIME_TYPES = frozenset({"dateTime", "createdTime", "lastModifiedTime"})
_PERSON_TYPES = frozenset({"singleCollaborator", "createdBy", "lastModifiedBy"})
_RESULT_TYPES = frozenset({"formula", "rollup"})

_RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class CellError(ValueError):
    """A cell Airtable could not compute (``{"error": "#ERROR!"}``) or could not be read."""


# ---------------------------------------------------------------------------
# Schema


@dataclass(frozen=True)
class AirtableField:
    """One field of a table as the metadata API describes it."""

    id: str
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ref(self) -> FieldRef:
        return FieldRef(self.id, self.name, self.type)

    @property
    def computed(self) -> bool:
        return self.type in COMPUTED_TYPES

    @property
    def result_type(self) -> str | None:
        """For formula, rollup and lookup fields: the type of the result, when the schema says."""
        result = self.options.get("result")
        if isinstance(result, Mapping) and isinstance(result.get("type"), str):
            return str(result["type"])
        return None

    @property
    def tracks_every_field(self) -> bool:
        """For a lastModifiedTime field: True unless it watches only some fields."""
        return not self.options.get("referencedFieldIds")


@dataclass(frozen=True)
class AirtableTable:
    """One table of a base: id, name, primary field and fields, in schema order."""

    id: str
    name: str
    primary_field_id: str
    fields: tuple[AirtableField, ...]

    def field(self, id_or_name: str) -> AirtableField:
        for f in self.fields:
            if f.id == id_or_name:
                return f
        for f in self.fields:
            if f.name == id_or_name:
                return f
        raise KeyError(id_or_name)

    @property
    def refs(self) -> list[FieldRef]:
        return [f.ref for f in self.fields]

    @property
    def primary_field(self) -> AirtableField:
        return self.field(self.primary_field_id)

    def last_modified_field(self) -> AirtableField | None:
        """The ``lastModifiedTime`` field that watches every field, if the table has one."""
        for f in self.fields:
            if f.type == "lastModifiedTime" and f.tracks_every_field and not _date_only(f):
                return f
        return None

    def stable_sort_field(self) -> AirtableField | None:
        """A field whose value never changes after creation (created time, autonumber)."""
        for kind in ("createdTime", "autoNumber"):
            for f in self.fields:
                if f.type == kind:
                    return f
        return None


def decode_base_schema(payload: Mapping[str, Any]) -> tuple[AirtableTable, ...]:
    """The tables of ``GET /v0/meta/bases/{base}/tables``."""
    tables: list[AirtableTable] = []
    for table in payload.get("tables", []):
        fields = tuple(
            AirtableField(str(f["id"]), str(f["name"]), str(f["type"]),
                          dict(f.get("options") or {}))
            for f in table.get("fields", [])
        )
        primary = str(table.get("primaryFieldId") or (fields[0].id if fields else ""))
        tables.append(AirtableTable(str(table["id"]), str(table["name"]), primary, fields))
    return tuple(tables)


def find_table(tables: Sequence[AirtableTable], id_or_name: str, *, base: str) -> AirtableTable:
    """The table with that id (preferred) or name, or :class:`NotFoundError` naming the others."""
    for t in tables:
        if t.id == id_or_name:
            return t
    for t in tables:
        if t.name == id_or_name:
            return t
    folded = [t for t in tables if t.name.casefold() == id_or_name.casefold()]
    if len(folded) == 1:
        return folded[0]
    names = ", ".join(f"{t.name!r} ({t.id})" for t in tables) or "none"
    raise NotFoundError(
        f"base {base} has no table {id_or_name!r}; its tables are: {names}",
        service="airtable",
    )


# ---------------------------------------------------------------------------
# One cell


def decode_time(value: str) -> dt.datetime | dt.date:
    """An Airtable timestamp (``2021-12-02T19:30:00.000Z``) as aware UTC, or a plain date."""
    text = value.strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _date_only(f: AirtableField) -> bool:
    result = f.options.get("result")
    return isinstance(result, Mapping) and result.get("type") == "date"


def _person(value: Any) -> MemberRef:
    if not isinstance(value, Mapping) or not value.get("id"):
        raise CellError(f"{value!r} is not a collaborator")
    return MemberRef("person", str(value["id"]), value.get("name"), value.get("email"))


def _check_error(value: Any) -> None:
    if isinstance(value, Mapping) and "error" in value:
        raise CellError(f"Airtable could not compute it ({value['error']})")


def _by_shape(value: Any) -> Any:
    """A value whose type the schema does not say (lookup elements, formula results)."""
    _check_error(value)
    if isinstance(value, Mapping):
        if "specialValue" in value:
            return _SPECIAL.get(str(value["specialValue"]))
        if str(value.get("id", "")).startswith("usr"):
            return _person(value)
        if "url" in value and ("filename" in value or str(value.get("id", "")).startswith("att")):
            return str(value["url"])
        if "text" in value:  # barcode
            return str(value["text"])
        return dict(value)
    if isinstance(value, list):
        return tuple(_by_shape(v) for v in value)
    return value


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CellError(f"{value!r} is not a {what}")
    return value


def _time(value: Any) -> dt.datetime | dt.date:
    if not isinstance(value, str):
        raise CellError(f"{value!r} is not a timestamp")
    try:
        return decode_time(value)
    except ValueError:
        raise CellError(f"{value!r} is not a timestamp") from None


def decode_cell(f: AirtableField, value: Any) -> Any:
    """One cell as a Python value (see the module's table); ``value`` None means omitted.

    Raises :class:`CellError` for an error cell or a value of the wrong shape.
    """
    kind = f.type
    if value is None:
        return False if kind == "checkbox" else None
    if kind in _RESULT_TYPES or kind == "multipleLookupValues":
        decoded = _by_shape(value)
        if kind in _RESULT_TYPES and f.result_type in ("date", "dateTime") \
                and isinstance(decoded, str):
            return _time(decoded)
        return decoded
    _check_error(value)
    if kind in _TEXT_TYPES:
        if not isinstance(value, str):
            raise CellError(f"{value!r} is not text")
        return value
    if kind in _FLOAT_TYPES:
        return _number(value, "number")
    if kind in _INT_TYPES:
        number = _number(value, "whole number")
        return int(number) if float(number).is_integer() else number
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise CellError(f"{value!r} is not a checkbox value")
        return value
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise CellError(f"{value!r} is not a date") from None
    if kind in _TIME_TYPES:
        return _time(value)
    if kind == "multipleSelects":
        if not isinstance(value, list):
            raise CellError(f"{value!r} is not a list of choices")
        return tuple(str(v) for v in value)
    if kind == "multipleRecordLinks":
        if not isinstance(value, list):
            raise CellError(f"{value!r} is not a list of record ids")
        return tuple(str(v["id"]) if isinstance(v, Mapping) else str(v) for v in value)
    if kind in _PERSON_TYPES:
        return _person(value)
    if kind == "multipleCollaborators":
        if not isinstance(value, list):
            raise CellError(f"{value!r} is not a list of collaborators")
        return tuple(_person(v) for v in value)
    if kind == "multipleAttachments":
        if not isinstance(value, list):
            raise CellError(f"{value!r} is not a list of attachments")
        return tuple(str(v["url"]) for v in value if isinstance(v, Mapping) and "url" in v)
    if kind == "barcode":
        return str(value["text"]) if isinstance(value, Mapping) and "text" in value else None
    if kind == "button":
        if isinstance(value, Mapping):
            return value.get("url") or value.get("label")
        return None
    if kind == "aiText":
        if isinstance(value, Mapping):
            if value.get("state") == "error":
                raise CellError(f"the AI field failed ({value.get('errorType', 'error')})")
            return value.get("value")
        return value
    return _by_shape(value)


# ---------------------------------------------------------------------------
# Does a value have its type's shape?


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_USER_ID = re.compile(r"^usr[A-Za-z0-9]+$")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_person(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(_USER_ID.match(str(value.get("id", ""))))


def _is_special(value: Any) -> bool:
    return isinstance(value, Mapping) and ("error" in value or "specialValue" in value)


def _is_date_text(value: str) -> bool:
    return bool(_DATE.match(value) or _DATE_TIME.match(value))


def _fits_result(result: str | None, value: Any) -> bool:
    """A formula's or rollup's value against the result type its options declare."""
    if result is None or _is_special(value):
        return True
    if result in _FLOAT_TYPES or result in _INT_TYPES:
        return _is_number(value)
    if result == "checkbox":
        return isinstance(value, bool) or value in (0, 1)
    if result in ("date", "dateTime"):
        return isinstance(value, str) and _is_date_text(value)
    if result in _TEXT_TYPES:
        return isinstance(value, str)
    return True  # arrays and rarer results are decoded by their shape


def cell_fits(f: AirtableField, value: Any) -> bool:
    """True when ``value`` has the JSON shape Airtable gives a field of ``f``'s type.

    A field whose type changed answers in its new type's shape, so a value
    that does not fit says ``f`` is out of date. The shapes of types that
    decode differently do not overlap, with one exception: a text field holds
    any string, also one that reads as a date. A text value that is exactly a
    bare ISO date or a date-time as Airtable writes it therefore does not fit
    either (its field may be a date field now); a schema read settles it. An
    omitted cell (None) fits every type.
    """
    if value is None:
        return True
    kind = f.type
    if kind in _TEXT_TYPES:
        return isinstance(value, str) and not _is_date_text(value)
    if kind in _FLOAT_TYPES or kind in _INT_TYPES:
        return _is_number(value)
    if kind == "checkbox":
        return isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and bool(_DATE.match(value))
    if kind in _TIME_TYPES:  # a date-only one writes a bare date, which decodes the same
        return isinstance(value, str) and _is_date_text(value)
    if kind == "multipleSelects":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "multipleRecordLinks":
        return isinstance(value, list) and all(
            isinstance(v, str) and bool(_RECORD_ID.match(v)) for v in value)
    if kind in _PERSON_TYPES:
        return _is_person(value)
    if kind == "multipleCollaborators":
        return isinstance(value, list) and all(_is_person(v) for v in value)
    if kind == "multipleAttachments":
        return isinstance(value, list) and all(
            isinstance(v, Mapping) and "url" in v for v in value)
    if kind == "barcode":
        return isinstance(value, Mapping) and "text" in value
    if kind == "button":
        return isinstance(value, Mapping) and "label" in value
    if kind == "aiText":
        return isinstance(value, Mapping) and ("state" in value or "value" in value)
    if kind in _RESULT_TYPES:
        return _fits_result(f.result_type, value)
    if kind == "multipleLookupValues":
        return isinstance(value, list) or _is_special(value)
    return True  # a type leadsync does not know is decoded by its shape anyway


# ---------------------------------------------------------------------------
# Canonical records


@dataclass(frozen=True)
class ColumnPlan:
    """How one canonical column is read: from which field, as what kind."""

    column: str
    field: AirtableField
    kind: str  # the canonical column kind (leadsync.tables.Kind)


def plan_columns(table: str, fields: Mapping[str, AirtableField]) -> tuple[ColumnPlan, ...]:
    """The decoding plan for canonical ``table`` from resolved ``fields`` (column -> field)."""
    spec = schema(table)
    return tuple(ColumnPlan(column, f, spec.column(column).kind) for column, f in fields.items())


_TEXT_KINDS = frozenset({"id", "text", "url", "email", "timezone", "hours"})


def _as_ref(value: Any) -> MemberRef | None:
    if value is None:
        return None
    if isinstance(value, MemberRef):
        return value
    text = str(value).strip()
    if not text:
        return None
    if _RECORD_ID.match(text):
        return MemberRef("relation", text)
    return MemberRef("text", text)


def _for_column(plan: ColumnPlan, value: Any, notes: list[str]) -> Any:
    """Fit a decoded cell to the canonical column's kind (build_frame does the typing)."""
    kind = plan.kind
    if isinstance(value, float) and math.isnan(value) and kind != "number":
        notes.append(f"{plan.column}: {plan.field.name!r} held NaN; read as empty")
        return None
    listed = isinstance(value, tuple) and not isinstance(value, MemberRef)
    if kind in ("member", "members"):
        if plan.field.type == "multipleRecordLinks" and listed:
            refs = [MemberRef("relation", v) for v in value]
        elif listed:
            refs = [r for r in (_as_ref(v) for v in value) if r is not None]
        else:
            one = _as_ref(value)
            refs = [one] if one is not None else []
        if kind == "members":
            return tuple(refs)
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else refs  # several: build_frame quarantines
    if listed:
        if not value:
            return None
        if len(value) == 1:
            value = value[0]
        elif kind in _TEXT_KINDS:
            return ", ".join(_text(v) for v in value)
        else:
            return value  # build_frame reports it as not a date / number / choice
    if kind in _TEXT_KINDS and isinstance(value, MemberRef):
        return _text(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, MemberRef):
        return value.name or value.email or value.key
    return str(value)


def decode_record(
    raw: Mapping[str, Any],
    plans: Sequence[ColumnPlan],
    *,
    edited_field: AirtableField | None = None,
    notes: list[str] | None = None,
) -> Record:
    """One API record as a canonical :class:`Record`.

    ``raw["fields"]`` may be keyed by field id (``returnFieldsByFieldId``) or by
    name; both are looked up. ``edited_field`` is the table's last-modified-time
    field: its value is the record's ``last_edited_time``; without one, the
    record's ``createdTime`` stands in (a lower bound of the edit time, so a
    cursor built from it can only re-read, never skip). An error cell in a
    mapped field sets ``problem``. ``notes`` collects NaNs read as empty.
    """
    record_id = str(raw["id"])
    problems: list[str] = []
    cells: Mapping[str, Any] = raw.get("fields") or {}
    if not isinstance(cells, Mapping):
        problems.append("the record's fields are not an object")
        cells = {}
    created = _envelope_time(raw.get("createdTime"))
    edited: dt.datetime | None = None
    if edited_field is not None:
        stamp = cells.get(edited_field.id, cells.get(edited_field.name))
        if isinstance(stamp, str):
            try:
                parsed = decode_time(stamp)
            except ValueError:
                parsed = None
            if isinstance(parsed, dt.datetime):
                edited = parsed
    if edited is None:
        edited = created
    values: dict[str, Any] = {}
    sink = notes if notes is not None else []
    for plan in plans:
        f = plan.field
        cell = cells.get(f.id, cells.get(f.name))
        try:
            values[plan.column] = _for_column(plan, decode_cell(f, cell), sink)
        except CellError as exc:
            values[plan.column] = None
            problems.append(f"{plan.column} ({f.name!r}): {exc}")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # A value of an unexpected shape (a linked record without an id, an
            # object where a list belongs): the row is quarantined, the pull goes on.
            values[plan.column] = None
            problems.append(f"{plan.column} ({f.name!r}): a value of an unexpected shape "
                            f"({type(exc).__name__})")
    return Record(record_id, created, edited, values, "; ".join(problems) or None)


def _envelope_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = decode_time(value)
    except ValueError:
        return None
    if isinstance(parsed, dt.datetime):
        return parsed
    return dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------
# A frame of every field, typed by Airtable type


def _infer_result(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "object"
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float64"
    if all(isinstance(v, str) for v in present):
        return "string"
    if all(isinstance(v, (dt.datetime, dt.date)) for v in present):
        return "time"
    return "object"


def _result_kind(f: AirtableField, values: list[Any]) -> str:
    result = f.result_type
    if f.type != "multipleLookupValues" and result is not None:
        if result in _FLOAT_TYPES or result in _INT_TYPES:
            return "float64"
        if result == "checkbox":
            return "boolean"
        if result in _TEXT_TYPES:
            return "string"
        if result in ("date", "dateTime"):
            return "time"
    if f.type == "multipleLookupValues":
        return "object"
    return _infer_result(values)


def decode_frame(table: AirtableTable, records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Every field of ``records`` as a column named by field name, typed by field type.

    Columns come from the schema, so a field empty in every record is still a
    column. Dtypes: text and single selects ``string``; number, currency,
    percent, duration ``Float64``; rating, count, autonumber ``Int64``;
    checkbox ``boolean`` (omitted is False); date, dateTime, created and
    last-modified time ``datetime64[…, UTC]`` (dates at midnight UTC); formula
    and rollup by result, numbers as ``float64`` so ``{"specialValue": "NaN"}``
    stays NaN; collaborators :class:`~leadsync.tables.MemberRef`; lists
    (selects, links, lookups, attachment URLs) tuples in ``object`` columns.
    The index is the record id (``record_id``); ``created_time`` is a column.
    Error cells are empty and listed in ``frame.attrs["cell_errors"]`` as
    ``(record id, field name, reason)``.
    """
    rows = list(records)
    ids = [str(r["id"]) for r in rows]
    errors: list[tuple[str, str, str]] = []
    columns: dict[str, pd.Series] = {}
    index = pd.Index(ids, dtype="string", name="record_id")
    for f in table.fields:
        values: list[Any] = []
        for record_id, raw in zip(ids, rows, strict=True):
            cells = raw.get("fields") or {}
            try:
                values.append(decode_cell(f, cells.get(f.id, cells.get(f.name))))
            except CellError as exc:
                errors.append((record_id, f.name, str(exc)))
                values.append(None)
        columns[f.name] = _typed(f, values, index)
    columns["created_time"] = pd.Series(
        pd.to_datetime(pd.Series([r.get("createdTime") for r in rows], dtype="object"),
                       utc=True, format="ISO8601").to_numpy(),
        index=index,
    )
    frame = pd.DataFrame(columns, index=index)
    frame.attrs["cell_errors"] = errors
    return frame


def _typed(f: AirtableField, values: list[Any], index: pd.Index) -> pd.Series:
    kind = f.type
    if kind in _RESULT_TYPES or kind == "multipleLookupValues":
        kind = {"float64": "number", "boolean": "checkbox", "string": "singleLineText",
                "time": "dateTime"}.get(_result_kind(f, values), "object")
        if kind == "number":
            return pd.Series([math.nan if v is None else float(v) for v in values],
                             index=index, dtype="float64")
    if kind in _TEXT_TYPES or kind in ("barcode", "button", "aiText"):
        if kind == "singleSelect":
            choices = [str(c["name"]) for c in f.options.get("choices", [])
                       if isinstance(c, Mapping) and "name" in c]
            seen = [v for v in values if v is not None and v not in choices]
            categories = list(dict.fromkeys([*choices, *seen]))
            return pd.Series(pd.Categorical(values, categories=categories), index=index)
        return pd.Series(values, index=index, dtype="string")
    if kind in _FLOAT_TYPES:
        return pd.Series(values, index=index, dtype="Float64")
    if kind in _INT_TYPES:
        return pd.Series(values, index=index, dtype="Int64")
    if kind == "checkbox":
        return pd.Series([bool(v) for v in values], index=index, dtype="boolean")
    if kind in _TIME_TYPES or kind == "date":
        stamps = [
            None if v is None else
            (pd.Timestamp(v) if isinstance(v, dt.datetime)
             else pd.Timestamp(v.year, v.month, v.day, tz="UTC"))
            for v in values
        ]
        return pd.Series(pd.to_datetime(pd.Series(stamps, dtype="object"), utc=True).to_numpy(),
                         index=index, dtype="datetime64[us, UTC]")
    return pd.Series(values, index=index, dtype="object")


# ---------------------------------------------------------------------------
# Many records at once, a column at a time

#: An Airtable date (a ``date`` field's first ten characters).
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
#: A date or a date-time (with or without an offset) as :func:`decode_time` reads it.
ISO_DATE_OR_TIME = (r"^\d{4}-\d{2}-\d{2}"
                    r"(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$")
#: A date-time (a last-modified stamp that stands for the edit time).
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
_STAMP = re.compile(ISO_TIME)


class _Miss:
    """A cell the fast path does not take: its record goes through :func:`decode_record`."""

    def __repr__(self) -> str:
        return "<miss>"


_MISS: Any = _Miss()
_NONE_OR_STR = frozenset({str, type(None)})


def _exact_date(text: Any) -> Any:
    return dt.date.fromisoformat(text) if isinstance(text, str) else text


def _exact_time(text: Any) -> Any:
    return decode_time(text) if isinstance(text, str) else text


def _exact_envelope(text: Any) -> Any:
    return _envelope_time(text) if isinstance(text, str) else text


def _exact_stamp(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    value = decode_time(text)
    return value if isinstance(value, dt.datetime) else None


def _cells_of(f: AirtableField, fields_list: list[Mapping[str, Any]]) -> list[Any]:
    """The cells of one field in every record, looked up by id then by name."""
    fid, name = f.id, f.name
    return [fl[fid] if fid in fl else fl.get(name) for fl in fields_list]


def _ref_of_text(text: str, cache: dict[str, MemberRef | None]) -> MemberRef | None:
    if text in cache:
        return cache[text]
    ref = cache[text] = _as_ref(text)
    return ref


def _fast_column(plan: ColumnPlan, values: list[Any], refs: dict[Any, Any]) -> list[Any] | None:
    """The cells of a column of a common field type fitted to the column, as
    :func:`decode_record` fits them (None: not a common type; :data:`_MISS`:
    a cell of another shape)."""
    ftype, kind = plan.field.type, plan.kind
    member = kind in ("member", "members")
    if ftype in _TEXT_TYPES:
        if not {v.__class__ for v in values} <= _NONE_OR_STR:
            values = [v if v is None or v.__class__ is str else _MISS for v in values]
        if not member:
            return values
        text_refs: dict[str, MemberRef | None] = refs.setdefault("text", {})
        out: list[Any] = []
        for v in values:
            if v is None or v is _MISS:
                out.append(v if v is _MISS else (() if kind == "members" else None))
                continue
            ref = _ref_of_text(v, text_refs)
            listed = [ref] if ref is not None else []
            out.append(tuple(listed) if kind == "members" else (ref if listed else None))
        return out
    if ftype == "multipleRecordLinks" and member:
        links: dict[str, MemberRef] = refs.setdefault("relation", {})
        out = []
        for v in values:
            if v is None:
                out.append(() if kind == "members" else None)
                continue
            if v.__class__ is not list or not all(x.__class__ is str for x in v):
                out.append(_MISS)
                continue
            found = [links.get(x) or links.setdefault(x, MemberRef("relation", x)) for x in v]
            if kind == "members":
                out.append(tuple(found))
            elif not found:
                out.append(None)
            else:
                out.append(found[0] if len(found) == 1 else found)
        return out
    if ftype in _PERSON_TYPES and member:
        people: dict[Any, MemberRef] = refs.setdefault("person", {})
        out = []
        for v in values:
            if v is None:
                out.append(() if kind == "members" else None)
                continue
            if v.__class__ is not dict or not v.get("id") or "error" in v:
                out.append(_MISS)
                continue
            key = (str(v["id"]), v.get("name"), v.get("email"))
            ref = people.get(key) or people.setdefault(key, MemberRef("person", *key))
            out.append((ref,) if kind == "members" else ref)
        return out
    if ftype in _TIME_TYPES and kind == "timestamp":
        if not {v.__class__ for v in values} <= _NONE_OR_STR:
            values = [v if v is None or v.__class__ is str else _MISS for v in values]
        return values
    if ftype == "date" and kind == "timestamp":
        return [v if v is None else (v[:10] if v.__class__ is str else _MISS) for v in values]
    return None


#: The member references gathered records made, by how they were named (``"text"``,
#: ``"relation"``, ``"person"`` -> key -> :class:`MemberRef`), shared by every page of a
#: pull so each is made once; a pure memo, emptied when one kind grows past
#: :data:`_SHARED_REFS_CAP`.
_SHARED_REFS: dict[str, dict[Any, Any]] = {}
_SHARED_REFS_CAP = 1 << 16


def _shared_refs() -> dict[str, dict[Any, Any]]:
    if any(len(kind) > _SHARED_REFS_CAP for kind in _SHARED_REFS.values()):
        _SHARED_REFS.clear()
    return _SHARED_REFS


def gather_records(raws: Sequence[Mapping[str, Any]], plans: Sequence[ColumnPlan], table: str,
                   *, edited_field: AirtableField | None = None,
                   notes: list[str] | None = None) -> CellBatch:
    """Many records -> a :class:`~leadsync.frames.CellBatch`: :func:`decode_record` a column at
    a time.

    Each mapped field is read from every record in one pass and fitted to its
    column the way :func:`decode_record` fits it: the common field types
    (text, single select, URL, email, phone, links, collaborators, dates and
    date-times) by a fast path, the rest cell by cell with
    :func:`decode_cell`. A record where a cell has another shape is decoded
    by :func:`decode_record` when the batch is prepared, so every row is what
    that function makes of it and a record with an error cell becomes one of
    the batch's ``broken`` records. Dates and date-times stay the ISO text
    Airtable sent; :meth:`~leadsync.frames.CellBatch.prepare` checks and
    parses each such column in one call. ``notes`` collects NaNs read as
    empty, as with :func:`decode_record`.
    """
    import functools

    from leadsync.frames import CellBatch

    fields_list: list[Any] = [raw.get("fields") for raw in raws]
    # Fields that are not an object (a list, a number): decode_record says why. A record
    # without fields is one whose cells are all empty, as decode_record reads it.
    miss: set[int] = {i for i, given in enumerate(fields_list)
                      if given is not None and given.__class__ is not dict}
    for i, given in enumerate(fields_list):
        if given.__class__ is not dict:
            fields_list[i] = {}
    sink = notes if notes is not None else []
    cells: dict[str, list[Any]] = {}
    light: dict[str, str] = {}
    to_exact: dict[str, Any] = {}
    refs = _shared_refs()
    for plan in plans:
        f = plan.field
        values = _cells_of(f, fields_list)
        fitted = _fast_column(plan, values, refs)
        if fitted is None:
            fitted = []
            for v in values:
                try:
                    fitted.append(_for_column(plan, decode_cell(f, v), sink))
                except CellError:
                    fitted.append(_MISS)
        elif plan.kind == "timestamp" and f.type in _TIME_TYPES:
            light[plan.column] = ISO_DATE_OR_TIME
            to_exact[plan.column] = _exact_time
        elif plan.kind == "timestamp" and f.type == "date":
            light[plan.column] = ISO_DATE
            to_exact[plan.column] = _exact_date
        for i, v in enumerate(fitted):
            if v is _MISS:
                miss.add(i)
                fitted[i] = None
        cells[plan.column] = fitted
    cells["source_id"] = [str(raw["id"]) for raw in raws]
    created = [raw.get("createdTime") for raw in raws]
    created = [v if v is None or v.__class__ is str else None for v in created]
    cells["created_time"] = created
    light["created_time"] = ISO_DATE_OR_TIME
    to_exact["created_time"] = _exact_envelope
    if edited_field is None:
        cells["last_edited_time"] = list(created)
        to_exact["last_edited_time"] = _exact_envelope
    else:
        stamps = _cells_of(edited_field, fields_list)
        edited: list[Any] = []
        for i, (stamp, made) in enumerate(zip(stamps, created, strict=True)):
            if stamp.__class__ is str:
                if _STAMP.match(stamp):
                    edited.append(stamp)
                else:  # a date, or text decode_time may or may not read
                    miss.add(i)
                    edited.append(None)
            else:
                edited.append(made)
        cells["last_edited_time"] = edited
        to_exact["last_edited_time"] = _exact_envelope
    light["last_edited_time"] = ISO_DATE_OR_TIME
    mapped = tuple(plan.column for plan in plans)
    redecode = functools.partial(_redecode, plans=tuple(plans), edited_field=edited_field)
    return CellBatch(table, cells["source_id"], cells, mapped, to_exact=to_exact, light=light,
                     raw=list(raws), miss=miss, redecode=redecode)


def _redecode(raw: Mapping[str, Any], *, plans: Sequence[ColumnPlan],
              edited_field: AirtableField | None) -> Record:
    """:func:`decode_record` of a record the column-wise path left (NaN notes were taken)."""
    return decode_record(raw, plans, edited_field=edited_field)
