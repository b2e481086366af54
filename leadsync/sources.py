"""Building a :class:`~leadsync.connectors.base.TableSource` for a configured table.

:func:`open_source` is the one place the sync turns ``leadsync.toml`` into a
connector. The connector modules are imported lazily, so the store, the sync
and the notebook reader work (and are tested) without the HTTP clients loaded.

Field ids, so renames keep mapping
    ``field_ids`` (``{column: field id}``) are ids a previous run resolved the
    mapping to. They replace the configured names before the connector
    resolves the mapping; connectors match a mapped value by id first
    (:func:`~leadsync.connectors.base.resolve_fields`), so a property renamed
    upstream after the first sync still maps. The sync only passes the ids of
    columns whose configured name is the one they were resolved from: a user
    who edits the mapping gets it resolved afresh.

Schemas, read once
    ``schemas`` is a :class:`~leadsync.connectors.base.SchemaCache` the sync
    makes per run: connectors that take it share schema reads through it (an
    Airtable base's schema serves all its tables). ``schema_cache`` is the
    snapshot of the table's schema the connector gave last run
    (``source.schema_snapshot``); a connector that takes it opens without
    reading the schema and checks the snapshot against what the service
    answers. When to pass one is the sync's decision.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from leadsync.config import Config

if TYPE_CHECKING:  # mypy checks connectors/ as the top-level package it is on disk
    from connectors.base import PullStats, SchemaCache, TableSource
else:
    from leadsync.connectors.base import PullStats, SchemaCache, TableSource
from leadsync.errors import ConfigError, LeadsyncError

__all__ = ["SourceFactory", "open_source", "pin_field_ids", "resolve_now"]

#: The connector class of each workspace kind: (module, class).
CONNECTORS: Mapping[str, tuple[str, str]] = {
    "notion": ("leadsync.connectors.notion", "NotionSource"),
    "airtable": ("leadsync.connectors.airtable", "AirtableSource"),
}


class SourceFactory(Protocol):
    """What :func:`open_source` is; tests and embedders pass their own to ``run_sync``.

    The sync also passes ``schema_cache`` and ``schemas`` (see the module doc)
    to a factory that takes them, as :func:`open_source` does.
    """

    def __call__(self, config: Config, table: str, *, env: Mapping[str, str] | None = None,
                 field_ids: Mapping[str, str] | None = None,
                 stats: PullStats | None = None) -> TableSource: ...


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


def open_source(config: Config, table: str, *, env: Mapping[str, str] | None = None,
                field_ids: Mapping[str, str] | None = None,
                stats: PullStats | None = None,
                schema_cache: Mapping[str, Any] | None = None,
                schemas: SchemaCache | None = None) -> TableSource:
    """The connector for ``table`` of the configured workspace, ready to ``fetch``.

    Opening resolves the field mapping, so a wrong token, a missing database
    or an unmapped field fails here with the connector's error
    (:class:`~leadsync.errors.AuthError`, :class:`~leadsync.errors.NotFoundError`,
    :class:`~leadsync.errors.SchemaError`). With a ``schema_cache`` the
    connector resolves it against the snapshot, without a request: the
    source's first request (its query) is then where such errors show.
    """
    pinned = pin_field_ids(config, table, field_ids)
    kind = config.workspace.kind
    module_name, class_name = CONNECTORS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise LeadsyncError(
            f"the {kind} connector is not available in this leadsync installation"
        ) from None
    source_class: Any = getattr(module, class_name)
    factory = source_class.from_config
    kwargs: dict[str, Any] = {"env": env, "stats": stats}
    accepts = inspect.signature(factory).parameters
    if "field_ids" in accepts:
        kwargs["field_ids"] = field_ids  # a connector that takes the ids itself
    if "progress" in accepts:
        kwargs["progress"] = False  # the sync shows one progress display per table
    if schema_cache is not None and "schema_cache" in accepts:
        kwargs["schema_cache"] = schema_cache
    if schemas is not None and "schemas" in accepts:
        kwargs["schemas"] = schemas
    source: TableSource = factory(pinned, table, **kwargs)
    resolve_now(source)
    return source


def resolve_now(source: object) -> None:
    """Make a lazily connecting source read its schema and resolve its mapping now.

    Connectors connect on first use; the sync opens every table before it
    writes anything, so a wrong token, a missing database or a field that no
    longer maps must fail here, not after other tables were written.
    """
    connect = getattr(source, "connect", None)
    if callable(connect):
        connect()  # Notion: resolves the data source and the mapping
    fields = getattr(source, "fields", None)
    if callable(fields):
        fields()  # Airtable: reads the base schema and resolves the mapping
