"""The emulated Notion workspace's state: users, databases, data sources, pages, blocks, uploads.

Plain objects with no HTTP in them. The other ``notion_*`` modules read and
change them: :mod:`~leadsync.emulator.notion_values` turns property values
into and out of their API shapes, :mod:`~leadsync.emulator.notion_query`
filters and sorts pages, :mod:`~leadsync.emulator.notion_blocks` holds page
content, and :mod:`~leadsync.emulator.notion` serves it all over HTTP.

Times are kept exact (aware UTC datetimes); every answer shows them rounded
down to the minute, as Notion does. Ids are dashed lowercase UUIDs; the API
accepts them with or without dashes (:func:`parse_id`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from leadsync.emulator.core import Limits

__all__ = [
    "Block",
    "DataSource",
    "Database",
    "Env",
    "FileUpload",
    "NotionError",
    "Page",
    "PropertySchema",
    "User",
    "Workspace",
    "invalid",
    "minute_offset",
    "minute_z",
    "ms_z",
    "not_found",
    "parse_id",
    "short_json",
]

#: Property types whose values the API computes; writing them is a validation error.
READ_ONLY_TYPES = frozenset({
    "formula", "rollup", "created_time", "created_by", "last_edited_time", "last_edited_by",
    "unique_id", "button", "verification", "place",
})
#: Every property type a data source can hold here.
PROPERTY_TYPES = frozenset({
    "title", "rich_text", "number", "select", "multi_select", "status", "date", "people",
    "relation", "rollup", "formula", "checkbox", "url", "email", "phone_number", "files",
    "created_time", "last_edited_time", "created_by", "last_edited_by", "unique_id",
    "button", "place",
})
#: Colours Notion gives new options, in the order the emulator hands them out.
COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red")


# ---------------------------------------------------------------------------
# Errors


class NotionError(Exception):
    """An error answer: ``status``, Notion's ``code`` and its ``message``."""

    def __init__(self, status: int, code: str, message: str,
                 additional_data: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.additional_data = additional_data


def invalid(message: str) -> NotionError:
    """A 400 ``validation_error``."""
    return NotionError(400, "validation_error", message)


#: What the 404 message calls each kind of object (a data source is a "database" there).
_NOT_FOUND_NOUN = {
    "page": "page", "database": "database", "data_source": "database", "block": "block",
    "user": "user", "file_upload": "file upload",
}


def not_found(kind: str, object_id: str) -> NotionError:
    """A 404 ``object_not_found`` worded like Notion's."""
    noun = _NOT_FOUND_NOUN.get(kind, kind)
    return NotionError(
        404, "object_not_found",
        f"Could not find {noun} with ID: {object_id}. "
        "Make sure the relevant pages and databases are shared with your integration.",
    )


def short_json(value: Any, limit: int = 120) -> str:
    """A value as Notion quotes it in validation messages (compact JSON, cut if long)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def parse_id(raw: Any, where: str) -> str:
    """A Notion id (32 hex digits, dashes optional) as a dashed lowercase UUID.

    ``where`` names it in the error, e.g. ``"path.page_id"`` or
    ``"body.parent.data_source_id"``.
    """
    if isinstance(raw, str):
        compact = raw.replace("-", "")
        if _HEX32.match(compact) and (len(raw) == 32 or _dashed_ok(raw)):
            h = compact.lower()
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    section = where.split(".", 1)[0]
    raise invalid(f"{section} failed validation: {where} should be a valid uuid, "
                  f"instead was `{short_json(raw)}`.")


def _dashed_ok(raw: str) -> bool:
    return len(raw) == 36 and [len(p) for p in raw.split("-")] == [8, 4, 4, 4, 12]


# ---------------------------------------------------------------------------
# Times


def _utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC)


@functools.lru_cache(maxsize=1 << 16)
def minute_z(t: dt.datetime) -> str:
    """``2026-11-01T09:00:00.000Z``: rounded down to the minute (pages, blocks, uploads)."""
    t = _utc(t)  # cached: every row shows it two to four times, and it is on the hot path
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:00.000Z"


def minute_offset(t: dt.datetime) -> str:
    """``2026-11-01T09:00:00.000+00:00``: the database container's format, minute-rounded."""
    return _utc(t).strftime("%Y-%m-%dT%H:%M:00.000+00:00")


def ms_z(t: dt.datetime) -> str:
    """``2026-11-01T09:00:12.345Z``: exact to the millisecond (expiry times)."""
    t = _utc(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def floor_minute(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)


# ---------------------------------------------------------------------------
# Objects


class User:
    """A person or a bot; ``obj`` is the full user object, built once."""

    __slots__ = ("email", "id", "kind", "name", "obj")

    def __init__(self, user_id: str, name: str, kind: str, email: str | None = None,
                 avatar_url: str | None = None):
        self.id = user_id
        self.name = name
        self.kind = kind
        self.email = email
        detail: dict[str, Any] = {"email": email} if kind == "person" else {}
        self.obj: dict[str, Any] = {
            "object": "user", "id": user_id, "name": name, "avatar_url": avatar_url,
            "type": kind, kind: detail,
        }


class PropertySchema:
    """One property of a data source: its id (as the API shows it), name, type and settings.

    ``config`` is the type's settings as the API shows them, except for
    select/multi_select/status whose ``options`` (and status ``groups``) are
    kept in :attr:`options` / :attr:`groups`. ``compiled`` holds a parsed
    formula.
    """

    __slots__ = ("compiled", "config", "groups", "id", "name", "option_by_id",
                 "option_by_name", "option_values", "options", "type")

    def __init__(self, prop_id: str, name: str, prop_type: str,
                 config: dict[str, Any] | None = None):
        self.id = prop_id
        self.name = name
        self.type = prop_type
        self.config: dict[str, Any] = config or {}
        self.options: list[dict[str, Any]] = []
        self.option_by_id: dict[str, dict[str, Any]] = {}
        self.option_by_name: dict[str, dict[str, Any]] = {}
        #: option id -> the option as a page value shows it ({id, name, color}), built once
        self.option_values: dict[str, dict[str, Any]] = {}
        self.groups: list[dict[str, Any]] = []
        self.compiled: Any = None

    def add_option(self, option_id: str, name: str, color: str | None = None) -> dict[str, Any]:
        option = {"id": option_id, "name": name,
                  "color": color or COLORS[len(self.options) % len(COLORS)],
                  "description": None}
        self.options.append(option)
        self.option_by_id[option_id] = option
        self.option_by_name[name] = option
        self.option_values[option_id] = {"id": option_id, "name": name,
                                         "color": option["color"]}
        return option

    def option_rank(self, option_id: str) -> int:
        for n, option in enumerate(self.options):
            if option["id"] == option_id:
                return n
        return len(self.options)


class DataSource:
    """A table of pages with a schema; ``version`` moves on every change that a query sees."""

    __slots__ = ("created", "created_by", "database_id", "description", "edited", "edited_by",
                 "icon", "id", "in_trash", "next_unique", "page_ids", "properties",
                 "props_by_id", "title", "version")

    def __init__(self, ds_id: str, database_id: str, title: list[dict[str, Any]],
                 created: dt.datetime, created_by: str):
        self.id = ds_id
        self.database_id = database_id
        self.title = title
        self.description: list[dict[str, Any]] = []
        self.properties: dict[str, PropertySchema] = {}  # by name, in schema order
        self.props_by_id: dict[str, PropertySchema] = {}
        self.page_ids: list[str] = []  # creation order, trashed included
        self.next_unique: dict[str, int] = {}
        self.created = self.edited = created
        self.created_by = self.edited_by = created_by
        self.in_trash = False
        self.icon: Any = None
        self.version = 0

    def add_property(self, prop: PropertySchema) -> None:
        self.properties[prop.name] = prop
        self.props_by_id[prop.id] = prop
        self.version += 1

    def remove_property(self, prop: PropertySchema) -> None:
        del self.properties[prop.name]
        del self.props_by_id[prop.id]
        self.version += 1

    def rename_property(self, prop: PropertySchema, new_name: str) -> None:
        self.properties = {
            (new_name if name == prop.name else name): p for name, p in self.properties.items()
        }
        prop.name = new_name
        self.version += 1

    def lookup(self, key: str) -> PropertySchema | None:
        """A property by name, else by id."""
        return self.properties.get(key) or self.property_by_id(key)

    def property_by_id(self, key: str) -> PropertySchema | None:
        """A property by id, as the API shows it (``%3CnJT``) or percent-decoded (``<nJT``)."""
        return self.props_by_id.get(key) or self.props_by_id.get(quote(key, safe="~_.-"))

    def title_property(self) -> PropertySchema:
        for prop in self.properties.values():
            if prop.type == "title":
                return prop
        raise LookupError("a data source always has a title property")


class Database:
    """The 2025-09-03 container: a title, a parent page and its data sources."""

    __slots__ = ("cover", "created", "created_by", "data_source_ids", "description", "edited",
                 "edited_by", "icon", "id", "in_trash", "is_inline", "parent_page_id", "title")

    def __init__(self, db_id: str, title: list[dict[str, Any]], parent_page_id: str,
                 created: dt.datetime, created_by: str):
        self.id = db_id
        self.title = title
        self.description: list[dict[str, Any]] = []
        self.parent_page_id = parent_page_id
        self.is_inline = False
        self.in_trash = False
        self.created = self.edited = created
        self.created_by = self.edited_by = created_by
        self.data_source_ids: list[str] = []
        self.icon: Any = None
        self.cover: Any = None


class Page:
    """A row of a data source (``ds_id`` set) or a page under a page (``parent_id`` set).

    ``values`` maps property id -> stored value (see
    :mod:`~leadsync.emulator.notion_values`); ``children`` lists the ids of
    its blocks, child pages and child databases in order.
    """

    __slots__ = ("children", "cover", "created", "created_by", "ds_id", "edited", "edited_by",
                 "icon", "id", "in_trash", "parent_id", "parent_type", "seq", "values")

    def __init__(self, page_id: str, created: dt.datetime, created_by: str, *,
                 ds_id: str | None = None, parent_type: str = "data_source_id",
                 parent_id: str | None = None, seq: int = 0):
        self.id = page_id
        self.ds_id = ds_id
        self.parent_type = parent_type  # data_source_id | page_id | workspace
        self.parent_id = parent_id
        self.created = self.edited = created
        self.created_by = self.edited_by = created_by
        self.in_trash = False
        self.values: dict[str, Any] = {}
        self.children: list[str] = []
        self.icon: Any = None
        self.cover: Any = None
        self.seq = seq


class Block:
    """A content block: ``data`` is its type object without ``children``."""

    __slots__ = ("children", "created", "created_by", "data", "edited", "edited_by", "id",
                 "in_trash", "parent_id", "parent_type", "type")

    def __init__(self, block_id: str, block_type: str, data: dict[str, Any], parent_type: str,
                 parent_id: str, created: dt.datetime, created_by: str):
        self.id = block_id
        self.type = block_type
        self.data = data
        self.parent_type = parent_type  # page_id | block_id
        self.parent_id = parent_id
        self.children: list[str] = []
        self.created = self.edited = created
        self.created_by = self.edited_by = created_by
        self.in_trash = False


class FileUpload:
    """A file upload: ``pending`` until sent, then ``uploaded``; attached ones never expire."""

    __slots__ = ("attached", "content", "content_length", "content_type", "created", "edited",
                 "expiry", "filename", "id", "mode", "status")

    def __init__(self, upload_id: str, created: dt.datetime, filename: str | None,
                 content_type: str | None, mode: str):
        self.id = upload_id
        self.created = self.edited = created
        self.expiry = created + dt.timedelta(hours=1)
        self.filename = filename
        self.content_type = content_type
        self.content_length: int | None = None
        self.content = b""
        self.status = "pending"
        self.attached = False
        self.mode = mode

    def current_status(self, now: dt.datetime) -> str:
        if self.status == "pending" and now >= self.expiry:
            return "expired"
        return self.status


class Workspace:
    """Every object of one emulated workspace, by id."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.databases: dict[str, Database] = {}
        self.data_sources: dict[str, DataSource] = {}
        self.pages: dict[str, Page] = {}
        self.blocks: dict[str, Block] = {}
        self.file_uploads: dict[str, FileUpload] = {}
        self.page_seq = 0

    def next_seq(self) -> int:
        self.page_seq += 1
        return self.page_seq

    def page(self, page_id: str) -> Page:
        page = self.pages.get(page_id)
        if page is None:
            raise not_found("page", page_id)
        return page

    def data_source(self, ds_id: str) -> DataSource:
        ds = self.data_sources.get(ds_id)
        if ds is None:
            raise not_found("data_source", ds_id)
        return ds

    def database(self, db_id: str) -> Database:
        db = self.databases.get(db_id)
        if db is None:
            raise not_found("database", db_id)
        return db

    def user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise not_found("user", user_id)
        return user

    def ds_pages(self, ds: DataSource) -> Iterator[Page]:
        pages = self.pages
        for page_id in ds.page_ids:
            yield pages[page_id]

    def touch(self, page: Page, now: dt.datetime, by: str) -> None:
        """Record an edit of a page (and of its data source's contents)."""
        page.edited = now
        page.edited_by = by
        if page.ds_id is not None:
            self.data_sources[page.ds_id].version += 1


class Env(Protocol):
    """What value, query and block code needs from the service around the workspace."""

    ws: Workspace
    bot_id: str

    @property
    def limits(self) -> Limits: ...

    def now(self) -> dt.datetime: ...

    def new_id(self) -> str: ...

    def file_url(self, upload: FileUpload) -> str: ...
