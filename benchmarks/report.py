"""Benchmark: build and render the monthly report for 200 and 2,000 members.

Run ``python benchmarks/report.py`` (``--members 200 2000`` to choose sizes).
Each size runs in its own child process, so its peak memory is its own: the
sample organisation (12 months of signals, about 2.8 a member a month) is
built into canonical frames as a sync would store them, then the report is
built (:func:`leadsync.reports.build_report`: every analysis, the trend, the
evidence, the 9-box, the meeting rotation) and rendered (every chart as
PNG, the HTML page, the Markdown), three times over. Recorded: the median and
worst seconds of the whole and of each step, and the process's peak resident
memory (``ru_maxrss``, which includes Python, the libraries and the input
frames; the peak after building the inputs is recorded too). Writes
``benchmarks/results/report.json`` and prints a table.

Target (the report issue): 2,000 members in 5 s or less and 500 MB or less
on a 2-core machine. Reported, never asserted in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "report.json"
TARGET_SECONDS = 5.0
TARGET_MB = 500.0
MONTH = "2026-10"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(members: int, repeat: int) -> dict[str, Any]:
    """One size, measured in this process."""
    from leadsync.reports import build_report, month_end
    from leadsync.reports.html import render_html
    from leadsync.reports.markdown import render_markdown

    from leadsync.emulator.sample import SampleOrg
    from leadsync.tables import TABLES, build_frame

    org = SampleOrg.generate(seed=1, members=members)
    built = build_frame("members", [{**m, "source_id": m["member_id"]} for m in org.members])
    frames = {"members": built.frame}
    for name, records in org.tables.items():
        if name != "members":
            result = build_frame(name, [{**r, "source_id": r[TABLES[name].key]}
                                        for r in records], members=built.frame)
            frames[name] = result.frame
            frames[name].attrs["quarantine"] = result.quarantine
    inputs_mb = _peak_mb()
    steps: dict[str, list[float]] = {"build": [], "charts": [], "html": [], "markdown": [],
                                     "total": []}
    sizes: dict[str, int] = {}
    optimal = False
    for _ in range(repeat):
        started = time.perf_counter()
        report = build_report(frames, as_of=month_end(MONTH))
        built_at = time.perf_counter()
        document = report.document  # the charts are rendered here
        charted_at = time.perf_counter()
        page = render_html(report)
        html_at = time.perf_counter()
        markdown = render_markdown(report)
        done = time.perf_counter()
        for key, value in (("build", built_at - started), ("charts", charted_at - built_at),
                           ("html", html_at - charted_at), ("markdown", done - html_at),
                           ("total", done - started)):
            steps[key].append(value)
        sizes = {"html_bytes": len(page.encode()), "markdown_bytes": len(markdown.encode()),
                 "chart_bytes": sum(len(c.png) for c in document.charts)}
        optimal = report.meeting_optimal
        del report, document, page, markdown
    return {
        "members": members,
        "signals": len(frames["signals"]),
        "repeat": repeat,
        "seconds": {k: round(statistics.median(v), 3) for k, v in steps.items()},
        "worst_total_seconds": round(max(steps["total"]), 3),
        "peak_mb": round(_peak_mb(), 1),
        "peak_mb_after_inputs": round(inputs_mb, 1),
        "rotation_proven_optimal": optimal,
        **sizes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeat)))
        return 0
    load = os.getloadavg()[0]  # other work on the machine shows in the seconds
    runs = []
    for members in args.members:
        out = subprocess.run([sys.executable, __file__, "--child", str(members),
                              "--repeat", str(args.repeat)],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    largest = max(runs, key=lambda r: r["members"])
    result = {
        "benchmark": "report",
        "month": MONTH,
        "machine": {"python": platform.python_version(), "cpus": _cpus(),
                    "platform": platform.platform(),
                    "load_average_1m_at_start": round(load, 2)},
        "target": {"members": 2000, "seconds": TARGET_SECONDS, "peak_mb": TARGET_MB},
        "runs": runs,
        "meets_target": (largest["members"] >= 2000
                         and largest["seconds"]["total"] <= TARGET_SECONDS
                         and largest["peak_mb"] <= TARGET_MB),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'members':>8} {'signals':>8} {'build':>7} {'charts':>7} {'html':>6} {'md':>6} "
          f"{'total':>7} {'worst':>7} {'peak MB':>8}")
    for r in runs:
        s = r["seconds"]
        print(f"{r['members']:>8} {r['signals']:>8} {s['build']:>7.2f} {s['charts']:>7.2f} "
              f"{s['html']:>6.2f} {s['markdown']:>6.2f} {s['total']:>7.2f} "
              f"{r['worst_total_seconds']:>7.2f} {r['peak_mb']:>8.1f}")
    print(f"wrote {args.out}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
