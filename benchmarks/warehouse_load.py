"""What it costs to take the store beyond one machine: export and dlt loads.

Protocol, for each organisation (the sample organisation of ``leadsync demo``:
60 members and a year of signals, and one with 50,000 signals and 200
members), under a frozen clock:

1. The emulated Notion workspace holds the organisation (all six tables);
   :func:`leadsync.sync.run_sync` syncs it into a new store (real connectors
   over HTTP, no rate limits: not part of the figures, reported for context).
2. **Export** the store: ``leadsync export --format parquet`` and ``csv``
   (seconds, rows, bytes written).
3. **First load** into an embedded DuckDB file through the dlt source
   (:func:`leadsync.dlt.load_store`, ``deletions="delete"``).
4. Upstream, 0.1 % of the signals (at least 5) are edited, 5 inserted and 5
   deleted; a ``leadsync sync`` (reconciling, so the deletions are seen)
   brings them into the store. **Second load.**
5. **Third load** with nothing changed.

Rows are dlt's own counts (``last_normalize_info.row_counts``, the rows it
normalized and loaded), seconds wall-clock of each call, including reading
the store. ``peak_rss_mb`` is the process's peak resident memory at the end
of each organisation's run (it only grows).

Run: ``python benchmarks/warehouse_load.py [--signals 50000]``.
Results: ``benchmarks/results/warehouse_load.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import random
import resource
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "warehouse_load.json"


def bench(name: str, members: int, signals: int | None, workdir: Path) -> dict[str, Any]:
    from leadsync.config import parse_config
    from leadsync.dlt import load_store
    from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
    from leadsync.export import export_store
    from leadsync.store import open_store
    from leadsync.sync import run_sync

    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = str(workdir / f"{name}.duckdb")
    org = SampleOrg.generate(seed=0, members=members, signals=signals)
    clock = FrozenClock("2026-11-01T09:00:00Z")
    with Emulator(seed=0, limits=Limits.unlimited(), clock=clock, sample=org,
                  workspaces=("notion",)) as emu:
        data = tomllib.loads(emu.config_toml("notion", store_path=str(workdir / f"{name}.db")))
        data["sync"] = {"full_every_days": 0}
        data["limits"] = {"notion_rps": 10_000.0}
        config = parse_config(data, source="<benchmark>")
        env = {"NOTION_TOKEN": emu.notion_token}
        started = time.perf_counter()
        run_sync(config, env=env, progress=False)
        sync_seconds = time.perf_counter() - started

        out: dict[str, Any] = {"organisation": name, "members": len(org.members),
                               "sync_seconds": round(sync_seconds, 3)}
        with open_store(config.store.path) as store:
            out["store_rows"] = {t: len(store.frame(t)) for t in config.tables}
            out["quarantined"] = len(store.quarantine())
            for fmt in ("parquet", "csv"):
                started = time.perf_counter()
                files = export_store(store, workdir / f"{name}-{fmt}", format=fmt)  # type: ignore[arg-type]
                seconds = time.perf_counter() - started
                out[f"export_{fmt}"] = {
                    "seconds": round(seconds, 3), "files": len(files),
                    "rows": sum(f.rows for f in files),
                    "bytes": sum(f.path.stat().st_size for f in files)}

        def load(label: str) -> None:
            started = time.perf_counter()
            summary = load_store(config.store.path, "duckdb", pipelines_dir=workdir / "dlt",
                                 pipeline_name=f"bench_{name}")
            seconds = time.perf_counter() - started
            out[label] = {"seconds": round(seconds, 3), "rows": summary.rows,
                          "rows_by_table": summary.loaded,
                          "sent": {t: vars(c) for t, c in summary.sent.items() if c.sent}}

        load("first_load")
        clock.advance(hours=6)
        notion = emu.notion
        ds = notion.data_source_ids["signals"]
        pages = sorted(p["id"] for p in notion.pages(ds))
        rng = random.Random(0)
        changed = max(5, len(pages) // 1000)
        for n, page in enumerate(rng.sample(pages, changed)):
            notion.edit_page(page, {"Summary": f"edited {n}"})
        people = sorted(notion.member_user_ids.values())
        notion.create_data_source_rows(ds, [{
            "Summary": f"inserted {n}", "Signal Type": "Technical", "Impact": "High",
            "Indicator": "Documents decision rationale", "Team Member": [people[n]],
            "Date": dt.date(2026, 10, 30)} for n in range(5)])
        for page in rng.sample(pages, 5):
            notion.trash_page(page)
        clock.advance(minutes=1)
        run_sync(config, env=env, progress=False)
        out["upstream_changes"] = {"edited": changed, "inserted": 5, "deleted": 5}
        load("second_load")
        load("third_load")
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--signals", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench("sample", 60, None, Path(tmp)))
        print(json.dumps(results[-1], indent=2), file=sys.stderr)
        results.append(bench(f"signals_{args.signals}", 200, args.signals, Path(tmp)))
        print(json.dumps(results[-1], indent=2), file=sys.stderr)
    report = {
        "benchmark": "export and dlt loads of the store (embedded DuckDB)",
        # the machine is shared: its load average says how busy it was meanwhile
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(), "machine": platform.machine(),
        "notes": [
            "Rows are dlt's own counts of rows normalized and loaded; a deleted row counts "
            "once (the hard-delete row dlt merges), an unchanged table 0.",
            "Seconds include reading the store (decoding every row into the typed frame: "
            "the source reads the whole table each load and sends only what changed).",
        ],
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
