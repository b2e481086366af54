"""The month's report and promotion packets as rows of an Airtable base, idempotently.

:class:`AirtableRowsWriter` writes the rows :mod:`.airtable_rows` lays out
into tables it finds by name in the base, or creates (``schema.bases:write``):
Reports, Scores, Packets (names in ``[report]``). Every row is upserted with
``performUpsert`` on its keys (``Month``, ``Member ID``) in batches of ten,
through :class:`~leadsync.connectors.airtable.AirtableClient`: paced at the
base's 5 requests/s (the limiter the readers share), retried, its errors
classified like the readers'. A push, in order:

1. **Unchanged?** The month's Reports row recorded in the store is read (one
   request). Still there, last push finished, same digest: done.
2. The token's scopes are read when Airtable tells them (``whoami``), so a
   token that may not write is refused before anything is written; the base
   schema is read and missing tables or fields are created.
3. The Reports row is upserted; its attachments (the HTML report, the
   charts) are uploaded through the upload endpoint only when their bytes
   changed, then the attachment fields are set to exactly this version's
   files (older ones drop off).
4. The Scores rows are upserted, ten a request, the store noting their new
   record ids (at most once a second, so the notes never slow the upsert
   below the base's rate); the rows leadsync wrote for members no longer in
   the report are deleted. Rows a person added are never touched: only record ids
   leadsync recorded are ever deleted.

Upserts merge on their keys, so a push killed at any point and run again
updates the same rows, never adds a second set. A token refused (403) is
reported naming the scope it needs.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from leadsync.connectors.airtable import BATCH_SIZE, RATE_LIMIT_WAIT_SECONDS, AirtableClient
from leadsync.connectors.airtable_decode import AirtableField, AirtableTable, decode_base_schema
from leadsync.connectors.base import Limiters, RetryPolicy

from leadsync.config import Config
from leadsync.errors import AuthError, ConfigError, NotFoundError, ReportWriteError
from leadsync.progress import Progress
from leadsync.store import Store

from ..document import Document
from ..html import render_document_html
from ..model import ReportModel
from .airtable_rows import (
    ATTACHMENT_MAX_BYTES,
    MEMBER_LINK,
    PACKETS,
    REPORTS,
    SCORES,
    FieldSpec,
    TableSpec,
    attachments_of,
    file_digest,
    report_row,
    rows_digest,
    score_rows,
)
from .ledger import Checkpoint, Ledger, PushOutcome, no_checkpoint

__all__ = ["AirtableRowsWriter", "PacketRow", "push_packets_airtable", "push_report_airtable",
           "report_base"]

log = logging.getLogger("leadsync.reports.writers")

#: Seconds between two notes in the store of the Scores rows' new record ids.
SAVE_EVERY = 1.0
#: Where the upload endpoint lives for the real API (any other endpoint serves it itself).
CONTENT_ENDPOINT = "https://content.airtable.com"


def report_base(config: Config) -> str:
    """The base reports go into: ``[report] airtable_base``, else the members table's."""
    base = config.report.airtable_base or (
        config.tables["members"].airtable_base if "members" in config.tables else None)
    if not base:
        raise ConfigError("not set: the Airtable base the Reports and Scores tables go into",
                          key="report.airtable_base", path=config.source)
    return base


def table_names(config: Config) -> dict[str, str]:
    """Each table role's name in the base (``[report]``, else the defaults)."""
    report = config.report
    return {"reports": report.airtable_table or REPORTS.name,
            "scores": report.airtable_scores_table or SCORES.name,
            "packets": report.airtable_packets_table or PACKETS.name}


@dataclass(frozen=True)
class PacketRow:
    """One packet to push: its key, its row (by field name) and its HTML."""

    key: str
    title: str
    row: dict[str, Any]
    html: bytes


class AirtableRowsWriter:
    """Writes leadsync's tables of one base (see the module doc)."""

    def __init__(self, client: AirtableClient, base_id: str, names: Mapping[str, str], *,
                 checkpoint: Checkpoint = no_checkpoint, progress: bool | None = False,
                 member_table: str | None = None):
        self.client = client
        self.base = base_id
        self.names = dict(names)
        self.checkpoint = checkpoint
        self.progress = progress
        #: The members table (id or name) when it is in this base: Scores link to it.
        self.member_table = member_table
        self._schema: tuple[AirtableTable, ...] | None = None
        self._scopes: set[str] | None = None
        self._scopes_read = False

    # -- requests ---------------------------------------------------------------------

    def _call(self, scope: str, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``; a 403 becomes one line naming the scope ``what`` needs."""
        try:
            return fn()
        except AuthError as exc:
            if exc.status != 403:
                raise
            raise self._refused(scope, what) from exc

    def _refused(self, scope: str, what: str) -> ReportWriteError:
        scopes = self.scopes()
        if scopes is not None and scope in scopes:
            why = f"the token may not reach base {self.base} (its access to bases)"
        else:
            why = f"the token lacks the {scope} scope (or access to base {self.base})"
        return ReportWriteError(
            f"airtable: {what}: {why}; give it in https://airtable.com/create/tokens; "
            "nothing was written")

    def scopes(self) -> set[str] | None:
        """The token's scopes when Airtable says them (OAuth tokens), else None."""
        if not self._scopes_read:
            self._scopes_read = True
            try:
                answer = self.client.request("GET", str(self.client.build_url("meta/whoami")))
            except Exception as exc:  # only a hint for a message
                log.debug("airtable: whoami failed: %s", exc)
                answer = {}
            listed = answer.get("scopes") if isinstance(answer, dict) else None
            self._scopes = {str(s) for s in listed} if isinstance(listed, list) else None
        return self._scopes

    def check_scopes(self, needed: Sequence[str], what: str) -> None:
        """Refuse before writing anything when the token says it lacks a needed scope."""
        scopes = self.scopes()
        if scopes is None:
            return
        for scope in needed:
            if scope not in scopes:
                raise self._refused(scope, what)

    def schema(self, *, force: bool = False) -> tuple[AirtableTable, ...]:
        if self._schema is None or force:
            payload = self._call("schema.bases:read", f"read the schema of base {self.base}",
                                 lambda: self.client.request("GET", str(self.client.build_url(
                                     "meta/bases", self.base, "tables"))))
            self._schema = decode_base_schema(payload)
        return self._schema

    def _table_named(self, name: str) -> AirtableTable | None:
        tables = self.schema()
        for table in tables:
            if table.id == name or table.name == name:
                return table
        folded = [t for t in tables if t.name.casefold() == name.casefold()]
        return folded[0] if len(folded) == 1 else None

    def _fields(self, spec: TableSpec) -> list[FieldSpec]:
        fields = list(spec.fields)
        if spec is SCORES and self.member_table is not None:
            linked = self._table_named(self.member_table)
            if linked is not None:
                fields.append(FieldSpec(MEMBER_LINK, "multipleRecordLinks",
                                        {"linkedTableId": linked.id}))
        return fields

    def missing(self, spec: TableSpec) -> tuple[bool, list[FieldSpec]]:
        """Whether the table is missing, and which of its fields are (reads the schema)."""
        table = self._table_named(self.names[spec.role])
        fields = self._fields(spec)
        if table is None:
            return True, fields
        have = {f.name.casefold() for f in table.fields}
        return False, [f for f in fields if f.name.casefold() not in have]

    def setup_requests(self, specs: Sequence[TableSpec]) -> int:
        """The requests a push would still send to check the token and complete the
        tables of ``specs`` (for a dry run; reads the schema): whoami, each table or field
        to create, and the schema read again after each table that changes."""
        count = 0 if self._scopes_read else 1
        for spec in specs:
            missing, fields = self.missing(spec)
            if missing or fields:
                count += (1 if missing else len(fields)) + 1
        return count

    def ensure(self, spec: TableSpec) -> AirtableTable:
        """The table for ``spec``, created with its fields when missing, completed with any
        field it lacks; a field of the wrong type is refused with a clear line."""
        name = self.names[spec.role]
        table = self._table_named(name)
        fields = self._fields(spec)
        if table is None:
            body: dict[str, Any] = {"name": name, "fields": [f.create() for f in fields]}
            if spec.description:
                body["description"] = spec.description
            url = str(self.client.build_url("meta/bases", self.base, "tables"))
            self._call("schema.bases:write", f"create the {name} table in base {self.base}",
                       lambda: self.client.request("POST", url, json=body))
            log.info("airtable: created the %s table in base %s", name, self.base)
            self.schema(force=True)
            created = self._table_named(name)
            assert created is not None
            return created
        added = False
        for f in fields:
            present: AirtableField | None
            try:
                present = table.field(f.name)
            except KeyError:
                folded = [x for x in table.fields if x.name.casefold() == f.name.casefold()]
                present = folded[0] if folded else None
            if present is None:
                url = str(self.client.build_url("meta/bases", self.base, "tables", table.id,
                                                "fields"))
                spec_body = f.create()
                self._call("schema.bases:write",
                           f"add the field {f.name!r} to the {name} table",
                           lambda url=url, spec_body=spec_body: self.client.request(  # type: ignore[misc]
                               "POST", url, json=spec_body))
                added = True
            elif present.type != f.type and not (f.type == "singleLineText"
                                                 and present.type == "multilineText"):
                raise ReportWriteError(
                    f"airtable: the {name} table's field {present.name!r} is a {present.type} "
                    f"field; leadsync writes a {f.type} there. Rename that field (leadsync "
                    "then adds its own) or change its type")
        if added:
            self.schema(force=True)
            refreshed = self._table_named(name)
            assert refreshed is not None
            return refreshed
        return table

    def upsert(self, table: AirtableTable, spec: TableSpec, rows: Sequence[Mapping[str, Any]]
               ) -> list[str]:
        """Upsert ``rows`` (by field name) on ``spec.keys``, at most ten a request; returns
        each row's record id, in order."""
        ids = {f.name: f.id for f in table.fields}
        for f in table.fields:
            ids.setdefault(f.name.casefold(), f.id)
        keys = [ids.get(k) or ids[k.casefold()] for k in spec.keys]

        def field_id(name: str) -> str:
            return str(ids.get(name) or ids[name.casefold()])

        records = [{"fields": {field_id(k): v for k, v in row.items()}} for row in rows]
        api_table = self.client.table(self.base, table.id)
        answer = self._call(
            "data.records:write", f"write {len(rows)} rows to the {table.name} table",
            lambda: api_table.batch_upsert(records, key_fields=keys, use_field_ids=True))
        by_key = {tuple(str(r["fields"].get(k)) for k in keys): str(r["id"])
                  for r in answer["records"]}
        return [by_key[tuple(str(rec["fields"][k]) for k in keys)] for rec in records]

    def get(self, table_id: str, record_id: str) -> dict[str, Any] | None:
        """A record (fields by id), or None when it was deleted."""
        api_table = self.client.table(self.base, table_id)
        try:
            record: dict[str, Any] = self._call(
                "data.records:read", f"read record {record_id}",
                lambda: dict(api_table.get(record_id, use_field_ids=True)))
        except NotFoundError:
            return None
        return record

    def delete(self, table_id: str, record_ids: Sequence[str]) -> int:
        """Delete records (ten a request); those already gone are skipped."""
        api_table = self.client.table(self.base, table_id)
        done = 0
        for start in range(0, len(record_ids), BATCH_SIZE):
            chunk = list(record_ids[start:start + BATCH_SIZE])
            try:
                self._call("data.records:write", f"delete {len(chunk)} rows",
                           lambda chunk=chunk: api_table.batch_delete(chunk))  # type: ignore[misc]
                done += len(chunk)
            except NotFoundError:  # one was deleted by a person: the others one by one
                for record_id in chunk:
                    try:
                        self._call("data.records:write", f"delete row {record_id}",
                                   lambda r=record_id: api_table.delete(r))  # type: ignore[misc]
                        done += 1
                    except NotFoundError:
                        pass
        return done

    def _upload_url(self, record_id: str, field_id: str) -> str:
        url = str(self.client.build_url(self.base, record_id, field_id, "uploadAttachment"))
        real = "https://api.airtable.com/"
        return CONTENT_ENDPOINT + "/" + url[len(real):] if url.startswith(real) else url

    def attach(self, table: AirtableTable, record: Mapping[str, Any],
               files: Sequence[tuple[str, str, bytes, str]], recorded: Mapping[str, Any],
               outcome: PushOutcome) -> dict[str, list[str]]:
        """Make the record's attachment fields hold exactly ``files`` (field, filename,
        bytes, type): unchanged files kept, changed ones uploaded, others dropped. Returns
        ``filename -> [attachment id, digest]`` to record."""
        current = dict(record.get("fields") or {})
        kept: dict[str, list[str]] = {}
        wanted: dict[str, list[str]] = {}
        for field_name, filename, data, kind in files:
            f = table.field(field_name)
            present = {str(a.get("id")) for a in current.get(f.id) or []}
            digest = file_digest(data)
            previous = recorded.get(filename)
            if isinstance(previous, list) and previous[1] == digest and previous[0] in present:
                attachment = str(previous[0])
            else:
                url = self._upload_url(str(record["id"]), f.id)
                body = {"contentType": kind, "filename": filename,
                        "file": base64.b64encode(data).decode("ascii")}
                answer = self._call("data.records:write", f"upload {filename}",
                                    lambda url=url, body=body: self.client.request(  # type: ignore[misc]
                                        "POST", url, json=body))
                after = (answer.get("fields") or {}).get(f.id) or []
                new = [str(a["id"]) for a in after if str(a.get("id")) not in present]
                if not new:
                    raise ReportWriteError(f"airtable: uploading {filename} added no attachment")
                attachment = new[-1]
                current[f.id] = after
                outcome.uploads += 1
                self.checkpoint("push-uploaded", "airtable")
            kept[filename] = [attachment, digest]
            wanted.setdefault(f.id, []).append(attachment)
        for field_name in {fn for fn, *_ in files}:
            wanted.setdefault(table.field(field_name).id, [])
        changes = {fid: [{"id": a} for a in ids] for fid, ids in wanted.items()
                   if [str(a.get("id")) for a in current.get(fid) or []] != ids}
        if changes:
            api_table = self.client.table(self.base, table.id)
            self._call("data.records:write", f"set the attachments of {record['id']}",
                       lambda: api_table.update(str(record["id"]), changes, use_field_ids=True))
        return kept


# ---------------------------------------------------------------------------
# The report


def _client(config: Config, env: Mapping[str, str] | None,
            limiters: Limiters | None) -> AirtableClient:
    return AirtableClient(
        config.token(env), endpoint_url=config.workspace.airtable_endpoint_url,
        rps=config.limits.airtable_rps,
        policy=RetryPolicy(max_wait=config.sync.max_wait_seconds,
                           default_rate_wait=RATE_LIMIT_WAIT_SECONDS),
        limiters=limiters)


def _member_table(config: Config, base: str) -> str | None:
    members = config.tables.get("members")
    if members is None or members.airtable_base != base:
        return None
    return members.airtable_table


def report_files(document: Document, month: str) -> tuple[list[tuple[str, str, bytes, str]],
                                                           list[str]]:
    """The files a Reports row carries, and notes on any left out (over 5 MB)."""
    html = render_document_html(replace(document, made=""), anchor=f"ls-{month}")
    data = html.encode("utf-8")
    notes = []
    files = attachments_of(document, data)
    if len(data) > ATTACHMENT_MAX_BYTES:
        files = files[1:]
        notes.append(f"the HTML report ({len(data) / 1e6:.1f} MB) is over Airtable's 5 MB "
                     "upload limit and was not attached; it is in the local files")
    return files, notes


def push_report_airtable(
    report: ReportModel,
    config: Config,
    *,
    document: Document,
    store: Store | None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: bool | None = False,
    checkpoint: Checkpoint = no_checkpoint,
    limiters: Limiters | None = None,
    member_records: Mapping[str, str] | None = None,
) -> list[PushOutcome]:
    """The month's Reports row and Scores rows (see the module doc).

    ``member_records`` (member id -> the member's record id) links each score
    to its member when the members table is in the same base.
    """
    base = report_base(config)
    names = table_names(config)
    linked = _member_table(config, base)
    client = _client(config, env, limiters)
    try:
        writer = AirtableRowsWriter(client, base, names, checkpoint=checkpoint,
                                    progress=progress, member_table=linked)
        return [_push_report(writer, report, document, Ledger(
            store, "airtable", "report", report.month, base, dry_run=dry_run),
            dry_run=dry_run, force=force,
            member_records=member_records if linked else None)]
    finally:
        client.session.close()


def _push_report(writer: AirtableRowsWriter, report: ReportModel, document: Document,
                 ledger: Ledger, *, dry_run: bool, force: bool,
                 member_records: Mapping[str, str] | None) -> PushOutcome:
    started = time.monotonic()
    stats = writer.client.stats
    before = stats.requests
    files, notes = report_files(document, report.month)
    head = report_row(report, document)
    scores = score_rows(report, member_records)
    names = writer.names
    digest = rows_digest(head, scores, [(f, n, file_digest(d)) for f, n, d, _ in files],
                         names["reports"], names["scores"])
    outcome = PushOutcome("airtable", "report", report.month, document.title, "created",
                          dry_run=dry_run, notes=notes)
    entry = ledger.entry
    state: dict[str, Any] = dict(entry.state) if entry is not None else {}
    record: dict[str, Any] | None = None
    tables = state.get("tables") or {}
    if entry is not None and entry.object_id and tables.get("reports"):
        record = writer.get(str(tables["reports"]), entry.object_id)
        outcome.url = _record_url(writer.base, str(tables["reports"]), entry.object_id)
        if record is not None and entry.status == "done" and entry.content_hash == digest \
                and not force:
            return outcome.with_(action="unchanged", requests=stats.requests - before,
                                 seconds=time.monotonic() - started)
        if record is None:
            outcome.notes.append("the month's Reports row was deleted in Airtable; written "
                                 "anew")
    recorded: dict[str, str] = dict(state.get("scores") or {})
    current = {row["Member ID"] for row in scores}
    stale = [rid for member, rid in recorded.items() if member not in current]
    outcome.action = "updated" if record is not None or recorded else "created"
    if dry_run:
        changed = [f for f in files
                   if (state.get("attachments") or {}).get(f[1], [None, None])[1]
                   != file_digest(f[2])]
        outcome.rows_created = int(record is None) + sum(1 for r in scores
                                                         if r["Member ID"] not in recorded)
        outcome.rows_updated = int(record is not None) + sum(1 for r in scores
                                                             if r["Member ID"] in recorded)
        outcome.rows_deleted = len(stale)
        outcome.uploads = len(changed)
        writes = (writer.setup_requests([REPORTS, SCORES])
                  + _row_requests(record is not None, len(changed))
                  + -(-len(scores) // BATCH_SIZE) + -(-len(stale) // BATCH_SIZE))
        return outcome.with_(requests=stats.requests - before + writes,
                             seconds=time.monotonic() - started)
    writer.check_scopes(["data.records:write", "schema.bases:read"],
                        f"write the {report.month} report to base {writer.base}")
    if any(writer.missing(spec)[1] for spec in (REPORTS, SCORES)):
        writer.check_scopes(["schema.bases:write"], f"create leadsync's tables in base "
                                                     f"{writer.base}")
    reports_table = writer.ensure(REPORTS)
    scores_table = writer.ensure(SCORES)
    state["tables"] = {"reports": reports_table.id, "scores": scores_table.id}
    ledger.save(status="writing", object_id=entry.object_id if entry else None, state=state,
                content_hash=entry.content_hash if entry else None)
    (record_id,) = writer.upsert(reports_table, REPORTS, [head])
    outcome.url = _record_url(writer.base, reports_table.id, record_id)
    if record is None:
        outcome.rows_created += 1
    else:
        outcome.rows_updated += 1
    ledger.save(status="writing", object_id=record_id, state=state)
    writer.checkpoint("push-rows", "airtable")
    fresh = writer.get(reports_table.id, record_id) or {"id": record_id, "fields": {}}
    state["attachments"] = writer.attach(reports_table, fresh, files,
                                         state.get("attachments") or {}, outcome)
    ledger.save(status="writing", object_id=record_id, state=state)
    saved = time.monotonic()
    with Progress(f"airtable {scores_table.name}", total=len(scores), unit="rows",
                  show=writer.progress, logger=log) as bar:
        for start in range(0, len(scores), BATCH_SIZE):
            batch = scores[start:start + BATCH_SIZE]
            ids = writer.upsert(scores_table, SCORES, batch)
            fresh_ids = False
            for row, rid in zip(batch, ids, strict=True):
                if row["Member ID"] in recorded and recorded[row["Member ID"]] == rid:
                    outcome.rows_updated += 1
                else:
                    outcome.rows_created += 1
                    fresh_ids = True
                recorded[row["Member ID"]] = rid
            # New record ids are noted at most every SAVE_EVERY seconds (a commit a batch
            # would slow the upsert below the 5 requests/s): the upsert merges on its keys,
            # so a push killed before the note finds the same rows again next time.
            if fresh_ids and time.monotonic() - saved >= SAVE_EVERY:
                state["scores"] = dict(recorded)
                ledger.save(status="writing", object_id=record_id, state=state)
                saved = time.monotonic()
            writer.checkpoint("push-rows", "airtable")
            bar.update(len(batch))
    state["scores"] = dict(recorded)
    if stale:
        outcome.rows_deleted = writer.delete(scores_table.id, stale)
        state["scores"] = {m: r for m, r in recorded.items() if m in current}
        ledger.save(status="writing", object_id=record_id, state=state)
    ledger.save(status="done", object_id=record_id, state=state, content_hash=digest)
    writer.checkpoint("push-done", "airtable")
    return outcome.with_(requests=stats.requests - before, seconds=time.monotonic() - started)


def _row_requests(exists: bool, uploads: int) -> int:
    """The writes of one row after the tables are ready: its upsert, the record read
    back, each upload, and (over a row already there) setting its attachments to this
    version's files, which drops the older ones."""
    return 1 + 1 + uploads + int(exists and uploads > 0)


def _record_url(base: str, table: str, record: str) -> str:
    return f"https://airtable.com/{base}/{table}/{record}"


# ---------------------------------------------------------------------------
# Packets


def push_packets_airtable(
    packets: Sequence[PacketRow],
    config: Config,
    *,
    store: Store | None,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: bool | None = False,
    checkpoint: Checkpoint = no_checkpoint,
    limiters: Limiters | None = None,
) -> list[PushOutcome]:
    """One Packets row per packet, upserted on ``(Month, Member ID)``, its HTML attached."""
    base = report_base(config)
    names = table_names(config)
    outcomes: list[PushOutcome] = []
    client = _client(config, env, limiters)
    with client.session:
        writer = AirtableRowsWriter(client, base, names, checkpoint=checkpoint,
                                    progress=progress)
        table: AirtableTable | None = None
        planned = False  # a dry run has counted the table's set-up
        for packet in packets:
            started = time.monotonic()
            before = client.stats.requests
            ledger = Ledger(store, "airtable", "packet", packet.key, base, dry_run=dry_run)
            files = [("Packet file", "packet.html", packet.html, "text/html")]
            notes = []
            if len(packet.html) > ATTACHMENT_MAX_BYTES:
                files, notes = [], ["the packet's HTML is over 5 MB and was not attached"]
            digest = rows_digest(packet.row, [(f, n, file_digest(d)) for f, n, d, _ in files],
                                 names["packets"])
            outcome = PushOutcome("airtable", "packet", packet.key, packet.title, "created",
                                  dry_run=dry_run, notes=notes)
            entry = ledger.entry
            state: dict[str, Any] = dict(entry.state) if entry is not None else {}
            record = None
            table_id = str(state.get("table") or "")
            if entry is not None and entry.object_id and table_id:
                record = writer.get(table_id, entry.object_id)
                outcome.url = _record_url(base, table_id, entry.object_id)
                if record is not None and entry.status == "done" and \
                        entry.content_hash == digest and not force:
                    outcomes.append(outcome.with_(action="unchanged",
                                                  requests=client.stats.requests - before,
                                                  seconds=time.monotonic() - started))
                    continue
            outcome.action = "updated" if record is not None else "created"
            if dry_run:
                changed = [f for f in files
                           if (state.get("attachments") or {}).get(f[1], [None, None])[1]
                           != file_digest(f[2])]
                writes = _row_requests(record is not None, len(changed))
                if not planned:  # the first packet's push reads and completes the schema
                    writes += writer.setup_requests([PACKETS])
                    planned = True
                outcomes.append(outcome.with_(
                    rows_created=int(record is None), rows_updated=int(record is not None),
                    uploads=len(changed), requests=client.stats.requests - before + writes,
                    seconds=time.monotonic() - started))
                continue
            if table is None:
                writer.check_scopes(["data.records:write", "schema.bases:read"],
                                    f"write promotion packets to base {base}")
                if writer.missing(PACKETS)[1]:
                    writer.check_scopes(["schema.bases:write"],
                                        f"create the {names['packets']} table in base {base}")
                table = writer.ensure(PACKETS)
            state["table"] = table.id
            ledger.save(status="writing", object_id=entry.object_id if entry else None,
                        state=state)
            (record_id,) = writer.upsert(table, PACKETS, [packet.row])
            outcome.url = _record_url(base, table.id, record_id)
            ledger.save(status="writing", object_id=record_id, state=state)
            writer.checkpoint("push-rows", "airtable")
            fresh = writer.get(table.id, record_id) or {"id": record_id, "fields": {}}
            state["attachments"] = writer.attach(table, fresh, files,
                                                 state.get("attachments") or {}, outcome)
            ledger.save(status="done", object_id=record_id, state=state, content_hash=digest)
            writer.checkpoint("push-done", "airtable")
            outcomes.append(outcome.with_(rows_created=int(record is None),
                                          rows_updated=int(record is not None),
                                          requests=client.stats.requests - before,
                                          seconds=time.monotonic() - started))
    return outcomes
