"""An Airtable account as a whole: the token's owner, a table's schema, the tracking tables built.

:class:`AirtableWorkspace` implements :class:`leadsync.workspace.Workspace` for
``leadsync check`` and ``leadsync bootstrap``, through an
:class:`~leadsync.connectors.airtable.AirtableClient` (the base's 5 requests/s,
the same error classifier as the reads).

Building in a base (the token needs ``schema.bases:read`` and
``schema.bases:write``, and ``data.records:write`` for ``--sample``):

1. the base schema is read (a 403/404 says the token cannot see the base);
2. a table named as a plan's table is reused, its missing fields added; else
   the table is created with its fields, links pointing at the members
   table (created first) and the members' own *Mentor* link added once the
   table exists. Airtable adds the inverse field of each link to the linked
   table, as in its UI;
3. fields the metadata API cannot create (formulas, lookups, autonumbers,
   created and modified times: ``UNSUPPORTED_FIELD_TYPE_FOR_CREATE``) are
   skipped and named: leadsync does not need them, and a *Last modified*
   field added by hand makes the nightly sync's query cheaper;
4. the report target is the base itself (``[report] airtable_base``): the
   report writers create their *Reports*, *Scores* and *Packets* tables
   there when they first push;
5. with sample rows, every table that has no records gets them, ten a
   request (members first, so the others' links can point at them).

Creates (tables, fields, records) are sent once: a 429 is waited out (Airtable
did nothing), a 5xx or a lost answer is not retried, since Airtable may have
done it and a second create would be a duplicate.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from leadsync.blueprint import FieldPlan, TablePlan
from leadsync.config import LimitsConfig, TableConfig, WorkspaceConfig
from leadsync.errors import AuthError, ConfigError, NotFoundError
from leadsync.progress import Progress
from leadsync.secrets import Secret
from leadsync.workspace import BuildResult, BuiltTable, SampleRows, TableView, Workspace

from .airtable import (
    BATCH_SIZE,
    RATE_LIMIT_WAIT_SECONDS,
    AirtableClient,
    fetch_base_schema,
)
from .airtable_decode import COMPUTED_TYPES, AirtableField, AirtableTable, decode_base_schema
from .airtable_encode import encode_value
from .base import RetryPolicy

if TYPE_CHECKING:
    from leadsync.workspace import WorkspaceFactory

__all__ = ["AirtableWorkspace", "field_spec", "parse_base_id"]

log = logging.getLogger("leadsync.connectors.airtable")

SERVICE: Final = "airtable"
_BASE_ID = re.compile(r"\b(app[A-Za-z0-9]{14})\b")
#: Options a created field of each type needs (the metadata API requires them).
_OPTIONS: Mapping[str, Mapping[str, Any]] = {
    "checkbox": {"color": "greenBright", "icon": "check"},
    "date": {"dateFormat": {"name": "iso"}},
    "dateTime": {"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"},
                 "timeZone": "utc"},
    "number": {"precision": 1},
}


def parse_base_id(ref: str) -> str:
    """``app…`` from a base id or an Airtable URL (``https://airtable.com/app…/tbl…``)."""
    found = _BASE_ID.search(ref.strip())
    if found is None:
        raise ConfigError(f"{ref!r} is not an Airtable base id (app…) or a base URL")
    return found.group(1)


def field_spec(plan: FieldPlan, tables: Mapping[str, str]) -> dict[str, Any]:
    """The metadata API's create spec of one field (``tables``: canonical -> table id)."""
    kind = plan.airtable
    spec: dict[str, Any] = {"name": plan.name, "type": kind}
    if kind in ("singleSelect", "multipleSelects"):
        spec["options"] = {"choices": [{"name": plan.label(o)} for o in plan.options]}
    elif kind == "multipleRecordLinks":
        assert plan.target is not None
        spec["options"] = {"linkedTableId": tables[plan.target]}
    elif kind is not None and kind in _OPTIONS:
        spec["options"] = dict(_OPTIONS[kind])
    return spec


class AirtableWorkspace:
    """The bases one Airtable token reaches (a :class:`~leadsync.workspace.Workspace`)."""

    service = SERVICE

    def __init__(self, client: AirtableClient, writer: AirtableClient):
        self.client = client
        #: The same token and limiter, retrying nothing but 429s: for creates.
        self.writer = writer
        self._schemas: dict[str, tuple[AirtableTable, ...]] = {}

    @classmethod
    def open(cls, workspace: WorkspaceConfig, token: Secret, *,
             limits: LimitsConfig | None = None, max_wait: float = 900.0,
             attempts: int = 6) -> AirtableWorkspace:
        """The account at ``[workspace] airtable_endpoint_url`` for ``token``."""
        rps = (limits or LimitsConfig()).airtable_rps
        policy = RetryPolicy(max_attempts=attempts, max_wait=max_wait,
                             default_rate_wait=RATE_LIMIT_WAIT_SECONDS)
        reader = AirtableClient(token, endpoint_url=workspace.airtable_endpoint_url, rps=rps,
                                policy=policy)
        writer = AirtableClient(token, endpoint_url=workspace.airtable_endpoint_url, rps=rps,
                                policy=dataclasses.replace(policy, max_attempts=1),
                                stats=reader.stats)
        return cls(reader, writer)

    # -- check ------------------------------------------------------------------

    def whoami(self) -> str:
        me = self.client.request("GET", str(self.client.build_url("meta/whoami")))
        who = f"Airtable user {me.get('id')}"
        if me.get("email"):
            who += f" ({me['email']})"
        scopes = me.get("scopes")
        if scopes:
            who += f" with {', '.join(scopes)}"
        return who

    def _schema(self, base: str, *, force: bool = False) -> tuple[AirtableTable, ...]:
        if force or base not in self._schemas:
            try:
                self._schemas[base] = fetch_base_schema(self.client, base)
            except (NotFoundError, AuthError) as exc:
                raise type(exc)(
                    f"Airtable base {base} not found or not open to this token: give the "
                    "token access to the base (and the schema.bases:read scope), or correct "
                    "the base id", service=SERVICE, status=exc.status, code=exc.code) from exc
        return self._schemas[base]

    def describe(self, table: str, spec: TableConfig) -> TableView:
        if not spec.airtable_base or not spec.airtable_table:
            raise ConfigError("missing", key=f"tables.{table}.airtable_table")
        tables = self._schema(spec.airtable_base)
        found = _find(tables, spec.airtable_table)
        if found is None:
            names = ", ".join(f"{t.name!r} ({t.id})" for t in tables) or "none"
            raise NotFoundError(
                f"no table {spec.airtable_table!r} in Airtable base {spec.airtable_base}; its "
                f"tables are: {names}", service=SERVICE, status=404, code="TABLE_NOT_FOUND")
        return TableView(_label(spec.airtable_base, found), found.id, tuple(found.refs))

    # -- bootstrap --------------------------------------------------------------

    def _post(self, what: str, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        log.debug("%s", what)
        answer: dict[str, Any] = self.writer.request("POST", url, json=dict(body))
        return answer

    def build(self, parent: str, plans: Sequence[TablePlan], *,
              sample: SampleRows | None = None,
              echo: Callable[[str], None] | None = None) -> BuildResult:
        say = echo or (lambda line: log.info("%s", line))
        base = parse_base_id(parent)
        existing = self._schema(base)
        ids: dict[str, str] = {}
        built: list[BuiltTable] = []
        for plan in plans:
            table = self._table(base, plan, _find(existing, plan.airtable_name), ids)
            line = f"{'created' if table.created else 'found'} {table.label}"
            if table.added:
                line += f"; added {', '.join(table.added)}"
            say(line)
            if table.skipped:
                say(f"  not created (Airtable's API cannot): {'; '.join(table.skipped)}")
            built.append(table)
        note = (f"the monthly reports go to base {base}: `leadsync report --push` creates its "
                "Reports, Scores and Packets tables there when it first pushes")
        say(note)
        if sample:
            schema = self._schema(base, force=True)
            records: dict[str, str] = {}  # member key -> record id
            for plan, table in zip(plans, built, strict=True):
                found = _find(schema, ids[plan.table])
                assert found is not None
                self._fill(base, plan, table, found, sample, records, say)
        return BuildResult(f"Airtable base {base}", built, {"airtable_base": base}, note,
                           self.client.stats.requests)

    def _table(self, base: str, plan: TablePlan, found: AirtableTable | None,
               ids: dict[str, str]) -> BuiltTable:
        fields = plan.for_service(SERVICE)
        creatable = [f for f in fields if f.airtable not in COMPUTED_TYPES]
        tables_url = str(self.writer.build_url("meta/bases", base, "tables"))
        added: list[str] = []
        if found is None:
            first = [f for f in creatable if f.target != plan.table]
            answer = self._post(f"create table {plan.airtable_name!r}", tables_url,
                                {"name": plan.airtable_name,
                                 "fields": [field_spec(f, ids) for f in first]})
            found = decode_base_schema({"tables": [answer]})[0]
            created = True
            later = [f for f in creatable if f not in first]
        else:
            created = False
            later = creatable
        ids[plan.table] = found.id
        have = {f.name.casefold() for f in found.fields}
        made: list[AirtableField] = list(found.fields)
        for f in later:
            if f.name.casefold() in have:
                continue
            answer = self._post(f"create field {f.name!r}", f"{tables_url}/{found.id}/fields",
                                field_spec(f, ids))
            made.append(decode_base_schema(
                {"tables": [{"id": found.id, "name": found.name,
                             "primaryFieldId": found.primary_field_id,
                             "fields": [answer]}]})[0].fields[0])
            if not created:
                added.append(f.name)
        names = [f.name for f in made]
        skipped = [f"{f.name!r} ({f.airtable})" for f in fields
                   if f.airtable in COMPUTED_TYPES and f.name not in names]
        return BuiltTable(plan.table, _label(base, found),
                          {"airtable_base": base, "airtable_table": found.id},
                          plan.mapping(SERVICE, names), created, added, skipped)

    def _is_empty(self, base: str, table_id: str) -> bool:
        url = str(self.client.build_url(base, table_id))
        answer = self.client.request("GET", url, options={"page_size": 1})
        return not answer.get("records")

    def _fill(self, base: str, plan: TablePlan, table: BuiltTable, schema: AirtableTable,
              sample: SampleRows, records: dict[str, str], say: Callable[[str], None]) -> None:
        rows = list(sample.get(plan.table) or ())
        if not rows:
            return
        if not self._is_empty(base, schema.id):
            say(f"{table.label} has records already: no sample added")
            return
        by_name = {f.name: f for f in schema.fields}
        fields = [f for f in plan.for_service(SERVICE) if f.column is not None
                  and f.name in by_name and not by_name[f.name].computed]
        later = [f for f in fields if f.target == plan.table]
        first = [f for f in fields if f not in later]
        url = str(self.writer.build_url(base, schema.id))
        done = 0
        with Progress(f"sample {plan.table}", total=len(rows), unit="records",
                      logger=log) as bar:
            for start in range(0, len(rows), BATCH_SIZE):
                chunk = rows[start:start + BATCH_SIZE]
                body = {"records": [{"fields": _cells(row, first, by_name, records)}
                                    for row in chunk], "typecast": True}
                try:
                    answer = self._post(f"create records in {table.label}", url, body)
                except Exception:
                    say(f"stopped after {done} of {len(rows)} sample records of {table.label}")
                    raise
                if plan.table == "members":
                    for row, record in zip(chunk, answer.get("records") or (), strict=False):
                        records[str(row["member_id"])] = str(record["id"])
                done += len(chunk)
                bar.update(len(chunk))
        if later:
            updates = [{"id": records[str(row["member_id"])], "fields": cells}
                       for row in rows if (cells := _cells(row, later, by_name, records))]
            for start in range(0, len(updates), BATCH_SIZE):
                self.client.request("PATCH", url,
                                    json={"records": updates[start:start + BATCH_SIZE]})
        table.sample_rows = done
        say(f"added {done} sample records to {table.label}")

    def close(self) -> None:
        self.client.session.close()
        self.writer.session.close()


def _find(tables: Sequence[AirtableTable], id_or_name: str) -> AirtableTable | None:
    for t in tables:
        if t.id == id_or_name:
            return t
    folded = [t for t in tables if t.name.casefold() == id_or_name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _label(base: str, table: AirtableTable) -> str:
    return f"Airtable table {table.name!r} ({table.id}) in base {base}"


def _cells(row: Mapping[str, Any], fields: Sequence[FieldPlan],
           by_name: Mapping[str, AirtableField], records: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        assert f.column is not None
        value = row.get(f.column)
        if value is None or value == [] or value == ():
            continue
        target = by_name[f.name]
        if f.target is not None:
            keys = value if isinstance(value, list | tuple) else [value]
            value = [records[str(k)] for k in keys if str(k) in records]
        elif isinstance(value, list | tuple):
            value = [f.label(v) for v in value]
        else:
            value = f.label(value)
        out[target.name] = encode_value(target, value, typecast=True)
    return out


if TYPE_CHECKING:  # mypy holds the workspace and its factory to the core's contract
    def _a_workspace(workspace: AirtableWorkspace) -> Workspace:
        return workspace

    _a_factory: WorkspaceFactory = AirtableWorkspace.open
