"""Test helpers shipped to users: an in-memory workspace that behaves like a connector.

:class:`FakeWorkspace` holds canonical tables the way a Notion database or an
Airtable table holds rows: each row has a source id, server-side created and
edited times (rounded down to the minute like Notion, or to the second like
Airtable), and values. Rows can be inserted, edited, deleted and restored;
fields renamed; a table dropped; failures injected. Its
:meth:`~FakeWorkspace.open_source` has the signature of
:func:`leadsync.sources.open_source`, so ``run_sync(config,
sources=workspace.open_source)`` syncs from it, counting requests as pages of
:attr:`~FakeWorkspace.page_size` rows. A workspace saves to and loads from a
JSON file, so another process (a ``leadsync sync`` under test) can use it::

    python -m leadsync.testing WORKSPACE.json [leadsync arguments...]

runs the ``leadsync`` command with its sources taken from that workspace
(``python -m leadsync.testing ws.json -c leadsync.toml sync --json``).

:class:`ManualClock` stands in for ``time.monotonic`` and ``time.sleep`` where
the connectors take a clock (their rate limiter, their retries), so a test of
pacing or of a ``Retry-After`` wait runs in no time and can check what was
waited.

Example::

    ws = FakeWorkspace.sample(members=5, signals=200, seed=1)
    config = ws.config(store="leadsync.db")
    run_sync(config, sources=ws.open_source)
    ws.tick(minutes=10); ws.edit("signals", some_id, impact="High")
    run_sync(config, sources=ws.open_source)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from leadsync.config import Config, parse_config
from leadsync.errors import AuthError, LeadsyncError, NotFoundError
from leadsync.records import Cursor, PullStats, Record, records_to_frame
from leadsync.sources import (
    FieldRef,
    SchemaCache,
    Source,
    SourceFactory,
    pin_field_ids,
    resolve_fields,
)
from leadsync.store import Store
from leadsync.store_codec import decode_time, decode_values, encode_time, encode_values
from leadsync.tables import IMPACT_LEVELS, INDICATORS, SIGNAL_TYPES, MemberRef

__all__ = ["FAKE_TOKEN", "FakeRow", "FakeSource", "FakeTable", "FakeWorkspace", "ManualClock",
           "compare_store"]

#: The token a fake workspace accepts unless told otherwise.
FAKE_TOKEN = "fake-token-0123456789"


def fake_database_id(table: str) -> str:
    """The Notion-shaped id a :class:`FakeWorkspace` config gives ``table``
    (``fa4e…`` then the table name's bytes in hex), so the config loads like a real one."""
    return ("fa4e" + table.encode().hex()).ljust(32, "0")[:32]


class ManualClock:
    """A monotonic clock that only moves when something sleeps on it.

    ``RateLimiter(5.0, clock=c, sleep=c.sleep)``: :attr:`now` is the seconds
    waited so far, :attr:`slept` every wait in order.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeRow:
    """One upstream row: canonical values, server times, and a decode problem if any."""

    values: dict[str, Any]
    created_time: dt.datetime
    last_edited_time: dt.datetime
    problem: str | None = None
    deleted: bool = False


@dataclass
class FakeTable:
    """One upstream table: its fields (id -> name, column) and rows by source id."""

    name: str
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    rows: dict[str, FakeRow] = field(default_factory=dict)
    dropped: bool = False

    def live(self) -> dict[str, FakeRow]:
        return {sid: row for sid, row in self.rows.items() if not row.deleted}


class FakeWorkspace:
    """An in-memory workspace: tables of rows with server-side edit times."""

    def __init__(self, *, rounding: Literal["minute", "second"] = "minute",
                 now: dt.datetime = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC),
                 page_size: int = 100, page_delay: float = 0.0, token: str = FAKE_TOKEN):
        self.rounding = rounding
        self.now = now
        self.page_size = page_size
        #: seconds each request takes (to make a sync slow enough to overlap another)
        self.page_delay = page_delay
        self.token = token
        self.tables: dict[str, FakeTable] = {}
        #: raise this error on every request once ``fail_after`` requests were served
        self.failure: LeadsyncError | None = None
        self.fail_after = 0
        self.requests = 0
        self._ids = 0

    # -- time and ids -------------------------------------------------------

    def tick(self, **delta: float) -> dt.datetime:
        """Advance the server clock (``tick(minutes=5)``); returns the new time."""
        self.now += dt.timedelta(**delta)
        return self.now

    def stamp(self) -> dt.datetime:
        """The server time an edit made now carries (rounded down)."""
        if self.rounding == "minute":
            return self.now.replace(second=0, microsecond=0)
        return self.now.replace(microsecond=0)

    def _new_id(self, table: str) -> str:
        self._ids += 1
        return f"{table[:3]}-{self._ids:07d}"

    # -- editing upstream ----------------------------------------------------

    def add_table(self, name: str, fields: Mapping[str, str]) -> FakeTable:
        """A table whose ``fields`` map canonical columns to field names (ids are made up)."""
        table = FakeTable(name)
        for i, (column, label) in enumerate(fields.items()):
            table.fields[f"fld{name[:3]}{i:03d}"] = (label, column)
        self.tables[name] = table
        return table

    def insert(self, table: str, values: Mapping[str, Any], *, problem: str | None = None,
               source_id: str | None = None) -> str:
        sid = source_id or self._new_id(table)
        stamp = self.stamp()
        self.tables[table].rows[sid] = FakeRow(dict(values), stamp, stamp, problem)
        return sid

    def edit(self, table: str, source_id: str, **values: Any) -> None:
        row = self.tables[table].rows[source_id]
        if row.deleted:
            raise KeyError(f"{source_id} is deleted")
        row.values.update(values)
        row.last_edited_time = self.stamp()

    def set_problem(self, table: str, source_id: str, problem: str | None) -> None:
        row = self.tables[table].rows[source_id]
        row.problem = problem
        row.last_edited_time = self.stamp()

    def delete(self, table: str, source_id: str) -> None:
        """Delete (trash) a row: it leaves every listing, as on both services."""
        self.tables[table].rows[source_id].deleted = True

    def restore(self, table: str, source_id: str, *, touch: bool = True) -> None:
        """Bring a deleted row back (``touch``: its edit time moves, as Notion's restore does)."""
        row = self.tables[table].rows[source_id]
        row.deleted = False
        if touch:
            row.last_edited_time = self.stamp()

    def rename_field(self, table: str, column: str, new_name: str) -> None:
        """Rename the field mapped to ``column`` (its id stays)."""
        fields = self.tables[table].fields
        for fid, (_, col) in list(fields.items()):
            if col == column:
                fields[fid] = (new_name, col)
                return
        raise KeyError(column)

    def live_ids(self, table: str) -> set[str]:
        return set(self.tables[table].live())

    def mutate(self, rng: random.Random, *, inserts: int = 0, edits: int = 0,
               deletes: int = 0, tables: Sequence[str] = ("signals",)) -> dict[str, list[str]]:
        """Random inserts, edits and deletions; returns the ids touched per kind."""
        touched: dict[str, list[str]] = {"inserted": [], "edited": [], "deleted": []}
        members = sorted(self.live_ids("members")) if "members" in self.tables else []
        for table in tables:
            for _ in range(inserts):
                touched["inserted"].append(self.insert(table, _values(rng, table, members)))
            live = sorted(self.live_ids(table))
            for sid in rng.sample(live, min(edits, len(live))):
                self.edit(table, sid, **_edit(rng, table))
                touched["edited"].append(sid)
            live = sorted(self.live_ids(table))
            for sid in rng.sample(live, min(deletes, len(live))):
                self.delete(table, sid)
                touched["deleted"].append(sid)
        return touched

    @classmethod
    def sample(cls, *, members: int = 6, signals: int = 100, seed: int = 0,
               bad_rate: float = 0.03, **kwargs: Any) -> FakeWorkspace:
        """A workspace with ``members`` and ``signals`` tables of random, mostly valid rows.

        About ``bad_rate`` of the signals do not fit (an unknown impact, or an
        undecodable row), so the quarantine is exercised too.
        """
        rng = random.Random(seed)
        ws = cls(**kwargs)
        ws.add_table("members", {"name": "Name", "email": "Email", "timezone": "Time zone",
                                 "is_leader": "Leader", "mentor_id": "Mentor"})
        ws.add_table("signals", {"member_id": "Team Member", "signal_type": "Signal Type",
                                 "indicator": "Indicator", "evidence": "Evidence",
                                 "date": "Date", "impact": "Impact", "notes": "Notes"})
        member_ids: list[str] = []
        for _ in range(members):
            member_ids.append(ws.insert("members", _values(rng, "members", member_ids)))
        for _ in range(signals):
            values = _values(rng, "signals", member_ids)
            problem = None
            roll = rng.random()
            if roll < bad_rate / 2:
                values["impact"] = "Enormous"
            elif roll < bad_rate:
                problem = "Date: a date range cannot be read"
            ws.insert("signals", values, problem=problem)
            if rng.random() < 0.3:
                ws.tick(seconds=rng.randint(1, 90))
        ws.tick(minutes=10)
        return ws

    # -- as a connector -------------------------------------------------------

    def config(self, store: str | Path, *, full_every_days: int = 7,
               overlap_seconds: int = 120, tables: Sequence[str] | None = None) -> Config:
        """A config whose tables point at this workspace (as Notion databases
        :func:`fake_database_id`)."""
        return parse_config({
            "workspace": {"kind": "notion"},
            "tables": {
                name: {"notion_database": fake_database_id(name),
                       "fields": {col: label for label, col in t.fields.values()}}
                for name, t in self.tables.items() if tables is None or name in tables
            },
            "store": {"path": str(store)},
            "sync": {"full_every_days": full_every_days, "overlap_seconds": overlap_seconds},
        })

    def config_toml(self, store: str | Path, **sync: int) -> str:
        """:meth:`config` as the text of a ``leadsync.toml``."""
        lines = ['[workspace]', 'kind = "notion"', '']
        for name, t in self.tables.items():
            fields = ", ".join(f'{col} = "{label}"' for label, col in t.fields.values())
            lines += [f"[tables.{name}]", f'notion_database = "{fake_database_id(name)}"',
                      f"fields = {{ {fields} }}", ""]
        lines += ["[store]", f'path = "{store}"', ""]
        if sync:
            lines += ["[sync]", *(f"{k} = {v}" for k, v in sync.items()), ""]
        return "\n".join(lines)

    def open_source(self, config: Config, table: str, *,
                    env: Mapping[str, str] | None = None,
                    field_ids: Mapping[str, str] | None = None,
                    stats: PullStats | None = None,
                    schema_cache: Mapping[str, Any] | None = None,
                    schemas: SchemaCache | None = None) -> FakeSource:
        """:func:`leadsync.sources.open_source` for this workspace (a
        :class:`~leadsync.sources.SourceFactory`; the source comes back opened).

        A fake table has no schema to snapshot: ``schema_cache`` and ``schemas``
        are accepted and not used, and every open reads the "schema" (one request).
        """
        del schema_cache, schemas
        config = pin_field_ids(config, table, field_ids)
        stats = stats if stats is not None else PullStats()
        token = config.token(env)
        source = FakeSource(self, table, {}, stats)
        source.request()  # schema: one request, as the connectors' schema read
        if token.reveal() != self.token:
            raise AuthError("API token is invalid.", service="notion", status=401,
                            code="unauthorized")
        database = config.tables[table].notion_database or ""
        upstream = next((t for name, t in self.tables.items()
                         if fake_database_id(name) == database), None)
        if upstream is None or upstream.dropped or upstream.name != table:
            raise NotFoundError(
                f"Could not find database with ID: {database}. Make sure the relevant pages "
                "and databases are shared with your integration.", service="notion",
                status=404, code="object_not_found")
        available = [FieldRef(fid, label, "fake") for fid, (label, _) in upstream.fields.items()]
        resolved = resolve_fields(config.tables[table].fields, available,
                                  where=f"fake database {database} ({table})")
        source.mapping = {column: upstream.fields[ref.id][1] for column, ref in resolved.items()}
        source.field_ids = {column: ref.id for column, ref in resolved.items()}
        return source

    def request(self) -> None:
        """Count one request; sleep ``page_delay``; raise the injected failure if due."""
        self.requests += 1
        if self.page_delay:
            time.sleep(self.page_delay)
        if self.failure is not None and self.requests > self.fail_after:
            raise self.failure

    # -- what a live pull returns ---------------------------------------------

    def records(self, table: str) -> list[Record]:
        """The live rows of ``table`` as a connector decodes them (every mapped column)."""
        columns = [column for _, column in self.tables[table].fields.values()]
        return [Record(sid, row.created_time, row.last_edited_time,
                       {column: row.values.get(column) for column in columns}, row.problem)
                for sid, row in sorted(self.tables[table].live().items())]

    def frame(self, table: str) -> pd.DataFrame:
        """The canonical frame a live pull of ``table`` returns."""
        members = None
        if table != "members" and "members" in self.tables:
            members = records_to_frame("members", self.records("members")).frame
        return records_to_frame(table, self.records(table), members=members).frame

    # -- persistence --------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        data = {
            "rounding": self.rounding, "now": encode_time(self.now),
            "page_size": self.page_size, "page_delay": self.page_delay, "token": self.token,
            "ids": self._ids,
            "tables": {
                name: {
                    "fields": {fid: list(v) for fid, v in t.fields.items()},
                    "dropped": t.dropped,
                    "rows": {sid: {"values": encode_values(r.values),
                                   "created": encode_time(r.created_time),
                                   "edited": encode_time(r.last_edited_time),
                                   "problem": r.problem, "deleted": r.deleted}
                             for sid, r in t.rows.items()},
                } for name, t in self.tables.items()
            },
        }
        Path(path).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> FakeWorkspace:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        now = decode_time(data["now"])
        assert now is not None
        ws = cls(rounding=data["rounding"], now=now, page_size=data["page_size"],
                 page_delay=data["page_delay"], token=data["token"])
        ws._ids = data["ids"]
        for name, t in data["tables"].items():
            table = FakeTable(name, {fid: (v[0], v[1]) for fid, v in t["fields"].items()},
                              dropped=t["dropped"])
            for sid, r in t["rows"].items():
                created, edited = decode_time(r["created"]), decode_time(r["edited"])
                assert created is not None
                assert edited is not None
                table.rows[sid] = FakeRow(decode_values(r["values"]), created, edited,
                                          r["problem"], r["deleted"])
            ws.tables[name] = table
        return ws


def compare_store(store: Store, workspace: FakeWorkspace, *, tombstones: bool = True,
                  tables: Sequence[str] | None = None) -> list[str]:
    """Every way ``store`` differs from ``workspace`` (empty when they are equal).

    Per table: the same live ids with the same values, times and problems;
    no id twice; the same typed frame as a live pull; the same rows in
    quarantine; and with ``tombstones``, every stored row deleted upstream
    tombstoned and no live upstream row tombstoned.
    """
    problems: list[str] = []
    for name in tables or [t for t in workspace.tables if not workspace.tables[t].dropped]:
        upstream = {r.source_id: r for r in workspace.records(name)}
        stored = store.records(name, include_deleted=True)
        ids = [r.source_id for r in stored]
        if len(ids) != len(set(ids)):
            problems.append(f"{name}: an id is stored twice")
        deleted = {sid for sid, gone in store.known_ids(name).items() if gone}
        live = {r.source_id: r for r in stored if r.source_id not in deleted}
        if missing := sorted(set(upstream) - set(live)):
            problems.append(f"{name}: live upstream, not live in the store: {missing[:5]}")
        extra = sorted(set(live) - set(upstream))
        if extra and tombstones:
            problems.append(f"{name}: live in the store, gone upstream: {extra[:5]}")
        for sid in sorted(set(upstream) & set(live)):
            if upstream[sid] != live[sid]:
                problems.append(f"{name} {sid}: stored {live[sid]} != upstream {upstream[sid]}")
        if tombstones:
            table = workspace.tables[name]
            wrong = sorted(sid for sid in deleted if not table.rows[sid].deleted)
            if wrong:
                problems.append(f"{name}: tombstoned but live upstream: {wrong[:5]}")
        if not extra or tombstones:
            expected = workspace.frame(name).sort_values("source_id", ignore_index=True)
            got = store.frame(name).sort_values("source_id", ignore_index=True)
            try:
                pd.testing.assert_frame_equal(got, expected)
            except AssertionError as exc:
                problems.append(f"{name}: frame differs from a live pull: {exc}")
            members = None
            if name != "members" and "members" in workspace.tables:
                members = records_to_frame("members", workspace.records("members")).frame
            want_q = set(records_to_frame(name, workspace.records(name),
                                          members=members).quarantine["source_id"])
            got_q = set(store.quarantine(name)["source_id"])
            if want_q != got_q:
                problems.append(f"{name}: quarantine {sorted(got_q)[:5]}... != live pull's "
                                f"{sorted(want_q)[:5]}... ({len(got_q)} vs {len(want_q)})")
    return problems


class FakeSource:
    """One table of a :class:`FakeWorkspace` as a :class:`~leadsync.sources.Source`.

    ``fetch`` answers like a timestamp-filtered query sorted by edit time, one
    request per :attr:`FakeWorkspace.page_size` rows (at least one); the
    result set is fixed at the first page, as a server-side snapshot.
    ``list_ids`` costs one request per page of ids.
    """

    service = "fake"

    def __init__(self, workspace: FakeWorkspace, table: str, mapping: dict[str, str],
                 stats: PullStats):
        self.workspace = workspace
        self.table = table
        self.mapping = mapping  # canonical column -> the upstream column it reads
        self.field_ids: dict[str, str] = {}
        self.stats = stats
        #: a fake table reports no server time: cursors follow the rows' edit times
        self.watermark: dt.datetime | None = None
        #: and has no schema to snapshot
        self.schema_snapshot: dict[str, Any] | None = None

    @property
    def identity(self) -> dict[str, str]:
        return {"service": self.service, "table": self.table,
                "database_id": f"fake-{self.table}"}

    def open(self) -> None:
        """Opened by :meth:`FakeWorkspace.open_source` already."""

    def close(self) -> None:
        """Nothing to release."""

    def request(self) -> None:
        self.stats.requests += 1
        self.workspace.request()

    def _upstream(self) -> FakeTable:
        upstream = self.workspace.tables[self.table]
        if upstream.dropped:
            raise NotFoundError("Could not find database.", service="notion", status=404,
                                code="object_not_found")
        return upstream

    def fetch(self, cursor: Cursor | None = None) -> Iterator[Record]:
        since = cursor.query_from if cursor is not None else None
        self.request()
        rows = sorted(
            ((sid, row) for sid, row in self._upstream().live().items()
             if since is None or row.last_edited_time >= since),
            key=lambda item: (item[1].last_edited_time, item[0]))
        snapshot = [Record(sid, row.created_time, row.last_edited_time,
                           {col: row.values.get(src) for col, src in self.mapping.items()},
                           row.problem)
                    for sid, row in rows]
        for page in range(max(1, math.ceil(len(snapshot) / self.workspace.page_size))):
            if page:
                self.request()
            chunk = snapshot[page * self.workspace.page_size:
                             (page + 1) * self.workspace.page_size]
            self.stats.rows += len(chunk)
            yield from chunk

    def list_ids(self) -> set[str]:
        ids = set(self._upstream().live())
        for _ in range(max(1, math.ceil(len(ids) / self.workspace.page_size))):
            self.request()
        return ids


# ---------------------------------------------------------------------------
# Random rows

_NAMES = ("Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Juno", "Kai",
          "Lea", "Mo", "Noor", "Oli", "Pia", "Quin", "Rui", "Sol", "Tao")
_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo",
          "Africa/Lagos", "Asia/Kolkata", "Australia/Sydney")


def _values(rng: random.Random, table: str, members: Sequence[str]) -> dict[str, Any]:
    if table == "members":
        n = rng.randrange(10_000)
        name = f"{rng.choice(_NAMES)} {n:04d}"
        mentor = MemberRef("relation", rng.choice(members)) if members and \
            rng.random() < 0.5 else None
        return {"name": name, "email": f"m{n:04d}@example.org", "timezone": rng.choice(_ZONES),
                "is_leader": rng.random() < 0.3, "mentor_id": mentor}
    indicator = rng.choice(sorted(INDICATORS))
    return {
        "member_id": MemberRef("relation", rng.choice(members)) if members else None,
        "signal_type": INDICATORS[indicator],
        "indicator": indicator,
        "evidence": f"https://git.example.org/pr/{rng.randrange(100_000)}",
        "date": dt.date(2026, rng.randint(1, 10), rng.randint(1, 28)),
        "impact": rng.choice(IMPACT_LEVELS),
        "notes": rng.choice((None, "", "follow-up", "great hand-off notes", "ünïcödé ✓")),
    }


def _edit(rng: random.Random, table: str) -> dict[str, Any]:
    if table == "members":
        return {"timezone": rng.choice(_ZONES), "is_leader": rng.random() < 0.5}
    return rng.choice((
        {"impact": rng.choice(IMPACT_LEVELS)},
        {"signal_type": rng.choice(SIGNAL_TYPES)},
        {"notes": f"edited {rng.randrange(1000)}"},
        {"date": dt.datetime(2026, 10, rng.randint(1, 28), 14, 30, tzinfo=dt.UTC)},
    ))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m leadsync.testing WORKSPACE.json ARGS...``: the leadsync command, with
    its sources taken from a saved :class:`FakeWorkspace`."""
    from leadsync.cli import main as cli

    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m leadsync.testing WORKSPACE.json [leadsync arguments...]")
    workspace = FakeWorkspace.load(args[0])
    cli.main(args[1:], prog_name="leadsync", obj={"sources": workspace.open_source})


if __name__ == "__main__":  # pragma: no cover
    main()


if TYPE_CHECKING:  # mypy holds the fake to the contract the sync relies on
    def _a_source(source: FakeSource) -> Source:
        return source

    _a_factory: SourceFactory = FakeWorkspace(rounding="minute").open_source
