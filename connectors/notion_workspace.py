"""A Notion workspace as a whole: the token's owner, a table's schema, the tracking tables built.

:class:`NotionWorkspace` implements :class:`leadsync.workspace.Workspace` for
``leadsync check`` (:meth:`~NotionWorkspace.whoami`, :meth:`~NotionWorkspace.describe`)
and ``leadsync bootstrap`` (:meth:`~NotionWorkspace.build`), through the same
:class:`~leadsync.connectors.notion.NotionAPI` as the reads (pacing, retries,
one error classifier).

Building under a parent page (every request paced at the integration's rate):

1. the page is read (a 404 says to share it with the integration);
2. its children are listed: a ``child_database`` whose title is a plan's
   title is that table, reused (its data source's missing properties are
   added); otherwise the database is created with its properties, the
   relations pointing at the members' data source (a relation needs its
   target's data source id, so members come first, and the members' own
   *Mentor* relation is added once the data source exists);
3. a child page "Leadership Reports" is found or created: the report target
   (``[report] notion_parent_page``) under which the monthly pages go;
4. with sample rows, every table that has no rows gets them (members first,
   so the others' relations can point at the new member pages).

Creates are sent once, never retried blindly: a create whose answer was lost
may have happened, and a second one would be a duplicate table or row. A
failure says what was done so far; running ``bootstrap`` again finds what
exists and goes on from there (a table it filled in part keeps its rows).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from leadsync.blueprint import FieldPlan, TablePlan
from leadsync.config import LimitsConfig, TableConfig, WorkspaceConfig
from leadsync.errors import ConfigError, NotFoundError
from leadsync.progress import Progress
from leadsync.secrets import Secret
from leadsync.sources import FieldRef
from leadsync.workspace import BuildResult, BuiltTable, SampleRows, TableView, Workspace

from .base import RetryPolicy, retrying
from .notion import NotionAPI, open_data_source, parse_notion_id
from .notion_decode import decode_rich_text, field_refs
from .notion_encode import WRITABLE_TYPES, encode_property

if TYPE_CHECKING:
    from leadsync.workspace import WorkspaceFactory

__all__ = ["REPORTS_PAGE_TITLE", "NotionWorkspace", "property_schema"]

log = logging.getLogger("leadsync.connectors.notion")

SERVICE: Final = "notion"
#: The page the monthly reports go under (``[report] notion_parent_page``).
REPORTS_PAGE_TITLE = "Leadership Reports"


def _text(content: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": content}}]


def property_schema(plan: FieldPlan, data_sources: Mapping[str, str]) -> dict[str, Any]:
    """The create/update schema of one property (``{"select": {"options": …}}``).

    ``data_sources`` maps canonical tables to the data source ids relations point at.
    """
    kind = plan.notion
    if kind in ("select", "multi_select"):
        return {kind: {"options": [{"name": plan.label(o)} for o in plan.options]}}
    if kind == "relation":
        assert plan.target is not None
        return {"relation": {"data_source_id": data_sources[plan.target],
                             "single_property": {}}}
    if kind == "number":
        return {"number": {"format": "number"}}
    if kind == "formula":
        return {"formula": {"expression": plan.extra["expression"]}}
    if kind == "rollup":
        return {"rollup": {"relation_property_name": plan.extra["relation"],
                           "rollup_property_name": plan.extra["property"],
                           "function": plan.extra.get("function", "show_original")}}
    if kind == "unique_id":
        return {"unique_id": {"prefix": plan.extra.get("prefix")}}
    return {str(kind): {}}


class NotionWorkspace:
    """The workspace of one Notion integration token (a :class:`~leadsync.workspace.Workspace`)."""

    service = SERVICE

    def __init__(self, api: NotionAPI):
        self.api = api

    @classmethod
    def open(cls, workspace: WorkspaceConfig, token: Secret, *,
             limits: LimitsConfig | None = None, max_wait: float = 900.0,
             attempts: int = 6) -> NotionWorkspace:
        """The workspace at ``[workspace] notion_base_url`` for ``token``."""
        rps = (limits or LimitsConfig()).notion_rps
        return cls(NotionAPI(token, base_url=workspace.notion_base_url, rps=rps,
                             policy=RetryPolicy(max_attempts=attempts, max_wait=max_wait)))

    # -- check ------------------------------------------------------------------

    def whoami(self) -> str:
        me: dict[str, Any] = self.api.call("the token (users/me)", self.api.client.users.me)
        bot = me.get("bot") or {}
        workspace = bot.get("workspace_name")
        who = f"integration {me.get('name')!r}"
        return who + (f" in workspace {workspace!r}" if workspace else "")

    def describe(self, table: str, spec: TableConfig) -> TableView:
        target = spec.notion_database or spec.notion_data_source
        if not target:
            raise ConfigError("missing", key=f"tables.{table}.notion_database")
        ds = open_data_source(self.api, target, data_source=spec.notion_data_source)
        return TableView(ds.label, ds.id, tuple(ds.properties))

    # -- bootstrap ----------------------------------------------------------------

    def _once(self, what: str, fn: Callable[..., Any], /, **kwargs: Any) -> dict[str, Any]:
        """A create, paced and sent once: a 429 is waited out (Notion did nothing), a 5xx
        or a lost answer is not retried (Notion may have done it; see the module doc)."""
        policy = dataclasses.replace(self.api.policy, max_attempts=1)
        result: dict[str, Any] = retrying(
            lambda: self.api.once(what, fn, **kwargs), policy=policy, limiter=self.api.limiter,
            stats=self.api.stats, what=what, sleep=self.api.sleep)
        return result

    def _children(self, page_id: str) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"block_id": page_id, "page_size": 100}
            if cursor:
                kwargs["start_cursor"] = cursor
            answer = self.api.call(f"the children of page {page_id}",
                                   self.api.client.blocks.children.list, **kwargs)
            yield from answer.get("results") or ()
            cursor = answer.get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return

    def _parent(self, parent: str) -> tuple[str, str]:
        page_id = parse_notion_id(parent)
        try:
            page = self.api.retrieve_page(page_id)
        except NotFoundError as exc:
            raise NotFoundError(
                f"Notion page {page_id} not found: share it with the integration (in Notion: "
                "••• → Connections → add it) or pass the URL of a page it can see",
                service=SERVICE, status=exc.status, code=exc.code) from exc
        title = ""
        for prop in (page.get("properties") or {}).values():
            if prop.get("type") == "title":
                title = decode_rich_text(prop.get("title")) or ""
        return page_id, f"Notion page {title!r} ({page_id})"

    def build(self, parent: str, plans: Sequence[TablePlan], *,
              sample: SampleRows | None = None,
              echo: Callable[[str], None] | None = None) -> BuildResult:
        say = echo or (lambda line: log.info("%s", line))
        page_id, label = self._parent(parent)
        existing: dict[str, str] = {}
        pages: dict[str, str] = {}
        for block in self._children(page_id):
            if block.get("in_trash") or block.get("archived"):
                continue
            title = (block.get(block.get("type", "")) or {}).get("title")
            if block.get("type") == "child_database" and title:
                existing.setdefault(str(title), str(block["id"]))
            elif block.get("type") == "child_page" and title:
                pages.setdefault(str(title), str(block["id"]))

        data_sources: dict[str, str] = {}
        schemas: dict[str, list[FieldRef]] = {}
        built: list[BuiltTable] = []
        for plan in plans:
            table = self._table(page_id, plan, existing.get(plan.notion_title), data_sources,
                                schemas)
            say(f"{'created' if table.created else 'found'} {table.label}"
                + (f"; added {', '.join(table.added)}" if table.added else ""))
            built.append(table)

        reports = pages.get(REPORTS_PAGE_TITLE)
        if reports is None:
            answer = self._once(f"create page {REPORTS_PAGE_TITLE!r}",
                                self.api.client.pages.create,
                                parent={"type": "page_id", "page_id": page_id},
                                properties={"title": {"title": _text(REPORTS_PAGE_TITLE)}})
            reports = str(answer["id"])
            note = f"created the page {REPORTS_PAGE_TITLE!r} ({reports}) for the monthly reports"
        else:
            note = f"found the page {REPORTS_PAGE_TITLE!r} ({reports}) for the monthly reports"
        say(note)

        if sample:
            self._fill(plans, built, data_sources, schemas, sample, say)
        return BuildResult(label, built, {"notion_parent_page": reports}, note,
                           self.api.stats.requests)

    def _table(self, page_id: str, plan: TablePlan, database_id: str | None,
               data_sources: dict[str, str], schemas: dict[str, list[FieldRef]]
               ) -> BuiltTable:
        fields = plan.for_service(SERVICE)
        later = [f for f in fields if f.target == plan.table]  # a relation to itself
        added: list[str] = []
        if database_id is None:
            first = {f.name: property_schema(f, data_sources) for f in fields
                     if f not in later}
            answer = self._once(
                f"create database {plan.notion_title!r}", self.api.client.databases.create,
                parent={"type": "page_id", "page_id": page_id},
                title=_text(plan.notion_title), initial_data_source={"properties": first})
            database_id = str(answer["id"])
            (source,) = answer.get("data_sources") or [{}]
            ds = open_data_source(self.api, database_id,
                                  data_source=str(source["id"]) if source.get("id") else None)
            created = True
        else:
            ds = open_data_source(self.api, database_id)
            created = False
            later = list(fields)  # anything missing, self-relations included
        data_sources[plan.table] = ds.id
        have = {ref.name for ref in ds.properties}
        missing = {f.name: property_schema(f, data_sources) for f in later
                   if f.name not in have}
        if missing:
            answer = self.api.call(f"add properties to {ds.label}",
                                   self.api.client.data_sources.update,
                                   data_source_id=ds.id, properties=missing)
            ds.properties = field_refs(answer.get("properties") or {})
            if not created:
                added = list(missing)
        schemas[plan.table] = list(ds.properties)
        names = [ref.name for ref in ds.properties]
        return BuiltTable(plan.table, ds.label, {"notion_database": database_id},
                          plan.mapping(SERVICE, names), created, added)

    # -- sample rows ----------------------------------------------------------------

    def _is_empty(self, data_source_id: str) -> bool:
        answer = self.api.query(data_source_id, {"page_size": 1})
        return not answer.get("results")

    def _fill(self, plans: Sequence[TablePlan], built: Sequence[BuiltTable],
              data_sources: Mapping[str, str], schemas: Mapping[str, list[FieldRef]],
              sample: SampleRows, say: Callable[[str], None]) -> None:
        pages: dict[str, str] = {}  # member key -> page id
        for plan, table in zip(plans, built, strict=True):
            rows = list(sample.get(plan.table) or ())
            ds_id = data_sources[plan.table]
            if not rows or not self._is_empty(ds_id):
                if rows:
                    say(f"{table.label} has rows already: no sample added")
                continue
            refs = {ref.name: ref for ref in schemas[plan.table]}
            fields = [f for f in plan.for_service(SERVICE)
                      if f.column is not None and f.name in refs
                      and refs[f.name].type in WRITABLE_TYPES]
            later = [f for f in fields if f.target == plan.table]
            done = 0
            with Progress(f"sample {plan.table}", total=len(rows), unit="rows",
                          logger=log) as bar:
                for row in rows:
                    properties = self._properties(row, [f for f in fields if f not in later],
                                                  refs, pages)
                    try:
                        answer = self._once(
                            f"create a page in {table.label}", self.api.client.pages.create,
                            parent={"type": "data_source_id", "data_source_id": ds_id},
                            properties=properties)
                    except Exception:
                        say(f"stopped after {done} of {len(rows)} sample rows of {table.label}")
                        raise
                    if plan.table == "members" and row.get("member_id") is not None:
                        pages[str(row["member_id"])] = str(answer["id"])
                    done += 1
                    bar.update(1)
                for row in rows if later else ():
                    values = self._properties(row, later, refs, pages)
                    if any(v.get("relation") for v in values.values()):
                        self.api.update_page(pages[str(row["member_id"])], values)
            table.sample_rows = done
            say(f"added {done} sample rows to {table.label}")

    @staticmethod
    def _properties(row: Mapping[str, Any], fields: Sequence[FieldPlan],
                    refs: Mapping[str, FieldRef], pages: Mapping[str, str]
                    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields:
            assert f.column is not None
            value = row.get(f.column)
            if value is None or value == [] or value == ():
                continue
            ref = refs[f.name]
            if f.target is not None:
                keys = value if isinstance(value, list | tuple) else [value]
                value = [pages[str(k)] for k in keys if str(k) in pages]
            elif isinstance(value, list | tuple):
                value = [f.label(v) for v in value]
            else:
                value = f.label(value)
            out[ref.id] = encode_property(ref.type, value, name=ref.name)
        return out

    def close(self) -> None:
        self.api.close()


if TYPE_CHECKING:  # mypy holds the workspace and its factory to the core's contract
    def _a_workspace(workspace: NotionWorkspace) -> Workspace:
        return workspace

    _a_factory: WorkspaceFactory = NotionWorkspace.open
