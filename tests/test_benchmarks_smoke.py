"""``python -m benchmarks --size small`` produces every figure (issue 16).

A smoke test: each benchmark must complete and write its results file with
the figures the summary quotes. How fast anything ran is never checked here
(speed is measured in ``benchmarks/``, not asserted in tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_the_small_run_produces_every_figure(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.__main__ import SIZES
    finally:
        sys.path.remove(str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--size", "small",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=1100)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    entries = {e["benchmark"]: e for e in summary["benchmarks"]}
    assert set(entries) == set(SIZES)
    for name, entry in entries.items():
        assert entry["completed"], (name, entry.get("error"), proc.stderr[-2000:])
        assert entry["headline"], name
        assert isinstance(entry["cpu_seconds"], float), name
        assert (tmp_path / f"{name}.json").is_file(), name
    assert proc.returncode == 0
    decode = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    for service in ("notion", "airtable"):
        figures = decode[service]
        for key in ("rows_per_s", "row_wise_rows_per_s", "speedup_vs_row_wise",
                    "cpu_seconds", "quarantined"):
            assert figures[key] is not None, (service, key)
        assert figures["rows"] == 1000
        assert figures["same_frame_as_row_wise"] is True
        assert figures["frame_rows"] + figures["quarantined"] == figures["rows"]
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert all(f"| {name} | yes |" in markdown for name in SIZES)
