"""The emulated Airtable Web API (v0): routes, request parsing, sample seeding, test helpers.

Routes (the names fault rules match on)::

    GET    /v0/meta/bases                                   airtable.meta.bases
    GET    /v0/meta/whoami                                  airtable.meta.whoami
    GET    /v0/meta/bases/{baseId}/tables                   airtable.meta.schema
    POST   /v0/meta/bases/{baseId}/tables                   airtable.meta.tables.create
    POST   /v0/meta/bases/{baseId}/tables/{table}/fields    airtable.meta.fields.create
    PATCH  /v0/meta/bases/{baseId}/tables/{table}/fields/{field}  airtable.meta.fields.update
    GET    /v0/{baseId}/{table}                             airtable.records.list
    POST   /v0/{baseId}/{table}/listRecords                 airtable.records.list
    GET    /v0/{baseId}/{table}/{recordId}                  airtable.records.get
    POST   /v0/{baseId}/{table}                             airtable.records.create
    PATCH  /v0/{baseId}/{table}[/{recordId}]  (and PUT)     airtable.records.update
    DELETE /v0/{baseId}/{table}[/{recordId}]                airtable.records.delete
    POST   /v0/{baseId}/{recordId}/{field}/uploadAttachment airtable.attachments.upload

Scopes: the token's :attr:`AirtableService.token_scopes` (by default
``data.records:read``, ``data.records:write``, ``schema.bases:read``,
``schema.bases:write``); a route needing a scope the token lacks answers 403
``INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND``, the answer Airtable gives (it does
not say which scope is missing). ``whoami`` lists the token's scopes, as it
does for OAuth access tokens; with :attr:`AirtableService.whoami_lists_scopes`
False it answers without them (a token whose scopes a client cannot read
up front, and only learns from a refused request).

Behaviour the real API has and the emulator keeps: errors in Airtable's
shapes and types (see :mod:`~leadsync.emulator.airtable_errors`); empty
cells omitted; record times in whole seconds; pages of at most 100 behind
``itr…/rec…`` offsets that expire after ``Limits.airtable_offset_ttl_seconds``
idle (or when the fault plan says ``expire_offset``) with 422
``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``; URLs of 16,000 characters or more
refused with 414 (pyairtable switches to ``POST …/listRecords`` first); at
most 10 records a write, and a batch rejected whole when one record is bad;
``typecast``; ``returnFieldsByFieldId``; upserts; a link field's inverse
field kept in step; a monthly call quota (:attr:`AirtableService.quota_remaining`)
answering 429 ``PUBLIC_API_BILLING_LIMIT_EXCEEDED`` once spent (data routes
only: the metadata routes kept answering when a real quota ran out).

Choices where Airtable's behaviour is unpublished, and known deviations:

- views never filter or reorder: every view is the whole table in creation order;
- an offset resumes after the record it names, so asking again for the same
  offset gives the same page; records deleted meanwhile are skipped;
- writing a cell's current value is no edit (lastModifiedTime stays); linking
  or unlinking a record stamps the linked record too (its inverse field changed);
  deleting a record drops it from other records' links without stamping them;
- ``cellFormat=string`` renders simple strings of our own (Airtable says not
  to rely on its format); ``timeZone`` only matters there;
- attachments written by URL are not downloaded (size 0, no thumbnails); the
  ``uploadAttachment`` route is served here, but pyairtable's
  ``Table.upload_attachment`` cannot reach it (it forces the host
  ``content.airtable.com``): call the route with ``requests``/``httpx``;
- errors without a public sample have our own type or wording: several
  upsert matches (422 ``INVALID_RECORDS``), too long a URL (414 ``URL_TOO_LONG``;
  only the status is on record), duplicate table names (422
  ``DUPLICATE_TABLE_NAME``), a bad list parameter (422 ``INVALID_REQUEST_UNKNOWN``
  with the documented message and our detail after it). More than 10 records
  is 422 ``INVALID_RECORDS`` as pyairtable's maintainer saw it (pyairtable #144).
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from leadsync.emulator.airtable_errors import (
    AirtableError,
    bad_request,
    base_not_found,
    not_found,
    record_not_found,
    table_not_found,
    unknown_field,
)
from leadsync.emulator.airtable_formula import FormulaSyntaxError, compile_formula
from leadsync.emulator.airtable_model import Base, Field, Record, Table
from leadsync.emulator.airtable_records import (
    Iterators,
    commit_context,
    create_records,
    delete_records,
    existing,
    prepare,
    select,
    too_many,
    update_record,
    upsert_plan,
)
from leadsync.emulator.airtable_schema import add_field, new_table, rename_field
from leadsync.emulator.airtable_values import (
    CellReader,
    WriteContext,
    attachment_from_bytes,
    is_empty,
    iso,
)
from leadsync.emulator.core import (
    Host,
    InvalidUnicode,
    Request,
    Response,
    Router,
    TokenBucket,
    check_unicode,
    retry_after_header,
)
from leadsync.emulator.sample import LAYOUT, FieldSpec, SampleOrg, TableLayout
from leadsync.tables import TABLES

__all__ = ["AirtableService"]

_BASE_IN_PATH = re.compile(r"^/v0/(?:meta/bases/)?(app[A-Za-z0-9]{14})(?:/|$)")
_BASE_ID = re.compile(r"app[A-Za-z0-9]{14}")
_SORT_PARAM = re.compile(r"^sort\[(\d+)\]\[(field|direction)\]$")

#: The token's own user: who creates and edits records through the API.
API_USER = {"id": "usrLeadsyncEmuApi", "email": "api@leadsync.invalid",
            "name": "Leadsync Emulator"}

#: Largest file ``uploadAttachment`` takes (AT-docs: 5 MB).
UPLOAD_MAX_BYTES = 5 * 1024 * 1024

Handler = Callable[[Request], Response]

#: The scopes a personal access token can be given (the ones leadsync uses).
SCOPES = frozenset({"data.records:read", "data.records:write", "schema.bases:read",
                    "schema.bases:write"})
#: The scope each route needs (routes not named need none).
_NEEDS: dict[str, str] = {
    "airtable.meta.bases": "schema.bases:read",
    "airtable.meta.schema": "schema.bases:read",
    "airtable.meta.tables.create": "schema.bases:write",
    "airtable.meta.fields.create": "schema.bases:write",
    "airtable.meta.fields.update": "schema.bases:write",
    "airtable.records.list": "data.records:read",
    "airtable.records.get": "data.records:read",
    "airtable.records.create": "data.records:write",
    "airtable.records.update": "data.records:write",
    "airtable.records.delete": "data.records:write",
    "airtable.attachments.upload": "data.records:write",
}


@dataclass
class _ListParams:
    page_size: int
    max_records: int | None = None
    offset: str | None = None
    view: str | None = None
    fields: list[str] | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    formula: str | None = None
    cell_format: str = "json"
    time_zone: str | None = None
    user_locale: str | None = None
    by_id: bool = False
    comment_count: bool = False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _flag(value: Any) -> bool:
    """``returnFieldsByFieldId`` and friends: ``1``/``true`` or ``0``/``false``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "0", "false", ""):
        return value.lower() in ("1", "true")
    raise bad_request("Boolean parameters take true/false or 1/0.")


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f"{name} must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise bad_request(f"{name} must be an integer.")


class AirtableService:
    """Airtable's REST API under ``/v0``: the state of one account and its routes.

    State helpers for tests and the demo (Python, not HTTP; each takes the
    emulator lock): :meth:`add_user`, :meth:`create_base`, :meth:`create_table`,
    :meth:`add_field`, :meth:`insert_records`, :meth:`edit_record`,
    :meth:`delete_records`, :meth:`rename_field`, :meth:`get_records`,
    :meth:`table`. After :meth:`seed_sample`: :attr:`sample_base_id`,
    :attr:`sample_table_ids`, :attr:`member_record_ids`,
    :attr:`member_user_ids`, :attr:`record_for`.
    """

    name = "airtable"
    prefix = "/v0"

    def __init__(self, emulator: Host):
        self.emulator = emulator
        self.router = Router()
        self.bases: dict[str, Base] = {}
        self.users: dict[str, dict[str, str]] = {API_USER["id"]: dict(API_USER)}
        #: Calls left this month on the data routes; None: no quota. At 0 every data
        #: call answers 429 PUBLIC_API_BILLING_LIMIT_EXCEEDED (never retry that).
        self.quota_remaining: int | None = None
        #: The token's scopes (see the module doc); a test takes some away.
        self.token_scopes: frozenset[str] = SCOPES
        #: Whether ``whoami`` lists the scopes (see the module doc).
        self.whoami_lists_scopes = True
        self.iterators = Iterators(emulator.seed)
        # Filled by seed_sample():
        self.sample_base_id: str = ""
        self.sample_table_ids: dict[str, str] = {}
        self.member_record_ids: dict[str, str] = {}
        self.member_user_ids: dict[str, str] = {}
        self.record_for: dict[str, dict[str, str]] = {}
        self._install_routes()

    # -- the server's interface ---------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.bearer() != self.emulator.airtable_token:
            return Response(401, {"error": {"type": "AUTHENTICATION_REQUIRED",
                                            "message": "Authentication required"}})
        return None

    def rate_key(self, request: Request) -> str | None:
        m = _BASE_IN_PATH.match(request.raw_path)
        return m.group(1) if m else None

    def limiter(self, key: str) -> TokenBucket | None:
        limits = self.emulator.limits
        return self.emulator.bucket("airtable", key, limits.airtable_rps, limits.airtable_burst,
                                    limits.airtable_penalty_seconds)

    def error(self, kind: Literal["rate_limited", "server_error", "not_found", "bad_json"],
              status: int, retry_after: float | None = None) -> Response:
        if kind == "rate_limited":
            body = {"error": {"type": "RATE_LIMIT_REACHED",
                              "message": "Rate limit exceeded. Please try again later"}}
            return Response(429, body, retry_after_header(retry_after or 30.0))
        if kind == "not_found":
            return Response(404, {"error": "NOT_FOUND"})
        if kind == "bad_json":
            return Response(422, {"error": {"type": "INVALID_REQUEST_BODY",
                                            "message": "Could not parse request body"}})
        return Response(status, {"error": {
            "type": "RETRIABLE_ERROR",
            "message": "Server encountered an error while processing your request, "
                       "and it is safe to retry the request",
        }})

    # -- routes -------------------------------------------------------------

    def _install_routes(self) -> None:
        meta = "/v0/meta/bases/{baseId}/tables"
        records = "/v0/{baseId}/{tableIdOrName}"
        # Meta routes first: "/v0/meta/bases" would also match the records pattern.
        self._add("GET", "/v0/meta/bases", "airtable.meta.bases", self._meta_bases, data=False)
        self._add("GET", "/v0/meta/whoami", "airtable.meta.whoami", self._whoami, data=False)
        self._add("GET", meta, "airtable.meta.schema", self._meta_schema, data=False)
        self._add("POST", meta, "airtable.meta.tables.create", self._meta_create_table,
                  data=False)
        self._add("POST", meta + "/{tableId}/fields", "airtable.meta.fields.create",
                  self._meta_create_field, data=False)
        self._add("PATCH", meta + "/{tableId}/fields/{fieldId}", "airtable.meta.fields.update",
                  self._meta_update_field, data=False)
        self._add("POST", "/v0/{baseId}/{recordId}/{fieldIdOrName}/uploadAttachment",
                  "airtable.attachments.upload", self._upload)
        self._add("POST", records + "/listRecords", "airtable.records.list", self._list)
        self._add("GET", records, "airtable.records.list", self._list)
        self._add("POST", records, "airtable.records.create", self._create)
        self._add("PATCH", records, "airtable.records.update", self._update)
        self._add("PUT", records, "airtable.records.update", self._update)
        self._add("DELETE", records, "airtable.records.delete", self._delete)
        self._add("GET", records + "/{recordId}", "airtable.records.get", self._get)
        self._add("PATCH", records + "/{recordId}", "airtable.records.update", self._update_one)
        self._add("PUT", records + "/{recordId}", "airtable.records.update", self._update_one)
        self._add("DELETE", records + "/{recordId}", "airtable.records.delete", self._delete_one)

    def _add(self, method: str, pattern: str, name: str, handler: Handler, *,
             data: bool = True) -> None:
        def wrapped(request: Request) -> Response:
            try:
                need = _NEEDS.get(name)
                if need is not None and need not in self.token_scopes:
                    raise base_not_found()  # Airtable's answer to a missing scope
                self._check_url(request)
                if data:
                    self._spend_quota()
                return handler(request)
            except AirtableError as exc:
                return exc.response()
        self.router.add(method, pattern, name, wrapped)

    def _check_url(self, request: Request) -> None:
        host = request.headers.get("host", "api.airtable.com")
        length = len(f"http://{host}{request.target}")
        limit = self.emulator.limits.airtable_url_max
        if length >= limit:
            # Airtable answers 414 (airtable.js #392); its body is not documented.
            raise AirtableError(
                414, "URL_TOO_LONG",
                f"The request URL is {length} characters long; the limit is {limit}. Send the "
                "list parameters in the body of POST /v0/{baseId}/{tableIdOrName}/listRecords.")

    def _spend_quota(self) -> None:
        if self.quota_remaining is None:
            return
        if self.quota_remaining <= 0:
            raise AirtableError(429, "PUBLIC_API_BILLING_LIMIT_EXCEEDED",
                                "API billing plan limit exceeded.")
        self.quota_remaining -= 1

    # -- lookups ------------------------------------------------------------

    def _base(self, base_id: str) -> Base:
        if not _BASE_ID.fullmatch(base_id):
            raise not_found()
        base = self.bases.get(base_id)
        if base is None:
            raise base_not_found()
        return base

    def _table_of(self, base: Base, key: str) -> Table:
        table = base.table(key)
        if table is None:
            raise table_not_found(key, base.id)
        return table

    def _target(self, request: Request) -> tuple[Base, Table]:
        base = self._base(request.params["baseId"])
        return base, self._table_of(base, request.params["tableIdOrName"])

    def _now(self) -> dt.datetime:
        """Record times have whole seconds (the recorded values end in ``.000Z``)."""
        return self.emulator.clock.now().astimezone(dt.UTC).replace(microsecond=0)

    def _new_id(self, prefix: str) -> str:
        return self.emulator.ids.airtable(prefix)

    def _reader(self, base: Base) -> CellReader:
        return CellReader(base, self.users, self._now)

    def _context(self, base: Base, table: Table, typecast: bool) -> WriteContext:
        return WriteContext(base, table, self.users, typecast, self._new_id)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.body:
            return {}
        try:
            data = json.loads(request.body, parse_constant=_reject_constant)
            check_unicode(data)
        except (UnicodeDecodeError, InvalidUnicode):
            # "400 Bad Request: The request encoding is invalid" (Airtable's errors page)
            raise AirtableError(400, "INVALID_REQUEST_BODY",
                                "Could not parse request body: invalid encoding") from None
        except ValueError:
            raise AirtableError(422, "INVALID_REQUEST_BODY",
                                "Could not parse request body") from None
        if not isinstance(data, dict):
            raise bad_request("The request body must be a JSON object.")
        return data

    # -- rendering ------------------------------------------------------------

    def _plan(self, reader: CellReader, table: Table, fields: list[Field], by_id: bool,
              zone: dt.tzinfo | None = None) -> Callable[[Record], dict[str, Any]]:
        """A function rendering a record with ``fields`` (``zone``: cellFormat=string)."""
        if zone is not None:
            def as_text(record: Record) -> dict[str, Any]:
                out: dict[str, Any] = {}
                for f in fields:
                    text = reader.text(table, record, f, zone)
                    if text:
                        out[f.id if by_id else f.name] = text
                return {"id": record.id, "createdTime": iso(record.created), "fields": out}
            return as_text
        plan = [(f.id if by_id else f.name, f.id, reader.renderer(table, f)) for f in fields]

        def render(record: Record) -> dict[str, Any]:
            out: dict[str, Any] = {}
            cells = record.cells
            for key, field_id, read in plan:
                value = cells.get(field_id) if read is None else read(record)
                if not is_empty(value):
                    out[key] = value
            return {"id": record.id, "createdTime": iso(record.created), "fields": out}
        return render

    def _render_all(self, base: Base, table: Table, by_id: bool
                    ) -> Callable[[Record], dict[str, Any]]:
        return self._plan(self._reader(base), table, table.fields, by_id)

    # -- meta routes ----------------------------------------------------------

    def _meta_bases(self, request: Request) -> Response:
        return Response(200, {"bases": [b.info() for b in self.bases.values()]})

    def _whoami(self, request: Request) -> Response:
        answer: dict[str, Any] = {"id": API_USER["id"], "email": API_USER["email"]}
        if self.whoami_lists_scopes:
            answer["scopes"] = sorted(self.token_scopes)
        return Response(200, answer)

    def _meta_schema(self, request: Request) -> Response:
        base = self._base(request.params["baseId"])
        include = request.query.get("include", []) + request.query.get("include[]", [])
        return Response(200, base.schema(include_visible="visibleFieldIds" in include))

    def _meta_create_table(self, request: Request) -> Response:
        base = self._base(request.params["baseId"])
        body = self._body(request)
        extra = set(body) - {"name", "description", "fields"}
        if extra:
            raise bad_request(f"Unknown table properties: {', '.join(sorted(extra))}.")
        table = new_table(base, body, self._new_id, via_api=True)
        return Response(200, table.schema())

    def _meta_create_field(self, request: Request) -> Response:
        base = self._base(request.params["baseId"])
        table = self._table_of(base, request.params["tableId"])
        body = self._body(request)
        extra = set(body) - {"name", "type", "description", "options"}
        if extra:
            raise bad_request(f"Unknown field properties: {', '.join(sorted(extra))}.")
        f = add_field(base, table, body, self._new_id, via_api=True)
        return Response(200, f.schema())

    def _meta_update_field(self, request: Request) -> Response:
        base = self._base(request.params["baseId"])
        table = self._table_of(base, request.params["tableId"])
        f = table.field(request.params["fieldId"])
        if f is None:
            raise not_found()
        body = self._body(request)
        if set(body) - {"name", "description"} or not ({"name", "description"} & set(body)):
            raise bad_request("Update a field's name and/or description only.")
        if "description" in body:
            if body["description"] is not None and not isinstance(body["description"], str):
                raise bad_request("description must be a string.")
            f.description = body["description"] or None
        if "name" in body:
            rename_field(table, f, body["name"])
        return Response(200, f.schema())

    # -- listing ----------------------------------------------------------------

    def _list_params(self, request: Request) -> _ListParams:
        limit = self.emulator.limits.airtable_page_size
        params = _ListParams(page_size=limit)
        query = request.query
        params.time_zone = request.arg("timeZone")
        params.user_locale = request.arg("userLocale")
        if request.method == "POST":
            source: dict[str, Any] = self._body(request)
            known = {"pageSize", "maxRecords", "offset", "view", "fields", "sort",
                     "filterByFormula", "cellFormat", "returnFieldsByFieldId", "recordMetadata",
                     "timeZone", "userLocale"}
            extra = set(source) - known
            if extra:
                raise bad_request(f"Unknown parameters: {', '.join(sorted(extra))}.")
            sort = source.get("sort", [])
            if not isinstance(sort, list) or not all(
                    isinstance(s, dict) and isinstance(s.get("field"), str) for s in sort):
                raise bad_request("sort must be a list of {field, direction} objects.")
            params.sort = [(s["field"], str(s.get("direction", "asc"))) for s in sort]
            fields = source.get("fields")
            if fields is not None and (not isinstance(fields, list)
                                       or not all(isinstance(x, str) for x in fields)):
                raise bad_request("fields must be a list of field names or ids.")
            params.fields = fields
            metadata = source.get("recordMetadata") or []
            params.time_zone = source.get("timeZone", params.time_zone)
            params.user_locale = source.get("userLocale", params.user_locale)
        else:
            source = {k: v[-1] for k, v in query.items()}
            if "fields[]" in query or "fields" in query:
                params.fields = query.get("fields[]", []) + query.get("fields", [])
            sorts: dict[int, dict[str, str]] = {}
            for key, values in query.items():
                m = _SORT_PARAM.match(key)
                if m:
                    sorts.setdefault(int(m.group(1)), {})[m.group(2)] = values[-1]
            for index in sorted(sorts):
                if "field" not in sorts[index]:
                    raise bad_request("Each sort needs a field.")
                params.sort.append((sorts[index]["field"], sorts[index].get("direction", "asc")))
            metadata = query.get("recordMetadata[]", []) + query.get("recordMetadata", [])
        if any(direction not in ("asc", "desc") for _, direction in params.sort):
            raise bad_request('A sort direction is "asc" or "desc".')
        if source.get("pageSize") is not None:
            params.page_size = _integer(source["pageSize"], "pageSize")
            if not 1 <= params.page_size <= limit:
                raise bad_request(f"pageSize must be from 1 to {limit}.")
        if source.get("maxRecords") is not None:
            params.max_records = _integer(source["maxRecords"], "maxRecords")
            if params.max_records < 1:
                raise bad_request("maxRecords must be positive.")
        offset = source.get("offset")
        if offset is not None and not isinstance(offset, str):
            raise bad_request("offset must be a string.")
        params.offset = offset or None
        view = source.get("view")
        params.view = str(view) if view else None
        formula = source.get("filterByFormula")
        if formula is not None and not isinstance(formula, str):
            raise bad_request("filterByFormula must be a string.")
        params.formula = formula or None
        params.cell_format = str(source.get("cellFormat") or "json")
        if params.cell_format not in ("json", "string"):
            raise bad_request('cellFormat is "json" or "string".')
        if params.cell_format == "string" and not (params.time_zone and params.user_locale):
            raise bad_request("cellFormat=string needs timeZone and userLocale.")
        params.by_id = _flag(source.get("returnFieldsByFieldId", False))
        params.comment_count = "commentCount" in metadata
        return params

    def _fields(self, table: Table, keys: list[str] | None) -> list[Field]:
        if keys is None:
            return list(table.fields)
        chosen: list[Field] = []
        for key in keys:
            f = table.field(key)
            if f is None:
                raise unknown_field(key)
            if f not in chosen:
                chosen.append(f)
        return [f for f in table.fields if f in chosen]  # schema order, like Airtable

    def _zone(self, params: _ListParams) -> dt.tzinfo | None:
        if params.cell_format != "string":
            return None
        try:
            return zoneinfo.ZoneInfo(params.time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise bad_request(f"Unknown timeZone {params.time_zone!r}.") from None

    def _list(self, request: Request) -> Response:
        base, table = self._target(request)
        params = self._list_params(request)
        reader = self._reader(base)
        render = self._plan(reader, table, self._fields(table, params.fields), params.by_id,
                            self._zone(params))
        now = self._now()
        ttl = self.emulator.limits.airtable_offset_ttl_seconds
        if params.offset:
            expire = self.emulator.faults.should("expire_offset", request.route)
            if expire:
                self.emulator.stats.fault("expire_offset")
            iterator, start = self.iterators.resume(params.offset, table, now, ttl, expire)
            page, offset = self.iterators.page(table, iterator.ids, start, params.page_size,
                                               now, iterator)
        else:
            self.iterators.sweep(now, ttl)
            if params.view and table.view(params.view) is None:
                raise AirtableError(422, "VIEW_NAME_NOT_FOUND",
                                    f'Could not find view "{params.view}" in table {table.name}')
            formula = None
            if params.formula:
                try:
                    formula = compile_formula(params.formula, self._resolver(table))
                except FormulaSyntaxError as exc:
                    raise AirtableError(
                        422, "INVALID_FILTER_BY_FORMULA",
                        f"The formula for filtering records is invalid: {exc}") from None
            sort: list[tuple[Field, bool]] = []
            for key, direction in params.sort:
                f = table.field(key)
                if f is None:
                    raise unknown_field(key)
                sort.append((f, direction == "desc"))
            ids = select(reader, table, formula, sort)
            if params.max_records is not None:
                ids = ids[:params.max_records]
            page, offset = self.iterators.page(table, ids, 0, params.page_size, now)
        rendered = [render(r) for r in page]
        if params.comment_count:
            for item in rendered:
                item["commentCount"] = 0
        body: dict[str, Any] = {"records": rendered}
        if offset:
            body["offset"] = offset
        return Response(200, body)

    @staticmethod
    def _resolver(table: Table) -> Callable[[str], str | None]:
        def resolve(key: str) -> str | None:
            f = table.field(key)
            return f.id if f is not None else None
        return resolve

    def _get(self, request: Request) -> Response:
        base, table = self._target(request)
        record = table.records.get(request.params["recordId"])
        if record is None:
            raise record_not_found()
        params = _ListParams(page_size=1)
        params.by_id = _flag(request.arg("returnFieldsByFieldId", "0"))
        params.cell_format = request.arg("cellFormat", "json") or "json"
        params.time_zone, params.user_locale = request.arg("timeZone"), request.arg("userLocale")
        if params.cell_format == "string" and not (params.time_zone and params.user_locale):
            raise bad_request("cellFormat=string needs timeZone and userLocale.")
        render = self._plan(self._reader(base), table, table.fields, params.by_id,
                            self._zone(params))
        return Response(200, render(record))

    # -- writes -------------------------------------------------------------------

    @staticmethod
    def _write_options(body: dict[str, Any], allowed: set[str]) -> tuple[bool, bool]:
        extra = set(body) - allowed
        if extra:
            raise bad_request(f"Unknown parameters: {', '.join(sorted(extra))}.")
        typecast = body.get("typecast") or False
        by_id = body.get("returnFieldsByFieldId") or False
        if not isinstance(typecast, bool) or not isinstance(by_id, bool):
            raise bad_request("typecast and returnFieldsByFieldId are booleans.")
        return typecast, by_id

    def _records_param(self, body: dict[str, Any], verb: str) -> list[Any]:
        items = body.get("records")
        if not isinstance(items, list) or not items:
            raise bad_request("records must be a non-empty list.")
        limit = self.emulator.limits.airtable_batch_max
        if len(items) > limit:
            raise too_many(len(items), verb, limit)
        return items

    def _create(self, request: Request) -> Response:
        base, table = self._target(request)
        body = self._body(request)
        typecast, by_id = self._write_options(
            body, {"records", "fields", "typecast", "returnFieldsByFieldId"})
        single = "records" not in body
        if single:
            if "fields" not in body:
                raise bad_request("Send records or fields.")
            items: list[Any] = [{"fields": body["fields"]}]
        else:
            items = self._records_param(body, "created")
        ctx = self._context(base, table, typecast)
        prepared = []
        for item in items:
            if not isinstance(item, dict) or set(item) - {"fields"} or "fields" not in item:
                raise bad_request("Each record to create has only fields.")
            prepared.append(prepare(ctx, item["fields"]))
        created = create_records(ctx, prepared, self._now(), API_USER["id"], self._new_id)
        render = self._render_all(base, table, by_id)
        if single:
            return Response(200, render(created[0]))
        return Response(200, {"records": [render(r) for r in created]})

    def _update(self, request: Request) -> Response:
        base, table = self._target(request)
        body = self._body(request)
        typecast, by_id = self._write_options(
            body, {"records", "typecast", "returnFieldsByFieldId", "performUpsert"})
        items = self._records_param(body, "updated")
        ctx = self._context(base, table, typecast)
        upsert = body.get("performUpsert")
        plan: list[tuple[Record | None, dict[str, Any]]]
        if upsert is not None:
            if not isinstance(upsert, dict) or set(upsert) != {"fieldsToMergeOn"}:
                raise bad_request("performUpsert takes fieldsToMergeOn only.")
            plan = upsert_plan(ctx, upsert["fieldsToMergeOn"], items)
        else:
            for item in items:
                if (not isinstance(item, dict) or set(item) - {"id", "fields"}
                        or "id" not in item or "fields" not in item):
                    raise bad_request("Each record to update has an id and fields.")
            records = existing(table, [item["id"] for item in items])
            plan = [(record, prepare(ctx, item["fields"], record))
                    for record, item in zip(records, items, strict=True)]
        now, user = self._now(), API_USER["id"]
        commit_context(ctx, now, user)
        created = iter(create_records(ctx, [cells for record, cells in plan if record is None],
                                      now, user, self._new_id))
        result: list[Record] = []
        created_ids: list[str] = []
        updated_ids: list[str] = []
        for record, cells in plan:
            if record is None:
                record = next(created)
                created_ids.append(record.id)
            else:
                update_record(ctx, record, cells, replace=request.method == "PUT", now=now,
                              user=user)
                updated_ids.append(record.id)
            result.append(record)
        render = self._render_all(base, table, by_id)
        out: dict[str, Any] = {"records": [render(r) for r in result]}
        if upsert is not None:
            out["createdRecords"] = created_ids
            out["updatedRecords"] = updated_ids
        return Response(200, out)

    def _update_one(self, request: Request) -> Response:
        base, table = self._target(request)
        record = table.records.get(request.params["recordId"])
        if record is None:
            raise record_not_found()
        body = self._body(request)
        typecast, by_id = self._write_options(
            body, {"fields", "typecast", "returnFieldsByFieldId"})
        if "fields" not in body:
            raise bad_request("Send the fields to update.")
        ctx = self._context(base, table, typecast)
        cells = prepare(ctx, body["fields"], record)
        now = self._now()
        commit_context(ctx, now, API_USER["id"])
        update_record(ctx, record, cells, replace=request.method == "PUT", now=now,
                      user=API_USER["id"])
        return Response(200, self._render_all(base, table, by_id)(record))

    def _delete(self, request: Request) -> Response:
        _base, table = self._target(request)
        ids = request.query.get("records[]", []) + request.query.get("records", [])
        if not ids:
            raise bad_request("Name the records to delete with records[].")
        limit = self.emulator.limits.airtable_batch_max
        if len(ids) > limit:
            raise too_many(len(ids), "deleted", limit)
        if any(i not in table.records for i in ids):
            raise record_not_found()
        delete_records(table, ids)
        return Response(200, {"records": [{"deleted": True, "id": i} for i in ids]})

    def _delete_one(self, request: Request) -> Response:
        _base, table = self._target(request)
        record_id = request.params["recordId"]
        if record_id not in table.records:
            raise record_not_found()
        delete_records(table, [record_id])
        return Response(200, {"deleted": True, "id": record_id})

    def _upload(self, request: Request) -> Response:
        base = self._base(request.params["baseId"])
        record_id = request.params["recordId"]
        found = [(t, t.records[record_id]) for t in base.tables.values() if record_id in t.records]
        if not found:
            raise record_not_found()
        table, record = found[0]
        f = table.field(request.params["fieldIdOrName"])
        if f is None:
            raise unknown_field(request.params["fieldIdOrName"])
        if f.type != "multipleAttachments":
            raise AirtableError(422, "INVALID_VALUE_FOR_COLUMN",
                                f'Field "{f.name}" is not an attachment field')
        body = self._body(request)
        content_type, filename, data = (body.get("contentType"), body.get("filename"),
                                        body.get("file"))
        if not all(isinstance(v, str) for v in (content_type, filename, data)) or not filename:
            raise bad_request("uploadAttachment takes contentType, filename and file (base64).")
        assert isinstance(content_type, str)
        assert isinstance(filename, str)
        assert isinstance(data, str)
        if len(data) * 3 // 4 > UPLOAD_MAX_BYTES:
            raise AirtableError(413, "ATTACHMENT_TOO_LARGE",
                                "Files over 5 MB must be attached by URL instead")
        try:
            attachment = attachment_from_bytes(self._new_id("att"), filename, content_type, data)
        except (binascii.Error, ValueError):
            raise bad_request("file must be base64.") from None
        now = self._now()
        ctx = self._context(base, table, False)
        update_record(ctx, record, {f.id: [*record.cells.get(f.id, []), attachment]},
                      replace=False, now=now, user=API_USER["id"])
        # Upload answers are always keyed by field id (AT-docs upload-attachment).
        return Response(200, {"id": record.id, "createdTime": iso(record.created),
                              "fields": {f.id: record.cells[f.id]}})

    # -- state helpers (Python API for tests and the demo) ---------------------------

    def add_user(self, name: str, email: str) -> str:
        """Add a base collaborator; returns its ``usr…`` id."""
        with self.emulator.lock:
            user_id = self._new_id("usr")
            self.users[user_id] = {"id": user_id, "email": email, "name": name}
            return user_id

    def create_base(self, name: str) -> str:
        """Create an empty base; returns its ``app…`` id."""
        with self.emulator.lock:
            base = Base(self._new_id("app"), name)
            self.bases[base.id] = base
            return base.id

    def table(self, base_id: str, table: str) -> Table:
        """A table by id or name (the live object: read it under ``emulator.lock``)."""
        return self._table_of(self._base(base_id), table)

    def create_table(self, base_id: str, name: str, fields: list[dict[str, Any]],
                     description: str | None = None) -> str:
        """Create a table from Airtable's create format; computed field types are
        allowed here (see :mod:`~leadsync.emulator.airtable_schema`). Returns its id."""
        with self.emulator.lock:
            spec: dict[str, Any] = {"name": name, "fields": fields}
            if description:
                spec["description"] = description
            return new_table(self._base(base_id), spec, self._new_id, via_api=False).id

    def add_field(self, base_id: str, table: str, spec: dict[str, Any]) -> str:
        """Add a field (computed types allowed); returns its id."""
        with self.emulator.lock:
            base = self._base(base_id)
            return add_field(base, self._table_of(base, table), spec, self._new_id,
                             via_api=False).id

    def insert_records(self, base_id: str, table: str, rows: Iterable[Mapping[str, Any]], *,
                       typecast: bool = False) -> list[str]:
        """Create many records at once (no batch limit, no HTTP), with the API's value
        rules; ``rows`` map field names or ids to write-format values. Returns the ids."""
        with self.emulator.lock:
            base = self._base(base_id)
            target = self._table_of(base, table)
            ctx = self._context(base, target, typecast)
            prepared = [prepare(ctx, dict(row)) for row in rows]
            records = create_records(ctx, prepared, self._now(), API_USER["id"], self._new_id)
            return [r.id for r in records]

    def edit_record(self, base_id: str, table: str, record_id: str,
                    fields: Mapping[str, Any], *, replace: bool = False,
                    typecast: bool = False) -> None:
        """Edit a record as a user would (a change moves its lastModifiedTime)."""
        with self.emulator.lock:
            base = self._base(base_id)
            target = self._table_of(base, table)
            record = target.records.get(record_id)
            if record is None:
                raise record_not_found()
            ctx = self._context(base, target, typecast)
            cells = prepare(ctx, dict(fields), record)
            now = self._now()
            commit_context(ctx, now, API_USER["id"])
            update_record(ctx, record, cells, replace=replace, now=now, user=API_USER["id"])

    def delete_records(self, base_id: str, table: str, record_ids: Iterable[str]) -> None:
        """Delete records (unknown ids are ignored)."""
        with self.emulator.lock:
            delete_records(self.table(base_id, table), list(record_ids))

    def rename_field(self, base_id: str, table: str, field_key: str, new_name: str) -> None:
        """Rename a field (its id stays)."""
        with self.emulator.lock:
            target = self.table(base_id, table)
            f = target.field(field_key)
            if f is None:
                raise unknown_field(field_key)
            rename_field(target, f, new_name)

    def get_records(self, base_id: str, table: str, *, by_id: bool = False
                    ) -> list[dict[str, Any]]:
        """Every record as the API renders it, in creation order (a copy)."""
        with self.emulator.lock:
            base = self._base(base_id)
            target = self._table_of(base, table)
            render = self._render_all(base, target, by_id)
            records = [render(r) for r in target.records.values()]
            copied: list[dict[str, Any]] = json.loads(json.dumps(records))
            return copied

    # -- the sample organisation ----------------------------------------------------

    def seed_sample(self, org: SampleOrg) -> None:
        """Load the sample organisation as base "Leadership" (see :mod:`~.sample`).

        One collaborator per member; one table per ``LAYOUT`` entry (members
        first) with the fields whose ``airtable`` type is set; member keys become
        linked member records, collaborators, or the member's name in text fields.
        """
        with self.emulator.lock:
            base_id = self.create_base("Leadership")
            base = self.bases[base_id]
            self.sample_base_id = base_id
            self.member_user_ids = {m["member_id"]: self.add_user(m["name"], m["email"])
                                    for m in org.members}
            names = {m["member_id"]: m["name"] for m in org.members}
            self.sample_table_ids = {}
            self.record_for = {}
            for item in LAYOUT:
                specs = item.for_service("airtable")
                table = new_table(base, {"name": item.airtable_name,
                                         "fields": [self._sample_field(specs[0], item)]},
                                  self._new_id, via_api=False)
                self.sample_table_ids[item.table] = table.id
                for spec in specs[1:]:
                    add_field(base, table, self._sample_field(spec, item, table), self._new_id,
                              via_api=False)
                members = set(TABLES[item.table].member_columns)
                rows = [self._sample_row(specs, record, members, names, item.table)
                        for record in org.table(item.table)]
                ids = self.insert_records(base_id, table.id, rows, typecast=True)
                key = TABLES[item.table].key
                self.record_for[item.table] = {
                    str(record[key]): rid for record, rid in zip(org.table(item.table), ids,
                                                                 strict=True)}
                if item.table == "members":
                    self.member_record_ids = dict(self.record_for["members"])
                    self._link_members(table, specs, org)

    def _sample_field(self, spec: FieldSpec, item: TableLayout,
                      table: Table | None = None) -> dict[str, Any]:
        kind = spec.airtable
        assert kind is not None
        out: dict[str, Any] = {"name": spec.name, "type": kind}
        extra = spec.extra
        if kind in ("singleSelect", "multipleSelects"):
            out["options"] = {"choices": [{"name": spec.label(o)} for o in spec.options]}
        elif kind == "multipleRecordLinks":
            target = extra["target"]
            linked = table.id if target == item.table and table else self.sample_table_ids[target]
            out["options"] = {"linkedTableId": linked}
        elif kind == "formula":
            out["options"] = {"formula": extra["airtable_formula"]}
        elif kind in ("multipleLookupValues", "rollup"):
            out["options"] = {"recordLinkFieldId": extra["through"],
                              "fieldIdInLinkedTable": extra["field"]}
        elif kind == "date":
            out["options"] = {"dateFormat": {"name": "iso"}}
        elif kind == "dateTime":
            out["options"] = {"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"},
                              "timeZone": "utc"}
        elif kind == "number":
            out["options"] = {"precision": 1}
        return out

    def _sample_row(self, specs: tuple[FieldSpec, ...], record: Mapping[str, Any],
                    member_columns: set[str], names: Mapping[str, str],
                    table: str) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for spec in specs:
            if spec.column is None or spec.airtable in (None, "autoNumber"):
                continue
            if table == "members" and spec.column == "mentor_id":
                continue  # a link to members: set once every member has a record
            value = record.get(spec.column)
            if value is None or value == []:
                continue
            if spec.column in member_columns:
                keys = value if isinstance(value, list) else [value]
                if spec.airtable == "multipleRecordLinks":
                    row[spec.name] = [self.member_record_ids[k] for k in keys]
                elif spec.airtable == "singleCollaborator":
                    row[spec.name] = {"id": self.member_user_ids[keys[0]]}
                elif spec.airtable == "multipleCollaborators":
                    row[spec.name] = [{"id": self.member_user_ids[k]} for k in keys]
                else:
                    row[spec.name] = ", ".join(names[k] for k in keys)
                continue
            row[spec.name] = _sample_cell(spec, value)
        return row

    def _link_members(self, table: Table, specs: tuple[FieldSpec, ...], org: SampleOrg) -> None:
        mentor = next((s for s in specs if s.column == "mentor_id"), None)
        if mentor is None:
            return
        f = table.field(mentor.name)
        assert f is not None
        for member in org.members:
            if member["mentor_id"]:
                record = table.records[self.member_record_ids[member["member_id"]]]
                record.cells[f.id] = [self.member_record_ids[member["mentor_id"]]]


def _sample_cell(spec: FieldSpec, value: Any) -> Any:
    """A canonical sample value in Airtable's write format for ``spec``'s field."""
    kind = spec.airtable
    if kind in ("singleSelect", "multipleSelects"):
        return [spec.label(v) for v in value] if isinstance(value, list) else spec.label(value)
    if kind == "date":
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if kind == "dateTime":
        if isinstance(value, dt.datetime):
            return iso(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
        return f"{value.isoformat()}T00:00:00.000Z"
    if kind == "checkbox":
        return bool(value)
    return value
