"""Safe ``filterByFormula`` building: escaped values, field ids, aware UTC times. Pure.

Built on :mod:`pyairtable.formulas`, with the two guards it lacks:

- a naive datetime is refused (pyairtable would render it without the ``Z``,
  and Airtable would read it in the base's time zone); aware values are
  converted to UTC, rendered ``DATETIME_PARSE('2024-01-01T00:00:00.000Z')``;
- fields are referenced by id (``{fldXXXXXXXXXXXXXX}``), which never needs
  escaping and survives renames; a name is accepted but refused when it holds
  more than one ``}`` (Airtable cannot parse those).

Strings are quoted with ``\\`` and ``'`` escaped; NaN and infinities are refused
(a formula has no literal for them).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pandas as pd
from pyairtable import formulas as F

__all__ = [
    "field_ref",
    "literal",
    "modified_since",
    "record_id_in",
    "utc_datetime",
]


def utc_datetime(value: dt.datetime | pd.Timestamp) -> F.Formula:
    """``DATETIME_PARSE('…Z')`` for an aware moment; a naive one is a ``ValueError``."""
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ValueError("NaT has no formula literal")
        value = value.to_pydatetime()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{value!r} has no time zone; pass an aware datetime (UTC) so the filter "
            "does not depend on the base's time zone"
        )
    utc = value.astimezone(dt.UTC)
    stamp = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return F.DATETIME_PARSE(stamp)


def literal(value: Any) -> F.Formula:
    """A Python value as a formula literal, safely escaped."""
    if isinstance(value, F.Formula):
        return value
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return utc_datetime(value)
    if isinstance(value, dt.date):
        return F.DATETIME_PARSE(value.isoformat())
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return F.TRUE() if value else F.FALSE()
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} has no formula literal")
        return F.Formula(str(value))
    if isinstance(value, str):
        return F.Formula(F.quoted(value))
    raise TypeError(f"cannot put {type(value).__name__} {value!r} in a formula")


def field_ref(id_or_name: str) -> F.Field:
    """``{fld…}`` (or ``{Name}`` with ``}`` escaped; more than one ``}`` is refused)."""
    if id_or_name.count("}") > 1:
        raise ValueError(
            f"field name {id_or_name!r} has more than one '}}', which Airtable formulas "
            "cannot reference; use the field id instead"
        )
    return F.Field(id_or_name)


def modified_since(since: dt.datetime | pd.Timestamp, edited_field: str | None = None) -> str:
    """Records created or edited at or after ``since``.

    With ``edited_field`` (the id of a last-modified-time field that watches
    every field) it is compared; otherwise ``LAST_MODIFIED_TIME()``. Records
    are also matched on ``CREATED_TIME()``, as a safety net for a record whose
    edit time is empty.
    """
    moment = utc_datetime(since)
    edited: F.Formula = field_ref(edited_field) if edited_field else F.LAST_MODIFIED_TIME()
    return F.to_formula_str(F.OR(F.GTE(edited, moment), F.GTE(F.CREATED_TIME(), moment)))


def record_id_in(record_ids: Iterable[str]) -> str:
    """Records whose id is one of ``record_ids`` (long lists go by POST; pyairtable switches)."""
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        return "FALSE()"
    return F.to_formula_str(F.OR(*(F.EQ(F.RECORD_ID(), literal(i)) for i in ids)))
