"""A workspace as a whole: who the token is, a table's schema, creating the tracking tables.

:mod:`leadsync.sources` reads one table; this is the other contract the core
holds with a connector, for the commands that look at (``leadsync check``) or
build (``leadsync bootstrap``) the workspace around the tables. A connector's
``…_workspace`` module implements :class:`Workspace` (mypy checks each);
:func:`open_workspace` picks the one of the configured service and imports
it on demand, so the core imports no connector (the architecture test holds
it to that), and HTTP stays in ``connectors/``.

- :meth:`Workspace.whoami` proves the token (one request) and says whose it is;
- :meth:`Workspace.describe` finds one configured table and lists its
  properties/fields, without resolving any mapping (``check`` judges them);
- :meth:`Workspace.build` finds or creates the tables of a
  :class:`~leadsync.blueprint.TablePlan` list under a parent (a Notion page, an
  Airtable base), the relations between them and the report target, and fills
  empty ones with sample rows when asked.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from leadsync.blueprint import TablePlan
from leadsync.config import LimitsConfig, TableConfig, WorkspaceConfig
from leadsync.errors import LeadsyncError
from leadsync.secrets import Secret
from leadsync.sources import FieldRef

__all__ = [
    "WORKSPACES",
    "BuildResult",
    "BuiltTable",
    "TableView",
    "Workspace",
    "WorkspaceFactory",
    "open_workspace",
]

#: Rows of the sample organisation, per canonical table (member references hold member keys).
SampleRows = Mapping[str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class TableView:
    """One workspace table as ``leadsync check`` sees it: where it is and what it holds."""

    #: How messages name it: ``Notion data source 'Leadership Signals' (1f2e…)``.
    label: str
    #: The data source id (Notion) or table id (Airtable).
    id: str
    fields: tuple[FieldRef, ...]


@dataclass
class BuiltTable:
    """What :meth:`Workspace.build` did for one canonical table."""

    table: str
    label: str
    #: The keys of ``[tables.<table>]`` that locate it (``notion_database``, or
    #: ``airtable_base`` and ``airtable_table``).
    location: dict[str, str]
    #: canonical column -> the property/field name it was created with (``fields``).
    fields: dict[str, str]
    created: bool
    #: Properties/fields added to a table that existed without them.
    added: list[str] = field(default_factory=list)
    #: Fields of the plan the service's API cannot create, each with why.
    skipped: list[str] = field(default_factory=list)
    #: Sample rows written (0 unless asked, and only into an empty table).
    sample_rows: int = 0


@dataclass
class BuildResult:
    """Every table :meth:`Workspace.build` found or created, and the report target."""

    #: How messages name the parent: ``Notion page 'Leadership' (…)``, ``Airtable base …``.
    parent: str
    tables: list[BuiltTable]
    #: The ``[report]`` keys to write (``notion_parent_page``, or ``airtable_base``).
    report: dict[str, str]
    #: One line on the report target, for the command to print.
    report_note: str
    requests: int = 0


class Workspace(Protocol):
    """A whole workspace (one token, one service), for ``check`` and ``bootstrap``."""

    @property
    def service(self) -> str:
        """``"notion"`` or ``"airtable"``."""
        ...

    def whoami(self) -> str:
        """Who the token belongs to (an integration and its workspace, an Airtable user):
        one request; :class:`~leadsync.errors.AuthError` when the token is refused."""
        ...

    def describe(self, table: str, spec: TableConfig) -> TableView:
        """The configured ``table``'s upstream table and its properties/fields.

        Raises :class:`~leadsync.errors.NotFoundError` (not there, or not shared),
        :class:`~leadsync.errors.AuthError`, or :class:`~leadsync.errors.ConfigError`
        (a location that is no id, a database with several data sources).
        """
        ...

    def build(self, parent: str, plans: Sequence[TablePlan], *,
              sample: SampleRows | None = None,
              echo: Callable[[str], None] | None = None) -> BuildResult:
        """Find (by title/name) or create every table of ``plans`` under ``parent``,
        members first, with the relations between them and the report target; add
        the properties a found table lacks; fill tables that are empty with
        ``sample`` rows. Running it again creates nothing twice. ``echo`` gets a
        line per step."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


class WorkspaceFactory(Protocol):
    """A connector's ``…Workspace.open``: a workspace for a token and the service's URL."""

    def __call__(self, workspace: WorkspaceConfig, token: Secret, *,
                 limits: LimitsConfig | None = None, max_wait: float = 900.0,
                 attempts: int = 6) -> Workspace: ...


#: The workspace class of each workspace kind: (module, class).
WORKSPACES: Mapping[str, tuple[str, str]] = {
    "notion": ("leadsync.connectors.notion_workspace", "NotionWorkspace"),
    "airtable": ("leadsync.connectors.airtable_workspace", "AirtableWorkspace"),
}


def open_workspace(workspace: WorkspaceConfig, token: Secret, *,
                   limits: LimitsConfig | None = None, max_wait: float = 900.0,
                   attempts: int = 6) -> Workspace:
    """The :class:`Workspace` of ``workspace.kind`` at its configured URL (imported now).

    ``attempts`` bounds the tries of a request that fails with a 5xx, a timeout or a
    reset (``check`` answers a person waiting at a terminal: it tries twice)."""
    module_name, class_name = WORKSPACES[workspace.kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise LeadsyncError(
            f"the {workspace.kind} connector is not available in this leadsync installation"
        ) from None
    factory: WorkspaceFactory = getattr(module, class_name).open
    return factory(workspace, token, limits=limits, max_wait=max_wait, attempts=attempts)
