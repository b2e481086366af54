"""A sync killed with SIGKILL anywhere loses nothing and duplicates nothing on the next run.

Each case runs ``leadsync sync`` in a child process (the real command, with its
sources taken from a saved in-memory workspace: ``python -m leadsync.testing``)
with ``LEADSYNC_CRASH_AT`` naming the checkpoint where it kills itself, checks
that it did die there, then runs the sync again to the end and compares the
store with the workspace: the same live ids with the same values, the same
frames as a live pull, the same quarantine, deletions as tombstones, no id
twice, no row lost, and the killed run marked ``interrupted`` in the run log.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from leadsync import open_store
from leadsync.config import load_config
from leadsync.store_hooks import CHECKPOINTS
from leadsync.sync import run_sync
from leadsync.testing import FAKE_TOKEN, FakeWorkspace, compare_store

ENV = {"NOTION_TOKEN": FAKE_TOKEN}

#: Kill points of a first sync (450 signals: batches of 200, 200 and 50).
FIRST_RUN = [
    "lock-acquired", "store-created", "schema-mid", "run-started",
    "table-start:members", "fetched:members#4", "batch-begin:members",
    "batch-mid:members", "batch-before-commit:members", "batch-after-commit:members",
    "cursor-before-commit:members", "quarantine-mid:members",
    "reconcile-before-commit:members", "reconcile-after-commit:members",
    "table-start:signals", "fetched:signals#1", "fetched:signals#250",
    "batch-begin:signals#2", "batch-mid:signals#1", "batch-mid:signals#2",
    "batch-before-commit:signals#3", "batch-after-commit:signals#1",
    "batch-after-commit:signals#3", "fetch-done:signals", "cursor-before-commit:signals",
    "frames-mid:members", "frames-mid:signals", "quarantine-mid:signals",
    "reconcile-after-commit:signals", "table-done:signals",
    "run-before-finish", "run-after-finish",
]

#: Kill points of a later sync, after inserts, edits, deletions and a restore upstream,
#: with a reconciliation due (``full_every_days = 0``).
LATER_RUN = [
    "run-started", "batch-mid:members", "batch-after-commit:members",
    "cursor-after-commit:members", "listed:members", "fetched:signals#10",
    "batch-mid:signals", "cursor-before-commit:signals", "cursor-after-commit:signals",
    "listed:signals", "reconcile-mid:signals", "reconcile-before-commit:signals",
    "frames-mid:members", "frames-mid:signals", "quarantine-mid:signals", "run-before-finish",
]


def test_there_are_at_least_twenty_distinct_kill_points() -> None:
    points = set(FIRST_RUN) | {f"later:{p}" for p in LATER_RUN}
    assert len(points) >= 40
    names = {p.split(":")[0].split("#")[0] for p in FIRST_RUN + LATER_RUN}
    assert names <= set(CHECKPOINTS)
    assert len(names) >= 20


def workspace(seed: int) -> FakeWorkspace:
    return FakeWorkspace.sample(members=6, signals=450, seed=seed)


def write_config(tmp_path: Path, ws: FakeWorkspace, **sync: int) -> Path:
    config = tmp_path / "leadsync.toml"
    config.write_text(ws.config_toml("leadsync.db", **sync))
    return config


def killed_sync(tmp_path: Path, ws: FakeWorkspace, config: Path, point: str) -> None:
    """Run ``leadsync sync`` in a child that kills itself at ``point``; check it died there."""
    saved = tmp_path / "workspace.json"
    ws.save(saved)
    env = {**os.environ, **ENV, "LEADSYNC_CRASH_AT": point}
    child = subprocess.run(
        [sys.executable, "-m", "leadsync.testing", str(saved), "-c", str(config), "sync"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, (
        f"the sync did not die at {point} (exit {child.returncode}):\n{child.stderr}")


def finish_and_check(tmp_path: Path, ws: FakeWorkspace, config: Path) -> None:
    summary = run_sync(load_config(config), sources=ws.open_source, env=ENV, progress=False)
    assert summary.status == "ok"
    path = tmp_path / "leadsync.db"
    with open_store(path) as store:
        assert compare_store(store, ws) == []
        statuses = list(store.runs()["status"])
    assert statuses[0] == "ok"
    assert "running" not in statuses
    conn = sqlite3.connect(path)
    (check,) = conn.execute("PRAGMA integrity_check").fetchone()
    dupes = conn.execute("SELECT count(*) FROM (SELECT 1 FROM records "
                         "GROUP BY table_name, source_id HAVING count(*) > 1)").fetchone()
    conn.close()
    assert check == "ok"
    assert dupes == (0,)


@pytest.mark.parametrize("point", FIRST_RUN)
def test_a_first_sync_killed_anywhere_resumes_exactly(tmp_path: Path, point: str) -> None:
    ws = workspace(seed=len(point))
    config = write_config(tmp_path, ws)
    killed_sync(tmp_path, ws, config, point)
    finish_and_check(tmp_path, ws, config)
    with open_store(tmp_path / "leadsync.db") as store:
        statuses = list(store.runs()["status"])
    if point in ("lock-acquired", "store-created", "schema-mid"):
        assert statuses == ["ok"]  # killed before the run was logged
    elif point == "run-after-finish":
        assert statuses == ["ok", "ok"]  # killed after it was logged done
    else:
        assert statuses == ["ok", "interrupted"]


@pytest.mark.parametrize("point", LATER_RUN)
def test_a_later_sync_killed_anywhere_resumes_exactly(tmp_path: Path, point: str) -> None:
    ws = workspace(seed=100 + len(point))
    config = write_config(tmp_path, ws, full_every_days=0)
    run_sync(load_config(config), sources=ws.open_source, env=ENV, progress=False)
    rng = random.Random(point)
    ws.tick(minutes=15)
    touched = ws.mutate(rng, inserts=30, edits=40, deletes=12, tables=("members", "signals"))
    ws.restore("signals", touched["deleted"][-1])
    ws.tick(minutes=1)
    killed_sync(tmp_path, ws, config, point)
    finish_and_check(tmp_path, ws, config)
    with open_store(tmp_path / "leadsync.db") as store:
        assert len(store.tombstones("signals")) > 0


def test_a_sync_killed_again_and_again_still_ends_exact(tmp_path: Path) -> None:
    ws = workspace(seed=7)
    config = write_config(tmp_path, ws, full_every_days=0)
    for point in ("batch-mid:signals#2", "batch-after-commit:signals#1",
                  "reconcile-before-commit:signals"):
        killed_sync(tmp_path, ws, config, point)
    finish_and_check(tmp_path, ws, config)
    with open_store(tmp_path / "leadsync.db") as store:
        assert list(store.runs()["status"]) == ["ok"] + ["interrupted"] * 3
