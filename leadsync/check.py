"""``leadsync check``: does the workspace agree with ``leadsync.toml``? Read-only.

Two layers, each a list of :class:`Finding` (a problem or a note, each with
its fix):

1. **the config itself** (:func:`check_config`, no request): every table's
   location is filled in (no ``PASTE-…`` or ``appXXXX…`` placeholder left from
   ``leadsync init``) and well-formed (a Notion id or URL; an ``app…`` base id),
   every required column is mapped, the token variable is set. Any problem
   here is exit 2, and the workspace is not asked.
2. **the workspace** (:func:`check_workspace`, read-only requests through
   :class:`leadsync.workspace.Workspace`): the token is accepted (and whose it
   is); each table's database/data source or base/table is reachable; every
   mapped column resolves to a property the way the next sync will resolve it
   (the ids the store kept first, then the configured names), with a type the
   column can be decoded from (:mod:`leadsync.fieldtypes`); a missing one is
   named with its close matches. Any problem here is exit 1.

Notes are not problems: a property renamed since the last sync (the sync
follows it by id), a property re-created under its name (the sync will map to
it with a warning).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from leadsync.config import TOKEN_VARIABLES, Config, TableConfig, location_problem
from leadsync.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    LeadsyncError,
    NotFoundError,
    StoreError,
    is_transient,
)
from leadsync.fieldtypes import accepted_types, can_feed
from leadsync.layout import default_fields
from leadsync.secrets import Secret, scrub
from leadsync.sources import FieldRef, close_names
from leadsync.tables import META_COLUMNS, schema
from leadsync.workspace import TableView, Workspace, open_workspace

__all__ = ["CheckResult", "Finding", "TableCheck", "check_config", "check_workspace",
           "run_check"]

Level = Literal["problem", "note"]

_DETAILS = re.compile(r" \(HTTP \d+[^)]*\)$")
_AIRTABLE_TABLE_ID = re.compile(r"^tbl[A-Za-z0-9]{14}$")
#: What ``leadsync init`` leaves to fill in (and what such placeholders look like).
_PLACEHOLDER = re.compile(r"PASTE|X{6,}|…|\.\.\.|<[^>]*>", re.IGNORECASE)

#: Tries of a request that meets a 5xx, a timeout or a reset: a person is waiting.
CHECK_ATTEMPTS = 2

_TOKEN_FIX = {
    "notion": "copy the integration's secret from https://www.notion.so/my-integrations and "
              "`export NOTION_TOKEN=…`",
    "airtable": "create a personal access token at https://airtable.com/create/tokens with "
                "data.records:read and schema.bases:read on the base, and "
                "`export AIRTABLE_TOKEN=…`",
}


@dataclass(frozen=True)
class Finding:
    """One thing check found: ``where`` (``token``, ``signals``, ``signals.impact``),
    what is wrong, and how to fix it."""

    level: Level
    where: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.where}: {self.message}"
        return text + (f". Fix: {self.fix}" if self.fix else "")


@dataclass
class TableCheck:
    """One table as check saw it (``label`` None when it could not be reached)."""

    table: str
    label: str | None = None
    #: canonical column -> the property name it resolves to
    mapped: dict[str, str] = field(default_factory=dict)
    ok: bool = False


@dataclass
class CheckResult:
    """Everything ``leadsync check`` prints: findings, tables, and the exit code."""

    config: str
    kind: str
    offline: bool
    findings: list[Finding] = field(default_factory=list)
    tables: list[TableCheck] = field(default_factory=list)
    #: whose the token is, once the workspace accepted it
    token: str | None = None
    #: the config itself is invalid (exit 2); the workspace was not asked
    invalid: bool = False

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "problem"]

    @property
    def exit_code(self) -> int:
        if self.invalid:
            return 2
        return 1 if self.problems else 0

    @property
    def status(self) -> str:
        return {0: "ok", 1: "problems", 2: "invalid"}[self.exit_code]

    def summary(self) -> str:
        problems, notes = len(self.problems), len(self.findings) - len(self.problems)
        counted = f"{problems} problem{'s' * (problems != 1)}"
        if notes:
            counted += f", {notes} note{'s' * (notes != 1)}"
        if self.invalid:
            return (f"summary: {counted}: fix leadsync.toml first (exit 2); the workspace "
                    "was not asked")
        tables = f"{len(self.tables)} table{'s' * (len(self.tables) != 1)}"
        if self.offline:
            return f"summary: {counted} in the config of {tables} (offline: the workspace " \
                   "was not asked)"
        if problems:
            return f"summary: {counted} in {tables}: the workspace disagrees with " \
                   f"{self.config} (exit 1)"
        columns = sum(len(t.mapped) for t in self.tables)
        return f"summary: all good: {tables}, {columns} columns mapped" + \
            (f", {counted}" if notes else "")

    def describe(self) -> str:
        lines = [f"config: {self.config} ({self.kind})"]
        if self.token:
            lines.append(f"token: {TOKEN_VARIABLES[self.kind]} accepted: {self.token}")
        for table in self.tables:
            if table.ok and table.label:
                lines.append(f"ok      {table.table}: {table.label}: "
                             f"{len(table.mapped)} columns mapped")
        for finding in self.findings:
            lines.append(f"{finding.level:<7} {finding.line()}")
        lines.append(self.summary())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "exit_code": self.exit_code, "config": self.config,
                "workspace": self.kind, "offline": self.offline, "token": self.token,
                "tables": {t.table: {"ok": t.ok, "label": t.label, "mapped": t.mapped}
                           for t in self.tables},
                "findings": [asdict(f) for f in self.findings],
                "summary": self.summary()}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# The config alone


def _malformed(scope: str, key: str, problem: str, fix: str) -> Finding:
    """A location the config loader would refuse, as a finding: the loader's reason."""
    return Finding("problem", scope, f"{key} is {problem}", fix)


def _location_findings(kind: str, name: str, spec: TableConfig) -> list[Finding]:
    out: list[Finding] = []
    where = f"tables.{name}"
    if kind == "notion":
        key = "notion_database" if spec.notion_database else "notion_data_source"
        value = spec.notion_database or spec.notion_data_source or ""
        problem = location_problem("notion_ref" if key == "notion_database" else "notion_id",
                                   value)
        if _PLACEHOLDER.search(value):
            out.append(Finding("problem", name, f"{where}.{key} is still the placeholder "
                               f"{value!r}", "paste the database's URL (in Notion: Share → Copy "
                               "link) or id"))
        elif problem:
            out.append(_malformed(name, f"{where}.{key}", problem, "paste the database's URL "
                                  "(Share → Copy link) or its 32-character id"))
        return out
    base, table = spec.airtable_base or "", spec.airtable_table or ""
    if _PLACEHOLDER.search(base):
        out.append(Finding("problem", name, f"{where}.airtable_base is still the placeholder "
                           f"{base!r}", "paste the base id: the app… part of the base's URL"))
    elif (problem := location_problem("airtable_base", base)):
        out.append(_malformed(name, f"{where}.airtable_base", problem,
                              "paste the app… part of the base's URL"))
    if _PLACEHOLDER.search(table):
        out.append(Finding("problem", name, f"{where}.airtable_table is still the placeholder "
                           f"{table!r}", "paste the table id (the tbl… part of its URL) or "
                           "its name"))
    elif table.startswith("tbl") and len(table) == 17 and not _AIRTABLE_TABLE_ID.match(table):
        out.append(Finding("problem", name, f"{where}.airtable_table {table!r} is not a table "
                           "id", "paste the tbl… part of the table's URL, or its name"))
    return out


def _report_findings(config: Config) -> list[Finding]:
    """The report's own locations (where ``--push`` writes), when set and malformed."""
    out: list[Finding] = []
    for key, kind, value in (
            ("notion_parent_page", "notion_ref", config.report.notion_parent_page),
            ("airtable_base", "airtable_base", config.report.airtable_base)):
        if value and (problem := location_problem(kind, value)):  # type: ignore[arg-type]
            out.append(_malformed("report", f"report.{key}", problem,
                                  "paste the page's URL or id" if kind == "notion_ref"
                                  else "paste the app… part of the base's URL"))
    return out


def _required_findings(name: str, spec: TableConfig) -> list[Finding]:
    if not spec.fields:
        return []  # the seed's names are used: the workspace check says whether they exist
    table = schema(name)
    missing = [c.name for c in table.columns
               if c.required and c.name != table.key and c.name not in spec.fields]
    return [Finding("problem", f"{name}.{column}", f"required, and tables.{name}.fields maps "
                    "nothing to it", f'add {column} = "<property name>" to the fields of '
                    f"[tables.{name}]") for column in missing]


def check_config(config: Config, env: Mapping[str, str] | None = None) -> list[Finding]:
    """The problems of the config alone (placeholders, malformed ids, unmapped required
    columns, the token variable unset): no request is sent."""
    kind = config.workspace.kind
    findings: list[Finding] = []
    for name, spec in config.tables.items():
        findings += _location_findings(kind, name, spec)
        findings += _required_findings(name, spec)
    findings += _report_findings(config)
    variable = TOKEN_VARIABLES[kind]
    if not (os.environ if env is None else env).get(variable, "").strip():
        findings.append(Finding("problem", "token", f"{variable} is not set",
                                f"`export {variable}=…` (tokens never go in leadsync.toml)"))
    return findings


# ---------------------------------------------------------------------------
# The workspace


def _stored_ids(config: Config) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """table -> (field ids, the names they were resolved from) from the store, if any."""
    from leadsync.store import Store, store_path

    path = store_path(config)
    if not path.exists():
        return {}
    try:
        with Store.open(path, writable=False, upgrade=False) as store:
            out = {}
            for table in config.tables:
                cursor = store.cursor(table)
                if cursor is not None:
                    out[table] = (dict(cursor.field_ids), dict(cursor.field_names))
            return out
    except StoreError:
        return {}  # the sync says what is wrong with the store


def _find_by_name(name: str, fields: Sequence[FieldRef]) -> FieldRef | None:
    exact = [f for f in fields if f.name == name]
    if exact:
        return exact[0]
    folded = [f for f in fields if f.name.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _kind_words(service: str, table: str, column: str) -> str:
    types = sorted(accepted_types(service, table, column))
    if len(types) > 6:
        return "a " + ", ".join(types[:6]) + " … property"
    return "a " + " or ".join(types) + " property"


def _mapping_findings(service: str, name: str, spec: TableConfig, view: TableView,
                      stored: tuple[dict[str, str], dict[str, str]] | None,
                      check: TableCheck) -> list[Finding]:
    out: list[Finding] = []
    fields = list(view.fields)
    by_id = {f.id: f for f in fields}
    mapping = dict(spec.fields) if spec.fields else {
        c: n for c, n in default_fields(service, name).items()  # type: ignore[arg-type]
        if _find_by_name(n, fields) is not None}
    ids, names = stored or ({}, {})
    section = f"[tables.{name}] fields"
    for column, wanted in mapping.items():
        if column in META_COLUMNS:
            continue
        where = f"{name}.{column}"
        kept = ids.get(column) if names.get(column) == wanted else None
        found = by_id.get(wanted)
        if found is None and kept is not None:
            found = by_id.get(kept)
            if found is not None and found.name != wanted:
                out.append(Finding(
                    "note", where, f"{wanted!r} in leadsync.toml is now named {found.name!r} "
                    f"in {view.label} (renamed; the sync follows it by id)",
                    f'set {column} = "{found.name}" in {section} to match'))
        if found is None:
            found = _find_by_name(wanted, fields)
            if found is not None and kept is not None and found.id != kept:
                out.append(Finding(
                    "note", where, f"the property {wanted!r} the last sync read (id {kept!r}) "
                    f"is gone; the next sync maps {column} to the new {wanted!r} "
                    f"(id {found.id!r}) with a warning", ""))
        if found is None:
            hint = close_names(wanted, [f for f in fields
                                        if can_feed(service, name, column, f.type)])
            history = (f" (the last sync read it as id {kept!r}: renamed, then deleted?)"
                       if kept is not None else "")
            out.append(Finding(
                "problem", where, f"no property {wanted!r} in {view.label}{history}"
                + (f"; close: {hint}" if hint else ""),
                (f'set {column} = "{_first_name(hint)}" in {section}, or ' if hint else "")
                + f"create a property named {wanted!r}"))
            continue
        if not can_feed(service, name, column, found.type):
            out.append(Finding(
                "problem", where, f"{found.name!r} is a {found.type} property, which cannot "
                f"feed {column}; it needs {_kind_words(service, name, column)}",
                f"map {column} to a property of one of those types in {section}"))
            continue
        check.mapped[column] = found.name
    table = schema(name)
    for column in (c.name for c in table.columns if c.required and c.name != table.key):
        if column not in mapping and not spec.fields:
            default = default_fields(service, name).get(column)  # type: ignore[arg-type]
            out.append(Finding(
                "problem", f"{name}.{column}", f"required, and {view.label} has no "
                f"{default!r} property (the name used when fields are not given)",
                f'add {column} = "<property name>" to {section}'))
    return out


def _first_name(hint: str) -> str:
    return hint.split("'")[1] if "'" in hint else hint


def _bare(exc: ConnectorError) -> str:
    """An error's message without the service prefix and the HTTP details."""
    text = scrub(str(exc)).removeprefix(f"{exc.service}: ")
    return _DETAILS.sub("", text)


def _answered(exc: ConnectorError) -> str:
    parts = [f"HTTP {exc.status}" if exc.status is not None else "", exc.code or ""]
    return " ".join(p for p in parts if p)


def _unreachable(service: str, name: str, spec: TableConfig, exc: LeadsyncError) -> Finding:
    if isinstance(exc, NotFoundError) and service == "notion":
        target = spec.notion_database or spec.notion_data_source
        return Finding("problem", name, f"Notion database {target} not found, or not shared "
                       f"with the integration ({_answered(exc)})",
                       "share the database with the integration (in Notion: ••• → Connections "
                       f"→ add it), or correct tables.{name}.notion_database")
    if isinstance(exc, NotFoundError):
        return Finding("problem", name, _bare(exc),
                       f"correct tables.{name}.airtable_table (a tbl… id or the table's name) "
                       "or airtable_base, or give the token access to the base")
    if isinstance(exc, AuthError):
        return Finding("problem", name, f"refused: {_bare(exc)} ({_answered(exc)})",
                       "give the token access to it (and the read scopes)")
    reason = _bare(exc) if isinstance(exc, ConnectorError) else scrub(str(exc))
    return Finding("problem", name, reason, f"correct [tables.{name}]")


def check_workspace(config: Config, workspace: Workspace,
                    tables: Iterable[str] | None = None) -> CheckResult:
    """Ask ``workspace`` about every configured table (read-only)."""
    result = CheckResult(config.source, config.workspace.kind, offline=False)
    service = workspace.service
    try:
        result.token = workspace.whoami()
    except AuthError as exc:
        result.findings.append(Finding(
            "problem", "token", f"{TOKEN_VARIABLES[service]} was refused by "
            f"{service.capitalize()} ({_answered(exc)})", _TOKEN_FIX[service]))
        result.findings.append(Finding("note", "tables", "not checked: every request needs an "
                                       "accepted token"))
        result.tables = [TableCheck(t) for t in config.tables]
        return result
    stored = _stored_ids(config)
    for name in tables or config.tables:
        spec = config.tables[name]
        check = TableCheck(name)
        result.tables.append(check)
        try:
            view = workspace.describe(name, spec)
        except (ConnectorError, ConfigError) as exc:
            if is_transient(exc):
                raise
            result.findings.append(_unreachable(service, name, spec, exc))
            continue
        check.label = view.label
        found = _mapping_findings(service, name, spec, view, stored.get(name), check)
        result.findings += found
        check.ok = not [f for f in found if f.level == "problem"]
    return result


def run_check(config: Config, *, offline: bool = False,
              env: Mapping[str, str] | None = None,
              workspace: Workspace | None = None) -> CheckResult:
    """``leadsync check``: the config's own problems (exit 2), then, unless ``offline``,
    the workspace's answers (exit 1). ``workspace`` replaces the configured one (tests)."""
    findings = check_config(config, env)
    if findings or offline:
        result = CheckResult(config.source, config.workspace.kind, offline=offline,
                             findings=findings, invalid=bool(findings),
                             tables=[TableCheck(t, ok=not [
                                 f for f in findings if f.level == "problem"
                                 and f.where.split(".")[0] == t]) for t in config.tables])
        return result
    if workspace is None:
        variable = TOKEN_VARIABLES[config.workspace.kind]
        value = (os.environ if env is None else env)[variable].strip()
        opened = open_workspace(config.workspace, Secret(value, variable),
                                limits=config.limits, max_wait=config.sync.max_wait_seconds,
                                attempts=CHECK_ATTEMPTS)
        try:
            return check_workspace(config, opened)
        finally:
            opened.close()
    return check_workspace(config, workspace)
