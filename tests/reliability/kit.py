"""The probing kept: the machinery the kill soak, fault soak, fuzzers and canaries share.

Every probe here is black-box where it can be: it runs the real ``leadsync``
command (a subprocess, or click's runner when log records must be seen) against
a real :class:`~leadsync.emulator.Emulator` over HTTP, and judges the result by
exit codes, output, and the store as :func:`leadsync.open_store` reads it.

Quick and soak
    Each probe runs a few rounds in the default suite (seconds). The tests
    marked ``soak`` (deselected by default) run each for
    ``LEADSYNC_SOAK_SECONDS`` (default 240) or until its round cap, whichever
    comes first: ``.venv/bin/python -m pytest -m soak tests/reliability``.
    ``LEADSYNC_FIGURES=FILE`` makes the session write what the probes counted
    (rounds, kills, faults, payloads, rows lost...) into FILE
    (``benchmarks/reliability.py`` does, into ``benchmarks/results/reliability.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leadsync import open_store
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.tables import INDICATORS, MemberRef

SOAK_SECONDS = float(os.environ.get("LEADSYNC_SOAK_SECONDS", "240"))
#: The tables of the sample organisation, members first as the sync does.
TABLES = ("members", "signals", "milestones", "checkins", "rotations", "reviews")


def soak_timeout(seconds: float = SOAK_SECONDS) -> pytest.MarkDecorator:
    """A pytest-timeout for a soak test: its budget plus room for the last round."""
    return pytest.mark.timeout(int(seconds) + 600)


class Budget:
    """Rounds of a probe: ``quick`` in the default suite; in a soak, up to ``cap``
    rounds or until ``LEADSYNC_SOAK_SECONDS`` have passed."""

    def __init__(self, quick: int, cap: int, *, soak: bool):
        self.limit = cap if soak else quick
        self.deadline = time.monotonic() + SOAK_SECONDS if soak else None

    def __iter__(self) -> Iterator[int]:
        n = 0
        while n < self.limit and (self.deadline is None or time.monotonic() < self.deadline
                                  or n == 0):
            yield n
            n += 1


# ---------------------------------------------------------------------------
# Figures


class Figures:
    """What the probes counted in this session, merged into ``$LEADSYNC_FIGURES``."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(self, probe: str, **counts: Any) -> None:
        with self.lock:
            entry = self.data.setdefault(probe, {})
            for key, value in counts.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    entry[key] = entry.get(key, 0) + value
                elif isinstance(value, (list, set, tuple)):
                    entry[key] = sorted(set(entry.get(key, [])) | set(value))
                else:
                    entry[key] = value

    def write(self, path: Path) -> None:
        existing: dict[str, Any] = {}
        if path.exists():
            existing = json.loads(path.read_text(encoding="utf-8"))
        probes = existing.setdefault("probes", {})
        probes.update(self.data)
        existing["written_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        totals: dict[str, int] = {}
        for counts in probes.values():
            for key in ("rows_lost", "rows_duplicated", "rows_stale", "canary_hits",
                        "internal_errors", "tracebacks", "exit_1"):
                if key in counts:
                    totals[key] = totals.get(key, 0) + int(counts[key])
        existing["totals"] = totals
        path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n",
                        encoding="utf-8")





# ---------------------------------------------------------------------------
# The command


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``leadsync`` child: this one, without test hooks."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LEADSYNC_CRASH_AT", "NOTION_TOKEN", "AIRTABLE_TOKEN")}
    env.update(extra or {})
    return env


def leadsync(*args: str, env: Mapping[str, str], cwd: Path | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``leadsync`` command (``python -m leadsync``) to its end."""
    return subprocess.run([sys.executable, "-m", "leadsync", *args], capture_output=True,
                          text=True, env=cli_env(env), cwd=cwd, timeout=timeout)


@dataclass
class Killed:
    """How one killed run ended."""

    returncode: int
    killed: bool  # SIGKILL reached it before it finished
    started: bool  # it had logged "sync started" (or the command's start line)
    last_line: str  # its last stderr line before the end
    stderr: str


def run_and_kill(args: list[str], *, env: Mapping[str, str], delay: float,
                 start_marker: str | None = "sync started", timeout: float = 300) -> Killed:
    """Start ``leadsync ARGS``, wait for its start line, then SIGKILL it ``delay`` s later.

    The delay counts from the start line, so kills land in the command's work,
    not in Python's start-up; with ``start_marker=None`` (a command that logs no
    start line) it counts from the start of the process. A run that ends first
    is not killed.
    """
    child = subprocess.Popen([sys.executable, "-m", "leadsync", *args], env=cli_env(env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line.rstrip("\n"))
            if start_marker is not None and start_marker in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if start_marker is None:
        started.set()
    deadline = time.monotonic() + timeout
    while not started.is_set() and child.poll() is None and time.monotonic() < deadline:
        started.wait(0.01)
    killed = False
    if child.poll() is None:
        end = time.monotonic() + delay
        while child.poll() is None and time.monotonic() < end:
            time.sleep(min(0.005, max(0.0, end - time.monotonic())))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            killed = True
    child.wait(timeout=timeout)
    reader.join(timeout=10)
    if child.stdout is not None:
        child.stdout.close()
    return Killed(child.returncode, killed and child.returncode == -signal.SIGKILL,
                  started.is_set(), lines[-1] if lines else "", "\n".join(lines))


# ---------------------------------------------------------------------------
# An emulated workspace, edited as its users would


def tokens(emu: Emulator) -> dict[str, str]:
    return {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}


@dataclass
class Workspace:
    """One emulated service with the sample organisation, a config for it, and edits."""

    emu: Emulator
    kind: str
    org: SampleOrg
    directory: Path
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    edits: int = 0
    trashed: set[str] = field(default_factory=set)  # Notion pages that can be restored

    @property
    def clock(self) -> FrozenClock:
        assert isinstance(self.emu.clock, FrozenClock)
        return self.emu.clock

    @property
    def env(self) -> dict[str, str]:
        return tokens(self.emu)

    def write_config(self, name: str = "leadsync.toml", *, store: str = "leadsync.db",
                     **sync: int) -> Path:
        """A config for this workspace (client pacing lifted) in ``directory``."""
        text = self.emu.config_toml(self.kind, store_path=store)
        text += "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n"
        if sync:
            text += "\n[sync]\n" + "".join(f"{k} = {v}\n" for k, v in sync.items())
        path = self.directory / name
        path.write_text(text, encoding="utf-8")
        tomllib.loads(text)
        return path

    # -- reading the truth ------------------------------------------------------

    def _table(self, table: str) -> str:
        if self.kind == "notion":
            return str(self.emu.notion.data_source_ids[table])
        return str(self.emu.airtable.sample_table_ids[table])

    def live_ids(self, table: str) -> set[str]:
        if self.kind == "notion":
            return {p["id"] for p in self.emu.notion.pages(self._table(table))}
        return {r["id"] for r in self.emu.airtable.get_records(
            self.emu.airtable.sample_base_id, self._table(table))}

    # -- edits ------------------------------------------------------------------

    def insert_signal(self) -> None:
        indicator = self.rng.choice(sorted(INDICATORS))
        row: dict[str, Any] = {
            "Summary": f"inserted {self.rng.randrange(10**6)}",
            "Signal Type": INDICATORS[indicator], "Indicator": indicator,
            "Evidence": f"https://github.com/acme/web-app/pull/{self.rng.randrange(9999)}",
            "Impact": self.rng.choice(["Low", "Medium", "High"]),
        }
        if self.kind == "notion":
            person = self.rng.choice(sorted(self.emu.notion.member_user_ids.values()))
            row |= {"Team Member": [person], "Date": dt.date(2026, 10, 5)}
            self.emu.notion.create_data_source_rows(self._table("signals"), [row])
            return
        member = self.rng.choice(sorted(self.emu.airtable.member_record_ids.values()))
        row |= {"Team Member": [member], "Date": "2026-10-05T00:00:00.000Z"}
        self.emu.airtable.insert_records(self.emu.airtable.sample_base_id,
                                         self._table("signals"), [row], typecast=True)

    def edit(self, table: str, row_id: str) -> None:
        self.edits += 1  # a unique value: writing a cell's current value is no edit
        if table == "signals":
            values: dict[str, Any] = {"Summary": f"edited {self.edits}",
                                      "Impact": self.rng.choice(["Low", "Medium", "High"])}
        elif table == "members":
            values = {"Working hours": f"0{self.rng.randint(7, 9)}:{self.edits % 60:02d}-17:00"}
        else:
            return
        if self.kind == "notion":
            self.emu.notion.edit_page(row_id, values)
        else:
            self.emu.airtable.edit_record(self.emu.airtable.sample_base_id, self._table(table),
                                          row_id, values, typecast=True)

    def delete(self, table: str, row_id: str) -> None:
        if self.kind == "notion":
            self.emu.notion.trash_page(row_id)
            self.trashed.add(row_id)
        else:
            self.emu.airtable.delete_records(self.emu.airtable.sample_base_id,
                                             self._table(table), [row_id])

    def restore(self) -> bool:
        """Take a trashed Notion page out of the trash (a revival); False when none."""
        if self.kind != "notion" or not self.trashed:
            return False
        page = self.rng.choice(sorted(self.trashed))
        self.trashed.discard(page)
        self.emu.notion.trash_page(page, trashed=False)
        return True

    def random_changes(self, rng: random.Random) -> dict[str, int]:
        """A night's worth of random inserts, edits, deletions (and Notion restores)."""
        counts = {"inserted": 0, "edited": 0, "deleted": 0, "restored": 0}
        for _ in range(rng.randint(0, 6)):
            self.insert_signal()
            counts["inserted"] += 1
        for table, most in (("signals", 10), ("members", 2)):
            ids = sorted(self.live_ids(table))
            for row_id in rng.sample(ids, min(len(ids), rng.randint(0, most))):
                self.edit(table, row_id)
                counts["edited"] += 1
        signals = sorted(self.live_ids("signals"))
        for row_id in rng.sample(signals, min(len(signals) - 5, rng.randint(0, 4))):
            self.delete("signals", row_id)
            counts["deleted"] += 1
        if rng.random() < 0.15:
            members = sorted(self.live_ids("members"))
            if len(members) > 4:
                self.delete("members", rng.choice(members))
                counts["deleted"] += 1
        if rng.random() < 0.3 and self.restore():
            counts["restored"] += 1
        return counts


def make_workspace(kind: str, directory: Path, *, seed: int = 5, members: int = 8,
                   signals: int = 80, limits: Limits | None = None,
                   notion_token: str | None = None,
                   airtable_token: str | None = None) -> Iterator[Workspace]:
    org = SampleOrg.generate(seed=seed, members=members, signals=signals)
    extra: dict[str, str] = {}
    if notion_token:
        extra["notion_token"] = notion_token
    if airtable_token:
        extra["airtable_token"] = airtable_token
    with Emulator(seed=seed, limits=limits or Limits.unlimited(), clock=FrozenClock(),
                  sample=org, workspaces=(kind,), **extra) as emu:
        yield Workspace(emu, kind, org, directory, rng=random.Random(f"{kind}:{seed}"))








# ---------------------------------------------------------------------------
# The store against the workspace


def _rows(frame: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
    values = frame.astype(object).where(frame.notna(), None)
    return {str(row["source_id"]): tuple(f"{c}={row[c]!r}" for c in frame.columns)
            for row in values.to_dict("records")}


@dataclass
class Difference:
    """How a store differs from the workspace, row by row."""

    lost: list[str] = field(default_factory=list)  # live upstream, missing from the store
    duplicated: list[str] = field(default_factory=list)  # an id the store holds twice
    stale: list[str] = field(default_factory=list)  # values or quarantine not the workspace's
    ghosts: list[str] = field(default_factory=list)  # live in the store, gone upstream
    details: list[str] = field(default_factory=list)  # what differs, for the first few

    def counts(self) -> dict[str, int]:
        return {"rows_lost": len(self.lost), "rows_duplicated": len(self.duplicated),
                "rows_stale": len(self.stale), "rows_ghost": len(self.ghosts)}


def _without(value: Any, gone: AbstractSet[str]) -> Any:
    """``value`` without references to rows deleted upstream (an empty list as None)."""
    if isinstance(value, MemberRef):
        return None if value.key in gone else value
    if isinstance(value, tuple) and any(isinstance(v, MemberRef) for v in value):
        kept = tuple(v for v in value if not (isinstance(v, MemberRef) and v.key in gone))
        return kept or None
    return value


def _stored(store: Any, table: str, resolved: bool, gone: AbstractSet[str] = frozenset()
            ) -> tuple[list[str], dict[str, tuple[Any, ...]]]:
    """Every live id a store holds for ``table`` (in order, so an id held twice shows
    twice), and a comparable form of each row.

    ``resolved``: the row as a reader sees it (the frame, or its quarantine reason),
    member references resolved against the store's live members. Otherwise the values
    as the connector decoded them, before any resolution.
    """
    if not resolved:
        records = store.records(table)
        return [r.source_id for r in records], {
            r.source_id: (*(f"{k}={_without(v, gone)!r}" for k, v in sorted(r.values.items())),
                          f"problem={r.problem!r}") for r in records}
    frame, quarantine = store.frame(table), store.quarantine(table)
    rows = _rows(frame)
    for item in quarantine.astype(object).where(quarantine.notna(), None).to_dict("records"):
        rows[str(item["source_id"])] = ("quarantined", f"reason={item['reason']!r}")
    ids = [str(s) for s in frame["source_id"]] + [str(s) for s in quarantine["source_id"]]
    return ids, rows


def _changed(got: tuple[Any, ...], want: tuple[Any, ...]) -> str:
    pairs = [(g, w) for g, w in zip(got, want, strict=False) if g != w]
    return "; ".join(f"{g[:80]} != workspace {w[:80]}" for g, w in pairs[:3])


def compare_stores(got: Path, want: Path, truth: Callable[[str], set[str]],
                   tables: tuple[str, ...] = TABLES, *, resolved: bool = True) -> Difference:
    """``got`` (the store under test) against ``want`` (a fresh full pull of the
    workspace) and against ``truth`` (the workspace's live ids, read from the emulator).

    A row counts as present whether it is in the table's frame or in its
    quarantine. With ``resolved`` (after a reconciliation) each row must read as
    the reference's does: values, member resolution, quarantine reason. Without
    it (after an incremental run, when deletions wait for the next
    reconciliation), the values as decoded must be the workspace's, references
    to rows deleted upstream aside: a member deleted upstream still resolves in
    the store until it is tombstoned, and a link to it can vanish from other
    rows without an edit time a cursor could see (Airtable drops links to a
    deleted record, Notion to a trashed page), until the next full read.
    """
    diff = Difference()
    with open_store(got) as a, open_store(want) as b:
        gone: set[str] = set()
        if not resolved:
            for table in tables:
                gone |= set(a.known_ids(table)) - truth(table)
        for table in tables:
            ids_a, rows_a = _stored(a, table, resolved, gone)
            _, rows_b = _stored(b, table, resolved, gone)
            diff.duplicated += sorted({f"{table}/{i}" for i in ids_a if ids_a.count(i) > 1})
            live = truth(table)
            if set(rows_b) != live:  # the reference pull itself is wrong
                diff.lost += sorted(f"{table}/{i} (reference)" for i in live - set(rows_b))
                diff.ghosts += sorted(f"{table}/{i} (reference)" for i in set(rows_b) - live)
            diff.lost += sorted(f"{table}/{i}" for i in live - set(rows_a))
            diff.ghosts += sorted(f"{table}/{i}" for i in set(rows_a) - live)
            stale = sorted(i for i in set(rows_a) & set(rows_b) if rows_a[i] != rows_b[i])
            diff.stale += [f"{table}/{i}" for i in stale]
            diff.details += [f"{table}/{i}: store {_changed(rows_a[i], rows_b[i])}"
                             for i in stale[:3]]
    return diff


def reference_store(ws: Workspace, name: str = "reference") -> Path:
    """A fresh full ``leadsync sync`` of the workspace into its own store: the truth's values."""
    store = f"{name}.db"
    for suffix in ("", "-wal", "-shm", ".lock"):
        (ws.directory / f"{store}{suffix}").unlink(missing_ok=True)
    config = ws.write_config(f"{name}.toml", store=store)
    done = leadsync("-c", str(config), "sync", "--full", env=ws.env)
    assert done.returncode == 0, done.stderr
    return ws.directory / store
