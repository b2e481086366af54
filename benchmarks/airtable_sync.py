"""Benchmark: the Airtable connector's pull and upsert against the emulator.

Run ``python benchmarks/airtable_sync.py`` (``--help`` for sizes). Four runs,
each on a fresh emulator holding the sample organisation:

- **pull, limited**: the emulator enforces Airtable's published 5 requests/s
  per base (with its 30 s lock after a 429) and the connector paces itself at
  5/s. A page holds 100 records, so the bound is 5 x 100 = 500 rows/s.
- **upsert, limited**: the same limits; a request carries 10 records, so the
  bound is 5 x 10 = 50 rows/s. Half the keys exist already (updates), half
  are new (creates).
- **pull / upsert, unlimited**: no rate limit on either side. There is no
  published bound; the ratio reported is rows/s against the measured
  requests/s x 100 (or x 10), i.e. how full the requests were.
- **pull frame, unlimited**: the same pull as one typed frame
  (``AirtableSource.pull_frame``: only the mapped fields asked for, the
  listing streamed, a page decoded a column at a time while the next is
  fetched), what a notebook and the peers' comparisons use.

The connector paces itself at 5/s with no burst (``connectors.airtable.BURST``
is 1: Airtable publishes none, and a refusal locks the base for 30 s), although
the emulator's model of the limit (a bucket of 5) would allow one.

Each run records rows, seconds, requests (the connector's count, schema read
included), requests/s, rows/s, the bound and the ratio to it, and the 429s met
(the connector's count and the emulator's). Writes
``benchmarks/results/airtable_sync.json`` and prints a table.

Target (issue 16): at least 0.98 of the bound in the limited runs, with no
429 met. The limited runs are sized to take 10-20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyairtable
from leadsync.connectors.airtable import (
    BATCH_SIZE,
    BURST,
    PAGE_SIZE,
    REQUESTS_PER_SECOND,
    AirtableClient,
    AirtableSource,
    AirtableWriter,
)

from leadsync.emulator import AIRTABLE_TOKEN, Emulator, Limits, SampleOrg

RESULTS = Path(__file__).resolve().parent / "results" / "airtable_sync.json"
TARGET_RATIO = 0.98

REPORT_FIELDS: list[dict[str, Any]] = [
    {"name": "Report key", "type": "singleLineText"},
    {"name": "Month", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
    {"name": "Metric", "type": "singleSelect",
     "options": {"choices": [{"name": "Signals"}, {"name": "Leaders"}, {"name": "Quiet"}]}},
    {"name": "Value", "type": "number", "options": {"precision": 1}},
    {"name": "Manager note", "type": "multilineText"},
]


def _limits(limited: bool) -> Limits:
    # Published limits (5/s, a 30 s lock, whole-second Retry-After) or none at all.
    return Limits() if limited else Limits.unlimited()


def _summary(kind: str, limited: bool, rows: int, seconds: float, requests: int,
             client_429: int, server_429: int, retries: int, server_requests: int
             ) -> dict[str, Any]:
    per_request = PAGE_SIZE if kind.startswith("pull") else BATCH_SIZE
    requests_per_second = requests / seconds
    rows_per_second = rows / seconds
    bound = (REQUESTS_PER_SECOND if limited else requests_per_second) * per_request
    return {
        "run": f"{kind}, {'limited' if limited else 'unlimited'}",
        "rows": rows,
        "seconds": round(seconds, 3),
        "requests": requests,
        "server_requests": server_requests,
        "requests_per_second": round(requests_per_second, 3),
        "rows_per_second": round(rows_per_second, 1),
        "bound_rows_per_second": round(bound, 1),
        "bound": (f"{REQUESTS_PER_SECOND:g} requests/s x {per_request}" if limited
                  else f"measured requests/s x {per_request}"),
        "ratio": round(rows_per_second / bound, 4),
        "rate_limited_met": client_429,
        "server_429s": server_429,
        "retries": retries,
    }


def bench_pull(rows: int, *, limited: bool, seed: int, frame: bool = False) -> dict[str, Any]:
    org = SampleOrg.generate(seed=seed, members=60, signals=rows, malformed_rate=0.0)
    with Emulator(seed=seed, limits=_limits(limited), sample=org,
                  workspaces=("airtable",)) as emu:
        client = AirtableClient(AIRTABLE_TOKEN, endpoint_url=emu.url,
                                rps=REQUESTS_PER_SECOND if limited else None)
        source = AirtableSource(client, emu.airtable.sample_base_id, "Signals",
                                canonical="signals", progress=False)
        started = time.perf_counter()
        if frame:
            pulled_frame = source.pull_frame()
            pulled = len(pulled_frame) + len(pulled_frame.attrs["quarantine"])
        else:
            pulled = sum(1 for _ in source.fetch())
        seconds = time.perf_counter() - started
        if pulled != rows:
            raise SystemExit(f"pulled {pulled} records, expected {rows}")
        return _summary("pull frame" if frame else "pull", limited, pulled, seconds,
                        client.stats.requests,
                        client.stats.rate_limited, emu.stats.count("airtable.*", 429),
                        client.stats.retries, emu.stats.total("airtable."))


def _report_rows(n: int) -> pd.DataFrame:
    metrics = ["Signals", "Leaders", "Quiet"]
    return pd.DataFrame({
        "Report key": [f"2026-10|team-{i:06d}" for i in range(n)],
        "Month": [pd.Timestamp("2026-10-01", tz="UTC")] * n,
        "Metric": [metrics[i % 3] for i in range(n)],
        "Value": [float(i % 97) for i in range(n)],
    })


def bench_upsert(rows: int, *, limited: bool, seed: int) -> dict[str, Any]:
    with Emulator(seed=seed, limits=_limits(limited)) as emu:
        at = emu.airtable
        base = at.create_base("Reports")
        table = at.create_table(base, "Monthly Report", REPORT_FIELDS)
        # half the keys exist already, with a note nobody must touch
        at.insert_records(base, table, [
            {"Report key": f"2026-10|team-{i:06d}", "Manager note": "keep"}
            for i in range(0, rows, 2)])
        client = AirtableClient(AIRTABLE_TOKEN, endpoint_url=emu.url,
                                rps=REQUESTS_PER_SECOND if limited else None)
        writer = AirtableWriter(client, base, table)
        frame = _report_rows(rows)
        writer.fetch_schema()  # the schema read is not part of the write rate
        reads = client.stats.requests
        started = time.perf_counter()
        result = writer.write_rows(frame, key_fields=["Report key"])
        seconds = time.perf_counter() - started
        written = len(result.created) + len(result.updated)
        stored = at.get_records(base, table)
        if not result.ok or written != rows or len(stored) != rows:
            raise SystemExit(f"wrote {written} of {rows} rows; {len(stored)} stored; "
                             f"{len(result.failed)} failed")
        if sum(1 for r in stored if r["fields"].get("Manager note") == "keep") != (rows + 1) // 2:
            raise SystemExit("an unowned field was touched")
        return _summary("upsert", limited, written, seconds, client.stats.requests - reads,
                        client.stats.rate_limited, emu.stats.count("airtable.*", 429),
                        client.stats.retries, emu.stats.total("airtable."))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pull-rows", type=int, default=7500,
                        help="records pulled in the limited run (default 7500, about 15 s)")
    parser.add_argument("--upsert-rows", type=int, default=750,
                        help="rows upserted in the limited run (default 750, about 15 s)")
    parser.add_argument("--unlimited-pull-rows", type=int, default=20000)
    parser.add_argument("--unlimited-upsert-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    runs = [
        bench_pull(args.pull_rows, limited=True, seed=args.seed),
        bench_pull(args.unlimited_pull_rows, limited=False, seed=args.seed),
        bench_pull(args.unlimited_pull_rows, limited=False, seed=args.seed, frame=True),
        bench_upsert(args.upsert_rows, limited=True, seed=args.seed),
        bench_upsert(args.unlimited_upsert_rows, limited=False, seed=args.seed),
    ]
    limited = [r for r in runs if r["run"].endswith(", limited")]
    met = all(r["ratio"] >= TARGET_RATIO and r["rate_limited_met"] == 0
              and r["server_429s"] == 0 for r in limited)
    results = {
        "benchmark": "airtable_sync",
        "target": f"limited runs at >= {TARGET_RATIO} of the bound with no 429 met",
        "target_met": met,
        "connector_burst": BURST,
        "runs": runs,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pyairtable": pyairtable.__version__,
            "pandas": pd.__version__,
            "emulator": "leadsync.emulator on loopback, in the same process",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)

    print(f"{'run':<24}{'rows':>8}{'s':>9}{'req':>7}{'req/s':>8}{'rows/s':>10}"
          f"{'bound':>9}{'ratio':>8}{'429s':>6}")
    for r in runs:
        print(f"{r['run']:<24}{r['rows']:>8}{r['seconds']:>9.2f}{r['requests']:>7}"
              f"{r['requests_per_second']:>8.2f}{r['rows_per_second']:>10.1f}"
              f"{r['bound_rows_per_second']:>9.1f}{r['ratio']:>8.3f}"
              f"{r['rate_limited_met'] + r['server_429s']:>6}")
    print(f"target {'met' if met else 'NOT met'}; wrote {args.out}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
