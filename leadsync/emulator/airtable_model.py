"""The Airtable data model the emulator keeps: bases, tables, fields, views, records.

Plain data holders plus their schema JSON (the shape of ``GET
/v0/meta/bases/{baseId}/tables``, see ``base_schema_meta_api.json`` and
``base_schema_official_docs_example.json``). Changing a schema is
:mod:`leadsync.emulator.airtable_schema`'s job; reading and writing cells is
:mod:`leadsync.emulator.airtable_values`'.

Records store cells by field id, only non-empty ones, in a canonical form:
text as ``str``; numbers as ``int``/``float``; checkbox as ``True``; selects
as choice names; ``date`` as ``"YYYY-MM-DD"``; ``dateTime`` as
``"…T…​.000Z"`` (UTC, milliseconds); links as record ids; collaborators as
user ids; attachments and barcodes as their JSON objects. Computed fields
have no cells. Stored lists are never mutated in place (a response being
encoded outside the emulator lock may still hold them): writers replace them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadsync.emulator.airtable_formula import CompiledFormula

__all__ = [
    "COMPUTED_TYPES",
    "FIELD_TYPES",
    "Base",
    "Field",
    "Record",
    "Table",
    "View",
]

#: Field types whose values Airtable computes; writing them is refused.
COMPUTED_TYPES = frozenset({
    "autoNumber", "formula", "rollup", "multipleLookupValues", "count", "createdTime",
    "lastModifiedTime", "createdBy", "lastModifiedBy", "button",
})

#: Every field type the emulator knows (REST cell formats, ``cellFormat=json``).
FIELD_TYPES = frozenset({
    "singleLineText", "multilineText", "richText", "email", "url", "phoneNumber", "number",
    "percent", "currency", "rating", "duration", "checkbox", "singleSelect", "multipleSelects",
    "date", "dateTime", "multipleRecordLinks", "singleCollaborator", "multipleCollaborators",
    "multipleAttachments", "barcode",
}) | COMPUTED_TYPES


@dataclass
class Field:
    """A field. ``options`` is what the schema shows; ``formula`` the compiled
    formula (formula fields) or aggregation (rollups); ``button`` a button's
    label and URL, which the schema does not show."""

    id: str
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    formula: CompiledFormula | None = None
    button: dict[str, Any] | None = None

    @property
    def computed(self) -> bool:
        return self.type in COMPUTED_TYPES

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id, "name": self.name}
        if self.description:
            out["description"] = self.description
        if self.options:
            out["options"] = _plain(self.options)
        return out


@dataclass
class View:
    id: str
    name: str
    type: str = "grid"

    def schema(self, table: Table, include_visible: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if include_visible and self.type == "grid":
            out["visibleFieldIds"] = [f.id for f in table.fields]
        return out


@dataclass(slots=True)
class Record:
    """One record. ``modified`` is the last user edit of a non-computed field
    (``created`` until then); ``field_times`` keeps the last edit per field
    after creation, for ``LAST_MODIFIED_TIME({Field})`` and lastModifiedTime
    fields restricted to some fields."""

    id: str
    created: dt.datetime
    created_by: str
    autonumber: int
    cells: dict[str, Any]
    modified: dt.datetime
    modified_by: str
    field_times: dict[str, dt.datetime] = field(default_factory=dict)

    def field_time(self, field_id: str) -> dt.datetime:
        return self.field_times.get(field_id, self.created)


@dataclass
class Table:
    id: str
    name: str
    primary_field_id: str
    fields: list[Field] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    description: str | None = None
    records: dict[str, Record] = field(default_factory=dict)
    next_autonumber: int = 1
    _by_id: dict[str, Field] = field(default_factory=dict, repr=False)
    _by_name: dict[str, Field] = field(default_factory=dict, repr=False)

    def reindex(self) -> None:
        """Refresh the field lookups (after adding or renaming a field)."""
        self._by_id = {f.id: f for f in self.fields}
        self._by_name = {f.name: f for f in self.fields}

    def field(self, key: str) -> Field | None:
        """A field by id or by (exact) name."""
        return self._by_id.get(key) or self._by_name.get(key)

    def field_by_id(self, field_id: str) -> Field:
        return self._by_id[field_id]

    def has_name(self, name: str) -> bool:
        """Field names are unique case-insensitively."""
        folded = name.casefold()
        return any(f.name.casefold() == folded for f in self.fields)

    @property
    def primary(self) -> Field:
        return self._by_id[self.primary_field_id]

    def view(self, key: str) -> View | None:
        for view in self.views:
            if key in (view.id, view.name):
                return view
        return None

    def schema(self, include_visible: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name,
                               "primaryFieldId": self.primary_field_id}
        if self.description:
            out["description"] = self.description
        out["fields"] = [f.schema() for f in self.fields]
        out["views"] = [v.schema(self, include_visible) for v in self.views]
        return out


@dataclass
class Base:
    id: str
    name: str
    permission_level: str = "create"
    tables: dict[str, Table] = field(default_factory=dict)

    def table(self, key: str) -> Table | None:
        """A table by id or by (exact) name."""
        found = self.tables.get(key)
        if found is not None:
            return found
        for table in self.tables.values():
            if table.name == key:
                return table
        return None

    def has_table_name(self, name: str) -> bool:
        folded = name.casefold()
        return any(t.name.casefold() == folded for t in self.tables.values())

    def schema(self, include_visible: bool = False) -> dict[str, Any]:
        return {"tables": [t.schema(include_visible) for t in self.tables.values()]}

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "permissionLevel": self.permission_level}


def _plain(value: Any) -> Any:
    """A deep copy of JSON-like options (the schema must not share our dicts)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
