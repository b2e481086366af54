"""The emulated Notion API (version 2025-09-03): routes, answers and direct state helpers.

Routes (the names fault rules match on)::

    GET    /v1/databases/{id}                      notion.databases.retrieve
    POST   /v1/databases                           notion.databases.create
    GET    /v1/data_sources/{id}                   notion.data_sources.retrieve
    PATCH  /v1/data_sources/{id}                   notion.data_sources.update
    POST   /v1/data_sources/{id}/query             notion.data_sources.query
    POST   /v1/pages                               notion.pages.create
    GET    /v1/pages/{id}                          notion.pages.retrieve
    PATCH  /v1/pages/{id}                          notion.pages.update
    GET    /v1/pages/{id}/properties/{property}    notion.pages.property
    GET    /v1/blocks/{id}                         notion.blocks.retrieve
    DELETE /v1/blocks/{id}                         notion.blocks.delete
    GET    /v1/blocks/{id}/children                notion.blocks.children.list
    PATCH  /v1/blocks/{id}/children                notion.blocks.children.append
    GET    /v1/users                               notion.users.list
    GET    /v1/users/me                            notion.users.me
    GET    /v1/users/{id}                          notion.users.retrieve
    POST   /v1/search                              notion.search (title filter, pages
                                                   and data sources: notion_search)
    POST   /v1/file_uploads                        notion.file_uploads.create
    POST   /v1/file_uploads/{id}/send              notion.file_uploads.send
    GET    /v1/file_uploads/{id}                   notion.file_uploads.retrieve
    GET    /v1/_files/{id}/{name}                  notion.files.download (emulator only:
                                                   serves uploaded bytes, no token, like a
                                                   pre-signed URL)

Capabilities: the integration's :attr:`NotionService.capabilities` (by default
all three content capabilities); a route needing one it lacks answers 403
``restricted_resource`` "Insufficient permissions for this endpoint.", as
Notion does (reading needs ``read_content``; creating pages, databases,
uploads and appending blocks ``insert_content``; updating pages and data
sources and deleting blocks ``update_content``).

Every answer carries a ``request_id``. Requests need ``Notion-Version``
2025-09-03 or later (2026-03-11 answers drop ``archived`` and add
``is_archived``/``is_locked`` on pages). Values, queries, blocks and schemas
live in the ``notion_*`` modules; this one parses requests, enforces the
envelope-level limits and answers. See :class:`NotionService` for the
Python-side helpers tests use to set up state quickly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import email.parser
import email.policy
import json
import mimetypes
import random
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from leadsync.emulator.core import (
    Host,
    Limits,
    Request,
    Response,
    Router,
    TokenBucket,
    retry_after_header,
)
from leadsync.emulator.notion_blocks import (
    append_blocks,
    block_object,
    child_ids,
    page_parent,
    takes_children,
    validate_blocks,
)
from leadsync.emulator.notion_model import (
    Block,
    Database,
    DataSource,
    FileUpload,
    NotionError,
    Page,
    PropertySchema,
    User,
    Workspace,
    invalid,
    minute_z,
    not_found,
    parse_id,
    short_json,
)
from leadsync.emulator.notion_query import QueryCache, compile_query, slice_order
from leadsync.emulator.notion_schema import (
    apply_schema_update,
    data_source_object,
    database_object,
    new_property,
    parse_title,
)
from leadsync.emulator.notion_search import search
from leadsync.emulator.notion_values import (
    LIST_ITEM_TYPES,
    coerce_plain,
    page_title,
    parse_file,
    parse_rich_text,
    parse_write,
    property_item,
    render_file,
    render_properties,
)

__all__ = ["NotionService"]

#: API versions served; older ones use the pre-data-source model the emulator does not keep.
VERSIONS = ("2025-09-03", "2026-03-11")
#: Largest single_part file upload (reference §3.2).
SINGLE_PART_MAX = 20 * 1024 * 1024
#: Longest upload filename, in bytes.
FILENAME_MAX = 900
WORKSPACE_NAME = "Leadership"
BOT_NAME = "leadsync"

Handler = Callable[[Request], "dict[str, Any] | Response"]

#: The content capabilities an integration can be given in Notion's settings.
CAPABILITIES = frozenset({"read_content", "update_content", "insert_content"})
#: The capability each route needs (routes not named need none: users, downloads).
_NEEDS: dict[str, str] = {
    "notion.databases.retrieve": "read_content",
    "notion.databases.create": "insert_content",
    "notion.data_sources.retrieve": "read_content",
    "notion.data_sources.update": "update_content",
    "notion.data_sources.query": "read_content",
    "notion.pages.create": "insert_content",
    "notion.pages.retrieve": "read_content",
    "notion.pages.update": "update_content",
    "notion.pages.property": "read_content",
    "notion.blocks.retrieve": "read_content",
    "notion.blocks.delete": "update_content",
    "notion.blocks.children.list": "read_content",
    "notion.blocks.children.append": "insert_content",
    "notion.file_uploads.create": "insert_content",
    "notion.file_uploads.send": "insert_content",
    "notion.file_uploads.retrieve": "read_content",
}


class NotionService:
    """Notion's REST API under ``/v1``, over one in-memory workspace.

    State lives in :attr:`ws` (a :class:`~leadsync.emulator.notion_model.Workspace`).
    A bot user (the integration, :attr:`bot_id`) and a root page
    (:attr:`root_page_id`, "Leadership") exist from the start.

    Direct helpers for tests and benchmarks (Python, no HTTP, no rate limit):
    :meth:`create_data_source_rows` (bulk rows), :meth:`edit_page`,
    :meth:`trash_page`, :meth:`rename_property`, :meth:`pages`,
    :meth:`add_person`, :meth:`add_blocks_as` (a person writes on a page),
    :meth:`block_tree` and :meth:`child_pages`. :attr:`capabilities` are the
    integration's (a test takes some away). After
    :func:`~leadsync.emulator.notion_seed.seed_org`: :attr:`sample_ids`, :attr:`data_source_ids`,
    :attr:`member_user_ids`, :attr:`member_page_ids` and :attr:`page_for`.
    """

    name = "notion"
    prefix = "/v1"

    def __init__(self, emulator: Host):
        self.emulator = emulator
        self.ws = Workspace()
        self.queries = QueryCache()
        self.router = Router()
        #: canonical table -> database id / data source id (after seed_org)
        self.sample_ids: dict[str, str] = {}
        self.data_source_ids: dict[str, str] = {}
        #: member key ("m001") -> user id / page id in the members data source
        self.member_user_ids: dict[str, str] = {}
        self.member_page_ids: dict[str, str] = {}
        #: canonical table -> record key ("SIG-12", "m001") -> page id
        self.page_for: dict[str, dict[str, str]] = {}
        # The bot and the root page exist before anything else; their ids come from a
        # generator of their own so the shared id sequence starts where it always did.
        own = random.Random(f"notion-root:{emulator.seed}")
        self.bot_id = str(uuid.UUID(int=own.getrandbits(128), version=4))
        self.ws.users[self.bot_id] = User(self.bot_id, BOT_NAME, "bot")
        self.root_page_id = str(uuid.UUID(int=own.getrandbits(128), version=4))
        root = Page(self.root_page_id, self.now(), self.bot_id, parent_type="workspace",
                    seq=self.ws.next_seq())
        root.values["title"] = WORKSPACE_NAME
        self.ws.pages[root.id] = root
        #: The integration's content capabilities (see the module doc).
        self.capabilities: frozenset[str] = CAPABILITIES
        self._routes()

    # -- the server's interface -------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.route == "notion.files.download":
            return None
        if request.bearer() != self.emulator.notion_token:
            return self._error(401, "unauthorized", "API token is invalid.")
        version = request.headers.get("notion-version")
        if version is None:
            return self._error(400, "missing_version",
                               "Notion-Version header failed validation: Notion-Version header "
                               "should be defined, instead was `undefined`.")
        if version not in VERSIONS:
            return self._error(400, "validation_error",
                               f"Notion-Version header failed validation: the emulator serves "
                               f"{' and '.join(VERSIONS)} (databases with data sources), "
                               f"instead was `{version}`.")
        return None

    def rate_key(self, request: Request) -> str | None:
        if request.route == "notion.files.download":
            return None
        return request.bearer()

    def limiter(self, key: str) -> TokenBucket | None:
        limits = self.emulator.limits
        return self.emulator.bucket("notion", key, limits.notion_rps, limits.notion_burst)

    def error(self, kind: Literal["rate_limited", "server_error", "not_found", "bad_json"],
              status: int, retry_after: float | None = None) -> Response:
        if kind == "rate_limited":
            response = self._error(
                429, "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            )
            response.headers.update(retry_after_header(retry_after or 1.0))
            return response
        if kind == "not_found":
            return self._error(400, "invalid_request_url", "Invalid request URL.")
        if kind == "bad_json":
            return self._error(400, "invalid_json", "Error parsing JSON body.")
        codes = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable",
                 504: "gateway_timeout"}
        return self._error(status, codes.get(status, "internal_server_error"),
                           "Notion encountered an unexpected error.")

    # -- what the value, query and block code needs (notion_model.Env) -----

    @property
    def limits(self) -> Limits:
        return self.emulator.limits

    def now(self) -> dt.datetime:
        return self.emulator.clock.now()

    def new_id(self) -> str:
        return self.emulator.ids.uuid()

    def file_url(self, upload: FileUpload) -> str:
        """Where an attached upload can be fetched (an emulator URL standing in for S3's)."""
        name = quote(upload.filename or "file")
        return f"{self._base_url()}/v1/_files/{upload.id}/{name}?X-Amz-Expires=3600"

    # -- routing -------------------------------------------------------------

    def _routes(self) -> None:
        add = self._add
        add("GET", "/v1/databases/{database_id}", "notion.databases.retrieve",
            self._retrieve_database)
        add("POST", "/v1/databases", "notion.databases.create", self._create_database)
        add("GET", "/v1/data_sources/{data_source_id}", "notion.data_sources.retrieve",
            self._retrieve_data_source)
        add("PATCH", "/v1/data_sources/{data_source_id}", "notion.data_sources.update",
            self._update_data_source)
        add("POST", "/v1/data_sources/{data_source_id}/query", "notion.data_sources.query",
            self._query)
        add("POST", "/v1/pages", "notion.pages.create", self._create_page)
        add("GET", "/v1/pages/{page_id}", "notion.pages.retrieve", self._retrieve_page)
        add("PATCH", "/v1/pages/{page_id}", "notion.pages.update", self._update_page)
        add("GET", "/v1/pages/{page_id}/properties/{property_id}", "notion.pages.property",
            self._page_property)
        add("GET", "/v1/blocks/{block_id}", "notion.blocks.retrieve", self._retrieve_block)
        add("DELETE", "/v1/blocks/{block_id}", "notion.blocks.delete", self._delete_block)
        add("GET", "/v1/blocks/{block_id}/children", "notion.blocks.children.list",
            self._list_children)
        add("PATCH", "/v1/blocks/{block_id}/children", "notion.blocks.children.append",
            self._append_children)
        add("POST", "/v1/search", "notion.search", self._search)
        add("GET", "/v1/users", "notion.users.list", self._list_users)
        add("GET", "/v1/users/me", "notion.users.me", self._me)
        add("GET", "/v1/users/{user_id}", "notion.users.retrieve", self._retrieve_user)
        add("POST", "/v1/file_uploads", "notion.file_uploads.create", self._create_upload)
        add("POST", "/v1/file_uploads/{file_upload_id}/send", "notion.file_uploads.send",
            self._send_upload)
        add("GET", "/v1/file_uploads/{file_upload_id}", "notion.file_uploads.retrieve",
            self._retrieve_upload)
        add("GET", "/v1/_files/{file_upload_id}/{filename}", "notion.files.download",
            self._download)

    def _add(self, method: str, pattern: str, name: str, handler: Handler) -> None:
        def serve(request: Request) -> Response:
            need = _NEEDS.get(name)
            if need is not None and need not in self.capabilities:
                return self._error(403, "restricted_resource",
                                   "Insufficient permissions for this endpoint.")
            try:
                answer = handler(request)
            except NotionError as exc:
                message, extra = exc.message, exc.additional_data
                if exc.code == "object_not_found" and self._version(request) >= "2026-03-11":
                    # The newer wording names the integration and adds its id.
                    message = message.replace("your integration.",
                                              f'your integration "{BOT_NAME}".')
                    extra = {"integration_id": self.bot_id}
                return self._error(exc.status, exc.code, message, extra)
            if isinstance(answer, Response):
                return answer
            answer["request_id"] = _request_id()
            return Response(200, answer)
        self.router.add(method, pattern, name, serve)

    def _error(self, status: int, code: str, message: str,
               additional_data: dict[str, Any] | None = None) -> Response:
        body: dict[str, Any] = {"object": "error", "status": status, "code": code,
                                "message": message}
        if additional_data:
            body["additional_data"] = additional_data
        body["request_id"] = _request_id()
        return Response(status, body)

    # -- request helpers -------------------------------------------------------

    @staticmethod
    def _version(request: Request) -> str:
        return request.headers.get("notion-version", VERSIONS[0])

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise NotionError(400, "invalid_json", "Error parsing JSON body.") from None
        if not isinstance(body, dict):
            raise invalid(f"body failed validation: body should be an object, instead was "
                          f"`{short_json(body)}`.")
        return body

    def _page_size(self, raw: Any, where: str) -> int:
        if raw is None:
            return self.limits.notion_page_size
        section = where.split(".", 1)[0]
        if isinstance(raw, str):
            with contextlib.suppress(ValueError):
                raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise invalid(f"{section} failed validation: {where} should be a number, instead "
                          f"was `{short_json(raw)}`.")
        if raw > self.limits.notion_page_size:
            raise invalid(f"{section} failed validation: {where} should be ≤ "
                          f"`{self.limits.notion_page_size}`, instead was `{raw}`.")
        if raw < 1:
            raise invalid(f"{section} failed validation: {where} should be ≥ `1`, instead "
                          f"was `{raw}`.")
        return raw

    def _data_source(self, raw_id: str, where: str = "path.data_source_id",
                     live: bool = False) -> DataSource:
        ds = self.ws.data_source(parse_id(raw_id, where))
        if live and ds.in_trash:
            raise not_found("data_source", ds.id)
        return ds

    def _filter_properties(self, request: Request, ds: DataSource | None) -> set[str] | None:
        query = request.query
        names = query.get("filter_properties", []) + query.get("filter_properties[]", [])
        if not names:
            return None
        if ds is None:
            return {"title"}
        wanted: set[str] = set()
        for name in names:
            prop = ds.lookup(name)
            if prop is None:
                raise invalid(f"Could not find property with name or id: {name}")
            wanted.add(prop.id)
        return wanted

    # -- objects ---------------------------------------------------------------

    def page_object(self, page: Page, version: str = VERSIONS[0],
                    only: set[str] | None = None) -> dict[str, Any]:
        """A page as the API answers it (2025-09-03 shape unless ``version`` says later)."""
        ds = self.ws.data_sources.get(page.ds_id) if page.ds_id else None
        out: dict[str, Any] = {
            "object": "page", "id": page.id,
            "created_time": minute_z(page.created), "last_edited_time": minute_z(page.edited),
            "created_by": {"object": "user", "id": page.created_by},
            "last_edited_by": {"object": "user", "id": page.edited_by},
            "cover": self._media_out(page.cover), "icon": self._media_out(page.icon),
            "parent": page_parent(self, page),
        }
        if version < "2026-03-11":
            out["archived"] = page.in_trash
        out["in_trash"] = page.in_trash
        if version >= "2026-03-11":
            out["is_archived"] = False
            out["is_locked"] = False
        out["properties"] = render_properties(self, page, ds, only)
        slug = _slug(page_title(self, page))
        hex_id = page.id.replace("-", "")
        out["url"] = f"https://www.notion.so/{slug + '-' if slug else ''}{hex_id}"
        out["public_url"] = None
        return out

    def _media_in(self, raw: Any, path: str) -> Any:
        """An icon or cover from a request: emoji, external URL or file upload."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise invalid(f"body failed validation: {path} should be an object or `null`, "
                          f"instead was `{short_json(raw)}`.")
        if raw.get("type") == "emoji" or "emoji" in raw:
            if not isinstance(raw.get("emoji"), str):
                raise invalid(f"body failed validation: {path}.emoji should be a string, "
                              f"instead was `{short_json(raw.get('emoji'))}`.")
            return {"type": "emoji", "emoji": raw["emoji"]}
        return parse_file(self, raw, path, need_name=False)

    def _media_out(self, stored: Any) -> Any:
        if stored is None or isinstance(stored, dict):
            return stored
        rendered = render_file(self, stored)
        rendered.pop("name")
        return rendered

    def _upload_object(self, upload: FileUpload) -> dict[str, Any]:
        status = upload.current_status(self.now())
        out: dict[str, Any] = {
            "object": "file_upload", "id": upload.id,
            "created_time": minute_z(upload.created),
            "created_by": {"id": self.bot_id, "type": "bot"},
            "last_edited_time": minute_z(upload.edited),
            "expiry_time": None if upload.attached else minute_z(upload.expiry),
        }
        if status == "pending":
            out["upload_url"] = f"{self._base_url()}/v1/file_uploads/{upload.id}/send"
        out.update({"archived": False, "status": status, "filename": upload.filename,
                    "content_type": upload.content_type,
                    "content_length": upload.content_length})
        return out

    def _base_url(self) -> str:
        """The emulator's URL (upload and next URLs point back at it), even before start()."""
        try:
            return self.emulator.url
        except RuntimeError:
            return "http://127.0.0.1"

    # -- databases and data sources --------------------------------------------

    def _retrieve_database(self, request: Request) -> dict[str, Any]:
        db = self.ws.database(parse_id(request.params["database_id"], "path.database_id"))
        return database_object(self, db, self._version(request))

    def _create_database(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        parent = body.get("parent")
        if not isinstance(parent, dict) or "page_id" not in parent:
            raise invalid("body failed validation: body.parent.page_id should be defined, "
                          f"instead was `{short_json(parent)}`.")
        parent_page = self._live_page(parse_id(parent["page_id"], "body.parent.page_id"))
        title = parse_title(self, body.get("title"), "body.title")
        initial = body.get("initial_data_source", {"properties": {"Name": {"title": {}}}})
        if not isinstance(initial, dict) or not isinstance(initial.get("properties"), dict):
            raise invalid("body failed validation: body.initial_data_source.properties should "
                          f"be an object, instead was `{short_json(initial)}`.")
        db, _ds = self.create_database(parent_page.id, title, initial["properties"],
                                      "body.initial_data_source.properties")
        db.is_inline = bool(body.get("is_inline", False))
        db.icon = self._media_in(body.get("icon"), "body.icon")
        db.cover = self._media_in(body.get("cover"), "body.cover")
        if body.get("description") is not None:
            db.description = parse_title(self, body["description"], "body.description")
        return database_object(self, db, self._version(request))

    def create_database(self, parent_page_id: str, title: list[dict[str, Any]],
                        properties: Mapping[str, Any],
                        path: str = "properties") -> tuple[Database, DataSource]:
        """A database with one data source under a page (also used by the seeding)."""
        now = self.now()
        db = Database(self.new_id(), title, parent_page_id, now, self.bot_id)
        ds = DataSource(self.new_id(), db.id, title, now, self.bot_id)
        # Relations first need only other data sources; rollups need this one's relations.
        ordered = sorted(properties.items(), key=lambda kv: _type_key(kv[1]) == "rollup")
        titles = [name for name, raw in ordered if _type_key(raw) == "title"]
        if len(titles) != 1:
            raise invalid("body failed validation: a data source needs exactly one title "
                          f"property, instead had `{len(titles)}`.")
        for name, raw in ordered:
            ds.add_property(new_property(self, ds, name, raw, f"{path}.{name}"))
        position = {name: n for n, name in enumerate(properties)}
        ds.properties = dict(sorted(ds.properties.items(), key=lambda kv: position[kv[0]]))
        db.data_source_ids.append(ds.id)
        self.ws.databases[db.id] = db
        self.ws.data_sources[ds.id] = ds
        self.ws.pages[parent_page_id].children.append(db.id)
        return db, ds

    def _retrieve_data_source(self, request: Request) -> dict[str, Any]:
        ds = self._data_source(request.params["data_source_id"])
        return data_source_object(self, ds, self._version(request))

    def _update_data_source(self, request: Request) -> dict[str, Any]:
        ds = self._data_source(request.params["data_source_id"])
        body = self._body(request)
        if "properties" in body:
            apply_schema_update(self, ds, body["properties"], "body.properties")
        if "title" in body:
            ds.title = parse_title(self, body["title"], "body.title")
        if "description" in body:
            ds.description = parse_title(self, body["description"], "body.description")
        if "icon" in body:
            ds.icon = self._media_in(body["icon"], "body.icon")
        trash = self._trash_flag(body, request)
        if trash is not None:
            ds.in_trash = trash
            ds.version += 1
        ds.edited = self.now()
        ds.edited_by = self.bot_id
        return data_source_object(self, ds, self._version(request))

    def _trash_flag(self, body: dict[str, Any], request: Request) -> bool | None:
        if "archived" in body and self._version(request) >= "2026-03-11":
            raise invalid("body failed validation: body.archived should be not present, "
                          "instead was "
                          f"`{short_json(body['archived'])}`. Use in_trash.")
        flag = body.get("in_trash", body.get("archived"))
        if flag is not None and not isinstance(flag, bool):
            raise invalid(f"body failed validation: body.in_trash should be a boolean, "
                          f"instead was `{short_json(flag)}`.")
        return flag

    # -- queries -----------------------------------------------------------------

    def _query(self, request: Request) -> Response:
        ds = self._data_source(request.params["data_source_id"], live=True)
        body = self._body(request)
        only = self._filter_properties(request, ds)
        size = self._page_size(body.get("page_size"), "body.page_size")
        cursor = body.get("start_cursor")
        if cursor is not None:
            cursor = parse_id(cursor, "body.start_cursor")
        result_type = body.get("result_type")
        if result_type not in (None, "page", "data_source"):
            raise invalid("body failed validation: body.result_type should be `\"page\"` or "
                          f"`\"data_source\"`, instead was `{short_json(result_type)}`.")
        spec = compile_query(self, ds, body)
        entry = self.queries.order(self, ds, spec)
        ids, next_cursor, incomplete = slice_order(entry, cursor, size,
                                                   self.limits.notion_query_cap)
        if result_type == "data_source":  # a data source holds pages only
            ids, next_cursor, incomplete = [], None, False
        version = self._version(request)
        pages = self.ws.pages
        results = [self.page_object(pages[i], version, only) for i in ids]
        answer: dict[str, Any] = {
            "object": "list", "results": results, "next_cursor": next_cursor,
            "has_more": next_cursor is not None, "type": "page_or_data_source",
            "page_or_data_source": {},
        }
        if incomplete:
            answer["request_status"] = {"type": "incomplete",
                                        "incomplete_reason": "query_result_limit_reached"}
        answer["request_id"] = _request_id()
        # Encoded here: the hot path of paging through big tables.
        return Response(200, json.dumps(answer, ensure_ascii=False, separators=(",", ":"),
                                        check_circular=False).encode())

    def _search(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        size = self._page_size(body.get("page_size"), "body.page_size")
        return search(self, body, self._version(request), size)

    # -- pages ---------------------------------------------------------------------

    def _live_page(self, page_id: str) -> Page:
        page = self.ws.page(page_id)
        if page.in_trash:
            raise _archived()
        return page

    def _parse_properties(self, ds: DataSource, raw: Any, path: str,
                          parse: Callable[..., Any] = parse_write) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise invalid(f"body failed validation: {path} should be an object, instead was "
                          f"`{short_json(raw)}`.")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            prop = ds.lookup(key)
            if prop is None:
                raise invalid(f"{key} is not a property that exists.")
            values[prop.id] = parse(self, ds, prop, value, f"{path}.{key}")
        return values

    def _create_page(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise invalid("body failed validation: body.parent should be an object, instead "
                          f"was `{short_json(parent)}`.")
        pending = validate_blocks(self, body["children"], "body.children") \
            if body.get("children") is not None else []
        icon = self._media_in(body.get("icon"), "body.icon")
        cover = self._media_in(body.get("cover"), "body.cover")
        properties = body.get("properties", {})
        if "data_source_id" in parent or "database_id" in parent:
            ds = self._parent_data_source(parent)
            page = self._insert_row(ds, self._parse_properties(ds, properties,
                                                               "body.properties"))
        elif "page_id" in parent:
            above = self._live_page(parse_id(parent["page_id"], "body.parent.page_id"))
            page = self._insert_subpage(above, properties)
        else:
            raise invalid("body failed validation: body.parent should define data_source_id, "
                          f"database_id or page_id, instead was `{short_json(parent)}`.")
        page.icon, page.cover = icon, cover
        if pending:
            append_blocks(self, page, pending)
        return self.page_object(page, self._version(request))

    def _parent_data_source(self, parent: dict[str, Any]) -> DataSource:
        if "data_source_id" in parent:
            return self._data_source(parent["data_source_id"], "body.parent.data_source_id",
                                     live=True)
        db = self.ws.database(parse_id(parent["database_id"], "body.parent.database_id"))
        if len(db.data_source_ids) != 1:
            raise invalid(f"Database {db.id} has {len(db.data_source_ids)} data sources; "
                          "create the page with a data_source_id parent.")
        return self._data_source(db.data_source_ids[0], live=True)

    def _insert_row(self, ds: DataSource, values: dict[str, Any],
                    created: dt.datetime | None = None) -> Page:
        when = created or self.now()
        page = Page(self.new_id(), when, self.bot_id, ds_id=ds.id, seq=self.ws.next_seq())
        page.values = values
        for prop in ds.properties.values():
            if prop.type == "status" and prop.id not in values:
                # Like Notion: a new page starts at the status's default (first to-do) option.
                todo: list[str] = next(
                    (g["option_ids"] for g in prop.groups if g["name"] == "To-do"), [])
                values[prop.id] = todo[0] if todo else None
            elif prop.type == "unique_id":
                number = ds.next_unique.get(prop.id, 0) + 1
                ds.next_unique[prop.id] = number
                page.values[prop.id] = number
        self.ws.pages[page.id] = page
        ds.page_ids.append(page.id)
        ds.version += 1
        return page

    def _insert_subpage(self, above: Page, properties: Any) -> Page:
        title = self._subpage_title(properties)
        page = Page(self.new_id(), self.now(), self.bot_id, parent_type="page_id",
                    parent_id=above.id, seq=self.ws.next_seq())
        page.values["title"] = title
        self.ws.pages[page.id] = page
        above.children.append(page.id)
        return page

    def _retrieve_page(self, request: Request) -> dict[str, Any]:
        page = self.ws.page(parse_id(request.params["page_id"], "path.page_id"))
        ds = self.ws.data_sources.get(page.ds_id) if page.ds_id else None
        return self.page_object(page, self._version(request),
                                self._filter_properties(request, ds))

    def _update_page(self, request: Request) -> dict[str, Any]:
        page = self.ws.page(parse_id(request.params["page_id"], "path.page_id"))
        body = self._body(request)
        trash = self._trash_flag(body, request)
        edits = [k for k in ("properties", "icon", "cover") if k in body]
        if page.in_trash and trash is not False and edits:
            raise _archived()
        values: dict[str, Any] = {}
        if "properties" in body:
            if page.ds_id is not None:
                values = self._parse_properties(self.ws.data_sources[page.ds_id],
                                                body["properties"], "body.properties")
            else:
                values = {"title": self._subpage_title(body["properties"])}
        icon = self._media_in(body["icon"], "body.icon") if "icon" in body else page.icon
        cover = self._media_in(body["cover"], "body.cover") if "cover" in body else page.cover
        page.values.update(values)
        page.icon, page.cover = icon, cover
        if trash is not None:
            page.in_trash = trash
        self.ws.touch(page, self.now(), self.bot_id)
        return self.page_object(page, self._version(request))

    def _subpage_title(self, properties: Any) -> Any:
        """The stored title of a page under a page: its only property is ``title``."""
        if not isinstance(properties, dict):
            raise invalid("body failed validation: body.properties should be an object, "
                          f"instead was `{short_json(properties)}`.")
        for key in properties:
            if key != "title":
                raise invalid(f"{key} is not a property that exists.")
        raw = properties.get("title", {"title": []})
        return parse_rich_text(self, raw.get("title") if isinstance(raw, dict) else raw,
                               "body.properties.title.title")

    def _page_property(self, request: Request) -> dict[str, Any]:
        page = self.ws.page(parse_id(request.params["page_id"], "path.page_id"))
        key = request.params["property_id"]
        ds = self.ws.data_sources.get(page.ds_id) if page.ds_id else None
        prop: PropertySchema | None = None
        if ds is not None:
            prop = ds.property_by_id(key)
            if prop is None:
                raise NotionError(404, "object_not_found",
                                  f"Could not find property with ID: {key}.")
        elif key != "title":
            raise NotionError(404, "object_not_found", f"Could not find property with ID: {key}.")
        items, head = property_item(self, page, ds, prop)
        if prop is not None and prop.type not in LIST_ITEM_TYPES:
            return head
        size = self._page_size(request.arg("page_size"), "query.page_size")
        start = _decode_offset(request.arg("start_cursor"))
        chunk = items[start:start + size]
        more = start + size < len(items)
        next_cursor = _encode_offset(start + size) if more else None
        if next_cursor is not None:
            head["next_url"] = (f"{self._base_url()}/v1/pages/{page.id.replace('-', '')}"
                                f"/properties/{head['id']}?start_cursor={next_cursor}"
                                f"&page_size={size}")
        return {"object": "list", "results": chunk, "next_cursor": next_cursor,
                "has_more": more, "type": "property_item", "property_item": head}

    # -- blocks ----------------------------------------------------------------------

    def _container(self, raw_id: str) -> Page | Block | Database:
        object_id = parse_id(raw_id, "path.block_id")
        found: Page | Block | Database | None = (
            self.ws.blocks.get(object_id) or self.ws.pages.get(object_id)
            or self.ws.databases.get(object_id))
        if found is None:
            raise not_found("block", object_id)
        return found

    def _retrieve_block(self, request: Request) -> dict[str, Any]:
        found = self._container(request.params["block_id"])
        return block_object(self, found.id, self._version(request))

    def _delete_block(self, request: Request) -> dict[str, Any]:
        found = self._container(request.params["block_id"])
        if found.in_trash:
            raise _archived()
        found.in_trash = True
        if isinstance(found, Page):
            self.ws.touch(found, self.now(), self.bot_id)
        else:
            found.edited = self.now()
            found.edited_by = self.bot_id
        if isinstance(found, Database):
            for ds_id in found.data_source_ids:
                self.ws.data_sources[ds_id].in_trash = True
        return block_object(self, found.id, self._version(request))

    def _list_children(self, request: Request) -> dict[str, Any]:
        found = self._container(request.params["block_id"])
        size = self._page_size(request.arg("page_size"), "query.page_size")
        children = child_ids(self, found.children) if not isinstance(found, Database) else []
        start = 0
        cursor = request.arg("start_cursor")
        if cursor:
            cursor = parse_id(cursor, "query.start_cursor")
            if cursor not in children:
                raise invalid(f"start_cursor provided is invalid: {cursor}")
            start = children.index(cursor)
        chunk = children[start:start + size]
        more = start + size < len(children)
        version = self._version(request)
        return {"object": "list",
                "results": [block_object(self, i, version) for i in chunk],
                "next_cursor": children[start + size] if more else None, "has_more": more,
                "type": "block", "block": {}}

    def _append_children(self, request: Request) -> dict[str, Any]:
        found = self._container(request.params["block_id"])
        if isinstance(found, Database):
            raise invalid(f"Block type child_database does not support children ({found.id}).")
        if found.in_trash:
            raise _archived()
        body = self._body(request)
        if "children" not in body:
            raise invalid("body failed validation: body.children should be defined, instead "
                          "was `undefined`.")
        parent_type = found.type if isinstance(found, Block) else None
        if isinstance(found, Block) and not takes_children(found.type, found.data):
            raise invalid(f"Block type {found.type} does not support children.")
        pending = validate_blocks(self, body["children"], "body.children", parent_type)
        if isinstance(found, Block) and found.type == "table":
            width = found.data["table_width"]
            for n, row in enumerate(pending):
                if len(row.data["cells"]) != width:
                    raise invalid(f"body failed validation: body.children[{n}].table_row.cells"
                                  f".length should be `{width}` (table_width), instead was "
                                  f"`{len(row.data['cells'])}`.")
        after = self._after(found, body)
        made = append_blocks(self, found, pending, after)
        now = self.now()
        if isinstance(found, Page):
            self.ws.touch(found, now, self.bot_id)
        else:
            found.edited, found.edited_by = now, self.bot_id
        version = self._version(request)
        return {"object": "list", "results": [block_object(self, b.id, version) for b in made],
                "next_cursor": None, "has_more": False, "type": "block", "block": {}}

    def _after(self, parent: Page | Block, body: dict[str, Any]) -> str | None:
        after = body.get("after")
        position = body.get("position")
        if isinstance(position, dict):
            if position.get("type") == "start":
                return ""  # an id no child has: insert before the first
            if position.get("type") == "after_block":
                after = (position.get("after_block") or {}).get("id")
        if after is None:
            return None
        after = parse_id(after, "body.after")
        if after not in parent.children:
            raise invalid(f"body failed validation: body.after should be a child of "
                          f"{parent.id}, instead was `{short_json(after)}`.")
        return after

    # -- users ---------------------------------------------------------------------------

    def _list_users(self, request: Request) -> dict[str, Any]:
        size = self._page_size(request.arg("page_size"), "query.page_size")
        ids = list(self.ws.users)
        start = 0
        cursor = request.arg("start_cursor")
        if cursor:
            cursor = parse_id(cursor, "query.start_cursor")
            if cursor not in self.ws.users:
                raise invalid(f"start_cursor provided is invalid: {cursor}")
            start = ids.index(cursor)
        chunk = ids[start:start + size]
        more = start + size < len(ids)
        return {"object": "list", "results": [self._user_json(i) for i in chunk],
                "next_cursor": ids[start + size] if more else None, "has_more": more,
                "type": "user", "user": {}}

    def _user_json(self, user_id: str) -> dict[str, Any]:
        return dict(self.ws.users[user_id].obj)

    def _retrieve_user(self, request: Request) -> dict[str, Any]:
        user = self.ws.user(parse_id(request.params["user_id"], "path.user_id"))
        return self._user_json(user.id)

    def _me(self, request: Request) -> dict[str, Any]:
        me = self._user_json(self.bot_id)
        me["bot"] = {"owner": {"type": "workspace", "workspace": True},
                     "workspace_name": WORKSPACE_NAME,
                     "workspace_limits": {"max_file_upload_size_in_bytes": 5 * 1024 ** 3}}
        return me

    # -- file uploads ------------------------------------------------------------------

    def _upload(self, raw_id: str) -> FileUpload:
        upload_id = parse_id(raw_id, "path.file_upload_id")
        upload = self.ws.file_uploads.get(upload_id)
        if upload is None:
            raise not_found("file_upload", upload_id)
        return upload

    def _create_upload(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        mode = body.get("mode", "single_part")
        if mode != "single_part":
            raise invalid(f"body failed validation: body.mode should be `\"single_part\"` "
                          f"(the emulator keeps only single-part uploads), instead was "
                          f"`{short_json(mode)}`.")
        filename, content_type = body.get("filename"), body.get("content_type")
        for key, value in (("filename", filename), ("content_type", content_type)):
            if value is not None and not isinstance(value, str):
                raise invalid(f"body failed validation: body.{key} should be a string, "
                              f"instead was `{short_json(value)}`.")
        if filename is not None and len(filename.encode()) > FILENAME_MAX:
            raise invalid(f"body failed validation: body.filename.length should be ≤ "
                          f"`{FILENAME_MAX}`, instead was `{len(filename.encode())}`.")
        upload = FileUpload(self.new_id(), self.now(), filename, content_type, mode)
        self.ws.file_uploads[upload.id] = upload
        return self._upload_object(upload)

    def _send_upload(self, request: Request) -> dict[str, Any]:
        upload = self._upload(request.params["file_upload_id"])
        status = upload.current_status(self.now())
        if status == "uploaded":
            raise NotionError(409, "conflict_error",
                              f"File upload {upload.id} is already uploaded; create a new "
                              "file upload to send another file.")
        if status != "pending":
            raise invalid(f"File upload {upload.id} is {status} and cannot receive a file.")
        filename, content_type, content = _multipart_file(request)
        if len(content) > SINGLE_PART_MAX:
            raise invalid(f"body failed validation: body.file.size should be ≤ "
                          f"`{SINGLE_PART_MAX}` for a single_part upload, instead was "
                          f"`{len(content)}`.")
        upload.filename = upload.filename or filename
        upload.content_type = upload.content_type or content_type or (
            mimetypes.guess_type(upload.filename or "")[0] or "application/octet-stream")
        upload.content = content
        upload.content_length = len(content)
        upload.status = "uploaded"
        upload.edited = self.now()
        return self._upload_object(upload)

    def _retrieve_upload(self, request: Request) -> dict[str, Any]:
        return self._upload_object(self._upload(request.params["file_upload_id"]))

    def _download(self, request: Request) -> Response:
        upload = self.ws.file_uploads.get(parse_id(request.params["file_upload_id"],
                                                   "path.file_upload_id"))
        if upload is None or upload.status != "uploaded":
            return Response(404, b"", {"Content-Type": "text/plain"})
        return Response(200, upload.content,
                        {"Content-Type": upload.content_type or "application/octet-stream"})

    # -- direct state helpers (Python, no HTTP) -------------------------------------------

    def create_data_source_rows(
        self, ds_id: str, rows: Iterable[Mapping[str, Any]], *,
        created_time: dt.datetime | Sequence[dt.datetime] | None = None,
    ) -> list[str]:
        """Add many rows at once and return their page ids, in order.

        Each row maps property names (or ids) to a plain value (``"text"``,
        ``3``, ``True``, ``date(2026, 1, 5)``, an option name, a user or page
        id or a list of them, ``None``) or to a request-shaped value
        (``{"select": {"name": "High"}}``); both are validated as a write.
        ``created_time`` stamps every row (one datetime) or each row (a
        sequence); the default is the clock's now. Rate limits do not apply.
        """
        with self.emulator.lock, _python_errors():
            ds = self.ws.data_source(parse_id(ds_id, "data_source_id"))
            made: list[str] = []
            for n, row in enumerate(rows):
                values = self._parse_properties(ds, row, f"rows[{n}]", coerce_plain)
                when = created_time[n] if isinstance(created_time, Sequence) else created_time
                made.append(self._insert_row(ds, values, when).id)
            return made

    def edit_page(self, page_id: str, values: Mapping[str, Any], *,
                  when: dt.datetime | None = None) -> None:
        """Change some properties of a row (plain or request-shaped values, as above).

        Bumps ``last_edited_time`` to ``when`` (default: the clock's now).
        """
        with self.emulator.lock, _python_errors():
            page = self.ws.page(parse_id(page_id, "page_id"))
            if page.ds_id is None:
                page.values["title"] = coerce_plain(
                    self, None, PropertySchema("title", "title", "title"),
                    values.get("title", ""), "values.title")
            else:
                ds = self.ws.data_sources[page.ds_id]
                page.values.update(self._parse_properties(ds, values, "values", coerce_plain))
            self.ws.touch(page, when or self.now(), self.bot_id)

    def trash_page(self, page_id: str, trashed: bool = True) -> None:
        """Move a page to the trash (or back), bumping ``last_edited_time``."""
        with self.emulator.lock, _python_errors():
            page = self.ws.page(parse_id(page_id, "page_id"))
            page.in_trash = trashed
            self.ws.touch(page, self.now(), self.bot_id)

    def rename_property(self, ds_id: str, old_name: str, new_name: str) -> None:
        """Rename a property (its id stays), as a user would in the Notion UI."""
        with self.emulator.lock, _python_errors():
            ds = self.ws.data_source(parse_id(ds_id, "data_source_id"))
            prop = ds.lookup(old_name)
            if prop is None:
                raise KeyError(old_name)
            if new_name in ds.properties:
                raise ValueError(f"{ds.id} already has a property named {new_name!r}")
            ds.rename_property(prop, new_name)

    def add_person(self, name: str, email: str) -> str:
        """A workspace member (a person user); returns the user id."""
        with self.emulator.lock:
            user = User(self.new_id(), name, "person", email)
            self.ws.users[user.id] = user
            return user.id

    def add_blocks_as(self, user_id: str, parent_id: str, children: list[dict[str, Any]], *,
                      after: str | None = None) -> list[str]:
        """A person appends blocks (request-shaped, validated as an append) to a page or
        block, ``after`` a child or at the end; returns the new top-level block ids."""
        with self.emulator.lock, _python_errors():
            self.ws.user(parse_id(user_id, "user_id"))
            parent = self._container(parent_id)
            if isinstance(parent, Database):
                raise invalid("a database holds no blocks")
            parent_type = parent.type if isinstance(parent, Block) else None
            pending = validate_blocks(self, children, "children", parent_type)
            made = append_blocks(self, parent, pending,
                                 parse_id(after, "after") if after else None, author=user_id)
            if isinstance(parent, Page):
                self.ws.touch(parent, self.now(), user_id)
            return [b.id for b in made]

    def block_tree(self, block_id: str, *, include_trashed: bool = False
                   ) -> list[dict[str, Any]]:
        """The live children of a page or block as the API answers them, each with its
        own live ``children`` listed under ``"children"`` (a copy)."""
        with self.emulator.lock, _python_errors():
            found = self._container(block_id)

            def tree(ids: list[str]) -> list[dict[str, Any]]:
                out = []
                for child in ids:
                    thing: Any = (self.ws.blocks.get(child) or self.ws.pages.get(child)
                                  or self.ws.databases.get(child))
                    if thing is None or (thing.in_trash and not include_trashed):
                        continue
                    answer = block_object(self, child, VERSIONS[0])
                    if isinstance(thing, Block):
                        answer["children"] = tree(thing.children)
                    out.append(answer)
                return out

            children = [] if isinstance(found, Database) else found.children
            copied: list[dict[str, Any]] = json.loads(json.dumps(tree(children)))
            return copied

    def child_pages(self, page_id: str, *, include_trashed: bool = False
                    ) -> list[dict[str, Any]]:
        """The pages directly under a page, as page objects (creation order, a copy)."""
        with self.emulator.lock, _python_errors():
            parent = self.ws.page(parse_id(page_id, "page_id"))
            pages = [self.ws.pages[c] for c in parent.children if c in self.ws.pages]
            rows = [self.page_object(p) for p in pages if include_trashed or not p.in_trash]
            copied: list[dict[str, Any]] = json.loads(json.dumps(rows))
            return copied

    def pages(self, ds_id: str, *, include_trashed: bool = False) -> list[dict[str, Any]]:
        """Every row of a data source as the API would answer it (creation order, a copy)."""
        with self.emulator.lock, _python_errors():
            ds = self.ws.data_source(parse_id(ds_id, "data_source_id"))
            rows = [self.page_object(p) for p in self.ws.ds_pages(ds)
                    if include_trashed or not p.in_trash]
            copied: list[dict[str, Any]] = json.loads(json.dumps(rows))
            return copied


# ---------------------------------------------------------------------------
# Module helpers


@contextlib.contextmanager
def _python_errors() -> Iterator[None]:
    """Direct helpers raise Python errors: KeyError for a missing object, else ValueError."""
    try:
        yield
    except NotionError as exc:
        if exc.status == 404:
            raise KeyError(exc.message) from None
        raise ValueError(exc.message) from None


def _request_id() -> str:
    return str(uuid.uuid4())


def _archived() -> NotionError:
    return invalid("Can't edit block that is archived. You must unarchive the block before "
                   "editing.")


def _type_key(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    declared = raw.get("type")
    if isinstance(declared, str):
        return declared
    return next((k for k in raw if k not in ("name", "description", "id")), None)


def _slug(title: str) -> str:
    words = re.sub(r"[^\w\s-]", "", title).split()
    return "-".join(words)


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("o:") and text[2:].isdigit():
            return int(text[2:])
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise invalid(f"start_cursor provided is invalid: {cursor}")


def _multipart_file(request: Request) -> tuple[str | None, str | None, bytes]:
    """The ``file`` field of a multipart/form-data body: (filename, content type, bytes)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise invalid("body failed validation: the body should be multipart/form-data with a "
                      f"`file` field, instead the content type was `{content_type}`.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            part_type = part.get_content_type() if part.get("content-type") else None
            return part.get_filename(), part_type, payload if isinstance(payload, bytes) else b""
    raise invalid("body failed validation: body.file should be defined, instead was "
                  "`undefined`.")
