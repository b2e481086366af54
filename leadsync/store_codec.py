"""Lossless JSON for the decoded values of a record, as the store keeps them.

A connector's :class:`~leadsync.records.Record` holds Python values:
``str``, numbers, ``bool``, ``None``, ``datetime``/``date``,
:class:`pandas.Timestamp`, :class:`~leadsync.tables.MemberRef`, and lists or
tuples of those. Plain JSON would flatten several of them (a ``MemberRef``
into a list, a date into a string), and the frame built from the store would
then differ from the frame of a live pull. So every value that JSON cannot
carry as itself is written as a one-key object whose key starts with ``$``::

    {"$dt": "2026-11-01T09:00:00+00:00"}        datetime.datetime (offset kept)
    {"$ts": "2026-11-01T09:00:00.000000001Z"}   pandas.Timestamp (nanoseconds kept)
    {"$date": "2026-11-01"}                     datetime.date
    {"$member": ["relation", "key", name, email]}  MemberRef
    {"$tuple": [...]}                           tuple (lists stay lists)
    {"$map": {...}}                             dict (so user keys never clash with tags)
    {"$dec": "1.10"}                            decimal.Decimal

``encode_values(decode_values(s)) == s`` for every string this module wrote,
and the encoding is canonical (sorted keys, no spaces), so two records hold
the same values exactly when their encodings are equal: the sync compares
encodings to decide whether a row changed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from leadsync.tables import MemberRef

__all__ = ["UnstorableValueError", "decode_time", "decode_values", "encode_time",
           "encode_values"]


class UnstorableValueError(TypeError):
    """A record holds a value of a type the store cannot keep losslessly."""


def _encode(value: Any) -> Any:
    # Order matters: bool before int, MemberRef (a tuple) before tuple,
    # Timestamp (a datetime) before datetime, datetime (a date) before date.
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NaT or value is pd.NA:
        return None  # pandas' missing markers mean what None means
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, MemberRef):
        return {"$member": [value.kind, value.key, value.name, value.email]}
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        return {"$ts": value.isoformat()}
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"$map": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    raise UnstorableValueError(f"a value of type {type(value).__name__} cannot be stored")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError(f"not a value this store wrote: {value!r}")
    ((tag, inner),) = value.items()
    if tag == "$member":
        kind, key, name, email = inner
        return MemberRef(kind, key, name, email)
    if tag == "$ts":
        return pd.Timestamp(inner)
    if tag == "$dt":
        return dt.datetime.fromisoformat(inner)
    if tag == "$date":
        return dt.date.fromisoformat(inner)
    if tag == "$tuple":
        return tuple(_decode(v) for v in inner)
    if tag == "$map":
        return {k: _decode(v) for k, v in inner.items()}
    if tag == "$dec":
        return decimal.Decimal(inner)
    raise ValueError(f"unknown value tag {tag!r}")


def encode_values(values: Mapping[str, Any]) -> str:
    """The canonical JSON text of a record's values (raises :class:`UnstorableValueError`)."""
    return json.dumps({str(k): _encode(v) for k, v in values.items()},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode_values(text: str) -> dict[str, Any]:
    """The values :func:`encode_values` wrote."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("stored values are not an object")
    return {k: _decode(v) for k, v in raw.items()}


def encode_time(value: dt.datetime | None) -> str | None:
    """A server timestamp as stored: ISO 8601 in UTC with microseconds, e.g.
    ``2026-11-01T09:00:00.000000+00:00`` (fixed width, so text order is time order).
    A naive time is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def decode_time(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)
