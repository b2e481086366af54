"""Hypothesis strategies: Notion pages and Airtable records, well-formed or hostile.

Given a table's real schema (what the emulator answers for the data source or
the base), a row is built property by property. Each value is drawn from:

- a well-formed value of the property's own type (so most rows decode);
- a well-formed value of *another* type (a property whose type changed);
- the right ``type`` with a body of the wrong shape: ``null``, a number where
  an object belongs, objects with missing keys, lists of junk;
- junk of any JSON shape, huge strings (up to 100,000 characters) and odd
  Unicode (NUL, line and paragraph separators, right-to-left overrides,
  combining marks, emoji, non-characters);
- nothing at all (the property or field is missing).

The envelope varies too (times missing or malformed, ``properties``/``fields``
missing, null or of the wrong type), but every row keeps a unique id: the real
APIs never send a row without one, and a row without an id has no identity a
quarantine could name.

``hostile=False`` keeps every value's shape well formed (its own type's or
another type's, or null, or missing; any text; any time), which is what a
workspace whose schema changed under a sync sends. ``hostile=True`` adds
bodies of the wrong shape, junk properties and envelopes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

ODD = ["\x00", "\u2028", "\u2029", "\u202e", "\u0301", "\ufeff", "\uffff", "😀", "\u200b",
       "'", '"', "\\", "}", "{", "<script>", "|", "\n", "\r\n", "\t", "=", "@", "\x7f"]

text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(ODD), max_size=8).map("".join),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\n"]),
              st.sampled_from([2000, 2001, 100_000])),
)
# Large, tiny and negative numbers; JSON has no NaN or infinity literal, so none here.
number = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                   st.floats(allow_nan=False, allow_infinity=False))
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), number, text),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["id", "type", "name", "start",
                                                             "number", "string", "email",
                                                             "content", "x"]),
                                            inner, max_size=4)),
    max_leaves=10,
)


def iso_moment(hostile: bool = True) -> st.SearchStrategy[str]:
    """An ISO timestamp as the APIs send them; with ``hostile``, malformed ones too."""
    good = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1),
                        timezones=st.just(dt.UTC)).map(
        lambda d: d.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    offset = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)
                          ).map(lambda d: d.isoformat(timespec="seconds") + "+05:30")
    if not hostile:
        return st.one_of(good, offset)
    return st.one_of(good, good, offset,
                     st.sampled_from(["2026-02-30T00:00:00.000Z", "not a date", "", "0000",
                                      "2026-10-05", "9999-12-31T23:59:59.999Z",
                                      "2026-10-05T25:00:00Z", "2026-10-05T10:00:00"]))


def iso_date(hostile: bool = True) -> st.SearchStrategy[str]:
    """A date (any year 1 to 9999, as a person can type one) or a timestamp."""
    return st.one_of(st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
                     iso_moment(hostile))


def notion_id() -> st.SearchStrategy[str]:
    return st.uuids().map(str)


# ---------------------------------------------------------------------------
# Notion


def _rich_item(content: str, kind: str = "text") -> dict[str, Any]:
    annotations = {"bold": False, "italic": False, "strikethrough": False,
                   "underline": False, "code": False, "color": "default"}
    if kind == "mention":
        return {"type": "mention", "mention": {"type": "user", "user": {
                    "object": "user", "id": str(uuid.uuid4())}},
                "annotations": annotations, "plain_text": "@" + content, "href": None}
    if kind == "equation":
        return {"type": "equation", "equation": {"expression": content},
                "annotations": annotations, "plain_text": content, "href": None}
    return {"type": "text", "text": {"content": content, "link": None},
            "annotations": annotations, "plain_text": content, "href": None}


rich_text = st.lists(st.builds(_rich_item, text, st.sampled_from(["text", "mention",
                                                                    "equation"])),
                     max_size=3)
option = st.one_of(st.none(), st.builds(lambda n: {"id": "opt", "name": n, "color": "blue"},
                                        st.one_of(st.sampled_from(["Low", "Medium", "High",
                                                                   "Technical", "Operational",
                                                                   "Communication"]), text)))
notion_user = st.builds(
    lambda i, n, e: {"object": "user", "id": i, **({"name": n} if n is not None else {}),
                     **({"type": "person", "person": {"email": e}} if e else {})},
    notion_id(), st.one_of(st.none(), text), st.one_of(st.none(), text))
def date_value(hostile: bool) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.builds(
        lambda s, e, z: {"start": s, "end": e, "time_zone": z},
        iso_date(hostile), st.one_of(st.none(), iso_date(hostile)),
        st.one_of(st.none(), st.sampled_from(["Europe/Paris", "Nowhere/Land", ""]))))


def notion_value(kind: str, hostile: bool = True) -> st.SearchStrategy[Any]:
    """A well-formed value body of a Notion property ``kind``."""
    date_value_ = date_value(hostile)
    simple: dict[str, st.SearchStrategy[Any]] = {
        "title": rich_text, "rich_text": rich_text,
        "number": st.one_of(st.none(), number),
        "select": option, "status": option,
        "multi_select": st.lists(option.filter(lambda o: o is not None), max_size=3),
        "date": date_value_,
        "people": st.lists(notion_user, max_size=3),
        "relation": st.lists(st.builds(lambda i: {"id": i}, notion_id()), max_size=3),
        "checkbox": st.booleans(),
        "url": st.one_of(st.none(), text), "email": st.one_of(st.none(), text),
        "phone_number": st.one_of(st.none(), text),
        "created_time": iso_moment(hostile), "last_edited_time": iso_moment(hostile),
        "created_by": notion_user, "last_edited_by": notion_user,
        "unique_id": st.builds(lambda p, n: {"prefix": p, "number": n},
                               st.one_of(st.none(), text), st.one_of(st.none(), number)),
        "files": st.lists(st.builds(lambda n, u: {"name": n, "type": "external",
                                                  "external": {"url": u}}, text, text),
                          max_size=2),
        "formula": st.one_of(
            st.builds(lambda s: {"type": "string", "string": s}, st.one_of(st.none(), text)),
            st.builds(lambda n: {"type": "number", "number": n}, st.one_of(st.none(), number)),
            st.builds(lambda b: {"type": "boolean", "boolean": b}, st.booleans()),
            st.builds(lambda d: {"type": "date", "date": d}, date_value_)),
        "rollup": st.one_of(
            st.builds(lambda n: {"type": "number", "number": n, "function": "sum"},
                      st.one_of(st.none(), number)),
            st.builds(lambda d: {"type": "date", "date": d, "function": "latest_date"},
                      date_value_),
            st.builds(lambda items: {"type": "array", "array": items, "function": "show_original"},
                      st.lists(st.builds(lambda t: {"type": "rich_text", "rich_text": t},
                                         rich_text), max_size=2)),
            st.just({"type": "incomplete", "incomplete": {}, "function": "sum"})),
        "button": st.just({}),
    }
    return simple.get(kind, junk)


NOTION_KINDS = ["title", "rich_text", "number", "select", "status", "multi_select", "date",
                "people", "relation", "checkbox", "url", "email", "phone_number",
                "created_time", "last_edited_time", "created_by", "unique_id", "files",
                "formula", "rollup", "button"]


@st.composite
def notion_property(draw: st.DrawFn, prop_id: str, kind: str, hostile: bool = True) -> Any:
    """A property value as a page carries it, or something hostile in its place."""
    choices = ["good"] * 6 + ["other type", "missing"]
    if hostile:
        choices += ["wrong body", "junk", "no id", "no type"]
    choice = draw(st.sampled_from(choices))
    if choice == "missing":
        return None
    if choice == "junk":
        return draw(junk)
    shown_kind = draw(st.sampled_from(NOTION_KINDS)) if choice == "other type" else kind
    body = draw(junk) if choice == "wrong body" else draw(notion_value(shown_kind, hostile))
    prop: dict[str, Any] = {"id": prop_id, "type": shown_kind, shown_kind: body}
    if kind == "relation" and choice == "good":
        prop["has_more"] = False
    if choice == "no id":
        del prop["id"]
    if choice == "no type":
        del prop["type"]
    return prop


@st.composite
def notion_page(draw: st.DrawFn, schema: Mapping[str, Mapping[str, Any]],
                page_id: str, hostile: bool = True) -> dict[str, Any]:
    """A page of a data source whose ``properties`` schema is ``schema``."""
    properties: dict[str, Any] = {}
    for name, spec in schema.items():
        value = draw(notion_property(str(spec["id"]), str(spec["type"]), hostile))
        if value is not None:
            properties[name] = value
    page: dict[str, Any] = {"object": "page", "id": page_id, "in_trash": False,
                            "archived": False, "url": f"https://www.notion.so/{page_id}"}
    envelope = draw(st.sampled_from(["good"] * 5 + ["times"] + (["properties"] if hostile
                                                                 else [])))
    page["created_time"] = draw(iso_moment(hostile)) if envelope == "times" else \
        "2026-10-01T09:00:00.000Z"
    page["last_edited_time"] = draw(st.one_of(iso_moment(), junk) if hostile
                                    else iso_moment(False)) \
        if envelope == "times" else "2026-10-02T09:00:00.000Z"
    page["properties"] = draw(junk) if envelope == "properties" else properties
    return page


# ---------------------------------------------------------------------------
# Airtable


collaborator = st.builds(lambda i, e, n: {"id": i, "email": e, "name": n},
                         st.from_regex(r"usr[A-Za-z0-9]{14}", fullmatch=True),
                         st.one_of(st.none(), text), st.one_of(st.none(), text))
record_link = st.from_regex(r"rec[A-Za-z0-9]{14}", fullmatch=True)


def airtable_value(kind: str, hostile: bool = True) -> st.SearchStrategy[Any]:
    """A well-formed cell of an Airtable field ``kind`` (``cellFormat=json``)."""
    values: dict[str, st.SearchStrategy[Any]] = {
        "singleLineText": text, "multilineText": text, "richText": text,
        "email": text, "url": text, "phoneNumber": text,
        "number": number, "percent": number, "currency": number, "rating": st.integers(0, 10),
        "autoNumber": st.integers(1, 10**6), "count": st.integers(0, 100),
        "singleSelect": st.one_of(st.sampled_from(["Low", "Medium", "High", "Technical"]),
                                  text),
        "multipleSelects": st.lists(text, max_size=3),
        "date": iso_date(hostile), "dateTime": iso_moment(hostile),
        "createdTime": iso_moment(hostile), "lastModifiedTime": iso_moment(hostile),
        "checkbox": st.just(True),
        "singleCollaborator": collaborator,
        "multipleCollaborators": st.lists(collaborator, max_size=3),
        "createdBy": collaborator, "lastModifiedBy": collaborator,
        "multipleRecordLinks": st.lists(record_link, max_size=3),
        "multipleLookupValues": st.lists(st.one_of(text, number, collaborator, record_link),
                                         max_size=3),
        "formula": st.one_of(text, number, st.booleans(), iso_moment(hostile),
                             st.just({"error": "#ERROR!"}),
                             st.just({"specialValue": "NaN"}),
                             st.just({"specialValue": "Infinity"})),
        "rollup": st.one_of(number, text, st.just({"error": "#ERROR!"})),
        "multipleAttachments": st.lists(st.builds(
            lambda u, n: {"id": "att0", "url": u, "filename": n}, text, text), max_size=2),
    }
    return values.get(kind, junk)


AIRTABLE_KINDS = ["singleLineText", "number", "singleSelect", "multipleSelects", "date",
                  "dateTime", "checkbox", "singleCollaborator", "multipleCollaborators",
                  "multipleRecordLinks", "multipleLookupValues", "formula", "rollup",
                  "multipleAttachments", "lastModifiedTime"]


@st.composite
def airtable_cell(draw: st.DrawFn, kind: str, hostile: bool = True) -> Any:
    choices = ["good"] * 6 + ["other type", "null", "missing"] + (["junk"] if hostile else [])
    choice = draw(st.sampled_from(choices))
    if choice == "missing":
        return _MISSING
    if choice == "null":
        return None
    if choice == "junk":
        return draw(junk)
    shown_kind = draw(st.sampled_from(AIRTABLE_KINDS)) if choice == "other type" else kind
    return draw(airtable_value(shown_kind, hostile))


_MISSING = object()


@st.composite
def airtable_record(draw: st.DrawFn, fields: list[Mapping[str, Any]],
                    record_id: str, hostile: bool = True) -> dict[str, Any]:
    """A record of a table whose schema ``fields`` are given, keyed by field id."""
    cells: dict[str, Any] = {}
    for spec in fields:
        value = draw(airtable_cell(str(spec["type"]), hostile))
        if value is not _MISSING:
            cells[str(spec["id"])] = value
    record: dict[str, Any] = {"id": record_id}
    envelope = draw(st.sampled_from(["good"] * 5 + ["time"] + (["fields"] if hostile else [])))
    record["createdTime"] = draw(st.one_of(iso_moment(), junk) if hostile
                                 else iso_moment(False)) \
        if envelope == "time" else "2026-10-01T09:00:00.000Z"
    record["fields"] = draw(junk) if envelope == "fields" else cells
    return record
