"""Cell values: what a write may put in a field, and how a field reads back.

:func:`normalise` turns one written value into the stored form (see
:mod:`leadsync.emulator.airtable_model`) or raises the 422 Airtable answers:
``INVALID_VALUE_FOR_COLUMN`` for a value the field cannot take (naming the
field), the computed-field variant, or ``INVALID_MULTIPLE_CHOICE_OPTIONS``
for a new select option without ``typecast``. With ``typecast`` strings are
converted best-effort (numbers, dates, checkboxes, new select options, links
by primary field value).

:class:`CellReader` reads a record's cells in the REST ``cellFormat=json``
shapes of ``list_records_all_field_types.json`` (computing autoNumber,
count, lookups, rollups, formulas, created/modified times and users), as
formula values, as sort keys, and as ``cellFormat=string`` text.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import mimetypes
import re
import struct
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from leadsync.emulator.airtable_errors import AirtableError, computed_field, invalid_value
from leadsync.emulator.airtable_formula import ERROR, ErrorValue, format_number, to_text
from leadsync.emulator.airtable_model import Base, Field, Record, Table

__all__ = [
    "CellReader",
    "WriteContext",
    "attachment_from_bytes",
    "is_empty",
    "iso",
    "normalise",
]

UTC = dt.UTC

#: Where emulated attachment URLs point (they are not served).
ATTACHMENT_HOST = "https://v5.airtableusercontent.com/emulator"


def iso(value: dt.datetime) -> str:
    """``2021-12-02T19:30:00.000Z``: UTC with milliseconds, as Airtable writes times."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_empty(value: Any) -> bool:
    """Airtable omits ``""``, ``[]``, ``false`` and null cells from records."""
    return value is None or value is False or value == "" or value == [] or value == {}


# ---------------------------------------------------------------------------
# Writes


@dataclass
class WriteContext:
    """What normalising one request's values needs, and the side effects it
    wants committed only if the whole batch is accepted."""

    base: Base
    table: Table
    users: Mapping[str, dict[str, str]]
    typecast: bool
    new_id: Callable[[str], str]
    #: field id -> choices a typecast write adds to the field
    new_choices: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: (table id, primary text) -> id of the record a typecast link write creates
    new_links: dict[tuple[str, str], str] = field(default_factory=dict)

    def user_by_email(self, email: str) -> str | None:
        folded = email.strip().casefold()
        for user in self.users.values():
            if user["email"].casefold() == folded:
                return user["id"]
        return None


_COLORS = ("blueLight2", "cyanLight2", "tealLight2", "greenLight2", "yellowLight2",
           "orangeLight2", "redLight2", "pinkLight2", "purpleLight2", "grayLight2")


def normalise(ctx: WriteContext, f: Field, value: Any, current: Any = None) -> Any:
    """The stored form of ``value`` written to ``f`` (None clears the cell).

    ``current`` is the cell's present value (attachments keep existing ones by id).
    """
    if f.computed:
        raise computed_field(f.name)
    if value is None:
        return None
    writer = _WRITERS.get(f.type)
    if writer is None:  # pragma: no cover - every writable type has a writer
        raise invalid_value(f.name)
    stored = writer(ctx, f, value, current)
    return None if is_empty(stored) else stored


def _text(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str):
        return value
    if ctx.typecast and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    if ctx.typecast and isinstance(value, list):
        return ", ".join(to_text(v) for v in value)
    raise invalid_value(f.name)


def _rich_text(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    text = _text(ctx, f, value, current)
    if not text:
        return text
    # Airtable stores its own markdown: "* item" comes back "- item", with a final newline
    # (create_records_response.json).
    lines = [("- " + line[2:]) if line.startswith("* ") else line for line in text.split("\n")]
    text = "\n".join(lines)
    return text if text.endswith("\n") else text + "\n"


_NUMBER_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _parse_number(text: str, percent: bool = False) -> float | int | None:
    cleaned = re.sub(r"[\s,$€£¥]", "", text)
    scale = 1.0
    if cleaned.endswith("%"):
        cleaned = cleaned[:-1]
        scale = 0.01 if percent else 1.0
    if not _NUMBER_TEXT.match(cleaned):
        return None
    number = float(cleaned) * scale
    return int(number) if number.is_integer() and "." not in cleaned and scale == 1 else number


def _number(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, bool):
        raise invalid_value(f.name)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid_value(f.name)
        return value
    if ctx.typecast and isinstance(value, str):
        if not value.strip():
            return None
        if f.type == "duration" and ":" in value:
            parts = value.strip().split(":")
            if all(p.replace(".", "", 1).isdigit() for p in parts) and len(parts) in (2, 3):
                # h:mm or h:mm:ss, as the durationFormat options read
                seconds = sum((float(p) * unit for p, unit in zip(parts, (3600, 60, 1),
                                                                  strict=False)), 0.0)
                return int(seconds) if seconds.is_integer() else seconds
        number = _parse_number(value, percent=f.type == "percent")
        if number is not None:
            return number
    raise invalid_value(f.name)


def _rating(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    number = _number(ctx, f, value, current)
    if number is None or number == 0:
        return None
    if float(number) != int(number) or not 1 <= number <= int(f.options.get("max", 5)):
        raise invalid_value(f.name)
    return int(number)


_TRUE_TEXT = {"true", "yes", "y", "1", "checked", "x", "on"}


def _checkbox(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, bool):
        return value
    if ctx.typecast:
        if isinstance(value, str):
            return value.strip().casefold() in _TRUE_TEXT
        if isinstance(value, (int, float)):
            return value != 0
    raise invalid_value(f.name)


def _choice(ctx: WriteContext, f: Field, name: str) -> str:
    choices = f.options.get("choices", [])
    if any(c["name"] == name for c in choices):
        return name
    pending = ctx.new_choices.setdefault(f.id, [])
    if any(c["name"] == name for c in pending):
        return name
    if not ctx.typecast:
        raise AirtableError(422, "INVALID_MULTIPLE_CHOICE_OPTIONS",
                            f'Insufficient permissions to create new select option ""{name}""')
    color = _COLORS[(len(choices) + len(pending)) % len(_COLORS)]
    pending.append({"id": ctx.new_id("sel"), "name": name, "color": color})
    return name


def _select_text(ctx: WriteContext, f: Field, value: Any) -> str:
    if isinstance(value, str):
        return value
    if ctx.typecast and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    raise invalid_value(f.name)


def _single_select(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    name = _select_text(ctx, f, value)
    return _choice(ctx, f, name) if name else None


def _multiple_selects(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str) and ctx.typecast:
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise invalid_value(f.name)
    names: list[str] = []
    for item in value:
        name = _select_text(ctx, f, item)
        if name and name not in names:
            names.append(_choice(ctx, f, name))
    return names


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TYPECAST_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M%p", "%Y/%m/%d",
                     "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y")


def _zone(f: Field) -> dt.tzinfo:
    name = str(f.options.get("timeZone") or "utc")
    if name in ("utc", "client"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def _parse_when(value: Any, zone: dt.tzinfo, typecast: bool) -> dt.datetime | None:
    """A written date or date-time; epoch milliseconds too (create_records_response.json)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
        if typecast:
            for fmt in _TYPECAST_FORMATS:
                try:
                    parsed = dt.datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # naive: the field's time zone (AT-docs field model)
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _date(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise invalid_value(f.name) from None
    if ctx.typecast:
        parsed = _parse_when(value, UTC, True)
        if parsed is not None:
            return parsed.date().isoformat()
    raise invalid_value(f.name)


def _datetime(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    parsed = _parse_when(value, _zone(f), ctx.typecast)
    if parsed is None:
        raise invalid_value(f.name)
    return iso(parsed)


def _links(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    target = ctx.base.tables.get(f.options.get("linkedTableId", ""))
    if target is None:  # pragma: no cover - links always point somewhere
        raise invalid_value(f.name)
    if isinstance(value, str) and ctx.typecast:
        value = [value]
    if not isinstance(value, list):
        raise invalid_value(f.name)
    ids: list[str] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            item = item["id"]
        if not isinstance(item, str):
            raise invalid_value(f.name)
        if item in target.records:
            record_id = item
        elif ctx.typecast and item.strip():
            record_id = _link_by_name(ctx, target, item.strip())
        else:
            raise invalid_value(f.name)
        if record_id not in ids:
            ids.append(record_id)
    return ids


def _link_by_name(ctx: WriteContext, target: Table, text: str) -> str:
    primary = target.primary_field_id
    for record in target.records.values():
        cell = record.cells.get(primary)
        if cell is not None and to_text(cell) == text:
            return record.id
    key = (target.id, text)
    if key not in ctx.new_links:
        ctx.new_links[key] = ctx.new_id("rec")
    return ctx.new_links[key]


def _collaborator_id(ctx: WriteContext, f: Field, item: Any) -> str:
    if isinstance(item, dict):
        if isinstance(item.get("id"), str) and item["id"] in ctx.users:
            return str(item["id"])
        if isinstance(item.get("email"), str):
            found = ctx.user_by_email(item["email"])
            if found:
                return found
    elif isinstance(item, str):
        if item in ctx.users:
            return item
        found = ctx.user_by_email(item)
        if found and (ctx.typecast or f.type == "multipleCollaborators"):
            return found
        if ctx.typecast:
            for user in ctx.users.values():
                if user["name"] == item:
                    return user["id"]
    raise invalid_value(f.name)


def _single_collaborator(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str) and not ctx.typecast:
        raise invalid_value(f.name)
    return _collaborator_id(ctx, f, value)


def _multiple_collaborators(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if not isinstance(value, list):
        raise invalid_value(f.name)
    ids: list[str] = []
    for item in value:
        user_id = _collaborator_id(ctx, f, item)
        if user_id not in ids:
            ids.append(user_id)
    return ids


def _attachments(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if not isinstance(value, list):
        raise invalid_value(f.name)
    existing = {a["id"]: a for a in (current or [])}
    out: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid_value(f.name)
        if "url" in item:
            url = item["url"]
            filename = item.get("filename")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")) or (
                    filename is not None and not isinstance(filename, str)):
                raise invalid_value(f.name)
            name = filename or urlsplit(url).path.rsplit("/", 1)[-1] or "file"
            out.append(_attachment(ctx.new_id("att"), name, None, b""))
        elif isinstance(item.get("id"), str) and item["id"] in existing:
            out.append(existing[item["id"]])
        else:
            raise invalid_value(f.name)
    return out


def _barcode(ctx: WriteContext, f: Field, value: Any, current: Any) -> Any:
    if isinstance(value, str) and ctx.typecast:
        return {"text": value} if value else None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str) or (
            set(value) - {"text", "type"}):
        raise invalid_value(f.name)
    out = {"text": value["text"]}
    if value.get("type") is not None:
        out["type"] = str(value["type"])
    return out if out["text"] else None


_Writer = Callable[[WriteContext, Field, Any, Any], Any]
_WRITERS: dict[str, _Writer] = {
    "singleLineText": _text, "multilineText": _text, "richText": _rich_text, "email": _text,
    "url": _text, "phoneNumber": _text, "number": _number, "percent": _number,
    "currency": _number, "duration": _number, "rating": _rating, "checkbox": _checkbox,
    "singleSelect": _single_select, "multipleSelects": _multiple_selects, "date": _date,
    "dateTime": _datetime, "multipleRecordLinks": _links,
    "singleCollaborator": _single_collaborator, "multipleCollaborators": _multiple_collaborators,
    "multipleAttachments": _attachments, "barcode": _barcode,
}


# ---------------------------------------------------------------------------
# Attachments


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def _thumbnail(url: str, width: int, height: int, box_w: int | None,
               box_h: int) -> dict[str, Any]:
    scale = min(1.0, box_h / height, (box_w / width) if box_w else 1.0)
    return {"url": url, "width": max(1, round(width * scale)),
            "height": max(1, round(height * scale))}


def _attachment(att_id: str, filename: str, content_type: str | None,
                data: bytes) -> dict[str, Any]:
    kind = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    url = f"{ATTACHMENT_HOST}/{att_id}/{quote(filename)}"
    out: dict[str, Any] = {"id": att_id}
    size = _image_size(data) if data else None
    if size:
        out["width"], out["height"] = size
    out.update({"url": url, "filename": filename, "size": len(data), "type": kind})
    if size:
        width, height = size
        out["thumbnails"] = {
            "small": _thumbnail(f"{url}?thumb=small", width, height, None, 36),
            "large": _thumbnail(f"{url}?thumb=large", width, height, 512, 512),
            "full": {"url": f"{url}?thumb=full", "width": width, "height": height},
        }
    return out


def attachment_from_bytes(att_id: str, filename: str, content_type: str,
                          data_b64: str) -> dict[str, Any]:
    """An attachment object for an upload (``uploadAttachment``); ValueError on bad base64."""
    data = base64.b64decode(data_b64, validate=True)
    return _attachment(att_id, filename, content_type, data)


# ---------------------------------------------------------------------------
# Reads


class RecordScope:
    """A record as a formula sees it (:class:`~airtable_formula.Scope`)."""

    __slots__ = ("_values", "reader", "record", "table")

    def __init__(self, reader: CellReader, table: Table, record: Record,
                 values: list[Any] | None = None):
        self.reader = reader
        self.table = table
        self.record = record
        self._values = values

    def field(self, field_id: str) -> Any:
        f = self.table.field(field_id)
        if f is None:
            return ERROR
        return self.reader.formula_value(self.table, self.record, f)

    def record_id(self) -> str:
        return self.record.id

    def created_time(self) -> dt.datetime:
        return self.record.created

    def last_modified_time(self, field_ids: tuple[str, ...]) -> dt.datetime | None:
        if not field_ids:
            return self.record.modified
        return max(self.record.field_time(i) for i in field_ids)

    def now(self) -> dt.datetime:
        return self.reader.now()

    def values(self) -> list[Any]:
        return list(self._values or [])


_MAX_DEPTH = 12  # formulas of formulas; deeper means a cycle


def _parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def result_json(value: Any) -> Any:
    """A formula or rollup result as the REST API shows it (None: empty, omitted)."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, ErrorValue):
        return {"error": value.code}
    if isinstance(value, float):
        if math.isnan(value):
            return {"specialValue": "NaN"}
        if math.isinf(value):
            return {"specialValue": "Infinity" if value > 0 else "-Infinity"}
        return int(value) if value.is_integer() and abs(value) < 1e15 else value
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, list):
        items = [result_json(v) for v in value]
        items = [v for v in items if v is not None]
        return items or None
    return value


def _sort_value(value: Any) -> tuple[Any, ...]:
    if value is None or value == "" or value == [] or value is False:
        return (0,)
    if isinstance(value, ErrorValue):
        return (2,)
    if isinstance(value, bool):
        return (1, 0, int(value))
    if isinstance(value, (int, float)):
        return (1, 0, -math.inf if math.isnan(value) else value)
    if isinstance(value, dt.datetime):
        return (1, 1, value.timestamp())
    if isinstance(value, list):
        return _sort_value(to_text(value))
    return (1, 2, str(value).casefold(), str(value))


class CellReader:
    """Reads the cells of one base (users resolve collaborator ids)."""

    def __init__(self, base: Base, users: Mapping[str, dict[str, str]],
                 now: Callable[[], dt.datetime]):
        self.base = base
        self.users = users
        self.now = now
        self._depth = 0

    # -- JSON (cellFormat=json) ---------------------------------------------

    def renderer(self, table: Table, f: Field) -> Callable[[Record], Any] | None:
        """A function reading ``f`` of a record as JSON (None: read the stored cell as is)."""
        kind = f.type
        fid = f.id
        if kind == "multipleRecordLinks":
            target = self.base.tables.get(f.options.get("linkedTableId", ""))
            records = target.records if target is not None else {}

            def links(record: Record) -> Any:
                ids = record.cells.get(fid)
                return [i for i in ids if i in records] if ids else None
            return links
        if kind == "singleCollaborator":
            return lambda record: self._user(record.cells.get(fid))
        if kind == "multipleCollaborators":
            return lambda record: [u for u in (self._user(i) for i in record.cells.get(fid) or [])
                                   if u is not None]
        if f.computed:
            return lambda record: self.computed_json(table, record, f)
        return None

    def json(self, table: Table, record: Record, f: Field) -> Any:
        """A cell as the REST API returns it; None when empty (omitted)."""
        read = self.renderer(table, f)
        value = record.cells.get(f.id) if read is None else read(record)
        return None if is_empty(value) else value

    def _user(self, user_id: Any) -> dict[str, str] | None:
        if not isinstance(user_id, str):
            return None
        user = self.users.get(user_id)
        return dict(user) if user is not None else None

    def _linked(self, table: Table, record: Record, link_field_id: str
                ) -> tuple[Table | None, list[Record]]:
        link = table.field(link_field_id)
        if link is None or link.type != "multipleRecordLinks":
            return None, []
        target = self.base.tables.get(link.options.get("linkedTableId", ""))
        if target is None:
            return None, []
        ids = record.cells.get(link.id) or []
        return target, [target.records[i] for i in ids if i in target.records]

    def _lookup(self, table: Table, record: Record, f: Field,
                value_of: Callable[[Table, Record, Field], Any]) -> list[Any] | None:
        """A lookup field: ``value_of`` each linked record's looked-up field, lists
        flattened and empty values left out (``None`` when the link is broken)."""
        target, linked = self._linked(table, record, f.options.get("recordLinkFieldId", ""))
        source = target.field(f.options.get("fieldIdInLinkedTable", "")) if target else None
        if target is None or source is None:
            return None
        values: list[Any] = []
        for other in linked:
            value = value_of(target, other, source)
            if isinstance(value, list):
                values.extend(value)
            elif value is not None:
                values.append(value)
        return values

    def computed_json(self, table: Table, record: Record, f: Field) -> Any:
        kind = f.type
        if kind == "autoNumber":
            return record.autonumber
        if kind == "createdTime":
            return iso(record.created)
        if kind == "lastModifiedTime":
            return iso(self._last_modified(record, f))
        if kind == "createdBy":
            return self._user(record.created_by)
        if kind == "lastModifiedBy":
            return self._user(record.modified_by)
        if kind == "count":
            return len(self._linked(table, record, f.options.get("recordLinkFieldId", ""))[1])
        if kind == "multipleLookupValues":
            return self._lookup(table, record, f, self.json)
        if kind in ("formula", "rollup"):
            return result_json(self.formula_value(table, record, f))
        if kind == "button":
            button = f.button or {}
            return {"label": button.get("label", f.name), "url": button.get("url")}
        return None  # pragma: no cover

    def _last_modified(self, record: Record, f: Field) -> dt.datetime:
        referenced = f.options.get("referencedFieldIds") or []
        if not referenced:
            return record.modified
        return max(record.field_time(i) for i in referenced)

    # -- formula values ---------------------------------------------------------

    def formula_value(self, table: Table, record: Record, f: Field) -> Any:
        """A cell as formulas see it: text, number, bool, datetime, list or None."""
        kind = f.type
        cell = record.cells.get(f.id)
        if kind in ("formula", "rollup"):
            if f.formula is None:
                return ERROR
            if self._depth > _MAX_DEPTH:
                return ERROR
            self._depth += 1
            try:
                values = self._rollup_values(table, record, f) if kind == "rollup" else None
                return f.formula.evaluate(RecordScope(self, table, record, values))
            finally:
                self._depth -= 1
        if kind == "date":
            return _parse_iso(cell).replace(tzinfo=UTC) if cell else None
        if kind == "dateTime":
            return _parse_iso(cell) if cell else None
        if kind == "createdTime":
            return record.created
        if kind == "lastModifiedTime":
            return self._last_modified(record, f)
        if kind == "checkbox":
            return True if cell else None
        if kind == "multipleSelects":
            return ", ".join(cell) if cell else None
        if kind == "multipleRecordLinks":
            target, linked = self._linked(table, record, f.id)
            if target is None or not linked:
                return None
            primary = target.primary
            return [to_text(self.formula_value(target, other, primary)) for other in linked]
        if kind == "singleCollaborator":
            user = self._user(cell)
            return user["name"] if user else None
        if kind in ("multipleCollaborators", "createdBy", "lastModifiedBy"):
            if kind == "multipleCollaborators":
                ids = list(cell or [])
            else:
                ids = [record.created_by if kind == "createdBy" else record.modified_by]
            names = [u["name"] for u in (self._user(i) for i in ids) if u is not None]
            return ", ".join(names) if names else None
        if kind == "multipleAttachments":
            return ", ".join(f"{a['filename']} ({a['url']})" for a in cell) if cell else None
        if kind == "barcode":
            return cell.get("text") if cell else None
        if kind == "multipleLookupValues":
            return self._lookup(table, record, f, self.formula_value)
        if kind == "autoNumber":
            return record.autonumber
        if kind == "count":
            return self.computed_json(table, record, f)
        if kind == "button":
            return (f.button or {}).get("label", f.name)
        return cell

    def _rollup_values(self, table: Table, record: Record, f: Field) -> list[Any]:
        target, linked = self._linked(table, record, f.options.get("recordLinkFieldId", ""))
        source = target.field(f.options.get("fieldIdInLinkedTable", "")) if target else None
        if target is None or source is None:
            return []
        out: list[Any] = []
        for other in linked:
            value = self.formula_value(target, other, source)
            if isinstance(value, list):
                out.extend(value)
            elif value is not None:
                out.append(value)
        return out

    # -- sorting and text ----------------------------------------------------

    def sort_key(self, table: Table, f: Field) -> Callable[[Record], tuple[Any, ...]]:
        """A key for ``sorted``: blanks first; selects in choice order (as Airtable sorts)."""
        if f.type == "singleSelect":
            order = {c["name"]: i for i, c in enumerate(f.options.get("choices", []))}
            return lambda record: _sort_value(order.get(record.cells.get(f.id, "")))
        if f.type in ("singleLineText", "multilineText", "richText", "email", "url",
                      "phoneNumber", "number", "percent", "currency", "duration", "rating",
                      "date", "dateTime"):
            fid = f.id
            return lambda record: _sort_value(record.cells.get(fid))
        return lambda record: _sort_value(self.formula_value(table, record, f))

    def text(self, table: Table, record: Record, f: Field, zone: dt.tzinfo) -> str | None:
        """A cell for ``cellFormat=string`` (Airtable: "do not rely on the format")."""
        value = self.json(table, record, f)
        if value is None:
            return None
        kind = f.type
        if kind in ("dateTime", "createdTime", "lastModifiedTime") and isinstance(value, str):
            return _parse_iso(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if kind == "checkbox":
            return "checked"
        if kind == "multipleRecordLinks":
            target = self.base.tables.get(f.options.get("linkedTableId", ""))
            if target is not None:
                return ", ".join(
                    to_text(self.formula_value(target, target.records[i], target.primary))
                    for i in value)
        return _as_text(value)


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        if "error" in value:
            return str(value["error"])
        if "specialValue" in value:
            return str(value["specialValue"])
        if "filename" in value:
            return f"{value['filename']} ({value['url']})"
        for key in ("name", "text", "label"):
            if key in value:
                return str(value[key])
    return to_text(value)
