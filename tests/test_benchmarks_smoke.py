"""``python -m benchmarks --size tiny`` produces every figure (issue 16).

A smoke test: each benchmark must complete and write its results file with
the figures the summary quotes, and those figures must be sane (rows add up,
rates and seconds positive, the column-wise decode equal to the row-wise
one). How fast anything ran is never checked here (speed is measured in
``benchmarks/``, not asserted in tests). The tiny size runs every benchmark
in a few seconds (push and peers, at the published rates, in about half a
minute), two at a time. The peers' benchmark makes the peers' virtual
environments with pip the first time (about a minute, reused after); a peer it
cannot install counts only when its entry says why.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_the_tiny_run_produces_every_figure(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.__main__ import SIZES
    finally:
        sys.path.remove(str(ROOT))
    assert all(set(sizes) == {"tiny", "small", "full"} for sizes in SIZES.values())
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--size", "tiny", "--jobs", "2",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=550)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["size"] == "tiny"
    entries = {e["benchmark"]: e for e in summary["benchmarks"]}
    assert set(entries) == set(SIZES)
    for name, entry in entries.items():
        assert entry["completed"], (name, entry.get("error"), proc.stderr[-2000:])
        assert entry["headline"], name
        assert positive(entry["cpu_seconds"]), name
        assert positive(entry["seconds"]), name
        assert (tmp_path / f"{name}.json").is_file(), name
    assert proc.returncode == 0

    decode = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    for service in ("notion", "airtable"):
        figures = decode[service]
        assert figures["rows"] == 200
        for key in ("rows_per_s", "row_wise_rows_per_s", "speedup_vs_row_wise",
                    "cpu_seconds", "seconds"):
            assert positive(figures[key]), (service, key)
        assert figures["same_frame_as_row_wise"] is True
        assert figures["quarantined"] > 0  # 1 % malformed: the quarantine is exercised
        assert figures["frame_rows"] + figures["quarantined"] == figures["rows"]
        assert set(figures["cpu_phases"]) == {"gather_us_per_row", "convert_us_per_row",
                                              "finish_us_per_row"}
        assert all(v >= 0 for v in figures["cpu_phases"].values())

    store = json.loads((tmp_path / "store_read.json").read_text(encoding="utf-8"))
    (size,) = store["sizes"]
    assert size["signals"] == 300
    assert positive(size["seconds"])
    assert positive(size["rows_per_s"])
    assert positive(size["peak_rss_mb"])
    assert size["frame_rows"] + size["quarantined"] == 300
    assert store["met"] is False  # 1,000,000 is extrapolated, never claimed as met

    notion = json.loads((tmp_path / "notion_pull.json").read_text(encoding="utf-8"))
    assert notion["rate_limited"]["rate_limited_429"] >= 0
    assert notion["rate_limited"]["ratio"] > 0

    check_peers(json.loads((tmp_path / "peers.json").read_text(encoding="utf-8")))
    assert "| leadsync-notion |" in (tmp_path / "peers.md").read_text(encoding="utf-8")

    push = json.loads((tmp_path / "push.json").read_text(encoding="utf-8"))
    assert {r["service"] for r in push["results"]} == {"notion", "airtable"}
    for result in push["results"]:
        assert [run["push"] for run in result["runs"]] == [
            "first push", "unchanged re-push", "changed push"]
        assert all(positive(run["requests"]) for run in result["runs"])

    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert all(f"| {name} | yes |" in markdown for name in SIZES)


def check_peers(peers: dict[str, Any]) -> None:
    """Every client has its figures in both modes, or (a peer only) says why it has none."""
    clients = {"notion": {"leadsync-notion", "notion2pandas"},
               "airtable": {"leadsync-airtable", "pyairtable", "pandas-airtable"}}
    for name, env in peers["peers"].items():
        assert "python" in env or env["error"].startswith("cannot be installed: "), name
    for mode in ("unlimited", "at_bound"):
        services = peers["modes"][mode]["services"]
        assert set(services) == set(clients)
        for service, figures in services.items():
            assert set(figures["clients"]) == clients[service]
            for name, client in figures["clients"].items():
                if not client.get("installed", True):
                    assert not name.startswith("leadsync")
                    assert client["why"] == peers["peers"][name]["error"]
                    continue
                assert client["runs"] == client["completed_runs"] == 1, (mode, name, client)
                (run,) = client["runs_detail"]
                assert run["rows"] == figures["rows"] == 200
                for key in ("seconds", "rows_per_s", "cpu_seconds", "requests"):
                    assert positive(run[key]), (mode, name, key)
                assert run["http_429"] >= 0
                assert positive(client["median_rows_per_s"])
                if mode == "at_bound":
                    assert positive(client["median_ratio_to_bound"])
                if not name.startswith("leadsync"):
                    assert positive(client["median_leadsync_over_peer"])
                    assert client["leadsync_over_peer"] == [client["median_leadsync_over_peer"]]
                    # what the frame lacks is computed from the frames, one line each
                    assert "list" in client["lacks"]
                    assert "\n" not in client["lacks"]
    checks = peers["targets"]["checks"]
    assert len(checks) == 3 + 2  # each peer unlimited, each service at the bound
    assert peers["met"] is all(c["met"] for c in checks)
