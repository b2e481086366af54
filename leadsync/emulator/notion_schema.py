"""Data source schemas: property configurations in and out, and database/data source objects.

Property ids look like Notion's: short, random, percent-encoded (``%3CnJT``),
and ``title`` for the title property. They never change when a property is
renamed. Relations are single-property (a ``dual_property`` request is
stored as single-property: the reverse side is not synced). Status
properties get Notion's default options and groups when none are given.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote

from leadsync.emulator.notion_formula import Formula, FormulaError
from leadsync.emulator.notion_model import (
    PROPERTY_TYPES,
    Database,
    DataSource,
    Env,
    NotionError,
    PropertySchema,
    invalid,
    minute_offset,
    minute_z,
    parse_id,
    short_json,
)
from leadsync.emulator.notion_values import ROLLUP_FUNCTIONS, parse_rich_text, render_rich_text

__all__ = [
    "apply_schema_update",
    "data_source_object",
    "database_object",
    "new_property",
    "property_json",
]

_ID_CHARS = string.ascii_letters + string.digits + ":;<=>?@[\\]^_`{|}~"
_PLAIN_CONFIG = frozenset({
    "title", "rich_text", "date", "people", "files", "checkbox", "url", "email", "phone_number",
    "created_time", "created_by", "last_edited_time", "last_edited_by", "button", "place",
})
_NUMBER_FORMATS = frozenset({
    "number", "number_with_commas", "percent", "dollar", "euro", "pound", "yen", "rupee",
    "won", "yuan", "real", "lira", "franc", "canadian_dollar", "australian_dollar",
})
#: Notion's default status options and the group each belongs to.
DEFAULT_STATUS = (("Not started", "default", "To-do"), ("In progress", "blue", "In progress"),
                  ("Done", "green", "Complete"))
_GROUPS = (("To-do", "gray"), ("In progress", "blue"), ("Complete", "green"))


def _fail(message: str) -> NotionError:
    return invalid(f"body failed validation: {message}")


def new_property_id(env: Env, ds: DataSource) -> str:
    """A short property id, unique in ``ds``, percent-encoded as the API shows it."""
    while True:
        number = int(env.new_id().replace("-", ""), 16)
        chars = []
        for _ in range(4):
            number, digit = divmod(number, len(_ID_CHARS))
            chars.append(_ID_CHARS[digit])
        prop_id = quote("".join(chars), safe="")
        if prop_id not in ds.props_by_id and prop_id != "title":
            return prop_id


def _type_of(raw: dict[str, Any], path: str) -> str | None:
    declared = raw.get("type")
    if declared is not None:
        if declared not in PROPERTY_TYPES:
            raise _fail(f"{path}.type should be a property type, instead was "
                        f"`{short_json(declared)}`.")
        return str(declared)
    found = [k for k in raw if k in PROPERTY_TYPES]
    if len(found) > 1:
        raise _fail(f"{path} should have one property type, instead had `{short_json(found)}`.")
    return found[0] if found else None


def new_property(env: Env, ds: DataSource, name: str, raw: Any, path: str,
                 prop_id: str | None = None) -> PropertySchema:
    """A property built from a request's configuration (``{"select": {"options": [...]}}``)."""
    if not isinstance(raw, dict):
        raise _fail(f"{path} should be an object, instead was `{short_json(raw)}`.")
    kind = _type_of(raw, path)
    if kind is None:
        raise _fail(f"{path} should define a property type, instead was `{short_json(raw)}`.")
    if not name or not isinstance(name, str):
        raise _fail(f"{path}.name should be a non-empty string, instead was "
                    f"`{short_json(name)}`.")
    if kind == "title":
        prop_id = "title"
    prop = PropertySchema(prop_id or new_property_id(env, ds), name, kind)
    _configure(env, ds, prop, raw.get(kind) or {}, f"{path}.{kind}", fresh=True)
    return prop


def _configure(env: Env, ds: DataSource, prop: PropertySchema, config: Any, path: str,
               fresh: bool) -> None:
    if not isinstance(config, dict):
        raise _fail(f"{path} should be an object, instead was `{short_json(config)}`.")
    kind = prop.type
    if kind in _PLAIN_CONFIG:
        prop.config = {}
    elif kind == "number":
        fmt = config.get("format", prop.config.get("format", "number"))
        if fmt not in _NUMBER_FORMATS:
            raise _fail(f"{path}.format should be a number format, instead was "
                        f"`{short_json(fmt)}`.")
        prop.config = {"format": fmt}
    elif kind in ("select", "multi_select", "status"):
        _options(env, prop, config.get("options"), f"{path}.options", fresh)
    elif kind == "relation":
        prop.config = _relation(env, config, path)
    elif kind == "rollup":
        prop.config = _rollup(env, ds, config, path)
    elif kind == "formula":
        expression = config.get("expression")
        try:
            prop.compiled = Formula(expression if isinstance(expression, str) else "")
        except FormulaError as exc:
            raise invalid(f"Formula expression is invalid ({exc}): "
                          f"{short_json(expression)}") from None
        prop.config = {"expression": expression}
    elif kind == "unique_id":
        prefix = config.get("prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise _fail(f"{path}.prefix should be a string or `null`, instead was "
                        f"`{short_json(prefix)}`.")
        prop.config = {"prefix": prefix or None}


def _options(env: Env, prop: PropertySchema, raw: Any, path: str, fresh: bool) -> None:
    if raw is None:
        raw = []
        if prop.type == "status" and fresh:
            raw = [{"name": n, "color": c} for n, c, _ in DEFAULT_STATUS]
    if not isinstance(raw, list):
        raise _fail(f"{path} should be an array, instead was `{short_json(raw)}`.")
    for n, option in enumerate(raw):
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            raise _fail(f"{path}[{n}].name should be a string, instead was "
                        f"`{short_json(option)}`.")
        name = option["name"].strip()
        if "," in name:
            raise _fail(f"{path}[{n}].name should not contain commas, instead was "
                        f"`{short_json(name)}`.")
        if name not in prop.option_by_name:
            prop.add_option(env.new_id(), name, option.get("color"))
    if prop.type == "status":
        _status_groups(env, prop)


def _status_groups(env: Env, prop: PropertySchema) -> None:
    defaults = {n: g for n, _, g in DEFAULT_STATUS}
    members: dict[str, list[str]] = {g: [] for g, _ in _GROUPS}
    for option in prop.options:
        members[defaults.get(option["name"], "In progress")].append(option["id"])
    known = {g["name"]: g for g in prop.groups}
    prop.groups = [
        {"id": known[g]["id"] if g in known else env.new_id(), "name": g, "color": color,
         "option_ids": members[g]}
        for g, color in _GROUPS
    ]


def set_status_groups(env: Env, prop: PropertySchema, groups: dict[str, list[str]]) -> None:
    """Put named status options into the To-do / In progress / Complete groups."""
    by_name = {o["name"]: o["id"] for o in prop.options}
    prop.groups = [
        {"id": env.new_id(), "name": g, "color": color,
         "option_ids": [by_name[n] for n in groups.get(g, []) if n in by_name]}
        for g, color in _GROUPS
    ]


def _relation(env: Env, config: dict[str, Any], path: str) -> dict[str, Any]:
    if "data_source_id" not in config:
        raise _fail(f"{path}.data_source_id should be defined, instead was `undefined`.")
    target_id = parse_id(config["data_source_id"], f"{path}.data_source_id")
    target = env.ws.data_source(target_id)
    return {"database_id": target.database_id, "data_source_id": target.id,
            "type": "single_property", "single_property": {}}


def _rollup(env: Env, ds: DataSource, config: dict[str, Any], path: str) -> dict[str, Any]:
    relation = ds.lookup(str(config.get("relation_property_id")
                             or config.get("relation_property_name") or ""))
    if relation is None or relation.type != "relation":
        raise _fail(f"{path}.relation_property_name should name a relation property of this "
                    f"data source, instead was `{short_json(config)}`.")
    target_ds = env.ws.data_source(relation.config["data_source_id"])
    target = target_ds.lookup(str(config.get("rollup_property_id")
                                  or config.get("rollup_property_name") or ""))
    if target is None:
        raise _fail(f"{path}.rollup_property_name should name a property of the related data "
                    f"source, instead was `{short_json(config)}`.")
    function = config.get("function", "show_original")
    if function not in ROLLUP_FUNCTIONS:
        raise _fail(f"{path}.function should be a rollup function, instead was "
                    f"`{short_json(function)}`.")
    return {"relation_property_id": relation.id, "rollup_property_id": target.id,
            "function": function}


def apply_schema_update(env: Env, ds: DataSource, raw: Any, path: str) -> None:
    """A data source update's ``properties``: rename, add, reconfigure or (``null``) remove."""
    if not isinstance(raw, dict):
        raise _fail(f"{path} should be an object, instead was `{short_json(raw)}`.")
    for key, change in raw.items():
        here = f"{path}.{key}"
        prop = ds.lookup(key)
        if change is None:
            if prop is None:
                raise invalid(f"Could not find property with name or id: {key}")
            if prop.type == "title":
                raise invalid("A data source must keep its title property.")
            ds.remove_property(prop)
            for page in env.ws.ds_pages(ds):
                page.values.pop(prop.id, None)
            continue
        if not isinstance(change, dict):
            raise _fail(f"{here} should be an object or `null`, instead was "
                        f"`{short_json(change)}`.")
        if prop is None:
            kind = _type_of(change, here)
            if kind == "title":
                raise invalid("A data source has exactly one title property.")
            created = new_property(env, ds, str(change.get("name") or key), change, here)
            if created.name in ds.properties:
                raise invalid(f"A property named {created.name!r} already exists.")
            ds.add_property(created)
            continue
        kind = _type_of(change, here)
        if kind is not None and kind != prop.type:
            if "title" in (kind, prop.type):
                raise invalid("The title property's type cannot change.")
            replacement = new_property(env, ds, prop.name, change, here, prop_id=prop.id)
            ds.remove_property(prop)
            ds.add_property(replacement)
            for page in env.ws.ds_pages(ds):
                page.values.pop(prop.id, None)
            prop = replacement
        elif kind is not None:
            _configure(env, ds, prop, change.get(kind) or {}, f"{here}.{kind}", fresh=False)
        new_name = change.get("name")
        if new_name is not None and new_name != prop.name:
            if not isinstance(new_name, str) or not new_name.strip():
                raise _fail(f"{here}.name should be a non-empty string, instead was "
                            f"`{short_json(new_name)}`.")
            if new_name in ds.properties:
                raise invalid(f"A property named {new_name!r} already exists.")
            ds.rename_property(prop, new_name)
        ds.version += 1


def property_json(env: Env, ds: DataSource, prop: PropertySchema) -> dict[str, Any]:
    """A property of a data source object: ``{"id", "name", "description", "type", <type>}``."""
    kind = prop.type
    config: dict[str, Any]
    if kind in ("select", "multi_select"):
        config = {"options": prop.options}
    elif kind == "status":
        config = {"options": prop.options, "groups": prop.groups}
    elif kind == "rollup":
        relation = ds.props_by_id.get(prop.config["relation_property_id"])
        target_ds = env.ws.data_sources.get(relation.config["data_source_id"]) \
            if relation is not None else None
        target = target_ds.props_by_id.get(prop.config["rollup_property_id"]) \
            if target_ds is not None else None
        config = {
            "rollup_property_name": target.name if target else None,
            "relation_property_name": relation.name if relation else None,
            "rollup_property_id": prop.config["rollup_property_id"],
            "relation_property_id": prop.config["relation_property_id"],
            "function": prop.config["function"],
        }
    else:
        config = prop.config
    return {"id": prop.id, "name": prop.name, "description": None, "type": kind, kind: config}


def data_source_object(env: Env, ds: DataSource, version: str) -> dict[str, Any]:
    db = env.ws.databases[ds.database_id]
    out: dict[str, Any] = {
        "object": "data_source", "id": ds.id, "cover": None, "icon": ds.icon,
        "created_time": minute_z(ds.created),
        "created_by": {"object": "user", "id": ds.created_by},
        "last_edited_by": {"object": "user", "id": ds.edited_by},
        "last_edited_time": minute_z(ds.edited),
        "title": ds.title, "description": ds.description, "is_inline": db.is_inline,
        "properties": {name: property_json(env, ds, p) for name, p in ds.properties.items()},
        "parent": {"type": "database_id", "database_id": db.id},
        "database_parent": {"type": "page_id", "page_id": db.parent_page_id},
        "url": f"https://www.notion.so/{db.id.replace('-', '')}",
        "public_url": None,
    }
    if version < "2026-03-11":
        out["archived"] = ds.in_trash
    out["in_trash"] = ds.in_trash
    return out


def database_object(env: Env, db: Database, version: str) -> dict[str, Any]:
    """A 2025-09-03 database container (no properties; its data sources listed)."""
    sources = [env.ws.data_sources[i] for i in db.data_source_ids]
    return {
        "object": "database", "id": db.id, "title": db.title, "description": db.description,
        "parent": {"type": "page_id", "page_id": db.parent_page_id},
        "is_inline": db.is_inline, "in_trash": db.in_trash, "is_locked": False,
        "created_time": minute_offset(db.created), "last_edited_time": minute_offset(db.edited),
        "data_sources": [{"id": s.id, "name": _plain(s.title)} for s in sources
                         if not s.in_trash],
        "icon": db.icon, "cover": db.cover,
        "url": f"https://www.notion.so/{db.id.replace('-', '')}",
        "public_url": None,
    }


def _plain(items: list[dict[str, Any]]) -> str:
    return "".join(item.get("plain_text", "") for item in items)


def parse_title(env: Env, raw: Any, path: str) -> list[dict[str, Any]]:
    """A title rich-text array (databases, data sources) as the API answers it."""
    if raw is None:
        return []
    return render_rich_text(parse_rich_text(env, raw, path))
