"""The hostile review's defects 2 to 7 (issue 15), each reproduced through the real command.

Defect 5 (config that escaped the one-line rule) is in ``tests/test_config.py``;
defect 1 (expired Airtable offsets) belongs to the Airtable connector's rewrite
and is probed, marked, in ``test_fault_soak.py``.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from leadsync.reports.write import write_file

import leadsync
from leadsync.errors import ConfigError

from .kit import Workspace
from .kit import leadsync as run_leadsync


def one_line(stderr: str) -> str:
    """The one error line, last on stderr (log lines may come before it), no traceback."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("leadsync: error: ")]
    assert len(errors) == 1, stderr
    assert lines[-1] == errors[0], stderr
    assert "Traceback" not in stderr
    assert "internal error" not in errors[0]
    return errors[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------------
# 2. A token that cannot be a header value: exit 2, one line, never echoed, no request


BAD_TOKENS = {  # every kind of flaw is in tests/test_config.py; here the two the review saw
    "line break": ("{good}\n{tail}", "a line break"),
    "non-ASCII": ("{good}é{tail}", "not ASCII"),
}


@pytest.mark.parametrize(("flaw", "verbose"), [("line break", True), ("non-ASCII", False)])
def test_a_token_that_cannot_be_a_header_is_exit_2_before_any_request(
        workspace: Workspace, flaw: str, verbose: bool) -> None:
    config = workspace.write_config()
    variable = "NOTION_TOKEN" if workspace.kind == "notion" else "AIRTABLE_TOKEN"
    good = workspace.env[variable]
    pattern, what = BAD_TOKENS[flaw]
    token = pattern.format(good=good, tail="SECRETTAIL42")
    workspace.emu.stats.reset()
    args = ["--verbose"] if verbose else []
    done = run_leadsync(*args, "-c", str(config), "sync", env={variable: token})
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    for piece in (good, "SECRETTAIL42", token.encode("unicode_escape").decode()):
        assert piece not in output
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"leadsync: error: {variable} cannot be used"), done.stderr
    assert what in last
    if not verbose:
        one_line(done.stderr)
    assert workspace.emu.stats.total() == 0  # refused before any request


def test_the_notebook_readers_refuse_such_a_token_too(workspace: Workspace) -> None:
    workspace.emu.stats.reset()
    if workspace.kind == "notion":
        with pytest.raises(ConfigError, match="NOTION_TOKEN cannot be used") as info:
            leadsync.read_notion(workspace.emu.notion.sample_ids["members"], table="members",
                                 token="ntn_abc\nSECRETTAIL42", base_url=workspace.emu.url)
    else:
        with pytest.raises(ConfigError, match="AIRTABLE_TOKEN cannot be used") as info:
            leadsync.read_airtable(workspace.emu.airtable.sample_base_id, "Members",
                                   canonical="members", token="patabcé.SECRETTAIL42",
                                   endpoint_url=workspace.emu.url)
    assert "SECRETTAIL42" not in str(info.value)
    assert workspace.emu.stats.total() == 0


# ---------------------------------------------------------------------------
# 3. The scrubber, the way a notebook user logs


NOTEBOOK = textwrap.dedent('''
    import logging, os, sys
    from leadsync.emulator import Emulator, Limits, SampleOrg

    NOTION, AIRTABLE = sys.argv[1], sys.argv[2]
    org = SampleOrg.generate(seed=2, members=6, signals=30)
    with Emulator(seed=2, limits=Limits.unlimited(), sample=org, notion_token=NOTION,
                  airtable_token=AIRTABLE) as emu:
        os.environ["NOTION_TOKEN"], os.environ["AIRTABLE_TOKEN"] = NOTION, AIRTABLE
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)

        import leadsync
        members = leadsync.read_notion(emu.notion.sample_ids["members"], table="members",
                                       base_url=emu.url, progress=False)
        print("MARK notion rows", len(members))
        members = leadsync.read_airtable(emu.airtable.sample_base_id, "Members",
                                         canonical="members", endpoint_url=emu.url,
                                         progress=False)
        print("MARK airtable rows", len(members))
        # What the review saw: records of child loggers carrying the token, which a
        # filter on their parents never sees, and an exception text quoting it.
        for name in ("leadsync.connectors.notion", "leadsync.connectors.airtable",
                     "urllib3.connectionpool", "httpcore.http11", "notion_client",
                     "someone.elses.library"):
            logging.getLogger(name).debug("MARK %s Authorization: Bearer %s", name, NOTION)
            logging.getLogger(name).warning("MARK %s token=" + AIRTABLE, name)
        try:
            raise RuntimeError(f"Illegal header value b'Bearer {NOTION}'")
        except RuntimeError:
            logging.getLogger("leadsync.connectors.notion").exception("MARK exception")
        logging.getLogger("urllib3.connectionpool").debug("MARK stack", stack_info=True)
''')


def test_a_notebook_user_at_debug_never_sees_the_token(tmp_path: Path) -> None:
    notion, airtable = "ntn_CANARYnotebook0123456789", "patCANARYnotebook0123.456789"
    script = tmp_path / "notebook.py"
    script.write_text(NOTEBOOK)
    done = subprocess.run([sys.executable, str(script), notion, airtable], capture_output=True,
                          text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if "TOKEN" not in k})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "MARK notion rows 6" in output
    assert "MARK airtable rows 6" in output
    assert "DEBUG:urllib3.connectionpool" in output  # the HTTP libraries did log
    assert output.count("MARK ") >= 15  # every deliberate record was printed...
    assert "Bearer ****" in output
    assert "Illegal header value" in output
    assert "CANARY" not in output  # ...and none carried the token


# ---------------------------------------------------------------------------
# 4. Files: reports and stores owner-only


@pytest.mark.parametrize("kind", ["notion"])  # the store does not depend on the service
def test_an_existing_store_others_can_read_is_made_owner_only(workspace: Workspace) -> None:
    config = workspace.write_config()
    assert run_leadsync("-c", str(config), "sync", env=workspace.env).returncode == 0
    store = workspace.directory / "leadsync.db"
    files = [p for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm")) if p.exists()]
    for path in files:
        path.chmod(0o644)
    done = run_leadsync("-c", str(config), "sync", env=workspace.env)
    assert done.returncode == 0, done.stderr
    for path in files:
        assert mode(path) == 0o600, path
        assert f"WARNING leadsync.store: {path} was readable by other users (mode 644); " \
               "made it owner-only (0600)" in done.stderr
    again = run_leadsync("-c", str(config), "sync", env=workspace.env)
    assert "readable by other users" not in again.stderr  # said once, when it was so


def test_the_demo_report_is_owner_only(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "report.md").write_text("an older report")
    (out / "report.md").chmod(0o644)
    done = run_leadsync("demo", "--fast", "--members", "8", "--out", str(out), env={})
    assert done.returncode == 0, done.stderr
    assert mode(out / "report.md") == 0o600
    assert "Time-zone representation" in (out / "report.md").read_text()
    assert not list(out.glob(".report.md.*"))  # no temporary file left behind


@pytest.mark.parametrize("kind", ["notion"])
def test_leadsync_report_writes_every_file_owner_only(workspace: Workspace) -> None:
    config = workspace.write_config()
    assert run_leadsync("-c", str(config), "sync", env=workspace.env).returncode == 0
    out = workspace.directory / "report"
    out.mkdir()
    for name in ("report.md", "report.html", "chart-ninebox.png"):  # older, readable by all
        (out / name).write_text("an older report")
        (out / name).chmod(0o644)
    done = run_leadsync("-c", str(config), "report", "--month", "2026-10", "--out", str(out),
                        env=workspace.env)
    assert done.returncode == 0, done.stderr
    files = sorted(p for p in out.iterdir())
    assert {"report.md", "report.html"} <= {p.name for p in files}
    assert any(p.name.startswith("chart-") for p in files)
    for path in files:
        assert mode(path) == 0o600, path
        assert path.read_bytes() != b"an older report", path


def test_report_files_replace_whole_and_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o644)
    write_file(target, b"<p>new</p>")
    assert target.read_text() == "<p>new</p>"
    assert mode(target) == 0o600
    write_file(tmp_path / "chart.png", b"\x89PNG")
    assert mode(tmp_path / "chart.png") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png", "report.html"]


# ---------------------------------------------------------------------------
# 6. Messages that name the right thing


@pytest.mark.parametrize("kind", ["airtable"])
def test_a_store_in_a_missing_folder_names_the_folder(workspace: Workspace) -> None:
    missing = workspace.directory / "no-such-folder"
    config = workspace.write_config(store=str(missing / "leadsync.db"))
    done = run_leadsync("-c", str(config), "sync", env=workspace.env)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"the folder {missing} does not exist" in line
    assert ".lock" not in line
    assert not missing.exists()


def test_emulator_serve_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_leadsync("emulator", "serve", "--port", str(port), "--members", "5",
                            env={}, timeout=120)
    assert done.returncode == 1, done.stderr
    line = one_line(done.stderr)
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "--port 0" in line


def test_emulator_serve_refuses_a_port_out_of_range() -> None:
    done = run_leadsync("emulator", "serve", "--port", "70000", env={}, timeout=120)
    assert done.returncode == 2
    assert "70000" in done.stderr
    assert "internal error" not in done.stderr


# ---------------------------------------------------------------------------
# 7. Lone surrogates are refused like the real APIs do, and the table stays readable


def test_a_lone_surrogate_is_refused_and_the_sync_goes_on(workspace: Workspace) -> None:
    emu = workspace.emu
    if workspace.kind == "notion":
        data_source = emu.notion.data_source_ids["signals"]
        url, headers = f"{emu.url}/v1/pages", {
            "Authorization": f"Bearer {emu.notion_token}", "Notion-Version": "2025-09-03"}
        body = ('{"parent": {"data_source_id": "DS"}, "properties": {"Summary": {"title": '
                '[{"text": {"content": "x\\ud800y"}}]}}}').replace("DS", data_source)
    else:
        base, table = emu.airtable.sample_base_id, emu.airtable.sample_table_ids["signals"]
        url, headers = f"{emu.url}/v0/{base}/{table}", {
            "Authorization": f"Bearer {emu.airtable_token}"}
        body = '{"records": [{"fields": {"Summary": "x\\udc00y"}}]}'
    headers["Content-Type"] = "application/json"
    before = workspace.live_ids("signals")
    not_utf8 = body.encode().replace(b"\\ud800", b"\xff").replace(b"\\udc00", b"\xff")
    for payload in (body.encode(), not_utf8):
        answer = httpx.post(url, content=payload, headers=headers, timeout=30)
        assert answer.status_code == 400, answer.text
    assert workspace.live_ids("signals") == before  # nothing was stored
    config = workspace.write_config()
    done = run_leadsync("-c", str(config), "sync", env=workspace.env)
    assert done.returncode == 0, done.stderr
