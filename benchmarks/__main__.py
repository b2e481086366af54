"""Run every benchmark of the project and gather the figures: ``python -m benchmarks``.

Usage::

    python -m benchmarks [--size tiny|small|full] [--jobs N] [--out DIR] [--only NAME ...]

Each benchmark runs in its own process (``python -m benchmarks.<name>``, its
own peak memory) with the arguments of the chosen size and writes
``DIR/<name>.json`` (``DIR`` defaults to ``benchmarks/results``). ``full``
is each benchmark's own defaults, the sizes its targets are stated for;
``small`` is a few hundred to a few thousand rows of each, every figure still
produced; ``tiny`` is the least that produces every figure, each benchmark in
seconds (the test suite runs it as a smoke test, never checking a speed;
``--jobs 2`` runs two benchmarks at once, which only the tiny size should).
Then ``DIR/summary.json`` and ``DIR/summary.md`` list, per benchmark,
whether it completed, its wall and CPU seconds, whether its target was met
and its headline figures.

``peers`` runs leadsync beside notion2pandas, pyairtable + pandas and
pandas-airtable against the same emulator, unlimited and at the published
rates; it makes the peers' virtual environments itself, outside the
project's ``.venv`` (see ``benchmarks/peers.py``), and a peer it cannot
install is named in its results with the reason. Exit code 0 when every
benchmark completed (met or not), 1 otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

#: name -> size -> arguments; ``--out`` is added by the runner (``--output`` for analytics).
#: ``full`` is each benchmark's own defaults; ``small`` a few hundred to a few thousand
#: rows; ``tiny`` the least that still produces every figure (the smoke test's size:
#: each benchmark in a few seconds, push and peers, at the published rates, in about half a
#: minute; its figures meaningless as speeds).
SIZES: dict[str, dict[str, list[str]]] = {
    "decode": {"tiny": ["--rows", "200", "--runs", "1", "--row-wise-rows", "200"],
               "small": ["--rows", "1000", "--runs", "1", "--row-wise-rows", "1000"],
               "full": []},
    "notion_pull": {"tiny": ["--limited-rows", "200", "--unlimited-rows", "200"],
                    "small": ["--limited-rows", "300", "--unlimited-rows", "500"],
                    "full": []},
    "airtable_sync": {"tiny": ["--pull-rows", "200", "--upsert-rows", "10",
                               "--unlimited-pull-rows", "200", "--unlimited-upsert-rows", "10"],
                      "small": ["--pull-rows", "300", "--upsert-rows", "20",
                                "--unlimited-pull-rows", "300", "--unlimited-upsert-rows", "30"],
                      "full": []},
    "sync_incremental": {"tiny": ["--rows", "200", "--kind", "notion", "--limits",
                                  "unlimited", "--tables", "required"],
                         "small": ["--rows", "500", "--limits", "unlimited",
                                   "--tables", "required"],
                         "full": []},
    "analytics": {"tiny": ["--signals", "500", "--members", "40", "--repeat", "1"],
                  "small": ["--signals", "5000", "--members", "100", "--repeat", "1"],
                  "full": []},
    "report": {"tiny": ["--members", "10", "--repeat", "1"],
               "small": ["--members", "20", "--repeat", "1"],
               "full": []},
    "warehouse_load": {"tiny": ["--signals", "200", "--members", "20", "--no-sample"],
                       "small": ["--signals", "1000"],
                       "full": []},
    "store_read": {"tiny": ["--sizes", "300", "--runs", "1"],
                   "small": ["--sizes", "2000", "--runs", "1"],
                   "full": []},
    "push": {"tiny": ["--members", "21"],
             "small": ["--members", "60"],
             "full": []},
    # The peers' runs at the bound: an Airtable peer that bursts is locked out 30 s
    # about every 500 rows, so those runs stay small (full: about 15 minutes in all).
    "peers": {"tiny": ["--unlimited-rows", "200", "--notion-bound-rows", "200",
                       "--airtable-bound-rows", "200", "--runs", "1", "--bound-runs", "1",
                       "--timeout", "120", "--bound-timeout", "120"],
              "small": ["--unlimited-rows", "2000", "--notion-bound-rows", "600",
                        "--airtable-bound-rows", "600", "--runs", "1",
                        "--bound-runs", "1"],
              "full": []},
}
OUT_FLAG = {"analytics": "--output"}


def _met(result: dict[str, Any]) -> bool | None:
    for key in ("met", "meets_target", "target_met"):
        if isinstance(result.get(key), bool):
            return bool(result[key])
    return None


def _decode(r: dict[str, Any]) -> str:
    return "; ".join(
        f"{s}: {r[s]['rows_per_s']:,} rows/s (x{r[s]['speedup_vs_row_wise']} row-wise), "
        f"peak {r[s].get('peak_over_frame', '?')} x frame"
        for s in ("notion", "airtable") if s in r)


def _notion_pull(r: dict[str, Any]) -> str:
    lim, unl = r["rate_limited"], r["unlimited"]
    return (f"limited {lim['rows_per_s']} rows/s = {lim['ratio']} of bound, "
            f"{lim['rate_limited_429']} x 429; unlimited {unl['rows_per_s']} rows/s")


def _airtable_sync(r: dict[str, Any]) -> str:
    return "; ".join(f"{run['run']}: {run.get('rows_per_second', '?')} rows/s"
                     + (f" = {run['ratio']} of bound" if "ratio" in run else "")
                     for run in r.get("runs", []))


def _analytics(r: dict[str, Any]) -> str:
    return (f"{r['signals']:,} signals in {r['total_seconds']} s, "
            f"peak {r['peak_rss_mb']} MB")


def _report(r: dict[str, Any]) -> str:
    return "; ".join(f"{run['members']} members: {run['seconds']['total']} s, "
                     f"{run['peak_mb']} MB" for run in r.get("runs", []))


def _store_read(r: dict[str, Any]) -> str:
    return "; ".join(f"{f['signals']:,} signals read in {f['seconds']} s "
                     f"({f['rows_per_s']:,} rows/s, peak {f['peak_rss_mb']} MB), "
                     f"sync {f['sync_signals_rows_per_s']} rows/s" for f in r["sizes"]) + \
        f"; 1,000,000 ~{r['one_million']['seconds']} s ({r['one_million']['from']})"


def _push(r: dict[str, Any]) -> str:
    parts = []
    for res in r["results"]:
        first = res["runs"][0]
        text = (f"{res['service']} {res['members']} members: first push {first['requests']} "
                f"requests in {first['seconds']} s")
        if "scores_upsert" in res:
            text += f", Scores upsert {res['scores_upsert']['ratio']} of 5 requests/s"
        parts.append(text)
    unchanged = max(run["requests"] for res in r["results"] for run in res["runs"]
                    if run["push"] == "unchanged re-push")
    n429 = sum(run["server_429s"] for res in r["results"] for run in res["runs"])
    return "; ".join(parts) + f"; unchanged re-push <= {unchanged} requests; {n429} x 429"


def _peers(r: dict[str, Any]) -> str:
    parts = []
    for mode, label in (("unlimited", "unlimited, leadsync ÷ peer"),
                        ("at_bound", "at the bound, of the bound")):
        cells = []
        for service, s in r["modes"][mode]["services"].items():
            for name, c in s["clients"].items():
                if not c.get("installed", True):
                    cells.append(f"{name} not installed ({c['why']})")
                elif mode == "unlimited" and name.startswith("leadsync"):
                    continue
                elif mode == "unlimited":
                    cells.append(f"{name} {c['median_leadsync_over_peer']}")
                else:
                    cells.append(f"{'leadsync' if name.startswith('leadsync') else name} "
                                 f"({service}) {c['median_ratio_to_bound']}, "
                                 f"{c['median_429']} x 429, {c['completed_runs']}/{c['runs']} "
                                 "completed")
        parts.append(f"{label}: " + "; ".join(cells))
    return " | ".join(parts)


def _listing(r: dict[str, Any]) -> str:
    return f"{len(r.get('results', []))} runs"


HEADLINE: dict[str, Callable[[dict[str, Any]], str]] = {
    "decode": _decode, "notion_pull": _notion_pull, "airtable_sync": _airtable_sync,
    "analytics": _analytics, "report": _report, "sync_incremental": _listing,
    "warehouse_load": _listing, "store_read": _store_read, "push": _push, "peers": _peers,
}


def run_one(name: str, size: str, out: Path) -> dict[str, Any]:
    target = out / f"{name}.json"
    argv = [sys.executable, "-m", f"benchmarks.{name}", *SIZES[name][size],
            OUT_FLAG.get(name, "--out"), str(target)]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err,
                                cwd=Path(__file__).parent.parent)
        # wait4: this benchmark's CPU time (its own and its waited-for children's) even
        # when others run beside it (--jobs).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    seconds = time.perf_counter() - started
    entry: dict[str, Any] = {
        "benchmark": name, "size": size, "exit_code": proc.returncode,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "results_file": str(target),
    }
    # A benchmark exits 1 when it ran but missed its target; anything else, or no file, failed.
    result: dict[str, Any] | None = None
    if target.exists() and target.stat().st_mtime >= time.time() - seconds - 1:
        result = json.loads(target.read_text(encoding="utf-8"))
    entry["completed"] = result is not None and proc.returncode in (0, 1)
    if result is None or not entry["completed"]:
        entry["error"] = (stderr.strip().splitlines() or ["no results file"])[-1][:300]
        return entry
    entry["target_met"] = _met(result)
    try:
        entry["headline"] = HEADLINE[name](result)
    except (KeyError, TypeError) as exc:  # a figure missing from the results
        entry["completed"] = False
        entry["error"] = f"results lack {exc}"
    return entry


def markdown(summary: dict[str, Any]) -> str:
    lines = [f"Benchmarks, size {summary['size']}, {summary['measured_at']} "
             f"({summary['cpus']} CPUs, Python {summary['python']}, load "
             f"{summary['load_average_1m_at_start']} at start)", "",
             "| benchmark | completed | seconds | CPU s | target met | figures |",
             "|---|---|---|---|---|---|"]
    for e in summary["benchmarks"]:
        met = {True: "yes", False: "no", None: "n/a"}[e.get("target_met")]
        lines.append(f"| {e['benchmark']} | {'yes' if e['completed'] else 'no'} | "
                     f"{e['seconds']} | {e['cpu_seconds']} | {met} | "
                     f"{e.get('headline') or e.get('error', '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "small", "full"], default="full")
    parser.add_argument("--jobs", type=int, default=1,
                        help="benchmarks run at once (1 for figures; more only for the "
                             "tiny size, whose speeds mean nothing)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--only", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    names = [n for n in SIZES if n in args.only]
    for name in names:
        print(f"{name} ({args.size}) ...", file=sys.stderr, flush=True)
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        entries = list(pool.map(lambda n: run_one(n, args.size, args.out), names))
    summary = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "size": args.size, "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(load, 2), "benchmarks": entries,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                          encoding="utf-8")
    table = markdown(summary)
    (args.out / "summary.md").write_text(table, encoding="utf-8")
    print(table)
    return 0 if all(e["completed"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
