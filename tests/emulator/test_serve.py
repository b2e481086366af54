"""``leadsync emulator serve`` from a shell: what it prints, the config it writes, a busy port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx

from leadsync.config import WorkspaceConfig


def serve(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints every thread's stack (see stop)
    # Ctrl-C must reach it as it does in a terminal, even when this suite runs as a
    # background job (`cmd &` in a script), whose children start with SIGINT ignored.
    return subprocess.Popen([sys.executable, "-m", "leadsync", "emulator", "serve", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_sigint_as_in_a_terminal)


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until_ready(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Ctrl-C stops it."):
            return lines
    raise AssertionError(f"serve ended early: {lines} {process.stderr and process.stderr.read()}")


def stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops it; a server still running 60 s later fails the test with
    its threads' stacks."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"serve did not stop on Ctrl-C; its threads:\n{err}") from None
    finally:
        if process.poll() is None:
            process.kill()


def test_empty_prints_the_root_page_and_the_base_and_writes_a_config(tmp_path: Path) -> None:
    process = serve("--empty", "--port", "0", "--write-config", "leadsync.toml",
                    "--kind", "airtable", cwd=tmp_path)
    try:
        lines = read_until_ready(process)
        text = "\n".join(lines)
        url = lines[0].split()[2]
        assert url.startswith("http://127.0.0.1:")
        assert f"NOTION_BASE_URL={url}" in text
        assert f"AIRTABLE_ENDPOINT_URL={url}" in text
        where = next(line for line in lines if line.startswith("empty workspaces:"))
        page_id = where.split("root page ")[1].split()[0]
        base_id = where.split("Airtable base ")[1].split()[0]
        assert base_id.startswith("app")

        # Both are real: the root page answers, and the base is in the account, empty.
        headers = {"Authorization": "Bearer ntn_leadsync_emulator",
                   "Notion-Version": "2025-09-03"}
        page = httpx.get(f"{url}/v1/pages/{page_id}", headers=headers).json()
        assert page["object"] == "page"
        bases = httpx.get(f"{url}/v0/meta/bases",
                          headers={"Authorization": "Bearer patLeadsyncEmulator.local"}).json()
        assert [b["id"] for b in bases["bases"]] == [base_id]
        tables = httpx.get(f"{url}/v0/meta/bases/{base_id}/tables",
                           headers={"Authorization": "Bearer patLeadsyncEmulator.local"}).json()
        assert tables["tables"] == []

        config = tomllib.loads((tmp_path / "leadsync.toml").read_text())
        workspace = WorkspaceConfig.model_validate(config["workspace"])
        assert workspace.kind == "airtable"
        assert workspace.airtable_endpoint_url == url
        assert workspace.notion_base_url == url  # both answer there: either bootstrap works
        assert "tables" not in config  # bootstrap completes it
        assert f"leadsync bootstrap --airtable {base_id}" in \
            (tmp_path / "leadsync.toml").read_text()
    finally:
        stop(process)


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = serve("--empty", "--port", str(port), cwd=tmp_path)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip().splitlines() == [
        f"leadsync: error: port {port} on 127.0.0.1 is in use; pass --port with another one "
        "(--port 0 picks a free port)"]
    assert out == ""
