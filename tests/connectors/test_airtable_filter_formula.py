"""Formula building: escaping, field references, aware UTC datetimes."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from leadsync.connectors.airtable_formula import (
    field_ref,
    literal,
    modified_since,
    record_id_in,
    utc_datetime,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "'plain'"),
        ("O'Brien", r"'O\'Brien'"),
        ('say "hi"', "'say \"hi\"'"),
        ("back\\slash", r"'back\\slash'"),
        ("a\\'b", r"'a\\\'b'"),  # a backslash before a quote cannot unescape it
        ("{Name}", "'{Name}'"),  # braces inside a string are just text
        ("x') , TRUE(), ('", r"'x\') , TRUE(), (\''"),  # no way out of the literal
        (True, "TRUE()"),
        (np.bool_(False), "FALSE()"),
        (np.int64(3), "3"),
        (2.5, "2.5"),
        (dt.date(2024, 1, 2), "DATETIME_PARSE('2024-01-02')"),
    ],
)
def test_literals_are_escaped(value: Any, expected: str) -> None:
    assert str(literal(value)) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, object()])
def test_values_without_a_literal_are_refused(bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        literal(bad)


def test_field_references() -> None:
    assert str(field_ref("fldsNCKa6kZWCsfnD")) == "{fldsNCKa6kZWCsfnD}"
    assert str(field_ref("Last {edit}")) == r"{Last {edit\}}"
    with pytest.raises(ValueError, match="more than one"):
        field_ref("a}b}")


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "DATETIME_PARSE('2024-01-01T00:00:00.000Z')"),
        (dt.datetime(2024, 1, 1, 2, 0, 0, 123999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
         "DATETIME_PARSE('2024-01-01T00:00:00.123Z')"),
        (pd.Timestamp("2024-06-30 20:15", tz="America/New_York"),
         "DATETIME_PARSE('2024-07-01T00:15:00.000Z')"),
    ],
)
def test_aware_datetimes_render_in_utc_with_z(moment: Any, expected: str) -> None:
    assert str(utc_datetime(moment)) == expected
    assert str(literal(moment)) == expected


@pytest.mark.parametrize("naive", [dt.datetime(2024, 1, 1), pd.Timestamp("2024-01-01")])
def test_naive_datetimes_are_refused(naive: Any) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        utc_datetime(naive)
    with pytest.raises(ValueError, match="no time zone"):
        modified_since(naive)


def test_modified_since_uses_the_field_or_the_function() -> None:
    since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert modified_since(since, "fldLAST0000000001") == (
        "OR({fldLAST0000000001}>=DATETIME_PARSE('2024-01-01T00:00:00.000Z'), "
        "CREATED_TIME()>=DATETIME_PARSE('2024-01-01T00:00:00.000Z'))")
    assert modified_since(since) == (
        "OR(LAST_MODIFIED_TIME()>=DATETIME_PARSE('2024-01-01T00:00:00.000Z'), "
        "CREATED_TIME()>=DATETIME_PARSE('2024-01-01T00:00:00.000Z'))")


def test_record_id_in() -> None:
    assert record_id_in(["recA", "recB", "recA"]) == "OR(RECORD_ID()='recA', RECORD_ID()='recB')"
    assert record_id_in([]) == "FALSE()"
