"""The Airtable connector: typed canonical frames in, batched upserts out, over pyairtable.

Layers, following the service's nouns:

- :class:`AirtableClient` is a :class:`pyairtable.Api` whose :meth:`~AirtableClient.request`
  is the one seam every HTTP request passes through (pages of a listing, the
  ``POST …/listRecords`` fallback for long formulas, schema reads, upserts).
  There each request takes a token from the base's :class:`RateLimiter`
  (5 requests/s per base, shared by every table of the base in this process),
  is retried by :func:`~leadsync.connectors.base.retrying` (a 429 is waited
  out for its ``Retry-After`` or Airtable's 30 s lock; 5xx, timeouts and resets
  back off), and a failure is translated once, by :func:`translate_error`,
  into leadsync's error tree. pyairtable's own urllib3 retry is switched off:
  it gives up after about three seconds, ten times less than one 429 lock.
- :class:`AirtableSource` is one canonical table (the sync job's
  :class:`~leadsync.connectors.base.TableSource`): it resolves the field
  mapping against the base schema by id or name, lists records by field id
  (so renames keep working), restarts a listing whose offset expired, pulls
  incrementally from a :class:`~leadsync.connectors.base.Cursor`, and lists
  live ids cheaply to find deletions.
- :class:`AirtableWriter` upserts rows in batches of ten on key fields,
  sending only the fields leadsync owns, and isolates a rejected row so the
  others in its batch are still written.
- :func:`read_airtable` is the one-call notebook entry point.

Incremental pulls. With a cursor, records are selected by
``OR(<edited> >= since - lag, CREATED_TIME() >= since - lag)`` where
``<edited>`` is the table's last-modified-time field that watches every field
(by id), or ``LAST_MODIFIED_TIME()`` when the table has none. The time is an
aware UTC ``DATETIME_PARSE('…Z')``. A record's ``last_edited_time`` is that
field's value, or, without one, its ``createdTime``: a lower bound, so a
cursor advanced from it never skips an edit (it only re-reads). Listings sort
by a field that never changes (created time, autonumber) when the table has one.

Offsets. A listing is read to the end before its records are decoded, so a
slow consumer cannot let the server's iterator expire. If it expires anyway
(422 ``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``), the listing restarts from the
beginning and the partial pass is dropped: every record is yielded once.

Schema reads. A base's schema (``GET /v0/meta/bases/{base}/tables``) describes
all its tables, so the sources given one :class:`~leadsync.connectors.base.SchemaCache`
(the sync makes one per run) read it once between them. A schema that
changed under a listing is read again, once: a 404 (the table), a 422
``UNKNOWN_FIELD_NAME`` (a field in ``fields[]``: the emulator and Airtable
answer so for a deleted field) or ``INVALID_FILTER_BY_FORMULA`` re-reads the
base schema, resolves the mapping again and repeats the listing; a mapped
field or the table that is gone ends in the same
:class:`~leadsync.errors.SchemaError` / :class:`~leadsync.errors.NotFoundError`
as on opening.

Schema snapshots. :attr:`AirtableSource.schema_snapshot` is the table's schema
as JSON (fields with id, name, type and options); given back as
``schema_cache=``, the source opens without a request. A listing by field id
notices deleted fields and tables by itself (above), but not a field whose
*type* changed: cell values do not name their type, and decoding follows the
schema (a ``date`` read as ``dateTime`` loses its time, a link read as a
select resolves members by name). Reading the schema to check would cost the
request the snapshot saves; instead every cell of a listing read with a
cached schema is checked against the JSON shape of its cached type
(:func:`~leadsync.connectors.airtable_decode.cell_fits`) before anything is
decoded. Airtable gives each type a shape of its own (text a string, numbers
numbers, a date ``YYYY-MM-DD``, a date-time an ISO instant, links ``rec…``
ids, collaborators ``usr…`` objects, …), so a changed type shows in its
first non-empty value, and one cell that does not fit makes the source read
the schema again (one request) and decode the listing by the new types. The
shapes overlap only where text may spell a date: a text value that is exactly
a date or a date-time does not count as fitting, at the price of one schema
read on a night such a text cell is read. A type change whose cells are all
empty in the listing decodes to empty either way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd
import pyairtable
import requests

from leadsync.config import Config
from leadsync.emulator.sample import default_fields
from leadsync.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    QuotaExceededError,
    RateLimitedError,
    RequestRejectedError,
    SchemaError,
    UpstreamError,
)
from leadsync.secrets import Secret, install_scrub_filter, secret_from_env
from leadsync.tables import MemberIndex, Validated, schema

from .airtable_decode import (
    MERGEABLE_TYPES,
    AirtableField,
    AirtableTable,
    cell_fits,
    decode_base_schema,
    decode_frame,
    decode_record,
    find_table,
    plan_columns,
)
from .airtable_encode import EncodeError, encode_value, is_blank
from .airtable_formula import modified_since
from .base import (
    Cursor,
    Progress,
    PullStats,
    RateLimiter,
    Record,
    RetryPolicy,
    SchemaCache,
    ServerClock,
    TableSource,
    WriteResult,
    parse_retry_after,
    records_to_frame,
    resolve_fields,
    retrying,
    shared_limiter,
)

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_ENDPOINT",
    "PAGE_SIZE",
    "RATE_LIMIT_WAIT_SECONDS",
    "REQUESTS_PER_SECOND",
    "AirtableClient",
    "AirtableSource",
    "AirtableWriter",
    "base_limiter",
    "read_airtable",
    "translate_error",
]

log = logging.getLogger("leadsync.connectors.airtable")

SERVICE = "airtable"
DEFAULT_ENDPOINT = "https://api.airtable.com"
#: Airtable's published rate: requests per second per base.
REQUESTS_PER_SECOND = 5.0
#: How long Airtable locks a base after a 429, when it sends no Retry-After.
RATE_LIMIT_WAIT_SECONDS = 30.0
#: Records per page of a listing (Airtable's maximum).
PAGE_SIZE = 100
#: Records per create/update/upsert request (Airtable's maximum).
BATCH_SIZE = 10
#: (connect, read) timeouts in seconds.
DEFAULT_TIMEOUT = (10, 60)
#: How often one listing may restart after its offset expired before giving up.
MAX_LISTING_RESTARTS = 10
#: The layout of :attr:`AirtableSource.schema_snapshot`; another one is not used.
SNAPSHOT_VERSION = 1

_ITERATOR_EXPIRED = "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"
_BILLING_LIMIT = "PUBLIC_API_BILLING_LIMIT_EXCEEDED"
#: 422 types a listing gets when a field it names no longer exists.
_FIELD_GONE = frozenset({"UNKNOWN_FIELD_NAME", "INVALID_FILTER_BY_FORMULA"})
_BASE_IN_URL = re.compile(r"/v0/(?:meta/bases/)?(app[A-Za-z0-9]+)(?:/|$|\?)")
#: 422 types that are about the whole request, never one record: a batch is not bisected.
_REQUEST_LEVEL_REJECTIONS = frozenset({
    "UNKNOWN_FIELD_NAME", "INVALID_REQUEST_BODY", "INVALID_REQUEST_MISSING_FIELDS",
})


# ---------------------------------------------------------------------------
# Error translation (the one place)


def _error_parts(response: requests.Response) -> tuple[str | None, str | None]:
    """The API's error type and message from ``{"error": {...}}`` or ``{"error": "TYPE"}``."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error, None
    if isinstance(error, dict):
        code = error.get("type")
        message = error.get("message")
        return (str(code) if code else None), (str(message) if message else None)
    return None, None


def _from_response(response: requests.Response, what: str) -> ConnectorError:
    status = response.status_code
    code, message = _error_parts(response)
    detail = f": {message}" if message else ""
    if status == 429 and code == _BILLING_LIMIT:
        return QuotaExceededError(
            "the workspace has used up its monthly Airtable API call quota "
            f"({what} was refused). leadsync does not retry this: retrying only spends "
            "more calls. Wait for the quota to reset at the start of the next billing "
            "month, or move the base to a plan with a larger quota",
            service=SERVICE, status=status, code=code,
        )
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimitedError(
            f"{what}: rate limited{detail}", service=SERVICE,
            retry_after=wait if wait is not None else RATE_LIMIT_WAIT_SECONDS,
            status=status, code=code,
        )
    if status == 401:
        return AuthError(
            f"{what}: the token was refused{detail}. Check AIRTABLE_TOKEN "
            "(a personal access token)", service=SERVICE, status=status, code=code)
    if status == 403:
        return AuthError(
            f"{what}: not allowed{detail}. The base or table may not exist, or the token "
            "lacks access to this base or the scopes data.records:read, "
            "data.records:write and schema.bases:read",
            service=SERVICE, status=status, code=code)
    if status == 404:
        return NotFoundError(f"{what}: not found{detail}", service=SERVICE, status=status,
                             code=code)
    if 400 <= status < 500:
        return RequestRejectedError(f"{what}: rejected{detail}", service=SERVICE,
                                    status=status, code=code)
    return UpstreamError(f"{what}: Airtable failed{detail}", service=SERVICE, status=status,
                         code=code)


def translate_error(exc: BaseException, *, what: str = "request") -> ConnectorError:
    """A ``requests``/pyairtable failure as a leadsync error (never showing the token).

    Messages are built from the status, the API's error type and message and
    ``what`` (method and path); never from the request's headers or the
    exception's text, which can carry the URL with its query.
    """
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _from_response(exc.response, what)
    if isinstance(exc, requests.exceptions.RetryError):
        return UpstreamError(f"{what}: gave up after repeated failures", service=SERVICE)
    if isinstance(exc, requests.Timeout):
        return UpstreamError(f"{what}: no answer in time", service=SERVICE)
    if isinstance(exc, requests.ConnectionError):
        return UpstreamError(f"{what}: the connection failed or was reset", service=SERVICE)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return UpstreamError(f"{what}: the answer was not valid JSON", service=SERVICE)
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return RequestRejectedError(
            f"{what}: the request body could not be encoded as JSON (NaN or a numpy value?)",
            service=SERVICE)
    if isinstance(exc, requests.RequestException):
        return UpstreamError(f"{what}: {type(exc).__name__}", service=SERVICE)
    return UpstreamError(f"{what}: {type(exc).__name__}", service=SERVICE)


# ---------------------------------------------------------------------------
# The client: one seam for pacing, retries and translation


def base_limiter(base_id: str, rps: float, *, endpoint_url: str = DEFAULT_ENDPOINT
                 ) -> RateLimiter:
    """The process-wide limiter for one base, shared by every table and client using it."""
    return shared_limiter(f"airtable {endpoint_url.rstrip('/')} {base_id}", rps)


def _as_secret(token: Secret | str) -> Secret:
    return token if isinstance(token, Secret) else Secret(token, "AIRTABLE_TOKEN")


class AirtableClient(pyairtable.Api):
    """``pyairtable.Api`` with leadsync's pacing, retries and error translation.

    ``rps`` is the client-side rate per base (None: unpaced, for benchmarks);
    ``policy`` says how long to wait out 429s and how often to retry
    failures; ``stats`` counts requests, 429s, retries and waiting.
    """

    def __init__(
        self,
        token: Secret | str,
        *,
        endpoint_url: str = DEFAULT_ENDPOINT,
        timeout: tuple[int, int] = DEFAULT_TIMEOUT,
        rps: float | None = REQUESTS_PER_SECOND,
        policy: RetryPolicy | None = None,
        stats: PullStats | None = None,
    ):
        install_scrub_filter()
        secret = _as_secret(token)
        super().__init__(secret.reveal(), endpoint_url=endpoint_url, timeout=timeout,
                         retry_strategy=False)
        self.rps = rps
        self.policy = policy or RetryPolicy(default_rate_wait=RATE_LIMIT_WAIT_SECONDS)
        self.stats = stats if stats is not None else PullStats()
        self._endpoint = endpoint_url
        self._inside = threading.local()
        self.server_clock = ServerClock()
        self.session.hooks["response"].append(
            lambda response, *args, **kwargs: self.server_clock.note(
                response.headers.get("Date")))

    def __repr__(self) -> str:
        return f"<AirtableClient {self._endpoint} rps={self.rps}>"

    def limiter(self, url: str) -> RateLimiter | None:
        """The limiter of the base ``url`` belongs to (requests outside a base share one)."""
        if self.rps is None:
            return None
        match = _BASE_IN_URL.search(url)
        return base_limiter(match.group(1) if match else "", self.rps,
                            endpoint_url=self._endpoint)

    def request(
        self,
        method: str,
        url: str,
        fallback: tuple[str, str] | None = None,
        options: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        """One paced, retried, translated request (pyairtable calls this for every request)."""
        if getattr(self._inside, "active", False):
            # pyairtable re-enters for the POST listRecords fallback: the outer
            # call already holds the token and retries the whole exchange.
            return super().request(method, url, fallback=fallback, options=options,
                                   params=params, json=json)
        path = urlsplit(str(url)).path
        what = f"{method.upper()} {path}"

        def call() -> Any:
            self._inside.active = True
            try:
                return super(AirtableClient, self).request(
                    method, url, fallback=fallback, options=options, params=params, json=json)
            except requests.RequestException as exc:
                raise translate_error(exc, what=what) from exc
            finally:
                self._inside.active = False

        return retrying(call, policy=self.policy, limiter=self.limiter(str(url)),
                        stats=self.stats, what=what)


def fetch_base_schema(client: AirtableClient, base_id: str) -> tuple[AirtableTable, ...]:
    """Every table of a base (``GET /v0/meta/bases/{base}/tables``)."""
    payload = client.request("GET", str(client.build_url("meta/bases", base_id, "tables")))
    return decode_base_schema(payload)


def _resolve(mapping: Mapping[str, str], table: AirtableTable, base_id: str
             ) -> dict[str, AirtableField]:
    refs = resolve_fields(mapping, table.refs, where=f"airtable {base_id}/{table.name}")
    return {column: table.field(ref.id) for column, ref in refs.items()}


# ---------------------------------------------------------------------------
# Reading


class AirtableSource:
    """One Airtable table read as a canonical leadsync table.

    ``table`` here is the canonical table's name (``"signals"``); the Airtable
    table is ``airtable_table`` (an id ``tbl…`` or a name) in base ``base_id``.
    ``mapping`` maps canonical columns to field names or ids; without one, the
    sample layout's field names are used, restricted to fields that exist.
    Nothing is sent until the first call that needs the schema. ``schemas``
    shares base schema reads with other sources (one per base); ``schema_cache``
    is a :attr:`schema_snapshot` of an earlier source for the same table, used
    instead of reading the schema (see "Schema snapshots" in the module doc).
    """

    service = SERVICE

    def __init__(
        self,
        client: AirtableClient,
        base_id: str,
        airtable_table: str,
        *,
        canonical: str = "signals",
        mapping: Mapping[str, str] | None = None,
        progress: bool | None = None,
        schema_cache: Mapping[str, Any] | None = None,
        schemas: SchemaCache | None = None,
    ):
        schema(canonical)  # a clear error for an unknown canonical table
        self.client = client
        self.base_id = base_id
        self.airtable_table = airtable_table
        self.table = canonical
        self.mapping = dict(mapping) if mapping else None
        self.progress = progress
        #: NaN special values read as empty in non-number columns, from the last pull.
        self.notes: list[str] = []
        #: A little before the server's time when the last :meth:`fetch` began (see there).
        self.watermark: dt.datetime | None = None
        #: How often the last listings restarted after an expired offset.
        self.restarts = 0
        self.schemas = schemas if schemas is not None else SchemaCache()
        self.schema_cache = dict(schema_cache) if schema_cache else None
        #: True while the schema comes from ``schema_cache`` and nothing Airtable
        #: answered has contradicted it.
        self.cached = False
        self._schema: AirtableTable | None = None
        self._fields: dict[str, AirtableField] | None = None

    @property
    def stats(self) -> PullStats:
        """What this source's requests cost (the client's counter)."""
        return self.client.stats

    @stats.setter
    def stats(self, value: PullStats) -> None:
        self.client.stats = value

    @classmethod
    def from_config(
        cls,
        config: Config,
        table_name: str,
        *,
        env: Mapping[str, str] | None = None,
        stats: PullStats | None = None,
        field_ids: Mapping[str, str] | None = None,
        progress: bool | None = False,
        schema_cache: Mapping[str, Any] | None = None,
        schemas: SchemaCache | None = None,
    ) -> AirtableSource:
        """The source for ``[tables.<table_name>]`` of ``leadsync.toml``.

        ``field_ids`` (canonical column -> ``fld…``, as :attr:`field_ids` gave
        it on an earlier run) takes precedence over the configured names, so a
        field renamed in Airtable keeps mapping. ``schema_cache`` and
        ``schemas``: see the class.
        """
        table = config.tables.get(table_name)
        if table is None or not table.airtable_base or not table.airtable_table:
            raise ConfigError(f"needs airtable_base and airtable_table for {table_name}",
                              key=f"tables.{table_name}", path=config.source)
        client = AirtableClient(
            config.token(env),
            endpoint_url=config.workspace.airtable_endpoint_url,
            rps=config.limits.airtable_rps,
            policy=RetryPolicy(max_wait=config.sync.max_wait_seconds,
                               default_rate_wait=RATE_LIMIT_WAIT_SECONDS),
            stats=stats,
        )
        ids = dict(field_ids or {})
        # persisted ids win for the columns the config maps (or all, without a config mapping)
        mapping = ({c: ids.get(c, name) for c, name in table.fields.items()}
                   if table.fields else ids) or None
        return cls(client, table.airtable_base, table.airtable_table, canonical=table_name,
                   mapping=mapping, progress=progress, schema_cache=schema_cache,
                   schemas=schemas)

    # -- schema and mapping (I/O on first use) --------------------------------

    def fetch_schema(self, *, force: bool = False) -> AirtableTable:
        """The Airtable table's schema; ``force`` reads it again.

        The first call takes it from :attr:`schemas` when another source has
        read the base already, else from ``schema_cache`` when that is a
        snapshot of this table, else reads the base schema (once per
        :attr:`schemas`).
        """
        key = ("airtable", self.client.endpoint_url, self.base_id)
        if force:
            self.schema_cache = None
            tables = self.schemas.refresh(key, self._read_base)
        elif self._schema is not None:
            return self._schema
        elif key not in self.schemas and (snapshot := self._snapshot_table()) is not None:
            self._schema, self.cached = snapshot, True
            return snapshot
        else:
            tables = self.schemas.get(key, self._read_base)
        self._schema = find_table(tables, self.airtable_table, base=self.base_id)
        self.cached = False
        return self._schema

    def _read_base(self) -> tuple[AirtableTable, ...]:
        return fetch_base_schema(self.client, self.base_id)

    def _snapshot_table(self) -> AirtableTable | None:
        """The table ``schema_cache`` describes, if it is a snapshot of this table."""
        snap = self.schema_cache
        if not snap:
            return None
        try:
            if (snap.get("service"), snap.get("version"), snap.get("base_id"),
                    snap.get("table")) != (SERVICE, SNAPSHOT_VERSION, self.base_id,
                                           self.airtable_table):
                return None
            return decode_base_schema({"tables": [snap["schema"]]})[0]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            log.debug("airtable %s: schema_cache is not a schema snapshot; ignored",
                      self.airtable_table)
            return None

    @property
    def schema_snapshot(self) -> dict[str, Any] | None:
        """The table's schema as JSON, for ``schema_cache=`` next time (None before
        it was read)."""
        table = self._schema
        if table is None:
            return None
        return {
            "service": SERVICE, "version": SNAPSHOT_VERSION, "base_id": self.base_id,
            "table": self.airtable_table,
            "schema": {"id": table.id, "name": table.name, "primaryFieldId": table.primary_field_id,
                       "fields": [{"id": f.id, "name": f.name, "type": f.type,
                                   "options": dict(f.options)} for f in table.fields]},
        }

    def _refresh(self, why: str) -> None:
        """Read the schema again and, when a mapping was resolved, resolve it again
        (a NotFoundError when the table is gone, a SchemaError when a mapped field is)."""
        log.info("airtable %s: the schema changed (%s); reading it again",
                 self.airtable_table, why)
        resolved = self._fields is not None
        self.fetch_schema(force=True)
        self._fields = None
        if resolved:
            self.fields()

    def fields(self) -> dict[str, AirtableField]:
        """Canonical column -> the Airtable field it is read from (resolved once)."""
        if self._fields is None:
            table = self.fetch_schema()
            try:
                self._fields = self._resolve_mapping(table)
            except SchemaError:
                if not self.cached:
                    raise
                log.info("airtable %s: the mapping does not resolve against the cached "
                         "schema; reading the schema", self.airtable_table)
                self._fields = self._resolve_mapping(self.fetch_schema(force=True))
        return self._fields

    def _resolve_mapping(self, table: AirtableTable) -> dict[str, AirtableField]:
        if self.mapping is not None:
            fields = _resolve(self.mapping, table, self.base_id)
        else:
            wanted = default_fields("airtable", self.table)
            fields = _resolve(
                {c: n for c, n in wanted.items() if any(
                    f.name == n or f.id == n for f in table.fields)},
                table, self.base_id)
        self._check_required(fields, table)
        return fields

    @property
    def field_ids(self) -> dict[str, str]:
        """Canonical column -> field id, for the sync to persist (survives renames)."""
        return {column: f.id for column, f in self.fields().items()}

    def _check_required(self, fields: Mapping[str, AirtableField], table: AirtableTable) -> None:
        spec = schema(self.table)
        missing = [c.name for c in spec.columns
                   if c.required and c.name != spec.key and c.name not in fields]
        if missing:
            names = ", ".join(f"{f.name!r} ({f.type})" for f in table.fields)
            raise SchemaError(
                f"airtable {self.base_id}/{table.name}: no field is mapped to the required "
                f"column(s) {', '.join(missing)} of {self.table}; pass a mapping "
                f"(canonical column -> field name or id). The fields that exist are: {names}"
            )

    # -- listings --------------------------------------------------------------

    def _list(self, options: dict[str, Any], what: str) -> dict[str, dict[str, Any]]:
        """Every record the listing returns, each id once; restarts on an expired offset."""
        table = self.fetch_schema()
        api_table = self.client.table(self.base_id, table.id)
        restarts = 0
        while True:
            found: dict[str, dict[str, Any]] = {}
            with Progress(what, unit="records", show=self.progress, logger=log) as progress:
                try:
                    for page in self.client.iterate_requests(
                        "get", str(api_table.urls.records),
                        fallback=("post", str(api_table.urls.records_post)),
                        options=options,
                    ):
                        records = page.get("records", []) if isinstance(page, dict) else []
                        for raw in records:
                            found[str(raw["id"])] = raw
                        progress.update(len(records))
                    return found
                except RequestRejectedError as exc:
                    if exc.code == _ITERATOR_EXPIRED and restarts < MAX_LISTING_RESTARTS:
                        restarts += 1
                        self.restarts += 1
                        log.warning("%s: the listing's offset expired; restarting from the "
                                    "beginning (restart %d)", what, restarts)
                        continue
                    raise

    def _listing(self, options: Callable[[AirtableTable], dict[str, Any]], what: str = ""
                 ) -> dict[str, dict[str, Any]]:
        """The records of the listing ``options(schema)`` describes.

        A listing refused for a reason a schema change explains (404: the
        table; 422: a field it names) is made once more from a schema read
        again, after the mapping resolved against it (see the module doc).
        """
        table = self.fetch_schema()
        try:
            return self._list(options(table), f"airtable {table.name}{what}")
        except (NotFoundError, RequestRejectedError) as exc:
            if isinstance(exc, RequestRejectedError) and exc.code not in _FIELD_GONE:
                raise
            self._refresh(f"{exc.status} {exc.code}")
        table = self.fetch_schema()
        return self._list(options(table), f"airtable {table.name}{what}")

    def _misfit(self, records: Iterable[Mapping[str, Any]],
                fields: Iterable[AirtableField]) -> str | None:
        """The first cell of ``records`` whose value does not fit its field's type."""
        checked = list(fields)
        for raw in records:
            cells = raw.get("fields") or {}
            for f in checked:
                if not cell_fits(f, cells.get(f.id, cells.get(f.name))):
                    return (f"field {f.name!r} ({f.id}) of record {raw.get('id')} does not "
                            f"hold a {f.type} value")
        return None

    def _fetch_options(self, table: AirtableTable, cursor: Cursor | None) -> dict[str, Any]:
        fields = self.fields()
        edited = table.last_modified_field()
        wanted = [f.id for f in fields.values()] + ([edited.id] if edited else [])
        options: dict[str, Any] = {
            "page_size": PAGE_SIZE,
            "use_field_ids": True,
            "fields": list(dict.fromkeys(wanted)) or [table.primary_field_id],
        }
        if cursor is not None and cursor.query_from is not None:
            options["formula"] = modified_since(cursor.query_from,
                                                edited.id if edited else None)
        stable = table.stable_sort_field()
        if stable is not None:
            options["sort"] = [stable.id]
        return options

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        """Every record edited at or after ``cursor.query_from`` (all without), each once.

        Afterwards :attr:`watermark` is a little before the server's time when
        the listing began (:meth:`ServerClock.watermark` of its answers'
        ``Date``): every record edited later has a ``LAST_MODIFIED_TIME()`` at
        or after it, so a cursor may move there even when no record carries its
        edit time (a table with no last-modified field gives only creation
        times).
        """
        started = time.monotonic()
        with self.client.server_clock.watch() as times:
            raw = self._listing(lambda table: self._fetch_options(table, cursor))
        self.watermark = ServerClock.watermark(times)
        if self.cached:
            edited = self.fetch_schema().last_modified_field()
            misfit = self._misfit(raw.values(), [*self.fields().values(),
                                                 *([edited] if edited else [])])
            if misfit is not None:
                self._refresh(misfit)
        table = self.fetch_schema()
        edited = table.last_modified_field()
        plans = plan_columns(self.table, self.fields())
        self.notes = []
        count = 0
        for record in raw.values():
            count += 1
            yield decode_record(record, plans, edited_field=edited, notes=self.notes)
        self.stats.rows += count
        self.stats.seconds += time.monotonic() - started
        if self.notes:
            log.info("airtable %s: %d cell(s) held NaN and were read as empty (%s)",
                     table.name, len(self.notes), self.notes[0])

    def list_ids(self) -> set[str]:
        """The id of every live record, listed with one small field per record."""
        def options(table: AirtableTable) -> dict[str, Any]:
            cheap = next((f for f in table.fields if f.type in (
                "checkbox", "autoNumber", "number", "rating", "count")), table.primary_field)
            return {"page_size": PAGE_SIZE, "use_field_ids": True, "fields": [cheap.id]}

        return set(self._listing(options, " ids"))

    def pull(self, cursor: Cursor | None = None, *,
             members: pd.DataFrame | MemberIndex | None = None) -> Validated:
        """The canonical frame of :meth:`fetch` and the quarantine of rows that did not fit."""
        return records_to_frame(self.table, self.fetch(cursor), members=members)

    def pull_raw(self) -> pd.DataFrame:
        """Every field of every record, typed by Airtable type (see ``decode_frame``)."""
        def options(table: AirtableTable) -> dict[str, Any]:
            options: dict[str, Any] = {"page_size": PAGE_SIZE, "use_field_ids": True}
            stable = table.stable_sort_field()
            if stable is not None:
                options["sort"] = [stable.id]
            return options

        raw = self._listing(options)
        if self.cached:
            misfit = self._misfit(raw.values(), self.fetch_schema().fields)
            if misfit is not None:
                self._refresh(misfit)
        return decode_frame(self.fetch_schema(), raw.values())


if TYPE_CHECKING:
    def _is_a_table_source(source: AirtableSource) -> TableSource:
        return source


# ---------------------------------------------------------------------------
# Writing


@dataclass
class _Pending:
    original: Mapping[str, Any]
    fields: dict[str, Any]


class AirtableWriter:
    """Upserts into one Airtable table, touching only the fields leadsync owns."""

    def __init__(self, client: AirtableClient, base_id: str, airtable_table: str,
                 *, progress: bool | None = False):
        self.client = client
        self.base_id = base_id
        self.airtable_table = airtable_table
        self.progress = progress
        self._schema: AirtableTable | None = None

    @classmethod
    def from_config(cls, config: Config, *, base: str | None = None, table: str | None = None,
                    env: Mapping[str, str] | None = None,
                    stats: PullStats | None = None) -> AirtableWriter:
        """A writer for ``[report] airtable_base/airtable_table`` (or the given base and table)."""
        base = base or config.report.airtable_base
        table = table or config.report.airtable_table
        if not base or not table:
            raise ConfigError("needs airtable_base and airtable_table to write to",
                              key="report", path=config.source)
        client = AirtableClient(
            config.token(env), endpoint_url=config.workspace.airtable_endpoint_url,
            rps=config.limits.airtable_rps,
            policy=RetryPolicy(max_wait=config.sync.max_wait_seconds,
                               default_rate_wait=RATE_LIMIT_WAIT_SECONDS),
            stats=stats)
        return cls(client, base, table)

    def fetch_schema(self, *, force: bool = False) -> AirtableTable:
        if self._schema is None or force:
            tables = fetch_base_schema(self.client, self.base_id)
            self._schema = find_table(tables, self.airtable_table, base=self.base_id)
        return self._schema

    def write_rows(
        self,
        rows: pd.DataFrame | Iterable[Mapping[str, Any]],
        *,
        key_fields: Sequence[str],
        owned: Sequence[str] | None = None,
        mapping: Mapping[str, str] | None = None,
        typecast: bool = False,
    ) -> WriteResult:
        """Upsert ``rows`` on ``key_fields``; returns what was created, updated and refused.

        Rows are keyed by field name or id (or by canonical column, renamed
        through ``mapping``: column -> field). Only the ``owned`` fields (all
        of the rows' columns when None) are sent, by PATCH, so every other
        field of a record is left as it is. ``key_fields`` (1 to 3, owned,
        of a type Airtable can merge on) find the record to update; a row with
        no match creates one, so a rerun updates and never duplicates.

        Rows are sent ten to a request. A request the API rejects (422) is
        split in halves and retried until the rejected rows are alone; each is
        reported in ``failed`` with the API's reason and the others are
        written. A row whose values cannot be encoded, whose key is empty, or
        whose key repeats an earlier row's is refused before sending.

        ``created``/``updated`` are the record ids Airtable reported. A request
        whose answer was lost after Airtable committed it is retried and
        merges on the key, so nothing is created twice; its new records are
        then reported as updated. ``unchanged`` stays empty: Airtable does not
        say which updates changed nothing.
        """
        pairs = _row_pairs(rows, mapping)
        table = self.fetch_schema()
        columns = list(dict.fromkeys(c for _, r in pairs for c in r))
        owned_fields = self._owned_fields(list(owned) if owned is not None else columns, table)
        owned_ids = {f.id for f in owned_fields.values()}
        fields: dict[str, AirtableField] = {}  # row column -> owned field; others never sent
        for column in columns:
            found = _lookup(table, column)
            if found is not None and found.id in owned_ids:
                fields[column] = found
        keys = self._key_fields(key_fields, owned_fields, table)
        result = WriteResult()
        pending: list[_Pending] = []
        seen: dict[str, int] = {}
        for number, (original, row) in enumerate(pairs):
            try:
                cells = {fields[c].id: encode_value(fields[c], v, typecast=typecast)
                         for c, v in row.items() if c in fields}
            except EncodeError as exc:
                result.failed.append((original, str(exc)))
                continue
            empty = [k.name for k in keys if is_blank(cells.get(k.id)) or cells.get(k.id) in
                     ("", [])]
            if empty:
                result.failed.append((original, f"key field(s) {', '.join(empty)} empty"))
                continue
            key = json.dumps([cells[k.id] for k in keys], sort_keys=True, default=str)
            if key in seen:
                result.failed.append((original, f"same key as row {seen[key]}; not sent twice"))
                continue
            seen[key] = number
            pending.append(_Pending(original, cells))
        api_table = self.client.table(self.base_id, table.id)
        merge_on = [k.id for k in keys]
        with Progress(f"airtable upsert {table.name}", total=len(pending), show=self.progress,
                      logger=log) as progress:
            for start in range(0, len(pending), BATCH_SIZE):
                batch = pending[start:start + BATCH_SIZE]
                self._upsert(api_table, batch, merge_on, typecast, result)
                progress.update(len(batch))
        if result.failed:
            log.warning("airtable %s: %d row(s) were not written: %s", table.name,
                        len(result.failed), result.failed[0][1])
        return result

    def _owned_fields(self, names: Sequence[str], table: AirtableTable
                      ) -> dict[str, AirtableField]:
        fields = _resolve({n: n for n in names}, table, self.base_id)
        computed = [f"{f.name!r} ({f.type})" for f in fields.values() if f.computed]
        if computed:
            raise ConfigError(
                f"airtable {self.base_id}/{table.name}: {', '.join(computed)} "
                "computed by Airtable; leadsync cannot write them")
        return fields

    def _key_fields(self, names: Sequence[str], owned: Mapping[str, AirtableField],
                    table: AirtableTable) -> list[AirtableField]:
        if not 1 <= len(names) <= 3:
            raise ConfigError(f"an upsert merges on 1 to 3 key fields, not {len(names)}")
        resolved = _resolve({n: n for n in names}, table, self.base_id)
        owned_ids = {f.id for f in owned.values()}
        keys: list[AirtableField] = []
        for name, f in resolved.items():
            if f.id not in owned_ids:
                raise ConfigError(f"key field {name!r} must be one of the fields written")
            if f.type not in MERGEABLE_TYPES:
                raise ConfigError(
                    f"key field {name!r} is a {f.type} field; Airtable merges only on "
                    "number, text, single or multiple select and date fields")
            keys.append(f)
        return keys

    def _upsert(self, api_table: pyairtable.Table, batch: list[_Pending], merge_on: list[str],
                typecast: bool, result: WriteResult) -> None:
        try:
            answer = api_table.batch_upsert(
                [{"fields": p.fields} for p in batch], key_fields=merge_on,
                typecast=typecast, use_field_ids=True)
        except RequestRejectedError as exc:
            if exc.code in _REQUEST_LEVEL_REJECTIONS:
                raise
            if len(batch) == 1:
                result.failed.append((batch[0].original, _reason(exc)))
                return
            middle = (len(batch) + 1) // 2
            self._upsert(api_table, batch[:middle], merge_on, typecast, result)
            self._upsert(api_table, batch[middle:], merge_on, typecast, result)
            return
        result.created.extend(answer["createdRecords"])
        result.updated.extend(answer["updatedRecords"])


def _lookup(table: AirtableTable, id_or_name: str) -> AirtableField | None:
    try:
        return table.field(id_or_name)
    except KeyError:
        folded = [f for f in table.fields if f.name.casefold() == id_or_name.casefold()]
        return folded[0] if len(folded) == 1 else None


def _reason(exc: ConnectorError) -> str:
    text = str(exc)
    return f"{exc.code}: {text}" if exc.code and exc.code not in text else text


def _row_pairs(rows: pd.DataFrame | Iterable[Mapping[str, Any]],
               mapping: Mapping[str, str] | None
               ) -> list[tuple[Mapping[str, Any], dict[str, Any]]]:
    """Each row as the caller gave it (for failure reports) and keyed by field."""
    originals: list[Mapping[str, Any]]
    if isinstance(rows, pd.DataFrame):
        originals = [{str(k): v for k, v in r.items()} for r in rows.to_dict("records")]
    else:
        originals = list(rows)
    rename = mapping or {}
    return [(r, {rename.get(k, k): v for k, v in r.items()}) for r in originals]


# ---------------------------------------------------------------------------
# Notebooks


def read_airtable(
    base: str,
    table: str,
    *,
    mapping: Mapping[str, str] | None = None,
    canonical: str | None = "signals",
    members: pd.DataFrame | MemberIndex | None = None,
    token: Secret | str | None = None,
    endpoint_url: str = DEFAULT_ENDPOINT,
    progress: bool | None = None,
    rps: float | None = REQUESTS_PER_SECOND,
) -> pd.DataFrame:
    """One Airtable table as a canonical frame, in one call.

    ``base`` is the base id (``app…``), ``table`` a table id or name.
    ``mapping`` maps canonical columns to field names or ids (default: the
    sample layout's names that exist). ``members`` (a canonical members frame)
    resolves member references to ``member_id``. The token comes from
    ``$AIRTABLE_TOKEN`` unless given. Rows that do not fit the canonical table
    are left out and kept in ``frame.attrs["quarantine"]`` (one warning says
    how many); ``frame.attrs["field_ids"]`` has the resolved field ids.

    ``canonical=None`` returns every field instead, columns named by field
    name and typed by field type, indexed by record id.
    """
    if token is None:
        token = secret_from_env("AIRTABLE_TOKEN")
        if token is None:
            raise ConfigError("AIRTABLE_TOKEN is not set; export the Airtable token in the "
                              "environment or pass token=")
    client = AirtableClient(token, endpoint_url=endpoint_url, rps=rps)
    source = AirtableSource(client, base, table, canonical=canonical or "signals",
                            mapping=mapping, progress=progress)
    if canonical is None:
        return source.pull_raw()
    result = source.pull(members=members)
    frame = result.frame
    frame.attrs["quarantine"] = result.quarantine
    frame.attrs["field_ids"] = source.field_ids
    if not result.quarantine.empty:
        log.warning("airtable %s: %d row(s) did not fit the %s table and are in "
                    "frame.attrs['quarantine'] (first: %s)", table, len(result.quarantine),
                    canonical, result.quarantine["reason"].iloc[0])
    return frame
