"""Which property (Notion) and field (Airtable) types can feed each kind of canonical column.

The decoders are value-driven (a date column reads a date property, a formula
that yields a date, or text that spells one), so a mapping is rarely wrong
by type, but it can be: a checkbox mapped to ``date``, a number mapped to a
member. These tables say which types can ever give a value the column
accepts. ``leadsync check`` refuses a mapped property of another type, and
the forgiving mapping (:func:`leadsync.sources.resolve_fields`) adopts a
re-created property only when its type is among them.

Pure data and two functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from leadsync.tables import Kind, schema

__all__ = ["AIRTABLE_TYPES", "NOTION_TYPES", "accepted_types", "can_feed"]

_N_TEXT = frozenset({"title", "rich_text"})
_N_COMPUTED = frozenset({"formula", "rollup"})
#: Every Notion type a decoder reads (button, place, verification are not read).
_N_READABLE = frozenset({
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "relation", "rollup", "formula", "checkbox", "url", "email", "phone_number",
    "created_time", "last_edited_time", "created_by", "last_edited_by", "unique_id", "files",
})
_N_PEOPLE = frozenset({"people", "relation", "created_by", "last_edited_by", "email"})

NOTION_TYPES: Mapping[Kind, frozenset[str]] = {
    "id": _N_READABLE,
    "text": _N_READABLE,
    "url": _N_TEXT | _N_COMPUTED | {"url", "files"},
    "email": _N_TEXT | _N_COMPUTED | {"email", "people", "created_by", "last_edited_by"},
    "timezone": _N_TEXT | _N_COMPUTED | {"select", "status"},
    "hours": _N_TEXT | _N_COMPUTED | {"select"},
    "category": _N_TEXT | _N_COMPUTED | {"select", "status", "multi_select"},
    "timestamp": _N_TEXT | _N_COMPUTED | {"date", "created_time", "last_edited_time"},
    "boolean": _N_TEXT | _N_COMPUTED | {"checkbox", "select", "status"},
    "number": _N_TEXT | _N_COMPUTED | {"number"},
    "member": _N_TEXT | _N_COMPUTED | _N_PEOPLE | {"select"},
    "members": _N_TEXT | _N_COMPUTED | _N_PEOPLE | {"select", "multi_select"},
}

_A_TEXT = frozenset({"singleLineText", "multilineText", "richText"})
_A_COMPUTED = frozenset({"formula", "rollup", "multipleLookupValues"})
#: Every Airtable type a decoder reads (buttons and sync sources are not read).
_A_READABLE = frozenset({
    "singleLineText", "multilineText", "richText", "email", "url", "phoneNumber",
    "singleSelect", "multipleSelects", "number", "percent", "currency", "rating", "duration",
    "autoNumber", "count", "checkbox", "date", "dateTime", "createdTime", "lastModifiedTime",
    "multipleRecordLinks", "singleCollaborator", "multipleCollaborators", "createdBy",
    "lastModifiedBy", "formula", "rollup", "multipleLookupValues", "multipleAttachments",
    "barcode", "aiText",
})
_A_PEOPLE = frozenset({"multipleRecordLinks", "singleCollaborator", "multipleCollaborators",
                       "createdBy", "lastModifiedBy", "email"})
_A_NUMBERS = frozenset({"number", "percent", "currency", "rating", "duration", "count",
                        "autoNumber"})

AIRTABLE_TYPES: Mapping[Kind, frozenset[str]] = {
    "id": _A_READABLE,
    "text": _A_READABLE,
    "url": _A_TEXT | _A_COMPUTED | {"url", "multipleAttachments"},
    "email": _A_TEXT | _A_COMPUTED | {"email", "singleCollaborator", "createdBy",
                                      "lastModifiedBy"},
    "timezone": _A_TEXT | _A_COMPUTED | {"singleSelect"},
    "hours": _A_TEXT | _A_COMPUTED | {"singleSelect"},
    "category": _A_TEXT | _A_COMPUTED | {"singleSelect", "multipleSelects"},
    "timestamp": _A_TEXT | _A_COMPUTED | {"date", "dateTime", "createdTime",
                                          "lastModifiedTime"},
    "boolean": _A_TEXT | _A_COMPUTED | {"checkbox", "singleSelect"} | _A_NUMBERS,
    "number": _A_TEXT | _A_COMPUTED | _A_NUMBERS,
    "member": _A_TEXT | _A_COMPUTED | _A_PEOPLE | {"singleSelect"},
    "members": _A_TEXT | _A_COMPUTED | _A_PEOPLE | {"singleSelect", "multipleSelects"},
}

_BY_SERVICE: Mapping[str, Mapping[Kind, frozenset[str]]] = {
    "notion": NOTION_TYPES, "airtable": AIRTABLE_TYPES,
}


def accepted_types(service: str, table: str, column: str) -> frozenset[str]:
    """The ``service`` types that can feed canonical ``table.column`` (empty for an
    unknown service: nothing is known to fit)."""
    kinds = _BY_SERVICE.get(service)
    if kinds is None:
        return frozenset()
    return kinds[schema(table).column(column).kind]


def can_feed(service: str, table: str, column: str, field_type: str) -> bool:
    """Whether a ``service`` property/field of ``field_type`` can feed ``table.column``.

    A service leadsync has no table for (a test double's) accepts every type.
    """
    if service not in _BY_SERVICE:
        return True
    return field_type in accepted_types(service, table, column)
