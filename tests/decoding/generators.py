"""Hypothesis strategies for Notion pages and Airtable records, well formed and not.

The shapes are those of the real APIs (``tests/fixtures``), with the variations
a workspace holds: labels in other cases and spacings, values outside the
vocabularies, links that are no URL, empty cells, dates with offsets and time
zones, people with and without an email, bots and partial users, several
people in a one-person column, relations, text naming a member, and rows a
decoder must refuse: a mapped property missing from a page, a property of
another type than the schema says, error cells, values of the wrong shape.
Each strategy draws a whole batch: a schema, a mapping to a canonical table,
the pages or records, and a members frame to resolve against.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any

import pandas as pd
from hypothesis import strategies as st
from leadsync.connectors.airtable_decode import AirtableField, ColumnPlan, plan_columns
from leadsync.connectors.base import FieldRef

from leadsync.tables import TABLES, build_frame

# ---------------------------------------------------------------------------
# Shared pieces

UUIDS = [f"{i:08x}-1111-4aaa-8bbb-{i:012x}" for i in range(1, 40)]
RECORDS = ["rec" + f"{i:014d}"[-14:].replace("0", "A") for i in range(1, 40)]
USERS = [f"usr{i:011d}ABC" for i in range(1, 12)]
NAMES = ["Ana Lima", "Bo Chen", "Chidi Okafor", "Dana Kaur", "Eve Adams", "ana lima",
         "Zed Unknown", " Bo Chen ", ""]
EMAILS = ["ana@example.org", "bo@example.org", "ANA@example.org", "nobody@example.org", None,
          "not an email"]

words = st.text(alphabet=string.ascii_letters + " -_", min_size=0, max_size=12)
odd_text = st.sampled_from(["", " ", "  padded  ", "x\u00a0", "\u2003quad", "tab\tin", "a\nb",
                            "é accent", "=HYPERLINK(\"x\")", "\x1cfs", "line\x0b"])
text = st.one_of(words, odd_text)


def vocabulary_word(vocab: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A label of ``vocab`` as a workspace may spell it, or one that is not in it."""
    return st.one_of(
        st.sampled_from(vocab),
        st.sampled_from(vocab).map(str.lower),
        st.sampled_from(vocab).map(lambda v: f" {v.upper()} "),
        st.sampled_from(vocab).map(lambda v: v.replace("_", " ")),
        st.sampled_from(["Huge", "", "n/a", "Medium-ish", "Technical!", "yes", "0"]),
    )


urls = st.one_of(
    st.builds(lambda n: f"https://github.com/acme/app/pull/{n}", st.integers(1, 9999)),
    st.sampled_from(["http://x.example/a b", "ftp://files.example/x", "docs/adr-12",
                     "HTTPS://EXAMPLE.ORG/CAPS", " https://padded.example/ ", "https://",
                     "https://ok.example/\u00e9", "https://x.example/\x0bv", "",
                     "www.example.org"]),
)

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))
offsets = st.sampled_from(["Z", "+00:00", "+02:00", "-05:30", "+14:00"])


@st.composite
def iso_times(draw: st.DrawFn, *, offset: bool = True) -> str:
    day = draw(dates)
    hh, mm, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    frac = draw(st.sampled_from(["", ".000", ".5", ".123456"]))
    tail = draw(offsets) if offset else ""
    return f"{day.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}{frac}{tail}"


iso_dates = dates.map(dt.date.isoformat)
odd_dates = st.sampled_from(["2026-02-30", "2026-13-01", "yesterday", "2026/04/03", "",
                             "2026-04-03T25:00:00Z", "2026-04-03 09:00", "20260403",
                             "2026-04-03T09:00:00.1234567Z", " 2026-04-03 "])


@dataclass
class Members:
    """A members frame and the ids a workspace can point at them with."""

    frame: pd.DataFrame


def members_frame() -> pd.DataFrame:
    """Five members: some share a folded name, one has no email."""
    rows = [
        {"source_id": UUIDS[0], "member_id": "m-ana", "name": "Ana Lima",
         "email": "ana@example.org"},
        {"source_id": UUIDS[1], "member_id": "m-bo", "name": "Bo Chen", "email": "bo@example.org"},
        {"source_id": RECORDS[0], "member_id": "m-chidi", "name": "Chidi Okafor",
         "email": "chidi@example.org"},
        {"source_id": RECORDS[1], "member_id": USERS[0], "name": "Dana Kaur", "email": None},
        {"source_id": UUIDS[2], "member_id": "m-eve", "name": "Eve Adams",
         "email": "eve@example.org"},
        {"source_id": UUIDS[3], "member_id": "m-eve2", "name": "eve adams",
         "email": "eve2@example.org"},
    ]
    return build_frame("members", rows).frame


# ---------------------------------------------------------------------------
# Notion

#: Canonical column kind -> the Notion property types a workspace may hold it in.
NOTION_TYPES: dict[str, list[str]] = {
    "id": ["title", "rich_text", "unique_id", "number", "select"],
    "text": ["rich_text", "title", "select", "multi_select", "url", "email", "number",
             "checkbox", "people", "date", "formula"],
    "url": ["url", "rich_text", "title"],
    "email": ["email", "rich_text", "people"],
    "timezone": ["select", "rich_text"],
    "hours": ["rich_text", "select"],
    "category": ["select", "status", "rich_text", "multi_select", "formula"],
    "timestamp": ["date", "created_time", "rich_text", "formula", "rollup"],
    "boolean": ["checkbox", "rich_text", "select", "formula"],
    "number": ["number", "rich_text", "formula", "rollup"],
    "member": ["people", "relation", "rich_text", "title", "created_by", "select"],
    "members": ["people", "relation", "rich_text"],
}


def _rich(draw: st.DrawFn, value: str | None = None) -> list[dict[str, Any]]:
    if value is None:
        value = draw(text)
    parts = draw(st.integers(0, 3)) if value else 0
    items: list[dict[str, Any]] = []
    for k in range(max(parts, 1 if value else 0)):
        chunk = value if k == 0 else draw(st.sampled_from([" and ", "@Ana Lima", "x²"]))
        kind = draw(st.sampled_from(["text", "text", "mention", "equation"]))
        item: dict[str, Any] = {"type": kind, "annotations": {"bold": False}, "href": None}
        if kind == "text":
            item["text"] = {"content": chunk, "link": None}
        elif kind == "mention":
            item["mention"] = {"type": "user", "user": {"object": "user", "id": UUIDS[5]}}
        else:
            item["equation"] = {"expression": chunk}
        if draw(st.integers(0, 20)) > 0:
            item["plain_text"] = chunk
        items.append(item)
    return items


def _user(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.sampled_from(["person", "person", "person", "bot", "partial", "no_email"]))
    uid = draw(st.sampled_from([*UUIDS[:6], *USERS[:3]]))
    if shape == "partial":
        return {"object": "user", "id": uid}
    user: dict[str, Any] = {"object": "user", "id": uid, "name": draw(st.sampled_from(NAMES)),
                            "avatar_url": None}
    if shape == "bot":
        user.update(type="bot", bot={})
    elif shape == "no_email":
        user.update(type="person", person={})
    else:
        user.update(type="person", person={"email": draw(st.sampled_from(EMAILS))})
    return user


def _date_value(draw: st.DrawFn) -> dict[str, Any] | None:
    start = draw(st.one_of(iso_dates, iso_times(), iso_times(offset=False),
                           odd_dates.filter(lambda s: s != "")))
    zone = draw(st.sampled_from([None, None, None, "Europe/Berlin", "Mars/Olympus"]))
    end = draw(st.one_of(st.none(), iso_dates, iso_times(), st.just("2026-02-30")))
    if draw(st.integers(0, 8)) == 0:
        return None
    return {"start": start, "end": end, "time_zone": zone}


def notion_value(draw: st.DrawFn, ptype: str, kind: str, vocab: tuple[str, ...]) -> Any:
    """One property value of type ``ptype`` (its inner JSON), for a column of ``kind``."""
    if ptype in ("title", "rich_text"):
        if kind in ("category",) and vocab:
            return _rich(draw, draw(vocabulary_word(vocab)))
        if kind == "url":
            return _rich(draw, draw(urls))
        if kind == "timestamp":
            return _rich(draw, draw(st.one_of(iso_dates, iso_times(), odd_dates)))
        if kind in ("member", "members"):
            return _rich(draw, draw(st.sampled_from([*NAMES, *EMAILS[:4], "m-ana", UUIDS[1],
                                                      "Ana Lima, Bo Chen"])))
        if kind == "boolean":
            return _rich(draw, draw(st.sampled_from(["yes", "No", "true", "x", "maybe", ""])))
        if kind == "number":
            return _rich(draw, draw(st.sampled_from(["3", "4.5", " 2 ", "high", "1e3"])))
        if kind == "hours":
            return _rich(draw, draw(st.sampled_from(["09:00-17:00", "9-5", "22:00 - 06:00",
                                                     "24:00-25:00"])))
        if kind == "timezone":
            return _rich(draw, draw(st.sampled_from(["Europe/Berlin", "Mars/Base", "UTC"])))
        return _rich(draw)
    if ptype in ("select", "status"):
        if draw(st.integers(0, 6)) == 0:
            return None
        if kind == "category" and vocab:
            name = draw(vocabulary_word(vocab))
        elif kind == "timezone":
            name = draw(st.sampled_from(["Europe/Berlin", "Asia/Tokyo", "Nowhere/Land"]))
        elif kind in ("member", "members"):
            name = draw(st.sampled_from(NAMES))
        else:
            name = draw(text)
        return {"id": "opt-1", "name": name, "color": "red"}
    if ptype == "multi_select":
        names = draw(st.lists(vocabulary_word(vocab) if vocab else text, max_size=3))
        return [{"id": f"o{i}", "name": n, "color": "red"} for i, n in enumerate(names)]
    if ptype == "url":
        return draw(st.one_of(st.none(), urls))
    if ptype == "email":
        return draw(st.sampled_from(EMAILS))
    if ptype == "number":
        return draw(st.one_of(st.none(), st.integers(-5, 100), st.floats(-10, 100,
                                                                        allow_nan=False)))
    if ptype == "checkbox":
        return draw(st.booleans())
    if ptype == "date":
        return _date_value(draw)
    if ptype == "people":
        return [_user(draw) for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2])))]
    if ptype == "created_by":
        return _user(draw)
    if ptype == "relation":
        return [{"id": draw(st.sampled_from(UUIDS[:8]))}
                for _ in range(draw(st.sampled_from([0, 1, 1, 2])))]
    if ptype == "unique_id":
        return {"prefix": draw(st.sampled_from(["SIG", None, ""])),
                "number": draw(st.one_of(st.none(), st.integers(1, 50)))}
    if ptype == "created_time":
        return draw(iso_times())
    if ptype == "formula":
        result = draw(st.sampled_from(["string", "number", "boolean", "date"]))
        inner = {"string": draw(text), "number": draw(st.integers(0, 9)),
                 "boolean": draw(st.booleans()), "date": _date_value(draw)}[result]
        return {"type": result, result: inner}
    if ptype == "rollup":
        result = draw(st.sampled_from(["number", "date", "array", "incomplete"]))
        if result == "number":
            return {"type": "number", "number": draw(st.integers(0, 9)), "function": "sum"}
        if result == "date":
            return {"type": "date", "date": _date_value(draw), "function": "latest_date"}
        if result == "incomplete":
            return {"type": "incomplete", "incomplete": {}, "function": "sum"}
        return {"type": "array", "array": [{"type": "number", "number": 1}],
                "function": "show_original"}
    raise AssertionError(ptype)


@dataclass
class NotionBatch:
    table: str
    fields: dict[str, FieldRef]
    pages: list[dict[str, Any]]


@st.composite
def notion_batches(draw: st.DrawFn, table: str | None = None) -> NotionBatch:
    """A schema mapped onto a canonical table, and pages of it (some malformed)."""
    table = table or draw(st.sampled_from(sorted(TABLES)))
    spec = TABLES[table]
    fields: dict[str, FieldRef] = {}
    used = 0
    for column in spec.columns:
        if column.name == spec.key and draw(st.booleans()):
            continue  # the key left unmapped: the page id is the key
        if not column.required and draw(st.integers(0, 4)) == 0:
            continue
        ptype = draw(st.sampled_from(NOTION_TYPES[column.kind]))
        used += 1
        pid = draw(st.sampled_from(["%3CnJT", "Kjx%7D", "title", "a", "%5B%7B%40P"])) + str(used)
        fields[column.name] = FieldRef(pid, f"{column.name} prop", ptype)
    pages = []
    for n in range(draw(st.integers(0, 25))):
        props: dict[str, Any] = {}
        for column, ref in fields.items():
            kind = spec.column(column).kind
            vocab = spec.column(column).vocabulary
            ptype = ref.type
            mutation = draw(st.integers(0, 40))
            if mutation == 0:
                continue  # the property is missing from this page
            if mutation == 1:  # retyped since the schema was read
                ptype = draw(st.sampled_from(["rich_text", "number", "select"]))
            prop = {"id": ref.id if mutation != 2 else ref.id + "x", "type": ptype,
                    ptype: notion_value(draw, ptype, kind, vocab)}
            if ptype == "relation":
                prop["has_more"] = False
            props[ref.name] = prop
        created = draw(st.one_of(iso_times(), st.just("2026-04-03"), st.just("bad")))
        page = {"object": "page", "id": draw(st.sampled_from(UUIDS[5:20])) if draw(
                    st.integers(0, 10)) == 0 else f"page-{n:04d}",
                "created_time": created if draw(st.integers(0, 15)) else None,
                "last_edited_time": draw(iso_times()), "in_trash": False, "properties": props}
        if draw(st.integers(0, 30)) == 0:  # properties that are not an object
            page["properties"] = draw(st.sampled_from([None, [], [props], 2.5, "x", {}]))
        pages.append(page)
    return NotionBatch(table, fields, pages)


# ---------------------------------------------------------------------------
# Airtable

#: Canonical column kind -> the Airtable field types a base may hold it in.
AIRTABLE_TYPES: dict[str, list[str]] = {
    "id": ["singleLineText", "autoNumber", "number", "formula"],
    "text": ["singleLineText", "multilineText", "singleSelect", "multipleSelects", "url",
             "number", "checkbox", "multipleLookupValues", "singleCollaborator", "formula"],
    "url": ["url", "singleLineText", "multipleLookupValues"],
    "email": ["email", "singleLineText", "singleCollaborator"],
    "timezone": ["singleSelect", "singleLineText"],
    "hours": ["singleLineText"],
    "category": ["singleSelect", "singleLineText", "multipleSelects", "formula"],
    "timestamp": ["dateTime", "date", "createdTime", "singleLineText", "formula", "rollup"],
    "boolean": ["checkbox", "singleLineText", "formula"],
    "number": ["number", "currency", "percent", "rating", "rollup", "formula",
               "singleLineText"],
    "member": ["multipleRecordLinks", "singleCollaborator", "singleLineText", "email",
               "multipleCollaborators", "multipleLookupValues", "createdBy"],
    "members": ["multipleCollaborators", "multipleRecordLinks", "singleLineText"],
}


def _collaborator(draw: st.DrawFn) -> dict[str, Any]:
    user: dict[str, Any] = {"id": draw(st.sampled_from(USERS[:5]))}
    if draw(st.integers(0, 5)):
        user["email"] = draw(st.sampled_from([e for e in EMAILS if e]))
    if draw(st.integers(0, 5)):
        user["name"] = draw(st.sampled_from(NAMES))
    return user


def airtable_value(draw: st.DrawFn, ftype: str, kind: str, vocab: tuple[str, ...]) -> Any:
    """One cell of field type ``ftype`` as the API sends it (None: omitted)."""
    if draw(st.integers(0, 9)) == 0:
        return None
    if draw(st.integers(0, 60)) == 0:  # a value of another shape than the type's
        return draw(st.sampled_from([{"error": "#ERROR!"}, 42, ["x"], {"weird": 1}, True]))
    if ftype in ("singleLineText", "multilineText", "email", "url", "singleSelect"):
        if kind == "category" and vocab:
            return draw(vocabulary_word(vocab))
        if kind == "url":
            return draw(urls)
        if kind == "timestamp":
            return draw(st.one_of(iso_dates, iso_times(), odd_dates))
        if kind in ("member", "members", "email"):
            return draw(st.sampled_from([*NAMES, *(e for e in EMAILS if e), RECORDS[0],
                                         RECORDS[5], "m-ana"]))
        if kind == "boolean":
            return draw(st.sampled_from(["checked", "no", "1", "perhaps"]))
        if kind == "number":
            return draw(st.sampled_from(["3", "x", "2.5"]))
        if kind == "hours":
            return draw(st.sampled_from(["09:00-17:00", "8-4", "10:00 -18:00"]))
        if kind == "timezone":
            return draw(st.sampled_from(["America/New_York", "Atlantis/City"]))
        return draw(text)
    if ftype == "multipleSelects":
        return draw(st.lists(vocabulary_word(vocab) if vocab else text, max_size=3))
    if ftype in ("number", "currency", "percent", "duration"):
        return draw(st.one_of(st.integers(-3, 50), st.floats(-5, 50, allow_nan=False)))
    if ftype in ("rating", "autoNumber", "count"):
        return draw(st.integers(1, 50))
    if ftype == "checkbox":
        return True
    if ftype == "date":
        return draw(st.one_of(iso_dates, iso_dates, st.just("2026-02-30"),
                              iso_times(), st.just("20260403")))
    if ftype in ("dateTime", "createdTime", "lastModifiedTime"):
        return draw(st.one_of(iso_times(), iso_times(), iso_dates, st.just("2026-04-03T09:00"),
                              st.just("not a time")))
    if ftype == "multipleRecordLinks":
        return [draw(st.sampled_from(RECORDS[:6])) for _ in range(draw(st.sampled_from(
            [0, 1, 1, 2])))]
    if ftype in ("singleCollaborator", "createdBy"):
        return _collaborator(draw)
    if ftype == "multipleCollaborators":
        return [_collaborator(draw) for _ in range(draw(st.sampled_from([1, 1, 2])))]
    if ftype == "multipleLookupValues":
        inner = draw(st.sampled_from(["text", "email", "link", "number", "nan"]))
        if inner == "text":
            return [draw(st.sampled_from(NAMES))]
        if inner == "email":
            return [draw(st.sampled_from([e for e in EMAILS if e]))]
        if inner == "link":
            return [draw(urls)]
        if inner == "nan":
            return [{"specialValue": "NaN"}]
        return [draw(st.integers(0, 5))]
    if ftype in ("formula", "rollup"):
        return draw(st.one_of(text, st.integers(0, 9), st.booleans(), iso_times(),
                              st.sampled_from([{"specialValue": "NaN"},
                                               {"specialValue": "Infinity"},
                                               {"error": "#DIV/0!"}])))
    raise AssertionError(ftype)


@dataclass
class AirtableBatch:
    table: str
    plans: tuple[ColumnPlan, ...]
    edited: AirtableField | None
    records: list[dict[str, Any]]


@st.composite
def airtable_batches(draw: st.DrawFn, table: str | None = None) -> AirtableBatch:
    """Fields mapped onto a canonical table, and records of it (some malformed)."""
    table = table or draw(st.sampled_from(sorted(TABLES)))
    spec = TABLES[table]
    fields: dict[str, AirtableField] = {}
    for k, column in enumerate(spec.columns):
        if column.name == spec.key and draw(st.booleans()):
            continue
        if not column.required and draw(st.integers(0, 4)) == 0:
            continue
        ftype = draw(st.sampled_from(AIRTABLE_TYPES[column.kind]))
        options: dict[str, Any] = {}
        if ftype in ("formula", "rollup") and draw(st.booleans()):
            options = {"result": {"type": draw(st.sampled_from(["dateTime", "number",
                                                                "singleLineText"]))}}
        fields[column.name] = AirtableField(f"fld{k:02d}{column.name[:6]}", f"{column.name} f",
                                            ftype, options)
    edited = AirtableField("fldEdited00000", "Last modified", "lastModifiedTime") \
        if draw(st.booleans()) else None
    plans = plan_columns(table, fields)
    by_name = draw(st.integers(0, 5)) == 0
    records = []
    for n in range(draw(st.integers(0, 25))):
        cells: dict[str, Any] = {}
        for plan in plans:
            col = spec.column(plan.column)
            value = airtable_value(draw, plan.field.type, col.kind, col.vocabulary)
            if value is not None:
                cells[plan.field.name if by_name else plan.field.id] = value
        if edited is not None:
            stamp = draw(st.one_of(iso_times(), st.just("2026-04-03"), st.just("garbage"),
                                   st.none()))
            if stamp is not None:
                cells[edited.id] = stamp
        rid = draw(st.sampled_from(RECORDS[:8])) if draw(st.integers(0, 12)) == 0 else \
            "rec" + f"{n:014d}"
        created = draw(st.one_of(iso_times(), st.just("2026-04-03"), st.just("?"), st.none()))
        record: dict[str, Any] = {"id": rid, "fields": cells}
        if draw(st.integers(0, 30)) == 0:  # fields that are not an object
            record["fields"] = draw(st.sampled_from([None, [], [cells], 2.5, "x", 0]))
        if created is not None:
            record["createdTime"] = created
        records.append(record)
    return AirtableBatch(table, plans, edited, records)
