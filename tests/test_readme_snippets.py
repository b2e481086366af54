"""The README's notebook snippets run as written against the emulator, with what
``leadsync emulator serve`` tells a user to export, and nothing else."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.config import parse_config
from leadsync.emulator import Emulator, Limits, SampleOrg
from leadsync.sync import run_sync

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end if end >= 0 else None]


def snippets() -> list[tuple[str, str]]:
    """(where, code): every block of "In a notebook", the store's, the report's."""
    found = [("In a notebook", code) for code in BLOCK.findall(section("## In a notebook"))]
    store = section("**Reading the store from a notebook**")
    found.append(("Reading the store", BLOCK.findall(store)[0]))
    report = section("**In a notebook:**")
    found.append(("The report in a notebook", BLOCK.findall(report)[0]))
    return found


@pytest.fixture(scope="module")
def served() -> Iterator[Emulator]:
    org = SampleOrg.generate(seed=0, members=12)
    with Emulator(seed=0, limits=Limits.unlimited(), sample=org) as emu:
        yield emu


def test_the_readme_has_notebook_snippets() -> None:
    assert len(snippets()) >= 3


@pytest.mark.parametrize(("where", "code"), snippets(), ids=lambda v: str(v)[:24])
def test_a_notebook_snippet_runs_as_written(served: Emulator, where: str, code: str,
                                           tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"NOTION_TOKEN": served.notion_token, "NOTION_BASE_URL": served.url,
                        "AIRTABLE_TOKEN": served.airtable_token,
                        "AIRTABLE_ENDPOINT_URL": served.url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    if "open_store" in code:  # the store the nightly sync keeps, here in the working dir
        config = parse_config({**tomllib.loads(served.config_toml("notion")),
                               "limits": {"notion_rps": 1000.0}}, source="<test>")
        run_sync(config, progress=False)
        assert (tmp_path / "leadsync.db").exists()
    exec(compile(code, f"README.md ({where})", "exec"), {"__name__": "__readme__"})
