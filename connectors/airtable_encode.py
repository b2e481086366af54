"""pandas and Python values to Airtable cell values, per field type. Pure.

``requests`` serialises with ``allow_nan=False`` and knows no numpy type, so an
unconverted frame cell breaks a write before anything is sent. Here:

- ``None``, ``NaN``, ``pd.NA`` and ``NaT`` become ``None`` (the cell is cleared;
  a checkbox is unchecked, ``False``);
- numpy scalars become Python scalars; infinities are refused;
- ``dateTime``: ISO 8601 UTC with milliseconds and ``Z``
  (``2024-03-01T09:30:00.000Z``); a naive datetime or Timestamp is taken as UTC;
- ``date``: ``YYYY-MM-DD`` (an aware moment is converted to UTC first, matching
  leadsync's "dates at midnight UTC");
- ``duration``: seconds (a ``timedelta`` is converted); ``percent``: the
  fraction as given (0.5 is 50 %);
- selects: the choice name(s); links: record ids; collaborators ``{"id"}`` or
  ``{"email"}``; attachments ``{"url"}`` objects;
- computed fields (formula, rollup, lookup, count, autonumber, created/modified
  time and by, button, AI text) are refused: the API would reject the batch.

Every refusal is an :class:`EncodeError` naming the field and the value, so the
writer can report that row and send the others.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from leadsync.tables import MemberRef

from .airtable_decode import COMPUTED_TYPES, AirtableField, decode_time

__all__ = ["EncodeError", "encode_fields", "encode_value", "is_blank"]

_TEXT_TYPES = frozenset({
    "singleLineText", "multilineText", "richText", "email", "url", "phoneNumber",
    "singleSelect",
})
_NUMBER_TYPES = frozenset({"number", "currency", "percent", "rating"})


class EncodeError(ValueError):
    """A value that cannot be written to its field."""


def is_blank(value: Any) -> bool:
    """None, NaN, ``pd.NA`` or ``NaT`` (not an empty list or string)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def _scalar(value: Any) -> Any:
    """numpy scalars to Python ones."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, set, frozenset, pd.Series, pd.Index)) \
            and not isinstance(value, MemberRef):
        items = list(value)
    else:
        items = [value]
    return [_scalar(v) for v in items if not is_blank(v)]


def _moment(value: Any) -> dt.datetime:
    if isinstance(value, str):
        parsed = decode_time(value)
        value = parsed if isinstance(parsed, dt.datetime) else \
            dt.datetime(parsed.year, parsed.month, parsed.day)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    raise TypeError


def _iso_utc(value: Any) -> str:
    moment = _moment(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _number(value: Any) -> int | float:
    value = _scalar(value)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError
    return value


def _text(value: Any) -> str:
    value = _scalar(value)
    if isinstance(value, MemberRef):
        return value.email or value.name or value.key
    if isinstance(value, (dict, list, tuple, set)):
        raise TypeError
    return str(value)


def _collaborator(value: Any) -> dict[str, str]:
    if isinstance(value, MemberRef):
        if value.kind == "person":
            return {"id": value.key}
        value = value.email or value.key
    if isinstance(value, Mapping):
        if value.get("id"):
            return {"id": str(value["id"])}
        if value.get("email"):
            return {"email": str(value["email"])}
        raise TypeError
    text = _text(value).strip()
    return {"email": text} if "@" in text else {"id": text}


def _link(value: Any) -> str:
    if isinstance(value, MemberRef):
        return value.key
    if isinstance(value, Mapping) and "id" in value:
        return str(value["id"])
    return _text(value)


def _attachment(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        kept = {k: value[k] for k in ("id", "url", "filename") if k in value}
        if not kept.get("id") and not kept.get("url"):
            raise TypeError
        return kept
    return {"url": _text(value)}


def encode_value(f: AirtableField, value: Any, *, typecast: bool = False) -> Any:
    """``value`` as the JSON Airtable takes for field ``f``; :class:`EncodeError` if it cannot.

    With ``typecast`` strings are passed through for number, date and select
    fields, for Airtable to convert.
    """
    if f.type in COMPUTED_TYPES:
        raise EncodeError(f"{f.name!r} is a {f.type} field, computed by Airtable; it cannot "
                          "be written")
    listed = isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series)) \
        and not isinstance(value, MemberRef)
    if not listed and is_blank(value):
        return False if f.type == "checkbox" else None
    value = _scalar(value)
    try:
        return _encode(f, value, typecast)
    except (TypeError, ValueError, OverflowError):
        raise EncodeError(
            f"{f.name!r} ({f.type}) cannot take {type(value).__name__} {value!r}"
        ) from None


def _encode(f: AirtableField, value: Any, typecast: bool) -> Any:
    kind = f.type
    if typecast and isinstance(value, str) and kind not in _TEXT_TYPES:
        return value
    if kind in _TEXT_TYPES:
        return _text(value)
    if kind in _NUMBER_TYPES:
        number = _number(value)
        if kind == "rating" and not float(number).is_integer():
            raise ValueError
        return int(number) if kind == "rating" else number
    if kind == "duration":
        if isinstance(value, (dt.timedelta, pd.Timedelta, np.timedelta64)):
            return pd.Timedelta(value).total_seconds()
        return _number(value)
    if kind == "checkbox":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise TypeError
    if kind == "date":
        return _moment(value).date().isoformat()
    if kind == "dateTime":
        return _iso_utc(value)
    if kind == "multipleSelects":
        return [_text(v) for v in _as_list(value)]
    if kind == "multipleRecordLinks":
        return [_link(v) for v in _as_list(value)]
    if kind == "singleCollaborator":
        items = _as_list(value)
        if len(items) > 1:
            raise ValueError
        return _collaborator(items[0]) if items else None
    if kind == "multipleCollaborators":
        return [_collaborator(v) for v in _as_list(value)]
    if kind == "multipleAttachments":
        return [_attachment(v) for v in _as_list(value)]
    if kind == "barcode":
        return {"text": _text(value)}
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return _iso_utc(value)
    return value  # a type this module does not know: sent as given


def encode_fields(
    fields: Iterable[tuple[AirtableField, Any]], *, typecast: bool = False
) -> dict[str, Any]:
    """``{field id: cell}`` for ``(field, value)`` pairs; the first bad value raises."""
    return {f.id: encode_value(f, v, typecast=typecast) for f, v in fields}
