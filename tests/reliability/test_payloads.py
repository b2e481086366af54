"""Generated payloads through every decoder: nothing crashes, every bad row is quarantined.

Hypothesis builds pages (Notion) and records (Airtable) for all six canonical
tables from the emulator's real schemas (:mod:`.payloads`: missing keys, wrong
types, nulls everywhere, huge strings, odd Unicode), and :class:`.HostileProxy`
serves them as the listings of an otherwise real emulated workspace. Each
example goes through the real ``leadsync sync --full`` (every table, every
property type the sample uses, the store's encoding) and through the notebook
readers (``read_notion`` / ``read_airtable``). Neither may crash; the sync ends 0;
every generated row is either a row of the table or in its quarantine with a
reason, once, and the frames keep the canonical dtypes.

Two levels (:mod:`.payloads`): well-shaped values (any type's, null or
missing, huge and odd text, dates in any year: what a workspace whose schema
changed under the sync sends) must pass today; hostile shapes (bodies of the
wrong shape, properties without an id, ``properties``/``fields`` that are not
objects, malformed timestamps) crashed the connectors' decoders and ended the
whole pull; they now quarantine the row with the reason. One minimal example
per crash site found is kept (:data:`CRASHES`).

Quick: 5 examples a service, the same ones every run (derandomized). Soak
(``-m soak``): fresh random well-shaped examples until
``LEADSYNC_SOAK_SECONDS``.
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadsync
from leadsync.cli import main
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.tables import check_frame

from .hostile import HostileProxy
from .kit import SOAK_SECONDS, Figures, soak_timeout, tokens
from .payloads import airtable_record, notion_page

TABLES = ("members", "signals", "milestones", "checkins", "rotations", "reviews")


@dataclass
class Hostile:
    """An emulated workspace behind a :class:`HostileProxy`, with each table's schema."""

    kind: str
    emu: Emulator
    proxy: HostileProxy
    config: Path
    table_ids: dict[str, str]  # canonical table -> data source id / table id
    schemas: dict[str, Any]  # canonical table -> Notion properties / Airtable fields
    examples: int = 0
    rows: int = 0
    quarantined: int = 0
    ids: Iterator[int] = field(default_factory=itertools.count)


@pytest.fixture(scope="module", params=["notion", "airtable"])
def hostile(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    kind = str(request.param)
    org = SampleOrg.generate(seed=4, members=4, signals=8)
    with Emulator(seed=4, limits=Limits.unlimited(), sample=org, workspaces=(kind,)) as emu, \
            HostileProxy(emu.url) as proxy:
        directory = tmp_path_factory.mktemp(f"hostile-{kind}")
        text = emu.config_toml(kind).replace(emu.url, proxy.url)
        config = directory / "leadsync.toml"
        config.write_text(text + "\n[limits]\nnotion_rps = 1000.0\nairtable_rps = 1000.0\n")
        if kind == "notion":
            headers = {"Authorization": f"Bearer {emu.notion_token}",
                       "Notion-Version": "2025-09-03"}
            ids = {t: str(emu.notion.data_source_ids[t]) for t in TABLES}
            schemas = {t: httpx.get(f"{emu.url}/v1/data_sources/{ids[t]}",
                                    headers=headers).json()["properties"] for t in TABLES}
        else:
            headers = {"Authorization": f"Bearer {emu.airtable_token}"}
            ids = {t: str(emu.airtable.sample_table_ids[t]) for t in TABLES}
            tables = httpx.get(f"{emu.url}/v0/meta/bases/{emu.airtable.sample_base_id}/tables",
                               headers=headers).json()["tables"]
            schemas = {t: next(x["fields"] for x in tables if x["id"] == ids[t])
                       for t in TABLES}
        yield Hostile(kind, emu, proxy, config, ids, schemas)


def row_id(hostile: Hostile) -> str:
    number = next(hostile.ids)
    if hostile.kind == "notion":
        return f"{number:08x}-0000-4000-8000-{number:012x}"
    return f"rec{number:014d}"


def rows_for(hostile: Hostile, table: str,
             shapes: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    def one(_: int) -> st.SearchStrategy[dict[str, Any]]:
        if hostile.kind == "notion":
            return notion_page(hostile.schemas[table], row_id(hostile), shapes)
        return airtable_record(hostile.schemas[table], row_id(hostile), shapes)
    return st.lists(st.integers(), max_size=5).flatmap(
        lambda seeds: st.tuples(*(one(s) for s in seeds)).map(list))


def read(hostile: Hostile, table: str) -> Any:
    """The notebook reader of ``hostile``'s service over the proxy: a frame."""
    emu = hostile.emu
    if hostile.kind == "notion":
        return leadsync.read_notion(emu.notion.sample_ids[table], table=table,
                                    token=emu.notion_token, base_url=hostile.proxy.url,
                                    rps=1000, progress=False)
    return leadsync.read_airtable(emu.airtable.sample_base_id, hostile.table_ids[table],
                                  canonical=table, token=emu.airtable_token,
                                  endpoint_url=hostile.proxy.url, rps=None, progress=False)


def check_one(hostile: Hostile, served: dict[str, list[dict[str, Any]]]) -> None:
    """One example: the sync and the notebook readers over the served rows."""
    for table, rows in served.items():
        hostile.proxy.serve(hostile.table_ids[table], rows)
    hostile.examples += 1
    hostile.rows += sum(len(r) for r in served.values())
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "leadsync.db"
        text = hostile.config.read_text().replace('path = "leadsync.db"', f'path = "{store}"')
        config = Path(directory) / "leadsync.toml"
        config.write_text(text)
        result = CliRunner().invoke(main, ["-c", str(config), "sync", "--full"],
                                    env=tokens(hostile.emu))
        assert result.exit_code == 0, result.output + result.stderr
        assert "internal error" not in result.stderr
        with leadsync.open_store(store) as opened:
            for table, rows in served.items():
                frame, quarantine = opened.frame(table), opened.quarantine(table)
                assert check_frame(table, frame) == [], table
                got = [str(s) for s in frame["source_id"]] + \
                    [str(s) for s in quarantine["source_id"]]
                assert sorted(got) == sorted(str(r["id"]) for r in rows), table
                assert all(isinstance(r, str) and r.strip() for r in quarantine["reason"])
                hostile.quarantined += len(quarantine)
    for table in ("members", "signals"):
        frame = read(hostile, table)
        quarantine = frame.attrs["quarantine"]
        assert check_frame(table, frame) == [], table
        got = sorted([str(s) for s in frame["source_id"]] +
                     [str(s) for s in quarantine["source_id"]])
        assert got == sorted(str(r["id"]) for r in served[table]), table


def explore(hostile: Hostile, *, examples: int, derandomize: bool, shapes: bool = False) -> None:
    tables = st.fixed_dictionaries({t: rows_for(hostile, t, shapes) for t in TABLES})

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(tables)
    def run(served: dict[str, list[dict[str, Any]]]) -> None:
        check_one(hostile, served)

    run()


def record(figures: Figures, hostile: Hostile) -> None:
    figures.add(f"payloads.{hostile.kind}", examples=hostile.examples,
                rows_generated=hostile.rows, rows_quarantined=hostile.quarantined,
                internal_errors=0)


def test_generated_payloads_never_crash_and_bad_rows_are_quarantined(
        hostile: Hostile, figures: Figures) -> None:
    explore(hostile, examples=5, derandomize=True)
    record(figures, hostile)
    assert hostile.quarantined > 0  # the generated rows did include bad ones


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # huge reprs
def test_hostile_shapes_are_quarantined_too(hostile: Hostile) -> None:
    explore(hostile, examples=3, derandomize=True, shapes=True)


#: One minimal row per crash site found by the hostile level: (service, table, row).
CRASHES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "notion: a property without an id": ("notion", "rotations", {
        "properties": {"Sprint": {"type": "title", "title": []}}}),
    "notion: a select body that is a list": ("notion", "members", {
        "properties": {"Time zone": {"id": "{timezone}", "type": "select", "select": [None]}}}),
    "notion: a property that is not an object": ("notion", "rotations", {
        "properties": {"Sprint": "Sprint 12"}}),
    "notion: properties that are not an object": ("notion", "rotations", {
        "properties": ["Sprint 12"]}),
    "notion: a rich text item that is null": ("notion", "rotations", {
        "properties": {"Sprint": {"id": "title", "type": "title", "title": [None]}}}),
    "notion: a malformed last_edited_time": ("notion", "rotations", {
        "last_edited_time": "2026-02-30T00:00:00.000Z"}),
    "airtable: fields that are not an object": ("airtable", "rotations", {
        "fields": ["Sprint 12"]}),
    "airtable: a linked record without an id": ("airtable", "milestones", {
        "fields": {"{member}": [{"name": "Ada"}]}}),
}


@pytest.mark.parametrize(("hostile", "case"), [(CRASHES[c][0], c) for c in sorted(CRASHES)],
                         indirect=["hostile"])
def test_a_malformed_row_is_quarantined_not_fatal(hostile: Hostile, case: str) -> None:
    kind, table, changes = CRASHES[case]
    if kind == "notion":
        base: dict[str, Any] = {
            "object": "page", "id": row_id(hostile), "in_trash": False,
            "created_time": "2026-10-01T09:00:00.000Z",
            "last_edited_time": "2026-10-02T09:00:00.000Z", "properties": {}}
        ids = {"timezone": str(hostile.schemas["members"]["Time zone"]["id"])}
    else:
        base = {"id": row_id(hostile), "createdTime": "2026-10-01T09:00:00.000Z", "fields": {}}
        ids = {"member": next(str(f["id"]) for f in hostile.schemas["milestones"]
                              if f["name"] == "Member")}
    row = {**base, **json.loads(json.dumps(changes).replace("{timezone}", ids.get("timezone", ""))
                                .replace("{member}", ids.get("member", "")))}
    hostile.proxy.serve(hostile.table_ids[table], [row])
    frame = read(hostile, table)
    assert [*frame["source_id"], *frame.attrs["quarantine"]["source_id"]] == [row["id"]]


@pytest.mark.soak
@soak_timeout()
def test_payload_soak(hostile: Hostile, figures: Figures) -> None:
    deadline = time.monotonic() + SOAK_SECONDS
    for shapes in itertools.cycle((False, True)):  # well-shaped, then hostile shapes too
        if time.monotonic() >= deadline:
            break
        explore(hostile, examples=50, derandomize=False, shapes=shapes)
    record(figures, hostile)


#: An empty value of each Notion property type the check-ins table uses.
EMPTY: dict[str, Any] = {"title": [], "rich_text": [], "people": [], "relation": [],
                         "date": None, "select": None}


def test_a_duplicate_key_beside_a_missing_one_is_quarantined(hostile: Hostile) -> None:
    """Found by the payload soak: two check-ins with one title and a third with none
    made the duplicate check index with NA (ValueError, exit 1) instead of quarantining."""
    if hostile.kind == "notion":
        rows: list[dict[str, Any]] = []
        for text in ("C1", "C1", None):
            properties = {name: {"id": spec["id"], "type": spec["type"],
                                 spec["type"]: EMPTY.get(spec["type"])}
                          for name, spec in hostile.schemas["checkins"].items()}
            properties["Check-in"]["title"] = [
                {"type": "text", "text": {"content": text}, "plain_text": text}] if text else []
            rows.append({"object": "page", "id": row_id(hostile), "in_trash": False,
                         "created_time": "2026-10-01T09:00:00.000Z",
                         "last_edited_time": "2026-10-02T09:00:00.000Z",
                         "properties": properties})
    else:
        field_id = next(str(f["id"]) for f in hostile.schemas["checkins"]
                        if f["name"] == "Check-in")
        rows = [{"id": row_id(hostile), "createdTime": "2026-10-01T09:00:00.000Z",
                 "fields": {field_id: text} if text else {}} for text in ("C1", "C1", None)]
    served: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    served["checkins"] = rows
    check_one(hostile, served)  # the sync: exit 0, every row a row or quarantined
    reasons = " ".join(read(hostile, "checkins").attrs["quarantine"]["reason"])
    assert "duplicate checkin_id 'C1'" in reasons
    assert "checkin_id is missing" in reasons
