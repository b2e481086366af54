"""Sources: the contract every connector implements, and opening one for a configured table.

A **source** is one workspace table (a Notion data source, an Airtable table)
read as one canonical leadsync table. The sync, the notebook readers and the
test workspace (:mod:`leadsync.testing`) talk to it through :class:`Source`
only; ``leadsync.connectors.notion.NotionSource`` and
``leadsync.connectors.airtable.AirtableSource`` implement it under the same
names, and mypy checks each against it. Its life:

1. **made** by a :class:`SourceFactory` (``from_config`` of a connector, or
   :func:`open_source`, which picks the connector of the configured
   workspace), with the token, the table and the field mapping;
2. **opened** (:meth:`Source.open`): the table is found and the mapping
   resolved to field ids, so a wrong token, a missing table or an unmapped
   field fails here (:class:`~leadsync.errors.AuthError`,
   :class:`~leadsync.errors.NotFoundError`, :class:`~leadsync.errors.SchemaError`);
   with a schema snapshot it opens without a request, and the first request
   (the pull's) is where such errors show;
3. **read**: :meth:`Source.fetch` from a :class:`~leadsync.records.Cursor`,
   :meth:`Source.list_ids` for deletions; afterwards :attr:`Source.watermark`,
   :attr:`Source.field_ids`, :attr:`Source.schema_snapshot` and
   :attr:`Source.stats` say what the sync stores and reports.

In a notebook, :class:`FrameReader` gives each source the pair
:meth:`~FrameReader.iter_pages` (typed frames page by page) and
:meth:`~FrameReader.pull_frame` (one typed frame), both carrying the same
``attrs``: ``quarantine``, ``field_ids`` and ``source`` (:attr:`Source.identity`).

Field ids, so renames keep mapping
    ``field_ids`` (``{column: field id}``) are ids a previous run resolved the
    mapping to. The connector looks them up before the configured names
    (:func:`resolve_fields`), so a property renamed upstream after the first
    sync still maps. When such an id is gone (the property was deleted, then
    re-created under the configured name), the configured name is used again,
    if the property carrying it has a type that can feed the column
    (:mod:`leadsync.fieldtypes`), with one WARNING naming both: the forgiving
    mapping. The sync only passes the ids of columns whose configured name is
    the one they were resolved from: a user who edits the mapping gets it
    resolved afresh.

Schemas, read once
    ``schemas`` is a :class:`SchemaCache` the sync makes per run: sources
    share schema reads through it (an Airtable base's schema serves all its
    tables). ``schema_cache`` is the snapshot of the table's schema a source
    gave last run (:attr:`Source.schema_snapshot`); given it, a source opens
    without reading the schema and checks the snapshot against what the
    service answers. When to pass one is the sync's decision.

The connector modules are imported by :func:`open_source` only, so the
store, the sync and the notebook reader of the store load no HTTP client.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import logging
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pandas as pd

from leadsync.config import Config
from leadsync.errors import ConfigError, LeadsyncError, SchemaError
from leadsync.layout import LAYOUT, default_fields
from leadsync.records import Cursor, PullStats, Record
from leadsync.tables import TABLES, MemberIndex

if TYPE_CHECKING:
    from leadsync.frames import CellBatch

__all__ = [
    "CONNECTORS",
    "FieldRef",
    "FrameReader",
    "SchemaCache",
    "Source",
    "SourceFactory",
    "TableSource",
    "close_names",
    "concat_frames",
    "connector",
    "infer_table",
    "mapped_label",
    "open_source",
    "pin_field_ids",
    "resolve_fields",
    "resolve_now",
    "row_url",
]

log = logging.getLogger("leadsync.sources")

T = TypeVar("T")

#: Rows per frame :meth:`FrameReader.iter_pages` yields: a page of either service's results.
PAGE_ROWS = 100


class Source(Protocol):
    """One workspace table read as one canonical leadsync table (see the module doc).

    Every member is what the sync, the frames and the store rely on; a
    connector implements all of them, under these names.
    """

    @property
    def service(self) -> str:
        """``"notion"``, ``"airtable"`` (``"fake"`` for :mod:`leadsync.testing`)."""
        ...

    @property
    def table(self) -> str:
        """The canonical table read (``"signals"``)."""
        ...

    @property
    def stats(self) -> PullStats:
        """What this source's requests cost so far (requests, 429s, rows, seconds)."""
        ...

    @property
    def identity(self) -> dict[str, str]:
        """Which upstream table this is: ``service``, ``table`` and the service's ids
        (Notion: ``database_id``, ``data_source_id``; Airtable: ``base_id``,
        ``table_id``). Opens the source."""
        ...

    @property
    def field_ids(self) -> dict[str, str]:
        """Canonical column -> the field (property) id the mapping resolved to; the
        sync stores them so renames keep mapping. Opens the source."""
        ...

    @property
    def watermark(self) -> dt.datetime | None:
        """After a complete :meth:`fetch`: a little before the server's time when it
        began (None before, or when the service sent no ``Date``). Every row edited
        later comes back from a pull starting there."""
        ...

    @property
    def schema_snapshot(self) -> dict[str, Any] | None:
        """The schema the source resolved, as JSON, to pass back as ``schema_cache=``
        next time (None before opening)."""
        ...

    def open(self) -> None:
        """Find the table and resolve the mapping (once; later calls do nothing).

        Raises :class:`~leadsync.errors.AuthError`, :class:`~leadsync.errors.NotFoundError`
        or :class:`~leadsync.errors.SchemaError`; with a schema snapshot, sends nothing.
        """
        ...

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        """Every row edited at or after ``cursor.query_from`` (all rows without a
        cursor), complete (long relations expanded), streamed as the service pages
        them, each id once (again only with newer values, see
        :func:`~leadsync.records.latest_records`)."""
        ...

    def list_ids(self) -> set[str]:
        """The ids of every live row, fetched as cheaply as the API allows."""
        ...

    def close(self) -> None:
        """Release the connections (the source cannot be read afterwards)."""
        ...


#: The name this contract had before it was complete (kept for old imports).
TableSource = Source


class SourceFactory(Protocol):
    """What makes a :class:`Source` for a configured table, opened.

    :func:`open_source` is the one the sync uses; a connector's
    ``from_config`` (not opened yet), :meth:`leadsync.testing.FakeWorkspace.open_source`
    and a test's own factory take the same arguments. ``field_ids``,
    ``schema_cache`` and ``schemas`` are described in the module doc;
    ``stats`` is the counter the source adds its requests to.
    """

    def __call__(self, config: Config, table: str, *, env: Mapping[str, str] | None = None,
                 field_ids: Mapping[str, str] | None = None,
                 stats: PullStats | None = None,
                 schema_cache: Mapping[str, Any] | None = None,
                 schemas: SchemaCache | None = None) -> Source: ...


# ---------------------------------------------------------------------------
# Field mapping


@dataclass(frozen=True)
class FieldRef:
    """A property (Notion) or field (Airtable) as the schema names it."""

    id: str
    name: str
    type: str


def mapped_label(column: str, wanted: str, configured: Mapping[str, str] | None) -> str:
    """How a message names a mapped column: its column, the name the user configured in
    ``leadsync.toml``, and the property id it stands for when that differs."""
    name = (configured or {}).get(column)
    if name is None or name == wanted:
        return f"{column} -> {wanted!r}"
    return f"{column} -> {name!r} (property id {wanted!r} from an earlier sync)"


def _by_name(name: str, by_name: Mapping[str, FieldRef],
             by_folded: Mapping[str, list[FieldRef]]) -> FieldRef | None:
    found = by_name.get(name)
    if found is None:
        folded = by_folded.get(name.casefold(), [])
        found = folded[0] if len(folded) == 1 else None
    return found


def resolve_fields(
    mapping: Mapping[str, str],
    available: Sequence[FieldRef],
    *,
    where: str,
    configured: Mapping[str, str] | None = None,
    fits: Callable[[str, FieldRef], bool] | None = None,
) -> dict[str, FieldRef]:
    """Canonical column -> the workspace field it maps to, matched by id, then by name.

    Matching ids first is what keeps a sync working after a rename: once a
    mapping has been resolved, callers keep the ids. ``where`` names the table
    for messages.

    ``configured`` (column -> the name in ``leadsync.toml``) makes the mapping
    forgiving: when ``mapping`` holds an id resolved on an earlier sync and that
    property is gone (deleted, then re-created under the same name), the
    property now carrying the configured name is used instead, if ``fits``
    (column, field) says its type can feed the column, with one WARNING naming
    both. Every message names the column, the configured name and the table.

    A mapped field that does not exist raises :class:`~leadsync.errors.SchemaError`
    naming every field that does, and the close names.
    """
    by_id = {f.id: f for f in available}
    by_name = {f.name: f for f in available}
    by_folded: dict[str, list[FieldRef]] = {}
    for f in available:
        by_folded.setdefault(f.name.casefold(), []).append(f)
    resolved: dict[str, FieldRef] = {}
    missing: list[str] = []
    for column, wanted in mapping.items():
        found = by_id.get(wanted) or _by_name(wanted, by_name, by_folded)
        name = (configured or {}).get(column)
        if found is None and name is not None and name != wanted:
            again = _by_name(name, by_name, by_folded)
            if again is not None and (fits is None or fits(column, again)):
                log.warning(
                    "%s: %s is gone; mapping %s to the property now named %r (id %r, %s) "
                    "instead", where, mapped_label(column, wanted, configured), column,
                    again.name, again.id, again.type)
                found = again
        if found is None:
            hint = close_names(name or wanted, available)
            missing.append(mapped_label(column, wanted, configured)
                           + (f" (did you mean {hint}?)" if hint else ""))
        else:
            resolved[column] = found
    if missing:
        names = ", ".join(f"{f.name!r} ({f.type})" for f in available)
        raise SchemaError(
            f"{where}: mapped field(s) not found: {'; '.join(missing)}. "
            f"The fields that exist are: {names}"
        )
    return resolved


def close_names(name: str, available: Sequence[FieldRef], n: int = 2) -> str:
    """``'Impact level' (select)`` and the like: the fields whose names are close to
    ``name`` (empty when none is)."""
    names = {f.name.casefold(): f for f in available}
    close = difflib.get_close_matches(name.casefold(), list(names), n=n, cutoff=0.6)
    return " or ".join(f"{names[c].name!r} ({names[c].type})" for c in close)


class SchemaCache:
    """Schemas read during one run, shared by the sources that need the same one.

    ``get(key, read)`` calls ``read()`` the first time a key is asked for and
    returns that answer afterwards; ``refresh(key, read)`` reads again (the
    API said the schema changed) and the new answer serves later callers too.
    Its lifetime is its owner's: the sync makes one per run, a source without
    one makes its own. It is never process-global, so a long-lived notebook
    sees a rename on its next call instead of a schema from hours ago.
    """

    def __init__(self) -> None:
        self._schemas: dict[Hashable, Any] = {}

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        if key not in self._schemas:
            self._schemas[key] = read()
        found: T = self._schemas[key]
        return found

    def refresh(self, key: Hashable, read: Callable[[], T]) -> T:
        self._schemas.pop(key, None)
        return self.get(key, read)

    def __contains__(self, key: object) -> bool:
        return key in self._schemas


# ---------------------------------------------------------------------------
# Frames for notebooks


class FrameReader:
    """The notebook pair every connector's source has: pages of typed frames, or one frame.

    Mixed into a :class:`Source`. Both methods pull (I/O) and decode to the
    canonical table; ``members`` (a canonical members frame or index) resolves
    member references to ``member_id``. Every frame carries the same ``attrs``
    for both services:

    - ``quarantine``: the rows that did not fit, each with its reason and the
      ``url`` of its page or record, to open and fix it;
    - ``field_ids``: canonical column -> field id (pass it as the mapping next
      time to survive renames);
    - ``source``: :attr:`Source.identity` (service, table and upstream ids).

    Pages go together with :func:`concat_frames` (``pd.concat`` chokes on a
    frame held in ``attrs``).

    Frames are built a column at a time (:class:`~leadsync.frames.FrameBuilder`)
    from :meth:`fetch_cells`; a connector overrides it with its column-wise
    decoder, and by default it batches :meth:`Source.fetch`'s records.
    """

    def fetch_cells(self: Source, cursor: Cursor | None = None) -> Iterator[CellBatch]:
        """The rows of :meth:`Source.fetch`, a page of results (or so) a batch."""
        from leadsync.frames import CellBatch

        page: list[Record] = []
        for record in self.fetch(cursor):
            page.append(record)
            if len(page) >= PAGE_ROWS:
                yield CellBatch.from_records(self.table, page)
                page = []
        if page:
            yield CellBatch.from_records(self.table, page)

    def iter_pages(self, cursor: Cursor | None = None, *,
                   members: pd.DataFrame | MemberIndex | None = None,
                   page_rows: int = PAGE_ROWS) -> Iterator[pd.DataFrame]:
        """Typed frames of ``page_rows`` rows (the service's page size) as the pull goes.

        Each frame's ``attrs["quarantine"]`` holds its own page's misfits. Pages
        come as the service answers, so a caller can stop early or keep memory flat.
        A row the service hands on twice within one frame's rows (an Airtable
        listing restarted after its offset expired) is in that frame once, with
        its last values, as in :meth:`pull_frame`.
        """
        if page_rows < 1:
            raise ValueError("page_rows must be at least 1")
        source: Any = self
        pending: CellBatch | None = None
        for batch in source.fetch_cells(cursor):
            pending = batch if pending is None else _joined(pending, batch)
            while pending.rows >= page_rows:
                head, pending = pending.split(page_rows)
                yield _framed(source, [head], members)
        if pending is not None and pending.rows:
            yield _framed(source, [pending], members)

    def pull_frame(self, cursor: Cursor | None = None, *,
                   members: pd.DataFrame | MemberIndex | None = None) -> pd.DataFrame:
        """The whole table (or what changed since ``cursor``) as one typed frame.

        Rows that do not fit are in ``frame.attrs["quarantine"]``; one warning
        says how many.
        """
        source: Any = self
        frame = _framed(source, source.fetch_cells(cursor), members)
        quarantine = frame.attrs["quarantine"]
        if not quarantine.empty:
            logging.getLogger(f"leadsync.connectors.{source.service}").warning(
                "%s: %d row(s) did not fit the %s table and are in "
                "frame.attrs['quarantine'] (first: %s)", _label(source), len(quarantine),
                source.table, quarantine["reason"].iloc[0])
        return frame


def _joined(first: CellBatch, second: CellBatch) -> CellBatch:
    from leadsync.frames import CellBatch

    return CellBatch.concat([first.prepare(), second.prepare()])


def concat_frames(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Frames of one table (the pages of :meth:`FrameReader.iter_pages`) as one frame.

    ``pd.concat`` cannot do it with the ``attrs`` kept: it compares the
    inputs' ``attrs`` and a quarantine frame in them makes that comparison
    raise. Here the rows are concatenated, the quarantines too, and the other
    ``attrs`` are taken from the first frame.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to put together")
    bare = []
    for frame in frames:
        copy = frame.copy(deep=False)
        copy.attrs = {}
        bare.append(copy)
    whole = pd.concat(bare, ignore_index=True)
    quarantines = [f.attrs["quarantine"] for f in frames if "quarantine" in f.attrs]
    whole.attrs = {k: v for k, v in frames[0].attrs.items() if k != "quarantine"}
    if quarantines:
        whole.attrs["quarantine"] = pd.concat(quarantines, ignore_index=True)
    return whole


def _label(source: Source) -> str:
    """How a warning names the upstream table."""
    ids = source.identity
    upstream = ids.get("table_id") or ids.get("data_source_id") or source.table
    return f"{source.service} {source.table} ({upstream})"


def row_url(identity: Mapping[str, str], source_id: str) -> str | None:
    """Where a row of the upstream table ``identity`` names can be opened and fixed:
    a Notion page at ``https://www.notion.so/<id>``, an Airtable record at
    ``https://airtable.com/<base>/<table>/<record>`` (None for another service)."""
    if identity.get("service") == "notion":
        return f"https://www.notion.so/{source_id.replace('-', '')}"
    if identity.get("service") == "airtable" and identity.get("base_id") and \
            identity.get("table_id"):
        return f"https://airtable.com/{identity['base_id']}/{identity['table_id']}/{source_id}"
    return None


def _framed(source: Source, batches: Iterable[CellBatch],
            members: pd.DataFrame | MemberIndex | None) -> pd.DataFrame:
    from leadsync.frames import FrameBuilder

    builder = FrameBuilder(source.table, members=members)
    for batch in batches:
        builder.add(batch)
    result = builder.result()
    frame = result.frame
    identity = dict(source.identity)
    quarantine = result.quarantine.copy()
    # the page or record to open and fix, beside its id
    quarantine.insert(2, "url", pd.Series(
        [row_url(identity, str(sid)) if isinstance(sid, str) else None
         for sid in quarantine["source_id"]], index=quarantine.index, dtype="string"))
    frame.attrs["quarantine"] = quarantine
    frame.attrs["field_ids"] = dict(source.field_ids)
    frame.attrs["source"] = identity
    return frame


def infer_table(service: str, *, title: str, fields: Sequence[FieldRef],
                mapping: Mapping[str, str] | None = None) -> str:
    """Which canonical table a workspace table holds, for a notebook call that did not say.

    In order: the only canonical table with every column of ``mapping``; the
    table whose title or name it carries (``Leadership Signals``, ``Members``,
    ``signals``); the one table whose required columns all have their seed
    names (:func:`~leadsync.layout.default_fields`) among ``fields``. Otherwise a
    :class:`~leadsync.errors.ConfigError` asks for ``canonical=``.
    """
    candidates = list(TABLES)
    if mapping:
        fit = [t for t in TABLES if set(mapping) <= set(TABLES[t].column_names)]
        if len(fit) == 1:
            return fit[0]
        candidates = fit or candidates
    folded = title.strip().casefold()
    for item in LAYOUT:
        names = {item.table, item.notion_title.casefold(), item.airtable_name.casefold()}
        if item.table in candidates and folded in names:
            return item.table
    present = {f.name.casefold() for f in fields}
    scores: dict[str, int] = {}
    for table in candidates:
        try:
            defaults = default_fields(service, table)  # type: ignore[arg-type]
        except KeyError:
            continue
        spec = TABLES[table]
        required = [c.name for c in spec.columns if c.required and c.name != spec.key]
        if all(defaults.get(c, "\0").casefold() in present for c in required):
            scores[table] = sum(n.casefold() in present for n in defaults.values())
    if scores:
        best = max(scores.values())
        winners = [t for t, n in scores.items() if n == best]
        if len(winners) == 1:
            return winners[0]
    raise ConfigError(
        f"cannot tell which canonical table {title!r} holds; pass canonical= one of "
        f"{', '.join(candidates)}")


# ---------------------------------------------------------------------------
# Opening the source of a configured table

#: The connector class of each workspace kind: (module, class).
CONNECTORS: Mapping[str, tuple[str, str]] = {
    "notion": ("leadsync.connectors.notion", "NotionSource"),
    "airtable": ("leadsync.connectors.airtable", "AirtableSource"),
}


def pin_field_ids(config: Config, table: str, field_ids: Mapping[str, str] | None) -> Config:
    """``config`` with ``table``'s mapped names replaced by ``field_ids`` where given."""
    if table not in config.tables:
        raise ConfigError(f"tables.{table}: not configured", path=config.source)
    if not field_ids:
        return config
    current = config.tables[table]
    fields = {column: field_ids.get(column, name) for column, name in current.fields.items()}
    pinned = current.model_copy(update={"fields": fields})
    return config.model_copy(update={"tables": {**config.tables, table: pinned}})


def connector(kind: str) -> SourceFactory:
    """The ``from_config`` of the connector for workspace ``kind`` (imported now)."""
    module_name, class_name = CONNECTORS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise LeadsyncError(
            f"the {kind} connector is not available in this leadsync installation"
        ) from None
    factory: SourceFactory = getattr(module, class_name).from_config
    return factory


def open_source(config: Config, table: str, *, env: Mapping[str, str] | None = None,
                field_ids: Mapping[str, str] | None = None,
                stats: PullStats | None = None,
                schema_cache: Mapping[str, Any] | None = None,
                schemas: SchemaCache | None = None) -> Source:
    """The source for ``table`` of the configured workspace, opened (a :class:`SourceFactory`).

    Opening resolves the field mapping, so a wrong token, a missing database
    or an unmapped field fails here with the connector's error. With a
    ``schema_cache`` the source resolves it against the snapshot, without a
    request: the source's first request (its query) is then where such errors
    show. The connector draws no progress bar: the sync shows one per table.
    """
    if table not in config.tables:
        raise ConfigError(f"tables.{table}: not configured", path=config.source)
    make = connector(config.workspace.kind)
    # The config keeps the configured names: the connector reads the ids first and falls
    # back on the names when an id is gone (the forgiving mapping, resolve_fields).
    source = make(config, table, env=env, field_ids=field_ids, stats=stats,
                  schema_cache=schema_cache, schemas=schemas)
    source.open()
    return source


def resolve_now(source: Source) -> None:
    """Open ``source`` now (the name this step had before :meth:`Source.open`)."""
    source.open()
