"""``leadsync export``: the store's tables as Parquet and CSV files.

The store is built by the real sync against the emulated Notion workspace
(with a member named like a spreadsheet formula, a note starting with ``@``,
a deleted signal and the sample's quarantined rows); the files must read back
equal to the store's frames (dtypes and categorical order included), CSV
cells must be inert in a spreadsheet, and every file must be written
atomically and owner-only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from leadsync import open_store
from leadsync.cli import main
from leadsync.config import Config, load_config, parse_config
from leadsync.emulator import Emulator, FrozenClock, Limits, SampleOrg
from leadsync.export import export_store, inert, read_parquet, render_csv, render_parquet
from leadsync.store import Store
from leadsync.sync import run_sync
from leadsync.tables import TABLES, MemberRef, build_frame

FORMULA_NAME = '=HYPERLINK("x")'



@pytest.fixture(autouse=True)
def arrow_strings() -> Iterator[None]:
    """Strings stored in Arrow, as pandas does wherever the extra (pyarrow) is installed."""
    with pd.option_context("mode.string_storage", "pyarrow"):
        yield

@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, dict[str, str]]:
    """A store synced from the emulator, after a day of upstream edits and a deletion.

    Yields the config and what was changed upstream: ``formula_member`` (the member
    renamed to a formula), ``at_signal`` (a signal whose notes start with ``@``),
    ``deleted`` (a deleted signal).
    """
    tmp = tmp_path_factory.mktemp("export")
    org = SampleOrg.generate(seed=5, members=12, signals=200)
    with Emulator(seed=5, limits=Limits.unlimited(), clock=FrozenClock(), sample=org,
                  workspaces=("notion",)) as emu:
        config_file = tmp / "leadsync.toml"
        config_file.write_text(
            emu.config_toml("notion", store_path=str(tmp / "leadsync.db"))
            # reconcile each run, so deletions show at once; no client-side pacing
            + "\n[sync]\nfull_every_days = 0\n\n[limits]\nnotion_rps = 1000.0\n",
            encoding="utf-8")
        config = load_config(config_file)
        env = {"NOTION_TOKEN": emu.notion_token}
        run_sync(config, env=env, progress=False)
        notion = emu.notion
        clock = emu.clock
        assert isinstance(clock, FrozenClock)
        clock.advance(hours=2)
        member_page = sorted(notion.member_page_ids.values())[0]
        notion.edit_page(member_page, {"Name": FORMULA_NAME})
        signals = sorted(p["id"] for p in notion.pages(notion.data_source_ids["signals"]))
        notion.edit_page(signals[0], {"Summary": "@channel -1 +1 =SUM(A1:A2)"})
        notion.trash_page(signals[1])
        clock.advance(minutes=5)
        run_sync(config, env=env, progress=False)
    changed = {"formula_member": member_page, "at_signal": signals[0], "deleted": signals[1]}
    return config, changed


@pytest.fixture
def store(synced: tuple[Config, dict[str, str]]) -> Iterator[Store]:
    with open_store(synced[0].store.path) as opened:
        yield opened


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal values and dtypes; categoricals with the same categories in the same order."""
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for name in want.columns:
        assert got[name].dtype == want[name].dtype, name
        if isinstance(want[name].dtype, pd.CategoricalDtype):
            assert list(got[name].cat.categories) == list(want[name].cat.categories), name
            assert got[name].cat.ordered == want[name].cat.ordered, name


# ---------------------------------------------------------------------------
# Parquet


def test_parquet_reads_back_equal_to_the_store(store: Store, tmp_path: Path) -> None:
    files = export_store(store, tmp_path / "out", format="parquet")
    names = sorted(f.path.name for f in files)
    assert "signals.parquet" in names
    assert "signals.tombstones.parquet" in names
    assert "quarantine.parquet" in names
    assert store.frame("signals")["notes"].dtype.storage == "pyarrow"  # as users have it
    for table in TABLES:
        want = store.frame(table)
        path = tmp_path / "out" / f"{table}.parquet"
        assert_same(read_parquet(path), want)
        plain = pd.read_parquet(path)  # pandas alone: every dtype, categories in order
        if table == "reviews":  # a list column comes back as arrays; read_parquet makes tuples
            plain["approvers"] = plain["approvers"].map(tuple)
        assert_same(plain, want)
        assert_same(read_parquet(tmp_path / "out" / f"{table}.tombstones.parquet"),
                    store.tombstones(table))
    assert_same(read_parquet(tmp_path / "out" / "quarantine.parquet"), store.quarantine())
    # the sample has malformed rows and a deletion: both files hold something
    assert len(store.quarantine()) > 0
    assert len(store.tombstones("signals")) == 1


def test_parquet_types_are_declared_from_the_canonical_tables(store: Store,
                                                              tmp_path: Path) -> None:
    export_store(store, tmp_path, format="parquet", tables=["signals", "members", "reviews"])
    signals = pq.read_schema(tmp_path / "signals.parquet")
    impact = signals.field("impact")
    assert pa.types.is_dictionary(impact.type)
    assert impact.type.ordered
    assert json.loads(impact.metadata[b"leadsync.categories"]) == ["Low", "Medium", "High"]
    described = json.loads(signals.metadata[b"leadsync"])
    assert described["categories"]["impact"] == ["Low", "Medium", "High"]
    assert described["categories"]["signal_type"] == ["Technical", "Operational",
                                                      "Communication"]
    assert signals.field("date").type == pa.timestamp("ns", tz="UTC")
    assert signals.field("notes").type == pa.string()
    assert not signals.field("source_id").nullable
    members = pq.read_schema(tmp_path / "members.parquet")
    assert members.field("is_leader").type == pa.bool_()
    assert members.field("stage").type.ordered
    reviews = pq.read_schema(tmp_path / "reviews.parquet")
    assert reviews.field("approvers").type == pa.list_(pa.string())
    assert reviews.field("technical_excellence").type == pa.float64()
    # dictionary-encoded in the file itself, not only in the Arrow schema
    meta = pq.ParquetFile(tmp_path / "signals.parquet").metadata
    column = next(meta.row_group(0).column(i) for i in range(meta.num_columns)
                  if meta.row_group(0).column(i).path_in_schema == "impact")
    assert "RLE_DICTIONARY" in column.encodings or "PLAIN_DICTIONARY" in column.encodings


def test_missing_values_and_unused_categories_survive() -> None:
    """Nullable booleans, strings and categoricals, and a category no row uses."""
    records: list[dict[str, Any]] = [
        {"source_id": "p1", "name": "Ana", "is_leader": True, "stage": "emerging_leader",
         "created_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        {"source_id": "p2", "name": "Bo", "is_leader": None, "stage": None, "email": None,
         "mentor_id": MemberRef("relation", "p1")},
        {"source_id": "p3", "name": "Chen", "is_leader": False, "stage": "early_leadership"},
    ]
    frame = build_frame("members", records).frame
    assert frame["is_leader"].isna().sum() == 1
    back = pd.read_parquet(io.BytesIO(render_parquet(frame, "members")))
    assert_same(back, frame)
    assert list(back["stage"].cat.categories) == ["early_leadership", "emerging_leader",
                                                  "established_leader"]


def test_include_deleted_keeps_tombstones_in_the_table_file(store: Store,
                                                            tmp_path: Path) -> None:
    files = export_store(store, tmp_path, format="parquet", tables=["signals"],
                         include_deleted=True)
    assert sorted(f.path.name for f in files) == ["quarantine.parquet", "signals.parquet"]
    got = read_parquet(tmp_path / "signals.parquet")
    assert_same(got, store.frame("signals", include_deleted=True))
    assert got["deleted_at"].notna().sum() == 1
    quarantine = read_parquet(tmp_path / "quarantine.parquet")
    assert set(quarantine["table"]) <= {"signals"}


# ---------------------------------------------------------------------------
# CSV


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_cells_that_would_be_formulas_open_as_text(
        store: Store, synced: tuple[Config, dict[str, str]], tmp_path: Path) -> None:
    changed = synced[1]
    export_store(store, tmp_path, format="csv")
    members = {row["source_id"]: row for row in read_csv(tmp_path / "members.csv")}
    assert members[changed["formula_member"]]["name"] == "'" + FORMULA_NAME
    signals = {row["source_id"]: row for row in read_csv(tmp_path / "signals.csv")}
    assert signals[changed["at_signal"]]["notes"] == "'@channel -1 +1 =SUM(A1:A2)"
    # no text cell anywhere starts a formula
    for path in tmp_path.glob("*.csv"):
        for row in read_csv(path):
            for column, value in row.items():
                assert not value.startswith(("=", "+", "-", "@")), (path.name, column, value)
    # the rest keeps its meaning: ISO dates in UTC, flags, header in canonical order
    frame = store.frame("signals")
    with (tmp_path / "signals.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == list(frame.columns)
    first = frame.iloc[0]
    row = signals[first["source_id"]]
    assert pd.Timestamp(row["date"]) == first["date"]
    assert row["impact"] == first["impact"]
    tombstones = read_csv(tmp_path / "signals.tombstones.csv")
    assert [t["source_id"] for t in tombstones] == [changed["deleted"]]
    assert tombstones[0]["deleted_at"]


def test_inert_and_render_csv() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(1)", "\t=1", "\r=1"):
        assert inert(text) == "'" + text
    for text in ("Ana", "1-1", "a=b", "", "'=quoted already"):
        assert inert(text) == text
    frame = pd.DataFrame({
        "name": pd.Series(['=HYPERLINK("x")', None, "Ünïcødé ✓"], dtype="string"),
        "flag": pd.Series([True, None, False], dtype="boolean"),
        "score": pd.Series([1.5, None, -2.0], dtype="Float64"),
        "ids": pd.Series([("a", "=b"), (), ("c",)], dtype="object"),
    })
    text = render_csv(frame).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "flag", "score", "ids"],
                    ["\'=HYPERLINK(\"x\")", "true", "1.5", "a; =b"],
                    ["", "", "", ""],
                    ["Ünïcødé ✓", "false", "-2.0", "c"]]


# ---------------------------------------------------------------------------
# Files: atomic, owner-only


def test_files_are_owner_only_and_written_atomically(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "new" / "dir"
    old = os.umask(0o022)
    try:
        files = export_store(store, out, format="parquet", tables=["members"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for f in files:
        assert stat.S_IMODE(f.path.stat().st_mode) == 0o600, f.path
    before = (out / "members.parquet").read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(Exception, match="No space left on device"):
        export_store(store, out, format="csv", tables=["members"])
    with pytest.raises(Exception, match="No space left on device"):
        export_store(store, out, format="parquet", tables=["members"])
    monkeypatch.undo()
    assert (out / "members.parquet").read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in out.iterdir()) == sorted(f.path.name for f in files)


# ---------------------------------------------------------------------------
# The command


def test_the_command_exports_and_refuses_bad_usage(
        synced: tuple[Config, dict[str, str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = Path(synced[0].source)
    runner = CliRunner()
    result = runner.invoke(main, ["-c", str(config_file), "export", "--format", "csv",
                                  "--out", str(tmp_path / "csv"), "--table", "signals"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("exported 3 files")
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "quarantine.csv", "signals.csv", "signals.tombstones.csv"]

    result = runner.invoke(main, ["-c", str(config_file), "export", "--out",
                                  str(tmp_path / "x"), "--table", "nope"])
    assert result.exit_code == 2
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    result = runner.invoke(main, ["-c", str(config_file), "export", "--format", "parquet",
                                  "--out", str(tmp_path / "pq")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "leadsync: error: Parquet needs pyarrow, an optional extra: pip install "
        "'leadsync[parquet]' (or use --format csv)"]
    assert not (tmp_path / "pq").exists()


def test_a_table_the_store_never_synced_is_a_usage_error(tmp_path: Path) -> None:
    org = SampleOrg.generate(seed=1, members=4, signals=10)
    with Emulator(seed=1, limits=Limits.unlimited(), sample=org,
                  workspaces=("notion",)) as emu:
        data = tomllib.loads(emu.config_toml("notion", store_path=str(tmp_path / "l.db")))
        data["tables"] = {k: v for k, v in data["tables"].items()
                          if k in ("members", "signals")}
        config = parse_config(data, source="<test>")
        run_sync(config, env={"NOTION_TOKEN": emu.notion_token}, progress=False)
    with open_store(tmp_path / "l.db") as opened:
        files = export_store(opened, tmp_path / "out", format="csv")
        assert {f.table for f in files} == {"members", "signals", None}
        with pytest.raises(Exception, match="holds no rotations table yet") as caught:
            export_store(opened, tmp_path / "out", format="csv", tables=["rotations"])
    from leadsync.errors import ConfigError, exit_code_for

    assert isinstance(caught.value, ConfigError)
    assert exit_code_for(caught.value) == 2
