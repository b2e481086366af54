"""Config fuzzing: malformed ``leadsync.toml`` files are one clear error, exit 2.

Generated files come three ways: a good config with its values swapped for
anything TOML can hold (wrong types, huge numbers, infinities, odd and endless
strings, nested arrays and tables), unknown keys and sections added or
required ones dropped; the text of a good config with random bytes edited (so
neither UTF-8 nor TOML); and a hand-written list of what people and editors do
to files. ``load_config`` must return a config or raise
:class:`~leadsync.errors.ConfigError`, nothing else; a refused file through
``leadsync check`` and ``leadsync sync`` is exit 2 with one ``leadsync: error:``
line (a list of several problems indents one line per problem), never an
internal error, never a traceback.

Configs that load are not run through the command: they would reach for the
network. Quick: 60 generated files and the hand-written ones; soak: generated
files until ``LEADSYNC_SOAK_SECONDS``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.cli import main
from leadsync.config import load_config
from leadsync.errors import ConfigError

from .kit import SOAK_SECONDS, Figures, soak_timeout

BASE: dict[str, Any] = {
    "workspace": {"kind": "notion", "notion_base_url": "http://127.0.0.1:9"},
    "tables": {
        "signals": {"notion_database": "1f2e3d4c5b6a79881f2e3d4c5b6a7988",
                    "fields": {"member_id": "Team Member", "date": "Date"}},
        "members": {"notion_database": "9a8b7c6d5e4f30219a8b7c6d5e4f3021",
                    "fields": {"name": "Name", "timezone": "Time zone"}},
    },
    "store": {"path": "leadsync.db"},
    "sync": {"full_every_days": 7, "overlap_seconds": 120, "max_wait_seconds": 900.0},
    "limits": {"notion_rps": 3.0, "airtable_rps": 5.0},
    "report": {"notion_parent_page": "0f0e0d0c0b0a49f8a7b6c5d4e3f2a1b0"},
    "scoring": {"impact_weights": {"Low": 1, "Medium": 3, "High": 9}, "half_life_days": 90},
}


# ---------------------------------------------------------------------------
# Writing TOML (tests only: generated data, every value a TOML value)


def _key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines += [f"{_key(k)} = {_value(v)}" for k, v in scalars.items()]
    for section, body in data.items():
        if not isinstance(body, dict):
            continue
        if section == "tables" and all(isinstance(v, dict) for v in body.values()):
            for name, table in body.items():
                lines.append(f"[tables.{_key(name)}]")
                lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
            continue
        lines.append(f"[{_key(section)}]")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Generated configs


odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "a\nb", "javascript:alert(1)", "not an id!", "nope",
                     "http://", "https://user:pw@h.example", "~nobody_here/x.db", "/",
                     "../../etc/passwd", "a" * 5000, "\u202e", "PASTE-THE-DATABASE-URL-OR-ID",
                     "appXXXXXXXXXXXXXX", "ftp://x/1f2e3d4c5b6a79881f2e3d4c5b6a7988"]),
)
scalar = st.one_of(st.none().map(lambda _: "null"), st.booleans(),
                   st.integers(min_value=-(2**63), max_value=2**63 - 1),
                   st.sampled_from([10**4000, -1, 0, 2**64]),
                   st.floats(), odd_text)
anything = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(odd_text, inner, max_size=3)), max_leaves=6)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The good config with some values replaced, keys added, sections dropped."""
    data = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from([*sorted(data), "extra"]))
        what = draw(st.sampled_from(["value", "value", "key", "drop", "section"]))
        body = data.get(section)
        if what == "drop" and section in data:
            del data[section]
        elif what == "section":
            data[section] = draw(anything)
        elif isinstance(body, dict) and body:
            key = draw(st.sampled_from(sorted(body)))
            if section == "tables" and isinstance(body[key], dict) and body[key]:
                inner = body[key]
                field = draw(st.sampled_from(sorted(inner)))
                inner[field] = draw(anything)
            elif what == "key":
                body[draw(odd_text)] = draw(anything)
            else:
                body[key] = draw(anything)
    return data


def mangle(text: str, edits: list[tuple[int, bytes]]) -> bytes:
    raw = bytearray(text.encode())
    for position, chunk in edits:
        at = position % (len(raw) + 1)
        raw[at:at + len(chunk) % 3] = chunk
    return bytes(raw)


byte_edits = st.lists(st.tuples(st.integers(0, 10_000),
                                st.binary(min_size=0, max_size=4)), min_size=1, max_size=5)


# ---------------------------------------------------------------------------
# The checks


def assert_refused_cleanly(path: Path, command: str) -> str:
    result = CliRunner().invoke(main, ["-c", str(path), command],
                                env={"NOTION_TOKEN": "ntn_fuzz_token_0123456789",
                                     "AIRTABLE_TOKEN": "patFuzz.0123456789"})
    stderr = result.stderr
    assert result.exit_code == 2, stderr
    assert "internal error" not in stderr
    assert "Traceback" not in stderr
    lines = stderr.rstrip("\n").split("\n")
    errors = [i for i, line in enumerate(lines) if line.startswith("leadsync: error: ")]
    if command == "check" and not errors:
        # check loads workspace locations as written and names a malformed one among its
        # findings (stdout, "problem" lines, then the summary), the workspace not asked
        out = result.stdout
        assert "Traceback" not in out, out
        assert "internal error" not in out, out
        problems = [line for line in out.splitlines() if line.startswith("problem")]
        assert problems, out
        assert "Fix:" in problems[0], out
        assert out.rstrip().splitlines()[-1].startswith("summary:"), out
        assert "ntn_fuzz_token_0123456789" not in out
        assert "patFuzz.0123456789" not in out
        return problems[0]
    assert len(errors) == 1, stderr
    first = errors[0]
    extra = lines[first + 1:]
    if extra:  # "N problems:" then one indented line per problem
        assert lines[first].endswith(f"{len(extra)} problems:"), stderr
        assert all(line.startswith("  ") and line.strip() for line in extra), stderr
    return lines[first]


class Tally:
    def __init__(self) -> None:
        self.generated = self.refused = self.loaded = 0


def check_file(path: Path, tally: Tally, *, cli: bool) -> None:
    tally.generated += 1
    try:
        load_config(path)
    except ConfigError:
        tally.refused += 1
        if cli:
            assert_refused_cleanly(path, "check")
    else:
        tally.loaded += 1


def fuzz(tmp_path: Path, tally: Tally, *, examples: int, derandomize: bool) -> None:
    path = tmp_path / "leadsync.toml"
    good = to_toml(BASE)

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(mutated().map(to_toml).map(str.encode), byte_edits.map(
        lambda edits: mangle(good, edits))), st.booleans())
    def one(raw: bytes, through_cli: bool) -> None:
        path.write_bytes(raw)
        check_file(path, tally, cli=through_cli)

    one()


def test_generated_configs_load_or_are_refused_in_one_clean_error(
        tmp_path: Path, figures: Figures) -> None:
    assert load_config_text(tmp_path, to_toml(BASE)) == "loaded"  # the base is good
    tally = Tally()
    fuzz(tmp_path, tally, examples=60, derandomize=True)
    figures.add("config_fuzz", configs_generated=tally.generated,
                configs_refused=tally.refused, configs_loaded=tally.loaded, internal_errors=0)
    assert tally.refused > tally.generated // 3  # most mutations are mistakes


@pytest.mark.soak
@soak_timeout()
def test_config_fuzz_soak(tmp_path: Path, figures: Figures) -> None:
    tally = Tally()
    deadline = time.monotonic() + SOAK_SECONDS
    while time.monotonic() < deadline:
        fuzz(tmp_path, tally, examples=200, derandomize=False)
    figures.add("config_fuzz", configs_generated=tally.generated,
                configs_refused=tally.refused, configs_loaded=tally.loaded, internal_errors=0)


def load_config_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "probe.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigError:
        return "refused"
    return "loaded"


# ---------------------------------------------------------------------------
# What people and editors do to files


GOOD = to_toml(BASE)
HAND_WRITTEN: dict[str, bytes] = {
    "empty file": b"",
    "only a comment": b"# leadsync\n",
    "a byte order mark": b"\xef\xbb\xbf" + GOOD.encode(),
    "Windows line ends and a stray CR": GOOD.replace("\n", "\r\n").encode() + b"\r",
    "Latin-1 bytes": GOOD.replace("leadsync.db", "caf\xe9.db").encode("latin-1"),
    "UTF-16": GOOD.encode("utf-16"),
    "NUL bytes": GOOD.encode().replace(b"[store]", b"[st\x00ore]"),
    "binary junk": bytes(range(256)) * 8,
    "a duplicate key": GOOD.replace('kind = "notion"', 'kind = "notion"\nkind = "airtable"')
    .encode(),
    "a section twice": (GOOD + '\n[store]\npath = "x.db"\n').encode(),
    "workspace as an array of tables": GOOD.replace("[workspace]", "[[workspace]]").encode(),
    "tables as a number": b'tables = 5\n[workspace]\nkind = "notion"\n',
    "fields as a string": GOOD.replace('fields = { member_id = "Team Member", date = "Date" }',
                                       'fields = "Team Member"').encode(),
    "5,000 nested arrays": (GOOD + "x = " + "[" * 5000 + "]" * 5000 + "\n").encode(),
    "5,000 nested inline tables": (GOOD + "y = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n")
    .encode(),
    "a number of 5,000 digits": GOOD.replace("half_life_days = 90",
                                             "half_life_days = " + "9" * 5000).encode(),
    "a 2 MiB file": (GOOD + "# " + "x" * (2 << 20) + "\n").encode(),
    "a key 10,000 characters long": (GOOD + '"' + "k" * 10_000 + '" = 1\n').encode(),
    "an unterminated string": GOOD.replace('path = "leadsync.db"', 'path = "leadsync.db').encode(),
    "a surrogate escape": GOOD.replace('path = "leadsync.db"', 'path = "\\ud800.db"').encode(),
    "a date where a path goes": GOOD.replace('path = "leadsync.db"', "path = 1979-05-27")
    .encode(),
    "kind in capitals": GOOD.replace('kind = "notion"', 'kind = "Notion"').encode(),
    "no tables at all": b'[workspace]\nkind = "notion"\n',
    "a home that does not exist": GOOD.replace('path = "leadsync.db"',
                                               'path = "~no_such_user_xyz/leadsync.db"').encode(),
    "a negative overlap": GOOD.replace("overlap_seconds = 120", "overlap_seconds = -5").encode(),
    "a rate of zero": GOOD.replace("notion_rps = 3.0", "notion_rps = 0").encode(),
    "a rate of -inf": GOOD.replace("notion_rps = 3.0", "notion_rps = -inf").encode(),
    "an impact level in lower case": GOOD.replace("Low = 1", "low = 1").encode(),
    "a boolean impact weight": GOOD.replace("Low = 1", "Low = true").encode(),
    "a table named with a line break": (GOOD + '[tables."sig\\nnals"]\nnotion_database = '
                                        '"1f2e3d4c5b6a79881f2e3d4c5b6a7988"\n').encode(),
    "an Airtable base in a Notion workspace only": GOOD.replace(
        'notion_database = "1f2e3d4c5b6a79881f2e3d4c5b6a7988"',
        'airtable_base = "appAAAAAAAAAAAAAA"').encode(),
    "a report page that is not an id": GOOD.replace(
        'notion_parent_page = "0f0e0d0c0b0a49f8a7b6c5d4e3f2a1b0"',
        'notion_parent_page = "<script>"').encode(),
}


@pytest.mark.parametrize("case", sorted(HAND_WRITTEN))
@pytest.mark.parametrize("command", ["check", "sync"])
def test_hand_written_mistakes_are_one_clean_error(tmp_path: Path, case: str,
                                                   command: str) -> None:
    path = tmp_path / "leadsync.toml"
    path.write_bytes(HAND_WRITTEN[case])
    with pytest.raises(ConfigError):
        load_config(path)
    assert_refused_cleanly(path, command)
    assert not (tmp_path / "leadsync.db").exists()


@pytest.mark.parametrize("command", ["check", "sync"])
def test_a_config_that_is_a_folder_or_missing_is_one_clean_error(
        tmp_path: Path, command: str) -> None:
    (tmp_path / "folder.toml").mkdir()
    for path in (tmp_path / "folder.toml", tmp_path / "missing.toml"):
        assert str(path) in assert_refused_cleanly(path, command)


def test_init_into_a_folder_or_a_missing_folder_is_one_clean_error(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "no-such-folder" / "leadsync.toml"):
        result = CliRunner().invoke(main, ["-c", str(path), "init", "--force"])
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith(f"leadsync: error: {path}: ")
        assert "internal error" not in result.stderr
