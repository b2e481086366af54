"""Injection: workspace text is inert in every output leadsync makes from it.

The emulated workspace is edited to carry hostile text: member names and
signal notes with HTML, Markdown (tables, links, emphasis), Notion-style
mentions, Airtable formula metacharacters (``'``, ``"``, ``\\``, ``}``),
spreadsheet formulas (``=``, ``+``, ``-``, ``@`` first), right-to-left
overrides, and a line break followed by a forged log line; the impact
property/field is renamed to a name full of formula metacharacters and
mapped by that name. Then the real ``leadsync sync`` runs, and each entry of
:data:`OUTPUTS` checks one output:

- the store keeps the text exactly (what the API sent, without surrounding
  whitespace): inert data, not interpreted, not lost;
- log lines and error lines: workspace text never starts a line of its own;
- ``filterByFormula``: a formula built with leadsync's helpers from hostile
  text matches exactly the records holding that text (Airtable);
- the monthly report, as text and as Markdown: a name cannot break a table
  row, add markup, a link or a live spreadsheet formula. The current
  renderers fail this; the report issue (issue 11) rewrites them, so those
  two entries are strict xfails until it lands.

Adding an output is one entry in :data:`OUTPUTS`; when they land: the HTML
report, the pushed Notion page's blocks and Airtable cells (read back from
the emulator), and the CSV/Parquet export.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from leadsync.reports import build_report, render_markdown, render_text
from pyairtable import Api

import leadsync
from leadsync.cli import main

from .kit import Workspace, make_workspace

FORGED = "2026-01-01T00:00:00Z ERROR leadsync.sync: forged"
HOSTILE = [
    "<script>alert(1)</script>",
    "[click me](javascript:alert(1))",
    "Ada | Lovelace",
    f"Grace\n{FORGED}",
    f"Alan\r\n{FORGED}",
    '=HYPERLINK("http://evil.example","x")',
    "+1+1 Ling",
    "-2+3 Mo",
    "@SUM(A1:A9) Noor",
    "@Ada Lovelace <@U123> {{user}}",
    "O'Brien \"the\" \\ back}slash{ Zoe",
    "**bold** _it_ `code` # Kai",
    "\u202eevil Ren",
    "<img src=x onerror=alert(1)> Sam",
]
#: A signal's evidence link: not a link, so its row is quarantined, the reason quoting it.
EVIDENCE = f"not a link\n{FORGED}"
#: The impact property/field, renamed to this and mapped by this name.
IMPACT = "Imp'act \"}\\ =1 @x"


@dataclass
class Injected:
    ws: Workspace
    config: Path
    names: dict[str, str]  # member id -> hostile name
    notes: dict[str, str]  # signal id -> hostile note
    stderr: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.ws.kind

    @property
    def store(self) -> Path:
        return self.ws.directory / "leadsync.db"


class Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def sync(injected: Injected, *args: str) -> None:
    handler = Messages()
    logging.getLogger().addHandler(handler)
    try:
        result = CliRunner().invoke(main, ["--verbose", "-c", str(injected.config), "sync",
                                           *args], env=injected.ws.env)
    finally:
        logging.getLogger().removeHandler(handler)
    assert result.exit_code == 0, result.stderr
    injected.stderr.append(result.stderr)
    injected.records += handler.messages


@pytest.fixture(scope="module", params=["notion", "airtable"])
def injected(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Injected]:
    kind = str(request.param)
    directory = tmp_path_factory.mktemp(f"injection-{kind}")
    for ws in make_workspace(kind, directory, members=len(HOSTILE), signals=120):
        emu = ws.emu
        members = sorted(ws.live_ids("members"))
        signals = sorted(ws.live_ids("signals"))
        names = dict(zip(members, HOSTILE, strict=False))
        notes = dict(zip(signals, HOSTILE, strict=False))
        if kind == "notion":
            for page, name in names.items():
                emu.notion.edit_page(page, {"Name": name})
            for page, note in notes.items():
                emu.notion.edit_page(page, {"Summary": note})
            emu.notion.edit_page(signals[-1], {"Evidence": EVIDENCE})
            emu.notion.rename_property(emu.notion.data_source_ids["signals"], "Impact", IMPACT)
        else:
            base, tables = emu.airtable.sample_base_id, emu.airtable.sample_table_ids
            for record, name in names.items():
                emu.airtable.edit_record(base, tables["members"], record, {"Name": name})
            for record, note in notes.items():
                emu.airtable.edit_record(base, tables["signals"], record, {"Summary": note})
            emu.airtable.edit_record(base, tables["signals"], signals[-1],
                                     {"Evidence": EVIDENCE}, typecast=True)
            emu.airtable.rename_field(base, tables["signals"], "Impact", IMPACT)
            emu.airtable.rename_field(base, tables["signals"], "Last modified", "Edited}'\"")
        config = ws.write_config()
        text = config.read_text()
        config.write_text(text.replace('impact = "Impact"', f'impact = "{_toml(IMPACT)}"'))
        assert _toml(IMPACT) in config.read_text()
        state = Injected(ws, config, names, notes)
        sync(state)
        ws.clock.advance(minutes=5)  # then a night: an incremental pull (its filter)
        first_signal = min(notes)
        notes[first_signal] = HOSTILE[-1] + " (edited)"
        if kind == "notion":
            emu.notion.edit_page(first_signal, {"Summary": notes[first_signal]})
        else:
            emu.airtable.edit_record(emu.airtable.sample_base_id,
                                     emu.airtable.sample_table_ids["signals"], first_signal,
                                     {"Summary": notes[first_signal]})
        sync(state)
        yield state


def _toml(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# ---------------------------------------------------------------------------
# The outputs: one check each


def store_keeps_the_text(injected: Injected) -> None:
    with leadsync.open_store(injected.store) as store:
        members = store.frame("members").set_index("source_id")
        signals = store.frame("signals", include_deleted=True).set_index("source_id")
        quarantined = set(store.quarantine("signals")["source_id"])
    for member, name in injected.names.items():
        assert members.loc[member, "name"] == name.strip(), member
    for signal, note in injected.notes.items():
        if signal not in quarantined:
            assert signals.loc[signal, "notes"] == note.strip(), signal
    assert set(signals["impact"].dropna()) <= {"Low", "Medium", "High"}
    assert signals["impact"].notna().any()  # the hostile-named field mapped and read


def logs_keep_text_on_its_line(injected: Injected) -> None:
    # A quarantine reason quotes the bad value (here a hostile evidence link): it is
    # what the notebook reader logs and the report's data-quality table shows.
    with leadsync.open_store(injected.store) as store:
        reasons = list(store.quarantine("signals")["reason"])
    assert any("forged" in r for r in reasons)  # hostile text did reach a reason
    for text in (*reasons, *injected.records):
        assert "\n" not in text or FORGED not in text, text
    for stderr in injected.stderr:
        for line in stderr.splitlines():
            assert not line.startswith(FORGED), line


def _airtable_formula_matches(injected: Injected) -> None:
    # The helpers the Airtable connector builds its filterByFormula with.
    from leadsync.connectors.airtable_formula import field_ref, literal

    emu = injected.ws.emu
    base, table_id = emu.airtable.sample_base_id, emu.airtable.sample_table_ids["signals"]
    table = Api(emu.airtable_token, endpoint_url=emu.url).table(base, table_id)
    for signal, note in injected.notes.items():
        formula = f"{field_ref('Summary')} = {literal(note)}"
        assert [r["id"] for r in table.all(formula=formula)] == [signal], note
    # A name with one '}' is referenced escaped; a formula on it evaluates.
    impact = f"{field_ref(IMPACT)} = {literal('High')}"
    assert table.all(formula=impact)
    with pytest.raises(ValueError, match="more than one"):
        field_ref("a}b}c")


def _report(injected: Injected) -> tuple[str, str]:
    with leadsync.open_store(injected.store) as store:
        frames = {t: store.frame(t) for t in ("members", "signals", "milestones", "checkins",
                                                "rotations", "reviews")}
    report = build_report(frames, as_of="2026-11-01")
    return render_text(report), render_markdown(report)


def text_report_keeps_names_on_one_line(injected: Injected) -> None:
    text, _ = _report(injected)
    assert not any(line.startswith(FORGED) for line in text.splitlines())


_LIVE_FORMULA = re.compile(r"^\s*[=+\-@]")


def markdown_report_is_inert(injected: Injected) -> None:
    _, markdown = _report(injected)
    assert "<script" not in markdown
    assert "<img" not in markdown
    assert "](javascript:" not in markdown
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---"):
            columns = lines[i - 1].count("|")
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                row = lines[j]
                assert row.count("|") - row.count("\\|") == columns, row
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
                assert not any(_LIVE_FORMULA.match(c) for c in cells), row
                j += 1


ISSUE_11 = pytest.mark.xfail(strict=True, reason="issue 11 (the monthly report) rewrites the "
                             "renderers with escaping; today a name with '|' or a line break "
                             "breaks a table row, and HTML, links and =/+/-/@ pass through raw")

#: (name, the services it applies to, the check, its mark)
OUTPUTS: list[tuple[str, tuple[str, ...], Callable[[Injected], None],
                    pytest.MarkDecorator | None]] = [
    ("store", ("notion", "airtable"), store_keeps_the_text, None),
    ("log and error lines", ("notion", "airtable"), logs_keep_text_on_its_line, None),
    ("filterByFormula", ("airtable",), _airtable_formula_matches, None),
    ("report as text", ("notion", "airtable"), text_report_keeps_names_on_one_line, ISSUE_11),
    ("report as Markdown", ("notion", "airtable"), markdown_report_is_inert, ISSUE_11),
    # ("report as HTML", ...), ("pushed Notion page", ...), ("pushed Airtable cells", ...),
    # ("CSV export", ...), ("Parquet export", ...)  -- when they land (issues 11, 13, 17)
]


@pytest.mark.parametrize("output", [pytest.param(name, marks=[mark] if mark else [], id=name)
                                    for name, _, _, mark in OUTPUTS])
def test_workspace_text_is_inert(injected: Injected, output: str) -> None:
    kinds, check = next((k, c) for name, k, c, _ in OUTPUTS if name == output)
    if injected.kind not in kinds:
        pytest.xfail(f"not an output of {injected.kind}: leadsync builds Notion filters as "
                     "JSON, and only on timestamps")
    check(injected)
