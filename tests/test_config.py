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


# ---------------------------------------------------------------------------
# Config that used to escape the one-line rule (issue 15, defect 5): each is refused
# when the file is loaded, in one line naming the key, exit 2, for `check` and `sync`.


def _cli(path: Path, command: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from leadsync.cli import main

    result = CliRunner().invoke(main, ["--config", str(path), command],
                                env={"NOTION_TOKEN": "ntn_config_test_token_0"})
    return result.exit_code, result.stderr


#: Keys naming where a table or the report lives: `leadsync check` loads them as written
#: and names a malformed one as one of its findings (stdout), beside the others.
LOCATION_KEYS = ("notion_database", "notion_data_source", "airtable_base",
                 "notion_parent_page")


def _check_finding(path: Path, key: str) -> str:
    """`leadsync check` on a config whose location ``key`` is malformed: exit 2 before any
    request, one problem line naming the key, no traceback, the token never shown."""
    from click.testing import CliRunner

    from leadsync.cli import main

    result = CliRunner().invoke(main, ["--config", str(path), "check"],
                                env={"NOTION_TOKEN": "ntn_config_test_token_0",
                                     "AIRTABLE_TOKEN": "patConfigTest.0"})
    assert result.exit_code == 2, result.output
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem")]
    assert len(problems) == 1, result.stdout
    assert key in problems[0], result.stdout
    assert "Fix:" in problems[0]
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert "ntn_config_test_token_0" not in result.output
    assert "patConfigTest.0" not in result.output
    return problems[0]


def _one_config_error(code: int, stderr: str, key: str) -> str:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("leadsync: error: "), stderr
    assert "internal error" not in stderr
    assert "Traceback" not in stderr
    assert key in lines[0], stderr
    return lines[0]


BAD_VALUES = [
    ('notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"', 'notion_database = "not an id!"',
     "tables.signals.notion_database"),
    ('notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
     'notion_database = "javascript:alert(1)"', "tables.signals.notion_database"),
    ('notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
     'notion_database = "ftp://www.notion.so/1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
     "tables.signals.notion_database"),
    ('kind = "notion"', 'kind = "notion"\nnotion_base_url = "not a url"',
     "workspace.notion_base_url"),
    ('kind = "notion"', 'kind = "notion"\nnotion_base_url = "javascript:alert(1)"',
     "workspace.notion_base_url"),
    ('kind = "notion"', 'kind = "notion"\nnotion_base_url = "https://user:pw@proxy.example"',
     "workspace.notion_base_url"),
    ('kind = "notion"', 'kind = "notion"\nairtable_endpoint_url = "http://"',
     "workspace.airtable_endpoint_url"),
    ('path = "leadsync.db"', 'path = "a\\u0000b"', "store.path"),
    ('path = "leadsync.db"', 'path = ""', "store.path"),
    ('path = "leadsync.db"', 'path = "a\\nb.db"', "store.path"),
    ('[store]', '[sync]\nmax_wait_seconds = inf\n\n[store]', "sync.max_wait_seconds"),
    ('[store]', '[sync]\nmax_wait_seconds = nan\n\n[store]', "sync.max_wait_seconds"),
    ('[store]', '[sync]\nfull_every_days = 9223372036854775807\n\n[store]',
     "sync.full_every_days"),
    ('[store]', '[limits]\nnotion_rps = inf\n\n[store]', "limits.notion_rps"),
    ("Low = 1,", "Low = -1,", "scoring.impact_weights.Low"),
    ("High = 9", "High = inf", "scoring.impact_weights.High"),
    ("half_life_days = 90", "half_life_days = inf", "scoring.half_life_days"),
    ('fields = { name = "Name"', 'fields = { name = ""', "tables.members.fields.name"),
    ('fields = { name = "Name"', 'fields = { name = "Na\\nme"', "tables.members.fields.name"),
]


@pytest.mark.parametrize(("old", "new", "key"), BAD_VALUES,
                         ids=[f"{key}={new.split('=', 1)[-1].strip()[:30]}"
                              for _, new, key in BAD_VALUES])
@pytest.mark.parametrize("command", ["check", "sync"])
def test_a_bad_value_is_refused_at_load_naming_the_key(
        tmp_path: Path, old: str, new: str, key: str, command: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    if command == "check" and key.rsplit(".", 1)[-1] in LOCATION_KEYS:
        _check_finding(path, key)
    else:
        line = _one_config_error(*_cli(path, command), key)
        assert str(path) in line
    assert not (tmp_path / "leadsync.db").exists()


def test_airtable_ids_are_checked_at_load(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "notion"', 'kind = "airtable"').replace(
        'notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
        'airtable_base = "nope"\nairtable_table = "tblSignals0000000"').replace(
        'notion_database = "9a8b7c6d5e4f30219a8b7c6d5e4f3021"',
        'airtable_base = "appMembers0000000"\nairtable_table = "Members"')
    line = _one_config_error(*_cli(write(tmp_path, text), "sync"),
                             "tables.signals.airtable_base")
    assert "'nope'" in line
    assert "'nope'" in _check_finding(write(tmp_path, text), "tables.signals.airtable_base")
    good = load_config(write(tmp_path, text.replace('"nope"', '"appSignals0000000"')))
    assert good.tables["members"].airtable_table == "Members"


def test_ids_and_urls_that_are_fine_load(tmp_path: Path) -> None:
    text = GOOD.replace(
        '"1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
        '"https://www.notion.so/acme/Signals-1f2e3d4c5b6a79881f2e3d4c5b6a7988?v=0123"').replace(
        '"9a8b7c6d5e4f30219a8b7c6d5e4f3021"', '"9a8b7c6d-5e4f-3021-9a8b-7c6d5e4f3021"').replace(
        'kind = "notion"', 'kind = "notion"\nnotion_base_url = "http://127.0.0.1:8765"')
    config = load_config(write(tmp_path, text))
    assert config.workspace.notion_base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize("command", ["check", "sync"])
def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path, command: str) -> None:
    path = tmp_path / "leadsync.toml"
    path.write_bytes(GOOD.replace("[store]", "# caf\xe9\n[store]").encode("latin-1"))
    line = _one_config_error(*_cli(path, command), str(path))
    assert "not UTF-8 text" in line
    assert "on line 13" in line


@pytest.mark.parametrize("command", ["check", "sync"])
def test_deeply_nested_arrays_are_one_line(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, GOOD + "\n[extra]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    _one_config_error(*_cli(path, command), str(path))


def test_an_empty_store_path_is_a_config_error_not_a_failure(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store.path: .*empty"):
        load_config(write(tmp_path, GOOD.replace('path = "leadsync.db"', 'path = ""')))


def test_a_key_with_a_line_break_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[store]", '[store]\n"x\\ny" = 1'))
    line = _one_config_error(*_cli(path, "check"), "store.")
    assert '"x\\ny"' in line


def test_a_huge_value_is_not_echoed_whole(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("half_life_days = 90",
                                        'half_life_days = "' + "9" * 5000 + '"'))
    line = _one_config_error(*_cli(path, "check"), "scoring.half_life_days")
    assert len(line) < 300


def test_a_number_too_long_to_read_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("half_life_days = 90", "half_life_days = " + "9" * 5000))
    line = _one_config_error(*_cli(path, "check"), str(path))
    assert len(line) < 300


# ---------------------------------------------------------------------------
# A token that cannot be a header value (issue 15, defect 2): a config error that
# never echoes it, raised where the token is read, before any client exists.


@pytest.mark.parametrize(("token", "what"), [
    ("ntn_abc\ndef0123456789", "a line break"),
    ("ntn_abc\r\ndef0123456789", "a line break"),
    ("ntn_abc def0123456789", "a space"),
    ("ntn_abc\tdef0123456789", "a tab"),
    ("ntn_abcé0123456789", "not ASCII"),
    ("ntn_abc\u200bdef0123456789", "not ASCII"),
    ("ntn_abc\x00def0123456789", "a control character"),
])
def test_a_token_that_cannot_be_a_header_is_a_config_error(
        tmp_path: Path, token: str, what: str) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="NOTION_TOKEN") as info:
        config.token({"NOTION_TOKEN": token})
    message = str(info.value)
    assert what in message
    assert "\n" not in message
    for piece in ("abc", "def0123456789", "0123456789"):
        assert piece not in message


def test_a_token_with_surrounding_whitespace_is_still_fine(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.token({"NOTION_TOKEN": "  ntn_abc0123456789\n"}).reveal() == "ntn_abc0123456789"
