"""Secrets canary: a distinctive token, searched for everywhere leadsync writes: 0 hits.

The emulator is started with canary tokens (and a second, wrong canary is tried
too). Every run in :data:`RUNS` goes through the real command at DEBUG with
``--verbose`` (and ``--json`` where it has one), on success paths and error
paths (a wrong token, a malformed one, 5xx answers retried, a 429 past
``max_wait_seconds``, a locked store, a damaged store, a missing database, a
bad config), and the commands that write from the store: ``leadsync report``
(HTML, Markdown and its charts, ``--json``) and ``leadsync export`` (CSV and
Parquet), ``leadsync load`` (dlt into DuckDB) and the pushes into the workspace
(``leadsync report --push``, ``leadsync packet --push``, their dry runs, a
refused token, 5xx answers retried), on their success and error paths. The canary is searched for in
stdout, stderr, every log record a root handler at DEBUG receives (message,
arguments, exception text), the exception texts and reprs the notebook API
raises, every file the run leaves in its directory (the store and its
``-wal``/``-shm``, report files and charts, exported files, the DuckDB file and
dlt's pipeline state), after a push everything the emulated workspace holds
(the pushed Notion pages and blocks, the Airtable rows and cells, the uploaded
files), and every output in :data:`OUTPUTS`.

Adding a command or an output is one entry: a run in :data:`RUNS`, an output
built from the store in :data:`OUTPUTS`.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from leadsync.reports import build_report, render_markdown, render_text

import leadsync
from leadsync.cli import main
from leadsync.config import load_config
from leadsync.emulator import Fault
from leadsync.errors import LeadsyncError
from leadsync.store import SyncLock

from .kit import Figures, Workspace, make_workspace
from .kit import leadsync as run_leadsync

MARK = "CANARY"
CANARY = {"notion": "ntn_CANARYn0t10n0123456789abcdefXYZ",
          "airtable": "patCANARYa1rtab1e0123.456789abcdefXYZ"}
WRONG = {"notion": "ntn_CANARYwr0ng0123456789abcdef",
         "airtable": "patCANARYwr0ng0123.456789abcdef"}
VARIABLE = {"notion": "NOTION_TOKEN", "airtable": "AIRTABLE_TOKEN"}


@dataclass
class Canary:
    """A synced store of the canary workspace, and where each run's copy goes."""

    ws: Workspace
    synced: Path  # a directory holding the config and a store synced once
    hits: list[str] = field(default_factory=list)
    searched: int = 0

    @property
    def kind(self) -> str:
        return self.ws.kind

    def env(self, token: str | None = None) -> dict[str, str]:
        return {VARIABLE[self.kind]: CANARY[self.kind] if token is None else token}

    def search(self, where: str, text: str | bytes) -> None:
        self.searched += 1
        found = text.count(MARK.encode() if isinstance(text, bytes) else MARK)
        if found:
            self.hits.append(f"{where}: {found}")


@pytest.fixture(scope="module", params=["notion", "airtable"])
def canary(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    kind = str(request.param)
    directory = tmp_path_factory.mktemp(f"canary-{kind}")
    for ws in make_workspace(kind, directory, notion_token=CANARY["notion"],
                             airtable_token=CANARY["airtable"]):
        config = ws.write_config()
        # The emulator's sample config names its token in a comment (for copying into a
        # shell); a user's config never holds one. Drop it, so that every file a run
        # leaves, this config included, can be searched.
        config.write_text("".join(line for line in config.read_text().splitlines(True)
                                  if MARK not in line))
        first = CliRunner().invoke(main, ["-c", str(config), "sync"], env=ws.env)
        assert first.exit_code == 0, first.stderr
        yield Canary(ws, directory)


# ---------------------------------------------------------------------------
# The runs: one entry per command and path


@dataclass(frozen=True)
class Run:
    #: the command's arguments after ``-c CONFIG``; ``{dir}`` is the run's directory
    args: tuple[str, ...]
    exits: frozenset[int]
    token: Callable[[str], str | None] = lambda kind: None  # None: the canary
    #: changes the run's copy before it runs: (canary, its directory, its config)
    prepare: Callable[[Canary, Path, Path], Any] | None = None


def _faults(*faults: Fault) -> Callable[[Canary, Path, Path], None]:
    def add(c: Canary, directory: Path, config: Path) -> None:
        for fault in faults:
            c.ws.emu.faults.add(fault)
    return add


def _lock(c: Canary, directory: Path, config: Path) -> SyncLock:
    return SyncLock(directory / "leadsync.db").acquire()


def _damage(c: Canary, directory: Path, config: Path) -> None:
    store = directory / "leadsync.db"
    data = bytearray(store.read_bytes())
    data[100:4096] = b"\xde\xad" * ((4096 - 100) // 2)
    store.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)


def _missing_database(c: Canary, directory: Path, config: Path) -> None:
    text = config.read_text()
    if c.kind == "notion":
        text = text.replace(c.ws.emu.notion.sample_ids["signals"],
                            "0f0e0d0c-0b0a-49f8-a7b6-c5d4e3f2a1b0")
    else:
        text = text.replace(c.ws.emu.airtable.sample_table_ids["signals"], "tblNoSuchTable000")
    config.write_text(text)


def _max_wait(c: Canary, directory: Path, config: Path) -> None:
    config.write_text(config.read_text() + "\n[sync]\nmax_wait_seconds = 1\n")
    # 2 s: over the run's limit, and short, as the process's limiter honours it afterwards
    c.ws.emu.faults.add(Fault("storm", route=f"{c.kind}.*", rate=1.0, retry_after=2))


def _push_errors(c: Canary, directory: Path, config: Path) -> None:
    # the write routes: every push request (and a page or row read back) may be retried
    c.ws.emu.faults.add(Fault("error", route=f"{c.kind}.*", rate=1.0, limit=2))
    c.ws.emu.faults.add(Fault("reset", route=f"{c.kind}.*", rate=1.0, limit=1))


def _bad_config(c: Canary, directory: Path, config: Path) -> None:
    config.write_text(config.read_text().replace("[store]", "[store]\ncolour = 1"))


RUNS: dict[str, Run] = {
    "sync": Run(("sync",), frozenset({0})),
    "sync --json": Run(("--verbose", "sync", "--json"), frozenset({0})),
    "sync --full --dry-run": Run(("--verbose", "sync", "--full", "--dry-run"), frozenset({0})),
    "check": Run(("--verbose", "check"), frozenset({0})),
    "wrong token": Run(("--verbose", "sync", "--json"), frozenset({1}),
                       token=lambda kind: WRONG[kind]),
    "malformed token": Run(("--verbose", "sync", "--json"), frozenset({2}),
                           token=lambda kind: CANARY[kind][:12] + "\n" + CANARY[kind][12:]),
    "5xx and resets, retried": Run(("--verbose", "sync", "--full", "--json"), frozenset({0}),
                                   prepare=_faults(Fault("error", rate=1.0, limit=2),
                                                   Fault("reset", rate=1.0, limit=1))),
    "429 past max_wait_seconds": Run(("--verbose", "sync", "--json"), frozenset({75}),
                                     prepare=_max_wait),
    "store locked": Run(("--verbose", "sync", "--json"), frozenset({75}), prepare=_lock),
    "store damaged": Run(("--verbose", "sync", "--json"), frozenset({1}), prepare=_damage),
    "missing database": Run(("--verbose", "sync", "--json"), frozenset({1}),
                            prepare=_missing_database),
    "bad config": Run(("--verbose", "sync", "--json"), frozenset({2}), prepare=_bad_config),
    "report": Run(("--verbose", "report", "--month", "2026-10", "--out", "{dir}/report",
                   "--json"), frozenset({0})),
    "report, bad format": Run(("--verbose", "report", "--month", "2026-10", "--out",
                               "{dir}/report", "--format", "pdf", "--json"), frozenset({2})),
    "report, store damaged": Run(("--verbose", "report", "--month", "2026-10", "--out",
                                  "{dir}/report"), frozenset({1}), prepare=_damage),
    "report, bad config": Run(("--verbose", "report", "--out", "{dir}/report"),
                              frozenset({2}), prepare=_bad_config),
    "export CSV": Run(("--verbose", "export", "--format", "csv", "--out", "{dir}/csv"),
                      frozenset({0})),
    "export Parquet": Run(("--verbose", "export", "--format", "parquet", "--out",
                           "{dir}/parquet", "--include-deleted"), frozenset({0})),
    "export, store damaged": Run(("--verbose", "export", "--format", "csv", "--out",
                                  "{dir}/csv"), frozenset({1}), prepare=_damage),
    "report --push": Run(("--verbose", "report", "--month", "2026-10", "--out", "{dir}/report",
                          "--push", "--json"), frozenset({0})),
    "report --push --force, 5xx and resets": Run(
        ("--verbose", "report", "--month", "2026-10", "--out", "{dir}/report", "--push",
         "--force", "--json"), frozenset({0}), prepare=_push_errors),
    "report --push --dry-run": Run(("--verbose", "report", "--month", "2026-10", "--out",
                                    "{dir}/report", "--push", "--dry-run", "--json"),
                                   frozenset({0})),
    "report --push, wrong token": Run(("--verbose", "report", "--month", "2026-10", "--out",
                                       "{dir}/report", "--push", "--json"), frozenset({1}),
                                      token=lambda kind: WRONG[kind]),
    "report --push, malformed token": Run(
        ("--verbose", "report", "--month", "2026-10", "--out", "{dir}/report", "--push",
         "--json"), frozenset({2}),
        token=lambda kind: CANARY[kind][:12] + "\n" + CANARY[kind][12:]),
    "packet --all --push": Run(("--verbose", "packet", "--all", "--month", "2026-10", "--out",
                                "{dir}/packets", "--push", "--json"), frozenset({0})),
    "packet --all --push, wrong token": Run(
        ("--verbose", "packet", "--all", "--month", "2026-10", "--out", "{dir}/packets",
         "--push", "--json"), frozenset({1}), token=lambda kind: WRONG[kind]),
}
if importlib.util.find_spec("dlt") is not None:  # the dlt extra (the test extra installs it)
    RUNS |= {
        "load into DuckDB": Run(("--verbose", "load", "--destination", "duckdb", "--json"),
                                frozenset({0})),
        "load, store damaged": Run(("--verbose", "load", "--destination", "duckdb"),
                                   frozenset({1}), prepare=_damage),
    }


def _texts(root: object) -> Iterator[str | bytes]:
    """Every string and byte string reachable from ``root`` through containers and
    object attributes (``__dict__`` and ``__slots__``); functions are not followed."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, str | bytes | bytearray):
            yield bytes(item) if isinstance(item, bytearray) else item
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple | set | frozenset):
            stack += list(item)
        elif hasattr(item, "__dict__") or hasattr(type(item), "__slots__"):
            if isinstance(item, type) or callable(item):
                continue
            stack += list(getattr(item, "__dict__", {}).values())
            for klass in type(item).__mro__:
                for slot in getattr(klass, "__slots__", ()):
                    if hasattr(item, slot):
                        stack.append(getattr(item, slot))


def workspace_state(c: Canary) -> bytes:
    """Everything the emulated workspace holds: pages, blocks, rows, cells, uploads."""
    emu = c.ws.emu
    with emu.lock:
        texts = list(_texts(emu.notion.ws if c.kind == "notion" else emu.airtable.bases))
    return b"\0".join(t.encode("utf-8", "surrogatepass") if isinstance(t, str) else t
                       for t in texts)


class Records(logging.Handler):
    """Every record that reaches the root logger, formatted the way a handler would."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.args))


def copy_store(c: Canary, name: str) -> tuple[Path, Path]:
    directory = c.synced.parent / f"{c.synced.name}-{abs(hash(name))}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    for path in c.synced.glob("leadsync.*"):
        shutil.copy2(path, directory / path.name)
    config = directory / "leadsync.toml"
    assert config.exists()
    return directory, config


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_token_appears_nowhere(canary: Canary, name: str, figures: Figures,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run = RUNS[name]
    directory, config = copy_store(canary, name)
    monkeypatch.chdir(directory)  # where `load --destination duckdb` writes its file
    held = run.prepare(canary, directory, config) if run.prepare else None
    records = Records()
    root = logging.getLogger()
    root.addHandler(records)
    try:
        token = run.token(canary.kind)
        args = [a.replace("{dir}", str(directory)) for a in run.args]
        env = canary.env(token) | {"DLT_DATA_DIR": str(directory / "dlt")}  # dlt's state
        result = CliRunner().invoke(main, ["-c", str(config), *args], env=env)
    finally:
        root.removeHandler(records)
        canary.ws.emu.faults.clear()
        if isinstance(held, SyncLock):
            held.release()
    assert result.exit_code in run.exits, result.stderr
    if name != "sync":
        assert "--verbose" in run.args  # the error paths run at DEBUG
    canary.search(f"{name}: stdout", result.stdout)
    canary.search(f"{name}: stderr", result.stderr)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        canary.search(f"{name}: exception", "".join(traceback.format_exception(
            result.exception)))
    for text in records.texts:
        canary.search(f"{name}: log record", text)
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    for path in files:  # the store, report files and charts, exported files
        canary.search(f"{name}: {path.relative_to(directory)}", path.read_bytes())
    if (result.exit_code == 0 and {"report", "export", "packet", "load"} & set(run.args)
            and "--dry-run" not in run.args):  # a dry run writes no file
        assert len([p for p in files if not p.name.startswith("leadsync.")]) >= 2, files
    if "--push" in run.args:  # what the push (or the refused one) left in the workspace
        state = workspace_state(canary)
        canary.search(f"{name}: the pushed pages, rows and uploads", state)
        if result.exit_code == 0 and "--dry-run" not in run.args:
            marker = b"Leadership" if "report" in run.args else b"acket"
            assert marker in state  # the push did write into the workspace
    if "load" in run.args and result.exit_code == 0:
        assert (directory / "leadsync.duckdb").stat().st_size > 0
    figures.add(f"secrets_canary.{canary.kind}", runs=1, places_searched=canary.searched,
                canary_hits=len(canary.hits))
    assert not canary.hits, canary.hits
    assert result.stdout or result.stderr  # the run wrote something to search
    if result.exit_code == 0 and "sync" in run.args:
        assert len(records.texts) > 2  # and logged


# ---------------------------------------------------------------------------
# Outputs built from the store: one entry each


def _report_text(store: Path) -> list[tuple[str, str]]:
    with leadsync.open_store(store) as opened:
        frames = {t: opened.frame(t) for t in ("members", "signals", "milestones", "checkins",
                                                 "rotations", "reviews")}
        quarantine = opened.quarantine()
    report = build_report(frames, as_of="2026-11-01", quarantine=quarantine)
    return [("report text", render_text(report)), ("report Markdown", render_markdown(report))]


#: Outputs a user reads or a job writes, from a synced store. Add the HTML report, the
#: pushed Notion page and Airtable rows (read back from the emulator) and the export
#: files (CSV, Parquet) when they land.
OUTPUTS: dict[str, Callable[[Path], list[tuple[str, str]]]] = {
    "monthly report (leadsync.reports)": _report_text,
}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_outputs_hold_no_token(canary: Canary, output: str) -> None:
    for name, text in OUTPUTS[output](canary.synced / "leadsync.db"):
        assert text.strip()
        canary.search(name, text)
    assert not canary.hits, canary.hits


# ---------------------------------------------------------------------------
# The notebook API: exception texts and reprs


def _read(c: Canary, token: str, database: str | None = None) -> Any:
    emu = c.ws.emu
    if c.kind == "notion":
        return leadsync.read_notion(database or emu.notion.sample_ids["members"],
                                    table="members", token=token, base_url=emu.url,
                                    rps=1000, progress=False)
    return leadsync.read_airtable(emu.airtable.sample_base_id, database or "Members",
                                  canonical="members", token=token, endpoint_url=emu.url,
                                  rps=None, progress=False)


def test_exceptions_and_reprs_hold_no_token(canary: Canary) -> None:
    kind = canary.kind
    missing = "0f0e0d0c-0b0a-49f8-a7b6-c5d4e3f2a1b0" if kind == "notion" else "tblNoSuchTable000"
    cases = {"wrong token": (WRONG[kind], None),
             "malformed token": (CANARY[kind][:12] + "\n" + CANARY[kind][12:], None),
             "missing table": (CANARY[kind], missing)}
    for name, (token, database) in cases.items():
        with pytest.raises(LeadsyncError) as info:
            _read(canary, token, database)
        exc: BaseException | None = info.value
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:  # the whole chain a notebook shows
            seen.add(id(exc))
            canary.search(f"{name}: str", str(exc))
            canary.search(f"{name}: repr", repr(exc))
            canary.search(f"{name}: args", repr(exc.args))
            exc = exc.__cause__ or exc.__context__
        canary.search(f"{name}: traceback", "".join(traceback.format_exception(info.value)))
    config = load_config(canary.synced / "leadsync.toml")
    token = config.token(canary.env())
    for name, text in (("Secret repr", repr(token)), ("Secret str", str(token)),
                       ("Config repr", repr(config)), ("Config dump", str(config.model_dump()))):
        canary.search(name, text)
    assert token.reveal() == CANARY[kind]
    assert not canary.hits, canary.hits


# ---------------------------------------------------------------------------
# The real process: what reaches its file descriptors


def test_a_real_process_at_debug_prints_no_token(canary: Canary) -> None:
    _, config = copy_store(canary, "process")
    canary.ws.emu.faults.add(Fault("error", rate=1.0, limit=1))
    try:
        wrong = run_leadsync("--verbose", "-c", str(config), "sync", "--json",
                             env=canary.env(WRONG[canary.kind]))
        good = run_leadsync("--verbose", "-c", str(config), "sync", "--full", "--json",
                            env=canary.env())
    finally:
        canary.ws.emu.faults.clear()
    assert wrong.returncode == 1, wrong.stderr
    assert good.returncode == 0, good.stderr
    assert "Traceback" in wrong.stderr  # --verbose printed the traceback...
    for name, done in (("wrong token", wrong), ("success", good)):
        canary.search(f"process {name}: stdout", done.stdout)
        canary.search(f"process {name}: stderr", done.stderr)
    assert not canary.hits, canary.hits  # ...without the token
