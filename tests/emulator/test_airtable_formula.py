"""The Airtable formula engine: parsing, operators, functions, truthiness, errors."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from pyairtable import formulas as F

from leadsync.emulator.airtable_formula import (
    ERROR,
    FormulaSyntaxError,
    compile_formula,
    truthy,
)

UTC = dt.UTC
CREATED = dt.datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
EDITED = dt.datetime(2024, 3, 5, 12, 30, tzinfo=UTC)


class FakeScope:
    """A record with fields by id; names map to ids ``f_<name>``."""

    def __init__(self, fields: dict[str, Any], field_times: dict[str, dt.datetime] | None = None,
                 values: list[Any] | None = None):
        self.fields = fields
        self.field_times = field_times or {}
        self._values = values or []

    def field(self, field_id: str) -> Any:
        return self.fields.get(field_id[2:])

    def record_id(self) -> str:
        return "recABCDEFGHIJKLMN"

    def created_time(self) -> dt.datetime:
        return CREATED

    def last_modified_time(self, field_ids: tuple[str, ...]) -> dt.datetime | None:
        if not field_ids:
            return EDITED
        return max(self.field_times.get(i[2:], CREATED) for i in field_ids)

    def now(self) -> dt.datetime:
        return dt.datetime(2024, 6, 1, tzinfo=UTC)

    def values(self) -> list[Any]:
        return list(self._values)


KNOWN = {"Name", "Age", "Done", "When", "Day", "Tags", "Notes", "Empty", "a}b", "Zero"}


def resolve(key: str) -> str | None:
    return f"f_{key}" if key in KNOWN else None


RECORD = {
    "Name": "O'Brien \"x\" \\y", "Age": 42, "Done": True, "Zero": 0,
    "When": dt.datetime(2024, 2, 1, 10, 0, tzinfo=UTC),
    "Day": dt.datetime(2024, 2, 1, tzinfo=UTC), "Tags": ["a", "b"], "Notes": "", "Empty": None,
    "a}b": "brace",
}


def run(source: str, fields: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    formula = compile_formula(source, resolve, allow_values="values" in kwargs)
    return formula.evaluate(FakeScope(RECORD if fields is None else fields, **kwargs))


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("-2 + 5", 3),
    ("7 / 2", 3.5),
    ("'a' & 1 + 1", "a2"),
    ("1 + 1 = 2", True),
    ("2 > 1 = TRUE()", True),
    ("\"x\" != 'x'", False),
    ("{Age} >= 42", True),
    ("{Age} < 40", False),
    ("{Age} = '42'", True),
    ("{Name} = 'O\\'Brien \"x\" \\\\y'", True),
    ("{a\\}b}", "brace"),
    ("{Empty} = BLANK()", True),
    ("{Notes} = BLANK()", True),
    ("{Zero} = BLANK()", True),
    ("{Empty} = ''", True),
    ("{Empty} & 'x'", "x"),
    ("IF({Done}, 'yes', 'no')", "yes"),
    ("IF({Empty}, 'yes')", None),
    ("IF(1, 'ok', ERROR())", "ok"),  # only the chosen branch is evaluated
    ("AND({Done}, {Age} > 1, 'x')", True),
    ("OR({Empty}, {Notes}, 0)", False),
    ("XOR(1, 1, 1)", True),
    ("NOT({Notes})", True),
    ("TRUE() & FALSE()", "10"),
    ("true", True),
    ("SWITCH({Age}, 1, 'one', 42, 'answer', 'other')", "answer"),
    ("LEN({Name})", 14),
    ("LOWER('AbC') & UPPER('d') & TRIM('  e ')", "abcDe"),
    ("CONCATENATE('a', 1, TRUE())", "a11"),
    ("FIND('B', 'aBcB')", 2),
    ("FIND('z', 'abc')", 0),
    ("FIND('B', 'aBcB', 3)", 4),
    ("SEARCH('z', 'abc')", None),
    ("LEFT('abcdef', 2) & MID('abcdef', 3, 2) & RIGHT('abcdef', 1)", "abcdf"),
    ("SUBSTITUTE('a-b-c', '-', '+')", "a+b+c"),
    ("VALUE('$1,000.50')", 1000.5),
    ("VALUE('12')", 12),
    ("ARRAYJOIN({Tags}, '|')", "a|b"),
    ("ARRAYJOIN({Tags})", "a, b"),
    ("{Tags} = 'a, b'", True),
    ("RECORD_ID()", "recABCDEFGHIJKLMN"),
    ("ROUND(2.5) + ROUND(-2.5) + ROUND(1.234, 2)", 1.23),
    ("INT(2.7) + ABS(-1) + MOD(7, 3)", 4),
    ("SUM(1, 2, 3) + MAX(4, 9) + MIN(2, 5)", 17),
    ("REGEX_MATCH('pr-123', '^pr-[0-9]+$')", True),
])
def test_expressions(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(("source", "expected"), [
    ("IS_AFTER({When}, DATETIME_PARSE('2024-01-31'))", True),
    ("IS_BEFORE({When}, DATETIME_PARSE('2024-02-01T10:00:00.000Z'))", False),
    ("IS_SAME({When}, DATETIME_PARSE('2024-02-01T23:00:00Z'), 'day')", True),
    ("IS_SAME({When}, DATETIME_PARSE('2024-02-01T10:00:00+00:00'))", True),
    ("{When} = DATETIME_PARSE('2024-02-01T11:00:00+01:00')", True),
    ("{When} > '2024-01-15'", True),
    ("{Day} = '2024-02-01'", True),
    ("DATETIME_DIFF({When}, {Day}, 'hours')", 10),
    ("DATETIME_DIFF({When}, {Day}, 'minutes')", 600),
    ("DATETIME_DIFF({Day}, {When}, 'days')", 0),
    ("DATETIME_DIFF(DATETIME_PARSE('2024-03-31'), DATETIME_PARSE('2024-01-31'), 'months')", 2),
    ("DATETIME_DIFF(DATETIME_PARSE('2024-03-30'), DATETIME_PARSE('2024-01-31'), 'M')", 1),
    ("DATETIME_DIFF({When}, {Day})", 36000),
    ("DATEADD({Day}, 1, 'months') = DATETIME_PARSE('2024-03-01')", True),
    ("DATEADD(DATETIME_PARSE('2024-01-31'), 1, 'month') = DATETIME_PARSE('2024-02-29')", True),
    ("DATEADD({Day}, -2, 'days') = DATETIME_PARSE('2024-01-30')", True),
    ("DATETIME_PARSE('01/02/2024 13:05', 'MM/DD/YYYY HH:mm') = "
     "DATETIME_PARSE('2024-01-02T13:05:00Z')", True),
    ("DATETIME_FORMAT({When}, 'YYYY-MM-DD HH:mm')", "2024-02-01 10:00"),
    ("DATETIME_FORMAT({When})", "2024-02-01T10:00:00.000Z"),
    ("YEAR({When}) * 100 + MONTH({When})", 202402),
    ("CREATED_TIME() < LAST_MODIFIED_TIME()", True),
    ("LAST_MODIFIED_TIME({Name}) = CREATED_TIME()", True),
    ("IS_AFTER({Empty}, {When})", False),
])
def test_dates(source: str, expected: Any) -> None:
    assert run(source) == expected


def test_last_modified_time_of_a_field_uses_its_own_edit_time() -> None:
    formula = compile_formula("LAST_MODIFIED_TIME({Age}, {Name})", resolve)
    when = formula.evaluate(FakeScope(RECORD, field_times={"Age": EDITED}))
    assert when == EDITED


def test_errors_become_error_and_are_falsy() -> None:
    for source in ("1 + 'x'", "ERROR()", "VALUE('x') + DATETIME_PARSE('nope')",
                   "IS_AFTER('not a date', {When})", "MOD(1, 0)"):
        assert run(source) is ERROR, source
    assert run("ISERROR(1 + 'x')") is True
    assert not truthy(ERROR)


def test_division_by_zero_gives_nan_and_infinity() -> None:
    assert math.isnan(run("0 / 0"))
    assert run("1 / 0") == math.inf
    assert not truthy(run("0 / 0"))


def test_truthiness_follows_the_docs() -> None:
    for value in (0, False, "", math.nan, [], None, ERROR):
        assert not truthy(value), value
    for value in (1, -1, "0", "x", ["a"], True, dt.datetime(2024, 1, 1, tzinfo=UTC)):
        assert truthy(value), value


def test_rollup_values_aggregate() -> None:
    values = [3, 4, None, "x"]
    assert run("SUM(values)", values=values) == 7
    assert run("COUNTA(values)", values=values) == 3
    assert run("COUNT(values)", values=values) == 2
    assert run("COUNTALL(values)", values=values) == 4
    assert run("ARRAYJOIN(values, ';')", values=values) == "3;4;x"
    assert math.isnan(run("AVERAGE(values)", values=[]))
    assert run("ARRAYUNIQUE(values)", values=[1, 1, 2]) == [1, 2]


@pytest.mark.parametrize(("source", "message"), [
    ("{Nope} = 1", "Unknown field names: Nope"),
    ("NOPE(1)", "Unknown function names: NOPE"),
    ("1 +", "Invalid formula"),
    ("'unterminated", "Invalid formula"),
    ("{unterminated", "Invalid formula"),
    ("IF(1)", "Wrong number of arguments to IF"),
    ("AND()", "Wrong number of arguments to AND"),
    ("1 2", "Invalid formula"),
    ("values", "Invalid formula"),  # only rollups see values
    ("LAST_MODIFIED_TIME('Name')", "LAST_MODIFIED_TIME"),
    ("", "Invalid formula"),
])
def test_invalid_formulas_are_refused(source: str, message: str) -> None:
    with pytest.raises(FormulaSyntaxError, match=message):
        compile_formula(source, resolve)


def test_field_references_are_rewritten_as_ids() -> None:
    formula = compile_formula("IF({Name} = 'x', {Age}, {a\\}b})", resolve)
    assert formula.source_with_ids == "IF({f_Name} = 'x', {f_Age}, {f_a}b})"
    assert formula.field_ids == ("f_Name", "f_Age", "f_a}b")


def test_what_pyairtable_formulas_emit_parses_and_means_the_same() -> None:
    since = dt.datetime(2024, 1, 1, tzinfo=UTC)
    cases: list[tuple[Any, bool]] = [
        (F.match({"Name": RECORD["Name"], "Age": (">=", 21)}), True),
        (F.match({"Name": "nobody", "Age": 42}, match_any=True), True),
        (F.GTE(F.LAST_MODIFIED_TIME(), since), True),
        (F.IS_AFTER(F.LAST_MODIFIED_TIME(), dt.datetime(2025, 1, 1, tzinfo=UTC)), False),
        (F.OR(F.RECORD_ID().eq("recABCDEFGHIJKLMN"), F.RECORD_ID().eq("rec2")), True),
        (F.Field("Age").gt(5) & F.Field("Done").eq(True), True),
        (F.Field("When").eq(dt.date(2024, 2, 1)), False),
        (F.NOT(F.Field("Done")), False),
        (F.FIND("Brien", F.Field("Name")), True),
        (F.Field("a}b").eq("brace"), True),
    ]
    for formula, expected in cases:
        source = F.to_formula_str(formula)
        assert compile_formula(source, resolve).matches(FakeScope(RECORD)) is expected, source
