"""leadsync.toml: one clear error naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.config import load_config, parse_config
from leadsync.errors import ConfigError

GOOD = """
[workspace]
kind = "notion"

[tables.signals]
notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
fields = { member_id = "Team Member", signal_type = "Signal Type", evidence = "Evidence", \
date = "Date", impact = "Impact" }

[tables.members]
notion_database = "9a8b7c6d5e4f30219a8b7c6d5e4f3021"
fields = { name = "Name", timezone = "Time zone", is_leader = "Leader" }

[store]
path = "leadsync.db"

[scoring]
impact_weights = { Low = 1, Medium = 3, High = 9 }
half_life_days = 90
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leadsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_architecture_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.workspace.kind == "notion"
    assert config.tables["signals"].fields["member_id"] == "Team Member"
    assert config.scoring.impact_weights == {"Low": 1.0, "Medium": 3.0, "High": 9.0}
    assert config.scoring.half_life_days == 90.0
    assert config.limits.notion_rps == 3.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('kind = "notion"', 'kind = "notion"\ncolour = "blue"'),
         r"leadsync.toml: workspace.colour: unknown key"),
        (lambda t: t.replace("fields = { name", "feilds = { name"),
         r"tables.members.feilds: unknown key"),
        (lambda t: t.replace('path = "leadsync.db"', "path = 42"),
         r"store.path: input should be a valid string \(got 42\)"),
        (lambda t: t.replace('kind = "notion"', 'kind = "coda"'),
         r"workspace.kind: input should be 'notion' or 'airtable'"),
        (lambda t: t.replace("half_life_days = 90", 'half_life_days = "ninety"'),
         r"scoring.half_life_days"),
        (lambda t: t.replace("member_id = ", "membr = "),
         r"tables.signals.fields.membr: not a column of signals"),
        (lambda t: t.replace("[tables.members]", "[tables.mentors]"),
         r"tables.mentors: unknown table"),
        (lambda t: t.replace('notion_database = "9a8b7c6d5e4f30219a8b7c6d5e4f3021"\n', ""),
         r"tables.members.notion_database: missing"),
        (lambda t: t.replace("Low = 1,", "Huge = 1,"),
         r"scoring.impact_weights: unknown impact level\(s\) Huge"),
    ],
)
def test_each_mistake_gets_one_error_naming_file_and_key(
    tmp_path: Path, edit: object, message: str
) -> None:
    path = write(tmp_path, edit(GOOD))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; run `leadsync init`"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[workspace\nkind=1"))


def test_several_problems_are_listed_together() -> None:
    with pytest.raises(ConfigError, match="3 problems") as info:
        parse_config({"workspace": {"kind": "airtable"}, "tables": {"signals": {}}}, "f.toml")
    text = str(info.value)
    assert "tables.signals.airtable_base: missing" in text
    assert "tables.members: missing" in text


def test_token_comes_from_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="NOTION_TOKEN is not set"):
        config.token({})
    token = config.token({"NOTION_TOKEN": "ntn_not_a_real_token_123"})
    assert token.reveal() == "ntn_not_a_real_token_123"
    for text in (repr(token), str(token), repr(config)):
        assert "ntn_not_a_real" not in text
