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
- the monthly report ``leadsync report`` writes, as Markdown and as HTML (and
  the report as text, as the demo prints it): a name cannot break a table
  row, add markup, a script, an event handler, a link or a live spreadsheet
  formula; it stays visible as the text it is. Its ``--json`` answer stays one
  JSON document;
- ``leadsync export``: in CSV a name cannot break a row and a cell of
  workspace text never starts a live formula (it gets the spreadsheets'
  ``'``); in Parquet, typed data, the text is exactly the store's.

- ``leadsync report --push`` and ``leadsync packet --all --push``, read back
  from the emulator: in Notion every piece of rich text on the pushed pages
  that carries workspace text is plain text (type ``text``, no mention, no
  equation, no link, no colour), and each hostile name is on the report page
  as the text it is (Markdown not parsed: its asterisks and brackets kept); in Airtable the tables
  leadsync created have no formula, rich-text or lookup field, and the Name
  and Entry cells hold the names exactly, as plain strings.

Adding an output is one entry in :data:`OUTPUTS`.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from leadsync.reports import build_report, render_text
from pyairtable import Api

import leadsync
from leadsync.cli import main
from leadsync.export import read_parquet
from leadsync.inert import FORMULA_PREFIXES

from .kit import Figures, Workspace, make_workspace

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
#: The month reported on: the sample organisation's last (its as-of date is 2026-11-01).
MONTH = "2026-10"


@dataclass
class Injected:
    ws: Workspace
    config: Path
    names: dict[str, str]  # member id -> hostile name
    notes: dict[str, str]  # signal id -> hostile note
    stderr: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    stdout: dict[str, str] = field(default_factory=dict)  # command -> what it printed

    @property
    def reports(self) -> Path:
        return self.ws.directory / "report"

    def exported(self, fmt: str) -> Path:
        return self.ws.directory / f"export-{fmt}"

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


def run(injected: Injected, *args: str) -> None:
    """``leadsync --verbose -c CONFIG ARGS...`` in this process, its log records kept."""
    handler = Messages()
    logging.getLogger().addHandler(handler)
    try:
        result = CliRunner().invoke(main, ["--verbose", "-c", str(injected.config), *args],
                                    env=injected.ws.env)
    finally:
        logging.getLogger().removeHandler(handler)
    assert result.exit_code == 0, result.stderr
    injected.stderr.append(result.stderr)
    injected.stdout[" ".join(args)] = result.stdout
    injected.records += handler.messages


def sync(injected: Injected, *args: str) -> None:
    run(injected, "sync", *args)


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
        # Every output made from the store: the report (the sample's last month) and
        # both export formats.
        run(state, "report", "--month", MONTH, "--out", str(state.reports),
            "--format", "html,md", "--json")
        for fmt in ("csv", "parquet"):
            run(state, "export", "--format", fmt, "--out", str(state.exported(fmt)))
        # ... and what goes back into the workspace
        run(state, "report", "--month", MONTH, "--out", str(directory / "pushed"), "--push")
        run(state, "packet", "--all", "--month", MONTH, "--out", str(directory / "packets"),
            "--push")
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


def _report(injected: Injected) -> str:
    with leadsync.open_store(injected.store) as store:
        frames = {t: store.frame(t) for t in ("members", "signals", "milestones", "checkins",
                                                "rotations", "reviews")}
    return render_text(build_report(frames, as_of="2026-11-01"))


def text_report_keeps_names_on_one_line(injected: Injected) -> None:
    text = _report(injected)
    assert not any(line.startswith(FORGED) for line in text.splitlines())
    assert "Lovelace" in text  # the names are in it


_LIVE_FORMULA = re.compile(r"^\s*[=+\-@]")
# A Markdown link or image whose bracket is not escaped: ``](`` after a ``[``.
_LINK = re.compile(r"(?<!\\)\]\(")


def _markdown_is_inert(markdown: str) -> None:
    assert "<script" not in markdown
    assert "<img" not in markdown
    assert not re.search(r"(?<!\\)\]\(javascript:", markdown)
    tables = 0
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        assert not line.startswith(FORGED), line
        if line.startswith("|---") or line.startswith("| ---") or re.match(r"^\|[-:| ]+\|$",
                                                                          line):
            tables += 1
            columns = lines[i - 1].count("|") - lines[i - 1].count("\\|")
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                row = lines[j]
                assert row.count("|") - row.count("\\|") == columns, row
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
                assert not any(_LIVE_FORMULA.match(c) for c in cells), row
                j += 1
    assert tables  # there were tables to break


def markdown_report_is_inert(injected: Injected) -> None:
    markdown = (injected.reports / "report.md").read_text(encoding="utf-8")
    _markdown_is_inert(markdown)
    assert "Lovelace" in markdown  # the names are in it, escaped


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.script: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        (self.script if self._in and self._in[-1] in ("script", "style") else
         self.text).append(data)


_SAFE_URL = ("#", "https://", "http://", "data:image/png;base64,")


def html_report_is_inert(injected: Injected) -> None:
    page = (injected.reports / "report.html").read_text(encoding="utf-8")
    parsed = _Html()
    parsed.feed(page)
    tags = [tag for tag, _ in parsed.tags]
    assert "html" in tags
    assert "table" in tags
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "iframe", "object", "embed", "form", "base"), (tag, attrs)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)  # no event handler
            if name in ("href", "src", "action", "formaction", "srcset"):
                assert (value or "").startswith(_SAFE_URL), (tag, name, value)
        if tag == "img":  # only the report's own charts
            assert dict(attrs).get("src", "").startswith("data:image/png;base64,")
    # What a browser shows: text nodes, white space collapsed (a line break in a
    # cell is a space). Every hostile name is there as the text it is.
    shown = " ".join("".join(parsed.text).split())
    for member, name in injected.names.items():
        assert " ".join(name.split()) in shown, member


def report_json_is_one_document(injected: Injected) -> None:
    printed = next(v for k, v in injected.stdout.items() if k.startswith("report"))
    answer = json.loads(printed)  # one JSON document, whatever the text in the store
    assert set(answer["files"]) == {"html", "md"}
    assert all(Path(p).exists() for p in answer["files"].values())


def _csv(injected: Injected, table: str) -> list[dict[str, str]]:
    with (injected.exported("csv") / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def csv_export_is_inert(injected: Injected) -> None:
    members = _csv(injected, "members")
    by_id = {row["source_id"]: row for row in members}
    assert len(members) == len(by_id) == len(injected.names)  # a name broke no row
    for member, name in injected.names.items():
        want = name.strip()
        if want.startswith(FORMULA_PREFIXES):
            want = "'" + want  # shown as text by a spreadsheet, not run
        assert by_id[member]["name"] == want, member
    signals = {row["source_id"]: row for row in _csv(injected, "signals")}
    for signal, note in injected.notes.items():
        if signal in signals:
            assert signals[signal]["notes"].lstrip("'") == note.strip(), signal
    for table in ("members", "signals", "quarantine"):
        for row in _csv(injected, table):
            for column, cell in row.items():
                assert not (cell.startswith(FORMULA_PREFIXES) and not _looks_numeric(cell)), (
                    table, column, cell)


def parquet_export_keeps_the_text(injected: Injected) -> None:
    members = read_parquet(injected.exported("parquet") / "members.parquet")
    with leadsync.open_store(injected.store) as store:
        stored = store.frame("members")
    assert dict(zip(members["source_id"], members["name"], strict=True)) == dict(
        zip(stored["source_id"], stored["name"], strict=True))
    names = dict(zip(members["source_id"], members["name"], strict=True))
    for member, name in injected.names.items():
        assert names[member] == name.strip(), member  # typed data: the text, exactly


def _rich_texts(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every rich-text item of a block (its text, a table row's cells, a caption)."""
    body = block.get(block["type"], {})
    yield from body.get("rich_text", [])
    yield from body.get("caption", [])
    for cell in body.get("cells", []):
        yield from cell
    for child in block.get("children", []):
        yield from _rich_texts(child)


def pushed_notion_pages_are_plain_text(injected: Injected) -> None:
    notion = injected.ws.emu.notion
    pages = notion.child_pages(notion.root_page_id)
    assert len(pages) >= 2  # the report and at least one packet
    fragments = [part for text in (*HOSTILE, *injected.notes.values())
                 for part in text.split() if len(part) > 3]
    report_text = ""
    carried = 0
    for page in pages:
        title = next(p for p in page["properties"].values() if p["type"] == "title")["title"]
        items = [*title, *(i for b in notion.block_tree(page["id"]) for i in _rich_texts(b))]
        text = "".join(i["plain_text"] for i in items)
        if not "".join(i["plain_text"] for i in title).startswith("Promotion packet"):
            report_text = text
        for item in items:
            if not any(f in item["plain_text"] for f in fragments):
                continue  # leadsync's own words (a heading, a figure, a link it made)
            carried += 1
            assert item["type"] == "text", item  # no mention, no equation
            assert item["text"]["link"] is None, item
            assert item["href"] is None, item
            assert item["annotations"]["color"] == "default", item
            assert item["text"]["content"] == item["plain_text"], item
    assert carried  # workspace text did reach the pages
    shown = " ".join(report_text.split())
    for member, name in injected.names.items():
        # each name as the text it is: ``**bold**`` keeps its asterisks (not parsed into
        # an annotation), ``[click me](javascript:...)`` its brackets (not a link)
        assert " ".join(name.split()) in shown, member


def pushed_airtable_cells_are_plain_text(injected: Injected) -> None:
    emu = injected.ws.emu
    base = emu.airtable.sample_base_id
    for table in ("Reports", "Scores", "Packets"):
        fields = emu.airtable.table(base, table).fields
        kinds = {f.name: f.type for f in fields}
        assert not {"formula", "richText", "multipleLookupValues", "rollup",
                    "button"} & set(kinds.values()), (table, kinds)
    scores = emu.airtable.get_records(base, "Scores")
    months = {r["fields"]["Month"] for r in scores}
    assert months == {MONTH}
    by_member = {r["fields"]["Member ID"]: r["fields"] for r in scores}
    assert set(by_member) == set(injected.names)
    for member, name in injected.names.items():
        cells = by_member[member]
        assert cells["Name"] == name.strip(), member  # exactly: no quote added, no parse
        assert cells["Entry"] == f"{name.strip()} · {MONTH}", member
        for value in cells.values():
            assert isinstance(value, str | int | float | list), (member, value)
    packets = emu.airtable.get_records(base, "Packets")
    assert packets
    for row in packets:
        cells = row["fields"]
        if cells["Member ID"] in injected.names:
            assert cells["Name"] == injected.names[cells["Member ID"]].strip()


#: (name, the services it applies to, the check, its mark)
OUTPUTS: list[tuple[str, tuple[str, ...], Callable[[Injected], None],
                    pytest.MarkDecorator | None]] = [
    ("store", ("notion", "airtable"), store_keeps_the_text, None),
    ("log and error lines", ("notion", "airtable"), logs_keep_text_on_its_line, None),
    ("filterByFormula", ("airtable",), _airtable_formula_matches, None),
    ("report as text", ("notion", "airtable"), text_report_keeps_names_on_one_line, None),
    ("report as Markdown", ("notion", "airtable"), markdown_report_is_inert, None),
    ("report as HTML", ("notion", "airtable"), html_report_is_inert, None),
    ("report --json", ("notion", "airtable"), report_json_is_one_document, None),
    ("CSV export", ("notion", "airtable"), csv_export_is_inert, None),
    ("Parquet export", ("notion", "airtable"), parquet_export_keeps_the_text, None),
    ("pushed Notion pages", ("notion",), pushed_notion_pages_are_plain_text, None),
    ("pushed Airtable cells", ("airtable",), pushed_airtable_cells_are_plain_text, None),
]


@pytest.mark.parametrize("output", [pytest.param(name, marks=[mark] if mark else [], id=name)
                                    for name, _, _, mark in OUTPUTS])
def test_workspace_text_is_inert(injected: Injected, output: str, figures: Figures) -> None:
    kinds, check = next((k, c) for name, k, c, _ in OUTPUTS if name == output)
    if injected.kind not in kinds:
        why = ("leadsync builds Notion filters as JSON, and only on timestamps"
               if output == "filterByFormula" else "the other service's push")
        pytest.xfail(f"not an output of {injected.kind}: {why}")
    check(injected)
    figures.add(f"injection.{injected.kind}", outputs_checked=1, outputs=[output])
