"""The Airtable connector: typed canonical frames in, batched upserts out, over pyairtable.

Layers, following the service's nouns:

- :class:`AirtableClient` is a :class:`pyairtable.Api` whose ``requests``
  session sends through a :class:`PacedAdapter`, the one seam every HTTP
  exchange passes through (pages of a listing, the ``POST …/listRecords``
  fallback for long formulas, schema reads, upserts), composed with
  pyairtable rather than overriding it. There each request takes a token from
  the base's :class:`~leadsync.connectors.base.RateLimiter` (5 requests/s per
  base, no burst (:data:`BURST`), shared by every table of the base in this
  process, owned by :class:`~leadsync.connectors.base.Limiters`), is retried by
  :func:`~leadsync.connectors.base.retrying` (a 429 is waited out for its
  ``Retry-After`` or Airtable's 30 s lock; 5xx, timeouts and resets back off),
  and a failure is taken apart by :func:`translate_error` and classified by
  :mod:`~leadsync.connectors.errors`, as Notion's are. pyairtable's own
  urllib3 retry is switched off: it gives up after about three seconds, ten
  times less than one 429 lock.
- :class:`AirtableSource` is one canonical table (a :class:`~leadsync.sources.Source`,
  like Notion's): it resolves the field mapping against the base schema by
  id or name, lists records by field id (so renames keep working) and hands
  them on page by page, restarts a listing whose offset expired, pulls
  incrementally from a :class:`~leadsync.records.Cursor`, and lists live ids
  cheaply to find deletions.
- :class:`AirtableWriter` upserts rows in batches of ten on key fields,
  sending only the fields leadsync owns, and isolates a rejected row so the
  others in its batch are still written.
- :func:`read_airtable` and :func:`iter_airtable` are the notebook entry
  points: one typed frame, or typed frames page by page.

Incremental pulls. With a cursor, records are selected by
``OR(<edited> >= since - lag, CREATED_TIME() >= since - lag)`` where
``<edited>`` is the table's last-modified-time field that watches every field
(by id), or ``LAST_MODIFIED_TIME()`` when the table has none. The time is an
aware UTC ``DATETIME_PARSE('…Z')``. A record's ``last_edited_time`` is that
field's value, or, without one, its ``createdTime``: a lower bound, so a
cursor advanced from it never skips an edit (it only re-reads). Listings sort
by a field that never changes (created time, autonumber) when the table has one.

Offsets. A listing is decoded and handed on page by page, as Notion's is.
If its offset expires (422 ``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``: the
server forgot the iterator, e.g. because the consumer was slow), the listing
restarts from the beginning and hands on only the records it had not handed
on yet, or whose values changed meanwhile: every record once, the newest
values last. An iterator that keeps expiring (:data:`MAX_LISTING_RESTARTS`
restarts in a row) is transient upstream trouble:
:class:`~leadsync.errors.UpstreamError`, and ``leadsync sync`` exits 75 so
cron retries.

Schema reads. A base's schema (``GET /v0/meta/bases/{base}/tables``) describes
all its tables, so the sources given one :class:`~leadsync.sources.SchemaCache`
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
(:func:`~leadsync.connectors.airtable_decode.cell_fits`) before its page is
decoded. Airtable gives each type a shape of its own (text a string, numbers
numbers, a date ``YYYY-MM-DD``, a date-time an ISO instant, links ``rec…``
ids, collaborators ``usr…`` objects, …), so a changed type shows in its
first non-empty value, and one cell that does not fit makes the source read
the schema again (one request) and decode the rest of the listing by the new
types (the pages before it fitted the cached types, so they decoded alike). The
shapes overlap only where text may spell a date: a text value that is exactly
a date or a date-time does not count as fitting, at the price of one schema
read on a night such a text cell is read. A type change whose cells are all
empty in the listing decodes to empty either way.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import pandas as pd
import pyairtable
import requests
from requests.adapters import HTTPAdapter

from leadsync.config import Config
from leadsync.errors import (
    ConfigError,
    ConnectorError,
    NotFoundError,
    RequestRejectedError,
    SchemaError,
    UpstreamError,
)
from leadsync.fieldtypes import can_feed
from leadsync.layout import default_fields
from leadsync.progress import Progress
from leadsync.records import Cursor, PullStats, Record, latest_records, records_to_frame
from leadsync.secrets import Secret, install_scrub_filter, secret_from_env
from leadsync.sources import (
    FieldRef,
    FrameReader,
    SchemaCache,
    Source,
    SourceFactory,
    infer_table,
    resolve_fields,
)
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
    gather_records,
    plan_columns,
)
from .airtable_encode import EncodeError, encode_value, is_blank
from .airtable_formula import modified_since
from .base import (
    DEFAULT_LIMITERS,
    Limiters,
    RateLimiter,
    RetryPolicy,
    ServerClock,
    WriteResult,
    client_burst,
    parse_retry_after,
    prefetched,
    retrying,
)
from .errors import classify_status, classify_transport

if TYPE_CHECKING:
    from leadsync.frames import CellBatch

__all__ = [
    "BATCH_SIZE",
    "BURST",
    "DEFAULT_ENDPOINT",
    "ENDPOINT_VARIABLE",
    "PAGE_SIZE",
    "RATE_LIMIT_WAIT_SECONDS",
    "REQUESTS_PER_SECOND",
    "AirtableClient",
    "AirtableSource",
    "AirtableWriter",
    "PacedAdapter",
    "base_limiter",
    "find_base",
    "iter_airtable",
    "read_airtable",
    "translate_error",
]

log = logging.getLogger("leadsync.connectors.airtable")

SERVICE: Final = "airtable"
DEFAULT_ENDPOINT = "https://api.airtable.com"
#: Where the notebook calls find the API when not told (``leadsync emulator serve`` prints it).
ENDPOINT_VARIABLE = "AIRTABLE_ENDPOINT_URL"
#: Airtable's published rate: requests per second per base.
REQUESTS_PER_SECOND = 5.0
#: Requests sent back to back before the rate applies: none beyond the first. Airtable
#: publishes "5 requests per second per base" and a 30 s lock after any refusal
#: (../shared/reference/airtable-api.md, 2), and no burst: read strictly (at most five
#: in any second) even a burst of two could be refused, and one refusal costs far more
#: (30 s) than a burst could save (0.2 s a pull). The emulator's model of the limit (a
#: bucket of ``Limits.airtable_burst`` 5) would allow more; leadsync does not count on it.
BURST = 1.0
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
#: 422 types a listing gets when a field it names no longer exists.
_FIELD_GONE = frozenset({"UNKNOWN_FIELD_NAME", "INVALID_FILTER_BY_FORMULA"})
_BASE_ID = re.compile(r"^app[A-Za-z0-9]{14}$")
_BASE_IN_URL = re.compile(r"/v0/(?:meta/bases/)?(app[A-Za-z0-9]+)(?:/|$|\?)")
#: 422 types that are about the whole request, never one record: a batch is not bisected.
_REQUEST_LEVEL_REJECTIONS = frozenset({
    "UNKNOWN_FIELD_NAME", "INVALID_REQUEST_BODY", "INVALID_REQUEST_MISSING_FIELDS",
})


# ---------------------------------------------------------------------------
# Errors: taken apart here, classified in connectors/errors.py


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
    code, message = _error_parts(response)
    wait = parse_retry_after(response.headers.get("Retry-After"))
    return classify_status(SERVICE, response.status_code, what=what, code=code,
                           message=message,
                           retry_after=wait if wait is not None else RATE_LIMIT_WAIT_SECONDS)


def translate_error(exc: BaseException, *, what: str = "request") -> ConnectorError:
    """A ``requests``/pyairtable failure as a leadsync error (never showing the token).

    Takes the failure apart (status, Airtable's error type and message,
    ``Retry-After``) and lets :mod:`~leadsync.connectors.errors` classify it,
    as for Notion. Messages are built from those and ``what`` (method and
    path); never from the request's headers or the exception's text, which
    can carry the URL with its query.
    """
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _from_response(exc.response, what)
    if isinstance(exc, requests.Timeout):
        return classify_transport(SERVICE, "timeout", what=what)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return classify_transport(SERVICE, "bad_response", what=what)
    if isinstance(exc, requests.exceptions.InvalidJSONError):
        return classify_transport(SERVICE, "unencodable", what=what)
    return classify_transport(SERVICE, "connection", what=what, detail=type(exc).__name__)


# ---------------------------------------------------------------------------
# The client: one HTTP seam for pacing, retries and translation


def base_limiter(base_id: str, rps: float, *, endpoint_url: str = DEFAULT_ENDPOINT,
                 limiters: Limiters | None = None) -> RateLimiter:
    """The limiter for one base, shared by every table and client using it
    (from ``limiters``, default the process's): ``rps``, with a :data:`BURST` of one."""
    return (DEFAULT_LIMITERS if limiters is None else limiters).get(
        f"airtable {endpoint_url.rstrip('/')} {base_id}", rps, client_burst(BURST, rps))


def _as_secret(token: Secret | str) -> Secret:
    return token if isinstance(token, Secret) else Secret(token, "AIRTABLE_TOKEN")


class PacedAdapter(HTTPAdapter):
    """The transport every request of an :class:`AirtableClient` goes through.

    Mounted on the client's ``requests`` session, so pyairtable stays as it
    is (its URL building, its GET-to-POST fallback for long formulas, its
    pagination) and every HTTP exchange, whichever pyairtable method made
    it, is: paced by its base's limiter, retried by
    :func:`~leadsync.connectors.base.retrying` (a 429 waited out for its
    ``Retry-After`` or Airtable's 30 s lock; 5xx, timeouts and resets backed
    off), dated (:class:`~leadsync.connectors.base.ServerClock`), and, when it
    fails for good, raised as a leadsync error (:func:`translate_error`). An
    error answer never reaches pyairtable.
    """

    def __init__(self, client: AirtableClient):
        super().__init__(max_retries=0)
        self.client = client

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        url = str(request.url)
        what = f"{request.method} {urlsplit(url).path}"
        client = self.client

        def exchange() -> requests.Response:
            try:
                response = super(PacedAdapter, self).send(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                    proxies=proxies)
                response.content  # noqa: B018  # read the body here, inside the retries
            except requests.RequestException as exc:
                raise translate_error(exc, what=what) from exc
            client.server_clock.note(response.headers.get("Date"))
            try:
                response.raise_for_status()
            except requests.HTTPError as exc:  # the leadsync error carries the response
                raise _from_response(response, what) from exc
            return response

        return retrying(exchange, policy=client.policy, limiter=client.limiter(url),
                        stats=client.stats, what=what, sleep=client.sleep)


class AirtableClient(pyairtable.Api):
    """``pyairtable.Api`` whose session sends through a :class:`PacedAdapter`.

    ``rps`` is the client-side rate per base, with a :data:`BURST` of one (None:
    unpaced, for benchmarks);
    the base's limiter comes from ``limiters`` (default: the process's
    :data:`~leadsync.connectors.base.DEFAULT_LIMITERS`). ``policy`` says how
    long to wait out 429s and how often to retry failures; ``stats`` counts
    requests, 429s, retries and waiting; the retries back off with ``sleep``
    (default: the ``limiters``'). ``session`` is the ``requests``
    session to send through (the one HTTP seam, as Notion's ``httpx.Client``;
    a new one by default). pyairtable's own urllib3 retry is off: it gives
    up after about three seconds, ten times less than one 429 lock.
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
        limiters: Limiters | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        install_scrub_filter()
        secret = _as_secret(token)
        super().__init__(secret.reveal(), endpoint_url=endpoint_url, timeout=timeout,
                         retry_strategy=False)
        if session is not None:
            self.session = session
            self.api_key = secret.reveal()  # sets the session's Authorization header
        self.rps = rps
        self.policy = policy or RetryPolicy(default_rate_wait=RATE_LIMIT_WAIT_SECONDS)
        self.stats = stats if stats is not None else PullStats()
        self.limiters = DEFAULT_LIMITERS if limiters is None else limiters
        self.sleep = sleep or self.limiters.sleep
        self._endpoint = endpoint_url
        self.server_clock = ServerClock()
        adapter = PacedAdapter(self)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"<AirtableClient {self._endpoint} rps={self.rps}>"

    def limiter(self, url: str) -> RateLimiter | None:
        """The limiter of the base ``url`` belongs to (requests outside a base share one)."""
        if self.rps is None:
            return None
        match = _BASE_IN_URL.search(url)
        return base_limiter(match.group(1) if match else "", self.rps,
                            endpoint_url=self._endpoint, limiters=self.limiters)


def fetch_base_schema(client: AirtableClient, base_id: str) -> tuple[AirtableTable, ...]:
    """Every table of a base (``GET /v0/meta/bases/{base}/tables``)."""
    payload = client.request("GET", str(client.build_url("meta/bases", base_id, "tables")))
    return decode_base_schema(payload)


def _resolve(mapping: Mapping[str, str], table: AirtableTable, base_id: str,
             canonical: str | None = None, configured: Mapping[str, str] | None = None
             ) -> dict[str, AirtableField]:
    """``mapping``'s fields in ``table``; with ``canonical`` (the canonical table read),
    the messages name it and a gone field id falls back on its ``configured`` name."""
    where = f"airtable {base_id}/{table.name}"
    fits = None
    if canonical is not None:
        where = f"{canonical}: {where}"

        def fits(column: str, ref: FieldRef) -> bool:
            return can_feed(SERVICE, canonical, column, ref.type)
    refs = resolve_fields(mapping, table.refs, where=where, configured=configured, fits=fits)
    return {column: table.field(ref.id) for column, ref in refs.items()}


# ---------------------------------------------------------------------------
# Reading


class AirtableSource(FrameReader):
    """One Airtable table read as a canonical leadsync table (a :class:`~leadsync.sources.Source`).

    ``table`` here is the canonical table's name (``"signals"``); the Airtable
    table is ``airtable_table`` (an id ``tbl…`` or a name) in base ``base_id``.
    ``mapping`` maps canonical columns to field names or ids; without one, the
    seed's field names (:func:`~leadsync.layout.default_fields`) are used,
    restricted to fields that exist. Nothing is sent until :meth:`open` or
    the first call that needs the schema. ``schemas`` shares base schema reads
    with other sources (one per base); ``schema_cache`` is a
    :attr:`schema_snapshot` of an earlier source for the same table, used
    instead of reading the schema (see "Schema snapshots" in the module doc).
    :meth:`~leadsync.sources.FrameReader.iter_pages` and
    :meth:`~leadsync.sources.FrameReader.pull_frame` give typed frames.
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
        configured: Mapping[str, str] | None = None,
    ):
        schema(canonical)  # a clear error for an unknown canonical table
        self.client = client
        self.base_id = base_id
        self.airtable_table = airtable_table
        self.table = canonical
        self.mapping = dict(mapping) if mapping else None
        #: column -> the field name in leadsync.toml, for messages and for the forgiving
        #: mapping when a stored field id is gone
        self.configured = dict(configured) if configured else None
        self.progress = progress
        #: NaN special values read as empty in non-number columns, from the last pull.
        self.notes: list[str] = []
        #: A little before the server's time when the last :meth:`fetch` began (see there).
        self.watermark: dt.datetime | None = None
        #: How often the listings restarted after an expired offset.
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
        """What this source's requests cost (its client's counter)."""
        return self.client.stats

    @stats.setter
    def stats(self, value: PullStats) -> None:
        self.client.stats = value

    @classmethod
    def from_config(
        cls,
        config: Config,
        table: str,
        env: Mapping[str, str] | None = None,
        stats: PullStats | None = None,
        *,
        field_ids: Mapping[str, str] | None = None,
        schema_cache: Mapping[str, Any] | None = None,
        schemas: SchemaCache | None = None,
        progress: bool | None = False,
        limiters: Limiters | None = None,
    ) -> AirtableSource:
        """The source for ``[tables.<table>]`` of ``leadsync.toml`` (a
        :class:`~leadsync.sources.SourceFactory`; not opened yet).

        ``field_ids`` (canonical column -> ``fld…``, as :attr:`field_ids` gave
        it on an earlier run) takes precedence over the configured names, so a
        field renamed in Airtable keeps mapping. ``schema_cache`` and
        ``schemas``: see the class. ``limiters`` owns the pacing (default: the
        process's).
        """
        spec = config.tables.get(table)
        if spec is None or not spec.airtable_base or not spec.airtable_table:
            raise ConfigError(f"needs airtable_base and airtable_table for {table}",
                              key=f"tables.{table}", path=config.source)
        client = AirtableClient(
            config.token(env),
            endpoint_url=config.workspace.airtable_endpoint_url,
            rps=config.limits.airtable_rps,
            policy=RetryPolicy(max_wait=config.sync.max_wait_seconds,
                               default_rate_wait=RATE_LIMIT_WAIT_SECONDS),
            stats=stats,
            limiters=limiters,
        )
        ids = dict(field_ids or {})
        # persisted ids win for the columns the config maps (or all, without a config mapping)
        mapping = ({c: ids.get(c, name) for c, name in spec.fields.items()}
                   if spec.fields else ids) or None
        return cls(client, spec.airtable_base, spec.airtable_table, canonical=table,
                   mapping=mapping, progress=progress, schema_cache=schema_cache,
                   schemas=schemas, configured=spec.fields)

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
            self.open()

    def open(self) -> None:
        """Read the base schema (or take the snapshot) and resolve the mapping (once)."""
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

    @property
    def fields(self) -> dict[str, AirtableField]:
        """Canonical column -> the Airtable field it is read from (opens the source)."""
        self.open()
        assert self._fields is not None
        return self._fields

    def _resolve_mapping(self, table: AirtableTable) -> dict[str, AirtableField]:
        if self.mapping is not None:
            fields = _resolve(self.mapping, table, self.base_id, self.table, self.configured)
        else:
            wanted = default_fields("airtable", self.table)
            fields = _resolve(
                {c: n for c, n in wanted.items() if any(
                    f.name == n or f.id == n for f in table.fields)},
                table, self.base_id, self.table)
        self._check_required(fields, table)
        return fields

    @property
    def field_ids(self) -> dict[str, str]:
        """Canonical column -> field id, for the sync to persist (survives renames;
        opens the source)."""
        return {column: f.id for column, f in self.fields.items()}

    @property
    def identity(self) -> dict[str, str]:
        """``service``, ``table``, the ``base_id`` and the ``table_id`` read (opens the source)."""
        self.open()
        return {"service": SERVICE, "table": self.table, "base_id": self.base_id,
                "table_id": self.fetch_schema().id}

    def _check_required(self, fields: Mapping[str, AirtableField], table: AirtableTable) -> None:
        spec = schema(self.table)
        missing = [c.name for c in spec.columns
                   if c.required and c.name != spec.key and c.name not in fields]
        if missing:
            names = ", ".join(f"{f.name!r} ({f.type})" for f in table.fields)
            raise SchemaError(
                f"{self.table}: airtable {self.base_id}/{table.name}: no field is mapped to "
                "the required "
                f"column(s) {', '.join(missing)} of {self.table}; pass a mapping "
                f"(canonical column -> field name or id). The fields that exist are: {names}"
            )

    def close(self) -> None:
        """Release the client's connections."""
        self.client.session.close()

    def __enter__(self) -> AirtableSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- listings --------------------------------------------------------------

    def _pages(self, options: Callable[[AirtableTable], dict[str, Any]], what: str,
               progress: Progress) -> Iterator[list[dict[str, Any]]]:
        """The records of the listing ``options(schema)`` describes, page by page.

        Each page is handed over as soon as it arrives (inside
        ``progress.paused()``: the caller's time is not the listing's). Each
        record comes once: a listing made again hands over only the records it
        has not handed over yet, or whose values changed since.

        - An expired offset (422 ``LIST_RECORDS_ITERATOR_NOT_AVAILABLE``, the
          server forgot the iterator) restarts the listing from the beginning,
          up to :data:`MAX_LISTING_RESTARTS` times in a row; then the listing
          gives up with :class:`~leadsync.errors.UpstreamError` (transient: a
          later run will do).
        - A refusal a schema change explains (404: the table; 422: a field it
          names) reads the schema again, resolves the mapping against it and
          makes the listing once more (see the module doc).
        """
        handed: dict[str, dict[str, Any]] = {}
        restarts = 0
        refreshed = False
        while True:
            table = self.fetch_schema()
            label = f"airtable {table.name}{what}"
            api_table = self.client.table(self.base_id, table.id)
            try:
                for page in self.client.iterate_requests(
                    "get", str(api_table.urls.records),
                    fallback=("post", str(api_table.urls.records_post)),
                    options=options(table),
                ):
                    records = page.get("records", []) if isinstance(page, dict) else []
                    fresh = [raw for raw in records if handed.get(str(raw["id"])) != raw]
                    progress.update(len(records))
                    if not fresh:
                        continue
                    handed.update((str(raw["id"]), raw) for raw in fresh)
                    with progress.paused():
                        yield fresh
                return
            except RequestRejectedError as exc:
                if exc.code == _ITERATOR_EXPIRED:
                    if restarts >= MAX_LISTING_RESTARTS:
                        raise UpstreamError(
                            f"{label}: the listing's offset expired {restarts + 1} times in a "
                            "row (Airtable forgot the list iterator each time); try again "
                            "later", service=SERVICE, status=exc.status, code=exc.code,
                        ) from exc
                    restarts += 1
                    self.restarts += 1
                    log.warning("%s: the listing's offset expired; restarting from the "
                                "beginning (restart %d)", label, restarts)
                    continue
                if exc.code not in _FIELD_GONE or refreshed:
                    raise
                refreshed, restarts = True, 0
                self._refresh(f"{exc.status} {exc.code}")
            except NotFoundError as exc:
                if refreshed:
                    raise
                refreshed, restarts = True, 0
                self._refresh(f"{exc.status} {exc.code}")

    def _records(self, options: Callable[[AirtableTable], dict[str, Any]], what: str = ""
                 ) -> list[dict[str, Any]]:
        """Every record of a listing, each id once (its last version)."""
        found: dict[str, dict[str, Any]] = {}
        with Progress(f"airtable {self.airtable_table}{what}", unit="records",
                      show=self.progress, logger=log) as progress:
            for page in self._pages(options, what, progress):
                found.update((str(raw["id"]), raw) for raw in page)
        return list(found.values())

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
        fields = self.fields
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

    # -- the Source contract ---------------------------------------------------

    def _checked_pages(self, cursor: Cursor | None, bar: Progress
                       ) -> Iterator[tuple[list[dict[str, Any]], Any, AirtableField | None]]:
        """Each page of the listing with the column plans and edit-time field it decodes by;
        while the schema comes from a snapshot, a page whose cells do not fit it makes the
        schema be read first (see "Schema snapshots")."""
        plans: tuple[Any, AirtableField | None] | None = None
        for page in self._pages(lambda table: self._fetch_options(table, cursor), "", bar):
            if self.cached:
                edited = self.fetch_schema().last_modified_field()
                misfit = self._misfit(page, [*self.fields.values(),
                                             *([edited] if edited else [])])
                if misfit is not None:
                    self._refresh(misfit)
                    plans = None
            if plans is None:
                plans = (plan_columns(self.table, self.fields),
                         self.fetch_schema().last_modified_field())
            yield page, plans[0], plans[1]

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        """Every record edited at or after ``cursor.query_from`` (all without), page by page.

        Each record once; a listing restarted after its offset expired yields
        again only a record whose values changed meanwhile (its newer values).
        While the schema comes from a snapshot, each page's cells are checked
        against it before the page is decoded (see "Schema snapshots").

        Afterwards :attr:`watermark` is a little before the server's time when
        the listing began (:meth:`ServerClock.watermark` of its answers'
        ``Date``): every record edited later has a ``LAST_MODIFIED_TIME()`` at
        or after it, so a cursor may move there even when no record carries its
        edit time (a table with no last-modified field gives only creation
        times).
        """
        self.open()
        self.notes = []
        count = 0
        bar = Progress(f"airtable {self.fetch_schema().name}", unit="records",
                       show=self.progress, logger=log)
        try:
            with bar, self.client.server_clock.watch() as times:
                for page, plans, edited in self._checked_pages(cursor, bar):
                    for raw in page:
                        count += 1
                        record = decode_record(raw, plans, edited_field=edited,
                                               notes=self.notes)
                        with bar.paused():  # the caller's time, not the pull's
                            yield record
            self.watermark = ServerClock.watermark(times)
        finally:
            self.stats.rows += count
            self.stats.seconds += bar.seconds
        if self.notes:
            log.info("airtable %s: %d cell(s) held NaN and were read as empty (%s)",
                     self.airtable_table, len(self.notes), self.notes[0])

    def fetch_cells(self, cursor: Cursor | None = None) -> Iterator[CellBatch]:
        """:meth:`fetch` for frames: a page of records at a time, decoded a column at a
        time (:func:`~leadsync.connectors.airtable_decode.gather_records`), the next page
        requested while this one is decoded (:func:`~leadsync.connectors.base.prefetched`).
        The rows are those :meth:`fetch` yields, decoded alike."""
        self.open()
        self.notes = []
        count = 0
        bar = Progress(f"airtable {self.fetch_schema().name}", unit="records",
                       show=self.progress, logger=log)

        def groups() -> Iterator[tuple[list[dict[str, Any]], Any, AirtableField | None]]:
            for page, plans, edited in self._checked_pages(cursor, bar):
                for start in range(0, len(page), PAGE_SIZE):
                    yield page[start:start + PAGE_SIZE], plans, edited

        try:
            with bar, self.client.server_clock.watch() as times:
                for page, plans, edited in prefetched(groups(), ahead=2):
                    count += len(page)
                    cells = gather_records(page, plans, self.table, edited_field=edited,
                                           notes=self.notes)
                    with bar.paused():
                        yield cells
            self.watermark = ServerClock.watermark(times)
        finally:
            self.stats.rows += count
            self.stats.seconds += bar.seconds
        if self.notes:
            log.info("airtable %s: %d cell(s) held NaN and were read as empty (%s)",
                     self.airtable_table, len(self.notes), self.notes[0])

    def list_ids(self) -> set[str]:
        """The id of every live record, listed with one small field per record."""
        def options(table: AirtableTable) -> dict[str, Any]:
            cheap = next((f for f in table.fields if f.type in (
                "checkbox", "autoNumber", "number", "rating", "count")), table.primary_field)
            return {"page_size": PAGE_SIZE, "use_field_ids": True, "fields": [cheap.id]}

        return {str(raw["id"]) for raw in self._records(options, " ids")}

    def pull(self, cursor: Cursor | None = None, *,
             members: pd.DataFrame | MemberIndex | None = None) -> Validated:
        """The canonical frame of :meth:`fetch` and the quarantine of rows that did not fit
        (what :meth:`~leadsync.sources.FrameReader.pull_frame` returns, as a pair)."""
        return records_to_frame(self.table, latest_records(self.fetch(cursor)), members=members)

    def pull_raw(self) -> pd.DataFrame:
        """Every field of every record, typed by Airtable type (see ``decode_frame``)."""
        def options(table: AirtableTable) -> dict[str, Any]:
            options: dict[str, Any] = {"page_size": PAGE_SIZE, "use_field_ids": True}
            stable = table.stable_sort_field()
            if stable is not None:
                options["sort"] = [stable.id]
            return options

        raw = self._records(options)
        if self.cached:
            misfit = self._misfit(raw, self.fetch_schema().fields)
            if misfit is not None:
                self._refresh(misfit)
        return decode_frame(self.fetch_schema(), raw)


if TYPE_CHECKING:  # mypy holds the source and its factory to the contract the sync relies on
    def _a_source(source: AirtableSource) -> Source:
        return source

    _a_factory: SourceFactory = AirtableSource.from_config


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
    canonical: str | None = None,
    mapping: Mapping[str, str] | None = None,
    members: pd.DataFrame | MemberIndex | None = None,
    token: Secret | str | None = None,
    endpoint_url: str | None = None,
    progress: bool | None = None,
    rps: float | None = REQUESTS_PER_SECOND,
    cursor: Cursor | None = None,
    limiters: Limiters | None = None,
    raw: bool = False,
) -> pd.DataFrame:
    """One Airtable table as a canonical frame, in one call.

    ``base`` is the base id (``app…``) or its name; ``table`` a table id or
    name. ``canonical`` names the canonical table it holds (``"signals"``);
    without it the table is inferred from ``mapping``'s columns, the table's
    name or the seed's field names it has (:func:`~leadsync.sources.infer_table`),
    as :func:`~leadsync.connectors.notion.read_notion` does. ``mapping`` maps
    canonical columns to field names or ids (default: the seed's names that
    exist, :func:`~leadsync.layout.default_fields`). ``members`` (a canonical
    members frame) resolves member references to ``member_id``. The token
    comes from ``$AIRTABLE_TOKEN`` unless given; the API from ``endpoint_url``,
    else ``$AIRTABLE_ENDPOINT_URL`` (what ``leadsync emulator serve`` prints),
    else Airtable's. The frame's ``attrs`` are those of
    :meth:`~leadsync.sources.FrameReader.pull_frame`, the same for Notion:
    ``quarantine`` (rows that did not fit the canonical table, each with its
    reason and the ``url`` of its record; one warning says how many),
    ``field_ids`` (the resolved field ids) and ``source`` (base and table ids).
    :func:`iter_airtable` gives the same rows page by page.

    ``raw=True`` returns every field instead, columns named by field name and
    typed by field type, indexed by record id. ``limiters`` owns the pacing
    (default: the process's, shared with every client of the base).
    """
    source = _notebook_source(base, table, mapping=mapping, canonical=canonical, token=token,
                              endpoint_url=endpoint_url, progress=progress, rps=rps,
                              limiters=limiters, raw=raw)
    with source:
        if raw:
            return source.pull_raw()
        return source.pull_frame(cursor, members=members)


def iter_airtable(
    base: str,
    table: str,
    *,
    canonical: str | None = None,
    mapping: Mapping[str, str] | None = None,
    members: pd.DataFrame | MemberIndex | None = None,
    token: Secret | str | None = None,
    endpoint_url: str | None = None,
    progress: bool | None = None,
    rps: float | None = REQUESTS_PER_SECOND,
    cursor: Cursor | None = None,
    limiters: Limiters | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`read_airtable` page by page: a typed frame per page of records (100 rows),
    each with the same ``attrs`` (its ``quarantine`` holds its own page's misfits)."""
    source = _notebook_source(base, table, mapping=mapping, canonical=canonical, token=token,
                              endpoint_url=endpoint_url, progress=progress, rps=rps,
                              limiters=limiters)
    with source:
        yield from source.iter_pages(cursor, members=members)


def find_base(client: AirtableClient, name: str) -> str:
    """The id of the one base named ``name`` (case ignored) the token reaches
    (``GET /v0/meta/bases``)."""
    wanted = name.strip().casefold()
    found = [b.id for b in client.bases(force=True)
             if (b.name or "").strip().casefold() == wanted]
    if not found:
        raise NotFoundError(f"no base named {name!r} is open to this token; pass its id "
                            "(the app… part of its URL)", service=SERVICE)
    if len(found) > 1:
        raise ConfigError(f"{len(found)} bases are named {name!r}: {', '.join(found)}; pass "
                          "the id of the one to read")
    return found[0]


def _notebook_source(base: str, table: str, *, mapping: Mapping[str, str] | None,
                     canonical: str | None, token: Secret | str | None,
                     endpoint_url: str | None, progress: bool | None, rps: float | None,
                     limiters: Limiters | None, raw: bool = False) -> AirtableSource:
    if token is None:
        token = secret_from_env("AIRTABLE_TOKEN")
        if token is None:
            raise ConfigError("AIRTABLE_TOKEN is not set; export the Airtable token in the "
                              "environment or pass token=")
    url = endpoint_url or os.environ.get(ENDPOINT_VARIABLE, "").strip() or DEFAULT_ENDPOINT
    client = AirtableClient(token, endpoint_url=url, rps=rps, limiters=limiters)
    try:
        base_id = base if _BASE_ID.match(base.strip()) else find_base(client, base)
        schemas = SchemaCache()  # the schema read to infer the table serves the pull too
        if canonical is None and not raw:
            found = AirtableSource(client, base_id, table, schemas=schemas).fetch_schema()
            canonical = infer_table(SERVICE, title=found.name, fields=found.refs,
                                    mapping=mapping)
    except BaseException:
        client.session.close()
        raise
    return AirtableSource(client, base_id, table, canonical=canonical or "signals",
                          mapping=mapping, progress=progress, schemas=schemas)
