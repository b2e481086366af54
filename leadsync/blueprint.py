"""The tracking tables ``leadsync bootstrap`` creates: the seed's layout, with relations.

Derived from :data:`leadsync.layout.LAYOUT` (the seed's table and field
names, what the emulator's sample and ``leadsync init`` use), so a table
added there (a ``projects`` table, say) is created by ``bootstrap`` with no
change here. Two rules turn the layout into a blueprint for an empty
workspace:

- **every member reference is a relation to the members table** (Notion
  relation, Airtable linked record): the seed's *Team Member* is a Person,
  but a person property can only hold users of the workspace, and a trial
  workspace (or a team with guests) has people who are not; a relation holds
  anyone on the members table, and decoding resolves both the same way. The
  members table's own person property goes, and its key is the row's id;
- a Notion ``status`` becomes a ``select`` with the same options (the API
  creates status properties with its own default options only).

Everything else is the layout's: the seed's five signal fields and their
vocabularies (Signal Type: Technical / Operational / Communication; Impact:
Low / Medium / High), members with time zone and working hours, milestones,
the mentor template's check-in fields, the sprint-lead rotation, and the
decision matrix's five criteria on reviews. Fields a service cannot create
through its API (Airtable's formulas, lookups, autonumbers and
created/modified times) are left for the connector to skip and name.

Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from leadsync.layout import LAYOUT, AirtableType, NotionType, TableLayout
from leadsync.tables import TABLES

__all__ = ["BLUEPRINT", "FieldPlan", "TablePlan", "blueprint"]

Service = Literal["notion", "airtable"]

#: The canonical table every member reference points to.
MEMBERS = "members"


@dataclass(frozen=True)
class FieldPlan:
    """One property (Notion) / field (Airtable) to create.

    ``target`` is the canonical table a relation/link points to; ``options``
    are the select choices as labels; ``labels`` turn canonical values into
    them; ``extra`` carries the layout's type settings (formula expression,
    rollup source, unique id prefix).
    """

    name: str
    notion: NotionType | None
    airtable: AirtableType | None
    column: str | None = None
    options: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def type_for(self, service: Service) -> str | None:
        found: str | None = getattr(self, service)
        return found

    def label(self, value: Any) -> Any:
        """The workspace's label for a canonical value (``early_leadership`` ->
        ``Early leadership``)."""
        if isinstance(value, str):
            return self.labels.get(value, value)
        return value


@dataclass(frozen=True)
class TablePlan:
    """One canonical table to create: its title in each service and its fields."""

    table: str
    notion_title: str
    airtable_name: str
    fields: tuple[FieldPlan, ...]

    def title(self, service: Service) -> str:
        return self.notion_title if service == "notion" else self.airtable_name

    def for_service(self, service: Service) -> tuple[FieldPlan, ...]:
        """The fields ``service`` has a type for, the primary (title) field first."""
        return tuple(f for f in self.fields if f.type_for(service) is not None)

    def mapping(self, service: Service, created: Sequence[str] | None = None) -> dict[str, str]:
        """The ``fields`` of ``[tables.<table>]``: canonical column -> name, for the fields
        ``service`` has (and, given ``created``, that exist)."""
        return {f.column: f.name for f in self.for_service(service)
                if f.column is not None and (created is None or f.name in created)}

    @property
    def links(self) -> tuple[str, ...]:
        """The other canonical tables this one's relations point to."""
        return tuple(dict.fromkeys(f.target for f in self.fields
                                   if f.target is not None and f.target != self.table))


def _plan(item: TableLayout) -> TablePlan:
    members = set(TABLES[item.table].member_columns)
    fields: list[FieldPlan] = []
    for spec in item.fields:
        notion, airtable = spec.notion, spec.airtable
        target = spec.extra.get("target")
        if item.table == MEMBERS and spec.column == TABLES[MEMBERS].key:
            continue  # the members key is the row's own id in a bootstrapped workspace
        if spec.column in members:
            target = MEMBERS
            notion, airtable = "relation", "multipleRecordLinks"
        if notion == "status":
            notion = "select"
        fields.append(FieldPlan(spec.name, notion, airtable, spec.column, spec.options,
                                spec.labels, target, spec.extra))
    return TablePlan(item.table, item.notion_title, item.airtable_name, tuple(fields))


def blueprint(layouts: Sequence[TableLayout] = LAYOUT) -> tuple[TablePlan, ...]:
    """The plans for ``layouts``, the members table first (the others link to it)."""
    plans = [_plan(item) for item in layouts]
    return tuple(sorted(plans, key=lambda p: p.table != MEMBERS))


#: What ``leadsync bootstrap`` creates: every table of :data:`~leadsync.layout.LAYOUT`.
BLUEPRINT: tuple[TablePlan, ...] = blueprint()
