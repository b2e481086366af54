"""Writing the sample organisation into the emulated Notion workspace.

Under the root page ("Leadership"): one person user per member (name,
email), then one database with one data source per :data:`LAYOUT` table
(members first: relations need their pages; ``Mentor`` relates members to
members), then one page per record. Canonical values become property values:
labels for selects and statuses, member keys become the member's user
(people), the member's page (relation) or the member's name (text), dates
stay date-only and aware datetimes keep their offset, ``None`` is empty.

Times: the rows of each table are created one after another across the year
before the clock's now (in record order, so ``created_time`` order is record
order); each row's last edit is its creation. Seeding 100,000 signals takes a
few seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from leadsync.emulator.notion import NotionService
from leadsync.emulator.notion_model import DataSource, User
from leadsync.emulator.notion_schema import apply_schema_update, set_status_groups
from leadsync.emulator.notion_values import text_item
from leadsync.emulator.sample import LAYOUT, FieldSpec, SampleOrg, TableLayout
from leadsync.tables import TABLES

__all__ = ["seed_org"]

#: How far back the sample's rows were created, ending an hour before the clock's now.
HISTORY = dt.timedelta(days=365)
#: Status groups for the sample's status options (the rest are "In progress").
_STATUS_GROUP = {"Pending": "To-do", "Approved": "Complete", "Declined": "Complete",
                 "Succeeded": "Complete", "Partly": "Complete", "Did not": "Complete"}


def seed_org(service: NotionService, org: SampleOrg) -> None:
    """Create the sample's users, databases and pages; fill the service's lookup attributes."""
    ws = service.ws
    for member in org.members:
        user = User(service.new_id(), member["name"], "person", member["email"])
        ws.users[user.id] = user
        service.member_user_ids[member["member_id"]] = user.id
    now = service.now()
    for table in LAYOUT:
        ds = _create_table(service, table)
        records = org.table(table.table)
        _insert_records(service, table, ds, records, now)


def _config(spec: FieldSpec, data_source_ids: dict[str, str]) -> dict[str, Any]:
    kind = spec.notion
    assert kind is not None
    if kind in ("select", "multi_select", "status"):
        options = list(dict.fromkeys(str(spec.label(o)) for o in spec.options))
        return {kind: {"options": [{"name": name} for name in options]}}
    if kind == "relation":
        return {kind: {"data_source_id": data_source_ids[spec.extra["target"]],
                       "type": "single_property", "single_property": {}}}
    if kind == "rollup":
        return {kind: {"relation_property_name": spec.extra["relation"],
                       "rollup_property_name": spec.extra["property"],
                       "function": spec.extra.get("function", "show_original")}}
    if kind == "formula":
        return {kind: {"expression": spec.extra["expression"]}}
    if kind == "unique_id":
        return {kind: {"prefix": spec.extra.get("prefix")}}
    if kind == "number":
        return {kind: {"format": "number"}}
    return {kind: {}}


def _create_table(service: NotionService, table: TableLayout) -> DataSource:
    specs = table.for_service("notion")
    own = {spec.name for spec in specs
           if spec.notion == "relation" and spec.extra.get("target") == table.table}
    known = dict(service.data_source_ids)
    configs = {spec.name: _config(spec, known) for spec in specs
               if spec.name not in own and not _needs(spec, own)}
    title = [text_item(table.notion_title)]
    db, ds = service.create_database(service.root_page_id, title, configs)
    if own:  # a relation to itself needs the data source's own id: added afterwards
        known[table.table] = ds.id
        later = {spec.name: _config(spec, known) for spec in specs
                 if spec.name in own or _needs(spec, own)}
        apply_schema_update(service, ds, later, "properties")
        order = [spec.name for spec in specs]
        ds.properties = {name: ds.properties[name] for name in order}
    for prop in ds.properties.values():
        if prop.type == "status":
            groups: dict[str, list[str]] = {}
            for option in prop.options:
                groups.setdefault(_STATUS_GROUP.get(option["name"], "In progress"),
                                  []).append(option["name"])
            set_status_groups(service, prop, groups)
    service.sample_ids[table.table] = db.id
    service.data_source_ids[table.table] = ds.id
    return ds


def _needs(spec: FieldSpec, own: set[str]) -> bool:
    return spec.notion == "rollup" and spec.extra.get("relation") in own


def _converter(service: NotionService, table: TableLayout, spec: FieldSpec,
               ) -> Callable[[Any], Any] | None:
    """Canonical value -> the plain value :func:`coerce_plain` takes (None: not written)."""
    column = spec.column
    kind = spec.notion
    if column is None or kind in ("unique_id", "formula", "rollup", "created_time",
                                  "last_edited_time", "created_by", "last_edited_by"):
        return None
    # People and relations always hold members (the member's user / page); text holds a
    # member's name only when the canonical column is a member reference.
    is_member = kind in ("people", "relation") or TABLES[table.table].column(
        column).kind in ("member", "members")
    if not is_member:
        if kind in ("select", "status"):
            return lambda v: None if v is None else str(spec.label(v))
        if kind in ("title", "rich_text"):
            return lambda v: "" if v is None else str(spec.label(v))
        return lambda v: v
    users, pages = service.member_user_ids, service.member_page_ids
    names = {key: service.ws.users[uid].name for key, uid in users.items()}

    def keys(value: Any) -> list[str]:
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)
    if kind == "people":
        return lambda v: [users[k] for k in keys(v)]
    if kind == "relation":
        return lambda v: [pages[k] for k in keys(v)]
    return lambda v: ", ".join(names[k] for k in keys(v))  # a name typed as text


def _insert_records(service: NotionService, table: TableLayout, ds: DataSource,
                    records: list[dict[str, Any]], now: dt.datetime) -> None:
    specs = table.for_service("notion")
    plan: list[tuple[str, str, Callable[[Any], Any]]] = []
    for spec in specs:
        convert = _converter(service, table, spec)
        if convert is not None and spec.column is not None:
            plan.append((spec.name, spec.column, convert))
    # A relation to the same table can only point at pages that exist: set it afterwards.
    own = {spec.name for spec in specs
           if spec.notion == "relation" and spec.extra.get("target") == table.table}
    first = now - HISTORY
    step = (HISTORY - dt.timedelta(hours=1)) / max(1, len(records))
    times = [first + step * n for n in range(len(records))]
    rows = [{name: convert(record[column]) for name, column, convert in plan if name not in own}
            for record in records]
    page_ids = service.create_data_source_rows(ds.id, rows, created_time=times)
    key_column = TABLES[table.table].key
    service.page_for[table.table] = {
        str(record[key_column]): page_id for record, page_id in zip(records, page_ids,
                                                                      strict=True)}
    if table.table == "members":
        service.member_page_ids.update(
            (record["member_id"], page_id) for record, page_id in zip(records, page_ids,
                                                                      strict=True))
    for name, column, convert in plan:
        if name in own:
            for record, page_id, when in zip(records, page_ids, times, strict=True):
                if record[column] is not None:
                    service.edit_page(page_id, {name: convert(record[column])}, when=when)
