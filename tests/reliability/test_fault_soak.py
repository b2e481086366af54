"""Fault soak: ``leadsync sync`` under every fault the emulator injects, for both services.

Faults: 5xx answers (500, 502, 503, 504) before the handler and after it (the
work done, the answer lost), connection resets before and after, slow answers,
429 storms with ``Retry-After``, and Airtable's expired list offsets. Each run
must end 0 or 75 (cron retries), never 1 or 2, never an internal error or a
traceback; after the faults stop, one ``--full`` run makes the store equal to
the workspace (the emulator's live ids, and a fresh full pull's values).

Quick: one run per service with every fault at once. Soak
(``-m soak``): each fault alone and all together, round after round,
with upstream changes between rounds and ``--full`` now and then.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leadsync.emulator import Fault

from .kit import (
    Budget,
    Figures,
    Workspace,
    compare_stores,
    leadsync,
    make_workspace,
    reference_store,
    soak_timeout,
)

FaultSet = Callable[[str], list[Fault]]

#: Every fault the emulator can inject, at rates a run meets several times.
FAULTS: dict[str, FaultSet] = {
    "5xx": lambda svc: [Fault("error", route=f"{svc}.*", rate=0.06, status=status)
                        for status in (500, 502, 503, 504)],
    "5xx after the work": lambda svc: [Fault("error", route=f"{svc}.*", rate=0.15,
                                             status=503, phase="after")],
    "resets": lambda svc: [Fault("reset", route=f"{svc}.*", rate=0.2)],
    "resets after the work": lambda svc: [Fault("reset", route=f"{svc}.*", rate=0.15,
                                                 phase="after")],
    "slow answers": lambda svc: [Fault("slow", route=f"{svc}.*", rate=0.3, delay=0.3)],
    "429 storms": lambda svc: [Fault("storm", route=f"{svc}.*", rate=0.08, length=3,
                                     retry_after=0.5)],
    "expired offsets": lambda svc: [Fault("expire_offset", route="airtable.*", rate=0.3)],
}


def every_fault(svc: str) -> list[Fault]:
    faults = [f for make in FAULTS.values() for f in make(svc)]
    for fault in faults:
        fault.rate /= 2  # together, at half their rates
    return faults


#: What the quick run injects; the soak adds each fault set alone.
QUICK: dict[str, FaultSet] = {"every fault at once": every_fault}


def faulted_runs(ws: Workspace, figures: Figures, cases: dict[str, FaultSet], budget: Budget,
                 seed: str) -> None:
    rng = random.Random(seed)
    config = ws.write_config(full_every_days=2)
    exits: Counter[int] = Counter()
    bad: list[tuple[str, int, str]] = []
    injected: Counter[str] = Counter()
    runs = 0
    for n in budget:
        name = list(cases)[n % len(cases)]
        if n:
            ws.random_changes(rng)
        ws.clock.advance(seconds=rng.choice((0, 61, 3600, 86400)))
        ws.emu.faults.clear()
        ws.emu.stats.reset()
        for fault in cases[name](ws.kind):
            ws.emu.faults.add(fault)
        args = ["-c", str(config), "sync", *(["--full"] if rng.random() < 0.25 else [])]
        done = leadsync(*args, env=ws.env)
        runs += 1
        injected.update(ws.emu.stats.snapshot()["faults"])
        # expired offsets are answered by the Airtable service itself: its 422s count them
        injected["expire_offset"] += ws.emu.stats.count("airtable.*", 422)
        exits[done.returncode] += 1
        if done.returncode not in (0, 75) or "internal error" in done.stderr \
                or "Traceback" in done.stderr:
            bad.append((name, done.returncode, done.stderr[-1500:]))
    ws.emu.faults.clear()
    full = leadsync("-c", str(config), "sync", "--full", env=ws.env)
    assert full.returncode == 0, full.stderr
    diff = compare_stores(ws.directory / "leadsync.db", reference_store(ws), ws.live_ids)
    figures.add(f"fault_soak.{ws.kind}", runs=runs, exit_0=exits[0], exit_75=exits[75],
                exit_1=exits[1], exit_other=sum(v for k, v in exits.items()
                                                if k not in (0, 1, 75)),
                internal_errors=sum("internal error" in b[2] for b in bad),
                faults_injected=sum(injected.values()),
                **{f"faults_{k}": v for k, v in injected.items()}, **diff.counts())
    assert not bad, bad
    assert sum(injected.values()) > 0  # the faults did fire
    assert diff.counts() == {"rows_lost": 0, "rows_duplicated": 0, "rows_stale": 0,
                             "rows_ghost": 0}, diff


@pytest.fixture
def big_workspace(kind: str, tmp_path: Path) -> Iterator[Workspace]:
    """Enough signals (250) for listings of several pages, so offsets can expire."""
    yield from make_workspace(kind, tmp_path, signals=250)


def test_every_fault_ends_0_or_75_and_the_store_equals_the_workspace(
        big_workspace: Workspace, figures: Figures) -> None:
    faulted_runs(big_workspace, figures, QUICK, Budget(quick=1, cap=1, soak=False),
                 f"quick:{big_workspace.kind}")


@pytest.mark.soak
@soak_timeout()
def test_fault_soak(big_workspace: Workspace, figures: Figures) -> None:
    cases = {**FAULTS, **QUICK}
    if big_workspace.kind == "notion":
        del cases["expired offsets"]
    faulted_runs(big_workspace, figures, cases, Budget(quick=1, cap=300, soak=True),
                 f"soak:{big_workspace.kind}")


@pytest.mark.parametrize("kind", ["airtable"])
def test_offsets_that_always_expire_are_transient(big_workspace: Workspace) -> None:
    """Defect 1: an iterator that keeps expiring is transient upstream trouble (exit 75,
    one line), not a failure (it was exit 1 after 10 restarts before issue 12's rewrite)."""
    config = big_workspace.write_config()
    big_workspace.emu.faults.add(Fault("expire_offset", route="airtable.*", rate=1.0))
    done = leadsync("-c", str(config), "sync", env=big_workspace.env)
    assert done.returncode == 75, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines, done.stderr
    assert lines[-1].startswith("leadsync: error:"), done.stderr
    assert "Traceback" not in done.stderr
