"""Notion page JSON to Python values and :class:`~leadsync.connectors.base.Record` (pure).

Nothing here does I/O, reads the environment or the clock. The connector
(:mod:`leadsync.connectors.notion`) fetches pages, expands truncated values
through the property item endpoint, and hands the JSON here.

Two steps, kept apart so each can be tested on the real payloads:

1. :func:`decode_property` turns one property value (``{"id", "type", <type>: …}``)
   into a plain Python value, whatever the column it feeds:

   ================================  ============================================
   Notion type                       Python value
   ================================  ============================================
   title, rich_text                  ``str``: ``plain_text`` joined across every
                                     item (text, mentions, equations); None if empty
   number                            ``int`` / ``float`` / None
   select, status                    the option name / None
   multi_select                      ``tuple[str, ...]`` of option names
   date                              :class:`DateRange` / None (see below)
   people, created_by,               ``tuple[MemberRef, ...]`` (``created_by`` and
   last_edited_by                    ``last_edited_by``: one ``MemberRef``)
   relation                          ``tuple[PageId, ...]`` (complete once expanded)
   formula                           by result type: number, string, boolean, date
   rollup                            number, date, or ``tuple`` of decoded items
   checkbox                          ``bool``
   url, email, phone_number          ``str`` / None
   created_time, last_edited_time    aware UTC ``datetime``
   unique_id                         ``"PREFIX-N"`` or ``"N"``
   files                             ``tuple[str, ...]`` of URLs (the name when
                                     an item has no URL)
   anything else (button, place,     :class:`Unsupported`: a mapped one makes the
   verification, incomplete rollups) row's :attr:`Record.problem`; unmapped ones
                                     are never looked at
   ================================  ============================================

   Dates: a date-only value is a :class:`datetime.date` (``build_frame`` puts
   it at midnight UTC); a value with a time is an aware :class:`datetime.datetime`
   converted to UTC from the offset Notion sends. A range keeps its end in
   :attr:`DateRange.end`; a canonical timestamp column gets the **start**.

2. :func:`decode_page` picks the mapped properties of one page **by property id**
   (so a renamed property keeps mapping) and fits each value to its canonical
   column's kind (:func:`column_value`): member columns get
   :class:`~leadsync.tables.MemberRef` values (a person, a relation or text),
   text columns get text, timestamp columns the start of a date, and so on.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from leadsync.tables import META_COLUMNS, Kind, MemberRef, schema

from .base import FieldRef, Record

if TYPE_CHECKING:
    from leadsync.frames import CellBatch

__all__ = [
    "REFERENCE_CAP",
    "DateRange",
    "PageId",
    "Unsupported",
    "column_value",
    "decode_date",
    "decode_page",
    "decode_property",
    "decode_property_items",
    "decode_rich_text",
    "decode_timestamp",
    "decode_user",
    "field_refs",
    "gather_pages",
    "needs_expansion",
    "property_by_id",
    "property_key",
]

#: Page objects list at most this many references (relation, people, mentions
#: in title/rich_text); longer values need the property item endpoint.
REFERENCE_CAP = 25


class PageId(str):
    """A page id that came from a relation (so a member column knows it is one)."""

    __slots__ = ()


@dataclass(frozen=True)
class DateRange:
    """A Notion date: ``start``, and ``end`` for a range.

    Each is a :class:`datetime.date` for an all-day value or an aware UTC
    :class:`datetime.datetime`.
    """

    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None = None

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, dt.datetime)


@dataclass(frozen=True)
class Unsupported:
    """A value leadsync cannot decode, with why (only a problem when it is mapped)."""

    reason: str


class CellProblem(ValueError):
    """A mapped value that does not fit its column; becomes the row's problem."""


# ---------------------------------------------------------------------------
# Scalars


def decode_timestamp(text: str | None,
                     time_zone: str | None = None) -> dt.date | dt.datetime | None:
    """An ISO date (``date``) or date-time (aware ``datetime`` in UTC).

    Notion sends offsets (``…+00:00``, ``…Z``); a date-time without one is
    read in ``time_zone`` when given, else as UTC.
    """
    if not text:
        return None
    text = text.strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        zone: dt.tzinfo = dt.UTC
        if time_zone:
            try:
                zone = zoneinfo.ZoneInfo(time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = dt.UTC
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)


def decode_date(value: Mapping[str, Any] | None) -> DateRange | None:
    """``{"start", "end", "time_zone"}`` -> :class:`DateRange` (None when empty)."""
    if not value or not value.get("start"):
        return None
    zone = value.get("time_zone")
    start = decode_timestamp(value["start"], zone)
    assert start is not None
    return DateRange(start, decode_timestamp(value.get("end"), zone))


def decode_rich_text(items: Iterable[Mapping[str, Any]] | None) -> str | None:
    """The plain text of a rich text array, every item (text, mention, equation) joined."""
    parts: list[str] = []
    for item in items or ():
        text = item.get("plain_text")
        if text is None:  # write-shaped items (no plain_text) from our own payloads
            kind = item.get("type", "text")
            inner = item.get(kind) or {}
            text = inner.get("content") or inner.get("expression") or ""
        parts.append(str(text))
    joined = "".join(parts)
    return joined or None


def decode_user(user: Mapping[str, Any]) -> MemberRef:
    """A user (person, bot, partial) or group -> ``MemberRef("person", id, name, email)``."""
    person = user.get("person") or {}
    email = person.get("email") if isinstance(person, Mapping) else None
    return MemberRef("person", str(user["id"]), user.get("name"), email)


def _unique_id(value: Mapping[str, Any] | None) -> str | None:
    if not value or value.get("number") is None:
        return None
    prefix = value.get("prefix")
    return f"{prefix}-{value['number']}" if prefix else str(value["number"])


def _files(items: Iterable[Mapping[str, Any]] | None) -> tuple[str, ...]:
    urls: list[str] = []
    for item in items or ():
        kind = item.get("type")
        inner = item.get(kind) if isinstance(kind, str) else None
        url = inner.get("url") if isinstance(inner, Mapping) else None
        urls.append(str(url or item.get("name") or ""))
    return tuple(u for u in urls if u)


def _formula(value: Mapping[str, Any] | None) -> Any:
    if not value:
        return None
    kind = value.get("type")
    if kind in ("number", "string", "boolean"):
        return value.get(kind)
    if kind == "date":
        return decode_date(value.get("date"))
    return Unsupported(f"formula result of type {kind!r} is not supported")


def _rollup(value: Mapping[str, Any] | None) -> Any:
    if not value:
        return None
    kind = value.get("type")
    if kind == "number":
        return value.get("number")
    if kind == "date":
        return decode_date(value.get("date"))
    if kind == "array":
        return tuple(decode_property(item) for item in value.get("array") or ())
    if kind == "incomplete":
        return Unsupported("rollup is incomplete (Notion could not compute it)")
    return Unsupported(f"rollup of type {kind!r} is not supported")


# ---------------------------------------------------------------------------
# One property value


def decode_property(prop: Mapping[str, Any]) -> Any:
    """One property value (``{"type": t, t: …}``) -> its Python value (see the module doc)."""
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return decode_rich_text(value)
    if kind in ("number", "checkbox", "url", "email", "phone_number"):
        return value
    if kind in ("select", "status"):
        return value.get("name") if value else None
    if kind == "multi_select":
        return tuple(str(o["name"]) for o in value or ())
    if kind == "date":
        return decode_date(value)
    if kind == "people":
        return tuple(decode_user(u) for u in value or ())
    if kind in ("created_by", "last_edited_by"):
        return decode_user(value) if value else None
    if kind == "relation":
        return tuple(PageId(r["id"]) for r in value or ())
    if kind in ("created_time", "last_edited_time"):
        return decode_timestamp(value)
    if kind == "formula":
        return _formula(value)
    if kind == "rollup":
        return _rollup(value)
    if kind == "unique_id":
        return _unique_id(value)
    if kind == "files":
        return _files(value)
    return Unsupported(f"property type {kind!r} is not supported")


def needs_expansion(prop: Mapping[str, Any], cap: int = REFERENCE_CAP) -> bool:
    """True when a page object shows only part of the value (relations over 25,
    and people or text that reach the reference cap)."""
    if not isinstance(prop, Mapping):  # a malformed property: decode_page quarantines it
        return False
    kind = prop.get("type")
    if kind == "relation":
        return bool(prop.get("has_more"))
    if kind in ("people", "title", "rich_text"):
        value = prop.get(kind) or ()
        return isinstance(value, list) and len(value) >= cap
    return False


def decode_property_items(prop: Mapping[str, Any],
                          items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The complete property value, rebuilt from the property item endpoint's pages.

    ``items`` are the ``results`` of every page of
    ``GET /v1/pages/{page}/properties/{property}``; each carries one element of
    the value under its type (``{"type": "relation", "relation": {"id": …}}``).
    """
    kind = str(prop["type"])
    return {"id": prop.get("id"), "type": kind,
            kind: [item[kind] for item in items if item.get("type") == kind],
            "has_more": False}


@functools.lru_cache(maxsize=8192)
def property_key(prop_id: str) -> str:
    """A property id in one spelling (percent-decoded), to compare ids however encoded.

    Cached: a pull compares the same few dozen ids on every page.
    """
    return unquote(prop_id)


def property_by_id(page: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """A page's properties keyed by :func:`property_key` of their id.

    A property that is not an object or has no id cannot be found by id: it is
    left out (a mapped one is then "not on the page", and its row quarantined).
    """
    props = page.get("properties")
    if not isinstance(props, Mapping):
        return {}
    return {property_key(str(p["id"])): p for p in props.values()
            if isinstance(p, Mapping) and p.get("id") is not None}


def field_refs(properties: Mapping[str, Mapping[str, Any]]) -> list[FieldRef]:
    """A data source schema's ``properties`` (name -> config) as :class:`FieldRef` values."""
    return [FieldRef(str(p["id"]), name, str(p["type"])) for name, p in properties.items()]


# ---------------------------------------------------------------------------
# Fitting a value to a canonical column


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, tuple | list) and not isinstance(value, MemberRef):
        out: list[Any] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    return [value]


def _member_refs(value: Any) -> list[MemberRef]:
    refs: list[MemberRef] = []
    for item in _flatten(value):
        if isinstance(item, MemberRef):
            refs.append(item)
        elif isinstance(item, PageId):
            refs.append(MemberRef("relation", str(item)))
        elif isinstance(item, str):
            if item.strip():
                refs.append(MemberRef("text", item.strip()))
        else:
            raise CellProblem(f"{item!r} is not a member reference")
    return refs


def _as_text(item: Any, kind: Kind) -> str:
    if isinstance(item, MemberRef):
        return item.key if kind == "id" or not item.name else item.name
    if isinstance(item, DateRange):
        return item.start.isoformat()
    if isinstance(item, dt.date):
        return item.isoformat()
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item)


def column_value(kind: Kind, value: Any) -> Any:
    """A decoded property value fitted to a canonical column of ``kind``.

    Raises :class:`CellProblem` when it cannot fit (an unsupported value,
    several values where the column holds one).
    """
    if isinstance(value, Unsupported):
        raise CellProblem(value.reason)
    for item in _flatten(value):
        if isinstance(item, Unsupported):
            raise CellProblem(item.reason)
    if kind == "members":
        return tuple(_member_refs(value))
    if kind == "member":
        refs = _member_refs(value)
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else tuple(refs)  # build_frame reports "names N people"
    items = _flatten(value)
    if not items:
        return None
    if kind == "timestamp":
        if len(items) > 1:
            raise CellProblem(f"holds {len(items)} dates, expected one")
        item = items[0]
        return item.start if isinstance(item, DateRange) else item
    if kind in ("boolean", "number"):
        if len(items) > 1:
            raise CellProblem(f"holds {len(items)} values, expected one")
        item = items[0]
        return _as_text(item, kind) if isinstance(item, MemberRef | DateRange) else item
    texts = [_as_text(item, kind) for item in items]
    if len(texts) == 1:
        return texts[0]
    if kind == "text":
        return ", ".join(texts)
    raise CellProblem(f"holds {len(texts)} values ({', '.join(map(repr, texts[:3]))}), "
                      "expected one")


# ---------------------------------------------------------------------------
# One page


#: What a value of an unexpected shape raises in the decoders (a list where an
#: object belongs, an item without its key, a malformed date): the row is
#: quarantined with the reason, never the pull ended.
SHAPE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)


def _page_time(page: Mapping[str, Any], key: str, problems: list[str]) -> dt.datetime | None:
    text = page.get(key)
    try:
        value = decode_timestamp(text) if text is None or isinstance(text, str) else text
    except ValueError:
        value = None
    if isinstance(value, dt.datetime):
        return value
    if text is not None:
        problems.append(f"{key}: {str(text)[:60]!r} is not a date-time")
    return None


def decode_page(page: Mapping[str, Any], fields: Mapping[str, FieldRef], table: str) -> Record:
    """One page -> a :class:`Record` of the canonical ``table``.

    ``fields`` maps canonical columns to the properties they come from; each is
    found **by id**. A mapped property the page lacks, or a value that cannot
    fit its column, makes :attr:`Record.problem` (the row is quarantined with
    that reason); unmapped properties are ignored whatever their type.
    """
    spec = schema(table)
    props = property_by_id(page)
    values: dict[str, Any] = {}
    problems: list[str] = []
    if not isinstance(page.get("properties"), Mapping):
        problems.append("the page's properties are not an object")
    for column, ref in fields.items():
        if column in META_COLUMNS:
            continue
        prop = props.get(property_key(ref.id))
        if prop is None:
            problems.append(f"{column}: property {ref.name!r} ({ref.id}) is not on the page")
            continue
        try:
            values[column] = column_value(spec.column(column).kind, decode_property(prop))
        except CellProblem as exc:
            problems.append(f"{column}: {ref.name!r} {exc}")
        except SHAPE_ERRORS as exc:
            problems.append(f"{column}: {ref.name!r} has a value of an unexpected shape "
                            f"({type(exc).__name__})")
    created = _page_time(page, "created_time", problems)
    edited = _page_time(page, "last_edited_time", problems)
    return Record(
        source_id=str(page["id"]),
        created_time=created,
        last_edited_time=edited,
        values=values,
        problem="; ".join(problems) or None,
    )


# ---------------------------------------------------------------------------
# Many pages at once, a column at a time

#: ISO 8601 as Notion writes dates and times, which the column-wise decoder
#: parses in one call: a date, or a date-time with an offset. Anything else
#: goes through :func:`decode_page`.
ISO_DATE_OR_TIME = (r"^\d{4}-\d{2}-\d{2}"
                    r"(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$")
#: A date-time with an offset (a page's ``created_time`` and ``last_edited_time``).
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"


def _exact_time(text: Any) -> Any:
    """What :func:`decode_timestamp` makes of a text the column-wise decoder kept."""
    return decode_timestamp(text) if isinstance(text, str) else text


def _exact_page_time(text: Any) -> Any:
    value = decode_timestamp(text) if isinstance(text, str) else None
    return value if isinstance(value, dt.datetime) else None


class _Odd(Exception):
    """A value of a shape the fast path does not take: its page goes through
    :func:`decode_page`."""


#: What reading a value of an unexpected shape raises in the fast path.
_ODD_SHAPES = (_Odd, KeyError, TypeError, IndexError, AttributeError, ValueError)
_NONE_OR_STR = frozenset({str, type(None)})

#: One cell of one page: its properties in, the cell out (raises :data:`_ODD_SHAPES`).
Reader = Callable[[Mapping[str, Any]], Any]


def _member_cell(refs: list[MemberRef], kind: Kind) -> Any:
    """:func:`column_value` of a list of references for a member column."""
    if kind == "members":
        return tuple(refs)
    if not refs:
        return None
    return refs[0] if len(refs) == 1 else tuple(refs)


def _readable_time(text: Any) -> bool:
    """Whether :func:`decode_timestamp` reads ``text`` (a range's end, read and dropped)."""
    try:
        decode_timestamp(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _reader(ref: FieldRef, kind: Kind, cache: dict[Any, MemberRef]) -> tuple[Reader, bool]:
    """How the fast path reads one mapped property of a page into its column's cell, as
    :func:`decode_page` and :func:`column_value` would; and whether the cell is ISO
    text for a timestamp column (a date property's start, or text).

    The property is found by the name the schema gave it and checked against
    its id and type (a renamed or retyped property raises). Each reader is
    one function with its lookups inline: it runs once per page and column.
    """
    name, rid, ptype = ref.name, ref.id, ref.type
    get = cache.get
    member = kind in ("member", "members")
    if ptype == "date" and kind == "timestamp":
        def read_date(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            value = q[ptype]
            if value is None:
                return None
            start = value.get("start")
            if not start:
                return None
            end = value.get("end")
            if start.__class__ is not str or value.get("time_zone") is not None or (
                    end is not None and not _readable_time(end)):
                raise _Odd  # a zone to apply, or a range that does not read
            return start
        return read_date, True
    if ptype == "people" and member:
        def read_people(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            refs: list[MemberRef] = []
            for user in q[ptype]:
                key = (user["id"], user.get("name"),
                       (user.get("person") or _EMPTY).get("email"))
                found = get(key)
                if found is None:
                    if key[0].__class__ is not str:
                        raise _Odd
                    found = cache[key] = MemberRef("person", *key)
                refs.append(found)
            if kind == "members":
                return tuple(refs)
            return (refs[0] if len(refs) == 1 else tuple(refs)) if refs else None
        return read_people, False
    if ptype == "relation" and member:
        def read_relation(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            refs: list[MemberRef] = []
            for item in q[ptype]:
                key = item["id"]
                found = get(key)
                if found is None:
                    if key.__class__ is not str:
                        raise _Odd
                    found = cache[key] = MemberRef("relation", key)
                refs.append(found)
            if kind == "members":
                return tuple(refs)
            return (refs[0] if len(refs) == 1 else tuple(refs)) if refs else None
        return read_relation, False
    text: Reader
    if ptype in ("title", "rich_text"):
        def text(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            items = q[ptype]
            if len(items) == 1:  # the usual title: one text item
                t = items[0]["plain_text"]
            else:
                t = "".join([item["plain_text"] for item in items])
            if t.__class__ is not str:
                raise _Odd  # no plain text: decode_rich_text reads what the item holds
            return t or None
    elif ptype in ("select", "status"):
        def text(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            option = q[ptype]
            if not option:
                return None
            t = option["name"]
            if t is None or t.__class__ is str:
                return t
            raise _Odd
    elif ptype in ("url", "email", "phone_number"):
        def text(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            t = q[ptype]
            if t is None or t.__class__ is str:
                return t
            raise _Odd
    elif ptype == "unique_id":
        def text(props: Mapping[str, Any]) -> Any:
            q = props[name]
            if q["id"] != rid or q["type"] != ptype:
                raise _Odd
            return _unique_id(q[ptype])
    else:
        def text(props: Mapping[str, Any]) -> Any:
            raise _Odd  # a type the fast path leaves to decode_page
        return text, False
    if member:
        def read_ref(props: Mapping[str, Any]) -> Any:
            value = text(props)
            stripped = value.strip() if value is not None else ""
            return _member_cell([MemberRef("text", stripped)] if stripped else [], kind)
        return read_ref, False
    return text, kind == "timestamp"


_EMPTY: Mapping[str, Any] = {}

#: The member references gathered pages made (a person's id, name and email, or a related
#: page's id -> its :class:`MemberRef`), shared by every page of a pull so each reference is
#: made once; a pure memo, emptied when it grows past :data:`_SHARED_REFS_CAP`.
_SHARED_REFS: dict[Any, MemberRef] = {}
_SHARED_REFS_CAP = 1 << 16


def _shared_refs() -> dict[Any, MemberRef]:
    if len(_SHARED_REFS) > _SHARED_REFS_CAP:
        _SHARED_REFS.clear()
    return _SHARED_REFS


def gather_pages(pages: Sequence[Mapping[str, Any]], fields: Mapping[str, FieldRef],
                 table: str) -> CellBatch:
    """Many pages -> a :class:`~leadsync.frames.CellBatch`: :func:`decode_page` without its
    per-value dispatch.

    Each page is read once, every mapped property in turn (found by the name
    the schema gave it and checked against its id and type), each value
    converted as :func:`decode_page` and :func:`column_value` would convert
    it for the common property types (title, rich text, select, status, URL,
    email, phone, unique id, people, relation, date); the cells are then laid
    out a column at a time. A page where a mapped value has another shape (a
    renamed or retyped property, a formula, a date with a time zone) is
    decoded by :func:`decode_page` when the batch is prepared, so every row
    ends up exactly as that function decodes it, and a row with a problem
    becomes one of the batch's ``broken`` records. Dates stay the ISO text
    Notion sent; :meth:`~leadsync.frames.CellBatch.prepare` checks and parses
    each date column in one call.
    """
    from leadsync.frames import CellBatch

    spec = schema(table)
    mapped: list[str] = []
    readers: list[Reader] = []
    light: dict[str, str] = {}
    to_exact: dict[str, Callable[[Any], Any]] = {}
    refs_cache = _shared_refs()
    for column, ref in fields.items():
        if column in META_COLUMNS:
            continue
        read, iso = _reader(ref, spec.column(column).kind, refs_cache)
        mapped.append(column)
        readers.append(read)
        if iso:
            light[column] = ISO_DATE_OR_TIME
            if ref.type == "date":  # decode_page's cell is the date read from the text
                to_exact[column] = _exact_time
    miss: set[int] = set()
    rows: list[list[Any]] = []
    append = rows.append
    blank = [None] * len(readers)
    for i, page in enumerate(pages):
        props = page.get("properties")
        if props.__class__ is not dict:  # null, a list, a number: decode_page says why
            miss.add(i)
            append(blank)
            continue
        try:
            append([read(props) for read in readers])
        except _ODD_SHAPES:
            miss.add(i)
            append(blank)
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in readers]
    cells: dict[str, list[Any]] = dict(zip(mapped, columns, strict=True))
    cells["source_id"] = [str(page["id"]) for page in pages]
    for meta in ("created_time", "last_edited_time"):
        stamps = [page.get(meta) for page in pages]
        if not {v.__class__ for v in stamps} <= _NONE_OR_STR:
            for i, v in enumerate(stamps):
                if v is not None and v.__class__ is not str:
                    miss.add(i)
                    stamps[i] = None
        cells[meta] = stamps
        light[meta] = ISO_TIME
    to_exact["created_time"] = _exact_page_time
    to_exact["last_edited_time"] = _exact_page_time
    return CellBatch(table, cells["source_id"], cells, tuple(mapped), to_exact=to_exact,
                     light=light, raw=list(pages), miss=miss,
                     redecode=functools.partial(decode_page, fields=fields, table=table))
