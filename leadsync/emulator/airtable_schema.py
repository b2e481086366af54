"""Schema changes: tables and fields built from Airtable's create format.

``via_api=True`` applies the metadata API's rules (``POST …/tables``, ``POST
…/fields``): computed types cannot be created (422
``UNSUPPORTED_FIELD_TYPE_FOR_CREATE``), options are checked strictly (422
``INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE``: required options missing, options
given to a type that takes none, link options other than ``linkedTableId``),
and names must be unique case-insensitively (422
``DUPLICATE_OR_EMPTY_FIELD_NAME``). These rules and messages follow reports
of the live API in public code. ``via_api=False`` is the emulator's own door
(seeding, test helpers): missing options get defaults, and the computed
types can be built too, with emulator-only settings:

- ``formula``: ``{"formula": "…"}`` (field names or ids in braces);
- ``rollup``: ``{"recordLinkFieldId", "fieldIdInLinkedTable", "formula"}``
  (names or ids; ``formula`` aggregates ``values``, e.g. ``SUM(values)``);
- ``multipleLookupValues``: ``{"recordLinkFieldId", "fieldIdInLinkedTable"}``;
- ``count``: ``{"recordLinkFieldId"}``;
- ``lastModifiedTime``: optional ``{"referencedFieldIds": [...]}``;
- ``button``: ``{"label", "url"}`` (not shown in the schema, like Airtable).

A link field to another table creates the inverse link field there, named
after the source table (``" 2"``, ``" 3"`` … on a clash), as Airtable does;
a link to the same table has no inverse.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from leadsync.emulator.airtable_errors import AirtableError
from leadsync.emulator.airtable_formula import FormulaSyntaxError, compile_formula
from leadsync.emulator.airtable_model import COMPUTED_TYPES, FIELD_TYPES, Base, Field, Table, View

__all__ = ["add_field", "field_kind", "new_table", "rename_field"]

NewId = Callable[[str], str]

_DATE_FORMATS = {"local": "l", "friendly": "LL", "us": "M/D/YYYY", "european": "D/M/YYYY",
                 "iso": "YYYY-MM-DD"}
_TIME_FORMATS = {"12hour": "h:mma", "24hour": "HH:mm"}
_DURATION_FORMATS = ("h:mm", "h:mm:ss", "h:mm:ss.S", "h:mm:ss.SS", "h:mm:ss.SSS")
_COLORS = ("blueLight2", "cyanLight2", "tealLight2", "greenLight2", "yellowLight2",
           "orangeLight2", "redLight2", "pinkLight2", "purpleLight2", "grayLight2")

#: Options each type requires when created through the API, and those it may take.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "number": ("precision",), "percent": ("precision",), "currency": ("precision", "symbol"),
    "checkbox": ("color", "icon"), "rating": ("max", "icon", "color"),
    "duration": ("durationFormat",), "date": ("dateFormat",),
    "dateTime": ("dateFormat", "timeFormat", "timeZone"),
    "singleSelect": ("choices",), "multipleSelects": ("choices",),
    "multipleRecordLinks": ("linkedTableId",),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "multipleRecordLinks": ("viewIdForRecordSelection",),
    "multipleAttachments": ("isReversed",),
    "singleCollaborator": (), "multipleCollaborators": (),
}

_DEFAULT_DATETIME_RESULT: dict[str, Any] = {
    "type": "dateTime",
    "options": {"timeZone": "utc", "dateFormat": {"format": "l", "name": "local"},
                "timeFormat": {"format": "h:mma", "name": "12hour"}},
}


def field_kind(table: Table, field_id: str) -> str:
    """What a field is to a formula: text, number, date, boolean or array."""
    f = table.field(field_id)
    if f is None:
        return "text"
    if f.type in ("number", "percent", "currency", "rating", "duration", "autoNumber", "count"):
        return "number"
    if f.type in ("date", "dateTime", "createdTime", "lastModifiedTime"):
        return "date"
    if f.type == "checkbox":
        return "boolean"
    if f.type in ("multipleRecordLinks", "multipleLookupValues"):
        return "array"
    if f.type in ("formula", "rollup"):
        result = f.options.get("result") or {}
        kinds = {"number": "number", "dateTime": "date", "checkbox": "boolean"}
        return kinds.get(result.get("type", ""), "text")
    return "text"


def _invalid_options(table: str, name: str, detail: str) -> AirtableError:
    return AirtableError(422, "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE",
                         f"Invalid options for {table}.{name}: Failed schema validation: {detail}")


def _check_api_options(base: Base, table_name: str, spec: dict[str, Any]) -> None:
    name, kind = spec["name"], spec["type"]
    options = spec.get("options")
    if kind in COMPUTED_TYPES:
        raise AirtableError(
            422, "UNSUPPORTED_FIELD_TYPE_FOR_CREATE",
            f"Invalid options for {table_name}.{name}: Creating {kind} fields is not supported "
            "at this time")
    required = _REQUIRED.get(kind, ())
    allowed = required + _OPTIONAL.get(kind, ())
    if options is None:
        if required:
            raise _invalid_options(table_name, name, f"{name}.options is missing")
        return
    if not isinstance(options, dict) or (not allowed and kind not in _OPTIONAL):
        raise _invalid_options(table_name, name,
                               f"options is not included in the {name}.(type={kind}) schema")
    for key in required:
        if key not in options:
            raise _invalid_options(table_name, name, f"{name}.options.{key} is missing")
    for key in options:
        if key not in allowed:
            raise _invalid_options(table_name, name,
                                   f"options.{key} is not included in the {name}.(type={kind}) "
                                   "schema")
    if kind == "multipleRecordLinks" and options["linkedTableId"] not in base.tables:
        raise _invalid_options(table_name, name,
                               "options.linkedTableId is not a table of this base")


def _named_format(value: Any, table: str, name: str, option: str,
                  formats: dict[str, str], default: str) -> dict[str, str]:
    """``options.<option>`` of a date field: ``{"name", "format"}`` with the format its name
    implies (``default``'s when absent)."""
    if value is None:
        return {"format": formats[default], "name": default}
    if not isinstance(value, dict) or value.get("name") not in formats:
        raise _invalid_options(table, name, f"options.{option} is invalid")
    expected = formats[value["name"]]
    if value.get("format", expected) != expected:
        raise _invalid_options(table, name, f"options.{option}.format does not match its name")
    return {"format": expected, "name": value["name"]}


def _date_format(value: Any, table: str, name: str) -> dict[str, str]:
    return _named_format(value, table, name, "dateFormat", _DATE_FORMATS, "local")


def _time_format(value: Any, table: str, name: str) -> dict[str, str]:
    return _named_format(value, table, name, "timeFormat", _TIME_FORMATS, "12hour")


def _time_zone(value: Any, table: str, name: str) -> str:
    if value is None:
        return "utc"
    if value in ("utc", "client"):
        return str(value)
    if value == "UTC":  # refused by the live API ('Invalid timezone "UTC"'); it wants "utc"
        raise _invalid_options(table, name, 'options.timeZone "UTC" is invalid; use "utc"')
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid_options(table, name, f'options.timeZone "{value}" is invalid') from None
    return str(value)


def _choices(value: Any, new_id: NewId, table: str, name: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid_options(table, name, "options.choices is invalid")
    choices: list[dict[str, str]] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _invalid_options(table, name, "options.choices is invalid")
        if any(c["name"] == item["name"] for c in choices):
            continue
        choices.append({"id": str(item.get("id") or new_id("sel")), "name": item["name"],
                        "color": str(item.get("color") or _COLORS[i % len(_COLORS)])})
    return choices


def _resolve(table: Table, key: Any, what: str, name: str) -> Field:
    found = table.field(str(key)) if key is not None else None
    if found is None:
        raise _invalid_options(table.name, name, f"{what} {key!r} is not a field of {table.name}")
    return found


def _compile(base: Base, table: Table, f: Field, source: Any, *, rollup: bool = False
             ) -> None:
    if not isinstance(source, str):
        raise _invalid_options(table.name, f.name, "options.formula is missing")
    def resolve(key: str) -> str | None:
        found = table.field(key)
        return found.id if found is not None else None

    try:
        compiled = compile_formula(source, resolve, allow_values=rollup)
    except FormulaSyntaxError as exc:
        raise _invalid_options(table.name, f.name, f"options.formula is invalid: {exc}") from None
    f.formula = compiled
    kind = compiled.result_kind(lambda fid: field_kind(table, fid))
    if rollup:
        return
    f.options = {"formula": compiled.source_with_ids, "isValid": True,
                 "referencedFieldIds": list(compiled.field_ids), "result": _result(kind)}


def _result(kind: str) -> dict[str, Any]:
    if kind == "number":
        return {"type": "number", "options": {"precision": 0}}
    if kind == "date":
        return dict(_DEFAULT_DATETIME_RESULT)
    if kind == "boolean":
        return {"type": "checkbox", "options": {"color": "greenBright", "icon": "check"}}
    return {"type": "singleLineText"}


def _field_config(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f.type}
    if f.options:
        out["options"] = {k: v for k, v in f.options.items() if k != "inverseLinkFieldId"}
    return out


def _build_options(base: Base, table: Table, f: Field, options: dict[str, Any],
                   new_id: NewId) -> None:
    kind, name, tname = f.type, f.name, table.name
    if kind in ("number", "percent"):
        f.options = {"precision": int(options.get("precision", 0))}
    elif kind == "currency":
        f.options = {"precision": int(options.get("precision", 2)),
                     "symbol": str(options.get("symbol", "$"))}
    elif kind == "checkbox":
        f.options = {"color": str(options.get("color", "greenBright")),
                     "icon": str(options.get("icon", "check"))}
    elif kind == "rating":
        maximum = int(options.get("max", 5))
        if not 1 <= maximum <= 10:
            raise _invalid_options(tname, name, "options.max must be from 1 to 10")
        f.options = {"color": str(options.get("color", "yellowBright")),
                     "icon": str(options.get("icon", "star")), "max": maximum}
    elif kind == "duration":
        duration = options.get("durationFormat", "h:mm")
        if duration not in _DURATION_FORMATS:
            raise _invalid_options(tname, name, "options.durationFormat is invalid")
        f.options = {"durationFormat": duration}
    elif kind == "date":
        f.options = {"dateFormat": _date_format(options.get("dateFormat"), tname, name)}
    elif kind == "dateTime":
        f.options = {"timeZone": _time_zone(options.get("timeZone"), tname, name),
                     "dateFormat": _date_format(options.get("dateFormat"), tname, name),
                     "timeFormat": _time_format(options.get("timeFormat"), tname, name)}
    elif kind in ("singleSelect", "multipleSelects"):
        f.options = {"choices": _choices(options.get("choices"), new_id, tname, name)}
    elif kind == "multipleAttachments":
        f.options = {"isReversed": bool(options.get("isReversed", False))}
    elif kind == "multipleRecordLinks":
        linked = base.tables.get(str(options.get("linkedTableId", "")))
        if linked is None:
            raise _invalid_options(tname, name, "options.linkedTableId is not a table of this base")
        f.options = {"linkedTableId": linked.id, "isReversed": False,
                     "prefersSingleRecordLink": bool(options.get("prefersSingleRecordLink", False))}
        if options.get("viewIdForRecordSelection"):
            f.options["viewIdForRecordSelection"] = str(options["viewIdForRecordSelection"])
    elif kind == "formula":
        _compile(base, table, f, options.get("formula"))
    elif kind in ("rollup", "multipleLookupValues", "count"):
        link = _resolve(table, options.get("recordLinkFieldId"), "recordLinkFieldId", name)
        if link.type != "multipleRecordLinks":
            raise _invalid_options(tname, name, "recordLinkFieldId is not a link field")
        f.options = {"isValid": True, "recordLinkFieldId": link.id}
        if kind != "count":
            linked = base.tables[link.options["linkedTableId"]]
            source = _resolve(linked, options.get("fieldIdInLinkedTable"),
                              "fieldIdInLinkedTable", name)
            f.options["fieldIdInLinkedTable"] = source.id
            if kind == "multipleLookupValues":
                f.options["result"] = _field_config(source)
            else:
                _compile(base, table, f, options.get("formula", "SUM(values)"), rollup=True)
                assert f.formula is not None
                result = f.formula.result_kind(lambda fid: field_kind(linked, fid))
                f.options["referencedFieldIds"] = [source.id]
                f.options["result"] = _result(result)
    elif kind == "createdTime":
        f.options = {"result": dict(_DEFAULT_DATETIME_RESULT)}
    elif kind == "lastModifiedTime":
        referenced = [_resolve(table, key, "referencedFieldIds", name).id
                      for key in options.get("referencedFieldIds") or []]
        f.options = {"isValid": True, "referencedFieldIds": referenced,
                     "result": dict(_DEFAULT_DATETIME_RESULT)}
    elif kind == "button":
        f.button = {"label": str(options.get("label", name)), "url": options.get("url")}
        f.options = {}
    else:
        f.options = {}


def _check_name(table: Table, name: Any, exclude: Field | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME",
                            "Field names must be non-empty and unique in a table")
    folded = name.casefold()
    if any(f is not exclude and f.name.casefold() == folded for f in table.fields):
        raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME",
                            f'A field named "{name}" already exists in table {table.name}')
    return name


def add_field(base: Base, table: Table, spec: Any, new_id: NewId, *, via_api: bool) -> Field:
    """Create a field from ``{"name", "type", "description"?, "options"?}``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise AirtableError(422, "INVALID_FIELD_TYPE", "A field needs a name and a type")
    name = _check_name(table, spec.get("name"))
    kind = spec["type"]
    if kind not in FIELD_TYPES:
        raise AirtableError(422, "INVALID_FIELD_TYPE", f'Unknown field type "{kind}"')
    if via_api:
        _check_api_options(base, table.name, spec)
    description = spec.get("description")
    if description is not None and not isinstance(description, str):
        raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "description must be a string")
    f = Field(new_id("fld"), name, kind, description=description or None)
    _build_options(base, table, f, dict(spec.get("options") or {}), new_id)
    table.fields.append(f)
    table.reindex()
    if kind == "multipleRecordLinks":
        linked = base.tables[f.options["linkedTableId"]]
        if linked is not table:
            _add_inverse(table, f, linked, new_id)
    return f


def _add_inverse(table: Table, f: Field, linked: Table, new_id: NewId) -> None:
    name, n = table.name, 2
    while linked.has_name(name):
        name = f"{table.name} {n}"
        n += 1
    inverse = Field(new_id("fld"), name, "multipleRecordLinks", options={
        "linkedTableId": table.id, "isReversed": False, "prefersSingleRecordLink": False,
        "inverseLinkFieldId": f.id,
    })
    linked.fields.append(inverse)
    linked.reindex()
    f.options["inverseLinkFieldId"] = inverse.id


def new_table(base: Base, spec: Any, new_id: NewId, *, via_api: bool) -> Table:
    """Create a table from ``{"name", "description"?, "fields": [...]}``; the first
    field is the primary one; a default "Grid view" is added."""
    if not isinstance(spec, dict):
        raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "The table must be an object")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AirtableError(422, "INVALID_TABLE_NAME", "A table needs a non-empty name")
    if base.has_table_name(name):
        raise AirtableError(422, "DUPLICATE_TABLE_NAME",
                            f'A table named "{name}" already exists in this base')
    fields = spec.get("fields")
    if not isinstance(fields, list) or not fields:
        raise AirtableError(422, "INVALID_REQUEST_UNKNOWN",
                            "At least one field must be specified")
    names = [f.get("name") for f in fields if isinstance(f, dict)]
    folded = [n.casefold() for n in names if isinstance(n, str)]
    if len(set(folded)) != len(fields):
        raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME",
                            "Field names must be non-empty and unique in a table")
    description = spec.get("description")
    table = Table(new_id("tbl"), name, primary_field_id="", description=description or None)
    # Validate every field before the table exists, so a bad one leaves nothing behind.
    if via_api:
        for field_spec in fields:
            if not isinstance(field_spec, dict) or not isinstance(field_spec.get("type"), str):
                raise AirtableError(422, "INVALID_FIELD_TYPE", "A field needs a name and a type")
            _check_api_options(base, name, field_spec)
    base.tables[table.id] = table
    try:
        for field_spec in fields:
            add_field(base, table, field_spec, new_id, via_api=via_api)
    except AirtableError:
        del base.tables[table.id]
        for other in base.tables.values():  # inverse links made before the failure
            other.fields = [f for f in other.fields
                            if f.options.get("linkedTableId") != table.id]
            other.reindex()
        raise
    table.primary_field_id = table.fields[0].id
    table.views.append(View(new_id("viw"), "Grid view", "grid"))
    return table


def rename_field(table: Table, f: Field, name: Any) -> None:
    """Rename a field (its id, and formulas that use it, are unchanged)."""
    f.name = _check_name(table, name, exclude=f)
    table.reindex()
