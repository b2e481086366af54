"""Benchmark: the monthly report pushed into Notion and Airtable at the published rates.

Run ``python benchmarks/push.py`` (``--members 60 2000`` to choose sizes,
``--kind notion airtable`` to choose services). For each size the sample
organisation (seed 1, 12 months of signals) is built into canonical frames
as a sync would store them and the October 2026 report is built; then, for
each service, against a fresh emulator that enforces the published limits
(Notion: 3 requests/s per integration with its bursts; Airtable: 5
requests/s per base with its 30 s lock after a 429), leadsync pushes at its
own default pacing (``[limits]`` 3 and 5 requests/s), through the same
function as ``leadsync report --push``, with a store recording the push:

- **first push**: the page (or the tables and rows) created;
- **unchanged re-push**: the same report again (the acceptance bound: at
  most 2 requests);
- **changed push**: the report after one more High signal for the
  lowest-scored member (the page's changed blocks replaced in place; every
  Scores row upserted again).

Recorded per push: requests (the client's count; the emulator's count beside
it), seconds, requests/s, 429s met, and what it did (blocks added, deleted
and kept, rows created and updated, uploads). For Notion, the blocks on the
page after the first push, counted in the emulator down to the table rows:
the cost against a free workspace's lifetime block count. For Airtable, the
Scores upsert's own rate: from the first Scores batch to the last, batches
per second against the 5 requests/s bound (target: at least 0.95).
Writes ``benchmarks/results/push.json`` and prints a table. Reported, never
asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from leadsync.reports import LeadershipReport, build_report, month_end
from leadsync.reports.writers.ledger import PushOutcome
from leadsync.reports.writers.push import push_report

from leadsync.config import Config, parse_config
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.store import Store
from leadsync.tables import TABLES, build_frame

RESULTS = Path(__file__).resolve().parent / "results" / "push.json"
MONTH = "2026-10"
NOTION_DB = "11111111-2222-4333-8444-555555555555"
AIRTABLE_RPS = 5.0
TARGET_RATIO = 0.95


def sample_frames(members: int, seed: int) -> dict[str, pd.DataFrame]:
    org = SampleOrg.generate(seed=seed, members=members)
    built = build_frame("members", [{**m, "source_id": m["member_id"]} for m in org.members])
    frames = {"members": built.frame}
    for name, records in org.tables.items():
        if name != "members":
            result = build_frame(name, [{**r, "source_id": r[TABLES[name].key]}
                                        for r in records], members=built.frame)
            frames[name] = result.frame
            frames[name].attrs["quarantine"] = result.quarantine
    return frames


def with_signal(frames: Mapping[str, pd.DataFrame], member_id: str) -> dict[str, pd.DataFrame]:
    """``frames`` with one more High signal for ``member_id`` on 20 October."""
    signals = frames["signals"]
    extra = signals.iloc[[0]].copy()
    extra.attrs = {}
    for column, value in (("signal_id", "SIG-BENCH"), ("source_id", "SIG-BENCH"),
                          ("member_id", member_id)):
        extra[column] = pd.Series([value], dtype=signals[column].dtype, index=extra.index)
    extra.loc[extra.index[0], "impact"] = "High"
    extra["date"] = pd.Series([pd.Timestamp("2026-10-20", tz="UTC")],
                              dtype=signals["date"].dtype, index=extra.index)
    combined = pd.concat([signals, extra], ignore_index=True)
    combined.attrs = dict(signals.attrs)
    return {**frames, "signals": combined}


def reports(members: int, seed: int
            ) -> tuple[pd.DataFrame, LeadershipReport, LeadershipReport]:
    """The members, the month's report, and the report after one more signal."""
    frames = sample_frames(members, seed)
    first = build_report(frames, as_of=month_end(MONTH))
    lowest = str(first.scores["member_id"].iloc[-1])
    return (frames["members"], first,
            build_report(with_signal(frames, lowest), as_of=month_end(MONTH)))


def _config(kind: str, emu: Emulator, base: str | None) -> Config:
    if kind == "notion":
        return parse_config({
            "workspace": {"kind": "notion", "notion_base_url": emu.url},
            "tables": {"signals": {"notion_database": NOTION_DB},
                       "members": {"notion_database": NOTION_DB}},
            "report": {"notion_parent_page": emu.notion.root_page_id}})
    return parse_config({
        "workspace": {"kind": "airtable", "airtable_endpoint_url": emu.url},
        "tables": {"signals": {"airtable_base": base, "airtable_table": "Signals"},
                   "members": {"airtable_base": base, "airtable_table": "Members"}},
        "report": {"airtable_base": base}})


def _count_blocks(emu: Emulator, block_id: str) -> int:
    def walk(blocks: list[dict[str, Any]]) -> int:
        return sum(1 + walk(b.get("children") or []) for b in blocks)
    return walk(emu.notion.block_tree(block_id))


class _Clock:
    """A checkpoint that notes when each batch of rows went in (the Scores upsert's rate)."""

    def __init__(self) -> None:
        self.rows: list[float] = []

    def __call__(self, name: str, table: str | None = None) -> None:
        if name == "push-rows":
            self.rows.append(time.perf_counter())


def _run(label: str, outcome: PushOutcome, server: int, server_429: int) -> dict[str, Any]:
    return {
        "push": label,
        "action": outcome.action,
        "requests": outcome.requests,
        "server_requests": server,
        "seconds": round(outcome.seconds, 3),
        "requests_per_second": round(outcome.requests / outcome.seconds, 3)
        if outcome.seconds else None,
        "server_429s": server_429,
        "pages_created": outcome.pages_created,
        "blocks_added": outcome.blocks_added,
        "blocks_deleted": outcome.blocks_deleted,
        "blocks_kept": outcome.blocks_kept,
        "rows_created": outcome.rows_created,
        "rows_updated": outcome.rows_updated,
        "rows_deleted": outcome.rows_deleted,
        "uploads": outcome.uploads,
    }


def bench(kind: str, frame: pd.DataFrame, first: LeadershipReport,
          changed: LeadershipReport, seed: int) -> dict[str, Any]:
    members = len(frame)
    with tempfile.TemporaryDirectory() as tmp, \
            Emulator(seed=seed, limits=Limits(), workspaces=(kind,)) as emu, \
            Store.open(Path(tmp) / "leadsync.db", create=True, writable=True) as store:
        base = None
        records: dict[str, str] | None = None
        if kind == "airtable":
            base = emu.airtable.create_base("Leadership")
            table = emu.airtable.create_table(base, "Members", [{"name": "Name",
                                                                 "type": "singleLineText"}])
            ids = emu.airtable.insert_records(base, table, [{"Name": str(n)}
                                                            for n in frame["name"]])
            records = dict(zip(frame["member_id"].astype(str), ids, strict=True))
        config = _config(kind, emu, base)
        env = {"NOTION_TOKEN": emu.notion_token, "AIRTABLE_TOKEN": emu.airtable_token}
        runs: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        for label, report in (("first push", first), ("unchanged re-push", first),
                              ("changed push", changed)):
            clock = _Clock()
            before = emu.stats.total(kind)
            before_429 = emu.stats.count(f"{kind}.*", 429)
            (outcome,) = push_report(report, config, document=report.document, store=store,
                                     env=env, checkpoint=clock, member_records=records)
            runs.append(_run(label, outcome, emu.stats.total(kind) - before,
                             emu.stats.count(f"{kind}.*", 429) - before_429))
            if kind == "notion" and label == "first push":
                (page,) = emu.notion.child_pages(emu.notion.root_page_id)
                extra["blocks_on_page"] = _count_blocks(emu, str(page["id"]))
                extra["top_level_blocks"] = len(emu.notion.block_tree(str(page["id"])))
            if kind == "airtable" and label == "first push":
                # the first mark is the Reports row; the Scores batches follow
                marks = clock.rows[1:]
                batches = len(marks)
                span = marks[-1] - marks[0] if batches > 1 else 0.0
                rate = (batches - 1) / span if span else None
                extra["scores_upsert"] = {
                    "rows": members, "batches": batches, "seconds": round(span, 3),
                    "requests_per_second": round(rate, 3) if rate else None,
                    "bound_requests_per_second": AIRTABLE_RPS,
                    "ratio": round(rate / AIRTABLE_RPS, 4) if rate else None,
                    "note": "from the end of the first Scores batch to the end of the last: "
                            "batches - 1 requests in that span"}
                scores = emu.airtable.get_records(base or "", "Scores")
                extra["scores_rows"] = len(scores)
        if kind == "notion":
            pages = emu.notion.child_pages(emu.notion.root_page_id)
            extra["pages_after"] = len(pages)
        else:
            extra["reports_rows_after"] = len(emu.airtable.get_records(base or "", "Reports"))
        return {"service": kind, "members": members,
                "signals": first.signals, "runs": runs, **extra}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[60, 2000])
    parser.add_argument("--kind", nargs="+", default=["notion", "airtable"],
                        choices=["notion", "airtable"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    results: list[dict[str, Any]] = []
    for members in args.members:
        frame, first, changed = reports(members, args.seed)
        for kind in args.kind:
            results.append(bench(kind, frame, first, changed, args.seed))
            print(f"{kind} {members}: done", file=sys.stderr)
    ratios = [r["scores_upsert"]["ratio"] for r in results if "scores_upsert" in r
              and r["scores_upsert"]["ratio"] is not None]
    unchanged = [run["requests"] for r in results for run in r["runs"]
                 if run["push"] == "unchanged re-push"]
    met = (all(x >= TARGET_RATIO for x in ratios) and all(n <= 2 for n in unchanged)
           and all(run["server_429s"] == 0 for r in results for run in r["runs"]))
    out = {
        "benchmark": "push",
        "target": f"Scores upsert at >= {TARGET_RATIO} of 5 requests/s; an unchanged "
                  "re-push at most 2 requests; no 429 met",
        "target_met": met,
        "results": results,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0],
            "pandas": pd.__version__,
            "emulator": "leadsync.emulator on loopback, in the same process, published limits",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)

    print(f"{'service':<10}{'members':>8}  {'push':<18}{'req':>6}{'s':>9}{'blocks+':>9}"
          f"{'blocks-':>9}{'rows':>7}{'429s':>6}")
    for r in results:
        for run in r["runs"]:
            rows = run["rows_created"] + run["rows_updated"]
            print(f"{r['service']:<10}{r['members']:>8}  {run['push']:<18}{run['requests']:>6}"
                  f"{run['seconds']:>9.2f}{run['blocks_added']:>9}{run['blocks_deleted']:>9}"
                  f"{rows:>7}{run['server_429s']:>6}")
        if "blocks_on_page" in r:
            print(f"{'':<18}blocks on the page: {r['blocks_on_page']} "
                  f"({r['top_level_blocks']} top-level)")
        if "scores_upsert" in r:
            s = r["scores_upsert"]
            print(f"{'':<18}Scores upsert: {s['batches']} batches, {s['requests_per_second']} "
                  f"requests/s, {s['ratio']} of the bound")
    print(f"target {'met' if met else 'NOT met'}; wrote {args.out}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
