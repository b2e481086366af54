"""Benchmark: leadsync beside its peers, pulling the same signals table from the same emulator.

Run ``python -m benchmarks.peers`` (``--help`` for sizes), or through the
runner (``python -m benchmarks``). The clients, each pulling the sample
organisation's signals table into a pandas frame through its public call:

- **leadsync**: ``leadsync.read_notion`` / ``leadsync.read_airtable`` (the
  typed, validated frame; the members table is read first, untimed, to
  resolve member references, as the README's notebook does);
- **notion2pandas** (Notion): ``Notion2PandasClient(...).get_dataframe``;
- **pyairtable** (Airtable): ``Table.all()`` then ``pandas.DataFrame``;
- **pandas-airtable** (Airtable): ``read_airtable`` (needs Python >= 3.12).

The peers are not dependencies of leadsync: this benchmark makes each one
its own virtual environment with pip, outside the project's ``.venv`` (in
``$LEADSYNC_PEERS_DIR``, default ``~/.cache/leadsync-benchmarks/peers``,
reused when present). A peer that needs a newer Python than the project's
takes one from ``$LEADSYNC_PEERS_PYTHON``, ``python3.12``... on ``PATH`` or
``$(pyenv root)/versions/3.1[2-9]*``. A peer that cannot be installed (no
network, no such Python) is said so on stderr and in the results, with why.

Every client runs in its own child process (leadsync with the project's
interpreter, through ``benchmarks/peers_client.py``); this process serves the
emulator over loopback HTTP, one emulator per mode holding the same seeded
data for every client, its rate-limit buckets and request counts reset
before each run. Two modes:

- **unlimited**: no rate limit. Target: leadsync's rows/s at least 1.2 x
  each peer's (ratios taken run by run, their median).
- **at the bound**: the published rates (Notion 3 requests/s per
  integration with its bursts, bound 3 x 100 rows/s; Airtable 5 requests/s
  per base with its 30 s lock after a 429, bound 5 x 100 rows/s). Target:
  leadsync at >= 0.98 of the bound with no 429. The peers' ratios and 429s
  beside it. A run longer than its timeout is killed and recorded as not
  completed, with its time.

Per run: rows, seconds (the public call, timed in the child), rows/s, the
client's CPU seconds (``os.wait4``), requests and 429s (the emulator's
counts), completed or why not. Per client and mode the median of the runs;
per peer the pairwise ratios leadsync / peer and their median, and one line
on what its frame lacks beside leadsync's, computed from the frames.
Writes ``benchmarks/results/peers.json`` and ``peers.md`` (a Markdown table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadsync.emulator import Emulator, Limits, SampleOrg

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "peers.json"
CLIENT_SCRIPT = HERE / "peers_client.py"
TARGET_UNLIMITED = 1.2
TARGET_BOUND = 0.98
#: rows a request returns (Notion's page_size, Airtable's pageSize), and requests/s allowed.
PAGE = 100
BOUND_RPS = {"notion": 3.0, "airtable": 5.0}


@dataclass(frozen=True)
class Peer:
    name: str
    service: str
    packages: tuple[str, ...]
    min_python: tuple[int, int]
    call: str


#: Pinned: the versions the results were taken with (peers.md in shared/reference).
PEERS: tuple[Peer, ...] = (
    Peer("notion2pandas", "notion", ("notion2pandas==3.3.0",), (3, 10),
         "Notion2PandasClient(auth=, base_url=).get_dataframe(database_id)"),
    Peer("pyairtable", "airtable", ("pyairtable==3.5.1", "pandas"), (3, 9),
         "pandas.DataFrame(r['fields'] for r in Api(token, endpoint_url=).table(...).all())"),
    Peer("pandas-airtable", "airtable", ("pandas-airtable==1.3.3", "pandas"), (3, 12),
         "pandas_airtable.read_airtable(base, table, api_key=)"),
)
LEADSYNC = {"notion": "leadsync-notion", "airtable": "leadsync-airtable"}
LEADSYNC_CALL = {"notion": "leadsync.read_notion(database, members=...)",
                 "airtable": "leadsync.read_airtable(base, table, members=...)"}
#: The seed's columns whose types the frames are compared on: leadsync's canonical
#: name, then the workspace's (what the peers keep).
ROLES = {"date": ("date", "Date"), "impact": ("impact", "Impact"),
         "member": ("member_id", "Team Member")}


def _say(message: str) -> None:
    print(f"peers: {message}", file=sys.stderr, flush=True)


# -- the peers' environments ------------------------------------------------------------


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        major, minor = out.split()
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def find_python(minimum: tuple[int, int]) -> tuple[str | None, str]:
    """An interpreter at least ``minimum``, and where it came from (or why there is none)."""
    if sys.version_info[:2] >= minimum:
        return sys.executable, "the project's interpreter"
    candidates: list[tuple[str, str]] = []
    if os.environ.get("LEADSYNC_PEERS_PYTHON"):
        candidates.append((os.environ["LEADSYNC_PEERS_PYTHON"], "$LEADSYNC_PEERS_PYTHON"))
    for minor in range(minimum[1], 20):
        found = shutil.which(f"python3.{minor}")
        if found:
            candidates.append((found, "PATH"))
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = ""
    if root:
        # the oldest that is new enough: the closest to the project's own Python
        for path in sorted(glob.glob(os.path.join(root, "versions", "3.1[2-9]*", "bin",
                                                  "python")),
                           key=lambda p: [int(x) for x in p.split(os.sep)[-3].split(".")
                                          if x.isdigit()]):
            candidates.append((path, "pyenv"))
    for python, origin in candidates:
        got = _python_version(python)
        if got is not None and got >= minimum:
            return python, f"{origin}: {python} ({got[0]}.{got[1]})"
    wanted = f"{minimum[0]}.{minimum[1]}"
    return None, (f"no Python >= {wanted} found ($LEADSYNC_PEERS_PYTHON, python3.x on PATH, "
                  f"pyenv versions); the project's is {platform.python_version()}")


def peers_dir() -> Path:
    default = Path.home() / ".cache" / "leadsync-benchmarks" / "peers"
    return Path(os.environ.get("LEADSYNC_PEERS_DIR") or default)


def ensure_env(peer: Peer) -> dict[str, Any]:
    """The peer's virtual environment, made (or reused): ``python`` or ``error``."""
    python, origin = find_python(peer.min_python)
    entry: dict[str, Any] = {"packages": list(peer.packages), "python_from": origin}
    if python is None:
        entry["error"] = f"cannot be installed: {origin}"
        return entry
    version = _python_version(python)
    key = hashlib.sha256(json.dumps([peer.packages, version]).encode()).hexdigest()[:10]
    where = peers_dir() / f"{peer.name}-{key}"
    marker = where / "leadsync-peer.json"
    env_python = where / "bin" / "python"
    entry["venv"] = str(where)
    if marker.is_file() and env_python.exists() and _python_version(str(env_python)):
        entry["python"] = str(env_python)
        entry["reused"] = True
        return entry
    _say(f"installing {peer.name} ({' '.join(peer.packages)}) into {where} ...")
    shutil.rmtree(where, ignore_errors=True)
    where.parent.mkdir(parents=True, exist_ok=True)
    steps = ([python, "-m", "venv", str(where)],
             [str(env_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *peer.packages])
    for step in steps:
        try:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.SubprocessError) as exc:
            entry["error"] = f"cannot be installed: {' '.join(step[1:4])}: {exc}"
            return entry
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines()
                     if line.strip() and not line.startswith("WARNING")]
            last = lines[-1].strip() if lines else f"exit {proc.returncode}"
            entry["error"] = f"cannot be installed: {' '.join(step[1:4])} failed: {last}"[:400]
            return entry
    marker.write_text(json.dumps({"packages": peer.packages, "python": version}),
                      encoding="utf-8")
    entry["python"] = str(env_python)
    entry["reused"] = False
    return entry


# -- one run ------------------------------------------------------------------------------


def run_client(python: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Start the client's process, wait for it (at most ``timeout`` s), read its figures."""
    with tempfile.TemporaryDirectory(prefix="leadsync-peers-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        err_path = Path(tmp) / "stderr"
        started = time.perf_counter()
        with err_path.open("w", encoding="utf-8") as err:
            proc = subprocess.Popen([python, str(CLIENT_SCRIPT), str(spec_path), str(out_path)],
                                    stdout=subprocess.DEVNULL, stderr=err, cwd=HERE.parent)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        record: dict[str, Any] = {
            "process_seconds": round(elapsed, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        }
        if timed_out:
            record.update(completed=False, seconds=round(elapsed, 3),
                          why=f"timed out after {timeout:g} s (killed)")
            return record
        figures: dict[str, Any] = {}
        if out_path.is_file():
            figures = json.loads(out_path.read_text(encoding="utf-8"))
        if "error" in figures or "rows" not in figures:
            lines = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            why = figures.get("error") or (lines[-1] if lines else f"exit {proc.returncode}")
            record.update(completed=False, seconds=round(elapsed, 3), why=why[:300])
            return record
        record.update(figures)
        record["completed"] = True
        record["seconds"] = round(float(figures["seconds"]), 3)
        return record


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


# -- what a frame lacks ------------------------------------------------------------------


def lacks(peer: dict[str, Any], ours: dict[str, Any]) -> str:
    """One line: how the peer's frame differs from leadsync's, from the two descriptions."""
    theirs_cols: dict[str, Any] = peer["columns"]
    our_cols: dict[str, Any] = ours["columns"]
    notes: list[str] = []
    date_ours, date_theirs = our_cols.get(ROLES["date"][0]), theirs_cols.get(ROLES["date"][1])
    if date_theirs is not None and not (date_theirs["datetime"] and date_theirs["tz"]):
        notes.append(f"Date is dtype {date_theirs['dtype']}, values "
                     f"{date_theirs['value_type']} (e.g. {date_theirs['example']}), not "
                     "tz-aware datetimes"
                     + (f" ({date_ours['dtype']})" if date_ours else ""))
    impact = theirs_cols.get(ROLES["impact"][1])
    if impact is not None and not (impact["categorical"] and impact["ordered"]):
        notes.append(f"Impact is dtype {impact['dtype']}, values {impact['value_type']}, "
                     "not an ordered categorical (Low < Medium < High)")
    member = theirs_cols.get(ROLES["member"][1])
    if member is not None:
        shape = (f"lists of {member['item_type']}" if member["lists"]
                 else f"dtype {member['dtype']}, values {member['value_type']}")
        notes.append(f"Team Member is {shape} (e.g. {member['example']}), "
                     "not resolved to member ids")
    cut = sorted(name for name, col in theirs_cols.items() if col["list_max"] == 25)
    longest = max((col["list_max"] or 0 for col in theirs_cols.values()), default=0)
    notes.append(f"lists cut at 25 items in {', '.join(cut)}" if cut
                 else f"no list cut at 25 (the longest holds {longest})")
    if ours.get("quarantined"):
        notes.append(f"keeps, unchecked, the {ours['quarantined']} malformed rows leadsync "
                     "quarantines with a reason")
    return "; ".join(notes)


# -- the benchmark -----------------------------------------------------------------------


def specs(emu: Emulator, limited: bool) -> dict[str, dict[str, Any]]:
    notion = {"url": emu.url, "token": emu.notion_token, "limited": limited,
              "database": emu.notion.sample_ids["signals"],
              "members_database": emu.notion.sample_ids["members"]}
    airtable = {"url": emu.url, "token": emu.airtable_token, "limited": limited,
                "base": emu.airtable.sample_base_id, "table": "Signals",
                "members_table": "Members"}
    return {"notion": notion, "airtable": airtable}


def bench_mode(mode: str, rows: dict[str, int], runs: int, timeout: float,
               envs: dict[str, dict[str, Any]], seed: int) -> dict[str, Any]:
    limited = mode == "at_bound"
    limits = Limits() if limited else Limits.unlimited()
    out: dict[str, Any] = {"mode": mode, "services": {}}
    orgs = {s: SampleOrg.generate(seed, members=60, signals=n) for s, n in rows.items()}
    emu = Emulator(seed=seed, limits=limits, sample=orgs["notion"], workspaces=("notion",))
    emu.seed_sample(orgs["airtable"], ("airtable",))
    with emu:
        for service, spec in specs(emu, limited).items():
            clients = [(LEADSYNC[service], sys.executable, LEADSYNC_CALL[service])] + [
                (p.name, envs[p.name].get("python"), p.call) for p in PEERS
                if p.service == service]
            records: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in clients}
            for i in range(runs):
                for name, python, _ in clients:
                    if python is None:
                        continue
                    emu.reset_limits()  # every client starts with full buckets, no lock
                    emu.stats.reset()
                    record = run_client(python, {**spec, "client": name}, timeout)
                    record["run"] = i + 1
                    record["requests"] = emu.stats.total(f"{service}.")
                    record["http_429"] = emu.stats.count(f"{service}.*", 429)
                    if record["completed"] and record["rows"] != rows[service]:
                        record["completed"] = False
                        record["why"] = f"pulled {record['rows']} of {rows[service]} rows"
                    if record["completed"]:
                        record["rows_per_s"] = round(record["rows"] / record["seconds"], 1)
                        if limited:
                            record["ratio_to_bound"] = round(
                                record["rows_per_s"] / (BOUND_RPS[service] * PAGE), 4)
                    _say(f"{mode} {service} run {i + 1}: {name}: "
                         + (f"{record['rows_per_s']} rows/s, {record['http_429']} x 429"
                            if record["completed"] else f"not completed: {record['why']}"))
                    records[name].append(record)
            out["services"][service] = summarise(service, limited, rows[service], clients,
                                                 records, envs)
    return out


def summarise(service: str, limited: bool, rows: int, clients: list[tuple[str, Any, str]],
              records: dict[str, list[dict[str, Any]]], envs: dict[str, dict[str, Any]]
              ) -> dict[str, Any]:
    ours_name = LEADSYNC[service]
    ours = records[ours_name]
    summary: dict[str, Any] = {"rows": rows, "clients": {}}
    if limited:
        summary["bound_rows_per_s"] = BOUND_RPS[service] * PAGE
    for name, python, call in clients:
        runs = records[name]
        entry: dict[str, Any] = {"call": call}
        if python is None:
            entry["installed"] = False
            entry["why"] = envs[name]["error"]
            summary["clients"][name] = entry
            continue
        done = [r for r in runs if r["completed"]]
        entry.update({
            "runs": len(runs),
            "completed_runs": len(done),
            "median_rows_per_s": _median([r["rows_per_s"] for r in done]),
            "median_seconds": _median([r["seconds"] for r in done]),
            "median_cpu_seconds": _median([r["cpu_seconds"] for r in runs]),
            "median_call_cpu_seconds": _median([r["call_cpu_seconds"] for r in done]),
            "median_429": _median([float(r["http_429"]) for r in runs]),
            "median_requests": _median([float(r["requests"]) for r in runs]),
        })
        if limited:
            entry["median_ratio_to_bound"] = _median([r["ratio_to_bound"] for r in done])
        if name != ours_name:
            pairs = [round(a["rows_per_s"] / b["rows_per_s"], 3)
                     for a, b in zip(ours, runs, strict=True)
                     if a["completed"] and b["completed"]]
            entry["leadsync_over_peer"] = pairs
            entry["median_leadsync_over_peer"] = _median(pairs)
            ours_done = next((r for r in ours if r["completed"]), None)
            if done and ours_done:
                entry["lacks"] = lacks(done[0], ours_done)
        entry["runs_detail"] = [{k: v for k, v in r.items() if k != "columns"} for r in runs]
        first = next((r for r in runs if r["completed"]), None)
        if first:
            entry["frame_columns"] = first["columns"]
        summary["clients"][name] = entry
    return summary


def targets(modes: dict[str, Any]) -> dict[str, Any]:
    """Each target with the figure it is judged on; met only when every figure is there."""
    checks: list[dict[str, Any]] = []
    for service, s in modes["unlimited"]["services"].items():
        for name, c in s["clients"].items():
            if name == LEADSYNC[service]:
                continue
            ratio = c.get("median_leadsync_over_peer")
            checks.append({"target": f"unlimited {service}: leadsync >= {TARGET_UNLIMITED} x "
                                     f"{name}", "figure": ratio,
                           "met": ratio is not None and ratio >= TARGET_UNLIMITED})
    for service, s in modes["at_bound"]["services"].items():
        ours = s["clients"][LEADSYNC[service]]
        ratio, n429 = ours.get("median_ratio_to_bound"), ours.get("median_429")
        checks.append({"target": f"at the bound {service}: leadsync >= {TARGET_BOUND} of "
                                 f"{BOUND_RPS[service]:g} x {PAGE} rows/s with 0 x 429",
                       "figure": ratio, "http_429": n429,
                       "met": ratio is not None and ratio >= TARGET_BOUND and n429 == 0})
    return {"checks": checks, "met": all(c["met"] for c in checks)}


def _cell(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,}{suffix}" if isinstance(value, int) \
        else f"{value}{suffix}"


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [f"leadsync and its peers against the emulator, {result['started_at']} to "
             f"{result['measured_at']} ({result['cpus']} CPUs, Python {result['python']}, "
             f"load average {result['load_average_1m_at_start']} at start, "
             f"{result['load_average_1m_at_end']} at end; medians of {runs['unlimited']} "
             f"runs unlimited, {runs['at_bound']} at the bound; ratios leadsync ÷ client "
             "run by run, their median, then each run's)", "",
             "| mode | service | rows | client | rows/s | of the bound | 429s | "
             "CPU s (process / call) | completed | leadsync ÷ client |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for mode_name, mode in result["modes"].items():
        for service, s in mode["services"].items():
            for name, c in s["clients"].items():
                if not c.get("installed", True):
                    lines.append(f"| {mode_name} | {service} | {s['rows']:,} | {name} | "
                                 f"not installed: {c['why']} | | | | | |")
                    continue
                lines.append(
                    f"| {mode_name} | {service} | {s['rows']:,} | {name} | "
                    f"{_cell(c['median_rows_per_s'])} | {_cell(c.get('median_ratio_to_bound'))} "
                    f"| {_cell(c['median_429'])} | {_cell(c['median_cpu_seconds'])} / "
                    f"{_cell(c['median_call_cpu_seconds'])} | "
                    f"{c['completed_runs']}/{c['runs']} | "
                    f"{_cell(c.get('median_leadsync_over_peer'))}"
                    + (f" ({', '.join(map(str, c['leadsync_over_peer']))})"
                       if c.get("leadsync_over_peer") else "") + " |")
    lines += ["", "What each peer's frame lacks beside leadsync's (from the frames):", ""]
    seen: set[str] = set()
    for mode in result["modes"].values():
        for s in mode["services"].values():
            for name, c in s["clients"].items():
                if "lacks" in c and name not in seen:
                    seen.add(name)
                    lines.append(f"- **{name}**: {c['lacks']}")
    lines += ["", "Targets:", ""]
    lines += [f"- {c['target']}: {c['figure']} ({'met' if c['met'] else 'not met'})"
              for c in result["targets"]["checks"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unlimited-rows", type=int, default=10_000)
    parser.add_argument("--notion-bound-rows", type=int, default=10_000,
                        help="Notion rows at the bound (about 35 s a run)")
    parser.add_argument("--airtable-bound-rows", type=int, default=2000,
                        help="Airtable rows at the bound: a peer that bursts is locked out "
                             "30 s about every 500 rows, about 2 minutes a run")
    parser.add_argument("--runs", type=int, default=5,
                        help="runs of each client when unlimited (a few seconds each)")
    parser.add_argument("--bound-runs", type=int, default=3,
                        help="runs of each client at the bound")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds a run may take when unlimited")
    parser.add_argument("--bound-timeout", type=float, default=300.0,
                        help="seconds a run may take at the bound")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    load_start = os.getloadavg()[0]
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    envs: dict[str, dict[str, Any]] = {}
    for peer in PEERS:
        envs[peer.name] = ensure_env(peer)
        if "error" in envs[peer.name]:
            _say(f"{peer.name} {envs[peer.name]['error']}; its figures are left out")
    modes = {
        "unlimited": bench_mode("unlimited", {"notion": args.unlimited_rows,
                                              "airtable": args.unlimited_rows},
                                args.runs, args.timeout, envs, args.seed),
        "at_bound": bench_mode("at_bound", {"notion": args.notion_bound_rows,
                                            "airtable": args.airtable_bound_rows},
                               args.bound_runs, args.bound_timeout, envs, args.seed),
    }
    result: dict[str, Any] = {
        "benchmark": "peers",
        "started_at": started_at,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "runs": {"unlimited": args.runs, "at_bound": args.bound_runs},
        "load_average_1m_at_start": round(load_start, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "emulator": "leadsync.emulator in this process, over loopback HTTP; each client "
                    "in its own process",
        "peers": {p.name: envs[p.name] for p in PEERS},
        "modes": {name: {"services": m["services"]} for name, m in modes.items()},
    }
    result["targets"] = targets(result["modes"])
    result["met"] = result["targets"]["met"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    table = markdown(result)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
