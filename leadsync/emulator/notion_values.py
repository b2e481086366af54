"""Property values: from request shapes to stored values, and from stored values to answers.

Stored values are compact (100,000-row data sources must stay small and
fast): a title or rich text that is one plain segment is kept as its ``str``
(other rich text as the full list of items), select/status as the option id,
multi_select as a tuple of option ids, people and relation as tuples of ids,
dates as :class:`DateValue`, files as tuples of ``("external", name, url)`` /
``("upload", name, upload_id)``. Formula, rollup, unique_id and the
created/edited properties are computed when answered.

Writes are validated like Notion does (limits from ``Limits`` and the
reference: 2000 characters per rich-text item, 100 items per array, URLs
2000, email and phone 200) and fail with Notion-style messages, e.g.
``body failed validation: body.properties.Notes.rich_text[0].text.content.length
should be ≤ `2000`, instead was `2500`.``
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Any

from leadsync.emulator.notion_formula import Formula, format_value, result_json
from leadsync.emulator.notion_model import (
    READ_ONLY_TYPES,
    DataSource,
    Env,
    NotionError,
    Page,
    PropertySchema,
    invalid,
    minute_z,
    ms_z,
    parse_id,
    short_json,
)

__all__ = [
    "DEFAULT_ANNOTATIONS",
    "DateValue",
    "coerce_plain",
    "parse_rich_text",
    "parse_write",
    "plain_text",
    "property_item",
    "render_properties",
    "render_rich_text",
    "render_value",
    "text_item",
]

#: Longest URL, email and phone number a write may carry (reference §3.2).
URL_MAX = 2000
EMAIL_MAX = 200
PHONE_MAX = 200
EQUATION_MAX = 1000

DEFAULT_ANNOTATIONS: dict[str, Any] = {
    "bold": False, "italic": False, "strikethrough": False, "underline": False,
    "code": False, "color": "default",
}
_ANNOTATION_KEYS = tuple(DEFAULT_ANNOTATIONS)

RichText = str | list[dict[str, Any]]


def _fail(message: str) -> NotionError:
    return invalid(f"body failed validation: {message}")


def _too_long(path: str, limit: int, actual: int) -> NotionError:
    return _fail(f"{path}.length should be ≤ `{limit}`, instead was `{actual}`.")


def _expected(path: str, what: str, value: Any) -> NotionError:
    return _fail(f"{path} should be {what}, instead was `{short_json(value)}`.")


def _undefined(path: str) -> NotionError:
    return _fail(f"{path} should be defined, instead was `undefined`.")


# ---------------------------------------------------------------------------
# Rich text


def text_item(content: str, link: str | None = None,
              annotations: dict[str, Any] | None = None) -> dict[str, Any]:
    """One rich-text item of type text, as the API answers it."""
    return {
        "type": "text",
        "text": {"content": content, "link": {"url": link} if link else None},
        "annotations": annotations or DEFAULT_ANNOTATIONS,
        "plain_text": content,
        "href": link,
    }


def render_rich_text(stored: RichText, mention_cap: int | None = None) -> list[dict[str, Any]]:
    """A stored title/rich text as the API's list of items.

    ``mention_cap`` drops page and person mentions past that many, as page
    objects do (the property item endpoint has them all).
    """
    if isinstance(stored, str):
        return [text_item(stored)] if stored else []
    if mention_cap is None:
        return stored
    out: list[dict[str, Any]] = []
    mentions = 0
    for item in stored:
        if item["type"] == "mention" and item["mention"]["type"] in ("page", "user"):
            mentions += 1
            if mentions > mention_cap:
                continue
        out.append(item)
    return out


def plain_text(stored: RichText | None) -> str:
    if stored is None:
        return ""
    if isinstance(stored, str):
        return stored
    return "".join(item["plain_text"] for item in stored)


def parse_rich_text(env: Env, raw: Any, path: str) -> RichText:
    """A request's rich-text array, validated, in stored form."""
    if not isinstance(raw, list):
        raise _expected(path, "an array", raw)
    limits = env.limits
    if len(raw) > limits.notion_array_max:
        raise _too_long(path, limits.notion_array_max, len(raw))
    items = [_rich_text_item(env, item, f"{path}[{n}]") for n, item in enumerate(raw)]
    items = [item for item in items if item["plain_text"] or item["type"] != "text"]
    if not items:
        return ""
    if (len(items) == 1 and items[0]["type"] == "text" and items[0]["href"] is None
            and items[0]["annotations"] == DEFAULT_ANNOTATIONS):
        content: str = items[0]["plain_text"]
        return content
    return items


def _annotations(raw: Any, path: str) -> dict[str, Any]:
    if raw is None:
        return DEFAULT_ANNOTATIONS
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    merged = dict(DEFAULT_ANNOTATIONS)
    for key in _ANNOTATION_KEYS:
        if key in raw:
            value = raw[key]
            if key == "color" and not isinstance(value, str):
                raise _expected(f"{path}.color", "a string", value)
            if key != "color" and not isinstance(value, bool):
                raise _expected(f"{path}.{key}", "a boolean", value)
            merged[key] = value
    return DEFAULT_ANNOTATIONS if merged == DEFAULT_ANNOTATIONS else merged


def _rich_text_item(env: Env, raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    kind = raw.get("type") or next((k for k in ("text", "mention", "equation") if k in raw), None)
    if kind not in ("text", "mention", "equation") or not isinstance(raw.get(kind), dict):
        raise _undefined(f"{path}.text")
    annotations = _annotations(raw.get("annotations"), f"{path}.annotations")
    body: dict[str, Any] = raw[kind]
    if kind == "text":
        content = body.get("content")
        if not isinstance(content, str):
            raise _expected(f"{path}.text.content", "a string", content)
        if len(content) > env.limits.notion_text_max:
            raise _too_long(f"{path}.text.content", env.limits.notion_text_max, len(content))
        link = body.get("link")
        url: str | None = None
        if link is not None:
            if not isinstance(link, dict) or not isinstance(link.get("url"), str):
                raise _expected(f"{path}.text.link", "an object with a url", link)
            url = link["url"]
            if len(url) > URL_MAX:
                raise _too_long(f"{path}.text.link.url", URL_MAX, len(url))
        return text_item(content, url, annotations)
    if kind == "equation":
        expression = body.get("expression")
        if not isinstance(expression, str):
            raise _expected(f"{path}.equation.expression", "a string", expression)
        if len(expression) > EQUATION_MAX:
            raise _too_long(f"{path}.equation.expression", EQUATION_MAX, len(expression))
        return {"type": "equation", "equation": {"expression": expression},
                "annotations": annotations, "plain_text": expression, "href": None}
    return _mention(env, body, annotations, f"{path}.mention")


def _mention(env: Env, body: dict[str, Any], annotations: dict[str, Any],
             path: str) -> dict[str, Any]:
    kind = body.get("type") or next(
        (k for k in ("user", "page", "database", "date") if k in body), None)
    target = body.get(kind) if kind else None
    if kind not in ("user", "page", "database", "date") or not isinstance(target, dict):
        raise _undefined(f"{path}.user")
    ws = env.ws
    href: str | None = None
    mention: dict[str, Any]
    if kind == "date":
        date = parse_date(target, f"{path}.date")
        if date is None:
            raise _undefined(f"{path}.date.start")
        mention = {"type": "date", "date": date.api()}
        plain = date.start + (f" → {date.end}" if date.end else "")
    elif kind == "user":
        user = ws.user(parse_id(target.get("id"), f"{path}.user.id"))
        mention = {"type": "user", "user": user.obj}
        plain = f"@{user.name}"
    else:
        object_id = parse_id(target.get("id"), f"{path}.{kind}.id")
        if kind == "page":
            page = ws.page(object_id)
            plain = page_title(env, page) or "Untitled"
        else:
            plain = plain_text_list(ws.database(object_id).title) or "Untitled"
        mention = {"type": kind, kind: {"id": object_id}}
        href = f"https://www.notion.so/{object_id.replace('-', '')}"
    return {"type": "mention", "mention": mention, "annotations": annotations,
            "plain_text": plain, "href": href}


def plain_text_list(items: Sequence[dict[str, Any]]) -> str:
    return "".join(item.get("plain_text", "") for item in items)


def page_title(env: Env, page: Page) -> str:
    """The plain text of a page's title."""
    if page.ds_id is None:
        return plain_text(page.values.get("title", ""))
    ds = env.ws.data_sources[page.ds_id]
    return plain_text(page.values.get(ds.title_property().id, ""))


# ---------------------------------------------------------------------------
# Dates


class DateValue:
    """A date property value: the API strings plus keys for filters and sorts.

    ``key`` is the start as epoch seconds (a date-only start counts as
    midnight UTC); ``day`` is the start's UTC calendar date.
    """

    __slots__ = ("date_only", "day", "end", "key", "start")

    def __init__(self, start: dt.date | dt.datetime, end: dt.date | dt.datetime | None = None):
        self.start = _date_string(start)
        self.end = _date_string(end) if end is not None else None
        instant = _as_instant(start)
        self.key = instant.timestamp()
        self.day = instant.astimezone(dt.UTC).date()
        self.date_only = not isinstance(start, dt.datetime)

    def api(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "time_zone": None}

    def python(self) -> dt.date | dt.datetime:
        if self.date_only:
            return dt.date.fromisoformat(self.start)
        return dt.datetime.fromisoformat(self.start)


def _date_string(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


def _as_instant(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def parse_iso(raw: Any, path: str, zone: dt.tzinfo | None = None) -> dt.date | dt.datetime:
    """An ISO 8601 date or datetime; naive datetimes are in ``zone`` (UTC by default)."""
    if not isinstance(raw, str):
        raise _expected(path, "a string", raw)
    try:
        if len(raw) == 10:
            return dt.date.fromisoformat(raw)
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise _fail(f"{path} should be a valid ISO 8601 date string, "
                    f"instead was `{short_json(raw)}`.") from None
    if zone is not None:
        if value.tzinfo is not None:
            raise _fail(f"{path} should not carry a UTC offset when time_zone is set, "
                        f"instead was `{short_json(raw)}`.")
        return value.replace(tzinfo=zone)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_date(raw: Any, path: str) -> DateValue | None:
    """A request's date object (``start``, ``end``, ``time_zone``), or None for ``null``.

    With ``time_zone``, naive datetimes are read in that zone and answered
    with its offset; ``time_zone`` itself always comes back ``null``.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _expected(path, "an object or `null`", raw)
    if "start" not in raw:
        raise _undefined(f"{path}.start")
    zone: dt.tzinfo | None = None
    if raw.get("time_zone") is not None:
        try:
            zone = zoneinfo.ZoneInfo(str(raw["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _expected(f"{path}.time_zone", "a valid IANA time zone",
                            raw["time_zone"]) from None
    start = parse_iso(raw["start"], f"{path}.start", zone)
    end = parse_iso(raw["end"], f"{path}.end", zone) if raw.get("end") is not None else None
    return DateValue(start, end)


# ---------------------------------------------------------------------------
# Writes


def parse_write(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                path: str) -> Any:
    """A request's property value (``{"select": {"name": "High"}}``) in stored form."""
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    kind = prop.type
    if kind in READ_ONLY_TYPES:
        raise _fail(f"{path}.{kind} should be not present, instead was "
                    f"`{short_json(raw.get(kind, raw))}`. "
                    f"{prop.name} is a {kind} property, which the API computes.")
    if kind not in raw:
        raise _undefined(f"{path}.{kind}")
    return _WRITERS[kind](env, ds, prop, raw[kind], f"{path}.{kind}")


def _write_text(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                path: str) -> Any:
    return parse_rich_text(env, raw, path)


def _write_number(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                  path: str) -> Any:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
        raise _expected(path, "a number or `null`", raw)
    return raw


def _option(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
            path: str) -> str:
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    if raw.get("id") is not None:
        option_id = raw["id"]
        if option_id not in prop.option_by_id:
            raise invalid(f"{path}.id: no {prop.type} option with id {option_id!r} "
                          f"in property {prop.name!r}.")
        return str(option_id)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _undefined(f"{path}.name")
    name = name.strip()
    option = prop.option_by_name.get(name)
    if option is not None:
        return str(option["id"])
    if prop.type == "status":
        known = ", ".join(repr(o["name"]) for o in prop.options)
        raise invalid(f"Invalid status option {name!r} for property {prop.name!r}: "
                      f"status options are not created by page writes (options: {known}).")
    if "," in name:
        raise _fail(f"{path}.name should not contain commas, instead was `{short_json(name)}`.")
    if len(name) > 100:
        raise _too_long(f"{path}.name", 100, len(name))
    # Like Notion: an unknown name adds the option to the schema.
    prop.add_option(env.new_id(), name)
    if ds is not None:
        ds.version += 1
    return str(prop.option_by_name[name]["id"])


def _write_select(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                  path: str) -> Any:
    return None if raw is None else _option(env, ds, prop, raw, path)


def _array(env: Env, raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, list):
        raise _expected(path, "an array", raw)
    if len(raw) > env.limits.notion_array_max:
        raise _too_long(path, env.limits.notion_array_max, len(raw))
    return raw


def _unique(ids: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _write_multi_select(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                        path: str) -> Any:
    items = _array(env, raw, path)
    return _unique([_option(env, ds, prop, item, f"{path}[{n}]") for n, item in enumerate(items)])


def _write_date(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                path: str) -> Any:
    return parse_date(raw, path)


def _ref_id(raw: Any, path: str) -> str:
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    return parse_id(raw.get("id"), f"{path}.id")


def _write_people(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                  path: str) -> Any:
    ids = [_ref_id(item, f"{path}[{n}]") for n, item in enumerate(_array(env, raw, path))]
    for user_id in ids:
        env.ws.user(user_id)
    return _unique(ids)


def _write_relation(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                    path: str) -> Any:
    ids = [_ref_id(item, f"{path}[{n}]") for n, item in enumerate(_array(env, raw, path))]
    target = prop.config.get("data_source_id")
    for page_id in ids:
        page = env.ws.page(page_id)
        if page.ds_id != target:
            raise invalid(f"{path}: page {page_id} is not in the data source that "
                          f"{prop.name!r} relates to ({target}).")
    return _unique(ids)


def _write_checkbox(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                    path: str) -> Any:
    if not isinstance(raw, bool):
        raise _expected(path, "a boolean", raw)
    return raw


def _limited_string(limit: int) -> Callable[[Env, DataSource | None, PropertySchema, Any, str],
                                            Any]:
    def write(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
              path: str) -> Any:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise _expected(path, "a string or `null`", raw)
        if len(raw) > limit:
            raise _too_long(path, limit, len(raw))
        return raw or None
    return write


def _write_files(env: Env, ds: DataSource | None, prop: PropertySchema, raw: Any,
                 path: str) -> Any:
    return tuple(parse_file(env, item, f"{path}[{n}]", need_name=True)
                 for n, item in enumerate(_array(env, raw, path)))


def parse_file(env: Env, raw: Any, path: str, *, need_name: bool) -> tuple[str, str, str]:
    """A file reference (external URL or file upload) as ``(kind, name, url_or_upload_id)``.

    Attaching a file upload marks it attached (it no longer expires).
    """
    if not isinstance(raw, dict):
        raise _expected(path, "an object", raw)
    kind = raw.get("type") or next(
        (k for k in ("external", "file_upload", "file") if k in raw), None)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise _expected(f"{path}.name", "a string", name)
    if kind == "external":
        url = (raw.get("external") or {}).get("url")
        if not isinstance(url, str):
            raise _undefined(f"{path}.external.url")
        if len(url) > URL_MAX:
            raise _too_long(f"{path}.external.url", URL_MAX, len(url))
        if need_name and name is None:
            raise _undefined(f"{path}.name")
        return ("external", name or url, url)
    if kind == "file_upload":
        upload_id = parse_id((raw.get("file_upload") or {}).get("id"),
                             f"{path}.file_upload.id")
        upload = env.ws.file_uploads.get(upload_id)
        if upload is None:
            raise invalid(f"Could not find file upload with ID: {upload_id}.")
        status = upload.current_status(env.now())
        if status != "uploaded":
            raise invalid(f"File upload {upload_id} cannot be attached: its status is "
                          f"{status!r}, expected 'uploaded'.")
        upload.attached = True
        return ("upload", name or upload.filename or "file", upload_id)
    if kind == "file":
        # Writing back a value read earlier: the URL names the upload it serves.
        url = (raw.get("file") or {}).get("url")
        for upload in env.ws.file_uploads.values():
            if isinstance(url, str) and upload.status == "uploaded" and \
                    url.split("?")[0] == env.file_url(upload).split("?")[0]:
                return ("upload", name or upload.filename or "file", upload.id)
        raise invalid(f"{path}.file.url: only files uploaded to this workspace can be "
                      "referenced; use type external or file_upload.")
    raise _undefined(f"{path}.external")


_WRITERS: dict[str, Callable[[Env, DataSource | None, PropertySchema, Any, str], Any]] = {
    "title": _write_text,
    "rich_text": _write_text,
    "number": _write_number,
    "select": _write_select,
    "multi_select": _write_multi_select,
    "status": _write_select,  # same shape; _option refuses unknown status names
    "date": _write_date,
    "people": _write_people,
    "relation": _write_relation,
    "checkbox": _write_checkbox,
    "url": _limited_string(URL_MAX),
    "email": _limited_string(EMAIL_MAX),
    "phone_number": _limited_string(PHONE_MAX),
    "files": _write_files,
}


def coerce_plain(env: Env, ds: DataSource | None, prop: PropertySchema, value: Any,
                 path: str) -> Any:
    """A plain Python value (or an API-shaped one) in stored form, for direct helpers.

    Plain values: ``str`` for text, URL, email, phone, select and status
    (the option name); numbers; ``bool``; ``date``/``datetime`` (naive = UTC)
    or ISO strings for dates; a list of names for multi_select; a user id or
    list of ids for people; a page id or list of ids for relation; a list of
    URLs for files; ``None`` for empty.
    """
    kind = prop.type
    if isinstance(value, dict) and kind in value:
        return parse_write(env, ds, prop, value, path)
    if kind in READ_ONLY_TYPES:
        return parse_write(env, ds, prop, {kind: value}, path)  # raises: read-only
    if value is None:
        return _EMPTY.get(kind)
    if kind in ("title", "rich_text"):
        if not isinstance(value, str):
            raise _expected(path, "a string", value)
        if len(value) > env.limits.notion_text_max:
            raise _too_long(f"{path}.{kind}[0].text.content", env.limits.notion_text_max,
                            len(value))
        return value
    if kind in ("select", "status"):
        return _option(env, ds, prop, {"name": value}, f"{path}.{kind}")
    if kind == "multi_select":
        names = [value] if isinstance(value, str) else list(value)
        return _write_multi_select(env, ds, prop, [{"name": n} for n in names],
                                   f"{path}.multi_select")
    if kind == "date":
        if isinstance(value, str):
            return parse_date({"start": value}, f"{path}.date")
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if isinstance(value, dt.date):
            return DateValue(value)
        raise _expected(f"{path}.date", "a date", value)
    if kind in ("people", "relation"):
        ids = [value] if isinstance(value, str) else list(value)
        return _WRITERS[kind](env, ds, prop, [{"id": i} for i in ids], f"{path}.{kind}")
    if kind == "files":
        urls = [value] if isinstance(value, str) else list(value)
        return _write_files(env, ds, prop, [
            u if isinstance(u, dict) else {"name": u, "external": {"url": u}} for u in urls
        ], f"{path}.files")
    return _WRITERS[kind](env, ds, prop, value, f"{path}.{kind}")


_EMPTY: dict[str, Any] = {
    "title": "", "rich_text": "", "multi_select": (), "people": (), "relation": (),
    "files": (), "checkbox": False,
}


# ---------------------------------------------------------------------------
# Answers


def render_properties(env: Env, page: Page, ds: DataSource | None,
                      only: set[str] | None = None) -> dict[str, Any]:
    """A page's ``properties`` object (keyed by name); ``only`` keeps these property ids."""
    if ds is None:
        return {"title": {"id": "title", "type": "title",
                          "title": render_rich_text(page.values.get("title", ""))}}
    cap = env.limits.notion_reference_cap
    out: dict[str, Any] = {}
    for name, prop in ds.properties.items():
        if only is not None and prop.id not in only:
            continue
        out[name] = render_value(env, page, ds, prop, cap)
    return out


def render_value(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 cap: int | None) -> dict[str, Any]:
    """One property value: ``{"id", "type", <type>: value}`` (+ ``has_more`` for relations).

    ``cap`` truncates relation, people and title/rich-text mentions as page
    objects do; ``None`` keeps everything.
    """
    kind = prop.type
    value = _READERS[kind](env, page, ds, prop, cap)
    out = {"id": prop.id, "type": kind, kind: value}
    if kind == "relation":
        out["has_more"] = cap is not None and len(page.values.get(prop.id, ())) > cap
    return out


def _read_text(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
               cap: int | None) -> Any:
    return render_rich_text(page.values.get(prop.id, ""), cap)


def _read_plain(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                cap: int | None) -> Any:
    return page.values.get(prop.id)


def _option_value(prop: PropertySchema, option_id: str | None) -> dict[str, Any] | None:
    return prop.option_values.get(option_id) if option_id is not None else None


def _read_select(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 cap: int | None) -> Any:
    return _option_value(prop, page.values.get(prop.id))


def _read_multi_select(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                       cap: int | None) -> Any:
    return [v for v in (_option_value(prop, o) for o in page.values.get(prop.id, ())) if v]


def _read_date(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
               cap: int | None) -> Any:
    value: DateValue | None = page.values.get(prop.id)
    return value.api() if value is not None else None


def _read_people(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 cap: int | None) -> Any:
    users = env.ws.users
    ids = page.values.get(prop.id, ())
    if cap is not None:
        ids = ids[:cap]
    return [users[u].obj for u in ids if u in users]


def _read_relation(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                   cap: int | None) -> Any:
    ids = page.values.get(prop.id, ())
    if cap is not None:
        ids = ids[:cap]
    return [{"id": i} for i in ids]


def _read_checkbox(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                   cap: int | None) -> Any:
    return bool(page.values.get(prop.id, False))


def render_file(env: Env, item: tuple[str, str, str]) -> dict[str, Any]:
    kind, name, ref = item
    if kind == "external":
        return {"name": name, "type": "external", "external": {"url": ref}}
    upload = env.ws.file_uploads[ref]
    return {"name": name, "type": "file", "file": {
        "url": env.file_url(upload),
        "expiry_time": ms_z(env.now() + dt.timedelta(hours=1)),
    }}


def _read_files(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                cap: int | None) -> Any:
    return [render_file(env, item) for item in page.values.get(prop.id, ())]


def _read_created_time(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                       cap: int | None) -> Any:
    return minute_z(page.created)


def _read_edited_time(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                      cap: int | None) -> Any:
    return minute_z(page.edited)


def _user_obj(env: Env, user_id: str) -> dict[str, Any]:
    user = env.ws.users.get(user_id)
    return user.obj if user is not None else {"object": "user", "id": user_id}


def _read_created_by(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                     cap: int | None) -> Any:
    return _user_obj(env, page.created_by)


def _read_edited_by(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                    cap: int | None) -> Any:
    return _user_obj(env, page.edited_by)


def _read_unique_id(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                    cap: int | None) -> Any:
    return {"prefix": prop.config.get("prefix"), "number": page.values.get(prop.id)}


def _read_button(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 cap: int | None) -> Any:
    return {}


def _read_formula(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                  cap: int | None) -> Any:
    formula: Formula = prop.compiled
    cached = formula.cached_type
    if cached is None or cached[0] != ds.version:
        cached = (ds.version, formula.result_type(lambda n: formula_type(env, ds, n, set())))
        formula.cached_type = cached
    return result_json(formula_eval(env, page, ds, prop, set()), cached[1])


def _read_rollup(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 cap: int | None) -> Any:
    return rollup_value(env, page, ds, prop)


_READERS: dict[str, Callable[[Env, Page, DataSource, PropertySchema, int | None], Any]] = {
    "title": _read_text,
    "rich_text": _read_text,
    "number": _read_plain,
    "select": _read_select,
    "multi_select": _read_multi_select,
    "status": _read_select,
    "date": _read_date,
    "people": _read_people,
    "relation": _read_relation,
    "checkbox": _read_checkbox,
    "url": _read_plain,
    "email": _read_plain,
    "phone_number": _read_plain,
    "files": _read_files,
    "created_time": _read_created_time,
    "last_edited_time": _read_edited_time,
    "created_by": _read_created_by,
    "last_edited_by": _read_edited_by,
    "unique_id": _read_unique_id,
    "formula": _read_formula,
    "rollup": _read_rollup,
    "button": _read_button,
    "place": _read_plain,
}


# ---------------------------------------------------------------------------
# Formulas and rollups


_NUMERIC_ROLLUPS = frozenset({
    "count", "count_all", "count_values", "count_unique_values", "unique", "count_empty",
    "empty", "count_not_empty", "not_empty", "percent_empty", "percent_not_empty", "sum",
    "average", "median", "min", "max", "range", "checked", "unchecked", "percent_checked",
    "percent_unchecked", "count_per_group", "percent_per_group",
})
_DATE_ROLLUPS = frozenset({"earliest_date", "latest_date", "date_range"})
_ARRAY_ROLLUPS = frozenset({"show_original", "show_unique"})
ROLLUP_FUNCTIONS = _NUMERIC_ROLLUPS | _DATE_ROLLUPS | _ARRAY_ROLLUPS


def formula_type(env: Env, ds: DataSource, name: str, seen: set[str]) -> str:
    """The formula-language type of ``prop(name)`` in ``ds``."""
    prop = ds.lookup(name)
    if prop is None:
        return "unknown"
    kind = prop.type
    if kind in ("number", "unique_id"):
        return "number"
    if kind == "checkbox":
        return "boolean"
    if kind in ("date", "created_time", "last_edited_time"):
        return "date"
    if kind in ("multi_select", "people", "relation", "files"):
        return "list"
    if kind == "formula" and prop.id not in seen:
        formula: Formula = prop.compiled
        return formula.result_type(lambda n: formula_type(env, ds, n, seen | {prop.id}))
    if kind == "rollup":
        function = prop.config.get("function")
        return "number" if function in _NUMERIC_ROLLUPS else (
            "date" if function in _DATE_ROLLUPS else "list")
    return "string"


def formula_eval(env: Env, page: Page, ds: DataSource, prop: PropertySchema,
                 seen: set[str]) -> Any:
    formula: Formula = prop.compiled
    inner = seen | {prop.id}
    return formula.evaluate(lambda name: formula_input(env, page, ds, name, inner), env.now())


def formula_input(env: Env, page: Page, ds: DataSource, name: str, seen: set[str]) -> Any:
    """What ``prop(name)`` gives a formula on ``page``."""
    prop = ds.lookup(name)
    if prop is None:
        return None
    kind = prop.type
    stored = page.values.get(prop.id)
    if kind in ("title", "rich_text"):
        return plain_text(stored)
    if kind in ("select", "status"):
        option = prop.option_by_id.get(stored) if stored else None
        return option["name"] if option else ""
    if kind == "multi_select":
        return [prop.option_by_id[o]["name"] for o in stored or () if o in prop.option_by_id]
    if kind == "date":
        return stored.python() if stored is not None else None
    if kind == "people":
        return [env.ws.users[u].name for u in stored or () if u in env.ws.users]
    if kind in ("relation", "files"):
        return list(stored or ())
    if kind in ("url", "email", "phone_number"):
        return stored or ""
    if kind == "checkbox":
        return bool(stored)
    if kind == "created_time":
        return page.created
    if kind == "last_edited_time":
        return page.edited
    if kind in ("created_by", "last_edited_by"):
        user = env.ws.users.get(page.created_by if kind == "created_by" else page.edited_by)
        return user.name if user else ""
    if kind == "formula":
        return None if prop.id in seen else formula_eval(env, page, ds, prop, seen)
    if kind == "rollup":
        rolled = rollup_value(env, page, ds, prop)
        inner: Any = rolled.get(rolled["type"])
        if rolled["type"] == "date":
            return _parse_start(inner["start"]) if inner else None
        if rolled["type"] == "array":
            return [format_value(plain_of(item)) for item in inner]
        return inner
    return stored


def plain_of(item: dict[str, Any]) -> Any:
    """A rendered ``{"type": t, t: value}`` as a plain value (for rollups and formulas)."""
    kind = item["type"]
    value: Any = item.get(kind)
    if kind in ("title", "rich_text"):
        return plain_text_list(value)
    if kind in ("select", "status"):
        return value["name"] if value else None
    if kind == "multi_select":
        return [v["name"] for v in value]
    if kind == "date":
        return value["start"] if value else None
    if kind == "formula":
        return value.get(value["type"])
    if kind in ("people", "created_by", "last_edited_by"):
        users = value if isinstance(value, list) else [value]
        return [u.get("name") for u in users]
    if kind == "relation":
        return [v["id"] for v in value]
    if kind == "unique_id":
        return value["number"]
    return value


def rollup_items(env: Env, page: Page, ds: DataSource,
                 prop: PropertySchema) -> list[dict[str, Any]] | None:
    """The rolled-up property of every related page, as ``{"type": t, t: value}``.

    None when the rollup's relation or target property no longer exists.
    """
    relation = ds.props_by_id.get(prop.config.get("relation_property_id", ""))
    target_ds = env.ws.data_sources.get(relation.config.get("data_source_id", "")) \
        if relation is not None else None
    target = target_ds.props_by_id.get(prop.config.get("rollup_property_id", "")) \
        if target_ds is not None else None
    if relation is None or target_ds is None or target is None:
        return None
    pages = env.ws.pages
    items = []
    for page_id in page.values.get(relation.id, ()):
        other = pages.get(page_id)
        if other is None:
            continue
        rendered = render_value(env, other, target_ds, target, None)
        rendered.pop("id")
        rendered.pop("has_more", None)
        items.append(rendered)
    return items


def rollup_value(env: Env, page: Page, ds: DataSource, prop: PropertySchema) -> dict[str, Any]:
    """The computed ``rollup`` object (``type`` number/date/array/unsupported + ``function``)."""
    function = prop.config.get("function", "show_original")
    items = rollup_items(env, page, ds, prop)
    if items is None:
        return {"type": "unsupported", "unsupported": {}, "function": function}
    related = len(items)
    if function in _ARRAY_ROLLUPS:
        if function == "show_unique":
            unique: dict[str, dict[str, Any]] = {}
            for item in items:
                unique.setdefault(short_json(item, 10**6), item)
            items = list(unique.values())
        return {"type": "array", "array": items, "function": function}
    values = [plain_of(item) for item in items]
    if function in _DATE_ROLLUPS:
        return {"type": "date", "date": _date_rollup(function, values), "function": function}
    return {"type": "number", "number": _number_rollup(function, values, related),
            "function": function}


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _flatten(values: list[Any]) -> list[Any]:
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


def _date_rollup(function: str, values: list[Any]) -> dict[str, Any] | None:
    starts = sorted((s for s in values if isinstance(s, str) and s),
                    key=lambda s: DateValue(_parse_start(s)).key)
    if not starts:
        return None
    if function == "earliest_date":
        return {"start": starts[0], "end": None, "time_zone": None}
    if function == "latest_date":
        return {"start": starts[-1], "end": None, "time_zone": None}
    return {"start": starts[0], "end": starts[-1], "time_zone": None}


def _parse_start(text: str) -> dt.date | dt.datetime:
    return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)


def _number_rollup(function: str, values: list[Any], related: int) -> float | int | None:
    flat = _flatten(values)
    filled = [v for v in values if not _is_blank(v)]
    numbers = [v for v in flat if isinstance(v, int | float) and not isinstance(v, bool)]
    checks = [v for v in flat if isinstance(v, bool)]
    result: float | int | None
    if function in ("count", "count_all"):
        result = related
    elif function == "count_values":
        result = len([v for v in flat if not _is_blank(v)])
    elif function in ("count_unique_values", "unique"):
        result = len({format_value(v) for v in flat if not _is_blank(v)})
    elif function in ("count_empty", "empty"):
        result = len(values) - len(filled)
    elif function in ("count_not_empty", "not_empty"):
        result = len(filled)
    elif function in ("percent_empty", "percent_not_empty"):
        share = (len(values) - len(filled)) if function == "percent_empty" else len(filled)
        result = share / len(values) if values else None
    elif function in ("checked", "unchecked"):
        result = len([c for c in checks if c == (function == "checked")])
    elif function in ("percent_checked", "percent_unchecked"):
        hits = len([c for c in checks if c == (function == "percent_checked")])
        result = hits / len(checks) if checks else None
    elif not numbers:
        result = None if function != "sum" else 0
    elif function == "sum":
        result = sum(numbers)
    elif function == "average":
        result = sum(numbers) / len(numbers)
    elif function == "median":
        ordered = sorted(numbers)
        mid = len(ordered) // 2
        result = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    elif function == "min":
        result = min(numbers)
    elif function == "max":
        result = max(numbers)
    elif function == "range":
        result = max(numbers) - min(numbers)
    else:
        result = None
    if isinstance(result, float) and result.is_integer():
        return int(result)
    return result


# ---------------------------------------------------------------------------
# The page property item endpoint

#: Types answered as a paginated list of property items (the rest: one item).
LIST_ITEM_TYPES = frozenset({"title", "rich_text", "relation", "people", "rollup"})


def property_item(env: Env, page: Page, ds: DataSource | None, prop: PropertySchema | None,
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All items of one property (for list types) and the envelope's ``property_item``.

    For simple types the list is empty and the second value is the single
    ``property_item`` object.
    """
    if ds is None or prop is None:  # a page under a page: only its title
        stored = page.values.get("title", "")
        items = [{"object": "property_item", "type": "title", "id": "title", "title": item}
                 for item in render_rich_text(stored)]
        return items, {"id": "title", "next_url": None, "type": "title", "title": {}}
    kind = prop.type
    head: dict[str, Any] = {"id": prop.id, "next_url": None, "type": kind, kind: {}}
    if kind in ("title", "rich_text"):
        items = [{"object": "property_item", "type": kind, "id": prop.id, kind: item}
                 for item in render_rich_text(page.values.get(prop.id, ""))]
        return items, head
    if kind == "relation":
        return [{"object": "property_item", "type": "relation", "id": prop.id,
                 "relation": {"id": i}} for i in page.values.get(prop.id, ())], head
    if kind == "people":
        users = env.ws.users
        return [{"object": "property_item", "type": "people", "id": prop.id,
                 "people": users[u].obj} for u in page.values.get(prop.id, ()) if u in users], head
    if kind == "rollup":
        # Like Notion: the related values as items; the head carries the computed rollup
        # (an array rollup's head array stays empty, its values are the items).
        rolled = rollup_value(env, page, ds, prop)
        items = [{"object": "property_item", "type": item["type"], "id": prop.id,
                  item["type"]: item[item["type"]]}
                 for item in rollup_items(env, page, ds, prop) or []]
        head["rollup"] = {**rolled, "array": []} if rolled["type"] == "array" else rolled
        return items, head
    value = render_value(env, page, ds, prop, None)
    value.pop("has_more", None)
    return [], {"object": "property_item", **value}

