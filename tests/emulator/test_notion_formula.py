"""The formula engine: parsing, result types, evaluation over property values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadsync.emulator.notion_formula import Formula, FormulaError, result_json

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PROPS: dict[str, Any] = {
    "Impact": "High", "Points": 4, "Empty": None, "Name": "Ada", "Done": True,
    "Date": dt.date(2026, 10, 30), "Tags": ["infra", "docs"], "Blank": "",
}
TYPES = {"Impact": "string", "Points": "number", "Empty": "number", "Name": "string",
         "Done": "boolean", "Date": "date", "Tags": "list", "Blank": "string"}


def run(expression: str) -> Any:
    return Formula(expression).evaluate(PROPS.__getitem__, NOW)


@pytest.mark.parametrize(("expression", "value"), [
    ('if(prop("Impact") == "High", 9, if(prop("Impact") == "Medium", 3, 1))', 9),
    ('prop("Points") * 2 + 1', 9),
    ('prop("Points") / 8', 0.5),
    ('prop("Points") - 10 > -7', True),
    ('prop("Points") != 4', False),
    ('prop("Points") >= 4 and not prop("Done")', False),
    ('prop("Points") < 3 or prop("Done")', True),
    ('prop("Points") < 3 || !prop("Done")', False),
    ('empty(prop("Empty"))', True),
    ('empty(prop("Blank")) && !empty(prop("Name"))', True),
    ('length(prop("Name"))', 3),
    ('length(prop("Tags"))', 2),
    ('prop("Tags").length()', 2),
    ('concat(prop("Name"), " (", format(prop("Points")), ")")', "Ada (4)"),
    ('prop("Name") + "!"', "Ada!"),
    ('prop("Empty") + 1', None),
    ('prop("Done") ? "yes" : "no"', "yes"),
    ('contains(prop("Tags"), "docs")', True),
    ('round(2.5) + abs(-1)', 4),
    ('max(1, prop("Points"), 3)', 4),
    ('dateBetween(now(), prop("Date"), "days")', 2),
    ('dateAdd(prop("Date"), 1, "weeks")', dt.date(2026, 11, 6)),
    ('ifs(prop("Points") > 5, "big", prop("Points") > 3, "mid", "small")', "mid"),
    ('upper(prop("Impact"))', "HIGH"),
    ("2 ^ 3 ^ 2", 512),
])
def test_expressions_evaluate(expression: str, value: Any) -> None:
    assert run(expression) == value


@pytest.mark.parametrize(("expression", "kind"), [
    ('if(prop("Impact") == "High", 9, 1)', "number"),
    ('prop("Points") > 1', "boolean"),
    ('prop("Name") + "!"', "string"),
    ('dateAdd(prop("Date"), 1, "days")', "date"),
    ('prop("Tags")', "string"),  # lists show as text
    ('if(prop("Done"), prop("Empty"), 2)', "number"),
])
def test_result_type_is_inferred_from_the_expression(expression: str, kind: str) -> None:
    assert Formula(expression).result_type(TYPES.__getitem__) == kind


def test_results_take_the_formula_value_shape() -> None:
    assert result_json(9.0, "number") == {"type": "number", "number": 9}
    assert result_json(None, "number") == {"type": "number", "number": None}
    assert result_json("", "string") == {"type": "string", "string": None}
    assert result_json(True, "boolean") == {"type": "boolean", "boolean": True}
    assert result_json(dt.date(2026, 1, 2), "date") == {
        "type": "date", "date": {"start": "2026-01-02", "end": None, "time_zone": None}}
    assert result_json(NOW, "date")["date"]["start"] == "2026-11-01T09:00:00.000+00:00"


@pytest.mark.parametrize("expression", [
    'if(prop("A"), 1)', "1 +", 'prop("A", "B")', "nosuch(1)", "(1", '"unterminated', "bare",
    "",
])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(FormulaError):
        Formula(expression)


def test_props_lists_the_referenced_properties() -> None:
    formula = Formula('if(prop("Impact") == "High", prop("Points"), length(prop("Name")))')
    assert formula.props == ["Impact", "Name", "Points"]
