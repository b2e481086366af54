"""The Notion connector: data sources in, typed canonical frames out, idempotent writes back.

Built on ``notion-client`` (API version 2025-09-03, where a database holds one
or more *data sources* and rows live in a data source). Decoding is pure and
lives in :mod:`~leadsync.connectors.notion_decode`; encoding in
:mod:`~leadsync.connectors.notion_encode`. Everything here does I/O.

Layers::

    read_notion(...)            one call from a notebook: a canonical DataFrame
    iter_notion(...)            the same, as typed frames page by page
    NotionSource                one canonical table (leadsync.sources.Source): open(),
                                fetch(cursor), list_ids(); iter_pages(), pull_frame()
    NotionWriter                create/update pages idempotently on a key property
    open_data_source(...)       database id/URL or data source id -> NotionDataSource (schema)
    NotionAPI                   notion_client.Client + pacing + retries + error translation

**Pacing and retries.** notion-client's own retries are switched off
(``retry=False``) so waits never stack; :class:`NotionAPI` sends every request
through the integration's :class:`~leadsync.connectors.base.RateLimiter`
(3 requests/s by default, after a first :data:`BURST` of 3 back to back; one per
token in a process, owned by :class:`~leadsync.connectors.base.Limiters`), so a
full pull normally meets no 429. A 429 holds the limiter for the whole
``Retry-After`` (however long, up to ``RetryPolicy.max_wait``); 5xx, 529,
timeouts and connection resets are retried with backoff by
:func:`~leadsync.connectors.base.retrying`, queries included (they are POSTs
but safe to repeat). Page creates are the one thing not simply
repeated: see :class:`NotionWriter`.

**Errors**: :func:`translate_error` takes notion-client's and httpx's errors
apart and :mod:`~leadsync.connectors.errors` classifies them, with the same
table as Airtable's: 401/403 -> :class:`~leadsync.errors.AuthError`, 404 ->
:class:`~leadsync.errors.NotFoundError` (telling the user to share the
database with the integration), other 4xx ->
:class:`~leadsync.errors.RequestRejectedError`, 429 ->
:class:`~leadsync.errors.RateLimitedError`, 5xx/timeouts/resets ->
:class:`~leadsync.errors.UpstreamError`, each with the request id and never
the token.

**The 10,000-result cap.** One query returns at most 10,000 rows, then says
``request_status.type == "incomplete"`` with ``has_more: false`` (notion-client's
pagination helper does not look). Every query here sorts by ``created_time``
ascending and checks every page of results; when a window is cut off, a new
query starts at ``created_time on_or_after <the last created_time seen>``
(times are minute-rounded, so the boundary minute is read again and
de-duplicated by page id). If more rows than the cap share one minute, no
window can get past them and the pull fails loudly rather than miss rows.

**Incremental pulls.** ``fetch(cursor)`` filters ``last_edited_time
on_or_after cursor.since - cursor.lag``: Notion rounds edit times down to the
minute, so an edit later in the cursor's minute carries the cursor's own time;
the overlap re-reads it and de-duplication by page id keeps each row once.
Trashed pages never appear in queries; :meth:`NotionSource.list_ids` lists
every live id cheaply (``filter_properties`` trimmed to the title) so a diff
against stored ids finds the deleted ones (:meth:`NotionSource.fetch_deleted`).

**Schema snapshots.** Opening a table costs two requests before its query
(``GET /v1/databases/{id}`` for the data source id, ``GET /v1/data_sources/{id}``
for the schema). :attr:`NotionSource.schema_snapshot` is what they resolved (the
data source id, its database and title, the properties as id, name and type),
as JSON; given back as ``schema_cache=``, the source opens without a request
and its first request is the query. A snapshot is checked against what Notion
answers, never trusted blindly:

- every page a query returns carries every property of its data source with
  its id and type, so a mapped property missing from a page (deleted) or with
  another type than the snapshot's makes the source read the schema again
  (one request) and resolve the mapping afresh: a deleted mapped property
  ends in the same :class:`~leadsync.errors.SchemaError` as without a
  snapshot, a new type decodes as the new type (values are decoded by the
  type each value carries anyway), a rename changes nothing (ids);
- a 404 for the cached data source id resolves the configured database afresh
  once (the data source may have been replaced) before it is reported;
- a mapping that does not resolve against the snapshot is resolved against a
  fresh schema before it is reported.

When to pass a snapshot is the caller's decision (the sync passes one only
when no reconciliation is due).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

import httpx
import notion_client
from notion_client.errors import (
    HTTPResponseError,
    InvalidPathParameterError,
    NotionClientErrorBase,
    RequestTimeoutError,
)

from leadsync.errors import (
    ConfigError,
    ConnectorError,
    DataValidationError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    SchemaError,
    UpstreamError,
)
from leadsync.fieldtypes import can_feed
from leadsync.layout import default_fields
from leadsync.progress import Progress
from leadsync.records import Cursor, PullStats, Record
from leadsync.secrets import Secret, install_scrub_filter, scrub, secret_from_env
from leadsync.sources import (
    FieldRef,
    FrameReader,
    SchemaCache,
    Source,
    SourceFactory,
    infer_table,
    mapped_label,
    resolve_fields,
)
from leadsync.tables import META_COLUMNS, MemberIndex, schema

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
from .notion_decode import (
    decode_page,
    decode_property,
    decode_property_items,
    decode_rich_text,
    field_refs,
    gather_pages,
    needs_expansion,
    property_by_id,
    property_key,
)
from .notion_encode import WRITABLE_TYPES, encode_property, plain_value

if TYPE_CHECKING:
    import pandas as pd

    from leadsync.config import Config
    from leadsync.frames import CellBatch

__all__ = [
    "BASE_URL_VARIABLE",
    "BURST",
    "DEFAULT_BASE_URL",
    "PAGE_SIZE",
    "QUERY_CAP",
    "NotionAPI",
    "NotionDataSource",
    "NotionSource",
    "NotionWriter",
    "find_data_source",
    "iter_notion",
    "looks_like_id",
    "open_data_source",
    "parse_notion_id",
    "read_notion",
    "read_notion_config",
    "resolve_mapping",
    "translate_error",
    "write_rows",
]

log = logging.getLogger("leadsync.connectors.notion")
#: The one logger every notion_client.Client gets (notion-client would otherwise add a
#: StreamHandler to its own logger per client, duplicating every line).
_client_log = logging.getLogger("leadsync.connectors.notion.client")

SERVICE: Final = "notion"
DEFAULT_BASE_URL = "https://api.notion.com"
#: Where the notebook calls find the API when not told (``leadsync emulator serve`` prints it).
BASE_URL_VARIABLE = "NOTION_BASE_URL"
#: Requests sent back to back before the average rate applies. Notion allows "some
#: bursts beyond the average rate" without saying how many (../shared/reference/
#: notion-api.md, 3.1); three (one second's worth) stay well inside that: the
#: emulator's model of it (``Limits.notion_burst``, 10) is refused neither by one
#: pull nor by a second process of the same integration starting as the first ends.
BURST = 3.0
#: Results per query page (Notion's maximum).
PAGE_SIZE = 100
#: Results one data source query returns before it stops with request_status "incomplete".
QUERY_CAP = 10_000
#: The longest single request: Notion answers within 60 s or gives up with a 503.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=70.0, write=30.0, pool=10.0)
#: Keys per ``or`` filter when looking pages up by key.
KEY_CHUNK = 100
#: The layout of :attr:`NotionSource.schema_snapshot`; another one is not used.
SNAPSHOT_VERSION = 1

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_HEX32 = re.compile(r"[0-9a-f]{32}", re.I)
_DASHED = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


# ---------------------------------------------------------------------------
# Ids


def parse_notion_id(ref: str) -> str:
    """A dashed lower-case id from an id (dashed or not) or a Notion URL.

    In a URL the id is the last 32-hex run of the path (``…/Signals-1f2e…?v=…``:
    the ``v`` view id is ignored). Raises :class:`~leadsync.errors.ConfigError`
    when there is none.
    """
    text = ref.strip()
    if _UUID.match(text):
        compact = text.replace("-", "").lower()
    else:
        path = urlsplit(text).path if "://" in text else text
        found = _DASHED.findall(path) or _HEX32.findall(path)
        if not found:
            raise ConfigError(f"{ref!r} is not a Notion id or a database/data source URL")
        compact = found[-1].replace("-", "").lower()
    return f"{compact[:8]}-{compact[8:12]}-{compact[12:16]}-{compact[16:20]}-{compact[20:]}"


# ---------------------------------------------------------------------------
# Errors, translated once


def _body_field(body: str, name: str) -> Any:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return None
    return parsed.get(name) if isinstance(parsed, dict) else None


def translate_error(exc: BaseException, what: str) -> ConnectorError:
    """The leadsync error for a notion-client or httpx error.

    Takes notion-client's error apart (status, Notion's ``code`` and
    ``message``, ``Retry-After``, request id) and lets
    :func:`~leadsync.connectors.errors.classify_status` decide, as for Airtable.
    Request headers (which carry the token) are never read.
    """
    if isinstance(exc, HTTPResponseError):
        status = int(exc.status)
        code = getattr(exc.code, "value", exc.code)
        body_code = _body_field(exc.body, "code")
        if isinstance(body_code, str):
            code = body_code  # codes notion-client does not know (service_overload, bad_gateway)
        retry_after = parse_retry_after(
            exc.headers.get("retry-after") if exc.headers is not None else None)
        return classify_status(
            SERVICE, status, what=what, code=None if code is None else str(code),
            message=_body_field(exc.body, "message") or str(exc), retry_after=retry_after,
            request_id=exc.request_id or _body_field(exc.body, "request_id"))
    if isinstance(exc, RequestTimeoutError | httpx.TimeoutException):
        return classify_transport(SERVICE, "timeout", what=what)
    if isinstance(exc, httpx.TransportError):
        return classify_transport(SERVICE, "connection", what=what, detail=type(exc).__name__)
    if isinstance(exc, InvalidPathParameterError):
        return RequestRejectedError(scrub(f"{what}: {exc}"), service=SERVICE)
    if isinstance(exc, ValueError):  # a 2xx whose body is not JSON
        return classify_transport(SERVICE, "bad_response", what=what)
    return ConnectorError(scrub(f"{what}: {exc}"), service=SERVICE)


# ---------------------------------------------------------------------------
# The client wrapper


class NotionAPI:
    """``notion_client.Client`` with leadsync's pacing, retries and errors.

    ``token`` is a :class:`~leadsync.secrets.Secret` (or a string, wrapped at
    once); ``rps`` the client-side rate, after a first :data:`BURST` of requests
    back to back (at most one second's worth of ``rps``); ``policy`` when to retry
    and how long a ``Retry-After`` may be. ``http`` is the ``httpx.Client`` every request goes
    through (the one HTTP seam: a test passes one on an ``httpx.MockTransport``).
    The integration's limiter comes from ``limiters`` (default: the process's
    :data:`~leadsync.connectors.base.DEFAULT_LIMITERS`) unless ``limiter`` is
    given; the retries back off with ``sleep``, by default the ``limiters``'.
    Close it (or use it as a context manager) to release the connection pool.
    """

    def __init__(
        self,
        token: Secret | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        rps: float = 3.0,
        policy: RetryPolicy | None = None,
        stats: PullStats | None = None,
        limiter: RateLimiter | None = None,
        limiters: Limiters | None = None,
        http: httpx.Client | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        sleep: Callable[[float], None] | None = None,
    ):
        secret = token if isinstance(token, Secret) else Secret(token, "NOTION_TOKEN")
        if not secret:
            raise ConfigError("the Notion token is empty; set NOTION_TOKEN")
        install_scrub_filter()
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.stats = stats if stats is not None else PullStats()
        # Notion limits each integration (token), so every client with this token
        # in the process shares one bucket.
        fingerprint = hashlib.sha256(secret.reveal().encode()).hexdigest()[:16]
        limiters = DEFAULT_LIMITERS if limiters is None else limiters
        self.limiter = limiter or limiters.get(f"notion {self.base_url} {fingerprint}", rps,
                                               client_burst(BURST, rps))
        self.sleep = sleep or limiters.sleep
        self._own_http = http is None
        self._http = http or httpx.Client(
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8))
        self.server_clock = ServerClock()
        hooks = self._http.event_hooks
        hooks["response"] = [*hooks.get("response", []),
                             lambda response: self.server_clock.note(response.headers.get("date"))]
        self._http.event_hooks = hooks
        # Never `with Client(...)`: its __enter__ swaps in a bare httpx.Client.
        self.client = notion_client.Client(
            auth=secret.reveal(),
            base_url=self.base_url,
            retry=False,  # every retry and wait is ours (no stacked waits)
            logger=_client_log,
            log_level=_client_log.level or logging.ERROR,
            client=self._http,
        )
        # notion-client's setter put one flat timeout on the client; use the finer one.
        self.client.client.timeout = timeout

    # -- one call ---------------------------------------------------------

    def call(self, what: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """``fn(**kwargs)`` paced, retried and with errors translated."""
        return retrying(lambda: self.once(what, fn, **kwargs), policy=self.policy,
                        limiter=self.limiter, stats=self.stats, what=what, sleep=self.sleep)

    def once(self, what: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """``fn(**kwargs)`` once, errors translated (no pacing, no retry)."""
        try:
            return fn(**kwargs)
        except (NotionClientErrorBase, httpx.TransportError, ValueError) as exc:
            raise translate_error(exc, what) from exc

    # -- endpoints ----------------------------------------------------------

    def retrieve_database(self, database_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(f"database {database_id}",
                                           self.client.databases.retrieve,
                                           database_id=database_id)
        return result

    def retrieve_data_source(self, data_source_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(f"data source {data_source_id}",
                                           self.client.data_sources.retrieve,
                                           data_source_id=data_source_id)
        return result

    def query(self, data_source_id: str, body: Mapping[str, Any], *,
              filter_properties: Sequence[str] | None = None,
              what: str | None = None) -> dict[str, Any]:
        """One page of a data source query. ``filter_properties`` are property ids or
        names as the schema gives them (percent-decoded here, so httpx encodes once)."""
        kwargs: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        if filter_properties:
            kwargs["filter_properties"] = [unquote(p) for p in filter_properties]
        result: dict[str, Any] = self.call(what or f"query data source {data_source_id}",
                                           self.client.data_sources.query,
                                           data_source_id=data_source_id, **kwargs)
        return result

    def retrieve_page(self, page_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(f"page {page_id}", self.client.pages.retrieve,
                                           page_id=page_id)
        return result

    def iter_property_items(self, page_id: str, property_id: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated property value (relation, people, title, rich_text)."""
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"page_size": PAGE_SIZE}
            if cursor:
                kwargs["start_cursor"] = cursor
            answer = self.call(f"property {property_id} of page {page_id}",
                               self.client.pages.properties.retrieve,
                               page_id=page_id, property_id=property_id, **kwargs)
            yield from answer.get("results") or ()
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def update_page(self, page_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        # Setting the same values twice is harmless: an update is safe to retry.
        result: dict[str, Any] = self.call(f"update page {page_id}", self.client.pages.update,
                                           page_id=page_id, properties=dict(properties))
        return result

    def create_page_once(self, data_source_id: str,
                         properties: Mapping[str, Any]) -> dict[str, Any]:
        """One create attempt, paced but **not** retried (see :class:`NotionWriter`).

        A 429 still holds the limiter for its ``Retry-After``, for every caller.
        """
        self.stats.waited_seconds += self.limiter.acquire()
        try:
            result: dict[str, Any] = self.once(
                f"create page in data source {data_source_id}", self.client.pages.create,
                parent={"type": "data_source_id", "data_source_id": data_source_id},
                properties=dict(properties))
        except RateLimitedError as exc:
            self.limiter.hold(exc.retry_after if exc.retry_after is not None
                              else self.policy.default_rate_wait)
            raise
        return result

    # -- lifetime -------------------------------------------------------------

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> NotionAPI:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _token(token: Secret | str | None) -> Secret:
    if isinstance(token, Secret):
        return token
    if token:
        return Secret(token, "NOTION_TOKEN")
    secret = secret_from_env("NOTION_TOKEN")
    if secret is None:
        raise ConfigError("NOTION_TOKEN is not set; export the Notion integration token "
                          "(or pass token=...)")
    return secret


# ---------------------------------------------------------------------------
# Data sources


@dataclass
class NotionDataSource:
    """A resolved data source: its id, its database, its title and its schema."""

    api: NotionAPI
    id: str
    database_id: str | None
    title: str
    properties: list[FieldRef]

    def field(self, name_or_id: str) -> FieldRef:
        """One property by id or name (a :class:`SchemaError` listing them all if absent)."""
        return resolve_fields({"property": name_or_id}, self.properties, where=self.label)[
            "property"]

    @property
    def title_property(self) -> FieldRef:
        for ref in self.properties:
            if ref.type == "title":
                return ref
        return FieldRef("title", "title", "title")

    @property
    def label(self) -> str:
        return f"Notion data source {self.title!r} ({self.id})"

    # -- queries --------------------------------------------------------------

    def iter_pages(self, filter: Mapping[str, Any] | None = None, *,
                   filter_properties: Sequence[str] | None = None,
                   what: str = "query") -> Iterator[dict[str, Any]]:
        """Every live page matching ``filter``, each once, past the 10,000-result cap.

        Sorted by ``created_time`` ascending. Each page of results is checked
        for ``request_status.type == "incomplete"``; a cut-off window is followed
        by a new query from the last ``created_time`` seen (de-duplicated by id).
        """
        seen: set[str] = set()
        window: str | None = None
        while True:
            clauses: list[dict[str, Any]] = [dict(filter)] if filter else []
            if window is not None:
                clauses.append({"timestamp": "created_time",
                                "created_time": {"on_or_after": window}})
            body: dict[str, Any] = {
                "page_size": PAGE_SIZE,
                "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
            }
            if len(clauses) == 1:
                body["filter"] = clauses[0]
            elif clauses:
                body["filter"] = {"and": clauses}
            cut_off = False
            last_created: str | None = None
            start_cursor: str | None = None
            while True:
                if start_cursor:
                    body["start_cursor"] = start_cursor
                answer = self.api.query(self.id, body, filter_properties=filter_properties,
                                        what=f"{what} of {self.label}")
                for page in answer.get("results") or ():
                    last_created = page.get("created_time") or last_created
                    page_id = str(page["id"])
                    if page_id in seen or page.get("in_trash") or page.get("archived"):
                        continue
                    seen.add(page_id)
                    yield page
                status = answer.get("request_status") or {}
                if status.get("type") == "incomplete":
                    cut_off = True
                    break
                start_cursor = answer.get("next_cursor")
                if not answer.get("has_more") or not start_cursor:
                    break
            if not cut_off:
                return
            if last_created is None or last_created == window:
                raise ConnectorError(
                    f"{what} of {self.label}: more than one query's worth of rows (Notion "
                    f"stops at {QUERY_CAP:,}) were created in the minute {last_created}; "
                    "leadsync cannot page past them without missing rows",
                    service=SERVICE, code="query_result_limit_reached")
            log.info("%s of %s: Notion's result cap reached; continuing from created_time %s",
                     what, self.label, last_created)
            window = last_created

    def list_ids(self) -> set[str]:
        """The ids of every live page, with the responses trimmed to the title."""
        return {str(page["id"]) for page in
                self.iter_pages(filter_properties=[self.title_property.id], what="list ids")}


def open_data_source(api: NotionAPI, target: str, *,
                     data_source: str | None = None) -> NotionDataSource:
    """Resolve a database id or URL (or a data source id) to its data source and schema.

    A database with several data sources needs ``data_source`` (an id or a
    name); without it a :class:`~leadsync.errors.ConfigError` lists them.
    """
    target_id = parse_notion_id(target)
    database_id: str | None = target_id
    chosen: str | None = None
    if data_source and _UUID.match(data_source.strip()):
        chosen = parse_notion_id(data_source)
    else:
        try:
            database = api.retrieve_database(target_id)
        except (NotFoundError, RequestRejectedError) as not_db:
            try:  # maybe the id is a data source's
                answer = api.retrieve_data_source(target_id)
            except (NotFoundError, RequestRejectedError):
                raise not_db from None
            return _data_source(api, answer)
        sources = database.get("data_sources") or []
        if data_source:
            matches = [s for s in sources if s.get("name") == data_source]
            if len(matches) != 1:
                raise ConfigError(f"database {target_id} has no single data source named "
                                  f"{data_source!r}; it has: {_list_sources(sources)}",
                                  key="notion_data_source")
            chosen = str(matches[0]["id"])
        elif len(sources) == 1:
            chosen = str(sources[0]["id"])
        elif not sources:
            raise ConfigError(f"database {target_id} has no data source the integration can "
                              "read")
        else:
            raise ConfigError(
                f"database {target_id} has {len(sources)} data sources: "
                f"{_list_sources(sources)}; name one (notion_data_source in leadsync.toml, "
                "or data_source=...)", key="notion_data_source")
    ds = _data_source(api, api.retrieve_data_source(chosen))
    ds.database_id = ds.database_id or database_id
    return ds


def looks_like_id(ref: str) -> bool:
    """Whether ``ref`` is a Notion id or a URL holding one (else it may be a title)."""
    text = ref.strip()
    return bool(_UUID.match(text) or _DASHED.search(text) or _HEX32.search(text)
                or "://" in text)


def find_data_source(api: NotionAPI, title: str) -> tuple[str, str]:
    """``(database id, data source id)`` of the one data source titled ``title`` (case
    ignored) among those shared with the integration, through ``POST /v1/search``.

    :class:`~leadsync.errors.NotFoundError` when none is, a
    :class:`~leadsync.errors.ConfigError` listing them when several are.
    """
    wanted = title.strip().casefold()
    found: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"query": title.strip(), "page_size": PAGE_SIZE,
                                "filter": {"property": "object", "value": "data_source"}}
        if cursor:
            body["start_cursor"] = cursor
        answer = api.call(f"search for {title!r}", api.client.search, **body)
        for item in answer.get("results") or ():
            if (decode_rich_text(item.get("title")) or "").strip().casefold() == wanted:
                parent = item.get("parent") or {}
                found.append((str(parent.get("database_id") or item["id"]), str(item["id"])))
        cursor = answer.get("next_cursor")
        if not answer.get("has_more") or not cursor:
            break
    if not found:
        raise NotFoundError(f"no database titled {title!r} is shared with the integration "
                            "(in Notion: ••• → Connections → add it), or pass its URL",
                            service=SERVICE)
    if len(found) > 1:
        raise ConfigError(f"{len(found)} databases are titled {title!r}: "
                          f"{', '.join(db for db, _ in found)}; pass the URL of the one to read")
    return found[0]


def _list_sources(sources: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{s.get('name')!r} ({s.get('id')})" for s in sources) or "none"


def _data_source(api: NotionAPI, answer: Mapping[str, Any]) -> NotionDataSource:
    parent = answer.get("parent") or {}
    database_id = parent.get("database_id") or (answer.get("database_parent") or {}).get(
        "database_id")
    return NotionDataSource(
        api=api,
        id=str(answer["id"]),
        database_id=database_id,
        title=decode_rich_text(answer.get("title")) or str(answer["id"]),
        properties=field_refs(answer.get("properties") or {}),
    )


# ---------------------------------------------------------------------------
# Reading one canonical table


def _default_mapping(table: str, available: Sequence[FieldRef]) -> dict[str, str]:
    try:
        defaults = default_fields("notion", table)
    except KeyError:
        return {}
    names = {ref.name for ref in available}
    return {column: name for column, name in defaults.items() if name in names}


def resolve_mapping(table: str, mapping: Mapping[str, str] | None,
                    available: Sequence[FieldRef], *, where: str,
                    configured: Mapping[str, str] | None = None) -> dict[str, FieldRef]:
    """Canonical column -> property, by id then name; every required column present.

    Without ``mapping`` the seed's property names (:func:`~leadsync.layout.default_fields`)
    are used, limited to the properties that exist. The key column may stay unmapped (the page
    id is the key then). ``configured`` (column -> the name in ``leadsync.toml``) is what a
    stored property id falls back on when that property is gone (see
    :func:`~leadsync.sources.resolve_fields`).
    """
    spec = schema(table)
    wanted = dict(mapping) if mapping is not None else _default_mapping(table, available)
    wanted = {c: p for c, p in wanted.items() if c not in META_COLUMNS}
    fields = resolve_fields(wanted, available, where=where, configured=configured,
                            fits=lambda column, ref: can_feed(SERVICE, table, column, ref.type))
    missing = [c.name for c in spec.columns
               if c.required and c.name != spec.key and c.name not in fields]
    if missing:
        names = ", ".join(f"{f.name!r} ({f.type})" for f in available)
        raise SchemaError(
            f"{where}: the {table} table needs {', '.join(missing)} mapped to a property "
            f"(fields = {{ {missing[0]} = \"<property>\" }} in leadsync.toml). "
            f"The properties that exist are: {names}")
    return fields


class NotionSource(FrameReader):
    """One canonical table read from a Notion data source (a :class:`~leadsync.sources.Source`).

    Opens lazily: the first :meth:`open`, :meth:`fetch`, :meth:`list_ids` or
    read of :attr:`fields` / :attr:`field_ids` resolves the data source and the
    mapping. :attr:`field_ids` then holds canonical column -> property id; pass
    those as the mapping next time and a renamed property keeps mapping.
    ``schema_cache`` (a :attr:`schema_snapshot` of an earlier source for the
    same database) opens without a request; see "Schema snapshots" in the
    module doc. :meth:`~leadsync.sources.FrameReader.iter_pages` and
    :meth:`~leadsync.sources.FrameReader.pull_frame` give typed frames.
    """

    service = SERVICE

    def __init__(
        self,
        api: NotionAPI,
        target: str,
        table: str = "signals",
        *,
        mapping: Mapping[str, str] | None = None,
        data_source: str | None = None,
        progress: bool | None = None,
        schema_cache: Mapping[str, Any] | None = None,
        configured: Mapping[str, str] | None = None,
        resolved: NotionDataSource | None = None,
    ):
        schema(table)
        self.api = api
        self.target = target
        self.table = table
        self.mapping = dict(mapping) if mapping is not None else None
        #: column -> the property name in leadsync.toml, for messages and for the
        #: forgiving mapping when a stored property id is gone
        self.configured = dict(configured) if configured else None
        self.data_source_name = data_source
        self.progress = progress
        self.data_source: NotionDataSource | None = None
        self._fields: dict[str, FieldRef] = {}
        #: A little before the server's time when the last complete :meth:`fetch` began.
        self.watermark: dt.datetime | None = None
        self.schema_cache = dict(schema_cache) if schema_cache else None
        #: True while the data source and its schema come from ``schema_cache``
        #: and nothing Notion answered has contradicted them.
        self.cached = False
        #: A data source read just before (a notebook call that looked at it to tell
        #: which canonical table it holds): opening uses it instead of reading again.
        self._resolved = resolved

    @property
    def stats(self) -> PullStats:
        """What this source's requests cost (its client's counter)."""
        return self.api.stats

    @property
    def fields(self) -> dict[str, FieldRef]:
        """Canonical column -> the property it is read from (opens the source)."""
        self.open()
        return self._fields

    @property
    def field_ids(self) -> dict[str, str]:
        """Canonical column -> property id, for the sync to persist (opens the source)."""
        return {column: ref.id for column, ref in self.fields.items()}

    @property
    def data_source_id(self) -> str:
        return self.connect().id

    @property
    def identity(self) -> dict[str, str]:
        """``service``, ``table``, the ``database_id`` and the ``data_source_id`` read."""
        ds = self.connect()
        return {"service": SERVICE, "table": self.table,
                "database_id": ds.database_id or "", "data_source_id": ds.id}

    @property
    def schema_snapshot(self) -> dict[str, Any] | None:
        """What :meth:`open` resolved, as JSON, for ``schema_cache=`` next time
        (None before opening)."""
        ds = self.data_source
        if ds is None:
            return None
        return {
            "service": SERVICE, "version": SNAPSHOT_VERSION,
            "target": parse_notion_id(self.target), "data_source": self.data_source_name,
            "data_source_id": ds.id, "database_id": ds.database_id, "title": ds.title,
            "properties": [[ref.id, ref.name, ref.type] for ref in ds.properties],
        }

    @classmethod
    def from_config(cls, config: Config, table: str, env: Mapping[str, str] | None = None,
                    stats: PullStats | None = None, *,
                    field_ids: Mapping[str, str] | None = None,
                    schema_cache: Mapping[str, Any] | None = None,
                    schemas: SchemaCache | None = None,
                    progress: bool | None = False,
                    limiters: Limiters | None = None) -> NotionSource:
        """The source for ``tables.<table>`` of ``leadsync.toml`` (a
        :class:`~leadsync.sources.SourceFactory`; not opened yet).

        ``field_ids`` (what :attr:`field_ids` gave last run) take precedence
        over the configured names for the columns they cover, so a property
        renamed in Notion since keeps mapping. ``schema_cache`` is a
        :attr:`schema_snapshot` to open with (see the class). ``schemas`` is
        accepted for the contract's sake: a Notion table's schema serves that
        table only, so there is nothing to share. ``limiters`` owns the pacing
        (default: the process's).
        """
        del schemas
        if config.workspace.kind != "notion":
            raise ConfigError(f"workspace.kind is {config.workspace.kind!r}, not 'notion'",
                              key="workspace.kind", path=config.source)
        if table not in config.tables:
            raise ConfigError(f"tables.{table} is not configured", path=config.source)
        spec = config.tables[table]
        if not spec.notion_database and not spec.notion_data_source:
            raise ConfigError("missing", key=f"tables.{table}.notion_database",
                              path=config.source)
        api = NotionAPI(
            config.token(env),
            base_url=config.workspace.notion_base_url,
            rps=config.limits.notion_rps,
            policy=RetryPolicy(max_wait=config.sync.max_wait_seconds),
            stats=stats,
            limiters=limiters,
        )
        mapping: dict[str, str] | None = dict(spec.fields) if spec.fields else None
        if field_ids:
            mapping = {**(mapping or {}), **field_ids}
        return cls(api, spec.notion_database or str(spec.notion_data_source), table,
                   mapping=mapping, data_source=spec.notion_data_source, progress=progress,
                   schema_cache=schema_cache, configured=spec.fields)

    def cursor(self, since: dt.datetime | None, overlap_seconds: float = 120) -> Cursor:
        """A cursor with the overlap that covers Notion's minute rounding."""
        return Cursor(since, dt.timedelta(seconds=overlap_seconds))

    def open(self) -> None:
        """Resolve the data source and the mapping (once): from ``schema_cache`` when
        it describes this table's target, else from Notion (two requests)."""
        self.connect()

    def connect(self) -> NotionDataSource:
        """:meth:`open`, returning the data source it resolved."""
        if self.data_source is None:
            cached = self._cached_data_source()
            if cached is not None:
                try:
                    return self._use(cached, cached=True)
                except SchemaError:
                    log.info("%s: the mapping does not resolve against the cached schema; "
                             "reading the schema from Notion", self.table)
                    self.schema_cache = None
            fresh, self._resolved = self._resolved, None
            self._use(fresh or open_data_source(self.api, self.target,
                                                data_source=self.data_source_name), cached=False)
        assert self.data_source is not None
        return self.data_source

    def _use(self, ds: NotionDataSource, *, cached: bool) -> NotionDataSource:
        """Resolve the mapping against ``ds`` (a SchemaError if it does not) and keep both."""
        self.cached = False
        self._fields = resolve_mapping(self.table, self.mapping, ds.properties,
                                       where=f"{self.table}: {ds.label}",
                                       configured=self.configured)
        self.data_source, self.cached = ds, cached
        return ds

    def _cached_data_source(self) -> NotionDataSource | None:
        """The data source ``schema_cache`` describes, if it is a snapshot of this target."""
        snap = self.schema_cache
        if not snap:
            return None
        try:
            if (snap.get("service"), snap.get("version")) != (SERVICE, SNAPSHOT_VERSION) or \
                    snap.get("target") != parse_notion_id(self.target) or \
                    snap.get("data_source") != self.data_source_name:
                return None
            return NotionDataSource(
                api=self.api, id=str(snap["data_source_id"]),
                database_id=snap.get("database_id"), title=str(snap["title"]),
                properties=[FieldRef(str(i), str(n), str(t)) for i, n, t in snap["properties"]])
        except (KeyError, TypeError, ValueError):
            log.debug("%s: schema_cache is not a Notion schema snapshot; ignored", self.table)
            return None

    def _refresh(self, why: str, *, resolve_target: bool = False) -> NotionDataSource:
        """Forget the cached schema and read it from Notion, then resolve the mapping
        again: the data source's schema (one request) or, with ``resolve_target``,
        the configured database afresh (its data source may be a new one)."""
        log.info("%s: the cached schema is out of date (%s); reading it from Notion",
                 self.table, why)
        self.schema_cache = None
        old = self.data_source
        if resolve_target or old is None:
            ds = open_data_source(self.api, self.target, data_source=self.data_source_name)
        else:
            ds = _data_source(self.api, self.api.retrieve_data_source(old.id))
            ds.database_id = ds.database_id or old.database_id
        return self._use(ds, cached=False)

    def _schema_change(self, page: Mapping[str, Any]) -> str | None:
        """How ``page`` contradicts the mapped properties' ids and types (None: it does not).

        A page carries every property of its data source, so a mapped id that
        is absent was deleted, and a value of another type means a type change.
        """
        props = property_by_id(page)
        for column, ref in self._fields.items():
            label = mapped_label(column, ref.name, self.configured)
            prop = props.get(property_key(ref.id))
            if prop is None:
                return f"{label}: property id {ref.id} is not on page {page.get('id')}"
            if prop.get("type") != ref.type:
                return f"{label} is a {prop.get('type')} property now, not {ref.type}"
        return None

    def _pages(self, filter_: Mapping[str, Any] | None, *, what: str,
               title_only: bool = False) -> Iterator[dict[str, Any]]:
        """:meth:`NotionDataSource.iter_pages` of the connected data source.

        Only the mapped properties are asked for (``filter_properties``; the
        title for an id listing), so Notion sends, and leadsync parses, no
        more than it decodes; the ids asked for are always those of the
        mapping as this pull resolved it. A 404 for a cached data source id
        resolves the configured database afresh and queries once more. A 400
        naming a property (a mapped property deleted since the schema was
        read) reads the schema again and resolves the mapping again: when that
        maps a column to another property (the forgiving mapping: the
        property re-created under its configured name), the query is repeated
        with the new ids, the pages already yielded skipped; when it does not
        resolve, the :class:`~leadsync.errors.SchemaError` says which column
        is gone; when it asks for the same ids, the refusal was not a schema
        change and is raised.
        """
        ds = self.connect()
        seen: set[str] = set()
        for _ in range(3):  # a schema change or two while one pull runs, then give up
            wanted = self._wanted(ds, title_only)
            try:
                for page in ds.iter_pages(filter_, what=what, filter_properties=wanted):
                    page_id = str(page.get("id"))
                    if page_id in seen:
                        continue
                    seen.add(page_id)
                    yield page
                return
            except NotFoundError:
                if seen or not self.cached:
                    raise
                ds = self._refresh(f"Notion does not know data source {ds.id}",
                                   resolve_target=True)
            except RequestRejectedError as exc:
                if title_only or not _names_a_property(exc):
                    raise
                ds = self._refresh(f"Notion refused the mapped properties ({exc})")
                if self._wanted(ds, title_only) == wanted:
                    raise  # the mapping asks for the same properties: not a schema change
        raise ConnectorError(f"{what}: the schema of {ds.label} kept changing while the "
                             "pull ran; run it again", service=SERVICE)

    def _wanted(self, ds: NotionDataSource, title_only: bool) -> list[str]:
        """The properties a query asks for: the title (id listings) or every mapped one."""
        if title_only:
            return [ds.title_property.id]
        ids = [ref.id for column, ref in self._fields.items() if column not in META_COLUMNS]
        return list(dict.fromkeys(ids)) or [ds.title_property.id]

    def _query_filter(self, cursor: Cursor | None) -> dict[str, Any] | None:
        since = cursor.query_from if cursor is not None else None
        if since is None:
            return None
        return {"timestamp": "last_edited_time",
                "last_edited_time": {"on_or_after": _iso(since)}}

    def _checked_pages(self, filter_: Mapping[str, Any] | None, what: str
                       ) -> Iterator[tuple[dict[str, Any], dict[str, FieldRef]]]:
        """Each page of the pull, complete (:meth:`_expand`), with the properties it decodes
        by; a page that contradicts a cached schema makes the schema be read first."""
        for page in self._pages(filter_, what=what):
            if self.cached:
                change = self._schema_change(page)
                if change is not None:
                    self._refresh(change)
            yield self._expand(page), self._fields

    # -- the Source contract ---------------------------------------------------

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        """Every row edited at or after ``cursor.query_from`` (all rows without one),
        complete (long relations and people expanded), each page once.

        Once the pull has ended, :attr:`watermark` is a little before the
        server's time when its first answer was dated
        (:meth:`ServerClock.watermark`: floored to the minute, as Notion rounds
        ``last_edited_time``): a page edited later shows a ``last_edited_time``
        at or after it, so the next pull from there finds it even if no page
        read now was edited recently.
        """
        self.connect()
        what = f"pull {self.table} from Notion"
        bar = Progress(what, show=self.progress, logger=log)
        try:
            with bar, self.api.server_clock.watch() as answered:
                for page, fields in self._checked_pages(self._query_filter(cursor), what):
                    record = decode_page(page, fields, self.table)
                    self.stats.rows += 1
                    bar.update(1)
                    with bar.paused():  # the caller's time, not the pull's
                        yield record
            self.watermark = ServerClock.watermark(answered)
        finally:
            self.stats.seconds += bar.seconds

    def fetch_cells(self, cursor: Cursor | None = None) -> Iterator[CellBatch]:
        """:meth:`fetch` for frames: the rows a page of results at a time, decoded a column
        at a time (:func:`~leadsync.connectors.notion_decode.gather_pages`), the next page
        requested while this one is decoded (:func:`~leadsync.connectors.base.prefetched`).
        The rows are those :meth:`fetch` yields, decoded alike."""
        self.connect()
        what = f"pull {self.table} from Notion"
        bar = Progress(what, show=self.progress, logger=log)

        def groups() -> Iterator[tuple[list[dict[str, Any]], dict[str, FieldRef]]]:
            batch: list[dict[str, Any]] = []
            fields: dict[str, FieldRef] | None = None
            for page, page_fields in self._checked_pages(self._query_filter(cursor), what):
                if batch and (page_fields is not fields or len(batch) >= PAGE_SIZE):
                    assert fields is not None
                    yield batch, fields
                    batch = []
                fields = page_fields
                batch.append(page)
            if batch:
                assert fields is not None
                yield batch, fields

        try:
            with bar, self.api.server_clock.watch() as answered:
                for pages, fields in prefetched(groups(), ahead=2):
                    cells = gather_pages(pages, fields, self.table)
                    self.stats.rows += len(pages)
                    bar.update(len(pages))
                    with bar.paused():
                        yield cells
            self.watermark = ServerClock.watermark(answered)
        finally:
            self.stats.seconds += bar.seconds

    def list_ids(self) -> set[str]:
        """The ids of every live row (trashed pages are not among them)."""
        started = time.monotonic()
        try:
            return {str(page["id"]) for page in
                    self._pages(None, what="list ids", title_only=True)}
        finally:
            self.stats.seconds += time.monotonic() - started

    def fetch_deleted(self, known_ids: Iterable[str]) -> set[str]:
        """Which of ``known_ids`` are gone upstream (trashed, deleted or unshared)."""
        return set(known_ids) - self.list_ids()

    def _expand(self, page: dict[str, Any]) -> dict[str, Any]:
        """The page with each mapped, truncated value completed from the property item
        endpoint (relations past 25, people and text at the reference cap)."""
        props = page.get("properties") or {}
        if not isinstance(props, Mapping):  # decode_page quarantines the page
            return page
        wanted = {property_key(ref.id) for ref in self._fields.values()}
        replaced: dict[str, Any] = {}
        for name, prop in props.items():
            if needs_expansion(prop) and property_key(str(prop.get("id"))) in wanted:
                items = list(self.api.iter_property_items(str(page["id"]), str(prop["id"])))
                replaced[name] = decode_property_items(prop, items)
        if not replaced:
            return page
        return {**page, "properties": {**props, **replaced}}

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> NotionSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _names_a_property(exc: RequestRejectedError) -> bool:
    """A 400 about a property (``Could not find property with name or id: …``)."""
    return exc.status == 400 and "propert" in str(exc).lower()


def _iso(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# Writing


#: Key property types that can be looked up with an ``equals`` filter.
_KEY_TYPES = ("title", "rich_text", "number", "select", "status", "email", "url",
              "phone_number")


def _canonical(ptype: str, value: Any, name: str) -> Any:
    """``value`` as Notion would read it back (so "unchanged" compares like with like)."""
    return decode_property({"type": ptype, **encode_property(ptype, value, name=name)})


@dataclass
class _Plan:
    row: Mapping[str, Any]
    key: Any
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)


class NotionWriter:
    """Create and update the pages of one data source, idempotently on a key property.

    - Pages are found by key (an ``or`` of ``equals`` filters, 100 keys a
      query); a row whose key exists updates that page, **only** the owned
      properties whose value differs (an unchanged row sends nothing); a row
      whose key is absent creates a page. A rerun creates nothing new.
    - A create is never blindly retried: when its answer is lost (5xx,
      timeout, reset — the page may exist), the key is looked up again before
      the next attempt, and a page found there is taken as the one created.
    - Only ``owned`` properties (and the key) are ever sent; every other
      property of the data source is left as it is.
    - Values over Notion's limits are split (text) or refused before anything
      is sent; a refused row lands in ``WriteResult.failed`` with the reason.
    """

    def __init__(self, data_source: NotionDataSource):
        self.ds = data_source
        self.api = data_source.api

    def write_rows(
        self,
        rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
        *,
        key: str,
        owned: Iterable[str] | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        """Upsert ``rows`` (mappings of property name or id -> value) on ``key``.

        ``owned`` names the properties leadsync may set (default: every column
        the rows carry). Columns of a row that are not owned are not sent.
        With ``dry_run`` nothing is written; the result says what would be.
        """
        records = _as_records(rows)
        key_ref = self.ds.field(key)
        if key_ref.type not in _KEY_TYPES:
            raise DataValidationError(
                f"key property {key_ref.name!r} is a {key_ref.type} property; a key must be "
                f"one of {', '.join(_KEY_TYPES)}")
        columns = list(owned) if owned is not None else list(
            dict.fromkeys(c for r in records for c in r))
        refs = resolve_fields({c: c for c in columns}, self.ds.properties, where=self.ds.label)
        refs[key] = key_ref
        read_only = sorted({f"{r.name!r} ({r.type})" for r in refs.values()
                            if r.type not in WRITABLE_TYPES})
        if read_only:
            raise DataValidationError(f"{self.ds.label}: cannot write read-only "
                                      f"properties: {', '.join(read_only)}")
        result = WriteResult()
        plans: list[_Plan] = []
        seen: set[Any] = set()
        for row in records:
            plan = self._plan(row, key, key_ref, refs, result)
            if plan is None:
                continue
            if plan.key in seen:
                result.failed.append((row, f"key {plan.key!r} appears more than once in the rows"))
                continue
            seen.add(plan.key)
            plans.append(plan)
        owned_ids = sorted({ref.id for ref in refs.values()})
        existing = self._find(key_ref, [p.key for p in plans], owned_ids)
        for plan in plans:
            page = existing.get(plan.key)
            try:
                if page is None:
                    if dry_run:
                        result.created.append(f"(new) {plan.key}")
                        continue
                    created = self._create(key_ref, plan, owned_ids)
                    result.created.append(str(created["id"]))
                    continue
                changed = self._changes(page, plan, refs)
                if not changed:
                    result.unchanged.append(str(page["id"]))
                    continue
                if not dry_run:
                    self.api.update_page(str(page["id"]), changed)
                result.updated.append(str(page["id"]))
            except (DataValidationError, RequestRejectedError) as exc:
                result.failed.append((plan.row, str(exc)))
        log.info("%s: %d created, %d updated, %d unchanged, %d failed%s", self.ds.label,
                 len(result.created), len(result.updated), len(result.unchanged),
                 len(result.failed), " (dry run)" if dry_run else "")
        return result

    def _plan(self, row: Mapping[str, Any], key: str, key_ref: FieldRef,
              refs: Mapping[str, FieldRef], result: WriteResult) -> _Plan | None:
        raw_key = plain_value(row.get(key, row.get(key_ref.name, row.get(key_ref.id))))
        if raw_key is None or raw_key == "":
            result.failed.append((row, f"no value for the key property {key_ref.name!r}"))
            return None
        try:
            key_value = _canonical(key_ref.type, raw_key, key_ref.name)
            plan = _Plan(row, key_value)
            problems: list[str] = []
            for column, ref in refs.items():
                if column not in row:
                    continue  # a column the row does not carry is left as it is
                try:
                    plan.properties[ref.id] = encode_property(ref.type, row[column],
                                                              name=ref.name)
                except DataValidationError as exc:
                    problems.append(str(exc))
            if problems:
                raise DataValidationError("; ".join(problems))
        except DataValidationError as exc:
            result.failed.append((row, str(exc)))
            return None
        if key_ref.id not in plan.properties:
            plan.properties[key_ref.id] = encode_property(key_ref.type, raw_key,
                                                          name=key_ref.name)
        return plan

    def _changes(self, page: Mapping[str, Any], plan: _Plan,
                 refs: Mapping[str, FieldRef]) -> dict[str, dict[str, Any]]:
        """The owned properties whose value on ``page`` differs from the plan's."""
        current = property_by_id(page)
        by_id = {ref.id: ref for ref in refs.values()}
        changed: dict[str, dict[str, Any]] = {}
        for prop_id, payload in plan.properties.items():
            ref = by_id[prop_id]
            prop = current.get(property_key(prop_id))
            if prop is not None and needs_expansion(prop):
                items = list(self.api.iter_property_items(str(page["id"]), prop_id))
                prop = decode_property_items(prop, items)
            try:
                now = None if prop is None else encode_property(
                    ref.type, decode_property(prop), name=ref.name)
            except DataValidationError:
                now = None
            if now != payload:
                changed[prop_id] = payload
        return changed

    def _key_filter(self, key_ref: FieldRef, value: Any) -> dict[str, Any]:
        return {"property": key_ref.id, key_ref.type: {"equals": value}}

    def _find(self, key_ref: FieldRef, keys: Sequence[Any],
              properties: Sequence[str]) -> dict[Any, dict[str, Any]]:
        """Existing pages by key value (the oldest page when a key is on several)."""
        found: dict[Any, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), KEY_CHUNK):
            chunk = wanted[start:start + KEY_CHUNK]
            filters = [self._key_filter(key_ref, k) for k in chunk]
            filter_ = filters[0] if len(filters) == 1 else {"or": filters}
            for page in self.ds.iter_pages(filter_, filter_properties=properties,
                                           what="look up keys"):
                prop = property_by_id(page).get(property_key(key_ref.id))
                value = decode_property(prop) if prop is not None else None
                if value in found:
                    log.warning("%s: key %r is on several pages; updating the oldest, %s",
                                self.ds.label, value, found[value]["id"])
                    continue
                if value is not None:
                    found[value] = page
        return found

    def _create(self, key_ref: FieldRef, plan: _Plan,
                properties: Sequence[str]) -> dict[str, Any]:
        answer_lost = False

        def attempt() -> dict[str, Any]:
            nonlocal answer_lost
            if answer_lost:
                # The last attempt may have created the page before its answer was
                # lost: look before creating again.
                existing = self._find(key_ref, [plan.key], properties).get(plan.key)
                if existing is not None:
                    log.info("%s: page for key %r was created by an attempt whose answer "
                             "was lost; not creating it again", self.ds.label, plan.key)
                    return existing
            try:
                return self.api.create_page_once(self.ds.id, plan.properties)
            except UpstreamError:
                answer_lost = True
                raise

        # No limiter here: each attempt paces itself (a lookup is several requests).
        result: dict[str, Any] = retrying(
            attempt, policy=self.api.policy, stats=self.api.stats,
            what=f"create page {plan.key!r} in {self.ds.label}",
            sleep=self.api.sleep)
        return result


def _as_records(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> list[Mapping[str, Any]]:
    to_dict = getattr(rows, "to_dict", None)
    if callable(to_dict) and hasattr(rows, "columns"):
        records: list[Mapping[str, Any]] = to_dict(orient="records")
        return records
    return list(rows)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# One call from a notebook


def read_notion(
    database: str,
    *,
    canonical: str | None = None,
    mapping: Mapping[str, str] | None = None,
    members: pd.DataFrame | MemberIndex | None = None,
    token: Secret | str | None = None,
    base_url: str | None = None,
    data_source: str | None = None,
    cursor: Cursor | None = None,
    rps: float = 3.0,
    max_wait: float = 900.0,
    progress: bool | None = None,
    limiters: Limiters | None = None,
    table: str | None = None,
) -> pd.DataFrame:
    """A Notion database as a canonical frame: ``database`` is its URL, its id, a data
    source id, or its title (found through search among what the integration sees).

    ``canonical`` names the canonical table it holds (``"signals"``); without it
    the table is inferred from ``mapping``'s columns, the database's title or
    the seed's property names it has (:func:`~leadsync.sources.infer_table`), as
    :func:`~leadsync.connectors.airtable.read_airtable` does. (``table=`` is its
    older name.) ``mapping`` maps canonical columns to property names or ids
    (default: the seed's names that exist, :func:`~leadsync.layout.default_fields`).
    ``members`` (a canonical members frame) resolves member references to
    ``member_id``. The token comes from ``$NOTION_TOKEN`` unless given; the API
    from ``base_url``, else ``$NOTION_BASE_URL`` (what ``leadsync emulator serve``
    prints), else Notion's. The frame's ``attrs`` are those of
    :meth:`~leadsync.sources.FrameReader.pull_frame`, the same for Airtable:
    ``quarantine`` (rows that did not fit, each with its reason and the ``url`` of
    its page; one warning says how many), ``field_ids`` (pass them as ``mapping``
    to survive renames) and ``source`` (database and data source ids). Long pulls
    show a progress bar on a terminal or in a notebook, log lines otherwise.
    :func:`iter_notion` gives the same rows page by page. ``limiters`` owns the
    pacing (default: the process's, shared with every client of the integration).
    """
    with _notebook_source(database, mapping=mapping, canonical=_table_named(canonical, table),
                          token=token, base_url=base_url, data_source=data_source, rps=rps,
                          max_wait=max_wait, progress=progress, limiters=limiters) as source:
        return source.pull_frame(cursor, members=members)


def iter_notion(
    database: str,
    *,
    canonical: str | None = None,
    mapping: Mapping[str, str] | None = None,
    members: pd.DataFrame | MemberIndex | None = None,
    token: Secret | str | None = None,
    base_url: str | None = None,
    data_source: str | None = None,
    cursor: Cursor | None = None,
    rps: float = 3.0,
    max_wait: float = 900.0,
    progress: bool | None = None,
    limiters: Limiters | None = None,
    table: str | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`read_notion` page by page: a typed frame per page of results (100 rows),
    each with the same ``attrs`` (its ``quarantine`` holds its own page's misfits)."""
    with _notebook_source(database, mapping=mapping, canonical=_table_named(canonical, table),
                          token=token, base_url=base_url, data_source=data_source, rps=rps,
                          max_wait=max_wait, progress=progress, limiters=limiters) as source:
        yield from source.iter_pages(cursor, members=members)


def _table_named(canonical: str | None, table: str | None) -> str | None:
    if canonical is not None and table is not None and canonical != table:
        raise ConfigError(f"canonical={canonical!r} and table={table!r} disagree; table= is "
                          "the older name of canonical=: pass one")
    return canonical or table


def _notebook_source(database: str, *, mapping: Mapping[str, str] | None,
                     canonical: str | None, token: Secret | str | None, base_url: str | None,
                     data_source: str | None, rps: float, max_wait: float,
                     progress: bool | None, limiters: Limiters | None) -> NotionSource:
    url = base_url or os.environ.get(BASE_URL_VARIABLE, "").strip() or DEFAULT_BASE_URL
    api = NotionAPI(_token(token), base_url=url, rps=rps,
                    policy=RetryPolicy(max_wait=max_wait), limiters=limiters)
    try:
        target = database
        if not looks_like_id(database):
            target, data_source = find_data_source(api, database)
        resolved = None
        if canonical is None:
            resolved = open_data_source(api, target, data_source=data_source)
            canonical = infer_table(SERVICE, title=resolved.title, fields=resolved.properties,
                                    mapping=mapping)
    except BaseException:
        api.close()
        raise
    return NotionSource(api, target, canonical, mapping=mapping, data_source=data_source,
                        progress=progress, resolved=resolved)


def read_notion_config(
    config: Config,
    table: str = "signals",
    *,
    env: Mapping[str, str] | None = None,
    members: pd.DataFrame | MemberIndex | bool | None = True,
    progress: bool | None = None,
) -> pd.DataFrame:
    """``tables.<table>`` of ``leadsync.toml`` as a canonical frame.

    With ``members=True`` (the default) the members table is pulled first and
    used to resolve member references (skipped for the members table itself).
    """
    resolved: pd.DataFrame | MemberIndex | None = None
    if members is True and table != "members" and schema(table).member_columns:
        resolved = read_notion_config(config, "members", env=env, members=None,
                                      progress=progress)
    elif members is not True and members is not False:
        resolved = members
    with NotionSource.from_config(config, table, env=env, progress=progress) as source:
        return source.pull_frame(members=resolved)


def write_rows(
    target: str,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    *,
    key: str,
    owned: Iterable[str] | None = None,
    token: Secret | str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    data_source: str | None = None,
    rps: float = 3.0,
    dry_run: bool = False,
) -> WriteResult:
    """Upsert ``rows`` into a Notion database or data source on the ``key`` property
    (see :class:`NotionWriter`)."""
    with NotionAPI(_token(token), base_url=base_url, rps=rps) as api:
        ds = open_data_source(api, target, data_source=data_source)
        return NotionWriter(ds).write_rows(rows, key=key, owned=owned, dry_run=dry_run)


if TYPE_CHECKING:  # mypy holds the source and its factory to the contract the sync relies on
    def _a_source(source: NotionSource) -> Source:
        return source

    _a_factory: SourceFactory = NotionSource.from_config
