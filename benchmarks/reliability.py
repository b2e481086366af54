"""The reliability soaks, run long, and what they counted.

Runs the probes of ``tests/reliability``, the soak-length ones (marked
``soak``) included, each for ``--seconds`` (or until its round cap): the kill
soak and the fault soak of ``leadsync sync`` against both emulated services,
generated payloads through every decoder, config fuzzing; and the quick
probes beside them (the defects, the secrets canary, the injection probe).
Every probe adds its counts to the figures file: soak rounds, kills and where
they landed, faults injected by kind, payloads and configs generated, rows
lost, duplicated and stale (goal 0), canary hits (goal 0), internal errors and
exit-1 runs (goal 0). The file's ``totals`` sum the goal-0 counts over all
probes; ``pytest`` holds the session's outcome.

Run: ``python benchmarks/reliability.py [--seconds 300] [-k EXPR]``.
Results: ``benchmarks/results/reliability.json``. Counts, not timings: the
tests assert the invariants; this records how hard they were pushed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reliability.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0,
                        help="budget of each soak test (default 300)")
    parser.add_argument("-k", dest="select", default=None,
                        help="only the probes matching this pytest -k expression")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    partial = args.out.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    env = {**os.environ, "LEADSYNC_SOAK_SECONDS": str(args.seconds),
           "LEADSYNC_FIGURES": str(partial)}
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:logging",
               "-p", "no:cacheprovider", "-rfEX", "-m", "soak or not soak"]
    if args.select:
        command += ["-k", args.select]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    summary = [line for line in done.stdout.splitlines() if line.strip()][-1:]
    figures = json.loads(partial.read_text()) if partial.exists() else {"probes": {}}
    partial.unlink(missing_ok=True)
    figures.update({
        "benchmark": "reliability soaks: kills, faults, generated payloads and configs, "
                     "canary, injection",
        "mode": "soak",
        "soak_seconds_each": args.seconds,
        "selection": args.select,
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": round(seconds, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pytest": {"exit_code": done.returncode, "summary": summary[0] if summary else ""},
    })
    args.out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({"totals": figures.get("totals"), "pytest": figures["pytest"]}, indent=2))
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-5000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
